"""Loading the store into analysis frames, and saving one check-in, at scale.

- load: the store's own SQL reads (``read_sql`` of every row: ``store.ratings()`` and the
  rest) against the columnar snapshot (:mod:`mastery_analysis.snapshot`): its first build,
  a load from its Parquet files by a new process (``Store`` and ``Snapshot`` opened afresh,
  median of ``runs``), and a read just after a check-in (the delta merged).
- save: one participant's check-in (five ratings, two actions, one progress entry) through
  ``Store.record_checkin`` with about a million rows stored, p50 and p99 over many check-ins;
  on SQLite, and on PostgreSQL when ``MASTERY_TEST_POSTGRES_URL`` names a server.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import fmt, load_average, peak_rss_gb, timed
from benchmarks.seed import seed_store, store_rows
from benchmarks.synthetic import ELEMENTS, synthetic_frames
from mastery_analysis.snapshot import Snapshot
from mastery_analysis.store import open_store

TABLES = ("participants", "goals", "ratings", "actions", "progress")
POSTGRES_ENV = "MASTERY_TEST_POSTGRES_URL"


def _read_sql(store) -> dict:
    return {t: getattr(store, t)() for t in TABLES}


def _fresh_snapshot_load(url) -> dict:
    with open_store(url) as s:
        return Snapshot(s).frames(TABLES)


def load(label: str, people: int, days: int, *, runs: int = 3, sql: bool = True) -> dict:
    """Seed a SQLite store at ``people`` x ``days`` and time its loading paths."""
    figures = {}
    with tempfile.TemporaryDirectory(prefix="mastery-bench-load-") as tmp:
        url = str(Path(tmp) / "org.db")
        frames = synthetic_frames(people, days)
        t0 = time.perf_counter()
        store = seed_store(url, frames)
        del frames
        rows = store_rows(store)
        print(f"-- load, {label}: {rows:,} rows stored in {time.perf_counter() - t0:.0f} s "
              f"({load_average()})", flush=True)
        figures[f"{label}.stored_rows"] = rows
        rss0 = peak_rss_gb()
        _, t_build = timed(lambda: store.snapshot().frames(TABLES))
        figures[f"snapshot_build_{label}_s"] = t_build
        loaded, t_load = timed(_fresh_snapshot_load, url, runs=runs)
        n_loaded = sum(len(f) for f in loaded.values())
        del loaded
        figures[f"load_{label}_s"] = t_load
        snap = store.snapshot()
        pid = "p000000"
        goal = f"{pid}-daily"
        store.record_checkin(pid, "2026-01-01", ratings={e: 6 for e in ELEMENTS},
                             actions={goal: 2}, progress={goal: 50.0})
        _, t_delta = timed(lambda: snap.frames(TABLES))
        figures[f"load_after_write_{label}_s"] = t_delta
        print(f"  snapshot: first build {t_build:.1f} s; load by a new process {t_load:.2f} s "
              f"(median of {runs}, {n_loaded:,} latest rows); read after a check-in "
              f"{t_delta:.2f} s", flush=True)
        if sql:
            got, t_sql = timed(_read_sql, store)
            same = all(got[t].equals(snap.read(t)) for t in TABLES)
            del got
            figures[f"load_{label}_read_sql_s"] = t_sql
            figures[f"load_{label}_read_sql_peak_rss_gb"] = peak_rss_gb()
            print(f"  read_sql of every row (the store's reads): {t_sql:.1f} s, peak memory "
                  f"{peak_rss_gb():.1f} GB (before: {rss0:.1f} GB); snapshot frames equal: {same} "
                  f"-> snapshot {t_sql / t_load:,.0f}x faster ({load_average()})", flush=True)
            if not same:
                raise AssertionError("the snapshot's frames differ from the store's reads")
        store.close()
    return figures


def _checkin_latencies(store, people: int, n: int) -> list[float]:
    times = []
    for k in range(n):
        pid = f"p{k % people:06d}"
        day = (pd.Timestamp("2026-01-01") + pd.Timedelta(days=k // people)).date()
        goal = f"{pid}-daily"
        t0 = time.perf_counter()
        store.record_checkin(pid, day, ratings={e: 5 + (k % 5) for e in ELEMENTS},
                             actions={goal: 1, f"{pid}-weekly3": 0}, progress={goal: 60.0})
        times.append(time.perf_counter() - t0)
    return times


def save(people: int = 500, days: int = 365, *, checkins: int = 300) -> dict:
    """p50/p99 milliseconds of one check-in with about a million rows stored."""
    figures = {}
    frames = synthetic_frames(people, days)
    with tempfile.TemporaryDirectory(prefix="mastery-bench-save-") as tmp:
        store = seed_store(str(Path(tmp) / "save.db"), frames)
        rows = store_rows(store)
        times = np.array(_checkin_latencies(store, people, checkins)) * 1000
        store.close()
    figures["save.stored_rows"] = rows
    figures["save_p50_ms"] = float(np.percentile(times, 50))
    figures["save_p99_ms"] = float(np.percentile(times, 99))
    print(f"-- save: one check-in (5 ratings, 2 actions, 1 progress) with {rows:,} rows stored, "
          f"SQLite: p50 {fmt(figures['save_p50_ms'])} ms, p99 {fmt(figures['save_p99_ms'])} ms "
          f"over {checkins} check-ins ({load_average()})", flush=True)
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        print(f"   PostgreSQL: skipped ({POSTGRES_ENV} is not set)")
        return figures
    try:
        store = _seed_postgres(url, frames)
    except Exception as exc:  # report and go on: the SQLite figures stand
        print(f"   PostgreSQL: skipped ({type(exc).__name__}: {exc})")
        return figures
    times = np.array(_checkin_latencies(store, people, checkins)) * 1000
    store.close()
    figures["save_pg_p50_ms"] = float(np.percentile(times, 50))
    figures["save_pg_p99_ms"] = float(np.percentile(times, 99))
    print(f"   PostgreSQL: p50 {fmt(figures['save_pg_p50_ms'])} ms, p99 "
          f"{fmt(figures['save_pg_p99_ms'])} ms", flush=True)
    return figures


def _seed_postgres(url, frames):
    """Write the frames through the store's validated path into a fresh PostgreSQL schema."""
    from benchmarks.synthetic import store_frames

    store = open_store(url)
    if any(store.row_counts().values()):
        raise RuntimeError(f"{POSTGRES_ENV} names a database that already holds rows; "
                           "give the benchmark an empty one")
    tables = store_frames(frames)
    store.write_many({"participants": tables["participants"], "goals": tables["goals"]})
    for name in ("ratings", "actions", "progress"):
        frame = tables[name]
        for lo in range(0, len(frame), 100_000):
            store.write(name, frame.iloc[lo:lo + 100_000])
    return store


def median(values):
    return statistics.median(values)
