"""The pages ``mastery serve`` shows: the participant's page and the coach's page.

Each page starts as one field: the person types their access code (codes are never read
from a link). :func:`mastery_analysis.access.verify` checks it, with its lock-out and
per-address budget, and the page builds a :class:`~mastery_analysis.access.ParticipantSession`
or :class:`~mastery_analysis.access.CoachSession` from the identity it returns. That session
lives in a Python attribute of the page, never in a widget: a browser (or a script talking
to the kernel's websocket) can set any widget trait and click any button, so

- whose rows a page reads and writes is the session's, fixed at sign-in;
- every save goes through the session, which checks every value again;
- after sign-in the code field is gone and a second sign-in is ignored;
- text people typed (names, notes, goal titles) is shown only through ``W.Label``, as the
  value of an input, or escaped with :func:`html.escape`;
- callbacks never raise: errors are logged on the server's standard error and the page
  says only what a refusal says (see :func:`mastery_analysis.widgets.forms.refusal_text`).

:func:`participant_page` and :func:`coach_page` are what the app notebooks call; they also
harden the kernel they run in (:func:`harden_kernel`).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import logging
import sys
import tempfile
import zipfile
from pathlib import Path

import ipywidgets as W
import pandas as pd

from ..access import AccessDenied, CoachSession, ParticipantSession, verify
from ..schema import as_day
from .forms import (FORM_MAX_WIDTH, AssessmentForm, CheckInForm, GoalForm, _on_enter, _say,
                    current_streak, guarded, server_log)
from .mail import NudgePanel, ReminderSettings, last_nudged_column

__all__ = ["ParticipantPage", "CoachPage", "participant_page", "coach_page", "harden_kernel",
           "download_link", "MAX_DOWNLOAD_BYTES"]

#: The largest file a page offers as a download (it travels inside one widget message).
MAX_DOWNLOAD_BYTES = 60 * 1024 * 1024
RECENT_NOTES = 5

#: How a page runs work that takes seconds (report renders, the coach's cohort views):
#: ``run_slow(fn, *args)`` with ``fn`` a module-level function of plain arguments. None runs
#: it here; ``mastery serve`` runs it in a worker process, so that one page's slow work
#: never stalls the other sessions of the server.
run_slow = None


def _slow(fn, *args):
    return fn(*args) if run_slow is None else run_slow(fn, *args)


def personal_report_bytes(store_url: str, participant: str) -> bytes:
    """One participant's personal report as HTML bytes (run by :func:`_slow`)."""
    from .. import reports

    with tempfile.TemporaryDirectory(prefix="mastery-report-") as folder:
        path = reports.render_report("personal", out=Path(folder) / "report.html", store=store_url,
                                     participant=participant)
        return path.read_bytes()


def cohort_reports_zip(store_url: str, cohort: str) -> tuple[bytes, int, list[str]]:
    """The personal reports of a cohort's sharing participants as one zip: (bytes, how many,
    what was skipped) (run by :func:`_slow`)."""
    from .. import reports

    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mastery-reports-") as folder:
        # one at a time: a served page must not start kernels past the server's cap
        written = reports.render_personal_reports(cohort, out_dir=folder, store=store_url,
                                                  progress=False, log=skipped.append, jobs=1)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in written:
                zf.write(path, arcname=Path(path).name)
        return buffer.getvalue(), len(written), skipped


def cohort_view_parts(store_url: str, identity, min_n: int) -> list[tuple]:
    """The coach's cohort views, computed under :meth:`CoachSession.cohort_frames`'s privacy
    rules for the coach ``identity`` (run by :func:`_slow`).

    Returns
    -------
    list of tuple
        ``("label", text)`` or ``("figure", plotly JSON dict, text, css class)``, in order.
    """
    from .. import analysis, charts
    from ..store import open_store

    with open_store(store_url, create=False) as store:
        s = CoachSession(store, identity)
        frames = s.cohort_frames()
        people, fw = frames["participants"], s.framework
        sharing = int(people["consent_share"].sum())
        parts = [("label", f"{sharing} of {len(people)} participants share their check-ins; the charts "
                           f"show theirs only, and no aggregate over fewer than {min_n} people.")]
        fig = charts.plot_participation(frames["ratings"], people, framework=fw)
        parts.append(("figure", json.loads(fig.to_json()), "Participation", "mastery-view-participation"))
        scores = analysis.score_responses(frames["responses"], fw)
        if len(scores):
            fig = charts.plot_distribution(scores, min_n=min_n, framework=fw)
            parts.append(("figure", json.loads(fig.to_json()), "Element scores by phase",
                          "mastery-view-distribution"))
        change = s.cohort_change(min_n=min_n)
        if len(change) and not change["suppressed"].all():
            fig = charts.plot_cohort_change(scores, change, participants=people, min_n=min_n, framework=fw)
            parts.append(("figure", json.loads(fig.to_json()), "Before and after", "mastery-view-change"))
        else:
            parts.append(("label", f"Before and after: withheld until at least {min_n} people have "
                                   "both a baseline and a post questionnaire."))
    return parts


# ----------------------------------------------------------------------------- kernel
def harden_kernel() -> None:
    """Keep tracebacks, warnings and log lines of this kernel off the page.

    In a kernel, ``sys.stderr`` is a stream sent to the page, and Python's fallback log
    handler, ``warnings`` and uncaught errors in comm messages all write there. Here they go
    to the kernel's real standard error (the server's log) instead, and the shell's
    ``showtraceback`` (which ipywidgets calls for an error in a widget message) logs there
    and sends nothing; the traceback mode is ``Minimal`` for anything else. Outside IPython
    this only sets up the logging.
    """
    root = logging.getLogger()
    if not any(getattr(h, "_mastery", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.__stderr__)
        handler.setFormatter(logging.Formatter("[kernel %(asctime)s %(name)s %(levelname)s] %(message)s"))
        handler._mastery = True
        root.addHandler(handler)
    logging.captureWarnings(True)
    server_log()
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    ip = get_ipython()
    if ip is None:
        return
    if hasattr(ip, "InteractiveTB"):  # a served session's shell (Solara) has none
        ip.InteractiveTB.set_mode(mode="Minimal")
    if getattr(ip, "_mastery_hardened", False):
        return

    def showtraceback(exc_tuple=None, *args, **kwargs):
        # ipywidgets and the comm layer call this for an error in a widget message (a bad
        # trait value a crafted client sent, say): the server's log gets it, the page nothing
        etype, value, tb = exc_tuple if exc_tuple is not None else sys.exc_info()
        server_log().error("error in the kernel: %s: %s", getattr(etype, "__name__", etype), value,
                           exc_info=(etype, value, tb) if etype is not None else None)

    ip.showtraceback = showtraceback
    ip._mastery_hardened = True
    if getattr(sys, "__stderr__", None) is not None and "ipykernel" in type(sys.stderr).__module__:
        sys.stderr = sys.__stderr__


def _open(store):
    from ..store import Store, open_store

    return store if isinstance(store, Store) else open_store(store, create=False)


# ----------------------------------------------------------------------------- pieces
def download_link(data: bytes, filename: str, label: str) -> str:
    """An ``<a download>`` whose target is the file itself (a ``data:`` URL).

    The file travels in the page, so no path or URL of the server is shown, and nothing is
    left on the server. ``filename`` and ``label`` are escaped.
    """
    kind = "application/zip" if filename.endswith(".zip") else "text/html"
    href = f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
    size = f"{len(data) / 1e6:.1f} MB"
    return (f'<a class="mastery-download" download="{html.escape(filename)}" href="{href}">'
            f"{html.escape(label)}</a> <span style='color:#555'>({size})</span>")


def _figure(fig, text: str, *, css: str | None = None) -> W.DOMWidget:
    """One plotly figure: drawn by the front end's plotly renderer in JupyterLab, by plotly.js
    from the serving machine on a served page (:func:`.plot.figure_widget`)."""
    from .plot import figure_widget

    return figure_widget(fig, text, css=css)


def _heading(text: str) -> W.HTML:
    return W.HTML(f"<h3 style='margin:8px 0 4px 0'>{html.escape(text)}</h3>")


def _table(frame: pd.DataFrame, css: str) -> W.HTML:
    """A small table; every cell escaped."""
    head = "".join(f"<th style='text-align:left;padding:2px 10px 2px 0'>{html.escape(str(c))}</th>"
                   for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td style='padding:2px 10px 2px 0'>{html.escape(str(v))}</td>"
                                    for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    out = W.HTML(f"<table class='{css}' style='font-size:13px;border-collapse:collapse'>"
                 f"<tr>{head}</tr>{rows}</table>")
    out.add_class(css)
    return out


class SignIn:
    """The typed code field of a page, checked once.

    Parameters
    ----------
    store : Store
    address : str or None
        The client's address (for the per-address budget of wrong codes).
    make_session : callable
        ``make_session(store, identity)``: :class:`ParticipantSession` or
        :class:`CoachSession`; it refuses an identity of the other role.
    on_success : callable
        Called with the session once the code is right.
    button : str
        The button's label.

    Attributes
    ----------
    code : ipywidgets.Password
    button : ipywidgets.Button
    message : ipywidgets.HTML
        What went wrong, in plain words (escaped).
    widget : ipywidgets.VBox
    session
        None until the code was right.
    """

    def __init__(self, store, *, address, make_session, on_success, button: str):
        self.store, self.address = store, address
        self._make_session, self._on_success = make_session, on_success
        self.session = None
        self.code = W.Password(description="Your code", placeholder="e.g. K7QD-3M9XW2TB",
                               style={"description_width": "initial"}, layout=W.Layout(width="320px"))
        self.code.add_class("mastery-code")
        self.button = W.Button(description=button, button_style="primary",
                               layout=W.Layout(width="auto"))
        self.message = W.HTML()
        self.message.add_class("mastery-signin-message")
        _on_enter(self.code, guarded(self.sign_in, self.message))
        self.button.on_click(guarded(lambda _b: self.sign_in(), self.message))
        self.widget = W.VBox([
            W.HTML("<span style='font-size:13px'>Type the personal code your coach gave you "
                   "(letters and digits; case and dashes do not matter).</span>"),
            W.HBox([self.code, self.button], layout=W.Layout(align_items="center")),
            self.message], layout=W.Layout(max_width=FORM_MAX_WIDTH))
        self.widget.add_class("mastery-signin")

    def sign_in(self) -> bool:
        """Check the typed code; on success build the session and call ``on_success``.

        Returns
        -------
        bool
            True when signed in (now or before: a second sign-in changes nothing).
        """
        if self.session is not None:
            return True
        code = self.code.value if isinstance(self.code.value, str) else ""
        self.code.value = ""  # the code does not stay in widget state
        _say(self.message, None)  # a second identical refusal still shows as a new one
        if not code.strip():
            _say(self.message, "Type your code first.")
            return False
        try:
            identity = verify(self.store, code[:100], address=self.address)
            session = self._make_session(self.store, identity)
        except AccessDenied as exc:
            _say(self.message, str(exc))
            return False
        self.session = session
        _say(self.message, None)
        self._on_success(session)
        return True


# ----------------------------------------------------------------------------- participant
class ParticipantPage:
    """A participant's page: the code field, then their own check-in, goals, questionnaire,
    progress, consent, e-mail and calendar reminders, and report.

    Parameters
    ----------
    store : Store, str or None
        The store (or its URL; None: ``$MASTERY_STORE``).
    address : str, optional
        The client's address, passed by ``mastery serve``.
    today : date-like, optional
        Today's date (default: the server's date); tests fix it.

    Attributes
    ----------
    signin : SignIn
    session : ParticipantSession or None
    checkin : CheckInForm or None
    goals : GoalForm or None
    assessment : AssessmentForm or None
        None when no questionnaire phase is open.
    reminders : ReminderSettings or None
        The *Reminders* tab: own e-mail address, opt-out, calendar file (widgets/mail.py).
    consent : ipywidgets.Checkbox or None
        The *Sharing* tab's choice.
    tabs : ipywidgets.Tab or None
        Only the check-in is built at sign-in; every other tab is built when it is first
        opened, or when its attribute above is first read.
    widget : ipywidgets.VBox
    """

    TITLES = ("Check-in", "Goals", "Questionnaire", "My progress", "Sharing", "Reminders", "My report")

    def __init__(self, store=None, *, address: str | None = None, today=None):
        self.store = _open(store)
        self.address = address
        self.today = as_day(today) if today is not None else dt.date.today()
        self.session = None
        self.checkin = self.tabs = None
        self._built: dict[int, W.Widget] = {}
        self.status = W.HTML()
        self.signin = SignIn(self.store, address=address, make_session=ParticipantSession,
                             on_success=guarded(self._open, self.status), button="Open my page")
        self.widget = W.VBox([self.signin.widget, self.status],
                             layout=W.Layout(max_width=FORM_MAX_WIDTH, width="100%"))
        self.widget.add_class("mastery-participant-page")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    # ------------------------------------------------------------------ after sign-in
    def _open(self, session: ParticipantSession) -> None:
        """Show the signed-in page: the check-in at once, every other tab when first opened.

        A whole room signs in within the same minute on one server process, and each widget
        costs that process time to make and send; most people only check in, so the other
        tabs are built when they are opened (their attributes, e.g. :attr:`goals`, build
        them on first use too).
        """
        self.session = session
        s = session
        who = W.Label(f"Signed in as {s.name or s.participant_id}"
                      + (f" · cohort {s.cohort}" if s.cohort else ""))
        who.add_class("mastery-who")
        self.checkin = CheckInForm.for_session(s, self.store, today=self.today)
        self._goal_ids = tuple(self.checkin.goals["goal_id"])
        plain = W.Layout()  # one for the tabs' boxes: each layout is a widget the page sends
        self._checkin_box = W.VBox([self.checkin.widget], layout=plain)
        self._hook_checkin()
        self._built = {0: self._checkin_box}
        self._tab_boxes = [self._checkin_box] + [W.VBox(layout=plain) for _ in self.TITLES[1:]]
        self.tabs = W.Tab(children=self._tab_boxes, titles=self.TITLES)
        self.tabs.add_class("mastery-tabs")
        self.tabs.observe(guarded(self._on_tab, self.status), names="selected_index")
        self.widget.children = [who, self.tabs, self.status]

    def _tab(self, title: str) -> W.Widget:
        """The content of the tab ``title``, built (and put in its place) on first use."""
        index = self.TITLES.index(title)
        if index not in self._built:
            build = {"Goals": self._goals_tab, "Questionnaire": self._questionnaire_tab,
                     "My progress": self._progress_tab, "Sharing": self._sharing,
                     "Reminders": self._reminders_tab, "My report": self._report}[title]
            self._built[index] = content = build()
            self._tab_boxes[index].children = [content]
        return self._built[index]

    def _goals_tab(self) -> W.Widget:
        self._goals = GoalForm.for_session(self.session, self.store, today=self.today)
        for hook in (self._goals.save_button, self._goals.archive_button):
            hook.on_click(guarded(lambda _b: self._goals_changed(), self._goals.status))
        for text in (self._goals.title, self._goals.target):
            _on_enter(text, guarded(self._goals_changed, self._goals.status))
        return self._goals.widget

    def _questionnaire_tab(self) -> W.Widget:
        self._assessment = AssessmentForm.for_session(self.session, self.store, today=self.today)
        if self._assessment is not None:
            return self._assessment.widget
        return W.HTML("<p>No questionnaire is open at the moment. Your coach opens one "
                      "at the start, the middle and the end of the workshop.</p>")

    def _progress_tab(self) -> W.Widget:
        self._progress = W.VBox()
        self._progress.add_class("mastery-progress-view")
        self._draw_progress()
        return self._progress

    def _reminders_tab(self) -> W.Widget:
        self._reminders = ReminderSettings(self.session)  # e-mail, opt-out, calendar: widgets/mail.py
        return self._reminders.widget

    def _part(self, title: str, attribute: str):
        """What the tab ``title`` keeps in ``attribute``, the tab built first; None before sign-in."""
        if self.session is None:
            return None
        self._tab(title)
        return getattr(self, attribute)

    @property
    def goals(self) -> GoalForm | None:
        """The *Goals* tab's form (built on first use); None before sign-in."""
        return self._part("Goals", "_goals")

    @property
    def assessment(self) -> AssessmentForm | None:
        """The *Questionnaire* tab's form (built on first use); None before sign-in or when no
        questionnaire phase is open."""
        return self._part("Questionnaire", "_assessment")

    @property
    def reminders(self) -> ReminderSettings | None:
        """The *Reminders* tab (built on first use); None before sign-in."""
        return self._part("Reminders", "_reminders")

    @property
    def consent(self) -> W.Checkbox | None:
        """The *Sharing* tab's checkbox (built on first use); None before sign-in."""
        return self._part("Sharing", "_consent")

    def _hook_checkin(self) -> None:
        for text in [self.checkin.note] + [t for gi in self.checkin.goal_inputs.values()
                                           for t in (gi.count, gi.minutes, gi.progress)]:
            _on_enter(text, guarded(self._progress_changed, self.checkin.status))
        self.checkin.save_button.on_click(guarded(lambda _b: self._progress_changed(),
                                                  self.checkin.status))

    def _progress_changed(self) -> None:
        """A save: redraw "My progress" if it is open (else it is drawn when opened)."""
        if self.tabs is not None and self.tabs.selected_index == self.TITLES.index("My progress"):
            self.refresh_progress()

    def _goals_changed(self) -> None:
        """A goal was added or archived: the check-in lists the active goals afresh."""
        ids = self._active_goals()
        if ids == self._goal_ids:
            return
        self._goal_ids = ids
        self.checkin = CheckInForm.for_session(self.session, self.store, today=self.today)
        self._hook_checkin()
        self._checkin_box.children = [self.checkin.widget]

    def _active_goals(self) -> tuple:
        return tuple(self.session.goals(include_archived=False)["goal_id"])

    def _on_tab(self, change) -> None:
        """A tab opened: build it the first time; "My progress" is redrawn each time."""
        index = change["new"]
        if not isinstance(index, int) or not 0 <= index < len(self.TITLES):
            return  # a crafted index: nothing to open
        title = self.TITLES[index]
        if title == "My progress" and index in self._built:
            self.refresh_progress()
        else:
            self._tab(title)

    def refresh_progress(self) -> None:
        """Redraw "My progress": streak, trajectories and recent notes (own rows only)."""
        if self.TITLES.index("My progress") not in self._built:
            self._tab("My progress")  # drawn as it is built
        else:
            self._draw_progress()

    def _draw_progress(self) -> None:
        from .. import analysis, charts

        s = self.session
        ratings, actions = s.ratings(), s.actions()
        streak = current_streak(actions, self.today) if len(actions) else 0
        line = W.Label(f"Streak: {streak} day{'s' if streak != 1 else ''} in a row with an action"
                       if streak else "No action recorded today yet, so no streak running.")
        line.add_class("mastery-streak")
        parts = [_heading("My progress"), line]
        if (ratings["kind"] == "current").any():
            trajectories = analysis.element_trajectories(ratings)
            parts.append(_figure(charts.plot_trajectories(trajectories, framework=s.framework),
                                 "My ratings over time", css="mastery-trajectory"))
        else:
            parts.append(W.Label("Your ratings over time show here after your first check-in."))
        notes = (pd.concat([ratings[["date", "note"]], actions[["date", "note"]]])
                 .dropna(subset=["note"]).drop_duplicates().sort_values("date", ascending=False)
                 .head(RECENT_NOTES))
        if len(notes):
            parts.append(_heading("My recent notes"))
            for row in notes.itertuples(index=False):
                label = W.Label(f"{pd.Timestamp(row.date):%d %b %Y}: {row.note}")
                label.add_class("mastery-note-text")
                parts.append(label)
        self._progress.children = parts

    def _sharing(self) -> W.VBox:
        s = self.session
        self._consent = W.Checkbox(value=bool(s.consent_share), indent=False,
                                  description="Share my check-ins in my coach's cohort views",
                                  layout=W.Layout(width="auto"))
        self._consent.add_class("mastery-consent")
        save = W.Button(description="Save my choice", button_style="primary")
        status = W.HTML()

        def keep(_b):
            choice = bool(self._consent.value)
            s.set_consent(choice)
            _say(status, "Saved: your coach's cohort views " + (
                "now show your own check-ins." if choice else
                "no longer show your own check-ins (only counts that include at least five "
                "people)."), "ok")

        save.on_click(guarded(keep, status))
        return W.VBox([_heading("Sharing"), W.HTML(
            "<p style='font-size:13px;max-width:700px'>Your coach always sees whether you checked "
            "in this week (to remind you). Your ratings, actions and notes appear in the cohort "
            "views only if you agree here; you can change your mind at any time.</p>"),
            self._consent, save, status])

    def _report(self) -> W.VBox:
        button = W.Button(description="Make my report", button_style="primary",
                          layout=W.Layout(width="auto"))
        button.add_class("mastery-report-button")
        status, link = W.HTML(), W.HTML()
        link.add_class("mastery-report-link")

        def make(_b):
            button.disabled = True
            link.value = ""
            _say(status, "Making your report; this takes about half a minute.", "info")
            pid = self.session.participant_id
            try:
                data = _slow(personal_report_bytes, self.store.url, pid)
            finally:
                button.disabled = False
            link.value = download_link(data, f"mastery-report-{pid}.html", "Download my report")
            _say(status, "Your report is ready: one HTML file that opens in any browser, offline.", "ok")

        button.on_click(guarded(make, status))
        return W.VBox([_heading("My report"), W.HTML(
            "<p style='font-size:13px'>Your own report (ratings, habits, goals, what seems to "
            "move them), as one file to keep or print.</p>"), button, status, link])


# ----------------------------------------------------------------------------- coach
class CoachPage:
    """The coach's page: the code field, then participation, the cohort views and the reports.

    Parameters
    ----------
    store : Store, str or None
    address : str, optional
    today : date-like, optional
        The last day of "this week" (default: the server's date).
    min_n : int
        The smallest group an aggregate is shown for (privacy rule).

    Attributes
    ----------
    signin : SignIn
    session : CoachSession or None
    participation : ipywidgets.HTML or None
        The table of who checked in this week (and when each was last nudged).
    nudges : NudgePanel or None
        The *Reminders* tab: who a reminder would reach, then send (widgets/mail.py).
    widget : ipywidgets.VBox
    """

    def __init__(self, store=None, *, address: str | None = None, today=None, min_n: int = 5):
        self.store = _open(store)
        self.address = address
        self.today = as_day(today) if today is not None else dt.date.today()
        self.min_n = min_n
        self.session = None
        self.participation = self.nudges = None
        self.status = W.HTML()
        self.signin = SignIn(self.store, address=address, make_session=CoachSession,
                             on_success=guarded(self._open, self.status), button="Open the cohort")
        self.widget = W.VBox([self.signin.widget, self.status], layout=W.Layout(max_width=FORM_MAX_WIDTH, width="100%"))
        self.widget.add_class("mastery-coach-page")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def _open(self, session: CoachSession) -> None:
        self.session = session
        who = W.Label(f"Cohort {session.cohort}" + (f" · coach {session.coach}" if session.coach else ""))
        who.add_class("mastery-who")
        self._week = W.VBox()
        refresh = W.Button(description="Refresh", layout=W.Layout(width="auto"))
        refresh.on_click(guarded(lambda _b: self.refresh_participation(), self.status))
        self._views = W.VBox()
        refresh_views = W.Button(description="Refresh the views", layout=W.Layout(width="auto"))
        refresh_views.on_click(guarded(lambda _b: self.refresh_views(), self.status))
        self.refresh_participation()
        self.refresh_views()
        self.nudges = NudgePanel(session, self.store, today=self.today)  # widgets/mail.py
        tabs = W.Tab(children=[W.VBox([self._week, refresh]), W.VBox([self._views, refresh_views]),
                               self.nudges.widget, self._reports()])
        for i, title in enumerate(("This week", "Cohort views", "Reminders", "Reports")):
            tabs.set_title(i, title)
        self.widget.children = [who, tabs, self.status]

    def refresh_participation(self) -> None:
        """Who checked in during the seven days to today: names and dates, no ratings."""
        frame = self.session.participation(week_ending=self.today)
        done = int(frame["checked_in_this_week"].sum())
        shown = pd.DataFrame({
            "Name": frame["name"].fillna(""), "Id": frame["participant_id"],
            "Last check-in": frame["last_check_in"].dt.strftime("%a %d %b").fillna("never"),
            "Days this week": frame["days_this_week"],
            "This week": frame["checked_in_this_week"].map({True: "yes", False: "not yet"}),
            "Last nudged": last_nudged_column(self.store, self.session.cohort, frame["participant_id"])})
        shown = shown.sort_values("This week", key=lambda c: c != "not yet", kind="stable")
        self.participation = _table(shown, "mastery-participation")
        start = self.today - dt.timedelta(days=6)
        self._week.children = [
            _heading("Who checked in this week"),
            W.Label(f"{done} of {len(frame)} checked in between {start:%a %d %b} and "
                    f"{self.today:%a %d %b %Y}; those who have not yet come first."),
            self.participation]

    def refresh_views(self) -> None:
        """The cohort views, under the privacy rules of :meth:`CoachSession.cohort_frames`
        (computed by :func:`cohort_view_parts`, in a worker process when served)."""
        computed = _slow(cohort_view_parts, self.store.url, self.session.identity, self.min_n)
        parts = [_heading("Cohort views")]
        for kind, *rest in computed:
            if kind == "label":
                parts.append(W.Label(rest[0]))
            else:
                figure, text, css = rest
                parts.append(_figure(figure, text, css=css))
        self._views.children = parts

    def _reports(self) -> W.VBox:
        button = W.Button(description="Make the personal reports", button_style="primary",
                          layout=W.Layout(width="auto"))
        button.add_class("mastery-batch-button")
        status, link = W.HTML(), W.HTML()
        link.add_class("mastery-batch-link")
        cohort = self.session.cohort

        def make(_b):
            button.disabled = True
            link.value = ""
            _say(status, "Making one report per participant who shares (about half a minute "
                         "each); keep this page open.", "info")
            try:
                data, written, skipped = _slow(cohort_reports_zip, self.store.url, cohort)
            finally:
                button.disabled = False
            note = f" Skipped: {'; '.join(skipped)}." if skipped else ""
            if not written:
                _say(status, "No reports: nobody who shares has data yet." + note, "info")
                return
            if len(data) > MAX_DOWNLOAD_BYTES:
                _say(status, f"{written} reports are too large to download from this page "
                             f"({len(data) / 1e6:.0f} MB); on the server run `mastery report personal "
                             f"--cohort {cohort} --out-dir DIR`.", "error")
                return
            link.value = download_link(data, f"reports-{cohort}.zip",
                                       f"Download {written} reports (zip)")
            _say(status, f"{written} reports ready.{note}", "ok")

        button.on_click(guarded(make, status))
        return W.VBox([_heading("Personal reports"), W.HTML(
            "<p style='font-size:13px'>One report per participant who agreed to share, in one zip "
            "file.</p>"), button, status, link])


# ----------------------------------------------------------------------------- entry points
def participant_page(store=None, *, address: str | None = None, today=None) -> ParticipantPage:
    """The participant's page of ``notebooks/app/participant.ipynb`` (hardens the kernel first).

    Parameters
    ----------
    store : Store, str or None
        None: ``$MASTERY_STORE`` (what ``mastery serve`` sets).
    address : str, optional
        The client's address (``mastery serve`` injects it).
    today : date-like, optional

    Returns
    -------
    ParticipantPage
        It displays itself as the last expression of a cell.
    """
    harden_kernel()
    return ParticipantPage(store, address=address, today=today)


def coach_page(store=None, *, address: str | None = None, today=None, min_n: int = 5) -> CoachPage:
    """The coach's page of ``notebooks/app/coach.ipynb`` (hardens the kernel first).

    Parameters
    ----------
    store, address, today
        As for :func:`participant_page`.
    min_n : int
        The smallest group an aggregate is shown for.

    Returns
    -------
    CoachPage
    """
    harden_kernel()
    return CoachPage(store, address=address, today=today, min_n=min_n)
