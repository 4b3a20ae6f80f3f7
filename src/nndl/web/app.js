// The drawing pad: strokes go on a canvas; after each change the canvas is
// sent as a PNG to /api/predict, and the answer fills the bar chart and the
// 28 x 28 view of what the network saw.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const scoresBox = document.getElementById("scores");
const digitOut = document.getElementById("digit");
const inputView = document.getElementById("input").getContext("2d");
const errorBox = document.getElementById("error");

// The pen is about as thick, relative to the digit, as MNIST's strokes.
const PEN = 20;
const PAPER = "#fbfaf7";
const INK = "#1d2230";

let drawing = false;
let last = null;
let dirty = false;     // the canvas changed since the last request was sent
let inFlight = false;  // one request at a time; the newest drawing wins

function blank() {
  ctx.fillStyle = PAPER;
  ctx.fillRect(0, 0, pad.width, pad.height);
}

function point(event) {
  const r = pad.getBoundingClientRect();
  return { x: (event.clientX - r.left) * pad.width / r.width, y: (event.clientY - r.top) * pad.height / r.height };
}

function line(a, b) {
  ctx.strokeStyle = INK;
  ctx.lineWidth = PEN;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
  dirty = true;
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  try {
    pad.setPointerCapture(event.pointerId);  // keep the stroke when it leaves the pad
  } catch (e) {
    // a pointer the browser no longer tracks: draw without capture
  }
  drawing = true;
  last = point(event);
  line(last, last);
});

pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const p = point(event);
  line(last, p);
  last = p;
  send();
});

function stop() {
  if (!drawing) return;
  drawing = false;
  send();
}
pad.addEventListener("pointerup", stop);
pad.addEventListener("pointercancel", stop);

function send() {
  if (inFlight || !dirty) return;
  dirty = false;
  inFlight = true;
  pad.toBlob((png) => predict(png), "image/png");
}

async function predict(body) {
  try {
    const answer = await fetch("api/predict", { method: "POST", body, headers: { "Content-Type": body.type || "application/octet-stream" } });
    const result = await answer.json();
    if (!answer.ok) throw new Error(result.error || answer.statusText);
    show(result);
  } catch (e) {
    showError(e.message);
  } finally {
    inFlight = false;
    if (dirty) send();
  }
}

// The bar chart: one row per digit, built once.
const rows = [];
for (let d = 0; d < 10; d++) {
  const label = document.createElement("span");
  label.className = "d";
  label.textContent = d;
  const track = document.createElement("div");
  track.className = "track";
  const fill = document.createElement("div");
  fill.className = "fill";
  track.appendChild(fill);
  const value = document.createElement("span");
  value.className = "v";
  value.textContent = "–";
  scoresBox.append(label, track, value);
  rows.push({ track, fill, value });
}

function show(result) {
  errorBox.hidden = true;
  digitOut.textContent = result.digit;
  result.scores.forEach((s, d) => {
    rows[d].fill.style.width = `${Math.round(100 * s)}%`;
    rows[d].value.textContent = s.toFixed(3);
    rows[d].track.classList.toggle("top", d === result.digit);
  });
  const image = inputView.createImageData(28, 28);
  result.input.flat().forEach((v, i) => {
    image.data.set([v, v, v, 255], 4 * i);
  });
  inputView.putImageData(image, 0, 0);
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

function clear() {
  blank();
  dirty = false;
  digitOut.textContent = "?";
  errorBox.hidden = true;
  for (const row of rows) {
    row.fill.style.width = "0";
    row.value.textContent = "–";
    row.track.classList.remove("top");
  }
  inputView.clearRect(0, 0, 28, 28);
}

document.getElementById("clear").addEventListener("click", clear);
document.getElementById("file").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (!file) return;
  clear();
  inFlight = true;
  predict(file);
  event.target.value = "";
});

blank();
