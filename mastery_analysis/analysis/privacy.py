"""Privacy rules for cohort views (DESIGN.md, "Privacy").

Individual rows are shown only for participants who gave ``consent_share``; an aggregate over
fewer than ``min_n`` people (5 by default) is suppressed. Frames in, frames out, inputs never
modified in place.
"""

from __future__ import annotations

import pandas as pd

MIN_N = 5


def consenting_only(frame: pd.DataFrame, participants: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows of participants who agreed to share their data with the cohort.

    Parameters
    ----------
    frame : DataFrame
        Any frame with a ``participant_id`` column (ratings, scores, trends, ...).
    participants : DataFrame
        The participants table: ``participant_id`` and ``consent_share`` (bool). A participant
        missing from it counts as not consenting.

    Returns
    -------
    DataFrame
        The rows of ``frame`` whose participant has ``consent_share`` true, with the same
        columns as ``frame`` and a fresh index.
    """
    if frame is None or "participant_id" not in getattr(frame, "columns", ()):
        return pd.DataFrame() if frame is None else frame.iloc[0:0].copy()
    if participants is None or participants.empty or "consent_share" not in participants:
        return frame.iloc[0:0].copy()
    share = participants["consent_share"].fillna(False).astype(bool)
    ids = set(participants.loc[share, "participant_id"])
    return frame.loc[frame["participant_id"].isin(ids)].reset_index(drop=True)


def suppress_small(frame: pd.DataFrame, *, n_col: str = "n", min_n: int = MIN_N) -> pd.DataFrame:
    """Blank out aggregates computed over fewer than ``min_n`` people.

    Rows are kept (so a table still shows that the group exists) but every numeric column
    other than ``n_col`` becomes missing where ``n_col < min_n``.

    Parameters
    ----------
    frame : DataFrame
        An aggregate frame with a count of people in ``n_col``.
    n_col : str
        The column holding the number of people each row summarises.
    min_n : int
        The smallest group that may be shown (5 by default).

    Returns
    -------
    DataFrame
        A copy of ``frame`` with the same columns plus ``suppressed`` (bool, true where the
        row's numbers were blanked because ``n_col < min_n``).

    Raises
    ------
    KeyError
        When ``frame`` has no column ``n_col``.
    """
    if n_col not in frame.columns:
        raise KeyError(f"suppress_small needs a column '{n_col}' counting the people in each row; "
                       f"the frame has {', '.join(map(str, frame.columns)) or 'no columns'}")
    out = frame.copy()
    small = out[n_col].fillna(0) < min_n
    numeric = [c for c in out.columns
               if c != n_col and pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c])]
    for col in numeric:
        out[col] = out[col].astype(float).mask(small)
    out["suppressed"] = small.to_numpy()
    return out
