"""The notebook workspace: copied once, updated when unchanged, never overwritten when edited."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from mastery_analysis import workspace as ws
from mastery_analysis.cli import main
from mastery_analysis.resources import notebooks_dir


def _notebook(text: str) -> str:
    return json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": [text]}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


@pytest.fixture
def shipped(tmp_path):
    """A folder of 'shipped' notebooks, with package-only subfolders that are not copied."""
    src = tmp_path / "shipped"
    for rel, text in {"00_start.ipynb": "start v1", "02_mine.ipynb": "mine v1",
                      "extra/10_more.ipynb": "more v1", "reports/personal_report.ipynb": "r",
                      "app/coach.ipynb": "a", ".ipynb_checkpoints/00_start-checkpoint.ipynb": "c"}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(_notebook(text))
    return src


def test_first_sync_copies_the_everyday_notebooks_and_records_them(shipped, tmp_path):
    target = tmp_path / "ws"
    result = ws.sync_workspace(target, source=shipped, version="1.0")
    assert result.added == ["00_start.ipynb", "02_mine.ipynb", "extra/10_more.ipynb"]
    assert not (target / "reports").exists() and not (target / "app").exists()
    assert not (target / ".ipynb_checkpoints").exists()
    manifest = json.loads((target / ws.MANIFEST).read_text())
    assert manifest["package_version"] == "1.0" and set(manifest["files"]) == set(result.added)
    assert (target / "00_start.ipynb").read_bytes() == (shipped / "00_start.ipynb").read_bytes()
    again = ws.sync_workspace(target, source=shipped, version="1.0")
    assert again.added == again.updated == again.kept == [] and len(again.unchanged) == 3
    assert any("up to date" in line for line in again.lines())


def test_an_upgrade_updates_untouched_adds_new_and_keeps_edited(shipped, tmp_path):
    target = tmp_path / "ws"
    ws.sync_workspace(target, source=shipped, version="1.0")
    mine = _notebook("mine, with my own notes")
    (target / "02_mine.ipynb").write_text(mine)
    for rel in ("00_start.ipynb", "02_mine.ipynb"):
        (shipped / rel).write_text(_notebook(rel + " v2"))
    (shipped / "03_new.ipynb").write_text(_notebook("new in v2"))
    result = ws.sync_workspace(target, source=shipped, version="2.0")
    assert result.updated == ["00_start.ipynb"] and result.added == ["03_new.ipynb"]
    assert result.kept == ["02_mine.ipynb"]
    assert (target / "02_mine.ipynb").read_text() == mine
    assert (target / "00_start.ipynb").read_text() == _notebook("00_start.ipynb v2")
    lines = result.lines()
    assert "notebooks of mastery-analysis 1.0 -> 2.0" in lines
    assert any(line.startswith("kept 02_mine.ipynb: you changed it") for line in lines)
    manifest = json.loads((target / ws.MANIFEST).read_text())
    assert manifest["package_version"] == "2.0"
    # the kept notebook stays recorded as last copied, so it is kept on every later run too
    later = ws.sync_workspace(target, source=shipped, version="2.0")
    assert later.kept == ["02_mine.ipynb"] and (target / "02_mine.ipynb").read_text() == mine


def test_an_edit_with_nothing_new_shipped_is_left_quietly(shipped, tmp_path):
    target = tmp_path / "ws"
    ws.sync_workspace(target, source=shipped, version="1.0")
    (target / "02_mine.ipynb").write_text(_notebook("edited"))
    result = ws.sync_workspace(target, source=shipped, version="1.0")
    assert result.edited == ["02_mine.ipynb"] and result.kept == [] and result.updated == []
    assert (target / "02_mine.ipynb").read_text() == _notebook("edited")


def test_a_notebook_of_the_same_name_made_by_the_person_is_not_overwritten(shipped, tmp_path):
    target = tmp_path / "ws"
    target.mkdir()
    (target / "00_start.ipynb").write_text(_notebook("my own start"))
    result = ws.sync_workspace(target, source=shipped, version="1.0")
    assert result.kept == ["00_start.ipynb"] and "02_mine.ipynb" in result.added
    assert (target / "00_start.ipynb").read_text() == _notebook("my own start")
    assert "00_start.ipynb" not in json.loads((target / ws.MANIFEST).read_text())["files"]


def test_a_deleted_notebook_comes_back(shipped, tmp_path):
    target = tmp_path / "ws"
    ws.sync_workspace(target, source=shipped, version="1.0")
    (target / "00_start.ipynb").unlink()
    assert ws.sync_workspace(target, source=shipped).added == ["00_start.ipynb"]


def test_bad_workspaces_are_clear_errors(shipped, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(ws.WorkspaceError, match="it is a file, not a folder"):
        ws.sync_workspace(a_file, source=shipped)
    target = tmp_path / "ws"
    ws.sync_workspace(target, source=shipped)
    (target / ws.MANIFEST).write_text("{not json")
    with pytest.raises(ws.WorkspaceError, match="manifest .* is damaged"):
        ws.sync_workspace(target, source=shipped)
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ws.WorkspaceError):
            ws.sync_workspace(locked, source=shipped)


def test_the_checkouts_own_notebooks_are_used_in_place(tmp_path):
    result = ws.sync_workspace(notebooks_dir())
    assert result.in_place and result.added == [] and "nothing to copy" in result.lines()[0]
    assert not (notebooks_dir() / ws.MANIFEST).exists()


def test_lab_command_runs_this_pythons_jupyterlab_on_the_folder(tmp_path):
    cmd = ws.lab_command(tmp_path, browser=False, port=8899, extra=["--ServerApp.token=x"])
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={tmp_path}" in cmd and "--no-browser" in cmd
    assert "--port=8899" in cmd and cmd[-1] == "--ServerApp.token=x"
    assert ("--allow-root" in cmd) == (os.geteuid() == 0)


def test_cli_lab_sync_only_reports_what_it_did(tmp_path, capsys):
    target = tmp_path / "lab"
    assert main(["lab", "--dir", str(target), "--sync-only"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"workspace: {target}") and "added" in out
    shipped = sorted(ws.shipped_notebooks())
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*.ipynb")) == shipped
    assert max(len(line) for line in out.splitlines()) <= 100 or str(tmp_path) in out
    assert main(["lab", "--dir", str(target / ws.MANIFEST), "--sync-only"]) == 1
    assert "not a folder" in capsys.readouterr().err


def test_cli_lab_starts_jupyterlab_with_the_workspace(tmp_path, monkeypatch, capsys):
    started = []
    monkeypatch.setattr(ws, "start_lab", lambda folder, **kw: started.append((Path(folder), kw)) or 0)
    assert main(["lab", "--dir", str(tmp_path / "w"), "--no-browser", "--port", "8900",
                 "--", "--ServerApp.token=abc"]) == 0
    assert started == [((tmp_path / "w").resolve(), {"browser": False, "port": 8900,
                                                      "extra": ["--ServerApp.token=abc"]})]
    assert "starting JupyterLab" in capsys.readouterr().out


def test_a_terminated_lab_stops_jupyterlab_too(tmp_path):
    import signal
    import subprocess
    import time

    # `mastery lab` with a stand-in for JupyterLab that records how it was stopped
    stand_in = tmp_path / "fake_lab.py"
    stand_in.write_text(
        "import signal, sys, time, pathlib\n"
        "out = pathlib.Path(sys.argv[1])\n"
        "signal.signal(signal.SIGTERM, lambda *a: (out.write_text('terminated'), sys.exit(0)))\n"
        "out.write_text('running')\n"
        "time.sleep(120)\n")
    mark = tmp_path / "state"
    code = ("import sys; from mastery_analysis import workspace, cli\n"
            f"workspace.lab_command = lambda *a, **k: [sys.executable, {str(stand_in)!r}, {str(mark)!r}]\n"
            f"sys.exit(cli.main(['lab', '--dir', {str(tmp_path / 'ws')!r}, '--no-browser']))\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 120
        while not (mark.exists() and mark.read_text() == "running"):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)  # only mastery is told; it must stop the server
        assert proc.wait(timeout=60) == 0  # a stopped lab is a normal end
        assert mark.read_text() == "terminated"
    finally:
        if proc.poll() is None:
            proc.kill()
