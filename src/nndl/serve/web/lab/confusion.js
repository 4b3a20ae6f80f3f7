// The confusion matrix: row = the true digit, column = the network's answer;
// each cell holds its count. The diagonal (right answers) is shaded blue by
// the share of its row; mistakes are shaded orange, darker for more.

import { fit } from "./pictures.js";

const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

export function drawConfusion(canvas, counts) {
  const { ctx, w, h } = fit(canvas);
  const n = counts.length;
  const left = 40;
  const top = 34;
  const cell = Math.floor(Math.min((w - left - 4) / n, (h - top - 4) / n));
  const rowTotals = counts.map((row) => row.reduce((a, b) => a + b, 0));
  let worst = 1;
  counts.forEach((row, i) => row.forEach((c, j) => i !== j && (worst = Math.max(worst, c))));
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const c = counts[i][j];
      const x = left + j * cell;
      const y = top + i * cell;
      let fill = "#f6f7f9";
      let ink = "#9aa0ab";
      if (i === j) {
        const share = rowTotals[i] ? c / rowTotals[i] : 0;
        fill = `rgba(47, 111, 223, ${0.15 + 0.75 * share})`;
        ink = share > 0.55 ? "white" : "#1d2230";
      } else if (c > 0) {
        const t = Math.sqrt(c / worst);
        fill = `rgba(230, 120, 20, ${0.12 + 0.78 * t})`;
        ink = t > 0.6 ? "white" : "#1d2230";
      }
      ctx.fillStyle = fill;
      ctx.fillRect(x + 1, y + 1, cell - 2, cell - 2);
      ctx.fillStyle = ink;
      ctx.font = `${c >= 1000 ? 9 : 10.5}px ${FONT}`;
      ctx.fillText(String(c), x + cell / 2, y + cell / 2 + 0.5);
    }
  }
  // digit labels and axis names
  ctx.fillStyle = "#1d2230";
  ctx.font = `bold 12px ${FONT}`;
  for (let d = 0; d < n; d++) {
    ctx.fillText(String(d), left + d * cell + cell / 2, top - 9);
    ctx.fillText(String(d), left - 9, top + d * cell + cell / 2);
  }
  ctx.font = `12px ${FONT}`;
  ctx.fillStyle = "#5b6272";
  ctx.fillText("the network's answer →", left + (n * cell) / 2, 9);
  ctx.save();
  ctx.translate(10, top + (n * cell) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText("true digit →", 0, 0);
  ctx.restore();
  const right = counts.reduce((a, row, i) => a + row[i], 0);
  const total = rowTotals.reduce((a, b) => a + b, 0);
  canvas.dataset.correct = String(right);
  return { right, total };
}
