"""The served pages' pieces for e-mail and reminders, one widget group each.

- :class:`ReminderSettings` (the participant's *Reminders* tab): their own e-mail address,
  "no e-mail from my coach", and a calendar file that reminds them to check in.
- :class:`NudgePanel` (the coach's *Reminders* tab): who a reminder would reach now, then
  send it (:func:`mastery_analysis.messaging.nudge`), through the mail server configured in
  the server's environment (``$MASTERY_SMTP``, ``$MASTERY_SMTP_PASSWORD``,
  ``$MASTERY_MAIL_FROM``, ``$MASTERY_PAGE_URL``; see docs/workshop.md).

Whose settings and which cohort come from the session bound at sign-in, never from a widget;
every typed value is checked again in Python (a browser can set any widget's value).
"""

from __future__ import annotations

import base64
import html
import os
import zoneinfo

import ipywidgets as W
import pandas as pd

from .. import messaging, reminders
from ..errors import MasteryError
from .forms import FORM_MAX_WIDTH, _say, guarded

__all__ = ["ReminderSettings", "NudgePanel", "calendar_link"]

DAY_CHOICES = (("Every day", "daily"), ("Monday to Friday", "mon-fri"), ("Weekends", "weekends"))
MAX_QUIET_DAYS = 60


def _heading(text: str) -> W.HTML:
    return W.HTML(f"<h3 style='margin:8px 0 4px 0'>{html.escape(text)}</h3>")


def _note(text: str) -> W.HTML:
    return W.HTML(f"<p style='font-size:13px;max-width:700px'>{html.escape(text)}</p>")


def calendar_link(data: bytes, filename: str = "mastery-check-in.ics",
                  label: str = "Download the calendar file") -> str:
    """An ``<a download>`` of an ``.ics`` file carried in the page (a ``data:`` URL)."""
    href = f"data:text/calendar;charset=utf-8;base64,{base64.b64encode(data).decode('ascii')}"
    return (f'<a class="mastery-ics-download" download="{html.escape(filename)}" href="{href}">'
            f"{html.escape(label)}</a>")


class ReminderSettings:
    """A participant's e-mail address, opt-out and calendar reminder.

    Parameters
    ----------
    session : ParticipantSession
        Whose settings these are (bound at sign-in).
    page_url : str, optional
        The check-in page's address for the calendar event (default: ``$MASTERY_PAGE_URL``).

    Attributes
    ----------
    email : ipywidgets.Text
    opt_out : ipywidgets.Checkbox
    save : ipywidgets.Button
    at, days, tz : ipywidgets widgets of the calendar reminder
    make : ipywidgets.Button
    link : ipywidgets.HTML
        The download link once made.
    widget : ipywidgets.VBox
    """

    def __init__(self, session, *, page_url: str | None = None):
        self._session = session
        url = page_url if page_url is not None else os.environ.get(messaging.PAGE_URL_ENV) or None
        self._url = url if url and url.startswith(("http://", "https://")) else None
        mine = session.contact()
        self.email = W.Text(value=mine["email"] or "", description="My e-mail",
                            placeholder="name@example.org", style={"description_width": "initial"},
                            layout=W.Layout(width="340px"))
        self.email.add_class("mastery-email")
        self.opt_out = W.Checkbox(value=mine["opted_out"], indent=False,
                                  description="No e-mail from my coach (no invitations, no reminders)",
                                  layout=W.Layout(width="auto"))
        self.opt_out.add_class("mastery-opt-out")
        self.save = W.Button(description="Save my e-mail settings", button_style="primary",
                             layout=W.Layout(width="auto"))
        self.save.add_class("mastery-email-save")
        self.status = W.HTML()
        self.save.on_click(guarded(lambda _b: self.keep(), self.status))

        self.at = W.Text(value="20:00", description="At", style={"description_width": "initial"},
                         layout=W.Layout(width="140px"))
        self.days = W.Dropdown(options=DAY_CHOICES, value="daily", description="On",
                               style={"description_width": "initial"}, layout=W.Layout(width="240px"))
        self.tz = W.Combobox(value="UTC", options=sorted(zoneinfo.available_timezones()), ensure_option=False,
                             description="My time zone", placeholder="Europe/Lisbon",
                             style={"description_width": "initial"}, layout=W.Layout(width="320px"))
        self.make = W.Button(description="Make my calendar reminder", layout=W.Layout(width="auto"))
        self.make.add_class("mastery-ics-button")
        self.link = W.HTML()
        self.link.add_class("mastery-ics-link")
        self.ics_status = W.HTML()
        self.make.on_click(guarded(lambda _b: self.calendar(), self.ics_status))
        self.widget = W.VBox([
            _heading("E-mail from my coach"),
            _note("Your coach may send you your code and, when you have not checked in for a few "
                  "days, a short reminder. Your address is used for that alone: it never appears "
                  "in the cohort views or reports."),
            self.email, self.opt_out, self.save, self.status,
            _heading("A reminder in my calendar"),
            _note("A repeating event in your own calendar app (Google, Outlook, Apple, "
                  "Thunderbird) at the time you choose, that opens this page."),
            W.HBox([self.at, self.days]), self.tz, self.make, self.ics_status, self.link,
        ], layout=W.Layout(max_width=FORM_MAX_WIDTH))

    def keep(self) -> None:
        """Save the typed address (blank removes it) and the opt-out, as this person's own."""
        typed = self.email.value if isinstance(self.email.value, str) else ""
        choice = self.opt_out.value is True
        self._session.set_email(typed.strip()[:300] or None)
        self._session.set_opt_out(choice)
        _say(self.status, "Saved: " + ("your coach will not e-mail you." if choice else
                                       "your coach may e-mail you your code and reminders."), "ok")

    def calendar(self) -> bytes:
        """Build the ``.ics`` file from the chosen time, days and zone, and offer it."""
        self.link.value = ""
        days = self.days.value if self.days.value in {v for _, v in DAY_CHOICES} else "daily"
        zone = self.tz.value if isinstance(self.tz.value, str) else ""
        data = reminders.reminder_calendar(at=str(self.at.value)[:10], days=days, tz=zone.strip()[:60],
                                           url=self._url)
        self.link.value = calendar_link(data)
        _say(self.ics_status, "Your reminder is ready " + reminders.describe_reminder(
            at=str(self.at.value)[:10], days=days, tz=zone.strip()[:60])
            + ": download it and open it with your calendar.", "ok")
        return data


class NudgePanel:
    """The coach's reminders: a preview of who would get one, then send.

    Parameters
    ----------
    session : CoachSession
        The cohort (bound at sign-in).
    store : Store
    today : date
    environ : mapping, optional
        Where the mail settings are read (default: ``os.environ``).

    Attributes
    ----------
    quiet_days : ipywidgets.BoundedIntText
    preview_button, send_button : ipywidgets.Button
    preview : ipywidgets.VBox
        The table of who would get a reminder (names and days, no addresses).
    status : ipywidgets.HTML
    widget : ipywidgets.VBox
    """

    def __init__(self, session, store, *, today, environ=None):
        self._session, self._store, self._today = session, store, today
        self._environ = os.environ if environ is None else environ
        self.quiet_days = W.BoundedIntText(value=messaging.QUIET_DAYS, min=1, max=MAX_QUIET_DAYS,
                                           description="Quiet for at least (days)",
                                           style={"description_width": "initial"}, layout=W.Layout(width="260px"))
        self.preview_button = W.Button(description="Who would get a reminder?", layout=W.Layout(width="auto"))
        self.preview_button.add_class("mastery-nudge-preview")
        self.send_button = W.Button(description="Send the reminders", button_style="primary",
                                    disabled=True, layout=W.Layout(width="auto"))
        self.send_button.add_class("mastery-nudge-send")
        self.preview = W.VBox()
        self.status = W.HTML()
        self.preview_button.on_click(guarded(lambda _b: self.show_preview(), self.status))
        self.send_button.on_click(guarded(lambda _b: self.send(), self.status))
        self.widget = W.VBox([
            _heading("Reminders by e-mail"),
            _note("A short, friendly e-mail to each participant who has not checked in for some "
                  "days, has an address and has not asked for no e-mail. Nobody gets two on the same "
                  "day."),
            W.HBox([self.quiet_days, self.preview_button]), self.preview, self.send_button, self.status,
        ], layout=W.Layout(max_width=FORM_MAX_WIDTH))

    def _days(self) -> int:
        value = self.quiet_days.value
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_QUIET_DAYS:
            raise MasteryError(f"Quiet days: a whole number from 1 to {MAX_QUIET_DAYS}.")
        return value

    def plan(self) -> pd.DataFrame:
        """:func:`messaging.nudge_plan` for the session's cohort (the code is checked first)."""
        participation = self._session.participation(week_ending=self._today)
        return messaging.nudge_preview(self._store, cohort=self._session.cohort, quiet_days=self._days(),
                                       today=self._today, participation=participation)

    def show_preview(self) -> pd.DataFrame:
        from .app import _table

        plan = self.plan()
        chosen = plan.loc[plan["will_get"]]
        shown = pd.DataFrame({
            "Name": chosen["name"].fillna(chosen["participant_id"]),
            "Last check-in": chosen["last_check_in"].dt.strftime("%a %d %b").fillna("never"),
            "Days quiet": chosen["days_quiet"].astype(str)})
        left = plan.loc[plan["quiet"] & ~plan["will_get"], "reason"].value_counts()
        parts = [W.Label(f"{len(chosen)} of {len(plan)} participants would get a reminder now.")]
        if len(chosen):
            parts.append(_table(shown, "mastery-nudge-table"))
        if len(left):
            parts.append(W.Label("Quiet but not e-mailed: " + ", ".join(f"{n} {r}" for r, n in left.items()) + "."))
        self.preview.children = parts
        self.send_button.disabled = not len(chosen)
        _say(self.status, None)
        return plan

    def send(self) -> pd.DataFrame:
        """Send to those the rules choose now (the preview is recomputed, never trusted)."""
        env = self._environ
        if not env.get(messaging.SMTP_ENV):
            raise MasteryError("Sending needs the mail server: start `mastery serve` with $MASTERY_SMTP, "
                               "$MASTERY_MAIL_FROM (and $MASTERY_SMTP_PASSWORD for a login) set, or use "
                               "`mastery nudge` on the command line.")
        server, sender = messaging.mail_settings(coach_name=env.get(messaging.COACH_NAME_ENV) or self._session.coach,
                                                 environ=env)
        participation = self._session.participation(week_ending=self._today)
        self.send_button.disabled = True
        result = messaging.nudge(self._store, cohort=self._session.cohort, outbox=messaging.SmtpOutbox(server),
                                 sender=sender, quiet_days=self._days(), today=self._today,
                                 participation=participation)
        lines = messaging.describe(result, kind="nudge", cohort=self._session.cohort)
        refused = (result["outcome"] == "refused").any()
        self.show_preview()
        _say(self.status, " ".join(lines), "error" if refused else "ok")
        return result


def last_nudged_column(store, cohort: str, participant_ids: pd.Series) -> pd.Series:
    """'Last nudged' for the coach's table: the day of the latest reminder sent, or 'never'."""
    last = messaging.last_nudged(store.messages(cohort=cohort, kind="nudge"))
    when = participant_ids.map(last.set_index("participant_id")["last_nudged"]) if len(last) else \
        pd.Series(pd.NaT, index=participant_ids.index)
    return pd.to_datetime(when, utc=True).dt.strftime("%a %d %b").fillna("never")
