"""The store's contacts (e-mail, opt-out) and messages record, on SQLite and PostgreSQL."""

import datetime as dt
import threading

import pandas as pd
import pytest
import sqlalchemy as sa
from store_backends import backend, store, store_url  # noqa: F401  (every test runs on both backends)

from mastery_analysis.errors import AddressError, UnknownParticipantError
from mastery_analysis.store import SCHEMA_VERSION, open_store

DAY = dt.date(2026, 3, 20)


@pytest.fixture
def people(store):  # noqa: F811
    store.add_cohort("spring")
    store.add_participant("ann", name="Ann", cohort="spring", email="ann@example.org")
    store.add_participant("bob", name="Bob", cohort="spring")
    return store


def test_addresses_are_set_changed_removed_and_checked(people):
    s = people
    assert s.contacts()[["participant_id", "email", "opted_out"]].values.tolist() == [["ann", "ann@example.org", False]]
    s.set_email("bob", " bob@example.org ")
    s.set_email("ann", "ann.new@example.org")
    book = s.contacts(cohort="spring").set_index("participant_id")
    assert book["email"].to_dict() == {"ann": "ann.new@example.org", "bob": "bob@example.org"}
    with pytest.raises(AddressError, match="'bob@' is not an e-mail address"):
        s.set_email("bob", "bob@")
    with pytest.raises(UnknownParticipantError):
        s.set_email("nobody", "n@example.org")
    s.set_email("bob", None)
    assert pd.isna(s.contacts(participant="bob")["email"].iloc[0])
    # the address is state, not a fact: no version of it is kept anywhere
    assert "email" not in s.history("participants").columns


def test_claims_stop_a_second_message_the_same_day_and_any_after_an_opt_out(people):
    s = people
    first = s.claim_message("ann", kind="nudge", day=DAY, cohort="spring")
    assert first is not None
    assert s.claim_message("ann", kind="nudge", day=DAY, cohort="spring") is None  # being sent
    s.finish_message(first, "refused", "550 no such mailbox")
    retry = s.claim_message("ann", kind="nudge", day=DAY, cohort="spring")  # a refusal may be retried
    s.finish_message(retry, "sent")
    assert s.claim_message("ann", kind="nudge", day=DAY, cohort="spring") is None
    assert s.claim_message("ann", kind="invite", day=DAY, cohort="spring") is not None  # another kind
    assert s.claim_message("ann", kind="nudge", day=DAY + dt.timedelta(days=1), cohort="spring") is not None
    s.set_opt_out("ann", True)
    assert s.claim_message("ann", kind="invite", day=DAY, cohort="spring", again=True) is None
    log = s.messages(participant="ann")
    assert log["outcome"].tolist() == ["refused", "sent", "sending", "sending"]
    assert log["detail"].iloc[0] == "550 no such mailbox"
    assert list(log.columns) == ["message_id", "participant_id", "cohort", "kind", "day", "at", "outcome", "detail"]


def test_concurrent_claims_let_one_through(people, backend):  # noqa: F811
    s = people
    got, errors = [], []

    def claim():
        try:
            with open_store(s.url) as mine:
                got.append(mine.claim_message("bob", kind="nudge", day=DAY, cohort="spring"))
        except Exception as exc:  # pragma: no cover - shown by the assertion
            errors.append(exc)

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sum(g is not None for g in got) == 1


def test_forget_deletes_the_address_the_opt_out_and_the_messages(people):
    s = people
    s.set_opt_out("ann", True)
    s.finish_message(s.claim_message("bob", kind="nudge", day=DAY, cohort="spring"), "sent")
    deleted = s.forget("bob")
    assert deleted["messages"] == 1 and deleted["contacts"] == 0
    deleted = s.forget("ann")
    assert deleted["contacts"] == 1
    assert s.contacts().empty and s.messages().empty


def test_a_version_2_store_is_upgraded(store_url):  # noqa: F811
    s = open_store(store_url)
    s.add_cohort("spring")
    s.add_participant("ann", cohort="spring")
    s.close()
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:  # as a store of schema version 2 was: without the new tables
        conn.execute(sa.text("DROP TABLE messages"))
        conn.execute(sa.text("DROP TABLE contacts"))
        conn.execute(sa.text("UPDATE meta SET value = '2' WHERE key = 'schema_version'"))
    engine.dispose()
    with open_store(store_url) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.contacts().empty and s.messages().empty
        s.set_email("ann", "ann@example.org")
        assert s.participants()["participant_id"].tolist() == ["ann"]
