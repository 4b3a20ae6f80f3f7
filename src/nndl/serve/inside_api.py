"""The drawing page's JSON API for looking inside the network, teaching it
one digit, and keeping a handwriting set -- routes mounted by
:func:`nndl.serve.server.create_app`.

=========================  ===================================================
``GET /api/network``       the current network: ``sizes``, the first hidden
                           layer's incoming weights (one row of 784 per
                           neuron), ``version`` (changes with every lesson and
                           undo), ``steps`` taught, ``undo`` steps available
``POST /api/inside``       body: an image, as for ``/api/predict``; optional
                           query ``?layer=L&neuron=J``.  The answer of
                           ``/api/predict`` plus every layer's ``z`` and ``a``,
                           and ``pick``: each pixel's push on neuron J of layer
                           L (default: the output neuron of the answer)
``POST /api/teach``        ``{"input": 28 rows of 28 bytes, "label": d,
                           "eta": 3.0}``: one step of ``update_mini_batch``;
                           answers the scores before and after, every layer's
                           ``delta``, and the first layer's weight changes
``POST /api/paint``        ``{"neuron": j, "dabs": [[row, col], ...], "radius":
                           r, "amount": a, "stroke": "new" or "more",
                           "input": optional drawing}``: paint neuron j's
                           incoming weights with a soft brush
                           (:meth:`~nndl.inside.Lessons.paint`); answers its
                           784 weights, and the scores and the neuron's ``z``
                           and ``a`` on ``input`` (written to ``--save-to``,
                           if given, like a lesson)
``POST /api/undo``         puts back the parameters from before the last step
                           (or stroke)
``GET /api/robustness``    the network's accuracy on 1,000 test digits as they
                           are shifted, rotated, thinned or thickened and
                           noised (:func:`nndl.robustness.robustness`)
``GET /api/network.npz``   the current network as a model file
``GET /api/set``           the handwriting set: per digit ``saved`` and read
                           ``correct``, and a page of ``samples`` (newest
                           first; ``?offset=N`` skips the newest N)
``POST /api/set``          ``{"input": ..., "label": d}``: save a drawing
``POST /api/set/delete``   ``{"index": i, "count": n}``: delete drawing ``i``
                           of a set that holds ``n``
=========================  ===================================================

Layers are numbered as in ``sizes``: 0 is the input, 1 the first hidden
layer, ``len(sizes) - 1`` the output.  Every answer is JSON; a bad request
gets 400 and ``{"error": "..."}`` in one line, a set that cannot be read or
written 500, a full or changed set 409 (errors are raised, and answered by
the app through :mod:`nndl.serve.routes`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import ConfigError, DataError, NNDLError
from ..files import check_output
from ..handwriting import MAX_SAMPLES, HandwritingSet, Samples, accuracy_by_digit, default_folder
from ..inside import (
    ETA,
    MAX_ETA,
    Lessons,
    check_eta,
    check_label,
    check_neuron,
    column,
    effective_weights,
    look,
)
from ..modelfile import Parameters
from ..network import Network
from .routes import Refused, download, field, query_int, read_digit, read_object

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response

#: The largest JSON body a command may send (a 28 x 28 input is about 3 kB).
MAX_JSON = 64 * 2**10
#: Drawings per page of the set's gallery.
GALLERY = 40
#: Test digits the draw page's robustness curves are measured on (drawn with seed 0).
ROBUSTNESS_SAMPLE = 1000
#: The amounts of each distortion the draw page measures.
ROBUSTNESS_AMOUNTS = {
    "shift": (0, 1, 2, 3, 4, 5),
    "rotate": (0, 10, 20, 30, 40, 50, 60),
    "stroke": (-1.0, -0.5, 0, 0.5, 1.0),
    "noise": (0, 0.1, 0.2, 0.3, 0.4, 0.5),
}


def check_save_to(path: str | os.PathLike) -> Path:
    """``--save-to``'s file: a new file in an existing folder.  It must not
    exist yet, so the taught network never replaces a file -- the model it
    started from least of all."""
    path = Path(path).expanduser()
    if os.path.lexists(path):
        raise ConfigError(f"--save-to {path} already exists: give the name of a new file for the taught network")
    check_output(path)
    return path


def digit_input(value: Any) -> np.ndarray:
    """A drawing sent back as 28 rows of 28 bytes (``input`` in /api/predict's answer)."""
    try:
        a = np.array(value)
    except (ValueError, OverflowError):
        a = np.array(None)
    if a.shape != (28, 28) or a.dtype.kind not in "iu" or a.min() < 0 or a.max() > 255:
        shown = f"{a.dtype} {a.shape}" if a.dtype != object else type(value).__name__
        raise ConfigError(f"input must be 28 rows of 28 whole numbers from 0 to 255, got {shown}")
    return a.astype(np.uint8)


def whole(name: str) -> Callable[[Any], int]:
    """A check that a value is a whole number from 0 (``name`` in its message)."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            raise ConfigError(f"{name} must be a whole number from 0, got {value!r}")
        return value

    return check


def stroke_kind(value: Any) -> str:
    """A paint request's ``stroke``: ``"new"`` (a step of its own) or ``"more"`` (the last stroke goes on)."""
    if value not in ("new", "more"):
        raise ConfigError(f'stroke must be "new" or "more", got {json.dumps(value)[:40]}')
    return value


def painted(lessons: Lessons, neuron: int, body: dict, new_stroke: bool, digit: np.ndarray | None) -> dict:
    """``/api/paint``'s answer: paint ``body``'s dabs on ``neuron`` (lock held), then what ``digit`` makes of it."""
    net = lessons.net
    w = lessons.paint(neuron, body["dabs"], body["radius"], body["amount"], new_stroke)
    answer = {"neuron": neuron, "weights": rounded(w, 4), "scores": None, "z": None, "a": None}
    if digit is not None:
        seen = look(net, digit)
        answer["scores"] = rounded(seen.scores, 6)
        answer["z"], answer["a"] = float(seen.zs[0][neuron]), float(seen.activations[0][neuron])
    return answer


def measured(net: Network, test: Any) -> dict:
    """``/api/robustness``'s curves for ``net`` on ``test``."""
    from ..robustness import robustness

    curves = robustness(net, test, ROBUSTNESS_AMOUNTS, sample=ROBUSTNESS_SAMPLE, seed=0)
    return {"curves": [c.to_dict() for c in curves.values()]}


def rounded(a: ArrayLike, digits: int = 5) -> list:
    return np.round(np.asarray(a, np.float64), digits).tolist()


def looked(net: Network, digit: np.ndarray, layer: int, neuron: int) -> dict:
    """``/api/inside``'s answer for ``digit`` (``layer`` < 0: the answer's output neuron)."""
    seen = look(net, digit)
    blank = look(net, np.zeros_like(digit))
    best = int(np.argmax(seen.scores))
    pick_layer, pick_neuron = (net.num_layers - 1, best) if layer < 0 else (layer, neuron)
    check_neuron(net, pick_layer, pick_neuron)
    weights = effective_weights(net, digit, pick_layer, pick_neuron)
    push = column(digit, np.float64)[:, 0] * weights  # contributions(), the weights computed once
    exact = pick_layer == 1  # w x is exact; deeper, integrated gradients
    return {
        "digit": best,
        "scores": rounded(seen.scores, 6),
        "input": digit.tolist(),
        "layers": [{"z": rounded(z), "a": rounded(a)} for z, a in zip(seen.zs, seen.activations)],
        "pick": {
            "layer": pick_layer,
            "neuron": pick_neuron,
            "z": float(seen.zs[pick_layer - 1][pick_neuron]),
            "a": float(seen.activations[pick_layer - 1][pick_neuron]),
            "bias": float(net.biases[pick_layer - 1][pick_neuron, 0]),
            "z_blank": float(blank.zs[pick_layer - 1][pick_neuron]),  # z on blank paper
            "exact": exact,
            "contributions": rounded(push, 6),
            # the first layer's are its weights, in /api/network
            "weights": None if exact else rounded(weights),
        },
    }


def set_page(net: Network, folder: Path, samples: Samples, offset: int) -> dict:
    """``/api/set``'s answer: the set's counts as ``net`` reads it, and a page of drawings from ``offset``."""
    scored = accuracy_by_digit(net, samples)
    n = len(samples)
    newest = range(n - 1 - offset, max(n - 1 - offset - GALLERY, -1), -1)
    return {
        "folder": str(folder),
        "max": MAX_SAMPLES,
        "saved": scored["saved"],
        "correct": scored["correct"],
        "total": scored["total"],
        "total_correct": scored["total_correct"],
        "offset": offset,
        "page": GALLERY,
        "samples": [
            {
                "index": i,
                "label": int(samples.labels[i]),
                "read": scored["read"][i],
                "image": samples.images[i].tolist(),
            }
            for i in newest
        ],
    }


def inside_routes(
    net: Network,
    *,
    dataset: str | os.PathLike | None = None,
    save_to: str | os.PathLike | None = None,
    lessons: Lessons | None = None,
) -> list:
    """The routes above, for ``net`` (taught in place).  ``dataset`` is the
    handwriting set's folder (default: the user's data folder); ``save_to``,
    if given, receives the taught network after every step and undo (the
    caller checks it with :func:`check_save_to`).  ``lessons`` (default: new
    ones for ``net``) lets the caller replace the network too
    (:meth:`~nndl.inside.Lessons.replace`)."""
    import anyio
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    lessons = Lessons(net) if lessons is None else lessons  # given: shared with the training lab's "use"
    hand_set = HandwritingSet(default_folder() if dataset is None else dataset)
    save_to = None if save_to is None else Path(save_to)

    def check_digits() -> None:
        if not (net.sizes[0] == 28 * 28 and net.sizes[-1] == 10):
            raise Refused(
                400, f"the model reads {net.sizes[0]} pixels into {net.sizes[-1]} classes; digits need 784 into 10"
            )

    def network_state() -> dict:
        return {"version": lessons.version, "steps": lessons.steps, "undo": lessons.can_undo}

    def taught_settings() -> dict:
        """(lessons' lock held) The settings a saved network records: those of
        the network held now (the startup model's, or a lab run's after
        "use"), and the steps taught since."""
        return {**(getattr(net, "settings", None) or {}), "taught_steps": lessons.steps}

    def save_network() -> str | None:
        """Write the taught network to ``save_to``; the path written, or None."""
        if save_to is None:
            return None
        net.save(save_to, taught_settings())
        return str(save_to)

    # -- the network ----------------------------------------------------------

    async def api_network(request: Request) -> JSONResponse:
        def answer() -> dict:
            with lessons.lock:
                return {
                    "sizes": net.sizes,
                    **network_state(),
                    "first_layer": rounded(net.weights[0], 4),
                    "eta": ETA,
                    "max_eta": MAX_ETA,
                    "save_to": None if save_to is None else str(save_to),
                }

        return JSONResponse(await anyio.to_thread.run_sync(answer))

    async def api_inside(request: Request) -> JSONResponse:
        check_digits()
        layer = query_int(request, "layer", -1)
        neuron = query_int(request, "neuron", -1)
        digit = await read_digit(request)

        def answer() -> dict:
            with lessons.lock:
                return {**looked(net, digit, layer, neuron), **network_state()}

        return JSONResponse(await anyio.to_thread.run_sync(answer))

    # -- teaching -------------------------------------------------------------

    async def api_teach(request: Request) -> JSONResponse:
        check_digits()
        body = await read_object(request, MAX_JSON)
        digit = field(body, "input", digit_input)
        label = field(body, "label", lambda v: check_label(v, net.sizes[-1]))
        eta = field(body, "eta", check_eta, default=ETA)

        def teach() -> dict:
            with lessons.lock:
                lesson = lessons.teach(digit, label, eta)
                try:
                    saved = save_network()
                except NNDLError:
                    lessons.undo()  # the file and the network stay in step
                    raise
                return {
                    "label": lesson.label,
                    "eta": lesson.eta,
                    "before": rounded(lesson.before, 6),
                    "after": rounded(lesson.after, 6),
                    "cost_before": lesson.cost_before,
                    "cost_after": lesson.cost_after,
                    "deltas": [d.tolist() for d in lesson.deltas],
                    "first_layer_change": rounded(lesson.weight_changes[0], 6),
                    "bias_changes": [b.tolist() for b in lesson.bias_changes],
                    "saved_to": saved,
                    **network_state(),
                }

        return JSONResponse(await anyio.to_thread.run_sync(teach))

    # -- painting weights, and how far the reading stretches ----------------

    async def api_paint(request: Request) -> JSONResponse:
        body = await read_object(request, MAX_JSON)
        neuron = field(body, "neuron", whole("neuron"))
        new_stroke = field(body, "stroke", stroke_kind, default="new") == "new"
        digit = field(body, "input", digit_input) if "input" in body else None
        missing = [name for name in ("dabs", "radius", "amount") if name not in body]
        if missing:  # their values are checked by Lessons.paint
            raise Refused(400, f"the request body has no {missing[0]!r}")

        def paint() -> dict:
            with lessons.lock:
                answer = painted(lessons, neuron, body, new_stroke, digit)
                try:
                    saved = save_network()
                except NNDLError as e:
                    raise DataError(f"painted, but {e}; undo to keep the network and that file in step") from None
                return {**answer, "saved_to": saved, **network_state()}

        return JSONResponse(await anyio.to_thread.run_sync(paint))

    test_digits: list = []  # the bundled test set, read on first use

    async def api_robustness(request: Request) -> JSONResponse:
        check_digits()

        def measure() -> dict:
            from ..data import load

            if not test_digits:
                test_digits.append(load().test)
            with lessons.lock:  # a copy, so lessons and paint need not wait for the measuring
                params = Parameters(net.sizes, [w.copy() for w in net.weights], [b.copy() for b in net.biases])
                state = network_state()
            return {**measured(Network.from_parameters(params), test_digits[0]), **state}

        return JSONResponse(await anyio.to_thread.run_sync(measure))

    async def api_undo(request: Request) -> JSONResponse:
        await read_object(request, MAX_JSON, empty={})

        def undo() -> dict:
            with lessons.lock:
                lessons.undo()
                try:
                    saved = save_network()
                except NNDLError as e:
                    raise DataError(f"undone, but {e}; that file still holds the network before the undo") from None
                return {"saved_to": saved, **network_state()}

        return JSONResponse(await anyio.to_thread.run_sync(undo))

    async def api_download(request: Request) -> Response:
        def model_file() -> bytes:
            with tempfile.TemporaryDirectory() as tmp, lessons.lock:
                path = net.save(Path(tmp) / "taught.npz", taught_settings())
                return path.read_bytes()

        data = await anyio.to_thread.run_sync(model_file)
        name = f"nndl-taught-{lessons.steps}-steps.npz"
        return Response(data, media_type="application/octet-stream", headers=download(name))

    # -- the handwriting set ----------------------------------------------------

    async def on_set(work: Callable[[], Samples], offset: int = 0) -> JSONResponse:
        """Do ``work`` on the set; the set as it then is, read by the network."""
        check_digits()

        def answer(samples: Samples) -> dict:
            with lessons.lock:
                return {**set_page(net, hand_set.folder, samples, offset), **network_state()}

        samples = await anyio.to_thread.run_sync(work)
        return JSONResponse(await anyio.to_thread.run_sync(answer, samples))

    async def api_set(request: Request) -> JSONResponse:
        return await on_set(hand_set.read, query_int(request, "offset", 0))

    async def api_set_add(request: Request) -> JSONResponse:
        body = await read_object(request, MAX_JSON)
        digit = field(body, "input", digit_input)
        label = field(body, "label", check_label)
        return await on_set(lambda: hand_set.add(digit, label))

    async def api_set_delete(request: Request) -> JSONResponse:
        body = await read_object(request, MAX_JSON)
        index = field(body, "index", whole("index"))
        count = field(body, "count", whole("count"))
        if index >= count:
            raise Refused(400, f"index must be below count ({count}), got {index}")
        return await on_set(lambda: hand_set.delete(index, expect=count))

    return [
        Route("/api/network", api_network),
        Route("/api/network.npz", api_download),
        Route("/api/inside", api_inside, methods=["POST"]),
        Route("/api/teach", api_teach, methods=["POST"]),
        Route("/api/undo", api_undo, methods=["POST"]),
        Route("/api/paint", api_paint, methods=["POST"]),
        Route("/api/robustness", api_robustness),
        Route("/api/set", api_set),
        Route("/api/set", api_set_add, methods=["POST"]),
        Route("/api/set/delete", api_set_delete, methods=["POST"]),
    ]
