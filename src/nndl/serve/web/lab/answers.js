// A few test digits, as the book prints them (dark on light), each with the
// network's answer under it: green with a tick when right, red with a cross when wrong.

import { decodeStrip, tile } from "./pictures.js";

let strip = null;
let cells = [];

// Build the cells once, from the samples of a snapshot ({png, labels, side}).
export async function setSamples(box, samples) {
  strip = await decodeStrip(samples.png, samples.side);
  box.replaceChildren();
  cells = samples.labels.map((label, k) => {
    const cell = document.createElement("figure");
    cell.className = "answered";
    const picture = tile(strip, k, (b) => [255 - b, 255 - b, 255 - b]);
    picture.className = "digit";
    picture.setAttribute("aria-label", `a test digit ${label}`);
    const caption = document.createElement("figcaption");
    caption.textContent = "–";
    cell.append(picture, caption);
    box.appendChild(cell);
    return { label, caption, cell };
  });
}

// Show a frame's answers ({answers, confidence}).
export function showAnswers(frame) {
  cells.forEach((c, k) => {
    const answer = frame.answers[k];
    const right = answer === c.label;
    c.caption.textContent = `${answer} ${right ? "✓" : "✗"}`;
    c.caption.title = `true digit ${c.label}; the network says ${answer} (output ${frame.confidence[k]})`;
    c.cell.classList.toggle("right", right);
    c.cell.classList.toggle("wrong", !right);
  });
}
