"""Access codes and the sessions bound to them, on SQLite and on PostgreSQL."""

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from mastery_analysis import access
from mastery_analysis.access import (AccessDenied, CoachSession, Identity, ParticipantSession, issue_coach_code,
                                     issue_code, revoke_codes, verify)
from mastery_analysis.errors import UnknownCohortError, ValidationError
from store_backends import backend, store, store_url  # noqa: F401

DATA = ("participants", "goals", "ratings", "actions", "progress", "responses")


@pytest.fixture
def fast_scrypt(monkeypatch):
    """A cheaper scrypt for tests about behaviour, not cost (the hash records its parameters,
    so verifying reads them from the store; one test checks the real ones)."""
    monkeypatch.setattr(access, "SCRYPT_N", 2**10)


@pytest.fixture
def cohort(store, fast_scrypt):
    store.add_cohort("spring")
    store.add_participant("alex", name="Alex", cohort="spring", joined_on="2026-01-01")
    store.add_participant("sam", name="Sam", cohort="spring", joined_on="2026-01-01", consent_share=True)
    store.write("goals", pd.DataFrame([
        {"goal_id": "g-alex", "participant_id": "alex", "title": "Write", "start_date": "2026-01-01"},
        {"goal_id": "g-sam", "participant_id": "sam", "title": "Run", "start_date": "2026-01-01"},
    ]))
    return store


def snapshot(store):
    return {t: store.history(t) for t in DATA}


def assert_unchanged(store, before):
    for table, frame in before.items():
        pd.testing.assert_frame_equal(store.history(table), frame)


def wrong(code):
    """The same selector with a different secret."""
    last = code[-1]
    return code[:-1] + ("2" if last != "2" else "3")


def test_a_code_has_a_selector_and_a_secret_of_crockford_base32(cohort):
    code = issue_code(cohort, "alex")
    selector, secret = code.split("-")
    assert len(selector) == 4 and len(secret) == 8
    assert set(selector + secret) <= set(access.ALPHABET)
    assert verify(cohort, code) == Identity("participant", "alex", None, "spring", selector)


def test_typing_is_forgiving(cohort):
    code = issue_code(cohort, "alex")
    typed = " " + code.lower().replace("-", " - ").replace("0", "o").replace("1", "l") + " "
    assert verify(cohort, typed).participant_id == "alex"
    assert verify(cohort, code.replace("-", "")).participant_id == "alex"


@pytest.mark.parametrize("typed", ["", "nonsense", "ABCD-EFGH", "ABCD-EFGHJKMNP", "UUUU-UUUUUUUU", None, 12345])
def test_malformed_codes_are_not_right(cohort, typed):
    with pytest.raises(AccessDenied, match="^That code is not right.$") as info:
        verify(cohort, typed)
    assert info.value.retry_at is None


def test_a_wrong_code_and_an_unknown_selector_get_the_same_message(cohort):
    code = issue_code(cohort, "alex")
    with pytest.raises(AccessDenied, match="^That code is not right.$"):
        verify(cohort, wrong(code))
    other = ("0000" if not code.startswith("0000") else "1111") + code[4:]
    with pytest.raises(AccessDenied, match="^That code is not right.$"):
        verify(cohort, other)


def test_the_sixth_try_is_refused_even_with_the_right_code_and_says_when(cohort):
    code = issue_code(cohort, "alex")
    now = dt.datetime(2026, 5, 4, 14, 17, tzinfo=dt.timezone.utc)
    for _ in range(access.MAX_FAILURES):
        with pytest.raises(AccessDenied, match="^That code is not right.$"):
            verify(cohort, wrong(code), now=now)
    with pytest.raises(AccessDenied, match=r"^Too many tries: try again after 14:32 UTC\.$") as info:
        verify(cohort, code, now=now + dt.timedelta(minutes=1))
    assert info.value.retry_at == now + access.LOCKOUT
    with pytest.raises(AccessDenied, match="Too many tries"):
        verify(cohort, code, now=now + dt.timedelta(minutes=14))
    # the lock-out is over after 15 minutes, and a success clears the count
    assert verify(cohort, code, now=now + dt.timedelta(minutes=16)).participant_id == "alex"
    state = access.codes(cohort, participant_id="alex").iloc[-1]
    assert state["failed_attempts"] == 0 and pd.isna(state["locked_until"])


def test_other_codes_are_not_locked_with_one(cohort):
    alex, sam = issue_code(cohort, "alex"), issue_code(cohort, "sam")
    for _ in range(access.MAX_FAILURES + 1):
        with pytest.raises(AccessDenied):
            verify(cohort, wrong(alex))
    assert verify(cohort, sam).participant_id == "sam"


def test_an_address_is_never_refused_and_a_guesser_is_slowed(cohort, monkeypatch):
    """A room behind one address: wrong codes from it slow the wrong answers, never a right code."""
    slept = []
    monkeypatch.setattr(access, "_sleep", slept.append)
    code = issue_code(cohort, "alex")
    for _ in range(50):  # 50 wrong guesses from the room's address ...
        with pytest.raises(AccessDenied, match="not right"):
            verify(cohort, "ZZZZ-ZZZZZZZZ", address="10.1.1.1")
    assert verify(cohort, code, address="10.1.1.1").participant_id == "alex"  # ... stop no right code
    assert slept == []  # and nobody waited yet
    for _ in range(access.ADDRESS_FREE_FAILURES):
        with pytest.raises(AccessDenied, match="not right"):
            verify(cohort, "ZZZZ-ZZZZZZZZ", address="10.1.1.1")
    # past the free failures each wrong answer waits a little longer, up to the maximum
    assert slept == [pytest.approx(access.address_delay(n))
                     for n in range(50, 50 + access.ADDRESS_FREE_FAILURES) if access.address_delay(n)]
    assert slept and slept[0] == pytest.approx(access.ADDRESS_DELAY_STEP) and slept == sorted(slept)
    slept.clear()
    assert verify(cohort, code, address="10.1.1.1").participant_id == "alex"  # right: at once
    assert slept == []
    assert verify(cohort, code, address="10.2.2.2").participant_id == "alex"
    # an hour later the address starts afresh
    later = dt.datetime.now(dt.timezone.utc) + access.ADDRESS_WINDOW + dt.timedelta(minutes=1)
    with pytest.raises(AccessDenied, match="not right"):
        verify(cohort, "ZZZZ-ZZZZZZZZ", address="10.1.1.1", now=later)
    assert slept == []


def test_the_address_delay_grows_then_stops():
    free, step = access.ADDRESS_FREE_FAILURES, access.ADDRESS_DELAY_STEP
    assert access.address_delay(0) == access.address_delay(free) == 0
    assert access.address_delay(free + 1) == pytest.approx(step)
    assert access.address_delay(free + 30) == pytest.approx(30 * step)
    assert access.address_delay(10**6) == access.ADDRESS_DELAY_MAX


def test_successful_logins_do_not_slow_an_address(cohort, monkeypatch):
    slept = []
    monkeypatch.setattr(access, "_sleep", slept.append)
    code = issue_code(cohort, "alex")
    for _ in range(access.ADDRESS_FREE_FAILURES + 3):
        assert verify(cohort, code, address="10.3.3.3").participant_id == "alex"
    with pytest.raises(AccessDenied):
        verify(cohort, "ZZZZ-ZZZZZZZZ", address="10.3.3.3")
    assert slept == []


def test_issuing_again_revokes_the_old_code(cohort):
    old = issue_code(cohort, "alex")
    new = issue_code(cohort, "alex")
    assert old.split("-")[0] != new.split("-")[0]
    with pytest.raises(AccessDenied, match="replaced or withdrawn"):
        verify(cohort, old)
    assert verify(cohort, new).participant_id == "alex"
    assert revoke_codes(cohort, "alex") == 1
    with pytest.raises(AccessDenied, match="replaced or withdrawn"):
        verify(cohort, new)
    assert revoke_codes(cohort, "alex") == 0


def test_a_revoked_code_ends_its_open_sessions(cohort):
    session = ParticipantSession(cohort, verify(cohort, issue_code(cohort, "alex")))
    session.check_in("2026-02-01", ratings={"proactive": 5})
    revoke_codes(cohort, "alex")
    before = snapshot(cohort)
    with pytest.raises(AccessDenied, match="replaced or withdrawn"):
        session.check_in("2026-02-02", ratings={"proactive": 6})
    assert_unchanged(cohort, before)


def test_codes_are_never_stored_in_clear(cohort, backend, store_url):
    codes = [issue_code(cohort, "alex"), issue_code(cohort, "sam"), issue_coach_code(cohort, "kim", cohort="spring")]
    for code in codes:
        verify(cohort, code, address="127.0.0.1")
    secrets = [c.split("-")[1] for c in codes]
    if backend == "sqlite":
        cohort.close()
        db = Path(sa.engine.make_url(store_url).database)
        raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))  # the WAL too
        assert raw, "no database file found"
        for secret in secrets:
            assert secret.encode() not in raw and secret.lower().encode() not in raw
        assert b"scrypt$" in raw
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        dump = "\n".join(str(tuple(row)) for name in ("access_codes", "access_attempts", "participants", "meta")
                         for row in conn.exec_driver_sql(f"SELECT * FROM {name}"))
    engine.dispose()
    for secret in secrets:
        assert secret not in dump
    assert dump.count("scrypt$") == 3


def test_the_hash_is_scrypt_with_its_parameters_and_a_salt(store, monkeypatch):
    monkeypatch.undo()
    store.add_participant("alex")
    code = issue_code(store, "alex")
    stored = access.codes(store)  # no hash in this frame ...
    assert "secret_hash" not in stored.columns
    engine = sa.create_engine(store.url)
    with engine.connect() as conn:  # ... but in the table, with its parameters and a salt
        kind, n, r, p, salt, key = conn.exec_driver_sql("SELECT secret_hash FROM access_codes").scalar().split("$")
    engine.dispose()
    assert (kind, int(n), int(r), int(p)) == ("scrypt", 2**14, 8, 1)
    assert len(bytes.fromhex(salt)) == 16 and len(bytes.fromhex(key)) == 32
    assert verify(store, code).participant_id == "alex"


def test_a_code_hashed_with_earlier_parameters_still_opens(store, monkeypatch):
    monkeypatch.undo()
    store.add_participant("alex")
    monkeypatch.setattr(access, "SCRYPT_N", 2**15)  # what codes were hashed with before
    monkeypatch.setattr(access, "SCRYPT_P", 3)
    code = issue_code(store, "alex")
    monkeypatch.undo()
    engine = sa.create_engine(store.url)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT secret_hash FROM access_codes").scalar()
    engine.dispose()
    assert stored.startswith("scrypt$32768$8$3$")
    assert verify(store, code).participant_id == "alex"
    with pytest.raises(AccessDenied):
        verify(store, code[:-1] + ("0" if code[-1] != "0" else "1"))


def test_each_code_has_its_own_salt(store, fast_scrypt):
    store.add_participant("alex")
    store.add_participant("sam")
    issue_code(store, "alex")
    issue_code(store, "sam")
    engine = sa.create_engine(store.url)
    with engine.connect() as conn:
        salts = [h.split("$")[4] for h in conn.exec_driver_sql("SELECT secret_hash FROM access_codes").scalars()]
    engine.dispose()
    assert len(set(salts)) == 2


def test_forget_removes_codes_and_attempts(cohort):
    code = issue_code(cohort, "alex")
    sams = issue_code(cohort, "sam")
    with pytest.raises(AccessDenied):
        verify(cohort, wrong(code), address="10.9.9.9")
    verify(cohort, code, address="10.9.9.9")
    verify(cohort, sams, address="10.9.9.9")
    deleted = cohort.forget("alex")
    assert deleted["access_codes"] == 1 and deleted["access_attempts"] == 2
    assert access.codes(cohort)["participant_id"].tolist() == ["sam"]
    engine = sa.create_engine(cohort.url)
    with engine.connect() as conn:
        left = conn.exec_driver_sql("SELECT participant_id, selector FROM access_attempts").all()
    engine.dispose()
    assert [tuple(r) for r in left] == [("sam", sams[:4])]
    with pytest.raises(AccessDenied, match="not right"):
        verify(cohort, code)


def test_a_session_cannot_touch_another_participants_goals_or_rows(cohort):
    session = ParticipantSession(cohort, verify(cohort, issue_code(cohort, "alex")))
    cohort.record_checkin("sam", "2026-02-01", ratings={"proactive": 3}, actions={"g-sam": 1})
    before = snapshot(cohort)
    attempts = [
        lambda: session.save_goal(title="Mine now", goal_id="g-sam"),
        lambda: session.archive_goal("g-sam"),
        lambda: session.check_in("2026-02-01", ratings={"proactive": 5}, actions={"g-sam": 3}),
        lambda: session.check_in("2026-02-01", ratings={"proactive": 5}, progress={"g-sam": 90}),
        lambda: session.save_goal(title="Made up id", goal_id="a-new-id"),
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError) as info:
            attempt()
        assert "sam" not in str(info.value).replace("g-sam", "")  # says "your own goals", names nobody
        assert "your own" in str(info.value) and "goals" in str(info.value)
    assert_unchanged(cohort, before)
    assert set(session.ratings()["participant_id"]) <= {"alex"}
    assert session.actions().empty and session.goals()["goal_id"].tolist() == ["g-alex"]


@pytest.mark.parametrize("kwargs, column", [
    ({"ratings": {"proactive": 999}}, "ratings.proactive"),   # a slider's max raised by the client
    ({"ratings": {"proactive": 0}}, "ratings.proactive"),
    ({"ratings": {"proactive": 5.5}}, "ratings.proactive"),
    ({"ratings": {"proactive": True}}, "ratings.proactive"),
    ({"ratings": {"proactive": "7"}}, "ratings.proactive"),
    ({"ratings": {"curiosity": 5}}, "ratings.element"),
    ({"ratings": {}, "vision": {"focused": 11}}, "vision.focused"),
    ({"ratings": {}, "actions": {"g-alex": -1}}, "actions.g-alex.count"),
    ({"ratings": {}, "actions": {"g-alex": {"count": 1, "minutes": 5000}}}, "actions.g-alex.minutes"),
    ({"ratings": {}, "progress": {"g-alex": 101}}, "progress.g-alex"),
    ({"ratings": {}, "progress": {"g-alex": float("nan")}}, "progress.g-alex"),
    ({"ratings": {"proactive": 5}, "note": "x" * 2001}, "note"),
    ({"ratings": {"proactive": 5}, "note": ["not", "text"]}, "note"),
    ({"ratings": [5]}, "ratings"),
    ({"ratings": {}}, None),
])
def test_every_value_is_checked_again_whatever_the_page_sent(cohort, kwargs, column):
    session = ParticipantSession(cohort, verify(cohort, issue_code(cohort, "alex")))
    before = snapshot(cohort)
    with pytest.raises(ValidationError) as info:
        session.check_in("2026-02-01", **kwargs)
    assert column in [f["column"] for f in info.value.failures]
    assert_unchanged(cohort, before)


@pytest.mark.parametrize("day", ["2999-01-01", "not a day", None])
def test_a_future_or_bad_day_is_refused(cohort, day):
    session = ParticipantSession(cohort, verify(cohort, issue_code(cohort, "alex")))
    before = snapshot(cohort)
    with pytest.raises(ValidationError, match="day"):
        session.check_in(day, ratings={"proactive": 5})
    assert_unchanged(cohort, before)


def test_a_participant_checks_in_and_manages_own_goals(cohort):
    session = ParticipantSession(cohort, verify(cohort, issue_code(cohort, "alex")))
    assert (session.participant_id, session.cohort, session.framework.name) == ("alex", "spring", "career_mastery")
    goal = session.save_goal(title="  Ship the essay ", element="focused", freq_times=3, freq_days=7,
                             due_date="2026-12-31", target="one essay")
    assert goal.startswith("alex-g")
    written = session.check_in("2026-02-01", ratings={"proactive": 6, "focused": 7}, vision={"focused": 9},
                               actions={goal: {"count": 2, "minutes": 45}, "g-alex": 1}, progress={goal: 20},
                               note="<img src=x onerror=alert(1)>")
    assert written == {"ratings": 3, "actions": 2, "progress": 1}
    r = session.ratings()
    assert set(r["source"]) == {"app"} and set(r["note"]) == {"<img src=x onerror=alert(1)>"}
    session.save_goal(title="Ship two essays", goal_id=goal, freq_times=2, freq_days=7)
    mine = session.goals().set_index("goal_id")
    assert mine.loc[goal, "title"] == "Ship two essays" and mine.loc[goal, "freq_times"] == 2
    session.archive_goal(goal)
    assert session.goals(include_archived=False)["goal_id"].tolist() == ["g-alex"]
    with pytest.raises(ValidationError, match="own active goals"):  # no actions on an archived goal
        session.check_in("2026-02-02", ratings={}, actions={goal: 1})
    assert cohort.history("goals", participant="alex")["goal_id"].tolist().count(goal) == 3


@pytest.mark.parametrize("kwargs, column", [
    ({"title": ""}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": "ok", "element": "curiosity"}, "element"),
    ({"title": "ok", "freq_times": 0}, "freq_times"),
    ({"title": "ok", "freq_times": 5, "freq_days": 3}, "freq_times"),
    ({"title": "ok", "due_date": "2000-01-01"}, "due_date"),
    ({"title": "ok", "due_date": "soon"}, "due_date"),
])
def test_bad_goals_are_refused(cohort, kwargs, column):
    session = ParticipantSession(cohort, verify(cohort, issue_code(cohort, "alex")))
    before = snapshot(cohort)
    with pytest.raises(ValidationError) as info:
        session.save_goal(**kwargs)
    assert column in [f["column"] for f in info.value.failures]
    assert_unchanged(cohort, before)


def test_the_questionnaire_is_answered_only_while_a_phase_is_open(cohort):
    session = ParticipantSession(cohort, verify(cohort, issue_code(cohort, "alex")))
    q = session.framework.questionnaire
    answers = {(q.instrument, item.id): 4 for item in q.items}
    with pytest.raises(AccessDenied, match="No questionnaire is open"):
        session.answer(answers, day="2026-02-01")
    cohort.set_open_phase("spring", "baseline")
    assert session.open_phase == "baseline"
    assert session.answer(answers, day="2026-02-01") == len(q.items)
    assert set(session.responses()["phase"]) == {"baseline"}
    before = snapshot(cohort)
    for bad in ({(q.instrument, "not-an-item"): 3}, {("other_q", q.items[0].id): 3},
                {(q.instrument, q.items[0].id): 6}, {(q.instrument, q.items[0].id): 2.5}, {}):
        with pytest.raises(ValidationError):
            session.answer(bad, day="2026-02-01")
    assert_unchanged(cohort, before)
    cohort.set_open_phase("spring", "none")
    with pytest.raises(AccessDenied):
        session.answer(answers, day="2026-02-02")


def test_consent_is_the_participants_own(cohort):
    session = ParticipantSession(cohort, verify(cohort, issue_code(cohort, "alex")))
    assert session.consent_share is False
    session.set_consent(True)
    assert session.consent_share is True
    assert bool(cohort.participants(participant="sam")["consent_share"].iloc[0]) is True
    with pytest.raises(ValidationError):
        session.set_consent("yes")


def test_roles_do_not_mix(cohort):
    coach = verify(cohort, issue_coach_code(cohort, "kim", cohort="spring"))
    assert coach == Identity("coach", None, "kim", "spring", coach.code_id)
    participant = verify(cohort, issue_code(cohort, "alex"))
    with pytest.raises(AccessDenied):
        ParticipantSession(cohort, coach)
    with pytest.raises(AccessDenied):
        CoachSession(cohort, participant)
    with pytest.raises(UnknownCohortError):
        issue_coach_code(cohort, "kim", cohort="autumn")
    with pytest.raises(ValidationError):
        issue_coach_code(cohort, "kim <script>", cohort="spring")


def test_a_new_coach_code_revokes_the_old_one_for_that_cohort(cohort):
    old = issue_coach_code(cohort, "kim", cohort="spring")
    new = issue_coach_code(cohort, "kim", cohort="spring")
    with pytest.raises(AccessDenied, match="replaced"):
        verify(cohort, old)
    assert verify(cohort, new).coach == "kim"


def test_the_coach_sees_participation_by_name_and_rows_only_of_consenting_people(cohort):
    cohort.add_cohort("autumn")
    cohort.add_participant("kit", name="Kit", cohort="autumn", consent_share=True)
    cohort.record_checkin("kit", "2026-02-03", ratings={"proactive": 2})
    cohort.record_checkin("alex", "2026-02-03", ratings={"proactive": 5}, note="private")
    cohort.record_checkin("alex", "2026-01-20", ratings={"proactive": 4})
    cohort.record_checkin("sam", "2026-02-01", ratings={"proactive": 7}, actions={"g-sam": 1})
    cohort.record_checkin("sam", "2026-02-02", ratings={}, progress={"g-sam": 10})
    coach = CoachSession(cohort, verify(cohort, issue_coach_code(cohort, "kim", cohort="spring")))
    seen = coach.participation(week_ending="2026-02-03")
    assert seen.columns.tolist() == ["participant_id", "name", "last_check_in", "days_this_week",
                                     "checked_in_this_week"]
    assert seen.to_dict("list") == {
        "participant_id": ["alex", "sam"], "name": ["Alex", "Sam"],
        "last_check_in": [pd.Timestamp("2026-02-03"), pd.Timestamp("2026-02-02")],
        "days_this_week": [1, 2], "checked_in_this_week": [True, True]}
    later = coach.participation(week_ending="2026-02-20")
    assert later["days_this_week"].tolist() == [0, 0] and not later["checked_in_this_week"].any()
    frames = coach.cohort_frames()
    assert frames["participants"]["participant_id"].tolist() == ["alex", "sam"]
    for table in ("ratings", "actions", "progress", "goals"):
        assert set(frames[table]["participant_id"]) == {"sam"}, table
    assert "private" not in frames["ratings"]["note"].tolist()


def test_cohort_change_counts_everyone_but_shows_no_small_group(cohort):
    cohort.set_open_phase("spring", "baseline")
    q = cohort.framework.questionnaire
    for who in ("alex", "sam"):
        s = ParticipantSession(cohort, verify(cohort, issue_code(cohort, who)))
        s.answer({(q.instrument, i.id): 3 for i in q.items}, day="2026-01-05")
    coach = CoachSession(cohort, verify(cohort, issue_coach_code(cohort, "kim", cohort="spring")))
    change = coach.cohort_change(pre="baseline", post="post")
    assert set(change["element"]) <= set(cohort.framework.keys)
    assert (change["n"] < 5).all()
    numeric = change.drop(columns=["n"]).select_dtypes("number")
    assert numeric.isna().all().all()  # two people: nothing to show but the count
