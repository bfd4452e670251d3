"""`mastery experiment ...`: thin commands over the store and the experiment analysis."""

import datetime as dt

import pytest

from mastery_analysis.cli import main
from mastery_analysis.store import open_store


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(demo_store_path, tmp_path):
    import shutil

    path = tmp_path / "demo.db"
    shutil.copy(demo_store_path, path)
    return str(path)


def test_analyse_a_finished_experiment_gives_the_result_and_the_as_followed_check(db, capsys):
    code, out, err = run(capsys, "experiment", "analyse", "--participant", "jo", "--experiment", "jo-x1",
                         "--as-followed", "--store", db)
    assert code == 0, err
    assert "Intention to treat (every day as assigned; randomised)" in out
    assert "As followed (only the days you followed; NOT randomised" in out
    assert "95% CI" in out and "p = 0.0" in out and "NAP = " in out and "Adherence: " in out
    assert "no blinding" in out and "carry-over" in out


def test_before_the_planned_end_there_is_no_result_and_no_p_value(db, capsys):
    code, out, _ = run(capsys, "experiment", "analyse", "--participant", "jo", "--experiment", "jo-x1",
                       "--today", "2026-06-20", "--store", db)
    assert code == 0
    assert "No result yet: the experiment runs until 2026-07-30" in out
    assert "p = " not in out and "CI" not in out


def test_today_list_and_adherence(db, capsys):
    code, out, _ = run(capsys, "experiment", "today", "--participant", "jo", "--date", "2026-08-17",
                       "--store", db)
    assert code == 0 and "jo-x2" in out and "day 8 of 70" in out and "Lunch with a colleague [B]" in out
    assert "jo-x1" in out and "finished on 2026-07-30" in out
    code, out, _ = run(capsys, "experiment", "list", "--participant", "jo", "--format", "csv", "--store", db)
    assert code == 0 and out.splitlines()[0].startswith("experiment_id,participant_id,title")
    assert len(out.splitlines()) == 3
    code, out, _ = run(capsys, "experiment", "adherence", "--participant", "jo", "--experiment", "jo-x2",
                       "--date", "2026-08-18", "--followed", "no", "--store", db)
    assert code == 0
    with open_store(db) as s:
        a = s.adherence(experiment="jo-x2")
        assert not a.loc[a["date"] == "2026-08-18", "followed"].iloc[0]
    code, _, err = run(capsys, "experiment", "adherence", "--participant", "jo", "--experiment", "jo-x2",
                       "--date", "2025-01-01", "--followed", "yes", "--store", db)
    assert code == 1 and "not a day of experiment 'jo-x2'" in err and "Traceback" not in err


def test_plan_prints_the_schedule_and_refuses_bad_plans_writing_nothing(db, capsys):
    start = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    base = ["experiment", "plan", "--participant", "jo", "--title", "Walk at lunch", "--a", "No walk",
            "--b", "A 20-minute walk", "--outcome", "element:potential", "--design", "pairs",
            "--period-days", "7", "--periods", "8", "--start", start, "--seed", "5", "--store", db]
    code, out, err = run(capsys, *base)
    assert code == 0, err
    assert "Experiment jo-x3: Walk at lunch" in out and "56 days" in out and "Order of periods:" in out
    with open_store(db) as s:
        assert len(s.experiment_schedule("jo-x3")) == 56
        before = len(s.experiment_rows("experiments"))
    for change, message in ((["--periods", "2"], "fewer than two periods per condition"),
                            (["--washout-days", "7"], "as long as a period"),
                            (["--outcome", "goal:nope:progress"], "has no goal 'nope'"),
                            (["--start", "2026-06-01", "--id", "jo-x9"], "in the past")):
        args = list(base)
        for i in range(0, len(change), 2):
            if change[i] in args:
                args[args.index(change[i]) + 1] = change[i + 1]
            else:
                args[-2:-2] = change[i:i + 2]
        code, _, err = run(capsys, *args)
        assert code == 1 and message in err and "Traceback" not in err, (change, err)
        assert err.count("\n") <= 3
    with open_store(db) as s:
        assert len(s.experiment_rows("experiments")) == before


def test_every_experiment_command_has_help(capsys):
    for action in ("plan", "today", "list", "adherence", "analyse"):
        with pytest.raises(SystemExit) as exit_:
            main(["experiment", action, "--help"])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert "--store" in out and "usage: mastery experiment " + action in out


def test_insights_mention_a_finished_experiments_result(db, capsys):
    code, out, err = run(capsys, "stats", "insights", "--participant", "jo", "--store", db)
    assert code == 0, err
    assert "Self-experiments" in out
    text = " ".join(out.split())
    assert "Experiment 'Does deep work before ten help me focus?': on days of" in text and "higher" in text
    assert "no clear difference between \"Lunch at my desk\" and \"Lunch with a colleague\"" in text
    code, out, _ = run(capsys, "stats", "insights", "--participant", "jo", "--format", "csv", "--store", db)
    rows = [line for line in out.splitlines() if line.startswith("experiment,")]
    assert len(rows) == 2 and rows[0].split(",")[1] == "jo-x1"


def test_insights_say_no_result_before_the_planned_end(db, capsys):
    code, out, _ = run(capsys, "stats", "insights", "--participant", "jo", "--today", "2026-07-01",
                       "--store", db)
    text = " ".join(out.split())
    assert code == 0 and "runs until 2026-07-30: no result yet" in text and "p = " not in text
