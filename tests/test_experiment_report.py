"""`mastery report experiment`: byte-identical, offline, escaped, and no result before the end."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import pytest

from mastery_analysis import reports
from mastery_analysis.analysis.experiments import plan_experiment
from mastery_analysis.cli import main
from mastery_analysis.demo import load_demo
from mastery_analysis.errors import ExperimentError
from mastery_analysis.store import open_store

from test_reports import PLOTLYJS, inlined_plotlyjs, outside_references, without_plotlyjs

XSS = "<img src=x onerror=alert(1)>"
UNFINISHED = "jo-x3"


def build(path) -> str:
    """The demo data and one unfinished experiment of jo's with markup in its words."""
    with open_store(path) as s:
        load_demo(s)
        start = dt.date(2026, 10, 20)
        sched = plan_experiment(start, design="pairs", period_days=7, periods=4, seed=9)
        s.save_experiment({"experiment_id": UNFINISHED, "participant_id": "jo", "title": f"Walks {XSS}",
                           "condition_a": "No walk", "condition_b": f"Walk {XSS}", "outcome_kind": "element",
                           "outcome_ref": "potential", "design": "pairs", "period_days": 7, "periods": 4,
                           "washout_days": 0, "start_date": start, "seed": 9, "min_effect": None},
                          sched, today=start)
    return str(path)


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("xreport") / "x.db")


@pytest.fixture(scope="module")
def finished(store_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("xreport-out") / "jo-x1.html"
    return reports.render_report("experiment", out=out, store=store_path, participant="jo", experiment="jo-x1")


@pytest.mark.slow
def test_same_data_gives_the_same_bytes_from_a_freshly_loaded_store(finished, tmp_path):
    again = build(tmp_path / "again.db")
    out = reports.render_report("experiment", out=tmp_path / "again.html", store=again,
                                participant="jo", experiment="jo-x1")
    assert sha256(out) == sha256(finished)
    text = out.read_text(encoding="utf-8")
    assert str(tmp_path) not in text and dt.date.today().isoformat() not in text
    # no clock time but midnights of data dates and the noons where the chart's day shading turns
    assert set(re.findall(r"\d{2}:\d{2}:\d{2}", without_plotlyjs(text))) <= {"00:00:00", "12:00:00"}


@pytest.mark.slow
def test_the_report_is_offline_and_carries_the_items_a_reader_needs(finished):
    text = finished.read_text(encoding="utf-8")
    assert outside_references(text) == []
    assert inlined_plotlyjs(text) == [PLOTLYJS]
    for item in ("Design", "Randomisation", "Blinding", "Washout and carry-over", "Outcome", "Adherence",
                 "Effect with interval", "p-value", "Not controlled", "seed 1906", "95% CI",
                 "Intention to treat", "not randomised"):
        assert item in text, item
    assert 'id="fig-experiment"' in text and 'id="fig-randomisation"' in text


@pytest.mark.slow
def test_an_unfinished_experiment_reports_no_result_and_escapes_what_was_typed(store_path, tmp_path):
    out = reports.render_report("experiment", out=tmp_path / "x3.html", store=store_path,
                                participant="jo", experiment=UNFINISHED)
    text = without_plotlyjs(out.read_text(encoding="utf-8"))
    assert "No result yet: the experiment runs until 2026-11-16" in text
    assert "p-value</td><td>None before the planned end." in text.replace("\n", "")
    assert XSS not in text and "&lt;img src=x onerror=alert(1)&gt;" in text


def test_bad_parameters_fail_before_running_and_write_nothing(store_path, tmp_path, capsys):
    out = tmp_path / "nothing.html"
    with pytest.raises(ExperimentError, match="unknown experiment 'jo-x1' of participant 'alex'"):
        reports.render_report("experiment", out=out, store=store_path, participant="alex", experiment="jo-x1")
    with pytest.raises(reports.ReportParameterError, match="needs a participant and an experiment"):
        reports.render_report("experiment", out=out, store=store_path, participant="jo")
    assert main(["report", "experiment", "--participant", "jo", "--experiment", "nope", "--out", str(out),
                 "--store", store_path]) == 1
    err = capsys.readouterr().err
    assert "unknown experiment 'nope'" in err and "jo-x1" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
