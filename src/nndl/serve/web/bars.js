// Bar charts built from divs: one row per item, a value from 0 to 1, or a
// signed value drawn from a centre line.

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Ten rows "digit | bar | value", built once; update with set(values, top).
export function scoreBars(box) {
  const rows = [];
  for (let d = 0; d < 10; d++) {
    const track = el("div", "track");
    const fill = el("div", "fill");
    track.appendChild(fill);
    const value = el("span", "v", "–");
    box.append(el("span", "d", d), track, value);
    rows.push({ track, fill, value });
  }
  return {
    set(values, top) {
      values.forEach((s, d) => {
        rows[d].fill.style.width = `${Math.round(100 * s)}%`;
        rows[d].value.textContent = s.toFixed(3);
        rows[d].track.classList.toggle("top", d === top);
      });
    },
    clear() {
      for (const row of rows) {
        row.fill.style.width = "0";
        row.value.textContent = "–";
        row.track.classList.remove("top");
      }
    },
  };
}

// A bar from the centre, right (red) for positive values and left (blue)
// for negative, scaled so `scale` fills half the track.
export function signedBar(value, scale) {
  const track = el("div", "strack");
  const fill = el("div", value >= 0 ? "sfill up" : "sfill down");
  const half = Math.min(50, (50 * Math.abs(value)) / (scale || 1));
  fill.style.width = `${half}%`;
  fill.style.left = value >= 0 ? "50%" : `${50 - half}%`;
  track.appendChild(fill);
  return track;
}

// Rows "label | signed bar | value" for each value.
export function signedRows(box, values, { labels, digits = 3, highlight = -1, onClick } = {}) {
  box.replaceChildren();
  const scale = Math.max(1e-12, ...values.map(Math.abs));
  values.forEach((v, i) => {
    const row = el("div", i === highlight ? "srow mark" : "srow");
    row.append(el("span", "d", labels ? labels[i] : i), signedBar(v, scale), el("span", "v", fmt(v, digits)));
    if (onClick) {
      row.classList.add("pickable");
      row.tabIndex = 0;
      row.addEventListener("click", () => onClick(i));
      row.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && onClick(i));
    }
    box.appendChild(row);
  });
  return scale;
}

// A compact strip of vertical signed bars, one per neuron, numbered below.
export function signedColumns(box, values, { title } = {}) {
  box.replaceChildren();
  const scale = Math.max(1e-12, ...values.map(Math.abs));
  const strip = el("div", "columns");
  values.forEach((v, i) => {
    const col = el("div", "col");
    col.title = `${title || "neuron"} ${i}: ${fmt(v, 4)}`;
    const bar = el("div", v >= 0 ? "cfill up" : "cfill down");
    const half = Math.min(50, (50 * Math.abs(v)) / scale);
    bar.style.height = `${half}%`;
    bar.style.top = v >= 0 ? `${50 - half}%` : "50%";
    col.append(bar, el("span", "n", i));
    strip.appendChild(col);
  });
  box.append(strip, el("p", "scale", `bars up: positive, down: negative; the tallest is ${fmt(scale, 4)}`));
}

const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };

// A number for people: fixed digits, or three significant ones times a
// power of ten when it is small (4.90·10⁻⁵).
export function fmt(v, digits = 3) {
  if (Math.abs(v) >= 0.01 || v === 0) return v.toFixed(digits).replace("-", "−");
  const [mantissa, power] = v.toExponential(2).split("e");
  const exponent = [...String(Number(power))].map((c) => SUPERSCRIPT[c]).join("");
  return `${mantissa.replace("-", "−")}·10${exponent}`;
}

export { el };
