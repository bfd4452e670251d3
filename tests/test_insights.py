"""insights: claims only what the statistics support, on the demo, on noise and on little data."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from mastery_analysis.analysis.correlation import action_progress_correlation
from mastery_analysis.analysis.findings import COLUMNS, insights
from mastery_analysis.errors import AnalysisInputError


@pytest.fixture(scope="module")
def demo():
    from mastery_analysis.demo import demo_frames

    return demo_frames()


def _call(frames, **kw):
    return insights(frames["ratings"], frames["actions"], frames["progress"], frames["goals"], **kw)


def _noise_participant(seed, pid="nora", days=150):
    """Pure noise: iid ratings, random actions, a progress random walk unrelated to them."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2025-03-01", periods=days)
    seen = rng.random(days) < 0.9
    elements = ["proactive", "connect", "informed", "focused", "potential"]
    ratings = pd.DataFrame([(pid, d, e, int(rng.integers(3, 9))) for d in dates[seen] for e in elements],
                           columns=["participant_id", "date", "element", "rating"])
    goals = pd.DataFrame({"goal_id": [f"{pid}-a", f"{pid}-b"], "participant_id": pid,
                          "title": ["Goal A", "Goal B"], "freq_times": [1, 3], "freq_days": [1, 7],
                          "start_date": dates[0], "due_date": dates[-1] + pd.Timedelta(days=60)})
    actions, progress = [], []
    for g in goals["goal_id"]:
        level = np.clip(np.cumsum(rng.normal(0.5, 1.0, days)), 0, 100)
        actions.append(pd.DataFrame({"participant_id": pid, "date": dates[seen], "goal_id": g,
                                     "count": rng.poisson(1.0, seen.sum())}))
        progress.append(pd.DataFrame({"participant_id": pid, "date": dates[seen], "goal_id": g,
                                      "percent": level[seen]}))
    return {"ratings": ratings, "actions": pd.concat(actions, ignore_index=True),
            "progress": pd.concat(progress, ignore_index=True), "goals": goals}


def test_demo_findings_match_the_ground_truth(demo):
    from mastery_analysis.demo import GROUND_TRUTH

    truth = GROUND_TRUTH["alex"]
    res = _call(demo, participant_id="alex")
    assert list(res.columns) == COLUMNS
    by = res.set_index(["kind", "subject"])
    effect = by.loc[("action_progress", truth["effect_goal"])]
    assert effect["claim"] and effect["q_value"] < 0.05 and effect["value"] > 0
    assert "faster progress" in effect["text"] and "not proof of cause" in effect["text"]
    null = by.loc[("action_progress", truth["null_goal"])]
    assert not null["claim"] and "no clear relation" in null["text"]
    for element, direction in truth["trends"].items():
        row = by.loc[("trend", element)]
        if direction == "flat":
            assert not row["claim"] and "no clear trend" in row["text"]
        else:
            assert row["claim"] and f"is {direction}" in row["text"]
    goal_ids = set(demo["goals"].query("participant_id == 'alex'")["goal_id"])
    for kind in ("action_progress", "goal_pace", "habit"):
        assert set(res.loc[res["kind"] == kind, "subject"]) == goal_ids


def test_every_claim_is_backed_by_a_q_value_below_alpha(demo):
    for pid in ("alex", "sc01", "sc07"):
        res = _call(demo, participant_id=pid)
        claims = res[res["claim"]]
        assert (claims["q_value"] < 0.05).all()
        assert set(claims["kind"]) <= {"trend", "action_progress"}
        assert not res.loc[res["q_value"].isna(), "claim"].any()


def test_pure_noise_gives_no_claim():
    frames = _noise_participant(seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = _call(frames)
    assert not res["claim"].any(), res.loc[res["claim"], "text"].tolist()
    assert len(res[res["kind"] == "trend"]) == 5
    texts = " ".join(res["text"])
    assert "improving" not in texts and "declining" not in texts and "go with" not in texts


def test_claims_on_many_noise_participants_stay_rare():
    people = [_noise_participant(seed=100 + k, pid=f"n{k:02d}", days=120) for k in range(30)]
    any_claim = 0
    for frames in people:
        res = _call(frames)
        any_claim += bool(res["claim"].any())
    # two FDR-controlled families per person (trends, action-progress): at most ~10% expected
    assert any_claim / len(people) <= 0.15, any_claim


def test_little_data_says_how_many_more_days_are_needed(demo):
    alex = {k: v[v["participant_id"] == "alex"] for k, v in demo.items()}
    res = _call(alex, today="2024-11-20")
    ap = res[res["kind"] == "action_progress"]
    assert len(ap) and not ap["claim"].any()
    corr = action_progress_correlation(
        alex["actions"][alex["actions"]["date"] <= "2024-11-20"],
        alex["progress"][alex["progress"]["date"] <= "2024-11-20"],
        checkins=alex["ratings"][alex["ratings"]["date"] <= "2024-11-20"])
    for row in ap.itertuples():
        m = re.search(r"about (\d+) more days are needed", row.text)
        assert m, row.text
        assert int(m.group(1)) == corr.loc[corr["goal_id"] == row.subject, "more_days"].max()
    trends = res[res["kind"] == "trend"]
    assert not trends["sufficient"].any() and trends["text"].str.contains("not enough data yet").all()

    tiny = {k: v.iloc[0:0] for k, v in alex.items()}
    tiny["actions"] = alex["actions"].iloc[:3]
    tiny["progress"] = alex["progress"].iloc[:1]
    tiny["goals"] = alex["goals"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = _call(tiny)
    ap = res[res["kind"] == "action_progress"]
    assert not ap["sufficient"].any() and ap["text"].str.contains("not enough data yet").all()
    assert not res["claim"].any()


def test_today_defaults_to_the_data_and_hides_later_rows(demo):
    alex = {k: v[v["participant_id"] == "alex"] for k, v in demo.items()}
    a = _call(alex)
    b = _call(demo, participant_id="alex", today="2026-10-31")
    pd.testing.assert_frame_equal(a, b)
    early = _call(demo, participant_id="alex", today="2025-06-30")
    assert not early.equals(a)
    later = {k: (v[v["date"] <= "2025-06-30"] if "date" in v else v) for k, v in alex.items()}
    pd.testing.assert_frame_equal(early, _call(later, today="2025-06-30"))
    # a time of day (with a zone) is that calendar day; an empty or bad today is named
    pd.testing.assert_frame_equal(early, _call(demo, participant_id="alex", today="2025-06-30T09:00+02:00"))
    for bad in ("", "soon"):
        with pytest.raises(AnalysisInputError, match="today"):
            _call(demo, participant_id="alex", today=bad)


def test_inputs_and_participant_errors(demo):
    with pytest.raises(AnalysisInputError, match="participant_id"):
        _call(demo)
    with pytest.raises(AnalysisInputError, match="'zed'"):
        _call(demo, participant_id="zed")
    with pytest.raises(AnalysisInputError, match="'rating'"):
        insights(demo["ratings"].drop(columns="rating"), demo["actions"], demo["progress"], demo["goals"],
                 participant_id="alex")
    before = {k: v.copy() for k, v in demo.items()}
    _call(demo, participant_id="sc02")
    for k in demo:
        pd.testing.assert_frame_equal(demo[k], before[k])
    only_goal = {k: v.iloc[0:0] for k, v in demo.items()}
    only_goal["goals"] = demo["goals"][demo["goals"]["participant_id"] == "alex"]
    res = _call(only_goal)
    assert list(res["kind"]) == ["data"] and not res["sufficient"].any()


def test_the_package_re_export_stays_callable_in_any_import_order(demo):
    import mastery_analysis.analysis.findings as module
    from mastery_analysis import analysis

    first = analysis.insights(demo["ratings"], demo["actions"], demo["progress"], demo["goals"],
                              participant_id="sc03")
    again = analysis.insights(demo["ratings"], demo["actions"], demo["progress"], demo["goals"],
                              participant_id="sc03")
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, module.insights(demo["ratings"], demo["actions"], demo["progress"],
                                                         demo["goals"], participant_id="sc03"))


def test_a_claim_names_the_number_of_tests_its_q_value_is_adjusted_over(demo):
    mine = {k: f.loc[f["participant_id"] == "alex"] for k, f in demo.items() if "participant_id" in f}
    last = mine["progress"]["date"].max()
    days = pd.date_range(last - pd.Timedelta(days=2), last)  # a new goal: three days, no test yet
    mine["goals"] = pd.concat([mine["goals"], mine["goals"].iloc[:1].assign(goal_id="alex-new")])
    mine["progress"] = pd.concat([mine["progress"], pd.DataFrame(
        {"participant_id": "alex", "date": days, "goal_id": "alex-new", "percent": [1.0, 2.0, 4.0]})])
    mine["actions"] = pd.concat([mine["actions"], pd.DataFrame(
        {"participant_id": "alex", "date": days, "goal_id": "alex-new", "count": [1, 0, 2]})])
    res = action_progress_correlation(mine["actions"], mine["progress"],
                                      checkins=mine["ratings"][["participant_id", "date"]])
    tested = int(res["sufficient"].sum())
    assert 0 < tested < len(res), "the new goal's lags are not tested: the two counts differ"
    claims = _call(mine, participant_id="alex").query("kind == 'action_progress' and claim")
    assert len(claims) and all(f"after testing {tested} lags and goals" in t for t in claims["text"])


def test_habit_strength_is_as_of_today_and_fades_after_the_last_action(demo):
    from mastery_analysis.analysis import habit_strength

    mine = {k: f.loc[f["participant_id"] == "alex"] for k, f in demo.items() if "participant_id" in f}
    today = mine["ratings"]["date"].max()
    mine["actions"] = mine["actions"].loc[mine["actions"]["date"] <= today - pd.Timedelta(days=30)]
    res = _call(mine, participant_id="alex", today=today).query("kind == 'habit'").set_index("subject")
    scores = habit_strength(mine["actions"], mine["goals"], until=today)
    assert (scores.groupby("goal_id")["date"].max() == today).all()
    now = scores.loc[scores["date"] == today].set_index("goal_id")["score"]
    before = habit_strength(mine["actions"], mine["goals"]).groupby("goal_id")["score"].last()
    assert (now < before).all(), "thirty days without action fade every score"
    np.testing.assert_allclose(res.loc[now.index, "value"].to_numpy(dtype=float), now.to_numpy())


@pytest.mark.parametrize("today", ["2025-01-20", "2025-04-30", None])
def test_the_text_and_the_tables_make_the_same_decision(demo, today):
    """One decision rule: a trend is claimed exactly when element_trends says improving or
    declining, a relation exactly when a lag is significant, and a goal's data are called
    sufficient exactly when every lag is sufficient in the correlation table."""
    from mastery_analysis.analysis.trajectories import element_trends

    alex = {k: v[v["participant_id"] == "alex"] for k, v in demo.items()}
    res = _call(alex, today=today)
    cut = pd.Timestamp(today) if today else None
    upto = {k: (v if cut is None or "date" not in v else v[pd.to_datetime(v["date"]) <= cut])
            for k, v in alex.items()}
    trends = element_trends(upto["ratings"]).set_index("element")
    tr = res[res["kind"] == "trend"].set_index("subject")
    for element, row in tr.iterrows():
        direction = trends.at[element, "direction"]
        assert row["claim"] == (direction in ("improving", "declining")), row["text"]
        assert (direction in row["text"]) == row["claim"] or direction in ("flat", "insufficient")
        if np.isfinite(row["q_value"]):
            assert row["q_value"] == trends.at[element, "q_value"]
    corr = action_progress_correlation(upto["actions"], upto["progress"],
                                       checkins=upto["ratings"][["participant_id", "date"]])
    ap = res[res["kind"] == "action_progress"].set_index("subject")
    for goal, rows in corr.groupby("goal_id"):
        assert ap.at[goal, "claim"] == bool(rows["significant"].any())
        if not rows["significant"].any():
            assert ap.at[goal, "sufficient"] == bool(rows["sufficient"].all()), ap.at[goal, "text"]
            assert ("enough for an 80% chance" in ap.at[goal, "text"]) == bool(rows["sufficient"].all())


def test_the_slope_interval_is_stated_exactly_when_element_trends_gives_one():
    """From 5 weekly means the trend is tested but Sen's interval is withheld (from 5 it is not
    honest: docs/statistics.md); the sentence then says so instead of quoting bounds."""
    from mastery_analysis.analysis.trajectories import element_trends

    for days, weeks in ((30, 5), (37, 6)):  # from a Saturday: 2 days, then whole weeks
        frames = _noise_participant(3, days=days)
        trends = element_trends(frames["ratings"]).set_index("element")
        assert (trends["n_periods"] == weeks).all()
        tr = _call(frames).set_index("subject").loc[trends.index]
        assert tr.loc[tr["kind"] == "trend", "sufficient"].all()
        if weeks == 5:
            assert trends["slope_low"].isna().all() and tr["ci_low"].isna().all()
            assert tr["text"].str.contains("no interval yet").all()
        else:
            np.testing.assert_allclose(tr["ci_low"], trends["slope_low"])
            np.testing.assert_allclose(tr["ci_high"], trends["slope_high"])
            assert tr["text"].str.contains("95% CI").all()
            assert not tr["text"].str.contains("no interval yet").any()
