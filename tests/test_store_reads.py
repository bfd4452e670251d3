"""The store's reads give the frames they gave before they were made cheap.

A participant's page makes a dozen small reads per sign-in and check-in, so ``schema.empty``
is built once and copied, ``Store._read`` reuses its queries and ``_to_frame`` converts each
column once (see their comments). Every frame must stay exactly what the plain construction
gives: the same columns, dtypes (Arrow-backed text included), values, order and index, and
no frame handed out may share anything that changes the next one.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from mastery_analysis.schema import TABLES, as_day, dtype_of, dtypes, empty
from mastery_analysis.store import DATA_TABLES, SQL_TABLES, _experiments_frame, _to_frame
from store_backends import backend, store, store_url  # noqa: F401  (SQLite and PostgreSQL)

ORDER = ("participant_id", "date", "goal_id", "element", "kind", "item")


def plain_empty(table):
    """How ``schema.empty`` built every frame before it kept one."""
    return pd.DataFrame({c: pd.Series(dtype=dtype_of(table, c)) for c in TABLES[table].columns})


def plain_frame(table, rows, *, with_version):
    """How ``_to_frame`` built every frame before (rows as mappings)."""
    base = plain_empty(table)
    if not rows:
        frame = base
    else:
        frame = pd.DataFrame.from_records(rows, columns=(["version_id"] if with_version else []) + list(base.columns))
        for col, dtype in base.dtypes.items():
            if col == "recorded_at":
                frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601").astype(dtype)
            elif str(dtype).startswith("datetime64"):
                frame[col] = pd.to_datetime(frame[col]).astype(dtype)
            elif dtype == bool:
                frame[col] = frame[col].fillna(False).astype(bool)
            else:
                frame[col] = frame[col].astype(dtype)
    if with_version and "version_id" not in frame:
        frame.insert(0, "version_id", pd.Series(dtype="int64"))
    return frame


def plain_read(store, table, *, participant=None, cohort=None, start=None, end=None, latest=True):
    """How ``Store._read`` queried before it kept its queries (values inlined each time)."""
    t = SQL_TABLES[table]
    spec = TABLES[table]
    conds = []
    if participant is not None:
        conds.append(t.c.participant_id.in_([participant] if isinstance(participant, str) else list(participant)))
    if cohort is not None:
        p = SQL_TABLES["participants"]
        newest = sa.select(sa.func.max(p.c.version_id).label("v")).group_by(p.c.participant_id).subquery()
        members = sa.select(p.c.participant_id, p.c.cohort).join(newest, p.c.version_id == newest.c.v).subquery()
        conds.append(t.c.participant_id.in_(sa.select(members.c.participant_id).where(members.c.cohort == cohort)))
    if "date" in spec.columns and start is not None:
        conds.append(t.c.date >= as_day(start))
    if "date" in spec.columns and end is not None:
        conds.append(t.c.date <= as_day(end))
    if latest:
        newest = sa.select(sa.func.max(t.c.version_id).label("v")).where(*conds).group_by(
            *[t.c[k] for k in spec.key]).subquery()
        query = sa.select(*[t.c[c] for c in spec.columns]).join(newest, t.c.version_id == newest.c.v)
    else:
        query = sa.select(t.c.version_id, *[t.c[c] for c in spec.columns]).where(*conds)
    query = query.order_by(*[t.c[k] for k in ORDER if k in spec.columns], t.c.version_id)
    with store._connection() as conn:
        rows = conn.execute(query).mappings().all()
    return plain_frame(table, rows, with_version=not latest)


def assert_identical(got, expected):
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_index_type=True,
                                  check_column_type=True)
    assert type(got.index) is type(expected.index)
    assert repr(got.columns.dtype) == repr(expected.columns.dtype)
    for col in expected.columns:  # the very same dtype, down to the string storage
        assert repr(got[col].dtype) == repr(expected[col].dtype), col
        assert getattr(got[col].dtype, "storage", None) == getattr(expected[col].dtype, "storage", None), col
        assert type(got[col].array) is type(expected[col].array), col


@pytest.fixture
def people(store):
    store.add_cohort("c1")
    store.add_cohort("c2")
    store.add_participant("alex", name="Alex", cohort="c1", joined_on="2025-01-01", consent_share=True)
    store.add_participant("sam", cohort="c1")  # no name, no day joined
    store.add_participant("kim", name="Kim", cohort="c2", joined_on="2025-02-01")
    store.add_participant("new", cohort="c1")  # nothing recorded
    store.write("goals", pd.DataFrame([
        {"goal_id": "g-write", "participant_id": "alex", "title": "Write", "element": "focused",
         "freq_times": 3, "freq_days": 7, "start_date": "2025-01-01", "due_date": "2025-03-01",
         "target": "a chapter"},
        {"goal_id": "g-old", "participant_id": "alex", "title": "Old", "start_date": "2024-06-01",
         "archived": True},
        {"goal_id": "g-sam", "participant_id": "sam", "title": "Run", "start_date": "2025-01-01"},
    ]))
    for i, day in enumerate(("2025-01-05", "2025-01-06", "2025-01-09", "2025-02-01")):
        store.record_checkin("alex", day, ratings={"proactive": 3 + i, "focused": 8},
                             vision={"proactive": 9}, actions={"g-write": {"count": i, "minutes": 30 if i else None}},
                             progress={"g-write": 10.5 * i}, note="a <b>day</b>" if i % 2 else None,
                             note_values={"sleep": 7.5 - i})
        store.record_checkin("sam", day, ratings={"connect": 5}, actions={"g-sam": 1})
    store.record_checkin("alex", "2025-01-06", ratings={"proactive": 2})  # a second version
    return store


FILTERS = [dict(), dict(participant="alex"), dict(participant="sam"), dict(participant="new"),
           dict(participant="nobody"), dict(participant=["alex", "kim"]), dict(participant=[]),
           dict(cohort="c1"), dict(cohort="c2"), dict(cohort="none"),
           dict(participant="alex", start="2025-01-06"), dict(participant="alex", end="2025-01-06"),
           dict(participant="alex", start="2025-01-06", end="2025-01-06"),
           dict(participant="alex", start=dt.date(2030, 1, 1)),
           dict(cohort="c1", start="2025-01-09", end="2025-02-01")]


@pytest.mark.parametrize("table", DATA_TABLES)
def test_every_read_equals_the_plain_construction(people, table):
    for filters in FILTERS:
        for latest in (True, False):
            got = people._read(table, latest=latest, **filters)
            assert_identical(got, plain_read(people, table, latest=latest, **filters))
    assert len(people._read(table, participant="alex")) > 0


def test_goals_without_the_archived_are_the_frame_filtered_as_before(people):
    for who in ("alex", "sam", "new", None):
        everything = plain_read(people, "goals", participant=who)
        expected = everything.loc[~everything["archived"]].reset_index(drop=True)
        assert_identical(people.goals(participant=who, include_archived=False), expected)
    assert people.goals(participant="alex", include_archived=False)["goal_id"].tolist() == ["g-write"]


@pytest.mark.parametrize("table", DATA_TABLES)
def test_empty_is_a_fresh_frame_each_call(table):
    first = empty(table)
    assert_identical(first, plain_empty(table))
    assert dtypes(table) == dict(plain_empty(table).dtypes.items())
    # change everything a caller could change in a frame it was given
    first["extra"] = 1
    del first[TABLES[table].columns[-1]]
    first.columns.name = "changed"
    first.index.name = "changed"
    first.attrs["who"] = "someone"
    first.columns = ["renamed", *first.columns[1:]]
    handed = dtypes(table)
    handed[TABLES[table].columns[0]] = "int64"
    again = empty(table)
    assert_identical(again, plain_empty(table))
    assert again.columns.name is None and again.index.name is None and again.attrs == {}
    assert dtypes(table) == dict(plain_empty(table).dtypes.items())


def test_a_frame_read_can_be_changed_without_changing_the_next_read(people):
    for who in ("new", "alex"):
        for table in DATA_TABLES:
            got = people._read(table, participant=who)
            if len(got):
                got.loc[0, "participant_id"] = "changed"
            got.insert(0, "extra", 1)
            del got[TABLES[table].columns[-1]]
            got.columns = ["renamed", *got.columns[1:]]
            got.columns.name = got.index.name = "changed"
            assert_identical(people._read(table, participant=who), plain_read(people, table, participant=who))
    none = people.experiments(participant="new")
    none["outcome"] = "changed"
    del none["title"]
    none.columns.name = "changed"
    assert_identical(people.experiments(participant="new"), _experiments_frame([], {}))
    assert people.experiments(participant="new").empty


def test_cells_the_store_holds_empty_or_unusual_convert_as_before():
    """Rows as the driver returns them, with None in every column that allows it."""
    cases = {
        "participants": [("p1", None, None, None, None, None), ("p2", "Pat", "c1", dt.date(2025, 1, 1), True, "h")],
        "goals": [("g", "p1", "T", None, 1, 7, dt.date(2025, 1, 1), None, None, None),
                  ("h", "p1", "U", "focused", 2, 2, dt.date(2025, 1, 1), dt.date(2262, 4, 11), "x", True)],
        "actions": [("p1", dt.date(2025, 1, 1), "g", 0, None, None, "manual", None),
                    ("p1", dt.date(1677, 9, 22), "g", 3, 1.5, "n", "s", "2025-01-01T00:00:00.000001+00:00")],
        "responses": [("p1", dt.date(2025, 1, 1), "post", "pm", "i1", 2.0, "2025-01-01T10:00:00+02:00")],
        "ratings": [("p1", dt.date(2025, 1, 1), "focused", 3.0, "current", "", "manual",
                     "2025-01-01T00:00:00.000000+00:00")],  # a whole number stored as REAL
    }
    for table, rows in cases.items():
        for with_version in (False, True):
            given = [(i + 1, *r) if with_version else r for i, r in enumerate(rows)]
            names = (["version_id"] if with_version else []) + list(TABLES[table].columns)
            expected = plain_frame(table, [dict(zip(names, r)) for r in given], with_version=with_version)
            assert_identical(_to_frame(table, given, with_version=with_version), expected)
            assert_identical(_to_frame(table, [], with_version=with_version),
                             plain_frame(table, [], with_version=with_version))


@pytest.mark.parametrize("cell, column", [(None, "rating"), (dt.date(1500, 1, 1), "date"),
                                          ("not a time", "recorded_at")])
def test_a_cell_no_frame_can_hold_fails_as_before(cell, column):
    row = {"participant_id": "p1", "date": dt.date(2025, 1, 1), "element": "focused", "rating": 3,
           "kind": "current", "note": None, "source": "manual", "recorded_at": None, column: cell}
    with pytest.raises(Exception) as before:
        plain_frame("ratings", [row], with_version=False)
    with pytest.raises(type(before.value)):
        _to_frame("ratings", [tuple(row.values())], with_version=False)
    assert np.dtype("int64") == dtypes("ratings")["rating"]
