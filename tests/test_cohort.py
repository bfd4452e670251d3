"""Cohort statistics against published values, pingouin and scipy, element by element."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg  # a test oracle only; the package never imports it
import pytest
from scipy import stats

from mastery_analysis.analysis.cohort import (CHANGE_COLUMNS, RM_COLUMNS, WEEKLY_COLUMNS, cohort_change,
                                              person_slopes, reliability, rm_corr, score_responses,
                                              weekly_action_ratings)
from mastery_analysis.errors import AnalysisInputError
from mastery_analysis.framework import load_framework


FIXTURES = Path(__file__).parent / "fixtures"
# pingouin (the oracle, not our code) still calls rename(inplace=True) under pandas 3
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:Warning")


@pytest.fixture(scope="module")
def demo():
    from mastery_analysis.demo import demo_frames

    return demo_frames()


# --------------------------------------------------------------------------- rm_corr
def test_rm_corr_equals_bland_altman_and_pingouin():
    data = pd.read_csv(FIXTURES / "rm_corr_bland_altman.csv")
    res = rm_corr(data, x="pH", y="PacO2", subject="Subject")
    assert list(res.columns) == RM_COLUMNS and len(res) == 1
    row = res.iloc[0]
    assert round(row["r"], 3) == -0.507  # Bland & Altman (1995); Bakdash & Marusich (2017)
    assert row["dof"] == 38
    assert row["n_subjects"] == 8 and row["n_obs"] == 47
    ref = pg.rm_corr(data=data, x="pH", y="PacO2", subject="Subject")
    assert row["r"] == pytest.approx(ref["r"].iloc[0], abs=1e-12)
    assert row["dof"] == ref["dof"].iloc[0]
    assert row["p_value"] == pytest.approx(ref["pval"].iloc[0], rel=1e-9)
    lo, hi = ref["CI95"].iloc[0]
    assert row["ci_low"] == pytest.approx(lo, abs=0.005)  # pingouin rounds its interval
    assert row["ci_high"] == pytest.approx(hi, abs=0.005)


def test_rm_corr_differs_from_the_pooled_correlation_on_the_demo_cohort(demo):
    """GROUND_TRUTH: within each person, weeks with more actions have higher proactive ratings."""
    from mastery_analysis.demo import COHORT, GROUND_TRUTH

    ratings, actions = demo["ratings"], demo["actions"]
    ids = demo["participants"].query("cohort == @COHORT")["participant_id"]
    r = ratings[ratings["participant_id"].isin(ids) & (ratings["element"] == "proactive")]
    a = actions[actions["participant_id"].isin(ids)]
    week = lambda d: (d - pd.Timestamp("2026-03-02")).dt.days // 7  # noqa: E731
    weekly = a.assign(week=week(a["date"])).groupby(["participant_id", "week"], as_index=False)["count"].sum()
    rated = r.assign(week=week(r["date"]))[["participant_id", "week", "rating"]]
    both = weekly.merge(rated, on=["participant_id", "week"])
    res = rm_corr(both, x="count", y="rating", subject="participant_id").iloc[0]
    ref = pg.rm_corr(data=both, x="count", y="rating", subject="participant_id")
    assert res["r"] == pytest.approx(ref["r"].iloc[0], abs=1e-12)
    assert GROUND_TRUTH[COHORT]["rm_corr"]["direction"] == "positive"
    assert res["r"] > 0 and res["p_value"] < 0.05
    pooled = stats.pearsonr(both["count"], both["rating"]).statistic
    assert pooled < res["r"]  # busier people start lower: pooling hides the relation


def test_rm_corr_common_slope_is_the_ancova_coefficient():
    import statsmodels.formula.api as smf
    data = pd.read_csv(FIXTURES / "rm_corr_bland_altman.csv")
    row = rm_corr(data, x="pH", y="PacO2", subject="Subject").iloc[0]
    fit = smf.ols("PacO2 ~ C(Subject) + pH", data=data).fit()
    assert row["slope"] == pytest.approx(fit.params["pH"], rel=1e-9)
    lo, hi = fit.conf_int().loc["pH"]
    assert row["slope_low"] == pytest.approx(lo, rel=1e-9)
    assert row["slope_high"] == pytest.approx(hi, rel=1e-9)
    assert fit.df_resid == row["dof"]


@pytest.fixture(scope="module")
def cohort_pairs(demo):
    from mastery_analysis.demo import COHORT

    ids = demo["participants"].query("cohort == @COHORT")["participant_id"]
    ratings = demo["ratings"].loc[demo["ratings"]["participant_id"].isin(ids)]
    actions = demo["actions"].loc[demo["actions"]["participant_id"].isin(ids)]
    return weekly_action_ratings(actions, ratings)


def test_demo_ground_truth_rmcorr_is_positive_while_the_pooled_correlation_misleads(cohort_pairs):
    """GROUND_TRUTH: within each person, weeks with more actions have higher proactive ratings;
    people who act more start lower, so the correlation pooled across people is weaker (here
    even negative). That is why the cohort view uses rmcorr."""
    from mastery_analysis.demo import COHORT, GROUND_TRUTH

    truth = GROUND_TRUTH[COHORT]["rm_corr"]
    assert truth["direction"] == "positive" and truth["y"] == "proactive rating"
    assert set(cohort_pairs["element"]) == {"proactive"}
    res = rm_corr(cohort_pairs, x="actions", y="rating", subject="participant_id").iloc[0]
    assert res["n_subjects"] == 24
    assert res["r"] > 0.2 and res["p_value"] < 0.001 and res["ci_low"] > 0
    assert 0.15 < res["slope"] < 0.35  # the demo plants 0.25 rating points per weekly action
    ref = pg.rm_corr(data=cohort_pairs, x="actions", y="rating", subject="participant_id")
    assert res["r"] == pytest.approx(ref["r"].iloc[0], abs=1e-12)
    pooled = stats.pearsonr(cohort_pairs["actions"], cohort_pairs["rating"]).statistic
    assert pooled < res["r"] - 0.2 and pooled < 0.1
    # most people's own slope points the same way as the pooled within-person slope
    slopes = person_slopes(cohort_pairs, x="actions", y="rating", subject="participant_id")
    assert (slopes["slope"] > 0).mean() > 0.75


def test_weekly_action_ratings_pairs_each_check_in_week_with_that_weeks_actions():
    ratings = pd.DataFrame({
        "participant_id": ["a", "a", "a", "a", "a", "a", "b"],
        "date": pd.to_datetime(["2026-03-02", "2026-03-04", "2026-03-04", "2026-03-17", "2026-03-10",
                                "2026-03-03", "2026-03-08"]),
        "element": ["proactive", "proactive", "connect", "proactive", "proactive", "proactive", "proactive"],
        "rating": [4, 6, 9, 5, 7, 10, 3],
        "kind": ["current", "current", "current", "current", "current", "vision", "current"]})
    actions = pd.DataFrame({
        "participant_id": ["a", "a", "a", "a", "b", "b"],
        "date": pd.to_datetime(["2026-03-01", "2026-03-02", "2026-03-08", "2026-03-24", "2026-03-02",
                                "2026-03-09"]),
        "goal_id": ["g1", "g1", "g2", "g1", "g3", "g3"], "count": [5, 1, 2, 7, 3, 4]})
    before = (ratings.copy(), actions.copy())
    out = weekly_action_ratings(actions, ratings)
    pd.testing.assert_frame_equal(ratings, before[0])
    pd.testing.assert_frame_equal(actions, before[1])
    assert list(out.columns) == WEEKLY_COLUMNS
    expected = pd.DataFrame({
        "participant_id": ["a", "a", "a", "b"], "element": "proactive",
        "week": pd.to_datetime(["2026-03-02", "2026-03-09", "2026-03-16", "2026-03-02"]),
        # a, week of Mar 2: Mar 2 (1) + Mar 8 (2); Mar 1 is the week before (no check-in: dropped).
        # a, weeks of Mar 9 and Mar 16: a check-in but nothing logged, so 0; the week of Mar 23
        # has actions but no check-in, so no pair. The vision rating and connect are left out.
        "actions": [3.0, 0.0, 0.0, 3.0],
        "rating": [5.0, 7.0, 5.0, 3.0]})
    pd.testing.assert_frame_equal(out, expected, check_dtype=False)
    assert out["week"].dtype == "datetime64[ns]"
    both = weekly_action_ratings(actions, ratings, element=None)
    assert sorted(set(both["element"])) == ["connect", "proactive"]
    assert both.loc[both["element"] == "connect", "rating"].tolist() == [9.0]
    monthly = weekly_action_ratings(actions, ratings, freq="M")
    assert monthly.loc[monthly["participant_id"] == "a", "actions"].tolist() == [15.0]  # all of March
    with pytest.raises(AnalysisInputError, match="freq='fortnight'"):
        weekly_action_ratings(actions, ratings, freq="fortnight")
    with pytest.raises(AnalysisInputError, match="'count'"):
        weekly_action_ratings(actions.drop(columns="count"), ratings)


def test_person_slopes_equal_linregress_per_person(cohort_pairs):
    rng = np.random.default_rng(7)
    frames = [cohort_pairs.assign(source="demo")]
    for k in range(30):
        n = int(rng.integers(3, 40))
        x = rng.normal(size=n) * rng.uniform(0.1, 5)
        frames.append(pd.DataFrame({"participant_id": f"r{k:02d}", "element": rng.choice(["p", "q"], n),
                                    "actions": x, "rating": 2 * x + rng.normal(size=n), "source": "random"}))
    data = pd.concat(frames, ignore_index=True)
    for by in (None, "element"):
        out = person_slopes(data, x="actions", y="rating", subject="participant_id", by=by)
        keys = ["participant_id"] if by is None else ["element", "participant_id"]
        assert list(out.columns) == [*keys, "n", "slope", "ci_low", "ci_high", "r"]
        assert out["n"].dtype == np.int64
        assert len(out) == len(data.groupby(keys))
        checked = 0
        for row, (key, rows) in zip(out.itertuples(index=False), data.groupby(keys, sort=True)):
            assert tuple(getattr(row, k) for k in keys) == (key if isinstance(key, tuple) else (key,))
            assert row.n == len(rows)
            if len(rows) < 3 or rows["actions"].nunique() < 2:
                continue
            ref = stats.linregress(rows["actions"], rows["rating"])
            crit = stats.t.ppf(0.975, len(rows) - 2)
            assert row.slope == pytest.approx(ref.slope, rel=1e-9, abs=1e-12)
            assert row.r == pytest.approx(ref.rvalue, rel=1e-9, abs=1e-12)
            assert row.ci_low == pytest.approx(ref.slope - crit * ref.stderr, rel=1e-9, abs=1e-12)
            assert row.ci_high == pytest.approx(ref.slope + crit * ref.stderr, rel=1e-9, abs=1e-12)
            checked += 1
        assert checked > 40


def test_person_slopes_degenerate_groups_give_nan_not_errors():
    data = pd.DataFrame({"s": ["one", "two", "two", "flat", "flat", "flat", "ok", "ok", "ok", "gap"],
                         "x": [1.0, 1, 2, 3, 3, 3, 1, 2, 3, np.nan],
                         "y": [1.0, 2, 4, 1, 2, 3, 5, 5, 5, 1]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = person_slopes(data, x="x", y="y", subject="s").set_index("s")
    assert set(out.index) == {"one", "two", "flat", "ok"}  # a row without x is dropped
    assert np.isnan(out.loc["one", "slope"])
    assert out.loc["two", "slope"] == 2.0 and np.isnan(out.loc["two", "ci_low"])
    assert np.isnan(out.loc["flat", "slope"]) and np.isnan(out.loc["flat", "r"])
    assert out.loc["ok", "slope"] == 0.0 and np.isnan(out.loc["ok", "r"])  # y never varies
    assert out.loc["ok", "ci_low"] == 0.0 == out.loc["ok", "ci_high"]
    empty = person_slopes(data.iloc[0:0], x="x", y="y", subject="s")
    assert empty.empty and list(empty.columns) == ["s", "n", "slope", "ci_low", "ci_high", "r"]
    with pytest.raises(AnalysisInputError, match="'subject'"):
        person_slopes(data, x="x", y="y", subject="subject")


def test_rm_corr_degenerate_inputs_give_nan_not_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        two = pd.DataFrame({"s": [1, 1, 2, 2], "x": [1.0, 2, 3, 4], "y": [1.0, 3, 2, 5]})
        res = rm_corr(two, x="x", y="y", subject="s").iloc[0]
        assert np.isnan(res["r"]) and res["n_subjects"] == 2
        flat = pd.DataFrame({"s": [1, 1, 2, 2, 3, 3], "x": [1.0, 1, 2, 2, 3, 3], "y": [1.0, 2, 3, 4, 5, 6]})
        assert np.isnan(rm_corr(flat, x="x", y="y", subject="s").iloc[0]["r"])
        empty = rm_corr(flat.iloc[0:0], x="x", y="y", subject="s").iloc[0]
        assert empty["n_obs"] == 0 and np.isnan(empty["p_value"])
    with pytest.raises(AnalysisInputError, match="'Subject'"):
        rm_corr(flat, x="x", y="y", subject="Subject")


# --------------------------------------------------------------------------- scoring
def test_score_responses_means_items_with_reverse_coding():
    fw = load_framework()
    items = fw.questionnaire.items_for("proactive")
    values = {items[0].id: 4, items[1].id: 5, items[2].id: 2}  # the third is reverse-coded
    resp = pd.DataFrame({"participant_id": "p1", "date": pd.Timestamp("2026-03-02"), "phase": "baseline",
                         "instrument": fw.questionnaire.instrument, "item": list(values),
                         "value": [float(v) for v in values.values()]})
    other = resp.assign(instrument="another_instrument", item="zz9")
    out = score_responses(pd.concat([resp, other], ignore_index=True), fw)
    assert list(out.columns) == ["participant_id", "date", "phase", "element", "score", "n_items"]
    assert len(out) == 1
    assert out["score"].iloc[0] == pytest.approx((4 + 5 + (1 + 5 - 2)) / 3)
    assert out["n_items"].iloc[0] == 3
    with pytest.raises(AnalysisInputError, match="zz9"):
        score_responses(other.assign(instrument=fw.questionnaire.instrument), fw)
    with pytest.raises(AnalysisInputError, match="'phase'"):
        score_responses(resp.drop(columns="phase"), fw)


def test_cronbach_alpha_equals_pingouin_per_element(demo):
    fw = load_framework()
    resp = demo["responses"]
    rel = reliability(resp, fw, phase="baseline")
    assert list(rel.columns) == ["element", "n", "n_items", "alpha", "ci_low", "ci_high"]
    base = resp[resp["phase"] == "baseline"]
    for row in rel.itertuples():
        items = fw.questionnaire.items_for(row.element)
        wide = base.pivot(index="participant_id", columns="item", values="value")[[i.id for i in items]]
        for i in items:
            if i.reverse:
                wide[i.id] = 1 + 5 - wide[i.id]
        alpha, ci = pg.cronbach_alpha(data=wide)
        assert row.alpha == pytest.approx(alpha, abs=1e-12)
        assert (row.ci_low, row.ci_high) == pytest.approx(tuple(ci), abs=0.0005 + 1e-12)
        assert row.n == 24 and row.n_items == 3


def test_cronbach_alpha_listwise_with_missing_items():
    fw = load_framework()
    rng = np.random.default_rng(2)
    items = [i for i in fw.questionnaire.items_for("focused")]
    latent = rng.normal(3, 1, 40)
    rows = []
    for p in range(40):
        for it in items:
            if (p + len(it.id)) % 13 == 0 and it.id == "foc2":
                continue  # missing answer
            v = np.clip(np.rint(latent[p] + rng.normal(0, 0.8)), 1, 5)
            rows.append({"participant_id": f"p{p}", "date": "2026-01-05", "item": it.id,
                         "value": 6 - v if it.reverse else v})
    resp = pd.DataFrame(rows)
    rel = reliability(resp, fw).set_index("element")
    wide = resp.pivot(index="participant_id", columns="item", values="value")[[i.id for i in items]]
    wide["foc3"] = 6 - wide["foc3"]
    alpha, ci = pg.cronbach_alpha(data=wide, nan_policy="listwise")
    assert rel.at["focused", "alpha"] == pytest.approx(alpha, abs=1e-12)
    assert rel.at["focused", "n"] == wide.dropna().shape[0] < 40
    assert rel.at["proactive", "n"] == 0 and np.isnan(rel.at["proactive", "alpha"])


# --------------------------------------------------------------------------- cohort change
def test_cohort_change_equals_scipy_and_pingouin_per_element(demo):
    fw = load_framework()
    scores = score_responses(demo["responses"], fw)
    rel = reliability(demo["responses"], fw, phase="baseline")
    res = cohort_change(scores, framework=fw, reliability=rel)
    assert list(res.columns) == CHANGE_COLUMNS
    assert list(res["element"]) == fw.keys
    for row in res.itertuples():
        s = scores[scores["element"] == row.element]
        wide = s.pivot(index="participant_id", columns="phase", values="score").dropna()
        pre, post = wide["baseline"].to_numpy(), wide["post"].to_numpy()
        tt = stats.ttest_rel(post, pre)
        assert row.n == len(pre) == 24
        assert row.t == pytest.approx(tt.statistic, rel=1e-10)
        assert row.p_value == pytest.approx(tt.pvalue, rel=1e-9)
        ci = tt.confidence_interval(0.95)
        assert (row.ci_low, row.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
        assert row.d_z == pytest.approx(pg.compute_effsize(post, pre, paired=True, eftype="cohen_dz"), rel=1e-10)
        assert row.hedges_g == pytest.approx(pg.compute_effsize(post, pre, paired=True, eftype="hedges"),
                                             rel=1e-10)
        # Jacobson-Truax by hand
        a = rel.set_index("element").at[row.element, "alpha"]
        se_diff = pre.std(ddof=1) * np.sqrt(2) * np.sqrt(1 - a)
        rci = (post - pre) / se_diff
        assert row.n_reliable_improved == (rci > 1.96).sum()
        assert row.n_reliable_declined == (rci < -1.96).sum()
        assert row.reliability == a and row.reliability_source == "given"
    q = stats.false_discovery_control(res["p_value"].to_numpy())
    np.testing.assert_allclose(res["q_value"], q)
    from mastery_analysis.demo import COHORT, GROUND_TRUTH

    truth = GROUND_TRUTH[COHORT]
    by = res.set_index("element")
    assert (by.loc[truth["improved"], "q_value"] < 0.05).all()
    assert (by.loc[truth["improved"], "mean_diff"] > 0).all()
    assert (by.loc[truth["unchanged"], "q_value"] >= 0.05).all()


def test_cohort_change_reliability_sources_and_ratings_input():
    rng = np.random.default_rng(4)
    n = 12
    pre = rng.normal(5, 1, n)
    post = pre + rng.normal(1.0, 0.8, n)
    ratings = pd.DataFrame({
        "participant_id": [f"p{i}" for i in range(n)] * 2,
        "phase": ["baseline"] * n + ["post"] * n, "element": "proactive",
        "rating": np.r_[pre, post], "kind": "current"})
    vision = ratings.assign(kind="vision", rating=10.0)
    both = pd.concat([ratings, vision], ignore_index=True)
    fw_res = cohort_change(both).set_index("element")  # framework reliability 0.80
    dict_res = cohort_change(both, reliability={"proactive": 0.80}).set_index("element")
    assert fw_res.at["proactive", "mean_post"] == pytest.approx(post.mean())  # vision ignored
    assert fw_res.at["proactive", "n_reliable_improved"] == dict_res.at["proactive", "n_reliable_improved"]
    se = pre.std(ddof=1) * np.sqrt(2) * np.sqrt(0.2)
    assert fw_res.at["proactive", "n_reliable_improved"] == ((post - pre) / se > 1.96).sum()
    loose = cohort_change(both, reliability={"proactive": 0.3}).set_index("element")
    assert loose.at["proactive", "n_reliable_improved"] <= fw_res.at["proactive", "n_reliable_improved"]
    assert (fw_res.at["proactive", "reliability"], fw_res.at["proactive", "reliability_source"]) == (
        0.80, "assumed")
    assert dict_res.at["proactive", "reliability_source"] == "given"
    assert loose.at["proactive", "reliability"] == 0.3
    inputs = both.copy()
    cohort_change(both)
    pd.testing.assert_frame_equal(both, inputs)


def test_cohort_change_uses_the_measured_baseline_reliability_and_says_where_it_came_from(demo):
    from mastery_analysis.analysis.reliability import scale_reliability

    fw = load_framework()
    resp = demo["responses"]
    scores = score_responses(resp, fw)
    rel = scale_reliability(resp, framework=fw)  # every phase: the baseline rows are chosen
    res = cohort_change(scores, framework=fw, reliability=rel).set_index("element")
    base = rel[rel["phase"] == "baseline"].set_index("scale")
    for element in fw.keys:
        assert res.at[element, "reliability"] == base.at[element, "alpha"]
        assert res.at[element, "reliability_source"] == "measured"
        s = scores[scores["element"] == element].pivot(index="participant_id", columns="phase", values="score")
        se = s["baseline"].std(ddof=1) * np.sqrt(2) * np.sqrt(1 - base.at[element, "alpha"])
        assert res.at[element, "n_reliable_improved"] == ((s["post"] - s["baseline"]) / se > 1.96).sum()
    # a scale whose reliability is unknown ("none") falls to the framework's assumed value
    unknown = rel.assign(reliability=np.nan, source="none")
    res = cohort_change(scores, framework=fw, reliability=unknown)
    assert set(res["reliability_source"]) == {"assumed"} and (res["reliability"] == 0.80).all()
    with pytest.raises(AnalysisInputError, match="'scale'"):
        cohort_change(scores, framework=fw, reliability=rel.drop(columns="scale"))


def test_cohort_change_suppresses_small_groups_and_survives_edges():
    ratings = pd.DataFrame({"participant_id": ["a", "b", "c", "a", "b", "c"],
                            "phase": ["baseline"] * 3 + ["post"] * 3, "element": "connect",
                            "score": [3.0, 4, 5, 4, 5, 6]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = cohort_change(ratings).set_index("element")
        assert res.at["connect", "n"] == 3 and res.at["connect", "suppressed"]
        assert res.loc["connect", ["mean_pre", "mean_diff", "t", "p_value", "d_z", "hedges_g"]].isna().all()
        assert pd.isna(res.at["connect", "n_reliable_improved"])
        shown = cohort_change(ratings, min_n=3).set_index("element")
        assert shown.at["connect", "mean_diff"] == 1.0
        assert np.isnan(shown.at["connect", "t"])  # all differences equal: no test
        assert not shown.at["connect", "suppressed"]
        only_pre = cohort_change(ratings[ratings["phase"] == "baseline"], min_n=1)
        assert (only_pre["n"] == 0).all() and only_pre["mean_diff"].isna().all()
    with pytest.raises(AnalysisInputError, match="'score'"):
        cohort_change(ratings.drop(columns="score"))
