// The settings form: filled from the server's defaults and presets, read
// back as the JSON body of POST /api/runs (keys named as nndl train's flags).

const form = document.getElementById("settings");
const field = form.elements;

// Fill the form with `defaults` overridden by `settings`.
export function fill(defaults, settings = {}) {
  const s = { ...defaults, ...settings };
  field.layers.value = s.sizes.slice(1, -1).join(" ");
  field.epochs.value = s.epochs;
  field.batch_size.value = s.batch_size;
  field.eta.value = s.eta;
  field.seed.value = s.seed;
  field.dtype.value = s.dtype;
  field.engine.value = s.engine;
  field.init.value = s.init;
}

function number(name, text) {
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v)) throw new Error(`${name} must be a number, got "${text}"`);
  return v;
}

// The body for POST /api/runs. The server checks the values; here only what is not a number is caught.
export function read() {
  const words = field.layers.value.trim().split(/[\s,]+/).filter(Boolean);
  const hidden = words.map((w) => number("each hidden layer size", w));
  return {
    sizes: [784, ...hidden, 10],
    epochs: number("epochs", field.epochs.value),
    batch_size: number("mini-batch size", field.batch_size.value),
    eta: number("η", field.eta.value),
    seed: number("seed", field.seed.value),
    dtype: field.dtype.value,
    engine: field.engine.value,
    init: field.init.value,
    paused: field.paused.checked,
  };
}

export function presets(box, list, defaults, onPick) {
  box.replaceChildren(
    ...list.map((p) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "preset";
      b.textContent = p.name;
      b.addEventListener("click", () => {
        fill(defaults, p.settings);
        onPick(p);
      });
      return b;
    }),
  );
}
