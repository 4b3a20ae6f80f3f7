"""``nndl bench`` runs end to end (its numbers are measured in benchmarks/, not here)."""

from __future__ import annotations

import re
import sys

import pytest

from nndl.bench.jobs import flops_per_example
from nndl.bench.run import COMMAND, spawn
from nndl.cli import main


def test_flops_of_the_notebook_network():
    """784 -> 30 -> 10: about 96 kFLOP to train on one example."""
    forward = 2 * (784 * 30 + 30 * 10)
    assert flops_per_example([784, 30, 10]) == 2 * forward + 2 * 30 * 10


def test_a_spawned_process_is_timed_and_what_it_printed_kept():
    done = spawn([sys.executable, "-c", "import time; time.sleep(0.2); print('slept')"], timeout=60)
    assert done["status"] == 0 and done["out"] == "slept\n" and done["wall"] >= 0.2
    failed = spawn([sys.executable, "-c", "import sys; sys.exit('no luck')"], timeout=60)
    assert failed["status"] == 1 and failed["err"] == "no luck\n"


def test_the_command_reports_its_own_peak_memory():
    """The peak is the command's own, however large the process that starts
    it: a run holding 300 MB reports about that, one holding nothing far less
    (the kernel's ru_maxrss of a child would count this test process too)."""
    ballast = bytearray(400 * 2**20)  # this process is large
    ballast[::4096] = b"x" * len(ballast[::4096])
    big = spawn(
        [
            sys.executable,
            "-c",
            COMMAND.replace("runpy.run_module", "b = bytearray(300 * 2**20); runpy.run_module"),
            "--version",
        ],
        timeout=60,
    )
    small = spawn([sys.executable, "-c", COMMAND, "--version"], timeout=60)
    peaks = [float(run["err"].rsplit("peak MB: ", 1)[1]) for run in (big, small)]
    assert big["out"].startswith("nndl ") and small["out"].startswith("nndl ")
    assert peaks[0] >= 300 and peaks[1] < 150
    del ballast


@pytest.mark.slow
def test_quick_bench_writes_a_table(tmp_path, capsys):
    out = tmp_path / "bench.md"
    assert main(["bench", "--quick", "--only", "auto", "book", "jax", "--output", str(out)]) == 0
    text = out.read_text()
    assert "Written by `nndl bench --quick --only auto book jax --output" in text
    # the command from start to exit, and where its time goes
    whole = re.search(r"\*\*`nndl train`\*\*, the command with no flags: \*\*(\d+\.\d+) s\*\*", text)
    assert whole and float(whole.group(1)) > 0
    assert re.search(r"peak memory \d+ MB; it printed `Epoch 0: \d+ / 10000", text)
    steps = re.search(
        r"interpreter and imports (\S+) s, data (\S+) s, engine load (\S+) s, training (\S+) s .*evaluation (\S+) s",
        text,
    )
    assert steps and all(float(x) >= 0 for x in steps.groups())
    # every implementation run in both tables: whole runs and seconds per epoch
    for title in ("## Whole runs, start to exit", "## Seconds per epoch"):
        section = text.split(title)[1].split("\n## ")[0]
        rows = [line for line in section.splitlines() if line.startswith(("| nndl auto", "| book"))]
        assert len(rows) == 3  # float64, float32 and the book's code
        for row in rows:
            cells = [c.strip() for c in row.split("|")[1:-1]]
            assert float(cells[2].lstrip("~")) > 0
    jax = [line for line in text.split("## Seconds per epoch")[1].splitlines() if line.startswith("| JAX")]
    assert len(jax) == 1 and (re.search(r"\| \d+\.\d+ \|", jax[0]) or "skipped: not installed (pip install" in jax[0])
    assert "| 10 | 30 |" in text and "| 100 | 30 |" in text
    assert capsys.readouterr().out.startswith("## Whole runs")


def test_an_unwritable_output_fails_at_once(tmp_path, capsys):
    assert main(["bench", "--quick", "--output", str(tmp_path / "missing" / "bench.md")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "folder" in err and "does not exist" in err


def test_peers_python_must_be_an_interpreter_that_runs_the_worker(tmp_path, capsys):
    assert main(["bench", "--quick", "--peers-python", str(tmp_path / "nope"), "--output", str(tmp_path / "b.md")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an executable file" in err
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    assert main(["bench", "--quick", "--peers-python", str(fake), "--output", str(tmp_path / "b.md")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot import nndl's benchmark" in err
    assert not (tmp_path / "b.md").exists()


@pytest.mark.slow
def test_peers_run_with_the_python_given(tmp_path, monkeypatch):
    """A peer runs with --peers-python (here a wrapper that leaves a mark),
    nndl's own runs with this Python; the report says where each ran."""
    mark = tmp_path / "ran"
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {mark}\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    out = tmp_path / "bench.md"
    args = ["bench", "--quick", "--only", "auto", "book", "--peers-python", str(wrapper), "--output", str(out)]
    assert main(args) == 0
    text = out.read_text()
    assert "--peers-python PYTHON --output" in text and "ran in another environment (PYTHON): Python " in text
    ran = mark.read_text()
    assert '"kind": "peer"' in ran and '"name": "book"' in ran
    assert '"kind": "nndl"' not in ran and '"kind": "train"' not in ran
