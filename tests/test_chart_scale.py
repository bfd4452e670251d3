"""Cohort charts at organisation scale draw the distribution, not one trace row per person."""

import numpy as np
import pandas as pd

from mastery_analysis import charts as ch
from mastery_analysis.analysis import cohort as coh
from mastery_analysis.framework import load_framework

FW = load_framework()
PEOPLE = ch.MAX_PEOPLE_DRAWN + 200


def _scores(people, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"p{i:05d}" for i in range(people)]
    rows = []
    for e in FW.keys:
        pre = rng.normal(3, 0.6, people)
        post = pre + rng.normal(0.4, 0.4, people)
        rows.append(pd.DataFrame({"participant_id": ids, "element": e, "phase": "baseline", "score": pre}))
        rows.append(pd.DataFrame({"participant_id": ids, "element": e, "phase": "post", "score": post}))
    scores = pd.concat(rows, ignore_index=True)
    participants = pd.DataFrame({"participant_id": ids, "consent_share": True})
    return scores, participants


def test_cohort_change_of_a_large_cohort_draws_quantile_bands():
    scores, participants = _scores(PEOPLE)
    change = coh.cohort_change(scores, framework=FW)
    fig = ch.plot_cohort_change(scores, change, participants=participants, framework=FW)
    names = {t.name for t in fig.data}
    assert "One consenting participant" not in names
    assert {"Middle 50% of participants", "Middle 80% of participants", "Cohort median"} <= names
    # the 50% band of the first element spans the quartiles of its baseline and post scores
    e = FW.keys[0]
    band = next(t for t in fig.data if t.name == "Middle 50% of participants" and t.xaxis == "x")
    w = scores[scores["element"] == e].pivot(index="participant_id", columns="phase", values="score")
    expect = [w["baseline"].quantile(0.25), w["post"].quantile(0.25), w["post"].quantile(0.75),
              w["baseline"].quantile(0.75)]
    assert np.allclose(band.y, expect)
    assert f"middle 50% and 80% of the {PEOPLE}" in fig.layout.title.subtitle.text
    assert len(fig.to_json()) < 100_000  # the size of a small cohort's chart, whatever the size


def test_cohort_change_of_a_small_cohort_still_draws_each_person():
    scores, participants = _scores(20)
    fig = ch.plot_cohort_change(scores, participants=participants, framework=FW)
    assert "One consenting participant" in {t.name for t in fig.data}


def test_forest_of_a_large_cohort_is_a_histogram_per_element():
    rng = np.random.default_rng(1)
    trends = pd.DataFrame([(f"p{i:05d}", e, s, s - 0.1, s + 0.1)
                           for i in range(PEOPLE) for e, s in zip(FW.keys, rng.normal(0, 0.2, len(FW.keys)))],
                          columns=["participant_id", "element", "slope", "slope_low", "slope_high"])
    rm = pd.DataFrame({"r": [0.2], "ci_low": [0.1], "ci_high": [0.3], "p_value": [0.01],
                       "n_subjects": [PEOPLE], "n_obs": [5 * PEOPLE], "slope": [0.05],
                       "slope_low": [0.02], "slope_high": [0.08]})
    fig = ch.plot_forest(trends, rm, framework=FW)
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == len(FW.keys)
    assert all(int(np.sum(b.y)) == PEOPLE for b in bars)  # everyone counted once per element
    assert all(len(b.y) == 40 for b in bars)
    assert f"{PEOPLE} participants" in fig.layout.title.subtitle.text
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert any(np.isclose(s.x0, 0.05) for s in lines)  # the common within-person slope
    assert len(fig.to_json()) < 100_000
