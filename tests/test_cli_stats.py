"""`mastery stats`: thin calls into the analysis, privacy for cohorts, one-line errors."""

import io
import json

import pandas as pd
import pytest

from mastery_analysis import analysis
from mastery_analysis.analysis.findings import insights
from mastery_analysis.cli import main
from mastery_analysis.store import open_store


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def frames(demo_store_path):
    with open_store(demo_store_path) as s:
        yield {t: getattr(s, t)() for t in ("participants", "ratings", "actions", "progress", "goals",
                                             "responses")} | {"framework": s.framework}


def _json(out):
    return pd.DataFrame(json.loads(out))


@pytest.mark.parametrize("what", ["trends", "habits", "correlations", "goals", "insights"])
def test_participant_tables_are_the_analysis_functions_output(demo_store_path, frames, capsys, what):
    code, out, err = run(capsys, "stats", what, "--participant", "alex", "--store", str(demo_store_path),
                         "--format", "csv")
    assert code == 0 and err == ""
    got = pd.read_csv(io.StringIO(out))
    alex = {k: v[v["participant_id"] == "alex"] for k, v in frames.items() if k != "framework"}
    expected = {
        "trends": lambda: analysis.element_trends(alex["ratings"]),
        "habits": lambda: analysis.habit_strength(alex["actions"], alex["goals"]).groupby("goal_id").tail(1),
        "correlations": lambda: analysis.action_progress_correlation(alex["actions"], alex["progress"],
                                                                     checkins=alex["ratings"]),
        "goals": lambda: analysis.goal_pace(alex["goals"], alex["progress"]),
        "insights": lambda: insights(alex["ratings"], alex["actions"], alex["progress"],
                                              alex["goals"], participant_id="alex"),
    }[what]()
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    num = [c for c in expected.columns if pd.api.types.is_float_dtype(expected[c])]
    pd.testing.assert_frame_equal(got[num].reset_index(drop=True),
                                  expected[num].reset_index(drop=True).astype(float), rtol=1e-9)


def test_correlations_json_find_the_planted_effect(demo_store_path, capsys):
    from mastery_analysis.demo import GROUND_TRUTH

    code, out, _ = run(capsys, "stats", "correlations", "--participant", "alex", "--store",
                       str(demo_store_path), "--format", "json")
    res = _json(out)
    truth = GROUND_TRUTH["alex"]
    eff = res[(res["goal_id"] == truth["effect_goal"]) & res["lag"].isin(truth["effect_lags"])]
    assert code == 0 and eff["significant"].all()
    assert not res.loc[res["goal_id"] == truth["null_goal"], "significant"].any()


def test_cohort_views_include_consenting_participants_only(demo_store_path, frames, capsys):
    from mastery_analysis.demo import GROUND_TRUTH

    hidden = set(GROUND_TRUTH["spring-cohort"]["non_consenting"])
    for what in ("trends", "goals", "correlations", "habits"):
        code, out, _ = run(capsys, "stats", what, "--cohort", "spring-cohort", "--store",
                           str(demo_store_path), "--format", "json")
        ids = set(_json(out)["participant_id"])
        assert code == 0 and ids and not ids & hidden
        assert len(ids) == 24 - len(hidden)


def test_cohort_change_matches_the_functions_and_suppresses_small_groups(demo_store_path, frames, capsys):
    code, out, _ = run(capsys, "stats", "cohort-change", "--cohort", "spring-cohort", "--store",
                       str(demo_store_path), "--format", "json")
    got = _json(out)
    cohort_ids = frames["participants"].query("cohort == 'spring-cohort'")["participant_id"]
    resp = frames["responses"][frames["responses"]["participant_id"].isin(cohort_ids)]
    fw = frames["framework"]
    expected = analysis.cohort_change(analysis.score_responses(resp, fw), framework=fw,
                                      reliability=analysis.scale_reliability(resp, framework=fw, phase="baseline"))
    assert code == 0 and list(got["element"]) == list(expected["element"])
    pd.testing.assert_series_equal(got["hedges_g"], expected["hedges_g"], check_names=False)
    assert (got["n"] == 24).all()
    code, out, _ = run(capsys, "stats", "cohort-change", "--cohort", "spring-cohort", "--store",
                       str(demo_store_path), "--format", "json", "--min-group-size", "25")
    small = _json(out)
    assert small["suppressed"].all() and small["mean_diff"].isna().all()


def test_table_format_and_errors_are_one_line(demo_store_path, capsys):
    code, out, _ = run(capsys, "stats", "insights", "--participant", "alex", "--store", str(demo_store_path))
    assert code == 0 and "not proof of cause" in out
    for argv, needle in [
        (["stats", "trends", "--participant", "nobody"], "unknown participant 'nobody'"),
        (["stats", "trends", "--cohort", "no-such-cohort"], "no participants in cohort"),
        (["stats", "cohort-change", "--participant", "alex"], "use --cohort"),
        (["stats", "insights", "--cohort", "spring-cohort"], "use --participant"),
    ]:
        code, out, err = run(capsys, *argv, "--store", str(demo_store_path))
        assert code == 1 and needle in err and "Traceback" not in err
        assert err.count("\n") == 1
    with pytest.raises(SystemExit):
        main(["stats", "trends", "--store", str(demo_store_path)])  # --participant or --cohort needed
