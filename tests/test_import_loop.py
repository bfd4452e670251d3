"""Loop Habit Tracker imports: every real export and backup in the shared fixtures.

Expected counts are read from the files themselves here (lines, cells, SQL counts), never
copied from what the importer printed; Loop's own Scores.csv and Score table are
reproduced through ``habit_strength``.
"""

import csv
import io
import shutil
import sqlite3
import zipfile

import numpy as np
import pandas as pd
import pytest

from mastery_analysis import importers
from mastery_analysis.analysis import habit_strength
from mastery_analysis.errors import ImportFormatError, ImportRowsError, MasteryError
from mastery_analysis.schema import validate
from mastery_analysis.store import open_store

from outside_fixtures import outside_fixture

CRAMBLE = ("cramble19-dailyhabits-entry-bug", "DailyHabitAllFiles")
LOOP_DB_MAX = 19259478  # loop.db's old integer scale of scores


def loop(*parts):
    return outside_fixture("loop-habit-tracker", *parts)


def rows_of(path, *, header=True):
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    return rows[1:] if header else rows


def wide_scores(path):
    """Loop's wide Scores.csv as (title, date, value text)."""
    frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    frame = frame.loc[:, ~frame.columns.str.startswith("Unnamed")]
    return frame.melt(id_vars="Date", var_name="title", value_name="value").assign(
        date=lambda f: pd.to_datetime(f["Date"]))


def scored(result, until):
    goals, actions = result.frames["goals"], result.frames["actions"]
    out = habit_strength(actions, goals, until=until)
    return out.merge(goals[["goal_id", "title"]], on="goal_id")


def test_every_frame_passes_its_schema_and_is_indexed_by_where_it_came_from():
    r = importers.read("loop", loop("csv_export"), participant_id="alex")
    for table, frame in r.frames.items():
        pd.testing.assert_frame_equal(validate(table, frame), frame)
    assert r.frames["actions"]["source"].eq("import:loop").all()
    assert all("Checkmarks.csv line" in label for label in r.frames["actions"].index)


def test_csv_export_counts_and_scores_match_loop():
    r = importers.read("loop", loop("csv_export"), participant_id="alex")
    habits = rows_of(loop("csv_export", "Habits.csv"))
    goals = r.frames["goals"].set_index("title")
    assert sorted(goals.index) == sorted(h[1] for h in habits)
    for h in habits:  # Position,Name,Type,Question,Description,FrequencyNumerator,FrequencyDenominator
        assert (goals.at[h[1], "freq_times"], goals.at[h[1], "freq_days"]) == (int(h[5]), int(h[6]))
    # actions: the per-habit files' YES_MANUAL days, plus the days that carry a note
    expected, notes = 0, {}
    for folder in ("001 Meditate", "002 Wake up early"):
        for day, value, note in rows_of(loop("csv_export", folder, "Checkmarks.csv")):
            expected += value == "YES_MANUAL" or bool(note.strip())
            if note.strip():
                notes[note] = int(value == "YES_MANUAL")
    actions = r.frames["actions"]
    assert len(actions) == expected
    noted = actions.dropna(subset=["note"])
    assert dict(zip(noted["note"], noted["count"])) == notes
    assert {"Forgot to do it, really", '"Vacation"'} <= set(notes)  # quoted comma and quotes
    expected_scores = wide_scores(loop("csv_export", "Scores.csv"))
    out = scored(r, expected_scores["date"].max())
    merged = expected_scores.merge(out, on=["title", "date"], how="left")
    assert merged["score"].notna().all() and len(merged) == len(expected_scores)
    assert merged["score"].map(lambda v: f"{v:.4f}").tolist() == merged["value"].tolist()


def cramble_frames(path):
    return importers.read("loop", path, participant_id="alex")


def test_export_folder_with_the_entry_bug_and_per_habit_files():
    folder = loop(*CRAMBLE)
    r = cramble_frames(folder)
    habits = rows_of(folder / "Habits.csv")
    goals = r.frames["goals"]
    assert len(goals) == len(habits) == 24
    assert "Cat cutie 🐱" in set(goals["title"])  # the emoji its folder name dropped
    by_title = goals.set_index("title")["goal_id"]
    actions = r.frames["actions"]
    for position, name, *_ in habits:
        folder_name = next(p for p in folder.iterdir() if p.name.startswith(position + " "))
        lines = rows_of(folder_name / "Checkmarks.csv", header=False)
        values = [int(v) for _, v in lines]
        numerical = any(v not in (-1, 0, 1, 2, 3) for v in values)
        # every recorded line is an action, but a numerical 0 says nothing
        want = sum(1 for v in values if not (numerical and v <= 0))
        got = actions[actions["goal_id"] == by_title[name]]
        assert len(got) == want, name
        if numerical and want:
            assert got["note"].str.len().gt(0).all()  # the amount, divided by 1000
            amounts = sorted(v / 1000 for v in values if v > 0)
            assert sorted(got["note"].astype(float)) == amounts
    burger = actions[actions["goal_id"] == by_title["Burger"]]
    assert burger.empty  # 015 Burger/Checkmarks.csv is 0 bytes: a goal without actions
    assert any("'Burger'" in n and "no entries" in n for n in r.notes)


def test_yes_no_habits_reproduce_loops_scores_csv_to_4_decimals():
    folder = loop(*CRAMBLE)
    r = cramble_frames(folder)
    expected = wide_scores(folder / "Scores.csv")
    out = scored(r, expected["date"].max())
    merged = expected.merge(out, on=["title", "date"], how="left")
    numerical = {h[1] for h in rows_of(folder / "Habits.csv")
                 if any(int(v) not in (-1, 0, 1, 2, 3) for _, v in rows_of(
                     next(p for p in folder.iterdir() if p.name.startswith(h[0] + " "))
                     / "Checkmarks.csv", header=False))}
    yes_no = merged[~merged["title"].isin(numerical)]
    assert yes_no["title"].nunique() == 24 - len(numerical) >= 15
    assert yes_no["score"].map(lambda v: f"{v:.4f}").tolist() == yes_no["value"].tolist()


def test_zip_of_the_export_reads_like_the_folder(tmp_path):
    folder = loop(*CRAMBLE)
    archive = tmp_path / "Loop Habits CSV 2023-04-04.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in folder.rglob("*"):
            if f.is_file():
                zf.write(f, f.relative_to(folder.parent))  # one folder deeper, as in a download
    a, b = cramble_frames(folder), cramble_frames(archive)
    for table in ("goals", "actions"):
        pd.testing.assert_frame_equal(a.frames[table].reset_index(drop=True),
                                      b.frames[table].reset_index(drop=True))


def test_wide_checkmarks_with_entry_cells_alone():
    path = loop(*CRAMBLE, "Checkmarks.csv")
    r = importers.read("loop", path, participant_id="alex")
    header = rows_of(path, header=False)[0]
    names = [h for h in header[1:] if h]
    assert list(r.frames["goals"]["title"]) == names
    text = path.read_text(encoding="utf-8")
    body = text.splitlines()[1:]
    for j, name in enumerate(names):
        values = [int(v) for v in (line.split("Entry(")[j + 1].split("value=")[1].split(")")[0]
                                   for line in body)]
        numerical = any(v not in (-1, 0, 1, 2, 3) for v in values)
        want = sum(v > 0 for v in values) if numerical else values.count(2)
        gid = r.frames["goals"].set_index("title").at[name, "goal_id"]
        assert (r.frames["actions"]["goal_id"] == gid).sum() == want, name
    assert any("without Habits.csv" in n for n in r.notes)


def test_spreadsheet_resaved_checkmarks_with_bom_and_month_first_dates():
    path = loop("etiesch-habits-analyzer-fr-resaved", "Checkmarks.csv")
    r = importers.read("loop", path, participant_id="alex")
    rows = rows_of(path, header=False)
    header, body = rows[0], rows[1:]
    assert header[0] == "Date"  # the BOM is gone
    assert list(r.frames["goals"]["title"]) == header[1:]
    first = body[-1][0]  # oldest last: MM-DD-YY
    month, day, year = (int(x) for x in first.split("-"))
    assert r.frames["goals"]["start_date"].min() == pd.Timestamp(2000 + year, month, day)
    want = 0
    for j in range(1, len(header)):
        values = [int(line[j]) for line in body]
        numerical = any(v not in (-1, 0, 1, 2, 3) for v in values)
        want += sum(v > 0 for v in values) if numerical else values.count(2)
    assert len(r.frames["actions"]) == want


def test_lone_per_habit_file_without_header():
    path = loop("omarnaguib-study-analysis-perhabit", "Checkmarks.csv")
    r = importers.read("loop", path, participant_id="alex")
    values = [int(v) for _, v in rows_of(path, header=False)]
    assert len(r.frames["actions"]) == sum(v > 0 for v in values)
    assert len(r.frames["goals"]) == 1


def test_lone_scores_csv_of_a_daily_habit_is_read_back_exactly():
    path = loop("kingshokha-trend-analyzer", "Scores.csv")
    r = importers.read("loop", path, participant_id="alex")
    expected = wide_scores(path)
    out = scored(r, expected["date"].max())
    merged = expected.merge(out, on=["title", "date"], how="left")
    assert len(merged) == len(rows_of(path))
    assert merged["score"].map(lambda v: f"{v:.4f}").tolist() == merged["value"].tolist()


def test_scores_csv_of_a_non_daily_habit_is_refused(tmp_path):
    # Loop's 2-in-3-days habit: its scores cannot be read back as daily check-ins
    src = loop("csv_export", "Scores.csv").read_text()
    path = tmp_path / "Scores.csv"
    path.write_text("\n".join(",".join(line.split(",")[i] for i in (0, 2)) + ","
                              for line in src.splitlines()) + "\n")
    with pytest.raises(ImportFormatError, match="not those of a daily yes/no habit"):
        importers.read("loop", path, participant_id="alex")


def sql(path, query):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("name", ["loop.db", "021.db", "022.db",
                                  "tkarabela-miscreaders-db/test.db"])
def test_every_sqlite_schema(name):
    path = loop(*name.split("/"))
    r = importers.read("loop", path, participant_id="alex")
    with_entries = sql(path, "select count(distinct habit) from Repetitions")[0][0]
    goals = r.frames["goals"]
    assert len(goals) >= with_entries
    cols = {c[1] for c in sql(path, "pragma table_info(Repetitions)")}
    if "value" in cols:  # yes/no habits: every stored repetition; numerical: above 0
        want = sql(path, "select count(*) from Repetitions r join Habits h on r.habit = h.id "
                         "where h.type = 0 or r.value > 0")[0][0]
    else:
        want = sql(path, "select count(*) from Repetitions")[0][0]
    assert len(r.frames["actions"]) == want
    freq = {n: (a, b) for n, a, b in sql(path, "select name, freq_num, freq_den from Habits")}
    for title, t, d in goals[["title", "freq_times", "freq_days"]].itertuples(index=False):
        assert freq[title.strip()] == (t, d)


def test_schema_25_keeps_numerical_unit_and_explicit_no():
    r = importers.read("loop", loop("tkarabela-miscreaders-db", "test.db"), participant_id="alex")
    goals = r.frames["goals"].set_index("title")
    assert goals.at["c", "freq_days"] == 30 and goals.at["c", "target"] == "1 kg"  # "kg\r\n"
    a = r.frames["actions"]
    a_goal = goals.at["a", "goal_id"]
    first = a[a["goal_id"] == a_goal].sort_values("date")
    assert first["date"].iloc[0] == pd.Timestamp("2014-02-21")  # the reader's own test row
    assert (a[(a["goal_id"] == a_goal)]["count"] == 0).sum() == 1  # value 0: a NO by hand


def test_loop_db_daily_scores_reproduced():
    path = loop("loop.db")
    r = importers.read("loop", path, participant_id="alex")
    score = pd.DataFrame(sql(path, "select s.habit, h.name, s.timestamp, s.score from Score s "
                                   "join Habits h on h.Id = s.habit where h.freq_num = 1 and "
                                   "h.freq_den = 1"), columns=["habit", "name", "ts", "score"])
    goals = r.frames["goals"]
    ids = {hid: gid for hid, gid in zip(sql(path, "select Id from Habits order by position, Id"),
                                        goals["goal_id"])}
    score["goal_id"] = [ids[(h,)] for h in score["habit"]]
    score["date"] = pd.to_datetime(score["ts"], unit="ms")
    for gid, theirs in score.groupby("goal_id"):
        g = goals[goals["goal_id"] == gid]
        out = habit_strength(r.frames["actions"], g, until=theirs["date"].max())
        merged = theirs.merge(out, on=["goal_id", "date"], how="left")
        assert merged["score_y"].notna().all()
        np.testing.assert_allclose(merged["score_y"], merged["score_x"] / LOOP_DB_MAX, atol=1e-6)
    assert score["goal_id"].nunique() == 6
    assert goals["goal_id"].is_unique and goals["title"].duplicated().any()  # two "Vegan"


# ------------------------------------------------------------------ into the store
def test_reimport_adds_nothing_and_a_changed_row_adds_a_version(tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(loop("csv_export"), folder)
    with open_store(tmp_path / "s.db") as s:
        first = importers.run(s, "loop", folder, participant_id="alex")
        assert first.written == {"participants": 1, "goals": 2, "actions": len(first.result.frames["actions"])}
        before = s.row_counts()
        again = importers.run(s, "loop", folder, participant_id="alex")
        assert sum(again.written.values()) == 0 and s.row_counts() == before
        # a note edited in Loop: one new version of that day, nothing else
        f = folder / "002 Wake up early" / "Checkmarks.csv"
        f.write_text(f.read_text().replace("Sick", "Sick all day"))
        third = importers.run(s, "loop", folder, participant_id="alex")
        assert third.written["actions"] == 1 and third.written["goals"] == 0
        hist = s.history("actions")
        assert (hist.groupby(["date", "goal_id"]).size() == 2).sum() == 1
        assert "Sick all day" in set(s.actions()["note"].dropna())


def test_import_keeps_what_the_store_knows_about_a_participant(tmp_path):
    with open_store(tmp_path / "s.db") as s:
        s.add_participant("alex", name="Alex", consent_share=True)
        out = importers.run(s, "loop", loop("csv_export"), participant_id="alex")
        assert out.written["participants"] == 0
        p = s.participants()
        assert p.loc[0, "name"] == "Alex" and bool(p.loc[0, "consent_share"])
        assert len(s.history("participants")) == 1


def test_dry_run_counts_exactly_and_writes_nothing(tmp_path):
    with open_store(tmp_path / "s.db") as s:
        dry = importers.run(s, "loop", loop("csv_export"), participant_id="alex", dry_run=True)
        assert sum(s.row_counts().values()) == 0
        real = importers.run(s, "loop", loop("csv_export"), participant_id="alex")
        assert dry.written == real.written
        text = importers.describe(importers.run(s, "loop", loop("csv_export"),
                                                participant_id="alex", dry_run=True))
    assert "already in the store" in text and "nothing was written" in text
    assert "2015-01-16 to 2015-01-25" in text  # Checkmarks.csv's first and last day


def test_a_goal_id_of_another_participant_is_refused_naming_the_line(tmp_path):
    with open_store(tmp_path / "s.db") as s:
        s.add_participant("bo")
        s.write("goals", pd.DataFrame([{"goal_id": "alex-loop-meditate", "participant_id": "bo",
                                        "title": "x", "start_date": "2024-01-01"}]))
        before = s.row_counts()
        with pytest.raises(MasteryError, match="Habits.csv line 2") as exc:
            importers.run(s, "loop", loop("csv_export"), participant_id="alex")
        assert "belongs to 'bo'" in str(exc.value)
        assert s.row_counts() == before


# ------------------------------------------------------------------ bad inputs
def test_truncated_zip(tmp_path):
    folder = loop("csv_export")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in folder.rglob("*.csv"):
            zf.write(f, f.relative_to(folder))
    cut = tmp_path / "cut.zip"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(ImportFormatError, match="truncated|damaged"):
        importers.read("loop", cut, participant_id="alex")


def test_empty_and_wrong_files(tmp_path):
    empty = tmp_path / "Checkmarks.csv"
    empty.write_bytes(b"")
    with pytest.raises(ImportFormatError, match="empty"):
        importers.read("loop", empty, participant_id="alex")
    daylio = outside_fixture("daylio", "sample_8col.csv")
    with pytest.raises(ImportFormatError, match="no Habits.csv or Checkmarks.csv"):
        importers.read("loop", daylio, participant_id="alex")
    other = tmp_path / "Checkmarks.csv"
    other.write_text("name,age\nbo,3\n")
    with pytest.raises(ImportFormatError, match="not a Loop Checkmarks.csv header"):
        importers.read("loop", other, participant_id="alex")
    notdb = tmp_path / "x.db"
    con = sqlite3.connect(notdb)
    con.execute("create table t(a)")
    con.commit()
    con.close()
    with pytest.raises(ImportFormatError, match="no Habits and Repetitions"):
        importers.read("loop", notdb, participant_id="alex")
    with pytest.raises(ImportFormatError, match="--participant"):
        importers.read("loop", loop("csv_export"))
    with pytest.raises(ImportFormatError, match="no such file"):
        importers.read("loop", tmp_path / "missing.zip", participant_id="alex")
    with pytest.raises(ImportFormatError, match="unknown import format 'exist'.*tidy, loop"):
        importers.read("exist", loop("csv_export"), participant_id="alex")


def test_an_export_without_any_check_in_is_refused(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Habits.csv").write_text("Position,Name,Question,Description,NumRepetitions,Interval,Color\n"
                                       "001,Read,,,1,1,#aaaaaa\n")
    (folder / "Checkmarks.csv").write_text("Date,Read,\n2024-01-02,-1,\n2024-01-01,-1,\n")
    with pytest.raises(ImportFormatError, match="no check-ins at all"):
        importers.read("loop", folder, participant_id="alex")


def test_a_cut_short_line_names_file_and_line(tmp_path):
    path = tmp_path / "Checkmarks.csv"
    path.write_text("Date,Read,Run,\n2024-01-02,2,2,\n2024-01-01,2\n")
    with pytest.raises(ImportFormatError, match=r"Checkmarks.csv: line 3: 1 values for 2 habits"):
        importers.read("loop", path, participant_id="alex")


def test_invalid_goal_aborts_or_is_skipped_with_its_actions(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Habits.csv").write_text(
        "Position,Name,Question,Description,NumRepetitions,Interval,Color\n"
        "001,Read,,,1,1,#aaaaaa\n002,Run,,,3,2,#aaaaaa\n")  # 3 times in 2 days: impossible
    (folder / "Checkmarks.csv").write_text("Date,Read,Run,\n2024-01-02,2,2,\n2024-01-01,2,-1,\n")
    with open_store(tmp_path / "s.db") as s:
        with pytest.raises(ImportRowsError) as exc:
            importers.run(s, "loop", folder, participant_id="alex")
        message = str(exc.value)
        assert "Habits.csv line 3" in message and "freq_times" in message
        assert "Checkmarks.csv line 2" in message  # Run's action, orphaned with its goal
        assert "--skip-invalid" in message and sum(s.row_counts().values()) == 0
        out = importers.run(s, "loop", folder, participant_id="alex", skip_invalid=True)
        assert out.written == {"participants": 1, "goals": 1, "actions": 2}
        rejects = pd.read_csv(out.rejected_file)
        assert out.rejected_file == tmp_path / "export.rejected.csv"
        assert list(rejects.columns) == ["line", "column", "value", "expected"]
        assert set(rejects["column"]) == {"goals.freq_times", "actions.goal_id"}
