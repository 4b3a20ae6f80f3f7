// A run's events, through the browser's EventSource: first a snapshot of
// everything so far, then progress, frame, epoch and state events. The stream
// is closed once the run has ended (the browser would otherwise reconnect).

const ENDED = ["finished", "stopped", "failed"];

// handlers: {snapshot, progress, frame, epoch, state, connection, problem}; returns a function that closes the stream.
// An event the page cannot read or show goes to problem(error), and the stream goes on.
export function watch(id, handlers) {
  const source = new EventSource(`api/runs/${id}/events`);
  const on = (kind) => (event) => {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch (e) {
      handlers.problem(new Error(`the server sent a ${kind} event the page cannot read (${e.message})`));
      return;
    }
    try {
      handlers[kind](data);
    } catch (e) {
      handlers.problem(e);
    }
    if ((kind === "state" || kind === "snapshot") && ENDED.includes(data.state)) source.close();
  };
  for (const kind of ["snapshot", "progress", "frame", "epoch", "state"]) source.addEventListener(kind, on(kind));
  source.addEventListener("open", () => handlers.connection(true));
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      // the server answered the stream with an error: the browser gives up on it
      handlers.problem(new Error(`the server refused run ${id}'s events; reload the page to try again`));
    } else handlers.connection(false);
  });
  return () => source.close();
}
