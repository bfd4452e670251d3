"""Fill a store with generated frames quickly, for the benchmarks only.

Participants and goals (small) go through the store's own validated write path. The large
tables (ratings, actions, progress, responses) are appended with the database driver's
``executemany`` inside one transaction, in the store's columns and formats (ISO dates, the
``recorded_at`` text): validating 25 million generated rows cell by cell would measure the
validator, not the store, and the application never writes that many rows at once.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from benchmarks.synthetic import store_frames
from mastery_analysis.schema import TABLES
from mastery_analysis.store import SQL_TABLES, open_store

_CHUNK = 200_000


def seed_store(url, frames: dict[str, pd.DataFrame]):
    """Open (create) the store at ``url`` and write ``frames`` (from ``synthetic_frames``)."""
    tables = store_frames(frames)
    store = open_store(url)
    store.write_many({"participants": tables["participants"], "goals": tables["goals"]},
                     where="the benchmark's participants")
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
    with store._connection(write=True) as conn:
        for name in ("ratings", "actions", "progress", "responses"):
            frame = tables[name]
            cols = [c for c in TABLES[name].columns if c != "recorded_at"]
            t = SQL_TABLES[name]
            sql = (f"INSERT INTO {t.name} ({', '.join(cols)}, recorded_at) "
                   f"VALUES ({', '.join('?' * (len(cols) + 1))})")
            data = {}
            for c in cols:
                s = frame[c]
                if pd.api.types.is_datetime64_any_dtype(s):
                    data[c] = s.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
                elif pd.api.types.is_float_dtype(s):
                    data[c] = s.astype(object).where(s.notna(), None).to_numpy()
                else:
                    data[c] = s.astype(object).where(s.notna(), None).to_numpy()
            n = len(frame)
            for lo in range(0, n, _CHUNK):
                rows = zip(*(data[c][lo:lo + _CHUNK].tolist() for c in cols),
                           [now] * min(_CHUNK, n - lo))
                conn.exec_driver_sql(sql, list(rows))
    return store


def store_rows(store) -> int:
    return int(np.sum(list(store.row_counts().values())))
