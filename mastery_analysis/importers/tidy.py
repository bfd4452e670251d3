"""Our own layout: the tidy tables as CSV, XLSX or Parquet, both ways.

Reading (:func:`read`): a folder of ``<table>.csv`` / ``<table>.xlsx`` / ``<table>.parquet``
files (what ``mastery export`` writes), one such file, or one workbook with a sheet per
table (``mastery export --format xlsx``, or the template filled in). Columns are those of
DESIGN.md; ``recorded_at`` and ``version_id`` are the store's and are not read back (an
export with ``--history`` gives the latest version of each key). CSV text is read by the
importers' one reader (encoding, delimiter, decimal commas, day-first or month-first dates
decided per column), so a template filled in by a spreadsheet in any locale reads right.

Writing (:func:`write_tables`, :func:`write_template`): CSV and XLSX with text cells that a
spreadsheet would run as a formula neutralised (OWASP "CSV injection": a cell starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``), which
:func:`read` takes off again, so an export imported into an empty store gives the same
frames back.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ImportFormatError, StoreError
from ..schema import BOOL_COLUMNS, FLOAT_COLUMNS, INT_COLUMNS, TABLES
from ._parse import parse_numbers, parse_timestamps, read_table
from ._result import ImportResult, sort_rejected, validate_frames

TABLE_ORDER = ("participants", "goals", "ratings", "actions", "progress", "responses")
# a person's self-experiments: read here, kept by ``Store.import_experiments`` (the checks
# of a plan made with ``mastery experiment plan``), not by the tidy tables' validation
EXPERIMENT_TABLES = ("experiments", "experiment_schedule", "adherence")
_EXP_INTS = ("period_days", "periods", "washout_days", "seed", "period", "version_id", "plan_version")
_EXP_BOOLS = ("washout", "followed")
STORE_COLUMNS = ("recorded_at", "version_id")  # set by the store, never imported
# a cell a spreadsheet would run: starting with = + - @ tab or CR, after any quotes we added
_FORMULA = re.compile(r"^'*[=+\-@\t\r]")
_QUOTED = re.compile(r"^'+[=+\-@\t\r]")
WORKBOOK = "mastery.xlsx"


# ----------------------------------------------------------------------------- formulas
def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas.

    A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (after
    any leading quotes) gets one more leading ``'``; :func:`restore_formulas` undoes it.
    Numbers, dates and flags are left alone.
    """
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            text = s.map(lambda v: "'" + v if isinstance(v, str) and _FORMULA.match(v) else v)
            out[col] = text.astype(object)
    return out


def restore_formulas(series: pd.Series) -> pd.Series:
    """Undo :func:`neutralise_formulas` on a column of text."""
    text = series.astype(object)
    quoted = text.map(lambda v: isinstance(v, str) and v[:1] == "'")  # the rare case, checked exactly
    if quoted.any():
        text = text.copy()
        text[quoted] = text[quoted].map(lambda v: v[1:] if _QUOTED.match(v) else v)
    return text


# ----------------------------------------------------------------------------- writing
def write_workbook(frames: dict[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """Write ``frames`` (table -> frame) as one XLSX workbook with a sheet per table.

    Text is neutralised (:func:`neutralise_formulas`) and written as text cells; dates as
    ``yyyy-mm-dd`` dates; the header row is frozen. Returns the path.
    """
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    path = Path(path)
    book = openpyxl.Workbook(write_only=True)  # streams rows: fast on large tables
    bold = Font(bold=True)
    for table, frame in frames.items():
        sheet = book.create_sheet(table)
        # neutralised text never starts with "=", so openpyxl never takes it for a formula
        safe = neutralise_formulas(frame)
        for col in safe.columns:
            s = safe[col]
            if pd.api.types.is_datetime64_any_dtype(s):
                if getattr(s.dt, "tz", None) is not None:
                    safe[col] = s.dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z").where(s.notna(), None)
                else:
                    safe[col] = [None if pd.isna(v) else v.date() for v in s]
        for i, col in enumerate(safe.columns, start=1):
            width = max([len(str(col))] + [len(str(v)) for v in safe[col].head(200) if v is not None])
            sheet.column_dimensions[openpyxl.utils.get_column_letter(i)].width = min(60, width + 2)
        sheet.freeze_panes = "A2"
        header = []
        for col in safe.columns:
            cell = WriteOnlyCell(sheet, value=str(col))
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in safe.astype(object).itertuples(index=False, name=None):
            sheet.append([_cell(v) for v in row])
    book.save(path)
    return path


def _cell(v):
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def write_tables(frames: dict[str, pd.DataFrame], directory: str | os.PathLike, *,
                 format: str = "csv") -> list[Path]:
    """Write tables into ``directory``: ``<table>.csv``, ``<table>.parquet``, or one
    ``mastery.xlsx``; all files or none (written beside, then moved into place).

    CSV and XLSX text is neutralised against formula injection; Parquet keeps types and
    is not opened by spreadsheets, so it is written as it is.
    """
    if format not in ("csv", "parquet", "xlsx"):
        raise StoreError(f"unknown export format '{format}'; use csv, xlsx or parquet")
    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target))
    except OSError as exc:
        raise StoreError(f"cannot write to {target}: {exc.strerror}") from None
    try:
        written = []
        if format == "xlsx":
            written.append(write_workbook(frames, staging / WORKBOOK))
        for name, frame in frames.items() if format != "xlsx" else ():
            path = staging / f"{name}.{format}"
            if format == "csv":
                neutralise_formulas(frame).to_csv(path, index=False, date_format="%Y-%m-%d")
            else:
                frame.to_parquet(path, index=False)
            written.append(path)
        final = []
        for path in written:
            dest = target / path.name
            os.replace(path, dest)
            final.append(dest)
        return final
    except OSError as exc:  # a full disk, say: one clear message, not a traceback
        raise StoreError(f"cannot write the export to {target}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


COLUMN_HELP = {
    "participant_id": "the person's id: letters, digits, '_', '.', '@' or '-' (at most 64)",
    "name": "the person's name (optional)",
    "cohort": "the cohort id (optional)",
    "joined_on": "the day they joined, yyyy-mm-dd (optional)",
    "consent_share": "true if they agree to be shown by name in cohort views (default false)",
    "access_code_hash": "leave empty: access codes are issued with `mastery` itself",
    "date": "the participant's calendar day, yyyy-mm-dd",
    "element": "one of the framework's element keys (career_mastery: proactive, connect, "
               "informed, focused, potential)",
    "rating": "a whole number on the framework's scale (1 to 10 by default)",
    "kind": "current (default) or vision",
    "note": "free text (optional, at most 2000 characters)",
    "source": "where the row came from (default manual)",
    "goal_id": "the goal's id (same rules as participant_id), unique across the store",
    "title": "what the goal is, 1 to 200 characters",
    "freq_times": "how many times (default 1) ...",
    "freq_days": "... per how many days (default 1): 3 and 7 mean three times a week",
    "start_date": "the day the goal starts, yyyy-mm-dd",
    "due_date": "the day it is due, yyyy-mm-dd (optional)",
    "target": "what done looks like, free text (optional)",
    "archived": "true once the goal is put away (default false)",
    "count": "how many times it was done that day (0 to 10000)",
    "minutes": "minutes spent (optional, 0 to 1440)",
    "percent": "how far the goal has come, 0 to 100",
    "phase": "baseline, mid or post",
    "instrument": "the questionnaire's id",
    "item": "the question's id in that questionnaire",
    "value": "the answer as a number",
}


def write_template(directory: str | os.PathLike) -> list[Path]:
    """Write empty templates of every table to ``directory``: one CSV per table, one
    ``mastery-template.xlsx`` with a sheet per table, and ``README.md`` of the columns.

    Returns the paths written.
    """
    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot write to {target}: {exc.strerror or exc}") from None
    frames = {t: pd.DataFrame(columns=[c for c in TABLES[t].columns if c not in STORE_COLUMNS])
              for t in TABLE_ORDER}
    paths = []
    try:
        for table, frame in frames.items():
            path = target / f"{table}.csv"
            frame.to_csv(path, index=False)
            paths.append(path)
        paths.append(write_workbook(frames, target / "mastery-template.xlsx"))
        readme = target / "README.md"
        readme.write_text(_template_readme(), encoding="utf-8")
        paths.append(readme)
    except OSError as exc:
        raise StoreError(f"cannot write the templates to {target}: {exc.strerror or exc}") from None
    return paths


def _template_readme() -> str:
    lines = ["# Mastery import templates", "",
             "Fill in the CSV files (one per table) or the sheets of `mastery-template.xlsx`,",
             "then check and import them:", "",
             "    mastery import tidy THIS_FOLDER --dry-run",
             "    mastery import tidy THIS_FOLDER        # or: mastery import tidy mastery-template.xlsx",
             "",
             "Leave a table empty if you have nothing for it. Participants named in other tables",
             "but missing from `participants` are added. Dates are yyyy-mm-dd (a spreadsheet's",
             "own dates work too; for 03/04/2024-like dates add --dayfirst or --monthfirst).",
             "Importing the same file again adds nothing; a changed row adds a new version.", ""]
    for table in TABLE_ORDER:
        spec = TABLES[table]
        defaults = dict(spec.defaults)
        lines += [f"## {table}", "", f"One row per {' + '.join(spec.key)}.", "",
                  "| column | required | meaning |", "| --- | --- | --- |"]
        for col in spec.columns:
            if col in STORE_COLUMNS:
                continue
            need = "yes" if col in spec.required else (
                f"no (default {defaults[col]})" if defaults.get(col) is not None else "no")
            lines.append(f"| {col} | {need} | {COLUMN_HELP.get(col, '')} |")
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- reading
def read(path, *, participant_id=None, mapping=None, dayfirst=None, framework=None) -> ImportResult:
    """Read tidy tables (a folder, one table's file, or a workbook with a sheet per table).

    Parameters
    ----------
    path : str or Path
    participant_id : str, optional
        Only for files without a ``participant_id`` column: fills it.
    mapping : ignored
    dayfirst : bool, optional
        For dates like ``03/04/2024`` in a column that cannot tell.
    framework : Framework or str, optional

    Returns
    -------
    ImportResult
        ``frames`` per table (the columns of DESIGN.md, validated), indexed by
        ``<file> line N`` or ``sheet '<table>' row N``; participants named in any table
        and missing from ``participants`` are added (id only); ``unmapped["columns"]``
        lists columns that are not the table's.

    Raises
    ------
    ImportFormatError
        When no table can be found in the path, or a file cannot be read.
    """
    path = Path(path)
    notes: list[str] = []
    sources = _find_tables(path, notes)
    raw, unmapped, rejected_cells = {}, [], []
    experiments = {t: _read_experiment_table(*sources.pop(t)) for t in EXPERIMENT_TABLES if t in sources}
    for table, frame in experiments.items():
        notes.append(f"{table}: {len(frame)} rows (kept through the store's experiment checks)")
    for table, (kind, where, sheet) in sources.items():
        frame, extra, refused = _read_one(table, kind, where, sheet, dayfirst, participant_id, notes)
        raw[table] = frame
        unmapped += [f"{table}.{c}" for c in extra]
        rejected_cells += refused
    # participants the other tables name, added by id (the store keeps what it knows of them)
    named = set()
    for table, frame in raw.items():
        if table != "participants" and "participant_id" in frame:
            named |= set(frame["participant_id"].dropna().astype(str)) - {""}
    listed = set(raw["participants"]["participant_id"].dropna().astype(str)) if "participants" in raw else set()
    missing = sorted(named - listed)
    if missing:
        add = pd.DataFrame({"participant_id": missing}, index=[f"(named in the data) {m}" for m in missing])
        raw["participants"] = pd.concat([raw.get("participants"), add]) if "participants" in raw else add
        notes.append(f"{len(missing)} participant{'s' if len(missing) != 1 else ''} named in the "
                     "tables but not in participants: added by id")
    for table, frame in raw.items():
        notes.append(f"{table}: {len(frame)} rows from {sources[table][1].name}"
                     + (f" (sheet {sources[table][2]!r})" if sources[table][2] else "")
                     if table in sources else f"{table}: {len(frame)} rows")
    clean, rejected = validate_frames(raw, framework=framework)
    if rejected_cells:
        seen = {(r["line"], r["column"]) for r in rejected_cells}
        again = [(line, col) in seen for line, col in zip(rejected["line"], rejected["column"])]
        rejected = sort_rejected(pd.concat(
            [pd.DataFrame(rejected_cells), rejected.loc[~np.array(again, dtype=bool)]],
            ignore_index=True))
        # a row with a cell the reader refused is not imported, even if the rest is valid
        for table, frame in list(clean.items()):
            bad = {r["line"] for r in rejected_cells if r["column"].startswith(table + ".")}
            clean[table] = frame.loc[~frame.index.isin(bad)]
        clean = {t: f for t, f in clean.items() if len(f)}
    if not clean and not len(rejected) and not any(len(f) for f in experiments.values()):
        raise ImportFormatError(f"{path}: the tables are empty (nothing to import)")
    return ImportResult(format="tidy", source=path, frames=clean, rejected=rejected,
                        unmapped={"columns": unmapped} if unmapped else {}, notes=notes,
                        experiments={t: f for t, f in experiments.items() if len(f)})


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as a frame; a broken file is named in one message."""
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises its own kinds on a broken file
        raise ImportFormatError(f"{path}: not a readable Parquet file ({type(exc).__name__}: "
                                f"{exc})") from None


def _read_experiment_table(kind, path: Path, sheet) -> pd.DataFrame:
    """An exported experiment table, its cells typed as far as the file tells (whole numbers,
    true/false, numbers); dates and the rest are checked by the store's experiment checks."""
    if kind == "parquet":
        frame = _read_parquet(path)
        return frame.drop(columns=[c for c in ("recorded_at",) if c in frame])
    raw = read_table(path, sheet=sheet) if kind != "csv" else read_table(path)
    frame = raw.rows.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.drop(columns=[c for c in ("recorded_at",) if c in frame])
    for col in frame.columns:
        values = frame[col].astype(object).map(lambda v: None if isinstance(v, str) and not v.strip() else v)
        if col in _EXP_INTS:
            frame[col] = values.map(_whole)
        elif col in _EXP_BOOLS:
            frame[col] = values.map(lambda v: {"true": True, "false": False}.get(str(v).strip().lower(), v)
                                    if isinstance(v, str) else v)
        elif col == "min_effect":
            frame[col] = values.map(_number)
        elif col in ("date", "start_date"):
            frame[col] = values
        else:
            frame[col] = restore_formulas(values.map(_as_text))
    return frame


def _whole(v):
    """A whole number as written ("7", 7, 7.0); anything else as it is, for the checks to name."""
    if isinstance(v, str) and re.fullmatch(r"\s*\d+\s*", v):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _number(v):
    if v is None or isinstance(v, (int, float)):
        return v
    try:
        return float(v)
    except ValueError:
        return v


def _table_name(stem: str) -> str | None:
    s = stem.strip().lower()
    return s if s in TABLES or s in EXPERIMENT_TABLES else None


def _find_tables(path: Path, notes) -> dict:
    """table -> (kind, file, sheet) for every table found."""
    found: dict = {}
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        for f in files:
            table = _table_name(f.stem)
            kind = f.suffix.lower().lstrip(".")
            if table and kind in ("csv", "tsv", "txt", "xlsx", "parquet"):
                if table in found:
                    raise ImportFormatError(f"{path}: two files for the {table} table "
                                            f"({found[table][1].name} and {f.name}); keep one")
                found[table] = ("xlsx-file" if kind == "xlsx" else
                                "parquet" if kind == "parquet" else "csv", f, None)
        if not found:
            books = [f for f in files if f.suffix.lower() == ".xlsx"]
            if len(books) == 1:
                return _find_tables(books[0], notes)
            raise ImportFormatError(
                f"{path}: no table files found; expected files named after the tables "
                f"({', '.join(f'{t}.csv' for t in TABLE_ORDER)}) or one workbook with a sheet "
                "per table")
        return found
    kind = path.suffix.lower().lstrip(".")
    if kind in ("xlsx", "xlsm"):
        import openpyxl

        try:
            book = openpyxl.load_workbook(path, read_only=True)
            sheets = list(book.sheetnames)
            book.close()
        except Exception as exc:  # openpyxl raises many kinds on broken packages
            raise ImportFormatError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: "
                                    f"{exc})") from None
        for sheet in sheets:
            table = _table_name(sheet)
            if table:
                found[table] = ("sheet", path, sheet)
        if found:
            other = [s for s in sheets if not _table_name(s)]
            if other:
                notes.append(f"sheets not read (not a table's name): {', '.join(other)}")
            return found
        table = _table_name(path.stem)
        if table:
            return {table: ("sheet", path, sheets[0])}
        raise ImportFormatError(f"{path}: no sheet is named after a table; expected sheets "
                                f"named {', '.join(TABLE_ORDER)}")
    table = _table_name(path.stem)
    if table is None:
        raise ImportFormatError(
            f"{path}: cannot tell which table this is; name the file after its table "
            f"({', '.join(f'{t}.csv' for t in TABLE_ORDER)}) or import the folder")
    return {table: ("parquet" if kind == "parquet" else "csv", path, None)}


def _read_one(table, kind, path: Path, sheet, dayfirst, participant_id, notes):
    """(frame indexed by place, extra columns, cells the reader refused)."""
    spec = TABLES[table]
    if kind == "parquet":
        frame = _read_parquet(path)
        frame.index = [f"{path.name} row {i + 1}" for i in range(len(frame))]
        lines = list(frame.index)
        typed = True
    else:
        raw = read_table(path, sheet=sheet) if kind != "csv" else read_table(path)
        frame = raw.rows.copy()
        place = (f"sheet {raw.sheet!r} row" if raw.sheet else f"{path.name} line")
        numbers = [int(n) for n in raw.lines]  # the reader's functions take line numbers
        lines = [f"{place} {n}" for n in numbers]
        label = dict(zip(numbers, lines))
        frame.index = lines
        notes += [f"{path.name}: {n}" for n in raw.notes]
        typed = False
        decimal_hint = raw.decimal_hint
        epoch = raw.epoch
    frame.columns = [str(c).strip() for c in frame.columns]
    extra = [c for c in frame.columns if c not in spec.columns and not c.startswith("(column ")]
    frame = frame.drop(columns=[c for c in frame.columns if c not in spec.columns or c in STORE_COLUMNS])
    rejected = []
    if "version_id" in extra:
        extra.remove("version_id")
    for c in STORE_COLUMNS:
        if c in extra:
            extra.remove(c)
    if participant_id and "participant_id" in spec.columns and "participant_id" not in frame:
        frame["participant_id"] = participant_id
    if not typed:
        for col in frame.columns:
            values = frame[col].astype(object)
            blank = values.isna() | (values.astype(str).str.strip() == "")
            values = values.where(~blank, None)
            if col in spec.dates:
                parsed = parse_timestamps(values, column=f"{table}.{col}", source=path,
                                          lines=numbers, dayfirst=dayfirst, epoch=epoch)
                rejected += [{**r, "line": label[r["line"]]} for r in parsed.rejected]
                frame[col] = parsed.day  # datetime64, NaT where empty or refused
            elif col in INT_COLUMNS or col in FLOAT_COLUMNS:
                parsed = parse_numbers(values, column=f"{table}.{col}", lines=numbers,
                                       decimal_hint=decimal_hint)
                rejected += [{**r, "line": label[r["line"]]} for r in parsed.rejected]
                frame[col] = parsed.values  # float, NaN where empty or refused
            elif col in BOOL_COLUMNS:
                frame[col] = values  # the schema reads true/false, yes/no, 1/0
            else:
                frame[col] = restore_formulas(values.map(_as_text))
    # Parquet is written as it is (no spreadsheet opens it), so it is read as it is
    return frame, extra, rejected


def _as_text(v):
    """A text cell as typed: a workbook's number 123 (or 123.0) in an id column is "123"."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
