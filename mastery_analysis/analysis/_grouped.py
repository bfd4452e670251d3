"""Vectorised per-group building blocks shared by the trajectory, habit and goal analyses.

Everything here works on whole columns at once: rows are sorted by an integer group code,
and per-group statistics are computed with cumulative sums, ``np.searchsorted``,
``scipy.signal.lfilter`` and pairwise arrays built for all groups of one size together.
Each vectorised statistic mirrors a SciPy function and is tested against it group by group
(``tests/test_trajectories.py``, ``tests/test_habits.py``, ``tests/test_goal_pace.py``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
from scipy import special, stats
from scipy.signal import lfilter

from ..errors import AnalysisInputError

# Pairwise work is done in chunks of at most this many pairs (8 bytes each, a few arrays).
_PAIR_CHUNK = 2_000_000


def require_frame(frame, columns, *, name: str, function: str) -> None:
    """Raise :class:`AnalysisInputError` unless ``frame`` is a DataFrame holding ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise AnalysisInputError(
            f"{function}: '{name}' must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns)) or "no columns"
        raise AnalysisInputError(
            f"{function}: the {name} frame has no column "
            + ", ".join(f"'{c}'" for c in missing)
            + f" (it has: {have}); expected the columns "
            + ", ".join(f"'{c}'" for c in columns))


def as_days(values, *, column: str, function: str) -> np.ndarray:
    """Calendar days of a date-like column as ``datetime64[D]`` (NaT kept, times of day dropped)."""
    s = pd.Series(values)
    if not pd.api.types.is_datetime64_any_dtype(s):
        try:
            s = pd.to_datetime(s.astype(object).where(s.notna(), None), format="mixed")
        except (ValueError, TypeError) as exc:
            raise AnalysisInputError(
                f"{function}: column '{column}' must hold dates like 2024-05-31 ({exc})") from None
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    return s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")


def as_numbers(values, *, column: str, function: str) -> np.ndarray:
    """A numeric column as float64 (missing values are NaN)."""
    try:
        return pd.to_numeric(pd.Series(values), errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise AnalysisInputError(f"{function}: column '{column}' must hold numbers ({exc})") from None


def as_ids(values) -> pd.Series:
    """An id column as pandas' string dtype, as in :mod:`mastery_analysis.schema`."""
    s = pd.Series(values)
    return s if s.dtype == "str" else s.astype("str")


def days_to_timestamps(days: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` back to the package's ``datetime64[ns]`` day stamps."""
    return days.astype("datetime64[ns]")


def group_bounds(codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Sizes and start offsets of each group in an array sorted by group code."""
    sizes = np.bincount(codes, minlength=n_groups).astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    return sizes, starts


def position_in_group(codes: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each group of a code-sorted array."""
    return np.arange(len(codes), dtype=np.int64) - starts[codes]


def segmented_ewma(x: np.ndarray, codes: np.ndarray, decay: np.ndarray, *,
                   gain: np.ndarray | None = None) -> np.ndarray:
    """``y_t = decay * y_{t-1} + gain * x_t`` per group, restarting at 0 at each group start.

    ``x`` and ``codes`` are sorted by group (rows of a group contiguous and in time order);
    ``decay`` and ``gain`` are per row and constant within a group (``gain`` defaults to
    ``1 - decay``). For each distinct decay the groups that share it are filtered together by
    one call of :func:`scipy.signal.lfilter` on their concatenated series; the state that
    leaks across a group boundary is then removed exactly, using linearity:
    ``y_concat[t] = y_group[t] + decay ** (k + 1) * y_concat[start - 1]`` for the row ``k``
    steps after its group's start.
    """
    x = np.asarray(x, dtype=float)
    decay = np.asarray(decay, dtype=float)
    gain = 1.0 - decay if gain is None else np.asarray(gain, dtype=float)
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    for m in np.unique(decay):
        rows = np.flatnonzero(decay == m)
        xs = x[rows] * gain[rows]
        y = lfilter([1.0], [1.0, -m], xs)
        c = codes[rows]
        first = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        run = np.repeat(np.arange(len(first)), np.diff(np.r_[first, len(c)]))
        k = np.arange(len(c)) - first[run]
        carried = np.where(first > 0, y[np.maximum(first - 1, 0)], 0.0)[run]
        with np.errstate(under="ignore"):
            y = y - np.power(m, k + 1.0) * carried
        out[rows] = y
    return out


def match_goals(goal_tab: dict, a_pid: pd.Series, a_gid: pd.Series):
    """Match rows (of actions or progress) to goals on goal_id and participant_id.

    ``goal_tab`` holds ``goal_id`` and ``participant_id`` (str Series) and ``n``. Returns, for
    each row, the position of its goal in ``goal_tab`` (-1 if the goal is not there or belongs
    to another participant), each row's participant code, each goal's participant code (in
    one shared coding) and the number of distinct participants.
    """
    g_code, g_uniques = pd.factorize(pd.concat([goal_tab["goal_id"], a_gid], ignore_index=True))
    p_code, p_uniques = pd.factorize(pd.concat([goal_tab["participant_id"], a_pid],
                                               ignore_index=True))
    n_goals = goal_tab["n"]
    row_of_code = np.full(len(g_uniques), -1, dtype=np.int64)
    row_of_code[g_code[:n_goals]] = np.arange(n_goals)
    goal_row = row_of_code[g_code[n_goals:]]
    a_pcode = p_code[n_goals:].astype(np.int64)
    goal_pcode = p_code[:n_goals].astype(np.int64)
    same = goal_row >= 0
    same[same] = goal_pcode[goal_row[same]] == a_pcode[same]
    goal_row[~same] = -1
    return goal_row, a_pcode, goal_pcode, len(p_uniques)


# --------------------------------------------------------------------------------------------
# Theil-Sen slopes and the Mann-Kendall test, for every group at once


@functools.lru_cache(maxsize=64)
def _inversions_cdf(n: int) -> np.ndarray:
    """P(a random permutation of n has at most c inversions), c = 0 .. n(n-1)/2.

    Kendall's exact null distribution of the discordant pairs (Mahonian numbers), as used by
    :func:`scipy.stats.kendalltau` for small samples without ties. Only the lower half is
    used (the distribution is symmetric), where this recursion is free of cancellation.
    """
    tot = n * (n - 1) // 2
    counts = np.zeros(tot + 1)
    counts[0] = 1.0
    for j in range(2, n + 1):  # multiply the generating function by 1 + q + ... + q^(j-1)
        c = np.cumsum(counts)
        c[j:] -= c[:-j]
        counts = c
    return np.cumsum(counts) / math.factorial(n)


def _kendall_exact_p(n: int, c: np.ndarray) -> np.ndarray:
    """Two-sided exact p-value of Kendall's tau for size ``n`` and ``c = min(dis, con)``.

    As ``scipy.stats.kendalltau`` computes it: the full null distribution up to n = 33, and
    for larger n only c <= 1 is ever asked for (2/n! and 2/(n-1)!, 0 beyond float range).
    """
    c = np.asarray(c, dtype=np.int64)
    if n <= 2:
        return np.ones(len(c))
    if n <= 33:
        p = 2.0 * _inversions_cdf(n)[c]
    else:
        p0 = 2.0 / math.factorial(n) if n < 171 else 0.0
        p1 = 2.0 / math.factorial(n - 1) if n < 172 else 0.0
        p = np.where(c == 0, p0, p1)
    return np.clip(p, 0.0, 1.0)


def _tie_term(equal_pairs: np.ndarray, incidence: np.ndarray) -> np.ndarray:
    """Sum of k(k-1)(2k+5) over the tie groups of each row, from its equal pairs.

    An element in a tie group of size k is equal to k - 1 others, so summing
    (c_e)(2 c_e + 7) with c_e = k - 1 over the k elements gives k(k-1)(2k+5).
    """
    c = equal_pairs.astype(float) @ incidence  # per element: how many others equal it
    return (c * (2.0 * c + 7.0)).sum(axis=1)


def grouped_theilslopes(codes: np.ndarray, x: np.ndarray, y: np.ndarray, n_groups: int, *,
                        confidence: float = 0.95, kendall: bool = False) -> dict[str, np.ndarray]:
    """Theil-Sen slope with Sen's confidence interval (and Kendall's tau) for every group.

    Rows must be sorted by ``codes`` and, within a group, by ``x``; ``x`` and ``y`` must be
    finite. Equals, group by group, ``scipy.stats.theilslopes(y, x, alpha=confidence)``
    (slope, low_slope, high_slope) and, with ``kendall=True`` and no ties in ``x``,
    ``scipy.stats.kendalltau(x, y)`` (tau-b and its two-sided p-value: exact for small
    samples without ties, else the normal approximation with the tie-corrected variance, as
    SciPy's ``method="auto"`` chooses). Groups with fewer than two distinct ``x`` get NaN.

    All groups of the same size are handled together as one (groups, pairs) array, in chunks
    of at most ``_PAIR_CHUNK`` pairs, so the Python loop runs over distinct group sizes only.
    """
    sizes, starts = group_bounds(codes, n_groups)
    keys = ("slope", "slope_low", "slope_high", "tau", "p_value")
    out = {k: np.full(n_groups, np.nan) for k in keys}
    alpha = 1.0 - confidence if confidence > 0.5 else confidence
    z = stats.norm.ppf(alpha / 2.0)
    for n in np.unique(sizes):
        if n < 2:
            continue
        n = int(n)
        gids = np.flatnonzero(sizes == n)
        i, j = np.triu_indices(n, 1)
        n_pairs = len(i)
        incidence = np.zeros((n_pairs, n))
        incidence[np.arange(n_pairs), i] = 1.0
        incidence[np.arange(n_pairs), j] = 1.0
        step = max(1, _PAIR_CHUNK // n_pairs)
        for lo in range(0, len(gids), step):
            g = gids[lo:lo + step]
            idx = starts[g][:, None] + np.arange(n)
            X, Y = x[idx], y[idx]
            dx = X[:, j] - X[:, i]
            dy = Y[:, j] - Y[:, i]
            valid = dx > 0
            slopes = np.full(dx.shape, np.nan)
            np.divide(dy, dx, out=slopes, where=valid)
            slopes.sort(axis=1)  # NaN (pairs with tied x) sort last
            nt = valid.sum(axis=1)
            rows = np.arange(len(g))
            has = nt > 0
            lo_mid = np.maximum((nt - 1) // 2, 0)
            hi_mid = np.maximum(nt // 2, 0)
            med = (slopes[rows, lo_mid] + slopes[rows, hi_mid]) / 2.0
            ties_x = _tie_term(dx == 0, incidence)
            ties_y = _tie_term(dy == 0, incidence)
            sigsq = (n * (n - 1) * (2 * n + 5) - ties_x - ties_y) / 18.0
            sigma = np.sqrt(np.maximum(sigsq, 0.0))
            ok = has
            # Sen (1968), eq. 2.6: the ranks of the interval's ends among the sorted slopes
            r_up = np.minimum(np.round((nt - z * sigma) / 2.0).astype(np.int64), nt - 1)
            r_low = np.maximum(np.round((nt + z * sigma) / 2.0).astype(np.int64) - 1, 0)
            r_up = np.clip(r_up, 0, n_pairs - 1)
            r_low = np.clip(r_low, 0, n_pairs - 1)
            out["slope"][g] = np.where(has, med, np.nan)
            out["slope_low"][g] = np.where(ok, slopes[rows, r_low], np.nan)
            out["slope_high"][g] = np.where(ok, slopes[rows, r_up], np.nan)
            if kendall:
                if np.any(dx == 0):
                    raise ValueError("grouped_theilslopes(kendall=True) needs distinct x per group")
                con = (dy > 0).sum(axis=1)
                dis = (dy < 0).sum(axis=1)
                ytie = n_pairs - con - dis
                defined = ytie < n_pairs
                with np.errstate(invalid="ignore", divide="ignore"):
                    tau = (con - dis) / np.sqrt(n_pairs) / np.sqrt(n_pairs - ytie)
                tau = np.clip(tau, -1.0, 1.0)
                exact = (ytie == 0) & ((n <= 33) | (np.minimum(dis, n_pairs - dis) <= 1))
                p = np.full(len(g), np.nan)
                if exact.any():
                    p[exact] = _kendall_exact_p(n, np.minimum(dis, con)[exact])
                asym = defined & ~exact
                if asym.any():
                    m = n * (n - 1.0)
                    var = (m * (2 * n + 5) - ties_y[asym]) / 18.0
                    zs = (con - dis)[asym] / np.sqrt(var)
                    p[asym] = 2.0 * special.ndtr(-np.abs(zs))
                out["tau"][g] = np.where(defined, tau, np.nan)
                out["p_value"][g] = np.where(defined, p, np.nan)
    return out
