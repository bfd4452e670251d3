"""A workshop's list of people, read from a CSV file (``participant_id``, ``name``, ``email``).

Reads and checks only; :meth:`Store.add_participants` writes the whole list or nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .errors import MasteryError

ID_COLUMNS = ("participant_id", "id")


class RosterError(MasteryError):
    """A participant list cannot be read or lacks the columns it needs."""


def read_roster(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV of participants: an id column (``participant_id`` or ``id``) and optionally
    ``name`` and ``email`` (for the coach's invitations; checked when written); other columns
    are ignored.

    Returns
    -------
    DataFrame
        participant_id, name, and email when the file has that column (missing where a
        cell is blank), indexed by the file's line
        number (the header is line 1) so that errors name the line people see.

    Raises
    ------
    RosterError
        When the file is missing, unreadable, empty or has no id column.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True,
                            encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise RosterError(f"cannot read {path} as CSV: {exc}") from None
    columns = {c.strip().lower(): c for c in frame.columns}
    id_col = next((columns[c] for c in ID_COLUMNS if c in columns), None)
    if id_col is None:
        raise RosterError(f"{path} has no participant_id column (found: {', '.join(frame.columns) or 'none'}); "
                          "the first line should be a header like participant_id,name")
    if frame.empty:
        raise RosterError(f"{path} lists no participants")
    out = pd.DataFrame({"participant_id": frame[id_col].str.strip(),
                        "name": frame[columns["name"]].str.strip() if "name" in columns else None})
    out["name"] = out["name"].replace({"": None})
    if "email" in columns:
        out["email"] = frame[columns["email"]].str.strip().replace({"": None})
    out.index = pd.RangeIndex(2, len(out) + 2, name="line")
    return out
