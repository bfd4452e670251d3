"""A self-experiment's outcome from the tidy tables, where an experiment stands on a day, and
how the insights speak of experiments."""

import numpy as np
import pandas as pd
import pytest

from mastery_analysis.analysis.experiment_outcomes import (effect_sentence, experiment_status,
                                                           outcome_series)
from mastery_analysis.analysis.findings import insights
from mastery_analysis.errors import AnalysisInputError

D = pd.Timestamp


def test_each_outcome_kind_reads_its_own_rows_of_its_own_person():
    ratings = pd.DataFrame({"participant_id": ["a", "a", "a", "b"], "date": ["2025-01-01", "2025-01-02", "2025-01-02", "2025-01-01"],
                            "element": ["focused", "focused", "focused", "focused"],
                            "kind": ["current", "current", "vision", "current"], "rating": [5, 7, 9, 1]})
    got = outcome_series({"ratings": ratings}, outcome_kind="element", outcome_ref="focused", participant_id="a")
    assert got.to_dict("list") == {"date": [D("2025-01-01"), D("2025-01-02")], "value": [5.0, 7.0]}
    progress = pd.DataFrame({"participant_id": "a", "goal_id": "g", "date": ["2025-01-01", "2025-01-03", "2025-01-04"],
                             "percent": [10.0, 14.0, 14.5]})
    got = outcome_series({"progress": progress}, outcome_kind="goal_progress", outcome_ref="g", participant_id="a")
    # the change since the entry before, on the later entry's day; the first has none
    assert got.to_dict("list") == {"date": [D("2025-01-03"), D("2025-01-04")], "value": [4.0, 0.5]}
    actions = pd.DataFrame({"participant_id": "a", "goal_id": ["g", "h"], "date": ["2025-01-01"] * 2, "count": [3, 1]})
    got = outcome_series({"actions": actions}, outcome_kind="goal_actions", outcome_ref="g", participant_id="a")
    assert got["value"].tolist() == [3.0]
    responses = pd.DataFrame({"participant_id": "a", "date": ["2025-01-01"], "instrument": ["note"],
                              "item": ["energy"], "value": [6.5]})
    got = outcome_series({"responses": responses}, outcome_kind="note", outcome_ref="energy", participant_id="a")
    assert got["value"].tolist() == [6.5]
    with pytest.raises(AnalysisInputError, match="needs the ratings frame"):
        outcome_series({}, outcome_kind="element", outcome_ref="focused", participant_id="a")


def test_status_says_the_condition_in_words_or_when_it_starts_and_ended():
    exps = pd.DataFrame({"experiment_id": ["x"], "condition_a": ["usual"], "condition_b": ["new"]})
    sched = {"x": pd.DataFrame({"date": pd.date_range("2025-01-01", periods=4), "period": [1, 1, 2, 2],
                                "condition": list("ABBA"), "washout": [False, False, True, False]})}
    on = experiment_status(exps, sched, "2025-01-03").iloc[0]
    assert (on["day"], on["condition"], on["condition_text"], bool(on["washout"]), on["status"]) == (
        3, "B", "new", True, "running")
    assert experiment_status(exps, sched, "2024-12-31")["status"].tolist() == ["not started"]
    after = experiment_status(exps, sched, "2025-01-05").iloc[0]
    assert after["status"] == "finished" and after["end"] == D("2025-01-04") and pd.isna(after["condition"])


def effect_row(**changes):
    row = {"estimate": 1.2, "ci_low": 0.4, "ci_high": 2.0, "p_value": 0.01, "n_a": 20, "n_b": 20,
           "finished": True, "randomised": True, "alpha": 0.05, "planned_end": D("2025-03-01")}
    return {**row, **changes}


def test_the_sentence_claims_only_a_finished_randomised_result():
    words = dict(title="T", condition_a="usual", condition_b="new", outcome="focus")
    assert "higher than" in effect_sentence(effect_row(), **words)
    assert "no clear difference" in effect_sentence(effect_row(p_value=0.2), **words)
    early = effect_sentence(effect_row(finished=False), **words)
    assert "no result yet" in early and "p" not in early.split("(")[1]
    assert "not randomised" in effect_sentence(effect_row(randomised=False), **words)


def test_insights_correct_claims_across_a_persons_experiments():
    ratings = pd.DataFrame({"participant_id": "a", "date": pd.date_range("2025-01-01", periods=70),
                            "element": "focused", "rating": 5})
    empty_a = pd.DataFrame(columns=["participant_id", "date", "goal_id", "count"])
    empty_p = pd.DataFrame(columns=["participant_id", "date", "goal_id", "percent"])
    goals = pd.DataFrame(columns=["goal_id", "participant_id"])
    exps = pd.DataFrame([{**effect_row(p_value=p), "experiment_id": f"x{i}", "title": f"T{i}",
                          "condition_a": "a", "condition_b": "b", "outcome": "focus"}
                         for i, p in enumerate([0.03, 0.04, 0.5])])
    found = insights(ratings, empty_a, empty_p, goals, participant_id="a", experiments=exps)
    ex = found.loc[found["kind"] == "experiment"].set_index("subject")
    # p = 0.03 and 0.04 are below 0.05, but not after Benjamini-Hochberg over three experiments
    np.testing.assert_allclose(ex["q_value"], [0.06, 0.06, 0.5])
    assert ex["claim"].tolist() == [False, False, False]
    assert all("no clear difference" in t for t in ex["text"])
