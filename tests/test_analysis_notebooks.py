"""The analysis notebooks run on a brand-new store with one participant and one check-in, and
their empty states say what to do next (nbval covers the demo data)."""

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["00_start_here", "02_my_trajectories", "03_action_and_progress", "04_workshop_cohort"]


@pytest.fixture(scope="module")
def new_store(tmp_path_factory):
    from mastery_analysis.store import open_store

    path = tmp_path_factory.mktemp("new") / "mastery.db"
    with open_store(path) as s:
        s.add_participant("alex", joined_on="2026-01-05")
        s.record_checkin("alex", "2026-01-05", ratings={k: 5 for k in s.framework.keys})
    return path


def outputs_text(book):
    """Text of every output: streams, plain text, and the plotly figures' titles and notes."""
    texts = []
    for cell in book.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", out.get("evalue")
            data = out.get("data", {})
            fig = data.get("application/vnd.plotly.v1+json")
            if fig:
                layout = fig["layout"]
                texts.append(layout["title"]["text"])
                texts += [a.get("text", "") for a in layout.get("annotations", [])]
            texts.append(out.get("text", "") + data.get("text/plain", "") + data.get("text/html", ""))
    return "\n".join(texts)


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_on_a_store_with_one_check_in(name, new_store, monkeypatch):
    monkeypatch.setenv("MASTERY_STORE", f"sqlite:///{new_store}")
    book = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    NotebookClient(book, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    text = outputs_text(book)
    expected = {
        "00_start_here": ["Being proactive", "ratings"],
        "02_my_trajectories": ["No actions logged yet: log today's actions in 01_check_in.ipynb",
                               "No goals yet: add a goal in 01_goals.ipynb"],
        "03_action_and_progress": ["No action and progress pairs yet"],
        "04_workshop_cohort": ["No check-ins yet", "No assessments yet",
                               "No baseline and post assessments yet: collect both with 01_assessment.ipynb"],
    }[name]
    for phrase in expected:
        assert phrase in text, f"{name} should say: {phrase}"
