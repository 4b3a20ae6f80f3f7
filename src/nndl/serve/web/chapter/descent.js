// Gradient descent as the chapter pictures it: the same functions as
// nndl/descent.py (a test holds them equal).  Adds `descent` to window.nndlChapter.
"use strict";
(function (chapter) {
  // a path stops once a coordinate is this large: the ball has left the valley
  const ESCAPE = 1e6;

  // the valley C(v1, v2) = v1^2 + 2 v2^2 and its gradient (2 v1, 4 v2)
  const valley = ([v1, v2]) => v1 * v1 + 2 * v2 * v2;
  const valleyGradient = ([v1, v2]) => [2 * v1, 4 * v2];

  // the one-variable case: C(v) = v^4/4 - v^2 + v/4 and its slope v^3 - 2v + 1/4
  const curve = ([x]) => x * x * x * x / 4 - x * x + x / 4;
  const curveGradient = ([x]) => [x * x * x - 2 * x + 0.25];

  // one step: v' = v - eta grad C
  const step = (v, gradient, eta) => v.map((vj, j) => vj - eta * gradient[j]);

  // the path of `steps` steps from `start`, ending once a coordinate passes ESCAPE
  function descend(start, eta, steps, gradient = valleyGradient) {
    const path = [start.slice()];
    for (let k = 0; k < steps; k++) {
      const v = path[path.length - 1];
      if (Math.max(...v.map(Math.abs)) > ESCAPE) break;
      path.push(step(v, gradient(v), eta));
    }
    return path;
  }

  // a tiny seeded generator, the same as nndl.descent.Lcg:
  // state -> (1664525 state + 1013904223) mod 2^32, every product exact in a double
  function lcg(seed) {
    let state = ((seed % 4294967296) + 4294967296) % 4294967296;
    const random = () => {
      state = (1664525 * state + 1013904223) % 4294967296;
      return state / 4294967296;
    };
    // 0 .. n-1 in a random order (Fisher-Yates, from the end)
    const shuffled = (n) => {
      const order = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      return order;
    };
    return { random, shuffled };
  }

  // n training points scattered around (0.8, 0.6)
  function cloud(n = 20, seed = 1) {
    const rng = lcg(seed);
    return Array.from({ length: n }, () => {
      const x1 = 0.8 + 1.6 * (rng.random() - 0.5);
      return [x1, 0.6 + 1.2 * (rng.random() - 0.5)];
    });
  }

  // the average of the examples' costs C_x(v) = |v - x|^2 / 2
  function cloudCost(v, points) {
    let total = 0;
    for (const x of points) {
      const d1 = v[0] - x[0], d2 = v[1] - x[1];
      total += (d1 * d1 + d2 * d2) / 2;
    }
    return total / points.length;
  }

  // grad C averaged over the examples in `batch` (all if undefined): each grad C_x = v - x
  function cloudGradient(v, points, batch) {
    const chosen = batch === undefined ? points.map((_, i) => i) : batch;
    let g1 = 0, g2 = 0;
    for (const j of chosen) {
      g1 += v[0] - points[j][0];
      g2 += v[1] - points[j][1];
    }
    return [g1 / chosen.length, g2 / chosen.length];
  }

  // the gradient's estimates at v from each mini-batch of m points of one shuffle (lcg(seed))
  function estimates(points, v, m, seed = 1) {
    const order = lcg(seed).shuffled(points.length);
    const found = [];
    for (let k = 0; k < points.length; k += m) found.push(cloudGradient(v, points, order.slice(k, k + m)));
    return found;
  }

  // the mean of |estimate - grad C| over those estimates
  function estimateSpread(points, v, m, seed = 1) {
    const full = cloudGradient(v, points);
    const found = estimates(points, v, m, seed);
    let total = 0;
    for (const g of found) total += Math.hypot(g[0] - full[0], g[1] - full[1]);
    return total / found.length;
  }

  // stochastic gradient descent on cloudCost: each epoch shuffles the points
  // (lcg(seed)) and steps once per mini-batch of m of them
  function minibatchPath(points, start, eta, m, epochs, seed = 1) {
    const rng = lcg(seed);
    const path = [start.slice()];
    for (let e = 0; e < epochs; e++) {
      const order = rng.shuffled(points.length);
      for (let k = 0; k < points.length; k += m) {
        const v = path[path.length - 1];
        path.push(step(v, cloudGradient(v, points, order.slice(k, k + m)), eta));
      }
    }
    return path;
  }

  chapter.descent = {
    ESCAPE, valley, valleyGradient, curve, curveGradient, step, descend, lcg, cloud, cloudCost, cloudGradient,
    estimates, estimateSpread, minibatchPath,
  };
})(window.nndlChapter = window.nndlChapter || {});
