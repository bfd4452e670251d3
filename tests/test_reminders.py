"""The check-in reminder as an iCalendar file: parsed back with icalendar, RFC 5545's required
properties, the repeat rule and the time zone asked for."""

import datetime as dt
import zoneinfo

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar

from mastery_analysis.cli import main
from mastery_analysis.reminders import ReminderError, parse_days, reminder_calendar

START = dt.date(2026, 3, 25)  # a Wednesday, four days before Lisbon's summer time starts


def parse(data: bytes):
    cal = Calendar.from_ical(data)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


def required_properties(cal, event):
    # RFC 5545 3.6 and 3.6.1: a calendar has PRODID and VERSION; an event UID and DTSTAMP,
    # and DTSTART when the calendar has no METHOD; a TZID used must be defined by a VTIMEZONE
    assert cal["VERSION"] == "2.0" and cal["PRODID"]
    assert "METHOD" not in cal
    for prop in ("UID", "DTSTAMP", "DTSTART"):
        assert prop in event, prop
    stamp = event["DTSTAMP"].dt
    assert stamp.tzinfo is not None and stamp.utcoffset() == dt.timedelta(0)  # DTSTAMP is UTC
    tzid = event["DTSTART"].params.get("TZID")
    zones = {str(z["TZID"]) for z in cal.walk("VTIMEZONE")}
    assert tzid in zones
    return tzid


def test_a_weekday_reminder_in_lisbon(tmp_path):
    data = reminder_calendar(at="20:00", days="mon-fri", tz="Europe/Lisbon", url="https://workshop.example.org/",
                             start=START, now=dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc))
    cal, event = parse(data)
    assert required_properties(cal, event) == "Europe/Lisbon"
    rule = event["RRULE"]
    assert rule["FREQ"] == ["WEEKLY"] and rule["BYDAY"] == ["MO", "TU", "WE", "TH", "FR"]
    begin = event["DTSTART"].dt
    assert begin.replace(tzinfo=None) == dt.datetime(2026, 3, 25, 20, 0)
    assert str(event["URL"]) == "https://workshop.example.org/"
    assert "https://workshop.example.org/" in str(event["DESCRIPTION"])
    assert event.walk("VALARM")[0]["ACTION"] == "DISPLAY"
    # the occurrences a calendar computes: weekdays only, 20:00 Lisbon time on both sides of
    # the change to summer time (29 March 2026), so 20:00 then 19:00 UTC
    lisbon = zoneinfo.ZoneInfo("Europe/Lisbon")
    rule = rrulestr(event["RRULE"].to_ical().decode(), dtstart=begin.replace(tzinfo=lisbon))
    days = list(rule[:6])
    assert [d.weekday() for d in days] == [2, 3, 4, 0, 1, 2]
    assert {(d.hour, d.minute) for d in days} == {(20, 0)}
    assert [d.astimezone(dt.timezone.utc).hour for d in days] == [20, 20, 20, 19, 19, 19]


def test_a_daily_reminder_and_the_same_settings_keep_their_uid():
    a = reminder_calendar(at="7:30", days="daily", tz="America/New_York", start=START)
    b = reminder_calendar(at="07:30", tz="America/New_York", start=START)
    cal, event = parse(a)
    assert required_properties(cal, event) == "America/New_York"
    assert event["RRULE"]["FREQ"] == ["DAILY"] and "BYDAY" not in event["RRULE"]
    assert "01_check_in.ipynb" in str(event["DESCRIPTION"]) and "URL" not in event
    assert parse(b)[1]["UID"] == event["UID"]  # importing again replaces, not duplicates
    other = parse(reminder_calendar(at="07:30", tz="Europe/Lisbon", start=START))[1]
    assert other["UID"] != event["UID"]


@pytest.mark.parametrize("text, days", [("mon-fri", (0, 1, 2, 3, 4)), ("weekends", (5, 6)),
                                        ("mon,wed,fri", (0, 2, 4)), ("fri-mon", (0, 4, 5, 6)),
                                        ("Daily", tuple(range(7)))])
def test_days(text, days):
    assert parse_days(text) == days


def test_the_command_writes_the_file(tmp_path, capsys):
    out = tmp_path / "checkin.ics"
    assert main(["reminder", "--at", "20:00", "--days", "mon-fri", "--tz", "Europe/Lisbon", "--out", str(out)]) == 0
    assert "Mon, Tue, Wed, Thu, Fri at 20:00 (Europe/Lisbon)" in capsys.readouterr().out
    cal, event = parse(out.read_bytes())
    assert required_properties(cal, event) == "Europe/Lisbon"
    # a second run never overwrites
    assert main(["reminder", "--at", "20:00", "--out", str(out)]) == 1
    assert "exists already" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--at", "25:00"], "--at '25:00': expected a time like 20:00"),
    (["--at", "20:00", "--tz", "Mars/Olympus"], "--tz 'Mars/Olympus': expected a time zone name"),
    (["--at", "20:00", "--tz", "../../etc/passwd"], "expected a time zone name"),
    (["--at", "20:00", "--days", "funday"], "--days 'funday': expected daily, weekdays"),
    (["--at", "20:00", "--url", "javascript:alert(1)"], "--url 'javascript:alert(1)': expected"),
])
def test_bad_settings_are_one_line_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "r.ics"
    assert main(["reminder", *args, "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists()
    with pytest.raises(ReminderError):
        reminder_calendar(**{a.lstrip("-"): v for a, v in zip(args[::2], args[1::2])})
