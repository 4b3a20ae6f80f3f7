"""Every snippet on every page of the documentation runs as written.

Each page's fenced ``python`` and ``bash`` blocks run in their order on the
page, in a fresh folder with a fresh home folder (``tests/snippets.py``):
the Python blocks in one namespace, each shell line (``\\``-continued lines
joined) with bash, with ``nndl`` the one under test on the PATH.  A page's
``nndl serve`` is started in the background on a free port, and its later
``curl`` lines reach it there; an answer with an error status fails
its line (``fail-with-body`` in the home folder's ``.curlrc``).

What a reader brings (their own digit images, a model, a handwriting set)
is made first, by ``BRINGS``, under the names the page uses.  The lines that
are not run are in ``NOT_RUN`` below, each with its reason; the test prints
them, and fails if an entry no longer matches any line (so the list stays
true).  A line the page shows failing (``FAILS``) must fail as nndl fails:
status 2 and one line.  Pages whose snippets take long are run under the
``slow`` marker.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import write_idx

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)

# -- what is not run, and why ----------------------------------------------------------

#: (page, a regular expression matching the start of the line, why it is not run here)
NOT_RUN: list[tuple[str, str, str]] = [
    ("*", r"pip install|python -m venv", "installs from a package registry; the tests run where nndl is installed"),
    ("*", r"jupyter lab|python -m http\.server", "a server that runs until stopped, for a person at a browser"),
    ("contributing.md", r"python -m pytest|mypy", "the test suite and the type check themselves; CI runs both"),
    ("contributing.md", r"python -m sphinx", "the docs build; CI runs it and tests/test_docs.py checks the site"),
    ("guide/baselines.md", r"nndl baseline svm( --gamma scale)?\s*(#|$)", "an SVM on all 50,000 images: minutes"),
    ("guide/data.md", r"nndl train --data (mnist\.pkl\.gz|~/fashion-mnist/)", "the reader's own files"),
    ("guide/training.md", r"nndl train --data (mnist\.pkl\.gz|~/fashion-mnist/)", "the reader's own files"),
    ("guide/network.md", r"nndl train --device cuda", "needs an NVIDIA GPU"),
    ("guide/sklearn-sweeps.md", r"dask (scheduler|worker)|nndl sweep .*--dask", "needs a cluster of machines"),
    ("guide/speed.md", r"nndl-env/bin/nndl bench", "the benchmark itself: minutes, and it needs the peers' venv"),
]

#: (page, the start of a line) the page shows failing, with one line and status 2
FAILS = [("getting-started.md", "nndl train --sizes 100 30 10")]

#: Pages whose snippets train for many epochs or many runs (seconds to minutes).
SLOW = {
    "getting-started.md",  # the book's code as written: 30 epochs on its lists of tuples
    "guide/baselines.md",
    "guide/exercises.md",
    "guide/handwriting.md",
    "guide/network.md",
    "guide/pictures.md",
    "guide/pytensor.md",
    "guide/sklearn-sweeps.md",
    "guide/training.md",
}


def not_run(page: str, line: str) -> str | None:
    """Why ``line`` of ``page`` is not run, or None to run it."""
    for where, pattern, why in NOT_RUN:
        if where in ("*", page) and re.match(pattern, line):
            return why
    return None


# -- the pages' snippets ----------------------------------------------------------------


def blocks(text: str) -> list[tuple[str, str]]:
    """The fenced code blocks of a Markdown page: ``(language, code)``."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", text, re.M | re.S)]


def shell_lines(code: str) -> list[str]:
    """A shell block's commands: continued lines joined, comment lines
    (the answers a page shows) left out."""
    joined = re.sub(r"\\\n\s*", "", code)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def steps(page: Path) -> tuple[list[list[str]], list[str]]:
    """What runs of ``page``, in order, and the lines left out with why."""
    name = page.relative_to(DOCS).as_posix()
    run, left_out = [], []
    for language, code in blocks(page.read_text(encoding="utf-8")):
        if language == "python":
            run.append(["python", code])
        elif language in ("bash", "sh", "shell"):
            for line in shell_lines(code):
                why = not_run(name, line)
                if why:
                    left_out.append(f"{name}: {line}  -- {why}")
                elif (name, line.split("  #")[0].strip()) in FAILS:
                    run.append(["fails", line])
                elif re.match(r"nndl serve\b", line):
                    run.append(["serve", line])
                else:
                    run.append(["shell", line])
    return run, left_out


# -- what a reader brings ------------------------------------------------------------------


def _digit_images(folder: Path) -> None:
    """Three MNIST test digits as a reader's photos would be: dark ink on
    light paper, larger than 28 x 28."""
    from PIL import Image

    import nndl

    test = nndl.load().test
    for name, k in (("my-digit.png", 0), ("my-digit.jpg", 1), ("scan.png", 2)):
        ink = test.images[k].reshape(28, 28)
        Image.fromarray(255 - ink).resize((140, 140)).save(folder / name)


def _model(folder: Path) -> None:
    """A model of the reader's: the chapter's network after one epoch."""
    import nndl

    net, history = nndl.train(nndl.TrainConfig(epochs=1), log=None)
    net.save(folder / "model.npz", history.settings)


def _handwriting_set(folder: Path) -> None:
    """A handwriting set saved from the drawing page, in its default folder:
    twenty MNIST test digits."""
    import nndl

    test = nndl.load().test
    where = folder / "home" / ".local" / "share" / "nndl" / "handwriting"
    where.mkdir(parents=True)
    write_idx(where / "t10k-images-idx3-ubyte", test.images[:20].reshape(-1, 28, 28))
    write_idx(where / "t10k-labels-idx1-ubyte", np.asarray(test.labels[:20], np.uint8))


BRINGS: dict[str, list[Callable[[Path], None]]] = {
    "guide/handwriting.md": [_digit_images, _model, _handwriting_set],
}


# -- the test -------------------------------------------------------------------------------------


def _environment(folder: Path) -> dict[str, str]:
    from nndl.cache import cache_dir

    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(
        HOME=str(folder / "home"),  # ~ on a page is this folder's
        NNDL_CACHE_DIR=str(cache_dir()),  # MNIST decompressed once, not per page
        MPLBACKEND="Agg",
        # PyTensor's compiled models where they are kept between runs, not compiled per page
        PYTENSOR_FLAGS=env.get("PYTENSOR_FLAGS") or f"base_compiledir={Path.home() / '.pytensor'}",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")])),
    )
    return env


def _page_param(page: Path):
    name = page.relative_to(DOCS).as_posix()
    return pytest.param(page, id=name, marks=[pytest.mark.slow] if name in SLOW else [])


@pytest.mark.parametrize("page", [_page_param(p) for p in PAGES])
def test_every_snippet_on_the_page_runs(page: Path, tmp_path: Path) -> None:
    name = page.relative_to(DOCS).as_posix()
    run, left_out = steps(page)
    if not run:  # no snippets, or none that can run here (printed below)
        print("\n".join(["not run:", *left_out]) if left_out else "no snippets")
        return
    (tmp_path / "home").mkdir()
    # curl reads this: an answer with an error status (a 409, a 404) fails the line
    (tmp_path / "home" / ".curlrc").write_text("fail-with-body\n", encoding="utf-8")
    for bring in BRINGS.get(name, []):
        bring(tmp_path)
    (tmp_path / "steps.json").write_text(json.dumps(run), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "snippets.py"), "steps.json"],
        cwd=tmp_path,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=1500,
    )
    print("\n".join(["not run:", *left_out]) if left_out else "every line ran")
    assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}\n{done.stdout[-3000:]}"


def test_every_line_left_out_is_still_on_a_page() -> None:
    """Each entry of NOT_RUN matches a line of its page: a snippet rewritten
    so that it runs is run."""
    lines = {p.relative_to(DOCS).as_posix(): steps(p)[1] for p in PAGES}
    for where, pattern, why in NOT_RUN:
        found = [line for page, left in lines.items() if where in ("*", page) for line in left if why in line]
        assert found, f"NOT_RUN entry for {where} ({pattern!r}) matches no line"
    assert "guide/lab.md" in {p.relative_to(DOCS).as_posix() for p in PAGES}
