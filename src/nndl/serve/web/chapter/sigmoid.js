// Step versus sigmoid: the same neuron with both, nudged; and the adder's
// network with every weight and bias times c, perceptrons against sigmoid
// neurons (the exercise "sigmoid neurons simulating perceptrons").  Adds
// them to window.nndlChapter.widgets.
"use strict";
(function (chapter) {
  const { el, format, slider, button, readout, canvas, frame } = chapter.controls;
  const P = chapter.perceptron, D = chapter.draw;
  const widgets = (chapter.widgets = chapter.widgets || {});

  widgets.neuron = function (root, state) {
    const body = frame(root, {
      formula: "step: output = 1 if <var>z</var> &gt; 0 else 0 &nbsp;·&nbsp; sigmoid: output = σ(<var>z</var>) = " +
        "1 / (1 + e<sup>−<var>z</var></sup>), &nbsp; <var>z</var> = <var>w</var>·<var>x</var> + <var>b</var>",
      caption: "The same weights and bias in a perceptron (the step, blue) and a sigmoid neuron (red). Nudge a weight " +
        "or the bias: near <var>z</var> = 0 the perceptron's output jumps from 0 to 1 while the sigmoid's moves a " +
        "little, Δoutput ≈ σ′(<var>z</var>) Δ<var>z</var>. That is why the chapter uses sigmoid neurons: \u201ca small " +
        "change in the weights or bias causes only a small change in the output\u201d, so the network can learn by " +
        "small changes.",
    });
    const keys = [["x1", "<var>x</var><sub>1</sub>", 0, 1, 0.1], ["x2", "<var>x</var><sub>2</sub>", 0, 1, 0.1],
      ["w1", "<var>w</var><sub>1</sub>", -3, 3, 0.05], ["w2", "<var>w</var><sub>2</sub>", -3, 3, 0.05], ["b", "<var>b</var>", -3, 3, 0.05]];
    const sliders = {};
    const change = (key, v) => {
      state.before = { x1: state.x1, x2: state.x2, w1: state.w1, w2: state.w2, b: state.b };
      state[key] = v;
      draw();
    };
    for (const [key, label, min, max, step] of keys) {
      sliders[key] = slider(key, label, { min, max, step, value: state[key], digits: 2 }, (v) => change(key, v));
    }
    const nudges = el("div", { class: "w-buttons" },
      ...[["b", 0.1], ["b", -0.1], ["w1", 0.1], ["w1", -0.1]].map(([key, d]) =>
        button(`nudge-${key}${d > 0 ? "+" : "-"}`, `${key === "b" ? "b" : "w₁"} ${d > 0 ? "+" : "−"} 0.1`, () => {
          const v = Math.round((state[key] + d) * 100) / 100;
          sliders[key].set(v);
          change(key, v);
        }, true)));
    const picture = canvas("neuron", 380, 240, "the step and the sigmoid against z");
    const shown = readout([["z", "<var>z</var>"], ["step", "perceptron output"], ["sigmoid", "sigmoid output"],
      ["dstep", "change of the perceptron's"], ["dsigmoid", "change of the sigmoid's"]]);
    body.append(el("div", { class: "w-controls" }, ...Object.values(sliders).map((s) => s.node), nudges),
      el("div", { class: "w-picture" }, picture, shown.node));

    const zOf = (s) => P.weightedInput([s.w1, s.w2], s.b, [s.x1, s.x2]);
    function draw() {
      const z = zOf(state), z0 = zOf(state.before);
      shown.set("z", z, 3);
      shown.set("step", P.step(z), 0);
      shown.set("sigmoid", P.sigmoid(z), 4);
      shown.set("dstep", P.step(z) - P.step(z0), 0);
      shown.set("dsigmoid", P.sigmoid(z) - P.sigmoid(z0), 4);
      const v = D.view(D.context(picture), [-6, 6], [-0.1, 1.1]);
      D.frame(v, ["z", "output"]);
      D.segment(v, [0, -0.1], [0, 1.1], "#c4c9d4", [3, 3]);
      D.curve(v, P.step, D.ZERO, 2.5);
      D.curve(v, P.sigmoid, D.ONE, 2.5);
      for (const [zz, r] of [[z0, 3.5], [z, 6]]) {
        D.dot(v, [zz, P.step(zz)], D.ZERO, r);
        D.dot(v, [zz, P.sigmoid(zz)], D.ONE, r);
      }
    }
    draw();
  };

  // the c slider's values
  const CS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
  // the inputs the widget measures the gap over: a 21 x 21 grid of [0, 1]^2
  const GRID = [];
  for (let i = 0; i <= 20; i++) for (let j = 0; j <= 20; j++) GRID.push([i / 20, j / 20]);

  widgets.scaling = function (root, state) {
    const body = frame(root, {
      formula: "every weight and bias times <var>c</var> &gt; 0: &nbsp; step(<var>c z</var>) = step(<var>z</var>), &nbsp; " +
        "σ(<var>c z</var>) → step(<var>z</var>) as <var>c</var> → ∞ when <var>z</var> ≠ 0, &nbsp; σ(<var>c</var> · 0) = ½",
      caption: "The adder's network again, its inputs now any numbers from 0 to 1, every weight and bias multiplied " +
        "by <var>c</var>. The perceptrons' outputs do not change at all (part I: <var>cz</var> has the sign of " +
        "<var>z</var>). Made of sigmoid neurons (the picture), the network behaves more and more like the " +
        "perceptrons as <var>c</var> grows (part II) — except where some gate has <var>w</var>·<var>x</var> + " +
        "<var>b</var> = 0: there σ(<var>c</var> · 0) = ½ whatever <var>c</var>, and the gates after it " +
        "see ½ instead of 0. At (0.75, 0.75) gate a stays at ½ but the outputs " +
        "still come out right; at (0.5, 0) the sum bit stays at ½ for every <var>c</var>. The map shows the largest " +
        "difference of the two outputs over all inputs; the lines " +
        "where a gate's <var>z</var> = 0 stay, as thin as <var>c</var> makes them.",
    });
    const sx1 = slider("x1", "<var>x</var><sub>1</sub>", { min: 0, max: 1, step: 0.05, value: state.x[0] }, (v) => { state.x[0] = v; draw(); });
    const sx2 = slider("x2", "<var>x</var><sub>2</sub>", { min: 0, max: 1, step: 0.05, value: state.x[1] }, (v) => { state.x[1] = v; draw(); });
    const sc = slider("c", "<var>c</var>", { min: 0, max: CS.length - 1, step: 1, value: CS.indexOf(state.c), digits: 0 }, (k) => {
      state.c = CS[k];
      draw();
    });
    const move = (x) => {
      state.x = x;
      sx1.set(x[0]);
      sx2.set(x[1]);
      draw();
    };
    const edges = el("div", { class: "w-buttons" },
      button("edge-a", "Gate a's z = 0: x = (0.75, 0.75)", () => move([0.75, 0.75]), true),
      button("edge-b", "Gate b's z = 0: x = (0.5, 0)", () => move([0.5, 0]), true));
    const table = el("table", { class: "w-table gates" }, el("thead", {}, el("tr", {
      html: "<th>gate</th><th><var>z</var> (perceptrons)</th><th>perceptron</th><th>perceptron × <var>c</var></th><th>sigmoid × <var>c</var></th>",
    })));
    const tbody = el("tbody");
    table.append(tbody);
    const shown = readout([["gap", "|sigmoid − perceptron| here, largest of sum and carry"],
      ["grid", "largest over the 21 × 21 inputs with every |<var>z</var>| &gt; 0.1"]]);
    const picture = canvas("scaling", 300, 220, "the sigmoid adder's gates");
    const map = canvas("scaling-map", 220, 220, "the gap over all inputs");
    body.append(el("div", { class: "w-controls" }, sx1.node, sx2.node, sc.node, edges, shown.node),
      el("div", { class: "w-picture" }, picture, map), el("div", { class: "w-table-wrap" }, table));

    function draw() {
      sc.node.querySelector("output").textContent = String(state.c);
      const [x1, x2] = state.x, c = state.c;
      const stepped = P.adderGates(x1, x2), scaled = P.adderGates(x1, x2, c), smooth = P.adderGates(x1, x2, c, "sigmoid");
      tbody.replaceChildren(...stepped.map((g, k) => el("tr", { "data-gate": g.name },
        el("th", {}, g.name), el("td", { "data-value": String(g.z) }, format(g.z, 2)),
        el("td", {}, String(g.output)), el("td", {}, String(scaled[k].output)),
        el("td", { "data-value": String(smooth[k].output) }, format(smooth[k].output, 4)))));
      const a = P.adderOutputs(x1, x2), s = P.adderOutputs(x1, x2, c, "sigmoid");
      shown.set("gap", Math.max(Math.abs(a[0] - s[0]), Math.abs(a[1] - s[1])), 4);
      shown.set("grid", P.simulationGap(c, GRID, 0.1), 4);
      chapter.drawAdder(picture, x1, x2, smooth, (g) => format(g.output, 2));
      drawGap(map, c, x1, x2);
    }

    function drawGap(target, c, x1, x2) {
      const v = D.view(D.context(target), [0, 1], [0, 1], 22);
      const { ctx } = v, cell = 2;
      for (let px = v.margin; px < v.width - v.margin; px += cell) {
        for (let py = v.margin; py < v.height - v.margin; py += cell) {
          const [u1, u2] = v.fromPx(px + cell / 2, py + cell / 2);
          const a = P.adderOutputs(u1, u2), s = P.adderOutputs(u1, u2, c, "sigmoid");
          const gap = Math.max(Math.abs(a[0] - s[0]), Math.abs(a[1] - s[1]));
          ctx.fillStyle = `rgb(${255 - 55 * gap}, ${255 - 203 * gap}, ${255 - 215 * gap})`;
          ctx.fillRect(px, py, cell, cell);
        }
      }
      D.frame(v, ["x₁", "x₂"]);
      D.dot(v, [x1, x2], D.INK, 4);
    }
    draw();
  };

  chapter.scalingValues = { CS, GRID };
})(window.nndlChapter = window.nndlChapter || {});
