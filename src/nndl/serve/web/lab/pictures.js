// Grey pictures sent as base64 PNG strips (one square image under another),
// decoded into their pixel bytes.

// The bytes of a strip of square images of side `side`: {side, count, pixels (Uint8Array, one byte a pixel)}.
export async function decodeStrip(png, side) {
  const image = new Image();
  image.src = `data:image/png;base64,${png}`;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(image, 0, 0);
  const rgba = ctx.getImageData(0, 0, image.width, image.height).data;
  const pixels = new Uint8Array(image.width * image.height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rgba[4 * i];
  return { side, count: Math.round(image.height / side), pixels };
}

// Canvas pixels sized for the screen; returns the 2-D context scaled to CSS pixels.
export function fit(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

// Image k of a decoded strip as a small canvas, each byte mapped to a colour by `colour(byte)`.
export function tile(strip, k, colour) {
  const { side, pixels } = strip;
  const canvas = document.createElement("canvas");
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(side, side);
  const offset = k * side * side;
  for (let i = 0; i < side * side; i++) {
    const [r, g, b] = colour(pixels[offset + i]);
    image.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}
