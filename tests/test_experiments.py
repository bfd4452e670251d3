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


# --------------------------------------------------------------------------------------------
# the randomisation test against scipy and the published anchors

ONGHENA = np.array([6, 2, 5, 3, 4, 4, 1, 2, 3, 1, 3, 2, 2, 3, 4, 2, 4, 3, 0, 1, 2, 0, 2, 1], float)


def test_onghena_1992_abab_example_p_is_4_of_165():
    """Onghena (1992), the SCRT package's own ABAB example: phases A1 6,2,5,3,4,4; B1 1,2,3,1,3,2;
    A2 2,3,4,2,4,3; B2 0,1,2,0,2,1; at least 4 days a phase over 24 days gives 165 possible
    schedules; mean of the A phases minus mean of the B phases is 2.0, and 4 of the 165
    schedules give 2.0 or more: p = 4/165 = 0.0242 (SCRT: pvalue.random(design = "ABAB",
    statistic = "A-B", limit = 4))."""
    allowed = ex.phase_assignments(24, phases="ABAB", min_days=4)
    observed = np.repeat([0, 1, 0, 1], 6)
    # our difference is B - A, so "A phases above B phases" is the lower tail
    r = ex.randomisation_test(ONGHENA, allowed, observed, statistic="phases", alternative="less")
    assert r["assignments"] == 165 and r["exact"]
    assert r["estimate"] == pytest.approx(-2.0)
    assert r["p_value"] == pytest.approx(4 / 165)
    assert round(r["p_value"], 4) == 0.0242
    # mean over days instead of over phase means: a different statistic, a different count
    d = ex.randomisation_test(ONGHENA, allowed, observed, statistic="days", alternative="less")
    assert d["p_value"] == pytest.approx(5 / 165)


def test_nap_is_parker_vannest_davis_example_and_mann_whitney_u():
    """Parker, Vannest & Davis (2011), as the SingleCaseES package tests it: NAP of
    A = 20,20,26,25,22,23 against B = 28,25,24,27,30,30,29 is 38.5/42."""
    a = [20, 20, 26, 25, 22, 23]
    b = [28, 25, 24, 27, 30, 30, 29]
    sched = pd.DataFrame({"date": pd.date_range("2026-01-01", periods=14), "period": 1,
                          "condition": ["A"] * 7 + ["B"] * 7, "washout": False, "design": "days"})
    # a one-block days schedule of 14 days, 7 A and 7 B; one A day has no value
    out = pd.DataFrame({"date": sched["date"], "value": a + [np.nan] + b})
    r = ex.experiment_effect(out, sched)
    assert r.loc[0, "nap"] == pytest.approx(38.5 / 42)
    assert r.loc[0, "nap"] == pytest.approx(stats.mannwhitneyu(b, a).statistic / (6 * 7))
    assert (r.loc[0, "n_a"], r.loc[0, "n_b"]) == (6, 7)


def _frames(schedule, y):
    return pd.DataFrame({"date": schedule["date"], "value": y})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_complete_randomisation_p_equals_scipy_permutation_test_independent(seed):
    # one block of 12 days, half B: the assignments are every split of the days, scipy's
    # permutation_type="independent" set
    sched = ex.plan_experiment("2026-01-01", design="days", period_days=12, periods=1, seed=seed)
    y = np.random.default_rng(seed).normal(5, 1, 12).round(1) + 0.8 * (sched["condition"] == "B")
    b, a = y[sched["condition"] == "B"], y[sched["condition"] == "A"]
    for alt in ("two-sided", "greater", "less"):
        ours = ex.experiment_effect(_frames(sched, y), sched, alternative=alt)
        ref = stats.permutation_test((b, a), lambda x, z, axis: x.mean(axis) - z.mean(axis),
                                     permutation_type="independent", alternative=alt,
                                     n_resamples=np.inf, vectorized=True)
        assert ours.loc[0, "exact"] and ours.loc[0, "assignments"] == math.comb(12, 6)
        assert ours.loc[0, "estimate"] == pytest.approx(ref.statistic)
        assert ours.loc[0, "p_value"] == pytest.approx(ref.pvalue, rel=1e-12)


@pytest.mark.parametrize("design,L,m", [("pairs", 3, 10), ("pairs", 1, 12), ("days", 2, 9)])
def test_paired_designs_p_equals_scipy_permutation_test_samples(design, L, m):
    # pairs of periods (or the two days of a 2-day block) swap AB/BA: scipy's "samples" set on
    # the pairs' B and A means
    sched = ex.plan_experiment("2026-01-01", design=design, period_days=L, periods=m, seed=7)
    n = L * m
    y = np.random.default_rng(3).normal(5, 1, n).round(1) + 0.6 * (sched["condition"] == "B")
    unit = 2 * L if design == "pairs" else 2
    cond = (sched["condition"] == "B").to_numpy().reshape(-1, unit)
    yy = np.asarray(y).reshape(-1, unit)
    xb = np.array([r[c].mean() for r, c in zip(yy, cond)])
    xa = np.array([r[~c].mean() for r, c in zip(yy, cond)])
    ref = stats.permutation_test((xb, xa), lambda x, z, axis: np.mean(x - z, axis=axis),
                                 permutation_type="samples", n_resamples=np.inf, vectorized=True)
    ours = ex.experiment_effect(_frames(sched, y), sched)
    assert ours.loc[0, "assignments"] == 2 ** (n // unit)
    assert ours.loc[0, "estimate"] == pytest.approx(ref.statistic)
    assert ours.loc[0, "p_value"] == pytest.approx(ref.pvalue, rel=1e-12)


def _brute_p(y, schedule_rows, observed):
    """p by a Python loop over an independently generated set (no vectorised code shared)."""
    def diff(row):
        b = [v for v, c in zip(y, row) if c == 1 and np.isfinite(v)]
        a = [v for v, c in zip(y, row) if c == 0 and np.isfinite(v)]
        return sum(b) / len(b) - sum(a) / len(a)
    obs = diff(observed)
    hits = sum(abs(diff(r)) >= abs(obs) - 1e-9 for r in schedule_rows)
    return hits / len(schedule_rows), obs


@pytest.mark.parametrize("design,L,m,w", [("alternating", 3, 8, 1), ("alternating", 2, 10, 0),
                                          ("days", 4, 3, 0), ("pairs", 4, 6, 2)])
def test_restricted_designs_p_equals_a_brute_force_over_the_same_set(design, L, m, w):
    """scipy's permutation_test permutes freely (or within pairs): it cannot take the
    alternating design's set, nor blocks of more than two days, nor assignment-dependent
    washout days. Here the set is generated by brute force (itertools) and the p-value
    computed with a plain loop."""
    sched = ex.plan_experiment("2026-01-01", design=design, period_days=L, periods=m,
                               washout_days=w, seed=5)
    rng = np.random.default_rng(8)
    y = rng.normal(5, 1, L * m).round(1) + 0.9 * (sched["condition"] == "B").to_numpy()
    y[rng.random(L * m) < 0.1] = np.nan  # a few days without a value
    if design == "days":
        blocks = [r for r in itertools.product((0, 1), repeat=L) if sum(r) == L // 2]
        rows = [sum(c, ()) for c in itertools.product(blocks, repeat=m)]
    else:
        rows = []
        for per in _brute_periods(design, m):
            row = []
            for j, c in enumerate(per):
                switched = j > 0 and per[j - 1] != c
                row += [-1 if switched and k < w else c for k in range(L)]
            rows.append(tuple(row))
    observed = np.where(sched["washout"], -1, (sched["condition"] == "B").astype(int))
    p, obs = _brute_p(y, rows, observed)
    ours = ex.experiment_effect(_frames(sched, y), sched, today=sched["date"].iloc[-1])
    assert ours.loc[0, "assignments"] == len(rows)
    assert ours.loc[0, "estimate"] == pytest.approx(obs)
    assert ours.loc[0, "p_value"] == pytest.approx(p)


def test_interval_is_the_set_of_effects_the_test_does_not_reject():
    sched = ex.plan_experiment("2026-01-01", design="alternating", period_days=3, periods=12,
                               washout_days=1, seed=2)
    b = (sched["condition"] == "B").to_numpy()
    y = np.random.default_rng(4).normal(6, 1.2, len(sched)) + 1.0 * b
    r = ex.experiment_effect(_frames(sched, y), sched).iloc[0]
    assert r["ci_low"] < r["estimate"] < r["ci_high"]
    allowed = ex.design_assignments(design="alternating", period_days=3, periods=12, washout_days=1)
    observed = np.where(sched["washout"], -1, b.astype(int))
    width = r["ci_high"] - r["ci_low"]
    for delta in np.linspace(r["ci_low"] - width, r["ci_high"] + width, 61):
        if min(abs(delta - r["ci_low"]), abs(delta - r["ci_high"])) < 1e-6:
            continue
        p = ex.randomisation_test(y - delta * b, allowed, observed, interval=False)["p_value"]
        inside = r["ci_low"] < delta < r["ci_high"]
        assert (p > 0.05) == inside, (delta, p)


def test_drawn_assignments_p_counts_the_observed_as_one_draw():
    sched = ex.plan_experiment("2026-01-01", design="days", period_days=10, periods=4, seed=3)
    y = np.random.default_rng(0).normal(0, 1, 40)
    r = ex.experiment_effect(_frames(sched, y), sched, n_draws=999, seed=4).iloc[0]
    assert not r["exact"] and r["assignments"] == 1000
    d = ex.experiment_distribution(_frames(sched, y), sched, n_draws=999, seed=4)
    assert len(d) == 999 and not d["exact"].any()
    assert r["p_value"] == pytest.approx((1 + d["extreme"].sum()) / 1000)
    # the same seed gives the same p; the exact count for this design is beyond enumeration
    again = ex.experiment_effect(_frames(sched, y), sched, n_draws=999, seed=4).iloc[0]
    assert again["p_value"] == r["p_value"]


def test_distribution_matches_the_exact_p():
    sched = ex.plan_experiment("2026-01-01", design="pairs", period_days=2, periods=16, seed=1)
    y = np.random.default_rng(2).normal(0, 1, 32) + 0.7 * (sched["condition"] == "B")
    r = ex.experiment_effect(_frames(sched, y), sched).iloc[0]
    d = ex.experiment_distribution(_frames(sched, y), sched)
    assert list(d.columns) == ex.DISTRIBUTION_COLUMNS
    assert len(d) == 2 ** 8 and d["exact"].all()
    assert d["observed"].iloc[0] == pytest.approx(r["estimate"])
    assert r["p_value"] == pytest.approx(d["extreme"].mean())
    assert d["difference"].mean() == pytest.approx(0.0, abs=1e-12)  # mirror images cancel


# --------------------------------------------------------------------------------------------
# an unfinished trial, adherence, bad input


def test_no_p_value_before_the_planned_end():
    sched = ex.plan_experiment("2026-01-01", design="pairs", period_days=3, periods=8, seed=1)
    y = np.random.default_rng(2).normal(0, 1, 24) + 2.0 * (sched["condition"] == "B")
    out = _frames(sched, y)
    r = ex.experiment_effect(out.iloc[:20], sched).iloc[0]
    assert not r["finished"] and r["today"] == sched["date"].iloc[19]
    assert np.isnan(r["p_value"]) and np.isnan(r["ci_low"]) and np.isnan(r["ci_high"])
    assert r["n_a"] + r["n_b"] == 20 and np.isfinite(r["estimate"])
    assert r["planned_end"] == sched["date"].iloc[-1]
    # today given explicitly: the values after it are not used, and no distribution
    early = ex.experiment_effect(out, sched, today="2026-01-10").iloc[0]
    assert not early["finished"] and early["n_a"] + early["n_b"] == 10 and np.isnan(early["p_value"])
    assert ex.experiment_distribution(out, sched, today="2026-01-10").empty
    done = ex.experiment_effect(out, sched, today=sched["date"].iloc[-1]).iloc[0]
    assert done["finished"] and np.isfinite(done["p_value"]) and done["p_value"] <= 1


def test_as_followed_keeps_only_followed_days_and_is_marked_not_randomised():
    sched = ex.plan_experiment("2026-01-01", design="alternating", period_days=4, periods=8, seed=6)
    y = np.random.default_rng(5).normal(0, 1, 32)
    followed = np.ones(32, bool)
    followed[[3, 9, 17]] = False
    adh = pd.DataFrame({"date": sched["date"], "followed": followed})
    itt = ex.experiment_effect(_frames(sched, y), sched, adherence=adh).iloc[0]
    af = ex.experiment_effect(_frames(sched, y), sched, adherence=adh, analysis="as_followed").iloc[0]
    assert itt["randomised"] and not af["randomised"]
    assert itt["analysis"] == "itt" and af["analysis"] == "as_followed"
    assert itt["n_a"] + itt["n_b"] == 32 and af["n_a"] + af["n_b"] == 29
    assert itt["adherence"] == pytest.approx(29 / 32) == af["adherence"]
    kept = followed & (sched["condition"] == "B").to_numpy()
    assert af["mean_b"] == pytest.approx(y[kept].mean())
    # a day without an answer counts as not followed
    partial = ex.experiment_effect(_frames(sched, y), sched, adherence=adh.iloc[:16]).iloc[0]
    assert partial["adherence"] == pytest.approx(14 / 32)  # days 3 and 9 not followed


@pytest.mark.parametrize("change,words", [
    (lambda s, o, a: (s.assign(design="zigzag"), o, {}), "design='zigzag' is not a design"),
    (lambda s, o, a: (s.drop(columns="design"), o, {}), "no 'design' column"),
    (lambda s, o, a: (s.assign(condition="A"), o, {}), "not one the 'pairs' design could have produced"),
    (lambda s, o, a: (s.drop(index=5), o, {}), "must follow one another"),
    (lambda s, o, a: (s.assign(condition=s["condition"].replace("B", "C")), o, {}), "must be 'A' or 'B'"),
    (lambda s, o, a: (s, o.rename(columns={"value": "rating"}), {}), "has no column 'value'"),
    (lambda s, o, a: (s, pd.concat([o, o.iloc[:1]]), {}), "more than one value on 2026-01-01"),
    (lambda s, o, a: (s, o.assign(value="good"), {}), "must hold numbers"),
    (lambda s, o, a: (s, o.assign(value=np.where(s["condition"] == "A", np.nan, 1.0)),
                      {"today": "2026-01-24"}), "values on 0 A day"),
    (lambda s, o, a: (s, o, {"analysis": "per_protocol"}), "analysis='per_protocol'"),
    (lambda s, o, a: (s, o, {"analysis": "as_followed"}), "needs the adherence"),
    (lambda s, o, a: (s, o, {"adherence": a.assign(followed="maybe")}), "must be true or false"),
    (lambda s, o, a: (s, o, {"today": "someday"}), "today"),
    (lambda s, o, a: (s, o, {"alpha": 1.5}), "alpha must be between 0 and 1"),
    (lambda s, o, a: (s, o, {"alternative": "bigger"}), "alternative='bigger'"),
])
def test_bad_analysis_input_is_refused_with_a_clear_message(change, words):
    sched = ex.plan_experiment("2026-01-01", design="pairs", period_days=3, periods=8, seed=1)
    out = _frames(sched, np.arange(24.0))
    adh = pd.DataFrame({"date": sched["date"], "followed": True})
    s, o, kw = change(sched, out, adh)
    with pytest.raises(ExperimentError, match=words.replace("(", r"\(").replace(")", r"\)")):
        ex.experiment_effect(o, s, **kw)


# --------------------------------------------------------------------------------------------
# why the design's own set: shuffling days freely finds effects in pure noise


def _ar1(rng, n_series, n_days, phi):
    e = rng.normal(size=(n_series, n_days))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0] / np.sqrt(1 - phi ** 2)
    for t in range(1, n_days):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


@pytest.mark.parametrize("design", ["pairs", "alternating"])
def test_free_shuffle_finds_effects_in_noise_where_the_design_test_holds_its_level(design):
    rng = np.random.default_rng(2026)
    L, m, sims = 7, 16, 300
    allowed = ex.design_assignments(design=design, period_days=L, periods=m)
    free = ex.design_assignments(design="days", period_days=L * m, periods=1, n_draws=500, seed=1)
    noise = _ar1(rng, sims, L * m, 0.8)
    picks = rng.integers(0, len(allowed), sims)
    design_hits = free_hits = 0
    for y, k in zip(noise, picks):
        observed = allowed.codes[k]
        design_hits += ex.randomisation_test(y, allowed, observed, interval=False)["p_value"] <= 0.05
        free_hits += ex.randomisation_test(y, free, observed, interval=False)["p_value"] <= 0.05
    # binomial bounds: at an exact 5% level, 300 tests exceed 27 rejections with chance < 0.1%
    assert design_hits <= stats.binom.ppf(0.999, sims, 0.05)
    # the free shuffle rejects about a quarter of these null series (0.27 and 0.25 measured)
    assert free_hits / sims > 0.15


# --------------------------------------------------------------------------------------------
# how long: power from the person's own past values


def _history(phi=0.5, sd=1.5, days=120, seed=0):
    y = 6 + ex.simulate_ar1(np.random.default_rng(seed), 1, days, phi, sd)[0]
    return pd.DataFrame({"date": pd.date_range("2025-01-01", periods=days), "value": y})


def test_outcome_noise_recovers_sd_and_autocorrelation():
    got = ex.outcome_noise(_history(phi=0.6, sd=2.0, days=3000, seed=1))
    assert got["phi"] == pytest.approx(0.6, abs=0.04)
    assert got["sd"] == pytest.approx(2.0, rel=0.08)
    # a missing day breaks a pair instead of joining the days around it
    h = _history(days=60).drop(index=[10, 30])
    assert ex.outcome_noise(h)["pairs"] == 59 - 4


def test_simulated_power_holds_the_level_with_no_effect_and_grows_with_the_effect():
    null = ex.simulated_power(design="alternating", period_days=3, periods=12, washout_days=1,
                              effect=0.0, phi=0.9, sd=1.0, n_sim=600, seed=3, drift=0.02)
    assert null["exact"] and null["assignments"] == 208 and len(null["p"]) == 600
    assert null["rejections"] <= stats.binom.ppf(0.999, 600, 0.05)
    assert 0.4 < np.mean(null["p"] <= 0.5) < 0.6
    powers = [ex.simulated_power(design="days", period_days=2, periods=14, effect=e, phi=0.3,
                                 sd=1.0, n_sim=300, seed=4)["power"] for e in (0.0, 0.5, 1.0, 2.0)]
    assert powers == sorted(powers) and powers[-1] > 0.9 and powers[0] < 0.12
    few = ex.simulated_power(design="pairs", period_days=7, periods=8, effect=5.0, phi=0.0, sd=1.0,
                             n_sim=50, seed=1)
    assert few["min_p"] == 2 / 16 and few["power"] == 0.0  # 16 schedules cannot reach 5%


def test_experiment_power_recommends_the_smallest_plan_that_is_enough():
    h = _history(phi=0.3, sd=1.0)
    table = ex.experiment_power(h, design="days", period_days=2, effect=1.0, n_sim=200, seed=2)
    assert list(table.columns) == ex.POWER_COLUMNS
    again = ex.experiment_power(h, design="days", period_days=2, effect=1.0, n_sim=200, seed=2)
    pd.testing.assert_frame_equal(table, again)
    assert table["recommended"].sum() == 1
    best = table.loc[table["recommended"]].iloc[0]
    assert best["enough"] and best["power_low"] >= 0.8 and best["periods"] == table["periods"].max()
    assert not table.loc[~table["recommended"], "enough"].any()
    assert ex.recommend_periods(h, design="days", period_days=2, effect=1.0, n_sim=200,
                                seed=2) == best["periods"]
    # the plan check: a short plan is too short and says how long would do
    short = ex.check_plan(h, design="days", period_days=2, periods=4, effect=1.0, n_sim=200, seed=2).iloc[0]
    assert short["too_short"] and short["recommended_periods"] == best["periods"]
    assert f"About {best['periods']} blocks" in short["message"]
    ok = ex.check_plan(h, design="days", period_days=2, periods=int(best["periods"]) + 6, effect=1.0,
                       n_sim=200, seed=2).iloc[0]
    assert not ok["too_short"] and ok["message"] == "" and np.isnan(ok["recommended_periods"])
    tiny = ex.check_plan(h, design="pairs", period_days=7, periods=4, effect=1.0, n_sim=50).iloc[0]
    assert tiny["too_short"] and "smallest possible p-value is 0.50" in tiny["message"]


@pytest.mark.parametrize("history,kwargs,words", [
    (_history(days=10), {}, "10 day(s) with a value; at least 14"),
    (_history().assign(value=5.0), {}, "never vary"),
    (_history(days=40).iloc[::2], {}, "0 pairs of consecutive days"),
    (_history(), {"effect": 0}, "effect must be a difference other than 0"),
    (_history(), {"effect": "big"}, "effect must be a number"),
    (_history().rename(columns={"value": "rating"}), {}, "no column 'value'"),
    (_history(), {"design": "zigzag"}, "design='zigzag'"),
])
def test_bad_power_input_is_refused(history, kwargs, words):
    args = dict(design="pairs", period_days=3, effect=1.0, n_sim=20) | kwargs
    with pytest.raises(ExperimentError, match=words.replace("(", r"\(").replace(")", r"\)")):
        ex.experiment_power(history, **args)


# --------------------------------------------------------------------------------------------
# charts


def test_experiment_chart_shades_the_schedule_and_plots_the_outcome():
    from mastery_analysis import charts

    sched = ex.plan_experiment("2026-01-01", design="alternating", period_days=4, periods=8,
                               washout_days=1, seed=3)
    y = np.random.default_rng(1).normal(6, 1, 32).round(1)
    out = _frames(sched, y)
    eff = ex.experiment_effect(out, sched)
    fig = charts.plot_experiment(out, sched, effect=eff, conditions={"A": "<b>late</b>", "B": "early"},
                                 outcome_label="Focus", title="Deep work")
    by_name = {t.name: t for t in fig.data}
    b_days = (sched["condition"] == "B") & ~sched["washout"]
    assert list(by_name["B: early"].y) == list(y[b_days])
    assert list(by_name["A: &lt;b&gt;late&lt;/b&gt;"].y) == list(y[(sched["condition"] == "A") & ~sched["washout"]])
    assert list(by_name["Washout (left out)"].y) == list(y[sched["washout"]])
    # one shaded rectangle per run of days of one condition (washout runs apart)
    key = sched["condition"] + sched["washout"].astype(str)
    assert len(fig.layout.shapes) == int((key != key.shift()).sum())
    assert "B − A = " in fig.layout.title.subtitle.text and "p = " in fig.layout.title.subtitle.text
    # before the planned end: the data, and no result
    early = ex.experiment_effect(out.iloc[:20], sched)
    fig = charts.plot_experiment(out.iloc[:20], sched, effect=early)
    assert "no result before the planned end" in fig.layout.title.subtitle.text
    assert "p = " not in fig.layout.title.subtitle.text
    # no data yet: the schedule alone
    fig = charts.plot_experiment(out.iloc[:0], sched)
    assert len(fig.layout.shapes) > 0


def test_randomisation_chart_bars_are_the_distribution():
    from mastery_analysis import charts

    sched = ex.plan_experiment("2026-01-01", design="pairs", period_days=2, periods=16, seed=1)
    y = np.random.default_rng(2).normal(0, 1, 32) + 0.7 * (sched["condition"] == "B")
    dist = ex.experiment_distribution(_frames(sched, y), sched)
    eff = ex.experiment_effect(_frames(sched, y), sched)
    fig = charts.plot_randomisation(dist, effect=eff, title="Deep work")
    less, more = fig.data
    assert sum(less.y) + sum(more.y) == len(dist)
    assert sum(more.y) == dist["extreme"].sum()
    assert fig.layout.shapes[0].x0 == pytest.approx(eff.loc[0, "estimate"])
    empty = charts.plot_randomisation(ex.experiment_distribution(_frames(sched, y), sched,
                                                                 today="2026-01-05"))
    assert empty.layout.meta == {"empty": True}


def test_simulated_series_have_the_asked_autocorrelation_and_spread():
    rng = np.random.default_rng(0)
    for phi, sd in ((0.7, 2.0), (np.full(4000, 0.7), np.full(4000, 2.0))):
        x = ex.simulate_ar1(rng, 4000, 30, phi, sd)
        assert x[:, 0].std() == pytest.approx(2.0, rel=0.05)  # stationary from the first day
        assert x[:, -1].std() == pytest.approx(2.0, rel=0.05)
        assert np.corrcoef(x[:, 10], x[:, 11])[0, 1] == pytest.approx(0.7, abs=0.04)
    phis, sds = ex.plausible_noise({"phi": 0.5, "sd": 1.5, "n": 60}, rng, 20000)
    assert phis.mean() == pytest.approx(0.5, abs=0.01)
    assert phis.std() == pytest.approx(np.sqrt(0.75 / 60), rel=0.05)
    assert np.median(sds) == pytest.approx(1.5, rel=0.05) and sds.std() > 0.1
