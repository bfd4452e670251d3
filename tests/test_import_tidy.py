"""Our own layout: export -> import round trips, templates, formula neutralisation, bad rows."""

import csv

import openpyxl
import pandas as pd
import pytest

from mastery_analysis import importers
from mastery_analysis.cli import main
from mastery_analysis.demo import read_demo_csv
from mastery_analysis.errors import ImportFormatError, ImportRowsError
from mastery_analysis.importers.tidy import neutralise_formulas, restore_formulas
from mastery_analysis.store import DATA_TABLES, export_tables, open_store

FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A store with the demo data, a formula-like note and a tab-led name."""
    path = tmp_path_factory.mktemp("src") / "a.db"
    with open_store(path) as s:
        s.write_many(read_demo_csv())
        s.add_participant("eve", name="\t@SUM(A1)", joined_on="2024-01-01")
        s.write("goals", pd.DataFrame([{"goal_id": "eve-g", "participant_id": "eve",
                                        "title": "-minus first", "start_date": "2024-01-01"}]))
        s.record_checkin("eve", "2024-01-02", ratings={"focused": 5}, actions={"eve-g": 1},
                         note=FORMULA)
        s.record_checkin("eve", "2024-01-03", ratings={"focused": 6}, note="'=already quoted")
    return path


def frames_of(store):
    return {t: store._read(t).drop(columns=["recorded_at"], errors="ignore") for t in DATA_TABLES}


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_export_imported_into_an_empty_store_gives_the_same_frames(source, tmp_path, fmt):
    with open_store(source) as a:
        paths = export_tables(a, tmp_path / "out", format=fmt)
        want = frames_of(a)
    target = paths[0] if fmt == "xlsx" else tmp_path / "out"
    if fmt == "xlsx":
        assert [p.name for p in paths] == ["mastery.xlsx"]
        assert openpyxl.load_workbook(target, read_only=True).sheetnames == \
            list(DATA_TABLES) + ["experiments", "experiment_schedule", "adherence"]  # empty here
    with open_store(tmp_path / "b.db") as b:
        out = importers.run(b, "tidy", target)
        assert len(out.result.rejected) == 0
        got = frames_of(b)
        for t in DATA_TABLES:
            pd.testing.assert_frame_equal(got[t], want[t], obj=t)
        assert sum(importers.run(b, "tidy", target).written.values()) == 0  # again: nothing


def test_formula_like_text_comes_out_neutralised(source, tmp_path):
    with open_store(source) as a:
        export_tables(a, tmp_path / "csv", format="csv")
        export_tables(a, tmp_path / "xlsx", format="xlsx")
    with open(tmp_path / "csv" / "ratings.csv", newline="") as fh:
        notes = {r["note"] for r in csv.DictReader(fh)}
    assert "'" + FORMULA in notes and FORMULA not in notes
    assert "''=already quoted" in notes  # one more quote, so the import can take one off
    book = openpyxl.load_workbook(tmp_path / "xlsx" / "mastery.xlsx")
    cells = [c for row in book["ratings"].iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)  # no formula anywhere
    assert any(c.value == "'" + FORMULA and c.data_type == "s" for c in cells)
    names = [c.value for row in book["participants"].iter_rows() for c in row]
    assert "'@SUM(A1)" in names  # the store strips the tab; the @ is neutralised
    titles = [c.value for row in book["goals"].iter_rows() for c in row]
    assert "'-minus first" in titles


def test_neutralise_and_restore_are_inverse():
    texts = ["=1+1", "+1", "-1", "@x", "\tx", "\rx", "'=x", "''@x", "'plain", "plain", None]
    frame = pd.DataFrame({"t": texts, "n": range(len(texts))})
    safe = neutralise_formulas(frame)
    assert all(not (isinstance(v, str) and v[:1] in "=+-@\t\r") for v in safe["t"])
    assert (safe["n"] == frame["n"]).all()  # numbers are not text
    back = [None if not isinstance(v, str) else v for v in restore_formulas(safe["t"])]
    assert back == texts


def test_template_writes_csv_xlsx_and_readme_that_import_back(tmp_path, capsys):
    assert main(["template", "--out", str(tmp_path / "tpl")]) == 0
    names = {p.name for p in (tmp_path / "tpl").iterdir()}
    assert names == {f"{t}.csv" for t in DATA_TABLES} | {"mastery-template.xlsx", "README.md"}
    readme = (tmp_path / "tpl" / "README.md").read_text()
    for t in DATA_TABLES:
        assert f"## {t}" in readme
    assert "| freq_times | no (default 1) |" in readme
    header = (tmp_path / "tpl" / "goals.csv").read_text().strip().split(",")
    assert header == ["goal_id", "participant_id", "title", "element", "freq_times", "freq_days",
                      "start_date", "due_date", "target", "archived"]
    # filled in by a spreadsheet in a day-first locale, with ; and decimal commas
    (tmp_path / "tpl" / "goals.csv").write_text(
        "goal_id;participant_id;title;element;freq_times;freq_days;start_date;due_date;target;archived\n"
        "bo-read;bo;Read;informed;3;7;25/01/2024;;;\n", encoding="utf-8")
    (tmp_path / "tpl" / "progress.csv").write_text(
        "participant_id;date;goal_id;percent;note;source\nbo;26/01/2024;bo-read;12,5;;\n",
        encoding="cp1252")
    with open_store(tmp_path / "s.db") as s:
        out = importers.run(s, "tidy", tmp_path / "tpl")
        assert out.written == {"participants": 1, "goals": 1, "progress": 1}
        assert s.progress().loc[0, "percent"] == 12.5
        assert s.goals().loc[0, "start_date"] == pd.Timestamp("2024-01-25")
    book = tmp_path / "tpl" / "mastery-template.xlsx"
    assert openpyxl.load_workbook(book).sheetnames == list(DATA_TABLES)
    with pytest.raises(ImportFormatError, match="empty"):
        importers.read("tidy", book)


def test_bad_rows_abort_with_every_line_or_are_skipped(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "participants.csv").write_text("participant_id,name\nbo,Bo\n")
    (folder / "ratings.csv").write_text(
        "participant_id,date,element,rating\n"
        "bo,2024-01-01,focused,5\n"
        "bo,2024-01-02,focussed,5\n"    # line 3: unknown element
        "bo,2024-01-03,focused,11\n"    # line 4: off the scale
        "bo,2024-01-0x,focused,4\n"     # line 5: not a date
        "bo,2024-01-06,focused,6\n")
    db = tmp_path / "s.db"
    with open_store(db) as s:
        with pytest.raises(ImportRowsError) as exc:
            importers.run(s, "tidy", folder)
        msg = str(exc.value)
        for line, col in (("line 3", "element"), ("line 4", "rating"), ("line 5", "date")):
            assert f"ratings.csv {line}, column 'ratings.{col}'" in msg
        assert "'focussed'" in msg and "Nothing was written" in msg
        assert sum(s.row_counts().values()) == 0
    assert main(["import", "tidy", str(folder), "--store", str(db)]) == 1
    assert "ratings.csv line 4" in capsys.readouterr().err
    assert main(["import", "tidy", str(folder), "--store", str(db), "--skip-invalid"]) == 0
    printed = capsys.readouterr().out
    assert "ratings: 2 rows read, 2 added" in printed and "in.rejected.csv" in printed
    rejects = pd.read_csv(tmp_path / "in.rejected.csv")
    assert rejects["line"].tolist() == ["ratings.csv line 3", "ratings.csv line 4",
                                        "ratings.csv line 5"]
    assert rejects["value"].astype(str).tolist()[:2] == ["focussed", "11"]
    with open_store(db) as s:
        assert len(s.ratings()) == 2


def test_dry_run_prints_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "ratings.csv").write_text("participant_id,date,element,rating,mood\n"
                                          "bo,2024-01-01,focused,5,happy\n")
    db = tmp_path / "s.db"
    assert main(["import", "tidy", str(tmp_path / "ratings.csv"), "--store", str(db),
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "ratings: 1 row read, 1 to add" in out and "people: bo" in out
    assert "not imported (columns): ratings.mood" in out and "nothing was written" in out
    assert not db.exists()


def test_ambiguous_dates_are_refused_with_the_options_named(tmp_path, capsys):
    (tmp_path / "ratings.csv").write_text("participant_id,date,element,rating\n"
                                          "bo,03/04/2024,focused,5\nbo,05/06/2024,focused,6\n")
    db = tmp_path / "s.db"
    assert main(["import", "tidy", str(tmp_path / "ratings.csv"), "--store", str(db)]) == 1
    assert "--dayfirst" in capsys.readouterr().err
    assert main(["import", "tidy", str(tmp_path / "ratings.csv"), "--store", str(db),
                 "--dayfirst"]) == 0
    with open_store(db) as s:
        assert s.ratings()["date"].tolist() == [pd.Timestamp("2024-04-03"), pd.Timestamp("2024-06-05")]


def test_files_that_are_not_tables(tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ImportFormatError, match="cannot tell which table"):
        importers.read("tidy", tmp_path / "notes.csv")
    with pytest.raises(ImportFormatError, match="no table files found"):
        importers.read("tidy", tmp_path)
    (tmp_path / "goals.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ImportFormatError, match="not a readable Parquet"):
        importers.read("tidy", tmp_path / "goals.parquet")
    (tmp_path / "ratings.csv").write_text("participant_id,date\nbo,2024-01-01\n")
    r = importers.read("tidy", tmp_path / "ratings.csv")
    assert set(r.rejected["column"]) == {"ratings.element", "ratings.rating"}


def test_rejected_rows_file_keeps_formulas_inert_and_progress_says_each_stage(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "participants.csv").write_text("participant_id,name\nbo,Bo\n")
    (folder / "ratings.csv").write_text(
        "participant_id,date,element,rating\n"
        "bo,2024-01-01,focused,5\n"
        f"bo,2024-01-02,\"{FORMULA.replace(chr(34), chr(34) * 2)}\",5\n")  # line 3: the element
    with open_store(tmp_path / "s.db") as s:
        out = importers.run(s, "tidy", folder, skip_invalid=True, progress=True)
        assert out.written["ratings"] == 1
    err = capsys.readouterr().err
    assert f"reading {folder} ..." in err and "read 2 rows and 1 invalid in" in err and "checking and writing" in err
    with open(out.rejected_file, newline="") as f:
        rejected = list(csv.DictReader(f))
    assert [r["line"] for r in rejected] == ["ratings.csv line 3"]
    assert rejected[0]["value"] == "'" + FORMULA  # a spreadsheet shows it as text


# ----------------------------------------------------------------------------- experiments
@pytest.fixture(scope="module")
def with_experiments(tmp_path_factory):
    """The demo (jo's two experiments, with adherence) and one more whose title a
    spreadsheet would run."""
    from mastery_analysis.analysis.experiments import plan_experiment
    from mastery_analysis.demo import load_demo

    path = tmp_path_factory.mktemp("exp") / "a.db"
    with open_store(path) as s:
        load_demo(s)
        sched = plan_experiment("2026-10-05", design="pairs", period_days=3, periods=4, seed=5)
        s.save_experiment({"experiment_id": "jo-x3", "participant_id": "jo", "title": FORMULA,
                           "condition_a": "-usual", "condition_b": "walk", "outcome_kind": "element",
                           "outcome_ref": "focused", "design": "pairs", "period_days": 3, "periods": 4,
                           "washout_days": 0, "start_date": "2026-10-05", "seed": 5, "min_effect": None},
                          sched, today="2026-10-05")
        s.record_adherence("jo", "jo-x3", "2026-10-06", True)
        s.record_adherence("jo", "jo-x3", "2026-10-06", False)  # a second answer: the latest counts
    return path


def experiment_state(store):
    plans = store.experiments().drop(columns=["plan_version", "recorded_at"])
    scheds = {x: store.experiment_schedule(x) for x in plans["experiment_id"]}
    answers = store.adherence().drop(columns=["recorded_at", "source"])
    return plans, scheds, answers


@pytest.mark.parametrize("fmt,history", [("xlsx", False), ("parquet", False), ("csv", True)])
def test_experiments_come_back_from_an_export_into_an_empty_store(with_experiments, tmp_path, fmt, history):
    from mastery_analysis.self_experiments import experiment_results

    with open_store(with_experiments) as a:
        paths = export_tables(a, tmp_path / "out", format=fmt, history=history)
        want = experiment_state(a)
        want_result = experiment_results(a, "jo", "jo-x1")
    target = paths[0] if fmt == "xlsx" else tmp_path / "out"
    if fmt == "xlsx":
        assert openpyxl.load_workbook(target, read_only=True).sheetnames == \
            list(DATA_TABLES) + ["experiments", "experiment_schedule", "adherence"]
    else:
        assert {"experiments", "experiment_schedule", "adherence"} <= {p.stem for p in paths}
    with open_store(tmp_path / "b.db") as b:
        dry = importers.run(b, "tidy", target, dry_run=True)
        assert dry.written["experiments"] == 3 and b.experiments().empty
        out = importers.run(b, "tidy", target)
        assert out.written["experiments"] == 3
        assert out.written["adherence"] == len(want[2])
        assert "experiments: 3 rows read, 3 added" in importers.describe(out)
        got = experiment_state(b)
        pd.testing.assert_frame_equal(got[0], want[0])
        assert got[0].set_index("experiment_id").at["jo-x3", "title"] == FORMULA
        for x, frame in want[1].items():
            pd.testing.assert_frame_equal(got[1][x], frame, obj=x)
        pd.testing.assert_frame_equal(got[2], want[2])
        assert not got[2].set_index(["experiment_id", "date"]).loc[("jo-x3", pd.Timestamp("2026-10-06")),
                                                                       "followed"]
        pd.testing.assert_frame_equal(experiment_results(b, "jo", "jo-x1"), want_result)
        again = importers.run(b, "tidy", target)
        assert sum(again.written.values()) == 0  # again: nothing


def test_exported_experiment_text_is_neutralised(with_experiments, tmp_path):
    with open_store(with_experiments) as a:
        export_tables(a, tmp_path, format="csv")
    with open(tmp_path / "experiments.csv", newline="") as fh:
        rows = {r["experiment_id"]: r for r in csv.DictReader(fh)}
    assert rows["jo-x3"]["title"] == "'" + FORMULA and rows["jo-x3"]["condition_a"] == "'-usual"


def test_a_bad_exported_experiment_is_refused_before_anything_is_written(with_experiments, tmp_path):
    with open_store(with_experiments) as a:
        export_tables(a, tmp_path / "out", format="csv")
    plans = pd.read_csv(tmp_path / "out" / "experiments.csv", dtype=str)
    plans.loc[plans["experiment_id"] == "jo-x2", "periods"] = "3"
    plans.to_csv(tmp_path / "out" / "experiments.csv", index=False)
    with open_store(tmp_path / "b.db") as b:
        with pytest.raises(Exception, match="periods") as err:
            importers.run(b, "tidy", tmp_path / "out")
        assert "at least 4 periods" in str(err.value)
        assert b.participants().empty and b.experiments().empty


def test_an_experiment_here_with_another_plan_is_refused_before_anything_is_written(with_experiments, tmp_path):
    with open_store(with_experiments) as a:
        export_tables(a, tmp_path / "out", format="parquet")
    plans = pd.read_parquet(tmp_path / "out" / "experiments.parquet")
    with open_store(tmp_path / "b.db") as b:
        importers.run(b, "tidy", tmp_path / "out")
        plans.loc[plans["experiment_id"] == "jo-x1", "title"] = "Another question"
        plans.to_parquet(tmp_path / "out" / "experiments.parquet", index=False)
        ratings = pd.read_parquet(tmp_path / "out" / "ratings.parquet")
        ratings.loc[0, "rating"] = 10 if ratings.loc[0, "rating"] != 10 else 1
        ratings.to_parquet(tmp_path / "out" / "ratings.parquet", index=False)
        before = len(b.history("ratings"))
        with pytest.raises(Exception, match="jo-x1' is in this store with another plan"):
            importers.run(b, "tidy", tmp_path / "out")
        assert len(b.history("ratings")) == before
