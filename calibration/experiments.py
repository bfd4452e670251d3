"""The self-experiment section of the calibration: level, interval coverage, power, recommended plans.

``run(seed)`` simulates, ``document(results)`` writes the Markdown; registered as
``experiments`` in :data:`calibration.__main__.SECTIONS` (``python -m calibration --only
experiments`` rewrites just this part of docs/statistics.md). Every cell has its own seed
derived from the section's seed and the cell's position.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm import tqdm

from mastery_analysis.analysis import experiments as ex

SEED = 20261219
#: The plans simulated: (design, period_days, periods, washout_days), about 6-12 weeks each.
PLANS = (("days", 2, 21, 0), ("days", 14, 3, 0), ("pairs", 7, 12, 1), ("alternating", 7, 12, 1),
         ("alternating", 3, 16, 0))
NULL_PHIS = (0.0, 0.5, 0.8, 0.9)
#: Linear drift over the whole trial, in standard deviations of the outcome (0: none).
DRIFTS = (0.0, 2.0)
NULL_TRIALS = 2000
COVER_PHIS = (0.5, 0.9)
COVER_TRIALS = 800
#: Random assignments per interval when a design has more than MAX_EXACT (fewer than the
#: analysis's default, for time; the interval's coverage does not depend on their number).
COVER_DRAWS = 1000
#: A planted constant effect, in standard deviations.
COVER_EFFECT = 1.0
POWER_PHI = 0.5
POWER_EFFECTS = (0.5, 1.0)
POWER_TRIALS = 1000
#: (design, period_days, washout_days) -> numbers of periods in the power table
POWER_GRID = {("days", 2, 0): (7, 14, 21, 28, 42), ("pairs", 7, 1): (8, 12, 16, 24, 32),
              ("alternating", 7, 1): (8, 12, 16, 24, 32), ("alternating", 3, 0): (8, 12, 16, 24, 32)}
#: Recommended plans: true (design, period_days, washout_days, phi, effect in sd), a history of
#: HISTORY_DAYS days per simulated person, the recommender as the form runs it, then trials
#: of the plan it recommends on the same person's true process.
REC_SETTINGS = (("days", 2, 0, 0.5, 1.0), ("pairs", 7, 1, 0.5, 1.0), ("alternating", 4, 1, 0.7, 1.0))
REC_PEOPLE = 100
REC_TRIALS = 10
HISTORY_DAYS = 60


def _label(plan) -> str:
    design, L, m, w = plan
    unit = "blocks" if design == "days" else "periods"
    return f"{design}, {m} {unit} of {L} days" + (f", washout {w}" if w else "")


def _coverage(plan, phi: float, seed: int) -> dict:
    """Share of trials whose interval (experiment_effect, the real path) holds the effect."""
    design, L, m, w = plan
    rng = np.random.default_rng(seed)
    n = L * m
    hits = given = 0
    start = pd.Timestamp("2026-01-05")
    for k in range(COVER_TRIALS):
        sched = ex.plan_experiment(start, design=design, period_days=L, periods=m, washout_days=w,
                                   seed=int(rng.integers(2 ** 31)))
        y = (ex.simulate_ar1(rng, 1, n, phi)[0] + COVER_EFFECT * (sched["condition"] == "B").to_numpy()
             + 2.0 * np.arange(n) / n)
        r = ex.experiment_effect(pd.DataFrame({"date": sched["date"], "value": y}), sched,
                                 n_draws=COVER_DRAWS, seed=k).iloc[0]
        if np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"]):
            given += 1
            hits += r["ci_low"] <= COVER_EFFECT <= r["ci_high"]
    return {"coverage": hits / COVER_TRIALS, "finite": given / COVER_TRIALS}


def _recommended(setting, seed: int) -> dict:
    """Power, on the true process, of the plans recommended from each person's own history."""
    design, L, w, phi, effect = setting
    rng = np.random.default_rng(seed)
    chosen, rejections, trials, none = [], 0, 0, 0
    for i in range(REC_PEOPLE):
        h = 6.0 + ex.simulate_ar1(rng, 1, HISTORY_DAYS, phi)[0]
        history = pd.DataFrame({"date": pd.date_range("2025-10-01", periods=HISTORY_DAYS), "value": h})
        m = ex.recommend_periods(history, design=design, period_days=L, washout_days=w,
                                 effect=effect, seed=int(rng.integers(2 ** 31)))
        if m is None:
            none += 1
            continue
        chosen.append(m)
        r = ex.simulated_power(design=design, period_days=L, periods=m, washout_days=w, effect=effect,
                               phi=phi, sd=1.0, n_sim=REC_TRIALS, seed=int(rng.integers(2 ** 31)),
                               reference=ex.POWER_REFERENCE)
        rejections += r["rejections"]
        trials += REC_TRIALS
    return {"power": rejections / trials if trials else np.nan, "trials": trials,
            "median_periods": float(np.median(chosen)) if chosen else np.nan,
            "q10": float(np.quantile(chosen, 0.1)) if chosen else np.nan,
            "q90": float(np.quantile(chosen, 0.9)) if chosen else np.nan, "none": none}


def run(seed: int = SEED) -> dict:
    """Every cell of the section, each with its own seed."""
    cells = ([("null", plan, phi, drift) for plan in PLANS for phi in NULL_PHIS for drift in DRIFTS]
             + [("cover", plan, phi) for plan in PLANS for phi in COVER_PHIS]
             + [("power", key, m, e) for key, ms in POWER_GRID.items() for m in ms for e in POWER_EFFECTS]
             + [("recommended", s) for s in REC_SETTINGS])
    results = {}
    for k, cell in enumerate(tqdm(cells, desc="calibration cells (self-experiments)", unit="cell")):
        cell_seed = seed + 1000 * k
        kind = cell[0]
        if kind == "null":
            _, (design, L, m, w), phi, drift = cell
            common = dict(design=design, period_days=L, periods=m, washout_days=w, effect=0.0, phi=phi,
                          sd=1.0, n_sim=NULL_TRIALS, seed=cell_seed, drift=drift / (L * m))
            results[cell] = {"design": ex.simulated_power(**common)["power"],
                             "free": ex.simulated_power(**common, free_shuffle=True)["power"]}
        elif kind == "cover":
            _, plan, phi = cell
            results[cell] = _coverage(plan, phi, cell_seed)
        elif kind == "power":
            _, (design, L, w), m, e = cell
            results[cell] = ex.simulated_power(design=design, period_days=L, periods=m, washout_days=w,
                                               effect=e, phi=POWER_PHI, sd=1.0, n_sim=POWER_TRIALS,
                                               seed=cell_seed)["power"]
        else:
            results[cell] = _recommended(cell[1], cell_seed)
    return results


def _pct(v) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{100 * v:.1f}%"


def _table(header, rows) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return out + [""]


def document(results) -> list[str]:
    se = 100 * np.sqrt(0.05 * 0.95 / NULL_TRIALS)
    L = [
        "## Self-experiments (`plan_experiment`, `experiment_effect`, `experiment_power`)",
        "",
        "**Method.** A self-experiment compares two conditions, A and B, on one person's",
        "outcome. The plan assigns days or periods to A and B at random (`days`: within each",
        "block of `period_days` days, half the days B at random; `pairs`: each pair of periods",
        "AB or BA; `alternating`: the periods in a random order, half A and half B, never more",
        "than two of one condition in a row). The analysis reports mean(B) - mean(A), washout",
        "days left out, and a randomisation test over exactly the schedules the design could",
        "have produced: under 'no effect' the person's outcome would have been the same",
        "whatever the schedule, and the schedule used is one random draw among them, so the",
        "share of schedules giving a difference at least as large is a p-value whatever the",
        "outcome does on its own (autocorrelation, drift, weekly rhythm). The 95% interval is",
        "the set of constant effects this test does not reject. NAP (non-overlap of all pairs)",
        "is the chance that a B day beats an A day. Before the planned end there is no p-value",
        "and no interval: stopping when the data look good would break the level.",
        "",
        "**Choosing a design.** Randomising single days (`days`, blocks of 2 to 14 days) is the",
        "most powerful when a condition acts the same day and wears off overnight (when to do",
        "deep work, a walk before work). Conditions that take days to act or wear off need",
        "periods of several days with a washout after each switch (`pairs` or `alternating`),",
        "and many more days for the same power (tables below). A design with few possible",
        "schedules cannot give a small p-value at all: 12 periods in pairs give 64 schedules",
        "(p >= 2/64), 8 give 16 (p >= 0.125, never significant); the plan check says so.",
        "What randomisation does not control: expectations (the person knows the condition),",
        "carry-over beyond the washout, and days on which the condition was not followed (the",
        "as-assigned analysis keeps them; the as-followed one drops them and is no longer",
        "randomised).",
        "",
        "Simulated outcomes: a stationary AR(1) series with lag-1 autocorrelation phi and",
        "standard deviation 1, one value a day, plus (where stated) a linear drift over the whole",
        "trial. Each simulated trial draws its schedule from the design with the plan's own",
        "generator, and the test is the two-sided randomisation test at alpha = 0.05 over the",
        f"design's assignments: every one up to {ex.POWER_REFERENCE:,}, else",
        f"{ex.POWER_REFERENCE - 1:,} drawn at random with the observed one counted as one more",
        f"(`experiment_effect` itself uses every one up to {ex.MAX_EXACT:,}, else",
        f"{ex.DEFAULT_DRAWS:,} draws; the level holds for any number of draws, and more draws",
        "give a little more power). The interval cells run `experiment_effect` end to end",
        f"({COVER_DRAWS:,} draws where a design has more than {ex.MAX_EXACT:,} schedules).",
        "",
        f"### No effect: share of trials with p <= 0.05 ({NULL_TRIALS} trials per cell)",
        "",
        "Each cell: the design's test, then in brackets the wrong test that shuffles the days",
        "freely (every split of the days in two halves, ignoring the design's blocks). Drift:",
        "the outcome rises by 2 standard deviations from the first day to the last.",
        "",
    ]
    header = ["plan"] + [f"phi {phi}{', drift' if d else ''}" for phi in NULL_PHIS for d in DRIFTS]
    rows = []
    for plan in PLANS:
        row = [_label(plan)]
        for phi in NULL_PHIS:
            for d in DRIFTS:
                r = results[("null", plan, phi, d)]
                row.append(f"{_pct(r['design'])} ({_pct(r['free'])})")
        rows.append(row)
    L += _table(header, rows)
    worst = max(((results[("null", p, phi, d)]["design"], _label(p), phi, d) for p in PLANS
                 for phi in NULL_PHIS for d in DRIFTS))
    worst_free = max(((results[("null", p, phi, d)]["free"], _label(p), phi, d) for p in PLANS
                      for phi in NULL_PHIS for d in DRIFTS))
    n_cells = len(PLANS) * len(NULL_PHIS) * len(DRIFTS)
    L += [f"Against the target of at most 5% plus simulation noise (the standard error of a 5% rate "
          f"over {NULL_TRIALS} trials is {se:.2f} points, and the highest of {n_cells} cells at an "
          f"exact 5% is expected about two standard errors above it), the highest cell of the "
          f"design's test: "
          f"{_pct(worst[0])} ({worst[1]}, phi {worst[2]}{', drift' if worst[3] else ''}). The free "
          f"shuffle reaches {_pct(worst_free[0])} ({worst_free[1]}, phi {worst_free[2]}"
          f"{', drift' if worst_free[3] else ''}): with autocorrelated days it finds effects in "
          "pure noise. A design with few possible schedules rejects less than 5% (12 periods in "
          "pairs give 64 schedules, so p-values come in steps of 1/64).", ""]
    L += [f"### A planted effect of {COVER_EFFECT:g} sd with drift: share of 95% intervals holding it "
          f"({COVER_TRIALS} trials per cell)", ""]
    L += _table(["plan"] + [f"phi {phi}" for phi in COVER_PHIS],
                [[_label(p)] + [_pct(results[("cover", p, phi)]["coverage"]) for phi in COVER_PHIS]
                 for p in PLANS])
    low = min(((results[("cover", p, phi)]["coverage"], _label(p), phi) for p in PLANS for phi in COVER_PHIS))
    L += ["The interval is the set of constant effects the test does not reject (outcome minus",
          "delta on B days, tested over the same assignments), found exactly by a sweep over the",
          f"points where an assignment's comparison changes. Against the target of at least 94%, "
          f"the lowest cell: {_pct(low[0])} ({low[1]}, phi {low[2]}).", ""]
    L += [f"### Power by design, effect and length (phi {POWER_PHI}, {POWER_TRIALS} trials per cell)", ""]
    for e in POWER_EFFECTS:
        L += [f"Effect {e:g} standard deviation{'s' if e != 1 else ''}:", ""]
        for (design, pl, w), ms in POWER_GRID.items():
            unit = "blocks" if design == "days" else "periods"
            L += _table([f"{design}, {pl}-day {unit}{f', washout {w}' if w else ''}"]
                        + [f"{m} ({m * pl} days)" for m in ms],
                        [["power"] + [_pct(results[("power", (design, pl, w), m, e)]) for m in ms]])
    L += ["Randomising single days within short blocks is far more powerful on the same number",
          "of days: most day-to-day autocorrelation cancels within a block. Periods of a week",
          "suit conditions that take days to act or wear off, at the price of many more days.",
          "",
          f"### The plans the tool recommends ({REC_PEOPLE} people per setting, {REC_TRIALS} trials each)",
          "",
          f"Each simulated person has {HISTORY_DAYS} days of history from their true process.",
          "`recommend_periods`, as the plan form runs it, picks the number of periods from that",
          f"history alone: {ex.DEFAULT_SIMS} simulated trials per length, each with a standard",
          "deviation and autocorrelation drawn as uncertain as their estimates from the history,",
          "and the smallest length whose power's lower 95% bound reaches 80%. The recommended",
          "plan is then run on the person's true process. People for whom even 40 periods would",
          "not do are told so (last column) and run no trial here.",
          ""]
    rows = []
    for s in REC_SETTINGS:
        r = results[("recommended", s)]
        design, pl, w, phi, e = s
        unit = "blocks" if design == "days" else "periods"
        rows.append([f"{design}, {pl}-day {unit}{f', washout {w}' if w else ''}", phi, f"{e:g} sd",
                     f"{r['median_periods']:g} ({r['q10']:g}-{r['q90']:g})", _pct(r["power"]), r["none"]])
    L += _table(["plan", "true phi", "effect", "periods recommended: median (10%-90%)",
                 "power of the recommended plans", "no plan up to 40"], rows)
    worst_rec = min(results[("recommended", s)]["power"] for s in REC_SETTINGS)
    L += [f"Against the target of at least 80%, the lowest: {_pct(worst_rec)}. Two cautions make",
          "this hold: the lower bound of the simulated power, not the estimate, must reach 80%",
          "(the simulation's own noise), and the simulated trials vary the outcome's spread and",
          "autocorrelation as much as the history leaves them uncertain (with the point estimates",
          "alone, a history that happens to look calm gives a plan too short for the person).", ""]
    return L
