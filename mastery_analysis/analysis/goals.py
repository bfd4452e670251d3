"""Goal pace: where each goal stands, where it should stand, and where it is heading.

Runs over every goal at once; the recent pace is a Theil-Sen slope computed for all goals
together (:func:`mastery_analysis.analysis._grouped.grouped_theilslopes`, tested against
``scipy.stats.theilslopes`` goal by goal). Nothing depends on the wall clock: ``today``
defaults to the last date in the progress data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import AnalysisInputError
from ._grouped import (
    as_days,
    as_numbers,
    days_to_timestamps,
    goal_ids,
    grouped_theilslopes,
    id_codes,
    match_goals,
    one_day,
    require_frame,
)

STATUSES = ("done", "ahead", "on_track", "at_risk", "off_track", "not_started")
_MAX_PROJECTION_DAYS = 100 * 366  # a projection further out than this is "never": NaT


def goal_pace(goals: pd.DataFrame, progress: pd.DataFrame, *, today=None, window="28D",
              min_entries: int = 3, tolerance: float = 10.0) -> pd.DataFrame:
    """Each goal's latest percent, the percent expected by now, its pace and its status.

    Parameters
    ----------
    goals : DataFrame
        Needs ``goal_id`` and ``participant_id``; ``start_date`` and ``due_date`` are
        optional (a missing or empty start_date means the goal started at its first
        progress entry; without a due_date nothing is expected by a date). Every goal in
        this frame gets one row; progress of goals not in it is ignored.
    progress : DataFrame
        Needs ``participant_id``, ``date``, ``goal_id`` and ``percent``. Entries after
        ``today`` are ignored; of two entries on one day the later row counts.
    today : date-like, optional
        The day to assess. Defaults to the last date in ``progress`` (all participants), or,
        with no progress at all, the latest goal start_date; never the wall clock.
    window : str or Timedelta, default "28D"
        The pace is fitted to the entries of the last ``window`` up to ``today``...
    min_entries : int, default 3
        ...together with at least the last ``min_entries`` entries, however old, so a goal
        updated rarely still gets a pace from its recent updates.
    tolerance : float, default 10.0
        Percentage points within which a goal counts as on schedule (see ``status``).

    Returns
    -------
    DataFrame
        One row per goal in ``goals``, sorted by participant_id and goal_id:

        - ``participant_id`` (str)
        - ``goal_id`` (str)
        - ``percent`` (float): the latest progress entry on or before ``today``; NaN if none
        - ``last_date`` (datetime64[ns]): the day of that entry; NaT if none
        - ``expected`` (float): the percent a straight line from 0 at start_date to 100 at
          due_date reaches at ``today`` (0 before the start, 100 from the due date on);
          NaN without a due_date or without any start
        - ``pace`` (float): percentage points per week, the Theil-Sen slope
          (``scipy.stats.theilslopes``) of percent against time over the entries described
          under ``window`` and ``min_entries``; NaN with fewer than two entry days
        - ``projected_finish`` (datetime64[ns]): for a goal not yet done, the first day on
          which the latest percent, growing at ``pace``, reaches 100 (NaT if pace <= 0, is
          unknown, or the day is more than 100 years away); for a done goal, the first day
          an entry reached 100
        - ``status`` (str), the first rule that applies:

          1. ``"not_started"``: no progress entry on or before ``today`` (percent is NaN);
          2. ``"done"``: percent >= 100;
          3. ``"off_track"``: due_date is before ``today``;
          4. without a due_date: ``"on_track"`` if pace > 0, else ``"at_risk"`` (stalled,
             or a single entry so far);
          5. ``"ahead"``: percent >= expected + tolerance;
          6. ``"on_track"``: percent >= expected - tolerance and the projected finish is on
             or before due_date, or the pace is unknown (one entry day so far);
          7. ``"at_risk"``: on schedule now but the pace misses the due date, or behind by
             more than ``tolerance`` but the pace still finishes by the due date;
          8. ``"off_track"``: behind by more than ``tolerance`` and the pace misses the due
             date (or is unknown).

    Raises
    ------
    AnalysisInputError
        If a required column is missing, a goal_id appears twice, a progress date is
        missing or an option is invalid.
    """
    fn = "goal_pace"
    gid, pid = goal_ids(goals, function=fn)
    require_frame(progress, ["participant_id", "date", "goal_id", "percent"], name="progress",
                  function=fn)
    try:
        window_days = pd.Timedelta(window) / pd.Timedelta(days=1)
    except (ValueError, TypeError) as exc:
        raise AnalysisInputError(f"{fn}: window={window!r} is not a duration like '28D' ({exc})") from None
    if not window_days > 0:
        raise AnalysisInputError(f"{fn}: window={window!r} must be a positive duration")
    if int(min_entries) != min_entries or min_entries < 2:
        raise AnalysisInputError(f"{fn}: min_entries={min_entries!r} must be a whole number >= 2")
    if not tolerance >= 0:
        raise AnalysisInputError(f"{fn}: tolerance={tolerance!r} must be >= 0")

    n_goals = len(goals)
    nat = np.full(n_goals, np.datetime64("NaT"), dtype="datetime64[D]")
    start = (as_days(goals["start_date"], column="start_date", function=fn)
             if "start_date" in goals.columns else nat)
    due = (as_days(goals["due_date"], column="due_date", function=fn)
           if "due_date" in goals.columns else nat)

    p_days = as_days(progress["date"], column="date", function=fn)
    if np.isnat(p_days).any():
        bad = np.flatnonzero(np.isnat(p_days))
        raise AnalysisInputError(
            f"{fn}: column 'date' of the progress frame is missing in {len(bad)} row(s) "
            f"(first at position {int(bad[0])}); every progress entry needs a date")
    p_pct = as_numbers(progress["percent"], column="percent", function=fn)
    if today is None:
        if len(p_days):
            today_d = p_days.max()
        elif (~np.isnat(start)).any():
            today_d = start[~np.isnat(start)].max()
        else:
            today_d = np.datetime64("NaT", "D")
    else:
        today_d = one_day(today, name="today", function=fn)

    row_goal, _ = match_goals(
        gid, pid, id_codes(progress["goal_id"], column="goal_id", function=fn),
        id_codes(progress["participant_id"], column="participant_id", function=fn))
    use = (row_goal >= 0) & np.isfinite(p_pct)
    if not np.isnat(today_d):
        use &= p_days <= today_d
    rows = np.flatnonzero(use)
    g = row_goal[rows]
    day = p_days[rows].astype(np.int64)
    pct = p_pct[rows]
    o = np.lexsort((np.arange(len(rows)), day, g))  # by goal, day, then row order
    g, day, pct = g[o], day[o], pct[o]
    last_of_day = np.ones(len(g), dtype=bool)  # of two entries on one day the later row counts
    last_of_day[:-1] = (g[1:] != g[:-1]) | (day[1:] != day[:-1])
    g, day, pct = g[last_of_day], day[last_of_day], pct[last_of_day]

    n_entries = np.bincount(g, minlength=n_goals)
    ends = np.cumsum(n_entries)  # one past each goal's last entry
    has = n_entries > 0
    percent = np.full(n_goals, np.nan)
    last_day = np.full(n_goals, np.datetime64("NaT"), dtype="datetime64[D]")
    percent[has] = pct[ends[has] - 1]
    last_day[has] = day[ends[has] - 1].astype("datetime64[D]")
    first_entry = np.full(n_goals, np.datetime64("NaT"), dtype="datetime64[D]")
    first_entry[has] = day[ends[has] - n_entries[has]].astype("datetime64[D]")
    reached = pct >= 100
    first_done = np.full(n_goals, np.datetime64("NaT"), dtype="datetime64[D]")
    if reached.any():
        fd = pd.Series(day[reached]).groupby(g[reached]).min()
        first_done[fd.index.to_numpy()] = fd.to_numpy().astype("datetime64[D]")

    # pace: Theil-Sen over the recent window plus at least the last min_entries entries
    from_end = ends[g] - 1 - np.arange(len(g))  # 0 for a goal's latest entry
    today_num = np.int64(today_d.astype(np.int64)) if not np.isnat(today_d) else 0
    recent = (from_end < min_entries) | (day > today_num - window_days)
    fit_g, fit_x, fit_y = g[recent], day[recent] / 7.0, pct[recent]
    pace = grouped_theilslopes(fit_g, fit_x, fit_y, n_goals)["slope"]

    # expected by today, on the straight line from start to due
    begin = np.where(np.isnat(start), first_entry, start)
    with np.errstate(invalid="ignore", divide="ignore"):
        span = (due - begin).astype("timedelta64[D]").astype(float)
        span[np.isnat(due) | np.isnat(begin)] = np.nan
        elapsed = (today_d - begin).astype("timedelta64[D]").astype(float)
        elapsed[np.isnat(begin)] = np.nan
        frac = np.where(span > 0, elapsed / np.where(span > 0, span, 1.0),
                        np.where(elapsed >= span, 1.0, 0.0))
    expected = np.where(np.isnan(span) | np.isnan(elapsed), np.nan,
                        100.0 * np.clip(frac, 0.0, 1.0))

    # projected finish
    done = percent >= 100
    with np.errstate(invalid="ignore", divide="ignore"):
        weeks_left = (100.0 - percent) / pace
    days_left = np.ceil(weeks_left * 7.0)
    can = ~done & (pace > 0) & np.isfinite(days_left) & (days_left <= _MAX_PROJECTION_DAYS) & (
        not np.isnat(today_d))
    projected = np.full(n_goals, np.datetime64("NaT"), dtype="datetime64[D]")
    if can.any():
        projected[can] = today_d + days_left[can].astype(np.int64).astype("timedelta64[D]")
    projected[done] = first_done[done]

    # status
    has_due = ~np.isnat(due)
    overdue = has_due & (not np.isnat(today_d)) & (due < today_d)
    known = np.isfinite(pace)
    meets = has_due & ~np.isnat(projected) & (projected <= due)
    with np.errstate(invalid="ignore"):
        ahead = percent >= expected + tolerance
        level_ok = percent >= expected - tolerance
    status = np.select(
        [~has, done, overdue,
         ~has_due & known & (pace > 0), ~has_due,
         ahead,
         level_ok & (meets | ~known),
         (level_ok & ~meets) | (~level_ok & meets)],
        ["not_started", "done", "off_track", "on_track", "at_risk", "ahead", "on_track", "at_risk"],
        default="off_track")

    order = np.lexsort((gid.to_numpy(), pid.to_numpy()))
    return pd.DataFrame({
        "participant_id": pid.take(order).reset_index(drop=True),
        "goal_id": gid.take(order).reset_index(drop=True),
        "percent": percent[order],
        "last_date": days_to_timestamps(last_day[order]),
        "expected": expected[order],
        "pace": pace[order],
        "projected_finish": days_to_timestamps(projected[order]),
        "status": pd.Series(status[order], dtype="str"),
    })
