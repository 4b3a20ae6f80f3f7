"""nndl sweep: grids of runs here through joblib and on a Dask cluster over loopback."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import pytest
from dask.distributed import LocalCluster

from nndl import ConfigError, NNDLError, sweep
from nndl.cli import main
from nndl.data import Dataset
from nndl.loop import DivergedError
from nndl.train import train

#: A tiny grid: two learning rates, two seeds, one epoch on 200 images.
TINY = ["--eta", "0.01", "3", "--hidden", "8", "--epochs", "2", "--seed", "0", "1", "--limit-train", "200"]


def read_rows(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def scores(rows: list[dict]) -> list[tuple]:
    """Everything but the timing, which no two runs share."""
    return [tuple(v for k, v in r.items() if k != "seconds") for r in rows]


def test_grid_is_every_combination():
    configs = sweep.grid([0.1, 3.0], [30, 100], epochs=4, seeds=[0, 1, 2], batch_size=5)
    assert len(configs) == 12
    assert {(c.eta, c.sizes, c.seed) for c in configs} == {
        (e, (784, h, 10), s) for e in (0.1, 3.0) for h in (30, 100) for s in (0, 1, 2)
    }
    assert {(c.epochs, c.batch_size) for c in configs} == {(4, 5)}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"etas": [3.0, 0.0], "hidden": [30]}, "eta must be a finite number > 0, got 0.0"),
        ({"etas": [3.0], "hidden": [30, 0]}, "hidden sizes must be positive integers, got 0"),
        ({"etas": [], "hidden": [30]}, "eta needs at least one value, got none"),
        ({"etas": [3.0], "hidden": [30], "epochs": 0}, "epochs must be an integer from 1 to 100000, got 0"),
        ({"etas": [1.0] * 101, "hidden": list(range(1, 101))}, "the grid holds 10,100 runs; at most 10,000"),
    ],
)
def test_bad_grids_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        sweep.grid(**kwargs)


def test_a_run_is_train_with_its_settings(mnist):
    """A row holds what ``nndl.train`` gives for the same settings."""
    config = sweep.grid([3.0], [10], epochs=3, seeds=[5])[0]
    row = sweep.run(config, limit_train=300)
    small = Dataset(mnist.train.head(300), mnist.validation, mnist.test)
    _, history = train(config, data=small, log=None)
    best = max(range(3), key=lambda e: history[e].accuracy)
    assert row["final_accuracy"] == history[-1].accuracy
    assert (row["best_accuracy"], row["best_epoch"]) == (history[best].accuracy, best)
    assert (row["eta"], row["hidden"], row["seed"], row["train_size"], row["status"]) == (3.0, 10, 5, 300, "ok")


def test_a_diverged_run_is_recorded_not_fatal(monkeypatch):
    def diverge(*args, **kwargs):
        raise DivergedError("training diverged in epoch 0")

    monkeypatch.setattr(sweep, "train", diverge)
    row = sweep.run(sweep.grid([100.0], [5], epochs=1)[0], limit_train=10)
    assert row["status"] == "diverged" and math.isnan(row["final_accuracy"]) and row["best_epoch"] == -1
    assert "diverged" in sweep.row_line(row)


@pytest.mark.slow
def test_local_sweep_in_two_processes_matches_one(tmp_path, capsys):
    out1, out2, png = tmp_path / "one.csv", tmp_path / "two.csv", tmp_path / "eta.png"
    assert main(["sweep", *TINY, "--out", str(out1)]) == 0
    assert main(["sweep", *TINY, "--out", str(out2), "--jobs", "2", "--plot", str(png)]) == 0
    err = capsys.readouterr().err
    assert "Sweeping 4 runs, 2 at a time" in err and "[4/4] eta" in err
    one, two = read_rows(out1), read_rows(out2)
    assert list(one[0]) == sweep.COLUMNS
    assert [(r["eta"], r["seed"]) for r in two] == [("0.01", "0"), ("0.01", "1"), ("3.0", "0"), ("3.0", "1")]
    assert scores(two) == scores(one)
    # The chapter's point: eta = 0.01 learns far less than eta = 3 in the same time.
    acc = {(r["eta"], r["seed"]): float(r["final_accuracy"]) for r in two}
    assert all(acc["3.0", s] > acc["0.01", s] + 0.1 for s in "01")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_plot_formats_follow_the_suffix(tmp_path):
    rows = [sweep.run(c, limit_train=50) for c in sweep.grid([1.0, 3.0], [4, 6], epochs=1)]
    assert b"<svg" in sweep.plot(rows, tmp_path / "eta.svg").read_bytes()[:400]
    assert sweep.plot(rows, tmp_path / "eta.pdf").read_bytes()[:5] == b"%PDF-"


def test_outputs_are_checked_before_any_run(tmp_path, capsys):
    for args, message in [
        (["--out", str(tmp_path / "no" / "r.csv")], "cannot write"),
        (["--out", str(tmp_path / "r.csv"), "--plot", str(tmp_path / "r.xyz")], "plot must end in one of"),
        (["--out", str(tmp_path / "r.csv"), "--jobs", "0"], "jobs must be -1 (one per CPU) or an integer"),
        (["--out", str(tmp_path / "r.csv"), "--dask", "nonsense://x"], "dask must be a scheduler address"),
    ]:
        assert main(["sweep", *TINY, *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("nndl sweep: error: ") and message in err and "[1/" not in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "blocked, flags, extra",
    [("dask.distributed", ["--dask", "tcp://127.0.0.1:8786"], "dask"), ("matplotlib", ["--plot", "p.png"], "plots")],
)
def test_missing_extras_say_how_to_install(tmp_path, capsys, monkeypatch, blocked, flags, extra):
    monkeypatch.setitem(sys.modules, blocked, None)
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", *TINY, "--out", "r.csv", *flags]) == 2
    assert f"needs the '{extra}' extra: pip install \"nndl[{extra}]\"" in capsys.readouterr().err


def test_unreachable_scheduler_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sweep, "DASK_TIMEOUT", "1s")
    assert main(["sweep", *TINY, "--out", str(tmp_path / "r.csv"), "--dask", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nndl sweep: error: cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'")
    assert len(err.splitlines()) == 1


@pytest.mark.slow
@pytest.mark.dask
def test_sweep_on_a_dask_cluster_over_loopback(tmp_path, capsys):
    """The command, in its own process, hands its runs to a LocalCluster's
    scheduler on 127.0.0.1; the table matches a local sweep's."""
    local = tmp_path / "local.csv"
    assert main(["sweep", *TINY, "--out", str(local)]) == 0
    with LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        out = tmp_path / "dask.csv"
        r = subprocess.run(
            [sys.executable, "-m", "nndl", "sweep", *TINY, "--out", str(out), "--dask", address],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        assert f"Sweeping 4 runs on the Dask cluster at {address}" in r.stderr
        # The runs were the cluster's tasks, not the command's own.
        keys = [str(t[0]) for t in cluster.scheduler.transition_log]
        assert sum("_indexed_run" in k for k in keys) > 0
    assert scores(read_rows(out)) == scores(read_rows(local))
    assert str(out) in r.stderr


def test_errors_from_a_run_reach_the_caller():
    with pytest.raises(NNDLError, match="limit must be a positive integer, got 0"):
        sweep.sweep(sweep.grid([1.0], [4], epochs=1), limit_train=0)
