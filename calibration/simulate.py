"""Seeded simulations of the three claims the analysis makes, vectorised across series.

Each function simulates many independent people at once, runs the package's own function
on all of them in one call (as a cohort would be run) and returns the rates that matter:

- :func:`trend_rates`: how often :func:`~mastery_analysis.analysis.element_trends` calls a
  trend on AR(1) daily ratings (1-10, whole points), with or without a real trend, and how
  often Sen's interval covers the true slope; alongside, the same rates for the standard
  alternatives as ``pymannkendall`` implements them, run on the same weekly means.
- :func:`correlation_null`: how often
  :func:`~mastery_analysis.analysis.action_progress_correlation` flags a relation between
  independent actions (AR(1), or daily counts driven by one) and AR(1) progress changes.
- :func:`sufficiency_power`: how often it flags a true r = 0.3 once it says the data suffice.

The test suite runs small versions of these (``tests/test_calibration.py``); ``python -m
calibration`` runs the full grid and writes ``docs/statistics.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.signal import lfilter

from mastery_analysis.analysis import action_progress_correlation, element_trends
from mastery_analysis.analysis.correlation import effective_autocorrelation, required_days

DAY0 = pd.Timestamp("2025-01-06")  # a Monday: weeks (ending on Sunday) are whole
RATING_MEAN = 6.0
RATING_SD = 1.5
LAGS = range(0, 8)
TARGET_R = 0.3


def ar1(rng: np.random.Generator, rows: int, n: int, phi: float) -> np.ndarray:
    """``rows`` stationary AR(1) series of length ``n`` with unit variance (one per row)."""
    e = rng.normal(size=(rows, n))
    if phi == 0:
        return e
    e[:, 0] /= np.sqrt(1 - phi**2)  # start from the stationary distribution
    return lfilter([1.0], [1.0, -phi], e, axis=1) * np.sqrt(1 - phi**2)


def trend_ratings(rng, people: int, days: int, phi: float, per_year: float = 0.0) -> np.ndarray:
    """Daily whole-point ratings 1-10: mean 6, AR(1) deviations of sd 1.5, plus a trend of
    ``per_year`` points a year. Returns an array (people, days)."""
    t = np.arange(days) / 365.25
    level = RATING_MEAN + per_year * (t - t.mean()) + RATING_SD * ar1(rng, people, days, phi)
    return np.clip(np.rint(level), 1, 10)


def _ratings_frame(y: np.ndarray) -> pd.DataFrame:
    people, days = y.shape
    return pd.DataFrame({
        "participant_id": np.repeat(np.array([f"p{k:05d}" for k in range(people)]), days),
        "element": "focused",
        "date": np.tile(pd.date_range(DAY0, periods=days).to_numpy(), people),
        "rating": y.ravel(),
    })


def _weekly_means(y: np.ndarray) -> np.ndarray:
    people, days = y.shape
    full = days // 7
    weeks = [y[:, :full * 7].reshape(people, full, 7).mean(axis=2)]
    if days % 7:
        weeks.append(y[:, full * 7:].mean(axis=1, keepdims=True))
    return np.concatenate(weeks, axis=1)


#: The alternatives compared in the trend tables, as pymannkendall names them.
TREND_ALTERNATIVES = {
    "plain Mann-Kendall": "original_test",
    "Hamed-Rao (ranks' ACF)": "hamed_rao_modification_test",
    "Yue-Wang (ESS)": "yue_wang_modification_test",
    "pre-whitening (von Storch)": "pre_whitening_modification_test",
    "trend-free pre-whitening (Yue)": "trend_free_pre_whitening_modification_test",
}


def trend_rates(people: int, days: int, phi: float, *, per_year: float = 0.0, seed: int,
                alternatives: int = 0, alpha: float = 0.05) -> dict:
    """Share of series the tool calls improving or declining, and its interval's coverage.

    One element per person, so each person's Benjamini-Hochberg family is that one test and
    the rate is the per-series rate. ``called`` counts either direction; ``right`` counts
    the true direction (the power when ``per_year`` is not 0); ``coverage`` is the share of
    the Sen intervals given (finite bounds) that hold the true weekly slope, ``interval_given``
    the share of series given one; ``insufficient`` the share with too few weeks. With ``alternatives`` = k > 0, the same ``called`` rate for each pymannkendall
    test in :data:`TREND_ALTERNATIVES`, run series by series on the weekly means of the first
    k series, and ``tool_on_those`` the tool's rate on the same k series.
    """
    rng = np.random.default_rng(seed)
    y = trend_ratings(rng, people, days, phi, per_year)
    out = element_trends(_ratings_frame(y), alpha=alpha)
    direction = out["direction"].to_numpy()
    called = np.isin(direction, ["improving", "declining"])
    truth = "improving" if per_year > 0 else "declining" if per_year < 0 else None
    weekly_slope = per_year / 365.25 * 7
    ok = direction != "insufficient"
    low, high = out["slope_low"].to_numpy(), out["slope_high"].to_numpy()
    given = np.isfinite(low) & np.isfinite(high)  # what a person is shown: an interval or none
    cover = (low <= weekly_slope + 1e-12) & (weekly_slope - 1e-12 <= high)
    res = {"called": called.mean(), "right": (direction == truth).mean() if truth else np.nan,
           "coverage": cover[given].mean() if given.any() else np.nan,
           "interval_given": given.mean(), "insufficient": 1 - ok.mean(), "n": people}
    if alternatives:
        import pymannkendall as mk

        w = _weekly_means(y[:alternatives])
        res["tool_on_those"] = called[:alternatives].mean()
        for label, name in TREND_ALTERNATIVES.items():
            test = getattr(mk, name)
            if w.shape[1] < 5:
                res[label] = np.nan
                continue
            with np.errstate(all="ignore"):
                res[label] = float(np.mean([test(row, alpha=alpha).h for row in w]))
    return res


def _correlation_frames(x: np.ndarray, change: np.ndarray, goals: int):
    """Actions (one row a day) and daily progress whose change on day s is ``change[:, s]``.

    ``x`` and ``change`` are (people * goals, days); row k is person k // goals, goal k % goals.
    """
    rows, days = change.shape
    pid = np.array([f"p{k // goals:05d}" for k in range(rows)])
    gid = np.array([f"g{k % goals}" for k in range(rows)])
    dates = pd.date_range(DAY0, periods=days + 1).to_numpy()
    level = np.concatenate([np.zeros((rows, 1)), np.cumsum(change, axis=1)], axis=1)
    actions = pd.DataFrame({"participant_id": np.repeat(pid, days), "goal_id": np.repeat(gid, days),
                            "date": np.tile(dates[:days], rows), "count": x[:, :days].ravel()})
    progress = pd.DataFrame({"participant_id": np.repeat(pid, days + 1),
                             "goal_id": np.repeat(gid, days + 1),
                             "date": np.tile(dates, rows), "percent": level.ravel()})
    return actions, progress


#: How daily action counts are drawn from a persistent state: Poisson with rate
#: ``exp(COUNT_LOG_RATE_SD * state)``, the state a unit-variance AR(1) (about 1.3 actions a day).
COUNT_LOG_RATE_SD = 0.7
#: The kinds of action series :func:`correlation_null` simulates.
ACTION_KINDS = ("gaussian", "poisson")


def action_series(rng, rows: int, days: int, phi: float, kind: str = "gaussian") -> np.ndarray:
    """Daily action values, one series per row: the AR(1) itself (``"gaussian"``), or whole
    counts drawn each day from a Poisson whose log-rate follows it (``"poisson"``: an AR(1)
    seen through counting noise, whose lag-1 autocorrelation understates its memory)."""
    if kind not in ACTION_KINDS:
        raise ValueError(f"actions should be one of {ACTION_KINDS}, got {kind!r}")
    state = ar1(rng, rows, days, phi)
    if kind == "gaussian":
        return state
    return rng.poisson(np.exp(COUNT_LOG_RATE_SD * state)).astype(float)


def correlation_null(people: int, days: int, phi: float, *, goals: int = 1, seed: int,
                     alpha: float = 0.05, actions: str = "gaussian") -> dict:
    """False positives on independent actions and AR(1) progress changes (lags 0-7).

    ``actions`` is what the action series are (:func:`action_series`): the AR(1) with ``phi``
    itself (default) or daily Poisson counts driven by it.

    ``lag0`` is the share of lag-0 rows with p < alpha (the single test), ``lag0_tested``
    the same among the rows that were tested, ``raw_bartlett`` the lag-0 rate among tested
    rows had n_eff used the uncorrected lag-1 autocorrelations, ``tested`` the share of rows
    tested, and ``claimed`` the share of goals the tool flags at any lag (BH over each
    person's goals and lags: what a person is told).
    """
    rng = np.random.default_rng(seed)
    rows = people * goals
    x = action_series(rng, rows, days, phi, actions)
    change = ar1(rng, rows, days, phi)
    action_rows, progress = _correlation_frames(x, change, goals)
    res = action_progress_correlation(action_rows, progress, lags=LAGS, alpha=alpha, family="participant")
    lag0 = res[res["lag"] == 0]
    hit = lag0["p_value"].to_numpy() < alpha
    tested = lag0["tested"].to_numpy()
    # the same test with the uncorrected autocorrelations (the method before the correction)
    n = lag0["n"].to_numpy(dtype=float)
    a = np.clip(np.nan_to_num(lag0["ac_actions"].to_numpy() * lag0["ac_progress"].to_numpy()), 0, 0.999)
    ne = n * (1 - a) / (1 + a)
    r = lag0["r"].to_numpy(dtype=float)
    ok = np.isfinite(r) & (ne >= 10)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = r * np.sqrt((ne - 2) / np.clip(1 - r**2, 1e-300, None))
        p_raw = 2 * stats.t.sf(np.abs(t), np.maximum(ne - 2, 1))
    per_goal = res.groupby(["participant_id", "goal_id"])["significant"].any()
    return {"lag0": hit.mean(), "lag0_tested": hit[tested].mean() if tested.any() else np.nan,
            "raw_bartlett": (p_raw[ok] < alpha).mean() if ok.any() else np.nan,
            "tested": tested.mean(), "claimed": per_goal.mean(), "n": rows}


def planned_days(phi: float, goals: int, alpha: float = 0.05) -> int:
    """The paired days the tool asks for when both series are AR(1) with ``phi``."""
    return int(required_days(phi * phi, alpha=alpha, n_tests=goals * len(LAGS)))


#: Series lengths tried, as multiples of :func:`planned_days`.
SCALES = (0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0)


def sufficiency_power(people: int, phi: float, *, goals: int = 1, effect_lag: int = 0,
                      seed: int, alpha: float = 0.05, scales=SCALES) -> dict:
    """Power for a true r = 0.3 at one lag, at the moment the tool first says the days suffice.

    Goal g0 of each person has ``corr(actions_t, change_(t + effect_lag)) = 0.3`` (both series
    AR(1) with ``phi``); the other goals are independent noise. The same series are cut at
    ``scales`` times :func:`planned_days` (plus the 7 days the lags need), and the tool runs
    on each cut, as a person would run it while their data grow. For each person, the first
    cut at which the effect row (g0, effect_lag) is tested with at least ``days_needed``
    paired days is where the tool says the data suffice (whatever the result);
    ``flagged_when_sufficient`` is the share of those people whose row is significant there,
    ``sufficient`` the share that reached such a cut, ``median_days`` the median series
    length at it, and ``flagged_at_plan`` the share flagged at 1.0 times the planned days.
    """
    rng = np.random.default_rng(seed)
    need = planned_days(phi, goals, alpha)
    lengths = [int(np.ceil(s * need)) + max(LAGS) for s in scales]
    days = max(lengths)
    rows = people * goals
    x = ar1(rng, rows, days + max(LAGS), phi)
    e = ar1(rng, rows, days, phi)
    lagged = x[:, max(LAGS) - effect_lag:max(LAGS) - effect_lag + days]  # x_(t - lag)
    effect = np.arange(rows) % goals == 0
    change = np.where(effect[:, None], TARGET_R * lagged + np.sqrt(1 - TARGET_R**2) * e, e)
    actions, progress = _correlation_frames(x[:, max(LAGS):max(LAGS) + days], change, goals)
    first = np.full(people, -1)
    flagged_first = np.zeros(people, dtype=bool)
    at_plan = np.nan
    for k, d in enumerate(lengths):
        cut = DAY0 + pd.Timedelta(days=d)
        res = action_progress_correlation(actions[actions["date"] < cut], progress[progress["date"] <= cut],
                                          lags=LAGS, alpha=alpha, family="participant")
        row = res[(res["goal_id"] == "g0") & (res["lag"] == effect_lag)]
        enough = (row["tested"] & (row["n"] >= row["days_needed"])).to_numpy(dtype=bool)
        sig = row["significant"].to_numpy(dtype=bool)
        new = enough & (first < 0)
        first[new] = k
        flagged_first[new] = sig[new]
        if scales[k] == 1.0:
            at_plan = sig.mean()
    reached = first >= 0
    return {"days_needed": need, "sufficient": reached.mean(),
            "flagged_when_sufficient": flagged_first[reached].mean() if reached.any() else np.nan,
            "median_days": float(np.median(np.asarray(lengths)[first[reached]])) if reached.any() else np.nan,
            "flagged_at_plan": at_plan, "n": people}


__all__ = ["trend_rates", "correlation_null", "action_series", "sufficiency_power", "planned_days",
           "effective_autocorrelation"]
