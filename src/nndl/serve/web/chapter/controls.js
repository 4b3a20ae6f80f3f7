// The widgets' controls and readouts, as DOM elements: sliders, bits to
// click, buttons, and numbers shown with their full value kept in
// data-value (what the tests compare with Python).  Adds `controls` to
// window.nndlChapter.
"use strict";
(function (chapter) {
  // an element with attributes (on* keys are listeners; style an object of CSS properties,
  // set through the DOM so a Content-Security-Policy without inline styles allows it) and
  // children (strings or nodes)
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "style") Object.assign(node.style, value);
      else if (key === "html") node.innerHTML = value;
      else node.setAttribute(key, value);
    }
    node.append(...children);
    return node;
  }

  // a number as the page shows it: `digits` decimals, a true minus sign
  const format = (x, digits = 3) =>
    Number.isFinite(x) ? x.toFixed(digits).replace(/^-(?=.*[1-9])/, "−").replace(/^-/, "") : String(x);

  // a labelled slider; `onChange(value)` on every move; returns {node, input, set(value)}
  function slider(name, label, { min, max, step, value, digits = 2 }, onChange) {
    const shown = el("output", { class: "w-value" }, format(value, digits));
    const input = el("input", { type: "range", name, min, max, step, value: String(value), "aria-label": label.replace(/<[^>]+>/g, "") });
    input.addEventListener("input", () => {
      shown.textContent = format(Number(input.value), digits);
      onChange(Number(input.value));
    });
    const node = el("label", { class: "w-slider" }, el("span", { class: "w-name", html: label }), input, shown);
    const set = (v) => {
      input.value = String(v);
      shown.textContent = format(Number(input.value), digits);
    };
    return { node, input, set };
  }

  // a bit to click: shows 0 or 1; `onFlip()` when clicked
  function bit(name, label, onFlip) {
    const button = el("button", { type: "button", class: "w-bit", name, "aria-pressed": "false", onclick: onFlip });
    const node = el("span", { class: "w-bit-label" }, el("span", { html: label }), button);
    const set = (v) => {
      button.textContent = String(v);
      button.setAttribute("aria-pressed", String(v === 1));
    };
    return { node, button, set };
  }

  const button = (name, text, onClick, quiet = false) =>
    el("button", { type: "button", name, class: quiet ? "quiet" : "", onclick: onClick }, text);

  // a table of readouts: rows [[key, label]]; returns {node, set(key, value, digits)}
  function readout(rows) {
    const cells = {};
    const node = el("dl", { class: "w-readout" });
    for (const [key, label] of rows) {
      cells[key] = el("dd", { "data-key": key });
      node.append(el("dt", { html: label }), cells[key]);
    }
    const set = (key, value, digits = 3) => {
      const cell = cells[key];
      if (typeof value === "number") {
        cell.dataset.value = String(value);
        cell.textContent = format(value, digits);
      } else {
        delete cell.dataset.value;
        cell.textContent = value;
      }
    };
    return { node, set };
  }

  // a canvas of a given size in CSS pixels (it shrinks with a narrow screen)
  const canvas = (name, width, height, label) =>
    el("canvas", { class: "w-canvas", "data-name": name, width, height, style: { aspectRatio: `${width} / ${height}`, maxWidth: `${width}px` }, "aria-label": label });

  // the frame every widget shares: a formula line, a row of controls and pictures, and a caption
  function frame(root, { formula, caption }) {
    root.classList.add("nndl-widget");
    const body = el("div", { class: "w-body" });
    root.append(el("p", { class: "w-formula", html: formula }), body);
    if (caption) root.append(el("p", { class: "w-caption", html: caption }));
    return body;
  }

  chapter.controls = { el, format, slider, bit, button, readout, canvas, frame };
})(window.nndlChapter = window.nndlChapter || {});
