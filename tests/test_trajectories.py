"""element_trajectories, element_trends and wheel_values against pandas', SciPy's and plain
per-group results."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mastery_analysis.analysis import element_trajectories, element_trends, wheel_values
from mastery_analysis.errors import AnalysisInputError, MasteryError

pytestmark = pytest.mark.filterwarnings("error")

ELEMENTS = ["proactive", "connect", "informed", "focused", "potential"]


def gappy_ratings(seed=7, people=6, days=120):
    """Current ratings on random days (about 60% of days), plus a few vision ratings."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2025-01-01")
    for p in range(people):
        for e, element in enumerate(ELEMENTS[: 3 + p % 3]):  # some people skip elements
            drift = rng.normal(0, 0.03)
            for d in range(days):
                if rng.random() < 0.6:
                    level = 5 + drift * d + rng.normal(0, 1.2)
                    rows.append((f"p{p}", start + pd.Timedelta(days=d), element,
                                 int(np.clip(round(level), 1, 10)), "current"))
            for d in sorted(rng.choice(days, 2, replace=False)):
                rows.append((f"p{p}", start + pd.Timedelta(days=int(d) + 5), element,
                             int(rng.integers(6, 11)), "vision"))
    frame = pd.DataFrame(rows, columns=["participant_id", "date", "element", "rating", "kind"])
    return frame.sample(frac=1, random_state=seed).reset_index(drop=True)  # unsorted input


def test_rolling_ewm_and_vision_equal_pandas_per_group():
    ratings = gappy_ratings()
    before = ratings.copy(deep=True)
    out = element_trajectories(ratings, window="7D")
    pd.testing.assert_frame_equal(ratings, before)  # input untouched
    assert list(out.columns) == ["participant_id", "element", "date", "rating",
                                 "rolling_mean", "ewm", "vision", "gap"]
    assert out["date"].dtype == "datetime64[ns]"
    cur = ratings[ratings["kind"] == "current"]
    assert len(out) == len(cur)
    vision = ratings[ratings["kind"] == "vision"].sort_values("date")
    n_groups = 0
    for (pid, element), g in cur.groupby(["participant_id", "element"]):
        n_groups += 1
        g = g.sort_values("date")
        s = g.set_index("date")["rating"].astype(float)
        got = out[(out["participant_id"] == pid) & (out["element"] == element)]
        np.testing.assert_array_equal(got["date"].to_numpy(), g["date"].to_numpy())
        np.testing.assert_allclose(got["rolling_mean"], s.rolling("7D").mean(), rtol=1e-12)
        np.testing.assert_allclose(
            got["ewm"], s.ewm(halflife=pd.Timedelta("7D"), times=s.index).mean(), rtol=1e-12)
        v = vision[(vision["participant_id"] == pid) & (vision["element"] == element)]
        expected_vision = pd.merge_asof(g[["date"]], v[["date", "rating"]], on="date",
                                        direction="backward")["rating"].astype(float)
        np.testing.assert_allclose(got["vision"], expected_vision, equal_nan=True)
        np.testing.assert_allclose(got["gap"], expected_vision - s.rolling("7D").mean().to_numpy(),
                                   equal_nan=True)
    assert n_groups == out.groupby(["participant_id", "element"]).ngroups
    # vision is NaN before the first vision rating and set after it
    assert out["vision"].isna().any() and out["vision"].notna().any()


def test_other_window_and_halflife_equal_pandas():
    ratings = gappy_ratings(seed=3, people=2)
    out = element_trajectories(ratings, window="14D", halflife="3D")
    g = ratings[(ratings["participant_id"] == "p1") & (ratings["element"] == "connect")
                & (ratings["kind"] == "current")].sort_values("date")
    s = g.set_index("date")["rating"].astype(float)
    got = out[(out["participant_id"] == "p1") & (out["element"] == "connect")]
    np.testing.assert_allclose(got["rolling_mean"], s.rolling("14D").mean(), rtol=1e-12)
    np.testing.assert_allclose(got["ewm"], s.ewm(halflife=pd.Timedelta("3D"), times=s.index).mean(),
                               rtol=1e-12)


def test_missing_days_are_not_zeros():
    # one rating every 10 days: each 7-day window holds only that day's rating
    dates = pd.date_range("2025-01-01", periods=8, freq="10D")
    ratings = pd.DataFrame({"participant_id": "a", "element": "focused", "date": dates,
                            "rating": [2, 9, 4, 7, 3, 8, 5, 6]})
    out = element_trajectories(ratings)  # no kind column: every row is current
    np.testing.assert_array_equal(out["rolling_mean"], ratings["rating"].astype(float))
    assert out["vision"].isna().all() and out["gap"].isna().all()


def test_same_day_ratings_share_their_window():
    ratings = pd.DataFrame({"participant_id": "a", "element": "focused",
                            "date": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-02"]),
                            "rating": [4, 6, 8]})
    out = element_trajectories(ratings)
    np.testing.assert_allclose(out["rolling_mean"], [4, 6, 6])


def test_one_day_and_all_equal():
    one = pd.DataFrame({"participant_id": ["a", "a"], "element": ["connect", "connect"],
                        "date": pd.to_datetime(["2025-03-01"] * 2), "rating": [6, 9],
                        "kind": ["current", "vision"]})
    out = element_trajectories(one)
    assert len(out) == 1
    assert out.loc[0, "rolling_mean"] == 6 and out.loc[0, "ewm"] == 6
    assert out.loc[0, "vision"] == 9 and out.loc[0, "gap"] == 3  # vision of the same day counts
    trends = element_trends(one)
    assert len(trends) == 1 and trends.loc[0, "direction"] == "insufficient"
    assert trends.loc[0, "n_periods"] == 1
    assert trends[["slope", "slope_low", "slope_high", "tau", "p_value"]].isna().all(axis=None)

    equal = pd.DataFrame({"participant_id": "a", "element": "connect",
                          "date": pd.date_range("2025-01-01", periods=70), "rating": 7})
    out = element_trajectories(equal)
    assert (out["rolling_mean"] == 7).all()
    np.testing.assert_allclose(out["ewm"], 7)
    t = element_trends(equal).iloc[0]
    assert t["direction"] == "flat" and t["slope"] == 0
    assert t["slope_low"] == 0 and t["slope_high"] == 0
    assert np.isnan(t["tau"]) and np.isnan(t["p_value"])  # the test is undefined, honestly NaN


def _reference_trend(g, alpha=0.05):
    """One element's trend, computed plainly: pandas' weekly means, SciPy's Theil-Sen and
    Kendall's tau, pymannkendall's S and Var(S), and the autocorrelation correction written
    out with explicit sums (not the closed forms the package uses)."""
    import pymannkendall as mk

    weekly = g.set_index("date")["rating"].astype(float).resample("W").mean().dropna()
    weeks = (weekly.index - pd.Timestamp("1970-01-01")).days.to_numpy() / 7.0
    w = weekly.to_numpy()
    n = len(w)
    # daily AR(1): residuals from the least-squares line, pairs of consecutive days
    daily = g.groupby("date")["rating"].mean()
    t = (daily.index - daily.index[0]).days.to_numpy().astype(float)
    y = daily.to_numpy(dtype=float)
    res = y - np.polyval(np.polyfit(t, y, 1), t)
    nd = len(y)
    pairs = np.flatnonzero(np.diff(t) == 1)
    ac = np.mean(res[pairs] * res[pairs + 1]) / (np.mean(res ** 2) - 1 / 12)
    phi = float(np.clip((nd * ac + 2) / (nd - 4), -1, 1))
    phi = float(np.clip(phi + 1.5 * np.sqrt((1 - phi ** 2) / nd), 0, 0.99))
    a = np.arange(7)
    var0 = sum(phi ** abs(j - i) for i in a for j in a)
    rho = np.array([sum(phi ** abs(7 * k + j - i) for i in a for j in a) / var0
                    for k in range(1, n)])
    rs = 6 / np.pi * np.arcsin(rho / 2)
    i = np.arange(1, n)
    factor = max(1.0, 1 + 2 / (n * (n - 1) * (n - 2)) * np.sum((n - i) * (n - i - 1) * (n - i - 2) * rs))
    orig = mk.original_test(w)
    var_s = orig.var_s * factor
    z = 0.0 if orig.s == 0 else (orig.s - np.sign(orig.s)) / np.sqrt(var_s)
    p = 2 * stats.norm.sf(abs(z))
    # Sen's interval with the corrected variance (scipy.stats.theilslopes, sigma widened)
    slopes = np.sort([(w[j] - w[i]) / (weeks[j] - weeks[i]) for i in range(n) for j in range(i + 1, n)])
    _, counts = np.unique(w, return_counts=True)
    sigma = np.sqrt((n * (n - 1) * (2 * n + 5) - np.sum(counts * (counts - 1) * (2 * counts + 5)))
                    / 18 * factor)
    zq = stats.norm.ppf(alpha / 2)
    r_up = min(int(np.round((len(slopes) - zq * sigma) / 2)), len(slopes) - 1)
    r_low = max(int(np.round((len(slopes) + zq * sigma) / 2)) - 1, 0)
    ts = stats.theilslopes(w, weeks)
    kt = stats.kendalltau(weeks, w)
    return {"n_periods": n, "slope": ts.slope, "slope_low": slopes[r_low], "slope_high": slopes[r_up],
            "tau": kt.statistic, "ac_daily": phi, "variance_factor": factor, "p_value": p,
            "s": orig.s, "mk_var_s": orig.var_s}


def test_trends_equal_plain_per_group_computations_and_pymannkendall():
    ratings = gappy_ratings(seed=11, people=8, days=200)
    before = ratings.copy(deep=True)
    out = element_trends(ratings)
    pd.testing.assert_frame_equal(ratings, before)
    assert list(out.columns) == ["participant_id", "element", "n_periods", "slope", "slope_low",
                                 "slope_high", "tau", "ac_daily", "variance_factor", "p_value",
                                 "q_value", "direction"]
    cur = ratings[ratings["kind"] == "current"]
    checked = 0
    refs = {}
    for (pid, element), g in cur.groupby(["participant_id", "element"]):
        ref = _reference_trend(g)
        refs[pid, element] = ref
        row = out[(out["participant_id"] == pid) & (out["element"] == element)].iloc[0]
        assert row["n_periods"] == ref["n_periods"]
        keys = ["slope", "slope_low", "slope_high", "tau", "ac_daily", "variance_factor", "p_value"]
        np.testing.assert_allclose(row[keys].to_numpy(dtype=float), [ref[k] for k in keys], rtol=1e-9)
        checked += 1
    assert checked == len(out) == sum(3 + p % 3 for p in range(8))  # 3, 4 or 5 elements each
    assert (out["variance_factor"] > 1).any()  # the correction is not a no-op on these data
    # q: Benjamini-Hochberg across each participant's elements; direction follows q
    for pid, rows in out.groupby("participant_id"):
        np.testing.assert_allclose(rows["q_value"], stats.false_discovery_control(rows["p_value"]))
        for row in rows.itertuples():
            want = ("improving" if row.q_value < 0.05 and row.tau > 0 else
                    "declining" if row.q_value < 0.05 and row.tau < 0 else "flat")
            assert row.direction == want


def test_corrected_mann_kendall_equals_pymannkendall_hamed_rao():
    """Given the rank autocorrelations pymannkendall's Hamed-Rao test estimates, the package's
    factor, variance and p-value equal pymannkendall's (the formula is the published one)."""
    import pymannkendall as mk
    from mastery_analysis.analysis._grouped import grouped_theilslopes, hamed_rao_factor

    rng = np.random.default_rng(3)
    sizes = [8, 15, 30, 52, 52, 104]
    series, acfs = [], []
    for n in sizes:
        e = rng.normal(size=n)
        x = np.empty(n)
        x[0] = e[0]
        for i in range(1, n):
            x[i] = 0.7 * x[i - 1] + e[i]
        x = np.round(x + 0.02 * np.arange(n), 1)  # ties, and a small trend
        series.append(x)
        slope = mk.sens_slope(x).slope
        ranks = stats.rankdata(x - np.arange(1, n + 1) * slope)
        d = ranks - ranks.mean()
        acf = np.correlate(d, d, "full")[n - 1:] / np.sum(d * d)
        bound = stats.norm.ppf(0.975) / np.sqrt(n)
        acfs.append(np.where(np.abs(acf[1:]) > bound, acf[1:], 0.0))  # significant lags only
    width = max(sizes) - 1
    rank_acf = np.array([np.r_[a, np.zeros(width - len(a))] for a in acfs])
    factor = hamed_rao_factor(rank_acf, np.array(sizes, dtype=float))
    codes = np.repeat(np.arange(len(sizes)), sizes)
    t = np.concatenate([np.arange(n, dtype=float) for n in sizes])
    out = grouped_theilslopes(codes, t, np.concatenate(series), len(sizes), kendall=True,
                              variance_factor=factor)
    for k, x in enumerate(series):
        ref = mk.hamed_rao_modification_test(x)
        assert out["s"][k] == ref.s
        assert out["var_s"][k] == pytest.approx(ref.var_s, rel=1e-12)
        assert out["mk_p"][k] == pytest.approx(ref.p, rel=1e-9, abs=1e-15)
        assert out["slope"][k] == pytest.approx(ref.slope, rel=1e-12)
    plain = grouped_theilslopes(codes, t, np.concatenate(series), len(sizes), kendall=True)
    for k, x in enumerate(series):
        ref = mk.original_test(x)
        assert (plain["s"][k], plain["mk_p"][k]) == pytest.approx((ref.s, ref.p), rel=1e-9)


def test_trend_directions_on_planted_series():
    rng = np.random.default_rng(5)
    days = pd.date_range("2025-01-01", periods=26 * 7)
    t = np.arange(len(days)) / 7.0
    frames = []
    for element, slope in (("proactive", 0.1), ("informed", -0.1), ("connect", 0.0)):
        r = np.clip(np.rint(5 + slope * t + rng.normal(0, 0.7, len(t))), 1, 10)
        frames.append(pd.DataFrame({"participant_id": "a", "element": element, "date": days,
                                    "rating": r.astype(int), "kind": "current"}))
    out = element_trends(pd.concat(frames)).set_index("element")
    assert out.loc["proactive", "direction"] == "improving"
    assert out.loc["informed", "direction"] == "declining"
    assert out.loc["connect", "direction"] == "flat"
    assert 0.07 < out.loc["proactive", "slope"] < 0.13  # points per week
    assert out.loc["proactive", "slope_low"] < out.loc["proactive", "slope"] < \
        out.loc["proactive", "slope_high"]


@pytest.mark.parametrize("freq", ["D", "W", "2W", "MS"])
def test_slope_is_per_week_whatever_the_period(freq):
    days = pd.date_range("2025-01-01", periods=300)
    ratings = pd.DataFrame({"participant_id": "a", "element": "focused", "date": days,
                            "rating": 1 + (days - days[0]).days / 70.0})  # 0.1 per week
    out = element_trends(ratings, freq=freq).iloc[0]
    assert out["slope"] == pytest.approx(0.1, rel=0.03)
    assert out["direction"] == "improving"


def test_min_periods_and_missing_elements():
    days = pd.date_range("2025-01-06", periods=4 * 7)  # four weeks
    ratings = pd.DataFrame({"participant_id": "a", "element": "focused", "date": days,
                            "rating": np.arange(len(days)) // 7 + 3})
    out = element_trends(ratings)
    assert out["element"].tolist() == ["focused"]  # elements never rated get no row
    assert out.loc[0, "n_periods"] == 4 and out.loc[0, "direction"] == "insufficient"
    out = element_trends(ratings, min_periods=4)
    assert out.loc[0, "direction"] == "flat"  # perfectly monotone, but p > 0.05 with 4 points
    assert out.loc[0, "p_value"] > 0.05
    assert out[["slope_low", "slope_high"]].isna().all(axis=None)  # an interval needs 6


def test_sens_interval_is_given_from_six_periods():
    """With 5 weekly means the test is run but the interval is withheld (at strong
    autocorrelation no Sen interval from 5 points holds the slope 95% of the time:
    docs/statistics.md); from 6 it is Sen's interval, as computed plainly."""
    rng = np.random.default_rng(8)
    days = pd.date_range("2025-01-06", periods=6 * 7)  # a Monday: whole weeks
    ratings = pd.DataFrame({"participant_id": "a", "element": "focused", "date": days,
                            "rating": np.clip(np.rint(5 + 0.05 * np.arange(len(days))
                                                      + rng.normal(0, 1, len(days))), 1, 10)})
    five = element_trends(ratings.iloc[:5 * 7]).iloc[0]
    assert five["n_periods"] == 5 and five["direction"] != "insufficient"
    assert np.isfinite(five[["slope", "tau", "p_value", "q_value"]].to_numpy(dtype=float)).all()
    assert np.isnan(five["slope_low"]) and np.isnan(five["slope_high"])
    six = element_trends(ratings).iloc[0]
    ref = _reference_trend(ratings)
    assert six["n_periods"] == 6
    np.testing.assert_allclose(six[["slope", "slope_low", "slope_high"]].to_numpy(dtype=float),
                               [ref["slope"], ref["slope_low"], ref["slope_high"]], rtol=1e-9)
    assert six["slope_low"] <= six["slope"] <= six["slope_high"]


def test_nan_ratings_are_skipped_and_empty_input():
    ratings = pd.DataFrame({"participant_id": "a", "element": "focused",
                            "date": pd.date_range("2025-01-01", periods=3),
                            "rating": [4.0, np.nan, 6.0]})
    out = element_trajectories(ratings)
    np.testing.assert_allclose(out["rolling_mean"], [4, 4, 5])
    empty = ratings.iloc[0:0]
    assert element_trajectories(empty).empty
    assert list(element_trends(empty).columns)[-1] == "direction"
    only_nan = ratings.assign(rating=np.nan)
    t = element_trends(only_nan)
    assert t.loc[0, "n_periods"] == 0 and t.loc[0, "direction"] == "insufficient"


def test_missing_columns_and_bad_options_raise_mastery_errors():
    ratings = pd.DataFrame({"participant_id": ["a"], "date": ["2025-01-01"], "rating": [3]})
    with pytest.raises(AnalysisInputError, match="'element'"):
        element_trajectories(ratings)
    with pytest.raises(MasteryError, match="'element'"):
        element_trends(ratings)
    ok = ratings.assign(element="focused")
    assert element_trajectories(ok)["date"].iloc[0] == pd.Timestamp("2025-01-01")  # str dates
    with pytest.raises(AnalysisInputError, match="window"):
        element_trajectories(ok, window="36h")
    with pytest.raises(AnalysisInputError, match="freq"):
        element_trends(ok, freq="fortnightly")


def test_demo_ground_truth_trends_for_alex():
    from mastery_analysis import demo
    ratings = demo.demo_frames()["ratings"]
    alex = ratings[ratings["participant_id"] == "alex"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = element_trends(alex).set_index("element")["direction"].to_dict()
    assert got == demo.GROUND_TRUTH["alex"]["trends"]


def test_grouped_theilslopes_equals_scipy_with_ties_in_x_and_y():
    from mastery_analysis.analysis._grouped import grouped_theilslopes

    rng = np.random.default_rng(2)
    sizes = rng.integers(1, 30, 150)
    codes = np.repeat(np.arange(len(sizes)), sizes)
    x = np.concatenate([np.sort(rng.integers(0, 12, s)) for s in sizes]).astype(float)  # ties
    y = np.round(rng.normal(0, 1, len(x)) + 0.1 * x, 1)  # ties too
    out = grouped_theilslopes(codes, x, y, len(sizes))
    compared = 0
    for g, s in enumerate(sizes):
        sl = codes == g
        if len(np.unique(x[sl])) < 2:
            assert np.isnan(out["slope"][g])
            continue
        ts = stats.theilslopes(y[sl], x[sl])
        np.testing.assert_allclose([out["slope"][g], out["slope_low"][g], out["slope_high"][g]],
                                   [ts.slope, ts.low_slope, ts.high_slope], rtol=1e-12)
        compared += 1
    assert compared > 100


def test_non_integer_ratings_and_same_day_rows_equal_pandas():
    # a hand-built frame with fractional ratings takes the per-group float path
    rng = np.random.default_rng(4)
    dates = pd.to_datetime("2025-01-01") + pd.to_timedelta(
        np.sort(rng.choice(90, 60, replace=False)), unit="D")
    frames = [pd.DataFrame({"participant_id": pid, "element": "informed", "date": dates,
                            "rating": rng.uniform(1, 10, len(dates)) + 1e6 * (pid == "big")})
              for pid in ("a", "big", "c")]
    ratings = pd.concat(frames, ignore_index=True)
    out = element_trajectories(ratings, window="10D")
    for pid, g in ratings.groupby("participant_id"):
        s = g.set_index("date")["rating"]
        got = out[out["participant_id"] == pid]
        np.testing.assert_allclose(got["rolling_mean"], s.rolling("10D").mean(), rtol=1e-13)
        np.testing.assert_allclose(got["ewm"], s.ewm(halflife=pd.Timedelta("10D"),
                                                     times=s.index).mean(), rtol=1e-13)


# ---------------------------------------------------------------------------- wheel_values
def plain_wheel(traj, today):
    """Each person's baseline, now and vision per element, one group at a time."""
    out = {}
    for (p, e), g in traj.loc[traj["date"] <= pd.Timestamp(today)].groupby(["participant_id", "element"]):
        g = g.sort_values("date")
        now, vision = g["rolling_mean"].dropna(), g["vision"].dropna()
        out[(p, e)] = {
            "baseline": g.loc[g["date"] < g["date"].min() + pd.Timedelta(days=7), "rating"].mean(),
            "now": now.iloc[-1] if len(now) else np.nan,
            "vision": vision.iloc[-1] if len(vision) else np.nan,
        }
    return out


@pytest.mark.parametrize("today", [None, "2025-02-20"])
def test_wheel_values_per_participant_equal_a_plain_computation(today):
    traj = element_trajectories(gappy_ratings())
    before = traj.copy(deep=True)
    got = wheel_values(traj, today=today)
    pd.testing.assert_frame_equal(traj, before)  # the input is not modified
    assert list(got.columns) == ["participant_id", "element", "measure", "value", "n", "suppressed"]
    expected = plain_wheel(traj, today or traj["date"].max())
    keys = list(zip(got["participant_id"], got["element"]))
    assert sorted(set(keys)) == sorted(expected) and len(got) == 3 * len(expected)
    assert got["measure"].tolist() == ["baseline", "now", "vision"] * len(expected)
    want = [expected[k][m] for k, m in zip(keys, got["measure"])]
    np.testing.assert_allclose(got["value"].to_numpy(), want)
    assert (got["n"] == got["value"].notna().astype(int)).all() and not got["suppressed"].any()
    assert got[["participant_id", "element"]].apply(tuple, axis=1).is_monotonic_increasing


def test_wheel_values_cohort_medians_suppress_each_element_and_measure_below_min_n():
    ratings = gappy_ratings()
    # visions of only three people for 'proactive': its vision median is suppressed, the rest not
    ratings = ratings.loc[~((ratings["kind"] == "vision") & (ratings["element"] == "proactive")
                            & ratings["participant_id"].isin(["p0", "p1", "p3"]))]
    traj = element_trajectories(ratings)
    today = "2025-03-31"
    got = wheel_values(traj, by="cohort", today=today)
    assert list(got.columns) == ["element", "measure", "value", "n", "n_people", "suppressed"]
    per = plain_wheel(traj, today)
    assert (got["n_people"] == len({p for p, _ in per})).all()
    for row in got.itertuples(index=False):
        values = [v[row.measure] for (p, e), v in per.items() if e == row.element]
        values = [v for v in values if not np.isnan(v)]
        assert row.n == len(values), (row.element, row.measure)
        assert row.suppressed == (len(values) < 5)
        if row.suppressed:
            assert np.isnan(row.value)
        else:
            assert row.value == pytest.approx(np.median(values))
    small = got.set_index(["element", "measure"])["suppressed"]
    assert small["proactive", "vision"] and not small["proactive", "now"]
    assert small["focused", "now"] and small["potential", "baseline"]  # 4 and 2 people rate them
    assert not small["connect"].any()
    # min_n is an option; with 2 every element is shown
    assert not wheel_values(traj, by="cohort", today=today, min_n=2)["suppressed"].any()


def test_wheel_values_today_defaults_to_the_last_date_and_edge_cases():
    traj = element_trajectories(gappy_ratings())
    last = traj["date"].max()
    pd.testing.assert_frame_equal(wheel_values(traj), wheel_values(traj, today=last))
    for by in ("participant", "cohort"):
        empty = wheel_values(traj, today="2024-01-01", by=by)
        assert empty.empty and "measure" in empty.columns
        assert wheel_values(traj.iloc[0:0], by=by).empty
    no_vision = wheel_values(traj.drop(columns=["vision", "gap", "ewm"]))
    assert no_vision.loc[no_vision["measure"] == "vision", "value"].isna().all()
    with pytest.raises(AnalysisInputError, match="rolling_mean"):
        wheel_values(traj.drop(columns=["rolling_mean"]))
    with pytest.raises(AnalysisInputError, match="by="):
        wheel_values(traj, by="element")
    with pytest.raises(AnalysisInputError, match="min_n"):
        wheel_values(traj, min_n=0)
    with pytest.raises(AnalysisInputError, match="today"):
        wheel_values(traj, today="not a day")


@pytest.mark.parametrize("freq", ["W", "14D", "MS"])
def test_blocks_of_participants_give_the_whole_calls_result(monkeypatch, freq):
    """Large frames are analysed in blocks of whole participants (_grouped.BLOCK_ROWS); with
    blocks of a few dozen rows the result is the one-block result, bit for bit, whatever the
    row order, the index, same-day rows, NaN ratings, a missing date's message, or people who
    start on different days (fixed-length periods still start at the call's first day)."""
    from mastery_analysis.analysis import _grouped

    ratings = gappy_ratings(seed=3, people=9, days=150)
    late = ratings["participant_id"].isin(["p4", "p7"])
    ratings.loc[late, "date"] += pd.Timedelta(days=9)  # blocks with another first day
    ratings.loc[[5, 17], "rating"] = np.nan
    ratings = pd.concat([ratings, ratings.iloc[:40]], ignore_index=True)  # same-day rows
    ratings.index = ratings.index * 3 + 11  # labels that are not positions
    whole_traj = element_trajectories(ratings, window="5D", halflife="3D")
    whole_trend = element_trends(ratings, freq=freq)
    for rows in (60, 700):  # a block per person; two or three people a block
        monkeypatch.setattr(_grouped, "BLOCK_ROWS", rows)
        monkeypatch.setenv("MASTERY_THREADS", "1" if rows < 100 else "3")  # in order either way
        pd.testing.assert_frame_equal(element_trajectories(ratings, window="5D", halflife="3D"),
                                      whole_traj, check_exact=True)
        pd.testing.assert_frame_equal(element_trends(ratings, freq=freq), whole_trend,
                                      check_exact=True)
    broken = ratings.copy()
    label = broken.index[broken["participant_id"].eq("p8")][3]
    broken.loc[label, "date"] = pd.NaT
    with pytest.raises(AnalysisInputError, match=f"index label {label}"):
        element_trajectories(broken)
    with pytest.raises(AnalysisInputError, match=f"index label {label}"):
        element_trends(broken)


def test_a_bad_thread_count_is_named(monkeypatch):
    from mastery_analysis.analysis import _grouped

    monkeypatch.setattr(_grouped, "BLOCK_ROWS", 100)
    monkeypatch.setenv("MASTERY_THREADS", "many")
    with pytest.raises(AnalysisInputError, match="MASTERY_THREADS='many'"):
        element_trajectories(gappy_ratings())


def test_one_thread_per_call_holds_only_for_the_calling_thread(monkeypatch):
    """Dask runs a task per worker thread: inside one_thread_per_call that thread's analyses
    keep their blocks on it, while other threads still follow MASTERY_THREADS."""
    import threading

    from mastery_analysis.analysis import _grouped

    monkeypatch.setenv("MASTERY_THREADS", "3")
    seen = {}
    with _grouped.one_thread_per_call():
        seen["inside"] = _grouped.block_workers()
        other = threading.Thread(target=lambda: seen.update(other=_grouped.block_workers()))
        other.start()
        other.join()
    seen["after"] = _grouped.block_workers()
    assert seen == {"inside": 1, "other": 3, "after": 3}
