"""What every importer returns: tidy frames plus what it could not place, for the dry run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

REJECTED_COLUMNS = ("line", "column", "value", "expected")


def empty_rejected() -> pd.DataFrame:
    """An empty frame of rejected cells (columns ``line, column, value, expected``)."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in REJECTED_COLUMNS})


@dataclass
class ImportResult:
    """The outcome of reading one outside file or folder. Nothing has been written.

    Attributes
    ----------
    format : str
        The importer's name: ``tidy``, ``loop``, ``daylio``, ``google_forms``,
        ``microsoft_forms`` or ``typeform``.
    source : Path
        The file or folder read.
    frames : dict of str to DataFrame
        Table name -> frame with the columns of ``schema.TABLES[table]``, validated by
        ``schema.validate``. Only tables with rows appear. Each frame's index is the
        1-based physical line of the file (or sheet row) the row came from, so that a
        validation error raised later names the line people can find.
    rejected : DataFrame
        One row per bad cell, with columns ``line`` (1-based physical line in the file, or
        sheet row), ``column``, ``value`` and ``expected``.
    unmapped : dict of str to list of str
        What was read but not placed, e.g. ``{"columns": [...], "answers": ["<column>: <label>"]}``.
    notes : list of str
        Plain sentences for the dry run.
    experiments : dict of str to DataFrame
        Exported self-experiment tables (``experiments``, ``experiment_schedule``,
        ``adherence``) as read, for ``Store.import_experiments`` to check and keep; only the
        tidy importer fills it.
    """

    format: str
    source: Path
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejected: pd.DataFrame = field(default_factory=empty_rejected)
    unmapped: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    experiments: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def rows(self) -> dict[str, int]:
        """Rows per table (only tables with rows)."""
        return {t: len(f) for t, f in self.frames.items() if len(f)}

    @property
    def participants(self) -> list[str]:
        """Sorted participant ids named anywhere in the frames."""
        ids: set[str] = set()
        for frame in self.frames.values():
            if "participant_id" in frame:
                ids.update(frame["participant_id"].dropna().astype(str))
        return sorted(ids)

    @property
    def date_range(self) -> tuple | None:
        """(first, last) calendar day across the dated tables, or None when nothing is dated."""
        days = []
        for frame in self.frames.values():
            for col in ("date", "start_date"):
                if col in frame and frame[col].notna().any():
                    days.extend([frame[col].min(), frame[col].max()])
        if not days:
            return None
        return (min(days).date(), max(days).date())


def validate_rows(table: str, frame: pd.DataFrame, *, framework=None):
    """Validate an importer's frame row by row: the valid rows, typed, and the bad cells.

    ``frame`` is indexed by file line. Rows with any bad cell are left out of the result and
    listed in the rejected frame (one row per bad cell), so that the caller decides between
    "all or nothing" and ``--skip-invalid``.

    Returns
    -------
    (DataFrame, DataFrame)
        The validated frame (``schema.validate``'s columns and dtypes, index kept) and the
        rejected cells with columns ``line``, ``column``, ``value``, ``expected``.
    """
    from ..errors import ValidationError
    from ..schema import empty, validate

    rejected = []
    rest = frame
    for _ in range(3):  # dropping bad rows can only clear the duplicate-key check of the others
        try:
            clean = validate(table, rest, framework=framework)
            break
        except ValidationError as exc:
            rows = [f for f in exc.failures if f.get("row") is not None]
            whole = [f for f in exc.failures if f.get("row") is None]
            if whole:  # a missing column: no row can be kept
                rejected += [{"line": None, "column": f.get("column"), "value": f.get("value"),
                              "expected": f["expected"]} for f in whole]
                clean = empty(table)
                break
            rejected += [{"line": f["row"], "column": f.get("column"), "value": f.get("value"),
                          "expected": f["expected"]} for f in rows]
            rest = rest.drop(index=list({f["row"] for f in rows}))
    else:  # pragma: no cover - three rounds always settle (the last one has no duplicates)
        clean = validate(table, rest, framework=framework)
    out = pd.DataFrame(rejected, columns=list(REJECTED_COLUMNS)) if rejected else empty_rejected()
    return clean, out


def validate_frames(frames: dict, *, framework=None):
    """:func:`validate_rows` over several tables; the rejected cells of all of them.

    Returns
    -------
    (dict of str to DataFrame, DataFrame)
        The tables that kept rows, and the rejected cells with ``line``, ``column`` (as
        ``table.column``), ``value``, ``expected``.
    """
    clean, rejected = {}, []
    dropped_goals: set = set()
    for table in sorted(frames, key=lambda t: t != "goals"):  # goals first: see below
        frame = frames[table]
        if frame is None or len(frame) == 0:
            continue
        if table in ("actions", "progress") and dropped_goals and "goal_id" in frame:
            # rows of a goal that was itself rejected cannot be written either
            orphan = frame["goal_id"].isin(dropped_goals)
            if orphan.any():
                rejected.append(pd.DataFrame({
                    "line": frame.index[orphan], "column": f"{table}.goal_id",
                    "value": frame.loc[orphan, "goal_id"].to_numpy(),
                    "expected": "a goal that is imported too (this goal's own row was rejected)"}))
                frame = frame.loc[~orphan]
        ok, bad = validate_rows(table, frame, framework=framework)
        if table == "goals" and "goal_id" in frame:
            dropped_goals = set(frame["goal_id"].dropna()) - set(ok["goal_id"])
        if len(ok):
            clean[table] = ok
        if len(bad):
            rejected.append(bad.assign(column=[f"{table}.{c}" if isinstance(c, str) and c else table
                                               for c in bad["column"]]))
    out = sort_rejected(pd.concat(rejected, ignore_index=True)) if rejected else empty_rejected()
    return clean, out


def sort_rejected(rejected: pd.DataFrame) -> pd.DataFrame:
    """Rejected cells in file order: by line (``"goals.csv line 10"`` after ``line 9``), then column."""
    import re

    def key(v):
        return [(0, int(p), "") if p.isdigit() else (1, 0, p)
                for p in re.split(r"(\d+)", "" if v is None or v != v else str(v)) if p]
    order = sorted(range(len(rejected)), key=lambda i: (key(rejected["line"].iloc[i]),
                                                        str(rejected["column"].iloc[i])))
    return rejected.iloc[order].reset_index(drop=True)
