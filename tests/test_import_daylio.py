"""Daylio imports: every real export in the shared fixtures, counts checked against the file."""

import csv
import io

import pandas as pd
import pytest

from mastery_analysis import importers
from mastery_analysis.errors import ImportFormatError, MappingError
from mastery_analysis.importers.daylio import plain_text
from mastery_analysis.schema import validate
from mastery_analysis.store import open_store

from outside_fixtures import outside_fixture

FILES = ["sample_8col.csv", "sample_7col_multi.csv", "davidcdcb-estados-es/daylio_export.csv",
         "deutschegabanna-obsidian-daylio-parser-scales/daylio_export_ok_scales.csv",
         "kayraucklnc-daylio-visualizer-en/daylio_export.csv",
         "kplich-daylio-visualisation-pl/daylio_export.csv"]


def daylio(name):
    return outside_fixture("daylio", *name.split("/"))


def entries_of(path):
    """The file's entries as dicts, read with the csv module (header or not)."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    if rows[0][0] in ("full_date", "year"):
        header, body = rows[0], rows[1:]
    else:
        header, body = ["full_date", "date", "weekday", "time", "mood", "activities", "note"], rows
    return [dict(zip(header, r)) for r in body]


@pytest.mark.parametrize("name", FILES)
def test_every_export_imports_with_the_files_counts(name):
    path = daylio(name)
    r = importers.read("daylio", path, participant_id="alex")
    for table, frame in r.frames.items():
        pd.testing.assert_frame_equal(validate(table, frame), frame)
    entries = entries_of(path)
    a, g = r.frames["actions"], r.frames["goals"]
    checkin = g.loc[g["title"] == "Daylio check-in", "goal_id"].item()
    days = a[a["goal_id"] == checkin]
    # one check-in action a day, counting every entry of that day
    assert days["count"].sum() == len(entries)
    if "full_date" in entries[0]:
        assert len(days) == len({e["full_date"] for e in entries})
        assert set(days["date"].dt.strftime("%Y-%m-%d")) == {e["full_date"] for e in entries}
    # each activity: a goal, with an action on each day it was logged
    logged = {}
    for e in entries:
        for act in {" ".join(x.split()) for x in e.get("activities", "").split("|")} - {""}:
            logged.setdefault(act, set()).add(e.get("full_date") or e["date"])
    titles = g.set_index("title")["goal_id"]
    assert set(titles.index) == set(logged) | {"Daylio check-in"}
    for act, when in logged.items():
        assert (a["goal_id"] == titles[act]).sum() == len(when), act
    assert a["source"].eq("import:daylio").all()
    # the moods are all kept, in the day notes
    for e in entries:
        mood = " ".join(e["mood"].split())
        assert days["note"].str.contains(mood, regex=False).any()


def test_twelve_hour_times_and_several_entries_a_day():
    r = importers.read("daylio", daylio("sample_7col_multi.csv"), participant_id="alex")
    a = r.frames["actions"]
    day = a[(a["goal_id"] == "alex-daylio-check-in") & (a["date"] == "2020-05-30")]
    note = day["note"].item().splitlines()
    entries = [e for e in entries_of(daylio("sample_7col_multi.csv")) if e["full_date"] == "2020-05-30"]
    assert day["count"].item() == len(entries) == len(note)
    assert note == sorted(note)  # in the order of the day: 01:23 am before 6:50 pm
    assert note[-1].startswith("18:50 rad - Awesome")


def test_headerless_spanish_export_with_bom_and_custom_moods():
    path = daylio("davidcdcb-estados-es/daylio_export.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    r = importers.read("daylio", path, participant_id="alex")
    assert any("no header line" in n for n in r.notes)
    a = r.frames["actions"]
    notes = a.loc[a["goal_id"] == "alex-daylio-check-in", "note"]
    assert notes.str.contains("Sin animo").any() and notes.str.contains("Pos bien").any()


def test_old_layout_with_year_and_localized_day_names():
    path = daylio("kplich-daylio-visualisation-pl/daylio_export.csv")
    r = importers.read("daylio", path, participant_id="alex")
    entries = entries_of(path)
    assert entries[0]["date"] == "7 września"  # September, in Polish
    a = r.frames["actions"]
    dates = sorted(a["date"])
    assert dates[-1] == pd.Timestamp(int(entries[0]["year"]), 9, 7)
    # one entry a day, newest first in the file: consecutive days back from there
    assert dates == list(pd.date_range(end=dates[-1], periods=len(entries)))
    assert any("fewer fields" in n for n in r.notes)  # the line that lost its note


def test_scales_and_html_notes_become_plain_text():
    r = importers.read("daylio", daylio(FILES[3]), participant_id="alex")
    notes = "\n".join(r.frames["actions"]["note"].dropna())
    assert "Never mindd." in notes and "<b>" not in notes
    assert "Who knows.\n\nAm I [[virtual]]?" in notes
    assert "Sleep Quality: 8/10 points" in notes
    assert plain_text("a&amp;b<br/>c <script>x</script>") == "a&b\nc x"


def mapping_file(tmp_path, text):
    path = tmp_path / "daylio.yaml"
    path.write_text(text)
    return path


def test_mapping_moods_to_ratings_and_activities_to_goals(tmp_path):
    m = mapping_file(tmp_path, """
format: daylio
participant: alex
mood_element: focused
moods: {rad: 10, good: 8, meh: 5, bad: 3}
activities:
  programming: {goal: alex-code, title: Write code, element: proactive}
  walk: {goal: alex-walk, title: Walk}
  nap: skip
""")
    path = daylio("sample_7col_multi.csv")
    r = importers.read("daylio", path, mapping=m)
    entries = entries_of(path)
    value = {"rad": 10, "good": 8, "meh": 5, "bad": 3}
    ratings = r.frames["ratings"]
    for day, rating in zip(ratings["date"].dt.strftime("%Y-%m-%d"), ratings["rating"]):
        got = [value[e["mood"]] for e in entries if e["full_date"] == day and e["mood"] in value]
        mean = sum(got) / len(got)
        assert rating == int(mean + 0.5)
    assert (ratings["element"] == "focused").all()
    assert r.unmapped["moods"] == ["awful"]
    assert set(r.frames["goals"]["goal_id"]) == {"alex-code", "alex-walk"}
    a = r.frames["actions"]
    code_days = {e["full_date"] for e in entries if "programming" in e["activities"]}
    assert (a["goal_id"] == "alex-code").sum() == len(code_days)
    assert not a["goal_id"].str.contains("nap").any()
    assert any(u.startswith("friends (") for u in r.unmapped["activities"])
    with open_store(tmp_path / "s.db") as s:
        out = importers.run(s, "daylio", path, mapping=m)
        assert out.written["ratings"] == len(ratings)
        assert sum(importers.run(s, "daylio", path, mapping=m).written.values()) == 0


def test_bad_mappings_and_files(tmp_path):
    with pytest.raises(MappingError, match="mood_element"):
        importers.read("daylio", daylio(FILES[0]), participant_id="alex",
                       mapping=mapping_file(tmp_path, "moods: {rad: 10}\n"))
    with pytest.raises(MappingError, match=r"'rad': got 11, expected"):
        importers.read("daylio", daylio(FILES[0]), participant_id="alex",
                       mapping=mapping_file(tmp_path, "mood_element: focused\nmoods: {rad: 11}\n"))
    with pytest.raises(MappingError, match="unknown key 'mood'"):
        importers.read("daylio", daylio(FILES[0]), participant_id="alex",
                       mapping=mapping_file(tmp_path, "mood: {}\n"))
    with pytest.raises(ImportFormatError, match="--participant"):
        importers.read("daylio", daylio(FILES[0]))
    empty = tmp_path / "daylio_export.csv"
    empty.write_bytes(b"\xef\xbb\xbf")
    with pytest.raises(ImportFormatError, match="empty"):
        importers.read("daylio", empty, participant_id="alex")
    loop = outside_fixture("loop-habit-tracker", "csv_export", "Checkmarks.csv")
    with pytest.raises(ImportFormatError, match="not Daylio's|neither Daylio's header"):
        importers.read("daylio", loop, participant_id="alex")
    bad = tmp_path / "bad.csv"
    bad.write_text("full_date,date,weekday,time,mood,activities,note\n"
                   "2021-10-16,16 October,Saturday,18:43,good,,\n"
                   "2021-13-40,40 October,Saturday,18:43,good,,\n")
    with pytest.raises(ImportFormatError, match="line 3: date and time '2021-13-40 18:43'"):
        importers.read("daylio", bad, participant_id="alex")


def test_one_mapping_serves_several_people_from_the_command_line(tmp_path, capsys):
    from mastery_analysis.cli import main

    m = mapping_file(tmp_path, "format: daylio\nmood_element: focused\n"
                               "moods: {rad: 10, good: 8, meh: 5, bad: 3, awful: 1}\n")
    path = daylio("sample_7col_multi.csv")
    store = str(tmp_path / "s.db")
    for who in ("alex", "sam"):
        assert main(["import", "daylio", str(path), "--participant", who, "--mapping", str(m),
                     "--store", store]) == 0
    with open_store(store) as s:
        ratings = s.ratings()
    assert sorted(ratings["participant_id"].unique()) == ["alex", "sam"]
    by_person = ratings.groupby("participant_id")["rating"].apply(list)
    assert by_person["alex"] == by_person["sam"] and (ratings["element"] == "focused").all()
    # without either, the message says how to name the person
    assert main(["import", "daylio", str(path), "--mapping", str(m), "--store", store]) != 0
    assert "--participant" in capsys.readouterr().err
