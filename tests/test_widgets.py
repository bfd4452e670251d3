"""Headless tests of the forms in mastery_analysis.widgets: set values, click, read the store."""

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import pytest

from mastery_analysis.errors import StoreError, ValidationError
from mastery_analysis.widgets import (AssessmentForm, CheckInForm, GoalForm, current_streak,
                                      goal_id_for)

TODAY = dt.date(2024, 6, 10)
DAY = dt.date(2024, 6, 9)
ELEMENTS = ["proactive", "connect", "informed", "focused", "potential"]


@pytest.fixture
def alex(store):
    """The temporary store with participant alex and two active goals and one archived goal."""
    store.add_participant("alex", name="Alex", joined_on="2024-05-01")
    store.write("goals", pd.DataFrame([
        {"goal_id": "apply", "participant_id": "alex", "title": "Send applications",
         "element": "proactive", "freq_times": 3, "freq_days": 7, "start_date": "2024-05-01"},
        {"goal_id": "network", "participant_id": "alex", "title": "Meet people",
         "element": "connect", "freq_times": 1, "freq_days": 1, "start_date": "2024-05-01",
         "due_date": "2024-08-01", "target": "10 coffees"},
        {"goal_id": "old", "participant_id": "alex", "title": "Old goal", "element": None,
         "freq_times": 1, "freq_days": 1, "start_date": "2024-05-01", "archived": True},
    ]))
    return store


def click(button):
    button.click()


# ----------------------------------------------------------------------------- check-in
def test_checkin_writes_ratings_vision_actions_progress_and_note(alex):
    form = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    assert set(form.sliders) == set(ELEMENTS)
    assert set(form.goal_inputs) == {"apply", "network"}  # the archived goal is not offered
    for key, value in zip(ELEMENTS, [7, 3, 5, 8, 10]):
        form.sliders[key].value = value
    form.vision_toggle.value = True
    assert form._vision_box.layout.display is None
    for key in ELEMENTS:
        form.vision_sliders[key].value = 9
    form.goal_inputs["apply"].count.value = "2"
    form.goal_inputs["apply"].minutes.value = "45"
    form.goal_inputs["apply"].progress.value = "30%"
    form.goal_inputs["network"].progress.value = "12.5"
    form.note.value = "good day"
    click(form.save_button)

    assert "Saved" in form.status.value
    ratings = alex.ratings(participant="alex")
    current = ratings.loc[ratings["kind"] == "current"].set_index("element")["rating"]
    assert current.to_dict() == dict(zip(ELEMENTS, [7, 3, 5, 8, 10]))
    assert (ratings.loc[ratings["kind"] == "vision", "rating"] == 9).sum() == 5
    assert set(ratings["date"].dt.date) == {DAY}
    assert (ratings["note"] == "good day").all()
    actions = alex.actions(participant="alex")
    assert actions[["goal_id", "count", "minutes"]].to_dict("records") == [
        {"goal_id": "apply", "count": 2, "minutes": 45.0}]
    progress = alex.progress(participant="alex").set_index("goal_id")["percent"]
    assert progress.to_dict() == {"apply": 30.0, "network": 12.5}
    assert form.streak == 1 and "Streak: 1 day" in form.status.value
    assert isinstance(form.chart, go.Figure)
    assert len(form.chart.data[0].x) == 14 and form.chart.data[0].y[-1] == 2
    assert form.chart.data[1].y[-1] == pytest.approx(33 / 5)  # the day's mean rating
    shown = form.chart_output.outputs[0]["data"]["application/vnd.plotly.v1+json"]
    assert shown["data"][0]["type"] == "bar" and shown["layout"]["height"] == 220


def test_new_day_defaults_to_the_latest_earlier_ratings(alex):
    alex.record_checkin("alex", "2024-06-01", ratings=dict.fromkeys(ELEMENTS, 4),
                        vision={"proactive": 8})
    form = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    assert [s.value for s in form.sliders.values()] == [4] * 5
    assert form._vision_box.children == ()  # the vision sliders are made when first shown
    assert form.vision_sliders["proactive"].value == 8 and form.vision_sliders["connect"].value == 10
    assert form.vision_toggle.value is False and form.rate_toggle.value is True
    assert form.note.value == "" and "start at your latest ratings (of 01 Jun 2024)" in form.status.value
    fresh = CheckInForm(alex, "alex", day="2024-05-20", today=TODAY)  # nothing before: the middle
    assert [s.value for s in fresh.sliders.values()] == [5] * 5


def test_date_picker_defaults_to_today_and_refuses_future_days(alex):
    form = CheckInForm(alex, "alex", today=TODAY)
    assert form.date_picker.value == TODAY
    before = alex.row_counts()
    form.date_picker.value = TODAY + dt.timedelta(days=1)
    assert "in the future" in form.date_message.value
    form.goal_inputs["apply"].count.value = "1"
    click(form.save_button)
    assert alex.row_counts() == before
    assert "Not saved" in form.status.value and "in the future" in form.date_message.value
    assert form.goal_inputs["apply"].count.value == "1"
    form.date_picker.value = None
    click(form.save_button)
    assert alex.row_counts() == before and "pick a day" in form.date_message.value


@pytest.mark.parametrize("field, typed, says", [
    ("progress", "150", "out of range"),
    ("progress", "-3", "out of range"),
    ("progress", "lots", "not a number"),
    ("count", "2.5", "not a whole number"),
    ("count", "-1", "out of range"),
    ("count", "twelve", "not a number"),
    ("minutes", "2000", "out of range"),
    ("minutes", "30", "need a number of actions"),
])
def test_invalid_goal_fields_write_nothing_and_say_why(alex, field, typed, says):
    form = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    inputs = form.goal_inputs["network"]
    getattr(inputs, field).value = typed
    form.goal_inputs["apply"].count.value = "1"  # a valid field beside it is not written either
    before = alex.row_counts()
    click(form.save_button)
    assert alex.row_counts() == before
    assert says in inputs.message.value
    assert form.goal_inputs["apply"].message.value == ""
    assert "Not saved: 1 field" in form.status.value
    assert getattr(inputs, field).value == typed  # what was typed stays
    getattr(inputs, field).value = ""
    click(form.save_button)
    assert inputs.message.value == "" and alex.row_counts()["actions"] == before["actions"] + 1


def test_note_too_long_is_refused(alex):
    form = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    form.note.value = "x" * 2001
    before = alex.row_counts()
    click(form.save_button)
    assert alex.row_counts() == before and "at most 2000" in form.note_message.value


def test_skip_ratings_writes_only_actions(alex):
    form = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    form.rate_toggle.value = False
    assert form._ratings_box.layout.display == "none"
    form.goal_inputs["apply"].count.value = "3"
    click(form.save_button)
    counts = alex.row_counts()
    assert counts["ratings"] == 0 and counts["actions"] == 1 and counts["progress"] == 0
    reopened = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    assert reopened.rate_toggle.value is False  # a day saved without ratings opens without them


def test_nothing_to_save(alex):
    form = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    form.rate_toggle.value = False
    before = alex.row_counts()
    click(form.save_button)
    assert alex.row_counts() == before and "Nothing to save" in form.status.value


def test_editing_a_saved_day_loads_it_and_keeps_both_versions(alex):
    first = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    first.sliders["focused"].value = 4
    first.goal_inputs["apply"].count.value = "1"
    first.goal_inputs["apply"].progress.value = "20"
    first.note.value = "first"
    click(first.save_button)

    again = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    assert "already has entries" in again.status.value
    assert again.sliders["focused"].value == 4
    assert again.goal_inputs["apply"].count.value == "1"
    assert again.goal_inputs["apply"].progress.value == "20"
    assert again.note.value == "first"
    again.sliders["focused"].value = 6
    again.goal_inputs["apply"].count.value = "2"
    again.note.value = "second"
    again.goal_inputs["apply"].progress.value = ""  # a saved value cannot be emptied
    before = alex.row_counts()
    click(again.save_button)
    assert alex.row_counts() == before
    assert "saved progress" in again.goal_inputs["apply"].message.value
    again.goal_inputs["apply"].progress.value = "20"
    click(again.save_button)

    history = alex.history("ratings", participant="alex")
    focused = history.loc[history["element"] == "focused"]
    assert focused["rating"].tolist() == [4, 6]
    assert alex.history("actions")["count"].tolist() == [1, 2]
    assert alex.history("progress")["percent"].tolist() == [20.0, 20.0]
    latest = alex.ratings(participant="alex").set_index("element")
    assert latest.at["focused", "rating"] == 6 and latest.at["focused", "note"] == "second"


def test_changing_the_day_loads_that_day(alex):
    alex.record_checkin("alex", "2024-06-02", ratings=dict.fromkeys(ELEMENTS, 9),
                        actions={"network": {"count": 4, "minutes": 30}}, progress={"network": 55},
                        note="june 2")
    form = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    assert form.goal_inputs["network"].progress.placeholder == "last 55"
    form.date_picker.value = dt.date(2024, 6, 2)
    inputs = form.goal_inputs["network"]
    assert (inputs.count.value, inputs.minutes.value, inputs.progress.value) == ("4", "30", "55")
    assert form.note.value == "june 2" and form.sliders["proactive"].value == 9


def test_failed_write_says_so_and_keeps_what_was_typed(alex, monkeypatch):
    form = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    form.sliders["connect"].value = 8
    form.goal_inputs["apply"].count.value = "2"
    form.note.value = "keep me"

    def refuse(*args, **kwargs):
        raise StoreError("cannot write to the store: disk full")

    monkeypatch.setattr(alex, "record_checkin", refuse)
    before = alex.row_counts()
    click(form.save_button)
    assert alex.row_counts() == before
    assert "Could not save" in form.status.value and "disk full" in form.status.value
    assert form.sliders["connect"].value == 8
    assert form.goal_inputs["apply"].count.value == "2" and form.note.value == "keep me"
    monkeypatch.undo()
    click(form.save_button)  # the same values save once the store works again
    assert alex.actions()["count"].tolist() == [2]


def test_a_write_the_store_refuses_is_reported(alex):
    form = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    form.goal_inputs["apply"].count.value = "1"
    # the goal moves to another participant after the form was opened: the store refuses it
    alex.add_participant("sam")
    with alex._engine.begin() as conn:
        conn.exec_driver_sql("UPDATE goals SET participant_id = 'sam' WHERE goal_id = 'apply'")
    before = alex.row_counts()
    assert form.save() is False
    assert alex.row_counts() == before
    assert "Could not save" in form.status.value and "belongs" in form.status.value
    assert form.goal_inputs["apply"].count.value == "1"


def test_enter_in_a_text_field_saves(alex):
    form = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    form.note.value = "typed, then Enter"
    form.note._handle_custom_msg({"event": "submit"}, [])  # what the front end sends on Enter
    assert alex.row_counts()["ratings"] == 5
    form.goal_inputs["network"].count.value = "1"
    form.goal_inputs["network"].count._handle_custom_msg({"event": "submit"}, [])
    assert alex.actions()["goal_id"].tolist() == ["network"]


def test_streak_counts_days_in_a_row_with_action(alex):
    for day in ("2024-06-06", "2024-06-07", "2024-06-08"):
        alex.record_checkin("alex", day, ratings={}, actions={"apply": 1})
    alex.record_checkin("alex", "2024-06-04", ratings={}, actions={"apply": 1})
    form = CheckInForm(alex, "alex", day=DAY, today=TODAY)
    form.goal_inputs["network"].count.value = "1"
    click(form.save_button)
    assert form.streak == 4 and "Streak: 4 days" in form.status.value
    form.goal_inputs["network"].count.value = "0"
    click(form.save_button)  # a count of 0 is no action: the streak ends
    assert form.streak == 0 and "no streak" in form.status.value
    form.goal_inputs["network"].count.value = ""  # saved a moment ago: it cannot be emptied
    assert form.save() is False and "type 0" in form.goal_inputs["network"].message.value


def test_current_streak():
    actions = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03",
                                                    "2024-01-05"]),
                            "count": [1, 0, 2, 1]})
    assert current_streak(actions, "2024-01-03") == 1
    assert current_streak(actions, "2024-01-05") == 1
    assert current_streak(actions, "2024-01-04") == 0
    assert current_streak(actions.assign(count=1), "2024-01-03") == 3
    assert current_streak(actions.iloc[:0], "2024-01-03") == 0
    two_goals = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02",
                                                      "2024-01-03", "2024-01-04"]),
                              "count": [1, 1, 3, 2, 1]})
    assert current_streak(two_goals, "2024-01-02") == 2  # later days do not count
    assert current_streak(two_goals, "2024-01-04") == 4


def test_unknown_participant_shows_how_to_add_one(alex):
    form = CheckInForm(alex, "nobody", today=TODAY)
    assert "No participant 'nobody'" in form.summary()
    assert "add_participant" in form.status.value and "alex" in form.status.value
    assert form.save_button.disabled and form.save() is False
    assert alex.row_counts()["ratings"] == 0
    assert "No participant" in GoalForm(alex, "nobody").summary()
    assert "No participant" in AssessmentForm(alex, "nobody", phase="post").summary()


def test_form_displays_its_widget(alex):
    form = CheckInForm(alex, "alex", today=TODAY)
    bundle = form._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == form.widget.model_id
    assert bundle["text/plain"].startswith("CheckInForm for 'alex'")
    assert form.widget.layout.max_width == "1000px"


def test_other_framework_gives_its_own_sliders(store):
    store.add_participant("alex")
    form = CheckInForm(store, "alex", framework="wheel_of_life", today=TODAY)
    assert list(form.sliders) == form.framework.keys
    assert form.sliders[form.framework.keys[0]].max == form.framework.scale.max


# ----------------------------------------------------------------------------- goals
def fill_goal(form, title="Read 10 papers", element="informed", times=2, days=7,
              start=dt.date(2024, 6, 1), due=dt.date(2024, 9, 1), target="10 papers"):
    form.title.value, form.element.value = title, element
    form.freq_days.value, form.freq_times.value = days, times
    form.start_date.value, form.due_date.value, form.target.value = start, due, target


def test_goal_form_adds_a_goal_with_a_stable_id(alex):
    form = GoalForm(alex, "alex", today=TODAY)
    assert form.goal_picker.value == "" and form.start_date.value == TODAY
    fill_goal(form)
    click(form.save_button)
    goal = alex.goals(participant="alex").set_index("goal_id").loc["read-10-papers"]
    assert goal["title"] == "Read 10 papers" and goal["element"] == "informed"
    assert (goal["freq_times"], goal["freq_days"]) == (2, 7)
    assert goal["start_date"].date() == dt.date(2024, 6, 1)
    assert goal["due_date"].date() == dt.date(2024, 9, 1)
    assert goal["target"] == "10 papers" and not goal["archived"]
    assert "Added goal" in form.status.value and form.last_goal_id == "read-10-papers"
    assert form.title.value == ""  # back to a blank new goal
    fill_goal(form, element="", due=None, target="")
    click(form.save_button)
    second = alex.goals().set_index("goal_id").loc["read-10-papers-2"]
    assert pd.isna(second["due_date"]) and pd.isna(second["target"]) and pd.isna(second["element"])


def test_goal_form_edits_a_goal_as_a_new_version(alex):
    form = GoalForm(alex, "alex", today=TODAY)
    form.goal_picker.value = "network"
    assert form.title.value == "Meet people" and form.target.value == "10 coffees"
    assert form.due_date.value == dt.date(2024, 8, 1) and form.element.value == "connect"
    form.title.value = "Meet more people"
    form.title._handle_custom_msg({"event": "submit"}, [])  # Enter in the title saves
    versions = alex.history("goals").query("goal_id == 'network'")
    assert versions["title"].tolist() == ["Meet people", "Meet more people"]
    assert "Updated goal" in form.status.value


def test_goal_form_archives_and_restores(alex):
    form = GoalForm(alex, "alex", today=TODAY)
    assert form.archive_button.disabled
    form.goal_picker.value = "apply"
    assert form.archive_button.description == "Archive"
    form.title.value = "an unsaved edit"
    click(form.archive_button)
    goal = alex.goals().set_index("goal_id").loc["apply"]
    assert goal["archived"] and goal["title"] == "Send applications"
    assert "apply" not in CheckInForm(alex, "alex", today=TODAY).goal_inputs
    form.goal_picker.value = "apply"
    assert form.archive_button.description == "Restore"
    click(form.archive_button)
    assert not alex.goals().set_index("goal_id").at["apply", "archived"]
    assert "apply" in CheckInForm(alex, "alex", today=TODAY).goal_inputs


@pytest.mark.parametrize("change, field, says", [
    ({"title": "  "}, "title", "give the goal a title"),
    ({"title": "x" * 201}, "title", "at most 200"),
    ({"times": 5, "days": 3}, "freq_times", "at most 3 times"),
    ({"due": dt.date(2024, 5, 1)}, "due_date", "before the start"),
    ({"start": None}, "start_date", "pick a start date"),
    ({"target": "y" * 201}, "target", "at most 200"),
])
def test_goal_form_invalid_fields_write_nothing(alex, change, field, says):
    form = GoalForm(alex, "alex", today=TODAY)
    fill_goal(form, **change)
    before = alex.row_counts()
    click(form.save_button)
    assert alex.row_counts() == before
    assert says in form.messages[field].value and "Not saved" in form.status.value


def test_goal_form_failed_write_keeps_the_fields(alex, monkeypatch):
    form = GoalForm(alex, "alex", today=TODAY)
    fill_goal(form)
    monkeypatch.setattr(alex, "write", lambda *a, **k: (_ for _ in ()).throw(StoreError("locked")))
    before = alex.row_counts()
    assert form.save() is False
    assert alex.row_counts() == before and "Could not save" in form.status.value
    assert form.title.value == "Read 10 papers" and form.target.value == "10 papers"


def test_goal_id_for():
    assert goal_id_for("Read 10 papers!", []) == "read-10-papers"
    assert goal_id_for("Read 10 papers", ["read-10-papers", "read-10-papers-2"]) == "read-10-papers-3"
    assert goal_id_for("Café & Networking", []) == "cafe-networking"
    assert goal_id_for("???", []) == "goal"
    long = goal_id_for("a" * 300, [])
    assert len(long) == 40
    assert goal_id_for("Read 10 papers", ["x"]) == goal_id_for("Read 10 papers", ["x"])


# ----------------------------------------------------------------------------- assessment
def test_assessment_saves_every_item_as_responses(alex):
    form = AssessmentForm(alex, "alex", phase="baseline", day=DAY, today=TODAY)
    q = form.framework.questionnaire
    assert list(form.items) == [i.id for i in q.items]
    assert all(r.value is None for r in form.items.values())
    assert form.items["pro3"].options == form.items["pro1"].options  # reverse items look the same
    for n, radios in enumerate(form.items.values()):
        radios.value = 1 + n % 5
    click(form.save_button)
    saved = alex.responses(participant="alex")
    assert len(saved) == len(q.items) and "Saved 15 baseline answers" in form.status.value
    assert set(saved["instrument"]) == {q.instrument} and set(saved["phase"]) == {"baseline"}
    assert set(saved["date"].dt.date) == {DAY}
    assert saved.set_index("item").at["pro3", "value"] == 3.0  # stored raw, not reversed


def test_assessment_needs_every_answer(alex):
    form = AssessmentForm(alex, "alex", phase="post", today=TODAY)
    for radios in list(form.items.values())[:-2]:
        radios.value = 4
    click(form.save_button)
    assert alex.row_counts()["responses"] == 0
    assert "2 items unanswered" in form.status.value
    assert "please answer" in form.item_messages["pot3"].value
    assert form.item_messages["pro1"].value == ""
    assert form.items["pro1"].value == 4


def test_assessment_refuses_a_future_day(alex):
    form = AssessmentForm(alex, "alex", phase="post", today=TODAY)
    for radios in form.items.values():
        radios.value = 2
    form.date_picker.value = TODAY + dt.timedelta(days=3)
    assert "in the future" in form.date_message.value
    click(form.save_button)
    assert alex.row_counts()["responses"] == 0 and "Not saved" in form.status.value


def test_assessment_reopens_for_editing_with_both_versions(alex):
    first = AssessmentForm(alex, "alex", phase="mid", day=DAY, today=TODAY)
    for radios in first.items.values():
        radios.value = 3
    click(first.save_button)
    again = AssessmentForm(alex, "alex", phase="mid", day=DAY, today=TODAY)
    assert all(r.value == 3 for r in again.items.values()) and "Loaded" in again.status.value
    again.items["foc2"].value = 5
    click(again.save_button)
    history = alex.history("responses").query("item == 'foc2'")
    assert history["value"].tolist() == [3.0, 5.0]
    other_phase = AssessmentForm(alex, "alex", phase="post", day=DAY, today=TODAY)
    assert all(r.value is None for r in other_phase.items.values())
    assert "already holds mid answers" in other_phase.status.value


def test_assessment_failed_write_keeps_answers(alex, monkeypatch):
    form = AssessmentForm(alex, "alex", phase="baseline", today=TODAY)
    for radios in form.items.values():
        radios.value = 5
    monkeypatch.setattr(alex, "write", lambda *a, **k: (_ for _ in ()).throw(StoreError("gone")))
    assert form.save() is False and "Could not save" in form.status.value
    assert all(r.value == 5 for r in form.items.values())


def test_assessment_bad_phase_and_framework_without_questionnaire(alex):
    with pytest.raises(ValidationError, match="baseline"):
        AssessmentForm(alex, "alex", phase="final")
    form = AssessmentForm(alex, "alex", phase="baseline", framework="wheel_of_life")
    assert "no questionnaire" in form.status.value and form.save_button.disabled
