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


# --------------------------------------------------------------------------- a cohort's choice
@pytest.fixture
def workshop(tmp_path, monkeypatch):
    from mastery_analysis import access
    from mastery_analysis.store import open_store

    monkeypatch.setattr(access, "SCRYPT_N", 2**10)
    s = open_store(str(tmp_path / "w.db"))
    s.add_cohort("spring")
    s.add_participant("alex", cohort="spring", joined_on="2026-01-01")
    yield s
    s.close()


def test_a_cohort_chooses_instruments_per_phase(workshop):
    from mastery_analysis.errors import MasteryError

    s = workshop
    assert s.cohort_instruments("spring", "baseline") == ["career_mastery_q"]  # the default
    s.set_open_phase("spring", "baseline", instruments=["pearlin_mastery", "career_mastery_q"])
    assert s.cohort_instruments("spring") == ["pearlin_mastery", "career_mastery_q"]
    s.set_open_phase("spring", "post", instruments=["ipip_assertiveness"])
    assert s.cohort_instruments("spring", "baseline") == ["pearlin_mastery", "career_mastery_q"]
    assert s.cohort_instruments("spring") == ["ipip_assertiveness"]
    s.set_open_phase("spring", "baseline")  # reopening keeps the phase's choice
    assert s.cohort_instruments("spring") == ["pearlin_mastery", "career_mastery_q"]
    with pytest.raises(FrameworkError, match="no instrument named 'gse'"):
        s.set_open_phase("spring", "mid", instruments=["gse"])
    with pytest.raises(MasteryError, match="named twice"):
        s.set_open_phase("spring", "mid", instruments=["pearlin_mastery", "pearlin_mastery"])
    with pytest.raises(MasteryError, match="closing"):
        s.set_open_phase("spring", None, instruments=["pearlin_mastery"])
    assert s.cohort("spring")["open_phase"] == "baseline"  # nothing changed by the refusals
    listed = s.cohorts().set_index("name").at["spring", "instruments"]
    assert listed == "baseline: pearlin_mastery, career_mastery_q; post: ipip_assertiveness"
    s.set_open_phase("spring", None)
    assert s.cohort_instruments("spring") == []


def test_a_version_2_store_gains_the_instruments_column(tmp_path):
    import sqlalchemy as sa

    from mastery_analysis.store import SCHEMA_VERSION, open_store

    path = tmp_path / "old.db"
    with open_store(str(path)) as s:
        s.add_cohort("spring")
        s.set_open_phase("spring", "mid")
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # what a version-2 store looked like
        conn.execute(sa.text("ALTER TABLE cohorts DROP COLUMN instruments"))
        conn.execute(sa.text("UPDATE meta SET value = '2' WHERE key = 'schema_version'"))
    engine.dispose()
    with open_store(str(path)) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.cohort("spring")["open_phase"] == "mid"
        assert s.cohort_instruments("spring") == ["career_mastery_q"]
        s.set_open_phase("spring", "mid", instruments=["pearlin_mastery"])
        assert s.cohort_instruments("spring") == ["pearlin_mastery"]


def test_the_cli_opens_a_phase_with_instruments(tmp_path, capsys):
    from mastery_analysis.cli import main

    db = str(tmp_path / "c.db")
    assert main(["cohort", "add", "spring", "--store", db]) == 0
    code = main(["cohort", "phase", "spring", "--open", "baseline", "--instrument", "pearlin_mastery",
                 "--instrument", "career_mastery_q", "--store", db])
    out, err = capsys.readouterr()
    assert code == 0 and "pearlin_mastery, career_mastery_q" in out
    code = main(["cohort", "phase", "spring", "--open", "baseline", "--instrument", "nope", "--store", db])
    out, err = capsys.readouterr()
    assert code == 1 and "no instrument named 'nope'" in err and "Traceback" not in err


def test_the_assessment_form_and_the_served_session_ask_the_chosen_instruments(workshop):
    from mastery_analysis.access import ParticipantSession, issue_code, verify
    from mastery_analysis.errors import ValidationError
    from mastery_analysis.widgets.forms import AssessmentForm

    s = workshop
    s.set_open_phase("spring", "baseline", instruments=["pearlin_mastery", "career_mastery_q"])
    form = AssessmentForm(s, "alex", phase="baseline", day="2026-01-05", today="2026-01-05")
    assert [q.instrument for q in form.questionnaires] == ["pearlin_mastery", "career_mastery_q"]
    assert list(form.items)[:8] == ["pm1", "pm2", "pm3", "pm4", "pm5", "pm6", "pm7", "pro1"]
    assert form.items["pm1"].options == (1, 2, 3, 4) and form.items["pro1"].options == (1, 2, 3, 4, 5)
    for item_id, radios in form.items.items():
        radios.value = 2
    assert form.save()
    saved = s.responses(participant="alex")
    assert sorted(saved.groupby("instrument").size().items()) == [("career_mastery_q", 15), ("pearlin_mastery", 7)]
    again = AssessmentForm(s, "alex", phase="baseline", day="2026-01-05", today="2026-01-05")
    assert again.items["pm3"].value == 2  # loaded for editing, instrument by instrument

    session = ParticipantSession(s, verify(s, issue_code(s, "alex")))
    served = AssessmentForm.for_session(session, s, day="2026-01-06", today="2026-01-06")
    assert [q.instrument for q in served.questionnaires] == ["pearlin_mastery", "career_mastery_q"]
    assert session.answer({("pearlin_mastery", "pm1"): 4}, day="2026-01-06") == 1
    with pytest.raises(ValidationError, match="an integer from 1 to 4"):
        session.answer({("pearlin_mastery", "pm1"): 5}, day="2026-01-06")  # off the 1-4 scale
    with pytest.raises(ValidationError, match="an item of pearlin_mastery, career_mastery_q"):
        session.answer({("ipip_assertiveness", "ipa1"): 3}, day="2026-01-06")  # not chosen


def _pearlin_answers(n, seed, *, shift=0.0, phase="baseline", day="2026-01-05"):
    rng = np.random.default_rng(seed)
    q = load_instrument("pearlin_mastery")
    latent = rng.normal(size=n) + shift
    rows = []
    for item in q.items:
        v = np.clip(np.rint(2.5 + 0.8 * latent + rng.normal(0, 0.6, n)), 1, 4)
        rows.append(pd.DataFrame({"participant_id": [f"p{i}" for i in range(n)], "item": item.id,
                                  "value": 5 - v if item.reverse else v}))
    return pd.concat(rows).assign(instrument="pearlin_mastery", phase=phase, date=day)


def test_scale_scores_follow_the_scoring_rule():
    from mastery_analysis.analysis.reliability import SCORE_COLUMNS, scale_scores

    answers = _pearlin_answers(6, seed=2)
    partial = answers.loc[~((answers["participant_id"] == "p0") & (answers["item"] == "pm4"))]
    scores = scale_scores(partial).set_index("participant_id")
    assert list(scale_scores(partial).columns) == SCORE_COLUMNS
    assert "p0" not in scores.index  # a sum needs every item: no partial sum
    wide = answers.pivot(index="participant_id", columns="item", values="value")
    for item in ("pm1", "pm2", "pm3", "pm5", "pm7"):
        wide[item] = 5 - wide[item]
    expected = wide.sum(axis=1)
    for pid in scores.index:
        assert scores.at[pid, "score"] == expected[pid] and scores.at[pid, "n_items"] == 7
    assert scores["score"].between(7, 28).all()
    home = scale_scores(pd.DataFrame({"participant_id": "a", "item": ["pro1", "pro3"], "value": [4, 2],
                                      "phase": "baseline", "date": "2026-01-05"}))
    assert home.set_index("scale").at["proactive", "score"] == 4.0  # mean of 4 and 6 - 2


def test_baseline_beside_norms_and_the_change_on_a_validated_instrument(tmp_path):
    from mastery_analysis.analysis.reliability import (BASELINE_NORM_COLUMNS, baseline_beside_norms,
                                                       published_norms, scale_change, scale_scores)

    normed = dict(GOOD, items=[{"id": f"pm{i}", "text": "x", "reverse": i in (1, 2, 3, 5, 7)}
                               for i in range(1, 8)],
                  instrument="pearlin_mastery",
                  scales=[{"key": "mastery", "items": [f"pm{i}" for i in range(1, 8)],
                           "published_reliability": {"value": 0.72, "source": "p"},
                           "norms": [{"group": "adults", "n": 500, "mean": 20.0, "sd": 3.0, "source": "t"}]}])
    q = load_instrument(_write(tmp_path, normed, "pearlin_mastery.yaml"))
    answers = pd.concat([_pearlin_answers(40, seed=3),
                         _pearlin_answers(40, seed=3, shift=0.5, phase="post", day="2026-03-01")])
    scores = scale_scores(answers, instruments=[q])
    norms = published_norms([q])
    assert norms[["group", "norm_n", "norm_mean", "norm_sd"]].iloc[0].tolist() == ["adults", 500, 20.0, 3.0]
    beside = baseline_beside_norms(scores, norms)
    assert list(beside.columns) == BASELINE_NORM_COLUMNS
    base = scores.loc[scores["phase"] == "baseline", "score"]
    row = beside.iloc[0]
    assert row["n"] == 40 and row["mean"] == pytest.approx(base.mean())
    assert row["difference_in_norm_sd"] == pytest.approx((base.mean() - 20.0) / 3.0)
    assert published_norms(["pearlin_mastery"]).empty  # the shipped file quotes none
    change = scale_change(answers, instruments=[q]).set_index("scale")
    assert change.at["mastery", "instrument"] == "pearlin_mastery" and change.at["mastery", "n"] == 40
    assert change.at["mastery", "mean_diff"] > 0 and change.at["mastery", "reliability_source"] == "measured"
    post = scores.loc[scores["phase"] == "post", "score"].to_numpy()
    assert change.at["mastery", "mean_diff"] == pytest.approx(post.mean() - base.mean())


def test_reliability_notes_warn_plainly_under_070():
    from mastery_analysis.analysis.reliability import scale_reliability
    from mastery_analysis.demo import demo_frames
    from mastery_analysis.reports import reliability_notes

    rel = scale_reliability(demo_frames()["responses"])
    notes = reliability_notes(rel)
    low = rel[(rel["phase"] == "baseline") & (rel["alpha"] < 0.70)]
    assert len(low) >= 1  # the demo's home-made scales include weak ones
    for r in low.itertuples():
        assert any(n.startswith(f"Warning: career_mastery_q, {r.scale}: alpha is {r.alpha:.2f}") for n in notes)
    assert sum(n.startswith("Warning") for n in notes) == len(low)
    assert any("not a validated questionnaire" in n for n in notes)
    assert reliability_notes(rel, min_n=25) == [n for n in notes if "not a validated" in n]  # 24 people
