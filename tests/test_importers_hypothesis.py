"""Property tests: malformed and random files given to every importer.

Each importer must either return frames that pass their schemas or raise a
``MasteryError`` (never another exception), and a failed import must leave the store
exactly as it was; a successful one, run again, must add nothing.
"""

import csv
import io

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mastery_analysis import importers
from mastery_analysis.errors import MasteryError
from mastery_analysis.schema import validate
from mastery_analysis.store import DATA_TABLES, open_store

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])

HEADERS = {
    "tidy": [["participant_id", "date", "element", "rating", "kind", "note"],
             ["goal_id", "participant_id", "title", "freq_times", "freq_days", "start_date"],
             ["participant_id", "date", "goal_id", "count", "minutes", "note"],
             ["participant_id", "name", "cohort", "joined_on", "consent_share"],
             ["participant_id", "date", "goal_id", "percent"],
             ["participant_id", "date", "phase", "instrument", "item", "value"]],
    "loop": [["Date", "Meditate", "Run", ""], ["Date", "Value", "Notes"],
             ["Position", "Name", "Question", "Description", "NumRepetitions", "Interval", "Color"],
             ["Position", "Name", "Type", "Question", "Description", "FrequencyNumerator",
              "FrequencyDenominator", "Color", "Unit", "Target Type", "Target Value", "Archived?"]],
    "daylio": [["full_date", "date", "weekday", "time", "mood", "activities", "note"],
               ["full_date", "date", "weekday", "time", "mood", "activities", "note_title", "note"],
               ["full_date", "date", "weekday", "time", "mood", "activities", "scales",
                "note_title", "note"], ["year", "date", "weekday", "time", "mood", "activities", "note"]],
    "forms": [["Timestamp", "How focused were you? [Work]", "Email Address", "Your code"],
              ["Marca temporal", "Estoy motivado", "Correo"],
              ["ID", "Start time", "Completion time", "Email", "Name", "Last modified time", "Q1"],
              ["#", "Q1", "Start Date (UTC)", "Submit Date (UTC)", "Network ID"]],
}
FILE_NAMES = {"tidy": ["ratings.csv", "goals.csv", "actions.csv", "participants.csv",
                       "progress.csv", "responses.csv"],
              "loop": ["Checkmarks.csv", "Checkmarks.csv", "Habits.csv", "Habits.csv"],
              "daylio": ["daylio_export.csv"] * 4, "forms": ["responses.csv"] * 4}

words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=10)
cells = st.one_of(
    words,
    st.integers(-3, 12_000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " ", "2024-01-31", "31/01/2024", "01/02/2024", "2021/01/23 10:58:38 pm GMT+8",
                     "6:50 pm", "14:58", "25:99", "2024-02-30", "YES_MANUAL", "YES_AUTO", "NO", "SKIP",
                     "UNKNOWN", "2", "-1", "1000", "rad", "meh", "sad ", "a | b | c", "<b>x</b><br>",
                     "Entry(timestamp=2024-01-01", " value=2)", "=1+1", "'", '"', "\r\n", "true",
                     "focused", "current", "vision", "baseline", "p1", "p 1", "x" * 300, "Strongly agree",
                     "1,5", "1.234,5", "45555.79", "nan", "None"]),
)


@st.composite
def csv_bytes(draw, fmt):
    choice = draw(st.integers(0, len(HEADERS[fmt]) - 1))
    header = list(HEADERS[fmt][choice])
    if draw(st.booleans()):  # mutate the header: drop, repeat or add a column
        header = draw(st.permutations(header))[: draw(st.integers(0, len(header) + 1))]
        header += draw(st.lists(words, max_size=2))
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=len(header) + 2), max_size=8))
    with_header = draw(st.booleans()) or fmt == "tidy"
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=draw(st.sampled_from([",", ",", ";", "\t"])))
    if with_header:
        writer.writerow(header)
    writer.writerows(rows)
    text = buf.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 9)) == 0:  # cut short
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.integers(0, 19)) == 0:  # noise
        data = draw(st.binary(max_size=200))
    return FILE_NAMES[fmt][choice], data


def read_or_refuse(fmt, path, **options):
    try:
        return importers.read(fmt, path, **options)
    except MasteryError:
        return None


def check_frames(result):
    assert list(result.rejected.columns) == ["line", "column", "value", "expected"]
    for table, frame in result.frames.items():
        assert table in DATA_TABLES and len(frame)
        pd.testing.assert_frame_equal(validate(table, frame), frame)


@pytest.mark.parametrize("fmt", ["tidy", "loop", "daylio"])
@SETTINGS
@given(data=st.data())
def test_random_files_give_valid_frames_or_a_mastery_error(tmp_path_factory, fmt, data):
    name, content = data.draw(csv_bytes(fmt))
    folder = tmp_path_factory.mktemp(fmt)
    path = folder / name
    path.write_bytes(content)
    if fmt == "loop" and name == "Habits.csv" and data.draw(st.booleans()):
        _, marks = data.draw(csv_bytes("loop"))
        (folder / "Checkmarks.csv").write_bytes(marks)
        path = folder
    result = read_or_refuse(fmt, path, participant_id="p1")
    if result is not None:
        check_frames(result)


@pytest.mark.parametrize("fmt", ["forms", "google_forms", "microsoft_forms", "typeform"])
@SETTINGS
@given(data=st.data())
def test_random_form_exports_with_their_suggested_mapping(tmp_path_factory, fmt, data):
    from mastery_analysis.importers.mapping import suggest_mapping

    name, content = data.draw(csv_bytes("forms"))
    folder = tmp_path_factory.mktemp(fmt)
    path = folder / name
    path.write_bytes(content)
    assert read_or_refuse(fmt, path) is None or True  # without a mapping: a MasteryError or frames
    try:
        draft = suggest_mapping(path)
    except MasteryError:
        return
    mapping = folder / "mapping.yaml"
    mapping.write_text(draft, encoding="utf-8")
    for option in ({}, {"dayfirst": True}):
        result = read_or_refuse(fmt, path, mapping=mapping, **option)
        if result is not None:
            check_frames(result)


def snapshot(store):
    return {t: store.history(t).drop(columns=["recorded_at"], errors="ignore") for t in DATA_TABLES}


@pytest.mark.parametrize("fmt", ["tidy", "loop", "daylio"])
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_a_failed_import_leaves_the_store_unchanged_and_a_good_one_is_idempotent(
        tmp_path_factory, fmt, data):
    folder = tmp_path_factory.mktemp(f"store-{fmt}")
    name, content = data.draw(csv_bytes(fmt))
    path = folder / name
    path.write_bytes(content)
    with open_store(folder / "s.db") as s:
        s.add_participant("p1", name="P One", consent_share=True)
        s.write("goals", pd.DataFrame([{"goal_id": "p1-g", "participant_id": "p1", "title": "G",
                                        "start_date": "2024-01-01"}]))
        s.record_checkin("p1", "2024-01-02", ratings={"focused": 4}, actions={"p1-g": 1})
        before = snapshot(s)
        skip = data.draw(st.booleans())
        try:
            importers.run(s, fmt, path, participant_id="p1", skip_invalid=skip)
        except MasteryError:
            after = snapshot(s)
            for t in DATA_TABLES:
                pd.testing.assert_frame_equal(after[t], before[t], obj=t)
            return
        once = snapshot(s)
        again = importers.run(s, fmt, path, participant_id="p1", skip_invalid=True)
        assert sum(again.written.values()) == 0
        for t in DATA_TABLES:
            pd.testing.assert_frame_equal(snapshot(s)[t], once[t], obj=t)
        people = s.participants().set_index("participant_id")
        assert people.at["p1", "name"] == "P One" or fmt == "tidy"  # imports that know less keep it
