// "How far does its reading stretch?": the network's accuracy on 1,000 test
// digits as they are shifted, rotated, thinned or thickened and noised (GET
// /api/robustness, the curves `nndl plot robustness` draws), one small chart
// per distortion, the network as it is now; measured again on request.

const NS = "http://www.w3.org/2000/svg";
const W = 200;
const H = 150;
const M = { left: 34, right: 8, top: 8, bottom: 30 };

function svg(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// Where each point of a curve lies in a W x H chart: x spans the amounts, y 0-100 %.
export function place(amounts, accuracies) {
  const lo = Math.min(...amounts);
  const hi = Math.max(...amounts);
  const x = (a) => M.left + ((a - lo) / (hi - lo || 1)) * (W - M.left - M.right);
  const y = (p) => H - M.bottom - p * (H - M.top - M.bottom);
  return amounts.map((a, k) => [x(a), y(accuracies[k])]);
}

function chart(curve) {
  const box = document.createElement("figure");
  box.className = "robust";
  box.dataset.distortion = curve.distortion;
  box.dataset.accuracies = JSON.stringify(curve.accuracies);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" });
  for (const p of [0, 0.5, 1]) {
    const [[, y]] = place([0, 1], [p, p]);
    s.append(svg("line", { x1: M.left, x2: W - M.right, y1: y, y2: y, class: "grid" }));
    s.append(svg("text", { x: M.left - 4, y: y + 4, class: "tick end" }, `${100 * p}`));
  }
  const points = place(curve.amounts, curve.accuracies);
  const ends = [curve.amounts[0], curve.amounts[curve.amounts.length - 1]];
  points.forEach(([x], k) => {
    if (k === 0 || k === points.length - 1 || curve.amounts[k] === 0)
      s.append(svg("text", { x, y: H - M.bottom + 14, class: "tick mid" }, String(curve.amounts[k])));
  });
  s.append(svg("polyline", { points: points.map((p) => p.join(",")).join(" "), class: "curve" }));
  points.forEach(([x, y], k) => {
    const dot = svg("circle", { cx: x, cy: y, r: 3, class: "dot" });
    dot.append(svg("title", {}, `${curve.distortion} ${curve.amounts[k]}: ${(100 * curve.accuracies[k]).toFixed(1)} % right`));
    s.append(dot);
  });
  s.append(svg("text", { x: (M.left + W - M.right) / 2, y: H - 4, class: "tick mid" }, curve.unit));
  s.setAttribute("aria-label", `accuracy from ${ends[0]} to ${ends[1]} ${curve.unit} of ${curve.distortion}`);
  const caption = document.createElement("figcaption");
  const worst = curve.accuracies[curve.accuracies.length - 1];
  caption.textContent = `${curve.distortion}: ${(100 * worst).toFixed(1)} % right at ${ends[1]}`;
  box.append(caption, s);
  return box;
}

export function showRobustness(box, answer) {
  box.replaceChildren(...answer.curves.map(chart));
  box.dataset.version = String(answer.version);
}
