import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import sqlalchemy as sa

from mastery_analysis.errors import (FrameworkError, StoreError, StoreVersionError,
                                     UnknownParticipantError, ValidationError)
from mastery_analysis.store import SCHEMA_VERSION, default_url, open_store, resolve_url
from store_backends import backend, store, store_url  # noqa: F401  (every `store` test runs on SQLite and PostgreSQL)


@pytest.fixture
def alex(store):
    store.add_cohort("c1")
    store.add_participant("alex", name="Alex", cohort="c1", joined_on="2025-01-01", consent_share=True)
    store.add_participant("sam", name="Sam", cohort="c1", joined_on="2025-01-01")
    store.write("goals", pd.DataFrame([
        {"goal_id": "g-write", "participant_id": "alex", "title": "Write", "start_date": "2025-01-01"},
        {"goal_id": "g-sam", "participant_id": "sam", "title": "Run", "start_date": "2025-01-01"},
    ]))
    return store


def test_round_trip_of_a_checkin(alex):
    written = alex.record_checkin("alex", "2025-01-05", ratings={"proactive": 6, "focused": 8},
                                  vision={"proactive": 9}, actions={"g-write": {"count": 2, "minutes": 30}},
                                  progress={"g-write": 12.5}, note="good day")
    assert written == {"ratings": 3, "actions": 1, "progress": 1}
    r = alex.ratings(participant="alex")
    assert sorted(zip(r["element"], r["kind"], r["rating"])) == [
        ("focused", "current", 8), ("proactive", "current", 6), ("proactive", "vision", 9)]
    assert (r["date"] == pd.Timestamp("2025-01-05")).all()
    assert (r["note"] == "good day").all()
    assert r["recorded_at"].dt.tz is not None
    a = alex.actions()
    assert a[["goal_id", "count", "minutes"]].values.tolist() == [["g-write", 2, 30.0]]
    assert alex.progress()["percent"].tolist() == [12.5]


def test_saving_a_day_again_keeps_both_versions_and_shows_the_newer(alex):
    alex.record_checkin("alex", "2025-01-05", ratings={"proactive": 6})
    alex.record_checkin("alex", "2025-01-05", ratings={"proactive": 7})
    assert alex.ratings()["rating"].tolist() == [7]
    history = alex.history("ratings")
    assert history["rating"].tolist() == [6, 7]
    assert history["version_id"].is_monotonic_increasing


def test_filters_by_participant_cohort_and_dates(alex):
    for day, value in (("2025-01-01", 3), ("2025-01-10", 4), ("2025-02-01", 5)):
        alex.record_checkin("alex", day, ratings={"connect": value})
        alex.record_checkin("sam", day, ratings={"connect": value + 1})
    assert set(alex.ratings(participant="sam")["participant_id"]) == {"sam"}
    assert len(alex.ratings(cohort="c1")) == 6
    assert alex.ratings(cohort="other").empty
    ranged = alex.ratings(participant="alex", start="2025-01-05", end="2025-01-31")
    assert ranged["rating"].tolist() == [4]


def test_forget_deletes_everything_of_one_person(alex):
    alex.record_checkin("alex", "2025-01-05", ratings={"proactive": 6}, actions={"g-write": 1})
    alex.record_checkin("sam", "2025-01-05", ratings={"proactive": 4}, actions={"g-sam": 1})
    sams = {t: alex.history(t, participant="sam") for t in alex.row_counts()}
    deleted = alex.forget("alex")
    assert deleted["ratings"] == 1 and deleted["goals"] == 1 and deleted["participants"] == 1
    for table, rows in sams.items():
        assert "alex" not in set(alex.history(table)["participant_id"])
        pd.testing.assert_frame_equal(alex.history(table), rows)  # everything of sam's stays
    assert alex.ratings()["participant_id"].tolist() == ["sam"]
    with pytest.raises(UnknownParticipantError):
        alex.forget("alex")


@pytest.mark.parametrize("kwargs, column", [
    ({"ratings": {"proactive": 11}}, "rating"),
    ({"ratings": {"proactive": 0}}, "rating"),
    ({"ratings": {"curiosity": 5}}, "element"),
    ({"ratings": {}, "actions": {"g-write": -2}}, "count"),
    ({"ratings": {}, "progress": {"g-write": 140}}, "percent"),
    ({"ratings": {}, "actions": {"g-sam": 1}}, "goal_id"),
    ({"ratings": {}, "actions": {"no-such-goal": 1}}, "goal_id"),
])
def test_bad_checkins_raise_and_write_nothing(alex, kwargs, column):
    before = alex.row_counts()
    with pytest.raises(ValidationError) as info:
        alex.record_checkin("alex", "2025-01-05", **kwargs)
    assert any(f["column"].endswith(column) for f in info.value.failures)
    assert alex.row_counts() == before


def test_a_mixed_bad_checkin_names_every_table_and_writes_nothing(alex):
    before = alex.row_counts()
    with pytest.raises(ValidationError) as info:
        alex.record_checkin("alex", "2025-01-05", ratings={"proactive": 5, "focused": 99},
                            actions={"g-write": -1})
    assert {f["column"] for f in info.value.failures} == {"ratings.rating", "actions.count"}
    assert alex.row_counts() == before


def test_unknown_participant_and_bad_date(alex):
    before = alex.row_counts()
    with pytest.raises(UnknownParticipantError, match="unknown participant 'kim'"):
        alex.record_checkin("kim", "2025-01-05", ratings={"proactive": 5})
    with pytest.raises(ValidationError, match="a date like"):
        alex.record_checkin("alex", "not a day", ratings={"proactive": 5})
    with pytest.raises(ValidationError, match="not the future"):
        alex.record_checkin("alex", "2999-01-01", ratings={"proactive": 5})
    assert alex.row_counts() == before


def test_bulk_write_is_all_or_nothing(alex):
    before = alex.row_counts()
    frame = pd.DataFrame({"participant_id": ["alex", "alex", "nobody"],
                          "date": ["2025-01-01", "2025-01-01", "2025-01-02"],
                          "element": ["proactive", "proactive", "connect"],
                          "rating": [5, 6, 7]})
    with pytest.raises(ValidationError, match="each key once per write"):
        alex.write("ratings", frame)
    with pytest.raises(ValidationError, match="a participant in the store") as info:
        alex.write("ratings", frame.iloc[[0, 2]])
    assert [f["row"] for f in info.value.failures] == [2]
    assert alex.row_counts() == before
    assert alex.write("ratings", frame.iloc[[0]]) == 1


def test_a_goal_id_cannot_move_to_another_participant(alex):
    with pytest.raises(ValidationError, match="belongs to 'alex'"):
        alex.write("goals", pd.DataFrame([{"goal_id": "g-write", "participant_id": "sam",
                                           "title": "Mine now", "start_date": "2025-01-01"}]))


def test_adding_an_existing_participant_is_an_error(alex):
    with pytest.raises(StoreError, match="already exists"):
        alex.add_participant("alex")


def test_newer_schema_version_is_refused(tmp_path):
    path = tmp_path / "newer.db"
    open_store(path).close()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = :v WHERE key = 'schema_version'"),
                     {"v": str(SCHEMA_VERSION + 1)})
    engine.dispose()
    with pytest.raises(StoreVersionError, match="newer mastery-analysis"):
        open_store(path)


def test_store_remembers_its_schema_version_and_framework(tmp_path):
    path = tmp_path / "wheel.db"
    open_store(path, framework="wheel_of_life").close()
    with open_store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.framework.name == "wheel_of_life"


def test_a_store_made_with_a_framework_file_reopens_with_it(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nscale: {min: 0, max: 4}\nelements:\n  - {key: calm, label: Calm}\n")
    open_store(tmp_path / "mine.db", framework=path).close()
    with open_store(tmp_path / "mine.db") as s:
        assert s.framework.name == "mine" and s.framework.keys == ["calm"]


def test_an_unknown_framework_creates_no_store(tmp_path):
    with pytest.raises(FrameworkError, match="no framework named 'nope'"):
        open_store(tmp_path / "new.db", framework="nope")
    assert not (tmp_path / "new.db").exists()


def test_not_a_store_and_missing_store(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a mastery store"):
        open_store(junk)
    with pytest.raises(StoreError, match="no store at"):
        open_store(tmp_path / "missing.db", create=False)


def test_urls(monkeypatch, tmp_path):
    monkeypatch.setenv("MASTERY_STORE", "sqlite:///elsewhere.db")
    assert default_url() == "sqlite:///elsewhere.db"
    monkeypatch.delenv("MASTERY_STORE")
    assert default_url().endswith("data/mastery.db")
    assert resolve_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"


WRITER = textwrap.dedent("""
    import sys
    from mastery_analysis.store import open_store
    path, who = sys.argv[1], sys.argv[2]
    s = open_store(path)
    for day in range(60):
        s.record_checkin(who, f"2025-03-{day % 28 + 1:02d}" if day < 28 else f"2025-04-{day % 28 + 1:02d}",
                         ratings={"proactive": day % 10 + 1, "focused": 5}, actions={f"g-{who}": day % 3})
    print("ok")
""")


def test_two_processes_write_at_once(tmp_path):
    path = tmp_path / "shared.db"
    with open_store(path) as s:
        for who in ("p1", "p2"):
            s.add_participant(who)
            s.write("goals", pd.DataFrame([{"goal_id": f"g-{who}", "participant_id": who,
                                             "title": "Act", "start_date": "2025-01-01"}]))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), who],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who in ("p1", "p2")]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert out.strip() == "ok"
    with open_store(path) as s:
        counts = s.row_counts()
        assert counts["ratings"] == 2 * 60 * 2
        assert counts["actions"] == 2 * 60
        assert s.ratings().groupby("participant_id").size().to_dict() == {"p1": 112, "p2": 112}


def test_store_env_may_be_a_file_path(monkeypatch, tmp_path):
    monkeypatch.setenv("MASTERY_STORE", str(tmp_path / "mine.db"))
    assert default_url() == f"sqlite:///{tmp_path / 'mine.db'}"
    with open_store() as s:
        assert s.url == f"sqlite:///{tmp_path / 'mine.db'}"


@pytest.mark.parametrize("args, kwargs", [
    ((None,), {"ratings": {"proactive": 5}}),
    (("2025-01-05",), {"ratings": [5]}),
    (("2025-01-05",), {"ratings": {}, "actions": ["g-write"]}),
    (("2025-01-05",), {"ratings": {"proactive": True}}),
])
def test_a_missing_day_or_a_wrong_kind_of_argument_is_a_validation_error(alex, args, kwargs):
    before = alex.row_counts()
    with pytest.raises(ValidationError):
        alex.record_checkin("alex", *args, **kwargs)
    assert alex.row_counts() == before


def test_write_many_refuses_an_unknown_table(alex):
    before = alex.row_counts()
    with pytest.raises(StoreError, match="unknown table 'rating'"):
        alex.write_many({"rating": pd.DataFrame([{"participant_id": "alex"}]),
                         "ratings": pd.DataFrame([{"participant_id": "alex", "date": "2025-01-01",
                                                   "element": "proactive", "rating": 5}])})
    assert alex.row_counts() == before


def test_an_in_memory_store_reads_what_it_wrote():
    with open_store("sqlite://") as s:
        s.add_participant("alex")
        s.record_checkin("alex", "2025-01-05", ratings={"proactive": 6})
        assert s.participants()["participant_id"].tolist() == ["alex"]
        assert s.ratings()["rating"].tolist() == [6]


def test_another_applications_sqlite_file_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "other.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE notes (body TEXT)"))
    with pytest.raises(StoreError, match="not a mastery store"):
        open_store(path)
    assert sa.inspect(engine).get_table_names() == ["notes"]
    engine.dispose()


ADDER = textwrap.dedent("""
    import sys
    from mastery_analysis.errors import StoreError
    from mastery_analysis.store import open_store
    s = open_store(sys.argv[1])
    try:
        s.add_participant("same")
        print("added")
    except StoreError:
        print("exists")
""")


def test_two_processes_adding_the_same_participant_add_it_once(tmp_path):
    path = tmp_path / "shared.db"
    open_store(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", ADDER, str(path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(out.strip())
    assert sorted(outs) == ["added", "exists", "exists", "exists"]
    with open_store(path) as s:
        assert s.row_counts()["participants"] == 1


def test_a_database_failure_after_opening_is_a_store_error(alex):
    with alex._engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE progress")
    with pytest.raises(StoreError, match="cannot write to the store"):
        alex.record_checkin("alex", "2025-01-05", ratings={"proactive": 5}, progress={"g-write": 10})
    with pytest.raises(StoreError, match="cannot read the store"):
        alex.progress()
    assert alex.ratings().empty  # the failed check-in wrote none of its ratings


def test_export_refuses_an_unknown_table_before_writing(store, tmp_path):
    from mastery_analysis.store import export_tables

    with pytest.raises(StoreError, match="unknown table 'rating'"):
        export_tables(store, tmp_path / "out", tables=["goals", "rating"])
    assert not (tmp_path / "out").exists()
