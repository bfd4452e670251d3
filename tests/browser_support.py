"""Real-browser test support: Debian's Chromium through playwright, and a throwaway JupyterLab.

Import what a test needs (``from browser_support import ...``); the fixtures defined here
become available to a test module that imports them by name.

- :func:`launch_chromium` starts ``/usr/bin/chromium`` headless with the flags that work
  on a machine without a display or outside network (never ``playwright install``).
- :class:`JupyterLab` runs ``jupyter lab`` on 127.0.0.1 with a random token, a free port,
  throwaway config/data/runtime/IPython folders and the user settings that keep Lab quiet
  (no news toast, no autosave into the notebook under test); it stops through
  ``POST /api/shutdown`` and kills its process group if that fails.
- :func:`open_notebook`, :func:`wait_kernel_idle` and :func:`run_all_cells` drive Lab.
- Fixtures: ``chromium`` (one browser per test module), ``lab_page`` (a 1366x768 page,
  closed after the test) and ``jupyter_lab`` (a factory: ``jupyter_lab(root_dir, env=...)``
  starts a server that is stopped after the test).

Every step is one that was checked to make Lab reliable headless (no news toast, a fresh
workspace, a real click rather than a dispatched event).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 768}  # a common laptop screen
LAB_SETTINGS = {
    # the news toast ignores --LabApp.news_url=None; these settings silence it
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # otherwise Lab writes outputs into the notebook under test
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}


def launch_chromium(playwright, **kwargs):
    """Launch Debian's Chromium headless through playwright.

    Parameters
    ----------
    playwright : playwright.sync_api.Playwright
        From ``sync_playwright().start()`` or ``with sync_playwright() as p``.
    **kwargs
        Passed to ``playwright.chromium.launch`` (e.g. ``slow_mo``).

    Returns
    -------
    playwright.sync_api.Browser
    """
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                      headless=True, **kwargs)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A server in its own process group, with throwaway folders under ``_home``.

    Subclasses give :meth:`_command`, :meth:`_environment`, :meth:`_cwd` and
    :meth:`_answers` (one readiness probe); :meth:`start` tries up to three free ports (a
    port can be taken between choosing and binding), :meth:`stop` kills the group (the
    server and the kernels it started) and removes the folders.
    """

    name = "the server"
    kill_wait = 10  # seconds after SIGTERM before SIGKILL
    poll_every = 0.25

    def __init__(self, *, prefix: str, startup_timeout: float):
        self.startup_timeout = startup_timeout
        self.port = None
        self.process = None
        self._home = Path(tempfile.mkdtemp(prefix=prefix))
        self.log_path = self._home / "server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _environment(self) -> dict:
        raise NotImplementedError

    def _cwd(self) -> Path:
        return self._home

    def _answers(self) -> bool:
        """True once the server answers; an exception or False means not yet."""
        raise NotImplementedError

    def start(self):
        env = self._environment()
        for _attempt in range(3):
            self.port = free_port()
            log = open(self.log_path, "ab")
            self.process = subprocess.Popen(
                self._command(), cwd=self._cwd(), env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            if self._wait_ready():
                return self
            self._kill()
        raise RuntimeError(f"{self.name} did not start; its log:\n{self.log()[-8000:]}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # exited (e.g. the port was taken in between)
            try:
                if self._answers():
                    return True
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(self.poll_every)
        return False

    def log(self) -> str:
        """The server's standard output and error so far (its kernels' too)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"

    def _kill(self):
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, self.kill_wait), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, sig)  # the server and the kernels it started
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop(self) -> None:
        self._kill()
        if self.process is not None:
            try:  # kernels left in the group
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class JupyterLab(ServerProcess):
    """A JupyterLab server with throwaway configuration, for one test.

    Parameters
    ----------
    root_dir : path
        The folder Lab serves (copy the notebooks under test into it).
    env : dict, optional
        Extra environment variables for the server and so for its kernels
        (e.g. ``{"MASTERY_STORE": "sqlite:///..."}``).
    startup_timeout : float
        Seconds to wait for ``/api/status`` to answer.

    Attributes
    ----------
    port : int
    token : str
    base_url : str
        ``http://127.0.0.1:<port>``.
    log_path : pathlib.Path
        The server's stdout and stderr (shown when start-up fails).
    """

    name = "JupyterLab"

    def __init__(self, root_dir, *, env=None, startup_timeout: float = 90):
        super().__init__(prefix="mastery-lab-", startup_timeout=startup_timeout)
        self.root_dir = Path(root_dir)
        self.extra_env = dict(env or {})
        self.token = secrets.token_hex(16)

    def _environment(self) -> dict:
        home = self._home
        dirs = {"JUPYTER_CONFIG_DIR": home / "config", "JUPYTER_DATA_DIR": home / "data",
                "JUPYTER_RUNTIME_DIR": home / "runtime", "IPYTHONDIR": home / "ipython",
                "JUPYTERLAB_SETTINGS_DIR": home / "config" / "lab" / "user-settings",
                "JUPYTERLAB_WORKSPACES_DIR": home / "config" / "lab" / "workspaces"}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        for plugin, settings in LAB_SETTINGS.items():
            package, name = plugin.rsplit("/", 1)
            path = dirs["JUPYTERLAB_SETTINGS_DIR"] / package / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings), encoding="utf-8")
        env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, **self.extra_env}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.pop("JUPYTER_PATH", None)
        return env

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                f"--port={self.port}", f"--ServerApp.token={self.token}",
                f"--ServerApp.root_dir={self.root_dir}", "--allow-root",
                "--ServerApp.port_retries=0", "--LabApp.news_url=None"]

    def _cwd(self) -> Path:
        return self.root_dir

    def _answers(self) -> bool:
        """``/api/status`` answers 200."""
        with urllib.request.urlopen(self._request("/api/status"), timeout=5) as r:
            return r.status == 200

    def _request(self, path, method="GET"):
        return urllib.request.Request(self.base_url + path, method=method,
                                      headers={"Authorization": f"token {self.token}"})

    def notebook_url(self, name: str) -> str:
        """The URL of ``name`` in a fresh workspace (a saved one would reopen it a second time)."""
        return f"{self.base_url}/lab/workspaces/w{secrets.token_hex(6)}/tree/{name}?token={self.token}"

    def stop(self) -> None:
        """Shut down through the API (kernels too); kill the process group if that fails."""
        if self.process is not None and self.process.poll() is None:
            try:
                urllib.request.urlopen(self._request("/api/shutdown", method="POST"), timeout=10)
                self.process.wait(timeout=20)
            except (urllib.error.URLError, OSError, subprocess.TimeoutExpired):
                pass
        super().stop()


def wait_kernel_idle(page, timeout: float = 60_000) -> None:
    """Wait until the status bar says the kernel is idle (the toolbar indicator says it too early)."""
    page.locator("#jp-main-statusbar").get_by_text("| Idle").first.wait_for(timeout=timeout)


def open_notebook(page, lab: JupyterLab, name: str, timeout: float = 90_000) -> None:
    """Open ``name`` in a fresh workspace and wait for its kernel to be idle."""
    page.goto(lab.notebook_url(name), timeout=timeout)
    page.locator(".jp-NotebookPanel").first.wait_for(timeout=timeout)
    wait_kernel_idle(page, timeout)


def run_all_cells(page, timeout: float = 90_000) -> None:
    """Run > Run All Cells through the menu, then wait for the kernel to be idle again."""
    page.locator(".lm-MenuBar-itemLabel").get_by_text("Run", exact=True).click()
    page.locator('li.lm-Menu-item[data-command="runmenu:run-all"]').click()
    # every code cell gets an execution count once it has run
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                 .every(p => /\\[\\d+\\]/.test(p.textContent))""", timeout=timeout)
    wait_kernel_idle(page, timeout)


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium for the test module (skips, or fails in CI, without Chromium)."""
    from conftest import require_browser

    require_browser()  # before anything starts: this fixture is set up before the test's own
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def lab_page(chromium):
    """A fresh 1366x768 page (its own context); console errors are collected in ``page.errors``."""
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()


@pytest.fixture
def jupyter_lab():
    """A factory ``jupyter_lab(root_dir, env=None)`` of started servers, all stopped afterwards."""
    servers = []

    def start(root_dir, *, env=None):
        server = JupyterLab(root_dir, env=env)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
