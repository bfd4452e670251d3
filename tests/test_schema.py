import pandas as pd
import pytest

from mastery_analysis.errors import MasteryError, ValidationError
from mastery_analysis.schema import TABLES, empty, validate


def ratings(**overrides):
    base = {"participant_id": ["alex", "alex"], "date": ["2025-01-01", "2025-01-02"],
            "element": ["proactive", "focused"], "rating": [5, 7]}
    base.update(overrides)
    return pd.DataFrame(base)


def test_valid_frame_is_typed_and_gets_defaults():
    out = validate("ratings", ratings())
    assert list(out.columns) == list(TABLES["ratings"].columns)
    assert str(out["date"].dtype) == "datetime64[ns]"
    assert out["rating"].dtype == "int64"
    assert out["kind"].tolist() == ["current", "current"]
    assert out["source"].tolist() == ["manual", "manual"]


def test_input_frame_is_not_modified():
    frame = ratings()
    before = frame.copy()
    validate("ratings", frame)
    pd.testing.assert_frame_equal(frame, before)


def test_one_error_lists_every_bad_cell():
    frame = pd.DataFrame({
        "participant_id": ["alex", "alex", "bo b", "alex"],
        "date": ["2025-01-01", "2025-13-01", "2025-01-02", "2025-01-03"],
        "element": ["proactive", "focus", "connect", "informed"],
        "rating": [5, 12, 3.5, "seven"],
    })
    with pytest.raises(ValidationError) as info:
        validate("ratings", frame)
    cells = {(f["row"], f["column"]) for f in info.value.failures}
    assert cells == {(1, "date"), (1, "element"), (1, "rating"), (2, "participant_id"),
                     (2, "rating"), (3, "rating")}
    message = str(info.value)
    assert "row 1, column 'date': got '2025-13-01', expected a date" in message
    assert "got 'focus', expected one of the career_mastery elements" in message
    assert "got 12, expected an integer from 1 to 10" in message
    assert "got 'seven', expected a whole number" in message
    assert isinstance(info.value, MasteryError)


def test_missing_required_column_is_named():
    with pytest.raises(ValidationError, match="column 'rating'"):
        validate("ratings", ratings().drop(columns=["rating"]))


def test_duplicate_key_in_one_write_is_refused():
    frame = ratings(date=["2025-01-01", "2025-01-01"], element=["proactive", "proactive"])
    with pytest.raises(ValidationError, match="each key once per write") as info:
        validate("ratings", frame)
    assert [f["row"] for f in info.value.failures] == [0, 1]


@pytest.mark.parametrize("table, column, value, expected", [
    ("actions", "count", -1, "from 0 to 10000"),
    ("progress", "percent", 100.5, "a percent from 0 to 100"),
    ("progress", "percent", -3, "a percent from 0 to 100"),
    ("ratings", "kind", "wish", "'current' or 'vision'"),
    ("responses", "phase", "during", "'baseline', 'mid' or 'post'"),
])
def test_out_of_range_values(table, column, value, expected):
    rows = {
        "actions": {"participant_id": "a", "date": "2025-01-01", "goal_id": "g", "count": 1},
        "progress": {"participant_id": "a", "date": "2025-01-01", "goal_id": "g", "percent": 5},
        "ratings": {"participant_id": "a", "date": "2025-01-01", "element": "connect", "rating": 3},
        "responses": {"participant_id": "a", "date": "2025-01-01", "phase": "baseline",
                      "instrument": "q", "item": "i1", "value": 3},
    }[table]
    rows[column] = value
    with pytest.raises(ValidationError) as info:
        validate(table, pd.DataFrame([rows]))
    assert info.value.failures[0]["column"] == column
    assert expected in str(info.value)


def test_goal_cross_column_checks():
    goal = pd.DataFrame([{"goal_id": "g1", "participant_id": "alex", "title": "Write",
                          "start_date": "2025-02-01", "due_date": "2025-01-01",
                          "freq_times": 3, "freq_days": 2}])
    with pytest.raises(ValidationError) as info:
        validate("goals", goal)
    assert {f["column"] for f in info.value.failures} == {"due_date", "freq_times"}


def test_framework_decides_elements_and_scale():
    frame = pd.DataFrame([{"participant_id": "a", "date": "2025-01-01", "element": "health", "rating": 8}])
    assert validate("ratings", frame, framework="wheel_of_life")["element"].tolist() == ["health"]
    with pytest.raises(ValidationError, match="career_mastery elements"):
        validate("ratings", frame)


def test_empty_frames_have_the_table_columns():
    for name, spec in TABLES.items():
        assert list(empty(name).columns) == list(spec.columns)


def test_empty_text_and_missing_optional_cells_take_their_defaults():
    goals = pd.DataFrame([
        {"goal_id": "g1", "participant_id": "a", "title": "One", "start_date": "2025-01-01",
         "target": float("nan"), "freq_times": 2, "freq_days": 7},
        {"goal_id": "g2", "participant_id": "a", "title": "Two", "start_date": "2025-01-01"},
    ])
    out = validate("goals", goals)
    assert out["target"].isna().all()
    assert out[["freq_times", "freq_days"]].values.tolist() == [[2, 7], [1, 1]]
    assert out["archived"].tolist() == [False, False]
    # a goal read back from the store can be written again as it is
    assert validate("goals", out).equals(out)


def test_times_with_utc_offsets_keep_the_day_written_even_when_offsets_differ():
    frame = ratings(date=["2025-01-01T23:30:00+02:00", "2025-01-02T00:30:00-05:00"])
    out = validate("ratings", frame)  # pandas refuses mixed offsets in one column
    assert out["date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-01-01", "2025-01-02"]
    assert validate("ratings", ratings(date=["2025-01-01T23:30:00+02:00"] * 2).assign(
        element=["proactive", "focused"]))["date"].dt.day.tolist() == [1, 1]
