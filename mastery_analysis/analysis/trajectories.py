"""How each element's rating moves over time: smoothed trajectories and robust trends.

Both functions run over every participant and element at once (no per-group Python code):
rolling means come from cumulative sums and ``np.searchsorted`` over whole columns, the
time-aware exponentially weighted mean from one ``scipy.signal.lfilter`` pass on a daily grid,
and the Theil-Sen slope and Mann-Kendall test from pairwise arrays built for all groups of the
same size together (see :mod:`mastery_analysis.analysis._grouped`). The tests check each
result against pandas' and SciPy's per-group results.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import AnalysisInputError
from ._grouped import (
    as_days,
    as_ids,
    as_numbers,
    by_participant,
    days_to_timestamps,
    fits_one_block,
    AR_MARGIN_SE,
    ar1_upper,
    filter_segments,
    grouped_bh_q,
    grouped_detrended_lag1,
    grouped_theilslopes,
    hamed_rao_factor,
    period_mean_acf,
    spearman_of_normal,
    id_codes,
    labels_of,
    one_day,
    require_frame,
)
from .privacy import MIN_N

DIRECTIONS = ("improving", "declining", "flat", "insufficient")

_TRAJECTORY_COLUMNS = ["participant_id", "element", "date", "rating", "rolling_mean", "ewm",
                       "vision", "gap"]
#: The measures of :func:`wheel_values`, in the order they are listed.
WHEEL_MEASURES = ("baseline", "now", "vision")
#: Days from an element's first rating that make up its baseline.
BASELINE_DAYS = 7
_WHEEL_COLUMNS = {"participant": ["participant_id", "element", "measure", "value", "n", "suppressed"],
                  "cohort": ["element", "measure", "value", "n", "n_people", "suppressed"]}
_TREND_COLUMNS = ["participant_id", "element", "n_periods", "slope", "slope_low", "slope_high",
                  "tau", "ac_daily", "variance_factor", "p_value", "q_value", "direction"]
#: Groups handled per block when building the (groups, lags) autocorrelation arrays.
_ACF_BLOCK = 4096
#: The fewest period means from which Sen's interval of the slope is given. With 5 the
#: interval can be no wider than the range of the 10 pairwise slopes, and on trend-free
#: series with a daily autocorrelation of 0.9-0.95 that range held the true slope only about
#: 90% of the time; from 6 the 95% interval held it at least 94% of the time (simulated:
#: ``make calibrate``, docs/statistics.md).
MIN_INTERVAL_PERIODS = 6


def _days_option(value, name: str, function: str, *, whole: bool) -> float:
    try:
        td = pd.Timedelta(value) if not isinstance(value, (int, float, np.number)) else \
            pd.Timedelta(days=float(value))
    except (ValueError, TypeError) as exc:
        raise AnalysisInputError(
            f"{function}: {name}={value!r} is not a duration like '7D' ({exc})") from None
    days = td / pd.Timedelta(days=1)
    if not days > 0 or (whole and days != int(days)):
        raise AnalysisInputError(
            f"{function}: {name}={value!r} must be a positive "
            f"{'whole number of days' if whole else 'duration'}, like '7D'")
    return float(days)


def _current_and_vision(ratings: pd.DataFrame):
    """Masks of the rows that are current ratings and vision ratings."""
    if "kind" in ratings.columns:
        kind = ratings["kind"]
        return (kind.eq("current").to_numpy(dtype=bool, na_value=False, copy=True),
                kind.eq("vision").to_numpy(dtype=bool, na_value=False, copy=True))
    n = len(ratings)
    return np.ones(n, dtype=bool), np.zeros(n, dtype=bool)


def _id_pairs(ratings: pd.DataFrame, rows: np.ndarray, function: str):
    """Dense codes of the (participant_id, element) pairs of ``rows``, in sorted order, with
    each row's participant and element codes and their labels."""
    pc, p_labels = id_codes(ratings["participant_id"].iloc[rows], column="participant_id",
                            function=function)
    ec, e_labels = id_codes(ratings["element"].iloc[rows], column="element", function=function)
    combined = pc * max(len(e_labels), 1) + ec
    size = len(p_labels) * max(len(e_labels), 1)
    if size <= 50_000_000:  # dense renumbering in O(n), keeping the sorted order
        present = np.bincount(combined, minlength=size) > 0
        codes = (np.cumsum(present) - 1)[combined]
        return codes, int(present.sum()), (pc, p_labels), (ec, e_labels)
    codes, uniques = pd.factorize(combined, sort=True)
    return codes.astype(np.int64), len(uniques), (pc, p_labels), (ec, e_labels)


def _check_dates(ratings: pd.DataFrame, days: np.ndarray, mask: np.ndarray, function: str) -> None:
    bad = np.flatnonzero(mask & np.isnat(days))
    if len(bad):  # the index label: a block of the caller's frame keeps the caller's labels
        raise AnalysisInputError(
            f"{function}: column 'date' is missing in {len(bad)} row(s) (first at index label "
            f"{ratings.index[bad[:1]].tolist()[0]!r}); every rating needs a date")


def element_trajectories(ratings: pd.DataFrame, *, window="7D", halflife=None) -> pd.DataFrame:
    """Each element's ratings with a rolling mean, an exponential mean and the vision gap.

    Parameters
    ----------
    ratings : DataFrame
        Needs ``participant_id``, ``element``, ``date`` and ``rating``; ``kind`` is optional
        (``"current"`` or ``"vision"``; without it every row is a current rating). Other
        columns are ignored. Only current ratings form the series; vision ratings feed
        ``vision``. Rows whose ``kind`` is neither are ignored.
    window : str or Timedelta, default "7D"
        Width of the rolling window, a whole number of days. The window is time-based: the
        mean on day t is over the ratings dated in (t - window, t], so days without a rating
        are simply absent (never counted as zeros) and a window may hold fewer ratings than
        days. Ratings of the same day are all in that day's window.
    halflife : str or Timedelta, optional
        Half-life of the exponentially weighted mean; defaults to ``window``. The weights
        decay with calendar time, not with the number of ratings: a rating d days old has
        weight 0.5 ** (d / halflife). With one rating a day this equals pandas'
        ``Series.ewm(halflife=..., times=dates).mean()`` (``adjust=True``); ratings of the
        same day all count on that day, as in the rolling mean.

    Returns
    -------
    DataFrame
        One row per current rating, sorted by participant_id, element and date:

        - ``participant_id`` (str)
        - ``element`` (str)
        - ``date`` (datetime64[ns]): the calendar day of the rating
        - ``rating`` (float): the rating as given (NaN ratings are kept and skipped in means)
        - ``rolling_mean`` (float): mean of the ratings in the time window ending that day
        - ``ewm`` (float): time-aware exponentially weighted mean up to that day (NaN
          until the first non-missing rating)
        - ``vision`` (float): the latest vision rating for the element dated on or before
          that day, NaN if there is none yet
        - ``gap`` (float): ``vision - rolling_mean`` (Senge's creative tension)

    Raises
    ------
    AnalysisInputError
        If a required column is missing, a date is missing or an option is invalid.
    """
    fn = "element_trajectories"
    require_frame(ratings, ["participant_id", "element", "date", "rating"], name="ratings",
                  function=fn)
    w = int(_days_option(window, "window", fn, whole=True))
    h = w if halflife is None else _days_option(halflife, "halflife", fn, whole=False)
    is_cur, _ = _current_and_vision(ratings)  # one row out per current rating
    return by_participant(ratings, lambda block: _trajectories(block, w, h), function=fn,
                          out_rows=int(is_cur.sum()))


def _trajectories(ratings: pd.DataFrame, w: int, h: float) -> pd.DataFrame:
    """:func:`element_trajectories` of one block of participants (options checked)."""
    fn = "element_trajectories"
    is_cur, is_vis = _current_and_vision(ratings)
    days_all = as_days(ratings["date"], column="date", function=fn)
    _check_dates(ratings, days_all, is_cur | is_vis, fn)
    values_all = as_numbers(ratings["rating"], column="rating", function=fn)
    is_vis = is_vis & np.isfinite(values_all)
    if not is_cur.any():
        return _empty_trajectories()
    rows = np.flatnonzero(is_cur | is_vis)

    # integer keys (group, day) over the rows used, sorted: everything below is per column
    code, n_groups, (pc, p_labels), (ec, e_labels) = _id_pairs(ratings, rows, fn)
    days = days_all[rows]
    dnum = (days - days.min()).astype(np.int64) + (w + 1)  # >= w + 1
    span = int(dnum.max()) + 1
    key = code * span + dnum
    current = is_cur[rows]
    cur = np.flatnonzero(current)
    if np.any(np.diff(key[cur]) < 0):  # input from the store is already in key order
        cur = cur[np.argsort(key[cur], kind="stable")]
    ckey, ccode, cday = key[cur], code[cur], dnum[cur]
    x = values_all[rows[cur]]
    finite = np.isfinite(x)
    xz = np.where(finite, x, 0.0)
    n = len(cur)

    # a daily grid per group, from its first to its last rating: each day's sum and count
    seg = np.flatnonzero(np.r_[True, ccode[1:] != ccode[:-1]])
    seg_len = np.diff(np.r_[seg, n])
    glen = cday[seg + seg_len - 1] - cday[seg] + 1
    gstart = np.r_[0, np.cumsum(glen)[:-1]]
    row_gstart = np.repeat(gstart, seg_len)  # where each row's group starts on the grid
    cell = cday - np.repeat(cday[seg] - gstart, seg_len)
    n_cells = int(glen.sum())
    integer = np.array_equal(xz, np.rint(xz)) and np.abs(xz).max(initial=0) < 2**40
    if not np.any(cell[1:] == cell[:-1]):  # one rating a day (the usual case)
        grid = np.zeros((2, n_cells))
        grid[0, cell] = xz
        grid[1, cell] = finite
    else:
        grid = np.stack([np.bincount(cell, weights=xz, minlength=n_cells),
                         np.bincount(cell, weights=finite.astype(float), minlength=n_cells)])

    # rolling mean over the ratings dated in (t - w, t]: differences of cumulative sums
    lo = np.maximum(cell - w + 1, row_gstart)  # first grid day of the window
    cnt = np.concatenate(([0], np.cumsum(grid[1].astype(np.int64))))
    wcnt = cnt[cell + 1] - cnt[lo]
    if integer:  # integer ratings: exact sums over a column of any length
        tot = np.concatenate(([0], np.cumsum(grid[0].astype(np.int64))))
        wsum = (tot[cell + 1] - tot[lo]).astype(float)
    else:  # within-group sums keep the rounding error of one group's size
        grid_code = np.repeat(np.arange(len(seg)), glen)
        tot = pd.Series(grid[0]).groupby(grid_code, sort=False).cumsum().to_numpy()
        wsum = tot[cell] - np.where(lo > row_gstart, tot[np.maximum(lo - 1, 0)], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rolling = np.where(wcnt > 0, wsum / np.maximum(wcnt, 1), np.nan)

    # time-aware EWM: the day sums and weights decay by 0.5 per halflife, missing days add 0;
    # both rows filtered in one lfilter pass
    sw = filter_segments(grid, gstart, glen, 0.5 ** (1.0 / h), gain=1.0)[:, cell]
    with np.errstate(invalid="ignore", divide="ignore"):
        ewm = np.where(sw[1] > 0, sw[0] / np.where(sw[1] > 0, sw[1], 1.0), np.nan)

    # vision: the latest vision rating on or before the day (same group)
    vis = np.flatnonzero(~current)
    vision = np.full(n, np.nan)
    if len(vis):
        if np.any(np.diff(key[vis]) < 0):
            vis = vis[np.argsort(key[vis], kind="stable")]
        vkey, vcode = key[vis], code[vis]
        j = np.searchsorted(vkey, ckey, side="right") - 1
        ok = (j >= 0) & (vcode[np.maximum(j, 0)] == ccode)
        vision[ok] = values_all[rows[vis[j[ok]]]]

    return pd.DataFrame({
        "participant_id": labels_of(p_labels, pc[cur]),
        "element": labels_of(e_labels, ec[cur]),
        "date": days_to_timestamps(days[cur]),
        "rating": x,
        "rolling_mean": rolling,
        "ewm": ewm,
        "vision": vision,
        "gap": vision - rolling,
    }, copy=False)  # every column is a fresh array: no need to copy 10^7 rows again


def _empty_trajectories() -> pd.DataFrame:
    return pd.DataFrame({
        "participant_id": pd.Series(dtype="str"), "element": pd.Series(dtype="str"),
        "date": pd.Series(dtype="datetime64[ns]"),
        **{c: pd.Series(dtype=float) for c in _TRAJECTORY_COLUMNS[3:]}})


def _period_labels(days: np.ndarray, freq, function: str, origin: np.datetime64) -> np.ndarray:
    """The label (a day) of the ``freq`` period of each day, as pandas' resampling bins them.

    ``origin`` is the first day of the whole call, where bins of a fixed length ("14D")
    start (pandas starts them at the first day it is given), so that a block of
    participants is binned as the whole call would bin it.
    """
    num = days.astype(np.int64)
    low = min(num.min(), origin.astype("datetime64[D]").astype(np.int64))
    present = np.bincount(num - low) > 0  # distinct days in O(n): days span years, not ages
    present[0] = True  # the origin (or the first day), where pandas starts its bins
    unique = (np.flatnonzero(present) + low).astype("datetime64[D]")
    inverse = (np.cumsum(present) - 1)[num - low]
    s = pd.Series(np.arange(len(unique)), index=pd.DatetimeIndex(days_to_timestamps(unique)))
    try:
        grouped = s.groupby(pd.Grouper(freq=freq))
        labels = grouped.size().index.to_numpy(dtype="datetime64[ns]")
        number = grouped.ngroup().to_numpy()
    except (ValueError, TypeError) as exc:
        raise AnalysisInputError(
            f"{function}: freq={freq!r} is not a pandas frequency like 'W' or 'MS' ({exc})") from None
    return labels[number][inverse]


def _period_length(freq, function: str) -> float:
    """The typical length of a ``freq`` period in days (7 for weeks, 31 for months): the
    median gap between the labels of three years of days, so that it depends on the
    frequency alone, not on which periods one person happened to rate."""
    days = np.arange(np.datetime64("2001-01-01"), np.datetime64("2004-01-01"))
    distinct = np.unique(_period_labels(days, freq, function, days[0]))
    gaps = np.diff(distinct).astype("timedelta64[D]").astype(np.int64)
    return float(np.median(gaps)) if len(gaps) else float(len(days))


def element_trends(ratings: pd.DataFrame, *, freq="W", alpha: float = 0.05,
                   min_periods: int = 5) -> pd.DataFrame:
    """Is each element improving, declining or flat? Theil-Sen and Mann-Kendall on period means,
    corrected for autocorrelation.

    Daily integer ratings tie so often that a Theil-Sen slope on them is usually exactly 0, so
    the current ratings are first averaged per period (``freq``, weekly by default) and the
    trend is fitted to the period means. Periods without a rating are absent, not zero.

    Ratings are autocorrelated (a good week follows a good week), and the plain Mann-Kendall
    test then calls a trend far too often (about 20% of trend-free series at a daily lag-1
    autocorrelation of 0.8). So the variance of the Mann-Kendall statistic is corrected as
    Hamed & Rao (1998) do, ``Var*(S) = Var(S) n / n*``, with the autocorrelation of the period
    means derived from an AR(1) fitted to the *daily* ratings (hundreds of days estimate it
    far better than a few dozen weeks): the lag-1 autocorrelation of the residuals from each
    element's least-squares line, with Sheppard's correction for ratings rounded to whole
    points, corrected for its small-sample bias and then taken ``AR_MARGIN_SE`` (1.5) standard
    errors higher. The margin was chosen by simulation (``make calibrate``,
    ``docs/statistics.md``): without it the plug-in estimate still called 11% of trend-free
    series at phi = 0.95 and 90 days; with it no cell exceeds about 5%. Sen's confidence
    interval of the slope uses the same corrected variance, so it widens with the
    autocorrelation too; it is given from ``MIN_INTERVAL_PERIODS`` (6) period means on (and
    never with fewer than ``min_periods``): with 5, at strong autocorrelation, no Sen
    interval can be wide enough to hold the true slope 95% of the time.

    The decision (``direction``) rests on the Benjamini-Hochberg ``q_value`` across each
    participant's elements, the same number the insights quote.

    Parameters
    ----------
    ratings : DataFrame
        Needs ``participant_id``, ``element``, ``date`` and ``rating``; ``kind`` is optional
        (only ``"current"`` rows are used; without it every row is current). Missing ratings
        (NaN) are skipped.
    freq : str, default "W"
        A pandas frequency for the periods (``"W"``: weeks ending on Sunday, ``"MS"``:
        calendar months, ``"14D"``...). Each period is placed in time at pandas' label of
        its bin. Whatever ``freq`` is, the slope is expressed per week.
    alpha : float, default 0.05
        False discovery rate of the trend claims (across a participant's elements).
        ``slope_low``/``slope_high`` are the ``1 - alpha`` confidence interval of the slope.
    min_periods : int, default 5
        Fewer period means than this give a row with NaN statistics and direction
        ``"insufficient"``. With 4 points even a perfectly monotone series has a two-sided
        p of 0.09: the test cannot reach 0.05, and "flat" would be a claim the data cannot
        support.

    Returns
    -------
    DataFrame
        One row per participant and element that has at least one current rating, sorted by
        participant_id and element:

        - ``participant_id`` (str)
        - ``element`` (str)
        - ``n_periods`` (int): number of periods with at least one rating
        - ``slope`` (float): Theil-Sen slope of the period means, rating points per week
          (``scipy.stats.theilslopes``)
        - ``slope_low``, ``slope_high`` (float): Sen's ``1 - alpha`` confidence interval of
          the slope, per week, from the autocorrelation-corrected variance of S; NaN with
          fewer than ``MIN_INTERVAL_PERIODS`` (6) periods, where ``direction`` may already
          be decided but no interval would be honest
        - ``tau`` (float): Kendall's tau-b of the period means against time; NaN when every
          period mean is equal
        - ``ac_daily`` (float): the daily lag-1 autocorrelation the correction assumes (the
          cautious estimate described above, between 0 and 0.99)
        - ``variance_factor`` (float): Hamed and Rao's ``n / n*`` (1 without autocorrelation)
        - ``p_value`` (float): two-sided p-value of the corrected Mann-Kendall test (normal
          approximation with continuity correction, tie-corrected variance times
          ``variance_factor``); NaN when every period mean is equal
        - ``q_value`` (float): Benjamini-Hochberg adjusted ``p_value`` across the
          participant's elements
        - ``direction`` (str): ``"improving"`` (q_value < alpha and tau > 0),
          ``"declining"`` (q_value < alpha and tau < 0), ``"flat"`` (otherwise, including a
          constant series), or ``"insufficient"`` (fewer than ``min_periods`` periods; the
          statistics are then NaN)

    Raises
    ------
    AnalysisInputError
        If a required column is missing, a date is missing or an option is invalid.
    """
    fn = "element_trends"
    require_frame(ratings, ["participant_id", "element", "date", "rating"], name="ratings",
                  function=fn)
    if not 0 < alpha < 1:
        raise AnalysisInputError(f"{fn}: alpha={alpha!r} must be between 0 and 1")
    if int(min_periods) != min_periods or min_periods < 3:
        raise AnalysisInputError(f"{fn}: min_periods={min_periods!r} must be a whole number >= 3")
    period_days = _period_length(freq, fn)
    # the whole call's first rated day, read once more only when the call is split in blocks
    origin = None if fits_one_block([ratings]) else _first_rated_day(
        _current_and_vision(ratings)[0], as_days(ratings["date"], column="date", function=fn),
        as_numbers(ratings["rating"], column="rating", function=fn))
    return by_participant(
        ratings, lambda block: _trends(block, freq, alpha, min_periods, period_days, origin),
        function=fn)


def _first_rated_day(is_cur: np.ndarray, days: np.ndarray, values: np.ndarray) -> np.datetime64:
    """The first day with a current, non-missing rating (1970-01-01 when there is none)."""
    rated = days[is_cur & np.isfinite(values) & ~np.isnat(days)]
    return rated.min() if len(rated) else np.datetime64("1970-01-01")


def _trends(ratings: pd.DataFrame, freq, alpha: float, min_periods: int, period_days: float,
            origin: np.datetime64 | None) -> pd.DataFrame:
    """:func:`element_trends` of one block of participants (options checked). ``origin`` is
    the whole call's first rated day (None: this block is the whole call), where fixed-length
    periods start; periods are numbered from its period's label, so that a block's numbers
    equal the whole call's."""
    fn = "element_trends"
    is_cur, _ = _current_and_vision(ratings)
    days_all = as_days(ratings["date"], column="date", function=fn)
    _check_dates(ratings, days_all, is_cur, fn)
    values_all = as_numbers(ratings["rating"], column="rating", function=fn)
    if origin is None:
        origin = _first_rated_day(is_cur, days_all, values_all)
    first_label = _period_labels(np.array([origin]), freq, fn, origin)[0]
    rows = np.flatnonzero(is_cur)
    if len(rows) == 0:
        return _empty_trends()
    values = values_all[rows]
    days = days_all[rows]
    codes, n_groups, (pc, p_labels), (ec, e_labels) = _id_pairs(ratings, rows, fn)
    first_row = np.zeros(n_groups, dtype=np.int64)
    first_row[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # a row of each group

    finite = np.isfinite(values)
    if finite.any():
        labels = _period_labels(days[finite], freq, fn, origin)
        lab_num = (labels - first_label).astype("timedelta64[D]").astype(np.int64)
        span = int(lab_num.max()) + 1
        pkey, key_index = _dense_keys(codes[finite] * span + lab_num, n_groups * span)
        means = np.bincount(pkey, weights=values[finite]) / np.bincount(pkey)
        period_group = key_index // span
        weeks = (key_index % span).astype(float) / 7.0  # time of each period, in weeks
        ac, n_days = _daily_autocorrelation(codes[finite], days[finite], values[finite], n_groups)
    else:
        period_group = np.zeros(0, dtype=np.int64)
        weeks = means = np.zeros(0)
        ac, n_days = np.full(n_groups, np.nan), np.zeros(n_groups)
    n_periods = np.bincount(period_group, minlength=n_groups)
    phi = ar1_upper(ac, n_days, trend=True, margin=AR_MARGIN_SE)
    factor = _variance_factor(phi, n_periods, period_days)
    res = grouped_theilslopes(period_group, weeks, means, n_groups, confidence=1.0 - alpha,
                              kendall=True, variance_factor=factor)

    enough = n_periods >= min_periods
    for k in res:
        res[k] = np.where(enough, res[k], np.nan)
    with_interval = n_periods >= max(min_periods, MIN_INTERVAL_PERIODS)
    for k in ("slope_low", "slope_high"):
        res[k] = np.where(with_interval, res[k], np.nan)
    p, tau = res["mk_p"], res["tau"]
    q = grouped_bh_q(p, pc[first_row])  # one family per participant: their elements
    significant = enough & (np.nan_to_num(q, nan=1.0) < alpha)
    direction = np.where(~enough, "insufficient",
                         np.where(significant & (tau > 0), "improving",
                                  np.where(significant & (tau < 0), "declining", "flat")))
    return pd.DataFrame({
        "participant_id": labels_of(p_labels, pc[first_row]),
        "element": labels_of(e_labels, ec[first_row]),
        "n_periods": n_periods.astype(np.int64),
        "slope": res["slope"],
        "slope_low": res["slope_low"],
        "slope_high": res["slope_high"],
        "tau": tau,
        "ac_daily": np.where(enough, phi, np.nan),
        "variance_factor": np.where(enough, factor, np.nan),
        "p_value": p,
        "q_value": q,
        "direction": pd.Series(direction, dtype="str"),
    })


def _dense_keys(combined: np.ndarray, size: int):
    """Codes 0..k-1 of the distinct values of ``combined`` in sorted order, and those values."""
    if size <= 100_000_000:  # dense renumbering in O(n), in sorted order
        present = np.bincount(combined, minlength=size) > 0
        return (np.cumsum(present) - 1)[combined], np.flatnonzero(present)
    key, index = pd.factorize(combined, sort=True)
    return key, np.asarray(index)


def _daily_autocorrelation(codes, days, values, n_groups):
    """Each group's detrended lag-1 autocorrelation of its daily mean rating, and its days."""
    num = days.astype(np.int64)
    low = num.min()
    span = int(num.max() - low) + 1
    key = codes * span + (num - low)
    integer = bool(np.all(values == np.rint(values)))
    if np.all(key[1:] > key[:-1]):  # sorted, one rating a day (the store's usual order)
        g, day, day_mean = codes, (num - low).astype(float), values
    else:
        dkey, key_index = _dense_keys(key, n_groups * span)
        day_mean = np.bincount(dkey, weights=values) / np.bincount(dkey)
        g, day = key_index // span, (key_index % span).astype(float)
    # ratings on a whole-point scale carry a uniform rounding error of variance 1/12
    return grouped_detrended_lag1(g, day, day_mean, n_groups,
                                  rounding_variance=1.0 / 12.0 if integer else 0.0)


def _variance_factor(phi, n_periods, period_days):
    """Hamed and Rao's n / n* for each group's period means, given its daily AR(1) ``phi``."""
    factor = np.ones(len(phi))
    live = np.flatnonzero((n_periods >= 3) & (phi > 0))
    for lo in range(0, len(live), _ACF_BLOCK):  # blocks of groups keep the arrays small
        g = live[lo:lo + _ACF_BLOCK]
        lags = int(n_periods[g].max()) - 1
        rho = period_mean_acf(phi[g], period_days, lags)
        factor[g] = hamed_rao_factor(spearman_of_normal(rho), n_periods[g])
    return np.maximum(factor, 1.0)


def _empty_trends() -> pd.DataFrame:
    return pd.DataFrame({
        "participant_id": pd.Series(dtype="str"), "element": pd.Series(dtype="str"),
        "n_periods": pd.Series(dtype=np.int64),
        **{c: pd.Series(dtype=float) for c in _TREND_COLUMNS[3:11]},
        "direction": pd.Series(dtype="str")})


def wheel_values(trajectories: pd.DataFrame, *, today=None, min_n: int = MIN_N,
                 by: str = "participant") -> pd.DataFrame:
    """Where each element started, where it is now, and its vision: the values of the wheel.

    Per participant and element:

    - baseline: the mean rating over the first :data:`BASELINE_DAYS` (7) days of the
      element's ratings, i.e. dated before its first rating + 7 days;
    - now: the latest non-missing ``rolling_mean`` dated on or before ``today``;
    - vision: the latest non-missing ``vision`` dated on or before ``today``.

    With ``by="cohort"`` each measure of each element is the median of the per-person values
    (people without a value do not count), shown only when at least ``min_n`` people have a
    value (DESIGN.md, "Privacy"): few people may have set a vision while everyone rated.

    Parameters
    ----------
    trajectories : DataFrame
        Output of :func:`element_trajectories`; needs ``participant_id``, ``element``,
        ``date``, ``rating`` and ``rolling_mean``; ``vision`` is optional (no vision when
        absent). Other columns are ignored.
    today : date-like, optional
        The "now": rows dated after it are ignored. Defaults to the last date in the frame
        (never the wall clock).
    min_n : int, default 5
        ``by="cohort"`` only: the fewest people a median may summarise.
    by : {"participant", "cohort"}
        One wheel per participant, or one for everyone in the frame.

    Returns
    -------
    DataFrame
        One row per element and measure (baseline, now, vision, in that order), for every
        element with a rating on or before ``today``; empty when there is none. With
        ``by="participant"``, sorted by participant_id, element and measure:

        - ``participant_id`` (str)
        - ``element`` (str)
        - ``measure`` (str): ``"baseline"``, ``"now"`` or ``"vision"``
        - ``value`` (float): the participant's value, NaN when there is none (no vision set)
        - ``n`` (int): 1 when there is a value, else 0
        - ``suppressed`` (bool): always false (one person's own wheel)

        With ``by="cohort"``, sorted by element and measure:

        - ``element`` (str)
        - ``measure`` (str): ``"baseline"``, ``"now"`` or ``"vision"``
        - ``value`` (float): median of the per-person values; NaN when suppressed
        - ``n`` (int): people with a value of this measure for this element
        - ``n_people`` (int): people in the frame with a rating on or before ``today``
          (the same on every row)
        - ``suppressed`` (bool): true when ``n < min_n`` (the value is then NaN)

    Raises
    ------
    AnalysisInputError
        If a required column is missing, a date is missing or an option is invalid.
    """
    fn = "wheel_values"
    require_frame(trajectories, ["participant_id", "element", "date", "rating", "rolling_mean"],
                  name="trajectories", function=fn)
    if by not in _WHEEL_COLUMNS:
        raise AnalysisInputError(f"{fn}: by={by!r} must be 'participant' or 'cohort'")
    if not isinstance(min_n, (int, np.integer)) or isinstance(min_n, bool) or min_n < 1:
        raise AnalysisInputError(f"{fn}: min_n should be a whole number of people >= 1, got {min_n!r}")
    days = as_days(trajectories["date"], column="date", function=fn)
    _check_dates(trajectories, days, np.ones(len(days), dtype=bool), fn)
    vision = (as_numbers(trajectories["vision"], column="vision", function=fn)
              if "vision" in trajectories.columns else np.full(len(days), np.nan))
    d = pd.DataFrame({
        "participant_id": as_ids(trajectories["participant_id"]).to_numpy(),
        "element": as_ids(trajectories["element"]).to_numpy(),
        "date": days,
        "rating": as_numbers(trajectories["rating"], column="rating", function=fn),
        "rolling_mean": as_numbers(trajectories["rolling_mean"], column="rolling_mean", function=fn),
        "vision": vision,
    })
    if len(d) and today is not None:
        d = d.loc[d["date"].to_numpy() <= one_day(today, name="today", function=fn)]
    columns = _WHEEL_COLUMNS[by]
    if d.empty:
        return _empty_wheel(columns)

    keys = ["participant_id", "element"]
    d = d.sort_values(keys + ["date"], kind="stable")
    start = d.groupby(keys, sort=False)["date"].transform("min")
    first_week = d["date"] < start + np.timedelta64(BASELINE_DAYS, "D")
    per = pd.DataFrame({
        "baseline": d.loc[first_week].groupby(keys)["rating"].mean(),
        "now": d.groupby(keys)["rolling_mean"].last(),  # last() skips missing values
        "vision": d.groupby(keys)["vision"].last(),
    }).reindex(d.groupby(keys).size().index)

    if by == "participant":
        long = per.rename_axis(columns="measure").stack(future_stack=True).rename("value").reset_index()
        n = long["value"].notna().to_numpy().astype(np.int64)
        suppressed = np.zeros(len(long), dtype=bool)
    else:
        g = per.groupby(level="element")
        counts = g.count()
        medians = g.median().where(counts >= min_n)
        long = medians.rename_axis(columns="measure").stack(future_stack=True).rename("value").reset_index()
        n = counts.stack(future_stack=True).to_numpy().astype(np.int64)
        suppressed = n < min_n
        long["n_people"] = np.int64(d["participant_id"].nunique())
    long["n"] = n
    long["suppressed"] = suppressed
    long["measure"] = long["measure"].astype("str")
    long["value"] = long["value"].astype(float)
    return long[columns].reset_index(drop=True)


def _empty_wheel(columns) -> pd.DataFrame:
    dtypes = {"participant_id": "str", "element": "str", "measure": "str", "value": float,
              "n": np.int64, "n_people": np.int64, "suppressed": bool}
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in columns})
