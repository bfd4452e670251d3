"""Helpers for tests of ``mastery serve``: a server for a test module, and a crafted client.

- :class:`MasteryServer` runs ``mastery serve`` in a subprocess on a free loopback port
  with a throwaway Jupyter configuration, and stops it (and its kernels) afterwards.
- :class:`CraftedClient` is what an attacker without a browser has: it loads a page over
  HTTP (for the session cookie), opens a session's websocket the way Solara's front end does
  (a kernel id of its choosing, the ``solara.control`` comm, ``run`` with the page's path) and
  then talks the Jupyter message protocol. It can send any message (execute requests, comm
  messages setting any trait of any widget, clicks on any button) and records every message
  it gets back.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import sqlite3
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from browser_support import ServerProcess

MASTERY = Path(sys.executable).parent / "mastery"
PARTICIPANT = "/participant"
COACH = "/coach"


class MasteryServer(ServerProcess):
    """``mastery serve --store DB --port P [args]`` in its own process group.

    Attributes
    ----------
    base_url : str
    log_path : pathlib.Path
        The server's standard output and error (its kernels' too).
    """

    name = "mastery serve"
    kill_wait = 15
    poll_every = 0.3

    def __init__(self, store, *args, startup_timeout: float = 180):
        super().__init__(prefix="mastery-serve-", startup_timeout=startup_timeout)
        self.store = Path(store)
        self.args = list(args)

    def _environment(self) -> dict:
        env = dict(os.environ)
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
            folder = self._home / name.lower()
            folder.mkdir(exist_ok=True)
            env[name] = str(folder)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _command(self) -> list[str]:
        return [str(MASTERY), "serve", "--store", str(self.store), "--port", str(self.port), *self.args]

    def _answers(self) -> bool:
        """Any HTTP answer (this path answers 404 once the server listens)."""
        try:
            with urllib.request.urlopen(self.base_url + "/_mastery/none", timeout=5):
                return True
        except urllib.error.HTTPError:
            return True


def load_page(server: MasteryServer, path: str = PARTICIPANT, *, timeout: float = 180):
    """GET a page like a browser would (cookies kept). Returns (status, headers, body, cookie jar);
    the headers are an ``email.message.Message`` (names in any case)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    try:
        with opener.open(server.base_url + path, timeout=timeout) as r:
            return r.status, r.headers, r.read().decode("utf-8", "replace"), jar
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode("utf-8", "replace"), jar


class CraftedClient:
    """A raw websocket to the kernel of one page load: no browser, any message.

    Parameters
    ----------
    server : MasteryServer
    path : str
        The page to load (its kernel is the one talked to).
    cookie : str, optional
        The session cookie (default: that of a fresh page load).
    kernel_id : str, optional
        The session id to open (default: a new one); another's, to try to take their session.
    headers : list of str
        More headers for the websocket handshake (``"Name: value"``), e.g. forged ones.

    Attributes
    ----------
    kernel_id : str
    received : list of dict
        Every message the kernel sent, in order.
    states : dict of comm id -> dict
        The last known state of every widget: those of the page after :meth:`discover`,
        and those the kernel opens later (their ``comm_open`` carries the state).
    """

    def __init__(self, server: MasteryServer, path: str = PARTICIPANT, *, cookie: str | None = None,
                 kernel_id: str | None = None, start: bool = True, headers: list[str] = ()):
        import websocket

        if cookie is None:
            status, _headers, body, jar = load_page(server, path)
            if status != 200:
                raise RuntimeError(f"page load answered {status}: {body[:300]}")
            cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        self.cookie = cookie
        self.kernel_id = kernel_id or str(uuid.uuid4())
        self.session = uuid.uuid4().hex
        url = (f"ws://127.0.0.1:{server.port}/jupyter/api/kernels/{self.kernel_id}/channels"
               f"?session_id={self.session}")
        # websocket-client checks UTF-8 byte by byte in Python (most of a client's CPU); the
        # messages are decoded as JSON, which refuses bad UTF-8 itself
        self.ws = websocket.create_connection(url, header=[f"Cookie: {cookie}", *headers],
                                              origin=server.base_url, timeout=60,
                                              skip_utf8_validation=True)
        self.received: list[dict] = []
        self.states: dict[str, dict] = {}
        self.closed = False
        if start:
            self.start(path)

    def start(self, path: str = PARTICIPANT) -> bool:
        """Ask the session to run the page at ``path``, as Solara's front end does; True once
        the page's widgets have arrived."""
        self.control = uuid.uuid4().hex
        self.send("comm_open", {"comm_id": self.control, "target_name": "solara.control", "data": {}})
        self.comm_msg(self.control, {"method": "run", "args": {"path": path, "appName": None}})
        return self.read_until(lambda m: m.get("msg_type") == "comm_msg"
                               and m["content"].get("comm_id") == self.control
                               and m["content"]["data"].get("method") == "finished",
                               timeout=120) is not None

    # ------------------------------------------------------------------ protocol
    def send(self, msg_type: str, content: dict, *, channel: str = "shell") -> str:
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": msg_type, "session": self.session,
                       "username": "crafted", "version": "5.3",
                       "date": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())},
            "parent_header": {}, "metadata": {}, "content": content, "channel": channel,
            "buffers": []}))
        return msg_id

    def read_until(self, predicate, timeout: float = 60):
        """Read messages until ``predicate(msg)``; returns that message or None on timeout."""
        import websocket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                raw = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                return None
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
                self.closed = True
                return None
            if isinstance(raw, bytes):
                raw = raw.decode("utf-8", "replace")
            if not raw:  # the server closed the session
                self.closed = True
                return None
            msg = json.loads(raw)
            self.received.append(msg)
            if msg.get("msg_type") == "comm_open":  # a new widget comes with its whole state
                data = msg["content"].get("data", {})
                self.states[msg["content"]["comm_id"]] = dict(data.get("state", {}))
            elif msg.get("msg_type") == "comm_msg":
                data = msg["content"].get("data", {})
                if data.get("method") in ("update", "echo_update"):
                    self.states.setdefault(msg["content"]["comm_id"], {}).update(data.get("state", {}))
            if predicate(msg):
                return msg
        return None

    def drain(self, quiet: float = 2.0, limit: float = 60) -> None:
        """Read until the kernel has been silent for ``quiet`` seconds (or ``limit`` passed)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if self.read_until(lambda m: True, timeout=quiet) is None:
                return

    def idle_after(self, msg_id: str, timeout: float = 90) -> bool:
        """Wait for the kernel's ``idle`` status for the request ``msg_id``."""
        return self.read_until(lambda m: m.get("msg_type") == "status"
                               and m.get("parent_header", {}).get("msg_id") == msg_id
                               and m["content"].get("execution_state") == "idle",
                               timeout) is not None

    def discover(self) -> dict[str, dict]:
        """Every widget of the kernel and its full state (what any browser may ask for)."""
        mid = self.send("comm_info_request", {"target_name": "jupyter.widget"})
        reply = self.read_until(lambda m: m.get("msg_type") == "comm_info_reply"
                                and m["parent_header"].get("msg_id") == mid)
        assert reply is not None, "no comm_info_reply"
        for comm_id, info in reply["content"]["comms"].items():
            if info.get("target_name") != "jupyter.widget":
                continue
            rid = self.comm_msg(comm_id, {"method": "request_state"})
            self.read_until(lambda m, c=comm_id: m.get("msg_type") == "comm_msg"
                            and m["content"].get("comm_id") == c
                            and m["content"]["data"].get("method") == "update", timeout=30)
            self.idle_after(rid, timeout=30)
        return self.states

    def comm_msg(self, comm_id: str, data: dict) -> str:
        return self.send("comm_msg", {"comm_id": comm_id, "data": data})

    def set_state(self, comm_id: str, state: dict) -> bool:
        """Set traits of a widget, as the front end does; waits for the kernel to finish."""
        mid = self.comm_msg(comm_id, {"method": "update", "state": state, "buffer_paths": []})
        return self.idle_after(mid)

    def click(self, comm_id: str) -> bool:
        """A click on a button, whether shown, hidden or disabled."""
        mid = self.comm_msg(comm_id, {"method": "custom", "content": {"event": "click"}})
        return self.idle_after(mid)

    def submit(self, comm_id: str) -> bool:
        """Enter in a text field."""
        mid = self.comm_msg(comm_id, {"method": "custom", "content": {"event": "submit"}})
        return self.idle_after(mid)

    # ------------------------------------------------------------------ finding widgets
    def find(self, model: str | None = None, **traits) -> list[str]:
        """Comm ids of widgets whose model name and traits match (``_dom_classes`` by member)."""
        out = []
        for comm_id, state in self.states.items():
            if model and state.get("_model_name") != model:
                continue
            ok = True
            for key, want in traits.items():
                have = state.get(key)
                if key == "_dom_classes":
                    ok &= want in (have or [])
                else:
                    ok &= have == want
            if ok:
                out.append(comm_id)
        return out

    def text(self) -> str:
        """Everything received, as one string (to search for what must not be there)."""
        return "\n".join(json.dumps(m) for m in self.received)

    def close(self):
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 - closing a dead socket
            pass


def rows_of(db_path, participant_id: str) -> dict[str, list]:
    """Every stored row of one person in every table that has a participant_id, in storage
    order, as the raw values SQLite holds (for a byte-for-byte comparison)."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out = {}
        for table in sorted(tables):
            cols = [r[1] for r in con.execute(f"PRAGMA table_info('{table}')")]
            if "participant_id" not in cols:
                continue
            out[table] = con.execute(f"SELECT * FROM \"{table}\" WHERE participant_id = ? "
                                     "ORDER BY rowid", (participant_id,)).fetchall()
        return out
    finally:
        con.close()
