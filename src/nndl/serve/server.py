"""``nndl serve``: a page to draw digits on, and the JSON API behind it.

``GET /`` is a plain HTML/CSS/JS page (shipped in ``nndl/serve/web``, nothing
fetched from elsewhere) with a canvas to draw a digit on, the ten output
activations as a bar chart, and the 28 x 28 input the network was given.
The page sends the canvas as PNG to ``POST /api/predict``, whose body is an
image file's bytes (any format :mod:`nndl.images` reads) and whose answer is
``{"digit": d, "scores": [10 numbers], "input": [28 rows of 28 bytes]}``.
Bad requests get a 4xx status and ``{"error": "..."}``.

A request's body is bounded before it is read whole: a ``Content-Length``
over :data:`MAX_BODY` is refused at once (413), and a body without one is
counted while it streams in and refused as soon as it passes the bound.
Decoding runs in worker threads, at most :data:`DECODERS` at a time, so
memory stays bounded however many clients send at once.  Built on Starlette
and served by uvicorn, on loopback unless told otherwise.

Slow and idle clients cannot take the server from others: a client has
:data:`REQUEST_TIMEOUT` seconds to send a whole request (head and body)
and the API :data:`BODY_TIMEOUT` seconds to receive a body (408 after
that); at most :data:`MAX_CONNECTIONS` connections are held, and a new one
beyond that closes the connection idle the longest, so idle sockets never
lock others out -- only when every connection is busy with a request does a
newcomer get 503.  Every answer, refusals included, is JSON.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from collections.abc import Callable
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError, require
from ..network import Network

if TYPE_CHECKING:
    import asyncio

    import numpy as np
    import starlette.applications
    import uvicorn
    from starlette.types import Receive, Scope, Send
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from .lab import Lab

#: The largest request body (bytes) the API reads.
MAX_BODY = 4 * 2**20
#: Images decoded at once; more requests wait their turn.
DECODERS = 2
#: Connections held at once; beyond it the longest idle one is closed (503 if none is idle).
MAX_CONNECTIONS = 64
#: Seconds a client has to send a whole request, from connecting or from the end of the previous answer.
REQUEST_TIMEOUT = 20.0
#: Seconds the API waits for a request's body once it starts reading it.
BODY_TIMEOUT = 10.0
#: Seconds an idle keep-alive connection stays open after an answer.
KEEP_ALIVE = 5
#: The largest request head (request line and headers), in bytes.
MAX_HEAD = 16 * 1024


def check_installed() -> None:
    """Raise a one-line error naming the extra if the web framework or the
    server is missing (before anything slow, like training a model, starts)."""
    for module in ("starlette", "uvicorn", "PIL.Image"):
        require(module, "nndl serve", "web")


def create_app(
    net: Network,
    *,
    max_body: int = MAX_BODY,
    body_timeout: float = BODY_TIMEOUT,
    dataset: str | os.PathLike | None = None,
    save_to: str | os.PathLike | None = None,
    lab: Lab | None = None,
) -> starlette.applications.Starlette:
    """The Starlette application serving the page and ``/api/predict`` for
    ``net``, with the routes of :mod:`nndl.serve.inside_api` (``dataset``: the
    handwriting set's folder; ``save_to``: where the taught network goes)
    and of the training lab, :mod:`nndl.serve.lab_api`, for ``lab`` (default: a
    new :class:`~nndl.serve.lab.Lab` on the bundled MNIST)."""
    check_installed()
    import anyio
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from ..images import load_digit
    from ..inside import Lessons
    from ..predict import predict_digits
    from .inside_api import inside_routes
    from .lab import Lab
    from .lab_api import routes as lab_routes

    web = files("nndl.serve") / "web"
    decoders = anyio.CapacityLimiter(DECODERS)

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def read_body(request: Request) -> bytes:
        """The body, or an HTTPException as soon as it is known to be too big."""
        declared = request.headers.get("content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                raise HTTPException(400, f"Content-Length must be a number of bytes, got {declared[:40]!r}")
            if int(declared) > max_body:
                raise HTTPException(413, f"the image is {int(declared):,} bytes; at most {max_body:,} are accepted")
        chunks, size = [], 0
        with anyio.move_on_after(body_timeout) as waiting:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body:
                    raise HTTPException(413, f"the image is over {max_body:,} bytes, the most accepted")
                chunks.append(chunk)
        if waiting.cancelled_caught:
            late = f"the body did not arrive within {body_timeout:g} s ({size:,} bytes came)"
            raise HTTPException(408, late, headers={"Connection": "close"})
        return b"".join(chunks)

    async def read_digit(request: Request) -> np.ndarray:
        """The 28 x 28 input made from the image in the body, or an HTTPException."""
        try:
            body = await read_body(request)
        except ClientDisconnect:  # nobody is left to answer
            raise HTTPException(400, "the client went away before sending the whole body") from None
        if not body:
            raise HTTPException(400, "the request body is empty: send an image file's bytes (e.g. a PNG) as the body")
        try:
            return await anyio.to_thread.run_sync(load_digit, body, "the request body", limiter=decoders)
        except DataError as e:
            raise HTTPException(400, str(e)) from None

    async def api_predict(request: Request) -> JSONResponse:
        digit = await read_digit(request)
        (p,) = predict_digits(net, digit[None])
        return JSONResponse({**p.to_dict(), "input": p.input.tolist()})

    async def index(request: Request) -> FileResponse:
        return FileResponse(str(web / "index.html"), media_type="text/html")

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        answer = error(exc.status_code, str(exc.detail))
        answer.headers.update(exc.headers or {})
        return answer

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return error(500, f"the server failed on this request ({type(exc).__name__}); it goes on serving")

    lessons = Lessons(net)  # the draw page's network, taught in place, or replaced by a run of the lab
    lab = Lab() if lab is None else lab
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/predict", api_predict, methods=["POST"]),
            *inside_routes(net, read_digit, dataset=dataset, save_to=save_to, lessons=lessons),
            *lab_routes(lab),
            Mount("/static", StaticFiles(directory=str(web)), name="static"),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},  # type: ignore[dict-item]  # Starlette's types want (Request, Exception)
    )
    app.state.lab, app.state.lessons = lab, lessons
    return app


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"port must be from 0 to 65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as e:
        raise ConfigError(f"cannot listen on host {host!r}: {e}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host} port {port}: {e.strerror}") from None
    return sock


def url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(
    net: Network,
    sock: socket.socket,
    *,
    max_connections: int = MAX_CONNECTIONS,
    request_timeout: float = REQUEST_TIMEOUT,
    keep_alive: int = KEEP_ALIVE,
    **app_options: Any,
) -> uvicorn.Server:
    """A uvicorn server for :func:`create_app` (``net``), to be run on ``sock``
    with ``server.run(sockets=[sock])``; set ``server.should_exit`` to stop it.

    It speaks HTTP/1.1 only (no WebSocket upgrade), through
    :func:`guarded_protocol`'s limits."""
    check_installed()
    import asyncio

    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # stop the lab's runs and end their event streams, which would otherwise hold the shutdown up
            await asyncio.to_thread(app.state.lab.close)
            await super().shutdown(sockets)

    app = create_app(net, **app_options)
    config = uvicorn.Config(
        app,
        http=guarded_protocol(max_connections, request_timeout),
        ws="none",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=keep_alive,
        h11_max_incomplete_event_size=MAX_HEAD,
        timeout_graceful_shutdown=5,
    )
    return Server(config)


def _json_answer(status: int, message: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of a JSON error answer that closes the connection."""
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return [*headers, (b"connection", b"close")], body


def guarded_protocol(max_connections: int, request_timeout: float) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol (h11) with two limits added.

    * **A deadline per request.**  From connecting, or from the end of its
      previous answer, a client has ``request_timeout`` seconds to send a
      whole request; one that sends nothing, or its head or body a byte at a
      time, or less body than its ``Content-Length``, is disconnected.  (The
      time the server takes to answer does not count.)
    * **A connection limit idle sockets cannot exhaust.**  Beyond
      ``max_connections`` the connection waiting longest for a request is
      closed to make room; only when none is waiting (each is sending a
      request or being answered) does the newcomer get a 503 JSON answer.

    uvicorn's own plain-text 400 for a broken request becomes JSON too.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    waiting = (h11.IDLE, h11.SEND_BODY)  # the client still owes us (part of) a request
    head, body = _json_answer(503, "the server is busy: every connection is in use; try again in a moment")

    async def busy(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": [*head, (b"retry-after", b"1")]})
        await send({"type": "http.response.body", "body": body})

    class GuardedProtocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as H11Protocol's
            super().connection_made(transport)
            self._deadline: asyncio.TimerHandle | None = None
            self._restart_clock()
            if len(self.connections) > max_connections:
                idle = [c for c in self.connections if isinstance(c, GuardedProtocol) and c is not self and c._idle()]
                if idle:
                    min(idle, key=lambda c: c._since)._drop()
                else:
                    self.app = busy

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._restart_clock()

        def send_400_response(self, msg: str) -> None:
            headers, data = _json_answer(400, "the request is not valid HTTP/1.1 (or its head is too long)")
            for event in (h11.Response(status_code=400, headers=headers), h11.Data(data=data), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event))
            self.transport.close()

        def _restart_clock(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._since = self.loop.time()
            self._deadline = self.loop.call_later(request_timeout, self._expire)

        def _idle(self) -> bool:
            """Waiting for a request to begin, with no answer under way."""
            return self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)

        def _expire(self) -> None:
            self._deadline = None
            if self.conn.their_state in waiting:
                self._drop()

        def _drop(self) -> None:
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedProtocol


def serve(
    net: Network,
    host: str = "127.0.0.1",
    port: int = 8000,
    say: Callable[[str], None] | None = None,
    **app_options: Any,
) -> None:
    """Serve the page and the API for ``net`` until interrupted
    (``app_options`` go to :func:`create_app`)."""
    say = say or print
    sock = listen(host, port)
    server = make_server(net, sock, **app_options)
    say(f"Draw a digit at {url(sock)}, watch a network learn at {url(sock)}train (Ctrl-C stops the server)")
    if not ipaddress.ip_address(sock.getsockname()[0]).is_loopback:
        say("Note: this address is reachable from other machines, not only this one")
    with sock:
        server.run(sockets=[sock])
