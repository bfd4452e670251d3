"""``mastery serve``: the workshop pages from one Solara server process, with the security settings.

The pages are :mod:`mastery_analysis.sessions` (``/participant`` and ``/coach``): each browser
tab is a light session (a Solara *virtual kernel*) inside this one process, not a process of
its own. (``--processes N`` runs N such processes behind :mod:`mastery_analysis.dispatch`.) A browser talks to its session only in widget (comm) messages, so it cannot run
code; it can still set any widget trait, which is why the pages bind the person in Python at
sign-in (:mod:`mastery_analysis.widgets.app`). Around the Solara application, this module's
ASGI middleware (:class:`MasteryMiddleware`) sets:

- **a page-load limit per client address** (HTTP 429), sized for a room behind one address,
  and a cap on open sessions (HTTP 503 for a page, a refused websocket for a new session);
- **the client's address passed to the session** (the ``x-mastery-client`` header on its
  websocket, after removing any the browser sent), for the per-address budget of wrong codes;
- **idle sessions closed** (a session idle for ``cull_idle_timeout`` seconds is closed, even
  with its tab open: the person reloads), and a session whose tab went away closed as soon;
- **security headers** (Content-Security-Policy, X-Frame-Options, Referrer-Policy,
  X-Content-Type-Options, Permissions-Policy) and no tracebacks on pages; only the two pages
  and the assets they need are served (no Solara diagnostics routes);
- **session ids kept out of the log** (with the session cookie they reattach a session):
  every log line has them replaced by ``<kernel>``; Solara's telemetry is switched off, and
  every asset comes from this server (``solara-assets``), so no request leaves the machine;
- **exposure**: serving on anything but loopback needs ``--token`` (one shared secret that
  gates the whole server, typed on its login page) or ``--behind-proxy`` (a TLS reverse proxy
  in front, whose ``X-Real-IP`` / ``X-Forwarded-For`` then give the client's address), and
  refuses to start otherwise.

The store is the one ``--store`` names (the process opens it once, as ``$MASTERY_STORE``).
SQLite stores run with ``synchronous=FULL``: a check-in the page called "Saved" is on disk.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import html
import ipaddress
import logging
import os
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .errors import MasteryError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8866


def default_processes() -> int:
    """``mastery serve``'s server processes unless told: one per core (one process runs Python
    on about one core), at most 4 (each costs about 300 MiB before its first page)."""
    return max(1, min(4, os.cpu_count() or 1))
PARTICIPANT_PATH = "/participant"
COACH_PATH = "/coach"
LOGIN_PATH = "/login"
PLOTLY_PATH = "/_mastery/plotly.min.js"
ADDRESS_HEADER = b"x-mastery-client"
TOKEN_COOKIE = "mastery-token"

#: The Content-Security-Policy of every response. Solara's page needs inline scripts and
#: styles (its own bootstrap), eval (Vue templates) and blob: modules (widgets' own code);
#: all of it comes from this server: no other origin, no framing, no plugins, downloads of
#: the reports as data: links.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self' ws: wss: blob:",
    "worker-src 'self' blob:",
    "frame-src 'none'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_KERNEL_ID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
#: What a browser may ask for besides the pages: Solara's assets and its websocket.
_ASSET_PREFIXES = ("/_solara/cdn/", "/static/", "/jupyter/api/kernels/", "/jupyter/nbextensions/",
                   "/_solara/api/close/", "/_mastery/")
_PAGES = ("/", PARTICIPANT_PATH, COACH_PATH)


class ServeError(MasteryError):
    """``mastery serve`` cannot start as asked (an exposed host without protection, a bad option)."""


@dataclass(frozen=True)
class ServeSettings:
    """What ``mastery serve`` runs with.

    Attributes
    ----------
    store : str
        The store URL (resolved; the server opens it as ``$MASTERY_STORE``).
    host : str
        The address to listen on (default loopback only).
    port : int
    token : str or None
        A secret gating the whole server (typed once on its login page).
    behind_proxy : bool
        A reverse proxy (terminating TLS) is in front: trust its ``X-Real-IP`` and
        ``X-Forwarded-For`` headers for the client's address, and mark cookies Secure.
    page_loads_per_minute : int
        Page loads allowed per client address per minute; 0: no limit. The default lets a
        room of 500 behind one address (a venue's Wi-Fi) load and reload its pages.
    max_pages : int
        Sessions (open pages) at once; more get HTTP 503. Each costs a few MB.
    cull_idle_timeout : int
        Seconds after which an idle session is closed (even with its tab open).
    cull_interval : int
        Seconds between checks for idle sessions.
    base_url : str
        The path the pages live under (``/services/mastery/`` behind a proxy, say).
    workers : int
        Worker processes for slow work (report renders).
    processes : int
        Server processes. With more than one, this process dispatches each connection to one
        of them, a session always to the same (:mod:`mastery_analysis.dispatch`); a room
        needs one per core.
    dispatched : bool
        Set for the server processes behind that dispatcher: the client's address comes from
        its ``x-mastery-peer`` header. Not an option.
    """

    store: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    behind_proxy: bool = False
    page_loads_per_minute: int = 1200
    max_pages: int = 1000
    cull_idle_timeout: int = 900
    cull_interval: int = 60
    base_url: str = "/"
    workers: int = 2
    processes: int = 1
    dispatched: bool = False

    def __post_init__(self):
        for name in ("port", "page_loads_per_minute", "max_pages", "cull_idle_timeout", "cull_interval",
                     "workers", "processes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ServeError(f"--{name.replace('_', '-')} must be a whole number of 0 or more, "
                                 f"not {value!r}")
        if not 0 < self.port < 65536:
            raise ServeError(f"--port must be from 1 to 65535, not {self.port}")
        if self.max_pages < 1:
            raise ServeError("--max-pages must be at least 1")
        if self.workers < 1:
            raise ServeError("--workers must be at least 1")
        if not 1 <= self.processes <= 64:
            raise ServeError(f"--processes must be from 1 to 64, not {self.processes}")
        if not re.fullmatch(r"/([A-Za-z0-9._~-]+/)*", self.base_url):
            raise ServeError(f"--base-url must be a path like /services/mastery/, not {self.base_url!r}")
        if self.token is not None and len(self.token) < 16:
            raise ServeError("--token must be at least 16 characters (e.g. the output of "
                             "`python -c 'import secrets; print(secrets.token_urlsafe(24))'`)")


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def protection(settings: ServeSettings) -> list[str]:
    """What protects the server, one line each; raises :class:`ServeError` when it is exposed
    beyond this machine with nothing in front of it."""
    from .access import ADDRESS_FREE_FAILURES, LOCKOUT, MAX_FAILURES

    lines = []
    if is_loopback(settings.host):
        lines.append(f"listening on {settings.host} only: nobody on another machine can reach it")
    elif not (settings.token or settings.behind_proxy):
        raise ServeError(
            f"--host {settings.host} exposes the server to the network, where codes and answers "
            "would cross it unprotected. Either put a TLS reverse proxy in front and pass "
            "--behind-proxy (docs/workshop.md has an nginx example), or at least pass --token "
            "SECRET so that only people who know it reach the pages; or serve on 127.0.0.1.")
    else:
        lines.append(f"listening on {settings.host}: reachable from the network")
    if settings.token:
        lines.append("a token: every browser must type it once on the login page")
    if settings.behind_proxy:
        lines.append("a reverse proxy in front (it must terminate TLS and set X-Real-IP or "
                     "X-Forwarded-For; only the proxy should reach this port)")
    elif not is_loopback(settings.host):
        lines.append("NO TLS: codes and answers cross the network in clear text; put a TLS "
                     "reverse proxy in front for anything but a trusted network")
    limit = (f"{settings.page_loads_per_minute} page loads per minute per address"
             if settings.page_loads_per_minute else "no page-load limit")
    lines.append(f"{limit}, at most {settings.max_pages} pages open, idle pages closed after "
                 f"{settings.cull_idle_timeout // 60} min; {MAX_FAILURES} wrong tries lock a code for "
                 f"{int(LOCKOUT.total_seconds()) // 60} min; past {ADDRESS_FREE_FAILURES} wrong "
                 "tries an hour from one address, each wrong answer there comes slower")
    return lines


# ----------------------------------------------------------------------------- limits
class PageLoadLimiter:
    """Page loads per client address in a sliding window of one minute.

    Parameters
    ----------
    per_minute : int
        Loads allowed per address in any 60 seconds; 0 allows everything.
    clock : callable
        Seconds (monotonic); tests pass their own.
    """

    def __init__(self, per_minute: int, *, clock=time.monotonic):
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        """Count one load from ``address``; False when it is over the limit (not counted then)."""
        if not self.per_minute:
            return True
        now = self._clock()
        with self._lock:
            if len(self._seen) > 10_000:  # forget addresses that have been quiet for a minute
                self._seen = {a: q for a, q in self._seen.items() if q and now - q[-1] < 60}
            seen = self._seen.setdefault(address, collections.deque())
            while seen and now - seen[0] >= 60:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return False
            seen.append(now)
            return True


def _normal_ip(text: str) -> str:
    try:
        ip = ipaddress.ip_address(str(text).strip().strip("[]").split("%")[0])
    except ValueError:
        return "unknown"
    # an IPv4 client of a dual-stack socket is the same client as its IPv4 address
    return str(ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped else ip)


def client_address(scope: dict, *, behind_proxy: bool = False, dispatched: bool = False) -> str:
    """The client's IP address of an ASGI request, normalised; ``"unknown"`` if it is not one.

    Behind a proxy (``--behind-proxy``) it is the proxy's ``X-Real-IP``, else the last entry of
    its ``X-Forwarded-For`` (the one the proxy added; earlier ones the client may have forged).
    Otherwise, in a server process behind ``mastery serve --processes`` (``dispatched``), it is
    the dispatcher's ``x-mastery-peer`` (the dispatcher removes any the client sent); else the
    connection's peer.
    """
    if behind_proxy or dispatched:
        headers = {}
        for key, value in scope.get("headers", []):
            headers.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
    if behind_proxy:
        if headers.get("x-real-ip"):
            return _normal_ip(headers["x-real-ip"])
        if headers.get("x-forwarded-for"):
            return _normal_ip(headers["x-forwarded-for"].split(",")[-1])
    if dispatched:
        return _normal_ip(headers.get("x-mastery-peer", ""))
    client = scope.get("client") or ("",)
    return _normal_ip(client[0] or "")


class IdleSessions:
    """When each session (virtual kernel) last heard from its browser; closes idle ones.

    Parameters
    ----------
    timeout : float
        Seconds without a message after which a session is closed.
    clock : callable
    """

    def __init__(self, timeout: float, *, clock=time.monotonic):
        self.timeout = timeout
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def touch(self, kernel_id: str) -> None:
        with self._lock:
            self._last[kernel_id] = self._clock()

    def idle(self, kernel_ids) -> list[str]:
        """The ids among ``kernel_ids`` idle for longer than the timeout (unknown ones start now)."""
        now = self._clock()
        out = []
        with self._lock:
            known = set(kernel_ids)
            for kid in list(self._last):
                if kid not in known:
                    del self._last[kid]
            for kid in known:
                last = self._last.setdefault(kid, now)
                if now - last > self.timeout:
                    out.append(kid)
        return out

    def cull(self) -> int:
        """Close the idle sessions of this process; returns how many were closed."""
        from solara.server import kernel_context

        contexts = dict(kernel_context.contexts)
        closed = 0
        for kid in self.idle(contexts):
            try:
                contexts[kid].close()
                closed += 1
            except Exception:  # noqa: BLE001 - one bad close must not stop the others
                logging.getLogger("mastery_analysis.serve").exception("closing an idle session failed")
        return closed


def token_cookie_value(token: str) -> str:
    """What the login cookie holds: a keyed hash of the token (never the token itself)."""
    return hmac.new(token.encode(), b"mastery serve login", hashlib.sha256).hexdigest()


def _login_page(base: str, message: str = "") -> bytes:
    note = f"<p style='color:#b00020'>{html.escape(message)}</p>" if message else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width, initial-scale=1'><title>Workshop login</title></head>"
            f"<body style='font-family:sans-serif;max-width:420px;margin:2em auto;padding:0 1em'>"
            f"<h1 style='font-size:1.3em'>Workshop pages</h1>{note}"
            f"<form method='post' action='{html.escape(base + LOGIN_PATH.lstrip('/'))}'>"
            f"<label>Password of this server <input type='password' name='password' "
            f"autocomplete='current-password' style='width:100%;font-size:16px'></label>"
            f"<p><button type='submit'>Log in</button></p></form></body></html>").encode()


# ----------------------------------------------------------------------------- middleware
class MasteryMiddleware:
    """The ASGI layer in front of Solara: what the module docstring lists.

    Parameters
    ----------
    app : ASGI application
        Solara's Starlette application.
    settings : ServeSettings
    limiter : PageLoadLimiter, optional
    idle : IdleSessions, optional
    sessions : callable, optional
        Returns the mapping of open sessions (kernel id -> context); default Solara's.
    """

    def __init__(self, app, settings: ServeSettings, *, limiter=None, idle=None, sessions=None):
        self.app = app
        self.settings = settings
        self.limiter = limiter or PageLoadLimiter(settings.page_loads_per_minute)
        self.idle = idle or IdleSessions(settings.cull_idle_timeout)
        self.prefix = settings.base_url.rstrip("/")
        self._cookie = token_cookie_value(settings.token) if settings.token else None
        self._sessions = sessions
        self.log = logging.getLogger("mastery_analysis.serve")

    def sessions(self):
        if self._sessions is not None:
            return self._sessions()
        from solara.server import kernel_context

        return kernel_context.contexts

    # ------------------------------------------------------------------ helpers
    def _signed_in(self, scope) -> bool:
        if self._cookie is None:
            return True
        for key, value in scope.get("headers", []):
            if key == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    name, _, val = part.strip().partition("=")
                    if name == TOKEN_COOKIE and hmac.compare_digest(val, self._cookie):
                        return True
        return False

    async def _answer(self, send, status: int, body: bytes = b"", *, content_type="text/plain; charset=utf-8",
                      headers=()):
        raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store")]
        raw += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        raw += [(k.encode(), v.encode()) for k, v in headers]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path = scope.get("path", "/")
        if self.prefix:
            if path != self.prefix and not path.startswith(self.prefix + "/"):
                if kind == "http":
                    return await self._answer(send, 404, b"Not found")
                return await send({"type": "websocket.close", "code": 1008})
            path = path[len(self.prefix):] or "/"
            scope = {**scope, "path": path, "root_path": scope.get("root_path", "") + self.prefix}
        address = client_address(scope, behind_proxy=self.settings.behind_proxy,
                                 dispatched=self.settings.dispatched)
        if kind == "websocket":
            return await self._websocket(scope, receive, send, path, address)
        return await self._http(scope, receive, send, path, address)

    async def _http(self, scope, receive, send, path, address):
        base = self.prefix + "/"
        if path == LOGIN_PATH and self._cookie is not None:
            return await self._login(scope, receive, send, base, address)
        if not self._signed_in(scope):
            if path in _PAGES:
                return await self._answer(send, 302, b"", headers=[("location", base + LOGIN_PATH.lstrip("/"))])
            return await self._answer(send, 403, b"Log in first")
        if path == "/":
            return await self._answer(send, 302, b"", headers=[("location", base + PARTICIPANT_PATH.lstrip("/"))])
        if path == PLOTLY_PATH:
            return await self._plotly(send)
        if path in _PAGES:
            if not self.limiter.allow(address):
                self.log.warning("page load refused (429): over %d per minute from %s",
                                 self.settings.page_loads_per_minute, address)
                return await self._answer(send, 429, b"Too many page loads from your address; wait a "
                                                     b"minute, then reload.", headers=[("retry-after", "60")])
            if len(self.sessions()) >= self.settings.max_pages:
                self.log.warning("page load refused (503): %d pages open", len(self.sessions()))
                return await self._answer(send, 503, b"The server is full; try again in a few minutes.",
                                          headers=[("retry-after", "120")])
        elif not path.startswith(_ASSET_PREFIXES):
            return await self._answer(send, 404, b"Not found")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in {h.lower().encode() for h in SECURITY_HEADERS}]
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if message.get("status", 200) >= 500:  # Solara's own error pages say too much
                    await self._answer(send, message["status"], b"Something went wrong on the server.")
                    send_with_headers.replaced = True
                    return
                message = {**message, "headers": _secure_cookies(headers, self.settings.behind_proxy)}
            elif getattr(send_with_headers, "replaced", False):
                return
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _plotly(self, send):
        import plotly

        body = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
        await self._answer(send, 200, body, content_type="text/javascript; charset=utf-8",
                           headers=[("cache-control", "public, max-age=86400")])

    async def _login(self, scope, receive, send, base, address):
        if scope["method"] == "POST":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if len(body) > 4096:
                    return await self._answer(send, 413, b"Too large")
                if not message.get("more_body"):
                    break
            if not self.limiter.allow(address):
                return await self._answer(send, 429, b"Too many tries; wait a minute.")
            typed = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("password", [""])[0]
            if hmac.compare_digest(token_cookie_value(typed), self._cookie):
                cookie = (f"{TOKEN_COOKIE}={self._cookie}; Path={base}; HttpOnly; SameSite=Strict"
                          + ("; Secure" if self.settings.behind_proxy else ""))
                return await self._answer(send, 302, b"", headers=[
                    ("location", base + PARTICIPANT_PATH.lstrip("/")), ("set-cookie", cookie)])
            self.log.warning("login refused from %s", address)
            return await self._answer(send, 403, _login_page(base, "That password is not right."),
                                      content_type="text/html; charset=utf-8")
        return await self._answer(send, 200, _login_page(base), content_type="text/html; charset=utf-8")

    async def _websocket(self, scope, receive, send, path, address):
        if not self._signed_in(scope) or not path.startswith("/jupyter/api/kernels/"):
            return await send({"type": "websocket.close", "code": 1008})
        kernel_id = path[len("/jupyter/api/kernels/"):].split("/")[0]
        sessions = self.sessions()
        if kernel_id not in sessions and len(sessions) >= self.settings.max_pages:
            self.log.warning("new session refused: %d pages open", len(sessions))
            return await send({"type": "websocket.close", "code": 1013})
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != ADDRESS_HEADER]
        headers.append((ADDRESS_HEADER, address.encode()))
        scope = {**scope, "headers": headers}
        idle = self.idle

        async def receive_and_touch():
            message = await receive()
            if message.get("type") == "websocket.receive":
                idle.touch(kernel_id)
            return message

        idle.touch(kernel_id)
        await self.app(scope, receive_and_touch, send)


def _secure_cookies(headers, secure: bool):
    """Solara's session cookie: HttpOnly, SameSite=Strict, Secure behind a TLS proxy."""
    out = []
    for key, value in headers:
        if key.lower() == b"set-cookie":
            parts = [p.strip() for p in value.decode("latin-1").split(";")]
            keep = [p for p in parts if p.split("=")[0].lower() not in ("samesite", "secure", "httponly")]
            keep += ["HttpOnly", "SameSite=Strict"] + (["Secure"] if secure else [])
            value = "; ".join(keep).encode("latin-1")
        out.append((key, value))
    return out


# ----------------------------------------------------------------------------- logging
class RedactKernelIds(logging.Filter):
    """Replace session (kernel) ids in log records by ``<kernel>``: with the session cookie,
    one reattaches that session."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logged as it is
            return True
        if _KERNEL_ID.search(message):
            record.msg, record.args = _KERNEL_ID.sub("<kernel>", message), None
        return True


def _logging_config() -> dict:
    return {
        "version": 1, "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactKernelIds}},
        "formatters": {"plain": {"format": "[%(asctime)s %(name)s %(levelname)s] %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain",
                                "filters": ["redact"], "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            "mastery_analysis": {"level": "INFO"},
            "solara": {"level": "WARNING"},
            "solara.server.app": {"level": "INFO"},  # sessions opened and closed (ids redacted)
            "uvicorn": {"level": "WARNING"},
            "uvicorn.error": {"level": "WARNING"},
            "uvicorn.access": {"level": "ERROR"},
        },
    }


# ----------------------------------------------------------------------------- Solara
def solara_environment(settings: ServeSettings) -> dict[str, str]:
    """The Solara settings of ``mastery serve`` (environment variables read at its import).

    Returns
    -------
    dict
        Variable name -> value.
    """
    return {
        "SOLARA_APP": "mastery_analysis.sessions",
        "SOLARA_MODE": "production",
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no request to anyone's server
        "SOLARA_THEME_SHOW_BANNER": "False",
        "SOLARA_THEME_LOADER": "plain",
        "SOLARA_THEME_TITLE": "Workshop",
        "SOLARA_ASSETS_FONTAWESOME_ENABLED": "False",
        "SOLARA_KERNEL_CULL_TIMEOUT": f"{max(1, min(settings.cull_idle_timeout, 120))}s",
        "SOLARA_SESSION_HTTP_ONLY": "True",
        "SOLARA_SESSION_HTTPS_ONLY": "True" if settings.behind_proxy else "False",
        "SOLARA_ROOT_PATH": settings.base_url.rstrip("/"),
        "MASTERY_STORE": settings.store,
        "MASTERY_SERVE_WORKERS": str(settings.workers),
        "MASTERY_PLOTLY_URL": settings.base_url.rstrip("/") + PLOTLY_PATH,
    }


def make_app(settings: ServeSettings):
    """The ASGI application of ``mastery serve``: Solara's, wrapped in :class:`MasteryMiddleware`.

    Sets the Solara environment (:func:`solara_environment`) first: Solara reads it when it
    is imported, so call this in the process that serves, before anything imports Solara's
    server.
    """
    import warnings

    os.environ.pop("SOLARA_ASSETS_PROXY", None)  # "False" would send browsers to the internet
    # the middleware sets the session cookie's SameSite=Strict itself
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    os.environ.update(solara_environment(settings))
    import solara.server.starlette as solara_starlette

    queue_websocket_sends(solara_starlette.WebsocketWrapper)
    return MasteryMiddleware(solara_starlette.app, settings)


# ----------------------------------------------------------------------------- websocket sends
class QueuedSends:
    """The messages of one session's websocket, sent in order by the server's event loop
    while the session's thread goes on.

    Solara runs each session in a thread of its own and, by default, makes that thread wait
    for the event loop to send every widget message; a sign-in sends about 140. With a room
    signing in at once those waits, not the work, were most of the time (30 at once: a
    median of 17.8 s). Solara's own alternative (``SOLARA_EXPERIMENTAL_PERFORMANCE``) polls
    every session's queue 20 times a second, which costs 500 open pages 10,000 wake-ups a
    second. Here a send appends to the queue and, if no flush is under way, starts one on
    the event loop; the flush sends until the queue is empty. Once the connection is gone
    the rest is dropped (as a closed websocket drops it).

    Parameters
    ----------
    wrapper : solara.server.starlette.WebsocketWrapper
        The session's websocket (its ``_send_text_exc`` / ``_send_bytes_exc`` do the sending).
    """

    def __init__(self, wrapper):
        self.wrapper = wrapper
        self.loop = wrapper.event_loop
        self.queue: collections.deque = collections.deque()
        self.lock = threading.Lock()
        self.flushing = False
        self.closed = False

    def put(self, data) -> None:
        with self.lock:
            if self.closed:
                return
            self.queue.append(data)
            if self.flushing:
                return
            self.flushing = True
        try:
            self.loop.call_soon_threadsafe(self._start)
        except RuntimeError:  # the event loop has stopped: the server is shutting down
            self._close()

    def _start(self) -> None:
        task = self.loop.create_task(self._flush())
        self.wrapper.tasks.add(task)  # a strong reference, as Solara keeps its own tasks
        task.add_done_callback(self.wrapper.tasks.discard)

    async def _flush(self) -> None:
        while True:
            with self.lock:
                if not self.queue:
                    self.flushing = False
                    return
                data = self.queue.popleft()
            try:
                if isinstance(data, bytes):
                    await self.wrapper._send_bytes_exc(data)
                else:
                    await self.wrapper._send_text_exc(data)
            except Exception:  # noqa: BLE001 - the browser went away: nobody to send the rest to
                self._close()
                return

    def _close(self) -> None:
        with self.lock:
            self.closed = True
            self.queue.clear()
            self.flushing = False


def queue_websocket_sends(wrapper_class) -> None:
    """Make Solara's websocket wrapper (``wrapper_class``) send through :class:`QueuedSends`
    when called from a session's thread (the pinned Solara's ``send_text``/``send_bytes``;
    a test checks the version and that the pages still work through it)."""
    if getattr(wrapper_class, "_mastery_queued", False):
        return
    plain_text, plain_bytes = wrapper_class.send_text, wrapper_class.send_bytes

    def queued(self) -> QueuedSends:
        sends = self.__dict__.get("_mastery_sends")
        if sends is None:  # made by the session's thread on its first send, before any flush
            sends = self.__dict__["_mastery_sends"] = QueuedSends(self)
        return sends

    def send_text(self, data):
        if self.portal is None:  # no session thread: Solara already hands it to the loop
            return plain_text(self, data)
        queued(self).put(data)

    def send_bytes(self, data):
        if self.portal is None:
            return plain_bytes(self, data)
        queued(self).put(data)

    wrapper_class.send_text, wrapper_class.send_bytes = send_text, send_bytes
    wrapper_class._mastery_queued = True


def check_store(url: str) -> str:
    """Open the store once (it must exist) and return its URL with any password hidden."""
    import sqlalchemy as sa

    from .store import open_store

    with open_store(url, create=False):
        pass
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _cull_loop(app: MasteryMiddleware, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            closed = app.idle.cull()
        except Exception:  # noqa: BLE001 - keep culling
            app.log.exception("culling idle sessions failed")
            continue
        if closed:
            app.log.info("closed %d idle session(s)", closed)


def serve(settings: ServeSettings, *, out=None) -> None:
    """Check the settings and the store, say what protects the server, and serve until stopped.

    Parameters
    ----------
    settings : ServeSettings
    out : file, optional
        Where the start-up lines go (default: standard output).
    """
    import logging.config
    import sys

    out = out or sys.stdout
    lines = protection(settings)
    shown = check_store(settings.store)
    host = "localhost" if is_loopback(settings.host) else settings.host
    base = f"http://{host}:{settings.port}{settings.base_url.rstrip('/')}"
    print(f"mastery serve: the store {shown}", file=out)
    print(f"  participants open {base}{PARTICIPANT_PATH} (or {base}/)", file=out)
    print(f"  the coach opens   {base}{COACH_PATH}", file=out)
    for line in lines:
        print(f"  protected by: {line}", file=out)
    if settings.processes > 1:
        print(f"  {settings.processes} server processes behind this one (each page's session stays "
              "with its process)", file=out)
    print("  stop with Ctrl+C", file=out, flush=True)
    if settings.processes == 1:
        return serve_one(settings)
    from . import dispatch

    logging.config.dictConfig(_logging_config())
    dispatch.run(settings, host=settings.host.strip("[]"), port=settings.port)


#: The cyclic garbage collector's thresholds in a server process (Python's default: 700, 10, 10).
GC_THRESHOLDS = (20_000, 20, 10)


def tune_garbage_collector() -> None:
    """Collect cycles less often, and never again through what the server loaded at start.

    Each open page holds about a hundred widgets whose traits refer to each other in cycles,
    all alive until the page closes, so the heap grows by the room. With Python's default
    thresholds a process serving half of a room of 500 (1.2 million objects) spent about 7 s
    of its 55 s of CPU collecting, 5 s of it in 14 full collections, in the minute the room
    arrived; with these, about 2 s (measured with ``python -m benchmarks.bench_serve 500`` and
    :data:`gc.callbacks`). Closed pages' cycles are still collected, a little later.
    :func:`gc.freeze` moves the modules and the app loaded at start out of every later
    collection.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def serve_one(settings: ServeSettings, *, uds: str | None = None) -> None:
    """Run one server process until stopped: on ``settings.host``/``port``, or on the Unix
    socket ``uds`` (a server process behind :mod:`mastery_analysis.dispatch`)."""
    import logging.config

    import uvicorn

    logging.config.dictConfig(_logging_config())
    app = make_app(settings)
    tune_garbage_collector()
    stop = threading.Event()
    culler = threading.Thread(target=_cull_loop, args=(app, max(1, settings.cull_interval), stop),
                              name="mastery-cull", daemon=True)
    culler.start()
    where = {"uds": uds} if uds else {"host": settings.host.strip("[]"), "port": settings.port}
    config = uvicorn.Config(app, **where,
                            log_config=_logging_config(), access_log=False, proxy_headers=False,
                            server_header=False, ws_max_size=16 * 1024 * 1024,
                            timeout_graceful_shutdown=5)
    try:
        uvicorn.Server(config).run()
    finally:
        stop.set()
        from . import sessions

        sessions.shutdown_workers()


__all__ = ["ServeSettings", "ServeError", "PageLoadLimiter", "IdleSessions", "MasteryMiddleware",
           "SECURITY_HEADERS", "CSP", "is_loopback", "protection", "client_address",
           "token_cookie_value", "RedactKernelIds", "solara_environment", "make_app", "check_store",
           "serve", "serve_one", "tune_garbage_collector", "default_processes", "QueuedSends", "queue_websocket_sends", "PARTICIPANT_PATH", "COACH_PATH", "DEFAULT_PORT"]
