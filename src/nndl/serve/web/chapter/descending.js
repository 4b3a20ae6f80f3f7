// The gradient descent widgets: the ball in the two-variable valley, the
// one-variable case, and mini-batches of several sizes.  Adds them to
// window.nndlChapter.widgets.
"use strict";
(function (chapter) {
  const { el, slider, button, readout, canvas, frame } = chapter.controls;
  const G = chapter.descent, D = chapter.draw;
  const widgets = (chapter.widgets = chapter.widgets || {});
  const round = (x) => Math.round(x * 100) / 100;

  // eta's slider and buttons for the presets [[eta, words]]
  function etaControls(state, presets, max, redraw) {
    const eta = slider("eta", "η", { min: 0.01, max, step: 0.01, value: state.eta }, (v) => { state.eta = v; redraw(); });
    const buttons = presets.map(([value, words]) => button(`eta-${value}`, `η = ${value}: ${words}`, () => {
      state.eta = value;
      eta.set(value);
      redraw();
    }, true));
    return [eta.node, el("div", { class: "w-buttons presets" }, ...buttons)];
  }

  // Step, Run (many steps at once) and Reset for a path of state.steps steps
  const stepButtons = (state, redraw, run = 20) => el("div", { class: "w-buttons" },
    button("step", "Step", () => { state.steps += 1; redraw(); }),
    button("run", `Run ${run} steps`, () => { state.steps += run; redraw(); }),
    button("reset", "Back to the start", () => { state.steps = 0; redraw(); }, true));

  widgets.valley = function (root, state) {
    const body = frame(root, {
      formula: "<var>C</var>(<var>v</var><sub>1</sub>, <var>v</var><sub>2</sub>) = <var>v</var><sub>1</sub><sup>2</sup> + " +
        "2<var>v</var><sub>2</sub><sup>2</sup>, &nbsp; ∇<var>C</var> = (2<var>v</var><sub>1</sub>, 4<var>v</var><sub>2</sub>), &nbsp; " +
        "<var>v</var> → <var>v</var>′ = <var>v</var> − η∇<var>C</var>, &nbsp; Δ<var>C</var> ≈ −η‖∇<var>C</var>‖<sup>2</sup>",
      caption: "A ball rolling down a valley: click to drop it anywhere, then step (the black arrow is the next " +
        "step). Each step moves against the gradient, so (for small η) the cost goes down. Too small an η and the ball creeps; too large and it " +
        "overshoots the valley's floor, back and forth across the steep direction, and above η = 0.5 it climbs out.",
    });
    const redraw = () => draw();
    const picture = canvas("valley", 380, 380, "the valley; click to drop the ball");
    const shown = readout([["steps", "steps"], ["v1", "<var>v</var><sub>1</sub>"], ["v2", "<var>v</var><sub>2</sub>"],
      ["cost", "<var>C</var>(<var>v</var>)"], ["grad", "‖∇<var>C</var>‖"]]);
    body.append(el("div", { class: "w-controls" },
      ...etaControls(state, [[0.02, "too small"], [0.2, "about right"], [0.45, "zigzags"], [0.55, "too large"]], 0.6, redraw),
      stepButtons(state, redraw), shown.node),
    el("div", { class: "w-picture" }, picture));
    let v;
    picture.addEventListener("click", (e) => {
      const box = picture.getBoundingClientRect();
      state.start = v.fromPx(e.clientX - box.left, e.clientY - box.top).map(round);
      state.steps = 0;
      draw();
    });

    function draw() {
      const path = G.descend(state.start, state.eta, state.steps);
      const end = path[path.length - 1], grad = G.valleyGradient(end);
      shown.set("steps", path.length - 1, 0);
      shown.set("v1", end[0], 4);
      shown.set("v2", end[1], 4);
      shown.set("cost", G.valley(end), 4);
      shown.set("grad", Math.hypot(grad[0], grad[1]), 4);
      v = D.view(D.context(picture), [-2, 2], [-2, 2]);
      D.shades(v, G.valley, [0.05, 0.2, 0.5, 1, 2, 3.5, 5, 7, 9.5, 12]);
      D.path(v, path, D.ONE);
      D.arrow(v, end, G.step(end, grad, state.eta), D.INK);  // the next step, -eta grad C
    }
    draw();
  };

  widgets.curve = function (root, state) {
    const body = frame(root, {
      formula: "<var>C</var>(<var>v</var>) = <var>v</var><sup>4</sup>/4 − <var>v</var><sup>2</sup> + <var>v</var>/4, &nbsp; " +
        "<var>v</var> → <var>v</var> − η <var>C</var>′(<var>v</var>), &nbsp; <var>C</var>′(<var>v</var>) = <var>v</var><sup>3</sup> − 2<var>v</var> + ¼",
      caption: "The exercise's one-variable case. The gradient is the slope of the curve (the dashed tangent): each " +
        "step goes downhill, by η times how steep it is, so steps shrink as the ball nears the bottom. Drop the ball " +
        "(click) right of the hump and it settles in the shallow valley, not the deeper one: gradient descent only " +
        "knows the slope where it stands. With η large it jumps past the bottom, or out.",
    });
    const redraw = () => draw();
    const picture = canvas("curve", 420, 300, "the curve C(v); click to drop the ball");
    const shown = readout([["steps", "steps"], ["v", "<var>v</var>"], ["cost", "<var>C</var>(<var>v</var>)"],
      ["slope", "<var>C</var>′(<var>v</var>)"], ["next", "next step −η<var>C</var>′(<var>v</var>)"]]);
    body.append(el("div", { class: "w-controls" },
      ...etaControls(state, [[0.02, "too small"], [0.1, "about right"], [0.6, "too large"]], 1, redraw),
      stepButtons(state, redraw), shown.node),
    el("div", { class: "w-picture" }, picture));
    let v;
    picture.addEventListener("click", (e) => {
      const box = picture.getBoundingClientRect();
      state.start = [round(v.fromPx(e.clientX - box.left, e.clientY - box.top)[0])];
      state.steps = 0;
      draw();
    });

    function draw() {
      const path = G.descend(state.start, state.eta, state.steps, G.curveGradient);
      const end = path[path.length - 1][0], slope = G.curveGradient([end])[0];
      shown.set("steps", path.length - 1, 0);
      shown.set("v", end, 4);
      shown.set("cost", G.curve([end]), 4);
      shown.set("slope", slope, 4);
      shown.set("next", -state.eta * slope, 4);
      v = D.view(D.context(picture), [-2.5, 2.5], [-1.8, 2.4]);
      D.frame(v, ["v", "C"]);
      D.curve(v, (x) => G.curve([x]));
      D.segment(v, [end - 1, G.curve([end]) - slope], [end + 1, G.curve([end]) + slope], D.MUTED, [5, 4]);
      D.path(v, path.map(([x]) => [x, G.curve([x])]), D.ONE);
    }
    draw();
  };

  // the mini-batch sizes compared, and their colours
  const SIZES = [[1, "#c83428"], [5, "#e08a1e"], [20, "#235fcd"]];

  widgets.minibatch = function (root, state) {
    const body = frame(root, {
      formula: "<var>C</var> = (1/<var>n</var>) Σ<sub><var>x</var></sub> <var>C</var><sub><var>x</var></sub>, &nbsp; " +
        "<var>C</var><sub><var>x</var></sub>(<var>v</var>) = ‖<var>v</var> − <var>x</var>‖<sup>2</sup>/2, &nbsp; " +
        "∇<var>C</var> ≈ (1/<var>m</var>) Σ<sub><var>j</var>=1..<var>m</var></sub> ∇<var>C</var><sub><var>X</var><sub><var>j</var></sub></sub>",
      caption: "A cost that is an average over <var>n</var> = 20 training inputs (the dots), least at their mean. " +
        "Stochastic gradient descent estimates its gradient from a mini-batch of <var>m</var> inputs picked at " +
        "random: each epoch shuffles the inputs and takes one step per mini-batch, as <code>Network.SGD</code> " +
        "does. Same start, same η, same shuffles (the seed): with <var>m</var> = 20 the estimate is the full " +
        "gradient and the path is smooth; with <var>m</var> = 1 it takes 20 times as many, noisy steps, and " +
        "keeps jittering around the bottom. The short arrows at the start are the first step each mini-batch of " +
        "the first epoch would take: they scatter around the full gradient's step, less the bigger <var>m</var> " +
        "(the spread: the average of ‖estimate − ∇<var>C</var>‖ over them).",
    });
    const redraw = () => draw();
    const eta = slider("eta", "η", { min: 0.01, max: 1, step: 0.01, value: state.eta }, (v) => { state.eta = v; redraw(); });
    const epochs = slider("epochs", "epochs", { min: 1, max: 10, step: 1, value: state.epochs, digits: 0 }, (v) => { state.epochs = v; redraw(); });
    const seed = slider("seed", "seed", { min: 1, max: 20, step: 1, value: state.seed, digits: 0 }, (v) => { state.seed = v; redraw(); });
    const rows = SIZES.map(([m, colour]) => [m, colour, readout([
      [`spread${m}`, "spread of its estimates"], [`steps${m}`, "steps"], [`v${m}`, "<var>v</var>"],
      [`cost${m}`, "<var>C</var>(<var>v</var>)"]])]);
    const legend = el("div", { class: "w-legend" }, ...rows.map(([m, colour, shown]) =>
      el("div", {}, el("span", { class: "swatch", style: { background: colour } }), el("strong", {}, `m = ${m}`), shown.node)));
    const picture = canvas("minibatch", 380, 380, "the inputs and the paths");
    body.append(el("div", { class: "w-controls" }, eta.node, epochs.node, seed.node, legend), el("div", { class: "w-picture" }, picture));
    const points = G.cloud(20, 1);

    function draw() {
      const v = D.view(D.context(picture), [-2, 2], [-2, 2]);
      D.shades(v, (u) => G.cloudCost(u, points), [0.3, 0.5, 0.8, 1.2, 1.7, 2.3, 3, 3.8, 4.7, 5.7]);
      const { ctx } = v;
      ctx.fillStyle = "#1d2230";
      for (const [x, y] of points) ctx.fillRect(v.px(x) - 2, v.py(y) - 2, 4, 4);
      for (const [m, colour, shown] of rows) {
        // each mini-batch's first step from the start, -eta times its estimate of the gradient
        for (const g of G.estimates(points, state.start, m, state.seed)) {
          D.arrow(v, state.start, G.step(state.start, g, state.eta), colour);
        }
        shown.set(`spread${m}`, G.estimateSpread(points, state.start, m, state.seed), 4);
        const path = G.minibatchPath(points, state.start, state.eta, m, state.epochs, state.seed);
        const end = path[path.length - 1];
        shown.set(`steps${m}`, path.length - 1, 0);
        shown.set(`v${m}`, `(${end.map((x) => chapter.controls.format(x, 3)).join(", ")})`);
        shown.node.querySelector(`[data-key=v${m}]`).dataset.value = JSON.stringify(end);
        shown.set(`cost${m}`, G.cloudCost(end, points), 4);
        D.path(v, path, colour, { dots: m > 1, width: m === 1 ? 1.5 : 2 });
      }
    }
    draw();
  };
})(window.nndlChapter = window.nndlChapter || {});
