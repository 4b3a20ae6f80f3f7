"""The training lab's run manager and its JSON/SSE API: settings checked as
``nndl train`` checks them, one run at a time, every command in every state,
streams that join late or go away, the page's run equal to the command
line's, bounded memory, and a clean stop on Ctrl-C.

Every wait is on a state the server reports (a command's answer, an event),
never on the clock."""

from __future__ import annotations

import asyncio
import base64
import gc
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from drawing import draw, encode
from live import Events, call, fetch, post, running
from PIL import Image

import nndl
from nndl.errors import MissingExtraError
from nndl.serve import lab as labs
from nndl.serve.lab import Lab

SLOW = {"batch_size": 1, "epochs": 100}  # a run far longer than any test: it only ends when stopped


@pytest.fixture
def server(digit_model, small):
    """A server whose lab trains on the small data; every run is stopped at the end."""
    lab = Lab(small)
    with running(digit_model, lab=lab) as base:
        yield base
    lab.close()


def start(base: str, **settings) -> dict:
    status, answer = call(base, "POST", "/api/runs", settings)
    assert status == 201, answer
    return answer


def wait_end(base: str, id: int) -> dict:
    """Read the run's events until it ends; the run's status."""
    stream = Events(base, f"/api/runs/{id}/events")
    try:
        stream.until(lambda kind, data: data.get("state") in labs.ENDED)
    finally:
        stream.close()
    return call(base, "GET", f"/api/runs/{id}")[1]


# -- settings ---------------------------------------------------------------------------

# Settings the command line refuses too: the page must say what nndl train says.
CLI_CASES = [
    ({"epochs": 0}, ["--epochs", "0"]),
    ({"batch_size": 0}, ["--batch-size", "0"]),
    ({"eta": -1.5}, ["--eta", "-1.5"]),
    ({"seed": -1}, ["--seed", "-1"]),
    ({"sizes": [784, 0, 10]}, ["--sizes", "784", "0", "10"]),
    ({"sizes": [700, 30, 10]}, ["--sizes", "700", "30", "10"]),
]


@pytest.mark.slow
def test_bad_settings_get_400_and_the_cli_message(server):
    for body, flags in CLI_CASES:
        cli = subprocess.run(
            [sys.executable, "-m", "nndl", "train", *flags], capture_output=True, text=True, timeout=120
        )
        assert cli.returncode == 2, cli.stderr
        said = cli.stderr.strip().removeprefix("nndl train: error: ")
        status, answer = call(server, "POST", "/api/runs", body)
        assert (status, answer) == (400, {"error": said}), body
    assert call(server, "GET", "/api/runs")[1]["runs"] == []  # nothing was started


@pytest.mark.parametrize(
    "body, words",
    [
        ({"epochs": 101}, "epochs must be at most 100 here, got 101"),
        ({"sizes": [784, 1001, 10]}, "at most 1000 neurons"),
        ({"sizes": [784, 30, 1001, 10]}, "at most 1000 neurons"),
        ({"sizes": [784, *[1000] * 5, 10]}, "the lab trains at most 4,000,000"),
        ({"batch_size": 50_000}, "batch size must be at most 10,000 here"),
        ({"engine": "pytensor"}, "the lab trains on engines"),
        ({"engine": "warp-drive"}, "engine must be one of"),
        ({"data": "/etc/passwd"}, "unknown setting 'data'"),
        ({"device": "cuda"}, "unknown setting 'device'"),
        ({"epochs": True}, "epochs must be an integer"),
        ({"epochs": 2.5}, "epochs must be an integer"),
        ({"sizes": "784 30 10"}, "sizes must be a list of integers"),
        ({"paused": "yes"}, "paused must be true or false"),
        ([784, 30, 10], "must be a JSON object"),
        ("{}", "must be a JSON object"),
    ],
)
def test_settings_the_lab_refuses(server, body, words):
    status, answer = call(server, "POST", "/api/runs", body)
    assert status == 400 and words in answer["error"], answer
    assert "\n" not in answer["error"]


def test_an_engine_that_cannot_run_here_gets_400(server, monkeypatch):
    def missing(engine, device):
        raise MissingExtraError("engine 'numba'", "fast")

    monkeypatch.setattr(labs.engines, "check", missing)
    status, answer = call(server, "POST", "/api/runs", {"engine": "numba"})
    assert status == 400 and answer["error"].startswith("engine 'numba' needs the 'fast' extra")


@pytest.mark.parametrize(
    "raw, status, words",
    [
        (b'{"epochs": 3', 400, "is not JSON"),
        (b'{"eta": NaN}', 400, "NaN is not a number JSON allows"),
        (b'{"eta": Infinity}', 400, "Infinity"),
        (b"\xff\xfe", 400, "is not JSON"),
        (b'{"sizes": [' + b"[" * 100_000, 413, "at most 4,096"),
    ],
)
def test_bodies_that_are_not_settings(server, raw, status, words):
    answer = call(server, "POST", "/api/runs", raw=raw)
    assert answer[0] == status and words in answer[1]["error"], answer


# -- one run at a time, and the commands in every state -------------------------------------


def test_a_second_start_while_one_trains_gets_409(server):
    first = start(server, paused=True)
    status, answer = call(server, "POST", "/api/runs", {})
    assert status == 409 and f"run {first['id']} is still paused" in answer["error"]
    assert call(server, "POST", f"/api/runs/{first['id']}/resume")[1]["state"] == "training"
    status, answer = call(server, "POST", "/api/runs", {})
    assert status == 409 and "still training" in answer["error"]
    assert call(server, "POST", f"/api/runs/{first['id']}/stop")[1]["state"] == "stopped"
    assert start(server, epochs=1)["id"] == first["id"] + 1


def test_commands_while_paused(server):
    run = start(server, paused=True)
    assert run["state"] == "paused" and run["position"]["batch"] == 0 and run["frames"] == 1
    path = f"/api/runs/{run['id']}"
    status, after = call(server, "POST", path + "/pause")
    assert status == 200 and after["state"] == "paused" and after["position"] == run["position"]
    status, after = call(server, "POST", path + "/step")
    assert status == 200 and after["state"] == "paused" and after["position"]["batch"] == 1
    status, after = call(server, "POST", path + "/step", {"unit": "batch"})
    assert after["position"]["batch"] == 2
    status, after = call(server, "POST", path + "/step", {"unit": "epoch"})
    assert after["state"] == "paused" and after["position"] == {"epoch": 1, "batch": 0, "batches": 300}
    assert [e["epoch"] for e in after["epochs"]] == [0] and after["frames"] == 2
    status, after = call(server, "POST", path + "/step", {"unit": "epoch"})
    assert after["position"]["epoch"] == 2 and len(after["epochs"]) == 2
    assert call(server, "POST", path + "/step", {"unit": "fortnight"})[0] == 400
    assert call(server, "POST", path + "/step", {"units": "batch"})[0] == 400
    status, after = call(server, "POST", path + "/resume")
    assert status == 200 and after["state"] == "training"
    assert call(server, "POST", path + "/pause")[1]["state"] == "paused"
    status, after = call(server, "POST", path + "/stop")
    assert status == 200 and after["state"] == "stopped"


def test_commands_while_training(server):
    run = start(server, **SLOW)
    path = f"/api/runs/{run['id']}"
    status, answer = call(server, "POST", path + "/step")
    assert status == 409 and "pause it before stepping" in answer["error"]
    assert call(server, "POST", path + "/resume")[1]["state"] == "training"  # already is: nothing to do
    assert call(server, "POST", path + "/pause")[1]["state"] == "paused"
    assert call(server, "POST", path + "/resume")[1]["state"] == "training"
    status, after = call(server, "POST", path + "/stop")
    assert status == 200 and after["state"] == "stopped"


def test_commands_after_the_end(server):
    finished = wait_end(server, start(server, epochs=1)["id"])
    assert finished["state"] == "finished" and len(finished["epochs"]) == 1
    for command in ("pause", "resume", "step", "stop"):
        status, answer = call(server, "POST", f"/api/runs/{finished['id']}/{command}")
        assert status == 409 and re.search(r"has (already )?finished", answer["error"]), command
    stopped = start(server, paused=True)
    path = f"/api/runs/{stopped['id']}"
    assert call(server, "POST", path + "/stop")[1]["state"] == "stopped"
    assert call(server, "POST", path + "/stop") == (200, call(server, "GET", path)[1])  # stopped already
    for command in ("pause", "resume", "step"):
        status, answer = call(server, "POST", f"{path}/{command}")
        assert status == 409 and "has stopped" in answer["error"], command
    # a stopped run still has its model: where it stopped
    assert fetch(server, path + "/model")[0] == 200


def test_a_diverging_run_fails_with_the_cli_message(server, small, tmp_path):
    failed = wait_end(server, start(server, eta=1e308)["id"])
    assert failed["state"] == "failed" and "diverged" in failed["error"] and "smaller eta" in failed["error"]
    status, answer = call(server, "GET", f"/api/runs/{failed['id']}/model")
    assert status == 409 and "it has no model" in answer["error"]
    with pytest.raises(labs.NNDLError) as cli:
        nndl.train(nndl.TrainConfig(eta=1e308), data=small, log=None)
    assert failed["error"] == str(cli.value)


def test_unknown_runs_and_frames_get_404(server):
    assert call(server, "GET", "/api/runs/7")[0] == 404
    assert call(server, "POST", "/api/runs/7/pause")[0] == 404
    assert fetch(server, "/api/runs/7/events")[0] == 404
    run = start(server, paused=True)
    status, answer = call(server, "GET", f"/api/runs/{run['id']}/frames/5")
    assert status == 404 and "0 to 0" in answer["error"]
    assert call(server, "GET", f"/api/runs/{run['id']}/frames/0")[1]["done"] == 0
    assert call(server, "GET", "/api/runs/1/pause")[0] == 405  # commands are POSTs
    call(server, "POST", f"/api/runs/{run['id']}/stop")


# -- the event stream ---------------------------------------------------------------------


def test_a_late_stream_gets_the_state_first_then_live_events(server):
    run = start(server, epochs=4, paused=True)
    path = f"/api/runs/{run['id']}"
    call(server, "POST", path + "/step", {"unit": "epoch"})
    call(server, "POST", path + "/step", {"unit": "epoch"})
    stream = Events(server, path + "/events")
    assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
    events = iter(stream)
    kind, snap = next(events)
    assert kind == "snapshot" and snap["state"] == "paused" and snap["position"]["epoch"] == 2
    assert [e["line"] for e in snap["epochs"]] == [e["line"] for e in call(server, "GET", path)[1]["epochs"]]
    assert re.fullmatch(r"Epoch 1: \d+ / 1000 \(\d+\.\d\d %, \d+\.\d\d s\)", snap["epochs"][1]["line"])
    assert snap["frames"] == 3 and snap["frame"]["done"] == 2 and len(snap["samples"]["labels"]) == labs.SAMPLES
    assert len(snap["points"]) >= 2
    call(server, "POST", path + "/resume")
    rest = stream.until(lambda kind, data: data.get("state") == "finished")
    epochs = [data["epoch"]["epoch"] for kind, data in rest if kind == "epoch"]
    assert epochs == [2, 3]
    frames = [data["frame"]["done"] for kind, data in rest if kind == "epoch"]
    assert frames == [3, 4]
    assert list(stream) == []  # the stream ends with the run
    # a stream opened after the end: the whole story, then the end
    again = list(Events(server, path + "/events"))
    assert [kind for kind, _ in again] == ["snapshot"]
    assert again[0][1]["state"] == "finished" and len(again[0][1]["epochs"]) == 4


def test_progress_points_and_pictures(server, tmp_path):
    run = start(server, epochs=2, paused=True)  # resumed once the stream is open: it sees every event
    stream = Events(server, f"/api/runs/{run['id']}/events")
    call(server, "POST", f"/api/runs/{run['id']}/resume")
    seen = stream.until(lambda kind, data: data.get("state") == "finished")
    snap = seen[0][1]
    points = snap["points"] + [p for kind, d in seen if kind == "progress" for p in d["points"]]
    xs = [x for x, _ in points]
    # the running cost at least every 100 mini-batches (300 a epoch here), in order, ending at 2 epochs
    assert xs == sorted(xs) and xs[-1] == 2.0 and np.diff([0, *xs]).max() <= 100 / 300 + 1e-4
    assert all(0 < c < 5 for _, c in points)
    frame = [d for kind, d in seen if kind == "epoch"][-1]["frame"]
    w = frame["weights"]
    assert (w["count"], w["of"], w["side"]) == (30, 30, 28)
    picture = np.array(Image.open(io.BytesIO(base64.b64decode(w["png"]))))
    assert picture.shape == (30 * 28, 28) and picture.dtype == np.uint8
    # the picture is the weights, on one scale with 128 at zero
    (tmp_path / "m.npz").write_bytes(fetch(server, f"/api/runs/{run['id']}/model")[2])
    net = nndl.Network.load(tmp_path / "m.npz")
    expected = np.clip(np.rint(128 + 127 * net.weights[0] / w["scale"]), 1, 255).reshape(-1, 28)
    assert np.array_equal(picture, expected)
    counts = np.array(frame["confusion"])
    assert counts.shape == (10, 10) and counts.sum() == 1000
    assert np.trace(counts) == [d for kind, d in seen if kind == "epoch"][-1]["epoch"]["correct"]
    assert len(frame["answers"]) == labs.SAMPLES
    # every event is small: pictures as PNG, not megabytes
    assert max(len(json.dumps(d)) for _, d in seen) < 100_000


def test_a_client_going_away_does_not_stop_the_run(server):
    run = start(server, epochs=3, paused=True)
    path = f"/api/runs/{run['id']}"
    gone, staying = Events(server, path + "/events"), Events(server, path + "/events")
    assert next(iter(gone))[0] == "snapshot"
    assert call(server, "GET", path)[1]["watchers"] == 2
    gone.close()  # mid-run, without a word
    call(server, "POST", path + "/resume")
    seen = staying.until(lambda kind, data: data.get("state") == "finished")
    assert [d["epoch"]["epoch"] for kind, d in seen if kind == "epoch"] == [0, 1, 2]
    status = call(server, "GET", path)[1]
    assert status["state"] == "finished" and len(status["epochs"]) == 3
    for _ in range(200):  # the server notices the closed stream: poll its count, not the clock
        if call(server, "GET", path)[1]["watchers"] == 0:
            break
    assert call(server, "GET", path)[1]["watchers"] == 0


def test_a_slow_watcher_is_sent_the_state_afresh(small):
    """A watcher that does not read falls behind by at most its queue, then
    gets one snapshot instead of everything it missed."""
    lab = Lab(small)
    try:
        run = lab.start({"paused": True})
        loop = asyncio.new_event_loop()
        try:
            watcher = run.watch(loop)
            watcher.limit = 4
            for _ in range(5):
                run.step()
            assert watcher.lagging and len(watcher.items) <= 4
            items, over = run.take(watcher)
            assert len(items) == 1 and items[0].startswith("event: snapshot\n") and not over
            snap = json.loads(items[0].split("data: ", 1)[1])
            assert snap["position"] == run.status()["position"] == {"epoch": 0, "batch": 5, "batches": 300}
            run.unwatch(watcher)
        finally:
            loop.close()
        run.stop()
    finally:
        lab.close()


# -- what a run makes ---------------------------------------------------------------------


@pytest.mark.slow
def test_the_pages_run_is_the_command_lines_bit_for_bit(digit_model, tmp_path):
    """The notebook's settings, seed 0, from the page and from nndl train --seed 0 --save."""
    lab = Lab()  # the bundled MNIST, as nndl train uses
    try:
        with running(digit_model, lab=lab) as base:
            run = start(base)
            ended = wait_end(base, run["id"])
            assert ended["state"] == "finished" and len(ended["epochs"]) == 10
            status, headers, model = fetch(base, f"/api/runs/{run['id']}/model")
            assert status == 200 and 'filename="nndl-run-1.npz"' in headers["content-disposition"]
            status, headers, history = fetch(base, f"/api/runs/{run['id']}/history")
            assert status == 200 and headers["content-type"] == "application/json"
    finally:
        lab.close()
    (tmp_path / "page.npz").write_bytes(model)
    (tmp_path / "page.json").write_bytes(history)
    cli = subprocess.run(
        [sys.executable, "-m", "nndl", "train", "--seed", "0", "--save", str(tmp_path / "cli.npz")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert cli.returncode == 0, cli.stderr
    page, line = nndl.Network.load(tmp_path / "page.npz"), nndl.Network.load(tmp_path / "cli.npz")
    assert page.sizes == line.sizes and page.settings == line.settings
    for a, b in zip(page.weights + page.biases, line.weights + line.biases):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    # the same lines, counts and all (the times apart)
    drop_time = lambda text: re.sub(r", \d+\.\d\d s\)", ")", text)  # noqa: E731
    assert drop_time("\n".join(e["line"] for e in ended["epochs"])) == drop_time(cli.stdout.strip())
    # the history file reads as nndl's own, and the model file as nndl evaluate's
    assert nndl.History.load(tmp_path / "page.json").accuracy == [e["accuracy"] for e in ended["epochs"]]
    evaluated = subprocess.run(
        [sys.executable, "-m", "nndl", "evaluate", str(tmp_path / "page.npz")], capture_output=True, text=True
    )
    assert evaluated.stdout.startswith(f"{ended['epochs'][-1]['correct']} / 10000"), evaluated


def test_use_sends_the_network_to_the_draw_page(server, tmp_path):
    assert call(server, "GET", "/api/network/source")[1]["run"] is None
    run = wait_end(server, start(server, epochs=1, seed=3)["id"])
    status, answer = call(server, "POST", f"/api/runs/{run['id']}/use")
    assert status == 200 and answer["run"] == run["id"]
    assert f"run {run['id']}, after epoch 0" in call(server, "GET", "/api/network/source")[1]["label"]
    status, answer = post(server, encode(draw(7)))  # an image, as image/png
    assert status == 200
    (tmp_path / "m.npz").write_bytes(fetch(server, f"/api/runs/{run['id']}/model")[2])
    net = nndl.Network.load(tmp_path / "m.npz")
    expected = net.scores(np.array(answer["input"], np.uint8).reshape(1, 784))[0]
    assert np.allclose(answer["scores"], expected, atol=1e-6)


def test_old_runs_keep_their_curves_and_forget_their_pictures(server):
    ids = [wait_end(server, start(server, epochs=1, eta=eta)["id"])["id"] for eta in (1.0, 2.0, 3.0, 4.0)]
    runs = call(server, "GET", "/api/runs")[1]["runs"]
    assert [r["id"] for r in runs] == ids
    assert [r["label"] for r in runs] == ["η = 1", "η = 2", "η = 3", "η = 4"]
    assert all(len(r["epochs"]) == 1 for r in runs)
    oldest = f"/api/runs/{ids[0]}"
    assert call(server, "GET", oldest + "/model")[0] == 410
    assert call(server, "GET", oldest + "/frames/0")[0] == 410
    assert fetch(server, f"/api/runs/{ids[-1]}/model")[0] == 200


def rss() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory use from Linux's /proc")
def test_memory_stays_flat_across_many_runs(digit_model, mnist):
    """More runs than the lab keeps, each watched to its end: once the lab is
    full, a run in is a run out -- no runs, networks or threads pile up, and
    the process does not grow."""
    tiny = nndl.Dataset(
        nndl.Split(mnist.train.images[:1000], mnist.train.labels[:1000]),
        mnist.validation,
        nndl.Split(mnist.test.images[:500], mnist.test.labels[:500]),
    )
    lab = Lab(tiny)
    try:
        with running(digit_model, lab=lab) as base:

            def runs(n: int) -> None:
                for _ in range(n):
                    assert wait_end(base, start(base, epochs=3, sizes=[784, 100, 10])["id"])["state"] == "finished"

            runs(labs.MAX_RUNS + 10)  # the lab is full, and the allocator has its working size
            gc.collect()
            before = rss()
            runs(25)
            gc.collect()
            after = rss()
            kept = call(base, "GET", "/api/runs")[1]["runs"]
            # type(), not isinstance(): a dead weak proxy among the objects would raise
            alive = [o for o in gc.get_objects() if issubclass(type(o), (labs.Run, nndl.Network))]
            pictured = [r for r in alive if isinstance(r, labs.Run) and r.frames]
            lab_threads = [t for t in threading.enumerate() if t.name.startswith("nndl-lab-")]
    finally:
        lab.close()
    assert len(kept) == labs.MAX_RUNS and len(pictured) == labs.KEEP_DETAIL
    assert len(lab_threads) <= 2  # at most the last run's, finishing
    assert sum(isinstance(o, labs.Run) for o in alive) == labs.MAX_RUNS
    assert sum(isinstance(o, nndl.Network) for o in alive) <= 2  # the draw page's, and perhaps one in a frame
    assert after - before < 16 * 2**20, f"memory grew by {(after - before) / 2**20:.1f} MiB over 25 runs"


@pytest.mark.slow
def test_ctrl_c_stops_the_server_and_its_run(digit_model):
    proc = subprocess.Popen(
        [sys.executable, "-m", "nndl", "serve", "--model", str(digit_model), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base = re.search(r"http://127\.0\.0\.1:\d+/", proc.stderr.readline()).group(0)
        run = start(base, **SLOW)
        stream = Events(base, f"/api/runs/{run['id']}/events")
        stream.until(lambda kind, data: kind == "progress" and data["position"]["batch"] > 0)
        proc.send_signal(signal.SIGINT)
        last = stream.until(lambda kind, data: data.get("state") in labs.ENDED)[-1]
        assert last == ("state", {"state": "stopped", "position": last[1]["position"], "error": None})
        assert proc.wait(30) == 128 + signal.SIGINT  # as any nndl command stopped by Ctrl-C
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    errors = proc.stderr.read()
    assert errors.strip() == "nndl serve: interrupted", errors


# -- the run's pieces, without threads ------------------------------------------------------


def test_the_painter_tells_what_it_is_fed(small):
    """A painter fed typed events by hand: what each makes the watchers see."""
    from nndl.serve.painter import Costs, End, Painter, Picture, StateChange

    now = [0.0]
    painter = Painter(small.test, batches=300, clock=lambda: now[0])
    said = painter.tell(Costs(0, 0, np.full(150, 0.5)))
    assert said == [
        (
            "progress",
            {"position": {"epoch": 0, "batch": 150, "batches": 300}, "points": [[round(1 / 3, 5), 0.5], [0.5, 0.5]]},
        )
    ]
    assert painter.tell(Costs(0, 150, np.full(10, 0.25))) == []  # too soon after the last: kept for the next
    said = painter.tell(StateChange("paused", {"epoch": 0, "batch": 160, "batches": 300}, None, 1))
    assert [kind for kind, _ in said] == ["progress", "state"] and said[0][1]["points"] == [[round(160 / 300, 5), 0.25]]
    assert said[1][1] == {"state": "paused", "position": {"epoch": 0, "batch": 160, "batches": 300}, "error": None}
    net = nndl.Network([784, 30, 10], seed=1)
    params = labs._copy(net, {})
    drawn = painter.draw(Picture(params, 0))
    said = painter.tell(drawn)
    assert [kind for kind, _ in said] == ["progress", "frame"] and said[1][1]["frames"] == 1
    frame = said[1][1]["frame"]
    assert np.array(frame["confusion"]).sum() == len(small.test)
    assert frame["answers"] == net.predict(small.test.images[: labs.SAMPLES]).tolist()
    assert painter.tell(End("stopped")) == [("state", {**painter.shown, "state": "stopped"})]
    assert len(painter.frames) == 1 and painter.shown["state"] == "stopped"


def test_the_commands_state_machine():
    """Controls on their own: what the trainer is told to do after each command."""
    from nndl.serve.controls import BATCHES_PER_LOOK, Controls

    told = []
    c = Controls(1, batches=5000, paused=False, tell=told.append)
    assert c.next(0, 0) == BATCHES_PER_LOOK and told == []
    done = c.pause()
    assert not done() and c.next(0, 5) is None  # the trainer waits
    assert [t.state for t in told] == ["paused"] and not done()  # not yet heard by the watchers
    c.told(told[-1])
    assert done()
    step = c.step("batch")
    assert c.next(0, 5) == 1 and told[-1].state == "training" and not step()
    assert c.next(0, 6) is None and told[-1].state == "paused"
    c.told(told[-2]), c.told(told[-1])
    assert step()
    c.step("epoch")
    assert c.next(0, 6) == 4994
    with pytest.raises(labs.RunStateError, match="pause it before stepping"):
        c.step()
    assert not c.stop()() and c.next(1, 0) == 0
    c.end("stopped")
    with pytest.raises(labs.RunStateError, match="has stopped"):
        c.resume()


def test_a_bug_in_a_lab_route_is_500_not_404(digit_model, small, monkeypatch):
    lab = Lab(small)

    def broken():
        return {}["a bug"]

    monkeypatch.setattr(lab, "runs", broken)
    with running(digit_model, lab=lab) as base:
        status, answer = call(base, "GET", "/api/runs")
        assert status == 500 and "KeyError" in answer["error"]
        assert call(base, "GET", "/api/runs/9")[0] == 404  # a run that is not there is still 404


def test_frames_hold_gradient_sizes_and_the_hidden_map(server, small, tmp_path):
    """Each frame's gradient sizes are those of its network on the lab's
    fixed mini-batch, and its map is the PCA of the map digits' hidden
    activations, with the network's answers."""
    from nndl.gradients import gradient_sizes, probe
    from nndl.hiddenmap import activations, pca

    run = start(server, epochs=1, sizes=[784, 12, 11, 10])
    stream = Events(server, f"/api/runs/{run['id']}/events")
    seen = stream.until(lambda kind, data: data.get("state") == "finished")
    frame = [d for kind, d in seen if kind == "epoch"][-1]["frame"]
    (tmp_path / "m.npz").write_bytes(fetch(server, f"/api/runs/{run['id']}/model")[2])
    net = nndl.Network.load(tmp_path / "m.npz")
    data = small
    want = gradient_sizes(net, *probe(data.train, 10, dtype=net.dtype))
    assert [g["layer"] for g in frame["gradients"]] == [2, 3, 4]
    for got, g in zip(frame["gradients"], want):
        assert got["weight"] == pytest.approx(g.weight, rel=1e-3) and got["delta"] == pytest.approx(g.delta, rel=1e-3)
    digits = call(server, "GET", "/api/map/digits")[1]
    index = np.array(digits["index"])
    assert digits["labels"] == data.test.labels[index].tolist()
    hidden, predicted = activations(net, data.test.images[index])
    assert frame["map"]["predicted"] == predicted.tolist() and frame["map"]["width"] == 11
    xy = pca(hidden)
    xy /= np.abs(xy).max()
    got = np.array(frame["map"]["xy"])
    np.testing.assert_allclose(np.abs(got), np.abs(xy), atol=2e-4)  # each axis may be turned to agree with the last
    snapshot = next(iter(Events(server, f"/api/runs/{run['id']}/events")))[1]
    assert snapshot["gradients"][-1] == frame["gradients"] and len(snapshot["gradients"]) == 2


def test_after_use_the_draw_page_saves_the_runs_network_with_the_runs_settings(digit_model, small, tmp_path):
    """The draw page's download and ``--save-to`` record the settings of the
    network they hold: after "use", the run's, not the startup model's."""
    from nndl.serve.inside_api import check_save_to

    lab = Lab(small)
    target = tmp_path / "taught.npz"
    try:
        with running(digit_model, lab=lab, save_to=check_save_to(target), dataset=tmp_path / "set") as base:
            run = wait_end(base, start(base, epochs=1, eta=2.0, seed=5)["id"])
            (tmp_path / "run.npz").write_bytes(fetch(base, f"/api/runs/{run['id']}/model")[2])
            trained = nndl.Network.load(tmp_path / "run.npz").settings
            assert trained["eta"] == 2.0 and trained["seed"] == 5
            assert call(base, "POST", f"/api/runs/{run['id']}/use")[0] == 200
            (tmp_path / "download.npz").write_bytes(fetch(base, "/api/network.npz")[2])
            assert nndl.Network.load(tmp_path / "download.npz").settings == {**trained, "taught_steps": 0}
            status, answer = call(base, "POST", "/api/teach", {"input": [[0] * 28] * 28, "label": 3})
            assert status == 200 and answer["saved_to"] == str(target)
            assert nndl.Network.load(target).settings == {**trained, "taught_steps": 1}
    finally:
        lab.close()


# -- the book's code, changed; the start of the weights ------------------------------------


def update_that_changes_nothing(self, mini_batch, eta):
    """A reader's edit of update_mini_batch: no step is taken."""


def test_a_run_of_changed_book_code_trains_it_and_says_so(server, monkeypatch, tmp_path):
    plain = wait_end(server, start(server, epochs=1)["id"])
    assert plain["notice"] is None
    monkeypatch.setattr(nndl.network.Network, "update_mini_batch", update_that_changes_nothing)
    run = start(server, epochs=1, seed=3, paused=True)
    assert "your update_mini_batch is not nndl's own code" in run["notice"]
    assert "reference engine" in run["notice"] and "\n" not in run["notice"]
    stream = Events(server, f"/api/runs/{run['id']}/events")
    try:
        kind, snapshot = stream.until(lambda kind, data: True)[0]
    finally:
        stream.close()
    assert kind == "snapshot" and snapshot["notice"] == run["notice"]
    call(server, "POST", f"/api/runs/{run['id']}/resume")
    assert wait_end(server, run["id"])["state"] == "finished"
    # the reader's update trained: after an epoch the weights are still those the run started with
    (tmp_path / "m.npz").write_bytes(fetch(server, f"/api/runs/{run['id']}/model")[2])
    trained = nndl.Network.load(tmp_path / "m.npz")
    untrained = nndl.Network([784, 30, 10], seed=3, dtype="float32")
    assert all(
        np.array_equal(a, b) for a, b in zip(trained.weights + trained.biases, untrained.weights + untrained.biases)
    )
    assert call(server, "GET", f"/api/runs/{plain['id']}")[1]["notice"] is None


def test_the_start_of_the_weights_is_a_setting(server):
    status, answer = call(server, "POST", "/api/runs", {"init": "big"})
    assert status == 400 and answer == {"error": "init must be one of standard, scaled; got 'big'"}
    run = wait_end(server, start(server, epochs=1, init="scaled")["id"])
    assert run["settings"]["init"] == "scaled" and run["state"] == "finished"
    assert call(server, "GET", "/api/runs")[1]["defaults"]["init"] == "standard"
