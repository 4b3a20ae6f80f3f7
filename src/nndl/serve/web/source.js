// Which network the draw page reads with: the model nndl serve started with,
// or a run of the training lab sent here from the lab's page.

import { call } from "./api.js";

const box = document.getElementById("source");
call("api/network/source")
  .then((source) => {
    if (source.run === null || source.run === undefined) return;
    box.textContent = `Reading with ${source.label}.`;
    box.hidden = false;
  })
  .catch((e) => {
    box.textContent = `Which network the page reads with is not known: ${e.message}`;
    box.classList.add("error");
    box.hidden = false;
  });
