"""Every chart's JSON at organisation size (cohort charts over everyone, personal ones for one
person with three years of data): the plotly JSON a notebook or report would carry."""

from __future__ import annotations

import time

from benchmarks.common import fmt, load_average, print_table
from benchmarks.synthetic import SIZES, subset, synthetic_frames
from mastery_analysis import charts
from mastery_analysis.analysis import cohort as coh
from mastery_analysis.analysis.correlation import action_progress_correlation
from mastery_analysis.analysis.goals import goal_pace
from mastery_analysis.analysis.habits import habit_strength, streaks
from mastery_analysis.analysis.trajectories import element_trajectories, element_trends, wheel_values
from mastery_analysis.framework import load_framework


def _str_ids(frames):
    return {k: f.astype({c: str for c in ("participant_id", "goal_id", "element", "kind")
                         if c in f.columns}) for k, f in frames.items()}


def run(people: int | None = None) -> dict:
    fw = load_framework()
    n, days = SIZES["organisation"]
    people = people or n
    org = synthetic_frames(people, days)
    one = _str_ids(synthetic_frames(1, SIZES["personal"][1], seed=1))
    print(f"-- figures: cohort charts over {people:,} people x {days} days, personal charts over "
          f"{SIZES['personal'][1]} days ({load_average()})", flush=True)
    traj1 = element_trajectories(one["ratings"])
    corr1 = action_progress_correlation(one["actions"], one["progress"],
                                        checkins=one["ratings"][["participant_id", "date"]])
    pace1 = goal_pace(one["goals"], one["progress"])
    scores = coh.score_responses(org["responses"], fw)
    change = coh.cohort_change(scores, framework=fw)
    trends = element_trends(org["ratings"])
    wheel_org = wheel_values(element_trajectories(org["ratings"]), by="cohort")
    cases = [
        ("plot_trajectories (personal)", lambda: charts.plot_trajectories(traj1, framework=fw)),
        ("plot_wheel (personal)", lambda: charts.plot_wheel(wheel_values(traj1), framework=fw)),
        ("plot_calendar (personal)", lambda: charts.plot_calendar(
            one["actions"], goals=one["goals"], streaks=streaks(one["actions"]), framework=fw)),
        ("plot_habit_strength (personal)", lambda: charts.plot_habit_strength(
            habit_strength(one["actions"], one["goals"]), goals=one["goals"], framework=fw)),
        ("plot_lag_profile (personal)", lambda: charts.plot_lag_profile(corr1, goals=one["goals"])),
        ("plot_action_progress (personal)", lambda: charts.plot_action_progress(
            one["actions"], one["progress"], corr1, goals=one["goals"])),
        ("plot_goal_pace (personal)", lambda: charts.plot_goal_pace(pace1, one["progress"], one["goals"])),
        ("plot_wheel (cohort)", lambda: charts.plot_wheel(wheel_org, framework=fw)),
        ("plot_cohort_change (cohort)", lambda: charts.plot_cohort_change(
            scores, change, participants=org["participants"], framework=fw)),
        ("plot_forest (cohort)", lambda: charts.plot_forest(trends, framework=fw)),
        ("plot_distribution (cohort)", lambda: charts.plot_distribution(scores, framework=fw)),
        ("plot_participation (cohort)", lambda: charts.plot_participation(
            org["ratings"], org["participants"])),
    ]
    figures, rows, worst = {}, [], 0.0
    for name, make in cases:
        t0 = time.perf_counter()
        fig = make()
        t_make = time.perf_counter() - t0
        mb = len(fig.to_json()) / 1e6
        key = name.split(" ")[0] + ("_cohort" if "cohort)" in name else "")
        figures[f"figure.{key}_json_mb"] = mb
        figures[f"figure.{key}_s"] = t_make
        worst = max(worst, mb)
        rows.append((name, fmt(t_make), fmt(mb, 3)))
    print_table(rows, ("chart", "seconds", "JSON MB"))
    figures["figure_max_json_mb"] = worst
    return figures
