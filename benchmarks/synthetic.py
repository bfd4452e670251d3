"""One seeded generator of benchmark data, at three sizes.

``synthetic_frames(people, days, seed=0)`` returns tidy ``participants``, ``ratings``,
``goals``, ``actions`` and ``progress`` frames with the package's column names and compact
dtypes: ids and elements as pandas categoricals, ratings as int8, action counts as int16,
dates as datetime64[ns]. :data:`SIZES` names the three sizes the benchmarks use:

- ``personal``: 1 person x 3 years, daily;
- ``cohort``: 500 people x 1 year;
- ``organisation``: 10,000 people x 365 days: about 15.5 million current ratings (five
  elements, about 85% of days checked in) plus a vision rating per element each quarter,
  2 goals per person with an action row on every check-in day (about 6.2 million rows), and
  progress (about 3.6 million rows: the daily goal on every check-in day, the weekly goal
  once a week).

Everything is generated with whole-array numpy operations; the same seed gives the same
frames. :func:`store_frames` turns them into the store's tables (plain string ids, every
column) for seeding a store.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ELEMENTS = ("proactive", "connect", "informed", "focused", "potential")
START = pd.Timestamp("2025-01-01")
CHECK_IN_RATE = 0.85
GOALS = (("daily", 1, 1), ("weekly3", 3, 7))  # goal suffix, freq_times, freq_days
SIZES = {"personal": (1, 3 * 365), "cohort": (500, 365), "organisation": (10_000, 365)}


def person_ids(people: int) -> pd.Categorical:
    return pd.Categorical([f"p{i:06d}" for i in range(people)])


def synthetic_frames(people: int = 10_000, days: int = 365, *, seed: int = 0) -> dict[str, pd.DataFrame]:
    """``participants``, ``ratings``, ``goals``, ``actions`` and ``progress`` (see the module doc)."""
    rng = np.random.default_rng(seed)
    ids = person_ids(people)
    n_el = len(ELEMENTS)
    dates = pd.date_range(START, periods=days).to_numpy()
    checked = rng.random((people, days)) < CHECK_IN_RATE  # the same days for every element

    # ratings: a slow random walk per person and element, rounded to the 1..10 scale
    steps = rng.normal(0.0, 0.25, (people, n_el, days)).astype(np.float32)
    level = 5.5 + np.cumsum(steps, axis=2) + rng.normal(0, 1.0, (people, n_el, 1)).astype(np.float32)
    values = np.clip(np.rint(level), 1, 10).astype(np.int8)
    del steps, level
    mask = np.broadcast_to(checked[:, None, :], values.shape)
    p_idx, e_idx, d_idx = np.nonzero(mask)
    current = pd.DataFrame({
        "participant_id": pd.Categorical.from_codes(p_idx.astype(np.int32), ids.categories),
        "date": dates[d_idx],
        "element": pd.Categorical.from_codes(e_idx.astype(np.int8), ELEMENTS),
        "rating": values[p_idx, e_idx, d_idx],
    })
    del p_idx, e_idx, d_idx, values
    # vision: one rating per element each quarter, on the quarter's first day
    q_days = np.arange(0, days, 91)
    vp, ve, vq = np.meshgrid(np.arange(people), np.arange(n_el), q_days, indexing="ij")
    vision = pd.DataFrame({
        "participant_id": pd.Categorical.from_codes(vp.ravel().astype(np.int32), ids.categories),
        "date": dates[vq.ravel()],
        "element": pd.Categorical.from_codes(ve.ravel().astype(np.int8), ELEMENTS),
        "rating": rng.integers(7, 11, vp.size).astype(np.int8),
    })
    ratings = pd.concat([current.assign(kind="current"), vision.assign(kind="vision")],
                        ignore_index=True)
    ratings["kind"] = pd.Categorical(ratings["kind"], categories=["current", "vision"])
    del current, vision

    # goals and actions: every goal gets a row on each check-in day (zero counts included)
    goal_names = [f"p{i:06d}-{g}" for i in range(people) for g, _, _ in GOALS]
    goals = pd.DataFrame({
        "goal_id": goal_names,
        "participant_id": np.repeat(np.asarray(ids.astype(str)), len(GOALS)),
        "title": np.tile([f"{g} practice" for g, _, _ in GOALS], people),
        "freq_times": np.tile([t for _, t, _ in GOALS], people).astype(np.int16),
        "freq_days": np.tile([d for _, _, d in GOALS], people).astype(np.int16),
        "start_date": START,
        "due_date": START + pd.Timedelta(days=days + 30),
    })
    rate = np.array([t / d for _, t, d in GOALS])
    ap, ad = np.nonzero(checked)
    ag = np.repeat(np.arange(len(GOALS))[None, :], len(ap), axis=0).ravel()
    ap, ad = np.repeat(ap, len(GOALS)), np.repeat(ad, len(GOALS))
    counts = (rng.random(len(ap)) < rate[ag] * 0.9).astype(np.int16) * rng.integers(
        1, 4, len(ap)).astype(np.int16)
    actions = pd.DataFrame({
        "participant_id": pd.Categorical.from_codes(ap.astype(np.int32), ids.categories),
        "date": dates[ad],
        "goal_id": pd.Categorical.from_codes((ap * len(GOALS) + ag).astype(np.int32), goal_names),
        "count": counts,
    })

    # progress: percent rises with the actions done (plus noise), capped at 100; the daily
    # goal is recorded on every check-in day, the weekly one on the check-in days of Mondays
    gain = counts.astype(np.float64) * rng.uniform(0.1, 0.4, len(counts)) + rng.normal(0.05, 0.3, len(counts))
    goal_code = ap * len(GOALS) + ag
    level = np.clip(_grouped_cumsum(gain, goal_code), 0.0, 100.0)
    weekday = pd.DatetimeIndex(dates).day_of_week.to_numpy()[ad]
    keep = (ag == 0) | (weekday == 0)
    progress = pd.DataFrame({
        "participant_id": pd.Categorical.from_codes(ap[keep].astype(np.int32), ids.categories),
        "date": dates[ad[keep]],
        "goal_id": pd.Categorical.from_codes(goal_code[keep].astype(np.int32), goal_names),
        "percent": np.round(level[keep], 1),
    })
    participants = pd.DataFrame({
        "participant_id": np.asarray(ids.astype(str)),
        "name": [f"Person {i}" for i in range(people)],
        "cohort": "org",
        "joined_on": START,
        "consent_share": True,
    })
    # the questionnaire at baseline (the first day) and post (the last day), on its 1..5 scale
    from mastery_analysis.framework import load_framework

    fw = load_framework()
    items = fw.questionnaire.items
    n_items = len(items)
    shift = rng.normal(0.3, 0.5, (people, 1))
    latent = rng.normal(3.0, 0.7, (people, 1)) + np.stack([np.zeros((people, 1)), shift])
    vals = np.clip(np.rint(latent + rng.normal(0, 0.6, (2, people, n_items))), 1, 5).astype(int)
    reverse = np.array([bool(i.reverse) for i in items])
    vals = np.where(reverse, 6 - vals, vals)
    responses = pd.DataFrame({
        "participant_id": np.tile(np.repeat(np.asarray(ids.astype(str)), n_items), 2),
        "date": np.repeat([dates[0], dates[-1]], people * n_items),
        "phase": np.repeat(["baseline", "post"], people * n_items),
        "instrument": fw.questionnaire.instrument,
        "item": np.tile([i.id for i in items], 2 * people),
        "value": vals.ravel().astype(float),
    })
    return {"participants": participants, "ratings": ratings, "goals": goals,
            "actions": actions, "progress": progress, "responses": responses}


def _grouped_cumsum(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each new code (rows of a code are contiguous)."""
    order = np.argsort(codes, kind="stable")
    v, c = values[order], codes[order]
    total = np.cumsum(v)
    first = np.r_[True, c[1:] != c[:-1]]
    head = np.maximum.accumulate(np.where(first, np.arange(len(c)), 0))  # group's first row
    out_sorted = total - (total[head] - v[head])
    out = np.empty_like(out_sorted)
    out[order] = out_sorted
    return out


def sized_frames(size: str, *, people: int | None = None, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The frames of a named size (:data:`SIZES`), optionally with fewer people."""
    n, days = SIZES[size]
    return synthetic_frames(people or n, days, seed=seed)


def subset(frames: dict[str, pd.DataFrame], people: int) -> dict[str, pd.DataFrame]:
    """The frames of the first ``people`` participants (unused categories dropped)."""
    keep = set(person_ids(people).astype(str))
    out = {}
    for name, frame in frames.items():
        part = frame[frame["participant_id"].astype(str).isin(keep)].reset_index(drop=True)
        for col in part.columns:
            if isinstance(part[col].dtype, pd.CategoricalDtype):
                part[col] = part[col].cat.remove_unused_categories()
        out[name] = part
    return out


def store_frames(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The frames as the store's tables: plain string ids, the optional columns filled."""
    out = {"participants": frames["participants"].assign(access_code_hash=None)}
    r = frames["ratings"]
    out["ratings"] = pd.DataFrame({
        "participant_id": r["participant_id"].astype(str), "date": r["date"],
        "element": r["element"].astype(str), "rating": r["rating"].astype(np.int64),
        "kind": r["kind"].astype(str), "note": None, "source": "bench"})
    g = frames["goals"]
    out["goals"] = g.assign(element=None, target=None, archived=False,
                            freq_times=g["freq_times"].astype(np.int64),
                            freq_days=g["freq_days"].astype(np.int64))
    a = frames["actions"]
    out["actions"] = pd.DataFrame({
        "participant_id": a["participant_id"].astype(str), "date": a["date"],
        "goal_id": a["goal_id"].astype(str), "count": a["count"].astype(np.int64),
        "minutes": np.nan, "note": None, "source": "bench"})
    p = frames["progress"]
    out["progress"] = pd.DataFrame({
        "participant_id": p["participant_id"].astype(str), "date": p["date"],
        "goal_id": p["goal_id"].astype(str), "percent": p["percent"].astype(float),
        "note": None, "source": "bench"})
    out["responses"] = frames["responses"]
    return out


def memory_mb(frame: pd.DataFrame) -> float:
    return frame.memory_usage(deep=True).sum() / 1e6
