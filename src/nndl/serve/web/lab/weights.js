// The hidden neurons' incoming weights: one small picture per neuron, pixel k
// being the weight from input pixel k, coloured blue (negative), white (0),
// red (positive) on one scale for the whole run, with a colour bar.

import { signedColour } from "../colours.js";
import { decodeStrip, fit, tile } from "./pictures.js";

// byte -> [r, g, b]: byte 128 is 0, bytes 1 and 255 are -scale and +scale (the draw page's colours).
const BYTE_COLOURS = Array.from({ length: 256 }, (_, b) => signedColour((b - 128) / 127).map(Math.round));

const GAP = 3;

// Draw the weights of a frame (frame.weights: {png, count, of, side, scale}) on `canvas`.
export async function drawWeights(canvas, weights) {
  const strip = await decodeStrip(weights.png, weights.side);
  const n = strip.count;
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const cell = Math.floor((canvas.clientWidth - GAP * (cols - 1)) / cols);
  canvas.style.height = `${rows * cell + GAP * (rows - 1)}px`; // as many rows as the run has neurons
  const { ctx, w } = fit(canvas);
  const x0 = Math.floor((w - (cols * cell + GAP * (cols - 1))) / 2);
  ctx.imageSmoothingEnabled = false;
  for (let k = 0; k < n; k++) {
    const x = x0 + (k % cols) * (cell + GAP);
    const y = Math.floor(k / cols) * (cell + GAP);
    ctx.drawImage(tile(strip, k, (b) => BYTE_COLOURS[b]), x, y, cell, cell);
  }
  canvas.dataset.drawn = String(n);
}

// The colour bar under the pictures: from -scale (blue) through 0 (white) to +scale (red).
export function drawColourBar(canvas, scale) {
  const { ctx, w, h } = fit(canvas);
  const left = 28;
  const right = w - 28;
  const barH = 10;
  for (let x = left; x < right; x++) {
    const [r, g, b] = signedColour(((x - left) / (right - left - 1)) * 2 - 1).map(Math.round);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x, 2, 1, barH);
  }
  ctx.strokeStyle = "#9aa0ab";
  ctx.strokeRect(left + 0.5, 2.5, right - left - 1, barH);
  ctx.fillStyle = "#5b6272";
  ctx.font = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  ctx.textBaseline = "top";
  const label = (v) => (v === 0 ? "0" : `${v > 0 ? "+" : "−"}${Math.abs(v).toFixed(1)}`);
  for (const [v, align, x] of [[-scale, "left", left], [0, "center", (left + right) / 2], [scale, "right", right]]) {
    ctx.textAlign = align;
    ctx.fillText(label(v), x, barH + 5);
  }
  ctx.textAlign = "center";
  ctx.fillText("weight", (left + right) / 2 + 0, h - 13 < barH + 20 ? barH + 20 : h - 13);
}
