"""Self-experiments: the plan, the set of assignments, the randomisation test and its anchors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mastery_analysis.analysis import experiments as ex
from mastery_analysis.errors import AnalysisInputError, ExperimentError, MasteryError

PLANS = [("days", 2, 6, 0), ("days", 4, 3, 0), ("pairs", 3, 8, 1), ("alternating", 2, 8, 1),
         ("alternating", 5, 10, 2)]


def _runs(row) -> int:
    return max(len(list(g)) for _, g in itertools.groupby(row))


def _brute_periods(design: str, m: int) -> set:
    """Every period-level assignment of a design, by brute force over all 0/1 sequences."""
    out = set()
    for row in itertools.product((0, 1), repeat=m):
        if sum(row) != m // 2:
            continue
        if design == "pairs" and any(row[i] == row[i + 1] for i in range(0, m, 2)):
            continue
        if design == "alternating" and _runs(row) > 2:
            continue
        out.add(row)
    return out


# --------------------------------------------------------------------------------------------
# the plan


@pytest.mark.parametrize("design,L,m,w", PLANS)
def test_plan_is_the_same_from_the_same_seed_and_one_the_design_can_produce(design, L, m, w):
    a = ex.plan_experiment("2026-03-02", design=design, period_days=L, periods=m, washout_days=w, seed=11)
    b = ex.plan_experiment("2026-03-02", design=design, period_days=L, periods=m, washout_days=w, seed=11)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ex.SCHEDULE_COLUMNS
    assert len(a) == L * m
    assert a["date"].iloc[0] == pd.Timestamp("2026-03-02")
    assert (a["date"].diff().dropna() == pd.Timedelta(days=1)).all()
    assert a["period"].tolist() == list(np.repeat(np.arange(1, m + 1), L))
    assert set(a["condition"]) == {"A", "B"}
    assert (a["design"] == design).all()
    # the plan is a row of the design's set of assignments
    allowed = ex.design_assignments(design=design, period_days=L, periods=m, washout_days=w)
    assert allowed.exact
    codes = np.where(a["washout"], -1, (a["condition"] == "B").astype(int))
    assert (allowed.codes == codes).all(axis=1).sum() == 1
    # each period holds one condition (periods designs) or half and half (days)
    per = (a["condition"] == "B").to_numpy().reshape(m, L)
    if design == "days":
        assert (per.sum(axis=1) == L // 2).all()
    else:
        assert (per == per[:, :1]).all()
        assert per[:, 0].sum() == m // 2
    # washout: exactly the first w days of a period that switched condition
    switched = np.r_[False, per[1:, 0] != per[:-1, 0]] if design != "days" else np.zeros(m, bool)
    expected = np.zeros((m, L), bool)
    expected[:, :w] = switched[:, None]
    assert (a["washout"].to_numpy().reshape(m, L) == expected).all()


def test_different_seeds_give_different_plans():
    plans = {tuple(ex.plan_experiment("2026-03-02", design="alternating", period_days=3, periods=12,
                                      seed=s)["condition"]) for s in range(20)}
    assert len(plans) > 10


@pytest.mark.parametrize("design,m", [("pairs", 4), ("pairs", 10), ("alternating", 4),
                                      ("alternating", 8), ("alternating", 12)])
def test_period_designs_enumerate_exactly_the_brute_force_set(design, m):
    got = ex.design_assignments(design=design, period_days=1, periods=m)
    rows = {tuple(r) for r in got.codes.tolist()}
    expected = _brute_periods(design, m)
    assert got.exact and got.total == len(expected) == len(got) == len(rows)
    assert rows == expected


def test_days_design_enumerates_every_balanced_block_combination():
    got = ex.design_assignments(design="days", period_days=4, periods=3)
    rows = {tuple(r) for r in got.codes.tolist()}
    blocks = [r for r in itertools.product((0, 1), repeat=4) if sum(r) == 2]
    expected = {sum(c, ()) for c in itertools.product(blocks, repeat=3)}
    assert got.total == math.comb(4, 2) ** 3 == len(rows) == len(got)
    assert rows == expected


def test_alternating_total_counts_beyond_enumeration():
    # brute force over C(16, 8) sequences, and the count for longer plans without enumeration
    assert ex.design_total(design="alternating", period_days=2, periods=16) == len(
        _brute_periods("alternating", 16))
    assert ex.design_total(design="days", period_days=14, periods=4) == math.comb(14, 7) ** 4


def test_drawn_assignments_are_admissible_and_uniform():
    got = ex.design_assignments(design="alternating", period_days=1, periods=10, max_exact=0,
                                n_draws=6000, seed=5)
    assert not got.exact and len(got) == 6000
    allowed = _brute_periods("alternating", 10)
    rows = [tuple(r) for r in got.codes.tolist()]
    assert set(rows) <= allowed
    # uniform over the admissible set: chi-square goodness of fit
    counts = pd.Series(rows).value_counts().reindex(list(allowed), fill_value=0)
    assert stats.chisquare(counts.to_numpy()).pvalue > 0.001
    # days design: each block half and half, each day B half the time
    d = ex.design_assignments(design="days", period_days=6, periods=5, max_exact=0, n_draws=4000, seed=2)
    assert (d.codes.reshape(4000, 5, 6).sum(axis=2) == 3).all()
    assert np.abs(d.codes.mean(axis=0) - 0.5).max() < 0.04


def test_drawn_assignments_are_the_same_from_the_same_seed():
    a = ex.design_assignments(design="pairs", period_days=2, periods=40, n_draws=50, seed=9)
    b = ex.design_assignments(design="pairs", period_days=2, periods=40, n_draws=50, seed=9)
    assert not a.exact and a.total == 2 ** 20
    np.testing.assert_array_equal(a.codes, b.codes)


@pytest.mark.parametrize("kwargs,words", [
    (dict(design="crossover", period_days=3, periods=4), "design='crossover' is not a design"),
    (dict(design="pairs", period_days=3, periods=2), "fewer than two periods per condition"),
    (dict(design="alternating", period_days=3, periods=3), "even number of periods"),
    (dict(design="pairs", period_days=3, periods=5), "even number of periods"),
    (dict(design="pairs", period_days=3, periods=4, washout_days=3), "as long as a period"),
    (dict(design="alternating", period_days=3, periods=4, washout_days=5), "as long as a period"),
    (dict(design="days", period_days=3, periods=4), "period_days must be even"),
    (dict(design="days", period_days=2, periods=1), "fewer than two days per condition"),
    (dict(design="days", period_days=4, periods=4, washout_days=1), "no washout"),
    (dict(design="pairs", period_days=2.5, periods=4), "period_days must be a whole number"),
    (dict(design="pairs", period_days=0, periods=4), "period_days must be at least 1"),
    (dict(design="pairs", period_days=2, periods=4, washout_days=-1), "washout_days must be at least 0"),
    (dict(design="pairs", period_days=2, periods=True), "periods must be a whole number"),
])
def test_bad_plans_are_refused_with_a_clear_message(kwargs, words):
    with pytest.raises(ExperimentError, match=words.replace("(", r"\(").replace(")", r"\)")):
        ex.plan_experiment("2026-03-02", seed=1, **kwargs)


def test_bad_start_and_seed_are_refused():
    with pytest.raises(ExperimentError, match="start"):
        ex.plan_experiment("not a day", design="pairs", period_days=2, periods=4, seed=1)
    with pytest.raises(ExperimentError, match="seed must be a whole number"):
        ex.plan_experiment("2026-03-02", design="pairs", period_days=2, periods=4, seed=-1)
    with pytest.raises(ExperimentError, match="seed must be a whole number"):
        ex.plan_experiment("2026-03-02", design="pairs", period_days=2, periods=4, seed="x")
    # an experiment error is a MasteryError (the CLI prints it) and an analysis input error
    assert issubclass(ExperimentError, AnalysisInputError) and issubclass(ExperimentError, MasteryError)


def test_phase_design_has_onghenas_165_schedules():
    got = ex.phase_assignments(24, phases="ABAB", min_days=4)
    assert got.exact and len(got) == got.total == 165
    assert (got.codes[:, 0] == 0).all() and (got.codes[:, -1] == 1).all()
    for row in got.codes:
        lengths = [len(list(g)) for _, g in itertools.groupby(row)]
        assert len(lengths) == 4 and min(lengths) >= 4
