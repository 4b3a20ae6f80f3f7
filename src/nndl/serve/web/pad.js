// The drawing pad: strokes of a round pen on a canvas.  `onChange` hears
// as a stroke moves and when it ends; the pad hands out its picture as a PNG.

// The pen is about as thick, relative to the digit, as MNIST's strokes.
const PEN = 20;
const PAPER = "#fbfaf7";
const INK = "#1d2230";

export function createPad(canvas, onChange) {
  const ctx = canvas.getContext("2d");
  let drawing = false;
  let last = null;

  function blank() {
    ctx.fillStyle = PAPER;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }

  function point(event) {
    const r = canvas.getBoundingClientRect();
    return { x: ((event.clientX - r.left) * canvas.width) / r.width, y: ((event.clientY - r.top) * canvas.height) / r.height };
  }

  function line(a, b) {
    ctx.strokeStyle = INK;
    ctx.lineWidth = PEN;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
  }

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    try {
      canvas.setPointerCapture(event.pointerId); // keep the stroke when it leaves the pad
    } catch (e) {
      // a pointer the browser no longer tracks: draw without capture
    }
    drawing = true;
    last = point(event);
    line(last, last); // a dot, sent with the stroke's first move or its end
  });

  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const p = point(event);
    line(last, p);
    last = p;
    onChange();
  });

  function stop() {
    if (!drawing) return;
    drawing = false;
    onChange();
  }
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);

  blank();
  return {
    clear: blank,
    png: () => new Promise((resolve) => canvas.toBlob(resolve, "image/png")),
  };
}
