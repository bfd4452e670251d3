"""ipywidgets forms and the served app pages; the only part of the package that imports ipywidgets.

- :mod:`.forms`: the check-in, goal and assessment forms of the everyday notebooks (one
  person, their own store).
- :mod:`.app`: the pages ``mastery serve`` shows, the participant's and the coach's, where
  a typed access code decides whose rows a page reaches.

The names of the forms are re-exported here, so ``from mastery_analysis.widgets import
CheckInForm`` keeps working.
"""

from .forms import AssessmentForm, CheckInForm, GoalForm, GoalInputs, current_streak, goal_id_for

__all__ = ["CheckInForm", "GoalForm", "AssessmentForm", "GoalInputs", "goal_id_for",
           "current_streak", "participant_page", "coach_page"]


def __getattr__(name):
    # the app pages import access and reports: only load them when a page is asked for
    if name in ("participant_page", "coach_page", "ParticipantPage", "CoachPage"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
