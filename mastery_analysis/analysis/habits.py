"""Habit strength (Loop Habit Tracker's score) and streaks of days with action.

The score is Loop Habit Tracker's published formula (``uhabits-core``, ``ScoreList`` and
``Score.compute``), so people who import their Loop data see the numbers they know; the
tests reproduce Loop's own exported ``Scores.csv`` to 4 decimals. For a goal done
``freq_times`` per ``freq_days`` days, f = freq_times / freq_days and

- multiplier m = 0.5 ** (sqrt(f) / 13);
- score_t = m * score_(t-1) + (1 - m) * completion_t, starting from 0 the day before the
  series starts;
- completion_t = min(1, done days in the last ``d`` days / ``n``), with n = freq_times and
  d = freq_days for daily goals (so simply 1 or 0 for 1 per 1), and n = 2 * freq_times,
  d = 2 * freq_days for goals less often than daily (Loop doubles both "to smooth out
  irregular repetition schedules").

A day counts as done when the goal has an action with ``count > 0`` that day. This matches
Loop's rules for what it stores: only manual check-ins (YES_MANUAL) count; Loop's automatic
checkmarks (YES_AUTO, days "covered" by the frequency), NO and UNKNOWN days all count as not
done but still decay the score. Loop's SKIP (score carried over unchanged) has no
counterpart here. Days without any action row are not done.

Everything runs over all goals at once: completion from one cumulative sum over the
concatenated daily grid, and the recursion from one ``scipy.signal.lfilter`` call per
distinct frequency (see :func:`mastery_analysis.analysis._grouped.segmented_ewma`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import AnalysisInputError
from ._grouped import (
    as_days,
    as_numbers,
    by_participant,
    days_to_timestamps,
    goal_ids,
    id_codes,
    labels_of,
    match_goals,
    one_day,
    require_frame,
    segmented_ewma,
)

_NO_DAY = np.iinfo(np.int64).min


def loop_multiplier(freq_times, freq_days) -> np.ndarray:
    """Loop's daily decay factor 0.5 ** (sqrt(freq_times / freq_days) / 13)."""
    f = np.asarray(freq_times, dtype=float) / np.asarray(freq_days, dtype=float)
    return 0.5 ** (np.sqrt(f) / 13.0)


def _goal_table(goals: pd.DataFrame, function: str, *, frequency: bool = True) -> dict:
    """goal_id, participant_id, freq_times, freq_days, start (days) of each goal, checked."""
    gid, pid = goal_ids(goals, function=function)
    n = len(goals)

    def freq(col):
        if col not in goals.columns:
            return np.ones(n)
        v = as_numbers(goals[col], column=col, function=function)
        return np.where(np.isnan(v), 1.0, v)  # the schema's default: once a day

    if not frequency:
        return {"goal_id": gid, "participant_id": pid, "n": n}
    times, days = freq("freq_times"), freq("freq_days")
    bad = (times < 1) | (days < 1) | (times > days) | (times != np.round(times)) | (
        days != np.round(days))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AnalysisInputError(
            f"{function}: goal {gid[i]!r} has freq_times={times[i]:g} per freq_days={days[i]:g}; "
            "expected whole numbers with 1 <= freq_times <= freq_days")
    if "start_date" in goals.columns:
        start = as_days(goals["start_date"], column="start_date", function=function)
    else:
        start = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    return {"goal_id": gid, "participant_id": pid, "freq_times": times.astype(np.int64),
            "freq_days": days.astype(np.int64), "start": start, "n": n}


def _action_table(actions: pd.DataFrame, function: str):
    require_frame(actions, ["participant_id", "date", "goal_id", "count"], name="actions",
                  function=function)
    days = as_days(actions["date"], column="date", function=function)
    missing = np.isnat(days)
    if missing.any():
        raise AnalysisInputError(
            f"{function}: column 'date' of the actions frame is missing in {int(missing.sum())} "
            f"row(s) (first at index label {actions.index[np.flatnonzero(missing)[:1]].tolist()[0]!r}); "
            "every action needs a date")
    count = as_numbers(actions["count"], column="count", function=function)
    return (id_codes(actions["participant_id"], column="participant_id", function=function),
            id_codes(actions["goal_id"], column="goal_id", function=function), days, count)


def habit_strength(actions: pd.DataFrame, goals: pd.DataFrame, *, until=None) -> pd.DataFrame:
    """Daily habit strength (0 to 1) of every goal, by Loop Habit Tracker's formula.

    Parameters
    ----------
    actions : DataFrame
        Needs ``participant_id``, ``date``, ``goal_id`` and ``count``. A day is done when
        the goal has a row with ``count > 0`` that day (several rows of a day count once).
    goals : DataFrame
        Needs ``goal_id`` and ``participant_id``; ``freq_times``, ``freq_days`` (missing:
        once a day, the schema's default) and ``start_date`` are optional. The goals frame
        decides which goals are scored: actions of goals not in it (or filed under another
        participant) are ignored.
    until : date-like, optional
        The last day of every goal's series, to score as of a day after the last action (the
        days between are not done, and the score fades as in Loop). Actions after it are
        ignored and goals that start after it have no rows. By default each participant's
        last action day.

    Returns
    -------
    DataFrame
        One row per goal and calendar day, sorted by participant_id, goal_id and date:

        - ``participant_id`` (str)
        - ``goal_id`` (str)
        - ``date`` (datetime64[ns]): every day from the goal's start to the participant's
          last day. The start is the earlier of the goal's ``start_date`` and its first
          action (leading days without action leave the score at 0, exactly as Loop, which
          starts at the first check-in). The last day is ``until`` or, without it, the
          latest action date of that participant in ``actions`` (any goal, any count), or
          the start if that is later.
          Missing days are filled as not done. A goal with neither a start_date nor an
          action has no rows.
        - ``score`` (float): Loop's habit strength on that day, from 0 to 1 (not rounded)

    Raises
    ------
    AnalysisInputError
        If a required column is missing, a date is missing, a goal_id appears twice or a
        frequency is not 1 <= freq_times <= freq_days.

    Notes
    -----
    Loop's score, m = 0.5 ** (sqrt(f) / 13) with f = freq_times / freq_days:
    score_t = m * score_(t-1) + (1 - m) * min(1, done in the last d days / n), with n, d =
    freq_times, freq_days for daily goals and twice those for less frequent ones. See the
    module docstring for how Loop's check-in kinds map onto "done".
    """
    fn = "habit_strength"
    _goal_table(goals, fn)  # every goal checked (ids unique across the call) before any block
    require_frame(actions, ["participant_id", "date", "goal_id", "count"], name="actions",
                  function=fn)
    until_day = None if until is None else one_day(until, name="until", function=fn)
    return by_participant([actions, goals], lambda a, g: _habit_strength(a, g, until_day),
                          function=fn)


def _habit_strength(actions: pd.DataFrame, goals: pd.DataFrame, until) -> pd.DataFrame:
    """:func:`habit_strength` of one block of participants (``until`` a day or None)."""
    fn = "habit_strength"
    goal_tab = _goal_table(goals, fn)
    a_pid, a_gid, a_days, a_count = _action_table(actions, fn)
    goal_row, goal_pcode = match_goals(goal_tab["goal_id"], goal_tab["participant_id"], a_gid, a_pid)
    a_pcode, n_people = a_pid[0], len(a_pid[1])

    day_num = a_days.astype(np.int64)  # days since 1970-01-01
    if until is not None:
        until_num = np.int64(until.astype(np.int64))
        goal_row = np.where(day_num <= until_num, goal_row, -1)  # later actions are ignored
    # the participant's last day in the data: any action row of theirs
    last = np.full(n_people, _NO_DAY, dtype=np.int64)
    if len(day_num):
        per_person = pd.Series(day_num).groupby(a_pcode).max()
        last[per_person.index.to_numpy()] = per_person.to_numpy()
    matched = goal_row >= 0
    n_goals = goal_tab["n"]
    first_action = np.full(n_goals, np.iinfo(np.int64).max, dtype=np.int64)
    if matched.any():
        per_goal = pd.Series(day_num[matched]).groupby(goal_row[matched]).min()
        first_action[per_goal.index.to_numpy()] = per_goal.to_numpy()
    start_date = goal_tab["start"]
    start = np.where(np.isnat(start_date), np.iinfo(np.int64).max,
                     start_date.astype(np.int64))
    start = np.minimum(start, first_action)
    has = start != np.iinfo(np.int64).max
    person_last = np.full(n_goals, _NO_DAY, dtype=np.int64)
    if until is None:
        person_last[goal_pcode >= 0] = last[goal_pcode[goal_pcode >= 0]]
    else:
        person_last[:] = until_num
        has &= start <= until_num
    end = np.maximum(person_last, start)

    # goals in output order, and their day grids laid end to end
    order = np.lexsort((goal_tab["goal_id"].to_numpy(), goal_tab["participant_id"].to_numpy()))
    order = order[has[order]]
    length = (end - start + 1)[order]
    offset = np.zeros(n_goals, dtype=np.int64)
    offset[order] = np.concatenate(([0], np.cumsum(length)[:-1])) if len(order) else []
    n_cells = int(length.sum())
    cell_goal = np.repeat(order, length)  # goal row of each grid cell
    pos = np.arange(n_cells, dtype=np.int64) - offset[cell_goal]

    done = np.zeros(n_cells, dtype=np.int64)
    hit = matched & (a_count > 0)
    if hit.any():
        g = goal_row[hit]
        done[offset[g] + day_num[hit] - start[g]] = 1

    times = goal_tab["freq_times"]
    per = goal_tab["freq_days"]
    daily = times >= per  # f == 1 (the goals table never has f > 1)
    need = np.where(daily, times, 2 * times)[cell_goal]
    window = np.where(daily, per, 2 * per)[cell_goal]
    csum = np.concatenate(([0], np.cumsum(done)))
    cells = np.arange(n_cells, dtype=np.int64)
    lo = np.maximum(cells - window + 1, offset[cell_goal])  # window clipped at the goal's start
    in_window = csum[cells + 1] - csum[lo]
    completion = np.minimum(1.0, in_window / need)
    score = segmented_ewma(completion, cell_goal, loop_multiplier(times, per))
    # The reset at each goal's start leaves floating-point residue (~1e-17): before a goal's
    # first done day its score is exactly 0, and a score is never outside [0, 1].
    started = csum[cells + 1] - csum[offset[cell_goal]] > 0
    score = np.where(started, np.clip(score, 0.0, 1.0), 0.0)

    return pd.DataFrame({
        "participant_id": goal_tab["participant_id"].take(cell_goal).reset_index(drop=True),
        "goal_id": goal_tab["goal_id"].take(cell_goal).reset_index(drop=True),
        "date": days_to_timestamps((start[cell_goal] + pos).astype("datetime64[D]")),
        "score": score,
    }, copy=False)  # every column is a fresh array


def streaks(actions: pd.DataFrame, goals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Runs of consecutive calendar days on which a goal had action (``count > 0``).

    A streak is kept simple and the same for every frequency: consecutive days with action.
    (Loop's own streaks of less-than-daily habits also bridge the days its schedule
    excuses; here a goal done 3 times a week makes streaks of the days actually done.)

    Parameters
    ----------
    actions : DataFrame
        Needs ``participant_id``, ``date``, ``goal_id`` and ``count``.
    goals : DataFrame, optional
        If given (``goal_id`` and ``participant_id`` needed), only its goals are reported;
        without it every goal in ``actions`` is.

    Returns
    -------
    DataFrame
        One row per streak, sorted by participant_id, goal_id and start:

        - ``participant_id`` (str)
        - ``goal_id`` (str)
        - ``start`` (datetime64[ns]): first day of the streak
        - ``end`` (datetime64[ns]): last day of the streak (the latest streak of a goal
          may still be running)
        - ``length`` (int): number of days, ``end - start + 1``

    Raises
    ------
    AnalysisInputError
        If a required column is missing or a date is missing.
    """
    fn = "streaks"
    require_frame(actions, ["participant_id", "date", "goal_id", "count"], name="actions",
                  function=fn)
    if goals is None:
        return by_participant(actions, lambda a: _streaks(a, None), function=fn)
    _goal_table(goals, fn, frequency=False)  # goal ids checked across the whole call
    return by_participant([actions, goals], _streaks, function=fn)


def _streaks(actions: pd.DataFrame, goals: pd.DataFrame | None) -> pd.DataFrame:
    """:func:`streaks` of one block of participants."""
    fn = "streaks"
    a_pid, a_gid, a_days, a_count = _action_table(actions, fn)
    keep = a_count > 0
    if goals is not None:
        goal_tab = _goal_table(goals, fn, frequency=False)
        goal_row, _ = match_goals(goal_tab["goal_id"], goal_tab["participant_id"], a_gid, a_pid)
        keep &= goal_row >= 0
    rows = np.flatnonzero(keep)
    (pc, p_labels), (gc, g_labels) = a_pid, a_gid
    n_goal_labels = max(len(g_labels), 1)
    code = pc[rows] * n_goal_labels + gc[rows]  # sorted like (participant, goal)
    day = a_days[rows].astype(np.int64)
    low = day.min() if len(day) else 0
    # one integer key per row, (goal, day) in order; two groups' keys are never 1 apart, so a
    # run of consecutive keys is a run of consecutive days of one goal. Sorting the keys
    # themselves (no argsort) is the cheap way to order 10^7 rows.
    span = int(day.max() - low) + 2 if len(day) else 2
    key = code * span + (day - low)
    if np.any(key[1:] < key[:-1]):
        key = np.sort(key)
    fresh = np.ones(len(key), dtype=bool)  # one row per goal and day
    fresh[1:] = key[1:] != key[:-1]
    key = key[fresh]
    new_run = np.ones(len(key), dtype=bool)
    new_run[1:] = key[1:] - key[:-1] != 1
    first = np.flatnonzero(new_run)
    last = np.r_[first[1:] - 1, len(key) - 1].astype(np.int64) if len(key) else first
    code, day = np.divmod(key[first], span)
    end_day = key[last] % span
    return pd.DataFrame({
        "participant_id": labels_of(p_labels, code // n_goal_labels),
        "goal_id": labels_of(g_labels, code % n_goal_labels),
        "start": days_to_timestamps((day + low).astype("datetime64[D]")),
        "end": days_to_timestamps((end_day + low).astype("datetime64[D]")),
        "length": (last - first + 1).astype(np.int64),
    })
