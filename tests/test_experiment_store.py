"""The store keeps a self-experiment's plan, schedule and adherence (append-only; checked)."""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from mastery_analysis.errors import ExperimentError, ValidationError
from mastery_analysis.schema import parse_outcome
from mastery_analysis.store import SCHEMA_VERSION, open_store
from store_backends import backend, store, store_url  # noqa: F401  (SQLite and PostgreSQL)

TODAY = dt.date(2025, 3, 1)


def schedule(start, conditions, *, period_days=2, washout_days=0):
    """A schedule frame of whole periods (the columns plan_experiment returns)."""
    rows = []
    for p, cond in enumerate(conditions):
        for d in range(period_days):
            day = pd.Timestamp(start) + pd.Timedelta(days=p * period_days + d)
            rows.append({"date": day, "period": p + 1, "condition": cond, "washout": d < washout_days and p > 0})
    return pd.DataFrame(rows)


def plan(**changes):
    base = {"experiment_id": "alex-x1", "participant_id": "alex", "title": "Deep work before ten",
            "condition_a": "Usual mornings", "condition_b": "Two hours of deep work before 10:00",
            "outcome_kind": "element", "outcome_ref": "focused", "design": "pairs",
            "period_days": 2, "periods": 4, "washout_days": 0, "start_date": "2025-03-03",
            "seed": 7, "min_effect": 1.0}
    return {**base, **changes}


@pytest.fixture
def alex(store):
    store.add_participant("alex", joined_on="2025-01-01")
    store.add_participant("sam", joined_on="2025-01-01")
    store.write("goals", pd.DataFrame([{"goal_id": "g1", "participant_id": "alex", "title": "Write",
                                        "start_date": "2025-01-01"},
                                       {"goal_id": "g-sam", "participant_id": "sam", "title": "Run",
                                        "start_date": "2025-01-01"}]))
    for day in pd.date_range("2025-02-01", "2025-02-20"):
        store.record_checkin("alex", day, ratings={"focused": 5}, actions={"g1": 1}, progress={"g1": 3.0})
    return store


def counts(store):
    return {t: len(store.experiment_rows(t)) for t in ("experiments", "experiment_schedule", "adherence")}


def test_a_plan_and_its_schedule_are_kept_and_read_back(alex):
    sched = schedule("2025-03-03", "ABBA")
    assert alex.save_experiment(plan(), sched, today=TODAY) == {"experiments": 1, "experiment_schedule": 8}
    got = alex.experiment("alex-x1", participant="alex")
    assert got["title"] == "Deep work before ten" and got["outcome"] == "element:focused"
    assert got["end_date"] == pd.Timestamp("2025-03-10") and got["seed"] == 7
    back = alex.experiment_schedule("alex-x1")
    assert back["condition"].tolist() == list("AABBBBAA")
    assert back["date"].tolist() == sched["date"].tolist()
    assert back["period"].tolist() == sched["period"].tolist()
    # saving the same plan again writes nothing
    assert alex.save_experiment(plan(), sched, today=TODAY) == {"experiments": 0, "experiment_schedule": 0}


def test_a_plan_survives_a_restart(store_url):
    with open_store(store_url) as s:
        s.add_participant("alex", joined_on="2025-01-01")
        s.record_checkin("alex", "2025-02-01", ratings={"focused": 5})
        s.save_experiment(plan(), schedule("2025-03-03", "BAAB"), today=TODAY)
        s.record_adherence("alex", "alex-x1", "2025-03-03", True)
    with open_store(store_url) as s:
        assert s.experiment_schedule("alex-x1")["condition"].tolist() == list("BBAAAABB")
        assert s.adherence(participant="alex")[["date", "followed"]].values.tolist() == [
            [pd.Timestamp("2025-03-03"), True]]


def test_a_plan_may_change_before_its_start_day_and_not_after(alex):
    alex.save_experiment(plan(), schedule("2025-03-03", "ABBA"), today=TODAY)
    longer = plan(periods=6)
    assert alex.save_experiment(longer, schedule("2025-03-03", "ABBAAB"), today=TODAY)["experiments"] == 1
    # the new schedule replaces the old one whole (no days left over from the first)
    assert len(alex.experiment_schedule("alex-x1")) == 12
    assert len(alex.experiment_rows("experiments")) == 2  # both versions kept
    before = counts(alex)
    with pytest.raises(ExperimentError, match="can no longer change.*new id"):
        alex.save_experiment(plan(periods=4), schedule("2025-03-03", "BAAB"), today="2025-03-03")
    assert counts(alex) == before


@pytest.mark.parametrize("changes, sched, message", [
    ({"periods": 2}, schedule("2025-03-03", "AB"), "at least 4 periods"),
    ({"washout_days": 2}, schedule("2025-03-03", "ABBA"), "fewer days than a period"),
    ({"outcome_ref": "connect"}, schedule("2025-03-03", "ABBA"), "no ratings of 'connect'"),
    ({"outcome_kind": "goal_actions", "outcome_ref": "g-sam"}, schedule("2025-03-03", "ABBA"),
     "no goal 'g-sam'"),
    ({"outcome_kind": "note", "outcome_ref": "energy"}, schedule("2025-03-03", "ABBA"), "no note 'energy'"),
    ({"start_date": "2025-02-10"}, schedule("2025-02-10", "ABBA"), "in the past.*from 2025-02-10"),
    ({}, schedule("2025-03-03", "AAAB"), "at least two periods of each condition"),
    ({}, schedule("2025-03-04", "ABBA"), "every day once from the start day 2025-03-03"),
    ({"condition_b": "Usual mornings"}, schedule("2025-03-03", "ABBA"), "different from condition A"),
    ({"design": "crossover"}, schedule("2025-03-03", "ABBA"), "days, pairs or alternating"),
])
def test_bad_plans_get_one_clear_message_and_write_nothing(alex, changes, sched, message):
    before = counts(alex)
    with pytest.raises((ValidationError, ExperimentError), match=message):
        alex.save_experiment(plan(**changes), sched, today=TODAY)
    assert counts(alex) == before


def test_a_past_start_without_outcome_values_on_it_is_allowed(alex):
    # the ratings stop on 2025-02-20: a plan from 2025-02-25 has seen no outcome yet
    assert alex.save_experiment(plan(start_date="2025-02-25"), schedule("2025-02-25", "ABBA"),
                                today=TODAY)["experiments"] == 1


def test_goal_outcomes_and_ownership(alex):
    p = plan(outcome_kind="goal_progress", outcome_ref="g1")
    alex.save_experiment(p, schedule("2025-03-03", "ABBA"), today=TODAY)
    assert alex.experiment("alex-x1")["outcome"] == "goal:g1:progress"
    with pytest.raises(ExperimentError, match="taken by another participant"):
        alex.save_experiment(plan(participant_id="sam", outcome_kind="goal_actions", outcome_ref="g-sam"),
                             schedule("2025-03-03", "ABBA"), today=TODAY)
    with pytest.raises(ExperimentError, match="unknown experiment 'alex-x1' of participant 'sam'"):
        alex.experiment("alex-x1", participant="sam")


def test_adherence_is_kept_per_day_with_the_checkin(alex):
    alex.save_experiment(plan(start_date="2025-02-25"), schedule("2025-02-25", "ABBA"), today=TODAY)
    written = alex.record_checkin("alex", "2025-02-25", ratings={"focused": 6}, adherence={"alex-x1": False})
    assert written == {"ratings": 1, "adherence": 1}
    alex.record_checkin("alex", "2025-02-25", ratings={"focused": 6}, adherence={"alex-x1": True})
    assert alex.adherence(experiment="alex-x1")["followed"].tolist() == [True]
    assert len(alex.experiment_rows("adherence")) == 2  # append-only
    # a day outside the schedule, someone else's experiment, a non-boolean: nothing written
    before = counts(alex), len(alex.history("ratings"))
    with pytest.raises(ExperimentError, match="not a day of experiment"):
        alex.record_checkin("alex", "2025-02-20", ratings={"focused": 6}, adherence={"alex-x1": True})
    with pytest.raises(ExperimentError, match="'sam' has no experiment 'alex-x1'"):
        alex.record_adherence("sam", "alex-x1", "2025-02-25", True)
    with pytest.raises(ValidationError, match="true or false"):
        alex.record_adherence("alex", "alex-x1", "2025-02-25", "yes")
    assert (counts(alex), len(alex.history("ratings"))) == before


def test_forget_deletes_every_experiment_row(alex):
    alex.save_experiment(plan(start_date="2025-02-25"), schedule("2025-02-25", "ABBA"), today=TODAY)
    alex.record_adherence("alex", "alex-x1", "2025-02-26", True)
    deleted = alex.forget("alex")
    assert deleted["experiments"] == 1 and deleted["experiment_schedule"] == 8 and deleted["adherence"] == 1
    assert counts(alex) == {"experiments": 0, "experiment_schedule": 0, "adherence": 0}


def test_an_older_store_is_upgraded_with_the_experiment_tables(tmp_path):
    path = tmp_path / "old.db"
    with open_store(path) as s:
        s.add_participant("alex", joined_on="2025-01-01")
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for t in ("adherence", "experiment_schedule", "experiments"):
            conn.exec_driver_sql(f"DROP TABLE {t}")
        conn.exec_driver_sql("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    engine.dispose()
    with open_store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.experiments().empty and s.participants()["participant_id"].tolist() == ["alex"]


@pytest.mark.parametrize("text, parsed", [
    ("element:focused", ("element", "focused")), ("goal:G1:progress", ("goal_progress", "G1")),
    ("goal:G1:actions", ("goal_actions", "G1")), ("note:energy", ("note", "energy"))])
def test_outcomes_as_people_type_them(text, parsed):
    assert parse_outcome(text) == parsed


def test_an_unreadable_outcome_names_the_forms():
    with pytest.raises(ValidationError, match="element:KEY, goal:GOAL_ID:progress"):
        parse_outcome("goal:G1")


def test_schedules_from_plan_experiment_are_kept_as_drawn(alex):
    from mastery_analysis.analysis.experiments import plan_experiment

    for i, (design, period_days, periods, washout) in enumerate(
            [("days", 4, 2, 0), ("pairs", 3, 4, 1), ("alternating", 2, 6, 0)]):
        drawn = plan_experiment("2025-03-03", design=design, period_days=period_days, periods=periods,
                                washout_days=washout, seed=11)
        p = plan(experiment_id=f"alex-d{i}", design=design, period_days=period_days, periods=periods,
                 washout_days=washout, seed=11)
        alex.save_experiment(p, drawn, today=TODAY)
        kept = alex.experiment_schedule(f"alex-d{i}")
        pd.testing.assert_frame_equal(kept, drawn[kept.columns.tolist()], check_dtype=False)


def test_many_days_of_adherence_are_written_all_or_none(alex):
    alex.save_experiment(plan(start_date="2025-02-25"), schedule("2025-02-25", "ABBA"), today=TODAY)
    days = pd.DataFrame({"date": ["2025-02-25", "2025-02-26"], "followed": [True, False]})
    assert alex.write_adherence("alex", "alex-x1", days) == 2
    bad = pd.DataFrame({"date": ["2025-02-27", "2025-03-20"], "followed": [True, True]})
    with pytest.raises(ExperimentError, match="2025-03-20 is not a day of experiment"):
        alex.write_adherence("alex", "alex-x1", bad)
    assert alex.adherence()["date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-02-25", "2025-02-26"]


def test_integrity_check_sees_experiment_rows_of_unknown_people(alex):
    alex.save_experiment(plan(start_date="2025-02-25"), schedule("2025-02-25", "ABBA"), today=TODAY)
    assert alex.check_integrity() == []
    with alex._connection(write=True) as conn:
        conn.execute(sa.text("INSERT INTO adherence (participant_id, experiment_id, date, followed, source, "
                             "recorded_at) VALUES ('ghost', 'alex-x1', '2025-02-25', true, 'x', 'now')"))
    assert alex.check_integrity() == ["adherence: 1 rows of participants not in the store"]


def test_a_checkin_keeps_numeric_notes_as_note_responses_all_or_nothing(alex):
    written = alex.record_checkin("alex", "2025-02-21", ratings={"focused": 6}, note_values={"energy": 6.5})
    assert written == {"ratings": 1, "responses": 1}
    r = alex.responses(participant="alex")
    assert r[["instrument", "item", "value", "phase"]].values.tolist() == [["note", "energy", 6.5, "mid"]]
    # now an experiment can measure it
    assert alex.save_experiment(plan(outcome_kind="note", outcome_ref="energy"), schedule("2025-03-03", "ABBA"),
                                today=TODAY)["experiments"] == 1
    before = len(alex.history("ratings")), len(alex.history("responses"))
    for bad in (float("inf"), float("nan"), "lots"):
        with pytest.raises(ValidationError, match="finite number"):
            alex.record_checkin("alex", "2025-02-22", ratings={"focused": 6}, note_values={"energy": bad})
    with pytest.raises(ValidationError):
        alex.record_checkin("alex", "2025-02-22", ratings={"focused": 6}, note_values={"bad name!": 1})
    assert (len(alex.history("ratings")), len(alex.history("responses"))) == before
