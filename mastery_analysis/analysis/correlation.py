"""Does daily action move a goal? Lagged correlation of actions with later progress *changes*.

Progress levels are a random walk and correlate with anything that trends, so the outcome is
the change in progress, never the level. Daily series are autocorrelated, so each test uses an
effective sample size (Bartlett's formula: for two AR(1) series from the lag-1
autocorrelations, and summed over many lags for series with a longer memory), and the p-values
of every lag and goal in one call are adjusted together with Benjamini-Hochberg.

Everything is computed at once for all participants, goals and lags from grouped moments
(``numpy.bincount`` over whole columns) and, for the autocorrelations at many lags, FFTs of
whole blocks of goals (one 2-D transform per padded length), never with a Python function
per group.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import AnalysisInputError
from . import _grouped
from ._grouped import AR_MARGIN_SE, as_days, grouped_bh_q, grouped_comoments, require_frame

#: The correlation the sufficiency estimate is for, and the power it asks for.
TARGET_R = 0.3
TARGET_POWER = 0.8
#: The fewest effective pairs for which a test is run at all (``min_n_eff`` default).
MIN_N_EFF = 10
#: The fewest consecutive-day pairs from which a lag-1 autocorrelation is estimated.
MIN_AC_PAIRS = 3

#: The families Benjamini-Hochberg may control the false discovery rate over.
FAMILIES = ("call", "participant")

COLUMNS = ["participant_id", "goal_id", "lag", "n", "n_eff", "r", "ci_low", "ci_high",
           "p_value", "q_value", "significant", "tested", "sufficient", "days_needed",
           "more_days", "ac_actions", "ac_progress"]


def _days(series) -> np.ndarray:
    """Calendar days as int64 day numbers (1970-01-01 is 0; a missing date is int64's minimum)."""
    return as_days(series, column="date", function="action_progress_correlation").astype(np.int64)


def _check_lags(lags) -> np.ndarray:
    if isinstance(lags, (int, np.integer)):
        lags = [lags]
    if not isinstance(lags, Iterable):
        raise AnalysisInputError(f"lags should be whole numbers of days like range(0, 8), got {lags!r}")
    out = []
    for lag in lags:
        if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or lag < 0:
            raise AnalysisInputError(f"lags should be whole numbers of days from 0 up, got {lag!r}")
        out.append(int(lag))
    if not out:
        raise AnalysisInputError("lags is empty; give at least one lag, like range(0, 8)")
    return np.array(sorted(set(out)), dtype=np.int64)


def required_days(autocorrelation_product, *, r=TARGET_R, power=TARGET_POWER, alpha=0.05,
                  n_tests=1, memory=1.0):
    """Paired days at which the tool's procedure finds correlation ``r`` with ``power``.

    The procedure is a two-sided test on the effective sample size, with Benjamini-Hochberg
    control of the false discovery rate at ``alpha`` over ``n_tests`` tests. BH rejects at
    least every hypothesis Bonferroni rejects, so the days that give ``power`` at the
    Bonferroni level ``alpha / n_tests`` are enough for BH: the Fisher-z sample size
    ``((z_(1 - alpha / (2 n_tests)) + z_power) / atanh(r))^2 + 3`` effective pairs, inflated
    by ``n / n_eff = (1 + a) / (1 - a)`` where ``a`` is the product of the two series'
    (bias-corrected) lag-1 autocorrelations, taken as 0 when negative or unknown, so the
    answer is then a lower bound. ``memory`` (default 1: none) is the inflation from
    Bartlett's sum over more lags (:func:`memory_inflation`), as ``n_eff`` uses it: the
    larger of the two inflations applies. With ``n_tests = 1`` this is the usual
    single-test size. Returns a float array (NaN when ``a >= 1``). ``make calibrate`` checks
    by simulation that at these days a true r = 0.3 is flagged at least 80% of the time
    (docs/statistics.md).
    """
    a = np.asarray(autocorrelation_product, dtype=float)
    a = np.where(np.isfinite(a), np.clip(a, 0.0, None), 0.0)
    m = np.maximum(np.asarray(n_tests, dtype=float), 1.0)
    z = stats.norm.isf(alpha / (2 * m)) + stats.norm.ppf(power)
    n_iid = (z / np.arctanh(r)) ** 2 + 3
    with np.errstate(divide="ignore", invalid="ignore"):
        inflation = np.where(a < 1, (1 + a) / (1 - a), np.nan)
    inflation = np.maximum(inflation, np.asarray(memory, dtype=float))
    return np.ceil(n_iid * inflation)


def memory_inflation(memory_sum):
    """``n / n_eff`` by Bartlett's sum over many lags, ``1 + 2 sum_k (1 - k/n) rho_x(k)
    rho_y(k)`` from ``ac_memory`` (k up to n / 5; Pyper and Peterman 1998), at least 1; 1
    where the sum is missing. Used with the lag-1 inflation ``(1 + a) / (1 - a)``: the larger
    applies, so AR(1) series keep their ``n_eff`` and series with a longer memory than their
    lag-1 autocorrelation says (daily counts or on/off days driven by a persistent state)
    get a smaller one."""
    s = np.asarray(memory_sum, dtype=float)
    return np.maximum(1.0 + 2.0 * np.where(np.isfinite(s), s, 0.0), 1.0)


def effective_autocorrelation(ac, n):
    """The lag-1 autocorrelation ``n_eff`` uses: the estimate from ``n`` days corrected for its
    small-sample bias, ``(n ac + 1) / (n - 3)`` (Marriott & Pope 1954: the estimate is low by
    about ``(1 + 3 phi) / n``), clipped to [-0.99, 0.99]. Missing estimates stay missing."""
    ac = np.asarray(ac, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(n > 4, (n * ac + 1.0) / (n - 3.0), ac)
    return np.clip(phi, -0.99, 0.99)


def cautious_autocorrelation(ac, n, margin=AR_MARGIN_SE):
    """:func:`effective_autocorrelation` plus ``margin`` standard errors
    (``sqrt((1 - phi^2) / n)``), for planning: the days a test needs grow steeply with the
    autocorrelation, so an estimate that happens to be low would promise power too early
    (``make calibrate`` showed 72% instead of 80% without the margin)."""
    phi = effective_autocorrelation(ac, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        up = phi + margin * np.sqrt(np.clip(1 - phi**2, 0.0, None) / np.maximum(np.asarray(n, float), 1.0))
    return np.clip(up, -0.99, 0.99)


def _sorted_unique(values):
    """Sorted distinct values (a sort and a mask: faster here than np.unique's hash path)."""
    v = np.sort(values, kind="stable")
    return v[np.r_[True, v[1:] != v[:-1]]] if len(v) else v


def _factorize_many(columns):
    """Integer codes shared by several id columns (text or categorical), and the ids as text.

    Each column is factorised on its own (cheap for categoricals), then only the distinct
    values are matched across columns. Missing ids get code -1.
    """
    parts = [pd.factorize(pd.Series(c), use_na_sentinel=True) for c in columns]
    texts = [np.asarray(pd.Index(u).astype("str"), dtype=object) for _, u in parts]
    joint, labels = pd.factorize(np.concatenate(texts) if texts else np.zeros(0, dtype=object))
    out, at = [], 0
    for (codes, _), t in zip(parts, texts):
        mapping = np.r_[joint[at:at + len(t)], -1].astype(np.int64)  # -1 stays -1
        out.append(mapping[codes])
        at += len(t)
    codes = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    return codes, np.asarray(labels, dtype=object)


def _ragged_arange(counts):
    """0..c-1 for each count c, concatenated."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def _groups(actions, progress, checkins, measure):
    """Integer codes for participants and goals, and the day-level rows of each input.

    Returns a dict of numpy arrays: ``pid_labels``/``goal_labels`` (the ids), per group
    ``g_pid``/``g_goal`` (codes), and the rows: actions ``a_g, a_day, a_x``; progress
    ``p_g, p_day, p_pct`` (sorted by group and day, one row per day, last one kept); days seen
    ``s_pid, s_day`` (unique, sorted by participant).
    """
    frames = [actions, progress] + ([checkins] if checkins is not None else [])
    sizes = [len(f) for f in frames]
    pid_codes, pid_labels = _factorize_many([f["participant_id"] for f in frames])
    cuts = np.cumsum([0] + sizes)
    a_pid, p_pid = pid_codes[cuts[0]:cuts[1]], pid_codes[cuts[1]:cuts[2]]
    goal_codes, goal_labels = _factorize_many([actions["goal_id"], progress["goal_id"]])
    a_goal, p_goal = goal_codes[:sizes[0]], goal_codes[sizes[0]:]
    n_goal = max(len(goal_labels), 1)
    a_day, p_day = _days(actions["date"]), _days(progress["date"])
    a_x = pd.to_numeric(actions[measure], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    p_pct = pd.to_numeric(progress["percent"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    nat = np.iinfo(np.int64).min  # a missing date
    a_ok = (a_pid >= 0) & (a_goal >= 0) & (a_day != nat)
    p_ok = (p_pid >= 0) & (p_goal >= 0) & (p_day != nat) & np.isfinite(p_pct)
    seen_pid = [a_pid[a_ok], p_pid[p_ok]]
    seen_day = [a_day[a_ok], p_day[p_ok]]
    a_key = a_pid[a_ok].astype(np.int64) * n_goal + a_goal[a_ok]
    p_key = p_pid[p_ok].astype(np.int64) * n_goal + p_goal[p_ok]
    codes, uniq = pd.factorize(np.r_[a_key, p_key])  # hashing; then codes in key order
    order = np.argsort(uniq, kind="stable")
    g_keys = uniq[order]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    inv = rank[codes] if len(codes) else codes.astype(np.int64)
    a_g, p_g = inv[:len(a_key)], inv[len(a_key):]
    a_day, a_x, p_day, p_pct = a_day[a_ok], a_x[a_ok], p_day[p_ok], p_pct[p_ok]

    # repeated (goal, day) keys: actions add up, the last progress row wins
    day0 = min([d.min() for d in (a_day, p_day) if len(d)], default=0)
    width = int(max([d.max() for d in (a_day, p_day) if len(d)], default=0) - day0 + 1)
    ak = a_g.astype(np.int64) * width + (a_day - day0)
    ainv, uk = pd.factorize(ak)
    a_x = np.bincount(ainv, weights=a_x, minlength=len(uk)) if len(uk) else np.zeros(0)
    a_g, a_day = uk // width, uk % width + day0
    pk = p_g.astype(np.int64) * width + (p_day - day0)
    order = np.argsort(pk, kind="stable")
    pk, p_pct = pk[order], p_pct[order]
    last = np.r_[pk[1:] != pk[:-1], True] if len(pk) else np.zeros(0, dtype=bool)
    pk, p_pct = pk[last], p_pct[last]
    p_g, p_day = pk // width, pk % width + day0

    if checkins is not None:
        c_pid = pid_codes[cuts[2]:cuts[3]]
        c_day = _days(checkins["date"])
        ok = (c_pid >= 0) & (c_day != nat)
        seen_pid.append(c_pid[ok])
        seen_day.append(c_day[ok])
    s_pid = np.concatenate(seen_pid).astype(np.int64)
    s_day = np.concatenate(seen_day)
    if len(s_day):
        s0 = s_day.min()
        sw = int(s_day.max() - s0 + 1)
        sk = _sorted_unique(s_pid * sw + (s_day - s0))
        s_pid, s_day = sk // sw, sk % sw + s0
    return {"pid_labels": np.asarray(pid_labels, dtype=object),
            "goal_labels": np.asarray(goal_labels, dtype=object),
            "g_pid": g_keys // n_goal, "g_goal": g_keys % n_goal,
            "a_g": a_g, "a_day": a_day, "a_x": a_x, "p_g": p_g, "p_day": p_day, "p_pct": p_pct,
            "s_pid": s_pid, "s_day": s_day, "n_pid": len(pid_labels)}


def _grid(d, max_lag):
    """Dense day grids, one per goal, holding the action measure ``x`` and progress rate ``y``.

    A goal's grid runs from ``max_lag`` days before its first progress entry to the day before
    its last one (the days whose progress change is known, and the action days paired with
    them). ``x`` is NaN on days the participant did not check in; ``y`` on day s is the
    change per day from the last progress entry on or before s to the next entry after s.
    """
    G = len(d["g_pid"])
    pg, pday, pct = d["p_g"], d["p_day"], d["p_pct"]  # sorted by group and day
    n_entries = np.bincount(pg, minlength=G)
    first = np.zeros(G, dtype=np.int64)
    last = np.zeros(G, dtype=np.int64)
    if len(pg):
        starts_at = np.r_[0, np.cumsum(n_entries)[:-1]]
        has = n_entries > 0
        first[has] = pday[starts_at[has]]
        last[has] = pday[starts_at[has] + n_entries[has] - 1]
    usable = n_entries >= 2
    start = np.where(usable, first - max_lag, 0)
    length = np.where(usable, last - first + max_lag, 0).astype(np.int64)
    offset = np.r_[0, np.cumsum(length)[:-1]].astype(np.int64)
    total = int(length.sum())
    gid = np.repeat(np.arange(G), length)

    # y: the rate of each interval [d_i, d_(i+1)), carried forward over the grid
    same_next = np.zeros(len(pg), dtype=bool)
    same_next[:-1] = pg[1:] == pg[:-1]
    nxt = np.flatnonzero(same_next)
    rate = np.full(len(pg), np.nan)
    rate[nxt] = (pct[nxt + 1] - pct[nxt]) / (pday[nxt + 1] - pday[nxt])
    mark_val = np.full(total, np.nan)
    mark = np.zeros(total, dtype=bool)
    mark[offset[usable & (length > 0)]] = True
    epos = offset[pg[nxt]] + (pday[nxt] - start[pg[nxt]])
    mark[epos] = True
    mark_val[epos] = rate[nxt]
    if total:
        y = mark_val[np.maximum.accumulate(np.where(mark, np.arange(total), 0))]
    else:
        y = np.zeros(0)

    # x: 0 on every day the participant checked in, the measure on days with an action row
    x = np.full(total, np.nan)
    s_pid, s_day = d["s_pid"], d["s_day"]  # sorted by participant
    per_pid = np.bincount(s_pid, minlength=d["n_pid"])
    pid_start = np.r_[0, np.cumsum(per_pid)[:-1]]
    live = np.flatnonzero(length > 0)
    reps = per_pid[d["g_pid"][live]]
    rows = np.repeat(pid_start[d["g_pid"][live]], reps) + _ragged_arange(reps)
    g_rows = np.repeat(live, reps)
    rel = s_day[rows] - start[g_rows]
    inside = (rel >= 0) & (rel < length[g_rows])
    x[offset[g_rows[inside]] + rel[inside]] = 0.0
    ag = d["a_g"]
    arel = d["a_day"] - start[ag]
    inside = usable[ag] & (arel >= 0) & (arel < length[ag])
    x[offset[ag[inside]] + arel[inside]] = d["a_x"][inside]
    return x, y, gid, offset, length


def _moments(x, y, gid, remaining, x_ok, lag, G):
    """Grouped Pearson moments of x[t] against y[t + lag], and lag-1 autocorrelations.

    ``remaining`` is the number of grid days from each position to its group's end and
    ``x_ok`` marks the finite x values (both the same for every lag).
    """
    total = len(x)
    y_shift = np.r_[y[lag:], np.full(min(lag, total), np.nan)]
    in_group = remaining > lag
    ok = in_group & x_ok & np.isfinite(y_shift)
    idx = np.flatnonzero(ok)
    g = gid[idx]
    xs, ys = x[idx], y_shift[idx]
    n, dx, dy, sxx, sxy, syy = grouped_comoments(g, xs, ys, G)
    # a series is constant when no value differs from its group's first one (exact, no tolerance)
    first_row = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.zeros(0, np.int64)
    fx = np.full(G, np.nan)
    fy = np.full(G, np.nan)
    fx[g[first_row]], fy[g[first_row]] = xs[first_row], ys[first_row]
    x_varies = np.bincount(g, weights=(xs != fx[g]).astype(float), minlength=G) > 0
    y_varies = np.bincount(g, weights=(ys != fy[g]).astype(float), minlength=G) > 0
    # lag-1 autocorrelation over consecutive days that are both in the paired set
    consecutive = (idx[1:] == idx[:-1] + 1) & (g[1:] == g[:-1])
    c = np.flatnonzero(consecutive)
    gc = g[c]
    n1 = np.bincount(gc, minlength=G).astype(float)
    cxx = np.bincount(gc, weights=dx[c] * dx[c + 1], minlength=G)
    cyy = np.bincount(gc, weights=dy[c] * dy[c + 1], minlength=G)
    with np.errstate(divide="ignore", invalid="ignore"):
        acx = np.where(n1 >= MIN_AC_PAIRS, (cxx / n1) / (sxx / n), np.nan)
        acy = np.where(n1 >= MIN_AC_PAIRS, (cyy / n1) / (syy / n), np.nan)
        r = sxy / np.sqrt(sxx * syy)
    varies = x_varies & y_varies
    r = np.where(varies & (n >= 3), np.clip(r, -1.0, 1.0), np.nan)
    acx = np.where(x_varies, np.clip(acx, -1.0, 1.0), np.nan)
    acy = np.where(y_varies, np.clip(acy, -1.0, 1.0), np.nan)
    # days on which a pair could have formed (progress change known), for the check-in rate
    possible = np.bincount(gid[in_group & np.isfinite(y_shift)], minlength=G)
    return n, r, acx, acy, varies, possible


#: The longest lag, as a share of the days, over which :func:`_memory_sums` adds up the
#: products of the two series' autocorrelations (Pyper and Peterman 1998 use n / 5).
MEMORY_LAG_SHARE = 5


def _memory_sums(x, y, gid, offset, length, G):
    """Each goal's autocorrelations of ``x`` and ``y`` at lags 1 to ``length // 5``, for
    Bartlett's sum over many lags (:func:`_memory_sum`).

    From the products of deviations from the goal's mean k days apart, over the days where
    both are known: ``rho(k) = (S_k / n_k) / (S_0 / n_0) * (n_0 - k) / n_0`` (with every day
    known, the usual ``S_k / S_0``; with gaps, the same estimate scaled for the pairs the gaps
    removed). Every lag's ``S_k`` and ``n_k`` at once, for whole blocks of goals, by the FFT
    (Wiener-Khinchin: the inverse transform of the power spectrum of a zero-padded series is
    its autocovariance): goals are grouped by the power of two their days and longest lag fit
    in, one 2-D transform per group. A goal's numbers depend on its own days and that length
    only, so any split of the participants gives the same numbers bit for bit.
    Returns ``(start, kmax, prod)``: per group where its values start in the ragged array
    ``prod`` and its longest lag; ``prod[start + k - 1]`` is ``rho_x(k) rho_y(k)``.
    """
    kmax = (length // MEMORY_LAG_SHARE).astype(np.int64)
    start = np.r_[0, np.cumsum(kmax)[:-1]].astype(np.int64)
    prod = np.zeros(int(kmax.sum()))
    live = np.flatnonzero(kmax > 0)
    if not len(live):
        return start, kmax, prod
    nfft = 2 ** np.ceil(np.log2(length[live] + kmax[live])).astype(np.int64)
    for size in np.unique(nfft):
        gs = live[nfft == size]
        L, K = length[gs], kmax[gs]
        rows = np.repeat(np.arange(len(gs)), L)
        cols = _ragged_arange(L)
        src = np.repeat(offset[gs], L) + cols
        top = int(K.max())
        k = np.arange(1, top + 1)
        rho = np.ones((len(gs), top))
        for v in (x, y):
            val = np.zeros((len(gs), int(size)))
            okf = np.zeros((len(gs), int(size)))
            known = np.isfinite(v[src])
            val[rows[known], cols[known]] = v[src][known]
            okf[rows[known], cols[known]] = 1.0
            n0 = okf.sum(axis=1)
            mean = val.sum(axis=1) / np.maximum(n0, 1.0)  # 0 for a series with no known day
            dev = (val - mean[:, None]) * okf
            s0 = (dev * dev).sum(axis=1)
            spectrum = np.fft.rfft(dev, axis=1)
            sk = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=int(size), axis=1)[:, 1:top + 1]
            spectrum = np.fft.rfft(okf, axis=1)
            nk = np.rint(np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=int(size),
                                      axis=1)[:, 1:top + 1])
            with np.errstate(invalid="ignore", divide="ignore"):
                r = ((sk / nk) / (s0 / n0)[:, None] * (n0[:, None] - k) / n0[:, None])
            rho *= np.where(np.isfinite(r) & (nk > 0), r, 0.0)
        at = np.repeat(np.arange(len(gs)), K)
        kk = _ragged_arange(K)
        prod[start[gs][at] + kk] = rho[at, kk]
    return start, kmax, prod


def _memory_sum(sums, group, n):
    """Bartlett's sum ``sum_(k=1..K) (1 - k/n) rho_x(k) rho_y(k)`` for rows of ``n`` pairs of
    goal ``group``, with ``K = n // 5`` (at most the goal's longest lag in
    :func:`_memory_sums`); 0 when K is 0. Added up k by k, the same order for every row."""
    start, kmax, prod = sums
    n = np.asarray(n, dtype=float)
    K = np.minimum(n.astype(np.int64) // MEMORY_LAG_SHARE, kmax[group])
    total = np.zeros(len(n))
    for k in range(1, int(K.max(initial=0)) + 1):
        rows = np.flatnonzero(K >= k)
        total[rows] += (1 - k / n[rows]) * prod[start[group[rows]] + k - 1]
    return total


def _empty() -> pd.DataFrame:
    dtypes = {"participant_id": "str", "goal_id": "str", "lag": np.int64, "n": np.int64,
              "significant": bool, "tested": bool, "sufficient": bool, "days_needed": "Int64", "more_days": "Int64"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, float)) for c in COLUMNS})


def action_progress_correlation(actions: pd.DataFrame, progress: pd.DataFrame, *,
                                lags: Iterable[int] = range(0, 8), measure: str = "count",
                                checkins: pd.DataFrame | None = None, alpha: float = 0.05,
                                min_n_eff: float = MIN_N_EFF, family: str = "call") -> pd.DataFrame:
    """Correlate actions on day t with the change in goal progress from day t+lag onwards.

    For every participant, goal and lag, the action measure on day t is paired with the
    progress change per day from day t+lag to the next progress entry: with
    ``d_i <= t+lag < d_(i+1)`` for progress entries ``d_1 < d_2 < ...`` the outcome is
    ``(percent_(i+1) - percent_i) / (d_(i+1) - d_i)``, which is the one-day change when progress
    is recorded daily. Levels are never correlated: they are a random walk.

    Which days count: an action row's value on its day; 0 on any other day on which the
    participant *checked in* (wrote an action or progress row for any goal, or appears in
    ``checkins``); no value (the day is left out) on days without any sign of the participant,
    since "did nothing" and "did not open the app" cannot be told apart there.

    Autocorrelation: each series' lag-1 autocorrelation is estimated from consecutive-day pairs
    (``ac_actions``, ``ac_progress``), corrected for its small-sample bias
    (:func:`effective_autocorrelation`), and the effective sample size is
    ``n_eff = n / f`` with ``f`` the larger of two inflations (``n_eff <= n``). The first is
    ``(1 + a) / (1 - a)`` with ``a`` the product of the two corrected values (Bartlett for two
    AR(1) series; ``a < 0`` is taken as 0), which takes each series' autocorrelation at lag k
    to be its lag-1 value to the power k. A series whose lag-1 autocorrelation understates
    its memory breaks that: daily counts or on/off days driven by a slowly changing state (an
    AR(1) seen through noise). The second sees them: Bartlett's sum over many lags,
    ``1 + 2 sum_k (1 - k/n) rho_x(k) rho_y(k)`` for k from 1 to n / 5 (Pyper and Peterman
    1998; :func:`memory_inflation`), from each goal's autocorrelations of its action and
    progress-change series estimated over all its days. The t test uses ``n_eff - 2``
    degrees of freedom and the Fisher-z interval ``1 / sqrt(n_eff - 3)``. On independent
    AR(1) series the share of p < 0.05 stays at or below about 5% for phi up to 0.95 from 30
    days (``make calibrate``, docs/statistics.md), where the naive Pearson test gives about 35%
    at phi 0.8; at phi 0.95 over a year a person analysed alone (BH over their own goals and
    lags, as ``family="participant"`` does) is told of a relation between unrelated series in
    about 1% of cases. For daily Poisson counts driven by such an AR(1) the lag-1
    inflation alone told about 24% (phi 0.95, a year); with the larger of the two, about 4%.

    One decision rule: a relation is ``significant`` when its Benjamini-Hochberg q over the
    family (every tested lag and goal of the call, or of each participant) is below
    ``alpha``; the data are ``sufficient`` when a relation was found or when there are
    ``days_needed`` paired days, the days at which this same procedure finds a true r = 0.3
    at one lag with 80% probability (:func:`required_days`, with as many tests as the family
    has rows).

    Parameters
    ----------
    actions : DataFrame
        participant_id, date, goal_id and the ``measure`` column. Repeated keys are summed.
    progress : DataFrame
        participant_id, date, goal_id, percent. For a repeated key the last row wins.
    lags : iterable of int
        Lags in days (0 and up).
    measure : str
        The actions column to correlate: ``"count"`` (default) or ``"minutes"``.
    checkins : DataFrame, optional
        participant_id and date of further days the participant checked in (the ratings, say).
    alpha : float
        Level of the tests after FDR control; the intervals are ``1 - alpha`` intervals, and the
        sufficiency estimate is for a two-sided test at this level.
    min_n_eff : float
        The fewest effective pairs for which a test is run (10 by default).
    family : {"call", "participant"}
        What the false discovery rate is controlled over: every row of the call (the
        default), or each participant's goals and lags on their own (for a cohort call whose
        rows are read person by person).

    Returns
    -------
    DataFrame
        One row per participant, goal (every goal with an action or progress row) and lag,
        sorted by them:

        - ``participant_id``, ``goal_id``, ``lag`` (int)
        - ``n`` (int): days paired (an action value and a known progress change)
        - ``n_eff`` (float): effective sample size
        - ``r`` (float): Pearson correlation of the pairs (NaN when either series is constant
          or n < 3)
        - ``ci_low``, ``ci_high`` (float): Fisher-z interval on n_eff (NaN unless sufficient)
        - ``p_value`` (float): two-sided t test on n_eff - 2 degrees of freedom (NaN unless
          sufficient)
        - ``q_value`` (float): Benjamini-Hochberg adjusted p over the tested rows of the
          family (``family``: the whole call, or the participant)
        - ``significant`` (bool): ``q_value < alpha``
        - ``tested`` (bool): a test was possible: n_eff >= min_n_eff, both series vary, and
          the autocorrelations could be estimated (at least 3 consecutive-day pairs)
        - ``sufficient`` (bool): tested, and either significant or with at least
          ``days_needed`` paired days
        - ``days_needed`` (Int64): paired days at which the procedure above (its test, its
          autocorrelation adjustment, BH over the family's rows) finds a true r = 0.3 at one
          lag with at least 80% probability, given the observed autocorrelation (the lag-1
          inflation taken cautiously: each bias-corrected estimate 1.5 standard errors up, see
          :func:`cautious_autocorrelation`; or Bartlett's sum over many lags when that is
          larger, as for ``n_eff``); with no autocorrelation estimate yet, none is assumed
          and this is a lower bound
        - ``more_days`` (Int64): how many more calendar days that takes at the participant's
          current check-in rate (0 when sufficient)
        - ``ac_actions``, ``ac_progress`` (float): lag-1 autocorrelations as estimated (before
          the bias correction that n_eff applies)

    Raises
    ------
    AnalysisInputError
        When a frame lacks a column, ``measure`` is not a column, or a lag is invalid.
    """
    _check_test_options(alpha, family)
    return correlation_tests(
        correlation_moments(actions, progress, lags=lags, measure=measure, checkins=checkins),
        alpha=alpha, min_n_eff=min_n_eff, family=family)


def _check_test_options(alpha, family) -> None:
    if not 0 < alpha < 1:
        raise AnalysisInputError(f"alpha should be between 0 and 1, got {alpha!r}")
    if family not in FAMILIES:
        raise AnalysisInputError(f"family should be 'call' or 'participant', got {family!r}")


#: The columns of :func:`correlation_moments`.
MOMENT_COLUMNS = ["participant_id", "goal_id", "lag", "n", "r", "ac_actions", "ac_progress",
                  "ac_memory", "varies", "possible"]


def correlation_moments(actions: pd.DataFrame, progress: pd.DataFrame, *,
                        lags: Iterable[int] = range(0, 8), measure: str = "count",
                        checkins: pd.DataFrame | None = None) -> pd.DataFrame:
    """The per-person half of :func:`action_progress_correlation`: each goal's pairs at each lag.

    One person's rows never depend on another's, so this runs on any split of the
    participants (blocks of this process, partitions on Dask) and the pieces concatenated
    equal one call; :func:`correlation_tests` then decides over all of them at once. The
    options mean what they mean for :func:`action_progress_correlation`.

    Returns
    -------
    DataFrame
        ``MOMENT_COLUMNS``, one row per goal and lag, sorted by participant_id, goal_id and
        lag: ``n`` pairs, Pearson ``r`` (NaN when a side is constant or n < 3), the lag-1
        autocorrelations ``ac_actions`` and ``ac_progress`` as estimated, ``ac_memory``
        (Bartlett's sum ``sum_(k=1..n//5) (1 - k/n) rho_x(k) rho_y(k)`` of the goal's action
        and progress-change autocorrelations, estimated over all its days; 0 when n < 5; see
        :func:`memory_inflation`), ``varies`` (both sides vary) and ``possible`` (days on
        which a pair could have formed).
    """
    require_frame(actions, ["participant_id", "date", "goal_id", measure],
                  name="actions", function="action_progress_correlation")
    require_frame(progress, ["participant_id", "date", "goal_id", "percent"],
                  name="progress", function="action_progress_correlation")
    if checkins is not None:
        require_frame(checkins, ["participant_id", "date"],
                      name="checkins", function="action_progress_correlation")
    lag_values = _check_lags(lags)

    frames = [actions, progress] + ([checkins] if checkins is not None else [])

    def pair(a, p, c=None):
        return _pair_moments(a, p, c, lag_values, measure)

    if _grouped.fits_one_block(frames):
        parts = [pair(*frames)]
    else:  # blocks of whole participants: their moments are theirs alone
        blocks = _grouped.participant_blocks(frames, function="action_progress_correlation",
                                             drop_missing=True)
        parts = list(_grouped.in_threads(pair, blocks))
    parts = [part for part in parts if part is not None]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(MOMENT_COLUMNS, (
            "str", "str", np.int64, np.int64, float, float, float, float, bool, np.int64))})
    return pd.concat(parts, ignore_index=True).sort_values(
        ["participant_id", "goal_id", "lag"], kind="stable", ignore_index=True)


def correlation_tests(moments: pd.DataFrame, *, alpha: float = 0.05,
                      min_n_eff: float = MIN_N_EFF, family: str = "call") -> pd.DataFrame:
    """The family-wide half of :func:`action_progress_correlation`, from
    :func:`correlation_moments` (of one call, or of every block or partition concatenated):
    the effective n, the tests, the false discovery rate over the family and the days
    needed. Returns exactly what :func:`action_progress_correlation` returns."""
    _check_test_options(alpha, family)
    require_frame(moments, MOMENT_COLUMNS, name="moments", function="correlation_tests")
    if len(moments) == 0:
        return _empty()
    out = moments.sort_values(["participant_id", "goal_id", "lag"], kind="stable",
                              ignore_index=True)
    n = out["n"].to_numpy()
    r = out["r"].to_numpy()
    ac = (effective_autocorrelation(out["ac_actions"].to_numpy(), n)
          * effective_autocorrelation(out["ac_progress"].to_numpy(), n))
    a_pos = np.clip(np.where(np.isfinite(ac), ac, 0.0), 0.0, None)
    memory = memory_inflation(out["ac_memory"].to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(a_pos < 1, n * (1 - a_pos) / (1 + a_pos), 0.0)
        n_eff = np.minimum(n_eff, n / memory)  # the larger of the two inflations
    tested = (out["varies"].to_numpy() & np.isfinite(ac) & np.isfinite(r)
              & (n_eff >= max(min_n_eff, 4)))
    p_value = np.full(len(out), np.nan)
    ci_low = np.full(len(out), np.nan)
    ci_high = np.full(len(out), np.nan)
    s = tested
    if s.any():
        rs, ne = r[s], n_eff[s]
        df = ne - 2
        with np.errstate(divide="ignore"):
            t = rs * np.sqrt(df / np.clip(1 - rs**2, 0.0, None))
        p_value[s] = np.clip(2 * stats.t.sf(np.abs(t), df), 0.0, 1.0)
        z = np.arctanh(np.clip(rs, -1 + 1e-15, 1 - 1e-15))
        half = stats.norm.ppf(1 - alpha / 2) / np.sqrt(ne - 3)
        ci_low[s], ci_high[s] = np.tanh(z - half), np.tanh(z + half)
    fam = (pd.factorize(out["participant_id"])[0] if family == "participant"
           else np.zeros(len(out), dtype=np.int64))
    q_value = grouped_bh_q(p_value, fam)  # p is NaN exactly where the row is not tested
    significant = np.nan_to_num(q_value, nan=1.0) < alpha

    n_tests = np.bincount(fam)[fam]  # rows in the family: the tests BH will adjust over
    ac_plan = (cautious_autocorrelation(out["ac_actions"].to_numpy(), n)
               * cautious_autocorrelation(out["ac_progress"].to_numpy(), n))
    needed = required_days(ac_plan, alpha=alpha, n_tests=n_tests, memory=memory)
    sufficient = tested & (significant | (n >= needed))
    possible = out["possible"].to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where((n > 0) & (possible > 0), n / possible, 1.0)
        more = np.where(np.isfinite(needed), np.ceil(np.clip(needed - n, 0, None) / rate), np.nan)
    more = np.where(sufficient, 0.0, more)

    result = pd.DataFrame({
        "participant_id": pd.array(out["participant_id"], dtype="str"),
        "goal_id": pd.array(out["goal_id"], dtype="str"),
        "lag": out["lag"].to_numpy(dtype=np.int64),
        "n": n.astype(np.int64),
        "n_eff": n_eff.astype(float),
        "r": r.astype(float),
        "ci_low": ci_low,
        "ci_high": ci_high,
        "p_value": p_value,
        "q_value": q_value,
        "significant": significant,
        "tested": tested.astype(bool),
        "sufficient": sufficient.astype(bool),
        "days_needed": pd.array(np.where(np.isfinite(needed), needed, np.nan), dtype="Float64").astype("Int64"),
        "more_days": pd.array(more, dtype="Float64").astype("Int64"),
        "ac_actions": out["ac_actions"].to_numpy(dtype=float),
        "ac_progress": out["ac_progress"].to_numpy(dtype=float),
    })
    return result[COLUMNS]


def _pair_moments(actions, progress, checkins, lag_values, measure):
    """Each goal's moments at each lag (one block of participants): a frame with
    participant_id, goal_id, lag, n, r, ac_actions, ac_progress, varies and possible, or
    None when no goal has actions and progress to pair."""
    codes = _groups(actions, progress, checkins, measure)
    G = len(codes["g_pid"])
    if G == 0:
        return None
    x, y, gid, offset, length = _grid(codes, int(lag_values.max()))
    remaining = length[gid] - (np.arange(len(x)) - offset[gid])
    x_ok = np.isfinite(x)
    pid = codes["pid_labels"][codes["g_pid"]]
    goal = codes["goal_labels"][codes["g_goal"]]
    sums = _memory_sums(x, y, gid, offset, length, G)
    parts = []
    for lag in lag_values:
        n, r, acx, acy, varies, possible = _moments(x, y, gid, remaining, x_ok, int(lag), G)
        parts.append(pd.DataFrame({"participant_id": pid, "goal_id": goal, "lag": lag, "n": n,
                                   "r": r, "ac_actions": acx, "ac_progress": acy,
                                   "varies": varies, "possible": possible}))
    out = pd.concat(parts, ignore_index=True)
    out.insert(MOMENT_COLUMNS.index("ac_memory"), "ac_memory",
               _memory_sum(sums, np.tile(np.arange(G), len(lag_values)), out["n"].to_numpy()))
    return out


def _naive_dates(series: pd.Series) -> pd.Series:
    dates = pd.to_datetime(series)
    return dates.dt.tz_localize(None) if getattr(dates.dt, "tz", None) is not None else dates


def lagged_pairs(actions: pd.DataFrame, progress: pd.DataFrame, *, participant: str, goal_id: str,
                 lag: int, measure: str = "count", checkins: pd.DataFrame | None = None) -> pd.DataFrame:
    """The day pairs that :func:`action_progress_correlation` correlates, for one goal and lag.

    A plain per-goal form of the same definition, for showing the pairs (a scatter) and as a
    reference for the vectorised function (tests check that their count and correlation equal
    its ``n`` and ``r``): the action measure on every day t the participant checked in (0
    without an action row for the goal), paired with the progress change per day over the
    interval between progress entries that holds t+lag.

    Returns
    -------
    DataFrame
        date (day t), actions (the measure on day t), progress_change (percent points per day).
    """
    empty = pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "actions": pd.Series(dtype=float),
                          "progress_change": pd.Series(dtype=float)})
    mine = [f.loc[f["participant_id"] == participant] for f in (actions, progress)]
    if checkins is not None and len(checkins):
        mine.append(checkins.loc[checkins["participant_id"] == participant])
    seen = pd.DatetimeIndex(pd.unique(pd.concat([_naive_dates(f["date"]).dt.normalize() for f in mine])))
    p = mine[1].loc[mine[1]["goal_id"] == goal_id].assign(date=lambda f: _naive_dates(f["date"]).dt.normalize())
    p = p.assign(percent=pd.to_numeric(p["percent"], errors="coerce")).dropna(subset=["percent"])
    p = p.drop_duplicates("date", keep="last").sort_values("date")
    if len(p) < 2:
        return empty
    entry = p["date"].to_numpy()
    rate = np.diff(p["percent"].to_numpy(dtype=float)) / (np.diff(entry) / np.timedelta64(1, "D"))
    days = seen.sort_values()
    later = days + pd.Timedelta(days=int(lag))
    inside = (later >= entry[0]) & (later < entry[-1])
    days, later = days[inside], later[inside]
    a = mine[0].loc[mine[0]["goal_id"] == goal_id]
    per_day = a.assign(date=_naive_dates(a["date"]).dt.normalize()).groupby("date")[measure].sum(min_count=1)
    x = per_day.reindex(days).fillna(0.0).where(~days.isin(per_day.index[per_day.isna()]))
    y = rate[np.searchsorted(entry, later.to_numpy(), side="right") - 1]
    out = pd.DataFrame({"date": days, "actions": x.to_numpy(dtype=float), "progress_change": y})
    return out.dropna().reset_index(drop=True)
