"""Plain-English findings for one participant, each with its numbers and its uncertainty.

A finding claims an effect (an improving or declining element, actions going with faster or
slower progress) only when the test behind it is significant after Benjamini-Hochberg control
across the participant's elements (trends) or across all goals and lags (action and progress).
Everything else says what is known: "no clear trend yet", "no clear relation yet", or
"not enough data yet: about N more days are needed". Goal pace and habits are descriptions of
the data, not tests, and never set ``claim``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import AnalysisInputError
from ..framework import Framework, load_framework
from ._grouped import one_day, require_frame
from .correlation import TARGET_POWER, TARGET_R, action_progress_correlation

COLUMNS = ["kind", "subject", "text", "value", "ci_low", "ci_high", "p_value", "q_value", "n",
           "sufficient", "claim"]
KINDS = ("data", "trend", "action_progress", "goal_pace", "habit")


def _level(alpha: float) -> str:
    return f"{100 * (1 - alpha):g}%"


def _fmt_q(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}"


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _signed(v: float) -> str:
    """Two significant digits with a sign, trailing zeros kept: +0.016, -0.0038, +0.030, 0."""
    if v == 0:
        return "0"
    return f"{v:+#.2g}".rstrip(".")  # '#' keeps +0.030 from printing as +0.03; 12 not '12.'


def _days_word(n) -> str:
    n = int(n)
    return f"{n} day" if n == 1 else f"{n} days"


def _pick(frame, participant_id):
    if frame is None:
        return None
    return frame.loc[frame["participant_id"].astype(str) == participant_id]


def _until(frame, today, column="date"):
    if frame is None or frame.empty or column not in frame.columns:
        return frame
    return frame.loc[pd.to_datetime(frame[column]).dt.normalize() <= today]


def _finding(kind, subject, text, *, value=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan,
             q_value=np.nan, n=None, sufficient=True, claim=False):
    return {"kind": kind, "subject": subject, "text": text, "value": float(value),
            "ci_low": float(ci_low), "ci_high": float(ci_high), "p_value": float(p_value),
            "q_value": float(q_value), "n": n, "sufficient": bool(sufficient), "claim": bool(claim)}


def _trend_findings(ratings, fw, alpha):
    from .trajectories import element_trends

    trends = element_trends(ratings, alpha=alpha)
    if trends.empty:
        return []
    order = {k: i for i, k in enumerate(fw.keys)}
    trends = trends.assign(_o=trends["element"].map(order).fillna(len(order))).sort_values(
        ["_o", "element"], kind="stable").drop(columns="_o")
    labels = fw.labels
    out = []
    for row in trends.itertuples(index=False):
        qv = row.q_value  # element_trends' own decision: BH across the participant's elements
        label = labels.get(row.element, row.element)
        n = int(row.n_periods)
        if row.direction == "insufficient" or not np.isfinite(row.slope):
            out.append(_finding(
                "trend", row.element,
                f"{label}: not enough data yet for a trend ({n} week{'s' if n != 1 else ''} with "
                f"ratings; at least 5 are needed).", n=n, sufficient=False))
            continue
        interval = (f"{_level(alpha)} CI {_signed(row.slope_low)} to {_signed(row.slope_high)}"
                    if np.isfinite(row.slope_low) else "no interval yet")
        claim = row.direction in ("improving", "declining")
        if claim:
            text = (f"{label} is {row.direction}: about {_signed(row.slope)} points a week ({interval}; "
                    f"Mann-Kendall corrected for autocorrelation, {_fmt_q(qv)}, over {n} weeks).")
        else:
            stat = _fmt_q(qv) if np.isfinite(qv) else "every week's mean is the same"
            text = (f"{label}: no clear trend ({_signed(row.slope)} points a week, {interval}; "
                    f"{stat}, over {n} weeks).")
        out.append(_finding("trend", row.element, text, value=row.slope, ci_low=row.slope_low,
                            ci_high=row.slope_high, p_value=row.p_value, q_value=qv, n=n,
                            sufficient=True, claim=claim))
    return out


def _goal_titles(goals):
    if goals is None or goals.empty or "title" not in goals.columns:
        return {}
    return dict(zip(goals["goal_id"].astype(str), goals["title"].astype(str)))


def _action_findings(actions, progress, ratings, titles, alpha, lags):
    if actions is None or progress is None or (actions.empty and progress.empty):
        return []
    checkins = ratings[["participant_id", "date"]] if ratings is not None and not ratings.empty else None
    res = action_progress_correlation(actions, progress, lags=lags, checkins=checkins, alpha=alpha)
    n_tests = int(res["tested"].sum())  # the rows the q-values are adjusted over
    out = []
    for goal_id, rows in res.groupby("goal_id", sort=True):
        title = titles.get(goal_id, goal_id)
        tested = rows.loc[rows["tested"]]
        more = rows["more_days"].dropna()
        more_days = int(more.max()) if len(more) else None
        sig = rows.loc[rows["significant"]]
        if len(sig):
            best = sig.sort_values(["q_value", "lag"]).iloc[0]
            faster = best["r"] > 0
            lag = int(best["lag"])
            when = "the same day onwards" if lag == 0 else f"{_days_word(lag)} later"
            others = sorted(int(v) for v in sig["lag"] if v != lag)
            also = f" (also at lag{'s' if len(others) > 1 else ''} {', '.join(map(str, others))})" if others else ""
            text = (f"'{title}': days with more action go with {'faster' if faster else 'slower'} "
                    f"progress from {when}{also}: r = {best['r']:.2f} ({_level(alpha)} CI {best['ci_low']:.2f} to "
                    f"{best['ci_high']:.2f}; {_fmt_q(best['q_value'])} after testing "
                    f"{n_tests} lags and goals; {int(best['n'])} days). This is a correlation, "
                    "not proof of cause.")
            out.append(_finding("action_progress", goal_id, text, value=best["r"], ci_low=best["ci_low"],
                                ci_high=best["ci_high"], p_value=best["p_value"], q_value=best["q_value"],
                                n=int(best["n"]), sufficient=True, claim=True))
        elif tested.empty:
            n = int(rows["n"].max())
            need = f"about {more_days} more days are needed" if more_days else \
                "more days with varying action and progress are needed"
            text = (f"'{title}': not enough data yet to relate actions to progress "
                    f"({_days_word(n)} paired so far); {need} for an {TARGET_POWER:.0%} chance of "
                    f"finding a relation of r = {TARGET_R}.")
            out.append(_finding("action_progress", goal_id, text, n=n, sufficient=False))
        else:
            best = tested.sort_values(["p_value", "lag"]).iloc[0]
            lags_txt = f"lags {int(rows['lag'].min())}-{int(rows['lag'].max())} days"
            numbers = (f"closest: lag {int(best['lag'])}, r = {best['r']:.2f}, {_level(alpha)} CI "
                       f"{best['ci_low']:.2f} to {best['ci_high']:.2f}, {_fmt_q(best['q_value'])}")
            enough = bool(rows["sufficient"].all())  # the table's own verdict, every lag
            promise = (f"an {TARGET_POWER:.0%} chance of finding a relation of r = {TARGET_R} at "
                       f"one lag after testing {len(res)} lags and goals")
            if not enough:
                more_txt = f"about {more_days} more days" if more_days else "more days"
                tail = f"{more_txt} are needed for {promise}."
                text = f"'{title}': no clear relation between actions and progress yet ({numbers}); {tail}"
            else:
                text = (f"'{title}': no clear relation between actions and progress at {lags_txt} "
                        f"({numbers}; {int(best['n'])} days, enough for {promise}).")
            out.append(_finding("action_progress", goal_id, text, value=best["r"], ci_low=best["ci_low"],
                                ci_high=best["ci_high"], p_value=best["p_value"], q_value=best["q_value"],
                                n=int(best["n"]), sufficient=enough, claim=False))
    return out


def _pace_findings(goals, progress, titles, today):
    from .goals import goal_pace

    if goals is None or goals.empty:
        return []
    pace = goal_pace(goals, progress, today=today)
    out = []
    for row in pace.itertuples(index=False):
        title = titles.get(row.goal_id, row.goal_id)
        pct = row.percent
        finish = row.projected_finish
        finish_txt = f"; at this pace it would reach 100% around {finish:%Y-%m-%d}" if pd.notna(finish) else ""
        pace_txt = f"{row.pace:+.1f} points a week" if np.isfinite(row.pace) else "no pace yet"
        expected = f", {row.expected:.0f}% expected by now" if np.isfinite(row.expected) else ""
        status = row.status
        if status == "not_started":
            text = f"'{title}': no progress recorded yet."
        elif status == "done":
            when = f" on {finish:%Y-%m-%d}" if pd.notna(finish) else ""
            text = f"'{title}' is done (reached 100%{when})."
        else:
            word = {"ahead": "is ahead of schedule", "on_track": "is on track",
                    "at_risk": "is at risk", "off_track": "is off track"}.get(status, f"is {status}")
            text = f"'{title}' {word}: {pct:.0f}% done{expected} ({pace_txt}{finish_txt})."
        out.append(_finding("goal_pace", row.goal_id, text, value=pct,
                            sufficient=status != "not_started", claim=False))
    return out


def _habit_findings(actions, goals, titles, today):
    from .habits import habit_strength, streaks

    if goals is None or goals.empty or actions is None:
        return []
    strength = habit_strength(actions, goals, until=today)  # faded over days without action
    latest = strength.groupby("goal_id").tail(1).set_index("goal_id")["score"] if len(strength) else pd.Series(dtype=float)
    runs = streaks(actions, goals)
    out = []
    for goal_id in goals["goal_id"].astype(str):
        title = titles.get(goal_id, goal_id)
        mine = runs.loc[runs["goal_id"] == goal_id]
        score = float(latest.get(goal_id, np.nan))
        if mine.empty and not np.isfinite(score):
            out.append(_finding("habit", goal_id, f"'{title}': no action logged yet.", sufficient=False))
            continue
        current = mine.loc[mine["end"] >= today - pd.Timedelta(days=1), "length"]
        current_len = int(current.max()) if len(current) else 0
        longest = mine.sort_values(["length", "end"], ascending=[False, False]).head(1)
        parts = []
        if np.isfinite(score):
            parts.append(f"habit strength {score:.2f} of 1 (Loop's score)")
        parts.append(f"current streak {_days_word(current_len)}")
        if len(longest):
            lo = longest.iloc[0]
            parts.append(f"longest {_days_word(lo['length'])} ({lo['start']:%Y-%m-%d} to {lo['end']:%Y-%m-%d})")
        out.append(_finding("habit", goal_id, f"'{title}': " + "; ".join(parts) + ".", value=score,
                            n=current_len, sufficient=True, claim=False))
    return out


def insights(ratings: pd.DataFrame, actions: pd.DataFrame, progress: pd.DataFrame,
             goals: pd.DataFrame, *, participant_id: str | None = None, today=None,
             framework: Framework | str | None = None, alpha: float = 0.05,
             lags=range(0, 8), experiments: pd.DataFrame | None = None) -> pd.DataFrame:
    """Plain-English findings for one participant, with their numbers and uncertainty.

    Findings, in this order:

    - ``trend`` (one per element): from :func:`~mastery_analysis.analysis.element_trends`
      (Theil-Sen on weekly means, Mann-Kendall corrected for autocorrelation). An element is
      called improving or declining exactly when the table's ``direction`` says so (its
      Benjamini-Hochberg q across the participant's elements is below ``alpha``); otherwise
      "no clear trend", or "not enough data yet" with fewer than 5 weeks.
    - ``action_progress`` (one per goal): from
      :func:`~mastery_analysis.analysis.action_progress_correlation` (ratings count as
      check-in days). A relation is claimed only when significant after FDR control over all
      goals and lags; otherwise "no clear relation yet" with the days still needed for an 80%
      chance of finding r = 0.3 at one lag (the table's ``days_needed``), or "not enough data
      yet". ``sufficient`` is true only when every lag of the goal is ``sufficient`` in the
      table.
    - ``goal_pace`` (one per goal): from :func:`~mastery_analysis.analysis.goal_pace`.
    - ``habit`` (one per goal): Loop habit strength on ``today`` and the current and longest
      streaks, from :func:`~mastery_analysis.analysis.habit_strength` and
      :func:`~mastery_analysis.analysis.streaks`.
    - ``experiment`` (one per self-experiment in ``experiments``): its result in a sentence
      (:func:`~mastery_analysis.analysis.experiment_outcomes.effect_sentence`) once its planned
      end is on or before ``today``, else that it has no result yet. A difference is claimed
      only when the intention-to-treat randomisation test's Benjamini-Hochberg q across the
      participant's finished experiments is below ``alpha``.
    - ``data``: only when the participant has no rows at all ("nothing recorded yet").

    Parameters
    ----------
    ratings, actions, progress, goals : DataFrame
        The participant's tables (others' rows are ignored). Ratings need participant_id,
        date, element, rating (kind optional); actions participant_id, date, goal_id, count;
        progress participant_id, date, goal_id, percent; goals goal_id, participant_id
        (title, freq_times, freq_days, start_date, due_date optional).
    participant_id : str, optional
        Whose findings; may be left out when the frames hold exactly one participant.
    today : date-like, optional
        The day the findings are as of: rows after it are ignored. Defaults to the last date
        in the participant's ratings, actions and progress (never the wall clock).
    framework : Framework or str, optional
        For element labels (default: career_mastery).
    alpha : float
        The false discovery rate for claims (0.05).
    lags : iterable of int
        Lags tested for action and progress (0 to 7 days).
    experiments : DataFrame, optional
        The participant's self-experiments: one intention-to-treat row of
        :func:`~mastery_analysis.analysis.experiments.experiment_effect` each (``estimate``,
        ``ci_low``, ``ci_high``, ``p_value``, ``n_a``, ``n_b``, ``finished``, ``randomised``,
        ``alpha``, ``planned_end``) with ``experiment_id``, ``title``, ``condition_a``,
        ``condition_b`` and ``outcome`` (the outcome in words).

    Returns
    -------
    DataFrame
        One row per finding:

        - ``kind`` (str): ``trend``, ``action_progress``, ``goal_pace``, ``habit`` or ``data``
        - ``subject`` (str): the element key or goal_id the finding is about
        - ``text`` (str): the finding in plain English, with its numbers
        - ``value`` (float): the trend's slope (points per week), the correlation r, the goal's
          percent, the habit strength, or an experiment's difference B - A; NaN when there is none
        - ``ci_low``, ``ci_high`` (float): the ``1 - alpha`` interval of ``value`` where there is one
        - ``p_value``, ``q_value`` (float): the test's p and its BH-adjusted q (trend and
          action_progress only)
        - ``n`` (Int64): weeks (trend), paired days (action_progress), current streak days (habit)
        - ``sufficient`` (bool): false when the finding is "not enough data yet"
        - ``claim`` (bool): true only for a finding that asserts an effect or trend, and then
          its q_value is below ``alpha``
    """
    require_frame(ratings, ["participant_id", "date", "element", "rating"],
                  name="ratings", function="insights")
    require_frame(actions, ["participant_id", "date", "goal_id", "count"],
                  name="actions", function="insights")
    require_frame(progress, ["participant_id", "date", "goal_id", "percent"],
                  name="progress", function="insights")
    require_frame(goals, ["goal_id", "participant_id"], name="goals", function="insights")
    fw = load_framework(framework)
    everyone = sorted(set().union(*(set(f["participant_id"].dropna().astype(str))
                                    for f in (ratings, actions, progress, goals))))
    if participant_id is None:
        if len(everyone) != 1:
            raise AnalysisInputError(
                "insights is for one participant: give participant_id (the frames hold "
                f"{len(everyone)}: {', '.join(everyone[:5])}{' ...' if len(everyone) > 5 else ''})")
        participant_id = everyone[0]
    participant_id = str(participant_id)
    if participant_id not in everyone:
        raise AnalysisInputError(f"insights: no rows for participant '{participant_id}' in the frames "
                                 f"(they hold {', '.join(everyone[:5]) or 'nobody'})")
    r, a, p, g = (_pick(f, participant_id) for f in (ratings, actions, progress, goals))
    if today is None:
        dates = pd.concat([pd.to_datetime(f["date"]) for f in (r, a, p)], ignore_index=True).dropna()
        today = dates.max().normalize() if len(dates) else None
    else:
        today = pd.Timestamp(one_day(today, name="today", function="insights"))
    if today is None:
        out = [_finding("data", participant_id, "Nothing recorded yet: no ratings, actions or "
                        "progress.", sufficient=False)]
        return _frame(out)
    r, a, p = _until(r, today), _until(a, today), _until(p, today)
    titles = _goal_titles(g)
    found = []
    found += _trend_findings(r, fw, alpha)
    found += _action_findings(a, p, r, titles, alpha, lags)
    found += _pace_findings(g, p, titles, today)
    found += _habit_findings(a, g, titles, today)
    if experiments is not None:
        found += _experiment_findings(experiments, today, alpha)
    if not found:
        found.append(_finding("data", participant_id, "Nothing to report yet.", sufficient=False))
    return _frame(found)


def _experiment_findings(experiments, today, alpha):
    from ._grouped import bh_q
    from .experiment_outcomes import effect_sentence

    require_frame(experiments, ["experiment_id", "title", "condition_a", "condition_b", "outcome",
                                "estimate", "ci_low", "ci_high", "p_value", "n_a", "n_b",
                                "finished", "randomised", "planned_end"],
                  name="experiments", function="insights")
    rows = experiments.loc[experiments["randomised"].astype(bool)].copy()
    rows["finished"] = rows["finished"].astype(bool) & (pd.to_datetime(rows["planned_end"]) <= today)
    rows["q_value"] = np.nan
    done = rows["finished"].to_numpy()
    if done.any():
        rows.loc[done, "q_value"] = bh_q(rows.loc[done, "p_value"].to_numpy(dtype=float))
    out = []
    for r in rows.to_dict("records"):
        claim = bool(r["finished"] and r["q_value"] < alpha)
        text = effect_sentence({**r, "alpha": alpha}, title=r["title"], condition_a=r["condition_a"],
                               condition_b=r["condition_b"], outcome=r["outcome"], significant=claim)
        if r["finished"]:
            out.append(_finding("experiment", r["experiment_id"], text, value=r["estimate"],
                                ci_low=r["ci_low"], ci_high=r["ci_high"], p_value=r["p_value"],
                                q_value=r["q_value"], n=int(r["n_a"]) + int(r["n_b"]), claim=claim))
        else:
            out.append(_finding("experiment", r["experiment_id"], text,
                                n=int(r["n_a"]) + int(r["n_b"]), sufficient=False))
    return out


def _frame(found) -> pd.DataFrame:
    out = pd.DataFrame(found, columns=COLUMNS)
    out["n"] = pd.array(out["n"].astype(float), dtype="Float64").astype("Int64") if len(out) else \
        pd.Series(dtype="Int64")
    for col in ("kind", "subject", "text"):
        out[col] = out[col].astype("str")
    for col in ("sufficient", "claim"):
        out[col] = out[col].astype(bool)
    return out
