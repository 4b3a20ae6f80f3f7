// "What backpropagation did": the answer of POST /api/teach drawn as the
// scores before and after, every layer's error delta, and each hidden
// neuron's weight change as a picture.

import { el, fmt, signedColumns, signedRows } from "./bars.js";
import { paintSigned, tinyCanvas } from "./colours.js";

const $ = (id) => document.getElementById(id);

export function showLesson(lesson) {
  $("lesson").hidden = false;
  const better = lesson.cost_after < lesson.cost_before ? "down" : "up";
  $("lesson-summary").textContent =
    `One step of gradient descent towards “${lesson.label}” with η = ${lesson.eta}. ` +
    `The cost on this drawing, ½‖y − a‖², went ${better} from ${fmt(lesson.cost_before, 4)} to ` +
    `${fmt(lesson.cost_after, 4)}; the network's score for ${lesson.label} went from ` +
    `${lesson.before[lesson.label].toFixed(3)} to ${lesson.after[lesson.label].toFixed(3)}.` +
    saturated(lesson);
  showBeforeAfter(lesson);
  const deltas = lesson.deltas;
  signedRows($("delta-out"), deltas[deltas.length - 1], { digits: 4, highlight: lesson.label });
  showHiddenDeltas(deltas.slice(0, -1));
  showChanges(lesson, deltas[0]);
}

// When the output for the meant digit sits near 0, the sigmoid there is
// nearly flat, so its error delta -- and the step -- are tiny.
function saturated(lesson) {
  const a = lesson.before[lesson.label];
  if (lesson.after[lesson.label] - a > 0.01 || a > 0.5) return "";
  return (
    ` That is a small move: the output for ${lesson.label} was near 0, where the sigmoid is nearly flat ` +
    `(σ′(z) = a(1 − a) = ${fmt(a * (1 - a), 3)}), so its error δ and the step are tiny. The quadratic cost ` +
    `learns slowly when a sigmoid output is badly wrong. Teach it again, or raise η.`
  );
}

function showBeforeAfter(lesson) {
  const box = $("before-after");
  box.replaceChildren();
  box.appendChild(el("div", "ba-row head")).append(el("span", "d", ""), el("span", "", "before (grey), after (blue)"), el("span", "v", ""));
  lesson.before.forEach((b, d) => {
    const a = lesson.after[d];
    const row = el("div", d === lesson.label ? "ba-row mark" : "ba-row");
    const bars = el("div", "ba-bars");
    for (const [v, cls] of [[b, "before"], [a, "after"]]) {
      const track = el("div", "track");
      const fill = el("div", `fill ${cls}`);
      fill.style.width = `${Math.round(100 * v)}%`;
      track.appendChild(fill);
      bars.appendChild(track);
    }
    row.append(el("span", "d", d), bars, el("span", "v", `${b.toFixed(3)} → ${a.toFixed(3)}`));
    box.appendChild(row);
  });
}

function showHiddenDeltas(hidden) {
  const box = $("delta-hidden");
  box.replaceChildren();
  $("delta-hidden-title").textContent = hidden.length > 1 ? "Hidden errors δ, layer by layer" : "Hidden error δ";
  hidden.forEach((d, k) => {
    const part = el("div", "delta-layer");
    if (hidden.length > 1) part.appendChild(el("h4", "", `hidden layer ${k + 1}`));
    const strip = el("div");
    signedColumns(strip, d, { title: `neuron (hidden layer ${k + 1})` });
    part.appendChild(strip);
    box.appendChild(part);
  });
}

function showChanges(lesson, delta) {
  const box = $("changes");
  box.replaceChildren();
  const change = lesson.first_layer_change;
  if (!delta) return;
  const scale = Math.max(1e-12, ...change.map((w) => Math.max(...w.map(Math.abs))));
  $("change-scale").textContent = fmt(scale, 4);
  const order = delta.map((v, j) => j).sort((i, j) => Math.abs(delta[j]) - Math.abs(delta[i]));
  for (const j of order) {
    const tile = el("figure", "tile");
    const canvas = tinyCanvas();
    paintSigned(canvas, change[j], scale);
    tile.append(canvas, el("figcaption", "", `#${j}`), el("figcaption", "", `δ ${fmt(delta[j], 4)}`));
    tile.title = `hidden neuron ${j}: δ = ${fmt(delta[j], 5)}; its weights moved by −η δ x`;
    box.appendChild(tile);
  }
}
