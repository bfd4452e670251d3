"""Self-experiments as a person runs them: plan, today's condition, adherence, analysis.

The glue between the store (which keeps the plan, the schedule and the days followed) and
:mod:`mastery_analysis.analysis.experiments` (which draws the schedule and judges the
result). The CLI, the check-in form, the notebook and the report call these functions, so
they all say the same thing.
"""

from __future__ import annotations

import secrets

import pandas as pd

from .analysis.experiment_outcomes import experiment_status, outcome_series
from .errors import ExperimentError
from .schema import as_day, parse_outcome

OUTCOME_TABLES = {"element": "ratings", "goal_progress": "progress", "goal_actions": "actions",
                  "note": "responses"}
TODAY_COLUMNS = ["experiment_id", "title", "outcome", "date", "day", "days", "start", "end", "period",
                 "condition", "washout", "condition_text", "status", "followed"]


def next_experiment_id(store, participant_id: str) -> str:
    """A new experiment id for the participant: ``<participant>-x<n>`` with the first free n."""
    taken = set(store.experiments()["experiment_id"])
    n = 1
    while f"{participant_id}-x{n}" in taken:
        n += 1
    return f"{participant_id}-x{n}"


def draw_seed() -> int:
    """A fresh seed for a plan (kept with it, so the schedule can be drawn again)."""
    return secrets.randbelow(2**31)


def plan_new_experiment(store, *, participant_id: str, title: str, condition_a: str, condition_b: str,
                        outcome: str, design: str, period_days: int, periods: int, start,
                        washout_days: int = 0, seed: int | None = None, min_effect: float | None = None,
                        experiment_id: str | None = None, today=None) -> dict:
    """Draw a plan's schedule and keep both in the store (one transaction).

    Parameters
    ----------
    store : Store
    participant_id, title, condition_a, condition_b : str
        The two conditions in the person's words.
    outcome : str
        ``element:KEY``, ``goal:GOAL_ID:progress``, ``goal:GOAL_ID:actions`` or ``note:NAME``.
    design, period_days, periods, washout_days
        As for :func:`~mastery_analysis.analysis.experiments.plan_experiment`.
    start : date-like
    seed : int, optional
        Drawn at random (and kept) when not given.
    min_effect : float, optional
        The smallest difference B - A worth knowing, in the outcome's units.
    experiment_id : str, optional
        Defaults to :func:`next_experiment_id`.
    today : date-like, optional
        Decides what is in the past (default: the UTC date).

    Returns
    -------
    dict
        ``plan`` (the stored plan, a dict), ``schedule`` (its frame) and ``written``
        (rows per table; zeros when the same plan was saved before).

    Raises
    ------
    ExperimentError, ValidationError
        One message; nothing written.
    """
    from .analysis.experiments import plan_experiment

    kind, ref = parse_outcome(outcome)
    store.require_participant(participant_id)
    seed = draw_seed() if seed is None else seed
    xid = experiment_id or next_experiment_id(store, participant_id)
    start_day = as_day(start, what="start")
    schedule = plan_experiment(start_day, design=design, period_days=period_days, periods=periods,
                               washout_days=washout_days, seed=seed)
    plan = {"experiment_id": xid, "participant_id": participant_id, "title": title,
            "condition_a": condition_a, "condition_b": condition_b, "outcome_kind": kind,
            "outcome_ref": ref, "design": design, "period_days": period_days, "periods": periods,
            "washout_days": washout_days, "start_date": start_day, "seed": seed, "min_effect": min_effect}
    written = store.save_experiment(plan, schedule, today=today)
    return {"plan": store.experiment(xid), "schedule": store.experiment_schedule(xid), "written": written}


def outcome_of(store, plan) -> pd.DataFrame:
    """The experiment's outcome as ``date``/``value`` (see
    :func:`~mastery_analysis.analysis.experiment_outcomes.outcome_series`)."""
    table = OUTCOME_TABLES[plan["outcome_kind"]]
    frame = getattr(store, table)(participant=plan["participant_id"])
    return outcome_series({table: frame}, outcome_kind=plan["outcome_kind"],
                          outcome_ref=plan["outcome_ref"], participant_id=plan["participant_id"])


def experiment_data(store, participant_id: str, experiment_id: str) -> dict:
    """Everything about one of the participant's experiments.

    Returns
    -------
    dict
        ``plan`` (dict, the columns of ``Store.experiments``), ``schedule`` (date, period,
        condition, washout, design), ``outcome`` (date, value) and ``adherence`` (date,
        followed: the days answered).
    """
    plan = store.experiment(experiment_id, participant=participant_id)
    schedule = store.experiment_schedule(experiment_id, participant=participant_id)
    adherence = store.adherence(participant=participant_id, experiment=experiment_id)
    return {"plan": plan, "schedule": schedule, "outcome": outcome_of(store, plan),
            "adherence": adherence[["date", "followed"]].reset_index(drop=True)}


def conditions_on(store, participant_id: str, day) -> pd.DataFrame:
    """The participant's experiments on ``day``: the condition to follow, in their words.

    Returns
    -------
    DataFrame
        ``experiment_id``, ``title``, ``outcome`` (as typed: ``element:focused``,
        ``note:energy``...), ``date``, ``day`` (its number in the schedule), ``days``,
        ``start``, ``end``, ``period``, ``condition`` (A/B), ``washout``, ``condition_text``, ``status`` (not
        started, running, finished) and ``followed`` (the answer saved for that day: True,
        False, or missing), one row per experiment, sorted by start day.
    """
    exps = store.experiments(participant=participant_id)
    if exps.empty:
        return pd.DataFrame(columns=TODAY_COLUMNS)
    schedules = {x: store.experiment_schedule(x) for x in exps["experiment_id"]}
    status = experiment_status(exps, schedules, as_day(day, what="day"))
    status.insert(1, "title", exps["title"].to_numpy())
    status.insert(2, "outcome", exps["outcome"].to_numpy())
    done = store.adherence(participant=participant_id)
    done = done.loc[done["date"] == status["date"].iloc[0]].set_index("experiment_id")["followed"]
    status["followed"] = status["experiment_id"].map(done).astype("boolean")
    return status[TODAY_COLUMNS]


def running_on(store, participant_id: str, day) -> pd.DataFrame:
    """The rows of :func:`conditions_on` whose experiment runs on ``day``."""
    status = conditions_on(store, participant_id, day)
    return status.loc[status["status"] == "running"].reset_index(drop=True)


def plan_lines(plan, schedule: pd.DataFrame) -> list[str]:
    """A plan and its schedule in a few plain sentences (the CLI, notebook and report)."""
    s = schedule
    days = len(s)
    measured = s.loc[~s["washout"].astype(bool)]
    per = measured.groupby("condition").size()
    first, last = pd.Timestamp(s["date"].min()), pd.Timestamp(s["date"].max())
    design = {"days": f"each day at random within blocks of {plan['period_days']} days (half A, half B)",
              "pairs": f"pairs of {plan['period_days']}-day periods, each pair AB or BA at random",
              "alternating": f"{plan['period_days']}-day periods in a random order, no more than "
                             "two of one condition in a row"}[plan["design"]]
    order = "".join(s.groupby("period")["condition"].first()) if plan["design"] != "days" else None
    lines = [
        f"Experiment {plan['experiment_id']}: {plan['title']}",
        f"  A: {plan['condition_a']}",
        f"  B: {plan['condition_b']}",
        f"  Outcome: {plan['outcome']}",
        f"  Design: {design}; {plan['periods']} {'blocks' if plan['design'] == 'days' else 'periods'}, "
        f"seed {plan['seed']}.",
        f"  Runs {first:%Y-%m-%d} to {last:%Y-%m-%d} ({days} days): {int(per.get('A', 0))} days of A "
        f"and {int(per.get('B', 0))} of B measured"
        + (f", {int(s['washout'].sum())} washout days left out after a switch" if s["washout"].any() else "")
        + ".",
    ]
    if order:
        lines.append(f"  Order of periods: {' '.join(order)}")
    return lines


def today_lines(status: pd.DataFrame) -> list[str]:
    """:func:`conditions_on` in sentences: the condition to follow, in the person's words."""
    lines = []
    for r in status.itertuples(index=False):
        day = pd.Timestamp(r.date)
        if r.status == "running":
            answer = {True: " You said you followed it.", False: " You said you did not follow it."}.get(
                None if pd.isna(r.followed) else bool(r.followed), "")
            wash = " (a washout day: follow it; it is left out of the analysis)" if r.washout else ""
            kind, _, name = str(r.outcome).partition(":")
            ask = (f" The check-in asks for {name} today (a number; or `mastery import tidy` a "
                   "responses table with instrument note)." if kind == "note" else "")
            lines.append(f"{r.experiment_id} ({r.title}), day {r.day} of {r.days}, {day:%a %d %b %Y}: "
                         f"{r.condition_text} [{r.condition}]{wash}.{answer}{ask}")
        else:
            when = (f"starts on {pd.Timestamp(r.start):%Y-%m-%d}" if r.status == "not started"
                    else f"finished on {pd.Timestamp(r.end):%Y-%m-%d}")
            lines.append(f"{r.experiment_id} ({r.title}): {when}; nothing to follow on {day:%Y-%m-%d}.")
    return lines


def experiment_results(store, participant_id: str, experiment_id: str, *, today=None,
                       as_followed: bool = True) -> pd.DataFrame:
    """The intention-to-treat result and, with adherence recorded, the as-followed one.

    ``today`` defaults to the last day with an outcome value (never the wall clock). Rows of
    :func:`~mastery_analysis.analysis.experiments.experiment_effect`, ITT first; the seed of
    any random draw of assignments is the plan's.
    """
    from .analysis.experiments import experiment_effect

    data = experiment_data(store, participant_id, experiment_id)
    seed = int(data["plan"]["seed"])
    adherence = data["adherence"] if len(data["adherence"]) else None
    rows = [experiment_effect(data["outcome"], data["schedule"], analysis="itt", adherence=adherence,
                              today=today, seed=seed)]
    if as_followed and adherence is not None:
        rows.append(experiment_effect(data["outcome"], data["schedule"], analysis="as_followed",
                                      adherence=adherence, today=today, seed=seed))
    return pd.concat(rows, ignore_index=True)


def _fmt(x, digits=2) -> str:
    return "unbounded" if pd.isna(x) or not abs(x) < float("inf") else f"{x:.{digits}f}"


def result_lines(plan, results: pd.DataFrame) -> list[str]:
    """:func:`experiment_results` in sentences: estimate, interval, p, NAP, counts, adherence.

    Before the planned end: the data so far and that there is no result yet (no p-value).
    """
    itt = results.iloc[0]
    end = pd.Timestamp(itt["planned_end"])
    lines = []
    adherence = itt["adherence"]
    if pd.notna(adherence):
        lines.append(f"  Adherence: the condition was followed on {adherence:.0%} of the days so far "
                     "(a day without an answer counts as not followed).")
    else:
        lines.append("  Adherence: not recorded.")
    if not bool(itt["finished"]):
        lines += [f"  No result yet: the experiment runs until {end:%Y-%m-%d} "
                  f"(data as of {pd.Timestamp(itt['today']):%Y-%m-%d}).",
                  f"  So far: {int(itt['n_a'])} A days (mean {_fmt(itt['mean_a'])}) and {int(itt['n_b'])} "
                  f"B days (mean {_fmt(itt['mean_b'])}).",
                  "  No p-value before the planned end: stopping when the numbers look good finds "
                  "effects that are not there."]
        return lines
    level = int(round(100 * (1 - float(itt["alpha"]))))
    for r in results.itertuples(index=False):
        head = ("Intention to treat (every day as assigned; randomised):" if r.randomised else
                "As followed (only the days you followed; NOT randomised, a check, not a result):")
        compared = (f"all {r.assignments:,} schedules the design could produce" if r.exact else
                    f"{r.assignments:,} schedules drawn at random from the design (seed {plan['seed']})")
        lines += [f"  {head}",
                  f"    B - A = {_fmt(r.estimate)}  ({level}% CI {_fmt(r.ci_low)} to {_fmt(r.ci_high)})",
                  f"    p = {r.p_value:.4f}  (randomisation test over {compared})",
                  f"    NAP = {_fmt(r.nap)}  (chance a B day beats an A day; 0.5 is no difference)",
                  f"    A: {r.n_a} days, mean {_fmt(r.mean_a)};  B: {r.n_b} days, mean {_fmt(r.mean_b)}"]
    lines.append("  Not controlled: you knew each day's condition (no blinding), so expecting B to "
                 "help can move a self-rating; an effect that lasts past a switch (carry-over) "
                 + ("is partly kept out by the washout days" if int(plan["washout_days"]) else
                    "is not kept out (no washout days)") + ".")
    return lines


def analysis_lines(store, participant_id: str, experiment_id: str, *, today=None,
                   as_followed: bool = False) -> list[str]:
    """The CLI's ``experiment analyse``: the plan, then :func:`result_lines`."""
    data = experiment_data(store, participant_id, experiment_id)
    results = experiment_results(store, participant_id, experiment_id, today=today,
                                 as_followed=as_followed)
    return plan_lines(data["plan"], data["schedule"]) + result_lines(data["plan"], results)


def plan_power(store, plan) -> pd.DataFrame | None:
    """Is the plan long enough? The simulated power of the plan from the person's own values
    of the outcome before its start day
    (:func:`~mastery_analysis.analysis.experiments.check_plan`), seeded by the plan's seed.
    None when the plan states no ``min_effect``."""
    from .analysis.experiments import check_plan

    if plan.get("min_effect") is None or pd.isna(plan["min_effect"]):
        return None
    history = outcome_of(store, plan)
    history = history.loc[history["date"] < pd.Timestamp(plan["start_date"])]
    return check_plan(history, design=plan["design"], period_days=int(plan["period_days"]),
                      periods=int(plan["periods"]), washout_days=int(plan["washout_days"]),
                      effect=float(plan["min_effect"]), seed=int(plan["seed"]))


def power_lines(store, plan) -> list[str]:
    """:func:`plan_power` in sentences, with a warning when the plan is too short."""
    if plan.get("min_effect") is None or pd.isna(plan["min_effect"]):
        return ["  How long: give the smallest difference you care about (--min-effect) to learn "
                "how many periods the plan needs."]
    try:
        check = plan_power(store, plan)
    except ExperimentError as exc:  # too little history to tell: the plan stands, say why
        return [f"  How long: cannot tell yet ({exc})."]
    r = check.iloc[0]
    head = (f"  How long: from your own past values, this plan finds a difference of "
            f"{float(plan['min_effect']):g} about {100 * r['power']:.0f}% of the time.")
    if bool(r["too_short"]):
        return [head, f"  WARNING: the plan is too short. {r['message']}"]
    return [head + " That is enough (80% or more)."]


OUTCOME_WORDS = {"element": "rating of {label}", "goal_progress": "daily change in the progress of goal '{ref}'",
                 "goal_actions": "actions a day for goal '{ref}'", "note": "note '{ref}'"}


def outcome_label(store, plan) -> str:
    """The outcome in words ("rating of Being focused", ...)."""
    ref = plan["outcome_ref"]
    label = store.framework.labels.get(ref, ref) if plan["outcome_kind"] == "element" else ref
    return OUTCOME_WORDS[plan["outcome_kind"]].format(label=label, ref=ref)


def experiment_view(store, participant_id: str, experiment_id: str | None = None, *, today=None) -> dict | None:
    """What the notebook and the report show of one experiment (the latest when not named).

    ``today`` defaults to the last day with an outcome value (never the wall clock).

    Returns
    -------
    dict or None
        None when the participant has no experiments. Otherwise ``plan``, ``schedule``,
        ``outcome``, ``adherence`` (as :func:`experiment_data`), ``results``
        (:func:`experiment_results`, ITT then as-followed), ``distribution`` (the ITT
        randomisation distribution; empty before the planned end), ``label`` (the outcome
        in words) and ``lines`` (:func:`plan_lines` and :func:`result_lines`).
    """
    from .analysis.experiments import experiment_distribution

    if experiment_id is None:
        exps = store.experiments(participant=participant_id)
        if exps.empty:
            store.require_participant(participant_id)
            return None
        experiment_id = exps["experiment_id"].iloc[-1]
    data = experiment_data(store, participant_id, experiment_id)
    results = experiment_results(store, participant_id, experiment_id, today=today)
    adherence = data["adherence"] if len(data["adherence"]) else None
    distribution = experiment_distribution(data["outcome"], data["schedule"], analysis="itt",
                                           adherence=adherence, today=today, seed=int(data["plan"]["seed"]))
    return {**data, "results": results, "distribution": distribution,
            "label": outcome_label(store, data["plan"]),
            "lines": plan_lines(data["plan"], data["schedule"]) + result_lines(data["plan"], results)}


def report_items(view: dict) -> pd.DataFrame:
    """The items of the CENT 2015 and SCRIBE 2016 guidelines that apply to one person's
    trial, each with what this experiment did (the experiment report's checklist).

    Returns
    -------
    DataFrame
        ``item`` (the guideline item) and ``reported`` (plain text), in the guidelines' order:
        design, randomisation, blinding, washout and carry-over, outcome, adherence, analysis,
        effect with interval, p-value, what was not controlled.
    """
    from .analysis.experiments import design_total

    plan, sched, results = view["plan"], view["schedule"], view["results"]
    itt = results.iloc[0]
    total = design_total(design=plan["design"], period_days=int(plan["period_days"]),
                         periods=int(plan["periods"]), washout_days=int(plan["washout_days"]))
    unit = "blocks" if plan["design"] == "days" else "periods"
    measured = sched.loc[~sched["washout"]].groupby("condition").size()
    done = view["adherence"]
    finished = bool(itt["finished"])
    level = int(round(100 * (1 - float(itt["alpha"]))))
    rows = [
        ("Design",
         {"days": f"Single-case alternation design: {plan['periods']} blocks of {plan['period_days']} days, "
                  "each block half A and half B in a random order.",
          "pairs": f"Multiple crossover: {int(plan['periods']) // 2} pairs of {plan['period_days']}-day "
                   "periods, each pair AB or BA at random.",
          "alternating": f"Multiple crossover: {plan['periods']} periods of {plan['period_days']} days, "
                         "half A and half B in a random order with no more than two of one condition "
                         "in a row."}[plan["design"]]
         + f" Planned {len(sched)} days, {pd.Timestamp(sched['date'].min()):%Y-%m-%d} to "
           f"{pd.Timestamp(sched['date'].max()):%Y-%m-%d}."),
        ("Conditions", f"A: {plan['condition_a']}. B: {plan['condition_b']}."),
        ("Randomisation",
         f"Schedule drawn by the software from seed {plan['seed']} among the {total:,} schedules the "
         f"design can produce, and kept in the store with the plan, which refuses any change to "
         f"plan or schedule once the first day has come."),
        ("Blinding", "None: the participant chose, followed and rated each day "
                                        "knowing its condition."),
        ("Washout and carry-over",
         f"{plan['washout_days']} washout day(s) after each switch of condition, followed but left out "
         "of the analysis." if int(plan["washout_days"]) else
         "No washout days: an effect that outlasts a switch is counted for the next condition."),
        ("Outcome",
         f"{view['label']} ({plan['outcome']}), recorded by the participant once a day; "
         f"{int(measured.get('A', 0))} A and {int(measured.get('B', 0))} B days planned for measurement."),
        ("Adherence",
         f"Asked every day (\"did you follow it today?\"): answered on {len(done)} of {len(sched)} days, "
         f"followed on {int(done['followed'].sum())}; " +
         (f"{itt['adherence']:.0%} of the planned days counted as followed (no answer counts as not)."
          if pd.notna(itt["adherence"]) else "not recorded.")),
        ("Analysis",
         "Intention to treat (every day as assigned) with a randomisation test over "
         + (f"all {int(itt['assignments']):,} schedules of the design" if itt["exact"] else
            f"{int(itt['assignments']):,} schedules drawn at random from the design")
         + "; the interval from inverting the test; NAP as the effect size. The as-followed "
           "analysis (only days followed) is shown as a check and is not randomised."
         if finished else "No analysis before the planned end."),
        ("Effect with interval",
         f"B - A = {_fmt(itt['estimate'])} ({level}% CI {_fmt(itt['ci_low'])} to {_fmt(itt['ci_high'])}); "
         f"NAP {_fmt(itt['nap'])}; {int(itt['n_a'])} A and {int(itt['n_b'])} B days with a value."
         if finished else f"No result yet: the experiment runs until "
                          f"{pd.Timestamp(itt['planned_end']):%Y-%m-%d}."),
        ("p-value", f"{itt['p_value']:.4f} (randomisation test, two-sided)" if finished else
         "None before the planned end."),
        ("Not controlled",
         "Expectation (the participant hoped for B and rated their own outcome); other events of "
         "the same days; carry-over beyond the washout; one person in one season, so the result "
         "is about this person, not people in general."),
    ]
    return pd.DataFrame(rows, columns=["item", "reported"])


def experiment_summaries(store, participant_id: str, *, today=None) -> pd.DataFrame:
    """The intention-to-treat result of each of the participant's experiments, with the plan's
    words: what :func:`mastery_analysis.analysis.findings.insights` takes as ``experiments``.

    ``today`` defaults to each experiment's last day with an outcome value.

    Returns
    -------
    DataFrame
        ``experiment_id``, ``title``, ``condition_a``, ``condition_b``, ``outcome`` (in words)
        and the columns of :func:`~mastery_analysis.analysis.experiments.experiment_effect`.
    """
    rows = []
    for plan in store.experiments(participant=participant_id).to_dict("records"):
        try:
            itt = experiment_results(store, participant_id, plan["experiment_id"], today=today,
                                     as_followed=False)
        except ExperimentError:  # e.g. a finished trial with too few values: nothing to say yet
            continue
        rows.append(itt.assign(experiment_id=plan["experiment_id"], title=plan["title"],
                               condition_a=plan["condition_a"], condition_b=plan["condition_b"],
                               outcome=outcome_label(store, plan)))
    if not rows:
        return pd.DataFrame(columns=["experiment_id", "title", "condition_a", "condition_b", "outcome",
                                     "estimate", "ci_low", "ci_high", "p_value", "n_a", "n_b",
                                     "finished", "randomised", "alpha", "planned_end"])
    out = pd.concat(rows, ignore_index=True)
    first = ["experiment_id", "title", "condition_a", "condition_b", "outcome"]
    return out[first + [c for c in out.columns if c not in first]]
