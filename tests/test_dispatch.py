"""``mastery serve --processes N``: the dispatcher in front of several server processes.

The request parsing and routing are checked directly; the dispatcher's handling of
connections against stand-in server processes on Unix sockets (what each receives, byte for
byte); and, with the real server, that a session reconnects to its own process and that a
process that dies is started again. (Every security test of the served pages also runs
against two processes: tests/test_serve_security.py.)
"""

import asyncio
import json
import os
import signal
import time
import uuid

import pytest
from serve_support import CraftedClient, MasteryServer

from mastery_analysis import access, cli, serve
from mastery_analysis.dispatch import (PEER_HEADER, BadRequest, Dispatcher, parse_head,
                                       process_settings)
from mastery_analysis.serve import ServeError, ServeSettings, client_address
from mastery_analysis.store import open_store

STORE = "sqlite:////nonexistent/store.db"
BROWSER_GET = (b"GET /participant HTTP/1.1\r\nHost: 127.0.0.1:8866\r\nUser-Agent: Mozilla/5.0\r\n"
               b"Accept: text/html\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
               b"X-Mastery-Peer: 10.0.0.9\r\nCookie: a=b\r\n\r\n")
WEBSOCKET = (b"GET /jupyter/api/kernels/0b1e7c1a-1111-4222-8333-444455556666/channels?session_id=x "
             b"HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             b"x-mastery-peer: 10.0.0.9\r\n\r\n")


# ----------------------------------------------------------------------------- the request head
def test_a_plain_request_is_passed_on_closed_with_the_true_address():
    head = parse_head(BROWSER_GET)
    assert (head.method, head.target, head.version) == (b"GET", b"/participant", b"HTTP/1.1")
    assert not head.is_websocket and head.body_length() == 0
    out = parse_head(head.forwarded("127.0.0.1"))
    assert out.values(PEER_HEADER) == [b"127.0.0.1"]  # the client's own claim is gone
    assert out.values(b"connection") == [b"close"] and out.values(b"keep-alive") == []
    assert out.values(b"cookie") == [b"a=b"] and out.values(b"user-agent") == [b"Mozilla/5.0"]


def test_a_websocket_handshake_keeps_its_upgrade_headers():
    head = parse_head(WEBSOCKET)
    assert head.is_websocket
    out = parse_head(head.forwarded("192.168.1.7"))
    assert out.is_websocket and out.values(b"connection") == [b"Upgrade"]
    assert out.values(PEER_HEADER) == [b"192.168.1.7"]
    assert out.values(b"sec-websocket-key") == [b"dGhlIHNhbXBsZSBub25jZQ=="]


@pytest.mark.parametrize("raw", [
    b"GET /participant\r\n\r\n",                          # no version
    b"GET  /participant HTTP/1.1\r\n\r\n",                # two spaces
    b"GET /participant HTTP/2.0\r\n\r\n",
    b"G(T /participant HTTP/1.1\r\n\r\n",
    b"GET /a\x01b HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost h\r\n\r\n",                  # no colon
    b"GET / HTTP/1.1\r\nX Peer: 1\r\n\r\n",               # a space in a name
    b"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",      # an obsolete folded line
    b"GET / HTTP/1.1\r\nHost: h\x00x\r\n\r\n",
])
def test_malformed_heads_are_refused(raw):
    with pytest.raises(BadRequest):
        parse_head(raw)


@pytest.mark.parametrize("extra, status", [
    (b"Transfer-Encoding: chunked\r\n", 411),
    (b"Content-Length: 5\r\nContent-Length: 6\r\n", 400),
    (b"Content-Length: -1\r\n", 400),
    (b"Content-Length: 5000000\r\n", 413),
])
def test_bodies_the_dispatcher_cannot_frame_are_refused(extra, status):
    head = parse_head(b"POST /login HTTP/1.1\r\nHost: h\r\n" + extra + b"\r\n")
    with pytest.raises(BadRequest) as caught:
        head.body_length()
    assert caught.value.status == status


def test_a_session_always_goes_to_the_same_process_and_the_rest_take_turns():
    one, other = Dispatcher(["a", "b"]), Dispatcher(["a", "b"])
    ids = [str(uuid.uuid4()) for _ in range(200)]
    for kid in ids:
        where = one.process_for(f"/jupyter/api/kernels/{kid}/channels?session_id=s".encode())
        assert other.process_for(f"/services/mastery/jupyter/api/kernels/{kid}/iopub".encode()) == where
        assert one.process_for(f"/_solara/api/close/{kid}?session_id=p".encode()) == where
    assert {one.process_for(f"/jupyter/api/kernels/{k}/channels".encode()) for k in ids} == {0, 1}
    turns = [one.process_for(b"/participant") for _ in range(6)]
    assert sorted(turns) == [0, 0, 0, 1, 1, 1] and turns[0] != turns[1]


def test_the_limits_are_shared_out_among_the_processes():
    settings = ServeSettings(store=STORE, max_pages=1000, page_loads_per_minute=1200, workers=3,
                             processes=2)
    each = process_settings(settings, 2)
    assert (each.max_pages, each.page_loads_per_minute, each.workers) == (500, 600, 2)
    assert each.dispatched and each.processes == 1
    assert process_settings(ServeSettings(store=STORE, page_loads_per_minute=0), 4).page_loads_per_minute == 0
    assert process_settings(ServeSettings(store=STORE, max_pages=3), 4).max_pages == 1


@pytest.mark.parametrize("processes", [0, 65, True])
def test_a_bad_number_of_processes_is_refused(processes):
    with pytest.raises(ServeError, match="processes"):
        ServeSettings(store=STORE, processes=processes)


def test_serve_help_explains_processes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    assert "--processes" in capsys.readouterr().out


@pytest.mark.parametrize("cores, expected", [(1, 1), (2, 2), (3, 3), (16, 4), (None, 1)])
def test_serve_runs_a_process_per_core_up_to_four_unless_told(monkeypatch, cores, expected):
    monkeypatch.setattr(serve.os, "cpu_count", lambda: cores)
    assert serve.default_processes() == expected
    args = cli.build_parser().parse_args(["serve"])
    assert args.processes == expected
    assert cli.build_parser().parse_args(["serve", "--processes", "1"]).processes == 1


def test_a_dispatched_process_takes_the_address_from_the_dispatcher_only():
    scope = {"client": None, "headers": [(b"x-mastery-peer", b"10.1.2.3"), (b"x-real-ip", b"10.9.9.9")]}
    assert client_address(scope, dispatched=True) == "10.1.2.3"
    assert client_address(scope) == "unknown"  # not dispatched: the header means nothing
    assert client_address(scope, dispatched=True, behind_proxy=True) == "10.9.9.9"  # the proxy's
    assert client_address({"client": None, "headers": []}, dispatched=True) == "unknown"


# ----------------------------------------------------------------------------- against stand-ins
async def _stand_in(index: int, path: str, seen: list):
    """A server process that answers what it received (and echoes a websocket's bytes)."""
    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        record = {"process": index, "head": head.decode(), "body": "", "after": ""}
        seen.append(record)
        if b"upgrade: websocket" in head.lower() and b" /refused" in head:
            # a refused handshake, the connection left open as a server may
            writer.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            try:  # anything more on this connection would be a second, smuggled request
                record["after"] = (await asyncio.wait_for(reader.read(1024), 0.5)).decode()
            except asyncio.TimeoutError:
                record["after"] = "(nothing; still open)"
        elif b"upgrade: websocket" in head.lower():
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            while data := await reader.read(1024):
                writer.write(f"{index}:".encode() + data)
                await writer.drain()
        else:
            length = parse_head(head).body_length()
            record["body"] = (await reader.readexactly(length)).decode()
            try:  # anything more on this connection would be a second, smuggled request
                record["after"] = (await asyncio.wait_for(reader.read(1024), 0.3)).decode()
            except asyncio.TimeoutError:
                record["after"] = "(nothing; still open)"
            body = json.dumps({"process": index}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(handle, path)


async def _exchange(port: int, data: bytes, *, then: bytes = b"", read_for: float = 5.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    if then:
        await asyncio.sleep(0.2)
        writer.write(then)
        await writer.drain()
    out = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), read_for):
            out += chunk
    except asyncio.TimeoutError:
        pass
    writer.close()
    return out


def _with_dispatcher(tmp_path, scenario, *, running=(0, 1)):
    seen: list = []

    async def main():
        sockets = [str(tmp_path / f"p{i}.sock") for i in range(2)]
        backends = [await _stand_in(i, sockets[i], seen) for i in running]
        front = await asyncio.start_server(Dispatcher(sockets).handle, "127.0.0.1", 0, limit=64 * 1024)
        port = front.sockets[0].getsockname()[1]
        try:
            return await scenario(port)
        finally:
            front.close()
            for b in backends:
                b.close()

    return asyncio.run(main()), seen


def test_the_dispatcher_passes_one_request_per_connection_with_the_true_address(tmp_path):
    post = (b"POST /login HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\nX-Mastery-Peer: 6.6.6.6\r\n"
            b"Connection: keep-alive\r\n\r\npassword=ab")
    smuggled = b"GET /coach HTTP/1.1\r\nHost: h\r\n\r\n"

    async def scenario(port):
        return [await _exchange(port, post, then=smuggled), await _exchange(port, BROWSER_GET)]

    (first, second), seen = _with_dispatcher(tmp_path, scenario)
    assert first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200")
    assert {r["process"] for r in seen} == {0, 1}  # plain requests take turns
    for record in seen:
        head = parse_head(record["head"].encode())
        assert head.values(PEER_HEADER) == [b"127.0.0.1"] and head.values(b"connection") == [b"close"]
    assert seen[0]["body"] == "password=ab"
    assert "/coach" not in seen[0]["after"] and len(seen) == 2  # the appended request went nowhere


def test_a_websocket_is_spliced_to_its_session_s_process(tmp_path):
    async def scenario(port):
        outs = []
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(WEBSOCKET)
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(b"ping")
            echo = await asyncio.wait_for(reader.read(100), 5)
            writer.close()
            outs.append((head, echo))
        return outs

    outs, seen = _with_dispatcher(tmp_path, scenario)
    expected = Dispatcher(["a", "b"]).process_for(WEBSOCKET.split(b" ")[1])
    assert all(h.startswith(b"HTTP/1.1 101") and echo == f"{expected}:ping".encode() for h, echo in outs)
    assert {r["process"] for r in seen} == {expected}
    assert all(parse_head(r["head"].encode()).values(PEER_HEADER) == [b"127.0.0.1"] for r in seen)


def test_a_refused_websocket_handshake_carries_no_second_request(tmp_path):
    """Past a handshake the process refused, the bytes a client sends (here a request that
    claims another address) are not passed on: they would reach the process unchecked."""
    refused = WEBSOCKET.replace(WEBSOCKET.split(b" ")[1], b"/refused")
    smuggled = b"POST /login HTTP/1.1\r\nHost: h\r\nX-Mastery-Peer: 6.6.6.6\r\nContent-Length: 0\r\n\r\n"

    async def scenario(port):
        return await _exchange(port, refused, then=smuggled, read_for=2.0)

    out, seen = _with_dispatcher(tmp_path, scenario)
    assert out.startswith(b"HTTP/1.1 403")
    assert len(seen) == 1 and seen[0]["after"] == "(nothing; still open)"


def test_bad_requests_and_a_missing_process_get_plain_answers(tmp_path):
    async def scenario(port):
        return [await _exchange(port, b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"),
                await _exchange(port, b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n"),
                await _exchange(port, b"POST /login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                *[await _exchange(port, BROWSER_GET) for _ in range(2)]]

    answers, seen = _with_dispatcher(tmp_path, scenario, running=(0,))
    assert answers[0].startswith(b"HTTP/1.1 400") and answers[1].startswith(b"HTTP/1.1 431")
    assert answers[2].startswith(b"HTTP/1.1 411")
    for answer in answers[:3]:
        assert b"x-frame-options: DENY" in answer and b"Traceback" not in answer
    # one page load reached the running process, the other found its process down: 503
    statuses = sorted(a.split(b" ")[1] for a in answers[3:])
    assert statuses == [b"200", b"503"] and len(seen) == 1


# ----------------------------------------------------------------------------- the real server
def _kernel_for(process: int, processes: int = 2) -> str:
    dispatcher = Dispatcher([str(i) for i in range(processes)])
    while True:
        kid = str(uuid.uuid4())
        if dispatcher.process_for(f"/jupyter/api/kernels/{kid}/channels".encode()) == process:
            return kid


def _check_in(client, code) -> None:
    client.discover()
    client.set_state(client.find("PasswordModel")[0], {"value": code})
    client.click(client.find("ButtonModel", description="Open my page")[0])
    assert client.find("ButtonModel", description="Save"), "the check-in did not open"


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    db = tmp_path_factory.mktemp("dispatch") / "room.db"
    with open_store(db) as s:
        s.add_cohort("room")
        codes = []
        for i in range(4):
            s.add_participant(f"p{i}", cohort="room")
            codes.append(access.issue_code(s, f"p{i}"))
    server = MasteryServer(db, "--processes", "2").start()
    try:
        yield server, codes
    finally:
        server.stop()


def test_a_reconnecting_page_finds_its_session_in_its_process(two_processes):
    server, codes = two_processes
    for process, code in ((0, codes[0]), (1, codes[1])):
        first = CraftedClient(server, kernel_id=_kernel_for(process))
        try:
            _check_in(first, code)
        finally:
            first.close()
        # the same tab comes back (same cookie, same session id): its signed-in page is there
        again = CraftedClient(server, cookie=first.cookie, kernel_id=first.kernel_id, start=False)
        try:
            again.discover()
            assert again.find("ButtonModel", description="Save"), f"process {process} lost the session"
        finally:
            again.close()


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def test_a_server_process_that_dies_is_started_again(two_processes):
    server, codes = two_processes
    processes = [p for p in _children(server.process.pid)  # not multiprocessing's resource tracker
                 if b"spawn_main" in open(f"/proc/{p}/cmdline", "rb").read()]
    assert len(processes) == 2
    os.kill(processes[0], signal.SIGKILL)
    deadline = time.monotonic() + 120
    while "starting it again" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "starting it again" in server.log()
    for process, code in ((0, codes[2]), (1, codes[3])):  # both processes serve again
        for _attempt in range(60):
            try:
                client = CraftedClient(server, kernel_id=_kernel_for(process))
                break
            except Exception:  # noqa: BLE001 - the restarted process may still be starting
                time.sleep(1)
        try:
            _check_in(client, code)
        finally:
            client.close()
