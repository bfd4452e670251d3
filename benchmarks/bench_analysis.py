"""Benchmark: element_trajectories, habit_strength and element_trends at organisation scale.

``python -m benchmarks.bench_analysis [PEOPLE] [DAYS]`` (defaults 10,000 x 365: about 15.5
million current ratings plus quarterly vision ratings, and 20,000 goals with about 6.2 million
action rows; see :mod:`benchmarks.synthetic`). Each vectorised function runs on everyone.
The naive baseline, the obvious per-group implementation (one Python iteration per
participant and element, or per goal, calling pandas and SciPy inside), runs on the first
``SUBSET`` people in the same process; its time is scaled up linearly per person (the work
is the same for every person) to give the ratio, and its results are checked against the
vectorised ones on that subset. No timing is asserted anywhere.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats

from benchmarks.synthetic import memory_mb, subset, synthetic_frames
from mastery_analysis.analysis.habits import habit_strength, loop_multiplier
from mastery_analysis.analysis.trajectories import element_trajectories, element_trends

SUBSET = 200


def naive_trajectories(ratings: pd.DataFrame, window="7D", halflife="7D") -> pd.DataFrame:
    """One pandas iteration per participant and element: rolling, ewm and merge_asof."""
    cur = ratings[ratings["kind"] == "current"]
    vis = ratings[ratings["kind"] == "vision"]
    visions = {k: g.sort_values("date") for k, g in
               vis.groupby(["participant_id", "element"], observed=True)}
    parts = []
    for key, g in cur.groupby(["participant_id", "element"], observed=True):
        g = g.sort_values("date")
        s = g.set_index("date")["rating"].astype(float)
        rolling = s.rolling(window).mean().to_numpy()
        ewm = s.ewm(halflife=pd.Timedelta(halflife), times=s.index).mean().to_numpy()
        v = visions.get(key)
        vision = (pd.merge_asof(g[["date"]], v[["date", "rating"]], on="date")["rating"]
                  .to_numpy(dtype=float) if v is not None else np.full(len(g), np.nan))
        parts.append(pd.DataFrame({"participant_id": key[0], "element": key[1],
                                   "date": g["date"].to_numpy(), "rating": s.to_numpy(),
                                   "rolling_mean": rolling, "ewm": ewm, "vision": vision,
                                   "gap": vision - rolling}))
    return pd.concat(parts, ignore_index=True)


def naive_habit_strength(actions: pd.DataFrame, goals: pd.DataFrame) -> pd.DataFrame:
    """One iteration per goal: a daily grid, a rolling sum and Loop's recursion day by day."""
    last = actions.groupby("participant_id", observed=True)["date"].max()
    by_goal = {k: g for k, g in actions.groupby("goal_id", observed=True)}
    parts = []
    for goal in goals.itertuples():
        a = by_goal.get(goal.goal_id)
        start = min(goal.start_date, a["date"].min()) if a is not None else goal.start_date
        grid = pd.date_range(start, max(last.get(goal.participant_id, start), start))
        done = pd.Series(0.0, index=grid)
        if a is not None:
            hit = a.loc[a["count"] > 0, "date"]
            done[hit] = 1.0
        daily = goal.freq_times >= goal.freq_days
        num = goal.freq_times if daily else 2 * goal.freq_times
        den = goal.freq_days if daily else 2 * goal.freq_days
        completion = np.minimum(1.0, done.rolling(int(den), min_periods=1).sum().to_numpy() / num)
        m = float(loop_multiplier(goal.freq_times, goal.freq_days))
        score, scores = 0.0, np.empty(len(grid))
        for t, c in enumerate(completion):
            score = m * score + (1 - m) * c
            scores[t] = score
        parts.append(pd.DataFrame({"participant_id": goal.participant_id, "goal_id": goal.goal_id,
                                   "date": grid, "score": scores}))
    return pd.concat(parts, ignore_index=True)


def naive_trends(ratings: pd.DataFrame) -> pd.DataFrame:
    """One iteration per participant and element: weekly means, theilslopes, kendalltau."""
    cur = ratings[ratings["kind"] == "current"]
    rows = []
    for (pid, element), g in cur.groupby(["participant_id", "element"], observed=True):
        weekly = g.set_index("date")["rating"].astype(float).resample("W").mean().dropna()
        weeks = (weekly.index - pd.Timestamp("1970-01-01")).days.to_numpy() / 7.0
        ts = stats.theilslopes(weekly.to_numpy(), weeks)
        kt = stats.kendalltau(weeks, weekly.to_numpy())
        rows.append((pid, element, len(weekly), ts.slope, ts.low_slope, ts.high_slope,
                     kt.statistic, kt.pvalue))
    return pd.DataFrame(rows, columns=["participant_id", "element", "n_periods", "slope",
                                       "slope_low", "slope_high", "tau", "p_value"])


def _timed(fn, *args):
    """The result, wall seconds and CPU seconds of this process (steadier on a busy machine)."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - t0, time.process_time() - c0


def _check(name, vectorised, naive, keys, columns):
    """The naive result on the subset equals the vectorised result for the same people."""
    mine = vectorised[vectorised["participant_id"].astype(str).isin(set(naive["participant_id"].astype(str)))]
    mine = mine.astype({k: str for k in keys}).sort_values(keys).reset_index(drop=True)
    naive = naive.astype({k: str for k in keys}).sort_values(keys).reset_index(drop=True)
    if len(mine) != len(naive):
        raise AssertionError(f"{name}: {len(mine)} rows vectorised, {len(naive)} naive")
    for c in columns:
        if not np.allclose(mine[c].to_numpy(float), naive[c].to_numpy(float), rtol=1e-9,
                           atol=1e-9, equal_nan=True):
            raise AssertionError(f"{name}: column {c} differs from the naive baseline")


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    people = int(argv[0]) if len(argv) > 0 else 10_000
    days = int(argv[1]) if len(argv) > 1 else 365
    n_sub = min(SUBSET, people)
    frames, t_make, _ = _timed(synthetic_frames, people, days)
    ratings, actions, goals = frames["ratings"], frames["actions"], frames["goals"]
    small = subset(frames, n_sub)
    print(f"analysis: {people:,} people x {days} days: {len(ratings):,} rating rows "
          f"({memory_mb(ratings):,.0f} MB), {len(actions):,} action rows "
          f"({memory_mb(actions):,.0f} MB), {len(goals):,} goals; generated in {t_make:.1f} s")
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          "(timings on a busy machine are noisy, up to 2x or more)")
    figures = {"people": people, "days": days, "rating_rows": len(ratings),
               "action_rows": len(actions), "subset_people": n_sub}
    cases = [
        ("element_trajectories", element_trajectories, (ratings,), naive_trajectories,
         (small["ratings"],), ["participant_id", "element", "date"],
         ["rating", "rolling_mean", "ewm", "vision", "gap"]),
        ("habit_strength", habit_strength, (actions, goals), naive_habit_strength,
         (small["actions"], small["goals"]), ["participant_id", "goal_id", "date"], ["score"]),
        # the autocorrelation-corrected p and interval are checked against plain per-group
        # computations and pymannkendall in tests/test_trajectories.py; here slope and tau
        ("element_trends", element_trends, (ratings,), naive_trends, (small["ratings"],),
         ["participant_id", "element"], ["n_periods", "slope", "tau"]),
    ]
    for name, fast, fast_args, slow, slow_args, keys, columns in cases:
        out, t_fast, c_fast = _timed(fast, *fast_args)
        base, t_slow, c_slow = _timed(slow, *slow_args)
        _check(name, out, base, keys, columns)
        scale = people / n_sub
        ratio, cpu_ratio = t_slow * scale / t_fast, c_slow * scale / c_fast
        print(f"  {name}: {len(out):,} rows out")
        print(f"    vectorised (everyone)     {t_fast:8.2f} s wall {c_fast:8.2f} s CPU")
        print(f"    naive per-group loop      {t_slow:8.2f} s wall {c_slow:8.2f} s CPU for {n_sub} "
              f"people -> about {t_slow * scale:,.0f} s wall for {people:,} (scaled per person)")
        print(f"    ratio naive / vectorised  about {ratio:,.0f}x wall, {cpu_ratio:,.0f}x CPU "
              "(results equal on the subset)")
        figures[name] = {"vectorised_s": t_fast, "vectorised_cpu_s": c_fast,
                         "naive_subset_s": t_slow, "naive_subset_cpu_s": c_slow,
                         "naive_full_estimate_s": t_slow * scale, "ratio": ratio,
                         "cpu_ratio": cpu_ratio, "rows": len(out)}
        del out, base
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"  peak memory of the process about {peak:.1f} GB")
    figures["peak_rss_gb"] = peak
    return figures


if __name__ == "__main__":
    main()
