"""Benchmark: the small per-participant reads a sign-in and a check-in make.

``python -m benchmarks.bench_reads [LOOPS]`` (default 200): loads the demo into a fresh
SQLite store, adds a participant with no rows, and times the ``Store`` reads that the
participant page runs for one person (``participants``, ``goals``, ``ratings``,
``actions``, ``progress``, ``responses`` and ``experiments`` with ``participant=...``,
some with a day range) for a cohort member (``sc01``: 0 to 100 rows per table) and for the
new participant (no rows), then whole tables (everyone's rows, the same code path), and
``schema.empty`` on its own. Prints the CPU milliseconds per call (this process's CPU
time, median of five batches of LOOPS calls; LOOPS / 20 for whole tables), the rows
returned and the load average. No timing is asserted anywhere.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import load_average
from mastery_analysis.demo import load_demo
from mastery_analysis.schema import TABLES, empty
from mastery_analysis.store import open_store

DAY = "2026-04-06"  # a day of the demo cohort's twelve weeks


def cpu_ms(fn, loops: int) -> float:
    """Median over five batches of the CPU milliseconds one call of ``fn`` takes."""
    fn()  # warm: compiled SQL, imports
    batches = []
    for _ in range(5):
        t0 = time.process_time()
        for _ in range(loops):
            fn()
        batches.append((time.process_time() - t0) / loops * 1000)
    return statistics.median(batches)


def reads(store, pid: str) -> dict:
    """The reads of one person's sign-in and check-in, by name."""
    return {
        "participants": lambda: store.participants(participant=pid),
        "goals": lambda: store.goals(participant=pid, include_archived=False),
        "ratings": lambda: store.ratings(participant=pid),
        "ratings to a day": lambda: store.ratings(participant=pid, end=DAY),
        "actions on a day": lambda: store.actions(participant=pid, start=DAY, end=DAY),
        "actions": lambda: store.actions(participant=pid),
        "progress to a day": lambda: store.progress(participant=pid, end=DAY),
        "responses": lambda: store.responses(participant=pid),
        "experiments": lambda: store.experiments(participant=pid),
    }


def main(loops: int = 200) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "bench.db")
        load_demo(store)
        store.add_participant("newcomer", cohort="spring-cohort")
        print(f"per-participant reads, CPU ms per call (median of 5 x {loops}); {load_average()}")
        for pid in ("sc01", "newcomer"):
            total = 0.0
            for name, fn in reads(store, pid).items():
                ms = cpu_ms(fn, loops)
                total += ms
                results[f"{pid} {name}"] = ms
                print(f"  {pid:9s} {name:18s} {ms:6.2f} ms  ({len(fn()):3d} rows)")
            results[f"{pid} total"] = total
            print(f"  {pid:9s} {'all of the above':18s} {total:6.2f} ms")
        # the same code reads whole tables: it must not be slower there
        total = 0.0
        for name, fn in {"ratings": store.ratings, "actions": store.actions,
                         "ratings history": lambda: store.history("ratings")}.items():
            ms = cpu_ms(fn, max(1, loops // 20))
            total += ms
            results[f"everyone {name}"] = ms
            print(f"  {'everyone':9s} {name:18s} {ms:6.2f} ms  ({len(fn()):4d} rows)")
        store.close()
    for table in TABLES:
        results[f"empty {table}"] = ms = cpu_ms(lambda: empty(table), loops)
        print(f"  schema.empty({table!r}) {ms:6.3f} ms")
    print(f"  ({load_average()})")
    return results


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
