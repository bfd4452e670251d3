"""The served pages as light sessions of one Solara server process.

``mastery serve`` runs this module as its Solara app (``SOLARA_APP``). Each browser tab is a
*virtual kernel* of that one process, not a process of its own: the tab's widgets, and the
:class:`~mastery_analysis.widgets.app.ParticipantPage` or
:class:`~mastery_analysis.widgets.app.CoachPage` built for it, live in that session only. Module
globals are shared by every session, so nothing here holds anything of a person: the only
globals are the store (one connection pool for the process) and the pool of worker
processes for slow work.

- ``/participant``: the participant's page; ``/coach``: the coach's page (``/`` sends to the
  participant's page).
- The client's address comes from the ``x-mastery-client`` header, which the server's own
  middleware (:func:`mastery_analysis.serve.MasteryMiddleware`) sets on every websocket after
  removing any the browser sent.
- Slow work (report renders) runs in worker processes (:func:`worker_pool`), so that one
  session's report never stalls the others.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import multiprocessing
import os
import threading

import solara

ADDRESS_HEADER = "x-mastery-client"
_store = None
_pool = None
_lock = threading.Lock()


def shared_store():
    """The one store of the process (``$MASTERY_STORE``), opened on first use."""
    global _store
    with _lock:
        if _store is None:
            from .store import open_store

            _store = open_store(os.environ["MASTERY_STORE"], create=False)
        return _store


def worker_pool() -> concurrent.futures.ProcessPoolExecutor:
    """The pool of worker processes for slow work (``$MASTERY_SERVE_WORKERS``, default 2).

    Worker processes are started with ``spawn`` (a fork of a threaded server is unsafe) and
    take one job at a time; a session waiting on one waits in its own thread.
    """
    global _pool
    with _lock:
        if _pool is None:
            workers = max(1, int(os.environ.get("MASTERY_SERVE_WORKERS", "2")))
            _pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        return _pool


def run_in_worker(fn, *args):
    """Run ``fn(*args)`` in a worker process and wait for it (the waiting session's thread
    holds no lock the others need). What :data:`mastery_analysis.widgets.app.run_slow` is
    in the server."""
    return worker_pool().submit(fn, *args).result()


def shutdown_workers() -> None:
    """Stop the worker processes (at server shutdown)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def session_address() -> str | None:
    """The client's address of the current session, as the server's middleware set it."""
    headers = solara.lab.headers.value or {}
    values = headers.get(ADDRESS_HEADER) or []
    if len(values) != 1:
        return None
    try:
        return str(ipaddress.ip_address(values[0]))
    except ValueError:
        return "unknown" if values[0] == "unknown" else None


def _log_only(self, *args, **kwargs):
    """A session's ``showtraceback``: the server's log gets the error, the page nothing."""
    import logging
    import sys

    etype, value, tb = sys.exc_info()
    logging.getLogger("mastery_analysis.sessions").error(
        "error in a session: %s: %s", getattr(etype, "__name__", etype), value,
        exc_info=(etype, value, tb) if etype is not None else None)


class _NoTraceback:
    """Stands in for the ``traceback`` module where Solara and reacton format an error for the
    page: the page gets one plain line (the server's log has the whole error)."""

    format_stack = staticmethod(__import__("traceback").format_stack)

    @staticmethod
    def format_exception(*args, **kwargs):
        return ["Something went wrong on the server. Reload the page; if it happens again, "
                "tell your coach."]


def harden_sessions() -> None:
    """Keep errors of every session off its page (Solara sends them to the page by default),
    give every page the plain layout (no navigation, no Solara app bar), and send the pages'
    slow work to the worker processes."""
    import reacton.core
    import solara.autorouting
    from solara.server import app as solara_app
    from solara.server import patch

    from .widgets import app as pages

    patch.FakeIPython.showtraceback = _log_only
    pages.run_slow = run_in_worker
    reacton.core.traceback = _NoTraceback
    solara_app.traceback = _NoTraceback
    solara.autorouting.DefaultLayout = Layout


def _page(make):
    def guarded_make():
        try:
            return make().widget
        except Exception:  # noqa: BLE001 - the log has it, the page a plain line
            import ipywidgets as W

            _log_only(None)
            return W.Label("Something went wrong on the server. Reload the page.")

    solara.display(solara.use_memo(guarded_make, dependencies=[]))


@solara.component
def Participant():
    from .widgets.app import participant_page

    solara.Title("My check-in")
    _page(lambda: participant_page(shared_store(), address=session_address()))


@solara.component
def Coach():
    from .widgets.app import coach_page

    solara.Title("Coach")
    _page(lambda: coach_page(shared_store(), address=session_address()))


@solara.component
def Layout(children=[]):  # noqa: B006 - Solara's signature
    """No navigation between the pages, no banner: just the page."""
    solara.Style(PAGE_CSS)
    with solara.Column(classes=["mastery-root"], style={"min-width": "0", "padding": "8px", "max-width": "100%", "box-sizing": "border-box"}):
        for child in children:
            solara.display(child)


#: The phone-first rules: nothing wider than the screen, tabs that wrap instead of being cut,
#: buttons and sliders large enough for a thumb.
PAGE_CSS = """
html, body { max-width: 100vw; }
.mastery-root { box-sizing: border-box; width: 100vw !important; max-width: 100vw !important; }
.mastery-root * { min-width: 0; }
.solara-autorouter-content { min-width: 0; max-width: 100%; }
.mastery-root .mastery-participant-page, .mastery-root .mastery-coach-page { width: auto !important; margin: 0 !important; }
.mastery-root .mastery-chart { overflow: hidden !important; contain: paint; max-width: 100%; min-width: 0; }
.mastery-root .mastery-chart .svg-container { max-width: 100%; }
.mastery-root .jupyter-widgets, .mastery-root .widget-box { max-width: 100% !important; min-width: 0; box-sizing: border-box; }
.mastery-root .widget-tab-contents, .mastery-root .lm-Panel, .mastery-root .p-Panel { min-width: 0; }
.mastery-root .widget-hbox { flex-wrap: wrap; }
.mastery-root .lm-TabBar, .mastery-root .p-TabBar { min-height: 0; height: auto !important; overflow: visible; }
.mastery-root .lm-TabBar-content, .mastery-root .p-TabBar-content { flex-wrap: wrap; height: auto; }
.mastery-root .lm-TabBar-tab, .mastery-root .p-TabBar-tab { flex: 0 0 auto !important; min-width: 0 !important; max-width: none !important; }
.mastery-root .lm-TabBar-tabLabel, .mastery-root .p-TabBar-tabLabel { overflow: visible; text-overflow: clip; white-space: nowrap; }
.mastery-root .jupyter-button { min-height: 36px; max-width: 100%; }
.mastery-root .widget-slider .noUi-handle { width: 24px !important; height: 24px !important; top: -9px !important; }
.mastery-root .widget-slider .noUi-target { margin: 10px 12px; }
.mastery-root input, .mastery-root textarea, .mastery-root select { font-size: 16px; max-width: 100%; }
.mastery-root table { display: block; overflow-x: auto; max-width: 100%; }
@media (max-width: 720px) {
  .mastery-root .widget-gridbox { grid-template-columns: 100% !important; }
  .mastery-root .widget-tab > .widget-tab-contents, .mastery-root .widget-tab-contents { padding: 6px !important; }
}
"""

harden_sessions()

routes = [
    solara.Route(path="/", component=Participant),
    solara.Route(path="participant", component=Participant),
    solara.Route(path="coach", component=Coach),
]
