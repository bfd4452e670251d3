"""Cohort statistics against published values, pingouin and scipy, element by element."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mastery_analysis.analysis.cohort import (CHANGE_COLUMNS, RM_COLUMNS, cohort_change,
                                              reliability, rm_corr, score_responses)
from mastery_analysis.errors import AnalysisInputError
from mastery_analysis.framework import load_framework

pg = pytest.importorskip("pingouin")  # a test oracle only; the package never imports it
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
    inputs = both.copy()
    cohort_change(both)
    pd.testing.assert_frame_equal(both, inputs)


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
