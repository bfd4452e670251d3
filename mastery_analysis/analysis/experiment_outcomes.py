"""A self-experiment's outcome and today's condition, from the tidy tables (pure frames).

The statistics of a self-experiment live in :mod:`mastery_analysis.analysis.experiments`;
this module turns what a person records into the ``date``/``value`` frame those functions
read, and says where an experiment stands on a given day.

Outcomes (``outcome_kind``, ``outcome_ref``):

``element``
    The person's current rating of the element that day.
``goal_progress``
    The change in the goal's progress since the entry before (percentage points), on the day
    of the later entry. Progress *levels* drift and would mistake a trend for an effect; the
    change is what a day can move. The first entry has no change and no value.
``goal_actions``
    The number of actions logged for the goal that day (a day without a row has no value:
    the check-in writes every active goal, zero included).
``note``
    A numeric note of the person's own: ``responses`` rows with instrument ``note`` and item
    ``outcome_ref``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import AnalysisInputError
from ._grouped import require_frame

OUTCOME_COLUMNS = ["date", "value"]
STATUS_COLUMNS = ["experiment_id", "date", "day", "days", "start", "end", "period", "condition",
                  "washout", "condition_text", "status"]


def outcome_series(frames, *, outcome_kind: str, outcome_ref: str, participant_id: str) -> pd.DataFrame:
    """The outcome of a self-experiment as one value per day.

    Parameters
    ----------
    frames : dict of table name -> DataFrame
        The tables the outcome needs (``ratings`` for ``element``, ``progress`` for
        ``goal_progress``, ``actions`` for ``goal_actions``, ``responses`` for ``note``), with
        the store's columns; rows of other participants are ignored.
    outcome_kind : {"element", "goal_progress", "goal_actions", "note"}
    outcome_ref : str
        The element key, goal id or note name.
    participant_id : str

    Returns
    -------
    DataFrame
        ``date`` (datetime64, one row per day with a value, sorted) and ``value`` (float).
    """
    table, column, conds = {
        "element": ("ratings", "rating", {"element": outcome_ref, "kind": "current"}),
        "goal_progress": ("progress", "percent", {"goal_id": outcome_ref}),
        "goal_actions": ("actions", "count", {"goal_id": outcome_ref}),
        "note": ("responses", "value", {"instrument": "note", "item": outcome_ref}),
    }.get(outcome_kind, (None, None, None))
    if table is None:
        raise AnalysisInputError(
            f"outcome_series: outcome_kind={outcome_kind!r} is not an outcome; expected element, "
            "goal_progress, goal_actions or note")
    if table not in frames:
        raise AnalysisInputError(f"outcome_series: a '{outcome_kind}' outcome needs the {table} frame")
    frame = frames[table]
    require_frame(frame, ["participant_id", "date", column, *conds], name=table, function="outcome_series")
    keep = frame["participant_id"] == participant_id
    for col, value in conds.items():
        keep &= frame[col] == value
    rows = frame.loc[keep, ["date", column]]
    out = pd.DataFrame({"date": pd.to_datetime(rows["date"]).dt.normalize().astype("datetime64[ns]"),
                        "value": pd.to_numeric(rows[column], errors="coerce").astype(float)})
    out = out.dropna().groupby("date", as_index=False)["value"].last()  # one value a day
    if outcome_kind == "goal_progress":
        out["value"] = out["value"].diff()
        out = out.dropna()
    return out.sort_values("date").reset_index(drop=True)[OUTCOME_COLUMNS]


def experiment_status(experiments: pd.DataFrame, schedules, day) -> pd.DataFrame:
    """Where each experiment stands on ``day``: its condition in words, or not started/ended.

    Parameters
    ----------
    experiments : DataFrame
        ``experiment_id``, ``condition_a``, ``condition_b`` (the store's ``experiments()``).
    schedules : dict of experiment_id -> DataFrame
        Each experiment's schedule (``date``, ``period``, ``condition``, ``washout``).
    day : date-like

    Returns
    -------
    DataFrame
        One row per experiment: ``experiment_id``, ``date`` (the day), ``day`` (its number in
        the schedule from 1, or missing), ``days`` (the schedule's length), ``period``
        (missing outside the schedule), ``condition`` (``"A"``, ``"B"`` or missing),
        ``washout`` (bool), ``condition_text`` (the condition in the person's words, or
        missing), ``status`` (``"not started"``, ``"running"`` or ``"finished"``).
    """
    require_frame(experiments, ["experiment_id", "condition_a", "condition_b"], name="experiments",
                  function="experiment_status")
    when = pd.Timestamp(day).normalize()
    rows = []
    for exp in experiments.itertuples(index=False):
        sched = schedules[exp.experiment_id]
        dates = pd.to_datetime(sched["date"])
        hit = np.flatnonzero((dates == when).to_numpy())
        row = {"experiment_id": exp.experiment_id, "date": when, "day": pd.NA, "days": len(sched),
               "start": dates.min(), "end": dates.max(),
               "period": pd.NA, "condition": None, "washout": False, "condition_text": None}
        if len(hit):
            i = int(hit[0])
            cond = str(sched["condition"].iloc[i])
            row.update(day=i + 1, period=int(sched["period"].iloc[i]), condition=cond,
                       washout=bool(sched["washout"].iloc[i]),
                       condition_text=exp.condition_a if cond == "A" else exp.condition_b, status="running")
        else:
            row["status"] = "not started" if len(dates) and when < dates.min() else "finished"
        rows.append(row)
    out = pd.DataFrame(rows, columns=STATUS_COLUMNS)
    out["day"] = out["day"].astype("Int64")
    out["period"] = out["period"].astype("Int64")
    out["washout"] = out["washout"].astype(bool)
    return out


def _num(x, digits=2) -> str:
    return "unbounded" if not np.isfinite(x) else f"{x:.{digits}f}"


def _p(p) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def effect_sentence(effect, *, title: str, condition_a: str, condition_b: str, outcome: str,
                    significant: bool | None = None) -> str:
    """One sentence about a self-experiment's result, honest about what it can claim.

    Parameters
    ----------
    effect : mapping or one-row DataFrame
        A row of :func:`~mastery_analysis.analysis.experiments.experiment_effect`
        (``finished``, ``estimate``, ``ci_low``, ``ci_high``, ``p_value``, ``n_a``, ``n_b``,
        ``randomised``, ``alpha``, ``planned_end``).
    title, condition_a, condition_b, outcome : str
        The plan's words.
    significant : bool, optional
        Whether to call the difference a finding (default: ``p_value < alpha``; the insights
        pass their false-discovery decision across experiments).

    Returns
    -------
    str
        Before the planned end: that there is no result yet. After it: the difference B - A
        with its interval and p, called a finding only when p < alpha in a randomised
        analysis; otherwise "no clear difference", with what the interval still allows.
    """
    r = effect.iloc[0] if isinstance(effect, pd.DataFrame) else effect
    end = pd.Timestamp(r["planned_end"])
    if not bool(r["finished"]):
        return (f"Experiment '{title}' runs until {end:%Y-%m-%d}: no result yet "
                f"({int(r['n_a'])} A and {int(r['n_b'])} B days with a value so far).")
    level = int(round(100 * (1 - float(r["alpha"]))))
    numbers = (f"B - A = {_num(r['estimate'])} on {outcome} ({level}% CI {_num(r['ci_low'])} to "
               f"{_num(r['ci_high'])}, randomisation p {_p(r['p_value'])}; "
               f"{int(r['n_a'])} A days, {int(r['n_b'])} B days)")
    if not bool(r["randomised"]):
        return f"Experiment '{title}', as followed (not randomised): {numbers}."
    if (r["p_value"] < r["alpha"]) if significant is None else significant:
        direction = "higher" if r["estimate"] > 0 else "lower"
        return (f"Experiment '{title}': on days of \"{condition_b}\" the outcome was {direction} than on "
                f"days of \"{condition_a}\": {numbers}.")
    return (f"Experiment '{title}': no clear difference between \"{condition_a}\" and "
            f"\"{condition_b}\": {numbers}; the interval shows the effects the data cannot rule out.")
