"""``mastery serve``: Voila over the app notebooks, with the security settings.

The two pages are the notebooks ``app/participant.ipynb`` and ``app/coach.ipynb`` that ship
with the package (:func:`mastery_analysis.resources.notebook_path`). Voila starts one kernel
per page load and forwards only widget (comm) messages from the browser, so a browser cannot
run code; it can still set any widget trait, which is why the pages bind the person in Python
at sign-in (:mod:`mastery_analysis.widgets.app`). Around that, this module sets:

- **a page-load limit per client address** (HTTP 429) and a cap on open pages (HTTP 503), in
  Voila's ``prelaunch_hook``, which sees each request before a kernel starts;
- **the client's address passed to the kernel** (injected after the notebook's
  ``parameters`` cell, as a validated IP address), for the per-address budget of wrong codes;
- **the ``_xsrf`` cookie**, set on each page load, without which the browser's unload beacon
  is refused and the kernels of closed tabs never stop;
- **idle-kernel culling** (a page idle for ``cull_idle_timeout`` seconds is shut down, even
  with its tab open: the person reloads);
- **security headers** (Content-Security-Policy, X-Frame-Options, Referrer-Policy,
  X-Content-Type-Options) and no tracebacks on pages; templates and themes cannot be
  switched from a link; no file is served from the notebooks' folder;
- **kernel ids kept out of the log** (anyone who knows one can attach to that page's kernel):
  every log line has them replaced by ``<kernel>``;
- **exposure**: serving on anything but loopback needs ``--token`` (one shared secret that
  gates the whole server, typed on its login page) or ``--behind-proxy`` (a TLS reverse proxy
  in front, whose ``X-Real-IP`` / ``X-Forwarded-For`` then give the client's address), and
  refuses to start otherwise.

The store is the one ``--store`` names (every kernel gets it as ``$MASTERY_STORE``). SQLite
stores run with ``synchronous=FULL``: a check-in the page called "Saved" is on disk.
"""

from __future__ import annotations

import collections
import functools
import ipaddress
import logging
import os
import re
import threading
import time
from dataclasses import dataclass

from .errors import MasteryError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8866
PAGES = {"participant": "app/participant.ipynb", "coach": "app/coach.ipynb"}
PARTICIPANT_PATH = "/voila/render/participant.ipynb"
COACH_PATH = "/voila/render/coach.ipynb"

#: The Content-Security-Policy of every response. Voila's page needs inline scripts and
#: styles (its own bootstrap and the widget manager) and eval (the widget libraries); all
#: of it comes from this server: no other origin, no framing, no plugins, downloads of the
#: reports as data: links.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self' ws: wss:",
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
_KERNEL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


class ServeError(MasteryError):
    """``mastery serve`` cannot start as asked (an exposed host without protection, a bad option)."""


@dataclass(frozen=True)
class ServeSettings:
    """What ``mastery serve`` runs with.

    Attributes
    ----------
    store : str
        The store URL (resolved; every kernel gets it as ``$MASTERY_STORE``).
    host : str
        The address to listen on (default loopback only).
    port : int
    token : str or None
        A secret gating the whole server (typed once on its login page).
    behind_proxy : bool
        A reverse proxy (terminating TLS) is in front: trust its ``X-Real-IP`` and
        ``X-Forwarded-For`` headers for the client's address, and mark cookies Secure.
    page_loads_per_minute : int
        Page loads (kernels started) allowed per client address per minute; 0: no limit.
    max_pages : int
        Pages (kernels) open at once; more get HTTP 503.
    cull_idle_timeout : int
        Seconds after which an idle page's kernel is shut down (even with its tab open).
    cull_interval : int
        Seconds between checks for idle kernels.
    base_url : str
        The path the pages live under (``/services/mastery/`` as a JupyterHub service).
    """

    store: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    behind_proxy: bool = False
    page_loads_per_minute: int = 30
    max_pages: int = 100
    cull_idle_timeout: int = 900
    cull_interval: int = 60
    base_url: str = "/"

    def __post_init__(self):
        for name in ("port", "page_loads_per_minute", "max_pages", "cull_idle_timeout", "cull_interval"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ServeError(f"--{name.replace('_', '-')} must be a whole number of 0 or more, "
                                 f"not {value!r}")
        if not 0 < self.port < 65536:
            raise ServeError(f"--port must be from 1 to 65535, not {self.port}")
        if self.max_pages < 1:
            raise ServeError("--max-pages must be at least 1")
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
                 f"{settings.cull_idle_timeout // 60} min; 5 wrong tries lock a code for 15 min")
    return lines


# ----------------------------------------------------------------------------- the hook
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


def client_address(request) -> str:
    """The client's IP address of a tornado request, normalised; ``"unknown"`` if it is not one.

    With ``xheaders`` (``--behind-proxy``) tornado has already taken it from the proxy's
    ``X-Real-IP`` / ``X-Forwarded-For``.
    """
    try:
        ip = ipaddress.ip_address(str(request.remote_ip).split("%")[0])
    except ValueError:
        return "unknown"
    # an IPv4 client of a dual-stack socket is the same client as its IPv4 address
    return str(ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped else ip)


def inject_address(notebook, address: str):
    """Insert ``client_address = '<address>'`` after the notebook's ``parameters`` cell.

    The address is an IP address in its normal form (or ``unknown``), so the cell holds
    nothing a client chose beyond digits, dots, colons and hex letters.
    """
    import nbformat

    if address != "unknown":
        address = str(ipaddress.ip_address(address))
    tagged = [i for i, c in enumerate(notebook.cells)
              if c.cell_type == "code" and "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ServeError("an app notebook needs exactly one cell tagged `parameters`")
    cell = nbformat.v4.new_code_cell(f"client_address = {address!r}  # injected by mastery serve")
    notebook.cells.insert(tagged[0] + 1, cell)
    return notebook


def make_prelaunch_hook(settings: ServeSettings, limiter: PageLoadLimiter | None = None):
    """The ``VoilaConfiguration.prelaunch_hook`` of ``mastery serve``.

    For each page load, before a kernel starts: refuse (429) an address over its page-load
    limit and (503) any load while ``max_pages`` kernels run; set the ``_xsrf`` cookie; pass
    the client's address to the kernel.
    """
    import tornado.web

    limiter = limiter or PageLoadLimiter(settings.page_loads_per_minute)
    log = logging.getLogger("mastery_analysis.serve")

    def hook(req, notebook, cwd):
        address = client_address(req.request)
        if not limiter.allow(address):
            log.warning("page load refused (429): over %d per minute from %s",
                        settings.page_loads_per_minute, address)
            raise tornado.web.HTTPError(429, reason="Too many page loads from your address; "
                                                    "wait a minute, then reload")
        running = len(req.kernel_manager.list_kernel_ids())
        if running >= settings.max_pages:
            log.warning("page load refused (503): %d pages open", running)
            raise tornado.web.HTTPError(503, reason="The server is full; try again in a few minutes")
        req.xsrf_token  # noqa: B018 - reading it sets the _xsrf cookie (voila#1458)
        return inject_address(notebook, address)

    return hook


# ----------------------------------------------------------------------------- logging
class RedactKernelIds(logging.Filter):
    """Replace kernel ids in log records by ``<kernel>``: whoever knows one can attach to it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logged as it is
            return True
        if _KERNEL_ID.search(message):
            record.msg, record.args = _KERNEL_ID.sub("<kernel>", message), None
        return True


def _redact_logs(*loggers: logging.Logger) -> None:
    redact = RedactKernelIds()
    for logger in loggers:
        if not any(isinstance(f, RedactKernelIds) for f in logger.filters):
            logger.addFilter(redact)
        for handler in logger.handlers:
            if not any(isinstance(f, RedactKernelIds) for f in handler.filters):
                handler.addFilter(redact)


# ----------------------------------------------------------------------------- Voila
def voila_config(settings: ServeSettings):
    """The traitlets configuration of ``mastery serve`` (what a ``voila.py`` would hold).

    To run the pages under another Voila set-up (JupyterHub, say), a ``voila.py`` can start
    from it: ``c.merge(voila_config(ServeSettings(store=...)))``.

    Returns
    -------
    traitlets.config.Config
    """
    from traitlets.config import Config

    c = Config()
    c.Voila.ip = settings.host
    c.Voila.port = settings.port
    c.Voila.port_retries = 0
    c.Voila.base_url = settings.base_url
    c.Voila.open_browser = False
    c.Voila.token = settings.token or ""
    c.Voila.tornado_settings = {
        "headers": dict(SECURITY_HEADERS),
        "xsrf_cookie_kwargs": {"samesite": "Strict", "secure": settings.behind_proxy},
    }
    c.IdentityProvider.cookie_options = {"samesite": "Strict", "secure": settings.behind_proxy}
    v = c.VoilaConfiguration
    v.prelaunch_hook = make_prelaunch_hook(settings)
    v.show_tracebacks = False
    v.strip_sources = True
    v.preheat_kernel = False  # incompatible with prelaunch_hook
    v.allow_template_override = "NO"
    v.allow_theme_override = "NO"
    v.file_allowlist = []  # serve no file of the notebooks' folder
    v.http_header_envs = []
    k = c.MappingKernelManager
    k.cull_idle_timeout = settings.cull_idle_timeout
    k.cull_interval = settings.cull_interval
    k.cull_connected = True  # an idle tab left open still frees its kernel
    k.cull_busy = False
    return c


def _voila_class():
    from jupyter_server.utils import url_path_join
    from tornado.web import RedirectHandler
    from voila.app import Voila

    class MasteryVoila(Voila):
        """Voila with the front page sent to the participant's page, and ``xheaders`` when
        behind a proxy (Voila's own ``listen`` passes no server options)."""

        trust_xheaders = False

        def init_handlers(self):
            handlers = super().init_handlers()
            if self.trust_xheaders:
                self.app.listen = functools.partial(self.app.listen, xheaders=True)
            home = url_path_join(self.server_url, PARTICIPANT_PATH)
            return [(self.server_url, RedirectHandler, {"url": home})] + handlers

    return MasteryVoila


def make_app(settings: ServeSettings):
    """An initialised (not started) Voila application serving the app notebooks.

    Our settings are applied after Voila has read any ``voila.py`` of the machine, so a
    local configuration cannot switch them off.
    """
    from .resources import notebook_path

    root = notebook_path(PAGES["participant"]).parent
    notebook_path(PAGES["coach"])
    config = voila_config(settings)
    app = _voila_class()(config=config)
    app.initialize([str(root)])
    app.update_config(config)
    app.voila_configuration.update_config(config)
    app.trust_xheaders = settings.behind_proxy
    _redact_logs(app.log, logging.getLogger(), logging.getLogger("tornado.access"),
                 logging.getLogger("tornado.application"), logging.getLogger("tornado.general"))
    return app


def check_store(url: str) -> str:
    """Open the store once (it must exist) and return its URL with any password hidden."""
    import sqlalchemy as sa

    from .store import open_store

    with open_store(url, create=False):
        pass
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def serve(settings: ServeSettings, *, out=None) -> None:
    """Check the settings and the store, say what protects the server, and serve until stopped.

    Parameters
    ----------
    settings : ServeSettings
    out : file, optional
        Where the start-up lines go (default: standard output).
    """
    import sys

    out = out or sys.stdout
    lines = protection(settings)
    shown = check_store(settings.store)
    os.environ["MASTERY_STORE"] = settings.store  # every kernel inherits it
    app = make_app(settings)
    host = "localhost" if is_loopback(settings.host) else settings.host
    base = f"http://{host}:{settings.port}{settings.base_url.rstrip('/')}"
    print(f"mastery serve: the store {shown}", file=out)
    print(f"  participants open {base}{PARTICIPANT_PATH} (or {base}/)", file=out)
    print(f"  the coach opens   {base}{COACH_PATH}", file=out)
    for line in lines:
        print(f"  protected by: {line}", file=out)
    print("  stop with Ctrl+C", file=out, flush=True)
    app.start()


__all__ = ["ServeSettings", "ServeError", "PageLoadLimiter", "SECURITY_HEADERS", "CSP",
           "is_loopback", "protection", "client_address", "inject_address", "make_prelaunch_hook",
           "RedactKernelIds", "voila_config", "make_app", "check_store", "serve",
           "PARTICIPANT_PATH", "COACH_PATH", "DEFAULT_PORT"]
