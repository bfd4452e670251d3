"""The notebooks that host the forms: thin, clean, and running unattended under papermill."""

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest

from mastery_analysis.store import open_store

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FORMS = {"01_check_in.ipynb": "CheckInForm", "01_goals.ipynb": "GoalForm",
         "01_assessment.ipynb": "AssessmentForm"}


@pytest.mark.parametrize("name", sorted(FORMS))
def test_form_notebook_is_thin_and_clean(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"] == {"name": "python3", "display_name": "Python 3",
                                         "language": "python"}
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    assert re.search(r"^store = None\b", params[0].source, re.M)
    assert re.search(r'^participant = "alex"', params[0].source, re.M)
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, "outputs must be stripped"
        assert not re.search(r"^\s*(def|class)\s", cell.source, re.M), "no def/class in notebooks"
    assert code[-1].source.rstrip().endswith("form")  # the form is displayed by the last line
    assert FORMS[name] in code[-1].source


@pytest.fixture
def store_with_alex(tmp_path):
    path = tmp_path / "forms.db"
    with open_store(path) as s:
        s.add_participant("alex", name="Alex")
        s.write("goals", pd.DataFrame([{"goal_id": "apply", "participant_id": "alex",
                                        "title": "Send applications", "start_date": "2024-05-01"}]))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FORMS))
@pytest.mark.parametrize("participant", ["alex", "nobody"])
def test_form_notebook_runs_under_papermill(name, participant, store_with_alex, tmp_path):
    out = tmp_path / name
    pm.execute_notebook(str(NOTEBOOKS / name), str(out), kernel_name="python3", progress_bar=False,
                        parameters={"store": str(store_with_alex), "participant": participant},
                        cwd=str(tmp_path))
    shown = json.dumps(nbformat.read(out, as_version=4).cells[-1].outputs)
    assert "application/vnd.jupyter.widget-view+json" in shown
    assert f"{FORMS[name]} for '{participant}'" in shown
    if participant == "nobody":
        assert "No participant 'nobody'" in shown and "add_participant" in shown
    with open_store(store_with_alex) as s:  # displaying a form writes nothing
        assert s.row_counts() == {"participants": 1, "goals": 1, "ratings": 0, "actions": 0,
                                  "progress": 0, "responses": 0}
