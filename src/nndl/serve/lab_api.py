"""The training lab's page and JSON API, mounted by :func:`nndl.serve.server.create_app`.

``GET /train`` is the lab's page (``nndl/serve/web/train.html``).  The API behind
it (every answer JSON, errors as ``{"error": "..."}``):

``GET /api/runs``
    The runs of the session (each labelled by the settings in which the
    runs differ), the default settings, presets and limits.
``POST /api/runs``
    Start a run: a JSON object with ``nndl train``'s settings (``sizes``,
    ``epochs``, ``batch_size``, ``eta``, ``seed``, ``dtype``, ``engine``),
    those left out taking its defaults, and ``paused`` to start paused.
    201 and the run's status; 400 for bad settings (``nndl train``'s
    message), 409 while another run trains.
``GET /api/runs/{id}``
    The run's status: state, position, results so far.
``GET /api/runs/{id}/events``
    Server-Sent Events: first a ``snapshot`` of everything so far, then
    ``progress`` (position and running-cost points), ``frame`` (the
    pictures before training), ``epoch`` (a result and its pictures) and
    ``state`` events; the stream ends after the run ends.
``POST /api/runs/{id}/pause``, ``/resume``, ``/step``, ``/stop``
    Commands; ``/step`` takes ``{"unit": "batch"}`` (default) or
    ``{"unit": "epoch"}``.  Each answers once done, with the run's status;
    409 where the state does not allow it.
``GET /api/runs/{id}/frames/{n}``
    The pictures after ``n`` epochs (0: before training): the weights, the
    confusion matrix, answers to a few test digits, each layer's
    ``gradients`` (mean ``|dC/dw|`` and ``|delta|`` on a fixed mini-batch)
    and the ``map`` of the last hidden layer (the PCA of the map digits'
    activations, scaled into [-1, 1], and the network's answers).
``GET /api/map/digits``
    The test digits each frame's ``map`` places (a PNG strip, labels,
    indices in the test set), fetched once by the page.
``GET /api/runs/{id}/model`` and ``/history``
    The model file (``.npz``, as ``nndl train --save`` writes it) and the
    history (JSON, as ``--history`` writes it), as downloads.
``POST /api/runs/{id}/use``
    The draw page reads with this run's network from now on.
``GET /api/network/source``
    Which network the draw page reads with: ``{"run": id or null, "label": ...}``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.resources import files
from typing import TYPE_CHECKING

from ..config import TrainConfig
from ..errors import ConfigError
from .controls import COMMANDS
from .lab import KEYS, LAB_ENGINES, MAX_BATCH, MAX_EPOCHS, MAX_HIDDEN, PRESETS, Lab, Run
from .routes import download, read_json

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

#: The largest JSON body a command or start reads.
MAX_JSON = 4096
#: Seconds between keep-alive comments on a quiet event stream.
KEEPALIVE = 15.0


def run_of(lab: Lab, request: Request) -> Run:
    """The run the path names (404 if the lab has none such)."""
    return lab.get(request.path_params["id"])


def command(lab: Lab, name: str) -> Callable[[Request], Awaitable[Response]]:
    """The route of the command ``name`` (see :data:`~.controls.COMMANDS`): it answers once done."""
    import anyio
    from starlette.responses import JSONResponse

    async def act(request: Request) -> Response:
        body = await read_json(request, MAX_JSON, empty={})
        run = run_of(lab, request)
        if name != "step":
            return JSONResponse(await anyio.to_thread.run_sync(getattr(run, name)))
        if not isinstance(body, dict) or set(body) - {"unit"}:
            raise ConfigError(f'a step takes {{"unit": "batch"}} or {{"unit": "epoch"}}, got {json.dumps(body)[:60]}')
        return JSONResponse(await anyio.to_thread.run_sync(run.step, body.get("unit", "batch")))

    return act


def events(lab: Lab) -> Callable[[Request], Awaitable[Response]]:
    """The route of a run's Server-Sent Events."""
    from starlette.responses import StreamingResponse

    async def route(request: Request) -> Response:
        run = run_of(lab, request)
        watcher = lab.watch(run, asyncio.get_running_loop())

        async def stream() -> AsyncIterator[str]:
            try:
                while True:
                    items, over = run.take(watcher)
                    for text in items:
                        yield text
                    if over:
                        return
                    try:
                        await asyncio.wait_for(watcher.wake.wait(), KEEPALIVE)
                    except asyncio.TimeoutError:
                        yield ": still here\n\n"
                    watcher.wake.clear()
            finally:
                run.unwatch(watcher)

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    return route


def routes(lab: Lab) -> list:
    """The lab's routes, for ``lab``; ``/use`` replaces the draw page's
    network through ``app.state.lessons`` (the draw page's ``Lessons``).
    Errors are raised and answered by the app (:mod:`nndl.serve.routes`)."""
    import anyio
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Route

    web = files("nndl.serve") / "web"
    defaults = {k: TrainConfig().to_dict()[k] for k in KEYS}
    limits = {"max_hidden": MAX_HIDDEN, "max_epochs": MAX_EPOCHS, "max_batch": MAX_BATCH, "engines": list(LAB_ENGINES)}

    async def page(request: Request) -> Response:
        return FileResponse(str(web / "train.html"), media_type="text/html")

    async def list_runs(request: Request) -> Response:
        return JSONResponse({"runs": lab.runs(), "defaults": defaults, "presets": PRESETS, "limits": limits})

    async def start(request: Request) -> Response:
        body = await read_json(request, MAX_JSON, empty={})
        run = await anyio.to_thread.run_sync(lab.start, body)
        return JSONResponse(run.status(), status_code=201)

    async def status(request: Request) -> Response:
        return JSONResponse(run_of(lab, request).status())

    async def frame(request: Request) -> Response:
        return JSONResponse(run_of(lab, request).frame(request.path_params["done"]))

    async def map_digits(request: Request) -> Response:
        return JSONResponse(await anyio.to_thread.run_sync(lab.map_digits))

    async def model(request: Request) -> Response:
        run = run_of(lab, request)
        data = await anyio.to_thread.run_sync(run.model_bytes)
        return Response(data, media_type="application/octet-stream", headers=download(f"nndl-run-{run.id}.npz"))

    async def history(request: Request) -> Response:
        run = run_of(lab, request)
        return JSONResponse(run.history().to_dict(), headers=download(f"nndl-run-{run.id}-history.json"))

    async def use(request: Request) -> Response:
        await read_json(request, MAX_JSON, empty={})
        run = run_of(lab, request)
        params = run.parameters()
        done = run.status()["epochs"]
        after = f", after epoch {done[-1]['epoch']} ({100 * done[-1]['accuracy']:.2f} %)" if done else ""
        await anyio.to_thread.run_sync(request.app.state.lessons.replace, params)
        request.app.state.source = {"run": run.id, "label": f"the lab's run {run.id}{after}"}
        return JSONResponse(request.app.state.source)

    async def source(request: Request) -> Response:
        used = getattr(request.app.state, "source", None)
        return JSONResponse(used or {"run": None, "label": "the model nndl serve started with"})

    return [
        Route("/train", page),
        Route("/api/runs", list_runs),
        Route("/api/runs", start, methods=["POST"]),
        Route("/api/runs/{id:int}", status),
        Route("/api/runs/{id:int}/events", events(lab)),
        *(Route(f"/api/runs/{{id:int}}/{name}", command(lab, name), methods=["POST"]) for name in COMMANDS),
        Route("/api/runs/{id:int}/frames/{done:int}", frame),
        Route("/api/runs/{id:int}/model", model),
        Route("/api/runs/{id:int}/history", history),
        Route("/api/runs/{id:int}/use", use, methods=["POST"]),
        Route("/api/map/digits", map_digits),
        Route("/api/network/source", source),
    ]


__all__ = ["routes"]
