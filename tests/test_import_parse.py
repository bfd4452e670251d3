"""The reader of outside files: encodings, delimiters, records, dates and numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest

from mastery_analysis.errors import AmbiguousDateError, ImportFormatError, MasteryError
from mastery_analysis.importers import _parse as P
from outside_fixtures import outside_fixture

SAMPLE = (
    "Timestamp,Name,Score,Comment\r\n"
    "31/05/2024 23:30:28,Željka,\"3,5\",\"Très bien, merci\"\r\n"
    "01/06/2024 00:10:02,José,4,\"two\nlines\"\r\n"
    "02/06/2024 09:00:00,Zoë,\"1,25\",\"She said \"\"ok\"\"\"\r\n"
)


def _cells(table):
    return table.rows.to_dict("records")


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding,expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"),
    ("cp1252", "latin-1"),
])
def test_same_csv_in_every_encoding_reads_identically(tmp_path, encoding, expected):
    path = tmp_path / f"sample-{encoding}.csv"
    # Željka is not in Windows-1252: the cp1252 copy uses a name that is
    text = SAMPLE.replace("Željka", "Jérôme")
    path.write_bytes(text.encode(encoding))
    table = P.read_table(path)
    assert table.encoding == expected
    assert table.columns == ["Timestamp", "Name", "Score", "Comment"]
    reference = list(csv.reader(io.StringIO(text, newline="")))
    assert [list(r.values()) for r in _cells(table)] == reference[1:]
    assert table.lines.tolist() == [2, 3, 5]  # the quoted line break makes line 4 part of row 2


def test_windows_1252_punctuation_is_cp1252(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("Q,Answer\n1,It’s “fine” – really\n".encode("cp1252"))
    table = P.read_table(path)
    assert table.encoding == "cp1252"
    assert table.rows.loc[0, "Answer"] == "It’s “fine” – really"


def test_utf16_without_bom_is_recognised(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes("a\tb\n1\t2\n".encode("utf-16-le"))
    table = P.read_table(path)
    assert table.delimiter == "\t" and _cells(table) == [{"a": "1", "b": "2"}]


@pytest.mark.parametrize("data,needle", [
    ("Miasto\nWałbrzych może\n".encode("cp1250"), "Western European"),  # Polish, another page
    ("Имя\nПривет\n".encode("cp1251"), "Western European"),  # Cyrillic
    (b"a,b\n1,\x81\x8d\n", "means nothing in Windows-1252"),
    (b"\xef\xbb\xbfa,b\n\xff\xfe\n", "UTF-8-SIG byte-order mark"),
    (b"a,b\x00c\n", "NUL byte"),
])
def test_undecidable_encodings_are_refused(tmp_path, data, needle):
    path = tmp_path / "odd.csv"
    path.write_bytes(data)
    with pytest.raises(ImportFormatError, match=needle) as err:
        P.read_table(path)
    assert str(path) in str(err.value) and "UTF-8" in str(err.value)


def test_real_cp1252_export_reads():
    # saved from Excel: one 0x92 apostrophe, the only non-ASCII byte in the file
    path = outside_fixture("microsoft-forms", "uvads-ds4002-hotdog-fa24", "Hot-Dog-Form-Fa24.csv")
    table = P.read_table(path)
    assert table.encoding == "cp1252"
    raw = path.read_bytes()
    at = raw.index(b"\x92")
    line = raw.count(b"\n", 0, at) + 1
    row = int(np.flatnonzero(table.lines == line)[0])
    assert any("’" in str(v) for v in table.rows.iloc[row])


# ---------------------------------------------------------------- delimiters and records


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(tmp_path, delim):
    rows = [r for r in csv.reader(io.StringIO(SAMPLE, newline=""))]
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delim, lineterminator="\r\n").writerows(rows)
    path = tmp_path / "d.csv"
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    table = P.read_table(path)
    assert table.delimiter == delim
    assert [list(r.values()) for r in _cells(table)] == rows[1:]


def test_semicolon_file_with_decimal_commas_reads_like_the_comma_file(tmp_path):
    comma = tmp_path / "comma.csv"
    comma.write_text("who,score\nann,3.5\nbob,10\ncid,1234.5\n", encoding="utf-8")
    semi = tmp_path / "semi.csv"
    semi.write_bytes("who;score\r\nann;3,5\r\nbob;10\r\ncid;1.234,5".encode("cp1252"))
    a, b = P.read_table(comma), P.read_table(semi)
    assert b.delimiter == ";" and b.decimal_hint == ","
    na = P.parse_numbers(a.rows["score"], column="score", lines=a.lines, decimal_hint=a.decimal_hint)
    nb = P.parse_numbers(b.rows["score"], column="score", lines=b.lines, decimal_hint=b.decimal_hint)
    assert na.values.tolist() == nb.values.tolist() == [3.5, 10.0, 1234.5]
    assert not na.rejected and not nb.rejected


def test_crlf_no_final_newline_and_lf_inside_quotes(tmp_path):
    path = tmp_path / "sheets.csv"
    path.write_bytes(b'Carimbo de data/hora,Q\r\n19/03/2023 21:38:14,"a\nb\nc"\r\n20/03/2023 08:00:00,x')
    table = P.read_table(path)
    assert table.lines.tolist() == [2, 5]
    assert table.rows["Q"].tolist() == ["a\nb\nc", "x"]


def test_duplicate_empty_headers_and_ragged_rows(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("Q,Other,Other,,\n1,a,b,,\n2,c\n3,d,e,f,g,h\n", encoding="utf-8")
    table = P.read_table(path)
    assert table.columns == ["Q", "Other", "Other (2)", "(column 4)", "(column 5)", "(column 6)"]
    assert table.rows.iloc[1].tolist() == ["2", "c", "", "", "", ""]
    assert table.rows.iloc[2].tolist() == ["3", "d", "e", "f", "g", "h"]
    assert any("more fields" in n for n in table.notes)


def test_trailing_empty_field_on_every_line_adds_no_column(tmp_path):
    path = tmp_path / "loopish.csv"
    path.write_text("Date,Run,Read,\n2024-01-02,2,0,\n2024-01-01,0,2,\n", encoding="utf-8")
    table = P.read_table(path)
    assert table.columns == ["Date", "Run", "Read", "(column 4)"]
    assert table.rows["(column 4)"].tolist() == ["", ""]


def test_unclosed_quote_is_refused_with_its_line(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text('a,b\n1,2\n3,"open\n4,5\n', encoding="utf-8")
    with pytest.raises(ImportFormatError, match=r"line 3"):
        P.read_table(path)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ImportFormatError, match="empty"):
        P.read_table(path)


def test_line_numbers_match_the_file_for_a_multiline_real_export():
    path = outside_fixture("typeform", "maximorose-opportunitegp-fr", "res_YvBfAdHB.csv")
    table = P.read_table(path)
    physical = path.read_bytes().split(b"\n")
    # every row's token (the '#' column) is on the line the row says it starts on
    for position in range(len(table.rows)):
        token = table.rows["#"].iloc[position]
        assert physical[table.line_of(position) - 1].decode("utf-8").startswith(token)
    with path.open(encoding="utf-8", newline="") as fh:
        assert len(table.rows) == len(list(csv.reader(fh))) - 1


# ---------------------------------------------------------------- timestamps


@pytest.mark.parametrize("text,expected", [
    ("2021/01/23 10:58:38 pm GMT+8", dt.datetime(2021, 1, 23, 22, 58, 38)),
    ("2024/06/01 12:30:27 am EEST", dt.datetime(2024, 6, 1, 0, 30, 27)),
    ("2024/06/01 12:05:00 pm EEST", dt.datetime(2024, 6, 1, 12, 5, 0)),
    ("2021/02/15 11:23:23 a.\u00a0m. EET", dt.datetime(2021, 2, 15, 11, 23, 23)),
    ("2021/02/15 1:23:23 p.\u00a0m. EET", dt.datetime(2021, 2, 15, 13, 23, 23)),
    ("2021-04-14 09:31:14", dt.datetime(2021, 4, 14, 9, 31, 14)),
    ("2021-04-14T09:31:14.250Z", dt.datetime(2021, 4, 14, 9, 31, 14, 250000)),
    ("2021-04-14", dt.datetime(2021, 4, 14)),
    ("3:26 AM", None),
])
def test_single_formats(text, expected):
    parsed = P.parse_timestamps([text], column="t")
    if expected is None:
        assert parsed.rejected and parsed.rejected[0]["value"] == text
        assert pd.isna(parsed.local.iloc[0])
    else:
        assert not parsed.rejected
        assert parsed.local.iloc[0] == pd.Timestamp(expected)
        assert parsed.day.iloc[0] == pd.Timestamp(expected.date())


def test_zone_offsets_are_kept():
    parsed = P.parse_timestamps(["2021/01/23 10:58:38 pm GMT+8", "2024/06/01 12:30:27 am EEST",
                                 "2024-06-01 10:00:00+05:30", "2024-06-01 10:00"], column="t")
    assert parsed.offset_minutes.tolist()[:3] == [480.0, 180.0, 330.0]
    assert np.isnan(parsed.offset_minutes.iloc[3])


def test_column_evidence_decides_day_first():
    values = ["8/02/2021 13:30:30", "9/02/2021 10:00:00", "13/02/2021 19:34:16"]
    parsed = P.parse_timestamps(values, column="Marca temporal")
    assert parsed.order == "dayfirst" and parsed.evidence == "13/02/2021 19:34:16"
    assert parsed.day.dt.date.tolist() == [dt.date(2021, 2, 8), dt.date(2021, 2, 9), dt.date(2021, 2, 13)]


def test_column_evidence_decides_month_first():
    parsed = P.parse_timestamps(["9/1/2024 11:27", "1/18/2024 14:18:57"], column="Start time")
    assert parsed.order == "monthfirst"
    assert parsed.local.tolist() == [pd.Timestamp(2024, 9, 1, 11, 27), pd.Timestamp(2024, 1, 18, 14, 18, 57)]


def test_ambiguous_column_is_refused_with_the_hint_and_options_decide():
    values = ["3/4/2022 0:06:44", "3/4/2022 8:01:20", ""]
    with pytest.raises(AmbiguousDateError) as err:
        P.parse_timestamps(values, column="Timestamp", source="form.csv", lines=[2, 3, 4])
    message = str(err.value)
    for needle in ("form.csv", "'Timestamp'", "3/4/2022 0:06:44", "line 2", "--dayfirst",
                   "--monthfirst", "03 April 2022", "04 March 2022"):
        assert needle in message
    assert P.parse_timestamps(values, column="Timestamp", dayfirst=True).day.iloc[0] == pd.Timestamp(2022, 4, 3)
    assert P.parse_timestamps(values, column="Timestamp", dayfirst=False).day.iloc[0] == pd.Timestamp(2022, 3, 4)
    assert pd.isna(P.parse_timestamps(values, column="Timestamp", dayfirst=False).day.iloc[2])


def test_same_day_and_month_everywhere_is_not_ambiguous():
    parsed = P.parse_timestamps(["5/5/2024 10:00", "7/7/2024 9:00"], column="t")
    assert parsed.day.dt.date.tolist() == [dt.date(2024, 5, 5), dt.date(2024, 7, 7)]


def test_two_orders_in_one_column_are_refused():
    with pytest.raises(ImportFormatError, match="mixes day-first and month-first"):
        P.parse_timestamps(["31/05/2024 10:00", "05/31/2024 10:00"], column="t")


def test_option_contradicted_by_a_cell_rejects_that_cell():
    parsed = P.parse_timestamps(["31/05/2024 10:00", "05/06/2024 10:00"], column="t",
                                lines=[7, 8], dayfirst=False)
    assert [r["line"] for r in parsed.rejected] == [7]
    assert "month-first" in parsed.rejected[0]["expected"]
    assert parsed.day.iloc[1] == pd.Timestamp(2024, 5, 6)


def test_bad_cells_are_rejected_with_their_lines():
    parsed = P.parse_timestamps(["2024-01-01 10:00", "soon", "2024-02-30", "25:00"],
                                column="when", lines=[2, 3, 5, 6])
    assert [(r["line"], r["value"]) for r in parsed.rejected] == [(3, "soon"), (5, "2024-02-30"), (6, "25:00")]
    assert all(r["column"] == "when" for r in parsed.rejected)


def test_timezone_converts_stated_zones_and_written_in():
    parsed = P.parse_timestamps(["2024/06/01 12:30:27 am EEST", "31/05/2024 23:30:28"],
                                column="t", timezone="Europe/Sarajevo")
    assert parsed.local.tolist() == [pd.Timestamp(2024, 5, 31, 23, 30, 27),
                                     pd.Timestamp(2024, 5, 31, 23, 30, 28)]
    utc = P.parse_timestamps(["2021-04-14 23:31:14"], column="Submit Date (UTC)",
                             timezone="Europe/Paris", written_in="UTC")
    assert utc.day.iloc[0] == pd.Timestamp(2021, 4, 15)
    with pytest.raises(ImportFormatError, match="unknown time zone"):
        P.parse_timestamps(["2021-04-14"], column="t", timezone="Mars/Olympus")


def test_excel_serials_and_workbook_dates():
    assert P.excel_serial_to_datetime(45555.79445601852) == dt.datetime(2024, 9, 20, 19, 4, 1)
    assert P.excel_serial_to_datetime(1) == dt.datetime(1900, 1, 1)
    assert P.excel_serial_to_datetime(61) == dt.datetime(1900, 3, 1)
    assert P.excel_serial_to_datetime(0, epoch=1904) == dt.datetime(1904, 1, 1)
    parsed = P.parse_timestamps([45555.5, dt.datetime(2024, 1, 2, 3, 4), dt.date(2024, 1, 3), -5],
                                column="t")
    assert parsed.local.tolist()[:3] == [pd.Timestamp(2024, 9, 20, 12), pd.Timestamp(2024, 1, 2, 3, 4),
                                         pd.Timestamp(2024, 1, 3)]
    assert [r["value"] for r in parsed.rejected] == [-5]


def test_timestamp_share():
    assert P.timestamp_share(["3/4/2022 0:06:44", "", "2021/01/23 10:58:38 pm GMT+8"]) == 1.0
    assert P.timestamp_share(["Agree", "3", "2021/01/23"]) == pytest.approx(1 / 3)


# ---------------------------------------------------------------- numbers


def test_numbers_with_points_commas_and_undecidable_ones():
    dots = P.parse_numbers(["3.5", "1,234.5", " 7 ", "", "x"], column="n", lines=[2, 3, 4, 5, 6])
    assert dots.values.tolist()[:3] == [3.5, 1234.5, 7.0] and np.isnan(dots.values.iloc[3])
    assert [r["line"] for r in dots.rejected] == [6]
    commas = P.parse_numbers(["3,5", "1.234,5", "−2"], column="n")
    assert commas.decimal == "," and commas.values.tolist() == [3.5, 1234.5, -2.0]
    unclear = P.parse_numbers(["1,234", "5"], column="n")
    assert unclear.values.iloc[1] == 5.0 and np.isnan(unclear.values.iloc[0])
    assert "1234 or 1.234" in unclear.rejected[0]["expected"]
    hinted = P.parse_numbers(["1,234", "5"], column="n", decimal_hint=",")
    assert hinted.values.tolist() == [1.234, 5.0]


def test_random_bytes_never_escape_as_another_exception(tmp_path):
    rng = np.random.default_rng(9)
    for i in range(200):
        path = tmp_path / f"r{i}.csv"
        path.write_bytes(rng.integers(0, 256, int(rng.integers(0, 300)), dtype=np.uint8).tobytes())
        try:
            P.read_table(path)
        except MasteryError:
            pass
