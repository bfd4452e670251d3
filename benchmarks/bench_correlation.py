"""Benchmark: action_progress_correlation at organisation scale against a per-group scipy loop.

``python -m benchmarks.bench_correlation [PEOPLE] [DAYS]`` (defaults 10,000 x 365, one goal
each, daily check-ins with 10% missed days, 8 lags). The vectorised function runs on everyone;
the ``scipy.stats.pearsonr`` loop (pairing and all, one call per goal and lag) runs on a subset
in the same process and is scaled up per goal to give the ratio.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from scipy import stats

from mastery_analysis.analysis.correlation import action_progress_correlation

LAGS = range(0, 8)
LOOP_SUBSET = 200


def make_frames(people: int, days: int, *, seed: int = 0):
    """Actions and progress for ``people`` x ``days``, one goal each (about 90% of days seen)."""
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.array([f"p{i:05d}" for i in range(people)], dtype=object), days)
    date = np.tile(pd.date_range("2025-01-01", periods=days).to_numpy(), people)
    seen = rng.random(people * days) < 0.9
    count = rng.poisson(1.0, people * days)
    change = rng.normal(0.2, 0.5, people * days) + 0.05 * np.r_[0, count[:-1]]
    level = np.cumsum(change.reshape(people, days), axis=1).ravel()
    goal = pid + "-g"
    actions = pd.DataFrame({"participant_id": pid[seen], "date": date[seen], "goal_id": goal[seen],
                            "count": count[seen]})
    progress = pd.DataFrame({"participant_id": pid[seen], "date": date[seen], "goal_id": goal[seen],
                             "percent": level[seen]})
    for f in (actions, progress):
        f["participant_id"] = f["participant_id"].astype("str")
        f["goal_id"] = f["goal_id"].astype("str")
    return actions, progress


def scipy_loop(actions: pd.DataFrame, progress: pd.DataFrame, lags=LAGS) -> float:
    """The obvious per-goal implementation: daily grid, pairing, one pearsonr per lag.

    Returns the seconds spent inside ``scipy.stats.pearsonr`` alone.
    """
    in_scipy = 0.0
    seen_days = pd.concat([actions[["participant_id", "date"]], progress[["participant_id", "date"]]])
    for (pid, goal), p in progress.groupby(["participant_id", "goal_id"], sort=False):
        p = p.sort_values("date")
        grid = pd.date_range(p["date"].iloc[0] - pd.Timedelta(days=max(lags)), p["date"].iloc[-1])
        rate = p.set_index("date")["percent"].diff().shift(-1) / p["date"].diff().shift(-1).dt.days.to_numpy()
        y = rate.reindex(grid).ffill()
        y[grid >= p["date"].iloc[-1]] = np.nan
        checked = set(seen_days.loc[seen_days["participant_id"] == pid, "date"])
        a = actions[(actions["participant_id"] == pid) & (actions["goal_id"] == goal)].set_index("date")["count"]
        x = pd.Series([a.get(d, 0.0) if d in checked else np.nan for d in grid], index=grid, dtype=float)
        for lag in lags:
            ys = y.shift(-lag)
            ok = x.notna() & ys.notna()
            if ok.sum() >= 3:
                xv, yv = x[ok].to_numpy(), ys[ok].to_numpy()
                t0 = time.perf_counter()
                stats.pearsonr(xv, yv)
                in_scipy += time.perf_counter() - t0
    return in_scipy


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    people = int(argv[0]) if len(argv) > 0 else 10_000
    days = int(argv[1]) if len(argv) > 1 else 365
    t0 = time.perf_counter()
    actions, progress = make_frames(people, days)
    t_make = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = action_progress_correlation(actions, progress, lags=LAGS)
    t_vec = time.perf_counter() - t0
    subset_ids = actions["participant_id"].drop_duplicates().iloc[:LOOP_SUBSET]
    sub_a = actions[actions["participant_id"].isin(subset_ids)]
    sub_p = progress[progress["participant_id"].isin(subset_ids)]
    t0 = time.perf_counter()
    t_pearson_sub = scipy_loop(sub_a, sub_p)
    t_loop_sub = time.perf_counter() - t0
    n_sub = len(subset_ids)
    t_loop_full = t_loop_sub / n_sub * people
    print(f"action_progress_correlation: {people:,} people x {days} days, {len(actions):,} action rows "
          f"+ {len(progress):,} progress rows, {len(LAGS)} lags -> {len(res):,} rows")
    print(f"  data generation          {t_make:8.2f} s")
    print(f"  vectorised (everyone)    {t_vec:8.2f} s")
    print(f"  scipy.pearsonr loop      {t_loop_sub:8.2f} s for {n_sub} people "
          f"-> about {t_loop_full:,.0f} s for {people:,} (scaled per person)")
    print(f"  of which pearsonr alone  {t_pearson_sub:8.2f} s -> about {t_pearson_sub / n_sub * people:,.0f} s "
          f"for {people:,} ({t_pearson_sub / n_sub * people / t_vec:,.1f}x the vectorised time)")
    print(f"  ratio loop / vectorised  about {t_loop_full / t_vec:,.0f}x")
    return {"people": people, "days": days, "vectorised_s": t_vec, "loop_subset_s": t_loop_sub,
            "loop_subset_people": n_sub, "loop_full_estimate_s": t_loop_full,
            "pearsonr_only_full_estimate_s": t_pearson_sub / n_sub * people,
            "ratio": t_loop_full / t_vec}


if __name__ == "__main__":
    main()
