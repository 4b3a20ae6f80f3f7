// "Inside the network": the first hidden layer's neurons as pictures of
// their weights, marked by how much each fires on the drawing; deeper
// hidden layers and the output layer as bars; and, for the neuron picked,
// which pixels of the drawing push it up or down.

import { el, fmt, signedBar } from "./bars.js";
import { paintSigned, tinyCanvas } from "./colours.js";

const $ = (id) => document.getElementById(id);

export function createInside(onPick) {
  const neuronsBox = $("neurons");
  const deeperBox = $("deeper");
  const outputsBox = $("outputs");
  const sorted = $("sorted");
  let network = null;
  let tiles = [];
  let last = null;

  function pickable(node, layer, neuron, label) {
    node.classList.add("pickable");
    node.tabIndex = 0;
    node.setAttribute("role", "button");
    node.setAttribute("aria-label", label);
    node.addEventListener("click", () => onPick(layer, neuron));
    node.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        onPick(layer, neuron);
      }
    });
  }

  // A new network (or new weights after a lesson): draw every weight picture.
  function setNetwork(net) {
    network = net;
    const n = net.sizes[1];
    const hidden = net.sizes.length - 2;
    $("hidden-title").textContent =
      hidden > 0 ? `Hidden layer 1 · ${n} neurons${hidden > 1 ? ` (of ${hidden} hidden layers)` : ""}` : "No hidden layer";
    if (tiles.length !== n) {
      neuronsBox.replaceChildren();
      tiles = [];
      for (let j = 0; j < n; j++) {
        const tile = el("figure", "tile");
        const canvas = tinyCanvas();
        const track = el("div", "atrack");
        const fill = el("div", "afill");
        track.appendChild(fill);
        const caption = el("figcaption", "", `#${j}`);
        tile.append(canvas, track, caption);
        pickable(tile, 1, j, `hidden neuron ${j}`);
        neuronsBox.appendChild(tile);
        tiles.push({ tile, canvas, fill, caption });
      }
    }
    if (hidden > 0) net.first_layer.forEach((w, j) => paintSigned(tiles[j].canvas, w));
    if (last) show(last);
  }

  function show(result) {
    last = result;
    if (!network) return;
    const L = result.layers.length; // layers after the input; the last is the output layer
    if (L > 1) showFirstLayer(result.layers[0].a, result.pick);
    showDeeper(result.layers.slice(1, L - 1), result.pick);
    showOutputs(result.layers[L - 1], result.pick, result.digit);
    showWhy(result);
  }

  function showFirstLayer(a, pick) {
    const order = a.map((v, j) => j).sort((i, j) => a[j] - a[i]);
    order.forEach((j, rank) => {
      const t = tiles[j];
      t.fill.style.width = `${Math.round(100 * a[j])}%`;
      t.caption.textContent = `#${j} · ${a[j].toFixed(2)}`;
      t.tile.style.order = sorted.checked ? rank : j;
      t.tile.classList.toggle("active", a[j] > 0.5);
      t.tile.classList.toggle("picked", pick.layer === 1 && pick.neuron === j);
      t.tile.title = `hidden neuron ${j}: activation ${a[j].toFixed(3)}; click to see what pushes it`;
    });
  }

  function showDeeper(layers, pick) {
    deeperBox.replaceChildren();
    layers.forEach((layer, k) => {
      const number = k + 2;
      const box = el("div", "deeper-layer");
      box.appendChild(el("h3", "", `Hidden layer ${number} · ${layer.a.length} neurons: activations`));
      const rows = el("div", "arows");
      layer.a.forEach((v, j) => {
        const row = el("div", pick.layer === number && pick.neuron === j ? "arow picked" : "arow");
        const track = el("div", "atrack");
        const fill = el("div", "afill");
        fill.style.width = `${Math.round(100 * v)}%`;
        track.appendChild(fill);
        row.append(el("span", "d", `#${j}`), track, el("span", "v", v.toFixed(2)));
        pickable(row, number, j, `neuron ${j} of hidden layer ${number}`);
        rows.appendChild(row);
      });
      box.appendChild(rows);
      deeperBox.appendChild(box);
    });
  }

  function showOutputs(layer, pick, digit) {
    outputsBox.replaceChildren();
    const out = network.sizes.length - 1;
    const scale = Math.max(1e-12, ...layer.z.map(Math.abs));
    outputsBox.appendChild(el("div", "orow head")).append(el("span", "d", ""), el("span", "", "− z +"), el("span", "v", "z"), el("span", "v", "a"));
    layer.z.forEach((z, d) => {
      let cls = "orow";
      if (d === digit) cls += " top";
      if (pick.layer === out && pick.neuron === d) cls += " picked";
      const row = el("div", cls);
      row.append(el("span", "d", d), signedBar(z, scale), el("span", "v", fmt(z, 2)), el("span", "v", layer.a[d].toFixed(3)));
      row.title = `output neuron ${d}: z = ${fmt(z, 3)}, a = σ(z) = ${layer.a[d].toFixed(3)}; click to see what pushes it`;
      pickable(row, out, d, `output neuron ${d}`);
      outputsBox.appendChild(row);
    });
  }

  function showWhy(result) {
    const p = result.pick;
    const out = network.sizes.length - 1;
    const name = p.layer === out ? `output neuron ${p.neuron}` : `neuron #${p.neuron} of hidden layer ${p.layer}`;
    $("why-title").textContent = `Which pixels push ${name} up or down`;
    const push = $("why-push");
    paintSigned(push, p.contributions);
    const weights = p.layer === 1 ? network.first_layer[p.neuron] : p.weights;
    paintSigned($("why-weights"), weights);
    const total = p.contributions.reduce((s, v) => s + v, 0);
    const zs = `z = ${fmt(p.z, 2)}, a = σ(z) = ${p.a.toFixed(3)}`;
    let text;
    if (p.exact) {
      $("why-weights-caption").textContent = "its weights";
      text =
        `z = Σ wᵢxᵢ + b: each pixel adds its weight times its ink. Red pixels push z up, blue pull it down; ` +
        `blank paper adds nothing. Here the pixels add ${fmt(total, 2)} and the bias ${fmt(p.bias, 2)}: ${zs}.`;
    } else {
      $("why-weights-caption").textContent = "its effective weights";
      text =
        `This neuron sees your pixels only through the layers before it. To share out its z among them, your ` +
        `drawing fades in from blank paper and each pixel is credited with its ink times how strongly z ` +
        `responded to it along the way (integrated gradients; those average responses are the effective ` +
        `weights on the right). Red pushes z up, blue down. The pushes add up to ${fmt(total, 2)}: ` +
        `from z = ${fmt(p.z_blank, 2)} on blank paper to ${zs}.`;
    }
    if (p.layer === out && p.neuron === result.digit) text += " It is the network's answer.";
    $("why-text").textContent = text;
    push.title = text;
  }

  function clear() {
    last = null;
    tiles.forEach((t, j) => {
      t.fill.style.width = "0";
      t.caption.textContent = `#${j}`;
      t.tile.style.order = j;
      t.tile.classList.remove("active", "picked");
    });
    deeperBox.replaceChildren();
    outputsBox.replaceChildren(el("p", "caption small", "Draw a digit to see each output neuron's z and a."));
    $("why-title").textContent = "Why?";
    $("why-text").textContent = "Draw a digit to see which of its pixels push each neuron.";
    for (const id of ["why-push", "why-weights"]) {
      const c = $(id);
      c.getContext("2d").clearRect(0, 0, c.width, c.height);
    }
  }

  sorted.addEventListener("change", () => last && show(last));
  return { setNetwork, show, clear };
}
