"""``mastery serve`` without a server: exposure rules, the page-load limit, the address
passed to the kernel, log redaction and the Voila configuration."""

import logging

import nbformat
import pytest

from mastery_analysis import cli
from mastery_analysis.resources import notebook_path
from mastery_analysis.serve import (CSP, PageLoadLimiter, RedactKernelIds, ServeError, ServeSettings,
                                    client_address, inject_address, is_loopback, make_prelaunch_hook,
                                    protection, voila_config)

STORE = "sqlite:////nonexistent/store.db"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"])
def test_loopback_hosts_need_no_protection(host):
    assert is_loopback(host)
    lines = protection(ServeSettings(store=STORE, host=host))
    assert "only" in lines[0] and "30 page loads per minute" in lines[-1]


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
                                 {"max_pages": 0}, {"token": "short"}, {"base_url": "services/x"},
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


class _Request:
    def __init__(self, ip):
        self.remote_ip = ip


@pytest.mark.parametrize("ip, shown", [("127.0.0.1", "127.0.0.1"), ("::ffff:10.0.0.1", "10.0.0.1"),
                                       ("fe80::1%eth0", "fe80::1"), ("1.2.3.4'); import os; ('", "unknown"),
                                       ("", "unknown")])
def test_the_client_address_is_an_ip_address_or_unknown(ip, shown):
    assert client_address(_Request(ip)) == shown


def test_the_address_reaches_the_kernel_after_the_parameters_cell():
    nb = nbformat.read(notebook_path("app/participant.ipynb"), as_version=4)
    n = len(nb.cells)
    inject_address(nb, "10.1.2.3")
    assert len(nb.cells) == n + 1
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    assert nb.cells[index + 1].source.startswith("client_address = '10.1.2.3'")
    with pytest.raises(ValueError):
        inject_address(nb, "10.1.2.3'; import os")
    with pytest.raises(ServeError, match="parameters"):
        inject_address(nbformat.v4.new_notebook(), "10.1.2.3")


class _KernelManager:
    def __init__(self, n):
        self.n = n

    def list_kernel_ids(self):
        return [str(i) for i in range(self.n)]


class _Handler:
    def __init__(self, ip, kernels=0):
        self.request = _Request(ip)
        self.kernel_manager = _KernelManager(kernels)
        self.xsrf_read = 0

    @property
    def xsrf_token(self):
        self.xsrf_read += 1
        return b"token"


def test_the_prelaunch_hook_limits_loads_sets_the_xsrf_cookie_and_passes_the_address():
    import tornado.web

    settings = ServeSettings(store=STORE, page_loads_per_minute=2, max_pages=5)
    hook = make_prelaunch_hook(settings)
    nb = lambda: nbformat.read(notebook_path("app/coach.ipynb"), as_version=4)  # noqa: E731
    handler = _Handler("10.0.0.7")
    out = hook(handler, nb(), "")
    assert handler.xsrf_read == 1
    assert any(c.source.startswith("client_address = '10.0.0.7'") for c in out.cells)
    hook(handler, nb(), "")
    with pytest.raises(tornado.web.HTTPError) as too_many:
        hook(handler, nb(), "")
    assert too_many.value.status_code == 429 and "wait a minute" in too_many.value.reason
    with pytest.raises(tornado.web.HTTPError) as full:
        hook(_Handler("10.0.0.8", kernels=5), nb(), "")
    assert full.value.status_code == 503


def test_kernel_ids_are_redacted_from_log_lines():
    record = logging.LogRecord("Voila", logging.INFO, __file__, 1, "Kernel started: %s",
                               ("0f8fad5b-d9cb-469f-a165-70867728950e",), None)
    assert RedactKernelIds().filter(record)
    assert record.getMessage() == "Kernel started: <kernel>"
    plain = logging.LogRecord("Voila", logging.INFO, __file__, 1, "nothing %d", (3,), None)
    RedactKernelIds().filter(plain)
    assert plain.getMessage() == "nothing 3"


def test_the_voila_configuration_carries_the_security_settings():
    c = voila_config(ServeSettings(store=STORE, token="x" * 20, behind_proxy=True, cull_idle_timeout=600))
    headers = c.Voila.tornado_settings["headers"]
    assert headers["Content-Security-Policy"] == CSP and "frame-ancestors 'none'" in CSP
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert c.Voila.token == "x" * 20
    v = c.VoilaConfiguration
    assert callable(v.prelaunch_hook) and v.show_tracebacks is False and v.preheat_kernel is False
    assert v.allow_template_override == "NO" and v.file_allowlist == []
    assert c.MappingKernelManager.cull_idle_timeout == 600 and c.MappingKernelManager.cull_connected
    assert c.Voila.tornado_settings["xsrf_cookie_kwargs"]["secure"] is True
    assert voila_config(ServeSettings(store=STORE, base_url="/services/mastery/")).Voila.base_url == \
        "/services/mastery/"
