"""The analysis of everyone against polars, pandas, DuckDB and a naive loop, at one size.

:func:`run` generates the size's frames, times the package's whole analysis in a fresh
process (median of ``runs``; the peak memory is that process's), times every peer on the same
frames (median of ``runs``) and checks its result equal to ours, and runs the naive per-group
loop on a subset of people, checked equal on that subset and scaled up per person.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import peers
from benchmarks.analysis_suite import LAGS
from benchmarks.common import assert_close, fmt, frames_to_parquet, load_average, print_table, timed
from benchmarks.synthetic import memory_mb, subset, synthetic_frames
from mastery_analysis.analysis.correlation import action_progress_correlation
from mastery_analysis.analysis.goals import goal_pace  # noqa: F401  (timed in analysis_suite)
from mastery_analysis.analysis.habits import habit_strength, streaks
from mastery_analysis.analysis.trajectories import element_trajectories, element_trends

NAIVE_PEOPLE = 50
NAIVE_CORRELATION_PEOPLE = 5

CHECKS = {
    "element_trajectories": (["participant_id", "element", "date"],
                             ["rating", "rolling_mean", "ewm", "vision", "gap"]),
    "habit_strength": (["participant_id", "goal_id", "date"], ["score"]),
    "streaks": (["participant_id", "goal_id", "start"], ["end", "length"]),
}


def _ours_in_fresh_process(frames, runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="mastery-bench-") as tmp:
        frames_to_parquet({k: frames[k] for k in ("ratings", "actions", "progress", "goals")}, Path(tmp))
        done = subprocess.run([sys.executable, "-m", "benchmarks.analysis_suite", tmp, str(runs)],
                              capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"the analysis failed in its own process:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _peer_cases(frames):
    """``{function: [(peer, callable returning a pandas frame to check), ...]}``."""
    import duckdb
    import polars as pl

    r, a, g = frames["ratings"], frames["actions"], frames["goals"]
    pr, pa, pg = pl.from_pandas(r), pl.from_pandas(a), pl.from_pandas(g)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # its bar would bury the table in stderr
    con.register("ratings", r)
    con.register("actions", a.astype({"participant_id": str, "goal_id": str}))
    return con, {
        "element_trajectories": [
            ("polars", lambda: peers.trajectories_polars(pr)),
            ("pandas", lambda: peers.trajectories_pandas(r)),
            ("duckdb", lambda: peers.trajectories_duckdb(con)),
        ],
        "habit_strength": [
            ("polars", lambda: peers.habits_polars(pa, pg)),
            ("pandas", lambda: peers.habits_pandas(a, g)),
        ],
        "streaks": [
            ("polars", lambda: peers.streaks_polars(pa)),
            ("pandas", lambda: peers.streaks_pandas(a)),
            ("duckdb", lambda: peers.streaks_duckdb(con)),
        ],
    }


def _as_pandas(frame):
    return frame.to_pandas() if hasattr(frame, "to_pandas") and not isinstance(frame, pd.DataFrame) else frame


def _naive(frames, people: int) -> dict:
    """Seconds of each naive loop on the first people (checked equal to ours there)."""
    small = subset(frames, min(NAIVE_PEOPLE, people))
    tiny = subset(frames, min(NAIVE_CORRELATION_PEOPLE, people))
    sr, sa, sg = small["ratings"], small["actions"], small["goals"]
    cases = [
        ("element_trajectories", lambda: peers.naive_trajectories(sr), lambda: element_trajectories(sr),
         *CHECKS["element_trajectories"], small),
        ("habit_strength", lambda: peers.naive_habit_strength(sa, sg), lambda: habit_strength(sa, sg),
         *CHECKS["habit_strength"], small),
        ("streaks", lambda: peers.naive_streaks(sa), lambda: streaks(sa, sg),
         *CHECKS["streaks"], small),
        # slope and tau: the autocorrelation-corrected p and interval are checked against plain
        # per-group computations and pymannkendall in tests/test_trajectories.py
        ("element_trends", lambda: peers.naive_trends(sr), lambda: element_trends(sr),
         ["participant_id", "element"], ["n_periods", "slope", "tau"], small),
        ("action_progress_correlation",
         lambda: peers.naive_correlation(tiny["actions"], tiny["progress"],
                                         tiny["ratings"][["participant_id", "date"]], LAGS),
         lambda: action_progress_correlation(tiny["actions"], tiny["progress"], lags=LAGS,
                                             checkins=tiny["ratings"][["participant_id", "date"]]),
         ["participant_id", "goal_id", "lag"], ["n", "r"], tiny),
    ]
    out = {}
    for name, slow, fast, keys, cols, part in cases:
        base, t = timed(slow)
        mine = fast()
        if name == "action_progress_correlation":
            mine = mine[mine["goal_id"].isin(set(base["goal_id"]))]
        assert_close(f"{name} (naive)", mine, base, keys, cols, rtol=1e-7, atol=1e-9)
        n_part = part["participants"]["participant_id"].nunique()
        out[name] = t / n_part * people
    return out


def run(label: str, people: int, days: int, *, runs: int = 3, naive: bool = True) -> dict:
    """Benchmark the analysis at ``people`` x ``days``; the figures, keyed ``<label>.*``."""
    frames, t_make = timed(synthetic_frames, people, days)
    r, a, p = frames["ratings"], frames["actions"], frames["progress"]
    print(f"-- analysis, {label}: {people:,} people x {days} days: {len(r):,} ratings "
          f"({memory_mb(r):,.0f} MB), {len(a):,} actions, {len(p):,} progress rows, "
          f"{len(frames['goals']):,} goals (generated in {t_make:.1f} s; {load_average()})", flush=True)
    figures = {f"{label}.people": people, f"{label}.days": days, f"{label}.rating_rows": len(r),
               f"{label}.action_rows": len(a), f"{label}.progress_rows": len(p)}

    ours = _ours_in_fresh_process(frames, runs)
    figures[f"analysis_{label}_s"] = ours["total_s"]
    figures[f"analysis_{label}_peak_rss_gb"] = ours["peak_rss_gb"]
    for k, v in ours.items():
        if k.endswith("_s") and k != "total_s":
            figures[f"{label}.{k}"] = v

    con, cases = _peer_cases(frames)
    ratios, rows = {}, []
    for fn, peer_list in cases.items():
        mine = {"element_trajectories": lambda: element_trajectories(r),
                "habit_strength": lambda: habit_strength(a, frames["goals"]),
                "streaks": lambda: streaks(a, frames["goals"])}[fn]()
        t_ours = ours[f"{fn}_s"]
        best = np.inf
        for peer, call in peer_list:
            theirs, t = timed(call, runs=runs)
            assert_close(f"{fn} ({peer})", mine, _as_pandas(theirs), *CHECKS[fn])
            del theirs
            figures[f"{label}.{fn}.{peer}_s"] = t
            best = min(best, t)
            rows.append((fn, peer, fmt(t), fmt(t_ours), fmt(t / t_ours)))
        ratios[fn] = best / t_ours
        figures[f"{label}.{fn}.vs_best_peer"] = ratios[fn]
        del mine
    con.close()
    figures[f"analysis_{label}_vs_best_peer"] = min(ratios.values())

    if naive:
        est = _naive(frames, people)
        for fn, t in est.items():
            figures[f"{label}.{fn}.naive_est_s"] = t
            rows.append((fn, "naive loop (scaled)", fmt(t), fmt(ours[f"{fn}_s"]), fmt(t / ours[f"{fn}_s"])))
        covered = sum(ours[f"{fn}_s"] for fn in est)
        figures[f"analysis_{label}_speedup_vs_naive"] = sum(est.values()) / covered
    print_table(rows, ("function", "peer", "peer s", "ours s", "peer/ours"))
    print(f"  all six functions on everyone: {ours['total_s']:.2f} s (median of {runs}), "
          f"peak memory {ours['peak_rss_gb']:.2f} GB; "
          + ", ".join(f"{fn} {ours[f'{fn}_s']:.2f} s" for fn in
                      ("element_trends", "action_progress_correlation", "goal_pace"))
          + f"; worst peer ratio {figures[f'analysis_{label}_vs_best_peer']:.2f}x"
          + (f", {figures[f'analysis_{label}_speedup_vs_naive']:.0f}x the naive loops" if naive else "")
          + f" ({load_average()})", flush=True)
    return figures
