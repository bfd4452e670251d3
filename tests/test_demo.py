import pandas as pd
import pytest

from mastery_analysis import demo
from mastery_analysis.schema import validate


def test_same_seed_same_frames_and_committed_csv_matches():
    first, second = demo.demo_frames(), demo.demo_frames()
    committed = demo.read_demo_csv()
    for table in first:
        pd.testing.assert_frame_equal(first[table], second[table])
        pd.testing.assert_frame_equal(first[table], committed[table], obj=f"data/demo/{table}.csv")
    other = demo.demo_frames(seed=1)
    assert not other["ratings"].equals(first["ratings"])


def test_every_frame_passes_its_schema():
    for table, frame in demo.read_demo_csv().items():
        assert len(validate(table, frame)) == len(frame)


def test_alex_has_two_years_with_gaps_vision_and_three_goals():
    f = demo.read_demo_csv()
    r = f["ratings"][f["ratings"]["participant_id"] == "alex"]
    current = r[r["kind"] == "current"]
    days = current["date"].drop_duplicates()
    assert days.min() == pd.Timestamp("2024-11-01") and days.max() == pd.Timestamp("2026-10-31")
    span = (days.max() - days.min()).days + 1
    assert 0.75 * span < len(days) < 0.95 * span  # missed days, as real people have them
    assert days.diff().max() >= pd.Timedelta(days=14)  # a holiday
    assert set(current["element"]) == set(demo.ALEX_TRENDS)
    assert (r["kind"] == "vision").sum() >= 5 * 8
    goals = f["goals"][f["goals"]["participant_id"] == "alex"]
    truth = demo.GROUND_TRUTH["alex"]
    assert {truth["effect_goal"], truth["null_goal"], truth["weak_goal"]} == set(goals["goal_id"])
    assert set(truth["trends"].values()) == {"improving", "flat", "declining"}


def test_cohort_shape():
    f = demo.read_demo_csv()
    p = f["participants"][f["participants"]["cohort"] == demo.COHORT]
    assert len(p) == 24
    assert sorted(p.loc[~p["consent_share"], "participant_id"]) == sorted(demo.NON_CONSENTING)
    resp = f["responses"]
    assert set(resp["phase"]) == {"baseline", "post"}
    assert set(resp["instrument"]) == {"career_mastery_q", demo.PEARLIN}
    own = resp.loc[resp["instrument"] == "career_mastery_q"]
    per_person = own.groupby(["participant_id", "phase"]).size()
    assert (per_person == 15).all() and len(per_person) == 48
    pearlin = resp.loc[resp["instrument"] == demo.PEARLIN].groupby(["participant_id", "phase"]).size()
    assert len(pearlin) == 48 and pearlin.between(5, 7).all()  # everyone, a few answers skipped
    assert 0 < (7 - pearlin).sum() <= 10
    weekly = f["ratings"][f["ratings"]["participant_id"].isin(p["participant_id"])]
    weeks = weekly.groupby("participant_id")["date"].nunique()
    assert weeks.between(9, 12).all()


def test_load_demo_into_a_store(store):
    written = demo.load_demo(store)
    assert written["ratings"] == len(demo.read_demo_csv()["ratings"])
    assert demo.load_demo(store, if_empty=True) == {}
    assert len(store.participants(cohort=demo.COHORT)) == 24
    # the cohort's questionnaires are recorded per phase, the questionnaire left closed
    for phase in ("baseline", "post"):
        assert store.cohort_instruments(demo.COHORT, phase) == ["career_mastery_q", demo.PEARLIN]
    assert store.cohort_instruments(demo.COHORT, "mid") == ["career_mastery_q"]
    assert pd.isna(store.cohort(demo.COHORT)["open_phase"])


def test_pearlin_ground_truth_is_the_answer_model_and_near_the_published_alpha():
    from mastery_analysis.framework import load_instrument

    truth = demo.GROUND_TRUTH[demo.COHORT][demo.PEARLIN]
    assert abs(demo.pearlin_population_alpha(200_000, seed=7) - truth["alpha"]) < 0.005
    q = load_instrument(demo.PEARLIN)
    assert abs(truth["alpha"] - q.scales[0].reliability) < 0.02
    assert truth["reverse_items"] == [item.id for item in q.items if item.reverse]


def test_pearlin_answers_give_a_plausible_alpha_keyed_right_and_a_small_rise():
    from mastery_analysis import analysis
    from mastery_analysis.analysis.reliability import item_statistics, scale_reliability

    truth = demo.GROUND_TRUTH[demo.COHORT][demo.PEARLIN]
    resp = demo.read_demo_csv()["responses"]
    pearlin = resp.loc[resp["instrument"] == demo.PEARLIN]
    rel = scale_reliability(pearlin).set_index("phase")
    assert list(rel.index) == ["baseline", "post"]
    for phase, row in rel.iterrows():
        # 24 people: Feldt's 95% interval is about +-0.15 wide; the measured alpha is within
        # 0.1 of the generating one and its interval holds it
        assert abs(row["alpha"] - truth["alpha"]) < 0.1, phase
        assert row["alpha_ci_low"] < truth["alpha"] < row["alpha_ci_high"], phase
        assert 18 <= row["n"] < row["n_answered"] == 24  # a few answers skipped
        assert row["source"] == "published" and row["reliability"] == 0.72  # under 30 people
    # the demo's answers, skipped ones included, give pingouin's pairwise alpha
    import pingouin as pg

    wide = pearlin.loc[pearlin["phase"] == "baseline"].pivot(index="participant_id", columns="item",
                                                              values="value")
    for item in truth["reverse_items"]:
        wide[item] = 5 - wide[item]
    assert wide.isna().any().any()
    assert rel.at["baseline", "alpha"] == pytest.approx(pg.cronbach_alpha(data=wide)[0], abs=1e-12)
    items = item_statistics(pearlin)
    assert set(items.loc[items["reverse"], "item"]) == set(truth["reverse_items"])
    # reverse items scored the right way round: every item goes with its scale
    assert (items["item_total_r"] > 0).all() and not (items["flag"] == "negative").any()
    # answered raw, the reverse items run against the others
    raw = pearlin.pivot_table(index=["participant_id", "phase"], columns="item", values="value")
    assert raw[["pm1", "pm3", "pm5"]].mean(axis=1).corr(raw[["pm4", "pm6"]].mean(axis=1)) < 0
    change = analysis.scale_change(pearlin, min_n=5).iloc[0]
    assert change["ci_low"] < truth["sum_change"] < change["ci_high"]
    assert 0 < change["mean_diff"] < 3 and 0 < change["d_z"] < 1  # a small true rise


def test_demo_experiments_are_kept_with_their_schedules_and_adherence(store):
    from mastery_analysis.analysis.experiments import plan_experiment

    demo.load_demo(store)
    exps = store.experiments(participant="jo")
    assert exps["experiment_id"].tolist() == ["jo-x1", "jo-x2"]
    for plan in exps.to_dict("records"):
        kept = store.experiment_schedule(plan["experiment_id"])
        drawn = plan_experiment(plan["start_date"], design=plan["design"], period_days=plan["period_days"],
                                periods=plan["periods"], washout_days=plan["washout_days"], seed=plan["seed"])
        pd.testing.assert_frame_equal(kept, drawn[kept.columns.tolist()], check_dtype=False)
        answered = store.adherence(experiment=plan["experiment_id"])
        assert 0.6 * len(kept) < len(answered) <= len(kept) and not answered["followed"].all()


def test_the_analysis_finds_the_planted_effect_and_claims_none_where_there_is_none(store):
    from mastery_analysis import self_experiments as sx

    demo.load_demo(store)
    truth = demo.GROUND_TRUTH["jo"]["experiments"]
    effect = sx.experiment_results(store, "jo", "jo-x1").iloc[0]  # intention to treat
    assert effect["finished"] and effect["randomised"]
    assert effect["p_value"] < 0.01
    assert effect["ci_low"] > 0 and effect["ci_low"] <= truth["jo-x1"]["effect"] <= effect["ci_high"]
    assert effect["nap"] > 0.65
    null = sx.experiment_results(store, "jo", "jo-x2").iloc[0]
    assert null["finished"] and null["p_value"] >= 0.05
    assert null["ci_low"] < truth["jo-x2"]["effect"] < null["ci_high"]
    assert null["exact"]  # the alternating design's schedules are few enough to compare all


def test_adding_jo_left_the_rows_of_alex_and_the_cohort_as_they_were():
    # jo has a random stream of their own: the frames without jo are those generated without jo
    import numpy as np
    from mastery_analysis.framework import load_framework

    rng = np.random.default_rng(demo.SEED)
    alex = demo._alex(rng)
    cohort = demo._cohort(rng, load_framework().questionnaire.items)
    frames = demo.demo_frames()
    for table in ("ratings", "actions", "progress"):
        mine = frames[table].loc[frames[table]["participant_id"] != "jo"]
        assert len(mine) == len(alex[table]) + len(cohort[table])
