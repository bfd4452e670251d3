"""habit_strength reproduces Loop Habit Tracker's own numbers; streaks are runs of days with action.

The fixtures are Loop's own test assets, read in place through ``outside_fixture`` (never
copied here): the wide CSV export (Checkmarks.csv codes -1 unknown, 0 no, 1 auto, 2 manual)
with Loop's Scores.csv, and an older loop.db with Loop's Score and Streak tables.
"""

import sqlite3

import numpy as np
import pandas as pd
import pytest

from mastery_analysis.analysis import habit_strength, streaks
from mastery_analysis.analysis.habits import loop_multiplier
from mastery_analysis.errors import AnalysisInputError

from outside_fixtures import outside_fixture

pytestmark = pytest.mark.filterwarnings("error")


def loop_file(*parts):
    return outside_fixture("loop-habit-tracker", *parts)

LOOP_DB_MAX = 19259478  # the old integer scale of loop.db's Score table (daily fixed point)


def read_wide(name):
    """A wide Loop export (newest date first, trailing comma) as a long frame."""
    frame = pd.read_csv(loop_file("csv_export", name), dtype=str)
    frame = frame.loc[:, ~frame.columns.str.startswith("Unnamed")]
    return frame.melt(id_vars="Date", var_name="goal_id", value_name="value").assign(
        date=lambda f: pd.to_datetime(f["Date"]))


def loop_export_frames(done_codes=(2,)):
    habits = pd.read_csv(loop_file("csv_export", "Habits.csv"), dtype=str)
    marks = read_wide("Checkmarks.csv")
    code = marks["value"].astype(int)
    actions = pd.DataFrame({"participant_id": "loop", "date": marks["date"],
                            "goal_id": marks["goal_id"],
                            "count": code.isin(done_codes).astype(int)})
    goals = pd.DataFrame({"goal_id": habits["Name"], "participant_id": "loop",
                          "freq_times": habits["FrequencyNumerator"].astype(int),
                          "freq_days": habits["FrequencyDenominator"].astype(int),
                          "start_date": marks["date"].min()})
    return actions, goals


def test_loop_scores_csv_reproduced_on_every_row_to_4_decimals():
    actions, goals = loop_export_frames()
    out = habit_strength(actions, goals)
    expected = read_wide("Scores.csv")
    merged = expected.merge(out, on=["goal_id", "date"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()  # same goals, same days, nothing extra
    assert len(merged) == 20
    assert merged["goal_id"].nunique() == 2
    got = merged["score"].map(lambda v: f"{v:.4f}")
    assert got.tolist() == merged["value"].tolist()
    # the non-daily habit (2 per 3 days) actually moves, the all-unknown one stays at 0
    assert merged.loc[merged["goal_id"] == "Wake up early", "score"].max() > 0.25
    assert (merged.loc[merged["goal_id"] == "Meditate", "score"] == 0).all()


@pytest.mark.parametrize("done_codes", [(1, 2), (2, 0)])
def test_other_readings_of_the_checkmarks_do_not_reproduce_loop(done_codes):
    # counting Loop's automatic checkmarks (1) or NO (0) as done breaks the match: the
    # fixture discriminates, so the passing reading above is Loop's
    actions, goals = loop_export_frames(done_codes)
    out = habit_strength(actions, goals)
    merged = read_wide("Scores.csv").merge(out, on=["goal_id", "date"])
    assert merged["score"].map(lambda v: f"{v:.4f}").tolist() != merged["value"].tolist()


def test_non_daily_rule_doubles_the_window():
    # without Loop's doubling (2 per 3 days judged over 3 days) the export is not reproduced
    actions, goals = loop_export_frames()
    wake = actions[actions["goal_id"] == "Wake up early"].sort_values("date")
    done = wake["count"].to_numpy()
    m = float(loop_multiplier(2, 3))
    score, plain = 0.0, []
    for t in range(len(done)):
        score = m * score + (1 - m) * min(1.0, done[max(0, t - 2): t + 1].sum() / 2)
        plain.append(f"{score:.4f}")
    expected = read_wide("Scores.csv").query("goal_id == 'Wake up early'").sort_values("date")
    assert plain != expected["value"].tolist()


def loop_db():
    # read from memory: the file is never opened for writing
    con = sqlite3.connect(":memory:")
    try:
        con.deserialize(loop_file("loop.db").read_bytes())
        return {t: pd.read_sql(f"select * from {t}", con)
                for t in ("Habits", "Repetitions", "Score", "Streak")}
    finally:
        con.close()


def test_loop_db_scores_of_daily_habits():
    db = loop_db()
    daily = db["Habits"][(db["Habits"]["freq_num"] == 1) & (db["Habits"]["freq_den"] == 1)]
    assert len(daily) == 6
    reps = db["Repetitions"][db["Repetitions"]["habit"].isin(daily["Id"])]
    score = db["Score"][db["Score"]["habit"].isin(daily["Id"])].copy()
    score["date"] = pd.to_datetime(score["timestamp"], unit="ms")
    score["goal_id"] = score["habit"].astype(str)
    score["participant_id"] = "h" + score["goal_id"]
    actions = pd.DataFrame({"participant_id": "h" + reps["habit"].astype(str),
                            "date": pd.to_datetime(reps["timestamp"], unit="ms"),
                            "goal_id": reps["habit"].astype(str), "count": 1})
    # Loop scored each habit up to the day of the backup: a zero-count row marks that day
    last = score.groupby(["participant_id", "goal_id"], as_index=False)["date"].max().assign(count=0)
    actions = pd.concat([actions, last], ignore_index=True)
    goals = pd.DataFrame({"goal_id": daily["Id"].astype(str), "participant_id": "h" + daily["Id"].astype(str),
                          "freq_times": 1, "freq_days": 1})
    out = habit_strength(actions, goals)
    merged = score.merge(out, on=["participant_id", "goal_id", "date"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all() and len(merged) == len(score) == 211
    np.testing.assert_allclose(merged["score_y"], merged["score_x"] / LOOP_DB_MAX, atol=1e-6)


def test_streaks_equal_loop_db_streaks_of_daily_habits():
    db = loop_db()
    reps = db["Repetitions"]
    actions = pd.DataFrame({"participant_id": "loop", "goal_id": reps["habit"].astype(str),
                            "date": pd.to_datetime(reps["timestamp"], unit="ms"), "count": 1})
    out = streaks(actions)
    for habit in (21, 24):  # the daily habits whose streaks loop.db holds
        theirs = db["Streak"][db["Streak"]["habit"] == habit].sort_values("start")
        ours = out[out["goal_id"] == str(habit)]
        assert ours["start"].tolist() == pd.to_datetime(theirs["start"], unit="ms").tolist()
        assert ours["end"].tolist() == pd.to_datetime(theirs["end"], unit="ms").tolist()
        assert ours["length"].tolist() == theirs["length"].tolist()


# --- the vectorised computation against a plain loop, goal by goal ---------------------------

FREQS = [(1, 1), (3, 7), (2, 3), (1, 5), (7, 7), (5, 7), (1, 2)]


def random_frames(seed=3, people=5):
    rng = np.random.default_rng(seed)
    goals, actions = [], []
    for p in range(people):
        pid = f"p{p}"
        for k in range(3):
            gid = f"{pid}-g{k}"
            times, days = FREQS[(p * 3 + k) % len(FREQS)]
            start = pd.Timestamp("2025-01-01") + pd.Timedelta(days=int(rng.integers(0, 30)))
            # some goals start well before their first action, some after it
            goals.append((gid, pid, times, days, start - pd.Timedelta(days=int(rng.integers(-3, 12)))))
            n = int(rng.integers(40, 120))
            seen = rng.random(n) < 0.7  # gaps: days without any row
            rate = times / days
            for d in np.flatnonzero(seen):
                # start a few days early sometimes: actions before start_date still count
                actions.append((pid, start + pd.Timedelta(days=int(d) - 3), gid,
                                int(rng.random() < rate * 1.1) * int(rng.integers(1, 3))))
        actions.append((pid, pd.Timestamp("2025-01-01"), "not-a-goal", 1))  # ignored
    goals = pd.DataFrame(goals, columns=["goal_id", "participant_id", "freq_times", "freq_days",
                                         "start_date"])
    actions = pd.DataFrame(actions, columns=["participant_id", "date", "goal_id", "count"])
    return actions.sample(frac=1, random_state=seed).reset_index(drop=True), goals


def plain_loop_scores(actions, goals):
    """Loop's formula written out day by day, one goal at a time (the reference)."""
    rows = []
    last_day = actions.groupby("participant_id")["date"].max()
    for goal in goals.itertuples():
        mine = actions[(actions["goal_id"] == goal.goal_id)
                       & (actions["participant_id"] == goal.participant_id)]
        start = min([goal.start_date] + ([mine["date"].min()] if len(mine) else []))
        end = max(last_day.get(goal.participant_id, start), start)
        done_days = set(mine.loc[mine["count"] > 0, "date"])
        f = goal.freq_times / goal.freq_days
        m = 0.5 ** (np.sqrt(f) / 13)
        num, den = (goal.freq_times, goal.freq_days) if f >= 1 else (2 * goal.freq_times,
                                                                      2 * goal.freq_days)
        done, score = [], 0.0
        for day in pd.date_range(start, end):
            done.append(day in done_days)
            completion = min(1.0, sum(done[-den:]) / num)
            score = m * score + (1 - m) * completion
            rows.append((goal.participant_id, goal.goal_id, day, score))
    return (pd.DataFrame(rows, columns=["participant_id", "goal_id", "date", "score"])
            .sort_values(["participant_id", "goal_id", "date"]).reset_index(drop=True))


def test_vectorised_scores_equal_plain_loop():
    actions, goals = random_frames()
    a0, g0 = actions.copy(deep=True), goals.copy(deep=True)
    out = habit_strength(actions, goals)
    pd.testing.assert_frame_equal(actions, a0)
    pd.testing.assert_frame_equal(goals, g0)
    ref = plain_loop_scores(actions, goals)
    assert list(out.columns) == ["participant_id", "goal_id", "date", "score"]
    assert out["date"].dtype == "datetime64[ns]" and out["goal_id"].dtype == "str"
    assert len(out) == len(ref) > 1000
    assert (out["participant_id"] == ref["participant_id"]).all()
    assert (out["goal_id"] == ref["goal_id"]).all()
    assert (out["date"].to_numpy() == ref["date"].to_numpy()).all()
    np.testing.assert_allclose(out["score"], ref["score"], rtol=0, atol=1e-12)
    assert out["score"].between(0, 1).all() and out["score"].max() > 0.5
    assert set(out["goal_id"]) == set(goals["goal_id"])  # "not-a-goal" is not scored


def test_days_run_from_start_to_the_participants_last_day():
    goals = pd.DataFrame({"goal_id": ["a", "b", "c"], "participant_id": ["p", "p", "q"],
                          "start_date": pd.to_datetime(["2025-01-01", "2025-01-03", None])})
    actions = pd.DataFrame({"participant_id": ["p", "p", "p"], "goal_id": ["a", "a", "x"],
                            "date": pd.to_datetime(["2025-01-02", "2025-01-04", "2025-01-10"]),
                            "count": [1, 0, 1]})
    out = habit_strength(actions, goals)
    a = out[out["goal_id"] == "a"]
    assert a["date"].min() == pd.Timestamp("2025-01-01")
    assert a["date"].max() == pd.Timestamp("2025-01-10")  # p's last day, from another goal
    assert len(a) == 10
    m = loop_multiplier(1, 1)
    np.testing.assert_allclose(a["score"].iloc[:3], [0, 1 - m, m * (1 - m)])
    b = out[out["goal_id"] == "b"]  # no action at all: zeros from its start_date
    assert len(b) == 8 and (b["score"] == 0).all()
    assert "c" not in set(out["goal_id"])  # neither a start_date nor an action: no rows


def test_one_day_empty_and_defaults():
    goals = pd.DataFrame({"goal_id": ["g"], "participant_id": ["p"]})  # daily by default
    actions = pd.DataFrame({"participant_id": ["p"], "goal_id": ["g"], "date": ["2025-05-01"],
                            "count": [2]})
    out = habit_strength(actions, goals)
    assert len(out) == 1 and out.loc[0, "score"] == pytest.approx(1 - loop_multiplier(1, 1))
    empty = habit_strength(actions.iloc[0:0], goals)
    assert empty.empty and list(empty.columns) == ["participant_id", "goal_id", "date", "score"]
    assert streaks(actions.iloc[0:0], goals).empty


def test_bad_input_raises_mastery_errors():
    goals = pd.DataFrame({"goal_id": ["g"], "participant_id": ["p"], "freq_times": [4],
                          "freq_days": [3]})
    actions = pd.DataFrame({"participant_id": ["p"], "goal_id": ["g"], "date": ["2025-05-01"],
                            "count": [1]})
    with pytest.raises(AnalysisInputError, match="freq_times"):
        habit_strength(actions, goals)
    with pytest.raises(AnalysisInputError, match="'count'"):
        habit_strength(actions.drop(columns="count"), goals.assign(freq_times=1))
    with pytest.raises(AnalysisInputError, match="'participant_id'"):
        habit_strength(actions, goals.drop(columns="participant_id"))
    with pytest.raises(AnalysisInputError, match="appears 2 times"):
        habit_strength(actions, pd.concat([goals, goals]).assign(freq_times=1))
    with pytest.raises(AnalysisInputError, match="'date'"):
        streaks(actions.drop(columns="date"))


def plain_streaks(actions):
    rows = []
    for (pid, gid), g in actions[actions["count"] > 0].groupby(["participant_id", "goal_id"]):
        days = sorted(set(g["date"]))
        start = prev = days[0]
        for day in days[1:] + [None]:
            if day is not None and day - prev == pd.Timedelta(days=1):
                prev = day
                continue
            rows.append((pid, gid, start, prev, (prev - start).days + 1))
            start = prev = day
    return pd.DataFrame(rows, columns=["participant_id", "goal_id", "start", "end", "length"])


def test_streaks_equal_plain_loop_and_follow_goals():
    actions, goals = random_frames(seed=9)
    actions = pd.concat([actions, actions.iloc[:50]], ignore_index=True)  # same-day duplicates
    out = streaks(actions, goals)
    ref = plain_streaks(actions[actions["goal_id"].isin(goals["goal_id"])])
    pd.testing.assert_frame_equal(out, ref, check_dtype=False)
    assert out["length"].dtype == np.int64
    assert (out["length"] == (out["end"] - out["start"]).dt.days + 1).all()
    assert "not-a-goal" in set(streaks(actions)["goal_id"])  # without goals: every goal
    assert out["length"].max() >= 3


def test_demo_data_habits_and_streaks():
    from mastery_analysis import demo
    frames = demo.demo_frames()
    out = habit_strength(frames["actions"], frames["goals"])
    assert set(out["goal_id"]) == set(frames["goals"]["goal_id"])
    alex = out[out["goal_id"] == "alex-portfolio"]
    assert alex["date"].min() == demo.ALEX_START and alex["date"].max() == demo.ALEX_END
    assert len(alex) == (demo.ALEX_END - demo.ALEX_START).days + 1  # every day, gaps filled
    assert out["score"].between(0, 1).all()
    runs = streaks(frames["actions"], frames["goals"])
    assert (runs["length"] >= 1).all() and runs["goal_id"].isin(frames["goals"]["goal_id"]).all()


def test_until_scores_as_of_a_later_day_and_ignores_later_actions():
    goals = pd.DataFrame({"goal_id": ["g"], "participant_id": ["p"], "freq_times": [1], "freq_days": [1]})
    days = pd.date_range("2025-03-01", periods=10)
    actions = pd.DataFrame({"participant_id": "p", "date": days, "goal_id": "g", "count": 1})
    m = loop_multiplier(1, 1)
    later = habit_strength(actions, goals, until="2025-03-20")  # ten days done, ten not
    assert later["date"].iloc[-1] == pd.Timestamp("2025-03-20") and len(later) == 20
    assert later["score"].iloc[-1] == pytest.approx((1 - m**10) * m**10, abs=1e-12)
    pd.testing.assert_frame_equal(later.iloc[:10], habit_strength(actions, goals))
    earlier = habit_strength(actions, goals, until="2025-03-05")
    pd.testing.assert_frame_equal(earlier, habit_strength(actions.iloc[:5], goals))
    assert habit_strength(actions, goals, until="2025-02-01").empty
    with pytest.raises(AnalysisInputError, match="until"):
        habit_strength(actions, goals, until="soon")


@pytest.mark.parametrize("until", [None, "2025-06-30"])
def test_blocks_of_participants_give_the_whole_calls_result(monkeypatch, until):
    """Large inputs are scored (and streaks found) in blocks of whole participants
    (_grouped.BLOCK_ROWS), their actions and goals split alike: tiny blocks give the one-block result bit for bit,
    with a goal that has no action (scored from its start_date), an action filed under
    another participant's goal, unsorted rows and index labels that are not positions; a
    goal id used twice is still refused, even when the two sit in different blocks."""
    from mastery_analysis.analysis import _grouped

    actions, goals = random_frames(seed=11, people=8)
    goals = pd.concat([goals, pd.DataFrame({
        "goal_id": ["p7-idle"], "participant_id": ["p7"], "freq_times": [1], "freq_days": [1],
        "start_date": [pd.Timestamp("2025-03-01")]})], ignore_index=True)
    actions.loc[0, "goal_id"] = "p1-g0" if actions.loc[0, "participant_id"] != "p1" else "p2-g0"
    actions.index = actions.index * 2 + 5
    whole = habit_strength(actions, goals, until=until)
    runs, runs_of_goals = streaks(actions), streaks(actions, goals)
    assert (whole["goal_id"] == "p7-idle").any() and len(runs) > len(runs_of_goals) > 0
    for rows in (40, 400):  # a block per person; several people a block
        monkeypatch.setattr(_grouped, "BLOCK_ROWS", rows)
        monkeypatch.setenv("MASTERY_THREADS", "1" if rows < 100 else "3")  # in order either way
        pd.testing.assert_frame_equal(habit_strength(actions, goals, until=until), whole,
                                      check_exact=True)
        pd.testing.assert_frame_equal(streaks(actions), runs, check_exact=True)
        pd.testing.assert_frame_equal(streaks(actions, goals), runs_of_goals, check_exact=True)
    twice = goals.copy()
    twice.loc[twice.index[-1], "goal_id"] = "p0-g0"  # p7's goal under p0's id
    with pytest.raises(AnalysisInputError, match="p0-g0"):
        habit_strength(actions, twice, until=until)
    label = actions.index[actions["participant_id"].eq("p6")][2]
    broken = actions.copy()
    broken.loc[label, "date"] = pd.NaT
    with pytest.raises(AnalysisInputError, match=f"index label {label}"):
        habit_strength(broken, goals, until=until)
