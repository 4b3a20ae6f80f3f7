"""``nndl serve``: a page to draw digits on, and the JSON API behind it.

``GET /`` is a plain HTML/CSS/JS page (shipped in ``nndl/web``, nothing
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
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, DataError, require
from .network import Network

if TYPE_CHECKING:
    import starlette.applications
    import uvicorn

#: The largest request body (bytes) the API reads.
MAX_BODY = 4 * 2**20
#: Images decoded at once; more requests wait their turn.
DECODERS = 2
#: Connections served at once; uvicorn answers 503 beyond this.
MAX_CONNECTIONS = 64


def check_installed() -> None:
    """Raise a one-line error naming the extra if the web framework or the
    server is missing (before anything slow, like training a model, starts)."""
    for module in ("starlette", "uvicorn", "PIL.Image"):
        require(module, "nndl serve", "web")


def create_app(net: Network, *, max_body: int = MAX_BODY) -> starlette.applications.Starlette:
    """The Starlette application serving the page and ``/api/predict`` for ``net``."""
    check_installed()
    import anyio
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from .images import load_digit
    from .predict import predict_digits

    web = files("nndl") / "web"
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
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise HTTPException(413, f"the image is over {max_body:,} bytes, the most accepted")
            chunks.append(chunk)
        return b"".join(chunks)

    async def api_predict(request: Request) -> JSONResponse:
        try:
            body = await read_body(request)
        except ClientDisconnect:  # nobody is left to answer
            return error(400, "the client went away before sending the whole body")
        if not body:
            return error(400, "the request body is empty: send an image file's bytes (e.g. a PNG) as the body")
        try:
            digit = await anyio.to_thread.run_sync(load_digit, body, "the request body", limiter=decoders)
        except DataError as e:
            return error(400, str(e))
        (p,) = predict_digits(net, digit[None])
        return JSONResponse({**p.to_dict(), "input": p.input.tolist()})

    async def index(request: Request) -> FileResponse:
        return FileResponse(str(web / "index.html"), media_type="text/html")

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        answer = error(exc.status_code, str(exc.detail))
        answer.headers.update(exc.headers or {})
        return answer

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/predict", api_predict, methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(web)), name="static"),
        ],
        exception_handlers={HTTPException: http_error},  # type: ignore[dict-item]  # Starlette's types want (Request, Exception)
    )


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


def make_server(net: Network, sock: socket.socket, **app_options: Any) -> uvicorn.Server:
    """A uvicorn server for :func:`create_app` (``net``), to be run on ``sock``
    with ``server.run(sockets=[sock])``; set ``server.should_exit`` to stop it."""
    check_installed()
    import uvicorn

    config = uvicorn.Config(
        create_app(net, **app_options),
        log_level="warning",
        access_log=False,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def serve(net: Network, host: str = "127.0.0.1", port: int = 8000, say: Callable[[str], None] | None = None) -> None:
    """Serve the page and the API for ``net`` until interrupted."""
    say = say or print
    sock = listen(host, port)
    server = make_server(net, sock)
    say(f"Draw a digit at {url(sock)} (Ctrl-C stops the server)")
    if not ipaddress.ip_address(sock.getsockname()[0]).is_loopback:
        say("Note: this address is reachable from other machines, not only this one")
    with sock:
        server.run(sockets=[sock])
