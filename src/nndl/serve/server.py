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
from collections.abc import Callable, Iterable
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, require
from ..network import Network
from .gate import Gate, Policy, is_loopback, new_token

if TYPE_CHECKING:
    import asyncio

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
    policy: Policy,
) -> starlette.applications.Starlette:
    """The Starlette application serving the page and ``/api/predict`` for
    ``net``, with the routes of :mod:`nndl.serve.inside_api` (``dataset``: the
    handwriting set's folder; ``save_to``: where the taught network goes)
    and of the training lab, :mod:`nndl.serve.lab_api`, for ``lab`` (default: a
    new :class:`~nndl.serve.lab.Lab` on the bundled MNIST), the whole behind
    :class:`~nndl.serve.gate.Gate` with ``policy`` (who may come in)."""
    check_installed()
    import anyio
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from ..inside import Lessons
    from ..predict import predict_digits
    from .inside_api import inside_routes
    from .lab import Lab
    from .lab_api import routes as lab_routes
    from .routes import handlers, read_digit

    web = files("nndl.serve") / "web"

    async def api_predict(request: Request) -> JSONResponse:
        digit = await read_digit(request)
        (p,) = predict_digits(net, digit[None])
        return JSONResponse({**p.to_dict(), "input": p.input.tolist()})

    async def index(request: Request) -> FileResponse:
        return FileResponse(str(web / "index.html"), media_type="text/html")

    async def chapter(request: Request) -> FileResponse:
        return FileResponse(str(web / "chapter.html"), media_type="text/html")

    lessons = Lessons(net)  # the draw page's network, taught in place, or replaced by a run of the lab
    lab = Lab() if lab is None else lab
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/chapter", chapter),
            Route("/api/predict", api_predict, methods=["POST"]),
            *inside_routes(net, dataset=dataset, save_to=save_to, lessons=lessons),
            *lab_routes(lab),
            Mount("/static", StaticFiles(directory=str(web)), name="static"),
        ],
        exception_handlers=handlers(),
        middleware=[Middleware(Gate, policy=policy)],  # before any route: Host, token, Origin
    )
    # what every route reads (nndl.serve.routes): the body's bounds, the image decoders
    app.state.max_body, app.state.body_timeout = max_body, body_timeout
    app.state.decoders = anyio.CapacityLimiter(DECODERS)
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


def loopback(sock: socket.socket) -> bool:
    """Whether ``sock`` listens on this machine only."""
    return is_loopback(sock.getsockname()[0])


def url(sock: socket.socket, path: str = "", token: str | None = None) -> str:
    """The address of ``path`` on ``sock`` (this machine's loopback address where
    it listens on every address), with ``token`` in the query if given."""
    host, port = sock.getsockname()[:2]
    if ipaddress.ip_address(host).is_unspecified:
        host = "::1" if ":" in host else "127.0.0.1"
    query = f"?token={token}" if token else ""
    return f"http://[{host}]:{port}/{path}{query}" if ":" in host else f"http://{host}:{port}/{path}{query}"


def make_server(
    net: Network,
    sock: socket.socket,
    *,
    max_connections: int = MAX_CONNECTIONS,
    request_timeout: float = REQUEST_TIMEOUT,
    keep_alive: int = KEEP_ALIVE,
    token: str | None = None,
    allow_hosts: Iterable[str] = (),
    **app_options: Any,
) -> uvicorn.Server:
    """A uvicorn server for :func:`create_app` (``net``), to be run on ``sock``
    with ``server.run(sockets=[sock])``; set ``server.should_exit`` to stop it.
    ``token`` (None: none) is asked of every request; while ``sock`` listens
    on loopback, ``Host`` must name this machine or one of ``allow_hosts``.

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

    policy = Policy.make(sock.getsockname()[1], loopback(sock), allow_hosts, token)
    app = create_app(net, policy=policy, **app_options)
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
    *,
    token: str | None = None,
    no_token: bool = False,
    allow_hosts: Iterable[str] = (),
    **app_options: Any,
) -> None:
    """Serve the page and the API for ``net`` until interrupted
    (``app_options`` go to :func:`create_app`).

    Listening beyond loopback asks every request for a token: ``token`` if
    given, else a new random one, printed in the addresses; ``no_token``
    turns that off, with a warning.  On loopback a ``token`` given is asked too."""
    say = say or print
    if token is not None and no_token:
        raise ConfigError("--token and --no-token contradict each other: give one")
    sock = listen(host, port)
    local = loopback(sock)
    if token is None and not local and not no_token:
        token = new_token()
    server = make_server(net, sock, token=token, allow_hosts=allow_hosts, **app_options)
    say(
        f"Draw a digit at {url(sock, '', token)}, watch a network learn at {url(sock, 'train', token)}, "
        f"play with the chapter's first half at {url(sock, 'chapter', token)} (Ctrl-C stops the server)"
    )
    if not local:
        name = socket.gethostname()
        other = f"http://{name}:{sock.getsockname()[1]}/" + (f"?token={token}" if token else "")
        say(f"Other machines can reach this server, at {other} for example")
        if token is None:
            say(
                "Warning: --no-token: anyone who can reach this port can read and change your handwriting set "
                "and the network, and start runs"
            )
    with sock:
        server.run(sockets=[sock])
