"""notebooks/chapter1.ipynb runs top to bottom and shows its pictures."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "chapter1.ipynb"


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow
@pytest.mark.pytensor
def test_chapter1_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    # the kernel is the interpreter running the tests, whatever kernels the
    # machine has installed, so it sees this installation of nndl
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    run = tmp_path / "run"
    run.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(run)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 8  # step/sigmoid, digits, curves, weights, confusion, mistakes, rates, engines
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stdout")
    epochs = re.findall(r"^Epoch (\d+): (\d+) / 10000 ", text, re.M)
    assert [int(e) for e, _ in epochs] == list(range(10)) + list(range(3))  # NumPy, then PyTensor
    assert int(epochs[9][1]) > 9300 and int(epochs[-1][1]) > 9000  # the chapter's run: about 95 %
    assert "NAND(1, 1) = 0" in text
    # the live figure of the chapter's run: drawn once, redrawn in place after each epoch (one picture, not ten)
    (live,) = [c for c in nb.cells if c.cell_type == "code" and "plots.live(" in c.source]
    assert len([o for o in live.outputs if "image/png" in o.get("data", {})]) == 1
    assert list(run.iterdir()) == []  # the notebook writes no files
