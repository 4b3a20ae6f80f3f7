// A line chart on a canvas: labelled axes with round-number ticks, any number
// of series (lines, dots or both), an optional vertical marker. The plot area
// never moves: the x range is set by the caller and the y range only grows to
// fit, so the chart does not jump as points arrive.

import { fit } from "./pictures.js";

const FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const INK = "#1d2230";
const MUTED = "#5b6272";
const GRID = "#e6e8ee";
const MARGIN = { left: 58, right: 14, top: 12, bottom: 42 };

// A light grid line from (x0, y0) to (x1, y1); leaves the fill ready for its tick label.
function gridLine(ctx, x0, y0, x1, y1) {
  ctx.strokeStyle = GRID;
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
  ctx.fillStyle = MUTED;
}

// Round tick values from lo to hi, about n of them.
function linearTicks(lo, hi, n) {
  const raw = (hi - lo) / Math.max(1, n);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(+t.toFixed(10));
  return ticks;
}

// 1-2-5 ticks on a log scale from lo to hi (powers of ten alone over more than three decades).
function logTicks(lo, hi) {
  const ticks = [];
  const steps = hi / lo > 1000 ? [1] : [1, 2, 5];
  for (let p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p++) {
    for (const m of steps) {
      const t = m * 10 ** p;
      if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t);
    }
  }
  return ticks;
}

// The 1-2-5 value next below (down) or above v.
function logBound(v, down) {
  const power = 10 ** Math.floor(Math.log10(v));
  const steps = [1, 2, 5, 10].map((m) => m * power);
  return down ? steps.filter((s) => s <= v * 1.0001).pop() : steps.find((s) => s >= v * 0.9999);
}

function format(v) {
  if (v === 0) return "0";
  if (Math.abs(v) >= 1) return String(+v.toFixed(2));
  return String(+v.toPrecision(2));
}

export class LineChart {
  // options: xLabel, yLabel, log (y on a log scale), yMin/yMax (the smallest range shown),
  // yFloor/yCeil (never beyond), xMax (initial), yFormat (a y tick's label from its value).
  constructor(canvas, options) {
    this.canvas = canvas;
    this.options = options;
    this.series = [];
    this.marker = null;
    this.xMax = options.xMax || 1;
    this.resetY();
    this.pending = false;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  resetY() {
    this.yLo = this.options.yMin;
    this.yHi = this.options.yMax;
  }

  // series: [{points: [[x, y], ...], color, width, dots, dash, alpha}]
  set(series, xMax) {
    this.series = series;
    if (xMax) this.xMax = xMax;
    for (const s of series) {
      for (const [, y] of s.points) {
        if (!(y > (this.options.log ? 0 : -Infinity))) continue;
        this.yLo = Math.min(this.yLo, y);
        this.yHi = Math.max(this.yHi, y);
      }
    }
    if (this.options.yFloor !== undefined) this.yLo = Math.max(this.yLo, this.options.yFloor);
    if (this.options.yCeil !== undefined) this.yHi = Math.min(this.yHi, this.options.yCeil);
    this.redraw();
  }

  setMarker(x) {
    this.marker = x;
    this.redraw();
  }

  // Draw at the next animation frame, once however many updates come before it.
  redraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  range() {
    const o = this.options;
    if (o.log) return { lo: logBound(this.yLo, true), hi: logBound(this.yHi, false) };
    const pad = (this.yHi - this.yLo) * 0.04;
    const ticks = linearTicks(this.yLo - pad, this.yHi + pad, 5);
    const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
    let lo = Math.floor((this.yLo - pad) / step) * step;
    let hi = Math.ceil((this.yHi + pad) / step) * step;
    if (o.yFloor !== undefined) lo = Math.max(lo, o.yFloor);
    if (o.yCeil !== undefined) hi = Math.min(hi, o.yCeil);
    return { lo, hi };
  }

  draw() {
    if (!this.canvas.clientWidth || !this.canvas.clientHeight) return; // not laid out yet
    const { ctx, w: width, h: height } = fit(this.canvas);
    const o = this.options;
    const left = MARGIN.left;
    const right = width - MARGIN.right;
    const top = MARGIN.top;
    const bottom = height - MARGIN.bottom;
    const { lo, hi } = this.range();
    const xOf = (x) => left + (x / this.xMax) * (right - left);
    const yOf = o.log
      ? (y) => bottom - ((Math.log(y) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * (bottom - top)
      : (y) => bottom - ((y - lo) / (hi - lo)) * (bottom - top);

    ctx.font = FONT;
    ctx.lineWidth = 1;
    // grid and y ticks
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const yTicks = o.log ? logTicks(lo, hi) : linearTicks(lo, hi, 5);
    for (const t of yTicks) {
      const y = Math.round(yOf(t)) + 0.5;
      gridLine(ctx, left, y, right, y);
      ctx.fillText((o.yFormat || format)(t), left - 6, y);
    }
    // x ticks: whole epochs
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const xTicks = linearTicks(0, this.xMax, Math.min(10, this.xMax)).filter((t) => Number.isInteger(t));
    for (const t of xTicks) {
      const x = Math.round(xOf(t)) + 0.5;
      gridLine(ctx, x, top, x, bottom);
      ctx.fillText(String(t), x, bottom + 5);
    }
    // axes
    ctx.strokeStyle = MUTED;
    ctx.beginPath();
    ctx.moveTo(left + 0.5, top);
    ctx.lineTo(left + 0.5, bottom + 0.5);
    ctx.lineTo(right, bottom + 0.5);
    ctx.stroke();
    // axis labels
    ctx.fillStyle = INK;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(o.xLabel, (left + right) / 2, height - 4);
    ctx.save();
    ctx.translate(14, (top + bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(o.yLabel, 0, 0);
    ctx.restore();

    // the series, clipped to the plot area
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top - 4, right - left + 4, bottom - top + 8);
    ctx.clip();
    for (const s of this.series) {
      const pts = s.points.filter(([, y]) => y > (o.log ? 0 : -Infinity));
      ctx.globalAlpha = s.alpha ?? 1;
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.lineWidth = s.width || 2;
      ctx.setLineDash(s.dash || []);
      if (s.line !== false && pts.length > 1) {
        ctx.beginPath();
        pts.forEach(([x, y], i) => (i ? ctx.lineTo(xOf(x), yOf(y)) : ctx.moveTo(xOf(x), yOf(y))));
        ctx.stroke();
      }
      ctx.setLineDash([]);
      if (s.dots) {
        for (const [x, y] of pts) {
          ctx.beginPath();
          ctx.arc(xOf(x), yOf(y), s.dots, 0, 2 * Math.PI);
          ctx.fill();
        }
      }
    }
    ctx.globalAlpha = 1;
    ctx.restore();
    // the moment the pictures below show
    if (this.marker !== null && this.marker !== undefined) {
      const x = Math.round(xOf(this.marker)) + 0.5;
      ctx.strokeStyle = "#8a5cf6";
      ctx.setLineDash([4, 3]);
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, bottom);
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }

  // What the chart shows, for tests: the number of points of each series.
  counts() {
    return this.series.map((s) => s.points.length);
  }
}
