// Gradient sizes as the run goes: each layer's mean |dC/dw| (solid) and mean
// |delta| (dashed) on the run's fixed mini-batch, after each epoch (x = epochs
// trained, 0 before training), one colour per layer.

// One colour per layer of weights (layer 2 is the first), as in the map's palette but darker.
const LAYER_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
export const layerColour = (layer) => LAYER_COLOURS[(layer - 2) % LAYER_COLOURS.length];

// The chart's series from a run's gradients (one list per frame, each [{layer, weight, delta}]).
export function gradientSeries(gradients) {
  if (!gradients.length || !gradients[0]) return [];
  const layers = gradients[0].map((g) => g.layer);
  const series = [];
  layers.forEach((layer, i) => {
    const c = layerColour(layer);
    const at = (key) => gradients.map((frame, k) => [k, frame[i][key]]);
    series.push({ points: at("weight"), color: c, width: 2, dots: 3 });
    series.push({ points: at("delta"), color: c, width: 1.5, dash: [5, 4], alpha: 0.8 });
  });
  return series;
}

// The legend under the chart: a swatch and a name per layer.
export function drawGradientLegend(box, gradients) {
  box.replaceChildren();
  if (!gradients.length || !gradients[0]) return;
  const last = gradients[0].length + 1;
  for (const g of gradients[0]) {
    const item = document.createElement("span");
    item.className = "entry";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = layerColour(g.layer);
    // g.layer is the book's l (the input is layer 1); hidden layers are counted from 1, as on the draw page
    const name = g.layer === last ? "output layer" : `hidden layer ${g.layer - 1}`;
    item.append(swatch, `${name} (w${sup(g.layer)})`);
    box.append(item);
  }
}

const SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹";
const sup = (n) => String(n).replace(/\d/g, (d) => SUPERSCRIPTS[d]);
