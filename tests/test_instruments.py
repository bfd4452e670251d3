"""Validated instruments shipped as questionnaire files, and the loader's refusals."""

import numpy as np
import pandas as pd
import pytest
import yaml

from mastery_analysis.analysis.reliability import scale_reliability
from mastery_analysis.errors import FrameworkError
from mastery_analysis.framework import available_instruments, load_instrument

GOOD = {
    "instrument": "tiny",
    "title": "A tiny scale",
    "validated": True,
    "citation": "Someone (2024).",
    "licence": {"statement": "Available in the public domain", "source": "the authors' page"},
    "scale": {"min": 1, "max": 4},
    "scoring": "sum",
    "items": [{"id": "t1", "text": "One."}, {"id": "t2", "text": "Two.", "reverse": True},
              {"id": "t3", "text": "Three."}],
    "scales": [{"key": "all", "items": ["t1", "t2", "t3"],
                "published_reliability": {"value": 0.7, "source": "their table 2"},
                "norms": [{"group": "students", "n": 200, "mean": 8.5, "sd": 2.1, "source": "table 3"}]}],
}


def _write(tmp_path, data, name="tiny.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_shipped_instruments_carry_scoring_citation_reliability_and_licence():
    names = available_instruments()
    assert {"pearlin_mastery", "ipip_assertiveness"} <= set(names)
    for name in names:
        q = load_instrument(name)
        assert q.validated and q.citation and q.licence and q.licence_source
        assert q.scoring in ("sum", "mean")
        for s in q.scales:
            assert 0 < s.reliability < 1 and s.reliability_source
    pm = load_instrument("pearlin_mastery")
    assert (pm.scale.min, pm.scale.max, pm.scoring) == (1, 4, "sum")
    assert [i.id for i in pm.items if i.reverse] == ["pm1", "pm2", "pm3", "pm5", "pm7"]  # 1R 2R 3R 4 5R 6 7R
    assert pm.scale_score("mastery").reliability == 0.72 and "public domain" in pm.licence
    assert pm.scale_score("mastery").norms == ()  # none read in a source: none shipped
    home = load_instrument("career_mastery_q")
    assert not home.validated and "not validated" in home.citation


def test_a_valid_file_loads_with_its_norms(tmp_path):
    q = load_instrument(_write(tmp_path, GOOD))
    s = q.scale_score("all")
    assert s.items == ("t1", "t2", "t3") and s.reliability == 0.7
    assert s.norms[0].mean == 8.5 and s.norms[0].n == 200
    assert q.item("t2").reverse


@pytest.mark.parametrize("change, message", [
    (lambda d: d["scales"][0]["items"].append("t9"), "names unknown item 't9'"),
    (lambda d: d["items"].append({"id": "t1", "text": "Again."}), "item id 't1' appears twice"),
    (lambda d: d["scales"][0].update(items=[]), "scale 'all' has no items"),
    (lambda d: d.pop("licence"), "missing licence statement"),
    (lambda d: d["licence"].update(statement=""), "missing licence statement"),
    (lambda d: d["scales"][0]["published_reliability"].update(value=1.2), "between 0 and 1"),
    (lambda d: d.update(scoring="median"), "scoring 'median'"),
])
def test_a_bad_instrument_file_is_refused_with_one_clear_message(tmp_path, change, message):
    import copy

    data = copy.deepcopy(GOOD)
    change(data)
    path = _write(tmp_path, data)
    with pytest.raises(FrameworkError, match=message) as info:
        load_instrument(path)
    assert str(path) in str(info.value)  # names the file
    assert "\n" not in str(info.value)  # one message


def test_unknown_instrument_name_lists_the_shipped_ones():
    with pytest.raises(FrameworkError, match="pearlin_mastery"):
        load_instrument("no_such_scale")


def test_reliability_of_an_instrument_falls_back_to_its_published_value():
    rng = np.random.default_rng(1)
    q = load_instrument("pearlin_mastery")
    latent = rng.normal(size=20)
    rows = []
    for item in q.items:
        v = np.clip(np.rint(2.5 + 0.8 * latent + rng.normal(0, 0.7, 20)), 1, 4)
        rows.append(pd.DataFrame({"participant_id": [f"p{i}" for i in range(20)], "item": item.id,
                                  "value": 5 - v if item.reverse else v}))
    answers = pd.concat(rows).assign(instrument="pearlin_mastery", phase="baseline", date="2026-01-05")
    row = scale_reliability(answers).iloc[0]  # the instrument is found by its name
    assert (row["instrument"], row["scale"], row["n_items"]) == ("pearlin_mastery", "mastery", 7)
    assert row["alpha"] > 0.7  # reverse items turned back before alpha
    assert (row["source"], row["reliability"]) == ("published", 0.72)  # 20 people: under 30
