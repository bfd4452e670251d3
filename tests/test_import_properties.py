"""Property tests of the importers: whatever the bytes, a result or a MasteryError.

The reader of outside files (``importers._parse``) gets random bytes, random CSV-ish text
in random encodings and random timestamp and number columns; it must give frames (or
parsed columns) or raise a ``MasteryError``, never another exception.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mastery_analysis.errors import MasteryError
from mastery_analysis.importers import _parse as P

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# pieces that real exports are made of, so that random text often looks almost right
PIECES = st.sampled_from([",", ";", "\t", "|", '"', '""', "\n", "\r\n", "\r", " ", "\u00a0",
                          "a", "Ž", "é", "’", "1", "12", "3,5", "2024/06/01", "31/05/2024",
                          "23:30:28", "pm", "a. m.", "GMT+8", "EEST", "=1+1", "\ufeff", "\x00"])
CELL = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


def _check_table(table):
    assert isinstance(table.rows, pd.DataFrame)
    assert list(table.rows.columns) == table.columns
    assert len(set(table.columns)) == len(table.columns)
    assert len(table.lines) == len(table.rows)
    assert all(np.diff(table.lines) > 0)  # rows come in the order of their lines
    for position in range(len(table.rows)):
        assert table.line_of(position) >= 1


@SETTINGS
@given(data=st.binary(max_size=600))
def test_random_bytes_give_a_table_or_a_mastery_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "random.csv"
    path.write_bytes(data)
    try:
        table = P.read_table(path)
    except MasteryError:
        return
    _check_table(table)


@SETTINGS
@given(pieces=st.lists(PIECES, max_size=80),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]))
def test_random_csv_text_gives_a_table_or_a_mastery_error(tmp_path_factory, pieces, encoding):
    text = "".join(pieces)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    path = tmp_path_factory.mktemp("text") / "random.csv"
    path.write_bytes(data)
    try:
        table = P.read_table(path)
    except MasteryError:
        return
    _check_table(table)


@SETTINGS
@given(rows=st.lists(st.lists(CELL, min_size=1, max_size=5), min_size=1, max_size=12),
       delimiter=st.sampled_from([",", ";", "\t"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
       newline=st.sampled_from(["\n", "\r\n"]))
def test_well_formed_csv_reads_back_its_cells(tmp_path_factory, rows, delimiter, encoding, newline):
    width = max(len(r) for r in rows)
    header = [f"h{i}" for i in range(width)]
    # keep what csv itself cannot round-trip out: lone CRs and NULs in cells
    rows = [[c.replace("\r", "").replace("\x00", "") for c in r] for r in rows]
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, lineterminator=newline,
               quoting=csv.QUOTE_ALL).writerows([header] + rows)
    path = tmp_path_factory.mktemp("csv") / "table.csv"
    path.write_bytes(buf.getvalue().encode(encoding))
    table = P.read_table(path, delimiter=delimiter)
    _check_table(table)
    assert table.columns == header
    # every cell is quoted, so no record is a blank line: all rows come back, padded
    assert table.rows.values.tolist() == [r + [""] * (width - len(r)) for r in rows]
    # and the lines are the physical lines the csv module counts
    with io.StringIO(buf.getvalue(), newline="") as fh:
        reader, starts, previous = csv.reader(fh, delimiter=delimiter), [], 0
        for record in reader:
            if record:
                starts.append(previous + 1)
            previous = reader.line_num
    assert table.lines.tolist() == starts[1:]


@SETTINGS
@given(values=st.lists(st.one_of(CELL, st.sampled_from(
    ["31/05/2024 23:30:28", "8/02/2021 13:30:30", "2021/02/15 11:23:23 a.\u00a0m. EET",
     "2024/06/01 12:30:27 am EEST", "9/1/2024 11:27", "2021-04-14 09:31:14", "13/13/2024",
     "2/30/2024 10:00", "12:61", ""]), st.floats(allow_nan=True), st.integers(-10, 10**7)),
    max_size=20),
       dayfirst=st.sampled_from([None, True, False]),
       timezone=st.sampled_from([None, "Europe/Sarajevo", "UTC"]))
def test_random_timestamp_columns_parse_or_refuse(values, dayfirst, timezone):
    try:
        parsed = P.parse_timestamps(values, column="t", dayfirst=dayfirst, timezone=timezone)
    except MasteryError as exc:
        assert "'t'" in str(exc)
        return
    assert len(parsed.local) == len(values) == len(parsed.day)
    rejected = {r["line"] for r in parsed.rejected}
    for i, (v, t) in enumerate(zip(values, parsed.local), start=1):
        if i in rejected or P.is_blank(v):
            assert pd.isna(t)
        else:
            assert not pd.isna(t)


@SETTINGS
@given(values=st.lists(st.one_of(CELL, st.sampled_from(["3,5", "1.234,5", "1,234", "7", "-2.5",
                                                       "1e400", "nan", "−3"]),
                                 st.floats(), st.integers()), max_size=20),
       decimal=st.sampled_from([None, ".", ","]))
def test_random_number_columns_parse_or_reject(values, decimal):
    parsed = P.parse_numbers(values, column="n", decimal=decimal)
    assert len(parsed.values) == len(values)
    rejected = {r["line"] for r in parsed.rejected}
    for i, (v, x) in enumerate(zip(values, parsed.values), start=1):
        if i in rejected or P.is_blank(v):
            assert math.isnan(x)
        else:
            assert math.isfinite(x)


@pytest.mark.parametrize("encoding", ["utf-16", "cp1252", "utf-8-sig", "utf-8"])
def test_the_same_form_in_four_encodings_imports_identically(tmp_path, encoding):
    from mastery_analysis.importers import forms

    text = ("Timestamp,Email,Q\r\n31/05/2024 23:30:28,a@x.org,Très d'accord\r\n"
            "01/06/2024 00:10:02,b@x.org,Pas d'accord\r\n")
    path = tmp_path / f"form-{encoding}.csv"
    path.write_bytes(text.encode(encoding))
    spec = {"participant": {"column": "Email", "kind": "email"}, "phase": "baseline",
            "columns": {"Q": {"item": "pro1", "answers": {"Très d'accord": 5, "Pas d'accord": 2}}}}
    result = forms.read(path, mapping=spec)
    frame = result.frames["responses"]
    assert frame[["participant_id", "value"]].values.tolist() == [["a@x.org", 5.0], ["b@x.org", 2.0]]
    assert frame["date"].tolist() == [pd.Timestamp(2024, 5, 31), pd.Timestamp(2024, 6, 1)]
