"""What a data scientist would write instead, with polars, pandas and DuckDB, and a naive loop.

Each peer computes the same table as the package's function on the same frames (the
benchmark checks the results equal) in the idiom of its library:

- polars: ``rolling_mean_by`` and cumulative sums ``over`` groups, ``join_asof``,
  ``date_ranges``, ``ewm_mean`` over groups;
- pandas: ``groupby().rolling()``, ``groupby().ewm()``, ``merge_asof``;
- DuckDB: window functions and ``ASOF JOIN``.

The time-aware exponential mean of :func:`element_trajectories` is pandas' ``adjust=True``
form (a weighted mean of all past ratings with weights 0.5 ** (age / halflife)). polars'
``ewm_mean_by`` is the other, recursive form (``adjust=False``) and gives different numbers, so
the polars and DuckDB peers compute the same weighted mean with cumulative sums of
``rating * 2 ** (t / halflife)`` over the group, which is exact to about 1e-12 at these spans.

The polars frames are converted from pandas outside the timed region, and polars results are
left as polars frames (ours are pandas frames): both favour polars.

The naive versions are one Python iteration per group calling pandas and SciPy inside, run on
a subset and scaled up per person.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from mastery_analysis.analysis.correlation import lagged_pairs
from mastery_analysis.analysis.habits import loop_multiplier

WINDOW_DAYS = 7
HALFLIFE_DAYS = 7.0
GROUP = ["participant_id", "element"]


# ------------------------------------------------------------------ element_trajectories
def trajectories_pandas(ratings: pd.DataFrame) -> pd.DataFrame:
    cur = ratings[ratings["kind"] == "current"].sort_values(GROUP + ["date"])
    vis = ratings[ratings["kind"] == "vision"].sort_values("date")
    g = cur.set_index("date").groupby(GROUP, observed=True)["rating"]
    rolling = g.rolling(f"{WINDOW_DAYS}D").mean().to_numpy()
    ewm = cur.groupby(GROUP, observed=True)["rating"].ewm(
        halflife=f"{HALFLIFE_DAYS:g}D", times=cur["date"]).mean().to_numpy()
    out = cur[GROUP + ["date", "rating"]].assign(rating=cur["rating"].astype(float),
                                                  rolling_mean=rolling, ewm=ewm)
    out = pd.merge_asof(out.sort_values("date"),
                        vis[GROUP + ["date", "rating"]].rename(columns={"rating": "vision"}),
                        on="date", by=GROUP)
    out["vision"] = out["vision"].astype(float)
    out["gap"] = out["vision"] - out["rolling_mean"]
    return out


def trajectories_polars(ratings):
    import polars as pl

    t = (pl.col("date") - pl.col("date").min().over(GROUP)).dt.total_days() / HALFLIFE_DAYS
    w = pl.lit(2.0).pow(t)
    x = pl.col("rating").cast(pl.Float64)
    cur = (ratings.filter(pl.col("kind") == "current").sort(GROUP + ["date"]).with_columns(
        rating=x,
        rolling_mean=x.rolling_mean_by("date", window_size=f"{WINDOW_DAYS}d").over(GROUP),
        ewm=(x * w).cum_sum().over(GROUP) / w.cum_sum().over(GROUP)))
    vis = (ratings.filter(pl.col("kind") == "vision").select(GROUP + ["date", "rating"])
           .rename({"rating": "vision"}).with_columns(pl.col("vision").cast(pl.Float64)).sort("date"))
    out = cur.sort("date").join_asof(vis, on="date", by=GROUP, strategy="backward",
                                     check_sortedness=False)
    return out.with_columns(gap=pl.col("vision") - pl.col("rolling_mean"))


def trajectories_duckdb(con) -> pd.DataFrame:
    return con.execute(f"""
        WITH cur AS (
            SELECT participant_id, element, date, rating::DOUBLE AS rating,
                   date_diff('day', min(date) OVER (PARTITION BY participant_id, element), date)
                       / {HALFLIFE_DAYS} AS t
            FROM ratings WHERE kind = 'current'),
        s AS (
            SELECT participant_id, element, date, rating,
                   avg(rating) OVER (PARTITION BY participant_id, element ORDER BY date
                       RANGE BETWEEN INTERVAL {WINDOW_DAYS - 1} DAYS PRECEDING AND CURRENT ROW)
                       AS rolling_mean,
                   sum(rating * pow(2, t)) OVER w / sum(pow(2, t)) OVER w AS ewm
            FROM cur
            WINDOW w AS (PARTITION BY participant_id, element ORDER BY date
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
        v AS (SELECT participant_id, element, date, rating::DOUBLE AS vision
              FROM ratings WHERE kind = 'vision')
        SELECT s.*, v.vision, v.vision - s.rolling_mean AS gap
        FROM s ASOF LEFT JOIN v
          ON s.participant_id = v.participant_id AND s.element = v.element AND s.date >= v.date
    """).df()


# ------------------------------------------------------------------ habit_strength
def _goal_frame(goals: pd.DataFrame, actions: pd.DataFrame) -> pd.DataFrame:
    last = actions.groupby("participant_id", observed=True)["date"].max().rename("last")
    g = goals.merge(last, left_on="participant_id", right_index=True)
    daily = g["freq_times"] >= g["freq_days"]
    return g.assign(num=np.where(daily, g["freq_times"], 2 * g["freq_times"]),
                    den=np.where(daily, g["freq_days"], 2 * g["freq_days"]),
                    m=loop_multiplier(g["freq_times"], g["freq_days"]))


def habits_pandas(actions: pd.DataFrame, goals: pd.DataFrame) -> pd.DataFrame:
    g = _goal_frame(goals, actions)
    span = (g["last"] - g["start_date"]).dt.days + 1
    grid = g.loc[g.index.repeat(span)].reset_index(drop=True)
    grid["t"] = grid.groupby("goal_id").cumcount()
    grid["date"] = grid["start_date"] + pd.to_timedelta(grid["t"], unit="D")
    done = actions.loc[actions["count"] > 0, ["goal_id", "date"]].astype({"goal_id": str})
    done = done.drop_duplicates().assign(done=1.0)
    grid = grid.merge(done, on=["goal_id", "date"], how="left")
    grid["done"] = grid["done"].fillna(0.0)
    parts = []
    for (den, m), part in grid.groupby(["den", "m"]):  # one rolling window and decay per frequency
        by = part.groupby("goal_id", sort=False)
        in_window = by["done"].rolling(int(den), min_periods=1).sum().to_numpy()
        part = part.assign(completion=np.minimum(1.0, in_window / part["num"].to_numpy()))
        # Loop's score from 0: (1 - m) * sum m^(t-j) c_j = adjust=True ewm * (1 - m^(t+1))
        ewm = part.groupby("goal_id", sort=False)["completion"].ewm(alpha=1 - m).mean().to_numpy()
        parts.append(part.assign(score=ewm * (1 - m ** (part["t"].to_numpy() + 1))))
    out = pd.concat(parts, ignore_index=True)
    return out[["participant_id", "goal_id", "date", "score"]]


def habits_polars(actions, goals):
    import polars as pl

    last = actions.group_by("participant_id").agg(pl.col("date").max().alias("last"))
    g = goals.with_columns(pl.col("participant_id").cast(pl.String)).join(
        last.with_columns(pl.col("participant_id").cast(pl.String)), on="participant_id")
    daily = pl.col("freq_times") >= pl.col("freq_days")
    f = pl.col("freq_times").cast(pl.Float64) / pl.col("freq_days")
    g = g.with_columns(
        num=pl.when(daily).then(pl.col("freq_times")).otherwise(2 * pl.col("freq_times")),
        den=pl.when(daily).then(pl.col("freq_days")).otherwise(2 * pl.col("freq_days")),
        m=pl.lit(0.5).pow(f.sqrt() / 13.0),
        date=pl.date_ranges(pl.col("start_date"), pl.col("last"), interval="1d"))
    grid = g.explode("date").with_columns(pl.col("date").cast(pl.Datetime("ns")),
                                          t=pl.int_range(pl.len()).over("goal_id"))
    done = (actions.filter(pl.col("count") > 0).select(pl.col("goal_id").cast(pl.String), pl.col("date").cast(pl.Datetime("ns")))
            .unique().with_columns(done=pl.lit(1.0)))
    grid = grid.join(done, on=["goal_id", "date"], how="left").with_columns(
        pl.col("done").fill_null(0.0))
    parts = []
    for (den, m), part in grid.group_by(["den", "m"]):
        part = part.sort(["goal_id", "date"]).with_columns(
            completion=pl.min_horizontal(pl.lit(1.0), pl.col("done").rolling_sum(
                int(den), min_samples=1).over("goal_id") / pl.col("num")))
        part = part.with_columns(score=pl.col("completion").ewm_mean(alpha=1 - m, adjust=True)
                                 .over("goal_id") * (1 - pl.lit(m).pow(pl.col("t") + 1)))
        parts.append(part.select("participant_id", "goal_id", "date", "score"))
    return pl.concat(parts)


# ------------------------------------------------------------------ streaks
def streaks_pandas(actions: pd.DataFrame) -> pd.DataFrame:
    a = actions.loc[actions["count"] > 0, ["participant_id", "goal_id", "date"]]
    a = a.drop_duplicates().sort_values(["participant_id", "goal_id", "date"])
    new = (a["goal_id"] != a["goal_id"].shift()) | (a["date"].diff() != pd.Timedelta(days=1))
    out = a.groupby(new.cumsum().to_numpy()).agg(
        participant_id=("participant_id", "first"), goal_id=("goal_id", "first"),
        start=("date", "min"), end=("date", "max"), length=("date", "size"))
    return out.reset_index(drop=True)


def streaks_polars(actions):
    import polars as pl

    a = actions.filter(pl.col("count") > 0).select("participant_id", "goal_id", "date").unique()
    a = a.sort(["participant_id", "goal_id", "date"]).with_columns(
        run=(pl.col("date").diff().dt.total_days().fill_null(0) != 1).cum_sum().over("goal_id"))
    return a.group_by(["participant_id", "goal_id", "run"]).agg(
        start=pl.col("date").min(), end=pl.col("date").max(), length=pl.len()).drop("run")


def streaks_duckdb(con) -> pd.DataFrame:
    return con.execute("""
        WITH d AS (SELECT DISTINCT participant_id, goal_id, date FROM actions WHERE count > 0),
        isl AS (SELECT *, date - to_days((row_number() OVER (PARTITION BY goal_id ORDER BY date))::INTEGER) AS island
                FROM d)
        SELECT participant_id, goal_id, min(date) AS start, max(date) AS "end", count(*) AS length
        FROM isl GROUP BY participant_id, goal_id, island
    """).df()


# ------------------------------------------------------------------ naive per-group loops
def naive_trajectories(ratings: pd.DataFrame) -> pd.DataFrame:
    """One pandas iteration per participant and element: rolling, ewm and merge_asof."""
    cur = ratings[ratings["kind"] == "current"]
    vis = ratings[ratings["kind"] == "vision"]
    visions = {k: g.sort_values("date") for k, g in vis.groupby(GROUP, observed=True)}
    parts = []
    for key, g in cur.groupby(GROUP, observed=True):
        g = g.sort_values("date")
        s = g.set_index("date")["rating"].astype(float)
        rolling = s.rolling(f"{WINDOW_DAYS}D").mean().to_numpy()
        ewm = s.ewm(halflife=pd.Timedelta(days=HALFLIFE_DAYS), times=s.index).mean().to_numpy()
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
            done[a.loc[a["count"] > 0, "date"]] = 1.0
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
    for (pid, element), g in cur.groupby(GROUP, observed=True):
        weekly = g.set_index("date")["rating"].astype(float).resample("W").mean().dropna()
        weeks = (weekly.index - pd.Timestamp("1970-01-01")).days.to_numpy() / 7.0
        ts = stats.theilslopes(weekly.to_numpy(), weeks)
        kt = stats.kendalltau(weeks, weekly.to_numpy())
        rows.append((pid, element, len(weekly), ts.slope, ts.low_slope, ts.high_slope, kt.statistic))
    return pd.DataFrame(rows, columns=["participant_id", "element", "n_periods", "slope",
                                       "slope_low", "slope_high", "tau"])


def naive_streaks(actions: pd.DataFrame) -> pd.DataFrame:
    """One iteration per goal, walking its days."""
    rows = []
    done = actions[actions["count"] > 0]
    for (pid, goal), g in done.groupby(["participant_id", "goal_id"], observed=True):
        days = sorted(set(g["date"]))
        start = prev = days[0]
        for d in days[1:]:
            if (d - prev).days != 1:
                rows.append((pid, goal, start, prev, (prev - start).days + 1))
                start = d
            prev = d
        rows.append((pid, goal, start, prev, (prev - start).days + 1))
    return pd.DataFrame(rows, columns=["participant_id", "goal_id", "start", "end", "length"])


def naive_correlation(actions: pd.DataFrame, progress: pd.DataFrame, checkins: pd.DataFrame,
                      lags=range(0, 8)) -> pd.DataFrame:
    """The package's own per-goal reference (``lagged_pairs``) and one ``pearsonr`` per lag."""
    rows = []
    a = actions.astype({"participant_id": str, "goal_id": str})
    p = progress.astype({"participant_id": str, "goal_id": str})
    c = checkins.astype({"participant_id": str})
    for (pid, goal), _ in p.groupby(["participant_id", "goal_id"]):
        for lag in lags:
            pairs = lagged_pairs(a, p, participant=pid, goal_id=goal, lag=lag, checkins=c)
            r = stats.pearsonr(pairs["actions"], pairs["progress_change"]).statistic \
                if len(pairs) >= 3 and pairs["actions"].nunique() > 1 \
                and pairs["progress_change"].nunique() > 1 else np.nan
            rows.append((pid, goal, lag, len(pairs), r))
    return pd.DataFrame(rows, columns=["participant_id", "goal_id", "lag", "n", "r"])
