"""The served pages' e-mail and reminder pieces, driven as a browser (or a crafted client) would:
set widget values, click, and read the store and the SMTP server on loopback."""

import base64
import datetime as dt
import re

import ipywidgets as W
import pandas as pd
import pytest
from icalendar import Calendar
from smtp_support import start_smtp

from mastery_analysis import access, messaging
from mastery_analysis.widgets.app import CoachPage, ParticipantPage

TODAY = dt.date.today()
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(autouse=True)
def fast_codes(monkeypatch):
    monkeypatch.setattr(access, "SCRYPT_N", 2**10)
    for name in (messaging.PASSWORD_ENV, messaging.SMTP_ENV, messaging.PAGE_URL_ENV, messaging.FROM_ENV,
                 messaging.COACH_NAME_ENV, messaging.REPLY_TO_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def workshop(store):
    store.add_cohort("spring")
    joined = TODAY - dt.timedelta(days=20)
    store.add_participant("ann", name="Ann", cohort="spring", email="ann@example.org", joined_on=joined)
    store.add_participant("bob", name=XSS, cohort="spring", email="bob@example.org", joined_on=joined)
    store.add_participant("cy", name="Cy", cohort="spring", email="cy@example.org", joined_on=joined)
    store.record_checkin("cy", TODAY, ratings={"proactive": 5})
    codes = {p: access.issue_code(store, p) for p in ("ann", "bob", "cy")}
    codes["coach"] = access.issue_coach_code(store, "Casey", cohort="spring")
    return store, codes


def sign_in(page, code):
    page.signin.code.value = code
    page.signin.button.click()
    assert page.session is not None, page.signin.message.value
    return page


def test_a_participant_sets_their_address_and_opts_out_for_themselves_only(workshop):
    store, codes = workshop
    page = sign_in(ParticipantPage(store, address="10.0.0.1", today=TODAY), codes["ann"])
    mail = page.reminders
    assert page.tabs.children[page.TITLES.index("Reminders")].children == (mail.widget,)
    assert mail.email.value == "ann@example.org" and mail.opt_out.value is False
    mail.email.value = "ann.new@example.org"
    mail.opt_out.value = True
    mail.save.click()
    assert "will not e-mail you" in mail.status.value
    book = store.contacts().set_index("participant_id")
    assert book.loc["ann", "email"] == "ann.new@example.org" and book.loc["ann", "opted_out"]
    assert book.loc["bob", "email"] == "bob@example.org" and not book.loc["bob", "opted_out"]
    # a bad address is refused in words and changes nothing
    mail.email.value = "ann at example"
    mail.save.click()
    assert "is not an e-mail address" in mail.status.value
    assert store.contacts(participant="ann")["email"].iloc[0] == "ann.new@example.org"
    # an opted-out person is never mailed, whatever the coach asks
    assert store.claim_message("ann", kind="nudge", day=TODAY, cohort="spring") is None


def test_the_participant_page_offers_the_calendar_file(workshop, monkeypatch):
    store, codes = workshop
    monkeypatch.setenv(messaging.PAGE_URL_ENV, "https://workshop.example.org/")
    page = sign_in(ParticipantPage(store, address="10.0.0.1", today=TODAY), codes["bob"])
    mail = page.reminders
    mail.at.value, mail.days.value, mail.tz.value = "07:45", "mon-fri", "Europe/Lisbon"
    mail.make.click()
    match = re.search(r'download="mastery-check-in.ics" href="data:text/calendar;charset=utf-8;base64,([^"]+)"',
                      mail.link.value)
    assert match, mail.ics_status.value
    cal = Calendar.from_ical(base64.b64decode(match.group(1)))
    event = cal.walk("VEVENT")[0]
    assert event["DTSTART"].params["TZID"] == "Europe/Lisbon" and event["DTSTART"].dt.hour == 7
    assert event["RRULE"]["BYDAY"] == ["MO", "TU", "WE", "TH", "FR"]
    assert str(event["URL"]) == "https://workshop.example.org/"
    mail.tz.value = "Nowhere/Special"
    mail.make.click()
    assert "expected a time zone name" in mail.ics_status.value and mail.link.value == ""


def test_the_coach_previews_then_sends_and_sees_when_each_was_last_nudged(workshop, tmp_path, monkeypatch):
    store, codes = workshop
    smtp = start_smtp(tmp_path)
    try:
        monkeypatch.setenv(messaging.SMTP_ENV, smtp.url())
        monkeypatch.setenv(messaging.FROM_ENV, "casey@example.org")
        page = sign_in(CoachPage(store, address="10.0.0.2", today=TODAY), codes["coach"])
        panel = page.nudges
        assert panel.send_button.disabled  # no preview yet
        panel.quiet_days.value = 3
        panel.preview_button.click()
        table = panel.preview.children[1].value
        assert "Ann" in table and "&lt;img src=x onerror=alert(1)&gt;" in table and XSS not in table
        assert "Cy" not in table and "example.org" not in table  # names, never addresses
        assert not panel.send_button.disabled
        panel.send_button.click()
        assert "sent 2 reminders" in panel.status.value, panel.status.value
        assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["ann@example.org", "bob@example.org"]
        got = {r.rcpt_tos[0]: r for r in smtp.received}
        assert got["ann@example.org"].message["From"].addresses[0].display_name == "Casey"
        # a second click the same day sends nothing new
        panel.send_button.disabled = False  # as a crafted client could
        panel.send_button.click()
        assert len(smtp.received) == 2
        page.refresh_participation()
        table = page.participation.value
        rows = re.findall(r"<tr>(.*?)</tr>", table)
        assert "Last nudged" in rows[0]
        ann = next(r for r in rows if ">Ann<" in r)
        cy = next(r for r in rows if ">Cy<" in r)
        assert f"{TODAY:%a %d %b}" in ann and ">never<" in cy
    finally:
        smtp.stop()


def test_sending_from_the_page_without_a_mail_server_says_how(workshop):
    store, codes = workshop
    page = sign_in(CoachPage(store, address="10.0.0.2", today=TODAY), codes["coach"])
    page.nudges.preview_button.click()
    page.nudges.send_button.click()
    assert "Sending needs the mail server" in page.nudges.status.value
    assert store.messages().empty


def test_a_revoked_coach_code_cannot_preview_or_send(workshop, tmp_path, monkeypatch):
    store, codes = workshop
    monkeypatch.setenv(messaging.SMTP_ENV, "smtp://127.0.0.1:1")
    monkeypatch.setenv(messaging.FROM_ENV, "casey@example.org")
    page = sign_in(CoachPage(store, address="10.0.0.2", today=TODAY), codes["coach"])
    access.revoke_coach_codes(store, "Casey", cohort="spring")
    page.nudges.preview_button.click()
    assert "replaced or withdrawn" in page.nudges.status.value
    page.nudges.send_button.disabled = False
    page.nudges.send_button.click()
    assert "replaced or withdrawn" in page.nudges.status.value
    assert store.messages().empty
    assert isinstance(page.nudges.preview, W.VBox) and page.nudges.preview.children == ()


def test_a_crafted_quiet_days_value_is_refused(workshop):
    store, codes = workshop
    page = sign_in(CoachPage(store, address="10.0.0.2", today=TODAY), codes["coach"])
    page.nudges.quiet_days.value = 0  # clamped by the widget to its minimum
    assert page.nudges.quiet_days.value == 1
    plan = page.nudges.show_preview()
    assert set(plan.loc[plan["will_get"], "participant_id"]) == {"ann", "bob"}
    assert isinstance(plan, pd.DataFrame)
