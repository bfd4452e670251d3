"""The check-in shows today's condition and saves "did you follow it?"; the plan form plans.

Headless: set widget values and click, as a browser (or a crafted client) would, and read
the store.
"""

import datetime as dt
import html

import ipywidgets as W
import pandas as pd
import pytest

from mastery_analysis import access
from mastery_analysis.analysis.experiments import plan_experiment
from mastery_analysis.widgets import CheckInForm
from mastery_analysis.widgets.app import ParticipantPage
from mastery_analysis.widgets.experiments import ExperimentPlanForm

TODAY = dt.date.today()
START = TODAY - dt.timedelta(days=3)
XSS = "<img src=x onerror=alert(1)>"


def plan(pid, xid, **changes):
    return {"experiment_id": xid, "participant_id": pid, "title": f"Deep work {XSS}",
            "condition_a": "Usual mornings", "condition_b": f"Deep work before ten {XSS}",
            "outcome_kind": "element", "outcome_ref": "focused", "design": "pairs", "period_days": 2,
            "periods": 4, "washout_days": 0, "start_date": START, "seed": 3, "min_effect": None, **changes}


@pytest.fixture
def people(store):
    store.add_cohort("spring")
    for pid in ("ann", "bob"):
        store.add_participant(pid, cohort="spring", joined_on="2024-01-01")
        store.record_checkin(pid, START - dt.timedelta(days=10), ratings={"focused": 5})
    for pid, xid in (("ann", "ann-x1"), ("bob", "bob-x1")):
        sched = plan_experiment(START, design="pairs", period_days=2, periods=4, seed=3)
        store.save_experiment(plan(pid, xid), sched, today=START)
    return store


def condition_of(store, xid, day):
    s = store.experiment_schedule(xid)
    return s.loc[s["date"] == pd.Timestamp(day), "condition"].iloc[0]


def test_the_check_in_shows_the_condition_in_words_and_saves_the_answer_with_the_day(people):
    form = CheckInForm(people, "ann", day=TODAY, today=TODAY)
    check = form.experiments
    assert list(check.questions) == ["ann-x1"] and check.box.layout.display is None
    words = [w.value for w in check.box.children if isinstance(w, W.Label)]
    expected = "Usual mornings" if condition_of(people, "ann-x1", TODAY) == "A" else f"Deep work before ten {XSS}"
    assert words == [f"Today: {expected}"]  # a Label: shown as text, never as HTML
    titles = [w.value for w in check.box.children if isinstance(w, W.HTML)]
    assert XSS not in "".join(titles) and "&lt;img" in "".join(titles)
    check.questions["ann-x1"].value = False
    form.save_button.click()
    assert "Saved" in form.status.value and "1 experiment answer" in form.status.value
    a = people.adherence(participant="ann")
    assert a[["date", "followed"]].values.tolist() == [[pd.Timestamp(TODAY), False]]
    assert len(people.ratings(participant="ann", start=TODAY)) == 5  # same save, same transaction
    again = CheckInForm(people, "ann", day=TODAY, today=TODAY)
    assert again.experiments.questions["ann-x1"].value is False  # the saved answer is loaded


def test_an_unanswered_question_records_nothing_and_a_day_outside_hides_the_group(people):
    form = CheckInForm(people, "ann", day=TODAY, today=TODAY)
    form.save_button.click()
    assert "Saved" in form.status.value and people.adherence().empty
    form.date_picker.value = START - dt.timedelta(days=1)
    assert form.experiments.questions == {} and form.experiments.box.layout.display == "none"


def test_a_served_check_in_saves_only_answers_about_own_experiments(people):
    code = access.issue_code(people, "ann")
    page = ParticipantPage(people, address="10.0.0.1", today=TODAY)
    page.signin.code.value = code
    page.signin.button.click()
    check = page.checkin.experiments
    assert list(check.questions) == ["ann-x1"]
    check.questions["ann-x1"].value = True
    assert page.checkin.save()
    assert people.adherence(participant="ann")["followed"].tolist() == [True]
    # a crafted client cannot answer for someone else's experiment: the session refuses it
    with pytest.raises(Exception, match="one of your own experiments"):
        page.session.check_in(TODAY, ratings=None, adherence={"bob-x1": True})
    with pytest.raises(Exception, match="true or false"):
        page.session.check_in(TODAY, ratings=None, adherence={"ann-x1": "yes"})
    assert people.adherence(participant="bob").empty


def test_the_plan_form_plans_and_says_what_is_wrong(people):
    form = ExperimentPlanForm(people, "ann", today=TODAY)
    assert "element:focused" in [v for _, v in form.outcome.options]
    form.title.value, form.condition_a.value, form.condition_b.value = "Walk", "No walk", "A walk"
    form.outcome.value = "element:focused"
    form.design.value, form.period_days.value, form.periods.value = "pairs", 7, 2
    form.plan_button.click()
    assert form.status.value.startswith("Not planned:") and "fewer than two periods" in form.status.value
    assert len(people.experiments(participant="ann")) == 1
    form.periods.value, form.seed.value, form.min_effect.value = 8, 4, 0.0
    form.plan_button.click()
    assert form.planned is not None and "Order of periods:" in form.status.value
    assert "--min-effect" in form.status.value  # no smallest effect: no power, and it says how
    assert len(people.experiment_schedule(form.planned["plan"]["experiment_id"])) == 56


# ----------------------------------------------------------------------------- numeric notes
NOTE_START = TODAY - dt.timedelta(days=8)


@pytest.fixture
def noted(people):
    """ann also runs an experiment on a numeric note of her own, ``note:energy`` (8 days to
    yesterday), with two values recorded before it started."""
    for back, value in ((12, 5), (11, 6)):
        people.record_checkin("ann", NOTE_START - dt.timedelta(days=back), ratings={},
                              note_values={"energy": value})
    sched = plan_experiment(NOTE_START, design="pairs", period_days=2, periods=4, seed=11)
    people.save_experiment(plan("ann", "ann-x2", title="Walks", condition_a="No walk", condition_b="A walk",
                                outcome_kind="note", outcome_ref="energy", start_date=NOTE_START, seed=11),
                           sched, today=TODAY)
    return people


def energy_rows(store):
    r = store.responses(participant="ann")
    return r.loc[(r["instrument"] == "note") & (r["item"] == "energy")]


def test_the_check_in_asks_for_a_note_outcome_and_refuses_what_is_not_a_number(noted):
    day = NOTE_START + dt.timedelta(days=2)
    form = CheckInForm(noted, "ann", day=day, today=TODAY)
    check = form.experiments
    assert list(check.notes) == ["energy"] and check.notes["energy"].description == "energy today"
    assert check.notes["energy"] in check.box.children
    before = len(energy_rows(noted))
    for typed, said in (("lots", "'lots' is not a number"), ("inf", "not a finite number"),
                        ("nan", "not a finite number"), (XSS, "is not a number")):
        check.notes["energy"].value = typed
        form.save_button.click()
        assert "Not saved: 1 field to fix" in form.status.value
        assert said in html.unescape(check.note_messages["energy"].value)
        assert XSS not in check.note_messages["energy"].value  # what was typed is escaped
        assert len(energy_rows(noted)) == before  # nothing written
    check.notes["energy"].value = "6,5"
    check.questions["ann-x2"].value = True
    form.save_button.click()
    assert "1 note value" in form.status.value and "1 experiment answer" in form.status.value
    assert check.note_messages["energy"].value == ""
    saved = energy_rows(noted)
    row = saved.loc[saved["date"] == pd.Timestamp(day)].iloc[0]
    assert row["value"] == 6.5 and row["phase"] == "mid"
    assert noted.adherence(experiment="ann-x2")["date"].tolist() == [pd.Timestamp(day)]  # same save
    again = CheckInForm(noted, "ann", day=day, today=TODAY)
    assert again.experiments.notes["energy"].value == "6.5"  # the saved value is shown


def test_notes_recorded_at_check_ins_are_analysed(noted):
    from mastery_analysis.self_experiments import conditions_on, experiment_results, today_lines

    sched = noted.experiment_schedule("ann-x2")
    form = CheckInForm(noted, "ann", day=NOTE_START, today=TODAY)
    for i, (day, cond) in enumerate(zip(sched["date"], sched["condition"])):
        form.date_picker.value = day.date()
        form.rate_toggle.value = False
        form.experiments.notes["energy"].value = str((8 if cond == "B" else 5) + (i % 2) * 0.5)
        assert form.save(), form.status.value
    result = experiment_results(noted, "ann", "ann-x2", today=TODAY).iloc[0]
    assert result["estimate"] == pytest.approx(3.0)
    assert result["n_a"] == 4 and result["n_b"] == 4
    lines = today_lines(conditions_on(noted, "ann", TODAY - dt.timedelta(days=1)))
    assert any("ann-x2" in line and "asks for energy today" in line for line in lines)
    assert not any("ann-x1" in line and "asks for" in line for line in lines)


def test_a_served_check_in_takes_only_own_note_outcomes_as_finite_numbers(noted):
    code = access.issue_code(noted, "ann")
    page = ParticipantPage(noted, address="10.0.0.1", today=TODAY)
    page.signin.code.value = code
    page.signin.button.click()
    day = TODAY - dt.timedelta(days=1)
    assert page.session.check_in(day, ratings=None, note_values={"energy": 7})["responses"] == 1
    with pytest.raises(Exception, match="the note of one of your own experiments"):
        page.session.check_in(day, ratings=None, note_values={"mood": 7})
    with pytest.raises(Exception, match="a finite number"):
        page.session.check_in(day, ratings=None, note_values={"energy": float("inf")})
    with pytest.raises(Exception, match="a finite number"):
        page.session.check_in(day, ratings=None, note_values={"energy": "7"})
    assert energy_rows(noted)["value"].tolist()[-1] == 7.0
