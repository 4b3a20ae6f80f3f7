// The chapter's perceptron widgets: one perceptron, the NAND gate, the
// two-bit adder and the perceptron learning rule.  Each takes its element
// and its part of the page's state, builds its controls, and redraws from
// the state after every change.  Adds them to window.nndlChapter.widgets.
"use strict";
(function (chapter) {
  const { el, format, slider, bit, button, readout, canvas, frame } = chapter.controls;
  const P = chapter.perceptron, D = chapter.draw;
  const widgets = (chapter.widgets = chapter.widgets || {});

  widgets.perceptron = function (root, state) {
    const body = frame(root, {
      formula: "output = 1 if <var>w</var>·<var>x</var> + <var>b</var> &gt; 0, &nbsp; 0 if <var>w</var>·<var>x</var> + <var>b</var> ≤ 0",
      caption: "The chapter's example: is the weather good (<var>x</var><sub>1</sub>), does your partner want to come " +
        "(<var>x</var><sub>2</sub>), is the festival near public transit (<var>x</var><sub>3</sub>)? With weight 6 on " +
        "the weather and a threshold of 5 (bias −5), the weather alone decides. Lower the threshold to 3 (bias −3) " +
        "and any two good reasons are enough.",
    });
    const controls = el("div", { class: "w-controls" });
    const sliders = [];
    const redraw = () => draw();
    for (let j = 0; j < 3; j++) {
      sliders.push(slider(`x${j + 1}`, `<var>x</var><sub>${j + 1}</sub>`, { min: 0, max: 1, step: 1, value: state.x[j], digits: 0 },
        (v) => { state.x[j] = v; redraw(); }));
    }
    for (let j = 0; j < 3; j++) {
      sliders.push(slider(`w${j + 1}`, `<var>w</var><sub>${j + 1}</sub>`, { min: -8, max: 8, step: 0.5, value: state.w[j], digits: 1 },
        (v) => { state.w[j] = v; redraw(); }));
    }
    sliders.push(slider("b", "<var>b</var>", { min: -10, max: 10, step: 0.5, value: state.b, digits: 1 }, (v) => { state.b = v; redraw(); }));
    controls.append(...sliders.map((s) => s.node));
    const picture = canvas("perceptron", 360, 220, "the perceptron, its inputs and its output");
    const shown = readout([["z", "<var>w</var>·<var>x</var> + <var>b</var>"], ["output", "output"]]);
    body.append(controls, el("div", { class: "w-picture" }, picture, shown.node));

    function draw() {
      const z = P.weightedInput(state.w, state.b, state.x);
      const out = P.output(state.w, state.b, state.x);
      shown.set("z", z, 1);
      shown.set("output", out, 0);
      D.network(D.context(picture), [
        ...state.x.map((x, j) => ({ id: `x${j}`, x: 0.12, y: 0.2 + 0.3 * j, label: String(x), value: x, caption: "" })),
        { id: "p", x: 0.55, y: 0.5, label: "∑", value: null, caption: `b = ${format(state.b, 1)}` },
        { id: "out", x: 0.88, y: 0.5, label: String(out), value: out, caption: "output" },
      ], [
        ...state.w.map((w, j) => [`x${j}`, "p", `${w}`, w]),
        ["p", "out"],
      ]);
    }
    draw();
  };

  widgets.nand = function (root, state) {
    const body = frame(root, {
      formula: "(−2)·<var>x</var><sub>1</sub> + (−2)·<var>x</var><sub>2</sub> + 3",
      caption: "The chapter's NAND gate: weights −2, −2 and bias 3. Only when both inputs are 1 is the weighted input " +
        "negative, so the output is 0 then and 1 otherwise. Click the inputs.",
    });
    const bits = [0, 1].map((j) => bit(`x${j + 1}`, `<var>x</var><sub>${j + 1}</sub>`, () => {
      state.x[j] = 1 - state.x[j];
      draw();
    }));
    const shown = readout([["z", "weighted input"], ["output", "output"]]);
    const rows = [[0, 0], [0, 1], [1, 0], [1, 1]].map(([a, b]) =>
      el("tr", {}, el("td", {}, String(a)), el("td", {}, String(b)), el("td", {}, String(P.nand(a, b)))));
    const table = el("table", { class: "w-table" },
      el("thead", {}, el("tr", { html: "<th><var>x</var><sub>1</sub></th><th><var>x</var><sub>2</sub></th><th>NAND</th>" })),
      el("tbody", {}, ...rows));
    body.append(el("div", { class: "w-controls bits" }, ...bits.map((b) => b.node)), shown.node, table);

    function draw() {
      bits.forEach((b, j) => b.set(state.x[j]));
      shown.set("z", P.weightedInput(P.NAND.weights, P.NAND.bias, state.x), 0);
      shown.set("output", P.nand(state.x[0], state.x[1]), 0);
      rows.forEach((row, k) => row.classList.toggle("current", k === 2 * state.x[0] + state.x[1]));
    }
    draw();
  };

  // where the adder's signals sit in its picture (fractions of the canvas)
  const ADDER_LAYOUT = { x1: [0.08, 0.22], x2: [0.08, 0.78], a: [0.36, 0.5], b: [0.58, 0.2], c: [0.58, 0.8], sum: [0.86, 0.3], carry: [0.86, 0.78] };

  // the adder's picture: each gate's output as its fill; `label(gate)` is what a gate shows
  function drawAdder(picture, x1, x2, gates, label) {
    const nodes = [
      { id: "x1", x: ADDER_LAYOUT.x1[0], y: ADDER_LAYOUT.x1[1], label: label({ output: x1 }), value: x1, caption: "x₁" },
      { id: "x2", x: ADDER_LAYOUT.x2[0], y: ADDER_LAYOUT.x2[1], label: label({ output: x2 }), value: x2, caption: "x₂" },
      ...gates.map((g) => ({ id: g.name, x: ADDER_LAYOUT[g.name][0], y: ADDER_LAYOUT[g.name][1], label: label(g), value: g.output,
        caption: g.name === "sum" || g.name === "carry" ? g.name : `NAND ${g.name}` })),
    ];
    const edges = [];
    for (const [name, u, v] of P.ADDER) {
      edges.push([u, name]);
      if (v !== u) edges.push([v, name]);
    }
    D.network(D.context(picture), nodes, edges);
  }

  widgets.adder = function (root, state) {
    const body = frame(root, {
      formula: "<var>x</var><sub>1</sub> + <var>x</var><sub>2</sub> = 2 · carry + sum",
      caption: "Adding two bits with five NAND perceptrons, the chapter's circuit. The sum bit is " +
        "<var>x</var><sub>1</sub> XOR <var>x</var><sub>2</sub>, the carry bit <var>x</var><sub>1</sub> AND " +
        "<var>x</var><sub>2</sub> (the chapter draws the carry as one perceptron with weight −4 on gate a's output; " +
        "here it is a NAND of a with itself, the same thing). Red gates output 1. Click the inputs; " +
        "<code>nndl.add_bits(x1, x2)</code> gives the same two bits.",
    });
    const bits = [0, 1].map((j) => bit(`x${j + 1}`, `<var>x</var><sub>${j + 1}</sub>`, () => {
      state.x[j] = 1 - state.x[j];
      draw();
    }));
    const picture = canvas("adder", 420, 240, "the adder's five NAND gates");
    const shown = readout([["sum", "sum bit"], ["carry", "carry bit"], ["call", "<code>add_bits</code>"]]);
    body.append(el("div", { class: "w-controls bits" }, ...bits.map((b) => b.node), shown.node), el("div", { class: "w-picture" }, picture));

    function draw() {
      bits.forEach((b, j) => b.set(state.x[j]));
      const [x1, x2] = state.x;
      const [s, carry] = P.addBits(x1, x2);
      shown.set("sum", s, 0);
      shown.set("carry", carry, 0);
      shown.set("call", `add_bits(${x1}, ${x2}) = (${s}, ${carry})`);
      drawAdder(picture, x1, x2, P.adderGates(x1, x2), (g) => String(g.output));
    }
    draw();
  };

  widgets.rule = function (root, state) {
    const body = frame(root, {
      formula: "for each example: &nbsp; <var>w</var> → <var>w</var> + η (<var>y</var> − output) <var>x</var>, &nbsp; " +
        "<var>b</var> → <var>b</var> + η (<var>y</var> − output), &nbsp; η = 1",
      caption: "The perceptron learning rule on ten points: a red point should make the perceptron output 1, a " +
        "blue ring 0. It starts from zero weights and bias and visits the points in turn; only a point on the wrong " +
        "side of the dashed line <var>w</var>·<var>x</var> + <var>b</var> = 0 moves it. It stops after a whole " +
        "epoch without a mistake: the points can be split by a line, so it always gets there.",
    });
    const steps = P.learningSteps(P.POINTS, P.LABELS);
    const picture = canvas("rule", 340, 340, "the points and the perceptron's line");
    const show = (k) => { state.shown = Math.max(0, Math.min(steps.length, k)); draw(); };
    const buttons = el("div", { class: "w-buttons" },
      button("step", "Step", () => show(state.shown + 1)),
      button("epoch", "To the epoch's end", () => {
        const epoch = state.shown < steps.length ? steps[state.shown].epoch : -1;
        let k = state.shown;
        while (k < steps.length && steps[k].epoch === epoch) k++;
        show(k);
      }),
      button("run", "Run to the end", () => show(steps.length)),
      button("reset", "Reset", () => show(0), true));
    const shown = readout([
      ["step", "examples visited"], ["epoch", "epoch"], ["example", "last example"], ["update", "its update"],
      ["w1", "<var>w</var><sub>1</sub>"], ["w2", "<var>w</var><sub>2</sub>"], ["b", "<var>b</var>"], ["status", ""],
    ]);
    body.append(el("div", { class: "w-controls" }, buttons, shown.node), el("div", { class: "w-picture" }, picture));

    function draw() {
      const k = state.shown, last = k ? steps[k - 1] : null;
      const w = last ? last.weights : [0, 0], b = last ? last.bias : 0;
      shown.set("step", `${k} of ${steps.length}`);
      shown.set("epoch", last ? last.epoch + 1 : 0, 0);
      if (last) {
        const y = P.LABELS[last.example];
        shown.set("example", `point ${last.example + 1}: y = ${y}, output ${last.output}`);
        shown.set("update", y === last.output ? "none (right)" : y > last.output ? "w + x, b + 1" : "w − x, b − 1");
      } else {
        shown.set("example", "–");
        shown.set("update", "–");
      }
      shown.set("w1", w[0], 1);
      shown.set("w2", w[1], 1);
      shown.set("b", b, 1);
      shown.set("status", k === steps.length ? "an epoch without a mistake: done" : "");
      const v = D.view(D.context(picture), [0, 1], [0, 1]);
      D.halfPlane(v, w, b);
      D.points(v, P.POINTS, P.LABELS, last ? last.example : -1);
    }
    draw();
  };

  chapter.drawAdder = drawAdder;
})(window.nndlChapter = window.nndlChapter || {});
