"""What every route of the server shares: reading a request's body (bounded
in size and in time), its JSON and its query, and answering errors.

Every body is read by :func:`read_body`: a ``Content-Length`` over the
route's limit is refused at once (413), a streamed body as soon as it passes
it, and one that does not arrive within the app's body deadline gets 408.
A route says what it accepts by the ``Content-Type`` it asks for: JSON
routes take ``application/json`` (:func:`read_json`), image routes an image
or ``application/octet-stream`` (:func:`read_image_bytes`).  Neither is a
type a cross-site form or a "simple" cross-site ``fetch`` may send, so no
other site's page can post to them without the browser asking first (and
nobody answers its preflight); anything else is 415.

Errors are raised, never answered route by route: :data:`STATUS` maps each
of the library's errors to its status, and :func:`answer_error` (the app's
handler) answers each as ``{"error": "..."}``.  Anything not in the table --
a ``KeyError`` from a bug included -- is a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigError, DataError, MissingExtraError, NNDLError
from ..handwriting import SetChanged, SetFull
from ..inside import NothingToUndo
from .lab import Gone, NoSuchRun, RunStateError, TooMany

if TYPE_CHECKING:
    import numpy as np
    from starlette.requests import Request
    from starlette.responses import JSONResponse

T = TypeVar("T")

#: Seconds a route waits for a request's body once it starts reading it (the app may set its own).
BODY_TIMEOUT = 10.0
#: The largest JSON body a route reads unless it says otherwise.
MAX_JSON = 64 * 2**10
#: Types of an image body: none a cross-site form or simple ``fetch`` can send.
IMAGE_TYPES = ("image/", "application/octet-stream")


class Refused(NNDLError):
    """A request answered with its own status (``status``) and message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.headers = status, headers or {}


#: The status of each error a route may raise: the first class in the
#: exception's ancestry that is here decides.
STATUS: dict[type[Exception], int] = {
    NoSuchRun: 404,
    RunStateError: 409,
    NothingToUndo: 409,
    SetFull: 409,
    SetChanged: 409,
    Gone: 410,
    TooMany: 503,
    ConfigError: 400,
    MissingExtraError: 400,
    NNDLError: 500,  # a file the server could not read or write
}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one shape of every error answer: ``{"error": message}``."""
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def answer_error(request: Request, exc: Exception) -> JSONResponse:
    """The app's handler for the library's errors (see :data:`STATUS`) and Starlette's ``HTTPException``."""
    from starlette.exceptions import HTTPException

    if isinstance(exc, Refused):
        return error(exc.status, str(exc), exc.headers)
    if isinstance(exc, HTTPException):
        return error(exc.status_code, str(exc.detail), dict(exc.headers or {}))
    status = next(code for kind, code in STATUS.items() if isinstance(exc, kind))
    return error(status, str(exc))


async def answer_bug(request: Request, exc: Exception) -> JSONResponse:
    """A bug in the server: 500, and it goes on serving."""
    return error(500, f"the server failed on this request ({type(exc).__name__}); it goes on serving")


def handlers() -> dict[Any, Callable]:
    """The app's ``exception_handlers``: the library's errors, Starlette's, and bugs."""
    from starlette.exceptions import HTTPException

    return {**dict.fromkeys([*STATUS, Refused, HTTPException], answer_error), Exception: answer_bug}


def media_type(request: Request) -> str:
    """The request's ``Content-Type`` without its parameters, in lower case ('' if none)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_body(request: Request, limit: int, what: str = "the request body") -> bytes:
    """The body, at most ``limit`` bytes, arriving within the app's body deadline
    (``app.state.body_timeout``); :class:`Refused` (400, 408, 413) otherwise."""
    import anyio
    from starlette.requests import ClientDisconnect

    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise Refused(400, f"Content-Length must be a number of bytes, got {declared[:40]!r}")
        if int(declared) > limit:
            raise Refused(413, f"{what} is {int(declared):,} bytes; at most {limit:,} are accepted")
    timeout = getattr(request.app.state, "body_timeout", BODY_TIMEOUT)
    chunks, size = [], 0
    try:
        with anyio.move_on_after(timeout) as waiting:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise Refused(413, f"{what} is over {limit:,} bytes; at most {limit:,} are accepted")
                chunks.append(chunk)
    except ClientDisconnect:  # nobody is left to answer
        raise Refused(400, "the client went away before sending the whole body") from None
    if waiting.cancelled_caught:
        late = f"the body did not arrive within {timeout:g} s ({size:,} bytes came)"
        raise Refused(408, late, {"Connection": "close"})
    return b"".join(chunks)


def check_type(request: Request, accepted: tuple[str, ...], what: str) -> None:
    """415 unless the body's ``Content-Type`` starts with one of ``accepted``."""
    kind = media_type(request)
    if not kind.startswith(accepted):
        shown = f"Content-Type {kind[:60]!r}" if kind else "no Content-Type"
        kinds = " or ".join(f"{a}*" if a.endswith("/") else a for a in accepted)
        raise Refused(415, f"this takes {what} (Content-Type {kinds}), got {shown}")


async def read_image_bytes(request: Request, limit: int) -> bytes:
    """An image file's bytes from the body (``image/*`` or ``application/octet-stream``)."""
    check_type(request, IMAGE_TYPES, "an image file's bytes")
    body = await read_body(request, limit, "the image")
    if not body:
        raise Refused(400, "the request body is empty: send an image file's bytes (e.g. a PNG) as the body")
    return body


async def read_json(request: Request, limit: int = MAX_JSON, empty: Any = None) -> Any:
    """The body's JSON value (``application/json``, at most ``limit`` bytes).
    An empty body without a ``Content-Type`` is ``empty`` where given (a
    command without options); NaN and infinities are not JSON and are refused."""
    if media_type(request) or empty is None:
        check_type(request, ("application/json",), "JSON")
    body = await read_body(request, limit)
    if not body.strip() and empty is not None:
        return empty
    check_type(request, ("application/json",), "JSON")  # a body without a type is not JSON
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise Refused(400, f"the request body is not JSON ({' '.join(str(e).split())[:120]})") from None


async def read_object(request: Request, limit: int = MAX_JSON, empty: dict | None = None) -> dict:
    """The body as a JSON object (see :func:`read_json`)."""
    body = await read_json(request, limit, empty)
    if not isinstance(body, dict):
        raise Refused(400, f"the request body must be a JSON object, got {type(body).__name__}")
    return body


def field(body: dict, name: str, check: Callable[[Any], T], default: T | None = None) -> T:
    """``check(body[name])`` (``default`` if left out and given); 400 naming the field otherwise."""
    if name not in body:
        if default is not None:
            return default
        raise Refused(400, f"the request body has no {name!r}")
    return check(body[name])  # a ConfigError is a 400


def query_int(request: Request, name: str, default: int) -> int:
    """A whole number from the query (``default`` if absent)."""
    value = request.query_params.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= 9):
        raise Refused(400, f"{name} must be a whole number, got {value[:40]!r}")
    return int(value)


def download(name: str) -> dict[str, str]:
    """The headers that make an answer a download named ``name``."""
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


async def read_digit(request: Request) -> np.ndarray:
    """The 28 x 28 input made from the image in the body (at most the app's
    ``max_body`` bytes), decoded in a worker thread, at most the app's
    ``decoders`` at a time."""
    import anyio

    from ..images import load_digit

    state = request.app.state
    body = await read_image_bytes(request, state.max_body)
    try:
        return await anyio.to_thread.run_sync(load_digit, body, "the request body", limiter=state.decoders)
    except DataError as e:
        raise Refused(400, str(e)) from None
