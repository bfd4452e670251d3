"""Scale reliability against pingouin, published anchors and planted faults."""

import numpy as np
import pandas as pd
import pingouin as pg  # a test oracle only; the package never imports it
import pytest

from mastery_analysis.analysis.reliability import (ITEM_COLUMNS, MIN_MEASURED_N, MIN_RELIABILITY_N, RELIABILITY_COLUMNS,
                                                   item_statistics, omega_total, scale_reliability)
from mastery_analysis.errors import AnalysisInputError
from mastery_analysis.framework import Item, Questionnaire, Scale, ScaleScore, load_framework

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:Warning")


def _one_scale(items, lo, hi, *, reverse=(), reliability=None, validated=False):
    return Questionnaire("q", "test scale", Scale(lo, hi), tuple(Item(c, "", c, c in reverse) for c in items),
                         scales=(ScaleScore("all", "all", tuple(items), reliability=reliability,
                                            reliability_source="test" if reliability else ""),),
                         validated=validated)


def _long(wide: pd.DataFrame) -> pd.DataFrame:
    out = wide.reset_index(names="participant_id").melt(id_vars="participant_id", var_name="item")
    return out.dropna().assign(instrument="q")


def test_alpha_and_feldt_interval_equal_pingouin_on_its_cronbach_alpha_data():
    """pingouin's documented example: alpha 0.5917, 95% CI 0.195 to 0.840 (Feldt)."""
    data = pg.read_dataset("cronbach_alpha")
    long = data.rename(columns={"Subj": "participant_id", "Items": "item", "Scores": "value"})
    q = _one_scale(sorted(long["item"].unique()), 0, 10)
    res = scale_reliability(long.assign(instrument="q"), instruments=[q])
    assert list(res.columns) == RELIABILITY_COLUMNS
    row = res.iloc[0]
    assert round(row["alpha"], 4) == 0.5917
    assert (round(row["alpha_ci_low"], 3), round(row["alpha_ci_high"], 3)) == (0.195, 0.840)
    alpha, ci = pg.cronbach_alpha(data=data, items="Items", scores="Scores", subject="Subj")
    assert row["alpha"] == pytest.approx(alpha, abs=1e-12)
    assert (row["alpha_ci_low"], row["alpha_ci_high"]) == pytest.approx(tuple(ci), abs=0.0005)
    assert row["n"] == row["n_answered"] == 15 and row["n_items"] == 10


@pytest.mark.parametrize("policy, anchor", [("pairwise", 0.7327), ("listwise", 0.8017)])
def test_alpha_with_missing_answers_equals_pingouin(policy, anchor):
    """pingouin's cronbach_wide_missing: 0.7327 pairwise, 0.8017 listwise (its documentation)."""
    wide = pg.read_dataset("cronbach_wide_missing")
    q = _one_scale(list(wide.columns), 0, 1)
    row = scale_reliability(_long(wide), instruments=[q], nan_policy=policy).iloc[0]
    alpha, ci = pg.cronbach_alpha(data=wide, nan_policy=policy)
    assert round(row["alpha"], 4) == anchor
    assert row["alpha"] == pytest.approx(alpha, abs=1e-12)
    assert (row["alpha_ci_low"], row["alpha_ci_high"]) == pytest.approx(tuple(ci), abs=0.0005)
    assert row["n"] == len(wide.dropna()) == 9 and row["n_answered"] == len(wide) == 12


# The bfi agreeableness anchor (psych::alpha raw alpha 0.70 on 2,800 people) is not tested:
# no package installable here ships the bfi data set (pingouin's datasets do not include it,
# nor does factor_analyzer's wheel), and tests may not download it.

#: Revelle, "An introduction to psychometric theory with applications in R", chapter 7,
#: Table 7.5 (personality-project.org/r/book/Chapter7.pdf), as typed into reliabiliPy's
#: tests/test_reliabili.py (test_case_revelle_chapter7): a general factor and three groups.
REVELLE_7_5 = np.full((12, 12), 0.2)
REVELLE_7_5[:6, :6] = 0.5
REVELLE_7_5[6:10, 6:10] = 0.6
REVELLE_7_5[10:, 10:] = 0.7
np.fill_diagonal(REVELLE_7_5, 1.0)


def test_omega_total_and_alpha_on_revelle_table_7_5():
    # psych::omega (general factor + 3 groups) gives omega total 0.9023 and alpha 0.8448
    assert omega_total(REVELLE_7_5, n_factors=3) == pytest.approx(0.902255, abs=5e-5)
    k = 12
    alpha = k / (k - 1) * (1 - k / REVELLE_7_5.sum())  # standardized alpha from the matrix
    assert alpha == pytest.approx(0.844839, abs=5e-6)
    # one factor cannot hold the three groups: less of the variance counts as common
    assert omega_total(REVELLE_7_5) < omega_total(REVELLE_7_5, n_factors=3)


def test_one_factor_omega_equals_the_congeneric_formula():
    lam = np.array([0.8, 0.7, 0.6, 0.5, 0.4])
    corr = np.outer(lam, lam)
    np.fill_diagonal(corr, 1.0)
    truth = lam.sum() ** 2 / (lam.sum() ** 2 + (1 - lam ** 2).sum())
    assert omega_total(corr) == pytest.approx(truth, abs=1e-6)
    assert np.isnan(omega_total(corr[:2, :2]))


def _simulated(n, loadings, *, seed, reverse=(), miskey=()):
    """Answers 1-5 from a one-factor model; ``reverse`` items are asked reversed."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    rows = []
    for j, lam in enumerate(loadings):
        item = f"i{j + 1}"
        x = lam * latent + np.sqrt(1 - lam ** 2) * rng.normal(size=n)
        v = np.clip(np.rint(3 + 1.2 * x), 1, 5)
        if item in reverse:
            v = 6 - v
        rows.append(pd.DataFrame({"participant_id": [f"p{i}" for i in range(n)], "item": item, "value": v}))
    return pd.concat(rows, ignore_index=True).assign(instrument="q", phase="baseline", date="2026-01-05")


def test_a_wrongly_keyed_reverse_item_is_caught():
    loadings = [0.7, 0.7, 0.6, 0.6, 0.5]
    answers = _simulated(200, loadings, seed=3, reverse=("i3",))
    right = _one_scale([f"i{j + 1}" for j in range(5)], 1, 5, reverse=("i3",))
    wrong = _one_scale([f"i{j + 1}" for j in range(5)], 1, 5)  # planted: i3 not marked reverse
    good = scale_reliability(answers, instruments=[right]).iloc[0]
    bad = scale_reliability(answers, instruments=[wrong]).iloc[0]
    assert bad["alpha"] < good["alpha"] - 0.2
    items = item_statistics(answers, instruments=[wrong]).set_index("item")
    assert list(item_statistics(answers, instruments=[wrong]).columns) == ITEM_COLUMNS
    assert items.at["i3", "item_total_r"] < 0 and items.at["i3", "flag"] == "negative"
    assert items.at["i3", "alpha_if_dropped"] > bad["alpha"]
    assert (items.drop(index="i3")["flag"] == "").all()
    fixed = item_statistics(answers, instruments=[right]).set_index("item")
    assert (fixed["flag"] == "").all() and bool(fixed.at["i3", "reverse"])


def test_item_statistics_equal_pingouin_alpha_without_the_item():
    wide = pg.read_dataset("cronbach_wide_missing")
    q = _one_scale(list(wide.columns), 0, 1)
    items = item_statistics(_long(wide), instruments=[q]).set_index("item")
    for col in wide.columns:
        alpha, _ = pg.cronbach_alpha(data=wide.drop(columns=col))
        assert items.at[col, "alpha_if_dropped"] == pytest.approx(alpha, abs=1e-12)
        complete = wide.dropna()
        r = np.corrcoef(complete[col], complete.drop(columns=col).sum(axis=1))[0, 1]
        assert items.at[col, "item_total_r"] == pytest.approx(r, abs=1e-12)


def test_few_people_fall_back_to_the_published_or_assumed_value_and_say_so():
    loadings = [0.7, 0.6, 0.6]
    few = _simulated(MIN_RELIABILITY_N - 1, loadings, seed=5)
    enough = _simulated(MIN_RELIABILITY_N, loadings, seed=5)
    very_few = _simulated(MIN_MEASURED_N - 1, loadings, seed=5)
    items = ["i1", "i2", "i3"]
    published = _one_scale(items, 1, 5, reliability=0.81, validated=True)
    assumed = _one_scale(items, 1, 5, reliability=0.80)
    bare = _one_scale(items, 1, 5)
    # under 30: a validated instrument's published value
    row = scale_reliability(few, instruments=[published]).iloc[0]
    assert (row["source"], row["reliability"]) == ("published", 0.81)
    assert f"only {MIN_RELIABILITY_N - 1} complete responses" in row["note"]
    assert np.isfinite(row["alpha"])  # still shown, not used
    # under 30 with only an assumed value: the cohort's own alpha, said so
    row = scale_reliability(few, instruments=[assumed]).iloc[0]
    assert (row["source"], row["reliability"]) == ("measured", row["alpha"])
    assert "no published value" in row["note"] and "0.80" in row["note"]
    # under 10: the assumed value, or nothing
    row = scale_reliability(very_few, instruments=[assumed]).iloc[0]
    assert (row["source"], row["reliability"]) == ("assumed", 0.80)
    assert f"only {MIN_MEASURED_N - 1} complete responses" in row["note"]
    row = scale_reliability(very_few, instruments=[bare]).iloc[0]
    assert row["source"] == "none" and np.isnan(row["reliability"])
    assert "reliable change not computed" in row["note"]
    for q in (published, assumed, bare):
        row = scale_reliability(enough, instruments=[q]).iloc[0]
        assert row["source"] == "measured" and row["reliability"] == row["alpha"] and row["note"] == ""


def test_the_framework_questionnaire_per_element_and_phase():
    from mastery_analysis.demo import demo_frames

    fw = load_framework()
    resp = demo_frames()["responses"]
    resp = resp.loc[resp["instrument"] == fw.questionnaire.instrument]  # the demo also has pearlin_mastery
    res = scale_reliability(resp, framework=fw)
    assert set(res["phase"]) == set(resp["phase"])
    base = res[res["phase"] == "baseline"].set_index("scale")
    assert list(base.index) == fw.keys
    raw = resp[resp["phase"] == "baseline"]
    for element in fw.keys:
        its = fw.questionnaire.items_for(element)
        wide = raw.pivot(index="participant_id", columns="item", values="value")[[i.id for i in its]]
        for i in its:
            if i.reverse:
                wide[i.id] = 6 - wide[i.id]
        alpha, _ = pg.cronbach_alpha(data=wide)
        assert base.at[element, "alpha"] == pytest.approx(alpha, abs=1e-12)
    # the demo cohort has 24 people and the home-made questionnaire no published value: the
    # cohort's own alphas are used, and the note says on how few people
    assert (base["source"] == "measured").all() and (base["reliability"] == base["alpha"]).all()
    assert base["note"].str.contains("only 24 complete responses").all()
    only = scale_reliability(resp, framework=fw, phase="baseline")
    pd.testing.assert_frame_equal(only.reset_index(drop=True), base.reset_index().reindex(
        columns=RELIABILITY_COLUMNS))


def test_bad_input_is_named():
    with pytest.raises(AnalysisInputError, match="no column 'value'"):
        scale_reliability(pd.DataFrame({"participant_id": ["a"], "item": ["pro1"]}))
    with pytest.raises(AnalysisInputError, match="'zzz'"):
        scale_reliability(pd.DataFrame({"participant_id": ["a"], "item": ["zzz"], "value": [1]}))
    with pytest.raises(AnalysisInputError, match="nan_policy"):
        scale_reliability(pd.DataFrame({"participant_id": ["a"], "item": ["pro1"], "value": [1]}),
                          nan_policy="everything")
