"""Several server processes behind one address: ``mastery serve --processes N``.

One Python process runs Python on about one core at a time (its GIL), and a room signing in
at once keeps that core busy: on a 2-core server, one process leaves the other core to the
code hashing only. With ``--processes N`` the ``mastery serve`` process becomes a small
dispatcher in front of N server processes, each the application of a one-process
``mastery serve`` (:func:`mastery_analysis.serve.make_app`) listening on a Unix socket in a
folder only this user can open:

- **a session stays with its process**: a session's websocket
  (``/jupyter/api/kernels/<id>/...``) and its close beacon (``/_solara/api/close/<id>``) go to
  the process its session id hashes to, so a phone that reconnects (a locked screen, a Wi-Fi
  hop) finds its session again. (Plain ``SO_REUSEPORT`` would hand the reconnect to any
  process, which would not know the session.) Every other request (pages, assets, the login
  form) goes to the next process in turn;
- **the client's address** travels in the :data:`PEER_HEADER` header, which the dispatcher
  sets after removing any the client sent (the server processes read it only when
  dispatched, and nothing but the dispatcher can reach their sockets);
- **one request per connection**: a plain HTTP request is passed on with
  ``Connection: close`` and exactly the body its ``Content-Length`` declares, and a websocket
  handshake's connection is joined both ways only once the process has accepted it (101), so
  nothing a client appends can reach a process as a second request (with an address of its
  choosing); ``Transfer-Encoding`` in a request is refused (browsers do not send it);
- **the limits are shared out**: each process gets its share of ``--max-pages``, of the page
  loads per minute and of ``--workers`` (:func:`process_settings`); the code lock-outs and the
  per-address budget of wrong codes live in the store, so they hold across processes;
- **a process that stops is started again** (its open pages reload, as after a restart).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import math
import multiprocessing
import os
import re
import shutil
import signal
import socket
import tempfile
import time
import zlib

from .errors import MasteryError

PEER_HEADER = b"x-mastery-peer"
MAX_HEAD = 64 * 1024
HEAD_TIMEOUT = 30.0
BODY_TIMEOUT = 60.0
_STICKY = re.compile(rb"/(?:jupyter/api/kernels|_solara/api/close)/([^/?#]+)")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: Headers about the client's connection, not the request: replaced on a plain request.
_HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"upgrade"}
log = logging.getLogger("mastery_analysis.serve")


class BadRequest(MasteryError):
    """A request the dispatcher will not pass on (answered with ``status``)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class RequestHead:
    """The request line and headers of one HTTP/1.1 request, as the client sent them.

    Attributes
    ----------
    method, target, version : bytes
    headers : list of (name, value)
        Names lower-cased, values stripped, in the client's order.
    """

    method: bytes
    target: bytes
    version: bytes
    headers: list

    def values(self, name: bytes) -> list[bytes]:
        return [v for k, v in self.headers if k == name]

    @property
    def is_websocket(self) -> bool:
        """A websocket handshake (``Upgrade: websocket`` with ``Connection: upgrade``)."""
        upgrade = b",".join(self.values(b"upgrade")).lower()
        connection = {t.strip() for v in self.values(b"connection") for t in v.lower().split(b",")}
        return self.method == b"GET" and b"websocket" in upgrade and b"upgrade" in connection

    def body_length(self) -> int:
        """The body's length in bytes (``Content-Length``; none means 0)."""
        if self.values(b"transfer-encoding"):
            raise BadRequest("Transfer-Encoding in a request is not accepted; send Content-Length",
                             status=411)
        lengths = {v for v in self.values(b"content-length")}
        if not lengths:
            return 0
        if len(lengths) > 1 or not next(iter(lengths)).isdigit():
            raise BadRequest("a bad Content-Length")
        length = int(next(iter(lengths)))
        if length > 1024 * 1024:
            raise BadRequest("the request body is too large", status=413)
        return length

    def forwarded(self, peer: str) -> bytes:
        """The head as passed to a server process: the client's address in :data:`PEER_HEADER`
        (any the client sent removed) and, unless it is a websocket handshake,
        ``Connection: close``."""
        websocket = self.is_websocket
        keep = [(k, v) for k, v in self.headers
                if k != PEER_HEADER and (websocket or k not in _HOP_BY_HOP)]
        if not websocket:
            keep.append((b"connection", b"close"))
        keep.append((PEER_HEADER, peer.encode("ascii")))
        lines = [b" ".join((self.method, self.target, self.version))]
        lines += [k + b": " + v for k, v in keep]
        return b"\r\n".join(lines) + b"\r\n\r\n"


def parse_head(raw: bytes) -> RequestHead:
    """Parse a request head (the bytes up to and including the blank line).

    Raises
    ------
    BadRequest
        A malformed request line or header (folded lines, a space in a name, a control
        character in a value).
    """
    lines = raw.rstrip(b"\r\n").split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1] or parts[2] not in (
            b"HTTP/1.1", b"HTTP/1.0"):
        raise BadRequest("a malformed request line")
    if any(c < 0x21 or c == 0x7F for c in parts[1]):
        raise BadRequest("a malformed request target")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise BadRequest("a malformed header line")
        value = value.strip(b" \t")
        if any((c < 0x20 and c != 0x09) or c == 0x7F for c in value):
            raise BadRequest("a control character in a header")
        headers.append((name.lower(), value))
    return RequestHead(parts[0], parts[1], parts[2], headers)


class Dispatcher:
    """Pass each connection to one of the server processes listening on ``sockets``.

    Parameters
    ----------
    sockets : list of str
        The Unix sockets of the server processes, in a fixed order (a session id always maps
        to the same index).
    """

    def __init__(self, sockets: list[str]):
        if not sockets:
            raise ValueError("no server process to dispatch to")
        self.sockets = list(sockets)
        self._turn = itertools.count()

    def process_for(self, target: bytes) -> int:
        """The index of the process for a request target: by session id when it names one
        (always the same process for the same id), else the next in turn."""
        path = target.split(b"?", 1)[0]
        match = _STICKY.search(path)
        if match:
            return zlib.crc32(match.group(1)) % len(self.sockets)
        return next(self._turn) % len(self.sockets)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection (the callback of :func:`asyncio.start_server`)."""
        from .serve import _normal_ip

        upstream = None
        try:
            peername = writer.get_extra_info("peername")
            peer = _normal_ip(peername[0] if isinstance(peername, tuple) and peername else "")
            try:
                raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
            except asyncio.LimitOverrunError:
                return await _refuse(writer, 431, "The request's headers are too large.")
            except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                return
            try:
                head = parse_head(raw)
                length = 0 if head.is_websocket else head.body_length()
            except BadRequest as exc:
                return await _refuse(writer, exc.status, f"Bad request: {exc}.")
            index = self.process_for(head.target)
            try:
                upstream = await asyncio.open_unix_connection(self.sockets[index], limit=MAX_HEAD)
            except OSError:
                return await _refuse(writer, 503, "The server is starting or restarting; try again "
                                                  "in a moment.", retry_after=5)
            up_reader, up_writer = upstream
            up_writer.write(head.forwarded(peer))
            if head.is_websocket:
                await up_writer.drain()
                answer = await asyncio.wait_for(up_reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
                writer.write(answer)
                if answer.startswith((b"HTTP/1.1 101 ", b"HTTP/1.0 101 ")):
                    await _splice(reader, writer, up_reader, up_writer)
                else:  # refused: what the client sends next is not passed on as a request
                    await _pump(up_reader, writer)
                return
            if length:
                body = await asyncio.wait_for(reader.readexactly(length), BODY_TIMEOUT)
                up_writer.write(body)
            await up_writer.drain()
            await _pump(up_reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass  # the client or the process went away: nothing left to answer
        finally:
            for w in (writer, upstream[1] if upstream else None):
                if w is not None:
                    w.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        data = await reader.read(256 * 1024)
        if not data:
            return
        writer.write(data)
        await writer.drain()


async def _splice(reader, writer, up_reader, up_writer) -> None:
    """Both directions of a websocket until either side closes."""
    tasks = [asyncio.ensure_future(_pump(reader, up_writer)), asyncio.ensure_future(_pump(up_reader, writer))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _refuse(writer: asyncio.StreamWriter, status: int, text: str, *, retry_after: int | None = None):
    from .serve import SECURITY_HEADERS

    reasons = {400: "Bad Request", 411: "Length Required", 413: "Payload Too Large",
               431: "Request Header Fields Too Large", 503: "Service Unavailable"}
    body = text.encode()
    lines = [f"HTTP/1.1 {status} {reasons.get(status, 'Error')}", "content-type: text/plain; charset=utf-8",
             f"content-length: {len(body)}", "cache-control: no-store", "connection: close"]
    lines += [f"{k.lower()}: {v}" for k, v in SECURITY_HEADERS.items()]
    if retry_after:
        lines.append(f"retry-after: {retry_after}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    try:
        await writer.drain()
    except ConnectionError:
        pass


# ----------------------------------------------------------------------------- processes
def process_settings(settings, processes: int):
    """The settings of each of ``processes`` server processes: its share of the open pages, of
    the page loads per minute and of the report workers (each at least one), the client's
    address from the dispatcher."""
    def share(value: int) -> int:
        return max(1, math.ceil(value / processes)) if value else 0

    return dataclasses.replace(settings, processes=1, dispatched=True,
                               max_pages=share(settings.max_pages),
                               page_loads_per_minute=share(settings.page_loads_per_minute),
                               workers=share(settings.workers))


class ServerProcesses:
    """The server processes of a dispatched ``mastery serve``: started, watched, restarted.

    Parameters
    ----------
    settings : ServeSettings
        Each process's settings (:func:`process_settings`).
    count : int
    """

    def __init__(self, settings, count: int):
        self.settings = settings
        self.folder = tempfile.mkdtemp(prefix="mastery-serve-")  # mode 0700: only this user
        self.sockets = [os.path.join(self.folder, f"process-{i}.sock") for i in range(count)]
        self._context = multiprocessing.get_context("spawn")
        self.processes: list = [None] * count
        self.stopping = False

    def _start(self, index: int) -> None:
        from .serve import serve_one

        if os.path.exists(self.sockets[index]):
            os.unlink(self.sockets[index])
        process = self._context.Process(target=serve_one, args=(self.settings,),
                                        kwargs={"uds": self.sockets[index]},
                                        name=f"mastery-serve-{index}")
        process.start()
        self.processes[index] = process

    def start(self, *, timeout: float = 180) -> None:
        """Start every process and wait until each answers on its socket."""
        for index in range(len(self.sockets)):
            self._start(index)
        deadline = time.monotonic() + timeout
        waiting = set(range(len(self.sockets)))
        while waiting:
            for index in sorted(waiting):
                process = self.processes[index]
                if process.exitcode is not None:
                    self.stop()
                    raise MasteryError(f"server process {index} stopped while starting (exit code "
                                       f"{process.exitcode}); its error is above")
                if _answers(self.sockets[index]):
                    waiting.discard(index)
            if waiting and time.monotonic() > deadline:
                self.stop()
                raise MasteryError(f"server processes {sorted(waiting)} did not start within {timeout:.0f} s")
            time.sleep(0.2)

    def restart_stopped(self) -> list[int]:
        """Start again every process that stopped; returns their indexes."""
        restarted = []
        for index, process in enumerate(self.processes):
            if not self.stopping and process is not None and process.exitcode is not None:
                log.error("server process %d stopped (exit code %s); starting it again (its open "
                          "pages reload)", index, process.exitcode)
                self._start(index)
                restarted.append(index)
        return restarted

    def stop(self) -> None:
        """Stop every process (as Ctrl+C would: their sessions and workers end) and remove the
        sockets' folder."""
        self.stopping = True
        alive = [p for p in self.processes if p is not None and p.exitcode is None]
        for process in alive:
            try:
                os.kill(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        for process in alive:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.exitcode is None:
                process.kill()
                process.join(5)
        shutil.rmtree(self.folder, ignore_errors=True)


def _answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def run(settings, *, host: str, port: int) -> None:
    """Serve ``host:port`` with ``settings.processes`` server processes behind a dispatcher,
    until SIGINT or SIGTERM."""
    processes = ServerProcesses(process_settings(settings, settings.processes), settings.processes)
    processes.start()
    try:
        asyncio.run(_front(Dispatcher(processes.sockets), processes, host, port))
    finally:
        processes.stop()


async def _front(dispatcher: Dispatcher, processes: ServerProcesses, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(dispatcher.handle, host=host, port=port, limit=MAX_HEAD,
                                        reuse_address=True, backlog=1024)
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                processes.restart_stopped()
    finally:
        server.close()


__all__ = ["Dispatcher", "RequestHead", "parse_head", "BadRequest", "process_settings",
           "ServerProcesses", "run", "PEER_HEADER"]
