"""ipywidgets forms that collect check-ins, goals and assessments into the store.

This is the only module of the package that imports ipywidgets. Each form is a plain
object holding its widgets; ``form.widget`` is the top-level container and the form
displays itself when it is the last expression of a cell.

Three forms:

- :class:`CheckInForm`: one participant-day (ratings, vision ratings, actions, goal
  progress, a note).
- :class:`GoalForm`: add, edit, archive and restore goals.
- :class:`AssessmentForm`: the framework's questionnaire for one phase.

Keyboard use
------------
Tab moves through the fields in the order they are shown (the forms never reorder their
children with CSS). Sliders move with the arrow keys (Home/End jump to the ends). In the
check-in and goal forms, Enter in any one-line text field saves the form, the same as the
Save button; it works through the ``{"event": "submit"}`` message that the front end of
``ipywidgets.Text`` sends on Enter, received with the public ``Widget.on_msg`` (the
deprecated ``Text.on_submit`` is not used; ``continuous_update=False`` plus an observer
would also fire on leaving the field, which must not save). Buttons take Enter or Space
when focused. In the assessment form each item is one radio group: Tab reaches the group,
the arrow keys choose the answer.

Decisions
---------
- A slider has no "unset" state, so the check-in writes a rating for every element of the
  framework, or none at all when "Rate the elements for this day" is unticked (a day of
  actions only). Sliders start at the day's saved ratings, else the person's latest
  earlier ones (so only what changed needs moving), else the middle of the scale.
- Counts, minutes and percents are typed into text fields and parsed by the form, so a bad
  value gets a message instead of being silently clamped by a bounded widget; an empty
  field records nothing. A field of a day saved before cannot be emptied (the store is
  append-only, so emptying would silently keep the old value): the form asks for 0 or a
  new value instead.
- Saving a day that already has entries appends a new version; the earlier one stays in
  ``store.history``. Picking another day in the date picker replaces what was typed with
  what that day holds.
- "Today" is a parameter (``today=``) so that tests and notebooks can fix it; days after it
  are refused.

Served pages
------------
On the pages of ``mastery serve`` each form is made with :meth:`for_session` from a
:class:`~mastery_analysis.access.ParticipantSession`: the participant is the session's, bound
in Python when the code was checked, and every save goes through the session, which checks
every value again whatever the widgets say (a browser can set any widget trait). There, a
callback never raises: what went wrong is said in the status line, and a failure of the
server (a database error, a bug) is logged on the server's standard error and shown only
as "could not save", so no traceback, path or other person's data reaches a page.

Validation
----------
Nothing is written until every field is valid; each bad field gets a message next to it
and the status line says how many need fixing. A write the store refuses (or a database
error) is reported in the status line and every value typed stays in the form.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import logging
import os
import re
import sys
import unicodedata
from dataclasses import dataclass

import ipywidgets as W
import pandas as pd

from ..charts import plot_recent_days
from ..errors import MasteryError, StoreError, ValidationError
from ..framework import Framework, load_framework
from ..schema import PHASES, as_day
from .experiments import ExperimentCheck

__all__ = ["CheckInForm", "GoalForm", "AssessmentForm", "GoalInputs", "goal_id_for",
           "current_streak", "guarded", "refusal_text", "server_log", "SERVER_FAILURE"]

FORM_MAX_WIDTH = "1000px"  # fits the notebook area of JupyterLab on a 1366x768 laptop
NOTE_MAX = 2000
TEXT_MAX = 200
ERROR_COLOR = "#b00020"
OK_COLOR = "#1b5e20"


# --------------------------------------------------------------------------- helpers
def _error_html(text: str) -> str:
    return f'<span style="color:{ERROR_COLOR}">&#9888; {html.escape(text)}</span>'


def _ok_html(text: str) -> str:
    return f'<span style="color:{OK_COLOR}">&#10003; {html.escape(text)}</span>'


def _info_html(text: str) -> str:
    return f'<span style="color:#444">{html.escape(text)}</span>'


def _say(widget: W.HTML, text: str | None, kind: str = "error") -> None:
    """Show ``text`` in a message widget (``kind`` error, ok or info); None clears it."""
    if not text:
        widget.value = ""
        return
    widget.value = {"error": _error_html, "ok": _ok_html, "info": _info_html}[kind](text)


def _message(looks: "Looks | None" = None) -> W.HTML:
    if looks is not None:
        return W.HTML(value="", layout=looks.layout(margin="0 0 0 6px"), style=looks.html)
    return W.HTML(value="", layout=W.Layout(margin="0 0 0 6px"))


class Looks:
    """Layouts and styles shared by the widgets of one form that never change their own.

    Every ipywidget comes with a layout and a style, each a widget of its own that a served
    page opens and sends to the browser: a check-in sent 42 layouts at sign-in, most of them
    empty or alike. Widgets whose layout or style changes later (a box that is hidden and
    shown) keep their own. One form's looks belong to that form's page (widgets are not
    shared between sessions).
    """

    def __init__(self):
        self._layouts: dict[tuple, W.Layout] = {}
        from ipywidgets.widgets.widget_bool import CheckboxStyle
        from ipywidgets.widgets.widget_string import HTMLStyle, TextStyle

        self.html = HTMLStyle()
        self.slider = W.SliderStyle()
        self.checkbox = CheckboxStyle()
        self.text_initial = TextStyle(description_width="initial")

    def layout(self, **traits) -> W.Layout:
        """The one layout of this form with exactly these traits."""
        key = tuple(sorted(traits.items()))
        if key not in self._layouts:
            self._layouts[key] = W.Layout(**traits)
        return self._layouts[key]


SERVER_FAILURE = ("The server could not do this just now; nothing was changed. Try again in a "
                  "moment, and tell your coach if it keeps happening.")


def server_log() -> logging.Logger:
    """The log of the served pages: the kernel's real standard error (the server's log).

    Never ``sys.stderr`` in a kernel: that stream is sent to the page.
    """
    log = logging.getLogger("mastery_analysis.app")
    if not log.handlers:
        handler = logging.StreamHandler(sys.__stderr__)
        handler.setFormatter(logging.Formatter("[mastery %(asctime)s %(levelname)s] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def refusal_text(exc: BaseException) -> str:
    """What a served page may say about ``exc``: a refusal's own plain message (it is about
    what this person typed), else :data:`SERVER_FAILURE` with the details in the server's log."""
    if isinstance(exc, MasteryError) and not isinstance(exc, StoreError):
        return str(exc)
    server_log().error("%s: %s", type(exc).__name__, exc, exc_info=exc)
    return SERVER_FAILURE


def guarded(callback, status: W.HTML):
    """``callback`` that never raises: an error is logged for the server and said in ``status``."""
    @functools.wraps(callback)
    def run(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - nothing may reach the page as a traceback
            _say(status, refusal_text(exc))
            return None
    return run


def _on_enter(text: W.Text, callback) -> None:
    """Call ``callback()`` when Enter is pressed in ``text`` (the front end's submit event)."""
    def handle(_widget, content, _buffers):
        if isinstance(content, dict) and content.get("event") == "submit":
            callback()
    text.on_msg(handle)


def _parse_number(raw: str, *, lo: float, hi: float, whole: bool, what: str):
    """Parse one typed number. Returns (value or None if empty, error message or None)."""
    s = (raw or "").strip().rstrip("%").strip()
    if not s:
        return None, None
    try:
        value = float(s.replace(",", "."))
    except ValueError:
        return None, f"'{raw.strip()}' is not a number; {what}"
    if value != value or value in (float("inf"), float("-inf")):
        return None, f"'{raw.strip()}' is not a number; {what}"
    if whole and not value.is_integer():
        return None, f"'{raw.strip()}' is not a whole number; {what}"
    if not lo <= value <= hi:
        return None, f"{raw.strip()} is out of range; {what}"
    return (int(value) if whole else value), None


def _fmt_number(value) -> str:
    if value is None or pd.isna(value):
        return ""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _unknown_participant_message(store, participant_id) -> str:
    known = store.participants()["participant_id"].tolist()
    listing = (f" Participants in this store: {', '.join(known[:10])}{' ...' if len(known) > 10 else ''}."
               if known else " This store has no participants yet.")
    return (f"No participant '{participant_id}' in the store {store.url}.{listing} "
            f"Add one first, in Python with store.add_participant('{participant_id}', name='...') "
            f"or in a terminal with `mastery participant add {participant_id}` (or load the demo "
            f"data with `mastery demo`), then run this cell again; or set `participant` in the "
            f"parameters cell to one of the participants above.")


def _check_day(day, today) -> str | None:
    if day is None:
        return "pick a day"
    if day > today:
        return f"{day.isoformat()} is in the future; pick today ({today.isoformat()}) or an earlier day"
    return None


def current_streak(actions: pd.DataFrame, day) -> int:
    """Days in a row, ending on ``day``, with at least one action (on any goal).

    The runs come from :func:`mastery_analysis.analysis.habits.streaks` with every goal
    taken together.

    Parameters
    ----------
    actions : DataFrame
        Rows of the actions table (needs ``date`` and ``count``); one participant.
    day : date-like
        The last day of the run; later actions are ignored.

    Returns
    -------
    int
        0 when ``day`` itself has no action (a count above zero).
    """
    from ..analysis.habits import streaks

    day = as_day(day)
    dates = pd.to_datetime(actions["date"])
    upto = pd.DataFrame({"participant_id": "_", "goal_id": "any", "date": dates,
                         "count": pd.to_numeric(actions["count"], errors="coerce")}).loc[
        dates.dt.date <= day]
    if upto.empty:
        return 0
    runs = streaks(upto)
    hit = runs.loc[runs["end"].dt.date == day, "length"]
    return int(hit.iloc[0]) if len(hit) else 0


def goal_id_for(title: str, taken) -> str:
    """A stable, readable goal id for ``title`` that is not in ``taken``.

    The id is the ASCII slug of the title (at most 40 characters; ``goal`` when the title
    has no letters or digits), followed by ``-2``, ``-3``, ... when the slug is already
    used. The same title and the same set of ids in the store always give the same id.

    Parameters
    ----------
    title : str
    taken : collection of str
        Goal ids already in the store (of every participant: goal ids are global).

    Returns
    -------
    str
        An id matching the schema's id pattern.
    """
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:40].strip("-") or "goal"
    taken = set(taken)
    if slug not in taken:
        return slug
    n = 2
    while f"{slug}-{n}" in taken:
        n += 1
    return f"{slug}-{n}"


class _Form:
    """Display delegation shared by the forms: ``form`` last in a cell shows ``form.widget``."""

    widget: W.Widget
    _session = None

    @property
    def served(self) -> bool:
        """True when the form saves through a participant session (a served page)."""
        return self._session is not None

    def _handler(self, callback):
        """``callback`` as wired to a widget: guarded on a served page, as is in a notebook."""
        return guarded(callback, self.status) if self.served else callback

    def _failure(self, exc: Exception) -> str:
        return refusal_text(exc) if self.served else str(exc)

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):  # what a front end without widgets (or a log) shows
            bundle["text/plain"] = self.summary()
        return bundle

    def summary(self) -> str:
        """One line of plain text: the form and its status (what a terminal shows)."""
        status = re.sub(r"<[^>]+>", " ", self.status.value)
        status = " ".join(html.unescape(status).split())
        return f"{type(self).__name__} for '{self.participant_id}'" + (f": {status}" if status else "")

    def _ipython_display_(self):
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)

    def _on_day(self, change):
        """A day picked in a dated form: refuse a future day next to the picker, else load it."""
        day = change["new"]
        problem = _check_day(day, self.today)
        _say(self.date_message, problem)
        if problem is None:
            self.load_day(day)


# --------------------------------------------------------------------------- check-in
@dataclass
class GoalInputs:
    """The inputs of one active goal in a :class:`CheckInForm`.

    Attributes
    ----------
    goal_id : str
    title : str
    count : ipywidgets.Text
        Number of actions that day (a whole number from 0 to 10000); empty: not recorded.
    minutes : ipywidgets.Text
        Optional minutes spent (0 to 1440); needs a count.
    progress : ipywidgets.Text
        How far the goal is, in percent (0 to 100; a trailing ``%`` is accepted); empty:
        not recorded. The placeholder shows the last percent recorded before that day.
    message : ipywidgets.HTML
        The validation message shown next to the inputs.
    box : ipywidgets.VBox
        The row holding all of the above (CSS class ``mastery-goal-<goal_id>``).
    """

    goal_id: str
    title: str
    count: W.Text
    minutes: W.Text
    progress: W.Text
    message: W.HTML
    box: W.VBox


class CheckInForm(_Form):
    """The daily check-in of one participant: ratings, vision, actions, progress and a note.

    Parameters
    ----------
    store : Store
        An open store (:func:`mastery_analysis.store.open_store`).
    participant_id : str
        Who is checking in. An unknown id gives a form that only shows how to add them.
    day : date-like, optional
        The day to open; defaults to ``today``. Earlier days may be back-filled.
    framework : Framework or str, optional
        Defaults to the store's framework; the sliders span its scale.
    today : date-like, optional
        Today's date, for the picker's default and the refusal of future days; defaults
        to ``datetime.date.today()`` (tests fix it).

    Attributes
    ----------
    widget : ipywidgets.Box
        The top-level container (the form displays it).
    date_picker : ipywidgets.DatePicker
        The day. Picking a day that already has entries loads them for editing; picking
        a day replaces what was typed with what that day holds.
    date_message : ipywidgets.HTML
    rate_toggle : ipywidgets.Checkbox
        "Rate the elements for this day". Sliders have no "unset" state, so ratings are
        written for every element when this is checked and for none when it is not (a day
        of actions only). It is unchecked when the day opened holds entries but no ratings.
    sliders : dict of element key -> ipywidgets.IntSlider
        Current ratings. They start at the day's saved rating, else the person's latest
        earlier rating, else the middle of the scale.
    vision_toggle : ipywidgets.Checkbox
        "Also set my vision"; shows :attr:`vision_sliders` and writes vision ratings.
    vision_sliders : dict of element key -> ipywidgets.IntSlider
        Vision ratings; start at the day's saved vision, else the latest, else the scale's top.
        Made when first shown or read (most check-ins never set a vision).
    goal_inputs : dict of goal_id -> GoalInputs
        One entry per active (not archived) goal; see :class:`GoalInputs`.
    experiments : ExperimentCheck or None
        Each self-experiment running on the day: its condition in the person's words and
        "did you follow it today?" (:class:`~mastery_analysis.widgets.experiments.ExperimentCheck`);
        the answers are saved with the day, in the same transaction.
    note : ipywidgets.Text
        The day's note (at most 2000 characters), kept on every row written.
    note_message : ipywidgets.HTML
    save_button : ipywidgets.Button
    status : ipywidgets.HTML
        Confirmation, streak, or what went wrong.
    streak : int or None
        The current streak after the last successful save.
    chart : plotly.graph_objects.Figure or None
        The last two weeks (actions per day and the mean rating), made after each save.
    chart_output : ipywidgets.Output
        Shows :attr:`chart` (through the front end's plotly renderer).
    participant_known : bool
    """

    def __init__(self, store, participant_id: str, *, day=None, framework=None, today=None,
                 session=None):
        self._session = session
        self.store = store
        self.participant_id = participant_id
        self.framework = load_framework(framework) if framework is not None else store.framework
        self.today = as_day(today) if today is not None else dt.date.today()
        self.participant_known = session is not None or store.has_participant(participant_id)
        self.streak = None
        self.chart = None
        self._saved = {"day": None, "count": set(), "progress": set()}
        scale = self.framework.scale
        self._looks = looks = Looks()
        wide = looks.layout(width="98%")

        self.date_picker = W.DatePicker(value=as_day(day) if day is not None else self.today,
                                        description="Day", layout=looks.layout(width="230px"))
        self.date_message = _message(looks)
        self.rate_toggle = W.Checkbox(value=True, description="Rate the elements for this day",
                                      indent=False, layout=looks.layout(width="auto"),
                                      style=looks.checkbox)
        self.sliders = {}
        self._vision_sliders = None  # made when first shown (most check-ins never set a vision)
        self._vision_values = {e.key: scale.max for e in self.framework.elements}
        rating_rows = []
        for e in self.framework.elements:
            self.sliders[e.key] = W.IntSlider(value=(scale.min + scale.max) // 2, min=scale.min,
                                              max=scale.max, step=1, layout=wide,
                                              style=looks.slider, tooltip=e.description)
            self.sliders[e.key].add_class(f"mastery-rating-{e.key}")
            label = W.HTML(
                f'<div style="line-height:1.25"><b>{html.escape(e.label)}</b> '
                f'<span style="font-size:11px;color:#555">&middot; {html.escape(e.description)}</span>'
                f'<br><span style="font-size:12px"><i>{html.escape(e.prompt)}</i></span></div>',
                layout=looks.layout(margin="4px 0 0 0"), style=looks.html)
            rating_rows += [label, self.sliders[e.key]]
        self._ratings_box = W.VBox(rating_rows)
        self.vision_toggle = W.Checkbox(value=False, indent=False, layout=looks.layout(width="auto"),
                                        style=looks.checkbox,
                                        description="Also set my vision (where I want to be)")
        self._vision_box = W.VBox([], layout=W.Layout(display="none"))

        goals = (store.goals(participant=participant_id, include_archived=False)
                 if self.participant_known else pd.DataFrame(columns=["goal_id", "title"]))
        self.goals = goals
        self.goal_inputs: dict[str, GoalInputs] = {}
        goal_rows = []
        for g in goals.itertuples(index=False):
            self.goal_inputs[g.goal_id] = inputs = self._goal_row(g)
            goal_rows.append(inputs.box)
        if not goal_rows:
            goal_rows = [W.HTML(style=looks.html, layout=looks.layout(), value=_info_html(
                "No active goals yet: add goals in the Goals part of this page." if self.served else
                "No active goals yet: add goals with the goal form (notebooks/01_goals.ipynb)."))]

        # self-experiments: today's condition and "did you follow it today?" (a group of its own)
        self.experiments = ExperimentCheck(store, participant_id) if self.participant_known else None

        self.note = W.Text(placeholder="A note about the day (Enter saves)", description="Note",
                           continuous_update=True, layout=wide)
        self.note.add_class("mastery-note")
        self.note_message = _message(looks)
        self.save_button = W.Button(description="Save", button_style="primary", icon="check",
                                    tooltip="Save this day (Enter in a text field saves too)",
                                    layout=looks.layout(width="120px"))
        self.status = W.HTML(layout=wide, style=looks.html)
        self.chart_output = W.Output(layout=wide)
        self.chart_output.add_class("mastery-chart")

        for text in [self.note] + [t for gi in self.goal_inputs.values()
                                   for t in (gi.count, gi.minutes, gi.progress)]:
            _on_enter(text, self._handler(self.save))
        self.save_button.on_click(self._handler(lambda _b: self.save()))
        self.date_picker.observe(self._handler(self._on_day), names="value")
        self.rate_toggle.observe(self._handler(self._on_rate_toggle), names="value")
        self.vision_toggle.observe(self._handler(self._on_vision_toggle), names="value")

        if not self.participant_known:
            self.save_button.disabled = True
            _say(self.status, _unknown_participant_message(store, participant_id))
            self.widget = W.VBox([W.HTML("<h3>Daily check-in</h3>"), self.status],
                                 layout=W.Layout(max_width=FORM_MAX_WIDTH))
            return

        left = W.VBox([self.rate_toggle, self._ratings_box, self.vision_toggle, self._vision_box],
                      layout=looks.layout())
        right = W.VBox([W.HTML("<b>Today's actions and goal progress</b>", layout=looks.layout(),
                               style=looks.html), *goal_rows,
                        self.experiments.box, self.note, self.note_message,
                        W.HBox([self.save_button], layout=looks.layout(margin="6px 0")),
                        self.status, self.chart_output], layout=looks.layout())
        header = W.HBox([self.date_picker, self.date_message],
                        layout=looks.layout(align_items="center"))
        body = W.GridBox([left, right], layout=looks.layout(
            grid_template_columns="minmax(280px, 1fr) minmax(300px, 1fr)", grid_gap="4px 16px",
            width="100%"))
        self.widget = W.VBox([W.HTML(f"<b>Daily check-in: {html.escape(participant_id)}</b>",
                                     layout=looks.layout(), style=looks.html),
                              header, body], layout=looks.layout(max_width=FORM_MAX_WIDTH, width="100%"))
        self.widget.add_class("mastery-checkin")
        self._on_day({"new": self.date_picker.value})

    @classmethod
    def for_session(cls, session, store, *, day=None, today=None) -> "CheckInForm":
        """The check-in of a served page: the session's participant and framework, saved
        through :meth:`ParticipantSession.check_in <mastery_analysis.access.ParticipantSession.check_in>`.

        Parameters
        ----------
        session : ParticipantSession
        store : Store
            The store the session was made on (read for the participant's own rows only).
        day, today : date-like, optional
            As for the form.
        """
        return cls(store, session.participant_id, day=day, framework=session.framework,
                   today=today, session=session)

    # ------------------------------------------------------------------ building
    def _goal_row(self, g) -> GoalInputs:
        looks = self._looks
        small = looks.text_initial
        count = W.Text(description="Actions", placeholder="0", style=small,
                       layout=looks.layout(width="125px"))
        minutes = W.Text(description="Minutes", placeholder="optional", style=small,
                         layout=looks.layout(width="140px"))
        progress = W.Text(description="Progress %", placeholder="", style=small,
                          layout=looks.layout(width="150px"))
        count.add_class("mastery-count")
        minutes.add_class("mastery-minutes")
        progress.add_class("mastery-progress")
        freq = f"{g.freq_times}x per {g.freq_days} day{'s' if g.freq_days != 1 else ''}"
        due = f", due {pd.Timestamp(g.due_date).date().isoformat()}" if pd.notna(g.due_date) else ""
        title = W.HTML(f'<div style="line-height:1.2"><b>{html.escape(g.title)}</b> '
                       f'<span style="font-size:11px;color:#555">{html.escape(freq + due)}</span></div>',
                       layout=looks.layout(), style=looks.html)
        message = _message(looks)
        box = W.VBox([title, W.HBox([count, minutes, progress], layout=looks.layout(flex_flow="row wrap")),
                      message], layout=looks.layout(margin="2px 0 4px 0"))
        box.add_class(f"mastery-goal-{g.goal_id}")
        return GoalInputs(g.goal_id, g.title, count, minutes, progress, message, box)

    @property
    def vision_sliders(self) -> dict:
        """Vision ratings by element key (made on first use: when shown, or read)."""
        if self._vision_sliders is None:
            scale, rows, sliders = self.framework.scale, [], {}
            for e in self.framework.elements:
                sliders[e.key] = W.IntSlider(value=self._vision_values[e.key], min=scale.min,
                                             max=scale.max, step=1, tooltip=e.description,
                                             layout=self._looks.layout(width="98%"),
                                             style=self._looks.slider)
                sliders[e.key].add_class(f"mastery-vision-{e.key}")
                rows += [W.HTML(f"<b>{html.escape(e.label)}</b>: where I want to be",
                                layout=self._looks.layout(margin="2px 0 0 0"), style=self._looks.html),
                         sliders[e.key]]
            self._vision_sliders = sliders
            self._vision_box.children = rows
        return self._vision_sliders

    # ------------------------------------------------------------------ events
    def _on_rate_toggle(self, change):
        self._ratings_box.layout.display = None if change["new"] else "none"

    def _on_vision_toggle(self, change):
        if change["new"]:
            self.vision_sliders  # noqa: B018 - made when first shown
        self._vision_box.layout.display = None if change["new"] else "none"

    def load_day(self, day) -> None:
        """Fill the form with what ``day`` holds (or the defaults) and say which it is.

        Parameters
        ----------
        day : date-like
        """
        day = as_day(day)
        pid, scale = self.participant_id, self.framework.scale
        ratings = self.store.ratings(participant=pid, end=day)
        actions = self.store.actions(participant=pid, start=day, end=day)
        progress = self.store.progress(participant=pid, end=day)
        on_day = ratings.loc[ratings["date"].dt.date == day]
        before = ratings.loc[ratings["date"].dt.date < day]

        def clamp(v):
            return int(min(max(int(v), scale.min), scale.max))

        for kind, fallback in (("current", (scale.min + scale.max) // 2), ("vision", scale.max)):
            today_vals = on_day.loc[on_day["kind"] == kind].set_index("element")["rating"]
            earlier = before.loc[before["kind"] == kind].groupby("element")["rating"].last()
            values = {key: clamp(today_vals[key]) if key in today_vals.index else
                      clamp(earlier[key]) if key in earlier.index else fallback
                      for key in self.sliders}
            if kind == "vision":
                self._vision_values = values  # for the vision sliders when they are made
            sliders = self.sliders if kind == "current" else self._vision_sliders or {}
            for key, slider in sliders.items():
                slider.value = values[key]
        has_current = (on_day["kind"] == "current").any()
        prog_day = progress.loc[progress["date"].dt.date == day].set_index("goal_id")
        prog_before = progress.loc[progress["date"].dt.date < day].groupby("goal_id")["percent"].last()
        acts = actions.set_index("goal_id")
        self._saved = {"day": day, "count": set(acts.index), "progress": set(prog_day.index)}
        for gid, gi in self.goal_inputs.items():
            gi.count.value = _fmt_number(acts.at[gid, "count"]) if gid in acts.index else ""
            gi.minutes.value = _fmt_number(acts.at[gid, "minutes"]) if gid in acts.index else ""
            gi.progress.value = _fmt_number(prog_day.at[gid, "percent"]) if gid in prog_day.index else ""
            gi.progress.placeholder = (f"last {_fmt_number(prog_before[gid])}"
                                       if gid in prog_before.index else "0-100")
            _say(gi.message, None)
        if self.experiments is not None:
            self.experiments.load_day(day)
        notes = pd.concat([on_day["note"], actions["note"], prog_day["note"]]).dropna()
        self.note.value = str(notes.iloc[0]) if len(notes) else ""
        _say(self.note_message, None)
        saved_any = len(on_day) > 0 or len(actions) > 0 or len(prog_day) > 0
        self.rate_toggle.value = bool(has_current or not saved_any)
        self.vision_toggle.value = bool((on_day["kind"] == "vision").any())
        if saved_any:
            _say(self.status, f"{day:%a %d %b %Y} already has entries, loaded for editing; "
                              "saving adds a new version (the earlier one stays in the history).",
                 "info")
        elif (before["kind"] == "current").any():
            last = before.loc[before["kind"] == "current", "date"].max()
            _say(self.status, f"New check-in for {day:%a %d %b %Y}; the sliders start at your "
                              f"latest ratings (of {last:%d %b %Y}).", "info")
        else:
            _say(self.status, f"New check-in for {day:%a %d %b %Y}.", "info")

    # ------------------------------------------------------------------ saving
    def _collect(self):
        """Validate every field; return the check-in as keyword arguments, or None."""
        problems = 0
        day = self.date_picker.value
        day_problem = _check_day(day, self.today)
        _say(self.date_message, day_problem)
        problems += day_problem is not None
        actions, progress = {}, {}
        for gid, gi in self.goal_inputs.items():
            msgs = []
            count, err = _parse_number(gi.count.value, lo=0, hi=10_000, whole=True,
                                       what="actions are a whole number from 0 to 10000")
            msgs += [err] if err else []
            minutes, err = _parse_number(gi.minutes.value, lo=0, hi=1440, whole=False,
                                         what="minutes are a number from 0 to 1440")
            msgs += [err] if err else []
            if minutes is not None and count is None and not msgs:
                msgs.append("minutes need a number of actions too")
            percent, err = _parse_number(gi.progress.value, lo=0, hi=100, whole=False,
                                         what="progress is a percent from 0 to 100")
            msgs += [err] if err else []
            if day == self._saved["day"]:  # the store keeps saved values: replace, not remove
                if count is None and not gi.count.value.strip() and gid in self._saved["count"]:
                    msgs.append("this day has saved actions; type 0 for none (a saved value can "
                                "be replaced, not removed)")
                if (percent is None and not gi.progress.value.strip()
                        and gid in self._saved["progress"]):
                    msgs.append("this day has a saved progress; type a percent (a saved value "
                                "can be replaced, not removed)")
            _say(gi.message, "; ".join(msgs) if msgs else None)
            problems += len(msgs)
            if not msgs:
                if count is not None:
                    actions[gid] = {"count": count, "minutes": minutes}
                if percent is not None:
                    progress[gid] = percent
        note = self.note.value.strip()
        note_problem = (f"the note has {len(note)} characters; at most {NOTE_MAX}"
                        if len(note) > NOTE_MAX else None)
        _say(self.note_message, note_problem)
        problems += note_problem is not None
        note_values, bad = self.experiments.note_values() if self.experiments is not None else ({}, 0)
        problems += bad
        if problems:
            _say(self.status, f"Not saved: {problems} field{'s' if problems > 1 else ''} "
                              "to fix (see the messages next to them). Nothing was written.")
            return None
        ratings = {k: int(s.value) for k, s in self.sliders.items()} if self.rate_toggle.value else {}
        vision = ({k: int(s.value) for k, s in self.vision_sliders.items()}
                  if self.vision_toggle.value else {})
        adherence = self.experiments.answers() if self.experiments is not None else {}
        if not (ratings or vision or actions or progress or adherence or note_values):
            _say(self.status, "Nothing to save: check 'Rate the elements', or enter an action "
                              "or a progress percent.")
            return None
        return {"day": day, "ratings": ratings, "vision": vision or None,
                "actions": actions or None, "progress": progress or None, "note": note or None,
                "adherence": adherence or None, "note_values": note_values or None}

    def save(self) -> bool:
        """Validate and write the check-in in one transaction.

        Returns
        -------
        bool
            True when written. Otherwise the messages say why, nothing was written and the
            form keeps every value typed.
        """
        if not self.participant_known:
            _say(self.status, _unknown_participant_message(self.store, self.participant_id))
            return False
        entry = self._collect()
        if entry is None:
            return False
        day = entry.pop("day")
        try:
            if self.served:  # the session checks every value again, whatever the widgets said
                written = self._session.check_in(day, **entry)
            else:
                written = self.store.record_checkin(self.participant_id, day, **entry)
        except Exception as exc:  # a refused write or a database error: say it, keep the form
            _say(self.status, f"Could not save {day.isoformat()}: {self._failure(exc)} Nothing was "
                              "written; what you typed is still here, fix it or try again.")
            return False
        if self._saved["day"] != day:
            self._saved = {"day": day, "count": set(), "progress": set()}
        self._saved["count"] |= set(entry["actions"] or {})
        self._saved["progress"] |= set(entry["progress"] or {})
        self._after_save(day, written)
        return True

    def _after_save(self, day, written) -> None:
        pid = self.participant_id
        start = day - dt.timedelta(days=13)
        actions = self.store.actions(participant=pid, end=day)
        self.streak = current_streak(actions, day)
        parts = [f"{n} {t if n != 1 else t.rstrip('s')}" for t, n in
                 (("ratings", written.get("ratings", 0)), ("actions", written.get("actions", 0)),
                  ("progress values", written.get("progress", 0)),
                  ("experiment answers", written.get("adherence", 0)),
                  ("note values", written.get("responses", 0))) if n]
        streak = (f"Streak: {self.streak} day{'s' if self.streak != 1 else ''} in a row with an action."
                  if self.streak else "No action recorded on this day, so no streak running.")
        self.status.value = (_ok_html(f"Saved {day:%a %d %b %Y}: {', '.join(parts)}.")
                             + "<br>" + _info_html(streak))
        self.chart = plot_recent_days(self.store.ratings(participant=pid, start=start, end=day),
                                      actions.loc[actions["date"].dt.date >= start], day=day,
                                      framework=self.framework)
        text = f"Last two weeks to {day.isoformat()}: actions and mean rating"
        if os.environ.get("MASTERY_PLOTLY_URL"):
            # a served page has no plotly renderer: one light chart widget, redrawn on each save
            from .plot import figure_widget

            if getattr(self, "_chart_widget", None) is None:
                self._chart_widget = figure_widget(self.chart, text)
            else:
                self._chart_widget.figure = json.loads(self.chart.to_json())
            view = {"model_id": self._chart_widget.model_id, "version_major": 2, "version_minor": 0}
            self.chart_output.outputs = ({"output_type": "display_data", "metadata": {}, "data": {
                "application/vnd.jupyter.widget-view+json": view, "text/plain": text}},)
            return
        # Shown through JupyterLab's plotly renderer: a FigureWidget would first send its
        # 5 MB bundle of plotly.js to the page (about 10 s on a laptop).
        self.chart_output.outputs = ({
            "output_type": "display_data", "metadata": {},
            "data": {"application/vnd.plotly.v1+json": {**json.loads(self.chart.to_json()),
                                                        "config": {"displayModeBar": False}},
                     "text/plain": text},
        },)


# --------------------------------------------------------------------------- goals
class GoalForm(_Form):
    """Add, edit, archive and restore the goals of one participant.

    Parameters
    ----------
    store : Store
    participant_id : str
    framework : Framework or str, optional
        For the list of elements a goal can be linked to; defaults to the store's.
    today : date-like, optional
        The default start date of a new goal; defaults to ``datetime.date.today()``.

    Attributes
    ----------
    widget : ipywidgets.Box
    goal_picker : ipywidgets.Dropdown
        ``""`` (a new goal) or the goal_id being edited; archived goals are listed too.
    title, target : ipywidgets.Text
        Enter in either saves.
    element : ipywidgets.Dropdown
        ``""`` (no element) or an element key.
    freq_times, freq_days : ipywidgets.BoundedIntText
        The frequency: ``freq_times`` times every ``freq_days`` days (1 to 366 each).
    start_date, due_date : ipywidgets.DatePicker
        ``due_date`` may be empty.
    messages : dict of field name -> ipywidgets.HTML
        Validation messages next to ``title``, ``freq_times``, ``start_date``,
        ``due_date`` and ``target``.
    save_button, archive_button : ipywidgets.Button
        ``archive_button`` archives the picked goal, or restores it when it is archived.
    status : ipywidgets.HTML
    last_goal_id : str or None
        The id of the goal last saved.

    Notes
    -----
    New goal ids come from :func:`goal_id_for`. After a save the form returns to a blank
    new goal; pick a goal in ``goal_picker`` to edit it (saving adds a new version).
    """

    def __init__(self, store, participant_id: str, *, framework=None, today=None, session=None):
        self._session = session
        self.store = store
        self.participant_id = participant_id
        self.framework = load_framework(framework) if framework is not None else store.framework
        self.today = as_day(today) if today is not None else dt.date.today()
        self.participant_known = session is not None or store.has_participant(participant_id)
        self.last_goal_id = None
        self._loading = False
        label = {"description_width": "90px"}
        self.goal_picker = W.Dropdown(description="Goal", style=label, layout=W.Layout(width="460px"))
        self.title = W.Text(description="Title", placeholder="e.g. Talk to someone in my target field",
                            style=label, layout=W.Layout(width="460px"))
        self.element = W.Dropdown(options=[("(none)", "")] + [(e.label, e.key)
                                                               for e in self.framework.elements],
                                  value="", description="Element", style=label,
                                  layout=W.Layout(width="460px"))
        self.freq_times = W.BoundedIntText(value=1, min=1, max=366, description="Times",
                                           style=label, layout=W.Layout(width="170px"))
        self.freq_days = W.BoundedIntText(value=1, min=1, max=366, description="every (days)",
                                          style={"description_width": "initial"},
                                          layout=W.Layout(width="160px"))
        self.start_date = W.DatePicker(value=self.today, description="Start", style=label,
                                       layout=W.Layout(width="280px"))
        self.due_date = W.DatePicker(value=None, description="Due", style=label,
                                     layout=W.Layout(width="280px"))
        self.target = W.Text(description="Target", placeholder="optional, e.g. 3 interviews by June",
                             style=label, layout=W.Layout(width="460px"))
        self.messages = {k: _message() for k in ("title", "freq_times", "start_date", "due_date",
                                                 "target")}
        self.save_button = W.Button(description="Save goal", button_style="primary", icon="check",
                                    layout=W.Layout(width="130px"))
        self.archive_button = W.Button(description="Archive", icon="archive", disabled=True,
                                       layout=W.Layout(width="130px"))
        self.status = W.HTML()
        self.goal_list = W.HTML()
        _on_enter(self.title, self._handler(self.save))
        _on_enter(self.target, self._handler(self.save))
        self.save_button.on_click(self._handler(lambda _b: self.save()))
        self.archive_button.on_click(self._handler(lambda _b: self.toggle_archived()))
        self.goal_picker.observe(self._handler(self._on_pick), names="value")
        if not self.participant_known:
            self.save_button.disabled = True
            _say(self.status, _unknown_participant_message(store, participant_id))
            self.widget = W.VBox([W.HTML("<h3>Goals</h3>"), self.status],
                                 layout=W.Layout(max_width=FORM_MAX_WIDTH))
            return
        row = lambda *ws: W.HBox(list(ws), layout=W.Layout(align_items="center"))  # noqa: E731
        self.widget = W.VBox([
            W.HTML(f"<b>Goals: {html.escape(participant_id)}</b>"),
            self.goal_picker,
            row(self.title, self.messages["title"]),
            self.element,
            row(self.freq_times, self.freq_days, self.messages["freq_times"]),
            # served: a new goal starts on the day it is added (the session sets it)
            row(self.start_date, self.messages["start_date"]) if not self.served else W.HBox([]),
            row(self.due_date, W.HTML('<span style="font-size:12px;color:#555">optional</span>'),
                self.messages["due_date"]),
            row(self.target, self.messages["target"]),
            W.HBox([self.save_button, self.archive_button], layout=W.Layout(margin="6px 0")),
            self.status, self.goal_list,
        ], layout=W.Layout(max_width=FORM_MAX_WIDTH, width="100%"))
        self.widget.add_class("mastery-goals")
        self._refresh()

    @classmethod
    def for_session(cls, session, store, *, today=None) -> "GoalForm":
        """The goal form of a served page: the session's own goals, saved through
        :meth:`ParticipantSession.save_goal <mastery_analysis.access.ParticipantSession.save_goal>`
        and ``archive_goal`` (which choose the goal id and the start date themselves; an
        archived goal stays archived there).

        Parameters
        ----------
        session : ParticipantSession
        store : Store
            The store the session was made on (read for the participant's own goals only).
        today : date-like, optional
        """
        return cls(store, session.participant_id, framework=session.framework, today=today,
                   session=session)

    def _goals(self) -> pd.DataFrame:
        return self.store.goals(participant=self.participant_id, include_archived=True)

    def _refresh(self):
        """Reread the goals (once), list them, and return the form to a blank new goal."""
        goals = self._goals()
        options = [("(new goal)", "")] + [
            (f"{g.title}{' [archived]' if g.archived else ''} ({g.goal_id})", g.goal_id)
            for g in goals.itertuples(index=False)]
        self._loading = True
        try:
            self.goal_picker.options = options
            self.goal_picker.value = ""
        finally:
            self._loading = False
        self._show("", goals)
        rows = "".join(
            f"<tr><td>{html.escape(g.title)}</td><td>{html.escape(self.framework.labels.get(g.element, '') if isinstance(g.element, str) else '')}</td>"
            f"<td>{g.freq_times}x / {g.freq_days} d</td>"
            f"<td>{pd.Timestamp(g.start_date).date().isoformat()}</td>"
            f"<td>{pd.Timestamp(g.due_date).date().isoformat() if pd.notna(g.due_date) else ''}</td>"
            f"<td>{'archived' if g.archived else 'active'}</td></tr>"
            for g in goals.itertuples(index=False))
        self.goal_list.value = (
            '<table style="font-size:12px;text-align:left" cellpadding="3"><tr><th>goal</th>'
            "<th>element</th><th>frequency</th><th>start</th><th>due</th><th>state</th></tr>"
            f"{rows}</table>" if rows
            else _info_html("No goals yet: fill in a title and save to add the first one."))

    def _on_pick(self, change):
        if not self._loading:
            self._show(change["new"], self._goals())

    def _show(self, gid, goals):
        """Fill the fields with goal ``gid`` of ``goals`` (blank for a new goal)."""
        for m in self.messages.values():
            _say(m, None)
        goals = goals.set_index("goal_id")
        if not gid or gid not in goals.index:
            self.title.value, self.target.value = "", ""
            self.element.value = ""
            self.freq_days.value, self.freq_times.value = 1, 1
            self.start_date.value, self.due_date.value = self.today, None
            self.archive_button.disabled = True
            self.archive_button.description = "Archive"
            return
        g = goals.loc[gid]
        self.title.value = g["title"]
        self.target.value = g["target"] if isinstance(g["target"], str) else ""
        self.element.value = g["element"] if g["element"] in self.framework.keys else ""
        self.freq_days.value = int(g["freq_days"])
        self.freq_times.value = int(g["freq_times"])
        self.start_date.value = pd.Timestamp(g["start_date"]).date()
        self.due_date.value = pd.Timestamp(g["due_date"]).date() if pd.notna(g["due_date"]) else None
        self.archive_button.disabled = False
        self.archive_button.description = "Restore" if bool(g["archived"]) else "Archive"
        if self.served and bool(g["archived"]):  # a served page archives; restoring is the coach's
            self.archive_button.disabled = True
            self.archive_button.description = "Archived"

    def _collect(self):
        msgs = {k: None for k in self.messages}
        title = self.title.value.strip()
        if not title:
            msgs["title"] = "give the goal a title"
        elif len(title) > TEXT_MAX:
            msgs["title"] = f"the title has {len(title)} characters; at most {TEXT_MAX}"
        if self.freq_times.value > self.freq_days.value:
            msgs["freq_times"] = (f"at most {self.freq_days.value} times every {self.freq_days.value} "
                                  "days (a goal counts at most once a day)")
        start, due = self.start_date.value, self.due_date.value
        if start is None:
            msgs["start_date"] = "pick a start date"
        if due is not None and start is not None and due < start:
            msgs["due_date"] = f"the due date is before the start ({start.isoformat()})"
        target = self.target.value.strip()
        if len(target) > TEXT_MAX:
            msgs["target"] = f"the target has {len(target)} characters; at most {TEXT_MAX}"
        for k, m in msgs.items():
            _say(self.messages[k], m)
        bad = sum(m is not None for m in msgs.values())
        if bad:
            _say(self.status, f"Not saved: {bad} field{'s' if bad > 1 else ''} to fix. Nothing was written.")
            return None
        return {"title": title, "element": self.element.value or None, "freq_times": self.freq_times.value,
                "freq_days": self.freq_days.value, "start_date": start, "due_date": due,
                "target": target or None}

    def _write(self, row: dict) -> bool:
        try:
            self.store.write("goals", pd.DataFrame([row]),
                             where=f"goal '{row['title']}' of {self.participant_id}")
        except Exception as exc:  # a refused write or a database error: say it, keep the form
            _say(self.status, f"Could not save the goal: {exc} Nothing was written; what you "
                              "typed is still here.")
            return False
        return True

    def _save_served(self, fields: dict) -> bool:
        """Save through the session (it checks the goal is this person's and every value)."""
        gid = self.goal_picker.value or None
        try:
            gid = self._session.save_goal(
                title=fields["title"], goal_id=gid, element=fields["element"],
                freq_times=fields["freq_times"], freq_days=fields["freq_days"],
                due_date=fields["due_date"], target=fields["target"])
        except Exception as exc:  # a refusal or a database error: say it, keep the form
            _say(self.status, f"Could not save the goal: {self._failure(exc)} Nothing was "
                              "written; what you typed is still here.")
            return False
        verb = "Updated" if self.goal_picker.value else "Added"
        self.last_goal_id = gid
        self._refresh()
        _say(self.status, f"{verb} goal '{fields['title']}'.", "ok")
        return True

    def save(self) -> bool:
        """Validate and write the goal in the form (a new goal, or a new version of the picked one).

        Returns
        -------
        bool
            True when written; otherwise the messages say why and the form keeps its values.
        """
        if not self.participant_known:
            _say(self.status, _unknown_participant_message(self.store, self.participant_id))
            return False
        fields = self._collect()
        if fields is None:
            return False
        if self.served:
            return self._save_served(fields)
        gid = self.goal_picker.value
        if not gid:
            taken = self.store.history("goals")["goal_id"].unique()
            gid, archived, verb = goal_id_for(fields["title"], taken), False, "Added"
        else:
            archived, verb = bool(self._goals().set_index("goal_id").at[gid, "archived"]), "Updated"
        if not self._write({"goal_id": gid, "participant_id": self.participant_id, **fields,
                            "archived": archived}):
            return False
        self.last_goal_id = gid
        self._refresh()
        _say(self.status, f"{verb} goal '{fields['title']}' (id {gid}).", "ok")
        return True

    def toggle_archived(self) -> bool:
        """Archive the picked goal, or restore it when it is archived (its saved fields unchanged).

        Returns
        -------
        bool
            True when written.
        """
        gid = self.goal_picker.value
        if not gid:
            _say(self.status, "Pick a goal to archive first.")
            return False
        if self.served:
            try:
                self._session.archive_goal(gid)
            except Exception as exc:  # a refusal or a database error
                _say(self.status, f"Could not archive the goal: {self._failure(exc)}")
                return False
            title = self._goals().set_index("goal_id").at[gid, "title"]
            self.last_goal_id = gid
            self._refresh()
            _say(self.status, f"Archived goal '{title}'.", "ok")
            return True
        g = self._goals().set_index("goal_id").loc[gid]
        row = {"goal_id": gid, "participant_id": self.participant_id, "title": g["title"],
               "element": g["element"], "freq_times": int(g["freq_times"]),
               "freq_days": int(g["freq_days"]), "start_date": g["start_date"],
               "due_date": g["due_date"], "target": g["target"], "archived": not bool(g["archived"])}
        row = {k: (None if not isinstance(v, (str, bool)) and pd.isna(v) else v)  # NaN -> None
               for k, v in row.items()}
        if not self._write(row):
            return False
        self.last_goal_id = gid
        self._refresh()
        _say(self.status, f"{'Archived' if row['archived'] else 'Restored'} goal '{g['title']}'.", "ok")
        return True


# --------------------------------------------------------------------------- assessment
_LIKERT_CSS = """<style>
.mastery-likert .widget-radio-box {flex-direction: row !important; flex-wrap: nowrap;}
.mastery-likert .widget-radio-box label {margin-right: 10px; width: auto !important;}
</style>"""


class AssessmentForm(_Form):
    """The questionnaires of one phase, saved as responses.

    A phase asks the questionnaires the coach chose for the participant's cohort (``mastery
    cohort phase NAME --open baseline --instrument pearlin_mastery``), in that order, each
    with its own answer scale; without a choice, the framework's own questionnaire.

    Parameters
    ----------
    store : Store
    participant_id : str
    phase : {'baseline', 'mid', 'post'}
    framework : Framework or str, optional
        Defaults to the store's framework; its questionnaire is asked when no instrument is.
    instruments : list of str or Questionnaire, optional
        The questionnaires to ask; default: the cohort's choice for ``phase`` (the store's
        ``cohort_instruments``), else the framework's questionnaire.
    day : date-like, optional
        The day of the assessment; defaults to ``today``.
    today : date-like, optional
        Defaults to ``datetime.date.today()``; later days are refused.

    Attributes
    ----------
    widget : ipywidgets.Box
    questionnaires : list of Questionnaire
        What is asked, in order; ``questionnaire`` is the first (None when there is none).
    items : dict of item id -> ipywidgets.RadioButtons
        One radio group per item, questionnaire by questionnaire in their order; value
        ``None`` until answered, else an integer on the item's questionnaire scale.
        Reverse-coded items are shown and stored like the others (raw answers; scoring
        reverses them).
    item_messages : dict of item id -> ipywidgets.HTML
    date_picker : ipywidgets.DatePicker
        Picking a day that holds answers of this phase loads them for editing.
    date_message : ipywidgets.HTML
    save_button : ipywidgets.Button
    status : ipywidgets.HTML

    Raises
    ------
    ValidationError
        When ``phase`` is not one of the phases.
    """

    def __init__(self, store, participant_id: str, *, phase: str, framework=None, instruments=None,
                 day=None, today=None, session=None):
        self._session = session
        if phase not in PHASES:
            raise ValidationError("responses", [{"row": None, "column": "phase", "value": phase,
                                                 "expected": "'baseline', 'mid' or 'post'"}])
        self.store = store
        self.participant_id = participant_id
        self.phase = phase
        self.framework = load_framework(framework) if framework is not None else store.framework
        self.today = as_day(today) if today is not None else dt.date.today()
        self.participant_known = session is not None or store.has_participant(participant_id)
        self.questionnaires = self._asked(instruments) if self.participant_known else []
        self.questionnaire = q = self.questionnaires[0] if self.questionnaires else None
        self._instrument_of = {i.id: qq.instrument for qq in self.questionnaires for i in qq.items}
        self.date_picker = W.DatePicker(value=as_day(day) if day is not None else self.today,
                                        description="Day", layout=W.Layout(width="230px"))
        self.date_message = _message()
        self.save_button = W.Button(description="Save answers", button_style="primary",
                                    icon="check", layout=W.Layout(width="140px"))
        self.status = W.HTML()
        self.items, self.item_messages = {}, {}
        self.save_button.on_click(self._handler(lambda _b: self.save()))
        problem = None
        if not self.participant_known:
            problem = _unknown_participant_message(store, participant_id)
        elif q is None:
            problem = (f"The framework '{self.framework.name}' has no questionnaire, so there is "
                       "nothing to assess; use a framework with one (career_mastery has one).")
        if problem:
            self.save_button.disabled = True
            _say(self.status, problem)
            self.widget = W.VBox([W.HTML("<h3>Assessment</h3>"), self.status],
                                 layout=W.Layout(max_width=FORM_MAX_WIDTH))
            return
        sections = []
        n = 0
        for qq in self.questionnaires:
            options = list(range(qq.scale.min, qq.scale.max + 1))
            legend = ", ".join(f"{v} = {qq.scale.labels[v]}" for v in options if v in qq.scale.labels)
            heading = (f"<b>{html.escape(qq.title)}: {html.escape(participant_id)}, {phase}</b>"
                       if len(self.questionnaires) == 1 else f"<b>{html.escape(qq.title)}</b>")
            sections.append(W.HTML(f"{heading}<br><span style='font-size:12px'>How much do you "
                                   f"agree? {html.escape(legend)}</span>"))
            for item in qq.items:
                n += 1
                radios = W.RadioButtons(options=options, index=None, orientation="horizontal",
                                        layout=W.Layout(width="auto"))
                radios.add_class("mastery-likert")
                radios.add_class(f"mastery-item-{item.id}")
                self.items[item.id] = radios
                self.item_messages[item.id] = _message()
                text = W.HTML(f'<div style="line-height:1.25">{n}. {html.escape(item.text)}</div>')
                sections.append(W.GridBox([text, radios, self.item_messages[item.id]], layout=W.Layout(
                    grid_template_columns="minmax(260px, 1fr) auto minmax(0, 180px)",
                    align_items="center", grid_gap="0 8px")))
        top = ([] if len(self.questionnaires) == 1 else
               [W.HTML(f"<b>Assessment: {html.escape(participant_id)}, {phase}</b>")])
        self.date_picker.observe(self._handler(self._on_day), names="value")
        self.widget = W.VBox([
            W.HTML(_LIKERT_CSS), *top,
            W.HBox([self.date_picker, self.date_message], layout=W.Layout(align_items="center")),
            *sections,
            W.HBox([self.save_button], layout=W.Layout(margin="6px 0")),
            self.status,
        ], layout=W.Layout(max_width=FORM_MAX_WIDTH, width="100%"))
        self.widget.add_class("mastery-assessment")
        self._on_day({"new": self.date_picker.value})

    def _asked(self, instruments) -> list:
        """The questionnaires to ask: given, the session's, the cohort's choice, the framework's."""
        from ..framework import load_instrument

        if instruments is not None:
            return [load_instrument(i) for i in instruments]
        if self._session is not None:
            return self._session.questionnaires
        cohort = self.store.participants(participant=self.participant_id)["cohort"]
        name = cohort.iloc[0] if len(cohort) else None
        if isinstance(name, str) and name:
            cohort_fw = self.store.cohort_framework(name)
            if cohort_fw.name == self.framework.name:
                return [load_instrument(i) for i in self.store.cohort_instruments(name, self.phase)]
        return [self.framework.questionnaire] if self.framework.questionnaire is not None else []

    @classmethod
    def for_session(cls, session, store, *, day=None, today=None) -> "AssessmentForm | None":
        """The questionnaire of a served page: the phase the coach opened for the session's
        cohort, saved through :meth:`ParticipantSession.answer
        <mastery_analysis.access.ParticipantSession.answer>`.

        Returns
        -------
        AssessmentForm or None
            None when no phase is open.
        """
        phase = session.open_phase
        if phase is None:
            return None
        return cls(store, session.participant_id, phase=phase, framework=session.framework,
                   day=day, today=today, session=session)

    def load_day(self, day) -> None:
        """Fill the answers saved on ``day`` for this phase (or clear them).

        Parameters
        ----------
        day : date-like
        """
        day = as_day(day)
        saved = self.store.responses(participant=self.participant_id, start=day, end=day)
        saved = saved.loc[saved["instrument"].isin(set(self._instrument_of.values()))]
        mine = saved.loc[saved["phase"] == self.phase]
        mine = dict(zip(zip(mine["instrument"], mine["item"]), mine["value"]))
        for item_id, radios in self.items.items():
            key = (self._instrument_of[item_id], item_id)
            value = int(mine[key]) if key in mine else None
            radios.value = value if value in radios.options else None
            _say(self.item_messages[item_id], None)
        other = sorted(set(saved["phase"]) - {self.phase})
        if other:
            _say(self.status, f"{day.isoformat()} already holds {' and '.join(other)} answers; "
                              f"saving these {self.phase} answers on the same day replaces them. "
                              "Pick another day to keep both.")
        elif len(mine):
            _say(self.status, f"Loaded the {self.phase} answers of {day.isoformat()} for editing; "
                              "saving adds a new version.", "info")
        else:
            _say(self.status, None)

    def save(self) -> bool:
        """Validate (every item answered, a day not in the future) and write the responses.

        Returns
        -------
        bool
            True when written; otherwise the messages say why and the answers stay.
        """
        if not self.participant_known or self.questionnaire is None:
            return False
        day = self.date_picker.value
        day_problem = _check_day(day, self.today)
        _say(self.date_message, day_problem)
        missing = [i for i, r in self.items.items() if r.value is None]
        for item_id in self.items:
            _say(self.item_messages[item_id], "please answer" if item_id in missing else None)
        if day_problem or missing:
            what = [f"{len(missing)} item{'s' if len(missing) != 1 else ''} unanswered"] if missing else []
            what += ["the day"] if day_problem else []
            _say(self.status, f"Not saved: {' and '.join(what)} (see the messages next to them). "
                              "Nothing was written.")
            return False
        try:
            if self.served:  # the session checks the phase is open and every answer again
                n = self._session.answer({(self._instrument_of[item_id], item_id): float(r.value)
                                          for item_id, r in self.items.items()}, day=day)
            else:
                frame = pd.DataFrame([{"participant_id": self.participant_id, "date": day,
                                       "phase": self.phase, "instrument": self._instrument_of[item_id],
                                       "item": item_id, "value": float(r.value)}
                                      for item_id, r in self.items.items()])
                n = self.store.write("responses", frame,
                                     where=f"{self.phase} assessment of {self.participant_id} on {day}")
        except Exception as exc:  # a refused write or a database error: say it, keep the answers
            _say(self.status, f"Could not save: {self._failure(exc)} Nothing was written; your "
                              "answers are still here.")
            return False
        _say(self.status, f"Saved {n} {self.phase} answers for {day.isoformat()}.", "ok")
        return True
