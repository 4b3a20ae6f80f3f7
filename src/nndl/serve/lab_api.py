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
``GET /api/runs/{id}/model`` and ``/history``
    The model file (``.npz``, as ``nndl train --save`` writes it) and the
    history (JSON, as ``--history`` writes it), as downloads.
``POST /api/runs/{id}/use``
    The draw page reads with this run's network from now on.
``GET /api/map/digits``
    The test digits each frame's ``map`` places (a PNG strip, labels,
    indices in the test set), fetched once by the page.
``GET /api/network/source``
    Which network the draw page reads with: ``{"run": id or null, "label": ...}``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.resources import files
from typing import Any

from ..config import TrainConfig
from ..errors import ConfigError, NNDLError
from .lab import KEYS, LAB_ENGINES, MAX_BATCH, MAX_EPOCHS, MAX_HIDDEN, PRESETS, Gone, Lab, Run, RunStateError, TooMany

#: The largest JSON body a command or start reads.
MAX_JSON = 4096
#: Seconds between keep-alive comments on a quiet event stream.
KEEPALIVE = 15.0

#: What a learner can ask of a run.
COMMANDS = ("pause", "resume", "step", "stop")
#: How the lab's errors answer (the first that fits).
STATUS = {KeyError: 404, RunStateError: 409, Gone: 410, TooMany: 503, NNDLError: 400}


def routes(lab: Lab) -> list:
    """The lab's routes, for ``lab``; ``/use`` replaces the draw page's
    network through ``app.state.lessons`` (the draw page's ``Lessons``)."""
    import anyio
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    web = files("nndl.serve") / "web"
    defaults = {k: TrainConfig().to_dict()[k] for k in KEYS}
    limits = {"max_hidden": MAX_HIDDEN, "max_epochs": MAX_EPOCHS, "max_batch": MAX_BATCH, "engines": list(LAB_ENGINES)}

    def answer(call: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """A handler from ``call(request)``, the lab's errors answered as JSON."""

        async def handle(request: Request) -> Response:
            try:
                return await call(request)
            except tuple(STATUS) as e:
                status = next(code for kind, code in STATUS.items() if isinstance(e, kind))
                message = e.args[0] if isinstance(e, KeyError) else str(e)
                return JSONResponse({"error": message}, status_code=status)

        return handle

    async def json_body(request: Request) -> Any:
        """The request's JSON body ({} if empty), read up to :data:`MAX_JSON` bytes."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_JSON:
            raise HTTPException(413, f"the body is {int(declared):,} bytes; settings take at most {MAX_JSON:,}")
        body = b""
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_JSON:
                    raise HTTPException(413, f"the body is over {MAX_JSON:,} bytes, the most settings take")
        except ClientDisconnect:
            raise ConfigError("the client went away before sending the whole body") from None
        if not body.strip():
            return {}
        try:
            return json.loads(body, parse_constant=_no_constant)
        except (ValueError, RecursionError) as e:
            raise ConfigError(f"the body must be a JSON object of settings: {str(e)[:80]}") from None

    def run_of(request: Request) -> Run:
        return lab.get(request.path_params["id"])

    async def page(request: Request) -> Response:
        return FileResponse(str(web / "train.html"), media_type="text/html")

    async def list_runs(request: Request) -> Response:
        return JSONResponse({"runs": lab.runs(), "defaults": defaults, "presets": PRESETS, "limits": limits})

    async def start(request: Request) -> Response:
        body = await json_body(request)
        run = await anyio.to_thread.run_sync(lab.start, body)
        return JSONResponse(run.status(), status_code=201)

    async def status(request: Request) -> Response:
        return JSONResponse(run_of(request).status())

    def command(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def act(request: Request) -> Response:
            run = run_of(request)
            if name != "step":
                return JSONResponse(await anyio.to_thread.run_sync(getattr(run, name)))
            body = await json_body(request)
            if not isinstance(body, dict) or set(body) - {"unit"}:
                raise ConfigError(
                    f'a step takes {{"unit": "batch"}} or {{"unit": "epoch"}}, got {json.dumps(body)[:60]}'
                )
            return JSONResponse(await anyio.to_thread.run_sync(run.step, body.get("unit", "batch")))

        return act

    async def frame(request: Request) -> Response:
        return JSONResponse(run_of(request).frame(request.path_params["done"]))

    async def map_digits(request: Request) -> Response:
        return JSONResponse(await anyio.to_thread.run_sync(lab.map_digits))

    async def model(request: Request) -> Response:
        run = run_of(request)
        data = await anyio.to_thread.run_sync(run.model_bytes)
        return Response(data, media_type="application/octet-stream", headers=_download(f"nndl-run-{run.id}.npz"))

    async def history(request: Request) -> Response:
        run = run_of(request)
        return JSONResponse(run.history().to_dict(), headers=_download(f"nndl-run-{run.id}-history.json"))

    async def use(request: Request) -> Response:
        run = run_of(request)
        params = run.parameters()
        done = run.status()["epochs"]
        after = f", after epoch {done[-1]['epoch']} ({100 * done[-1]['accuracy']:.2f} %)" if done else ""
        await anyio.to_thread.run_sync(request.app.state.lessons.replace, params)
        request.app.state.source = {"run": run.id, "label": f"the lab's run {run.id}{after}"}
        return JSONResponse(request.app.state.source)

    async def source(request: Request) -> Response:
        used = getattr(request.app.state, "source", None)
        return JSONResponse(used or {"run": None, "label": "the model nndl serve started with"})

    async def events(request: Request) -> Response:
        run = run_of(request)
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

    return [
        Route("/train", answer(page)),
        Route("/api/runs", answer(list_runs)),
        Route("/api/runs", answer(start), methods=["POST"]),
        Route("/api/runs/{id:int}", answer(status)),
        Route("/api/runs/{id:int}/events", answer(events)),
        *(Route(f"/api/runs/{{id:int}}/{name}", answer(command(name)), methods=["POST"]) for name in COMMANDS),
        Route("/api/runs/{id:int}/frames/{done:int}", answer(frame)),
        Route("/api/runs/{id:int}/model", answer(model)),
        Route("/api/runs/{id:int}/history", answer(history)),
        Route("/api/runs/{id:int}/use", answer(use), methods=["POST"]),
        Route("/api/map/digits", answer(map_digits)),
        Route("/api/network/source", answer(source)),
    ]


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _download(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


__all__ = ["routes"]
