"""Pure computation on frames: frames in, tidy frames out. No plotting, no store.

The public functions are re-exported here; each lives in the module of its concern.
"""

import importlib

_WHERE = {
    "element_trajectories": "trajectories",
    "element_trends": "trajectories",
    "wheel_values": "trajectories",
    "habit_strength": "habits",
    "streaks": "habits",
    "goal_pace": "goals",
    "action_progress_correlation": "correlation",
    "lagged_pairs": "correlation",
    "consenting_only": "privacy",
    "suppress_small": "privacy",
    "rm_corr": "cohort",
    "cohort_change": "cohort",
    "score_responses": "cohort",
    "reliability": "cohort",
    "scale_reliability": "reliability",
    "item_statistics": "reliability",
    "omega_total": "reliability",
    "scale_scores": "reliability",
    "published_norms": "reliability",
    "baseline_beside_norms": "reliability",
    "scale_change": "reliability",
    "weekly_action_ratings": "cohort",
    "person_slopes": "cohort",
    "insights": "findings",
    "plan_experiment": "experiments",
    "design_assignments": "experiments",
    "experiment_effect": "experiments",
    "experiment_distribution": "experiments",
    "experiment_power": "experiments",
    "recommend_periods": "experiments",
    "check_plan": "experiments",  # not insights.py: the module would shadow the function
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    # Lazy so that importing one analysis does not import them all (and scipy's stats tree).
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
