"""action_progress_correlation against scipy per group, on AR(1) noise, on the demo, at the edges."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mastery_analysis.analysis.correlation import (COLUMNS, action_progress_correlation,
                                                   lagged_pairs, required_days)
from mastery_analysis.errors import AnalysisInputError, MasteryError

DAY0 = pd.Timestamp("2025-01-01")


def _ar1(rng, n, phi):
    e = rng.normal(0, 1, n)
    out = np.empty(n)
    out[0] = e[0] / np.sqrt(1 - phi**2)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out


def _noise_pairs(seed, pairs=400, n=90, phi=0.8):
    """Independent AR(1) action series and AR(1) progress changes, one participant per pair."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(DAY0, periods=n + 1)
    actions, progress, xs, changes, levels = [], [], [], [], []
    for k in range(pairs):
        x = _ar1(rng, n + 1, phi)
        change = _ar1(rng, n, phi)
        level = np.r_[0.0, np.cumsum(change)]
        pid = f"p{k:04d}"
        actions.append(pd.DataFrame({"participant_id": pid, "date": days, "goal_id": "g", "count": x}))
        progress.append(pd.DataFrame({"participant_id": pid, "date": days, "goal_id": "g",
                                      "percent": level}))
        xs.append(x)
        changes.append(change)
        levels.append(level)
    return pd.concat(actions, ignore_index=True), pd.concat(progress, ignore_index=True), xs, changes, levels


def test_false_positive_rate_on_independent_ar1_series_stays_near_alpha():
    actions, progress, xs, changes, levels = _noise_pairs(seed=7)
    res = action_progress_correlation(actions, progress, lags=[0])
    assert len(res) == 400 and res["tested"].mean() > 0.9  # n_eff >= 10 in nearly all
    tested = res[res["tested"]]
    ours = (tested["p_value"] < 0.05).mean()
    naive = np.mean([stats.pearsonr(x[:-1], c).pvalue < 0.05 for x, c in zip(xs, changes)])
    assert ours <= 0.07, ours
    assert 0.25 <= naive <= 0.45, naive  # the uncorrected test, same data: about 35%
    # and FDR control over the whole call leaves nothing "significant" in pure noise
    assert not res["significant"].any()


def test_correlates_changes_not_levels():
    actions, progress, xs, changes, levels = _noise_pairs(seed=11, pairs=60)
    res = action_progress_correlation(actions, progress, lags=[0])
    for k in (0, 17, 42):
        row = res.iloc[k]
        r_change = stats.pearsonr(xs[k][:-1], changes[k]).statistic
        r_level = stats.pearsonr(xs[k], levels[k]).statistic
        assert row["r"] == pytest.approx(r_change, abs=1e-12)
        assert abs(row["r"] - r_level) > 1e-6
    # levels would have been wrong: random walks correlate with anything
    level_fp = np.mean([stats.pearsonr(x, lv).pvalue < 0.05 for x, lv in zip(xs, levels)])
    assert level_fp > 0.3
    assert (res["p_value"] < 0.05).mean() <= 0.15


def _gappy_frames(seed=3):
    rng = np.random.default_rng(seed)
    acts, prog = [], []
    for pid in ("ann", "bob", "cid"):
        for goal in ("g1", "g2"):
            days = pd.date_range(DAY0, periods=120)
            keep_a = rng.random(120) < 0.7
            keep_p = rng.random(120) < 0.5
            acts.append(pd.DataFrame({"participant_id": pid, "date": days[keep_a], "goal_id": f"{pid}-{goal}",
                                      "count": rng.integers(0, 4, keep_a.sum()),
                                      "minutes": rng.uniform(0, 60, keep_a.sum())}))
            prog.append(pd.DataFrame({"participant_id": pid, "date": days[keep_p], "goal_id": f"{pid}-{goal}",
                                      "percent": np.cumsum(rng.uniform(0, 2, keep_p.sum()))}))
    return pd.concat(acts, ignore_index=True), pd.concat(prog, ignore_index=True)


def _pairs_by_hand(actions, progress, pid, goal, lag, measure="count"):
    """The documented pairing, written the slow, obvious way for one goal."""
    checked = set(actions.loc[actions.participant_id == pid, "date"]) | set(
        progress.loc[progress.participant_id == pid, "date"])
    a = actions[(actions.participant_id == pid) & (actions.goal_id == goal)].set_index("date")[measure]
    p = progress[(progress.participant_id == pid) & (progress.goal_id == goal)].sort_values("date")
    d, v = list(p["date"]), list(p["percent"])
    xs, ys = [], []
    for t in sorted(checked):
        s = t + pd.Timedelta(days=lag)
        for i in range(len(d) - 1):
            if d[i] <= s < d[i + 1]:
                xs.append(float(a.get(t, 0.0)))
                ys.append((v[i + 1] - v[i]) / (d[i + 1] - d[i]).days)
    return np.array(xs), np.array(ys)


@pytest.mark.parametrize("measure", ["count", "minutes"])
def test_vectorised_result_equals_scipy_per_group(measure):
    actions, progress = _gappy_frames()
    res = action_progress_correlation(actions, progress, lags=range(0, 4), measure=measure)
    assert list(res.columns) == COLUMNS
    assert len(res) == 6 * 4
    for row in res.itertuples():
        x, y = _pairs_by_hand(actions, progress, row.participant_id, row.goal_id, row.lag, measure)
        assert row.n == len(x)
        assert row.r == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-10)
        if row.tested:
            df = row.n_eff - 2
            t = row.r * np.sqrt(df / (1 - row.r**2))
            assert row.p_value == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-9)
    ps = res["p_value"].to_numpy()
    ok = np.isfinite(ps)
    np.testing.assert_allclose(res["q_value"].to_numpy()[ok], stats.false_discovery_control(ps[ok]))


def test_autocorrelation_and_n_eff_match_statsmodels_on_a_gapless_series():
    from statsmodels.tsa.stattools import acf

    rng = np.random.default_rng(5)
    n = 200
    x = _ar1(rng, n + 1, 0.6)
    change = _ar1(rng, n, 0.5)
    days = pd.date_range(DAY0, periods=n + 1)
    actions = pd.DataFrame({"participant_id": "p", "date": days, "goal_id": "g", "count": x})
    progress = pd.DataFrame({"participant_id": "p", "date": days, "goal_id": "g",
                             "percent": np.r_[0, np.cumsum(change)]})
    row = action_progress_correlation(actions, progress, lags=[0]).iloc[0]
    ax = acf(x[:-1], nlags=1, adjusted=True)[1]
    ay = acf(change, nlags=1, adjusted=True)[1]
    assert row["ac_actions"] == pytest.approx(ax, abs=1e-12)
    assert row["ac_progress"] == pytest.approx(ay, abs=1e-12)
    a = (n * ax + 1) / (n - 3) * (n * ay + 1) / (n - 3)  # bias-corrected (Marriott & Pope)
    assert row["n_eff"] == pytest.approx(n * (1 - a) / (1 + a))
    z = np.arctanh(row["r"])
    half = stats.norm.ppf(0.975) / np.sqrt(row["n_eff"] - 3)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((np.tanh(z - half), np.tanh(z + half)))



def _memory_by_hand(v, n):
    """Bartlett's sum's autocorrelations the obvious way for one series with gaps (NaN)."""
    ok = np.isfinite(v)
    d = np.where(ok, v - v[ok].mean(), 0.0)
    n0 = ok.sum()
    out = []
    for k in range(1, n // 5 + 1):
        both = ok[:-k] & ok[k:]
        out.append((d[:-k] * d[k:])[both].sum() / both.sum() / ((d**2).sum() / n0) * (n0 - k) / n0)
    return np.array(out)


def test_memory_sum_is_bartletts_sum_over_many_lags():
    """``ac_memory`` is sum_(k <= n/5) (1 - k/n) rho_x(k) rho_y(k), the autocorrelations those
    of statsmodels (``adjusted=False``) on a gapless series and the gap-scaled ones on a gappy
    one; n_eff is n over the larger of the lag-1 and this inflation, and days_needed uses the
    same. A Gaussian AR(1) keeps its lag-1 n_eff (tests/test_calibration.py checks what the
    sum does for daily counts)."""
    from statsmodels.tsa.stattools import acf

    from mastery_analysis.analysis.correlation import correlation_moments, memory_inflation

    rng = np.random.default_rng(8)
    n = 200
    state = _ar1(rng, n + 1, 0.95)
    counts = rng.poisson(np.exp(0.7 * state)).astype(float)  # lag-1 ac well below 0.95
    change = _ar1(rng, n, 0.95)
    days = pd.date_range(DAY0, periods=n + 1)
    progress = pd.DataFrame({"participant_id": "p", "date": days, "goal_id": "g",
                             "percent": np.r_[0, np.cumsum(change)]})
    K = np.arange(1, n // 5 + 1)
    for x in (state, counts):
        actions = pd.DataFrame({"participant_id": "p", "date": days, "goal_id": "g", "count": x})
        m = correlation_moments(actions, progress, lags=[0]).iloc[0]
        want = ((1 - K / n) * acf(x[:-1], nlags=n // 5, adjusted=False)[1:]
                * acf(change, nlags=n // 5, adjusted=False)[1:]).sum()
        assert m["n"] == n and m["ac_memory"] == pytest.approx(want, abs=1e-12)
        row = action_progress_correlation(actions, progress, lags=[0]).iloc[0]
        a = (n * m["ac_actions"] + 1) / (n - 3) * (n * m["ac_progress"] + 1) / (n - 3)
        lag1 = n * (1 - a) / (1 + a)
        assert row["n_eff"] == pytest.approx(min(lag1, n / (1 + 2 * want)))
        if x is state:  # an AR(1): the sum to n/5 stays below its lag-1 inflation
            assert row["n_eff"] == pytest.approx(lag1)
    assert memory_inflation([np.nan, -0.2, 0.0, 1.5]).tolist() == [1.0, 1.0, 1.0, 4.0]
    assert required_days(0.0, memory=4.0)[()] == np.ceil(
        (((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / np.arctanh(0.3)) ** 2 + 3) * 4.0)
    assert required_days(0.64, memory=2.0)[()] == required_days(0.64)[()]  # the larger applies

    # gaps: days without a check-in are left out of both series' autocorrelations
    actions, progress = _gappy_frames()
    moments = correlation_moments(actions, progress, lags=[0])
    for goal in ("ann-g1", "bob-g2"):
        m = moments[moments["goal_id"] == goal].iloc[0]
        grid = lagged_pairs(actions, progress, participant=goal[:3], goal_id=goal, lag=0)
        seen = pd.date_range(grid["date"].min(), grid["date"].max())
        both = grid.set_index("date").reindex(seen)
        # the grid also holds the progress rate on days without a check-in
        p = progress[progress["goal_id"] == goal].sort_values("date")
        entry = p["date"].to_numpy()
        rate = np.diff(p["percent"].to_numpy()) / (np.diff(entry) / np.timedelta64(1, "D"))
        span = pd.date_range(entry[0], entry[-1] - np.timedelta64(1, "D"))
        y = rate[np.searchsorted(entry, span.to_numpy(), side="right") - 1]
        x = both["actions"].reindex(span).to_numpy(dtype=float)
        L = len(span)
        rx, ry = _memory_by_hand(x, L), _memory_by_hand(y, L)
        k = np.arange(1, int(m["n"]) // 5 + 1)
        want = ((1 - k / m["n"]) * rx[:len(k)] * ry[:len(k)]).sum()
        assert m["ac_memory"] == pytest.approx(want, abs=1e-12)

def test_days_needed_is_the_fisher_z_sample_size_inflated_by_autocorrelation():
    import pingouin as pg
    n_iid = pg.power_corr(r=0.3, power=0.8, alpha=0.05)
    assert required_days(0.0)[()] == pytest.approx(np.ceil(n_iid), abs=1)
    assert pg.power_corr(r=0.3, n=required_days(0.0)[()]) >= 0.8
    assert required_days(0.64)[()] == np.ceil(required_days(0.0)[()] * 0 + (
        ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / np.arctanh(0.3)) ** 2 + 3) * 1.64 / 0.36)
    assert required_days(-0.3)[()] == required_days(0.0)[()]  # never fewer than independent pairs
    # with m tests under BH, the days that give 80% power at Bonferroni's alpha / m
    for m in (8, 24):
        n_m = pg.power_corr(r=0.3, power=0.8, alpha=0.05 / m)
        assert required_days(0.0, n_tests=m)[()] == pytest.approx(np.ceil(n_m), abs=1)
        assert pg.power_corr(r=0.3, n=required_days(0.0, n_tests=m)[()], alpha=0.05 / m) >= 0.8
    assert required_days(0.25, n_tests=8)[()] > required_days(0.0, n_tests=8)[()] > required_days(0.0)[()]


def test_family_participant_adjusts_each_person_alone_and_sizes_days_needed_by_it():
    actions, progress, *_ = _noise_pairs(seed=3, pairs=6, n=120, phi=0.3)
    lags = range(0, 4)
    call = action_progress_correlation(actions, progress, lags=lags)
    per = action_progress_correlation(actions, progress, lags=lags, family="participant")
    cols = ["n", "n_eff", "r", "p_value", "tested"]
    pd.testing.assert_frame_equal(call[cols], per[cols])
    ok = call["tested"].to_numpy()
    np.testing.assert_allclose(call["q_value"][ok], stats.false_discovery_control(call["p_value"][ok]))
    for pid, rows in per.groupby("participant_id"):
        t = rows[rows["tested"]]
        np.testing.assert_allclose(t["q_value"], stats.false_discovery_control(t["p_value"]))
    def up(ac, n):  # bias-corrected, then 1.5 standard errors up
        phi = ((n * ac + 1) / (n - 3)).clip(-0.99, 0.99)
        return (phi + 1.5 * np.sqrt((1 - phi**2) / n)).clip(-0.99, 0.99)

    def a(f):
        return up(f["ac_actions"], f["n"]) * up(f["ac_progress"], f["n"])
    from mastery_analysis.analysis.correlation import correlation_moments, memory_inflation
    memory = memory_inflation(correlation_moments(actions, progress, lags=lags)["ac_memory"])
    np.testing.assert_array_equal(call["days_needed"],
                                  required_days(a(call), n_tests=len(call), memory=memory))
    np.testing.assert_array_equal(per["days_needed"], required_days(a(per), n_tests=4, memory=memory))
    for f in (call, per):  # one rule: sufficient = tested and (found, or enough days)
        want = f["tested"] & (f["significant"] | (f["n"] >= f["days_needed"]))
        assert f["sufficient"].tolist() == want.tolist()
        assert (f.loc[f["sufficient"], "more_days"] == 0).all()
    with pytest.raises(AnalysisInputError, match="family"):
        action_progress_correlation(actions, progress, family="everyone")


def test_demo_planted_effect_is_found_and_null_goal_is_not():
    from mastery_analysis.demo import GROUND_TRUTH, demo_frames

    truth = GROUND_TRUTH["alex"]
    f = demo_frames()
    alex = {k: v[v["participant_id"] == "alex"] for k, v in f.items()}
    res = action_progress_correlation(alex["actions"], alex["progress"], checkins=alex["ratings"])
    effect = res[res["goal_id"] == truth["effect_goal"]].set_index("lag")
    for lag in truth["effect_lags"]:
        assert effect.at[lag, "q_value"] < 0.05 and effect.at[lag, "r"] > 0
        assert effect.at[lag, "significant"]
    others = [lag for lag in effect.index if lag not in truth["effect_lags"]]
    assert not effect.loc[others, "significant"].any()
    null = res[res["goal_id"] == truth["null_goal"]]
    assert null["sufficient"].all()
    assert not (null["q_value"] < 0.05).any()
    assert (null["more_days"] == 0).all()  # two years are enough to have seen r = 0.3


def test_days_without_any_row_are_missing_not_zero_unless_checked_in():
    days = pd.date_range(DAY0, periods=40)
    actions = pd.DataFrame({"participant_id": "p", "date": days[::2], "goal_id": "g",
                            "count": np.arange(20) % 3 + 1})
    progress = pd.DataFrame({"participant_id": "p", "date": days, "goal_id": "g",
                             "percent": np.sqrt(np.arange(40.0)) + np.sin(np.arange(40.0))})
    base = action_progress_correlation(actions, progress, lags=[0]).iloc[0]
    assert base["n"] == 39  # progress days are check-ins, so odd days count as 0 actions
    only_actions = progress.iloc[::2]
    res = action_progress_correlation(actions, only_actions, lags=[0]).iloc[0]
    assert res["n"] == 19  # days with no row at all are left out, not zero
    more = action_progress_correlation(actions, only_actions, lags=[0],
                                       checkins=pd.DataFrame({"participant_id": "p", "date": days}))
    assert more.iloc[0]["n"] == 38


def _run_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return action_progress_correlation(*args, **kwargs)


def test_edge_cases_give_honest_rows_without_warnings():
    days = pd.date_range(DAY0, periods=60)
    one_day_a = pd.DataFrame({"participant_id": "p", "date": [DAY0], "goal_id": "g", "count": [2]})
    one_day_p = pd.DataFrame({"participant_id": "p", "date": [DAY0], "goal_id": "g", "percent": [5.0]})
    res = _run_quietly(one_day_a, one_day_p, lags=range(3))
    assert len(res) == 3 and (res["n"] == 0).all() and not res["sufficient"].any()
    assert res["p_value"].isna().all() and not res["significant"].any()
    assert (res["days_needed"] >= 85).all() and (res["more_days"] >= 85).all()

    constant = pd.DataFrame({"participant_id": "p", "date": days, "goal_id": "g", "count": 1})
    moving = pd.DataFrame({"participant_id": "p", "date": days, "goal_id": "g",
                           "percent": np.cumsum(np.random.default_rng(1).uniform(0, 1, 60))})
    res = _run_quietly(constant, moving)
    assert (res["n"] > 50).all() and res["r"].isna().all() and not res["sufficient"].any()
    steady = moving.assign(percent=np.arange(60.0))  # constant change
    res = _run_quietly(constant.assign(count=np.arange(60) % 4), steady)
    assert res["r"].isna().all() and not res["sufficient"].any()

    no_progress = _run_quietly(constant, moving.iloc[0:0])
    assert len(no_progress) == 8 and (no_progress["n"] == 0).all()
    assert not no_progress["sufficient"].any() and no_progress["q_value"].isna().all()

    gappy_days = days[[0, 1, 9, 20, 21, 40, 59]]
    gappy = _run_quietly(constant[constant.date.isin(gappy_days)].assign(count=[1, 3, 0, 2, 5, 1, 2]),
                         moving[moving.date.isin(gappy_days)])
    assert not gappy["sufficient"].any() and gappy["p_value"].isna().all()

    empty = _run_quietly(constant.iloc[0:0], moving.iloc[0:0])
    assert list(empty.columns) == COLUMNS and len(empty) == 0


def test_inputs_are_not_modified_and_errors_name_the_column():
    actions, progress = _gappy_frames()
    a0, p0 = actions.copy(), progress.copy()
    action_progress_correlation(actions, progress)
    pd.testing.assert_frame_equal(actions, a0)
    pd.testing.assert_frame_equal(progress, p0)
    with pytest.raises(AnalysisInputError, match="'percent'"):
        action_progress_correlation(actions, progress.drop(columns="percent"))
    with pytest.raises(MasteryError, match="'effort'"):
        action_progress_correlation(actions, progress, measure="effort")
    with pytest.raises(AnalysisInputError, match="lags"):
        action_progress_correlation(actions, progress, lags=[-1])


def test_property_any_gappy_layout_matches_the_obvious_pairing():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    day = st.integers(min_value=0, max_value=40)

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(a_days=st.lists(day, min_size=0, max_size=30, unique=True),
           p_days=st.lists(day, min_size=0, max_size=25, unique=True),
           seed=st.integers(0, 10_000), lag=st.integers(0, 3))
    def check(a_days, p_days, seed, lag):
        rng = np.random.default_rng(seed)
        actions = pd.DataFrame({"participant_id": "p", "date": DAY0 + pd.to_timedelta(a_days, unit="D"),
                                "goal_id": "g", "count": rng.integers(0, 3, len(a_days)).astype(float)})
        progress = pd.DataFrame({"participant_id": "p", "date": DAY0 + pd.to_timedelta(sorted(p_days), unit="D"),
                                 "goal_id": "g", "percent": np.cumsum(rng.integers(0, 4, len(p_days))).astype(float)})
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            res = action_progress_correlation(actions, progress, lags=[lag])
        if res.empty:
            assert actions.empty and progress.empty
            return
        row = res.iloc[0]
        x, y = _pairs_by_hand(actions, progress, "p", "g", lag)
        assert row["n"] == len(x)
        varies = len(x) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0
        if varies:
            assert row["r"] == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-9)
        else:
            assert np.isnan(row["r"]) and not row["tested"] and not row["sufficient"]
        assert row["n_eff"] <= row["n"] + 1e-12
        assert not row["tested"] or (0 <= row["p_value"] <= 1 and row["q_value"] >= row["p_value"] - 1e-15)
        assert row["days_needed"] >= 85 and row["more_days"] >= 0

    check()


def test_dates_with_a_time_zone_are_the_participants_calendar_days():
    """A tz-aware date is the day on the participant's own calendar (as lagged_pairs reads it),
    not the UTC day: in Auckland, midnight is the previous day in UTC."""
    actions, progress = _gappy_frames()
    local = [f.assign(date=f["date"].dt.tz_localize("Pacific/Auckland")) for f in (actions, progress)]
    naive = action_progress_correlation(actions, progress, lags=range(0, 3))
    pd.testing.assert_frame_equal(action_progress_correlation(*local, lags=range(0, 3)), naive)
    pairs = lagged_pairs(*local, participant="ann", goal_id="ann-g1", lag=1)
    row = naive.set_index(["participant_id", "goal_id", "lag"]).loc[("ann", "ann-g1", 1)]
    assert len(pairs) == row["n"]
    with pytest.raises(AnalysisInputError, match="'date'"):
        action_progress_correlation(actions.assign(date="not a day"), progress)


@pytest.mark.parametrize("family", ["call", "participant"])
def test_blocks_of_participants_give_the_whole_calls_result(monkeypatch, family):
    """Large inputs are paired in blocks of whole participants (_grouped.BLOCK_ROWS) and the
    FDR family, the days needed and the sort are then decided over every block together:
    tiny blocks give the one-block result bit for bit, with a person whose actions and
    progress sit in different frames' orders, categorical ids, a row without a participant
    (ignored either way) and check-ins."""
    from mastery_analysis.analysis import _grouped
    from mastery_analysis.demo import demo_frames

    f = demo_frames()
    actions = f["actions"].sample(frac=1, random_state=1)  # unsorted rows
    progress = f["progress"].astype({"participant_id": "category"})
    ga, gp = _gappy_frames()
    actions = pd.concat([actions, ga.drop(columns="minutes")], ignore_index=True)
    progress = pd.concat([progress, gp], ignore_index=True)
    actions.loc[3, "participant_id"] = None
    checkins = f["ratings"][["participant_id", "date"]]
    kwargs = dict(lags=range(0, 4), checkins=checkins, family=family)
    whole = action_progress_correlation(actions, progress, **kwargs)
    assert whole["participant_id"].nunique() > 3 and whole["significant"].any()
    for rows in (300, 5000):  # a block per person or less; several people a block
        monkeypatch.setattr(_grouped, "BLOCK_ROWS", rows)
        monkeypatch.setenv("MASTERY_THREADS", "1" if rows < 1000 else "3")  # in order either way
        pd.testing.assert_frame_equal(action_progress_correlation(actions, progress, **kwargs),
                                      whole, check_exact=True)
