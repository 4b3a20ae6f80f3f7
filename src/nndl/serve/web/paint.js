// "Paint a neuron's weights": one neuron's 784 incoming weights as a large
// picture (red up, blue down); dragging the brush over it raises or lowers
// the weights under it (POST /api/paint), and the network's answer on the
// drawing changes as you paint.  One stroke, pointer down to up, is one step
// that Undo takes back.  The drawing's ink shows faintly over the weights, so
// you can see which weights it meets.

import { paintSigned } from "./colours.js";

const SIDE = 28;

// The weight picture's row and column (0-27, fractions between) under a pointer event.
export function cellOf(canvas, event) {
  const r = canvas.getBoundingClientRect();
  const clamp = (v) => Math.max(0, Math.min(SIDE - 1, v));
  return [clamp(((event.clientY - r.top) / r.height) * SIDE - 0.5), clamp(((event.clientX - r.left) / r.width) * SIDE - 0.5)];
}

// `send(body)` posts a stroke's dabs and resolves to the answer; `onPainted(answer)` hears each one.
export function createPaint(canvas, { send, onPainted }) {
  let weights = null;
  let scale = 1; // one colour scale while a neuron is painted, so a stroke shows as it grows
  let neuron = 0;
  let queue = []; // dabs of the stroke not sent yet
  let fresh = false; // the next dabs begin a stroke (one step to undo)
  let down = false;
  let last = null;
  let inFlight = false;
  let strokes = 0;
  let ink = null; // the drawing's 784 bytes, or null

  function show(w, keepScale) {
    weights = w;
    if (!keepScale) scale = Math.max(1e-12, ...w.map(Math.abs));
    paintSigned(canvas, w, scale);
    if (!ink) return;
    const ctx = canvas.getContext("2d");
    ink.forEach((v, i) => {
      if (v < 32) return;
      ctx.fillStyle = `rgba(29, 34, 48, ${(0.35 * v) / 255})`;
      ctx.fillRect(i % SIDE, Math.floor(i / SIDE), 1, 1);
    });
  }

  // All of a stroke is sent and answered: say so (the page's tests wait on it).
  function settle() {
    if (!down && !inFlight && !queue.length) canvas.dataset.strokes = String(strokes);
  }

  async function flush() {
    if (inFlight || !queue.length) return;
    const dabs = queue.splice(0, 64);
    const kind = fresh ? "new" : "more";
    fresh = false;
    inFlight = true;
    try {
      const answer = await send({ neuron, dabs, stroke: kind });
      show(answer.weights, true);
      onPainted(answer);
    } finally {
      inFlight = false;
      if (queue.length) flush();
      else settle();
    }
  }

  function dab(event) {
    const p = cellOf(canvas, event);
    if (last && Math.hypot(p[0] - last[0], p[1] - last[1]) < 0.5) return; // a dab every half pixel
    last = p;
    queue.push(p.map((v) => Math.round(v * 100) / 100));
    flush();
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (!weights) return;
    event.preventDefault();
    try {
      canvas.setPointerCapture(event.pointerId);
    } catch (e) {
      // a pointer the browser no longer tracks: paint without capture
    }
    down = true;
    fresh = true;
    last = null;
    strokes++;
    dab(event);
  });
  canvas.addEventListener("pointermove", (event) => down && dab(event));
  const end = () => {
    down = false;
    settle();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  return {
    setNeuron(j, w) {
      neuron = j;
      show(w, false);
    },
    refresh(w) {
      if (weights) show(w, true);
    },
    setInk(rows) {
      ink = rows ? rows.flat() : null;
      if (weights) show(weights, true);
    },
    neuron: () => neuron,
  };
}
