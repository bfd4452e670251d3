"""goal_pace: latest percent, expected percent, Theil-Sen pace, projected finish and status."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mastery_analysis.analysis import goal_pace
from mastery_analysis.errors import AnalysisInputError

pytestmark = pytest.mark.filterwarnings("error")

COLUMNS = ["participant_id", "goal_id", "percent", "last_date", "expected", "pace",
           "projected_finish", "status"]
D = pd.Timestamp


def one_goal(entries, *, start="2025-01-01", due="2025-12-31", gid="g", pid="p"):
    goals = pd.DataFrame({"goal_id": [gid], "participant_id": [pid],
                          "start_date": [D(start) if start else pd.NaT],
                          "due_date": [D(due) if due else pd.NaT]})
    progress = pd.DataFrame([(pid, D(d), gid, float(v)) for d, v in entries],
                            columns=["participant_id", "date", "goal_id", "percent"])
    return goals, progress


def random_frames(seed=1, n_goals=12):
    rng = np.random.default_rng(seed)
    goals, progress = [], []
    for k in range(n_goals):
        pid, gid = f"p{k % 4}", f"g{k:02d}"
        start = D("2025-01-01") + pd.Timedelta(days=int(rng.integers(0, 60)))
        goals.append((gid, pid, start, start + pd.Timedelta(days=int(rng.integers(60, 300)))))
        every = int(rng.choice([1, 3, 7, 20]))  # daily, twice a week, weekly, rarely
        level = 0.0
        for d in range(0, 200, every):
            if rng.random() < 0.8:
                level = float(np.clip(level + rng.normal(0.6, 1.5) * every / 2, 0, 100))
                progress.append((pid, start + pd.Timedelta(days=d), gid, round(level, 1)))
    goals = pd.DataFrame(goals, columns=["goal_id", "participant_id", "start_date", "due_date"])
    progress = pd.DataFrame(progress, columns=["participant_id", "date", "goal_id", "percent"])
    return goals, progress.sample(frac=1, random_state=seed).reset_index(drop=True)


def test_pace_equals_scipy_theilslopes_per_goal():
    goals, progress = random_frames()
    g0, p0 = goals.copy(deep=True), progress.copy(deep=True)
    out = goal_pace(goals, progress)
    pd.testing.assert_frame_equal(goals, g0)
    pd.testing.assert_frame_equal(progress, p0)
    assert list(out.columns) == COLUMNS
    today = progress["date"].max()
    checked = 0
    for row in out.itertuples():
        mine = progress[progress["goal_id"] == row.goal_id].sort_values("date")
        assert row.percent == mine["percent"].iloc[-1]
        assert row.last_date == mine["date"].iloc[-1]
        recent = mine[(mine["date"] > today - pd.Timedelta(days=28))
                      | (np.arange(len(mine)) >= len(mine) - 3)]
        weeks = (recent["date"] - D("1970-01-01")).dt.days.to_numpy() / 7.0
        if len(recent) >= 2:
            assert row.pace == pytest.approx(stats.theilslopes(recent["percent"], weeks).slope,
                                             rel=1e-12, abs=1e-12)
            checked += 1
    assert checked == len(out) == 12


def test_expected_is_linear_from_start_to_due():
    goals, progress = one_goal([("2025-01-01", 0), ("2025-03-01", 20)],
                               start="2025-01-01", due="2025-04-11")  # 100 days
    for today, want in (("2024-12-01", 0.0), ("2025-01-26", 25.0), ("2025-03-12", 70.0),
                        ("2025-04-11", 100.0), ("2025-06-01", 100.0)):
        out = goal_pace(goals, progress, today=today)
        assert out.loc[0, "expected"] == pytest.approx(want)
    default = goal_pace(goals, progress)  # today = the last date in the data: 2025-03-01
    assert default.loc[0, "expected"] == pytest.approx(59.0)


def test_projected_finish_and_pace_in_percent_per_week():
    entries = [(D("2025-03-01") + pd.Timedelta(days=7 * k), 20 + 10 * k) for k in range(4)]
    goals, progress = one_goal(entries)  # 10 points a week, 50% on 2025-03-22
    frame = goal_pace(goals, progress)
    assert frame["projected_finish"].dtype == "datetime64[ns]"
    assert frame["last_date"].dtype == "datetime64[ns]" and frame["status"].dtype == "str"
    out = frame.iloc[0]
    assert out["pace"] == pytest.approx(10.0)
    assert out["percent"] == 50
    assert out["projected_finish"] == D("2025-03-22") + pd.Timedelta(days=35)
    stalled = goal_pace(*one_goal([("2025-03-01", 40), ("2025-03-08", 40), ("2025-03-15", 35)]))
    assert stalled.loc[0, "pace"] <= 0 and pd.isna(stalled.loc[0, "projected_finish"])


def test_window_and_min_entries():
    # weekly entries for 10 weeks: a fast start, then slow; the last 28 days hold the pace
    entries = [(D("2025-01-05") + pd.Timedelta(days=7 * k), v)
               for k, v in enumerate([0, 10, 20, 30, 40, 50, 52, 54, 56, 58])]
    goals, progress = one_goal(entries)
    assert goal_pace(goals, progress).loc[0, "pace"] == pytest.approx(2.0)
    assert goal_pace(goals, progress, window="70D").loc[0, "pace"] > 2.0
    # two entries months apart: both are among the last min_entries, so a pace exists
    rare = goal_pace(*one_goal([("2025-01-01", 10), ("2025-05-01", 40)])).iloc[0]
    assert rare["pace"] == pytest.approx(30 / (120 / 7))


@pytest.mark.parametrize("entries, due, today, status", [
    ([("2025-01-01", 0), ("2025-06-01", 100)], "2025-12-31", None, "done"),
    ([("2025-01-01", 0), ("2025-07-02", 80)], "2025-12-31", None, "ahead"),  # expected ~50
    ([("2025-01-01", 0), ("2025-07-02", 50)], "2025-12-31", None, "on_track"),
    # on schedule now, but stalled for weeks: the pace misses the due date
    ([("2025-01-01", 0), ("2025-06-01", 50), ("2025-06-15", 50), ("2025-07-02", 50)],
     "2025-12-31", None, "at_risk"),
    # behind, but the recent pace still finishes in time
    ([("2025-01-01", 0), ("2025-06-18", 20), ("2025-06-25", 30), ("2025-07-02", 38)],
     "2025-12-31", None, "at_risk"),
    # behind and slow
    ([("2025-01-01", 0), ("2025-06-18", 20), ("2025-06-25", 21), ("2025-07-02", 22)],
     "2025-12-31", None, "off_track"),
    # past the due date and not done
    ([("2025-01-01", 0), ("2025-07-02", 90)], "2025-06-30", None, "off_track"),
    # without a due date: moving or not
    ([("2025-01-01", 0), ("2025-07-02", 20)], None, None, "on_track"),
    ([("2025-01-01", 20), ("2025-07-02", 20)], None, None, "at_risk"),
    # one entry so far, on schedule: no pace yet, no judgement against it
    ([("2025-01-02", 1)], "2025-12-31", None, "on_track"),
])
def test_status_rules(entries, due, today, status):
    out = goal_pace(*one_goal(entries, due=due), today=today)
    assert out.loc[0, "status"] == status


def test_goal_without_progress_and_without_dates():
    goals = pd.DataFrame({"goal_id": ["a", "b", "c"], "participant_id": ["p", "p", "q"],
                          "start_date": [D("2025-01-01"), pd.NaT, pd.NaT],
                          "due_date": [D("2025-12-31"), pd.NaT, D("2025-12-31")]})
    progress = pd.DataFrame({"participant_id": ["p"], "date": [D("2025-03-01")],
                             "goal_id": ["b"], "percent": [30.0]})
    out = goal_pace(goals, progress).set_index("goal_id")
    assert out.loc["a", "status"] == "not_started"
    assert np.isnan(out.loc["a", "percent"]) and np.isnan(out.loc["a", "pace"])
    assert pd.isna(out.loc["a", "projected_finish"]) and pd.isna(out.loc["a", "last_date"])
    assert out.loc["a", "expected"] == pytest.approx(100 * 59 / 364)  # the goal still has a schedule
    assert np.isnan(out.loc["b", "expected"])  # no due date
    assert out.loc["b", "status"] == "at_risk"  # one entry: no movement seen yet
    assert out.loc["c", "status"] == "not_started" and np.isnan(out.loc["c", "expected"])
    empty = goal_pace(goals, progress.iloc[0:0])
    assert (empty["status"] == "not_started").all() and list(empty.columns) == COLUMNS
    assert goal_pace(goals.iloc[0:0], progress).empty


def test_today_ignores_later_entries_and_same_day_duplicates():
    goals, progress = one_goal([("2025-02-01", 10), ("2025-02-08", 20), ("2025-02-08", 25),
                                ("2025-03-01", 90)])
    out = goal_pace(goals, progress, today="2025-02-10").iloc[0]
    assert out["percent"] == 25 and out["last_date"] == D("2025-02-08")  # later row of the day
    assert out["pace"] == pytest.approx(15.0)


def test_other_participants_goals_and_bad_input():
    goals, progress = one_goal([("2025-02-01", 10)])
    stray = pd.DataFrame({"participant_id": ["someone"], "date": [D("2025-02-02")],
                          "goal_id": ["g"], "percent": [99.0]})
    out = goal_pace(goals, pd.concat([progress, stray]))
    assert out.loc[0, "percent"] == 10  # an entry filed under another participant is not this goal's
    with pytest.raises(AnalysisInputError, match="'percent'"):
        goal_pace(goals, progress.drop(columns="percent"))
    with pytest.raises(AnalysisInputError, match="'goal_id'"):
        goal_pace(goals.drop(columns="goal_id"), progress)
    with pytest.raises(AnalysisInputError, match="today"):
        goal_pace(goals, progress, today="not a date")
    with pytest.raises(AnalysisInputError, match="appears 2 times"):
        goal_pace(pd.concat([goals, goals]), progress)


def test_demo_goals():
    from mastery_analysis import demo
    frames = demo.demo_frames()
    alex = frames["goals"][frames["goals"]["participant_id"] == "alex"]
    out = goal_pace(alex, frames["progress"][frames["progress"]["participant_id"] == "alex"],
                    today="2025-12-01")
    assert len(out) == 3 and out["pace"].gt(0).all()
    assert set(out["status"]) <= {"done", "ahead", "on_track", "at_risk", "off_track", "not_started"}
