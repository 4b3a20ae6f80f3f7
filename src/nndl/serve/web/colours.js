// Pictures of 28 x 28 numbers on small canvases: grey for the input, and a
// colour map centred on zero for weights and pushes (red up, blue down).

const UP = [200, 52, 40];
const DOWN = [35, 95, 205];

// The colour of v in [-1, 1]: white at 0, full red at +1, full blue at -1.
export function signedColour(v) {
  const t = Math.min(1, Math.abs(v));
  const c = v >= 0 ? UP : DOWN;
  return [255 + t * (c[0] - 255), 255 + t * (c[1] - 255), 255 + t * (c[2] - 255)];
}

// Paint `values` (784 numbers) into `canvas` (28 x 28), white at 0, full red
// at +scale and full blue at -scale; scale defaults to the largest |value|.
export function paintSigned(canvas, values, scale) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(28, 28);
  const top = scale || Math.max(1e-12, ...values.map(Math.abs));
  values.forEach((v, i) => image.data.set([...signedColour(v / top), 255], 4 * i));
  ctx.putImageData(image, 0, 0);
  return top;
}

// Paint bytes (28 rows of 28, or 784) as grey, light on black as MNIST's.
export function paintGrey(canvas, rows) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(28, 28);
  rows.flat().forEach((v, i) => image.data.set([v, v, v, 255], 4 * i));
  ctx.putImageData(image, 0, 0);
}

export function tinyCanvas(className) {
  const canvas = document.createElement("canvas");
  canvas.width = 28;
  canvas.height = 28;
  if (className) canvas.className = className;
  return canvas;
}

// The 784 numbers of a 28 x 28 picture sent as 28 rows.
export function flat(rows) {
  return Array.isArray(rows[0]) ? rows.flat() : rows;
}
