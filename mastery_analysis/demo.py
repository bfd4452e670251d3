"""Deterministic demo data with known ground truth.

Two data sets, generated from one seed and committed as CSV under ``data/demo/``:

- ``alex``: one person, two years of daily check-ins (2024-11-01 to 2026-10-31) with missed
  days and two holidays, vision ratings every quarter, and three goals: one whose daily action
  moves progress a little later (the *effect* goal), one whose progress is unrelated to the
  action logged for it (the *null* goal), and one with a weak same-day effect. Element trends:
  two improving, two flat, one declining.
- ``spring-cohort``: a coach's workshop of 24 participants over 12 weeks (from 2026-03-02) with
  baseline and post questionnaire responses, weekly check-ins, one goal each with daily
  actions and weekly progress; five participants do not consent to sharing. At baseline and
  post they also answer a validated instrument, the Pearlin Mastery Scale (7 items, five
  reversed, a few answers skipped), from a one-factor model whose alpha is near the published
  0.72 and with a small true rise; generated from its own random stream, so the other rows
  are those they were before it was added. :func:`load_demo` records it as the cohort's
  choice for both phases (``mastery cohort phase ... --instrument``).
- ``jo``: one person rating the five elements daily for six months (from 2026-05-04) who ran
  two self-experiments, both finished: ``jo-x1`` (two hours of deep work before ten, days at
  random in pairs of days, outcome the *focused* rating) with a planted effect of +1.5 points
  on the days deep work was done, and ``jo-x2`` (lunch with a colleague, alternating weeks with
  a washout day, outcome the *connect* rating) with no effect. Jo answered "did you follow
  it?" on most days and did not always follow the plan. Generated from its own random stream,
  so the rows of alex and the cohort are those they were before jo was added.

``GROUND_TRUTH`` states what the analysis must find. Lags are in the terms of
``action_progress_correlation``: actions on day t raise the progress change from day t+lag to
the next progress entry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import StoreError
from .schema import TABLES, dtype_of

SEED = 20241101
ALEX_START = pd.Timestamp("2024-11-01")
ALEX_END = pd.Timestamp("2026-10-31")
COHORT = "spring-cohort"
COHORT_START = pd.Timestamp("2026-03-02")  # a Monday
COHORT_WEEKS = 12
COHORT_SIZE = 24
NON_CONSENTING = ("sc04", "sc09", "sc13", "sc18", "sc22")

ALEX_TRENDS = {  # element: (level at start, level at end)
    "proactive": (4.5, 7.5),
    "connect": (6.0, 6.0),
    "informed": (7.2, 4.6),
    "focused": (5.0, 7.0),
    "potential": (6.5, 6.5),
}
COHORT_GAIN = {"proactive": 1.6, "connect": 0.0, "informed": 0.0, "focused": 0.9, "potential": 0.0}
# The cohort's answers to a validated instrument (the Pearlin Mastery Scale, 1-4, five items
# reversed), so the cohort report's reliability and validated-scale sections have data.
PEARLIN = "pearlin_mastery"
PEARLIN_LOADINGS = {"pm1": 0.59, "pm2": 0.54, "pm3": 0.64, "pm4": 0.49, "pm5": 0.64, "pm6": 0.47,
                    "pm7": 0.59}  # standardised loadings of the one-factor answer model
PEARLIN_THRESHOLDS = (-1.6, -0.6, 0.7)  # keyed answers about 5%, 22%, 49%, 24% (mean 2.9)
PEARLIN_PROACTIVE_R = 0.5  # latent mastery vs the person's baseline proactive level
PEARLIN_CHANGE = 0.35  # mean rise of latent mastery from baseline to post, in SDs
PEARLIN_MISSING = 0.012  # share of answers skipped
# The answers' own random stream ([SEED, 28]). 24 people give a noisy sample (over streams
# 20-39 the measured baseline alpha ran from 0.40 to 0.78); 28 was chosen as a typical one:
# alpha within 0.05 of the generating value at both phases and no item flagged, so the demo
# shows what a sound scale looks like rather than sampling accidents.
PEARLIN_STREAM = 28

GROUND_TRUTH = {
    "alex": {
        "effect_goal": "alex-portfolio",
        "effect_lags": [1, 2],
        "null_goal": "alex-promotion",
        "weak_goal": "alex-coffee",
        "weak_lags": [0],
        "trends": {e: ("improving" if b > a else "declining" if b < a else "flat")
                   for e, (a, b) in ALEX_TRENDS.items()},
    },
    "jo": {
        "experiments": {
            # B - A on the outcome for the days B was actually followed (ITT sees it diluted
            # by the days not followed); 0.0: no effect
            "jo-x1": {"outcome": "element:focused", "effect": 1.5},
            "jo-x2": {"outcome": "element:connect", "effect": 0.0},
        },
    },
    COHORT: {
        "participants": COHORT_SIZE,
        "non_consenting": list(NON_CONSENTING),
        "improved": [e for e, g in COHORT_GAIN.items() if g > 0],
        "unchanged": [e for e, g in COHORT_GAIN.items() if g == 0],
        # within each person, weeks with more actions have higher proactive ratings, while
        # people who act more often start lower: the pooled correlation misleads, rmcorr does not
        "rm_corr": {"x": "weekly action count", "y": "proactive rating", "direction": "positive"},
        # the Pearlin Mastery Scale answers: alpha of the answer model in a large population
        # (pearlin_population_alpha(), near the published 0.72), the mean rise of latent
        # mastery (SDs) and what it makes of the 7-28 sum score in a large population
        PEARLIN: {"alpha": 0.724, "latent_change_sd": PEARLIN_CHANGE, "sum_change": 1.0,
                  "reverse_items": ["pm1", "pm2", "pm3", "pm5", "pm7"]},
    },
}

_NOTES = [
    "Good conversation with my manager about next steps.",
    "Tired today, kept it small.",
    "Sent two applications & updated my CV.",
    "Felt scattered; too many meetings.",
    "Great coffee chat with a designer from the \"platform\" team.",
    "Read an article on career ladders, <useful> ideas.",
    "Blocked the morning for deep work.",
    "Nothing much, but I showed up.",
]
_NAMES = [
    "Amara Okafor", "Ben Carter", "Chloé Martin", "Dev Patel", "Elif Yılmaz", "Finn O'Brien",
    "Grace Kim", "Hugo Silva", "Ines Moreau", "Jonas Berg", "Kavya Rao", "Liam Walsh",
    "Mei Chen", "Noah Fischer", "Olivia Rossi", "Pablo Ruiz", "Quinn Taylor", "Rania Haddad",
    "Sven Larsen", "Tara Singh", "Umar Farooq", "Vera Novak", "Wen Li", "Yara Costa",
]
_COHORT_GOALS = [
    "Land an internship", "Finish the data course", "Build a portfolio site", "Find a mentor",
    "Prepare for the promotion panel", "Publish three blog posts",
]


def _ar1(rng, n, phi, sd):
    e = rng.normal(0, sd * np.sqrt(1 - phi**2), n)
    out = np.empty(n)
    out[0] = rng.normal(0, sd)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out


def _alex(rng):
    days = pd.date_range(ALEX_START, ALEX_END, freq="D")
    n = len(days)
    checked = rng.random(n) > 0.12
    for start, end in (("2025-08-04", "2025-08-24"), ("2025-12-22", "2025-12-31")):
        checked[(days >= start) & (days <= end)] = False
    checked[0] = checked[-1] = True
    t = np.arange(n) / (n - 1)

    participants = pd.DataFrame([{
        "participant_id": "alex", "name": "Alex Rivera", "cohort": None,
        "joined_on": ALEX_START, "consent_share": True, "access_code_hash": None}])

    rating_rows = []
    note_day = rng.random(n) < 0.12
    notes = rng.choice(_NOTES, n)
    for element, (a, b) in ALEX_TRENDS.items():
        level = a + (b - a) * t + _ar1(rng, n, 0.6, 0.9)
        values = np.clip(np.rint(level), 1, 10).astype(int)
        for i in np.flatnonzero(checked):
            rating_rows.append((days[i], element, values[i], "current",
                                notes[i] if note_day[i] else None))
    vision = {"proactive": 9, "connect": 8, "informed": 8, "focused": 9, "potential": 8}
    for q, i in enumerate(np.flatnonzero(checked)[::1][:1].tolist() + list(range(91, n, 91))):
        while not checked[i]:
            i += 1
        for element, v in vision.items():
            rating_rows.append((days[i], element, min(10, v + (q >= 4 and element == "connect")),
                                "vision", None))
    ratings = pd.DataFrame(rating_rows, columns=["date", "element", "rating", "kind", "note"])
    ratings.insert(0, "participant_id", "alex")
    ratings["source"] = "demo"

    goals = pd.DataFrame([
        {"goal_id": "alex-portfolio", "participant_id": "alex",
         "title": "Publish a portfolio of 12 case studies", "element": "proactive",
         "freq_times": 1, "freq_days": 1, "start_date": ALEX_START,
         "due_date": pd.Timestamp("2026-12-31"), "target": "12 case studies", "archived": False},
        {"goal_id": "alex-promotion", "participant_id": "alex",
         "title": "Get promoted to senior designer", "element": "focused",
         "freq_times": 5, "freq_days": 7, "start_date": ALEX_START,
         "due_date": pd.Timestamp("2026-10-31"), "target": "promotion", "archived": False},
        {"goal_id": "alex-coffee", "participant_id": "alex",
         "title": "Have 60 coffee chats", "element": "connect",
         "freq_times": 2, "freq_days": 7, "start_date": pd.Timestamp("2025-01-06"),
         "due_date": pd.Timestamp("2026-12-31"), "target": "60 chats", "archived": False},
    ])

    # Daily action counts exist only on check-in days (the form writes every active goal,
    # zero included); progress moves every day and is recorded on check-in days.
    portfolio = np.where(rng.random(n) < 0.55, rng.integers(1, 4, n), 0)
    promotion = np.where(rng.random(n) < 0.6, 1, 0)
    coffee = np.where(rng.random(n) < 0.3, rng.integers(1, 3, n), 0)
    coffee_start = int((pd.Timestamp("2025-01-06") - ALEX_START).days)
    coffee[:coffee_start] = 0
    lagged = lambda x, k: np.concatenate([np.zeros(k), x[:-k]])  # noqa: E731
    inc_portfolio = 0.05 * lagged(portfolio, 2) + 0.05 * lagged(portfolio, 3) + rng.normal(0, 0.1, n)
    inc_promotion = 0.11 + rng.normal(0, 0.2, n)
    inc_coffee = 0.02 * lagged(coffee, 1) + 0.07 + rng.normal(0, 0.12, n)
    inc_coffee[:coffee_start] = 0
    level = {g: np.clip(np.cumsum(inc), 0, 100) for g, inc in
             (("alex-portfolio", inc_portfolio), ("alex-promotion", inc_promotion),
              ("alex-coffee", inc_coffee))}
    counts = {"alex-portfolio": portfolio, "alex-promotion": promotion, "alex-coffee": coffee}
    minutes = {"alex-portfolio": 45.0, "alex-promotion": 30.0, "alex-coffee": 40.0}
    action_rows, progress_rows = [], []
    for i in np.flatnonzero(checked):
        for goal, count in counts.items():
            if goal == "alex-coffee" and i < coffee_start:
                continue
            c = int(count[i])
            action_rows.append((days[i], goal, c, round(c * minutes[goal] * rng.uniform(0.6, 1.4)) if c else None))
            progress_rows.append((days[i], goal, round(float(level[goal][i]), 1)))
    actions = pd.DataFrame(action_rows, columns=["date", "goal_id", "count", "minutes"])
    actions.insert(0, "participant_id", "alex")
    actions["note"] = None
    actions["source"] = "demo"
    progress = pd.DataFrame(progress_rows, columns=["date", "goal_id", "percent"])
    progress.insert(0, "participant_id", "alex")
    progress["note"] = None
    progress["source"] = "demo"
    return {"participants": participants, "goals": goals, "ratings": ratings,
            "actions": actions, "progress": progress}


def _cohort(rng, framework_items):
    ids = [f"sc{i:02d}" for i in range(1, COHORT_SIZE + 1)]
    participants = pd.DataFrame({
        "participant_id": ids, "name": _NAMES[:COHORT_SIZE], "cohort": COHORT,
        "joined_on": COHORT_START, "consent_share": [pid not in NON_CONSENTING for pid in ids],
        "access_code_hash": None})
    elements = list(COHORT_GAIN)
    days = pd.date_range(COHORT_START, periods=COHORT_WEEKS * 7, freq="D")
    post_day = COHORT_START + pd.Timedelta(weeks=COHORT_WEEKS)
    goal_rows, rating_rows, action_rows, progress_rows, response_rows = [], [], [], [], []
    levels = {}
    for k, pid in enumerate(ids):
        baseline = {e: rng.normal(5.5, 1.2) for e in elements}
        propensity = float(np.clip(rng.normal(0.5, 0.18), 0.1, 0.9))
        baseline["proactive"] -= 2.5 * (propensity - 0.5)  # busier people start lower
        levels[pid] = dict(baseline)
        gain = {e: COHORT_GAIN[e] + rng.normal(0, 0.5) for e in elements}
        goal_id = f"{pid}-goal"
        goal_rows.append({"goal_id": goal_id, "participant_id": pid,
                          "title": _COHORT_GOALS[k % len(_COHORT_GOALS)], "element": elements[k % 5],
                          "freq_times": 3, "freq_days": 7, "start_date": COHORT_START,
                          "due_date": post_day, "target": None, "archived": False})
        did = rng.random(len(days)) < propensity
        counts = np.where(did, rng.integers(1, 3, len(days)), 0)
        active = rng.random(len(days)) > 0.15  # days the person opened the app
        percent = 0.0
        for w in range(COHORT_WEEKS):
            week = slice(7 * w, 7 * w + 7)
            for i in np.flatnonzero(active[week]) + 7 * w:
                action_rows.append((pid, days[i], goal_id, int(counts[i])))
            if rng.random() < 0.1 and 0 < w < COHORT_WEEKS - 1:
                continue  # a missed weekly check-in
            day = days[7 * w + int(rng.integers(0, 3))]
            weekly = counts[week][active[week]].sum()
            centred = weekly - 7 * propensity * 1.5
            frac = w / (COHORT_WEEKS - 1)
            for e in elements:
                level = baseline[e] + gain[e] * frac + rng.normal(0, 0.7)
                if e == "proactive":
                    level += 0.25 * centred
                rating_rows.append((pid, day, e, int(np.clip(np.rint(level), 1, 10))))
            percent = min(100.0, percent + max(0.0, rng.normal(2.0 + 0.8 * weekly, 2.0)))
            progress_rows.append((pid, day, goal_id, round(percent, 1)))
        for phase, day, shift in (("baseline", COHORT_START, 0.0), ("post", post_day, 1.0)):
            for item in framework_items:
                latent = baseline[item.element] + gain[item.element] * shift
                agree = 1 + (latent - 1) / 9 * 4 + rng.normal(0, 0.55)
                value = int(np.clip(np.rint(agree), 1, 5))
                if item.reverse:
                    value = 6 - value
                response_rows.append((pid, day, phase, item.id, value))
    ratings = pd.DataFrame(rating_rows, columns=["participant_id", "date", "element", "rating"])
    ratings["kind"] = "current"
    ratings["note"] = None
    ratings["source"] = "demo"
    actions = pd.DataFrame(action_rows, columns=["participant_id", "date", "goal_id", "count"])
    actions["minutes"] = None
    actions["note"] = None
    actions["source"] = "demo"
    progress = pd.DataFrame(progress_rows, columns=["participant_id", "date", "goal_id", "percent"])
    progress["note"] = None
    progress["source"] = "demo"
    responses = pd.DataFrame(response_rows, columns=["participant_id", "date", "phase", "item", "value"])
    responses.insert(3, "instrument", "career_mastery_q")
    return {"participants": participants, "goals": pd.DataFrame(goal_rows), "ratings": ratings,
            "actions": actions, "progress": progress, "responses": responses,
            "baseline_levels": pd.DataFrame.from_dict(levels, orient="index").rename_axis("participant_id")}


def _pearlin_keyed(rng, mastery):
    """Keyed answers (1-4, higher = more mastery) to the Pearlin items for latent ``mastery``.

    One factor: item j's propensity is ``loading_j * mastery + sqrt(1 - loading_j**2) * noise``
    (standard normal when mastery is), cut at :data:`PEARLIN_THRESHOLDS` into the four answers.
    """
    load = np.array(list(PEARLIN_LOADINGS.values()))
    mastery = np.asarray(mastery, dtype=float)
    noise = rng.normal(size=(len(mastery), len(load)))
    propensity = load[None, :] * mastery[:, None] + np.sqrt(1 - load**2)[None, :] * noise
    return 1 + (propensity[:, :, None] > np.array(PEARLIN_THRESHOLDS)).sum(axis=2)


def pearlin_population_alpha(n: int = 400_000, *, seed: int = 0) -> float:
    """Cronbach's alpha of the demo's Pearlin answers in a large population (the generating value).

    Simulates ``n`` people with standard normal latent mastery through the demo's answer model
    and computes alpha from their keyed answers' covariance matrix; ``GROUND_TRUTH`` quotes it.
    """
    keyed = _pearlin_keyed(np.random.default_rng(seed), np.random.default_rng(seed + 1).normal(size=n))
    cov = np.cov(keyed, rowvar=False)
    k = cov.shape[0]
    return float(k / (k - 1) * (1 - np.trace(cov) / cov.sum()))


def _pearlin(seed, levels):
    """The cohort's answers to the Pearlin Mastery Scale at baseline and post.

    From a random stream of their own (so every other demo row is unchanged). A person's
    latent mastery (standard normal in the cohort) goes with their baseline *proactive*
    level (correlation :data:`PEARLIN_PROACTIVE_R`) and rises by :data:`PEARLIN_CHANGE` SDs on
    average by the post assessment (give or take 0.3 SD per person). Reverse-keyed items are
    stored as answered (``5 - keyed``); about :data:`PEARLIN_MISSING` of the answers are
    skipped (no row).
    """
    from .framework import load_instrument

    q = load_instrument(PEARLIN)
    reverse = np.array([item.reverse for item in q.items])
    column = [list(PEARLIN_LOADINGS).index(item.id) for item in q.items]  # the model's item order
    rng = np.random.default_rng([seed, PEARLIN_STREAM])
    proactive = levels["proactive"].to_numpy()
    z = (proactive - proactive.mean()) / proactive.std()
    r = PEARLIN_PROACTIVE_R
    mastery = r * z + np.sqrt(1 - r**2) * rng.normal(size=len(z))
    post_day = COHORT_START + pd.Timedelta(weeks=COHORT_WEEKS)
    rows = []
    for phase, day, latent in (
            ("baseline", COHORT_START, mastery),
            ("post", post_day, mastery + PEARLIN_CHANGE + rng.normal(0, 0.3, len(z)))):
        keyed = _pearlin_keyed(rng, latent)[:, column]
        answered = np.where(reverse[None, :], 5 - keyed, keyed)
        skipped = rng.random(answered.shape) < PEARLIN_MISSING
        for i, pid in enumerate(levels.index):
            rows += [(pid, day, phase, PEARLIN, item.id, int(answered[i, j]))
                     for j, item in enumerate(q.items) if not skipped[i, j]]
    return pd.DataFrame(rows, columns=["participant_id", "date", "phase", "instrument", "item", "value"])


JO_START = pd.Timestamp("2026-05-04")
JO_END = ALEX_END
JO_LEVELS = {"proactive": 6.0, "connect": 5.5, "informed": 6.5, "focused": 5.0, "potential": 6.0}
JO_EXPERIMENTS = [  # the plans as jo typed them (mastery experiment plan ...)
    {"experiment_id": "jo-x1", "participant_id": "jo", "title": "Does deep work before ten help me focus?",
     "condition_a": "Usual mornings (email and meetings first)",
     "condition_b": "Two hours of deep work before 10:00, phone in another room",
     "outcome_kind": "element", "outcome_ref": "focused", "design": "days", "period_days": 2,
     "periods": 30, "washout_days": 0, "start_date": pd.Timestamp("2026-06-01"), "seed": 1906,
     "min_effect": 1.0},
    {"experiment_id": "jo-x2", "participant_id": "jo", "title": "Does lunch with a colleague make me feel connected?",
     "condition_a": "Lunch at my desk", "condition_b": "Lunch with a colleague",
     "outcome_kind": "element", "outcome_ref": "connect", "design": "alternating", "period_days": 7,
     "periods": 10, "washout_days": 1, "start_date": pd.Timestamp("2026-08-10"), "seed": 1907,
     "min_effect": 1.0},
]
EXPERIMENT_FILES = ("experiments", "experiment_schedule", "adherence")


def _jo(seed):
    """Jo's tidy rows and experiments, from a random stream of their own (see the docstring)."""
    from .experiment_design import plan_experiment  # the demo's schedules are drawn as a plan's are

    rng = np.random.default_rng([seed, 19])
    days = pd.date_range(JO_START, JO_END, freq="D")
    n = len(days)
    checked = rng.random(n) > 0.08
    effect = {e: np.zeros(n) for e in JO_LEVELS}
    schedules, adherence = [], []
    answered = np.zeros(n, dtype=bool)
    for plan in JO_EXPERIMENTS:
        sched = plan_experiment(plan["start_date"], design=plan["design"], period_days=plan["period_days"],
                                periods=plan["periods"], washout_days=plan["washout_days"], seed=plan["seed"])
        idx = ((sched["date"] - JO_START).dt.days).to_numpy()
        followed = rng.random(len(idx)) < 0.88
        b = (sched["condition"] == "B").to_numpy()
        did_b = np.where(followed, b, ~b)  # a day not followed is spent the other way
        size = GROUND_TRUTH["jo"]["experiments"][plan["experiment_id"]]["effect"]
        effect[plan["outcome_ref"]][idx] += size * did_b
        ask = checked[idx]
        answered[idx] |= ask
        adherence.append(pd.DataFrame({"participant_id": "jo", "experiment_id": plan["experiment_id"],
                                       "date": sched["date"][ask], "followed": followed[ask]}))
        schedules.append(sched.drop(columns="design").assign(experiment_id=plan["experiment_id"]))
    rows = []
    for element, level in JO_LEVELS.items():
        values = np.clip(np.rint(level + _ar1(rng, n, 0.5, 0.9) + effect[element]), 1, 10).astype(int)
        rows += [(days[i], element, values[i]) for i in np.flatnonzero(checked)]
    ratings = pd.DataFrame(rows, columns=["date", "element", "rating"])
    ratings.insert(0, "participant_id", "jo")
    ratings["kind"], ratings["note"], ratings["source"] = "current", None, "demo"
    participants = pd.DataFrame([{"participant_id": "jo", "name": "Jo Lindqvist", "cohort": None,
                                  "joined_on": JO_START, "consent_share": False, "access_code_hash": None}])
    experiments = {
        "experiments": pd.DataFrame(JO_EXPERIMENTS),
        "experiment_schedule": pd.concat(schedules, ignore_index=True)[
            ["experiment_id", "date", "period", "condition", "washout"]],
        "adherence": pd.concat(adherence, ignore_index=True),
    }
    return {"participants": participants, "ratings": ratings}, experiments


def demo_experiments(seed: int = SEED) -> dict[str, pd.DataFrame]:
    """The demo's self-experiments (jo's), as the committed CSVs hold them.

    Returns
    -------
    dict of table name -> DataFrame
        ``experiments`` (one row per plan: the columns of
        :data:`mastery_analysis.schema.EXPERIMENT_COLUMNS`), ``experiment_schedule``
        (experiment_id, date, period, condition, washout) and ``adherence``
        (participant_id, experiment_id, date, followed).
    """
    return _canonical_experiments(_jo(seed)[1])


def _canonical_experiments(frames):
    out = {}
    for table, frame in frames.items():
        frame = frame.copy()
        for col in ("date", "start_date"):
            if col in frame:
                frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
        for col in ("washout", "followed"):
            if col in frame:
                frame[col] = frame[col].astype(bool)
        key = ["experiment_id"] + (["date"] if "date" in frame else [])
        out[table] = frame.sort_values(key, kind="stable").reset_index(drop=True)
    return out


def demo_frames(seed: int = SEED) -> dict[str, pd.DataFrame]:
    """Generate the demo tables (deterministic for a given seed).

    Returns
    -------
    dict of table name -> DataFrame
        ``participants``, ``goals``, ``ratings``, ``actions``, ``progress``, ``responses``,
        each with the columns of its table in :data:`mastery_analysis.schema.TABLES` (less
        ``recorded_at``, which the store sets), sorted by key (alex, jo, then the cohort).
        Jo's experiments are in :func:`demo_experiments`.
    """
    from .framework import load_framework

    rng = np.random.default_rng(seed)
    alex = _alex(rng)
    cohort = _cohort(rng, load_framework().questionnaire.items)
    cohort["responses"] = pd.concat([cohort["responses"], _pearlin(seed, cohort["baseline_levels"])],
                                    ignore_index=True)
    jo = _jo(seed)[0]
    out = {}
    for table in ("participants", "goals", "ratings", "actions", "progress", "responses"):
        parts = [f for f in (alex.get(table), jo.get(table), cohort.get(table)) if f is not None]
        frame = pd.concat(parts, ignore_index=True)
        cols = [c for c in TABLES[table].columns if c != "recorded_at"]
        out[table] = _canonical(table, frame.reindex(columns=cols))
    return out


def _canonical(table, frame):
    """Sorted, typed the way the CSV round trip gives them back."""
    spec = TABLES[table]
    frame = frame.copy()
    for col in frame.columns:
        dtype = dtype_of(table, col)
        frame[col] = (pd.to_datetime(frame[col]) if dtype.startswith("datetime") else frame[col]).astype(dtype)
    return frame.sort_values(list(spec.key), kind="stable").reset_index(drop=True)


def demo_dir() -> Path:
    """Where the committed demo CSVs live (``data/demo`` of the source checkout)."""
    return Path(__file__).resolve().parents[1] / "data" / "demo"


def write_demo_csv(directory: str | Path | None = None, *, seed: int = SEED) -> list[Path]:
    """Regenerate the demo CSVs (a maintainer's step; the committed files are the raw data)."""
    directory = Path(directory) if directory else demo_dir()
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for table, frame in {**demo_frames(seed), **demo_experiments(seed)}.items():
        path = directory / f"{table}.csv"
        frame.to_csv(path, index=False, date_format="%Y-%m-%d", lineterminator="\n")
        paths.append(path)
    return paths


def read_demo_experiments(directory: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Read the committed demo experiments (as :func:`demo_experiments` returns them)."""
    directory = Path(directory) if directory else demo_dir()
    if not (directory / "experiments.csv").exists():
        return demo_experiments()
    return _canonical_experiments({t: pd.read_csv(directory / f"{t}.csv") for t in EXPERIMENT_FILES})


def read_demo_csv(directory: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Read the committed demo CSVs; falls back to generating them when not shipped."""
    directory = Path(directory) if directory else demo_dir()
    if not (directory / "ratings.csv").exists():
        return demo_frames()
    out = {}
    for table in ("participants", "goals", "ratings", "actions", "progress", "responses"):
        frame = pd.read_csv(directory / f"{table}.csv", keep_default_na=True)
        out[table] = _canonical(table, frame)
    return out


def load_demo(store, *, if_empty: bool = False) -> dict[str, int]:
    """Load the demo data into ``store``; returns rows written per table.

    The tidy tables are written in one transaction, then the cohort's questionnaires are
    recorded for its baseline and post phases (the framework's own and the Pearlin Mastery
    Scale, as ``mastery cohort phase --instrument`` records them; the questionnaire is left
    closed), then each demo experiment's plan and schedule (as planned on its start day) and
    its adherence in one transaction each.

    With ``if_empty=True`` a store that already holds the demo participants is left as it is
    (and an empty dict returned); otherwise that is an error, since loading twice would add a
    second version of every row.
    """
    frames = read_demo_csv()
    ids = frames["participants"]["participant_id"].tolist()
    present = store.history("participants", participant=ids)["participant_id"].unique().tolist()
    if present:
        if if_empty:
            return {}
        raise StoreError(
            f"the demo participants are already in {store.url} ({', '.join(present[:3])}"
            f"{' ...' if len(present) > 3 else ''}); use a new store, or `mastery participant "
            f"forget` them first")
    written = store.write_many(frames, where="the demo data")
    asked = [store.cohort_framework(COHORT).questionnaire.instrument, PEARLIN]
    for phase in ("baseline", "post"):
        store.set_open_phase(COHORT, phase, instruments=asked)
    store.set_open_phase(COHORT, None)
    exps = read_demo_experiments()
    for plan in exps["experiments"].to_dict("records"):
        xid = plan["experiment_id"]
        sched = exps["experiment_schedule"].loc[exps["experiment_schedule"]["experiment_id"] == xid]
        plan["min_effect"] = None if pd.isna(plan["min_effect"]) else plan["min_effect"]
        plan["seed"] = int(plan["seed"])
        for table, n in store.save_experiment(plan, sched, today=plan["start_date"]).items():
            written[table] = written.get(table, 0) + n
        done = exps["adherence"].loc[exps["adherence"]["experiment_id"] == xid]
        n = store.write_adherence(plan["participant_id"], xid, done, source="demo")
        written["adherence"] = written.get("adherence", 0) + n
    return written
