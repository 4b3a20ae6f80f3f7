// Which network the draw page reads with: the model nndl serve started with,
// or a run of the training lab sent here from the lab's page.

const box = document.getElementById("source");
fetch("api/network/source")
  .then((answer) => answer.json())
  .then((source) => {
    if (source.run === null || source.run === undefined) return;
    box.textContent = `Reading with ${source.label}.`;
    box.hidden = false;
  })
  .catch(() => {});
