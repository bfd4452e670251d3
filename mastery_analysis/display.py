"""Tables for people: worded headers, element labels, p-values and estimates rounded for reading.

The analysis functions return unrounded numbers with short column names (``p_value``,
``slope_low``); :func:`readable` turns such a frame into one for a report or a terminal:
element keys become the framework's labels, p- and q-values read ``< 0.001`` or two
significant digits, estimates and intervals are rounded to a few significant digits, an
interval's two columns become one ("0.11 to 0.27"), booleans read yes/no and the headers are
words. It is display only: it returns strings and never feeds back into computation.
"""

from __future__ import annotations

import math

import pandas as pd

P_COLUMNS = ("p_value", "q_value", "p", "q", "pval", "p_val")
INTERVALS = (("ci_low", "ci_high"), ("slope_low", "slope_high"), ("alpha_ci_low", "alpha_ci_high"))
"""Pairs of columns shown as one interval column, headed by the first one's header."""

HEADERS = {
    "participant_id": "Participant", "name": "Name", "cohort": "Cohort",
    "joined_on": "Joined", "consent_share": "Shares own rows",
    "element": "Element", "kind": "Kind", "subject": "About", "text": "Finding",
    "goal_id": "Goal", "title": "Goal", "date": "Date", "note": "Note",
    "n_periods": "Weeks", "slope": "Slope per week", "slope_low": "95% interval",
    "tau": "Kendall's tau", "p_value": "p", "q_value": "q (FDR)", "direction": "Direction",
    "lag": "Lag (days)", "n": "n", "n_eff": "Effective n", "r": "r",
    "ci_low": "95% interval", "significant": "Holds after FDR", "sufficient": "Enough data",
    "days_needed": "Days needed", "more_days": "More days needed",
    "ac_actions": "Autocorrelation of actions", "ac_progress": "Autocorrelation of progress",
    "score": "Habit strength", "percent": "Progress %", "last_date": "Last entry",
    "expected": "Expected %", "pace": "Pace per week",
    "projected_finish": "Done at this pace", "status": "Status",
    "mean_pre": "Before", "mean_post": "After", "mean_diff": "Change",
    "t": "t", "d_z": "Cohen's d_z", "hedges_g": "Hedges' g",
    "n_reliable_improved": "Improved (RCI)", "n_reliable_declined": "Declined (RCI)",
    "n_subjects": "People", "n_obs": "Weeks observed", "dof": "Degrees of freedom",
    "value": "Estimate", "claim": "Claimed", "suppressed": "Withheld",
    "instrument": "Questionnaire", "scale": "Scale", "phase": "Phase", "n_items": "Items",
    "n_answered": "Answered", "alpha": "Cronbach's alpha", "alpha_ci_low": "Alpha, 95% interval",
    "omega": "McDonald's omega", "published": "Published or assumed",
    "reliability": "Reliability used (RCI)", "reliability_source": "Reliability from",
    "norm_n": "Norm n", "norm_mean": "Norm mean", "norm_sd": "Norm SD", "group": "Norm sample",
    "difference_in_norm_sd": "Difference (norm SDs)",
}
#: Counts: whole numbers shown without decimals.
COUNT_COLUMNS = ("n", "n_eff", "lag", "days_needed", "more_days", "n_items", "n_answered",
                 "n_reliable_improved", "n_reliable_declined", "n_subjects", "n_obs", "norm_n")
"""Column name -> header in words (a column not listed keeps its name, underscores as spaces)."""

WORDS = {"off_track": "off track", "on_track": "on track", "no_data": "no data",
         "action_progress": "action and progress", "goal_pace": "goal pace"}


def format_p(value) -> str:
    """A p- or q-value for reading: ``< 0.001``, else two significant digits; ``–`` if missing."""
    if value is None or pd.isna(value):
        return "–"
    value = float(value)
    if value < 0.001:
        return "< 0.001"
    return round_sig(value, 2)


def round_sig(value, digits: int = 3) -> str:
    """``value`` rounded to ``digits`` significant digits, written without exponent.

    Very small magnitudes (below 1e-6) read as ``0``; missing values as ``–``.
    """
    if value is None or pd.isna(value):
        return "–"
    value = float(value)
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if abs(value) < 1e-6:
        return "0"
    value = float(f"{value:.{digits}g}")  # round first: 0.9999 -> 1.0 has one digit before the point
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return "0" if float(text) == 0 else text


def format_interval(low, high, digits: int = 2) -> str:
    """An interval for reading: ``0.11 to 0.27`` (``–`` when either end is missing)."""
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return "–"
    return f"{round_sig(low, digits)} to {round_sig(high, digits)}"


def header(column: str) -> str:
    """The header in words of a column name."""
    return HEADERS.get(column, column.replace("_", " ").capitalize())


def _cell(value, column: str, digits: int) -> str:
    if value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value)
                         and pd.isna(value)):
        return "–"
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if column in P_COLUMNS:
        return format_p(value)
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        if float(value).is_integer() and column in COUNT_COLUMNS:
            return str(int(value))
        return round_sig(value, digits)
    text = str(value)
    return WORDS.get(text, text)


def readable(frame: pd.DataFrame, *, framework=None, digits: int = 3,
             headers: dict[str, str] | None = None) -> pd.DataFrame:
    """``frame`` ready to show: labels, worded headers, rounded text (display only).

    Parameters
    ----------
    frame : DataFrame
        An analysis result (any columns; known ones get their header and format).
    framework : Framework, optional
        Maps the ``element`` (and ``subject``, ``scale``) keys to the framework's labels.
    digits : int
        Significant digits of estimates (intervals get one fewer, at least two; p- and
        q-values always get two, or ``< 0.001``).
    headers : dict, optional
        Headers for this table that differ from :data:`HEADERS` (column name -> words).

    Returns
    -------
    DataFrame
        The same rows, every value as text; ``ci_low``/``ci_high`` and
        ``slope_low``/``slope_high`` each become one interval column; headers in words.
    """
    out: dict[str, list[str]] = {}
    labels = dict(framework.labels) if framework is not None else {}
    skip = set()
    words = {**HEADERS, **(headers or {})}

    def header(column):
        return words.get(column, column.replace("_", " ").capitalize())

    for column in frame.columns:
        if column in skip:
            continue
        pair = next((p for p in INTERVALS if p[0] == column and p[1] in frame.columns), None)
        if pair is not None:
            skip.add(pair[1])
            out[_unique(header(column), column, out)] = [format_interval(lo, hi, max(2, digits - 1))
                                   for lo, hi in zip(frame[pair[0]], frame[pair[1]])]
            continue
        values = frame[column]
        if column in ("element", "subject", "scale") and labels:
            out[_unique(header(column), column, out)] = [labels.get(v, _cell(v, column, digits)) if isinstance(v, str)
                                   else _cell(v, column, digits) for v in values]
            continue
        if pd.api.types.is_datetime64_any_dtype(values):
            out[_unique(header(column), column, out)] = [v.strftime("%Y-%m-%d") if not pd.isna(v) else "–" for v in values]
            continue
        out[_unique(header(column), column, out)] = [_cell(v, column, digits) for v in values]
    return pd.DataFrame(out, index=range(len(frame)), dtype=object)


def _unique(name: str, column: str, taken) -> str:
    # two columns with the same header in words (goal_id and title): the second says which
    return name if name not in taken else f"{name} ({column})"


__all__ = ["HEADERS", "format_p", "round_sig", "format_interval", "header", "readable"]
