"""A check-in reminder in the person's own calendar: one repeating event as an iCalendar file.

:func:`reminder_calendar` builds it with the ``icalendar`` library: one ``VEVENT`` at the
chosen time in the person's time zone (``DTSTART;TZID=...`` with the zone's ``VTIMEZONE``),
a real ``RRULE`` (``FREQ=DAILY``, or ``FREQ=WEEKLY;BYDAY=...`` for chosen weekdays), an
alarm at the start, and the page or notebook to open. ``UID`` is derived from the settings,
so importing a changed file again replaces the event instead of adding a second one.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zoneinfo
from pathlib import Path

from icalendar import Alarm, Calendar, Event, vRecur

from .errors import MasteryError
from .schema import as_day

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ICAL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = {"mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
              "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
              "sat": 5, "saturday": 5, "sun": 6, "sunday": 6}
_NAMED_SETS = {"daily": tuple(range(7)), "every": tuple(range(7)), "all": tuple(range(7)),
               "weekdays": tuple(range(5)), "weekends": (5, 6)}
CHECKIN_NOTEBOOK = "01_check_in.ipynb"
DURATION = dt.timedelta(minutes=10)
PRODID = "-//Mastery notebooks//check-in reminder//EN"
_UID_NAMESPACE = uuid.UUID("6d617374-6572-7921-8000-636865636b69")


class ReminderError(MasteryError):
    """A reminder setting that cannot be read (time, days, time zone or link)."""


def parse_time(value) -> dt.time:
    """``20:00``, ``7:30`` or ``07:30:00`` (24-hour clock) as a time."""
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None, microsecond=0)
    match = re.fullmatch(r"\s*([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?\s*", str(value))
    if not match:
        raise ReminderError(f"--at {str(value)[:40]!r}: expected a time like 20:00 (24-hour clock)")
    return dt.time(int(match[1]), int(match[2]), int(match[3] or 0))


def parse_days(value) -> tuple[int, ...]:
    """Weekdays (0 = Monday) from ``daily``, ``weekdays``, ``weekends``, ``mon-fri``,
    ``mon,wed,fri`` or ``sat-sun``; ranges may wrap (``fri-mon``)."""
    text = str(value or "daily").strip().lower()
    if text in _NAMED_SETS:
        return _NAMED_SETS[text]
    chosen: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        ends = [e.strip() for e in part.split("-")]
        if len(ends) > 2 or any(e not in _DAY_NAMES for e in ends):
            raise ReminderError(f"--days {str(value)[:40]!r}: expected daily, weekdays, weekends, a range "
                                "like mon-fri or a list like mon,wed,fri")
        first, last = _DAY_NAMES[ends[0]], _DAY_NAMES[ends[-1]]
        day = first
        while True:
            chosen.add(day)
            if day == last:
                break
            day = (day + 1) % 7
    if not chosen:
        raise ReminderError(f"--days {str(value)[:40]!r}: no day chosen")
    return tuple(sorted(chosen))


def parse_zone(value) -> zoneinfo.ZoneInfo:
    """An IANA time zone (``Europe/Lisbon``, ``America/New_York``, ``UTC``)."""
    try:
        if not isinstance(value, str) or not value or value.startswith(("/", ".")) or ".." in value:
            raise ValueError(value)
        return zoneinfo.ZoneInfo(value)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError, OSError):
        raise ReminderError(f"--tz {str(value)[:60]!r}: expected a time zone name like Europe/Lisbon "
                            "or America/New_York") from None


def local_zone_name() -> str:
    """This machine's time zone name when it can be found (``/etc/localtime``), else UTC."""
    try:
        target = Path("/etc/localtime").resolve()
        parts = target.parts
        if "zoneinfo" in parts:
            name = "/".join(parts[parts.index("zoneinfo") + 1:])
            zoneinfo.ZoneInfo(name)
            return name
    except (OSError, ValueError, zoneinfo.ZoneInfoNotFoundError):
        pass
    return "UTC"


def reminder_calendar(*, at, days="daily", tz: str = "UTC", url: str | None = None,
                      start=None, now: dt.datetime | None = None,
                      summary: str = "Mastery check-in") -> bytes:
    """An iCalendar file (bytes) with one repeating check-in event.

    Parameters
    ----------
    at : str or datetime.time
        The time of day, ``20:00``.
    days : str
        ``daily`` (``FREQ=DAILY``), or weekdays for ``FREQ=WEEKLY;BYDAY=...``:
        ``mon-fri``, ``weekdays``, ``mon,wed,fri``...
    tz : str
        The person's time zone (IANA name); the event keeps this wall-clock time across
        daylight-saving changes.
    url : str, optional
        The check-in page (http or https): the event's ``URL`` and in its description.
        Without it the description points to the check-in notebook.
    start : date-like, optional
        The first day on or after which the event starts (default: today in ``tz``).
    now : datetime, optional
        The ``DTSTAMP`` (default: now, UTC).
    summary : str

    Returns
    -------
    bytes
        The ``.ics`` file: ``VCALENDAR`` with ``PRODID``, ``VERSION``, the ``VTIMEZONE`` of
        ``tz`` and one ``VEVENT`` with ``UID``, ``DTSTAMP``, ``DTSTART;TZID``, ``DURATION``,
        ``RRULE``, ``SUMMARY``, ``DESCRIPTION`` (and ``URL``) and a display ``VALARM``.
    """
    time = parse_time(at)
    weekdays = parse_days(days)
    zone = parse_zone(tz)
    if url is not None:
        url = str(url).strip()
        if not re.fullmatch(r"https?://[^\s?#]+", url):
            raise ReminderError(f"--url {url[:80]!r}: expected the check-in page's address, like "
                                "https://workshop.example.org/ (no ?query, no #part)")
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(microsecond=0)
    first = as_day(start, what="start") if start is not None else now.astimezone(zone).date()
    while first.weekday() not in weekdays:
        first += dt.timedelta(days=1)
    begin = dt.datetime.combine(first, time, tzinfo=zone)
    if len(weekdays) == 7:
        rule = vRecur(freq="DAILY")
        every = "every day"
    else:
        rule = vRecur(freq="WEEKLY", byday=[_ICAL_DAYS[d] for d in weekdays])
        every = "on " + ", ".join(DAY_KEYS[d].capitalize() for d in weekdays)
    where = (f"Open your check-in page: {url}" if url else
             f"Open the check-in notebook ({CHECKIN_NOTEBOOK}) in JupyterLab: run `mastery lab`.")
    description = (f"Two minutes for your daily check-in: rate the five elements, note one "
                   f"action toward a goal. {where}")
    identity = f"{time.isoformat()}|{','.join(map(str, weekdays))}|{zone.key}|{url or ''}|{summary}"
    event = Event()
    event.add("uid", f"{uuid.uuid5(_UID_NAMESPACE, identity)}@mastery-notebooks")
    event.add("dtstamp", now)
    event.add("dtstart", begin)
    event.add("duration", DURATION)
    event.add("rrule", rule)
    event.add("summary", summary)
    event.add("description", description)
    if url:
        event.add("url", url)
    event.add("transp", "TRANSPARENT")  # a reminder, not a busy slot
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("trigger", dt.timedelta(0))
    alarm.add("description", summary)
    event.add_component(alarm)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", summary)
    cal.add_component(event)
    # the zone's rules from a year before the first day (older ones only make the file longer)
    cal.add_missing_timezones(first_date=dt.date(first.year - 1, 1, 1))
    return cal.to_ical()


def describe_reminder(*, at, days="daily", tz: str = "UTC") -> str:
    """The reminder in words: ``every day at 20:00 (Europe/Lisbon)``."""
    time, weekdays, zone = parse_time(at), parse_days(days), parse_zone(tz)
    when = "every day" if len(weekdays) == 7 else "on " + ", ".join(DAY_KEYS[d].capitalize() for d in weekdays)
    return f"{when} at {time:%H:%M} ({zone.key})"


def write_reminder(path, **options) -> Path:
    """Write :func:`reminder_calendar` to ``path`` (a new file; ``.ics`` added if missing)."""
    target = Path(path)
    if target.suffix.lower() != ".ics":
        target = target.with_name(target.name + ".ics")
    data = reminder_calendar(**options)
    try:
        with open(target, "xb") as handle:
            handle.write(data)
    except FileExistsError:
        raise ReminderError(f"{target} exists already; name a new file") from None
    except OSError as exc:
        raise ReminderError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
