"""``mastery serve`` without a server: exposure rules, the page-load limit, the address
passed to the session, the cap on sessions, idle sessions, the token, log redaction and the
Solara settings (the middleware is driven with ASGI messages in front of a stand-in app)."""

import asyncio
import json
import logging

import pytest

from mastery_analysis import cli, serve
from mastery_analysis.serve import (CSP, IdleSessions, MasteryMiddleware, PageLoadLimiter, QueuedSends,
                                    RedactKernelIds, ServeError, ServeSettings, client_address,
                                    is_loopback, protection, solara_environment, token_cookie_value)

STORE = "sqlite:////nonexistent/store.db"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"])
def test_loopback_hosts_need_no_protection(host):
    assert is_loopback(host)
    lines = protection(ServeSettings(store=STORE, host=host))
    assert "only" in lines[0] and "1200 page loads per minute" in lines[-1]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_an_exposed_host_without_token_or_proxy_is_refused(host):
    assert not is_loopback(host)
    with pytest.raises(ServeError, match="--behind-proxy.*--token"):
        protection(ServeSettings(store=STORE, host=host))


def test_an_exposed_host_says_what_protects_it():
    with_token = protection(ServeSettings(store=STORE, host="0.0.0.0", token="t" * 24))
    assert any("token" in line for line in with_token)
    assert any("NO TLS" in line for line in with_token)  # a token alone does not encrypt
    proxied = protection(ServeSettings(store=STORE, host="0.0.0.0", behind_proxy=True))
    assert any("reverse proxy" in line for line in proxied)
    assert not any("NO TLS" in line for line in proxied)


def test_the_cli_refuses_an_exposed_host_before_touching_the_store(capsys):
    assert cli.main(["serve", "--store", "/nonexistent/x.db", "--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err
    assert "exposes the server" in err and "Traceback" not in err


@pytest.mark.parametrize("bad", [{"port": 0}, {"port": 70000}, {"page_loads_per_minute": -1},
                                 {"max_pages": 0}, {"workers": 0}, {"token": "short"}, {"base_url": "services/x"},
                                 {"base_url": "/a b/"}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ServeError):
        ServeSettings(store=STORE, **bad)


def test_serve_refuses_a_missing_store(tmp_path, capsys):
    assert cli.main(["serve", "--store", str(tmp_path / "none.db")]) == 1
    assert "no store at" in capsys.readouterr().err


def test_page_load_limit_is_a_sliding_minute_per_address():
    now = [0.0]
    limit = PageLoadLimiter(3, clock=lambda: now[0])
    assert [limit.allow("10.0.0.1") for _ in range(4)] == [True, True, True, False]
    assert limit.allow("10.0.0.2")  # another address has its own budget
    now[0] = 59.9
    assert not limit.allow("10.0.0.1")
    now[0] = 60.0  # the first loads left the window
    assert limit.allow("10.0.0.1")
    assert all(PageLoadLimiter(0).allow("x") for _ in range(1000))  # 0: no limit


def _scope(ip="127.0.0.1", path="/participant", kind="http", headers=(), method="GET"):
    return {"type": kind, "path": path, "client": (ip, 5000), "method": method, "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}


@pytest.mark.parametrize("ip, shown", [("127.0.0.1", "127.0.0.1"), ("::ffff:10.0.0.1", "10.0.0.1"),
                                       ("fe80::1%eth0", "fe80::1"), ("1.2.3.4'); import os; ('", "unknown"),
                                       ("", "unknown")])
def test_the_client_address_is_an_ip_address_or_unknown(ip, shown):
    assert client_address(_scope(ip)) == shown


def test_behind_a_proxy_the_address_is_the_proxys_header():
    forged = _scope("10.0.0.1", headers=[("X-Forwarded-For", "6.6.6.6, 203.0.113.9")])
    assert client_address(forged, behind_proxy=True) == "203.0.113.9"  # the entry the proxy added
    assert client_address(forged) == "10.0.0.1"  # without --behind-proxy the header is ignored
    real = _scope("10.0.0.1", headers=[("X-Real-IP", "198.51.100.7"), ("X-Forwarded-For", "1.1.1.1")])
    assert client_address(real, behind_proxy=True) == "198.51.100.7"


class _App:
    """A stand-in for Solara's application: records what reached it and answers 200."""

    def __init__(self):
        self.scopes = []

    async def __call__(self, scope, receive, send):
        self.scopes.append(scope)
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            await receive()
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"set-cookie", b"solara-session-id=x; Path=/; SameSite=lax")]})
        await send({"type": "http.response.body", "body": b"page"})


def _call(middleware, scope, incoming=()):
    sent = []
    queue = list(incoming) or [{"type": "websocket.receive", "text": "{}"}]

    async def receive():
        return queue.pop(0) if queue else {"type": "websocket.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    return sent


def _status(sent):
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    return start["status"] if start else sent[0]["type"]


def _headers(sent):
    start = next(m for m in sent if m["type"] == "http.response.start")
    return {k.decode(): v.decode() for k, v in start["headers"]}


def test_the_middleware_limits_page_loads_per_address_and_sets_the_headers():
    app, sessions = _App(), {}
    mw = MasteryMiddleware(app, ServeSettings(store=STORE, page_loads_per_minute=3), sessions=lambda: sessions)
    answers = [_call(mw, _scope("10.0.0.7")) for _ in range(4)]
    assert [_status(a) for a in answers] == [200, 200, 200, 429]
    assert b"wait a minute" in answers[-1][-1]["body"]
    headers = _headers(answers[0])
    assert headers["content-security-policy"] == CSP and headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer" and headers["x-content-type-options"] == "nosniff"
    assert "SameSite=Strict" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]
    assert _status(_call(mw, _scope("10.0.0.8"))) == 200  # another address has its own limit
    # assets do not count as page loads; unknown paths and Solara's diagnostics are not served
    assert _status(_call(mw, _scope("10.0.0.7", "/_solara/cdn/x.js"))) == 200
    for path in ("/resourcez", "/readyz", "/notebooks/x", "/api/kernels"):
        assert _status(_call(mw, _scope("10.0.0.9", path))) == 404
    assert _status(_call(mw, _scope("10.0.0.9", "/"))) == 302


def test_a_room_behind_one_address_is_not_refused_by_the_default_limit():
    app = _App()
    mw = MasteryMiddleware(app, ServeSettings(store=STORE), sessions=dict)
    assert all(_status(_call(mw, _scope("192.0.2.1"))) == 200 for _ in range(600))


def test_the_cap_on_sessions_refuses_pages_and_new_sessions_but_not_reconnects():
    app, sessions = _App(), {"k-open": object(), "k-two": object()}
    mw = MasteryMiddleware(app, ServeSettings(store=STORE, max_pages=2), sessions=lambda: sessions)
    assert _status(_call(mw, _scope())) == 503
    new = _call(mw, _scope(kind="websocket", path="/jupyter/api/kernels/k-new/channels"))
    assert new == [{"type": "websocket.close", "code": 1013}]
    again = _call(mw, _scope(kind="websocket", path="/jupyter/api/kernels/k-open/channels"))
    assert again[0] == {"type": "websocket.accept"}


def test_the_session_gets_the_address_and_a_forged_header_is_dropped():
    app = _App()
    mw = MasteryMiddleware(app, ServeSettings(store=STORE), sessions=dict)
    _call(mw, _scope("10.9.8.7", kind="websocket", path="/jupyter/api/kernels/k1/channels",
                     headers=[("X-Mastery-Client", "1.2.3.4")]))
    headers = [(k, v) for k, v in app.scopes[-1]["headers"] if k == b"x-mastery-client"]
    assert headers == [(b"x-mastery-client", b"10.9.8.7")]
    assert mw.idle.idle(["k1"]) == []  # the message it sent counts as activity


def test_idle_sessions_are_found_after_the_timeout():
    now = [0.0]
    idle = IdleSessions(60, clock=lambda: now[0])
    idle.touch("a")
    now[0] = 30
    assert idle.idle(["a", "b"]) == []  # b is seen from now on
    now[0] = 61
    assert idle.idle(["a", "b"]) == ["a"]
    idle.touch("a")
    now[0] = 95
    assert idle.idle(["a", "b"]) == ["b"]
    assert idle.idle([]) == [] and idle._last == {}  # closed sessions are forgotten


def test_the_token_gates_pages_and_websockets():
    token = "t" * 24
    app = _App()
    mw = MasteryMiddleware(app, ServeSettings(store=STORE, token=token), sessions=dict)
    refused = _call(mw, _scope())
    assert _status(refused) == 302 and _headers(refused)["location"] == "/login"
    ws = _call(mw, _scope(kind="websocket", path="/jupyter/api/kernels/k1/channels"))
    assert ws == [{"type": "websocket.close", "code": 1008}] and app.scopes == []
    wrong = _call(mw, _scope(path="/login", method="POST"),
                  [{"type": "http.request", "body": b"password=nope", "more_body": False}])
    assert _status(wrong) == 403 and b"not right" in wrong[-1]["body"]
    right = _call(mw, _scope(path="/login", method="POST"),
                  [{"type": "http.request", "body": f"password={token}".encode(), "more_body": False}])
    cookie = _headers(right)["set-cookie"]
    assert _status(right) == 302 and token not in cookie and "HttpOnly" in cookie
    value = cookie.split(";")[0]
    assert value == f"mastery-token={token_cookie_value(token)}"
    assert _status(_call(mw, _scope(headers=[("Cookie", value)]))) == 200


def test_a_base_url_prefixes_every_path():
    app = _App()
    mw = MasteryMiddleware(app, ServeSettings(store=STORE, base_url="/services/mastery/"), sessions=dict)
    assert _status(_call(mw, _scope(path="/participant"))) == 404
    assert _status(_call(mw, _scope(path="/services/mastery/participant"))) == 200
    assert app.scopes[-1]["path"] == "/participant" and app.scopes[-1]["root_path"] == "/services/mastery"


def test_kernel_ids_are_redacted_from_log_lines():
    record = logging.LogRecord("solara", logging.INFO, __file__, 1, "new virtual kernel: %s",
                               ("0f8fad5b-d9cb-469f-a165-70867728950e",), None)
    assert RedactKernelIds().filter(record)
    assert record.getMessage() == "new virtual kernel: <kernel>"
    plain = logging.LogRecord("solara", logging.INFO, __file__, 1, "nothing %d", (3,), None)
    RedactKernelIds().filter(plain)
    assert plain.getMessage() == "nothing 3"


def test_the_solara_settings_keep_everything_on_this_server():
    env = solara_environment(ServeSettings(store=STORE, behind_proxy=True, cull_idle_timeout=600,
                                           base_url="/services/mastery/"))
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"
    assert env["SOLARA_MODE"] == "production" and env["SOLARA_THEME_SHOW_BANNER"] == "False"
    assert env["SOLARA_APP"] == "mastery_analysis.sessions"
    assert "SOLARA_ASSETS_PROXY" not in env  # "False" would send browsers to a CDN
    assert env["SOLARA_SESSION_HTTPS_ONLY"] == "True" and env["SOLARA_ROOT_PATH"] == "/services/mastery"
    assert env["MASTERY_STORE"] == STORE


def test_the_solara_packages_are_pinned_to_one_version():
    """solara, solara-server, solara-ui and solara-assets of one version: the page's assets
    are the ones the server asks for (a mismatch is a blank page offline)."""
    from importlib.metadata import version

    versions = {name: version(name) for name in ("solara", "solara-server", "solara-ui", "solara-assets")}
    assert len(set(versions.values())) == 1, versions


class _FakeWebsocket:
    """What :class:`QueuedSends` needs of Solara's websocket wrapper; records what it sent."""

    def __init__(self, loop, *, fail_after=None):
        self.event_loop, self.tasks, self.sent, self.fail_after = loop, set(), [], fail_after

    async def _send_text_exc(self, data):
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise ConnectionError("the browser went away")
        await asyncio.sleep(0)  # a send may yield to the loop: others' sends must not overtake
        self.sent.append(data)

    async def _send_bytes_exc(self, data):
        await self._send_text_exc(data)


def _run_sends(fake_of_loop, messages):
    """Put ``messages`` from two threads other than the loop's, as sessions do; return the fake."""
    import threading

    loop = asyncio.new_event_loop()
    fake = fake_of_loop(loop)
    sends = QueuedSends(fake)

    def session(part):
        for m in part:
            sends.put(m)

    async def main():
        threads = [threading.Thread(target=session, args=(messages[i::2],)) for i in range(2)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads) or sends.flushing or fake.tasks:
            await asyncio.sleep(0.01)

    loop.run_until_complete(main())
    loop.close()
    return fake, sends


def test_queued_sends_keep_each_threads_order_and_lose_nothing():
    messages = [f"m{i}" for i in range(2000)] + [b"bytes"]
    fake, sends = _run_sends(_FakeWebsocket, messages)
    assert sorted(fake.sent, key=str) == sorted(messages, key=str)  # every one, once
    for part in (messages[0::2], messages[1::2]):  # each sender's messages in its order
        assert [m for m in fake.sent if m in set(part)] == part
    assert not sends.queue and not sends.flushing


def test_queued_sends_stop_quietly_once_the_connection_is_gone():
    fake, sends = _run_sends(lambda loop: _FakeWebsocket(loop, fail_after=10), [f"m{i}" for i in range(500)])
    assert len(fake.sent) == 10 and sends.closed and not sends.queue
    sends.put("later")  # a session still running after its browser left: dropped, no error
    assert not sends.queue


def test_the_pinned_solara_still_has_what_queued_sends_replace():
    """queue_websocket_sends replaces send_text/send_bytes of Solara's websocket wrapper and
    relies on its portal, event_loop, tasks and _send_*_exc: a new Solara must keep them."""
    import inspect

    from solara.server.starlette import WebsocketWrapper

    source = inspect.getsource(WebsocketWrapper)
    for name in ("self.portal", "self.event_loop", "self.tasks", "async def _send_text_exc",
                 "async def _send_bytes_exc", "def send_text", "def send_bytes"):
        assert name in source, name


def test_a_server_process_collects_cycles_rarely_and_never_through_its_start_up():
    """What ``serve_one`` does before serving, in a process of its own: the objects loaded at
    start are frozen out of collections, and the thresholds are the server's."""
    import subprocess
    import sys

    script = ("import gc, json; from mastery_analysis import serve; before = gc.get_freeze_count(); "
              "serve.tune_garbage_collector(); "
              "print(json.dumps([before, gc.get_freeze_count(), gc.get_threshold()]))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    before, frozen, thresholds = json.loads(out.stdout)
    assert before == 0 and frozen > 10_000  # the package and its imports, at least
    assert tuple(thresholds) == serve.GC_THRESHOLDS
    assert serve.GC_THRESHOLDS[0] > 700  # rarer than Python's default
