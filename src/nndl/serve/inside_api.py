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
                           and ``a`` on ``input``
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
written 500, a full or changed set 409.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from ..errors import ConfigError, DataError, NNDLError
from ..files import check_output
from ..handwriting import MAX_SAMPLES, HandwritingSet, Samples, SetChanged, SetFull, accuracy_by_digit, default_folder
from ..inside import (
    ETA,
    MAX_ETA,
    Lessons,
    NothingToUndo,
    check_eta,
    check_label,
    check_neuron,
    column,
    effective_weights,
    look,
)
from ..modelfile import Parameters
from ..network import Network

T = TypeVar("T")

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


def inside_routes(
    net: Network,
    read_digit: Callable[..., Awaitable[np.ndarray]],
    *,
    dataset: str | os.PathLike | None = None,
    save_to: str | os.PathLike | None = None,
    lessons: Lessons | None = None,
) -> list:
    """The routes above, for ``net`` (taught in place).  ``read_digit(request)``
    turns a request's image body into the 28 x 28 input, as ``/api/predict``
    does.  ``dataset`` is the handwriting set's folder (default: the user's
    data folder); ``save_to``, if given, receives the taught network after
    every step and undo (the caller checks it with :func:`check_save_to`).
    ``lessons`` (default: new ones for ``net``) lets the caller replace the
    network too (:meth:`~nndl.inside.Lessons.replace`)."""
    import anyio
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    lessons = Lessons(net) if lessons is None else lessons  # given: shared with the training lab's "use"
    digits = net.sizes[0] == 28 * 28 and net.sizes[-1] == 10

    def check_digits() -> None:
        if not digits:
            raise HTTPException(
                400, f"the model reads {net.sizes[0]} pixels into {net.sizes[-1]} classes; digits need 784 into 10"
            )

    hand_set = HandwritingSet(default_folder() if dataset is None else dataset)
    save_to = None if save_to is None else Path(save_to)
    settings = dict(getattr(net, "settings", {}) or {})

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def read_json(request: Request) -> dict:
        """The body as a JSON object, at most :data:`MAX_JSON` bytes."""
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_JSON:
                    raise HTTPException(413, f"the request body is over {MAX_JSON:,} bytes, the most accepted")
                chunks.append(chunk)
        except ClientDisconnect:
            raise HTTPException(400, "the client went away before sending the whole body") from None
        try:
            body = json.loads(b"".join(chunks))
        except (ValueError, RecursionError) as e:
            raise HTTPException(400, f"the request body is not JSON ({' '.join(str(e).split())[:120]})") from None
        if not isinstance(body, dict):
            raise HTTPException(400, f"the request body must be a JSON object, got {type(body).__name__}")
        return body

    def field(body: dict, name: str, check: Callable[[Any], T], default: T | None = None) -> T:
        if name not in body:
            if default is not None:
                return default
            raise HTTPException(400, f"the request body has no {name!r}")
        try:
            return check(body[name])
        except ConfigError as e:
            raise HTTPException(400, str(e)) from None

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

    def query_int(request: Request, name: str, default: int) -> int:
        value = request.query_params.get(name)
        if value is None:
            return default
        if not (value.isascii() and value.isdigit() and len(value) <= 9):
            raise HTTPException(400, f"{name} must be a whole number, got {value[:40]!r}")
        return int(value)

    def rounded(a: ArrayLike, digits: int = 5) -> list:
        return np.round(np.asarray(a, np.float64), digits).tolist()

    def network_state() -> dict:
        return {"version": lessons.version, "steps": lessons.steps, "undo": lessons.can_undo}

    def save_network() -> str | None:
        """Write the taught network to ``save_to``; the path written, or None."""
        if save_to is None:
            return None
        net.save(save_to, {**settings, "taught_steps": lessons.steps})
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
                    **network_state(),
                }

        try:
            return JSONResponse(await anyio.to_thread.run_sync(answer))
        except ConfigError as e:
            return error(400, str(e))

    # -- teaching -------------------------------------------------------------

    async def api_teach(request: Request) -> JSONResponse:
        check_digits()
        body = await read_json(request)
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

        try:
            return JSONResponse(await anyio.to_thread.run_sync(teach))
        except NNDLError as e:
            return error(500, str(e))

    # -- painting weights, and how far the reading stretches ----------------

    async def api_paint(request: Request) -> JSONResponse:
        body = await read_json(request)
        neuron = field(body, "neuron", lambda v: _whole(v, "neuron"))
        stroke = field(body, "stroke", _stroke_kind, default="new")
        digit = field(body, "input", digit_input) if "input" in body else None
        missing = [name for name in ("dabs", "radius", "amount") if name not in body]
        if missing:  # the values are checked by Lessons.paint
            raise HTTPException(400, f"the request body has no {missing[0]!r}")

        def paint() -> dict:
            with lessons.lock:
                w = lessons.paint(neuron, body["dabs"], body["radius"], body["amount"], stroke == "new")
                answer = {"neuron": neuron, "weights": rounded(w, 4), "scores": None, "z": None, "a": None}
                if digit is not None:  # what the drawing now makes of it
                    seen = look(net, digit)
                    answer["scores"] = rounded(seen.scores, 6)
                    answer["z"], answer["a"] = float(seen.zs[0][neuron]), float(seen.activations[0][neuron])
                return {**answer, **network_state()}

        try:
            return JSONResponse(await anyio.to_thread.run_sync(paint))
        except ConfigError as e:
            return error(400, str(e))

    test_digits: list = []  # the bundled test set, read on first use

    async def api_robustness(request: Request) -> JSONResponse:
        check_digits()

        def measure() -> dict:
            from ..data import load
            from ..robustness import robustness

            if not test_digits:
                test_digits.append(load().test)
            with lessons.lock:  # a copy, so lessons and paint need not wait for the measuring
                params = Parameters(net.sizes, [w.copy() for w in net.weights], [b.copy() for b in net.biases])
                state = network_state()
            copy = Network.from_parameters(params)
            curves = robustness(copy, test_digits[0], ROBUSTNESS_AMOUNTS, sample=ROBUSTNESS_SAMPLE, seed=0)
            return {"curves": [c.to_dict() for c in curves.values()], **state}

        return JSONResponse(await anyio.to_thread.run_sync(measure))

    async def api_undo(request: Request) -> JSONResponse:
        def undo() -> dict:
            with lessons.lock:
                lessons.undo()
                try:
                    saved = save_network()
                except NNDLError as e:
                    raise DataError(f"undone, but {e}; that file still holds the network before the undo") from None
                return {"saved_to": saved, **network_state()}

        try:
            return JSONResponse(await anyio.to_thread.run_sync(undo))
        except NothingToUndo as e:
            return error(409, str(e))
        except NNDLError as e:
            return error(500, str(e))

    async def api_download(request: Request) -> Response:
        def model_file() -> bytes:
            with tempfile.TemporaryDirectory() as tmp, lessons.lock:
                path = net.save(Path(tmp) / "taught.npz", {**settings, "taught_steps": lessons.steps})
                return path.read_bytes()

        try:
            data = await anyio.to_thread.run_sync(model_file)
        except NNDLError as e:
            return error(500, str(e))
        name = f"nndl-taught-{lessons.steps}-steps.npz"
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # -- the handwriting set ----------------------------------------------------

    def set_answer(samples: Samples, offset: int) -> dict:
        with lessons.lock:
            scored = accuracy_by_digit(net, samples)
        n = len(samples)
        newest = range(n - 1 - offset, max(n - 1 - offset - GALLERY, -1), -1)
        return {
            "folder": str(hand_set.folder),
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
            **network_state(),
        }

    async def run_on_set(work: Callable[[], Samples], offset: int = 0) -> JSONResponse:
        check_digits()
        try:
            samples = await anyio.to_thread.run_sync(work)
            return JSONResponse(await anyio.to_thread.run_sync(set_answer, samples, offset))
        except (SetFull, SetChanged) as e:
            return error(409, str(e))
        except NNDLError as e:
            return error(500, str(e))

    async def api_set(request: Request) -> JSONResponse:
        return await run_on_set(hand_set.read, query_int(request, "offset", 0))

    async def api_set_add(request: Request) -> JSONResponse:
        body = await read_json(request)
        digit = field(body, "input", digit_input)
        label = field(body, "label", check_label)
        return await run_on_set(lambda: hand_set.add(digit, label))

    async def api_set_delete(request: Request) -> JSONResponse:
        body = await read_json(request)
        index = field(body, "index", lambda v: _whole(v, "index"))
        count = field(body, "count", lambda v: _whole(v, "count"))
        if index >= count:
            return error(400, f"index must be below count ({count}), got {index}")
        return await run_on_set(lambda: hand_set.delete(index, expect=count))

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


def _stroke_kind(value: Any) -> str:
    if value not in ("new", "more"):
        raise ConfigError(f'stroke must be "new" or "more", got {json.dumps(value)[:40]}')
    return value


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ConfigError(f"{name} must be a whole number from 0, got {value!r}")
    return value
