"""``nndl bench`` runs end to end (its numbers are measured in benchmarks/, not here)."""

from __future__ import annotations

import re

from nndl.bench.run import flops_per_example
from nndl.cli import main


def test_flops_of_the_notebook_network():
    """784 -> 30 -> 10: about 96 kFLOP to train on one example."""
    forward = 2 * (784 * 30 + 30 * 10)
    assert flops_per_example([784, 30, 10]) == 2 * forward + 2 * 30 * 10


def test_quick_bench_writes_a_table(tmp_path, capsys):
    out = tmp_path / "bench.md"
    assert main(["bench", "--quick", "--only", "auto", "book", "jax", "--output", str(out)]) == 0
    text = out.read_text()
    assert "Written by `nndl bench --quick --only auto book jax --output" in text
    rows = [line for line in text.splitlines() if line.startswith("| nndl auto") or line.startswith("| book")]
    assert len(rows) == 3  # float64, float32 and the book's code
    for row in rows:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert float(cells[2]) > 0 and float(cells[8]) >= 0 and float(cells[9]) > 20  # s/epoch, load, MB
    jax = [line for line in text.splitlines() if line.startswith("| JAX")]
    assert len(jax) == 1 and (re.search(r"\| \d+\.\d+ \|", jax[0]) or "skipped: not installed (pip install" in jax[0])
    assert re.search(r"final accuracy \d+\.\d+ %, peak memory \d+ MB", text)
    assert "| 10 | 30 |" in text and "| 100 | 30 |" in text
    assert capsys.readouterr().out.startswith("## The notebook's configuration")


def test_an_unwritable_output_fails_at_once(tmp_path, capsys):
    assert main(["bench", "--quick", "--output", str(tmp_path / "missing" / "bench.md")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "folder" in err and "does not exist" in err
