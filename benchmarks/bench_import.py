"""Benchmark: ``mastery import`` of 100,000 rows, against pandas' own CSV-to-SQL.

``python -m benchmarks.bench_import [ROWS]`` (default 100,000 ratings, tidy CSV of
:mod:`benchmarks.synthetic`'s people): times reading, checking and writing them into an
empty SQLite store through the store's one write path (``importers.run``), then the same
file again (which adds nothing: every row is compared with the stored one), and a dry run.
The peer is what a person would write by hand: ``pandas.read_csv`` then
``DataFrame.to_sql`` into SQLite, with no checks at all. No timing is asserted anywhere.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.synthetic import synthetic_frames
from mastery_analysis import importers
from mastery_analysis.store import open_store


def ratings_csv(rows: int, folder: Path) -> Path:
    days = 365
    people = max(1, int(rows / (days * 5 * 0.85)) + 1)  # about 85% of days are checked in
    frames = synthetic_frames(people, days, seed=1)
    ratings = frames["ratings"]
    ratings = ratings[ratings["kind"] == "current"].head(rows)
    out = folder / "ratings.csv"
    ratings.assign(date=ratings["date"].dt.strftime("%Y-%m-%d"), note=None,
                   source="bench").to_csv(out, index=False)
    return out


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = ratings_csv(rows, folder)
        n = sum(1 for _ in path.open()) - 1
        with open_store(folder / "store.db") as store:
            t0 = time.perf_counter()
            dry = importers.run(store, "tidy", path, dry_run=True)
            t_dry = time.perf_counter() - t0
            t0, c0 = time.perf_counter(), time.process_time()
            first = importers.run(store, "tidy", path)
            t_first, c_first = time.perf_counter() - t0, time.process_time() - c0
            t0 = time.perf_counter()
            again = importers.run(store, "tidy", path)
            t_again = time.perf_counter() - t0
            stored = store.row_counts()["ratings"]
        t0, c0 = time.perf_counter(), time.process_time()
        con = sqlite3.connect(folder / "peer.db")
        pd.read_csv(path).to_sql("ratings", con, index=False)
        con.commit()
        con.close()
        t_peer, c_peer = time.perf_counter() - t0, time.process_time() - c0
    assert first.written["ratings"] == n == stored == dry.written["ratings"]
    assert sum(again.written.values()) == 0
    print(f"   tidy CSV of {n:,} ratings (+ {first.written['participants']} participants)")
    print(f"   import into an empty store:     {t_first:6.2f} s  ({n / t_first:,.0f} rows/s; "
          f"{c_first:.2f} s of CPU)")
    print(f"   dry run (rolled back):          {t_dry:6.2f} s")
    print(f"   the same file again (adds 0):   {t_again:6.2f} s")
    print(f"   peer, read_csv + to_sql, no checks: {t_peer:6.2f} s  ({c_peer:.2f} s of CPU; "
          f"import / peer = {t_first / t_peer:.1f}x)")
    print("   (wall times on a shared machine vary; CPU seconds are steadier)")


if __name__ == "__main__":
    main()
