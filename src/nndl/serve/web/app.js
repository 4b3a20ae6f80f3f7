// The page: after each change on the pad the drawing goes as a PNG to
// /api/inside, whose answer fills the scores, the 28 x 28 input and the view
// inside the network.  The digit you meant can teach the network one step
// (/api/teach, /api/undo) or be saved to your handwriting set (/api/set).

import { call } from "./api.js";
import { scoreBars } from "./bars.js";
import { paintGrey } from "./colours.js";
import { createSetView } from "./handwriting.js";
import { createInside } from "./inside.js";
import { showLesson } from "./lesson.js";
import { createPad } from "./pad.js";
import { createPaint } from "./paint.js";
import { showRobustness } from "./robustness.js";

const $ = (id) => document.getElementById(id);
const digitOut = $("digit");
const inputView = $("input");
const errorBox = $("error");
const status = $("meant-status");

let dirty = false; // the pad changed since the last request was sent
let inFlight = false; // one request at a time; the newest drawing wins
let body = null; // the image last sent, asked again when the network or the pick changes
let result = null; // the last answer: the input the network saw and what it made of it
let pick = null; // the neuron the user picked: {layer, neuron}, or null for the answer's output
let meant = null; // the digit the user says they meant
let version = -1; // the version of the network whose weights are drawn
let network = null; // the network's sizes and first layer, as /api/network gave them (painting keeps it current)

let waiting = []; // callers of settled(), until the answer matches the drawing

const pad = createPad($("pad"), () => {
  dirty = true;
  document.body.dataset.answer = "pending";
  send();
});

// Resolves once the answer shown is the answer to the drawing on the pad
// (the page's <body data-answer> says "current" then, "pending" before).
function settled() {
  return dirty || inFlight ? new Promise((resolve) => waiting.push(resolve)) : Promise.resolve();
}
const scores = scoreBars($("scores"));
const inside = createInside((layer, neuron) => {
  const same = pick && pick.layer === layer && pick.neuron === neuron;
  pick = same ? null : { layer, neuron };
  if (layer === 1) choosePaintNeuron(neuron);
  ask();
});
const setView = createSetView({
  onDelete: (index, count) => setCommand("api/set/delete", { index, count }),
  onPage: (offset) => loadSet(offset),
});

async function send() {
  if (inFlight || !dirty) return;
  dirty = false;
  inFlight = true;
  body = await pad.png();
  await look();
}

function ask() {
  if (!body || inFlight) return;
  inFlight = true;
  document.body.dataset.answer = "pending";
  look();
}

let generation = 0; // counts clears: an answer to a drawing since cleared is dropped

async function look() {
  const asked = generation;
  try {
    const query = pick ? `?layer=${pick.layer}&neuron=${pick.neuron}` : "";
    const answer = await call(`api/inside${query}`, { method: "POST", body });
    if (answer.version !== version) await loadNetwork();
    if (asked === generation) show(answer);
  } catch (e) {
    if (asked === generation) {
      result = null; // nothing to teach or save until the drawing can be read
      enableActions();
      showError(e.message);
    }
  } finally {
    inFlight = false;
    if (dirty) send();
    else {
      document.body.dataset.answer = "current";
      waiting.splice(0).forEach((resolve) => resolve());
    }
  }
}

function show(answer) {
  result = answer;
  showPaintScores(answer.scores);
  paint.setInk(answer.input);
  errorBox.hidden = true;
  digitOut.textContent = answer.digit;
  scores.set(answer.scores, answer.digit);
  paintGrey(inputView, answer.input);
  inside.show(answer);
  enableActions();
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

async function loadNetwork() {
  const net = await call("api/network");
  network = net;
  version = net.version;
  inside.setNetwork(net);
  $("undo").disabled = net.undo === 0;
  $("paint-undo").disabled = net.undo === 0;
  $("paint-neuron").max = String(net.sizes[1] - 1);
  if (paintStarted) paint.refresh(net.first_layer[paint.neuron()]);
  else choosePaintNeuron(0);
  return net;
}

// -- painting a neuron's weights -------------------------------------------------------

const paintScores = scoreBars($("paint-scores"));
let paintStarted = false;
const paint = createPaint($("paint-canvas"), {
  send: (stroke) => {
    const sign = Number(document.querySelector("input[name=brush]:checked").value);
    const json = { ...stroke, radius: Number($("paint-radius").value), amount: sign * Number($("paint-amount").value) };
    if (result) json.input = result.input;
    return call("api/paint", { method: "POST", json });
  },
  onPainted: (answer) => {
    network.first_layer[answer.neuron] = answer.weights;
    version = answer.version;
    inside.setNetwork(network);
    if (answer.scores) showPaintScores(answer.scores);
    $("paint-undo").disabled = answer.undo === 0;
    const written = answer.saved_to ? ` Written to ${answer.saved_to}.` : "";
    const changes = `${answer.steps} change${answer.steps === 1 ? "" : "s"} to the network so far.${written}`;
    const seen = answer.a === null ? "" : `Neuron ${answer.neuron} on your drawing: z = ${answer.z.toFixed(2)}, a = ${answer.a.toFixed(3)}. `;
    $("paint-status").textContent = seen + changes;
    markStale(answer.version);
    ask();
  },
});

function choosePaintNeuron(j) {
  if (!network || !(j >= 0 && j < network.first_layer.length)) return;
  paintStarted = true;
  $("paint-neuron").value = String(j);
  paint.setNeuron(j, network.first_layer[j]);
}

function showPaintScores(values) {
  const top = values.indexOf(Math.max(...values));
  paintScores.set(values, top);
  $("paint-digit").textContent = top;
}

$("paint-neuron").addEventListener("change", (event) => choosePaintNeuron(Number(event.target.value)));
$("paint-undo").addEventListener("click", async () => {
  try {
    const state = await call("api/undo", { method: "POST" });
    await loadNetwork();
    $("paint-status").textContent = "Undone: the network is back to what it was before that stroke.";
    afterChange(state);
  } catch (e) {
    $("paint-status").textContent = e.message;
  }
});

// -- how far its reading stretches ---------------------------------------------------

let measured = -1; // the version of the network measured

function markStale(now) {
  if (measured >= 0 && measured !== now)
    $("robust-status").textContent = "The network has changed since: measure it again.";
}

$("measure").addEventListener("click", async () => {
  $("measure").disabled = true;
  $("robust-status").textContent = "Measuring…";
  try {
    const answer = await call("api/robustness");
    showRobustness($("robust"), answer);
    measured = answer.version;
    $("robust-status").textContent = `Measured on ${answer.curves[0].n.toLocaleString("en")} test digits.`;
  } catch (e) {
    $("robust-status").textContent = e.message;
  } finally {
    $("measure").disabled = false;
  }
});

// -- the digit you meant ------------------------------------------------------

const meantButtons = [];
for (let d = 0; d < 10; d++) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "digit-choice";
  b.textContent = d;
  b.setAttribute("role", "radio");
  b.setAttribute("aria-checked", "false");
  b.addEventListener("click", () => {
    meant = d;
    meantButtons.forEach((other, k) => other.setAttribute("aria-checked", String(k === d)));
    enableActions();
  });
  $("meant").appendChild(b);
  meantButtons.push(b);
}

let prompting = false; // the status line says what to do next, not what happened

function enableActions() {
  const ready = result !== null && meant !== null;
  $("teach").disabled = !ready;
  $("save").disabled = !ready;
  if (!ready) {
    status.textContent = result === null ? "Draw a digit first." : "Pick the digit you meant.";
    prompting = true;
  } else if (prompting) {
    status.textContent = "";
    prompting = false;
  }
}

function say(message) {
  status.textContent = message;
  prompting = false;
}

$("teach").addEventListener("click", async () => {
  const eta = Number($("eta").value);
  await settled();
  if (result === null) return;
  try {
    const lesson = await call("api/teach", { method: "POST", json: { input: result.input, label: meant, eta } });
    $("lesson-body").hidden = false;
    showLesson(lesson);
    say(`Taught: one step towards ${lesson.label}. See what backpropagation did below.`);
    afterChange(lesson);
    $("lesson").scrollIntoView({ behavior: "smooth", block: "start" });
  } catch (e) {
    say(e.message);
    await reread();
  }
});

$("undo").addEventListener("click", async () => {
  try {
    const state = await call("api/undo", { method: "POST" });
    $("lesson-body").hidden = true;
    const more = state.undo ? ` ${state.undo} earlier step${state.undo === 1 ? "" : "s"} can be undone too.` : "";
    $("lesson-summary").textContent = `Undone: the network is back to what it was before that step.${more}`;
    say("Undone.");
    afterChange(state);
  } catch (e) {
    say(e.message);
    await reread();
  }
});

// After a refused or failed change: the network as the server holds it (its
// undo steps, its answers); what was said about the refusal stays on show.
async function reread() {
  try {
    const net = await loadNetwork();
    $("download").hidden = net.steps === 0;
    ask();
    await loadSet(setView.offset());
  } catch (e) {
    showError(e.message);
  }
}

// The network changed: new weights, new answers, new accuracy on the set.
function afterChange(state) {
  $("undo").disabled = state.undo === 0;
  $("paint-undo").disabled = state.undo === 0;
  $("download").hidden = state.steps === 0;
  markStale(state.version);
  if (state.steps === 0)
    $("saved-to").textContent = `The network is as it was loaded${state.saved_to ? `, and so is ${state.saved_to}` : ""}.`;
  else if (state.saved_to) $("saved-to").textContent = `Written to ${state.saved_to}.`;
  else $("saved-to").textContent = "Nothing on disk has changed: download the taught network to keep it.";
  ask();
  loadSet(setView.offset());
}

$("save").addEventListener("click", async () => {
  const label = meant;
  await settled();
  if (result === null) return;
  const set = await setCommand("api/set", { input: result.input, label });
  if (set) say(`Saved as a ${label}: drawing ${set.total} of your set.`);
});

// -- the handwriting set --------------------------------------------------------

async function loadSet(offset = 0) {
  try {
    setView.show(await call(`api/set?offset=${offset}`));
  } catch (e) {
    setView.showError(e.message);
  }
}

async function setCommand(path, json) {
  try {
    const set = await call(path, { method: "POST", json });
    setView.show(set);
    return set;
  } catch (e) {
    await loadSet(setView.offset()); // the set as the server holds it, then why the change was refused
    setView.showError(e.message);
    say(e.message);
    return null;
  }
}

// -- starting over ------------------------------------------------------------------

function clear() {
  generation++;
  pad.clear();
  dirty = false;
  body = null;
  result = null;
  digitOut.textContent = "?";
  errorBox.hidden = true;
  scores.clear();
  paintScores.clear();
  paint.setInk(null);
  $("paint-digit").textContent = "?";
  inputView.getContext("2d").clearRect(0, 0, 28, 28);
  inside.clear();
  enableActions();
}

$("clear").addEventListener("click", clear);
$("file").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (!file) return;
  clear();
  body = file;
  ask();
  event.target.value = "";
});

clear();
loadNetwork().catch((e) => showError(e.message));
loadSet();
