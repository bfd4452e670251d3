"""Self-experiments (N-of-1 trials): a randomised plan, and the randomisation test it allows.

A person compares two conditions, A and B, on their own outcome. The days, or blocks of days
(periods), are assigned to A or B at random by one of three designs, and the analysis compares
the outcome under B with the outcome under A by a **randomisation test over exactly the
assignments the design could have produced**. Because the test's reference set is the design
itself, its level holds whatever the outcome does on its own (autocorrelation, drift, weekly
rhythm): under "no effect" the observed schedule is one draw from that set. A test that
shuffled the days freely, ignoring the blocks, would not hold its level on autocorrelated
outcomes (tests/test_experiments.py shows it).

The designs (``period_days`` = L days per period, ``periods`` = m periods):

``"days"``
    Each period is a block of L days (L even); within every block, L/2 days chosen at random
    are B and the others A, independently from block to block. The condition changes from day
    to day, so there is no washout. Possible assignments: C(L, L/2) ** m.
``"pairs"``
    The periods form m/2 consecutive pairs (m even); each pair is AB or BA at random,
    independently. Possible assignments: 2 ** (m/2).
``"alternating"``
    The m periods (m even) get m/2 A's and m/2 B's in a random order, uniformly among the
    orders with no more than two periods of one condition in a row.

Washout (designs with periods only): after each switch of condition (a period whose
condition differs from the period before it), the first ``washout_days`` days of the period
are kept in the schedule (the person follows the new condition) but left out of the analysis,
so that an effect carried over from the previous condition does not count. Which days are
washout days depends on the assignment, and the test applies each assignment's own washout.

Every assignment is a row of codes over the schedule's days: 1 for B, 0 for A, -1 for a
washout day (:class:`Assignments`). :func:`plan_experiment` draws one row with the same
generator that :func:`design_assignments` uses to enumerate them all (when at most
:data:`MAX_EXACT`) or to draw a stated number of them at random (seeded).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import AnalysisInputError, ExperimentError
# the drawing of a schedule lives below analysis (the demo and the store draw as a plan does)
from ..experiment_design import (DEFAULT_DRAWS, DESIGNS, MAX_EXACT, MAX_RUN, SCHEDULE_COLUMNS,  # noqa: F401
                                 Assignments, _all, _draw, _whole, check_design, design_assignments,
                                 design_total, expand_periods, plan_experiment)
from ._grouped import as_days, one_day
from ._grouped import require_frame as _require_frame


def require_frame(frame, columns, *, name: str, function: str) -> None:
    """The shared frame check, raising :class:`ExperimentError` (an AnalysisInputError)."""
    try:
        _require_frame(frame, columns, name=name, function=function)
    except AnalysisInputError as exc:
        raise ExperimentError(str(exc)) from None

def phase_assignments(n_days: int, *, phases: str = "ABAB", min_days: int = 1) -> Assignments:
    """Every schedule of a phase design: the phases in the order given, each at least ``min_days``.

    The classic single-case phase design (AB, ABA, ABAB...) randomises the days on which the
    phase changes (Onghena 1992; Bulté & Onghena's SCRT package): the schedule is the order
    ``phases`` with change points drawn among those leaving every phase ``min_days`` days or
    more. Not one of the plans this tool offers (its order is fixed, A first, and it has few
    schedules); here so that the randomisation test can be checked against the published
    example (tests/test_experiments.py).

    Returns
    -------
    Assignments
        Every admissible schedule (``exact`` True), codes 1 for B and 0 for A.
    """
    n_days = _whole(n_days, name="n_days", least=1)
    min_days = _whole(min_days, name="min_days", least=1)
    if not phases or set(phases) - {"A", "B"}:
        raise ExperimentError(f"phase_assignments: phases must be letters A and B, got {phases!r}")
    k = len(phases)
    # lengths l_1..l_k >= min_days summing to n_days: compositions of the slack
    slack = n_days - k * min_days
    if slack < 0:
        raise ExperimentError(
            f"phase_assignments: {n_days} days cannot hold {k} phases of at least {min_days} days")
    # all compositions of `slack` into k non-negative parts, by stars and bars
    bars = np.array(list(itertools.combinations(range(slack + k - 1), k - 1)),
                    dtype=np.int64).reshape(-1, k - 1)
    edges = np.column_stack([np.full(len(bars), -1), bars, np.full(len(bars), slack + k - 1)])
    lengths = np.diff(edges, axis=1) - 1 + min_days
    code = np.array([1 if p == "B" else 0 for p in phases], dtype=np.int8)
    rows = np.stack([np.repeat(code, ln) for ln in lengths])
    return Assignments(rows, True, len(rows))


def _infer_plan(schedule: pd.DataFrame, *, design=None, function: str):
    """Read a schedule back into (design, period_days, periods, washout_days, codes, conditions).

    Checks that the schedule is one the design could have produced: consecutive days, periods of
    equal length numbered from 1, each period one condition (``pairs``, ``alternating``) or each
    block half A and half B (``days``), washout days exactly the first days after a switch.
    """
    require_frame(schedule, ["date", "period", "condition", "washout"], name="schedule",
                  function=function)
    if design is None:
        if "design" not in schedule.columns:
            raise ExperimentError(
                f"{function}: the schedule has no 'design' column; pass design= "
                "('days', 'pairs' or 'alternating') as in the plan")
        names = pd.unique(schedule["design"].astype(str))
        if len(names) != 1:
            raise ExperimentError(
                f"{function}: the schedule's 'design' column holds {list(names)!r}; expected one design")
        design = names[0]
    if len(schedule) == 0:
        raise ExperimentError(f"{function}: the schedule is empty")
    s = schedule.sort_values("date", kind="stable")
    days = as_days(s["date"], column="date", function=function)
    if np.isnat(days).any():
        raise ExperimentError(f"{function}: the schedule's 'date' column has a missing date")
    steps = np.diff(days.astype(np.int64))
    if (steps != 1).any():
        bad = int(np.flatnonzero(steps != 1)[0])
        raise ExperimentError(
            f"{function}: the schedule's days must follow one another; {days[bad]} is followed "
            f"by {days[bad + 1]}")
    cond = s["condition"].astype(str).to_numpy()
    if not np.isin(cond, ["A", "B"]).all():
        bad = cond[~np.isin(cond, ["A", "B"])][0]
        raise ExperimentError(f"{function}: the schedule's 'condition' must be 'A' or 'B', got {bad!r}")
    period = pd.to_numeric(s["period"], errors="coerce").to_numpy()
    washout = s["washout"].astype(bool).to_numpy()
    counts = pd.Series(period).value_counts().sort_index()
    m = len(counts)
    L = int(counts.iloc[0])
    if (counts.to_numpy() != L).any() or (counts.index.to_numpy() != np.arange(1, m + 1)).any() or (
            period != np.repeat(np.arange(1, m + 1), L)).any():
        raise ExperimentError(
            f"{function}: the schedule's periods must be numbered 1, 2, ... in date order with "
            "the same number of days each")
    b = (cond == "B").astype(np.int8)
    if design == "days":
        w = 0
    else:
        w = int(washout.reshape(m, L).sum(axis=1).max())
    design, L, m, w = check_design(design=design, period_days=L, periods=m, washout_days=w)
    if design == "days":
        codes = b
        ok = (b.reshape(m, L).sum(axis=1) == L // 2).all() and not washout.any()
    else:
        per = b.reshape(m, L)
        ok = (per == per[:, :1]).all()
        rows = per[:, 0][None, :]
        codes = expand_periods(rows, period_days=L, washout_days=w)[0]
        ok = ok and ((codes == -1) == washout).all() and rows.sum() == m // 2
        if design == "pairs":
            ok = ok and (rows[0, 0::2] != rows[0, 1::2]).all()
        else:
            runs = np.diff(np.flatnonzero(np.diff(np.r_[-1, rows[0], -1]) != 0))
            ok = ok and runs.max() <= MAX_RUN
    if not ok:
        raise ExperimentError(
            f"{function}: the schedule is not one the '{design}' design could have produced "
            f"({m} periods of {L} days, washout {w}); analyse the schedule the plan made")
    return design, L, m, w, codes, b, pd.DatetimeIndex(days)


# --------------------------------------------------------------------------------------------
# the randomisation test over a set of assignments

ALTERNATIVES = ("two-sided", "greater", "less")
ANALYSES = ("itt", "as_followed")
#: Rows of assignments handled at once (bounds the memory of the matrix products).
_CHUNK = 4096


STATISTICS = ("days", "phases")


def _weights(c: np.ndarray, statistic: str) -> np.ndarray:
    """Each day's weight in the difference of one row of codes: B days +, A days -, others 0.

    ``"days"``: mean of the B days minus mean of the A days (weights 1/n_B and -1/n_A).
    ``"phases"``: mean of the B phases' means minus mean of the A phases' means, a phase being
    a run of days of one condition (the statistic of the SCRT package for phase designs).
    A row that leaves a condition without days gets NaN weights.
    """
    b = c == 1
    a = c == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        if statistic == "days":
            nb = b.sum(axis=1, keepdims=True)
            na = a.sum(axis=1, keepdims=True)
            return b / nb - a / na
        k, n = c.shape
        new = np.ones((k, n), dtype=bool)
        new[:, 1:] = c[:, 1:] != c[:, :-1]
        flat = np.cumsum(new, axis=1) - 1 + (np.arange(k) * n)[:, None]
        length = np.bincount(flat.ravel(), minlength=k * n)[flat]
        pb = (new & b).sum(axis=1, keepdims=True)
        pa = (new & a).sum(axis=1, keepdims=True)
        return b / (length * pb) - a / (length * pa)


def _row_stats(codes: np.ndarray, Y: np.ndarray, statistic: str = "days") -> np.ndarray:
    """The difference B - A of each column of ``Y`` for every row of ``codes``.

    ``codes`` (rows, days) holds 1 B, 0 A and -1 for a day left out; ``Y`` (days, k) has no
    NaN (days without a value are columns already removed). Returns (rows, k); NaN where a
    row leaves a condition without days. The statistic is linear in the outcome, a weight per
    day (:func:`_weights`), so all rows are one matrix product per chunk of rows: no Python
    loop per assignment.
    """
    out = np.empty((codes.shape[0], Y.shape[1]))
    for i in range(0, codes.shape[0], _CHUNK):
        out[i:i + _CHUNK] = _weights(codes[i:i + _CHUNK], statistic) @ Y
    return out


def _tolerance(observed: float, y: np.ndarray) -> float:
    """How close two differences must be to count as a tie (as scipy's permutation_test, plus
    a hair of the data's scale so that a zero difference still ties with its rounding)."""
    eps = 100 * np.finfo(float).eps
    return eps * abs(observed) + eps * (float(np.max(np.abs(y))) if len(y) else 0.0)


def _extreme(t: np.ndarray, t_obs: float, tol: float, alternative: str) -> np.ndarray:
    """Rows at least as extreme as the observed difference (a NaN difference counts)."""
    with np.errstate(invalid="ignore"):
        if alternative == "two-sided":
            hit = np.abs(t) >= abs(t_obs) - tol
        elif alternative == "greater":
            hit = t >= t_obs - tol
        else:
            hit = t <= t_obs + tol
    return hit | ~np.isfinite(t)


def _p_from(count: int, rows: int, exact: bool) -> float:
    """The p-value: a share of every assignment, or (1 + hits) / (1 + draws) when drawn."""
    return count / rows if exact else (1 + count) / (1 + rows)


def _inverted_interval(t, s, t_obs, *, exact: bool, alpha: float, tol: float) -> tuple[float, float]:
    """The constant effects delta that the two-sided test does not reject at ``alpha``.

    Under "the effect is delta on every B day", the outcome without it is ``y - delta b``
    (``b`` the observed B indicator), and an assignment's difference is ``t - delta s`` with
    ``t`` its difference of ``y`` and ``s`` its difference of ``b`` (for the observed
    assignment ``s`` is 1). It counts as extreme where ``(t - delta s)^2 >= (t_obs - delta)^2``:
    with ``|s| < 1`` a closed interval between ``(t - t_obs) / (s - 1)`` and
    ``(t + t_obs) / (s + 1)``, a half-line or everything when ``|s| = 1``. The p-value as a
    function of delta is then a count of intervals covering it, found exactly by a sweep over
    their ends. Returns the smallest and largest delta not rejected (the hull of that set).
    """
    t = np.asarray(t, dtype=float)
    s = np.clip(np.asarray(s, dtype=float), -1.0, 1.0)
    lo = np.full(len(t), -np.inf)
    hi = np.full(len(t), np.inf)
    bad = ~(np.isfinite(t) & np.isfinite(s))
    t = np.where(bad, 0.0, t)
    s = np.where(bad, 0.0, s)
    near1 = ~bad & (np.abs(s - 1.0) < 1e-9)
    nearm1 = ~bad & (np.abs(s + 1.0) < 1e-9)
    gen = ~bad & ~near1 & ~nearm1
    with np.errstate(invalid="ignore", divide="ignore"):
        r1 = (t - t_obs) / (s - 1.0)
        r2 = (t + t_obs) / (s + 1.0)
    lo[gen] = np.minimum(r1, r2)[gen]
    hi[gen] = np.maximum(r1, r2)[gen]
    mid = (t + t_obs) / 2.0
    up = near1 & (t > t_obs + tol)
    down = near1 & (t < t_obs - tol)
    hi[up] = mid[up]
    lo[down] = mid[down]
    half = (t_obs - t) / 2.0
    pos = nearm1 & (t + t_obs > tol)
    neg = nearm1 & (t + t_obs < -tol)
    lo[pos] = half[pos]
    hi[neg] = half[neg]
    ends = np.unique(np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)]]))
    if len(ends) == 0:
        left, right, probe = np.array([-np.inf]), np.array([np.inf]), np.array([t_obs])
    else:
        left = np.r_[-np.inf, ends]
        right = np.r_[ends, np.inf]
        probe = np.r_[ends[0] - 1.0, (ends[:-1] + ends[1:]) / 2.0, ends[-1] + 1.0]
    count = np.searchsorted(np.sort(lo), probe, side="right") - np.searchsorted(np.sort(hi), probe,
                                                                                  side="left")
    p = count / len(t) if exact else (1 + count) / (1 + len(t))
    kept = np.flatnonzero(p > alpha)
    if len(kept) == 0:  # cannot happen: at delta = t_obs every assignment counts
        return float(t_obs), float(t_obs)
    return float(left[kept[0]]), float(right[kept[-1]])


def randomisation_test(values, assignments: Assignments, observed, *, treated=None,
                       alternative: str = "two-sided", alpha: float = 0.05,
                       statistic: str = "days", interval: bool = True) -> dict:
    """The randomisation test of mean(B) - mean(A) over a given set of assignments.

    The general form behind :func:`experiment_effect`: any set of admissible assignments
    (a design's, from :func:`design_assignments`, or a phase design's, from
    :func:`phase_assignments`) and the observed one.

    Parameters
    ----------
    values : array-like
        The outcome per day (NaN for a day without a value; such days are left out of every
        assignment alike).
    assignments : Assignments
        Every assignment the design could have produced (``exact``), or a random draw of them.
    observed : array-like
        The assignment that was used: codes 1 B, 0 A, -1 left out, one per day.
    treated : array-like of bool, optional
        Days on which B was followed, for the interval (a washout day in a B period is B);
        by default the days coded 1 in ``observed``.
    alternative : {"two-sided", "greater", "less"}
        Two-sided counts assignments whose difference is at least as far from 0 as the
        observed one; "greater" (B above A) and "less" count one tail.
    alpha : float
        Level of the test; the interval is the two-sided ``1 - alpha`` interval.
    statistic : {"days", "phases"}
        ``"days"``: mean over B days minus mean over A days (what :func:`experiment_effect`
        reports). ``"phases"``: mean of the B phases' means minus mean of the A phases' means,
        each run of one condition a phase (the SCRT package's "A-B" for phase designs); the
        two agree when every phase has the same number of days.
    interval : bool
        Compute the interval (the sweep is cheap, but the power simulation skips it).

    Returns
    -------
    dict
        ``estimate`` (observed mean B - mean A), ``p_value``, ``ci_low``, ``ci_high``,
        ``assignments`` (how many were compared: all, or the draws plus the observed one),
        ``exact``, ``differences`` (each assignment's difference, for the chart).
    """
    if alternative not in ALTERNATIVES:
        raise ExperimentError(f"alternative={alternative!r}; expected one of {', '.join(ALTERNATIVES)}")
    if not (isinstance(alpha, (float, int)) and 0 < alpha < 1):
        raise ExperimentError(f"alpha must be between 0 and 1, got {alpha!r}")
    if statistic not in STATISTICS:
        raise ExperimentError(f"statistic={statistic!r}; expected one of {', '.join(STATISTICS)}")
    y = np.asarray(values, dtype=float)
    obs = np.asarray(observed, dtype=np.int8)
    codes = np.asarray(assignments.codes, dtype=np.int8)
    if codes.shape[1] != len(y) or len(obs) != len(y):
        raise ExperimentError(
            f"the assignments cover {codes.shape[1]} days, the observed one {len(obs)} and the "
            f"values {len(y)}; they must be the same days")
    if assignments.exact and not (codes == obs).all(axis=1).any():
        raise ExperimentError("the observed assignment is not one of the design's assignments")
    b = (obs == 1) if treated is None else np.asarray(treated, dtype=bool)
    keep = np.isfinite(y)
    yk = y[keep]
    Y = np.column_stack([yk, b[keep].astype(float)])
    t_obs = float(_row_stats(obs[None, keep], Y[:, :1], statistic)[0, 0])
    ref = _row_stats(codes[:, keep], Y, statistic)
    t, s = ref[:, 0], ref[:, 1]
    tol = _tolerance(t_obs, yk)
    count = int(_extreme(t, t_obs, tol, alternative).sum())
    exact = bool(assignments.exact)
    out = {"estimate": t_obs, "p_value": _p_from(count, len(t), exact),
           "ci_low": np.nan, "ci_high": np.nan,
           "assignments": len(t) if exact else len(t) + 1, "exact": exact, "differences": t}
    if not np.isfinite(t_obs):
        out["p_value"] = np.nan
        return out
    if interval:
        out["ci_low"], out["ci_high"] = _inverted_interval(t, s, t_obs, exact=exact, alpha=alpha, tol=tol)
    return out


# --------------------------------------------------------------------------------------------
# the analysis of a self-experiment

EFFECT_COLUMNS = ["analysis", "randomised", "design", "estimate", "ci_low", "ci_high", "p_value",
                  "nap", "mean_a", "mean_b", "n_a", "n_b", "adherence", "finished", "planned_end",
                  "today", "assignments", "exact", "alpha"]
DISTRIBUTION_COLUMNS = ["difference", "observed", "extreme", "exact"]


def _prepared(outcome, schedule, *, analysis, adherence, today, design, function):
    """Align the outcome (and adherence) to the schedule; the codes each analysis uses."""
    if analysis not in ANALYSES:
        raise ExperimentError(
            f"{function}: analysis={analysis!r}; expected 'itt' (as assigned) or 'as_followed'")
    design, L, m, w, codes, b, days = _infer_plan(schedule, design=design, function=function)
    require_frame(outcome, ["date", "value"], name="outcome", function=function)
    o_days = as_days(outcome["date"], column="date", function=function)
    try:
        o_vals = pd.to_numeric(outcome["value"], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise ExperimentError(f"{function}: the outcome's 'value' column must hold numbers ({exc})") from None
    ok = ~np.isnat(o_days) & np.isfinite(o_vals)
    o = pd.Series(o_vals[ok], index=pd.DatetimeIndex(o_days[ok]))
    dup = o.index.duplicated()
    if dup.any():
        raise ExperimentError(
            f"{function}: the outcome has more than one value on {o.index[dup][0].date()}; "
            "give one value per day (a day's mean or total, say)")
    planned_end = days[-1]
    if today is None:
        today = o.index.max() if len(o) else days[0] - pd.Timedelta(days=1)
    else:
        try:
            today = pd.Timestamp(one_day(today, name="today", function=function))
        except AnalysisInputError as exc:
            raise ExperimentError(str(exc)) from None
    y = o.reindex(days).to_numpy(dtype=float, copy=True)
    y[days > today] = np.nan
    # adherence: days up to today (or the end) on which the person said they followed the plan
    so_far = days <= today
    followed = np.zeros(len(days), dtype=bool)
    share = np.nan
    if adherence is not None:
        require_frame(adherence, ["date", "followed"], name="adherence", function=function)
        a_days = as_days(adherence["date"], column="date", function=function)
        f = adherence["followed"]
        bad = ~f.dropna().isin([True, False, 1, 0])
        if bad.any():
            raise ExperimentError(
                f"{function}: the adherence's 'followed' column must be true or false, got "
                f"{f.dropna()[bad].iloc[0]!r}")
        a = pd.Series(f.fillna(False).astype(bool).to_numpy(), index=pd.DatetimeIndex(a_days))
        a = a[~a.index.isna()]
        a = a[~a.index.duplicated(keep="last")]
        followed = a.reindex(days, fill_value=False).to_numpy(dtype=bool)
        share = float(followed[so_far].mean()) if so_far.any() else np.nan
    elif analysis == "as_followed":
        raise ExperimentError(
            f"{function}: the as-followed analysis needs the adherence (a frame with 'date' and "
            "'followed' per day)")
    if analysis == "as_followed":
        y[~followed] = np.nan
    return dict(design=design, L=L, m=m, w=w, codes=codes, b=b.astype(bool), y=y, days=days,
                planned_end=planned_end, today=today, adherence=share)


def _reference(prep, *, n_draws, seed, max_exact=MAX_EXACT) -> Assignments:
    return design_assignments(design=prep["design"], period_days=prep["L"], periods=prep["m"],
                              washout_days=prep["w"], max_exact=max_exact, n_draws=n_draws, seed=seed)


def experiment_effect(outcome, schedule, *, analysis: str = "itt", adherence=None, today=None,
                      design=None, n_draws: int = DEFAULT_DRAWS, seed: int = 0, alpha: float = 0.05,
                      alternative: str = "two-sided") -> pd.DataFrame:
    """The effect of B against A in a self-experiment, with a randomisation test.

    The difference is mean(B) - mean(A) over the schedule's days with a value, washout days
    left out. The p-value compares it with the difference every assignment the design could
    have produced gives on the same outcome (all of them up to :data:`MAX_EXACT`, else
    ``n_draws`` drawn at random with ``seed``, the observed schedule counted as one more:
    ``p = (1 + hits) / (1 + n_draws)``). The interval is the set of constant effects the test
    does not reject at ``alpha`` (inverting it). NAP is the probability that a B day beats an
    A day, ties counting half: scipy's Mann-Whitney U divided by n_A x n_B.

    Before the planned end (``today`` before the last scheduled day) the trial is unfinished:
    the row holds the data so far (``estimate``, means, counts, NAP) and ``p_value``,
    ``ci_low`` and ``ci_high`` are NaN. A p-value is only a finding at the planned end.

    Parameters
    ----------
    outcome : pandas.DataFrame
        ``date`` and ``value``, at most one value per day. Days without a value are left out
        (assumed missing for reasons unrelated to the condition). Values after ``today`` are
        ignored.
    schedule : pandas.DataFrame
        The plan's schedule (:func:`plan_experiment`): ``date``, ``period``, ``condition``,
        ``washout`` and ``design`` (or pass ``design``).
    analysis : {"itt", "as_followed"}
        ``"itt"`` (intention to treat, the default): every day as assigned; randomised.
        ``"as_followed"``: only the days on which the person said they followed the day's
        condition. The days kept then depend on the person, not only on the randomisation, so
        its p-value and interval are marked not randomised (``randomised`` False).
    adherence : pandas.DataFrame, optional
        ``date`` and ``followed`` (bool), one answer per day (the last one counts). A day
        without an answer counts as not followed. Needed for ``"as_followed"``.
    today : date-like, optional
        The day of the analysis; by default the last day with an outcome value.
    design : str, optional
        The design, when the schedule has no ``design`` column.
    n_draws, seed : int
        Random assignments drawn, and their seed, when the design has more than MAX_EXACT.
    alpha : float
        Level of the test; the interval is the two-sided ``1 - alpha`` interval.
    alternative : {"two-sided", "greater", "less"}
        The p-value's tails ("greater": B above A). The interval is always two-sided.

    Returns
    -------
    pandas.DataFrame
        One row:

        - ``analysis`` (str): ``"itt"`` or ``"as_followed"``.
        - ``randomised`` (bool): True for the intention-to-treat analysis only.
        - ``design`` (str): the design of the schedule.
        - ``estimate`` (float): mean(B) - mean(A) over the days used.
        - ``ci_low``, ``ci_high`` (float): the ``1 - alpha`` interval for a constant effect
          (NaN before the planned end; infinite when the design has too few assignments to
          reject any effect).
        - ``p_value`` (float): the randomisation p-value (NaN before the planned end).
        - ``nap`` (float): non-overlap of all pairs, P(B day > A day) + P(tie) / 2.
        - ``mean_a``, ``mean_b`` (float): the outcome's mean under A and under B.
        - ``n_a``, ``n_b`` (int): days with a value used under A and under B.
        - ``adherence`` (float): share of the schedule's days up to today (or its end) on
          which the person said they followed the condition (NaN without ``adherence``).
        - ``finished`` (bool): today is on or after the planned end.
        - ``planned_end`` (datetime64): the last scheduled day.
        - ``today`` (datetime64): the day of the analysis.
        - ``assignments`` (int): how many assignments the p-value compares (all the design
          has, or the draws plus the observed one).
        - ``exact`` (bool): every assignment was compared.
        - ``alpha`` (float): the level used.

    Raises
    ------
    ExperimentError
        A schedule the design could not have produced, an outcome without ``date`` or
        ``value`` or with two values on a day, a finished trial with fewer than two values
        under a condition, an unknown analysis, as-followed without adherence.
    """
    function = "experiment_effect"
    prep = _prepared(outcome, schedule, analysis=analysis, adherence=adherence, today=today,
                     design=design, function=function)
    y, codes = prep["y"], prep["codes"]
    used = np.isfinite(y) & (codes >= 0)
    ya, yb = y[used & (codes == 0)], y[used & (codes == 1)]
    finished = bool(prep["today"] >= prep["planned_end"])
    row = {
        "analysis": analysis, "randomised": analysis == "itt", "design": prep["design"],
        "estimate": (yb.mean() - ya.mean()) if len(ya) and len(yb) else np.nan,
        "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan,
        "nap": (stats.mannwhitneyu(yb, ya).statistic / (len(ya) * len(yb))) if len(ya) and len(yb)
        else np.nan,
        "mean_a": ya.mean() if len(ya) else np.nan, "mean_b": yb.mean() if len(yb) else np.nan,
        "n_a": int(len(ya)), "n_b": int(len(yb)), "adherence": prep["adherence"],
        "finished": finished, "planned_end": prep["planned_end"], "today": prep["today"],
        "assignments": 0, "exact": False, "alpha": float(alpha),
    }
    if finished:
        if len(ya) < 2 or len(yb) < 2:
            raise ExperimentError(
                f"{function}: the trial ended on {prep['planned_end'].date()} but the outcome has "
                f"values on {len(ya)} A day(s) and {len(yb)} B day(s) of it; the test needs at "
                "least two of each")
        ref = _reference(prep, n_draws=n_draws, seed=seed)
        res = randomisation_test(y, ref, codes, treated=prep["b"], alternative=alternative, alpha=alpha)
        row.update(estimate=res["estimate"], p_value=res["p_value"], ci_low=res["ci_low"],
                   ci_high=res["ci_high"], assignments=res["assignments"], exact=res["exact"])
    frame = pd.DataFrame([row], columns=EFFECT_COLUMNS)
    frame["planned_end"] = pd.to_datetime(frame["planned_end"]).astype("datetime64[ns]")
    frame["today"] = pd.to_datetime(frame["today"]).astype("datetime64[ns]")
    return frame


def experiment_distribution(outcome, schedule, *, analysis: str = "itt", adherence=None, today=None,
                            design=None, n_draws: int = DEFAULT_DRAWS, seed: int = 0,
                            alternative: str = "two-sided") -> pd.DataFrame:
    """The randomisation distribution: the difference B - A under each assignment compared.

    The same assignments, days and options as :func:`experiment_effect` (same ``n_draws``
    and ``seed`` give the same draws). Empty before the planned end: the distribution and
    where the observed difference falls in it are the p-value, which an unfinished trial
    does not have.

    Returns
    -------
    pandas.DataFrame
        One row per assignment compared (all of them, or the draws):

        - ``difference`` (float): mean(B) - mean(A) had that assignment been the schedule.
        - ``observed`` (float): the observed difference (the same on every row).
        - ``extreme`` (bool): at least as extreme as the observed one (counts toward p).
        - ``exact`` (bool): the rows are every assignment of the design.
    """
    function = "experiment_distribution"
    prep = _prepared(outcome, schedule, analysis=analysis, adherence=adherence, today=today,
                     design=design, function=function)
    if prep["today"] < prep["planned_end"]:
        return pd.DataFrame({"difference": pd.Series(dtype=float), "observed": pd.Series(dtype=float),
                             "extreme": pd.Series(dtype=bool), "exact": pd.Series(dtype=bool)})
    ref = _reference(prep, n_draws=n_draws, seed=seed)
    res = randomisation_test(prep["y"], ref, prep["codes"], treated=prep["b"],
                             alternative=alternative, interval=False)
    t = res["differences"]
    tol = _tolerance(res["estimate"], prep["y"][np.isfinite(prep["y"])])
    return pd.DataFrame({"difference": t, "observed": res["estimate"],
                         "extreme": _extreme(t, res["estimate"], tol, alternative),
                         "exact": res["exact"]})


# --------------------------------------------------------------------------------------------
# how long: power from the person's own past values

#: The power a plan should have for the smallest effect the person cares about.
TARGET_POWER = 0.8
#: Simulated trials per number of periods (power's standard error about 2 points at 80%).
DEFAULT_SIMS = 400
#: The fewest past days with a value from which variance and autocorrelation are estimated.
MIN_HISTORY_DAYS = 14
#: The reference set of the simulated tests: all assignments up to this many, else this many
#: minus one drawn (p = (1 + hits) / POWER_REFERENCE). Cheaper than the analysis's own
#: MAX_EXACT/DEFAULT_DRAWS, and a Monte Carlo test with fewer draws has, if anything, a
#: little less power, so the estimate errs on the safe side.
POWER_REFERENCE = 1000
#: One-sided normal quantile for the lower bound of a simulated power (the recommendation
#: asks this bound, not the estimate, to reach the target).
_Z_LOWER = 1.645

POWER_COLUMNS = ["design", "period_days", "washout_days", "periods", "days", "effect", "power",
                 "power_low", "assignments", "min_p", "enough", "recommended", "phi", "sd", "n_sim"]


def outcome_noise(history) -> dict:
    """The day-to-day variation of a person's past values: standard deviation and AR(1) phi.

    ``sd`` is the standard deviation of the values around their mean; ``phi`` the lag-1
    autocorrelation over pairs of consecutive days (a missing day breaks a pair), corrected for
    its small-sample bias as elsewhere in the package (``(n r + 1) / (n - 3)`` around a mean;
    :func:`mastery_analysis.analysis._grouped.ar1_upper` without its margin), clipped to
    [0, 0.99].

    Returns
    -------
    dict
        ``sd``, ``phi``, ``n`` (days with a value), ``pairs`` (consecutive-day pairs).

    Raises
    ------
    ExperimentError
        Fewer than MIN_HISTORY_DAYS days with a value, fewer than 7 consecutive-day pairs, or
        values that never vary.
    """
    from ._grouped import ar1_upper

    function = "experiment_power"
    require_frame(history, ["date", "value"], name="history", function=function)
    d = as_days(history["date"], column="date", function=function)
    try:
        v = pd.to_numeric(history["value"], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise ExperimentError(f"{function}: the history's 'value' column must hold numbers ({exc})") from None
    ok = ~np.isnat(d) & np.isfinite(v)
    s = pd.Series(v[ok], index=d[ok].astype(np.int64)).groupby(level=0).mean().sort_index()
    n = len(s)
    if n < MIN_HISTORY_DAYS:
        raise ExperimentError(
            f"{function}: the history has {n} day(s) with a value; at least {MIN_HISTORY_DAYS} "
            "are needed to tell how much the outcome varies from day to day")
    x = s.to_numpy() - s.mean()
    c0 = float(np.mean(x * x))
    if c0 <= 0:
        raise ExperimentError(
            f"{function}: the history's values never vary (all {s.iloc[0]:g}); a power estimate "
            "needs some day-to-day variation")
    pair = np.flatnonzero(np.diff(s.index.to_numpy()) == 1)
    if len(pair) < 7:
        raise ExperimentError(
            f"{function}: the history has {len(pair)} pairs of consecutive days; at least 7 are "
            "needed to estimate how alike one day is to the next")
    ac = float(np.mean(x[pair] * x[pair + 1]) / c0)
    phi = float(ar1_upper(np.array([ac]), np.array([n]), trend=False, margin=0.0)[0])
    return {"sd": float(np.sqrt(c0 * n / (n - 1))), "phi": phi, "n": n, "pairs": int(len(pair))}


def simulate_ar1(rng: np.random.Generator, n_series: int, n_days: int, phi, sd=1.0) -> np.ndarray:
    """``n_series`` stationary AR(1) series of ``n_days`` with marginal standard deviation ``sd``.

    ``phi`` and ``sd`` are numbers, or arrays with one value per series.
    """
    from scipy.signal import lfilter

    e = rng.normal(size=(n_series, n_days))
    if np.ndim(phi) == 0:
        e = e * sd * np.sqrt(1.0 - phi ** 2)
        e[:, 0] = e[:, 0] / np.sqrt(1.0 - phi ** 2)
        return lfilter([1.0], [1.0, -phi], e, axis=1)
    phi = np.asarray(phi, dtype=float)
    sd = np.broadcast_to(np.asarray(sd, dtype=float), phi.shape)
    x = np.empty_like(e)
    x[:, 0] = e[:, 0] * sd
    step = sd * np.sqrt(1.0 - phi ** 2)
    for t in range(1, n_days):
        x[:, t] = phi * x[:, t - 1] + step * e[:, t]
    return x


def plausible_noise(noise: dict, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``size`` values of (phi, sd) as uncertain as their estimates from the history.

    ``phi`` ~ normal around the estimate with its standard error ``sqrt((1 - phi^2) / n)``,
    clipped to [0, 0.99]; ``sd`` = estimate x ``sqrt(df / chi2(df))`` with ``df`` the
    history's effective number of days less one, ``n (1 - phi) / (1 + phi) - 1`` (at least 2).
    Averaging power over them (an assurance) makes a plan long enough for the outcome as it
    may be, not only as the history happened to look.
    """
    phi, sd, n = noise["phi"], noise["sd"], noise["n"]
    phis = np.clip(phi + np.sqrt(max(1.0 - phi ** 2, 0.0) / n) * rng.normal(size=size), 0.0, 0.99)
    df = max(n * (1.0 - phi) / (1.0 + phi) - 1.0, 2.0)
    sds = sd * np.sqrt(df / rng.chisquare(df, size=size))
    return phis, sds


def simulated_power(*, design, period_days, periods, washout_days=0, effect, phi, sd, alpha=0.05,
                    n_sim=DEFAULT_SIMS, seed=0, drift=0.0, reference=POWER_REFERENCE,
                    free_shuffle: bool = False) -> dict:
    """Power of one plan by simulation: AR(1) outcomes plus ``effect`` on B days, the design's test.

    Each simulated trial draws its schedule from the design (:func:`_draw`, as the plan
    does), adds ``effect`` to the B days (washout days included) of a stationary AR(1) series
    with ``phi`` and ``sd`` (numbers, or one per trial; plus ``drift`` per day, a linear
    trend), and runs the two-sided
    randomisation test over the design's assignments (all up to ``reference``, else
    ``reference - 1`` drawn and the observed counted as one). All trials share the reference
    set and are one matrix product: assignments x days times days x trials.

    ``free_shuffle=True`` runs the wrong test instead, for comparison (docs/statistics.md):
    the reference set is every split of all the days into two halves, ignoring the design's
    blocks.

    Returns
    -------
    dict
        ``power`` (share of trials with p <= alpha), ``rejections``, ``n_sim``,
        ``assignments`` (the design's total), ``exact`` (the reference set was all of them),
        ``min_p`` (the smallest p-value the design can give), and ``p`` (each trial's p-value).
    """
    design, L, m, w = check_design(design=design, period_days=period_days, periods=periods,
                                   washout_days=washout_days)
    rng = np.random.default_rng(seed)
    n = L * m
    if free_shuffle:
        ref = design_assignments(design="days", period_days=n + n % 2, periods=1, max_exact=reference,
                                 n_draws=max(reference - 1, 1), seed=int(rng.integers(2 ** 63)))
        ref = Assignments(ref.codes[:, :n], ref.exact, ref.total)
    else:
        ref = design_assignments(design=design, period_days=L, periods=m, washout_days=w,
                                 max_exact=reference, n_draws=max(reference - 1, 1),
                                 seed=int(rng.integers(2 ** 63)))
    obs = _draw(design, L, m, w, rng, n_sim)
    cond_b = (np.repeat(obs.reshape(n_sim, m, L).max(axis=2), L, axis=1) == 1) if w else obs == 1
    Y = simulate_ar1(rng, n_sim, n, phi, sd) + effect * cond_b + drift * np.arange(n)
    t_obs = np.einsum("ij,ij->i", _weights(obs, "days"), Y)
    T = np.empty((len(ref), n_sim))
    for i in range(0, len(ref), _CHUNK):
        T[i:i + _CHUNK] = _weights(ref.codes[i:i + _CHUNK], "days") @ Y.T
    tol = 100 * np.finfo(float).eps * (np.abs(t_obs) + np.abs(Y).max(axis=1))
    hits = (np.abs(T) >= (np.abs(t_obs) - tol)[None, :]).sum(axis=0)
    p = hits / len(ref) if ref.exact else (1 + hits) / (1 + len(ref))
    total = ref.total
    return {"power": float(np.mean(p <= alpha)), "rejections": int(np.sum(p <= alpha)),
            "n_sim": int(n_sim), "assignments": total, "exact": ref.exact,
            "min_p": min(1.0, 2.0 / total), "p": p}


def _candidate_periods(design: str, period_days: int, max_periods: int) -> list[int]:
    if design == "days":
        return list(range(1 if period_days >= 4 else 2, max_periods + 1))
    return list(range(4, max_periods + 1, 2))


def experiment_power(history, *, design, period_days, washout_days=0, effect, periods=None,
                     alpha: float = 0.05, target: float = TARGET_POWER, max_periods: int = 40,
                     n_sim: int = DEFAULT_SIMS, seed: int = 0) -> pd.DataFrame:
    """Power of a design by number of periods, simulated from the person's own past values.

    The person's day-to-day variation (:func:`outcome_noise`: standard deviation and AR(1)
    autocorrelation of ``history``) is simulated under THIS design with a constant effect
    ``effect`` on B days (:func:`simulated_power`). Each simulated trial takes its own
    standard deviation and autocorrelation as uncertain as their estimates from the history
    (:func:`plausible_noise`), so a short or calm-looking history asks for a longer plan.
    A number of periods is ``enough`` when
    the one-sided 95% lower bound of its simulated power, ``power - 1.645 se``, reaches
    ``target``; the smallest such is ``recommended``. Seeded: the same call gives the same
    table.

    Parameters
    ----------
    history : pandas.DataFrame
        ``date`` and ``value``: the outcome's past values (at least MIN_HISTORY_DAYS days).
    design, period_days, washout_days
        As for :func:`plan_experiment`.
    effect : float
        The smallest difference B - A, in the outcome's units, the person cares about.
    periods : int or list of int, optional
        The numbers of periods to simulate; by default every valid number from the smallest
        up to ``max_periods``, stopping at the first that is enough.
    alpha, target : float
        Level of the test, and the power asked for.
    n_sim, seed : int
        Simulated trials per number of periods, and the seed.

    Returns
    -------
    pandas.DataFrame
        One row per number of periods:

        - ``design``, ``period_days``, ``washout_days`` (str, int, int): the plan.
        - ``periods``, ``days`` (int): periods, and days in all.
        - ``effect`` (float): the effect simulated.
        - ``power`` (float): share of simulated trials whose p-value was at most ``alpha``.
        - ``power_low`` (float): its one-sided 95% lower bound, ``power - 1.645 se``.
        - ``assignments`` (int): how many assignments the design can produce.
        - ``min_p`` (float): the smallest p-value the design can give (2 / assignments: the
          schedule and its mirror image); above ``alpha`` the plan can never find anything.
        - ``enough`` (bool): ``power_low`` reaches ``target``.
        - ``recommended`` (bool): the smallest number of periods that is enough.
        - ``phi``, ``sd`` (float): the autocorrelation and standard deviation estimated from
          the history (the simulated trials vary around them).
        - ``n_sim`` (int): simulated trials.
    """
    noise = outcome_noise(history)
    design, L, _, w = check_design(design=design, period_days=period_days,
                                   periods=4 if design != "days" else 2, washout_days=washout_days)
    try:
        effect = float(effect)
    except (TypeError, ValueError):
        raise ExperimentError(f"experiment_power: effect must be a number, got {effect!r}") from None
    if not np.isfinite(effect) or effect == 0:
        raise ExperimentError(
            f"experiment_power: effect must be a difference other than 0 (the smallest one you "
            f"care about, in the outcome's units), got {effect!r}")
    _whole(n_sim, name="n_sim", least=10)
    explicit = periods is not None
    grid = ([periods] if isinstance(periods, (int, np.integer)) else list(periods)) if explicit \
        else _candidate_periods(design, L, max_periods)
    rows = []
    for k, m in enumerate(grid):
        check_design(design=design, period_days=L, periods=m, washout_days=w)
        phis, sds = plausible_noise(noise, np.random.default_rng([seed, k, m, 1]), n_sim)
        r = simulated_power(design=design, period_days=L, periods=m, washout_days=w, effect=effect,
                            phi=phis, sd=sds, alpha=alpha, n_sim=n_sim, seed=[seed, k, m])
        se = np.sqrt(r["power"] * (1 - r["power"]) / n_sim)
        low = r["power"] - _Z_LOWER * se
        rows.append({"design": design, "period_days": L, "washout_days": w, "periods": int(m),
                     "days": int(m * L), "effect": effect, "power": r["power"], "power_low": low,
                     "assignments": r["assignments"], "min_p": r["min_p"],
                     "enough": bool(low >= target and r["min_p"] <= alpha),
                     "recommended": False, "phi": noise["phi"], "sd": noise["sd"], "n_sim": int(n_sim)})
        if not explicit and rows[-1]["enough"]:
            break
    frame = pd.DataFrame(rows, columns=POWER_COLUMNS)
    enough = frame.index[frame["enough"]]
    if len(enough):
        frame.loc[enough[0], "recommended"] = True
    frame["assignments"] = frame["assignments"].astype(object)  # may exceed 64 bits
    return frame


def recommend_periods(history, *, design, period_days, washout_days=0, effect, alpha: float = 0.05,
                      target: float = TARGET_POWER, max_periods: int = 40,
                      n_sim: int = DEFAULT_SIMS, seed: int = 0) -> int | None:
    """The smallest number of periods giving ``target`` power (:func:`experiment_power`), or
    None when even ``max_periods`` do not."""
    table = experiment_power(history, design=design, period_days=period_days,
                             washout_days=washout_days, effect=effect, alpha=alpha, target=target,
                             max_periods=max_periods, n_sim=n_sim, seed=seed)
    hit = table.loc[table["recommended"], "periods"]
    return int(hit.iloc[0]) if len(hit) else None


def check_plan(history, *, design, period_days, periods, washout_days=0, effect,
               alpha: float = 0.05, target: float = TARGET_POWER, max_periods: int = 40,
               n_sim: int = DEFAULT_SIMS, seed: int = 0) -> pd.DataFrame:
    """Is a plan long enough? Its simulated power, and the number of periods recommended.

    Returns
    -------
    pandas.DataFrame
        One row:

        - ``periods`` (int): the plan's number of periods.
        - ``power``, ``power_low`` (float): its simulated power and lower bound.
        - ``min_p`` (float): the smallest p-value the plan can give.
        - ``recommended_periods`` (float): the smallest number of periods that is enough
          (NaN when even ``max_periods`` are not).
        - ``too_short`` (bool): the plan's ``power_low`` is below ``target``.
        - ``message`` (str): a sentence for the person ("" when the plan is long enough).
    """
    design, L, m, w = check_design(design=design, period_days=period_days, periods=periods,
                                   washout_days=washout_days)
    own = experiment_power(history, design=design, period_days=L, washout_days=w, effect=effect,
                           periods=m, alpha=alpha, target=target, n_sim=n_sim, seed=seed).iloc[0]
    rec = np.nan
    message = ""
    too_short = not bool(own["enough"])
    if too_short:
        best = recommend_periods(history, design=design, period_days=L, washout_days=w,
                                 effect=effect, alpha=alpha, target=target,
                                 max_periods=max(max_periods, m), n_sim=n_sim, seed=seed)
        rec = np.nan if best is None else float(best)
        unit = "blocks" if design == "days" else "periods"
        if own["min_p"] > alpha:
            message = (f"This plan can produce only {own['assignments']} schedules, so its smallest "
                       f"possible p-value is {own['min_p']:.2f}: it cannot show an effect. ")
        else:
            message = (f"With {m} {unit} of {L} days this plan would find a difference of "
                       f"{effect:g} about {100 * own['power']:.0f}% of the time. ")
        message += (f"About {best} {unit} ({best * L} days) would give {100 * target:.0f}%."
                    if best is not None else
                    f"Even {max(max_periods, m)} {unit} would not give {100 * target:.0f}%; "
                    "consider a larger effect, a steadier outcome or longer periods.")
    return pd.DataFrame([{"periods": m, "power": own["power"], "power_low": own["power_low"],
                          "min_p": own["min_p"], "recommended_periods": rec,
                          "too_short": too_short, "message": message}])
