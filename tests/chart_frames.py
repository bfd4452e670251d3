"""Small synthetic frames shaped like the analysis outputs (issue 3's column contracts).

The chart tests use them where the analysis output is not the point: sizes, empty states,
escaping. Deterministic (seeded).
"""

import numpy as np
import pandas as pd

from mastery_analysis.framework import load_framework

FW = load_framework()
EVIL = "<img src=x onerror=alert(1)>"


def trajectories(days=120, participant="alex", start="2024-01-01", seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    rows = []
    for k, e in enumerate(FW.keys):
        rating = np.clip(np.round(4 + k * 0.3 + np.linspace(0, 3, days) + rng.normal(0, 1.2, days)), 1, 10)
        s = pd.Series(rating, index=dates)
        rm = s.rolling("7D").mean()
        vision = np.full(days, 8.0 + (k % 2))
        rows.append(pd.DataFrame({"participant_id": participant, "element": e, "date": dates,
                                  "rating": rating, "rolling_mean": rm.to_numpy(),
                                  "ewm": s.ewm(halflife=7).mean().to_numpy(), "vision": vision,
                                  "gap": vision - rm.to_numpy()}))
    return pd.concat(rows, ignore_index=True)


def goals(participant="alex", titles=("Apply to 3 roles a week", "Coffee with someone new", "Read 20 pages")):
    elements = ["proactive", "connect", "informed"]
    return pd.DataFrame({
        "goal_id": [f"g{i}" for i in range(len(titles))], "participant_id": participant,
        "title": list(titles), "element": elements[: len(titles)], "freq_times": [3, 1, 5],
        "freq_days": [7, 7, 7], "start_date": pd.Timestamp("2024-01-01"),
        "due_date": [pd.Timestamp("2024-06-30"), pd.Timestamp("2024-12-31"), pd.NaT][: len(titles)],
        "target": None, "archived": False})


def actions(days=120, participant="alex", start="2024-01-01", seed=1, n_goals=3):
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    rows = []
    for g in range(n_goals):
        count = rng.poisson(1.0, days) * (rng.random(days) < 0.7)
        rows.append(pd.DataFrame({"participant_id": participant, "date": dates, "goal_id": f"g{g}",
                                  "count": count.astype(int), "minutes": count * 20.0}))
    out = pd.concat(rows, ignore_index=True)
    return out.loc[out["count"] > 0].reset_index(drop=True)


def progress(days=120, participant="alex", start="2024-01-01", seed=2, n_goals=3, every=3):
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")[::every]
    rows = []
    for g in range(n_goals):
        pct = np.clip(np.cumsum(rng.uniform(0, 2.0 - 0.5 * g, len(dates))), 0, 100)
        rows.append(pd.DataFrame({"participant_id": participant, "date": dates, "goal_id": f"g{g}",
                                  "percent": pct}))
    return pd.concat(rows, ignore_index=True)


def habit(days=120, participant="alex", start="2024-01-01", n_goals=3):
    dates = pd.date_range(start, periods=days, freq="D")
    rows = [pd.DataFrame({"participant_id": participant, "goal_id": f"g{g}", "date": dates,
                          "score": 1 - np.exp(-np.arange(days) / (20 + 15 * g))}) for g in range(n_goals)]
    return pd.concat(rows, ignore_index=True)


def streaks(participant="alex"):
    return pd.DataFrame({"participant_id": participant, "goal_id": ["g0", "g0", "g1"],
                         "start": pd.to_datetime(["2024-01-03", "2024-03-01", "2024-02-01"]),
                         "end": pd.to_datetime(["2024-01-20", "2024-04-29", "2024-02-05"]),
                         "length": [18, 60, 5]})


def correlations(participant="alex", n_goals=2):
    rows = []
    for g in range(n_goals):
        for lag in range(8):
            r = (0.45 if lag == 2 else 0.1) if g == 0 else 0.02 * lag - 0.05
            rows.append({"participant_id": participant, "goal_id": f"g{g}", "lag": lag, "n": 110 - lag,
                         "n_eff": 60 - lag, "r": r, "ci_low": r - 0.25, "ci_high": r + 0.25,
                         "p_value": 0.001 if (g == 0 and lag == 2) else 0.4,
                         "q_value": 0.01 if (g == 0 and lag == 2) else 0.8,
                         "significant": g == 0 and lag == 2, "sufficient": lag < 6,
                         "days_needed": 85 if lag < 6 else 140})
    return pd.DataFrame(rows)


def pace(participant="alex"):
    return pd.DataFrame({"participant_id": participant, "goal_id": ["g0", "g1", "g2"],
                         "percent": [70.0, 30.0, 100.0], "expected": [66.0, 33.0, np.nan],
                         "pace": [3.5, 1.2, 4.0],
                         "projected_finish": pd.to_datetime(["2024-06-10", "2025-02-01", pd.NaT]),
                         "status": ["ahead", "at_risk", "done"]})


def cohort(n=24, seed=3):
    rng = np.random.default_rng(seed)
    ids = [f"p{i:02d}" for i in range(n)]
    participants = pd.DataFrame({"participant_id": ids, "name": [f"Person {i}" for i in range(n)],
                                 "cohort": "spring-cohort", "consent_share": [i % 3 != 0 for i in range(n)]})
    rows = []
    for pid in ids:
        for e in FW.keys:
            base = rng.uniform(2, 4)
            rows.append({"participant_id": pid, "element": e, "phase": "baseline", "score": base})
            rows.append({"participant_id": pid, "element": e, "phase": "post",
                         "score": min(5, base + rng.normal(0.4, 0.4))})
    scores = pd.DataFrame(rows)
    change = pd.DataFrame({"element": FW.keys, "n": n, "mean_pre": 3.0, "mean_post": 3.4,
                           "mean_diff": 0.4, "ci_low": 0.2, "ci_high": 0.6, "t": 4.0,
                           "p_value": 0.001, "d_z": 0.9, "hedges_g": 0.6,
                           "n_reliable_improved": 7, "n_reliable_declined": 1})
    trends = pd.DataFrame([{"participant_id": pid, "element": e, "n_periods": 12,
                            "slope": s, "slope_low": s - 0.1, "slope_high": s + 0.12, "tau": 0.3,
                            "p_value": 0.05, "direction": "improving"}
                           for pid in ids for e in FW.keys for s in [rng.normal(0.1, 0.1)]])
    rm = pd.DataFrame([{"r": 0.31, "dof": 250, "p_value": 0.0001, "ci_low": 0.2, "ci_high": 0.42,
                        "n_subjects": n, "n_obs": 12 * n}])
    return participants, scores, change, trends, rm


def ratings(days=120, participant="alex", start="2024-01-01", seed=4, vision_every=90):
    """A ratings table (current daily, vision every ``vision_every`` days) for the analysis."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    rows = []
    for k, e in enumerate(FW.keys):
        rating = np.clip(np.round(4 + k * 0.3 + np.linspace(0, 3, days) + rng.normal(0, 1.2, days)), 1, 10)
        rows.append(pd.DataFrame({"participant_id": participant, "date": dates, "element": e,
                                  "rating": rating.astype(int), "kind": "current", "note": None}))
        vd = dates[::vision_every]
        rows.append(pd.DataFrame({"participant_id": participant, "date": vd, "element": e,
                                  "rating": 8 + (k % 2), "kind": "vision", "note": None}))
    return pd.concat(rows, ignore_index=True)
