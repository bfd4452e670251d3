"""Mastery notebooks: track career mastery and see, honestly, whether daily action moves goals.

The everyday API is here, as ``import mastery_analysis as ma``::

    store = ma.open_store()                  # the default store (see `mastery where`)
    ma.load_demo(store, if_empty=True)
    ratings = store.ratings(participant="alex")
    trends = ma.element_trends(ratings)      # frames in, tidy frames out
    fig = ma.plot_trajectories(ma.element_trajectories(ratings), participant="alex")
    ma.render_report("personal", participant="alex", out="alex.html")

Everything listed in ``__all__`` is public. Names load on first use, so importing the package
stays fast: it imports neither pandas, plotly, scipy nor SQLAlchemy until something needs
them. The modules themselves (``ma.analysis``, ``ma.charts``, ``ma.reports``, ``ma.store``,
...) hold the rest.
"""

from __future__ import annotations

import importlib

from .errors import MasteryError

# public name -> the module (relative to this package) that defines it
_PUBLIC = {
    # the store and the data
    "open_store": "store", "Store": "store", "export_tables": "store",
    "load_demo": "demo", "read_demo_csv": "demo",
    "load_framework": "framework", "Framework": "framework",
    "available_frameworks": "framework",
    # reports, where things live, the notebook workspace
    "render_report": "reports", "render_personal_reports": "reports",
    "where": "locations", "sync_workspace": "workspace",
    # tables for people
    "readable": "display", "format_p": "display",
    # chart factories (plotly figures; they never show themselves)
    **{name: "charts" for name in (
        "plot_trajectories", "plot_wheel", "plot_calendar", "plot_habit_strength",
        "plot_lag_profile", "plot_action_progress", "plot_goal_pace", "plot_cohort_change",
        "plot_forest", "plot_distribution", "plot_participation")},
    # the analysis functions (pure computation on frames)
    **{name: "analysis" for name in (
        "element_trajectories", "element_trends", "wheel_values", "habit_strength", "streaks",
        "goal_pace", "action_progress_correlation", "lagged_pairs", "consenting_only",
        "suppress_small", "rm_corr", "cohort_change", "score_responses", "reliability",
        "weekly_action_ratings", "person_slopes", "insights")},
}
_SUBMODULES = ("analysis", "charts", "demo", "display", "errors", "framework", "locations",
               "reports", "resources", "schema", "store", "widgets", "workspace")

__all__ = sorted(["MasteryError", "__version__", *_PUBLIC])


def __getattr__(name):
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("mastery-analysis")
        except PackageNotFoundError:  # running from a source tree without installing
            value = "0.0.0+unknown"
        globals()["__version__"] = value
        return value
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
