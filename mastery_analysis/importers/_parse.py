"""Reading outside files: bytes to text, text to cells, cells to timestamps and numbers.

The one reader and the one date parser of the importers. Every importer of an outside
format (form services, Daylio, tidy CSV) reads its file with :func:`read_table` (or
:func:`decode` and :func:`iter_records` for layouts that are not one header and rows) and
its dates with :func:`parse_timestamps`, so that an encoding, a delimiter or a date format
is handled once, the same way everywhere, and is refused with a clear message when it
cannot be decided, never guessed silently.

What is decided here, and how:

- **Encoding**: a byte-order mark decides (UTF-8, UTF-16 and UTF-32 as Excel writes
  them); without one, valid UTF-8 is UTF-8, UTF-16 without a mark is recognised by its
  NUL bytes, and anything else is read as Windows-1252 (of which Latin-1 is a subset for
  every printable character) only when the text it gives looks like Western European
  text; otherwise the file is refused with a message saying to save it as UTF-8.
- **Delimiter**: ``,``, ``;``, tab or ``|``, whichever splits the first records into the
  most consistent number of fields (quotes respected).
- **Records**: quoted fields may hold delimiters, doubled quotes and line breaks; CRLF,
  LF and CR endings and a missing final newline are all fine. Each record keeps the
  physical line it starts on (1-based), counted the way an editor counts them.
- **Dates**: one column at a time. Year-first dates are read as year/month/day; other
  dates are day-first or month-first by the column's evidence (a first number above 12
  means day-first, a second number above 12 means month-first); a column with neither is
  refused with a hint naming ``--dayfirst`` and ``--monthfirst``. Times may be 24-hour or
  12-hour (``pm``, ``PM``, ``p. m.`` with a no-break space...), and a zone suffix
  (``GMT+8``, ``EEST``, ``Z``, ``+02:00``) may follow. The calendar day is the local date
  as written, unless a ``timezone`` is given, in which case every time that states its
  zone is converted to that zone first. Excel serial numbers (1900 or 1904 system) and
  date cells of a workbook are read as what they are.
- **Numbers**: decimal points or decimal commas, with thousands separators, decided per
  column; a column where ``1,234`` could mean either is refused cell by cell.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from ..errors import AmbiguousDateError, ImportFormatError

__all__ = [
    "Decoded", "RawTable", "ParsedTimes", "ParsedNumbers", "decode", "read_text",
    "sniff_delimiter", "iter_records", "read_table", "read_xlsx", "parse_timestamps",
    "parse_numbers", "timestamp_share", "excel_serial_to_datetime", "is_blank",
    "DELIMITERS",
]

DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
_SNIFF_RECORDS = 60
_SNIFF_CHARS = 256_000

# --------------------------------------------------------------------------------------
# bytes -> text


@dataclass(frozen=True)
class Decoded:
    """A file's text and the encoding it was read with (``utf-8``, ``utf-8-sig``,
    ``utf-16``, ``utf-32``, ``cp1252`` or ``latin-1``)."""

    text: str
    encoding: str


# bytes that Windows-1252 leaves undefined: a file holding them is in another code page
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
# letters of other alphabets that single-byte code pages put where Windows-1252 has these
# (Polish, Czech, Croatian, Bosnian, Cyrillic, Greek): they are refused, not guessed
_NOT_WESTERN = frozenset("ðÐþÞ")


def decode(data: bytes, *, source: str | Path = "<bytes>") -> Decoded:
    """Decode the bytes of an outside text file, or refuse them with a clear message.

    Parameters
    ----------
    data : bytes
        The whole file.
    source : str or Path
        Named in error messages.

    Returns
    -------
    Decoded
        ``text`` without any byte-order mark, and ``encoding``.

    Raises
    ------
    ImportFormatError
        When the bytes are not valid in the encoding their mark announces, hold NUL bytes
        without being UTF-16, or are neither UTF-8 nor plausible Windows-1252 text.
    """
    boms = ((codecs.BOM_UTF32_LE, "utf-32", "utf-32"), (codecs.BOM_UTF32_BE, "utf-32", "utf-32"),
            (codecs.BOM_UTF8, "utf-8-sig", "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16", "utf-16"),
            (codecs.BOM_UTF16_BE, "utf-16", "utf-16"))
    for bom, codec, name in boms:
        if data.startswith(bom):
            try:
                return Decoded(_strip_bom(data.decode(codec)), name)
            except UnicodeDecodeError as exc:
                raise ImportFormatError(
                    f"{source}: the file starts with a {name.upper()} byte-order mark but byte "
                    f"{exc.start} is not valid {name.upper()}; save it again as UTF-8") from None
    if b"\x00" in data:
        guess = _utf16_without_bom(data)
        if guess:
            try:
                return Decoded(_strip_bom(data.decode(guess)), "utf-16")
            except UnicodeDecodeError:
                pass
        at = data.index(b"\x00")
        raise ImportFormatError(
            f"{source}: byte {at} is a NUL byte, so this is not a text file (nor UTF-16); "
            f"expected a CSV or text file saved as UTF-8")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    undefined = next((i for i, b in enumerate(data) if b in _CP1252_UNDEFINED), None)
    if undefined is not None:
        raise ImportFormatError(
            f"{source}: not UTF-8 (byte {first_bad} is {data[first_bad]:#04x}), and byte "
            f"{undefined} ({data[undefined]:#04x}) means nothing in Windows-1252 or Latin-1, "
            f"so the encoding cannot be told; save the file again as UTF-8")
    text = data.decode("cp1252")
    odd = _not_western(text)
    if odd is not None:
        line = text.count("\n", 0, odd[0]) + 1
        raise ImportFormatError(
            f"{source}: not UTF-8 (byte {first_bad} is {data[first_bad]:#04x}); read as "
            f"Windows-1252 it gives {odd[1]!r} on line {line}, which does not look like "
            f"Western European text, so the encoding cannot be told; save the file again "
            f"as UTF-8")
    c1 = any(0x80 <= b <= 0x9F for b in data)
    return Decoded(text, "cp1252" if c1 else "latin-1")


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def _utf16_without_bom(data: bytes) -> str | None:
    sample = data[:4096]
    if len(sample) < 4 or len(sample) % 2:
        return None
    even, odd = sample[0::2], sample[1::2]
    share_even = even.count(0) / len(even)
    share_odd = odd.count(0) / len(odd)
    # text in UTF-16 without a mark: mostly ASCII, so every other byte is NUL
    codec = ("utf-16-le" if share_odd > 0.5 and share_even < 0.05 else
             "utf-16-be" if share_even > 0.5 and share_odd < 0.05 else None)
    if codec is None:
        return None
    text = sample.decode(codec, errors="replace")  # the sample may end inside a pair
    if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text):
        return None
    return codec


def _not_western(text: str) -> tuple[int, str] | None:
    """Where a Windows-1252 reading looks like another code page (position, snippet)."""
    for m in re.finditer(r"[^\x00-\x7f]", text):
        ch = m.group()
        i = m.start()
        snippet = text[max(0, i - 8): i + 8].replace("\n", " ")
        if ch in _NOT_WESTERN:
            return i, snippet
        # a symbol between two letters (Wa³brzych, mo¿e): a letter of another code page
        if (not unicodedata.category(ch).startswith("L") and ch not in "\u00a0’‘´`'·-–"
                and 0 < i < len(text) - 1 and text[i - 1].isalpha() and text[i + 1].isalpha()):
            return i, snippet
    # whole words of accented letters only are Cyrillic or Greek read as Windows-1252
    for m in re.finditer(r"[^\W\d_]{4,}", text):
        if not re.search(r"[A-Za-z]", m.group()):
            return m.start(), m.group()[:16]
    return None


def read_text(path: str | Path) -> Decoded:
    """Read and decode an outside text file (see :func:`decode`).

    Raises
    ------
    ImportFormatError
        When the file cannot be read or decoded.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    return decode(data, source=path)


# --------------------------------------------------------------------------------------
# text -> records


def iter_records(text: str, delimiter: str = ",", *, source: str | Path = "<text>"
                 ) -> Iterator[tuple[int, list[str]]]:
    """The records of delimited text, each with the physical line it starts on.

    Quoted fields may span lines; blank lines are skipped (and counted).

    Yields
    ------
    (int, list of str)
        The 1-based line the record starts on, and its fields as written.

    Raises
    ------
    ImportFormatError
        On a quote left open at the end of the file or a quote in the wrong place, naming
        the line.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    previous = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFormatError(
                f"{source}: line {previous + 1}: cannot split the line into fields ({exc}); "
                f"expected {_DELIMITER_NAMES.get(delimiter, repr(delimiter))}-separated "
                f"fields with every opening quote closed") from None
        start, previous = previous + 1, reader.line_num
        if fields:
            yield start, fields


def sniff_delimiter(text: str) -> str:
    """The delimiter (``,``, ``;``, tab or ``|``) that splits the first records best.

    The best delimiter gives the first record more than one field and the most records
    with the same number of fields as the first; ties go to the order of ``DELIMITERS``.
    A text with one field per line is comma-separated.
    """
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS:
        # do not judge a record cut in half at the end of the sample
        cut = max(sample.rfind("\n"), sample.rfind("\r"))
        sample = sample[:cut] if cut > 0 else sample
    best, best_score = ",", None
    for delim in DELIMITERS:
        if delim not in sample:
            continue
        counts = []
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delim)
        try:
            for fields in reader:
                if fields:
                    counts.append(len(fields))
                if len(counts) >= _SNIFF_RECORDS:
                    break
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        agree = sum(c == counts[0] for c in counts) / len(counts)
        score = (round(agree, 2), counts[0] if agree == 1 else 0)
        if best_score is None or score > best_score:
            best, best_score = delim, score
    return best


@dataclass
class RawTable:
    """The cells of one outside table, as written, with where each row came from.

    Attributes
    ----------
    source : Path
        The file.
    header : list of str
        Column headers as written (empty for a file read without a header).
    columns : list of str
        Unique column names: headers stripped of surrounding space; an empty header becomes
        ``(column N)`` (1-based position) and a repeated one ``Name (2)``, ``Name (3)``...
    rows : pandas.DataFrame
        One row per record, columns named by ``columns``. Cells of a text file are strings
        (``""`` when empty); cells of a workbook are str, int, float, datetime or ``""``.
    lines : numpy.ndarray
        For each row, the physical line of the file it starts on (1-based), or its row in
        the sheet.
    encoding, delimiter, sheet : str or None
        How the file was read (``sheet`` for workbooks, the others for text files).
    epoch : int
        The workbook's date system (1900 or 1904), used for serial numbers.
    notes : list of str
        What was repaired on the way (short rows padded, extra fields).
    """

    source: Path
    header: list[str]
    columns: list[str]
    rows: pd.DataFrame
    lines: np.ndarray
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    epoch: int = 1900
    notes: list[str] = field(default_factory=list)

    @property
    def decimal_hint(self) -> str | None:
        """``","`` when the file's delimiter implies decimal commas (``;`` or tab files)."""
        return "," if self.delimiter in (";", "\t") else None

    def line_of(self, position: int) -> int:
        """The physical line (or sheet row) of the row at ``position``."""
        return int(self.lines[position])


def unique_columns(header: Iterable) -> list[str]:
    """Unique names for headers as written (see :attr:`RawTable.columns`)."""
    out, seen = [], {}
    for i, raw in enumerate(header):
        name = "" if raw is None else str(raw).replace("\u00a0", " ").strip()
        if not name:
            name = f"(column {i + 1})"
        if name in seen:
            seen[name] += 1
            candidate = f"{name} ({seen[name]})"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name} ({seen[name]})"
            name = candidate
        seen.setdefault(name, 1)
        out.append(name)
    return out


def read_table(path: str | Path, *, header: bool = True, sheet: str | None = None,
               delimiter: str | None = None) -> RawTable:
    """Read an outside CSV/TSV/text file or XLSX workbook into a :class:`RawTable`.

    Parameters
    ----------
    path : str or Path
        A ``.xlsx``/``.xlsm`` workbook (read with openpyxl) or a delimited text file.
    header : bool
        Whether the first record names the columns. Without one, columns are named
        ``(column 1)``, ``(column 2)``...
    sheet : str, optional
        The workbook's sheet to read; the first one by default.
    delimiter : str, optional
        Skip the sniffing and split on this.

    Returns
    -------
    RawTable

    Raises
    ------
    ImportFormatError
        When the file cannot be read, decoded or split, or holds no records.
    """
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm") or _is_zip(path):
        return read_xlsx(path, header=header, sheet=sheet)
    decoded = read_text(path)
    delim = delimiter or sniff_delimiter(decoded.text)
    records = list(iter_records(decoded.text, delim, source=path))
    if not records:
        raise ImportFormatError(f"{path}: the file is empty (no records)")
    return _table_from_records(path, records, header=header, encoding=decoded.encoding,
                               delimiter=delim)


def _is_zip(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _table_from_records(path, records, *, header, encoding=None, delimiter=None, sheet=None,
                        epoch=1900) -> RawTable:
    notes: list[str] = []
    if header:
        head = [("" if h is None else str(h)) for h in records[0][1]]
        body = records[1:]
    else:
        head = []
        body = records
    width = max([len(head)] + [len(f) for _, f in body])
    if header:
        # trailing fields beyond the header that are empty everywhere (a trailing comma on
        # every data line) are dropped; filled ones get a column of their own
        filled = max([len(head)] + [_last_filled(f) + 1 for _, f in body])
        if filled > len(head):
            notes.append(f"{sum(len(f) > len(head) for _, f in body)} rows have more fields "
                         f"than the header's {len(head)}; the extra ones are columns "
                         f"'(column {len(head) + 1})' and on")
        width = filled
        head = head + [""] * (width - len(head))
    short = sum(len(f) < width for _, f in body)
    if short and header and sheet is None:  # a sheet's rows simply end at their last cell
        notes.append(f"{short} rows have fewer fields than the header; the missing ones are "
                     f"empty")
    columns = unique_columns(head if header else [""] * width)
    cells = [list(f[:width]) + [""] * (width - len(f)) for _, f in body]
    rows = pd.DataFrame(cells, columns=columns, dtype=object) if cells else pd.DataFrame(
        {c: pd.Series(dtype=object) for c in columns})
    lines = np.array([line for line, _ in body], dtype=np.int64)
    return RawTable(source=path, header=head, columns=columns, rows=rows, lines=lines,
                    encoding=encoding, delimiter=delimiter, sheet=sheet, epoch=epoch,
                    notes=notes)


def _last_filled(fields) -> int:
    for i in range(len(fields) - 1, -1, -1):
        if not is_blank(fields[i]):
            return i
    return -1


def read_xlsx(path: str | Path, *, header: bool = True, sheet: str | None = None) -> RawTable:
    """Read one sheet of a workbook (see :func:`read_table`); rows are the sheet's rows.

    Date cells come back as ``datetime``; numbers as int or float (a timestamp column of
    serial numbers is read by :func:`parse_timestamps` with the workbook's ``epoch``).
    Empty rows are skipped; columns empty in the header and in every row are dropped.
    """
    import openpyxl  # a dependency of the package, loaded only for workbooks

    path = Path(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFormatError(f"{path}: not a readable XLSX workbook ({exc})") from None
    except Exception as exc:  # openpyxl raises many kinds on broken packages
        raise ImportFormatError(
            f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    try:
        names = book.sheetnames
        if sheet is None:
            if not names:
                raise ImportFormatError(f"{path}: the workbook has no sheets")
            sheet = names[0]
        elif sheet not in names:
            raise ImportFormatError(
                f"{path}: no sheet named {sheet!r}; the sheets are {', '.join(map(repr, names))}")
        ws = book[sheet]
        if hasattr(ws, "reset_dimensions"):
            ws.reset_dimensions()  # Microsoft Forms' workbooks declare their size as A1:A1
        epoch = 1904 if getattr(book, "epoch", None) == dt.datetime(1904, 1, 1) else 1900
        records = []
        try:
            for number, values in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
                cells = ["" if v is None else (v.strip() if isinstance(v, str) and not v.strip() else v)
                         for v in values]
                if any(not is_blank(c) for c in cells):
                    records.append((number, cells))
        except ImportFormatError:
            raise
        except Exception as exc:
            raise ImportFormatError(
                f"{path}: sheet {sheet!r} cannot be read ({type(exc).__name__}: {exc})") from None
    finally:
        book.close()
    if not records:
        raise ImportFormatError(f"{path}: sheet {sheet!r} is empty")
    return _table_from_records(path, records, header=header, sheet=sheet, epoch=epoch)


def is_blank(value) -> bool:
    """True for None, NaN, NaT and strings of white space only (no-break spaces included)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float) and math.isnan(value):
        return True
    return value is pd.NaT


# --------------------------------------------------------------------------------------
# cells -> timestamps

# zone abbreviations seen in form exports, as minutes east of UTC (ambiguous ones such as
# IST are left out: a time carrying one keeps its local day but cannot be converted)
ZONE_OFFSETS = {
    "Z": 0, "UTC": 0, "GMT": 0, "UT": 0, "WET": 0, "WEST": 60, "BST": 60, "CET": 60,
    "CEST": 120, "MET": 60, "MEST": 120, "EET": 120, "EEST": 180, "MSK": 180, "TRT": 180,
    "SAST": 120, "CAT": 120, "EAT": 180, "WAT": 60, "GST": 240, "PKT": 300, "HKT": 480,
    "SGT": 480, "AWST": 480, "JST": 540, "KST": 540, "ACST": 570, "ACDT": 630,
    "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780, "WIB": 420, "PHT": 480,
    "EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420, "MDT": -360,
    "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600, "NST": -210,
    "NDT": -150, "AST": -240, "ADT": -180, "BRT": -180, "ART": -180, "CLT": -240,
    "COT": -300, "PET": -300,
}

_TS = re.compile(
    r"""^(?:
        (?P<y>\d{4})[-/.](?P<ym>\d{1,2})[-/.](?P<yd>\d{1,2})      # 2021/01/23, 2021-04-14
      | (?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<c>\d{4}|\d{2})  # 31/05/2024, 9/1/24
    )
    (?:(?:\s*,\s*|\s+|T)
        (?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?
        (?:\s*(?P<ampm>[aApP])\.?\s?[mM]\.?)?
    )?
    (?:\s*(?:
        (?P<zone>Z|[A-Z]{2,5})?\s?(?P<off>[+-−]\d{1,2}(?::?\d{2})?)?
    ))?
    \s*$""",
    re.VERBOSE,
)

_SERIAL_MAX = 2_958_465  # 9999-12-31 in the 1900 system


def excel_serial_to_datetime(serial: float, *, epoch: int = 1900) -> dt.datetime:
    """The wall-clock datetime an Excel serial number stands for.

    In the 1900 system serial 1 is 1900-01-01 and serial 61 is 1900-03-01 (Excel counts a
    29 February 1900 that never was); in the 1904 system serial 0 is 1904-01-01. Times are
    rounded to the millisecond (serials are stored as binary fractions of a day).

    Raises
    ------
    ValueError
        For a serial outside Excel's range.
    """
    if isinstance(serial, bool) or not isinstance(serial, (int, float, np.integer, np.floating)):
        raise ValueError(f"not a number: {serial!r}")
    serial = float(serial)
    if not math.isfinite(serial) or serial < 0 or serial > _SERIAL_MAX:
        raise ValueError(f"serial {serial} is outside Excel's dates")
    if epoch == 1904:
        base = dt.datetime(1904, 1, 1)
    else:
        if serial < 1:
            raise ValueError(f"serial {serial} is before 1900-01-01")
        base = dt.datetime(1899, 12, 31) if serial < 61 else dt.datetime(1899, 12, 30)
    millis = round(serial * 86_400_000)
    return base + dt.timedelta(milliseconds=millis)


@dataclass
class ParsedTimes:
    """A timestamp column, read.

    Attributes
    ----------
    local : pandas.Series
        ``datetime64[ns]`` wall-clock times as written (or converted to ``timezone`` when
        one was given), NaT where the cell was empty or rejected; same index as the input.
    day : pandas.Series
        ``datetime64[ns]`` at midnight: the calendar day of ``local``.
    offset_minutes : pandas.Series
        The zone the cell stated, in minutes east of UTC (float, NaN when it stated none or
        one this reader does not know).
    rejected : list of dict
        One dict per cell that is not a date: ``line``, ``column``, ``value``, ``expected``.
    order : str or None
        ``"dayfirst"`` or ``"monthfirst"`` when the column had dates in that order (and how
        it was decided is in ``decided_by``), ``None`` when every date was year-first or a
        workbook date.
    decided_by : str
        ``"evidence"`` (a value named in ``evidence``), ``"option"`` or ``""``.
    evidence : str
        The value that decided the order, when the column did.
    """

    local: pd.Series
    day: pd.Series
    offset_minutes: pd.Series
    rejected: list[dict]
    order: str | None = None
    decided_by: str = ""
    evidence: str = ""


_EXPECTED_TS = ("a date and time such as 2024-05-31 23:30, 31/05/2024 23:30:28 or "
                "2021/01/23 10:58:38 pm GMT+8")


def _split(value: str):
    """The parts of one date string, or None when it is not a date."""
    text = value.replace("\u00a0", " ").replace("\u202f", " ").strip()
    m = _TS.match(text)
    if not m:
        return None
    g = m.groupdict()
    zone, off = g["zone"], g["off"]
    offset = None
    if off:
        sign = -1 if off[0] in "-−" else 1
        digits = off[1:].replace(":", "")
        hours, minutes = (int(digits[:-2]), int(digits[-2:])) if len(digits) > 2 else (int(digits), 0)
        if hours > 14 or minutes > 59:
            return None
        offset = sign * (hours * 60 + minutes)
        if zone not in (None, "GMT", "UTC", "UT"):
            return None  # "EET+2" is not a form service's way of writing a zone
    elif zone:
        offset = ZONE_OFFSETS.get(zone, math.nan)
    time = None
    if g["H"] is not None:
        hour, minute = int(g["H"]), int(g["M"])
        second = int(g["S"] or 0)
        micro = int((g["f"] or "0")[:6].ljust(6, "0"))
        if g["ampm"]:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if g["ampm"] in "pP" else 0)
        if hour > 23 or minute > 59 or second > 59:
            return None
        time = (hour, minute, second, micro)
    if g["y"] is not None:
        return ("ymd", int(g["y"]), int(g["ym"]), int(g["yd"]), time, offset)
    year = int(g["c"])
    if len(g["c"]) == 2:
        year += 2000 if year < 30 else 1900  # Excel's two-digit-year rule
    return ("ab", int(g["a"]), int(g["b"]), year, time, offset)


def _build(parts, order: str | None):
    kind, p1, p2, p3, time, offset = parts
    if kind == "ymd":
        y, m, d = p1, p2, p3
    elif order == "monthfirst":
        m, d, y = p1, p2, p3
    else:
        d, m, y = p1, p2, p3
    hour, minute, second, micro = time or (0, 0, 0, 0)
    try:
        return dt.datetime(y, m, d, hour, minute, second, micro), offset
    except ValueError:
        return None


def timestamp_share(values: Iterable) -> float:
    """The share of non-empty cells that read as dates (in either order), from 0 to 1.

    Used to find a form's timestamp column by reading it rather than by its header.
    """
    total = hits = 0
    for v in values:
        if is_blank(v):
            continue
        total += 1
        if isinstance(v, (dt.datetime, dt.date, pd.Timestamp)):
            hits += 1
        elif isinstance(v, str):
            parts = _split(v)
            if parts is not None and (_build(parts, "dayfirst") or _build(parts, "monthfirst")):
                hits += 1
    return hits / total if total else 0.0


def parse_timestamps(values, *, column: str, source: str | Path = "", lines=None,
                     dayfirst: bool | None = None, timezone: str | None = None,
                     written_in: str | None = None, epoch: int = 1900) -> ParsedTimes:
    """Read one column of outside timestamps (see the module's description for the rules).

    Parameters
    ----------
    values : sequence
        The cells: strings as written, or workbook values (``datetime``, ``date``, Excel
        serial numbers as int/float).
    column : str
        The column's name, for messages and ``rejected``.
    source : str or Path
        The file, for messages.
    lines : sequence of int, optional
        The physical line (or sheet row) of each cell, for ``rejected``; positions from 1
        by default.
    dayfirst : bool, optional
        ``True`` reads ``a/b/yyyy`` as day/month, ``False`` as month/day; ``None`` (the
        default) decides from the column and refuses when it cannot.
    timezone : str, optional
        An IANA zone (``Europe/Sarajevo``). Times that state their zone (and, with
        ``written_in``, all times) are converted to it before the day is taken.
    written_in : str, optional
        The zone that times without a suffix are written in (``UTC`` for Typeform's
        ``Submit Date (UTC)``); only used with ``timezone``.
    epoch : int
        1900 or 1904: the date system of serial numbers.

    Returns
    -------
    ParsedTimes

    Raises
    ------
    AmbiguousDateError
        When ``dayfirst`` is None and the column's dates read both ways, naming the column,
        an example and the ``--dayfirst``/``--monthfirst`` options.
    ImportFormatError
        When the column holds both a day above 12 in first place and one in second place
        (two orders in one column), or ``timezone`` is not a known zone.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    index = series.index
    cells = series.tolist()
    line_list = list(lines) if lines is not None else list(range(1, len(cells) + 1))
    tz = _zone(timezone, source) if timezone else None
    assumed = _zone(written_in, source) if (written_in and timezone) else None

    parsed: list = [None] * len(cells)  # (datetime, offset) or None
    rejected: list[dict] = []
    pending: dict[str, list[int]] = {}
    split_cache: dict[str, object] = {}
    for i, v in enumerate(cells):
        if is_blank(v):
            continue
        if isinstance(v, pd.Timestamp):
            parsed[i] = (v.to_pydatetime().replace(tzinfo=None), _tz_minutes(v))
        elif isinstance(v, dt.datetime):
            parsed[i] = (v.replace(tzinfo=None), _tz_minutes(v))
        elif isinstance(v, dt.date):
            parsed[i] = (dt.datetime(v.year, v.month, v.day), None)
        elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            try:
                parsed[i] = (excel_serial_to_datetime(v, epoch=epoch), None)
            except ValueError:
                rejected.append(_reject(line_list[i], column, v, "an Excel date serial number "
                                        "or " + _EXPECTED_TS))
        elif isinstance(v, str):
            parts = split_cache.get(v, _MISSING)
            if parts is _MISSING:
                parts = split_cache[v] = _split(v)
            if parts is None:
                rejected.append(_reject(line_list[i], column, v, _EXPECTED_TS))
            else:
                pending.setdefault(v, []).append(i)
        else:
            rejected.append(_reject(line_list[i], column, v, _EXPECTED_TS))

    order, decided_by, evidence = _decide_order(
        {v: split_cache[v] for v in pending}, dayfirst=dayfirst, column=column, source=source,
        lines={v: line_list[rows[0]] for v, rows in pending.items()})
    for v, rows in pending.items():
        built = _build(split_cache[v], order)
        for i in rows:
            if built is None:
                what = ("a real calendar date" if order is None or split_cache[v][0] == "ymd"
                        else f"a real calendar date read {_ORDER_WORDS[order]}")
                rejected.append(_reject(line_list[i], column, v, what))
            else:
                parsed[i] = built

    local = [pd.NaT] * len(cells)
    offsets = [math.nan] * len(cells)
    for i, item in enumerate(parsed):
        if item is None:
            continue
        when, offset = item
        if offset is not None and not (isinstance(offset, float) and math.isnan(offset)):
            offsets[i] = float(offset)
        if tz is not None:
            if offsets[i] == offsets[i]:  # not NaN
                when = _convert(when, dt.timezone(dt.timedelta(minutes=offsets[i])), tz)
            elif offset is not None:  # a zone this reader cannot place
                rejected.append(_reject(line_list[i], column, cells[i],
                                        f"a time zone it can convert to {timezone} (GMT+N, "
                                        f"UTC+N or a common abbreviation such as CEST)"))
                continue
            elif assumed is not None:
                when = _convert(when, assumed, tz)
        local[i] = when
    local_series = pd.Series(pd.to_datetime(pd.Series(local, dtype=object), errors="coerce"),
                             dtype="datetime64[ns]")
    local_series.index = index
    rejected.sort(key=lambda r: (r["line"], r["column"]))
    return ParsedTimes(
        local=local_series, day=local_series.dt.normalize(),
        offset_minutes=pd.Series(offsets, index=index, dtype=float), rejected=rejected,
        order=order, decided_by=decided_by, evidence=evidence)


_MISSING = object()
_ORDER_WORDS = {"dayfirst": "day-first (dd/mm/yyyy)", "monthfirst": "month-first (mm/dd/yyyy)"}


def _decide_order(parts_by_value: dict, *, dayfirst, column, source, lines):
    ab = {v: p for v, p in parts_by_value.items() if p[0] == "ab"}
    if not ab:
        return None, "", ""
    if dayfirst is not None:
        return ("dayfirst" if dayfirst else "monthfirst"), "option", ""
    day_first = [v for v, p in ab.items() if p[1] > 12 and p[2] <= 12]
    month_first = [v for v, p in ab.items() if p[2] > 12 and p[1] <= 12]
    where = f"{source}: " if source else ""
    if day_first and month_first:
        a, b = min(day_first, key=lines.get), min(month_first, key=lines.get)
        raise ImportFormatError(
            f"{where}column '{column}' mixes day-first and month-first dates: {a!r} (line "
            f"{lines[a]}) can only be day/month, {b!r} (line {lines[b]}) only month/day; "
            f"fix the column so that all its dates are written the same way")
    if day_first:
        v = min(day_first, key=lines.get)
        return "dayfirst", "evidence", v
    if month_first:
        v = min(month_first, key=lines.get)
        return "monthfirst", "evidence", v
    undecided = [v for v, p in ab.items() if p[1] != p[2]]
    if not undecided:
        return "dayfirst", "evidence", ""  # 5/5/2024 everywhere: both orders agree
    v = min(undecided, key=lines.get)
    p = ab[v]
    as_day = _build(p, "dayfirst")
    as_month = _build(p, "monthfirst")
    fmt = lambda b: b[0].strftime("%d %B %Y") if b else "no date"  # noqa: E731
    raise AmbiguousDateError(
        f"{where}column '{column}': dates such as {v!r} (line {lines[v]}) read both ways "
        f"({fmt(as_day)} day-first, {fmt(as_month)} month-first) and no date in the column "
        f"has a day above 12 to tell which; run again with --dayfirst (dd/mm/yyyy) or "
        f"--monthfirst (mm/dd/yyyy)")


def _reject(line, column, value, expected) -> dict:
    return {"line": int(line), "column": column, "value": value, "expected": expected}


def _tz_minutes(value):
    off = value.utcoffset() if getattr(value, "tzinfo", None) is not None else None
    return None if off is None else off.total_seconds() / 60


def _zone(name: str, source):
    import zoneinfo

    if name.upper() in ("UTC", "GMT", "Z"):
        return dt.timezone.utc
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        where = f"{source}: " if source else ""
        raise ImportFormatError(
            f"{where}unknown time zone {name!r}; expected an IANA name such as "
            f"Europe/Sarajevo or America/New_York") from None


def _convert(when: dt.datetime, from_zone, to_zone) -> dt.datetime:
    return when.replace(tzinfo=from_zone).astimezone(to_zone).replace(tzinfo=None)


# --------------------------------------------------------------------------------------
# cells -> numbers


@dataclass
class ParsedNumbers:
    """A number column, read.

    Attributes
    ----------
    values : pandas.Series
        float, NaN where the cell was empty or rejected; same index as the input.
    rejected : list of dict
        ``line``, ``column``, ``value``, ``expected`` per cell that is not a number.
    decimal : str
        The decimal separator used for strings (``"."`` or ``","``).
    """

    values: pd.Series
    rejected: list[dict]
    decimal: str


_NUM_DOT = re.compile(r"^[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d*)?$|^[+-]?\.\d+$")
_NUM_COMMA = re.compile(r"^[+-]?(?:\d+|\d{1,3}(?:[.\u00a0 ]\d{3})+)(?:,\d*)?$|^[+-]?,\d+$")
_COMMA_FRACTION = re.compile(r"^[+-]?\d+,(\d+)$")
_DOT_FRACTION = re.compile(r"^[+-]?\d*\.\d+$")
_THOUSANDS_ONLY = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+$")


def parse_numbers(values, *, column: str, lines=None, decimal: str | None = None,
                  decimal_hint: str | None = None) -> ParsedNumbers:
    """Read one column of outside numbers, with decimal points or decimal commas.

    Parameters
    ----------
    values : sequence
        Strings as written, or workbook numbers.
    column : str
        For ``rejected``.
    lines : sequence of int, optional
        The physical line of each cell; positions from 1 by default.
    decimal : str, optional
        ``"."`` or ``","`` to impose the separator; by default the column decides: a comma
        followed by other than three digits (``3,5``) or a dot and comma in that order
        (``1.234,5``) means decimal commas.
    decimal_hint : str, optional
        The separator the file's layout implies (``","`` for ``;``- or tab-separated
        files), used when the column alone cannot tell.

    Returns
    -------
    ParsedNumbers
        A cell such as ``1,234`` in a column that cannot tell a decimal comma from a
        thousands separator is rejected rather than guessed.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    cells = series.tolist()
    line_list = list(lines) if lines is not None else list(range(1, len(cells) + 1))
    texts = {_clean_number(v) for v in cells if isinstance(v, str) and not is_blank(v)}
    if decimal is None:
        comma_fracs = [m.group(1) for t in texts if (m := _COMMA_FRACTION.match(t))]
        dots = any(_DOT_FRACTION.match(t) for t in texts)
        european = any(re.match(r"^[+-]?\d{1,3}(?:\.\d{3})+,\d*$", t) for t in texts)
        if european or (comma_fracs and not dots and any(len(f) != 3 for f in comma_fracs)):
            decimal = ","
        elif dots or not comma_fracs:
            decimal = "."
        else:
            decimal = decimal_hint or ""  # only 1,234-like values: undecided
    out = np.full(len(cells), np.nan)
    rejected = []
    for i, v in enumerate(cells):
        if is_blank(v):
            continue
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            f = float(v)
            if math.isfinite(f):
                out[i] = f
                continue
            rejected.append(_reject(line_list[i], column, v, "a finite number"))
            continue
        t = _clean_number(v) if isinstance(v, str) else None
        number = _to_float(t, decimal) if t is not None else None
        if number is None:
            if t is not None and decimal == "" and _THOUSANDS_ONLY.match(t):
                expected = (f"a number whose decimal separator the column shows ({t!r} "
                            f"could be {t.replace(',', '')} or {t.replace(',', '.')})")
            else:
                sep = "comma" if decimal == "," else "point"
                expected = f"a number (with a decimal {sep})"
            rejected.append(_reject(line_list[i], column, v, expected))
        else:
            out[i] = number
    return ParsedNumbers(pd.Series(out, index=series.index), rejected, decimal or "?")


def _clean_number(v: str) -> str:
    return v.strip().replace("\u2212", "-").replace("\u202f", "\u00a0")


def _to_float(t: str, decimal: str) -> float | None:
    if decimal in (".", "") and _NUM_DOT.match(t):
        if decimal == "" and "," in t and "." not in t:
            return None
        number = float(t.replace(",", ""))
    elif decimal == "," and _NUM_COMMA.match(t):
        number = float(t.replace(".", "").replace("\u00a0", "").replace(" ", "").replace(",", "."))
    elif decimal == "" and re.match(r"^[+-]?\d+$", t):
        number = float(t)
    else:
        return None
    return number if math.isfinite(number) else None
