"""Where the store, the workspace and the reports live, and `mastery where` saying why."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mastery_analysis import locations
from mastery_analysis.cli import main
from mastery_analysis.store import default_url, open_store, resolve_url

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No MASTERY_* variables, and user folders under a throwaway home."""
    for name in (locations.STORE_ENV, locations.WORKSPACE_ENV, locations.REPORTS_ENV):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_DOCUMENTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def installed(monkeypatch, clean_env):
    """As if the package ran from site-packages: no source checkout around it."""
    monkeypatch.setattr(locations, "checkout_root", lambda: None)
    return clean_env


def test_in_a_checkout_the_defaults_are_the_checkouts_folders(clean_env):
    store, workspace, reports = locations.where()
    assert store.value == f"sqlite:///{ROOT / 'data' / 'mastery.db'}" and store.chosen_by == "checkout"
    assert Path(workspace.value) == ROOT / "notebooks" and workspace.chosen_by == "checkout"
    assert Path(reports.value) == ROOT / "reports" and reports.chosen_by == "checkout"
    assert default_url() == store.value == resolve_url(None)


def test_installed_the_defaults_are_the_user_folders(installed):
    store, workspace, reports = locations.where()
    assert store.chosen_by == workspace.chosen_by == reports.chosen_by == "user folder"
    assert store.path == installed / ".local" / "share" / "mastery-analysis" / "mastery.db"
    assert workspace.path == installed / "Documents" / "Mastery"
    assert reports.path == installed / "Documents" / "Mastery" / "reports"
    assert "user data folder" in store.reason


def test_options_beat_environment_beats_default(installed, monkeypatch, tmp_path):
    monkeypatch.setenv(locations.STORE_ENV, str(tmp_path / "env.db"))
    monkeypatch.setenv(locations.WORKSPACE_ENV, str(tmp_path / "env-ws"))
    monkeypatch.setenv(locations.REPORTS_ENV, str(tmp_path / "env-reports"))
    store, workspace, reports = locations.where()
    assert (store.chosen_by, workspace.chosen_by, reports.chosen_by) == ("environment",) * 3
    assert store.value == f"sqlite:///{tmp_path / 'env.db'}" and "$MASTERY_STORE" in store.reason
    assert workspace.path == tmp_path / "env-ws" and reports.path == tmp_path / "env-reports"
    store, workspace, reports = locations.where(store="postgresql+psycopg://db/mastery",
                                                workspace=tmp_path / "ws", reports=tmp_path / "r")
    assert (store.chosen_by, workspace.chosen_by, reports.chosen_by) == ("option",) * 3
    assert store.value == "postgresql+psycopg://db/mastery" and store.path is None
    assert "--store" in store.reason and "--dir" in workspace.reason


def test_installed_store_is_created_in_the_user_data_folder_not_the_working_folder(
        installed, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with open_store() as s:
        assert s.url == locations.store_location().value
    assert (installed / ".local" / "share" / "mastery-analysis" / "mastery.db").is_file()
    assert list(work.iterdir()) == []


def test_mastery_where_prints_each_place_and_why(installed, capsys, tmp_path):
    assert main(["where"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("store") and "user data folder" in out
    assert "workspace" in out and "reports" in out
    assert max(len(line) for line in out.splitlines()) <= 100 or str(installed) in out
    assert main(["where", "--format", "json", "--store", str(tmp_path / "x.db")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["store"] == {"value": f"sqlite:///{tmp_path / 'x.db'}", "path": str(tmp_path / "x.db"),
                             "chosen_by": "option", "reason": "given with --store"}
    assert data["workspace"]["chosen_by"] == "user folder"


def test_reports_go_to_the_reports_folder_when_no_out_is_given(demo_store_path, monkeypatch,
                                                               tmp_path, capsys):
    monkeypatch.setenv(locations.REPORTS_ENV, str(tmp_path / "my reports"))
    calls = []
    from mastery_analysis import reports

    monkeypatch.setattr(reports, "render_report", lambda kind, **kw: calls.append((kind, kw)) or kw["out"])
    assert main(["report", "cohort", "--cohort", "spring-cohort", "--store", str(demo_store_path)]) == 0
    assert main(["report", "personal", "--participant", "alex", "--store", str(demo_store_path)]) == 0
    assert [Path(kw["out"]) for _, kw in calls] == [tmp_path / "my reports" / "cohort-spring-cohort.html",
                                                   tmp_path / "my reports" / "personal-alex.html"]
    assert capsys.readouterr().out.splitlines() == [str(Path(kw["out"])) for _, kw in calls]


def test_importing_the_package_loads_no_heavy_library():
    code = ("import sys, mastery_analysis as ma; "
            "heavy = [m for m in ('pandas', 'plotly', 'scipy', 'sqlalchemy', 'numpy', 'yaml', "
            "'ipywidgets', 'papermill') if m in sys.modules]; print(heavy); "
            "print(sorted(n for n in ma.__all__ if not hasattr(ma, n)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.splitlines()
    assert out[0] == "[]"  # nothing heavy on import ...
    assert out[1] == "[]"  # ... and every public name resolves when used


def test_the_everyday_api_is_the_modules_own_functions():
    import mastery_analysis as ma
    from mastery_analysis import charts, demo, store
    from mastery_analysis.analysis import trajectories

    assert ma.open_store is store.open_store and ma.load_demo is demo.load_demo
    assert ma.element_trends is trajectories.element_trends
    assert ma.plot_wheel is charts.plot_wheel
    assert {"open_store", "load_demo", "element_trends", "insights", "plot_trajectories",
            "render_report", "where", "MasteryError"} <= set(ma.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ma.nope
