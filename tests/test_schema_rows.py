"""``check_rows`` (plain Python, for a check-in's few rows) gives validate's answers.

Both checkers read the same rules; these tests hold their coercions, defaults, failures and
messages to each other on random rows of every table, good and bad cells mixed.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mastery_analysis.errors import ValidationError
from mastery_analysis.schema import TABLES, Rows, check_rows, validate

TEXTS = st.sampled_from(["alex", " alex ", "bo b", "", "   ", "x" * 70, "a.b@c-d_e", "proactive",
                         "focused", "current", "vision", "baseline", "post", "manual", "=1+2",
                         "été", "x" * 250, "7", "2024-05-31"])
NUMBERS = st.one_of(st.integers(-5, 400), st.floats(-5, 200, allow_nan=False),
                    st.sampled_from([float("nan"), float("inf"), 3.5, 10_001, 1440.5]))
DATES = st.one_of(st.dates(dt.date(2020, 1, 1), dt.date(2026, 12, 31)),
                  st.sampled_from(["2024-05-31", "31/05/2024", "2024-13-01", "yesterday", "",
                                   pd.Timestamp("2024-02-29 13:45"), dt.datetime(2024, 3, 1, 23, 59),
                                   "2024-05-31T23:30:00+02:00", "2024-06-01T01:00:00-05:00"]))
CELLS = st.one_of(st.none(), TEXTS, NUMBERS, DATES, st.booleans(),
                  st.sampled_from(["true", "no", "maybe", np.int64(3), np.float64(2.5), pd.NA]))

# cells drawn mostly from what each column expects, so that whole rows often pass
LIKELY = {
    "participant_id": st.sampled_from(["alex", "sam", "bo b", ""]),
    "goal_id": st.sampled_from(["alex-g1", "alex-g2", "sam-g1"]),
    "cohort": st.sampled_from(["spring", None, "no cohort"]),
    "element": st.sampled_from(["proactive", "focused", "informed", "sleep", None]),
    "kind": st.sampled_from(["current", "vision", None, "past"]),
    "phase": st.sampled_from(["baseline", "mid", "post", "later"]),
    "instrument": st.sampled_from(["gse", "mastery"]),
    "item": st.sampled_from(["q1", "q2"]),
    "rating": st.one_of(st.integers(0, 11), st.sampled_from([5.0, 6.5, "8", True, None])),
    "count": st.one_of(st.integers(-1, 3), st.sampled_from([2.0, 1.5, "two", None])),
    "minutes": st.one_of(st.none(), st.floats(-1, 1500, allow_nan=False)),
    "percent": st.one_of(st.floats(-1, 101, allow_nan=False), st.sampled_from([None, "50"])),
    "freq_times": st.one_of(st.integers(0, 8), st.sampled_from([400, None])),
    "freq_days": st.one_of(st.integers(1, 8), st.sampled_from([7.0, None])),
    "consent_share": st.sampled_from([True, False, "yes", "n", "maybe", None]),
    "archived": st.sampled_from([True, False, None, "1"]),
    "value": st.one_of(st.floats(-3, 3, allow_nan=False), st.sampled_from([float("inf"), None])),
}


def row_for(table):
    columns = [c for c in TABLES[table].columns if c != "recorded_at"]
    cell = {c: (st.one_of(LIKELY[c], CELLS) if c in LIKELY else
                st.one_of(DATES, CELLS) if c in TABLES[table].dates else
                st.one_of(TEXTS, CELLS)) for c in columns}
    # an optional column left out of a row takes its default, as in a frame built from dicts
    optional = [c for c, _ in TABLES[table].defaults]
    return st.fixed_dictionaries({c: s for c, s in cell.items() if c not in optional},
                                 optional={c: cell[c] for c in optional})


def plain(v):
    """A frame cell as check_rows gives it."""
    if v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    return v.item() if isinstance(v, np.generic) else v


def failures_of(exc):
    return [(f["row"], f["column"], plain(f["value"]), f["expected"]) for f in exc.failures]


def answer(fn):
    try:
        return "ok", fn()
    except ValidationError as exc:
        return "error", (exc.table, failures_of(exc), str(exc))


@pytest.mark.parametrize("table", list(TABLES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_check_rows_answers_as_validate_does(table, data):
    rows = data.draw(st.lists(row_for(table), min_size=1, max_size=4))
    if data.draw(st.booleans()) and len(rows) > 1:
        rows[-1] = dict(rows[0])  # a repeated key
    # object columns: pandas would otherwise turn [None, -1] into [NaN, -1.0] before validate
    # sees them, which is the frame's doing, not the checker's
    frame_kind, frame_out = answer(lambda: validate(table, pd.DataFrame(rows, dtype=object)))
    rows_kind, rows_out = answer(lambda: check_rows(table, rows))
    assert rows_kind == frame_kind, (frame_out, rows_out)
    if frame_kind == "error":
        assert rows_out[1] == frame_out[1]
        assert rows_out[2] == frame_out[2]  # the message people read, word for word
        return
    assert isinstance(rows_out, Rows) and rows_out.labels == list(frame_out.index)
    for col, values in rows_out.columns.items():
        assert values == [plain(v) for v in frame_out[col]], col


def test_a_missing_required_column_is_named_by_both():
    rows = [{"participant_id": "alex", "date": "2024-05-31", "element": "proactive"}]
    with pytest.raises(ValidationError) as by_frame:
        validate("ratings", pd.DataFrame(rows))
    with pytest.raises(ValidationError) as by_rows:
        check_rows("ratings", rows)
    assert str(by_rows.value) == str(by_frame.value) and "'rating'" in str(by_rows.value)


def test_a_check_in_row_comes_out_as_plain_python():
    out = check_rows("actions", [{"participant_id": "alex", "date": dt.date(2024, 5, 31),
                                  "goal_id": "alex-g1", "count": np.int64(2), "minutes": 30,
                                  "note": "  called Sam  "}])
    assert out.columns == {"participant_id": ["alex"], "date": [dt.date(2024, 5, 31)],
                           "goal_id": ["alex-g1"], "count": [2], "minutes": [30.0],
                           "note": ["called Sam"], "source": ["manual"]}
    assert type(out.columns["count"][0]) is int
