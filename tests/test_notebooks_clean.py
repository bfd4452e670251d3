"""Notebooks are committed thin and clean (DESIGN.md, "Notebooks and reports")."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_clean_and_thin(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3", "name the kernel"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged `parameters`"
    for c in code:
        text = source(c)
        assert not re.search(r"^\s*(def|class)\s", text, re.M), "a def or class belongs in the package"
        if "# NBVAL_CHECK_OUTPUT" in text:
            assert c["outputs"] and c["execution_count"], "a check cell keeps its reference output"
            assert all(o.get("output_type") in ("stream", "execute_result") for o in c["outputs"])
        else:
            assert c["outputs"] == [], "outputs are stripped outside NBVAL_CHECK_OUTPUT cells"
            assert c["execution_count"] is None
