// The chapter page: the page's state in one object, and each element with a
// data-widget attribute made into that widget, drawn from its part of the
// state.  Load it last, after the maths, the drawing, the controls and the
// widgets.
"use strict";
(function (chapter) {
  chapter.state = {
    perceptron: { x: [1, 0, 1], w: [6, 2, 2], b: -5 },
    nand: { x: [1, 1] },
    adder: { x: [1, 1] },
    rule: { shown: 0 },
    neuron: { x1: 1, x2: 0.5, w1: 0.6, w2: -0.8, b: -0.15, before: { x1: 1, x2: 0.5, w1: 0.6, w2: -0.8, b: -0.15 } },
    scaling: { x: [1, 0], c: 1 },
    valley: { start: [-1.8, 1.5], eta: 0.2, steps: 0 },
    curve: { start: [2.2], eta: 0.1, steps: 0 },
    minibatch: { start: [-1.6, -1.6], eta: 0.2, epochs: 3, seed: 1 },
  };

  function mount() {
    for (const root of document.querySelectorAll("[data-widget]")) {
      const name = root.dataset.widget;
      chapter.widgets[name](root, chapter.state[name]);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})(window.nndlChapter = window.nndlChapter || {});
