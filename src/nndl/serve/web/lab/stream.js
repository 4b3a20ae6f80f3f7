// A run's events, through the browser's EventSource: first a snapshot of
// everything so far, then progress, frame, epoch and state events. The stream
// is closed once the run has ended (the browser would otherwise reconnect).

const ENDED = ["finished", "stopped", "failed"];

// handlers: {snapshot, progress, frame, epoch, state, connection}; returns a function that closes the stream.
export function watch(id, handlers) {
  const source = new EventSource(`api/runs/${id}/events`);
  const on = (kind) => (event) => {
    const data = JSON.parse(event.data);
    handlers[kind](data);
    if ((kind === "state" || kind === "snapshot") && ENDED.includes(data.state)) source.close();
  };
  for (const kind of ["snapshot", "progress", "frame", "epoch", "state"]) source.addEventListener(kind, on(kind));
  source.addEventListener("open", () => handlers.connection(true));
  source.addEventListener("error", () => source.readyState !== EventSource.CLOSED && handlers.connection(false));
  return () => source.close();
}
