// Perceptrons and sigmoid neurons: the numbers the chapter page shows, as
// small pure functions.  The same functions as nndl/perceptron.py (a test
// holds them equal).  A classic script, so the page also works opened from
// disk: it adds `perceptron` to the one namespace, window.nndlChapter.
"use strict";
(function (chapter) {
  // z = w . x + b, summed in the order Python sums it
  function weightedInput(weights, bias, x) {
    let z = 0;
    for (let j = 0; j < weights.length; j++) z += weights[j] * x[j];
    return z + bias;
  }

  // the step: 1 if z > 0, else 0 (z = 0 gives 0)
  const step = (z) => (z > 0 ? 1 : 0);

  // sigma(z) = 1 / (1 + e^-z), written as (1 + tanh(z/2)) / 2 like nndl.sigmoid: it never overflows
  const sigmoid = (z) => 0.5 + 0.5 * Math.tanh(0.5 * z);

  const output = (weights, bias, x) => step(weightedInput(weights, bias, x));
  const sigmoidOutput = (weights, bias, x) => sigmoid(weightedInput(weights, bias, x));

  // the book's NAND gate
  const NAND = { weights: [-2, -2], bias: 3 };
  const nand = (x1, x2) => output(NAND.weights, NAND.bias, [x1, x2]);

  // the two-bit adder: each gate's name and the two signals it reads (nndl.perceptron.ADDER)
  const ADDER = [["a", "x1", "x2"], ["b", "x1", "a"], ["c", "x2", "a"], ["sum", "b", "c"], ["carry", "a", "a"]];

  // every gate of the adder on inputs x1, x2, each a NAND with weights and bias times c,
  // a step ("perceptron") or a sigmoid ("sigmoid") neuron: [{name, z, output}]
  function adderGates(x1, x2, c = 1, neuron = "perceptron") {
    const weights = NAND.weights.map((w) => c * w);
    const bias = c * NAND.bias;
    const signals = { x1, x2 };
    return ADDER.map(([name, u, v]) => {
      const z = weightedInput(weights, bias, [signals[u], signals[v]]);
      const out = neuron === "perceptron" ? step(z) : sigmoid(z);
      signals[name] = out;
      return { name, z, output: out };
    });
  }

  function adderOutputs(x1, x2, c = 1, neuron = "perceptron") {
    const gates = adderGates(x1, x2, c, neuron);
    return [gates[3].output, gates[4].output];
  }

  const addBits = (x1, x2) => adderOutputs(x1, x2);

  // the learning rule's small data set in the plane: 1 above x1 + x2 = 1, 0 below
  const POINTS = [[0.2, 0.3], [0.8, 0.6], [0.4, 0.1], [0.6, 0.9], [0.1, 0.7],
    [0.9, 0.3], [0.6, 0.2], [0.7, 0.7], [0.3, 0.5], [0.4, 0.8]];
  const LABELS = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1];

  // the perceptron learning rule from zero weights and bias, one example at a time:
  // [{epoch, example, output, weights, bias}] with the weights after each update;
  // it ends with the first epoch without a mistake, or after `epochs`
  function learningSteps(X, y, epochs = 100, eta = 1) {
    let w = X[0].map(() => 0);
    let b = 0;
    const steps = [];
    for (let epoch = 0; epoch < epochs; epoch++) {
      let mistakes = 0;
      X.forEach((x, example) => {
        const out = output(w, b, x);
        const error = y[example] - out;
        if (error) {
          w = w.map((wj, j) => wj + eta * error * x[j]);
          b += eta * error;
          mistakes++;
        }
        steps.push({ epoch, example, output: out, weights: w.slice(), bias: b });
      });
      if (mistakes === 0) break;
    }
    return steps;
  }

  // the largest |sigmoid network - perceptron network| over the adder's outputs, weights
  // and biases times c, over inputs where every gate has |w . x + b| > margin (NaN if none)
  function simulationGap(c, inputs, margin = 0) {
    let gap = -Infinity;
    for (const [x1, x2] of inputs) {
      if (!adderGates(x1, x2).every((g) => Math.abs(g.z) > margin)) continue;
      const stepped = adderOutputs(x1, x2);
      const smooth = adderOutputs(x1, x2, c, "sigmoid");
      for (let k = 0; k < 2; k++) gap = Math.max(gap, Math.abs(stepped[k] - smooth[k]));
    }
    return gap === -Infinity ? NaN : gap;
  }

  chapter.perceptron = {
    weightedInput, step, sigmoid, output, sigmoidOutput, NAND, nand, ADDER, adderGates, adderOutputs, addBits,
    POINTS, LABELS, learningSteps, simulationGap,
  };
})(window.nndlChapter = window.nndlChapter || {});
