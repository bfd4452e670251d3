"""Widgets of self-experiments: the check-in's "today's condition" group and the plan form.

- :class:`ExperimentCheck`: the part of the daily check-in that shows each running
  experiment's condition for the day, in the person's words, and asks "did you follow it
  today?" and, for an experiment whose outcome is a numeric note (``note:NAME``), "NAME
  today" (a finite number). The check-in form (:class:`~mastery_analysis.widgets.forms.CheckInForm`) holds
  one and saves its answers with the rest of the day, in the same transaction.
- :class:`ExperimentPlanForm`: plan a new experiment (notebook ``05_self_experiment``).

The participant is always the one the form was made for (a Python value, bound at sign-in on
a served page); widget values only ever carry answers, never identity. Text people typed is
shown through ``W.Label`` or escaped.
"""

from __future__ import annotations

import datetime as dt
import html

import ipywidgets as W
import pandas as pd

from ..errors import MasteryError
from ..schema import as_day, format_outcome

__all__ = ["ExperimentCheck", "ExperimentPlanForm", "FOLLOW_OPTIONS"]

#: The answers of "did you follow it today?" and what each records (None: nothing).
FOLLOW_OPTIONS = (("Not answered", None), ("Yes", True), ("No", False))


class ExperimentCheck:
    """Today's condition of each running experiment, and "did you follow it today?".

    Parameters
    ----------
    store : Store
        Read for the participant's own experiments only.
    participant_id : str
        Whose experiments (from Python state, never from a widget).

    Attributes
    ----------
    box : ipywidgets.VBox
        The group (hidden when no experiment runs on the day; CSS class
        ``mastery-experiments``).
    questions : dict of experiment_id -> ipywidgets.ToggleButtons
        One "did you follow it today?" per running experiment (options
        :data:`FOLLOW_OPTIONS`), set to the day's saved answer when there is one.
    notes : dict of name -> ipywidgets.Text
        One "NAME today" per note outcome (``note:NAME``) of the running experiments, set to
        the day's saved value when there is one; :meth:`note_values` reads them.
    note_messages : dict of name -> ipywidgets.HTML
        What is wrong with a typed note value (empty when nothing is).
    running : DataFrame
        The rows of :func:`mastery_analysis.self_experiments.running_on` for the day.
    """

    def __init__(self, store, participant_id: str):
        self.store = store
        self.participant_id = participant_id
        self.questions: dict[str, W.ToggleButtons] = {}
        self.notes: dict[str, W.Text] = {}
        self.note_messages: dict[str, W.HTML] = {}
        self.running = pd.DataFrame()
        self.box = W.VBox(layout=W.Layout(display="none", margin="4px 0"))
        self.box.add_class("mastery-experiments")

    def load_day(self, day) -> None:
        """Show the experiments running on ``day`` (none: the group is hidden)."""
        from ..self_experiments import running_on

        day = as_day(day)
        self.running = running_on(self.store, self.participant_id, day)
        self.questions, self.notes, self.note_messages = {}, {}, {}
        saved = {}
        if self.running["outcome"].astype(str).str.startswith("note:").any():
            done = self.store.responses(participant=self.participant_id, start=day, end=day)
            done = done.loc[done["instrument"] == "note"]
            saved = dict(zip(done["item"], done["value"]))
        rows = []
        for r in self.running.itertuples(index=False):
            title = W.HTML(f"<b>Experiment: {html.escape(str(r.title))}</b> "
                           f'<span style="font-size:11px;color:#555">day {r.day} of {r.days}'
                           f'{", a washout day (left out of the analysis)" if r.washout else ""}</span>')
            condition = W.Label(f"Today: {r.condition_text}", layout=W.Layout(width="98%"))
            condition.add_class(f"mastery-condition-{r.experiment_id}")
            question = W.ToggleButtons(options=list(FOLLOW_OPTIONS), index=0,
                                       description="Did you follow it today?",
                                       style={"description_width": "initial", "button_width": "90px"})
            question.add_class(f"mastery-followed-{r.experiment_id}")
            if not pd.isna(r.followed):
                question.value = bool(r.followed)
            self.questions[r.experiment_id] = question
            rows += [title, condition, question]
            kind, _, name = str(r.outcome).partition(":")
            if kind == "note" and name not in self.notes:
                rows += self._note_input(name, saved.get(name))
        self.box.children = rows
        self.box.layout.display = None if rows else "none"

    def _note_input(self, name: str, value) -> list:
        box = W.Text(value="" if value is None or pd.isna(value) else f"{float(value):g}",
                     description=f"{name} today", placeholder="a number, like 6 or 6.5",
                     style={"description_width": "initial"}, layout=W.Layout(width="320px"))
        box.add_class(f"mastery-note-{name}")
        message = W.HTML(value="")
        self.notes[name], self.note_messages[name] = box, message
        return [box, message]

    def note_values(self) -> tuple[dict[str, float], int]:
        """The typed note values (name -> number) and how many are wrong.

        An empty field records nothing; anything else must be a finite number (a decimal
        comma is read as a point). What is wrong is shown beside the field.
        """
        out, problems = {}, 0
        for name, box in self.notes.items():
            raw = (box.value or "").strip()
            value, error = None, None
            if raw:
                try:
                    value = float(raw.replace(",", "."))
                except ValueError:
                    error = f"'{raw}' is not a number; type {name} today as a number, like 6 or 6.5"
                else:
                    if value != value or value in (float("inf"), float("-inf")):
                        error = f"'{raw}' is not a finite number; type {name} today as a number, like 6 or 6.5"
            self.note_messages[name].value = (
                f'<span style="color:#b00020">{html.escape(error)}</span>' if error else "")
            if error:
                problems += 1
            elif value is not None:
                out[name] = value
        return out, problems

    def answers(self) -> dict[str, bool]:
        """The answered questions: experiment_id -> followed (True or False)."""
        out = {}
        for xid, question in self.questions.items():
            value = question.value
            if value is True or value is False:
                out[xid] = value
        return out


class ExperimentPlanForm:
    """Plan a self-experiment: the two conditions, the outcome, the design and its length.

    Parameters
    ----------
    store : Store
    participant_id : str
    today : date-like, optional
        The first day a plan may start (default ``datetime.date.today()``); the start picker
        defaults to the day after.

    Attributes
    ----------
    widget : ipywidgets.VBox
    title, condition_a, condition_b : ipywidgets.Text
    outcome : ipywidgets.Dropdown
        The outcomes the person records: each element's rating, each goal's progress change
        and action count.
    design : ipywidgets.Dropdown
    period_days, periods, washout_days, seed : ipywidgets.IntText
        The seed starts as a fresh random number; the plan keeps whichever is used.
    min_effect : ipywidgets.FloatText
    start : ipywidgets.DatePicker
    plan_button : ipywidgets.Button
    status : ipywidgets.Textarea
        The schedule and how long the plan should be, or what was wrong (plain text).
    planned : dict or None
        The plan last kept (see :func:`mastery_analysis.self_experiments.plan_new_experiment`).
    """

    def __init__(self, store, participant_id: str, *, today=None):
        self.store = store
        self.participant_id = participant_id
        self.today = as_day(today) if today is not None else dt.date.today()
        self.planned = None
        fw = store.framework
        goals = store.goals(participant=participant_id, include_archived=False)
        options = [(f"Rating: {e.label}", format_outcome("element", e.key)) for e in fw.elements]
        for g in goals.itertuples(index=False):
            options += [(f"Goal '{g.title}': progress change", format_outcome("goal_progress", g.goal_id)),
                        (f"Goal '{g.title}': actions", format_outcome("goal_actions", g.goal_id))]
        wide = W.Layout(width="98%")
        style = {"description_width": "150px"}
        self.title = W.Text(description="Question", placeholder="Does deep work before ten help me focus?",
                            layout=wide, style=style)
        self.condition_a = W.Text(description="A (as usual)", placeholder="Usual mornings",
                                  layout=wide, style=style)
        self.condition_b = W.Text(description="B (to try)", placeholder="Two hours of deep work before 10:00",
                                  layout=wide, style=style)
        self.outcome = W.Dropdown(options=options, description="Outcome", style=style, layout=wide)
        self.design = W.Dropdown(options=[("days at random, in blocks", "days"),
                                          ("pairs of periods (AB or BA)", "pairs"),
                                          ("periods in a random order", "alternating")],
                                 value="days", description="Design", style=style)
        self.period_days = W.IntText(value=2, description="Days per period", style=style)
        self.periods = W.IntText(value=20, description="Periods", style=style)
        self.washout_days = W.IntText(value=0, description="Washout days", style=style)
        self.start = W.DatePicker(value=self.today + dt.timedelta(days=1), description="Start", style=style)
        from ..self_experiments import draw_seed

        self.seed = W.IntText(value=draw_seed(), description="Seed", style=style)  # kept with the plan
        self.min_effect = W.FloatText(value=1.0, description="Smallest effect", style=style)
        self.plan_button = W.Button(description="Plan it", button_style="primary", icon="check")
        self.status = W.Textarea(layout=W.Layout(width="98%", height="180px"), disabled=True)
        self.plan_button.on_click(lambda _b: self.plan())
        self.widget = W.VBox([W.HTML(f"<b>Plan a self-experiment: {html.escape(participant_id)}</b>"),
                              self.title, self.condition_a, self.condition_b, self.outcome, self.design,
                              self.period_days, self.periods, self.washout_days, self.start, self.seed,
                              self.min_effect, self.plan_button, self.status],
                             layout=W.Layout(max_width="800px"))
        self.widget.add_class("mastery-experiment-plan")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def plan(self) -> bool:
        """Keep the plan and its schedule; the status says what was kept, or what was wrong.

        Returns
        -------
        bool
            True when kept. Nothing is written when anything is wrong.
        """
        from ..self_experiments import plan_lines, plan_new_experiment, power_lines

        try:
            made = plan_new_experiment(
                self.store, participant_id=self.participant_id, title=self.title.value,
                condition_a=self.condition_a.value, condition_b=self.condition_b.value,
                outcome=self.outcome.value, design=self.design.value,
                period_days=int(self.period_days.value), periods=int(self.periods.value),
                washout_days=int(self.washout_days.value), start=self.start.value,
                seed=int(self.seed.value), min_effect=float(self.min_effect.value) or None,
                today=self.today)
        except MasteryError as exc:
            self.status.value = f"Not planned: {exc}\nNothing was written."
            return False
        self.planned = made
        self.status.value = "\n".join(plan_lines(made["plan"], made["schedule"])
                                      + power_lines(self.store, made["plan"]))
        return True
