"""How a self-experiment's schedule is drawn: the designs, their assignments, and a plan's
schedule from its seed.

Below :mod:`mastery_analysis.analysis` (it imports only errors, schema, numpy and pandas), so
that the demo and the store can draw and check schedules exactly as a plan does;
:mod:`mastery_analysis.analysis.experiments` imports every name from here and analyses what
was drawn (its module docstring describes the designs). The same seed gives the same
schedule: a stored experiment's schedule is kept as drawn, and this generator must not change
what it draws.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ExperimentError, ValidationError
from .schema import as_day

DESIGNS = ("days", "pairs", "alternating")
#: Up to this many possible assignments the test uses every one of them (an exact p-value);
#: beyond it, ``n_draws`` assignments drawn at random with a seed.
MAX_EXACT = 20_000
#: How many random assignments the test draws when the design has more than MAX_EXACT.
DEFAULT_DRAWS = 10_000
#: The longest run of periods of one condition the alternating design allows.
MAX_RUN = 2

SCHEDULE_COLUMNS = ["date", "period", "condition", "washout", "design"]


@dataclass(frozen=True)
class Assignments:
    """A set of assignments a design could produce, as rows of day codes.

    Attributes
    ----------
    codes : numpy.ndarray
        int8 array (rows, days): 1 = B, 0 = A, -1 = a washout day (left out of the analysis).
    exact : bool
        True when ``codes`` holds every assignment the design can produce (each once);
        False when its rows were drawn at random (uniformly, with replacement) from them.
    total : int
        How many different assignments the design can produce.
    """

    codes: np.ndarray
    exact: bool
    total: int

    def __len__(self) -> int:
        return int(self.codes.shape[0])


# --------------------------------------------------------------------------------------------
# validation of a plan


def _whole(value, *, name: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ExperimentError(f"plan_experiment: {name} must be a whole number, got {value!r}")
    if value < least:
        raise ExperimentError(f"plan_experiment: {name} must be at least {least}, got {value}")
    return int(value)


def check_design(*, design, period_days, periods, washout_days=0) -> tuple[str, int, int, int]:
    """Refuse a design that cannot be run or analysed, with a message naming the option.

    Returns ``(design, period_days, periods, washout_days)`` as plain Python values.

    Raises
    ------
    ExperimentError
        An unknown design; a period length or number of periods that is not a whole number;
        fewer than two periods per condition (``pairs``, ``alternating``) or fewer than two
        days per condition (``days``); an odd number of periods where they come in pairs or
        must balance; an odd block length for ``days``; a washout as long as a period, or any
        washout in the ``days`` design (it switches every day).
    """
    if design not in DESIGNS:
        raise ExperimentError(
            f"plan_experiment: design={design!r} is not a design; expected one of "
            + ", ".join(repr(d) for d in DESIGNS))
    period_days = _whole(period_days, name="period_days", least=1)
    periods = _whole(periods, name="periods", least=1)
    washout_days = _whole(washout_days, name="washout_days", least=0)
    if design == "days":
        if period_days % 2:
            raise ExperimentError(
                f"plan_experiment: the 'days' design splits each block of period_days days half A, "
                f"half B, so period_days must be even, got {period_days}")
        if washout_days:
            raise ExperimentError(
                f"plan_experiment: the 'days' design changes condition from one day to the next, "
                f"so it has no washout; got washout_days={washout_days} (use 'pairs' or "
                "'alternating' for a washout)")
        if periods * period_days // 2 < 2:
            raise ExperimentError(
                f"plan_experiment: {periods} block of {period_days} days gives fewer than two days "
                "per condition; plan at least 4 days in all")
        return design, period_days, periods, washout_days
    if periods % 2:
        raise ExperimentError(
            f"plan_experiment: the '{design}' design needs an even number of periods (half A, "
            f"half B), got periods={periods}")
    if periods < 4:
        raise ExperimentError(
            f"plan_experiment: periods={periods} gives fewer than two periods per condition; "
            "plan at least 4 periods")
    if washout_days >= period_days:
        raise ExperimentError(
            f"plan_experiment: washout_days={washout_days} is as long as a period "
            f"(period_days={period_days}); a washout must leave days to measure, so make it "
            f"shorter than {period_days}")
    return design, period_days, periods, washout_days


# --------------------------------------------------------------------------------------------
# the assignments a design can produce: counted, enumerated, drawn


def _alternating_ways(m: int) -> np.ndarray:
    """Completions of an alternating sequence: ``W[j, b, last, run]``.

    The number of ways to finish a sequence of ``m`` periods (``m/2`` B's, no run longer than
    MAX_RUN) from position ``j`` with ``b`` B's so far, the last condition ``last`` (0 A,
    1 B, 2 none yet) and a run of ``run`` periods of it. Floats (exact to 2**53, and the
    ratios used for drawing are what matter beyond).
    """
    half = m // 2
    W = np.zeros((m + 1, half + 2, 3, MAX_RUN + 1))
    W[m, half, :, :] = 1.0
    for j in range(m - 1, -1, -1):
        for b in range(0, min(j, half) + 1):
            a = j - b
            if a > half:
                continue
            for last in range(3):
                for run in range(MAX_RUN + 1):
                    total = 0.0
                    for c in (0, 1):
                        if c == last and run >= MAX_RUN:
                            continue
                        if (c == 1 and b + 1 > half) or (c == 0 and a + 1 > half):
                            continue
                        total += W[j + 1, b + c, c, run + 1 if c == last else 1]
                    W[j, b, last, run] = total
    return W


def _alternating_total(m: int) -> int:
    """Exact count (Python int) of balanced sequences of m periods with runs of at most MAX_RUN."""
    half = m // 2
    ways = {(0, 2, 0): 1}  # (b, last, run) -> count
    for j in range(m):
        nxt: dict = {}
        for (b, last, run), n in ways.items():
            for c in (0, 1):
                if c == last and run >= MAX_RUN:
                    continue
                nb = b + c
                if nb > half or (j + 1 - nb) > half:
                    continue
                key = (nb, c, run + 1 if c == last else 1)
                nxt[key] = nxt.get(key, 0) + n
        ways = nxt
    return sum(ways.values())


def design_total(*, design, period_days, periods, washout_days=0) -> int:
    """How many different assignments a design can produce (an exact whole number)."""
    design, L, m, _ = check_design(design=design, period_days=period_days, periods=periods,
                                   washout_days=washout_days)
    if design == "days":
        return math.comb(L, L // 2) ** m
    if design == "pairs":
        return 2 ** (m // 2)
    return _alternating_total(m)


def _period_rows_all(design: str, m: int) -> np.ndarray:
    """Every period-level assignment of ``pairs`` or ``alternating`` (rows of 0 A / 1 B)."""
    if design == "pairs":
        h = m // 2
        bits = (np.arange(2 ** h)[:, None] >> np.arange(h - 1, -1, -1)) & 1
        return np.stack([bits, 1 - bits], axis=2).reshape(2 ** h, m).astype(np.int8)
    # alternating: extend level by level, keeping only prefixes that can still be completed
    W = _alternating_ways(m)
    rows = np.zeros((1, 0), dtype=np.int8)
    b = np.zeros(1, dtype=np.int64)
    last = np.full(1, 2, dtype=np.int64)
    run = np.zeros(1, dtype=np.int64)
    for j in range(m):
        parts = []
        for c in (0, 1):
            nb = b + c
            nrun = np.where(last == c, run + 1, 1)
            ok = nrun <= MAX_RUN
            ok &= nb < W.shape[1]
            ok[ok] = W[j + 1, nb[ok], c, nrun[ok]] > 0
            parts.append((np.column_stack([rows[ok], np.full(ok.sum(), c, dtype=np.int8)]),
                          nb[ok], np.full(ok.sum(), c), nrun[ok]))
        rows = np.concatenate([p[0] for p in parts])
        b = np.concatenate([p[1] for p in parts])
        last = np.concatenate([p[2] for p in parts])
        run = np.concatenate([p[3] for p in parts])
    order = np.lexsort(rows.T[::-1])
    return rows[order]


def _period_rows_drawn(design: str, m: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` period-level assignments drawn uniformly from the design (rows of 0/1)."""
    if design == "pairs":
        first = rng.integers(0, 2, size=(size, m // 2))
        return np.stack([first, 1 - first], axis=2).reshape(size, m).astype(np.int8)
    W = _alternating_ways(m)
    out = np.zeros((size, m), dtype=np.int8)
    b = np.zeros(size, dtype=np.int64)
    last = np.full(size, 2, dtype=np.int64)
    run = np.zeros(size, dtype=np.int64)
    u = rng.random((size, m))
    for j in range(m):
        ways = []
        for c in (0, 1):
            nb = b + c
            nrun = np.where(last == c, run + 1, 1)
            w = np.zeros(size)
            ok = (nrun <= MAX_RUN) & (nb < W.shape[1])
            w[ok] = W[j + 1, nb[ok], c, nrun[ok]]
            ways.append(w)
        c = (u[:, j] * (ways[0] + ways[1]) >= ways[0]).astype(np.int64)
        nrun = np.where(last == c, run + 1, 1)
        out[:, j] = c
        b, last, run = b + c, c, nrun
    return out


def _block_patterns(L: int) -> np.ndarray:
    """Every way to make half of a block of L days B (rows of 0/1, lexicographic order)."""
    idx = np.array(list(itertools.combinations(range(L), L // 2)), dtype=np.int64)
    rows = np.zeros((len(idx), L), dtype=np.int8)
    rows[np.arange(len(idx))[:, None], idx] = 1
    return rows[np.lexsort(rows.T[::-1])]


def expand_periods(period_rows: np.ndarray, *, period_days: int, washout_days: int = 0) -> np.ndarray:
    """Day codes (1 B, 0 A, -1 washout) from period-level rows of 0/1 conditions.

    Each period's condition is repeated over its ``period_days`` days; in a period whose
    condition differs from the one before it, the first ``washout_days`` days become -1.
    """
    period_rows = np.asarray(period_rows, dtype=np.int8)
    codes = np.repeat(period_rows, period_days, axis=1)
    if washout_days:
        k, m = period_rows.shape
        switched = np.zeros((k, m), dtype=bool)
        switched[:, 1:] = period_rows[:, 1:] != period_rows[:, :-1]
        mask = np.zeros((k, m, period_days), dtype=bool)
        mask[:, :, :washout_days] = switched[:, :, None]
        codes[mask.reshape(k, m * period_days)] = -1
    return codes


def _draw(design: str, L: int, m: int, w: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` day-code rows drawn uniformly from the design: the one generator of plans."""
    if design == "days":
        base = np.tile(np.repeat(np.array([0, 1], dtype=np.int8), L // 2), (size * m, 1))
        return rng.permuted(base, axis=1).reshape(size, m * L)
    return expand_periods(_period_rows_drawn(design, m, rng, size), period_days=L, washout_days=w)


def _all(design: str, L: int, m: int, w: int) -> np.ndarray:
    """Every day-code row the design can produce, each once, in a fixed order."""
    if design == "days":
        pats = _block_patterns(L)
        idx = np.indices((len(pats),) * m).reshape(m, -1).T
        return pats[idx].reshape(len(idx), m * L)
    return expand_periods(_period_rows_all(design, m), period_days=L, washout_days=w)


def design_assignments(*, design, period_days, periods, washout_days=0, max_exact=MAX_EXACT,
                       n_draws=DEFAULT_DRAWS, seed=0) -> Assignments:
    """The assignments a design could have produced: all of them, or a seeded random draw.

    Parameters
    ----------
    design, period_days, periods, washout_days
        As for :func:`plan_experiment`.
    max_exact : int
        Enumerate every assignment when the design has at most this many.
    n_draws : int
        Otherwise, draw this many assignments uniformly at random (with replacement).
    seed : int
        Seed of ``numpy.random.default_rng`` for the draws (unused when enumerating).

    Returns
    -------
    Assignments
        ``codes`` (rows x days, 1 B / 0 A / -1 washout), ``exact`` and ``total``.
    """
    design, L, m, w = check_design(design=design, period_days=period_days, periods=periods,
                                   washout_days=washout_days)
    total = design_total(design=design, period_days=L, periods=m, washout_days=w)
    if total <= max_exact:
        return Assignments(_all(design, L, m, w), True, total)
    n_draws = _whole(n_draws, name="n_draws", least=1)
    return Assignments(_draw(design, L, m, w, np.random.default_rng(seed), n_draws), False, total)


# --------------------------------------------------------------------------------------------
# the plan


def plan_experiment(start, *, design, period_days, periods, washout_days=0, seed) -> pd.DataFrame:
    """The schedule of a self-experiment, drawn at random from the design with a seed.

    Parameters
    ----------
    start : date-like
        The first day of the experiment.
    design : {"days", "pairs", "alternating"}
        How days are assigned (module docstring): ``days`` at random within blocks of
        ``period_days`` days, half A and half B; ``pairs`` of periods, AB or BA at random;
        ``alternating``, periods in a random order, half A and half B, no more than two of one
        condition in a row.
    period_days : int
        Days in a period (for ``days``: in a block; even).
    periods : int
        Number of periods (blocks for ``days``). At least 4 and even for ``pairs`` and
        ``alternating`` (two periods per condition or more).
    washout_days : int
        Days at the start of a period after a switch of condition that are followed but left
        out of the analysis. Shorter than a period; 0 for ``days``.
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same schedule.

    Returns
    -------
    pandas.DataFrame
        One row per day, in date order:

        - ``date`` (datetime64): the day.
        - ``period`` (int): the period (block for ``days``), numbered from 1.
        - ``condition`` (str): ``"A"`` or ``"B"``, what the person follows that day.
        - ``washout`` (bool): followed, but left out of the analysis (after a switch).
        - ``design`` (str): the design's name, so the analysis knows which assignments the
          schedule was drawn from.

    Raises
    ------
    ExperimentError
        For a design that cannot be run (:func:`check_design`), a start that is not a date or a
        seed that is not a whole number from 0 up.
    """
    design, L, m, w = check_design(design=design, period_days=period_days, periods=periods,
                                   washout_days=washout_days)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ExperimentError(f"plan_experiment: seed must be a whole number from 0 up, got {seed!r}")
    try:
        day = as_day(start, what="start")
    except ValidationError:  # the one date reader's refusal, as an experiment's
        day = None
    if day is None:
        raise ExperimentError(f"plan_experiment: start must be a date, got {start!r}")
    first = np.datetime64(day, "D")
    codes = _draw(design, L, m, w, np.random.default_rng(int(seed)), 1)[0]
    n = L * m
    periods_of_day = np.repeat(np.arange(1, m + 1), L)
    if w:
        # a washout day keeps the condition of its period (the person follows it)
        cond = np.repeat(codes.reshape(m, L).max(axis=1), L)
    else:
        cond = codes
    return pd.DataFrame({
        "date": pd.to_datetime(first + np.arange(n)).astype("datetime64[ns]"),
        "period": periods_of_day.astype(np.int64),
        "condition": np.where(cond == 1, "B", "A").astype(object),
        "washout": codes == -1,
        "design": design,
    })
