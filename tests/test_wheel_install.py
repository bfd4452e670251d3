"""The package as a person installs it: the built wheel in a fresh virtual environment,
used from an empty folder outside the checkout.

Once per test session: ``python -m build`` makes the sdist and the wheel in a temporary
folder, ``python -m venv`` makes an environment and pip installs the wheel (its dependencies
come from the package index, through pip's cache). Every command then runs with a throwaway
home folder, so the user folders (platformdirs) are fresh, and without ``$MASTERY_STORE``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from browser_support import free_port

ROOT = Path(__file__).resolve().parents[1]
MAX_REPORT_BYTES = 3_000_000

pytestmark = pytest.mark.slow


class Installed:
    """The wheel installed in a fresh venv, with a throwaway home and an empty working folder."""

    def __init__(self, base: Path):
        self.base = base
        self.dist = base / "dist"
        self.venv = base / "venv"
        self.home = base / "home"
        self.work = base / "work"  # the empty folder the person runs commands in
        for folder in (self.home, self.work):
            folder.mkdir(parents=True)
        self.bin = self.venv / ("Scripts" if os.name == "nt" else "bin")
        self.python = self.bin / "python"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MASTERY_", "XDG_", "JUPYTER", "VIRTUAL_ENV", "PYTHON"))}
        env.update(HOME=str(self.home), PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
                   IPYTHONDIR=str(self.home / ".ipython"))
        # pip's cache stays the person's usual one (installing the dependencies again is slow)
        env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
        return env

    def run(self, *argv, cwd=None, timeout=600, check=True) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(a) for a in argv], cwd=cwd or self.work, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, argv))} exited {proc.returncode}:\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def mastery(self, *argv, **kw) -> subprocess.CompletedProcess:
        return self.run(self.bin / "mastery", *argv, **kw)

    def where(self) -> dict:
        return json.loads(self.mastery("where", "--format", "json").stdout)


def build(source: Path, out: Path, *, wheel_only: bool = False) -> Path:
    """``python -m build`` of ``source`` into ``out``; the wheel's path."""
    cmd = [sys.executable, "-m", "build", "--outdir", str(out)] + (["--wheel"] if wheel_only else [])
    proc = subprocess.run(cmd + [str(source)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = sorted(out.glob("*.whl"))
    assert wheels, proc.stdout[-2000:]
    return wheels[-1]


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    inst = Installed(tmp_path_factory.mktemp("wheel"))
    wheel = build(ROOT, inst.dist)
    assert sorted(p.suffix for p in inst.dist.iterdir()) == [".gz", ".whl"]  # sdist and wheel
    subprocess.run([sys.executable, "-m", "venv", str(inst.venv)], check=True, timeout=300)
    inst.run(inst.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             str(wheel), timeout=900)
    inst.wheel = wheel
    return inst


def test_the_wheel_carries_notebooks_frameworks_and_licence(installed):
    import zipfile

    names = set(zipfile.ZipFile(installed.wheel).namelist())
    shipped = {p.relative_to(ROOT / "notebooks").as_posix()
               for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    assert {f"mastery_analysis/notebooks/{n}" for n in shipped} <= names
    assert {"mastery_analysis/frameworks/career_mastery.yaml",
            "mastery_analysis/frameworks/wheel_of_life.yaml"} <= names
    instruments = {f"mastery_analysis/frameworks/instruments/{p.name}"
                   for p in (ROOT / "mastery_analysis" / "frameworks" / "instruments").glob("*.yaml")}
    assert instruments and instruments <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(installed.wheel).read(meta).decode()
    assert "License-Expression: MIT" in text and "Classifier: Framework :: Jupyter" in text


def test_a_new_user_in_an_empty_folder(installed):
    # installed, the package runs from site-packages: nothing of the checkout is used
    probe = installed.run(installed.python, "-c",
                          "import mastery_analysis, json; from mastery_analysis import resources;"
                          "print(json.dumps([mastery_analysis.__file__, str(resources.notebooks_dir()),"
                          " resources.checkout_root()]))")
    package_file, notebooks, checkout = json.loads(probe.stdout)
    assert str(installed.venv) in package_file and checkout is None
    assert Path(notebooks).is_relative_to(installed.venv)

    where = installed.where()
    assert {k: v["chosen_by"] for k, v in where.items()} == {
        "store": "user folder", "workspace": "user folder", "reports": "user folder"}
    store, workspace, reports = (Path(where[k]["path"]) for k in ("store", "workspace", "reports"))
    for place in (store, workspace, reports):
        assert place.is_relative_to(installed.home), place
    text = installed.mastery("where").stdout
    assert str(store) in text and "user data folder" in text

    out = installed.mastery("demo").stdout
    assert "loaded the demo data" in out and store.is_file()
    assert list(installed.work.iterdir()) == []  # nothing written where the person stands

    personal = installed.mastery("report", "personal", "--participant", "alex").stdout.split()
    cohort = installed.mastery("report", "cohort", "--cohort", "spring-cohort").stdout.split()
    assert personal == [str(reports / "personal-alex.html")]
    assert cohort == [str(reports / "cohort-spring-cohort.html")]
    assert list(installed.work.iterdir()) == []

    # the size and self-containment checks, on what the installed package wrote
    plotlyjs = installed.run(installed.python, "-c",
                             "import sys; from plotly.offline import get_plotlyjs;"
                             "sys.stdout.write(get_plotlyjs())").stdout
    from test_reports import inlined_plotlyjs, outside_references

    for path in (reports / "personal-alex.html", reports / "cohort-spring-cohort.html"):
        data = path.read_bytes()
        assert len(data) <= MAX_REPORT_BYTES, (path, len(data))
        text = data.decode("utf-8")
        assert inlined_plotlyjs(text) == [plotlyjs]
        assert outside_references(text) == []
    installed.rendered = [reports / "personal-alex.html", reports / "cohort-spring-cohort.html"]

    # the sentences and the 100-column tables
    sentences = installed.mastery("stats", "insights", "--participant", "alex").stdout
    assert "not proof of cause" in sentences and sentences.startswith("What the data of alex says")
    assert max(len(line) for line in sentences.splitlines()) <= 100


@pytest.mark.browser
def test_the_installed_reports_draw_offline(installed):
    from conftest import require_browser

    require_browser()
    rendered = getattr(installed, "rendered", None)
    if not rendered:
        pytest.fail("test_a_new_user_in_an_empty_folder did not render the reports")
    from playwright.sync_api import sync_playwright

    from browser_support import launch_chromium
    from test_reports_browser import OfflinePage

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            for path, figures in zip(rendered, (7, 5)):  # the cohort report: + scale reliability
                view = OfflinePage(browser)
                try:
                    assert view.open(path) == figures
                    assert view.outside == [] and view.errors == [] and view.dialogs == []
                finally:
                    view.close()
        finally:
            browser.close()


def _wait_for_lab(port: int, token: str, proc: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/api/status"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mastery lab exited with {proc.returncode}")
        try:
            req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(req, timeout=5) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError("JupyterLab did not answer within two minutes")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def test_mastery_lab_starts_jupyterlab_in_the_workspace(installed):
    workspace = Path(installed.where()["workspace"]["path"])
    port, token = free_port(), "t" + os.urandom(8).hex()
    log = installed.base / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(installed.bin / "mastery"), "lab", "--no-browser", "--port",
                                 str(port), "--", f"--IdentityProvider.token={token}",
                                 "--ServerApp.port_retries=0"],
                                cwd=installed.work, env=installed.env(), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        status = _wait_for_lab(port, token, proc)
        assert "started" in status
        # the server's files are the workspace's
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/contents",
                                     headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            listing = {item["name"] for item in json.loads(resp.read())["content"]}
    finally:
        _stop(proc)
    printed = log.read_text()
    assert f"workspace: {workspace}" in printed and "added" in printed
    assert "00_start_here.ipynb" in listing
    assert not list(workspace.rglob("*_report.ipynb"))  # the package runs those itself
    manifest = json.loads((workspace / ".mastery-workspace.json").read_text())
    assert set(manifest["files"]) == {n for n in listing if n.endswith(".ipynb")}


def test_an_edited_notebook_survives_an_upgrade(installed, tmp_path):
    workspace = tmp_path / "my-notebooks"
    first = installed.mastery("lab", "--dir", workspace, "--sync-only").stdout
    assert "added" in first
    edited, untouched = workspace / "02_my_trajectories.ipynb", workspace / "03_action_and_progress.ipynb"
    nb = json.loads(edited.read_text())
    nb["cells"].append({"cell_type": "markdown", "id": "my-notes", "metadata": {},
                        "source": ["My own notes."]})
    mine = json.dumps(nb, indent=1) + "\n"
    edited.write_text(mine)
    # the next version: changed notebooks, one new one, a new version number
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "data", "tests", "benchmarks", "reports", "*.egg-info", "build", "dist",
        "__pycache__", ".pytest_cache", ".hypothesis", ".ipynb_checkpoints"))
    pyproject = src / "pyproject.toml"
    pyproject.write_text(re.sub(r'(?m)^version = "[^"]+"', 'version = "99.0.0"', pyproject.read_text()))
    for name in (edited.name, untouched.name):
        nb = json.loads((src / "notebooks" / name).read_text())
        source = nb["cells"][0]["source"]
        nb["cells"][0]["source"] = "".join(source) + "\n\nNew in 99.0.0."
        (src / "notebooks" / name).write_text(json.dumps(nb, indent=1) + "\n")
    shutil.copy(src / "notebooks" / "00_start_here.ipynb", src / "notebooks" / "05_new_in_99.ipynb")
    wheel = build(src, tmp_path / "dist99", wheel_only=True)
    installed.run(installed.python, "-m", "pip", "install", "--quiet", "--no-deps",
                  "--force-reinstall", "--disable-pip-version-check", str(wheel))
    try:
        second = installed.mastery("lab", "--dir", workspace, "--sync-only").stdout
        assert "-> 99.0.0" in second
        assert edited.read_text() == mine  # the person's edit is still there
        assert f"kept {edited.name}" in second
        assert "New in 99.0.0." in untouched.read_text()  # the untouched one was updated
        assert (workspace / "05_new_in_99.ipynb").is_file()
        manifest = json.loads((workspace / ".mastery-workspace.json").read_text())
        assert manifest["package_version"] == "99.0.0"
        # a third run has nothing new to say but still keeps the edit
        third = installed.mastery("lab", "--dir", workspace, "--sync-only").stdout
        assert f"kept {edited.name}" in third and edited.read_text() == mine
    finally:  # later tests of the session get the version built from the checkout back
        installed.run(installed.python, "-m", "pip", "install", "--quiet", "--no-deps",
                      "--force-reinstall", "--disable-pip-version-check", str(installed.wheel))
