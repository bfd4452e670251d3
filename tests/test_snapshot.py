"""The store's columnar snapshot: equal to the store's own reads, and never stale."""

import datetime as dt

import pandas as pd
import pytest

from mastery_analysis.snapshot import ANALYSIS_TABLES, Snapshot
from mastery_analysis.store import open_store


def _same(snap, store, table, **sel):
    pd.testing.assert_frame_equal(snap.read(table, **sel), getattr(store, table)(**sel))


def test_snapshot_equals_the_store_on_every_table(demo_store):
    snap = demo_store.snapshot()
    assert snap.directory is not None and snap.directory.name == "demo.db.snapshot"
    for table in ANALYSIS_TABLES:
        _same(snap, demo_store, table)
    cohort = demo_store.participants()["cohort"].dropna().iloc[0]
    _same(snap, demo_store, "ratings", cohort=cohort)
    _same(snap, demo_store, "actions", participant="alex")
    assert list(snap.directory.glob("ratings.*.parquet"))


def test_a_read_after_a_write_sees_the_write(demo_store):
    snap = demo_store.snapshot()
    before = snap.read("ratings")
    last = before.loc[before["participant_id"] == "alex", "date"].max()
    day = (last + pd.Timedelta(days=1)).date()
    elements = list(demo_store.framework.keys)
    demo_store.record_checkin("alex", day, ratings={e: 7 for e in elements})
    assert snap.refresh(["ratings"]) == {"ratings": len(elements)}
    after = snap.read("ratings")
    assert len(after) == len(before) + len(elements)
    _same(snap, demo_store, "ratings")
    # saving the same day again replaces the rows (latest per key), it does not add any
    demo_store.record_checkin("alex", day, ratings={e: 3 for e in elements})
    again = snap.read("ratings")
    assert len(again) == len(after)
    assert set(again.loc[(again["participant_id"] == "alex") & (again["date"] == pd.Timestamp(day)),
                         "rating"]) == {3}
    _same(snap, demo_store, "ratings")


def test_new_participants_land_in_order(store):
    for pid in ("bea", "dan"):
        store.add_participant(pid, joined_on="2025-01-01")
        store.record_checkin(pid, "2025-01-02", ratings={"proactive": 5})
    snap = store.snapshot()
    _same(snap, store, "ratings")
    for pid in ("cal", "aba", "zed"):  # before, between and after the participants known
        store.add_participant(pid, joined_on="2025-01-01")
        store.record_checkin(pid, "2025-01-03", ratings={"proactive": 6, "focused": 2})
        _same(snap, store, "ratings")
        _same(snap, store, "participants")
    assert snap.read("ratings")["participant_id"].tolist() == [
        "aba", "aba", "bea", "cal", "cal", "dan", "zed", "zed"]


def test_forget_rebuilds_the_snapshot(demo_store):
    snap = demo_store.snapshot()
    assert (snap.read("ratings")["participant_id"] == "alex").any()
    demo_store.forget("alex")
    assert not (snap.read("ratings")["participant_id"] == "alex").any()
    _same(snap, demo_store, "ratings")


def test_another_process_picks_up_the_persisted_snapshot(demo_store, tmp_path):
    first = Snapshot(demo_store)
    first.read("actions")
    goal = demo_store.goals(participant="alex")["goal_id"].iloc[0]
    last = demo_store.actions(participant="alex")["date"].max()
    demo_store.record_checkin("alex", (last + pd.Timedelta(days=1)).date(), ratings={},
                            actions={goal: 4})
    first.read("actions")  # persists the new row as a delta file
    assert list(first.directory.glob("actions.delta-*.parquet"))
    with open_store(demo_store.url) as again:
        second = Snapshot(again)
        assert second.refresh(["actions"]) == {"actions": 0}  # everything came from the files
        _same(second, again, "actions")


def test_in_memory_store_keeps_the_snapshot_in_memory():
    with open_store("sqlite://") as s:
        s.add_participant("mia", joined_on="2025-01-01")
        snap = s.snapshot()
        assert snap.directory is None
        assert snap.read("ratings").empty
        s.record_checkin("mia", dt.date(2025, 1, 2), ratings={"connect": 8})
        _same(snap, s, "ratings")


def test_unknown_table_is_refused(store):
    from mastery_analysis.errors import StoreError

    with pytest.raises(StoreError, match="unknown table 'rating'"):
        store.snapshot().read("rating")
