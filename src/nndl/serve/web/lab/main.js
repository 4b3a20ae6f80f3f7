// The training lab: start a run, watch it learn, pause, step, scrub back
// through its epochs, compare it with the session's earlier runs, and take
// the network away. This module wires the others to the page.

import { call } from "../api.js";
import { setSamples, showAnswers } from "./answers.js";
import { LineChart } from "./chart.js";
import { drawConfusion } from "./confusion.js";
import { drawGradientLegend, gradientSeries } from "./gradients.js";
import { DIGIT_COLOURS, createMap } from "./map.js";
import * as settings from "./settings.js";
import { watch } from "./stream.js";
import { drawColourBar, drawWeights } from "./weights.js";

const $ = (id) => document.getElementById(id);
const get = (path) => call(path);
const post = (path, json) => call(path, { method: "POST", json });
const ENDED = ["finished", "stopped", "failed"];
// One colour per run, by its number, so a run keeps its colour.
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
const colour = (id) => PALETTE[(id - 1) % PALETTE.length];

const accuracy = new LineChart($("accuracy-chart"), {
  xLabel: "epochs trained",
  yLabel: "test accuracy (%)",
  yMin: 90,
  yMax: 100,
  yFloor: 0,
  yCeil: 100,
  xMax: 10,
});
const cost = new LineChart($("cost-chart"), {
  xLabel: "epochs trained",
  yLabel: "quadratic cost C (log scale)",
  log: true,
  yMin: 0.05,
  yMax: 0.2,
  xMax: 10,
});

const gradientChart = new LineChart($("gradient-chart"), {
  xLabel: "epochs trained",
  yLabel: "mean size (log scale)",
  yFormat: (v) => (v < 0.01 ? v.toExponential(0).replace("e-", "e−") : String(v)),
  log: true,
  yMin: 0.001,
  yMax: 0.01,
  xMax: 10,
});
const hiddenMap = createMap($("map"), $("map-card"));
let mapDigits = null; // fetched once, when a run is first shown

let defaults = null;
let runs = []; // the session's runs, from GET /api/runs
const hidden = new Set(); // earlier runs taken off the charts
let run = null; // the run on show: {id, settings, state, position, epochs, points, frames, cache}
let closeStream = null;
let viewing = 0; // the frame on show: after `viewing` epochs
let live = true; // follow new frames as they come
let busy = false; // a command is on its way

// -- the runs of the session ---------------------------------------------------

async function refreshRuns() {
  const answer = await get("api/runs");
  runs = answer.runs;
  return answer;
}

function shownRuns() {
  return runs.filter((r) => run && r.id !== run.id && !hidden.has(r.id) && r.epochs.length);
}

function labelOf(id) {
  const r = runs.find((x) => x.id === id);
  return r ? r.label : "";
}

// -- charts and legend ---------------------------------------------------------

function drawCharts() {
  if (!run) return;
  const earlier = shownRuns();
  const xMax = Math.max(run.settings.epochs, ...earlier.map((r) => r.settings.epochs));
  const acc = [];
  const cst = [];
  for (const r of earlier) {
    const c = colour(r.id);
    acc.push({ points: r.epochs.map((e) => [e.epoch + 1, 100 * e.accuracy]), color: c, width: 1.5, dots: 2.5, alpha: 0.75 });
    cst.push({ points: r.epochs.map((e) => [e.epoch + 1, e.cost]), color: c, width: 1.5, dots: 2.5, alpha: 0.75 });
  }
  const c = colour(run.id);
  cst.push({ points: run.points, color: c, width: 1, alpha: 0.2 });
  cst.push({ points: movingMean(run.points, 5), color: c, width: 1.5, alpha: 0.65 });
  acc.push({ points: run.epochs.map((e) => [e.epoch + 1, 100 * e.accuracy]), color: c, width: 2.5, dots: 3.5 });
  cst.push({ points: run.epochs.map((e) => [e.epoch + 1, e.cost]), color: c, width: 2.5, dots: 3.5 });
  accuracy.set(acc, xMax);
  cost.set(cst, xMax);
  accuracy.setMarker(viewing);
  cost.setMarker(viewing);
  drawGradients(xMax);
  $("accuracy-chart").dataset.points = String(run.epochs.length);
  $("cost-chart").dataset.points = String(run.points.length);
}

function drawGradients(xMax) {
  const gradients = run.gradients || [];
  gradientChart.set(gradientSeries(gradients), xMax);
  gradientChart.setMarker(viewing);
  drawGradientLegend($("gradient-legend"), gradients);
  $("gradient-chart").dataset.points = String(gradients.length);
}

// Each point's y replaced by the mean of the last `n` (the running cost is measured on 200 digits at a time).
function movingMean(points, n) {
  let sum = 0;
  return points.map(([x, y], i) => {
    sum += y - (i >= n ? points[i - n][1] : 0);
    return [x, sum / Math.min(i + 1, n)];
  });
}

function drawLegend() {
  const box = $("legend");
  box.replaceChildren();
  if (!run) return;
  const entry = (r, now) => {
    const item = document.createElement("label");
    item.className = now ? "entry now" : "entry";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colour(r.id);
    const text = document.createElement("span");
    text.textContent = `run ${r.id}${labelOf(r.id) ? ": " + labelOf(r.id) : ""}${now ? " (on show)" : ""}`;
    if (!now) {
      const check = document.createElement("input");
      check.type = "checkbox";
      check.checked = !hidden.has(r.id);
      check.title = "show this run on the charts";
      check.addEventListener("change", () => {
        if (check.checked) hidden.delete(r.id);
        else hidden.add(r.id);
        drawCharts();
      });
      item.append(check);
    }
    item.append(swatch, text);
    return item;
  };
  box.append(entry(run, true));
  for (const r of runs.filter((x) => x.id !== run.id && x.epochs.length)) box.append(entry(r, false));
}

// -- status, controls, log ------------------------------------------------------------

const STATE_TEXT = {
  training: "training",
  paused: "paused",
  finished: "finished",
  stopped: "stopped",
  failed: "failed",
};

function showStatus() {
  const state = run ? run.state : "idle";
  const badge = $("state");
  badge.textContent = run ? STATE_TEXT[state] : "no run yet";
  badge.className = `badge ${state}`;
  badge.dataset.state = state;
  if (run) {
    const { epoch, batch, batches } = run.position;
    const epochs = run.settings.epochs;
    const done = Math.min(epochs, epoch + batch / batches);
    $("where").textContent =
      epoch >= epochs
        ? `run ${run.id} · all ${epochs} epochs trained`
        : `run ${run.id} · epoch ${epoch} · mini-batch ${batch.toLocaleString("en")} of ${batches.toLocaleString("en")}`;
    $("progress-fill").style.width = `${(100 * done) / epochs}%`;
  } else {
    $("where").textContent = "Choose the settings and start a run.";
    $("progress-fill").style.width = "0";
  }
  // the book's code changed (network.py, a subclass, a patch): which engine trains it, said once
  $("run-notice").hidden = !(run && run.notice);
  $("run-notice").textContent = run && run.notice ? run.notice : "";
  $("run-error").hidden = !(run && run.error);
  $("run-error").textContent = run && run.error ? run.error : "";
  showControls();
}

function showControls() {
  const state = run ? run.state : "idle";
  const active = state === "training" || state === "paused";
  $("start").disabled = busy || active;
  $("pause").disabled = busy || state !== "training";
  $("resume").disabled = busy || state !== "paused";
  $("step").disabled = busy || state !== "paused";
  $("step-epoch").disabled = busy || state !== "paused";
  $("stop").disabled = busy || !active;
  const model = run && state !== "failed";
  for (const id of ["download-model", "download-history"]) $(id).classList.toggle("disabled", !model);
  $("download-model").href = run ? `api/runs/${run.id}/model` : "#";
  $("download-history").href = run ? `api/runs/${run.id}/history` : "#";
  $("use").disabled = busy || !model;
}

function showLog() {
  const log = $("log");
  log.textContent = run ? run.epochs.map((e) => e.line).join("\n") : "";
  log.scrollTop = log.scrollHeight;
}

// -- the pictures: weights, confusion, answers, and the slider over epochs -----------------

function frameLabel(k) {
  if (k === 0) return "before training";
  const e = run.epochs[k - 1];
  return e ? `after epoch ${k - 1}: ${e.correct.toLocaleString("en")} / ${e.total.toLocaleString("en")} right` : `after epoch ${k - 1}`;
}

function showSlider() {
  const scrub = $("scrub");
  const last = Math.max(0, run.frames - 1);
  scrub.max = String(last);
  scrub.disabled = run.frames < 2;
  if (live) viewing = last;
  scrub.value = String(viewing);
  $("frame-label").textContent = run.frames ? frameLabel(viewing) : "—";
  $("live").hidden = live || !run.frames;
}

async function showFrame(k) {
  let frame = run.cache.get(k);
  if (!frame) {
    frame = await get(`api/runs/${run.id}/frames/${k}`);
    run.cache.set(k, frame);
  }
  if (k !== viewing) return; // the learner has moved on
  const w = frame.weights;
  const layer = run.settings.sizes.length > 2 ? "hidden" : "output";
  $("weights-title").textContent =
    w.count < w.of ? `The first ${w.count} of ${w.of} ${layer} neurons` : `All ${w.of} ${layer} neurons`;
  await drawWeights($("weights"), w);
  drawColourBar($("colour-bar"), w.scale);
  const { right, total } = drawConfusion($("confusion"), frame.confusion);
  $("confusion-title").textContent = `${right.toLocaleString("en")} of ${total.toLocaleString("en")} test digits right`;
  showAnswers(frame);
  showMap(frame);
  $("views").dataset.showing = String(k);
  $("views-empty").hidden = true;
}

async function showMap(frame) {
  if (!frame.map) {
    $("map-title").textContent = "No hidden layer to map";
    return;
  }
  if (!mapDigits) {
    mapDigits = await get("api/map/digits");
    await hiddenMap.setDigits(mapDigits);
    const key = $("map-key");
    key.replaceChildren(
      ...DIGIT_COLOURS.map((c, d) => {
        const item = document.createElement("span");
        item.style.color = c;
        item.textContent = String(d);
        return item;
      }),
    );
  }
  const wrong = frame.map.predicted.filter((p, k) => p !== mapDigits.labels[k]).length;
  const n = frame.map.predicted.length;
  $("map-title").textContent = `Hidden layer ${frame.map.layer - 1} (${frame.map.width} neurons): ${wrong} of ${n} misread`;
  hiddenMap.show(frame.map);
}

function view(k, follow) {
  viewing = k;
  live = follow;
  showSlider();
  accuracy.setMarker(viewing);
  cost.setMarker(viewing);
  gradientChart.setMarker(viewing);
  showFrame(k).catch(showError);
}

$("scrub").addEventListener("input", (event) => {
  const k = Number(event.target.value);
  view(k, k === run.frames - 1);
});
$("live").addEventListener("click", () => view(run.frames - 1, true));

// -- the run's events -------------------------------------------------------------

function attach(id) {
  if (closeStream) closeStream();
  closeStream = watch(id, {
    snapshot(s) {
      run = { ...s, cache: new Map() };
      if (s.frame) run.cache.set(s.frame.done, s.frame);
      live = true;
      setSamples($("answers"), s.samples)
        .then(() => {
          showSlider();
          if (run.frames) return showFrame(viewing);
        })
        .catch(showError);
      showStatus();
      showLog();
      drawLegend();
      drawCharts();
    },
    progress(p) {
      run.position = p.position;
      run.points.push(...p.points);
      showStatus();
      drawCharts();
    },
    frame(f) {
      run.frames = f.frames;
      run.cache.set(f.frame.done, f.frame);
      run.gradients[f.frame.done] = f.frame.gradients;
      drawCharts();
      showSlider();
      if (live) showFrame(viewing).catch(showError);
    },
    epoch(e) {
      run.epochs.push(e.epoch);
      run.frames = e.frames;
      if (e.frame) {
        run.cache.set(e.frame.done, e.frame);
        run.gradients[e.frame.done] = e.frame.gradients;
      }
      showLog();
      showSlider();
      drawCharts();
      if (live) showFrame(viewing).catch(showError);
    },
    state(s) {
      Object.assign(run, s);
      showStatus();
      if (ENDED.includes(s.state))
        refreshRuns()
          .then(() => (drawLegend(), drawCharts()))
          .catch(showError);
    },
    connection(ok) {
      $("connection").hidden = ok;
    },
    problem: showError,
  });
}

// -- commands ---------------------------------------------------------------------

// A request the server refused, or that failed: its message stays on show
// until the next command (the run's own failure is run.error, in #run-error).
function showError(e) {
  $("command-error").textContent = e.message;
  $("command-error").hidden = false;
}

function clearError() {
  $("command-error").hidden = true;
}

// After a refused command the page shows the run as the server holds it.
async function reread() {
  const status = await get(`api/runs/${run.id}`);
  Object.assign(run, { state: status.state, position: status.position, error: status.error });
}

async function command(name, body) {
  busy = true;
  clearError();
  showControls();
  try {
    const status = await post(`api/runs/${run.id}/${name}`, body);
    if (!ENDED.includes(run.state)) run.state = status.state;
  } catch (e) {
    showError(e);
    await reread().catch(() => {}); // the refusal is on show; a second failure would say less
  } finally {
    busy = false;
    showStatus();
  }
}

$("pause").addEventListener("click", () => command("pause"));
$("resume").addEventListener("click", () => command("resume"));
$("stop").addEventListener("click", () => command("stop"));
$("step").addEventListener("click", () => command("step", { unit: "batch" }));
$("step-epoch").addEventListener("click", () => command("step", { unit: "epoch" }));

$("use").addEventListener("click", async () => {
  clearError();
  try {
    const answer = await post(`api/runs/${run.id}/use`);
    const note = $("use-note");
    note.replaceChildren(`The draw page now reads with ${answer.label}. `);
    const link = document.createElement("a");
    link.href = "./";
    link.textContent = "Draw a digit →";
    note.append(link);
    note.hidden = false;
  } catch (e) {
    showError(e);
  }
});
for (const id of ["download-model", "download-history"]) {
  $(id).addEventListener("click", (event) => $(id).classList.contains("disabled") && event.preventDefault());
}

$("settings").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("settings-error");
  error.hidden = true;
  busy = true;
  showControls();
  try {
    const body = settings.read();
    const status = await post("api/runs", body);
    $("use-note").hidden = true;
    await refreshRuns();
    attach(status.id);
  } catch (e) {
    error.textContent = e.message;
    error.hidden = false;
    await showActiveRun().catch(showError);
  } finally {
    busy = false;
    showControls();
  }
});

// After a refused start: the runs as the server holds them, and the one training (if any) on show.
async function showActiveRun() {
  await refreshRuns();
  const active = runs.find((r) => !ENDED.includes(r.state));
  if (active && (!run || run.id !== active.id)) attach(active.id);
  else drawLegend();
}

// -- start ------------------------------------------------------------------------

async function start() {
  const answer = await refreshRuns();
  defaults = answer.defaults;
  const engine = $("settings").elements.engine;
  engine.replaceChildren(
    ...answer.limits.engines.map((name) => {
      const option = document.createElement("option");
      option.value = option.textContent = name;
      return option;
    }),
  );
  settings.fill(defaults);
  settings.presets($("presets"), answer.presets, defaults, () => $("start").focus());
  $("limits").textContent = `up to ${answer.limits.max_hidden} neurons a layer, up to ${answer.limits.max_epochs} epochs`;
  showStatus();
  // a run in progress (or the last one) is shown again after a reload
  if (runs.length) attach(runs[runs.length - 1].id);
  document.body.dataset.ready = "true";
}

start().catch(showError);
