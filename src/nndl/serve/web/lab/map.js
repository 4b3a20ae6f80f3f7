// The map of the hidden layer: the map's test digits placed by the two
// principal components of their hidden activations, a dot per digit coloured
// by its true label, the misread ones ringed. Hovering over a dot (or
// clicking it, to keep it) shows the digit and the network's answer.

import { decodeStrip, fit, tile } from "./pictures.js";

// The digits' colours, matplotlib's tab10, as `nndl plot map` draws them.
export const DIGIT_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const PAD = 10;
const REACH = 9; // CSS pixels from a dot that still count as on it

// The dot nearest (x, y) among `points` ([[px, py], ...] in CSS pixels), within `reach`; -1 if none.
export function nearest(points, x, y, reach = REACH) {
  let best = -1;
  let bestD = reach * reach;
  points.forEach(([px, py], k) => {
    const d = (px - x) ** 2 + (py - y) ** 2;
    if (d <= bestD) {
      best = k;
      bestD = d;
    }
  });
  return best;
}

export function createMap(canvas, card) {
  let digits = null; // {strip, labels, index}
  let map = null; // the frame's {xy, predicted, layer, width}
  let placed = []; // each dot's position on the canvas, CSS pixels
  let pinned = -1;

  async function setDigits(answer) {
    digits = { strip: await decodeStrip(answer.png, answer.side), labels: answer.labels, index: answer.index };
    draw();
  }

  function show(frameMap) {
    map = frameMap;
    draw();
  }

  function draw() {
    const { ctx, w, h } = fit(canvas);
    if (!map || !digits) return;
    const half = Math.min(w, h) / 2 - PAD;
    placed = map.xy.map(([x, y]) => [w / 2 + x * half, h / 2 - y * half]);
    let misread = 0;
    placed.forEach(([x, y], k) => {
      ctx.fillStyle = DIGIT_COLOURS[digits.labels[k] % 10];
      ctx.beginPath();
      ctx.arc(x, y, 2.6, 0, 2 * Math.PI);
      ctx.fill();
    });
    ctx.strokeStyle = "#1d2230";
    ctx.lineWidth = 1;
    placed.forEach(([x, y], k) => {
      if (map.predicted[k] === digits.labels[k]) return;
      misread++;
      ctx.beginPath();
      ctx.arc(x, y, 4.8, 0, 2 * Math.PI);
      ctx.stroke();
    });
    canvas.dataset.points = String(placed.length);
    canvas.dataset.misread = String(misread);
    if (pinned >= 0) mark(pinned);
  }

  // Ring dot k and show its digit and the network's answer in the card.
  function mark(k) {
    const ctx = canvas.getContext("2d");
    const [x, y] = placed[k];
    ctx.strokeStyle = "#8a5cf6";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x, y, 7, 0, 2 * Math.PI);
    ctx.stroke();
    const label = digits.labels[k];
    const answer = map.predicted[k];
    const picture = tile(digits.strip, k, (b) => [255 - b, 255 - b, 255 - b]);
    picture.className = "digit";
    const text = document.createElement("p");
    text.className = answer === label ? "right" : "wrong";
    text.textContent = `test digit #${digits.index[k]}: a ${label}; the network says ${answer} ${answer === label ? "✓" : "✗"}`;
    card.replaceChildren(picture, text);
    card.hidden = false;
    canvas.dataset.showing = String(k);
  }

  function at(event) {
    const box = canvas.getBoundingClientRect();
    return nearest(placed, event.clientX - box.left, event.clientY - box.top);
  }

  canvas.addEventListener("mousemove", (event) => {
    if (!map || pinned >= 0) return;
    const k = at(event);
    draw();
    if (k >= 0) mark(k);
  });
  canvas.addEventListener("mouseleave", () => {
    if (pinned < 0) {
      draw();
      card.hidden = true;
    }
  });
  canvas.addEventListener("click", (event) => {
    if (!map) return;
    const k = at(event);
    pinned = k === pinned ? -1 : k;
    draw();
    if (k >= 0 && pinned >= 0) mark(k);
  });
  new ResizeObserver(() => draw()).observe(canvas);
  return { setDigits, show };
}
