"""Seeded synthetic data at organisation scale (10,000 people x 365 days by default).

``synthetic_frames(people, days, seed=0)`` returns tidy ``ratings``, ``actions`` and ``goals``
frames with the package's column names and compact dtypes: ids and elements as pandas
categoricals, ratings as int8, action counts as int16, dates as datetime64[ns]. At
10,000 x 365 that is about 15.5 million current ratings (five elements, about 85% of days
checked in) plus vision ratings each quarter, and 2 goals per person with an action row on
every check-in day (about 6.2 million rows).

Everything is generated with whole-array numpy operations; the same seed gives the same
frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ELEMENTS = ("proactive", "connect", "informed", "focused", "potential")
START = pd.Timestamp("2025-01-01")
CHECK_IN_RATE = 0.85
GOALS = (("daily", 1, 1), ("weekly3", 3, 7))  # goal suffix, freq_times, freq_days


def person_ids(people: int) -> pd.Categorical:
    return pd.Categorical([f"p{i:06d}" for i in range(people)])


def synthetic_frames(people: int = 10_000, days: int = 365, *, seed: int = 0) -> dict[str, pd.DataFrame]:
    """``ratings``, ``actions`` and ``goals`` for ``people`` x ``days`` (see the module doc)."""
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

    # goals and actions: every goal gets a row on each check-in day (zero counts included)
    goal_names = [f"p{i:06d}-{g}" for i in range(people) for g, _, _ in GOALS]
    goals = pd.DataFrame({
        "goal_id": goal_names,
        "participant_id": np.repeat(np.asarray(ids.astype(str)), len(GOALS)),
        "freq_times": np.tile([t for _, t, _ in GOALS], people).astype(np.int16),
        "freq_days": np.tile([d for _, _, d in GOALS], people).astype(np.int16),
        "start_date": START,
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
    return {"ratings": ratings, "actions": actions, "goals": goals}


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


def memory_mb(frame: pd.DataFrame) -> float:
    return frame.memory_usage(deep=True).sum() / 1e6
