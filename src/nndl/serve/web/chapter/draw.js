// Drawing for the chapter page's widgets: a canvas sized for the screen, a
// view mapping a region of the plane to pixels, and what the widgets draw in
// it (a cost as shades, paths, points, lines, curves, a small network).  No
// maths of the chapter here: the widgets pass in what perceptron.js and
// descent.js computed.  Adds `draw` to window.nndlChapter.
"use strict";
(function (chapter) {
  const INK = "#1d2230", MUTED = "#5b6272", ACCENT = "#2f6fdf", ONE = "#c83428", ZERO = "#235fcd";

  // the canvas's 2-D context, its backing store sized for the device's pixels; width, height in CSS pixels
  function context(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || Number(canvas.getAttribute("width"));
    const height = canvas.clientHeight || Number(canvas.getAttribute("height"));
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    return { ctx, width, height };
  }

  // a view of [x0, x1] x [y0, y1] in a canvas of width x height, with a margin (y upwards)
  function view({ ctx, width, height }, [x0, x1], [y0, y1], margin = 28) {
    const sx = (width - 2 * margin) / (x1 - x0), sy = (height - 2 * margin) / (y1 - y0);
    return {
      ctx, width, height, margin, x: [x0, x1], y: [y0, y1],
      px: (x) => margin + (x - x0) * sx,
      py: (y) => height - margin - (y - y0) * sy,
      fromPx: (px, py) => [x0 + (px - margin) / sx, y0 + (height - margin - py) / sy],
    };
  }

  // the cost f over the view as shades, light in the valley and darker up its sides, with level lines
  function shades(v, f, levels) {
    const { ctx, margin, width, height } = v, cell = 4;
    for (let px = margin; px < width - margin; px += cell) {
      for (let py = margin; py < height - margin; py += cell) {
        const value = f(v.fromPx(px + cell / 2, py + cell / 2));
        const k = levels.findIndex((level) => value < level);
        const t = (k === -1 ? levels.length : k) / levels.length;
        ctx.fillStyle = `hsl(220, 45%, ${96 - 38 * t}%)`;
        ctx.fillRect(px, py, cell, cell);
      }
    }
    frame(v);
  }

  function frame(v, labels = ["v₁", "v₂"]) {
    const { ctx, margin, width, height } = v;
    ctx.strokeStyle = "#c4c9d4";
    ctx.lineWidth = 1;
    ctx.strokeRect(margin, margin, width - 2 * margin, height - 2 * margin);
    ctx.fillStyle = MUTED;
    ctx.font = "12px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.fillText(`${v.x[0]}`, margin, height - margin + 14);
    ctx.fillText(`${v.x[1]}`, width - margin, height - margin + 14);
    ctx.fillText(labels[0], width / 2, height - margin + 16);
    ctx.textAlign = "right";
    ctx.fillText(`${v.y[0]}`, margin - 4, height - margin);
    ctx.fillText(`${v.y[1]}`, margin - 4, margin + 10);
    ctx.textAlign = "left";
    ctx.fillText(labels[1], margin + 2, margin - 6);
  }

  // keep drawing inside the frame
  function clip(v, draw) {
    const { ctx, margin, width, height } = v;
    ctx.save();
    ctx.beginPath();
    ctx.rect(margin, margin, width - 2 * margin, height - 2 * margin);
    ctx.clip();
    draw();
    ctx.restore();
  }

  // a path of points [x, y], with a dot at each point and a bigger one at its end
  function path(v, points, colour = ACCENT, { dots = true, width = 2 } = {}) {
    const { ctx } = v;
    clip(v, () => {
      ctx.strokeStyle = colour;
      ctx.fillStyle = colour;
      ctx.lineWidth = width;
      ctx.beginPath();
      points.forEach(([x, y], i) => (i ? ctx.lineTo(v.px(x), v.py(y)) : ctx.moveTo(v.px(x), v.py(y))));
      ctx.stroke();
      if (dots) points.forEach(([x, y]) => disc(ctx, v.px(x), v.py(y), 2.5));
      const [x, y] = points[points.length - 1];
      disc(ctx, v.px(x), v.py(y), 6);
      ctx.strokeStyle = "white";
      ctx.lineWidth = 1.5;
      ctx.stroke();
    });
  }

  function disc(ctx, x, y, r) {
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fill();
  }

  // labelled points: class 1 red discs, class 0 blue rings; `ringed` marks one of them
  function points(v, xs, labels, ringed = -1) {
    const { ctx } = v;
    xs.forEach(([x, y], i) => {
      const cx = v.px(x), cy = v.py(y);
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = labels[i] ? ONE : ZERO;
      ctx.fillStyle = labels[i] ? ONE : "white";
      ctx.beginPath();
      ctx.arc(cx, cy, 6, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
      if (i === ringed) {
        ctx.strokeStyle = INK;
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.arc(cx, cy, 11, 0, 2 * Math.PI);
        ctx.stroke();
      }
    });
  }

  // the half-plane w . x + b > 0 tinted, and its edge w . x + b = 0 drawn
  function halfPlane(v, [w1, w2], b) {
    const { ctx } = v;
    clip(v, () => {
      const cell = 6;
      for (let px = v.margin; px < v.width - v.margin; px += cell) {
        for (let py = v.margin; py < v.height - v.margin; py += cell) {
          const [x, y] = v.fromPx(px + cell / 2, py + cell / 2);
          ctx.fillStyle = w1 * x + w2 * y + b > 0 ? "rgba(200, 52, 40, .10)" : "rgba(35, 95, 205, .07)";
          ctx.fillRect(px, py, cell, cell);
        }
      }
      if (w2 === 0 && w1 === 0) return;
      // two far points of the line
      const ends = Math.abs(w2) >= Math.abs(w1)
        ? [-1, 2].map((x) => [x, -(w1 * x + b) / w2])
        : [-1, 2].map((y) => [-(w2 * y + b) / w1, y]);
      ctx.strokeStyle = INK;
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(v.px(ends[0][0]), v.py(ends[0][1]));
      ctx.lineTo(v.px(ends[1][0]), v.py(ends[1][1]));
      ctx.stroke();
      ctx.setLineDash([]);
    });
    frame(v, ["x₁", "x₂"]);
  }

  // y = f(x) across the view, as a line
  function curve(v, f, colour = INK, width = 2) {
    const { ctx } = v;
    clip(v, () => {
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.beginPath();
      for (let px = v.margin; px <= v.width - v.margin; px += 1) {
        const x = v.fromPx(px, 0)[0];
        const y = v.py(f(x));
        px === v.margin ? ctx.moveTo(px, y) : ctx.lineTo(px, y);
      }
      ctx.stroke();
    });
  }

  // a line segment between two points of the plane, e.g. an axis or a tangent
  function segment(v, [xa, ya], [xb, yb], colour = MUTED, dash = []) {
    const { ctx } = v;
    clip(v, () => {
      ctx.strokeStyle = colour;
      ctx.lineWidth = 1.5;
      ctx.setLineDash(dash);
      ctx.beginPath();
      ctx.moveTo(v.px(xa), v.py(ya));
      ctx.lineTo(v.px(xb), v.py(yb));
      ctx.stroke();
      ctx.setLineDash([]);
    });
  }

  // an arrow from one point of the plane to another
  function arrow(v, [xa, ya], [xb, yb], colour = INK) {
    const { ctx } = v;
    const x0 = v.px(xa), y0 = v.py(ya), x1 = v.px(xb), y1 = v.py(yb);
    const angle = Math.atan2(y1 - y0, x1 - x0), head = 6;
    clip(v, () => {
      ctx.strokeStyle = colour;
      ctx.fillStyle = colour;
      ctx.lineWidth = 1.2;
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.stroke();
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x1 - head * Math.cos(angle - 0.4), y1 - head * Math.sin(angle - 0.4));
      ctx.lineTo(x1 - head * Math.cos(angle + 0.4), y1 - head * Math.sin(angle + 0.4));
      ctx.fill();
    });
  }

  function dot(v, [x, y], colour = ACCENT, r = 6) {
    v.ctx.fillStyle = colour;
    clip(v, () => disc(v.ctx, v.px(x), v.py(y), r));
  }

  // a small network: nodes {id, x, y, label, value (0..1 or null), caption}, edges [from, to, label];
  // x, y are fractions of the canvas; a node's fill shows its value, from white (0) to red (1)
  function network({ ctx, width, height }, nodes, edges) {
    const at = Object.fromEntries(nodes.map((n) => [n.id, [n.x * width, n.y * height]]));
    const r = Math.min(22, height / 9);
    ctx.font = "12px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (const [from, to, label, strength] of edges) {
      const [xa, ya] = at[from], [xb, yb] = at[to];
      ctx.strokeStyle = strength === undefined ? "#9aa2b1" : strength < 0 ? ZERO : ONE;
      ctx.lineWidth = strength === undefined ? 1.5 : Math.min(1 + Math.abs(strength), 7);
      ctx.beginPath();
      ctx.moveTo(xa, ya);
      ctx.lineTo(xb, yb);
      ctx.stroke();
      if (label !== undefined) {
        const t = 0.4, lx = xa + t * (xb - xa), ly = ya + t * (yb - ya);
        ctx.fillStyle = "rgba(255, 255, 255, .9)";
        ctx.fillRect(lx - 14, ly - 8, 28, 16);
        ctx.fillStyle = INK;
        ctx.fillText(label, lx, ly);
      }
    }
    for (const n of nodes) {
      const [x, y] = at[n.id];
      const value = n.value === null || n.value === undefined ? null : Math.max(0, Math.min(1, n.value));
      ctx.fillStyle = value === null ? "#f1f2f5" : `rgb(${255 - 55 * value}, ${255 - 203 * value}, ${255 - 215 * value})`;
      ctx.strokeStyle = INK;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
      ctx.fillStyle = value !== null && value > 0.55 ? "white" : INK;
      ctx.font = "600 13px system-ui, sans-serif";
      ctx.fillText(n.label, x, y);
      if (n.caption) {
        ctx.fillStyle = MUTED;
        ctx.font = "12px system-ui, sans-serif";
        ctx.fillText(n.caption, x, y + r + 10);
      }
    }
    ctx.textBaseline = "alphabetic";
  }

  chapter.draw = { INK, MUTED, ACCENT, ONE, ZERO, context, view, shades, frame, path, points, halfPlane, curve,
    segment, arrow, dot, network };
})(window.nndlChapter = window.nndlChapter || {});
