"""Who may use the server, decided in one place before any route runs.

:class:`Gate` wraps the whole app (an ASGI middleware, as Jupyter Server
decides in its base handler).  Every request passes three checks, in order:

1. **Host** (while the server listens on loopback only): the ``Host``
   header must be a loopback name or address (``localhost``, ``127.x.y.z``,
   ``[::1]``) with the server's port, or a name the user allowed
   (``--allow-host``, for a reverse proxy).  A page whose name a DNS
   rebinding attack has pointed at 127.0.0.1 sends its own name: 403.
2. **The token** (when there is one: always when listening beyond
   loopback): in an ``Authorization: Bearer ...`` (or ``token ...``)
   header, the ``nndl-token-PORT`` cookie, or ``?token=`` in the URL,
   compared in constant time; without it, 401 and nothing else.  A page
   opened with ``?token=`` sets the cookie (HttpOnly, SameSite=Strict) and
   is sent to the same address without the token, so the pages and their
   event streams work unchanged from then on.
3. **Origin**: a request that can change something (any method but GET and
   HEAD) must come from the server's own pages: its ``Origin`` must be this
   server (the ``Host`` it was sent to), or, without an ``Origin``, its
   ``Sec-Fetch-Site`` ``same-origin`` or ``none``.  Clients that send
   neither (curl, Python) are not browsers, and pass.  The API's answers
   are not handed to pages of other sites either: a browser marking an
   ``/api/`` request ``cross-site`` or ``same-site`` (another port of this
   machine) gets 403.

Every refusal is JSON, ``{"error": "..."}``, and happens before the app
reads the body, so a refused request changes nothing.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..errors import ConfigError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

#: Bytes of randomness in a token the server makes (256 bits).
TOKEN_BYTES = 32
#: The shortest token a user may choose.
MIN_TOKEN = 16
#: Methods that only read: every other one must come from the server's own pages.
SAFE_METHODS = ("GET", "HEAD")
#: What a request without the token is told (nothing more).
NO_TOKEN = (
    "this server needs its token: open the address it printed (with ?token=...), "
    "or send the header Authorization: Bearer TOKEN"
)


def new_token() -> str:
    """A random token for the URL, the cookie and ``Authorization``."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def check_token(token: str) -> str:
    """A token the user chose (``--token`` or ``NNDL_TOKEN``): long enough, and URL-safe."""
    if len(token) < MIN_TOKEN or not all(c.isascii() and (c.isalnum() or c in "-_.~") for c in token):
        raise ConfigError(
            f"the token must be at least {MIN_TOKEN} letters, digits, '-', '_', '.' or '~', "
            f"got {len(token)} characters{'' if token.isascii() else ' with others among them'}"
        )
    return token


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine only."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def split_host(value: str) -> tuple[str, int | None]:
    """``Host``'s name (lower case, IPv6 without brackets) and port (None if absent or not a number)."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = value.partition(":")
    return name, int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else None


@dataclass(frozen=True)
class Policy:
    """Who may come in: the server's ``port``, whether it listens on
    ``loopback`` only, the extra names allowed in ``Host`` (``hosts``), and
    the ``token`` (None: none asked)."""

    port: int
    loopback: bool = True
    hosts: frozenset[str] = field(default_factory=frozenset)
    token: str | None = None

    @classmethod
    def make(cls, port: int, loopback: bool, hosts: Iterable[str] = (), token: str | None = None) -> Policy:
        return cls(port, loopback, frozenset(h.lower().strip("[]") for h in hosts), token)

    @property
    def cookie(self) -> str:
        """The token's cookie, one per port (cookies do not tell ports apart)."""
        return f"nndl-token-{self.port}"

    def host_allowed(self, host: str) -> bool:
        name, port = split_host(host)
        if name in self.hosts:
            return True
        return is_loopback(name) and (port if port is not None else 80) == self.port

    def token_given(self, headers: dict[str, str], query: str) -> tuple[bool, bool]:
        """Whether the request carries the token, and whether in the URL's query."""
        assert self.token is not None
        kind, _, value = headers.get("authorization", "").partition(" ")
        if kind.lower() in ("bearer", "token") and self._same(value.strip()):
            return True, False
        try:
            jar = SimpleCookie(headers.get("cookie", ""))
        except CookieError:
            jar = SimpleCookie()
        if self.cookie in jar and self._same(jar[self.cookie].value):
            return True, False
        given = [v for k, v in parse_qsl(query) if k == "token"]
        return (True, True) if given and self._same(given[-1]) else (False, False)

    def _same(self, value: str) -> bool:
        assert self.token is not None
        return hmac.compare_digest(value.encode("utf-8", "replace"), self.token.encode())


def own_origin(origin: str, host: str) -> bool:
    """Whether ``origin`` is the server the request was sent to (``host``)."""
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and parts.netloc.lower() == host.lower()


@dataclass(frozen=True)
class Answer:
    """The gate's own answer, given instead of the app's: a refusal, or the
    redirect that keeps a token from the URL in a cookie."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    async def send(self, send: Send) -> None:
        """As JSON: ``{"error": message}`` (a redirect: ``{"go": location}``)."""
        body = json.dumps({"error" if self.status >= 400 else "go": self.message}).encode()
        head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        head += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]
        if self.status == 401:
            head.append((b"www-authenticate", b'Bearer realm="nndl serve"'))
        await send({"type": "http.response.start", "status": self.status, "headers": head})
        await send({"type": "http.response.body", "body": body})


class Gate:
    """The ASGI middleware applying a :class:`Policy` to every HTTP request:
    :meth:`host`, then :meth:`token`, then :meth:`origin`; the first that
    answers stops the request."""

    def __init__(self, app: ASGIApp, policy: Policy) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        answer = self.host(headers) or self.token(scope, headers) or self.origin(scope, headers)
        if answer is None:
            await self.app(scope, receive, send)
        else:
            await answer.send(send)

    def host(self, headers: dict[str, str]) -> Answer | None:
        """While on loopback: 403 unless ``Host`` names this machine (or an allowed name)."""
        host, policy = headers.get("host", ""), self.policy
        if not policy.loopback or policy.host_allowed(host):
            return None
        return Answer(
            403, f"this server answers requests for this machine only (localhost:{policy.port}), not {host[:80]!r}"
        )

    def token(self, scope: Scope, headers: dict[str, str]) -> Answer | None:
        """Where there is a token: 401 without it; a page opened with it in the
        URL gets it as a cookie, and the same address without it."""
        policy = self.policy
        if policy.token is None:
            return None
        query = scope.get("query_string", b"").decode("latin-1")
        given, in_query = policy.token_given(headers, query)
        if not given:
            return Answer(401, NO_TOKEN)
        if not (in_query and scope["method"] == "GET" and not scope["path"].startswith("/api/")):
            return None
        rest = urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "token"])
        location = scope["path"] + (f"?{rest}" if rest else "")
        cookie = f"{policy.cookie}={policy.token}; Path=/; HttpOnly; SameSite=Strict"
        return Answer(303, location, (("location", location), ("set-cookie", cookie)))

    def origin(self, scope: Scope, headers: dict[str, str]) -> Answer | None:
        """403 for a request that changes something from anywhere but the
        server's own pages, and for an API request a browser marks as another site's."""
        method, site, origin = scope["method"], headers.get("sec-fetch-site"), headers.get("origin")
        if method not in SAFE_METHODS:
            if origin is not None and not own_origin(origin, headers.get("host", "")):
                return Answer(403, f"{method} requests come only from this server's own pages, not {origin[:80]!r}")
            if origin is None and site not in (None, "same-origin", "none"):
                return Answer(403, f"{method} requests come only from this server's own pages, not {site[:20]}")
        if scope["path"].startswith("/api/") and site in ("cross-site", "same-site"):
            return Answer(403, "the API answers only this server's own pages")
        return None


__all__ = ["Answer", "Gate", "Policy", "check_token", "is_loopback", "new_token"]
