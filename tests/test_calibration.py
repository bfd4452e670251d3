"""Small seeded versions of the calibration simulations (the full grid: ``make calibrate``).

Each bound allows for binomial noise: a rate is checked against the count a binomial with the
target rate would exceed only once in a thousand runs, so these fail when calibration breaks
(the uncorrected trend test called 15-40% of trend-free series), not by chance.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from calibration.simulate import (LAGS, _correlation_frames, ar1, correlation_null,
                                  sufficiency_power, trend_rates)
from mastery_analysis.analysis import action_progress_correlation

pytestmark = pytest.mark.filterwarnings("error")


def at_most(rate, n, target):
    """``rate`` of ``n`` trials is not credibly above ``target`` (one-sided, 0.1%)."""
    return round(rate * n) <= stats.binom.ppf(0.999, n, target)


def at_least(rate, n, target):
    return round(rate * n) >= stats.binom.ppf(0.001, n, target)


@pytest.mark.parametrize("phi,days", [(0.0, 365), (0.8, 90), (0.95, 42), (0.95, 90), (0.95, 365)])
def test_trend_free_series_are_rarely_called_a_trend(phi, days):
    res = trend_rates(400, days, phi, seed=11 + days)
    assert at_most(res["called"], 400, 0.06), res
    assert res["interval_given"] == 1.0, res  # 6 weekly means or more: always an interval
    assert at_least(res["coverage"], 400, 0.94), res  # Sen's interval holds the true slope


def test_no_interval_from_five_weekly_means():
    """30 days are 5 weeks: the trend is tested, but no interval is given (from 5 points no
    interval holds the slope 95% of the time at strong autocorrelation)."""
    res = trend_rates(200, 30, 0.95, seed=2)
    assert res["insufficient"] == 0.0 and res["interval_given"] == 0.0, res
    assert np.isnan(res["coverage"]), res


def test_a_trend_of_one_point_a_year_is_found_in_a_year_without_autocorrelation():
    res = trend_rates(300, 365, 0.0, per_year=1.0, seed=5)
    assert at_least(res["right"], 300, 0.85), res  # about 92% in the full grid
    assert at_least(res["coverage"], 300, 0.94), res


def test_the_plain_test_would_fail_here():
    """The same simulation sees the problem the correction solves (so the bounds above bite)."""
    res = trend_rates(300, 365, 0.8, seed=3, alternatives=300)
    assert res["plain Mann-Kendall"] > 0.10, res
    assert at_most(res["called"], 300, 0.06), res


@pytest.mark.parametrize("phi,days,goals", [(0.95, 30, 1), (0.95, 90, 3), (0.8, 45, 1), (0.0, 90, 3)])
def test_correlation_false_positives_stay_at_alpha(phi, days, goals):
    res = correlation_null(300, days, phi, goals=goals, seed=days + goals)
    n = 300 * goals
    assert at_most(res["lag0"], n, 0.06), res
    if res["tested"] * n >= 100:
        assert at_most(res["lag0_tested"], round(res["tested"] * n), 0.06), res
    assert at_most(res["claimed"], n, 0.06), res


def test_a_person_analysed_alone_at_phi_095_over_a_year_is_rarely_told_of_a_relation():
    """Unrelated series with phi 0.95 over 365 days, lags 0-7, each person's lags one
    Benjamini-Hochberg family: a person is told of a relation in at most 6% of them (the
    full grid's cell, 5000 people: about 1.3%). 'Alone' is literal: the cohort call with
    ``family="participant"`` decides for each person what a call on that person alone decides."""
    people = 3000
    res = correlation_null(people, 365, 0.95, seed=1995)
    assert res["tested"] > 0.9, res  # n_eff >= 10 in nearly every row: the rate is not by default
    assert at_most(res["claimed"], people, 0.06), res

    rng = np.random.default_rng(95)
    actions, progress = _correlation_frames(ar1(rng, 12, 365, 0.95), ar1(rng, 12, 365, 0.95), 1)
    cohort = action_progress_correlation(actions, progress, lags=LAGS, family="participant")
    alone = pd.concat([action_progress_correlation(actions[actions["participant_id"] == pid],
                                                   progress[progress["participant_id"] == pid],
                                                   lags=LAGS)
                       for pid in pd.unique(actions["participant_id"])], ignore_index=True)
    pd.testing.assert_frame_equal(cohort, alone)


@pytest.mark.parametrize("days,people", [(90, 3000), (365, 1000)])
def test_daily_counts_driven_by_a_persistent_state_are_rarely_told_of_a_relation(days, people):
    """Daily Poisson counts whose log-rate is an AR(1) with phi 0.95, against unrelated AR(1)
    progress changes: a count's lag-1 autocorrelation understates its memory, and with the
    lag-1 n_eff alone 18% (90 days) and 24% (365 days) of these people were told of a
    relation. With Bartlett's sum over many lags as well, at most 6%."""
    res = correlation_null(people, days, 0.95, seed=2026 + days, actions="poisson")
    assert res["tested"] > 0.9, res
    assert at_most(res["claimed"], people, 0.06), res


@pytest.mark.parametrize("phi,goals,lag", [(0.0, 3, 7), (0.5, 1, 0), (0.5, 3, 7)])
def test_where_the_days_suffice_a_true_r_of_03_is_flagged_80_percent_of_the_time(phi, goals, lag):
    """The series grow; at the first length at which the tool says the days suffice, the true
    relation is flagged at least 80% of the time."""
    res = sufficiency_power(200, phi, goals=goals, effect_lag=lag, seed=17 + goals,
                            scales=(0.9, 1.0, 1.25, 1.5, 2.0))
    enough = round(res["sufficient"] * 200)
    assert enough >= 180, res  # nearly everyone gets there by twice the planned days
    assert at_least(res["flagged_when_sufficient"], enough, 0.80), res


def test_only_one_section_is_replaced_and_others_kept():
    """``python -m calibration --only NAME`` rewrites one section of the document in place."""
    from calibration.__main__ import _marked, splice

    doc = "\n\n".join([_marked("core", ["# Statistics", "core numbers"]),
                       _marked("other", ["## Other", "old numbers"])]) + "\n"
    new = splice(doc, "other", _marked("other", ["## Other", "new numbers"]))
    assert "new numbers" in new and "old numbers" not in new and "core numbers" in new
    assert new.index("core numbers") < new.index("new numbers")
    appended = splice(doc, "third", _marked("third", ["## Third"]))
    assert appended.startswith(doc.rstrip("\n")) and appended.rstrip().endswith("<!-- end section: third -->")


def test_the_document_holds_every_section():
    from pathlib import Path

    from calibration.__main__ import SECTIONS

    text = (Path(__file__).resolve().parent.parent / "docs" / "statistics.md").read_text()
    for name in SECTIONS:
        assert f"<!-- section: {name} -->" in text and f"<!-- end section: {name} -->" in text, name


@pytest.mark.parametrize("rho,n,k", [(0.55, 30, 3), (0.80, 50, 7), (0.70, 10, 3)])
def test_alpha_interval_holds_the_true_reliability_95_percent_of_the_time(rho, n, k):
    from calibration.reliability import reliability_cell

    res = reliability_cell(400, n, k, rho, seed=7 + n)  # also checks against scale_reliability
    assert at_least(res["coverage"], 400, 0.95), res
    assert at_most(1 - res["coverage"], 400, 0.05), res  # not a uselessly wide interval either


def test_rci_with_the_measured_reliability_flags_about_5_percent_when_nobody_changed():
    """With a true reliability of 0.55 the assumed 0.80 calls about a fifth of people reliably
    changed; the cohort's own alpha (what the tool uses here) about 5%."""
    from calibration.reliability import reliability_cell

    res = reliability_cell(100, 50, 3, 0.55, seed=3)
    people = res["people"]
    assert at_most(res["flag_tool"], people, 0.06), res
    assert at_least(res["flag_tool"], people, 0.04), res
    assert at_least(res["flag_assumed"], people, 0.15), res  # what the fixed 0.80 did
    likert = reliability_cell(100, 30, 3, 0.55, seed=4, likert=True)
    assert at_most(likert["flag_tool"], likert["people"], 0.06), likert
    assert at_least(likert["flag_assumed"], likert["people"], 0.15), likert


# --------------------------------------------------------------------------------------------
# self-experiments (the full grid: the "experiments" section of docs/statistics.md)


@pytest.mark.parametrize("design,L,m,w", [("pairs", 7, 12, 1), ("alternating", 7, 12, 1),
                                          ("days", 2, 21, 0)])
def test_self_experiment_test_holds_its_level_under_autocorrelation_and_drift(design, L, m, w):
    from mastery_analysis.analysis.experiments import simulated_power

    common = dict(design=design, period_days=L, periods=m, washout_days=w, effect=0.0, phi=0.9,
                  sd=1.0, n_sim=500, seed=L + m, drift=2.0 / (L * m))
    assert at_most(simulated_power(**common)["power"], 500, 0.05)
    if design != "days":  # the free shuffle, ignoring the periods, finds effects in noise
        assert simulated_power(**common, free_shuffle=True)["power"] > 0.15


def test_self_experiment_interval_covers_a_planted_effect():
    import pandas as pd

    from mastery_analysis.analysis import experiments as ex

    rng = np.random.default_rng(12)
    hits = 0
    for k in range(120):
        sched = ex.plan_experiment("2026-01-05", design="alternating", period_days=4, periods=12,
                                   washout_days=1, seed=k)
        y = ex.simulate_ar1(rng, 1, 48, 0.8)[0] + 1.0 * (sched["condition"] == "B").to_numpy() \
            + np.linspace(0, 2, 48)
        r = ex.experiment_effect(pd.DataFrame({"date": sched["date"], "value": y}), sched).iloc[0]
        hits += r["ci_low"] <= 1.0 <= r["ci_high"]
    assert at_least(hits / 120, 120, 0.94)


def test_a_recommended_plan_has_its_power_on_the_true_process():
    import pandas as pd

    from mastery_analysis.analysis import experiments as ex

    rng = np.random.default_rng(4)
    history = pd.DataFrame({"date": pd.date_range("2025-01-01", periods=365),
                            "value": 6 + ex.simulate_ar1(rng, 1, 365, 0.5, 1.5)[0]})
    m = ex.recommend_periods(history, design="days", period_days=2, effect=1.0, seed=3)
    assert m is not None
    true = ex.simulated_power(design="days", period_days=2, periods=m, effect=1.0, phi=0.5, sd=1.5,
                              n_sim=400, seed=8)
    assert at_least(true["power"], 400, 0.8)
    # and one period fewer would not reliably have been enough (the recommendation is no longer
    # than it needs to be, up to the simulation's noise)
    fewer = ex.simulated_power(design="days", period_days=2, periods=m - 2, effect=1.0, phi=0.5,
                               sd=1.5, n_sim=400, seed=8)
    assert fewer["power"] < 0.85
