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


def bh_q(p) -> np.ndarray:
    """Benjamini-Hochberg q-values of the finite p-values in ``p`` (NaN stays NaN).

    :func:`scipy.stats.false_discovery_control` over the p-values that exist, so that a test
    not run (NaN) neither counts as a test nor gets a q.
    """
    p = np.asarray(p, dtype=float)
    q = np.full(len(p), np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q


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


def one_day(value, *, name: str, function: str) -> np.datetime64:
    """A date-like option (``today``, ``until``) as a ``datetime64[D]`` calendar day."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise AnalysisInputError(f"{function}: {name}={value!r} is not a date ({exc})") from None
    if ts is pd.NaT:
        raise AnalysisInputError(f"{function}: {name} must be a date, got {value!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return np.datetime64(ts.normalize().date(), "D")


def as_numbers(values, *, column: str, function: str) -> np.ndarray:
    """A numeric column as float64 (missing values are NaN)."""
    try:
        return pd.to_numeric(pd.Series(values), errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise AnalysisInputError(f"{function}: column '{column}' must hold numbers ({exc})") from None


def as_ids(values) -> pd.Series:
    """A (small) id column as pandas' string dtype, as in :mod:`mastery_analysis.schema`."""
    s = pd.Series(values)
    return s if s.dtype == "str" else s.astype("str")


def id_codes(values, *, column: str, function: str):
    """Integer codes of an id column and its labels, numbered in sorted label order.

    Returns ``(codes, labels)``: ``codes`` (int64, one per row) index ``labels`` (a pandas
    string array of the distinct ids, sorted). Categorical columns are coded from their
    categories without converting every row to a string, which matters at 10^7 rows.

    Raises
    ------
    AnalysisInputError
        If an id is missing.
    """
    s = pd.Series(values)
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = pd.Index(s.cat.categories.astype("str"))
        uniq, remap = np.unique(cats.to_numpy(dtype=object), return_inverse=True)
        raw = s.cat.codes.to_numpy().astype(np.int64)
        codes = np.where(raw >= 0, remap.astype(np.int64)[np.maximum(raw, 0)], -1)
        labels = pd.array(uniq, dtype="str")
    else:
        codes, uniq = pd.factorize(s.astype("str") if s.dtype != "str" else s, sort=True)
        codes = codes.astype(np.int64)
        labels = pd.array(np.asarray(uniq, dtype=object), dtype="str")
    missing = codes < 0
    if missing.any():
        raise AnalysisInputError(
            f"{function}: column '{column}' is missing in {int(missing.sum())} row(s) (first at "
            f"position {int(np.flatnonzero(missing)[0])}); every row needs a {column}")
    return codes, labels


def goal_ids(goals: pd.DataFrame, *, function: str) -> tuple[pd.Series, pd.Series]:
    """The goals frame's ``goal_id`` and ``participant_id`` as string Series (index 0..n-1).

    Raises
    ------
    AnalysisInputError
        If a column is missing or a goal_id appears more than once.
    """
    require_frame(goals, ["goal_id", "participant_id"], name="goals", function=function)
    gid = as_ids(goals["goal_id"]).reset_index(drop=True)
    pid = as_ids(goals["participant_id"]).reset_index(drop=True)
    dup = gid.duplicated(keep=False)
    if dup.any():
        first = gid[dup].iloc[0]
        raise AnalysisInputError(
            f"{function}: goal_id {first!r} appears {int((gid == first).sum())} times in the goals "
            "frame; each goal_id once")
    return gid, pid


def labels_of(labels, codes: np.ndarray) -> pd.Series:
    """``labels[codes]`` as a string Series with a fresh index."""
    return pd.Series(pd.array(labels, dtype="str").take(np.asarray(codes, dtype=np.int64)))


def days_to_timestamps(days: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` back to the package's ``datetime64[ns]`` day stamps."""
    return days.astype("datetime64[ns]")


def group_bounds(codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Sizes and start offsets of each group in an array sorted by group code."""
    sizes = np.bincount(codes, minlength=n_groups).astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    return sizes, starts


_BLOCK_CELLS = 4_000_000  # cells per 2-D block handed to lfilter at once


def filter_segments(x: np.ndarray, starts: np.ndarray, lengths: np.ndarray, decay: float, *,
                    gain: float | None = None) -> np.ndarray:
    """``y_t = decay * y_(t-1) + gain * x_t`` along the last axis, from 0 in each segment.

    ``x`` (1-D, or 2-D to filter several rows at once) is made of segments along its last
    axis (``starts``, ``lengths``). ``gain`` defaults to ``1 - decay``. Segments of similar
    length (the same power of two) are laid out as the rows of a zero-padded 2-D block and
    filtered by one :func:`scipy.signal.lfilter` call along its rows, so every segment
    starts from a zero state exactly as if filtered alone, and the Python loop runs over
    length classes and blocks of ``_BLOCK_CELLS`` cells, never over segments.
    """
    gain = 1.0 - decay if gain is None else float(gain)
    x = np.asarray(x, dtype=float)
    y = np.zeros_like(x)
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    if len(starts) == 0:
        return y
    size_class = np.ceil(np.log2(lengths)).astype(np.int64)
    for c in np.unique(size_class):
        segs = np.flatnonzero(size_class == c)
        width = int(lengths[segs].max())
        step = max(1, _BLOCK_CELLS // width)
        for lo in range(0, len(segs), step):
            part = segs[lo:lo + step]
            offsets = np.arange(width)
            valid = offsets < lengths[part][:, None]
            idx = np.where(valid, starts[part][:, None] + offsets, 0)
            block = np.where(valid, x[..., idx], 0.0)
            out = lfilter([gain], [1.0, -decay], block, axis=-1)
            y[..., idx[valid]] = out[..., valid]
    return y


def segmented_ewma(x: np.ndarray, codes: np.ndarray, decay, *, gain: float | None = None) -> np.ndarray:
    """``y_t = decay * y_(t-1) + gain * x_t`` per group, restarting from 0 at each group start.

    ``x`` and ``codes`` are sorted by group (a group's rows contiguous and in time order).
    ``decay`` is one number for all groups or an array with one value per group code;
    ``gain`` is a number or, by default, ``1 - decay``. The groups that share a decay are
    filtered together by :func:`filter_segments` (one ``lfilter`` call); the Python loop
    runs over distinct decays only (one per goal frequency), never over groups.
    """
    x = np.asarray(x, dtype=float)
    codes = np.asarray(codes, dtype=np.int64)
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    lengths = np.diff(np.r_[first, len(codes)])
    if np.ndim(decay) == 0:
        return filter_segments(x, first, lengths, float(decay), gain=gain)
    seg_decay = np.asarray(decay, dtype=float)[codes[first]]
    for m in np.unique(seg_decay):
        segs = seg_decay == m
        rows = np.flatnonzero(np.repeat(segs, lengths))
        sub_lengths = lengths[segs]
        sub_starts = np.r_[0, np.cumsum(sub_lengths)[:-1]]
        out[rows] = filter_segments(x[rows], sub_starts, sub_lengths, float(m), gain=gain)
    return out


def match_goals(goal_gid: pd.Series, goal_pid: pd.Series, row_gid: tuple, row_pid: tuple):
    """Match rows (of actions or progress) to goals on goal_id and participant_id.

    ``goal_gid``/``goal_pid`` are the goals' ids (str Series, goal ids unique);
    ``row_gid``/``row_pid`` are ``(codes, labels)`` of the rows' ids from :func:`id_codes`.
    Only the distinct labels are looked up, so this is cheap for 10^7 rows.

    Returns
    -------
    goal_row : ndarray
        For each row, the position of its goal in the goals frame, or -1 if the goal is not
        there or belongs to another participant.
    goal_person : ndarray
        For each goal, the code of its participant among the rows' participant labels, or
        -1 if that participant has no rows.
    """
    g_codes, g_labels = row_gid
    p_codes, p_labels = row_pid
    row_of_label = pd.Index(goal_gid).get_indexer(pd.Index(g_labels))
    goal_row = row_of_label[g_codes] if len(g_codes) else np.zeros(0, dtype=np.int64)
    goal_person = pd.Index(p_labels).get_indexer(pd.Index(goal_pid)).astype(np.int64)
    known = goal_row >= 0
    same = np.zeros(len(goal_row), dtype=bool)
    same[known] = goal_person[goal_row[known]] == p_codes[known]
    return np.where(same, goal_row, -1).astype(np.int64), goal_person


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


def _tie_term(values: np.ndarray) -> np.ndarray:
    """Sum of k(k-1)(2k+5) over the groups of k equal values in each row of ``values``.

    The tie correction of Sen's (1968) variance, as ``scipy.stats.theilslopes`` computes it
    with ``_find_repeats`` (exact equality), for every row at once.
    """
    g, n = values.shape
    s = np.sort(values, axis=1)
    new = np.ones((g, n), dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    run = np.cumsum(new.ravel()) - 1
    k = np.bincount(run).astype(float)
    row = np.repeat(np.arange(g), new.sum(axis=1))
    return np.bincount(row, weights=k * (k - 1.0) * (2.0 * k + 5.0), minlength=g)


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
            ties_x = _tie_term(X)
            ties_y = _tie_term(Y)
            sigsq = (n * (n - 1) * (2 * n + 5) - ties_x - ties_y) / 18.0
            sigma = np.sqrt(np.maximum(sigsq, 0.0))
            # Sen (1968), eq. 2.6: the ranks of the interval's ends among the sorted slopes
            r_up = np.minimum(np.round((nt - z * sigma) / 2.0).astype(np.int64), nt - 1)
            r_low = np.maximum(np.round((nt + z * sigma) / 2.0).astype(np.int64) - 1, 0)
            r_up = np.clip(r_up, 0, n_pairs - 1)
            r_low = np.clip(r_low, 0, n_pairs - 1)
            out["slope"][g] = np.where(has, med, np.nan)
            out["slope_low"][g] = np.where(has, slopes[rows, r_low], np.nan)
            out["slope_high"][g] = np.where(has, slopes[rows, r_up], np.nan)
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
