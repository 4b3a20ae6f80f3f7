// The colour map of the weight pictures: blue below zero, white at zero, red
// above, as in nndl's plots (matplotlib's RdBu reversed). One 256-entry table
// for the bytes the server sends: byte 128 is 0, bytes 1 and 255 are -scale and +scale.

const ANCHORS = [
  [-1, [5, 48, 97]],
  [-0.5, [67, 147, 195]],
  [0, [247, 247, 247]],
  [0.5, [214, 96, 77]],
  [1, [103, 0, 31]],
];

// The colour of v in [-1, 1].
export function diverging(v) {
  v = Math.max(-1, Math.min(1, v));
  for (let i = 1; i < ANCHORS.length; i++) {
    const [x1, c1] = ANCHORS[i];
    if (v <= x1) {
      const [x0, c0] = ANCHORS[i - 1];
      const t = (v - x0) / (x1 - x0);
      return c0.map((c, k) => Math.round(c + t * (c1[k] - c)));
    }
  }
  return ANCHORS[ANCHORS.length - 1][1];
}

// byte -> [r, g, b]
export const BYTE_COLOURS = Array.from({ length: 256 }, (_, b) => diverging((b - 128) / 127));
