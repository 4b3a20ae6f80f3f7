// "Your handwriting set": how many of each digit are saved, how many the
// network reads right, and a gallery of the drawings to delete from.

import { el } from "./bars.js";
import { paintGrey, tinyCanvas } from "./colours.js";

const $ = (id) => document.getElementById(id);

export function createSetView({ onDelete, onPage }) {
  const head = document.querySelector("#set-table thead tr");
  const rows = { saved: $("set-saved"), correct: $("set-correct"), accuracy: $("set-accuracy") };
  const cells = { saved: [], correct: [], accuracy: [] };
  for (const label of [...Array(10).keys(), "all"]) {
    head.appendChild(el("th", "", label)).scope = "col";
    for (const key of Object.keys(rows)) cells[key].push(rows[key].appendChild(el("td", "", "–")));
  }
  let last = null;

  function percent(right, n) {
    return n ? `${Math.round((100 * right) / n)} %` : "–";
  }

  function show(set) {
    last = set;
    $("set-error").hidden = true;
    const all = set.total;
    $("set-summary").textContent =
      all === 0
        ? `No drawings saved yet. Draw a digit, pick the digit you meant and press “Save to my handwriting set”. ` +
          `They are kept in ${set.folder}.`
        : `${all} drawing${all === 1 ? "" : "s"} saved in ${set.folder} (at most ${set.max.toLocaleString()}); ` +
          `the network reads ${set.total_correct} of them right (${percent(set.total_correct, all)}).`;
    const saved = [...set.saved, all];
    const correct = [...set.correct, set.total_correct];
    saved.forEach((n, d) => {
      cells.saved[d].textContent = n;
      cells.correct[d].textContent = n ? correct[d] : "–";
      cells.accuracy[d].textContent = percent(correct[d], n);
      cells.accuracy[d].classList.toggle("low", n > 0 && correct[d] < n);
    });
    $("set-command").textContent = `nndl evaluate MODEL.npz --data ${set.folder}`;
    showGallery(set);
  }

  function showGallery(set) {
    const box = $("gallery");
    box.replaceChildren();
    const first = set.total - set.offset;
    const last = first - set.samples.length + 1;
    $("gallery-title").textContent = set.total
      ? `Saved drawings, newest first: ${first > last ? `${last}–${first}` : first} of ${set.total}`
      : "Saved drawings";
    for (const s of set.samples) {
      const card = el("figure", s.read === s.label ? "sample" : "sample wrong");
      const canvas = tinyCanvas();
      paintGrey(canvas, s.image);
      const meant = el("figcaption", "label", s.label);
      const read = el("figcaption", "read", s.read === s.label ? "read right" : `read as ${s.read}`);
      const remove = el("button", "remove", "×");
      remove.type = "button";
      remove.title = `delete this ${s.label} (drawing ${s.index + 1}) from the set`;
      remove.setAttribute("aria-label", remove.title);
      remove.addEventListener("click", () => onDelete(s.index, set.total));
      card.append(canvas, meant, read, remove);
      box.appendChild(card);
    }
    $("newer").hidden = set.offset === 0;
    $("older").hidden = set.offset + set.page >= set.total;
  }

  function showError(message) {
    $("set-error").textContent = message;
    $("set-error").hidden = false;
  }

  $("newer").addEventListener("click", () => last && onPage(Math.max(0, last.offset - last.page)));
  $("older").addEventListener("click", () => last && onPage(last.offset + last.page));
  return { show, showError, offset: () => (last ? last.offset : 0) };
}
