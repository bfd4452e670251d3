"""Vectorised per-group building blocks shared by the trajectory, habit and goal analyses.

Everything here works on whole columns at once: rows are sorted by an integer group code,
and per-group statistics are computed with cumulative sums, ``np.searchsorted``,
``scipy.signal.lfilter`` and pairwise arrays built for all groups of one size together.
Each vectorised statistic mirrors a SciPy function and is tested against it group by group
(``tests/test_trajectories.py``, ``tests/test_habits.py``, ``tests/test_goal_pace.py``).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

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
    string array of the distinct ids present, sorted). Categorical columns are coded from
    the categories they use without converting every row to a string, which matters at 10^7
    rows (and for a block of a few hundred people cut from a column of 10,000 categories).

    Raises
    ------
    AnalysisInputError
        If an id is missing.
    """
    s = pd.Series(values)
    if isinstance(s.dtype, pd.CategoricalDtype):
        raw = s.cat.codes.to_numpy()
        n_cats = len(s.cat.categories)
        used = np.flatnonzero(np.bincount(raw.astype(np.int64) + 1, minlength=n_cats + 1)[1:])
        names = np.asarray(s.cat.categories[used].astype("str"), dtype=object)
        uniq, rank = np.unique(names, return_inverse=True)
        remap = np.full(n_cats + 1, -1, dtype=np.int64)  # the last slot: code -1 stays -1
        remap[used] = rank
        codes = remap[raw]
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


#: Rows per block of :func:`by_participant`. Each block's temporaries (a dozen float columns
#: of half a million rows, 4 MB each) are freed and reused by the allocator for the next block, so
#: the kernel hands out fresh zeroed pages only once; one pass over 15 million rows at once
#: asked for about 11 GB of them and spent twice as long in the kernel as in the arithmetic
#: (measured in docs/scaling.md). Blocks also let :func:`in_threads` use every core.
BLOCK_ROWS = 500_000  # 1,000,000 and 250,000 were both slower at 10,000 people


def fits_one_block(frames, rows: int | None = None) -> bool:
    """Whether ``frames`` hold at most ``rows`` (``BLOCK_ROWS``) rows in all: analysed whole."""
    return sum(len(f) for f in frames) <= (BLOCK_ROWS if rows is None else int(rows))


def participant_blocks(frames, *, function: str, rows: int | None = None,
                       drop_missing: bool = False):
    """Split several frames into blocks of whole participants, in sorted participant order.

    Yields one list per block: each frame's rows of the block's participants (about ``rows``
    rows in all, ``BLOCK_ROWS`` by default; a participant is never split, across frames
    either). Blocks keep the frames' index labels, so an error naming a row names it in the
    caller's frame. Rows without a participant_id raise :class:`AnalysisInputError`, or with
    ``drop_missing`` are in no block (for analyses that ignore them anyway).
    """
    rows = BLOCK_ROWS if rows is None else int(rows)
    coded = []
    for f in frames:
        s = f["participant_id"]
        kept = None
        if drop_missing:
            present = s.notna().to_numpy()
            if not present.all():
                kept = np.flatnonzero(present)
                s = s.iloc[kept]
        codes, labels = id_codes(s, column="participant_id", function=function)
        coded.append((kept, codes, np.asarray(labels, dtype=object)))
    joint = np.unique(np.concatenate([labels for _, _, labels in coded]))
    per_person = np.zeros(len(joint), dtype=np.int64)
    for i, (kept, codes, labels) in enumerate(coded):
        codes = np.searchsorted(joint, labels)[codes] if len(codes) else codes
        per_person += np.bincount(codes, minlength=len(joint))
        coded[i] = (kept, codes)
    before = np.concatenate(([0], np.cumsum(per_person)[:-1]))
    block = before // rows  # a participant's block: where its first row falls
    starts_block = np.r_[True, block[1:] != block[:-1]] if len(joint) else block.astype(bool)
    first = np.flatnonzero(starts_block)
    n_blocks = len(first)
    block_of = (np.cumsum(starts_block) - 1).astype(np.int32)  # each participant's block
    layouts = []
    for kept, codes in coded:
        if kept is None and np.all(codes[1:] >= codes[:-1]):  # sorted: blocks are slices
            layouts.append((None, np.searchsorted(codes, np.append(first, len(joint)))))
        else:  # rows grouped by block, in their order within it (a radix sort of block ids)
            of_row = block_of[codes]
            order = np.argsort(of_row, kind="stable")
            if kept is not None:
                order = kept[order]
            at = np.r_[0, np.cumsum(np.bincount(of_row, minlength=n_blocks))]
            layouts.append((order, at))
    for b in range(n_blocks):
        parts = []
        for f, (order, at) in zip(frames, layouts):
            lo, hi = int(at[b]), int(at[b + 1])
            parts.append(f.iloc[lo:hi] if order is None else f.take(order[lo:hi]))
        yield parts


_calling_thread = threading.local()


@contextlib.contextmanager
def one_thread_per_call():
    """Within this block, analyses called from this thread run their blocks on this thread
    alone: for callers that already run one task per core (a Dask worker thread)."""
    before = getattr(_calling_thread, "workers", None)
    _calling_thread.workers = 1
    try:
        yield
    finally:
        _calling_thread.workers = before


def block_workers() -> int:
    """Threads that analyse blocks side by side: 1 inside :func:`one_thread_per_call`, else
    ``MASTERY_THREADS``, else the machine's cores up to 4 (NumPy and SciPy release the GIL
    in the loops that matter)."""
    forced = getattr(_calling_thread, "workers", None)
    if forced is not None:
        return forced
    value = os.environ.get("MASTERY_THREADS", "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise AnalysisInputError(
                f"MASTERY_THREADS={value!r} should be a whole number of threads, like 2") from None
    return max(1, min(4, os.cpu_count() or 1))


def in_threads(compute, blocks):
    """``compute(*parts)`` of each block, yielded in block order, :func:`block_workers` at a
    time; at most that many results wait, so memory stays a few blocks' worth."""
    workers = block_workers()
    if workers == 1:
        for parts in blocks:
            yield compute(*parts)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="mastery-block") as pool:
        pending = deque()
        for parts in blocks:
            pending.append(pool.submit(compute, *parts))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def by_participant(frames, compute, *, function: str, rows: int | None = None,
                   out_rows: int | None = None) -> pd.DataFrame:
    """``compute(*blocks)`` over blocks of whole participants, concatenated in participant order.

    For the per-person analyses, whose result for one person depends on that person's rows
    only. ``frames`` (a frame, or a list of frames split alike) are split by
    :func:`participant_blocks`, so the concatenation is sorted by participant as one call's
    result would be. Frames of at most ``rows`` rows in all are passed whole.

    ``out_rows``, when the caller knows the result's length, lets each block's numbers be
    copied into columns allocated once, and each block's own result be freed before the next:
    the result's memory is then asked of the kernel once instead of twice. String columns are
    joined without a copy (pyarrow chunks).
    """
    rows = BLOCK_ROWS if rows is None else int(rows)
    frames = [frames] if isinstance(frames, pd.DataFrame) else list(frames)
    if fits_one_block(frames, rows):
        return compute(*frames)
    results = in_threads(compute, participant_blocks(frames, function=function, rows=rows))
    if out_rows is None:
        return pd.concat(list(results), ignore_index=True)
    numbers, strings, names, filled = {}, {}, None, 0
    for result in results:
        if names is None:
            names = list(result.columns)
            for c in names:
                if pd.api.types.is_string_dtype(result[c].dtype):
                    strings[c] = []
                else:
                    numbers[c] = np.empty(out_rows, dtype=result[c].dtype)
        k = len(result)
        if filled + k > out_rows:
            raise RuntimeError(f"{function}: the blocks gave more than the {out_rows} rows expected")
        for c, column in numbers.items():
            column[filled:filled + k] = result[c].to_numpy()
        for c, chunks in strings.items():
            chunks.append(result[c])
        filled += k
        del result
    if filled != out_rows:
        raise RuntimeError(f"{function}: the blocks gave {filled} rows, {out_rows} expected")
    return pd.DataFrame({c: (pd.concat(strings[c], ignore_index=True) if c in strings
                             else numbers[c]) for c in names}, copy=False)


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


_BLOCK_CELLS = 500_000  # cells per 2-D block handed to lfilter at once (a few MB: reused, not fresh pages)


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
                        confidence: float = 0.95, kendall: bool = False,
                        variance_factor=None) -> dict[str, np.ndarray]:
    """Theil-Sen slope with Sen's confidence interval (and Kendall's tau) for every group.

    Rows must be sorted by ``codes`` and, within a group, by ``x``; ``x`` and ``y`` must be
    finite. Equals, group by group, ``scipy.stats.theilslopes(y, x, alpha=confidence)``
    (slope, low_slope, high_slope) and, with ``kendall=True`` and no ties in ``x``,
    ``scipy.stats.kendalltau(x, y)`` (tau-b and its two-sided p-value: exact for small
    samples without ties, else the normal approximation with the tie-corrected variance, as
    SciPy's ``method="auto"`` chooses). Groups with fewer than two distinct ``x`` get NaN.

    ``variance_factor`` (one number per group, default 1) multiplies the variance of the
    Mann-Kendall statistic S, as an autocorrelation correction does (Hamed & Rao 1998): it
    widens Sen's interval, and with ``kendall=True`` the outputs also hold ``s`` (S),
    ``var_s`` (its tie-corrected variance times the factor) and ``mk_p``: the two-sided
    p-value of ``z = (S - sign(S)) / sqrt(var_s)`` (normal, with continuity correction, as
    ``pymannkendall`` computes it; with a factor of 1 it equals ``original_test``).

    All groups of the same size are handled together as one (groups, pairs) array, in chunks
    of at most ``_PAIR_CHUNK`` pairs, so the Python loop runs over distinct group sizes only.
    """
    sizes, starts = group_bounds(codes, n_groups)
    factor = (np.ones(n_groups) if variance_factor is None
              else np.broadcast_to(np.asarray(variance_factor, dtype=float), (n_groups,)))
    keys = ("slope", "slope_low", "slope_high", "tau", "p_value", "s", "var_s", "mk_p")
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
            sigsq = (n * (n - 1) * (2 * n + 5) - ties_x - ties_y) / 18.0 * factor[g]
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
                s_stat = (con - dis).astype(float)
                var_s = (n * (n - 1.0) * (2 * n + 5) - ties_y) / 18.0 * factor[g]
                with np.errstate(invalid="ignore", divide="ignore"):
                    zc = (s_stat - np.sign(s_stat)) / np.sqrt(var_s)
                zc = np.where(s_stat == 0, 0.0, zc)
                out["s"][g] = s_stat
                out["var_s"][g] = var_s
                out["mk_p"][g] = np.where(defined, 2.0 * special.ndtr(-np.abs(zc)), np.nan)
    return out


def grouped_bh_q(p, family) -> np.ndarray:
    """Benjamini-Hochberg q-values within each family (``family``: an integer code per row).

    Equals :func:`bh_q` applied to each family's rows on their own: NaN p-values neither
    count as tests nor get a q. One sort over all rows, no Python loop over families.
    """
    p = np.asarray(p, dtype=float)
    family = np.asarray(family, dtype=np.int64)
    q = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if len(ok) == 0:
        return q
    f, pv = family[ok], p[ok]
    order = np.lexsort((pv, f))  # by family, then p
    f, pv = f[order], pv[order]
    start = np.flatnonzero(np.r_[True, f[1:] != f[:-1]])
    size = np.diff(np.r_[start, len(f)])
    rank = np.arange(len(f)) - np.repeat(start, size) + 1
    m = np.repeat(size, size)
    raw = pv * m / rank
    # running minimum from each family's largest p down (pandas' grouped cummin, in C)
    out = pd.Series(raw[::-1]).groupby(f[::-1], sort=False).cummin().to_numpy()
    q_sorted = np.clip(out[::-1], 0.0, 1.0)
    q[ok[order]] = q_sorted
    return q


# --------------------------------------------------------------------------------------------
# Autocorrelation of daily series, and the Mann-Kendall variance it implies for period means

#: How many standard errors above its bias-corrected estimate the daily lag-1 autocorrelation
#: is taken when correcting the Mann-Kendall variance (chosen by simulation: docs/statistics.md).
AR_MARGIN_SE = 1.5
#: The largest lag-1 autocorrelation used (beyond it the variance correction is unbounded).
AR_MAX = 0.99


def grouped_comoments(codes: np.ndarray, x: np.ndarray, y: np.ndarray, n_groups: int):
    """Per-group centred second moments of two columns, in one pass each (grouped moments).

    Returns ``(n, dx, dy, sxx, sxy, syy)``: the rows per group, each row's deviation from its
    group's mean of x and of y, and per group the sums of dx*dx, dx*dy and dy*dy.
    """
    n = np.bincount(codes, minlength=n_groups).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.bincount(codes, weights=x, minlength=n_groups) / n
        my = np.bincount(codes, weights=y, minlength=n_groups) / n
    dx, dy = x - mx[codes], y - my[codes]
    sxx = np.bincount(codes, weights=dx * dx, minlength=n_groups)
    sxy = np.bincount(codes, weights=dx * dy, minlength=n_groups)
    syy = np.bincount(codes, weights=dy * dy, minlength=n_groups)
    return n, dx, dy, sxx, sxy, syy


def grouped_detrended_lag1(codes: np.ndarray, t: np.ndarray, y: np.ndarray, n_groups: int, *,
                           rounding_variance=0.0) -> tuple[np.ndarray, np.ndarray]:
    """Lag-1 autocorrelation of each group's residuals from its least-squares line.

    Rows are sorted by ``codes`` and, within a group, by ``t`` (whole days, one row per day,
    ``y`` finite). Pairs are the rows exactly one day apart, so a missing day breaks a pair
    rather than joining the days around it. ``rounding_variance`` is subtracted from the
    residual variance (Sheppard's correction: ratings rounded to whole points carry a
    rounding error of variance 1/12 that is white noise and would dilute the estimate).

    Returns ``(ac, n)``: the estimate per group (NaN with fewer than 3 pairs or no residual
    variance) and the number of days of each group.
    """
    codes = np.asarray(codes, dtype=np.int64)
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    n, dt, dy, stt, sty, syy = grouped_comoments(codes, t, y, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.where(stt > 0, sty / np.where(stt > 0, stt, 1.0), 0.0)
        res = dy - b[codes] * dt
        # the residual sum of squares, syy - b sty, without another pass over the rows
        c0 = np.clip(syy - b * sty, 0.0, None) / n - rounding_variance
        pair = np.flatnonzero((codes[1:] == codes[:-1]) & (t[1:] - t[:-1] == 1.0))
        gp = codes[pair]
        n1 = np.bincount(gp, minlength=n_groups).astype(float)
        c1 = np.bincount(gp, weights=res[pair] * res[pair + 1], minlength=n_groups) / n1
        ac = np.where((n1 >= 3) & (c0 > 0), c1 / c0, np.nan)
    return np.clip(ac, -1.0, 1.0), n


def ar1_upper(ac: np.ndarray, n: np.ndarray, *, trend: bool = True,
              margin: float = AR_MARGIN_SE) -> np.ndarray:
    """A cautious lag-1 autocorrelation: bias-corrected, then ``margin`` standard errors up.

    The least-squares estimate from ``n`` points is biased low, by about ``(1 + 3 phi) / n``
    around a mean and ``(2 + 4 phi) / n`` around a fitted line (Marriott & Pope 1954;
    Shaman & Stine 1988); solved for ``phi``, the corrections are ``(n ac + 1) / (n - 3)`` and
    ``(n ac + 2) / (n - 4)``. Its standard error is about ``sqrt((1 - phi^2) / n)``. Missing
    estimates count as 0; the result is clipped to ``[0, AR_MAX]`` (negative autocorrelation
    would shrink a variance, which the tests never do).
    """
    ac = np.where(np.isfinite(ac), ac, 0.0)
    n = np.asarray(n, dtype=float)
    k = 4.0 if trend else 3.0
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(n > k + 1, (n * ac + (k - 2.0)) / (n - k), ac)
        phi = np.clip(phi, -1.0, 1.0)
        phi = phi + margin * np.sqrt(np.clip(1.0 - phi ** 2, 0.0, None) / np.maximum(n, 1.0))
    return np.clip(np.nan_to_num(phi), 0.0, AR_MAX)


def period_mean_acf(phi: np.ndarray, period_days: float, max_lag: int) -> np.ndarray:
    """Autocorrelation of the means of consecutive ``period_days``-day blocks of an AR(1).

    For a daily AR(1) with coefficient ``phi`` and blocks of ``L`` days, the covariance of two
    block means ``k >= 1`` blocks apart is ``phi^(L k - L + 1) S^2`` with
    ``S = sum_{a<L} phi^a``, and the variance is ``L + 2 sum_{h<L} (L - h) phi^h`` (times the
    same constant). Returns an array (groups, max_lag) for lags 1..max_lag.
    """
    L = max(int(round(period_days)), 1)
    phi = np.asarray(phi, dtype=float)[:, None]
    a = np.arange(L)
    s = (phi ** a).sum(axis=1)
    h = np.arange(1, L)
    c0 = L + 2.0 * ((L - h) * phi ** h).sum(axis=1) if L > 1 else np.ones(len(phi))
    k = np.arange(1, max_lag + 1)
    return phi ** (L * k - (L - 1)) * (s ** 2 / c0)[:, None]


def hamed_rao_factor(rank_acf: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Hamed & Rao's (1998) ``n / n*``: how much autocorrelation inflates Var(S) of Mann-Kendall.

    ``n / n* = 1 + 2 / (n (n-1) (n-2)) * sum_{i=1}^{n-1} (n-i)(n-i-1)(n-i-2) rho_s(i)``, with
    ``rho_s(i)`` the autocorrelation of the ranks at lag i (row g of ``rank_acf`` holds lags
    1, 2, ... for group g; lags at or beyond ``n[g]`` are ignored). Groups with n < 3 get 1.
    """
    rank_acf = np.asarray(rank_acf, dtype=float)
    n = np.asarray(n, dtype=float)
    i = np.arange(1, rank_acf.shape[1] + 1, dtype=float)
    w = (n[:, None] - i) * (n[:, None] - i - 1) * (n[:, None] - i - 2)
    w = np.where(i[None, :] < n[:, None], w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = 1.0 + 2.0 / (n * (n - 1) * (n - 2)) * (w * rank_acf).sum(axis=1)
    return np.where(n >= 3, f, 1.0)


def spearman_of_normal(rho: np.ndarray) -> np.ndarray:
    """Spearman's correlation of a bivariate normal with Pearson correlation ``rho``."""
    return 6.0 / np.pi * np.arcsin(np.clip(rho, -1.0, 1.0) / 2.0)
