"""The Dask engine equals the pandas path, on the demo cohort and across several partitions."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed", reason="the [dask] extra (installed by make setup)")

from mastery_analysis import dask_engine as de  # noqa: E402
from mastery_analysis.analysis import cohort, correlation, goals, habits, trajectories  # noqa: E402
from mastery_analysis.analysis.reliability import scale_reliability  # noqa: E402
from mastery_analysis.cli import main  # noqa: E402
from mastery_analysis.demo import read_demo_csv  # noqa: E402
from mastery_analysis.errors import MasteryError  # noqa: E402
from mastery_analysis.framework import load_framework  # noqa: E402

FW = load_framework()


@pytest.fixture(scope="module")
def client():
    c = de.local_client(2, processes=False)
    yield c
    cluster = c.cluster
    c.close()
    cluster.close()


def pandas_path(analysis, f):
    if analysis == "trends":
        return trajectories.element_trends(f["ratings"])
    if analysis == "habits":
        s = habits.habit_strength(f["actions"], f["goals"])
        return s.groupby(["participant_id", "goal_id"], sort=False).tail(1).reset_index(drop=True)
    if analysis == "correlations":
        return correlation.action_progress_correlation(f["actions"], f["progress"], checkins=f["ratings"])
    if analysis == "goals":
        return goals.goal_pace(f["goals"], f["progress"])
    scores = cohort.score_responses(f["responses"], FW)
    rel = scale_reliability(f["responses"], framework=FW, phase="baseline")
    return cohort.cohort_change(scores, pre="baseline", post="post", framework=FW, reliability=rel)


def generated(people=40, days=56):
    """A generated cohort: store-typed frames, several goals and elements per person."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.synthetic import store_frames, synthetic_frames

    frames = store_frames(synthetic_frames(people, days, seed=3))
    frames["goals"] = frames["goals"].astype({"freq_times": np.int64, "freq_days": np.int64})
    return frames


@pytest.fixture(scope="module")
def demo_parts(tmp_path_factory):
    f = read_demo_csv()
    return f, de.write_partitions(f, tmp_path_factory.mktemp("demo-parts"), partitions=3)


@pytest.fixture(scope="module")
def generated_parts(tmp_path_factory):
    f = generated()
    return f, de.write_partitions(f, tmp_path_factory.mktemp("gen-parts"), partitions=7)


@pytest.mark.parametrize("analysis", de.ANALYSES)
def test_dask_equals_pandas_on_the_demo_cohort(analysis, client, demo_parts):
    f, parts = demo_parts
    got = de.run_analysis(analysis, parts, client=client, framework=FW)
    pd.testing.assert_frame_equal(got, pandas_path(analysis, f))


@pytest.mark.parametrize("analysis", de.ANALYSES)
def test_dask_equals_pandas_across_partitions(analysis, client, generated_parts):
    f, parts = generated_parts
    sizes = [len(pd.read_parquet(p)) for p in sorted((parts / "ratings").glob("*.parquet"))]
    assert len(sizes) == 7 and sum(sizes) == len(f["ratings"]) and min(sizes) > 0
    got = de.run_analysis(analysis, parts, client=client, framework=FW)
    expect = pandas_path(analysis, f)
    pd.testing.assert_frame_equal(got, expect)
    if analysis == "correlations":  # one FDR family across the partitions, as pandas
        assert got["q_value"].notna().sum() == got["p_value"].notna().sum() > 0
        per_person = correlation.action_progress_correlation(
            f["actions"], f["progress"], checkins=f["ratings"], family="participant")
        assert not np.allclose(got["q_value"].fillna(-1), per_person["q_value"].fillna(-1))


def test_each_participant_is_in_one_partition(tmp_path):
    f = generated(people=30, days=20)
    de.write_partitions(f, tmp_path, partitions=4)
    seen = {}
    for p in sorted((tmp_path / "actions").glob("*.parquet")):
        for pid in pd.read_parquet(p)["participant_id"].unique():
            assert pid not in seen
            seen[pid] = p.name
    assert len(seen) == 30
    # the partition is a pure function of the id: the same on another run or machine
    assert list(de.partition_of(["p000001", "p000002"], 4)) == list(de.partition_of(["p000001", "p000002"], 4))


def test_bad_inputs_are_refused(tmp_path):
    with pytest.raises(MasteryError, match="no participant-partitioned Parquet"):
        de.run_analysis("trends", tmp_path)
    with pytest.raises(MasteryError, match="partitions should be a whole number"):
        de.write_partitions({}, tmp_path, partitions=0)
    with pytest.raises(MasteryError, match="unknown analysis 'wheel'"):
        de.run_analysis("wheel", tmp_path)


def test_cli_stats_engine_dask_prints_the_pandas_table(demo_store, capsys):
    url = demo_store.url
    cohort_name = demo_store.participants()["cohort"].dropna().iloc[0]
    assert main(["stats", "trends", "--cohort", cohort_name, "--store", url, "--format", "csv"]) == 0
    pandas_out = capsys.readouterr().out
    assert main(["stats", "trends", "--cohort", cohort_name, "--store", url, "--format", "csv",
                 "--engine", "dask", "--partitions", "3", "--workers", "1"]) == 0
    assert capsys.readouterr().out == pandas_out
    assert main(["stats", "insights", "--participant", "alex", "--store", url, "--engine", "dask"]) == 1
    assert "use --engine pandas" in capsys.readouterr().err
