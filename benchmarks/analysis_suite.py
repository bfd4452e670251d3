"""The whole analysis of everyone, as one organisation would run it, timed function by function.

``python -m benchmarks.analysis_suite DIR RUNS`` reads the frames from Parquet files in DIR
(written by the parent benchmark), runs :func:`run_all` RUNS times in this fresh process (so
its peak memory is the analysis's own: the frames plus what the functions allocate) and
prints one JSON line: the median seconds of each function, of the total, and the peak RSS.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from benchmarks.common import frames_from_parquet, peak_rss_gb
from mastery_analysis.analysis.correlation import action_progress_correlation
from mastery_analysis.analysis.goals import goal_pace
from mastery_analysis.analysis.habits import habit_strength, streaks
from mastery_analysis.analysis.trajectories import element_trajectories, element_trends

LAGS = range(0, 8)
FUNCTIONS = ("element_trajectories", "element_trends", "habit_strength", "streaks",
             "action_progress_correlation", "goal_pace")


def calls(frames):
    """``(name, zero-argument callable)`` for every function of the analysis, in order."""
    r, a, p, g = frames["ratings"], frames["actions"], frames["progress"], frames["goals"]
    checkins = r[["participant_id", "date"]]
    return [
        ("element_trajectories", lambda: element_trajectories(r)),
        ("element_trends", lambda: element_trends(r)),
        ("habit_strength", lambda: habit_strength(a, g)),
        ("streaks", lambda: streaks(a, g)),
        ("action_progress_correlation",
         lambda: action_progress_correlation(a, p, lags=LAGS, checkins=checkins)),
        ("goal_pace", lambda: goal_pace(g, p)),
    ]


def run_all(frames, runs: int = 1) -> dict:
    """Median seconds per function and in total over ``runs`` runs (outputs dropped)."""
    per = {name: [] for name in FUNCTIONS}
    totals = []
    for _ in range(runs):
        total = 0.0
        for name, call in calls(frames):
            t0 = time.perf_counter()
            out = call()
            dt = time.perf_counter() - t0
            del out
            per[name].append(dt)
            total += dt
        totals.append(total)
    return {"total_s": statistics.median(totals),
            **{f"{n}_s": statistics.median(v) for n, v in per.items()}}


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    frames = frames_from_parquet(Path(argv[0]))
    runs = int(argv[1]) if len(argv) > 1 else 1
    result = run_all(frames, runs)
    result["peak_rss_gb"] = peak_rss_gb()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
