"""Cohort statistics: questionnaire scores and their reliability, pre/post change, rmcorr.

- :func:`score_responses` turns questionnaire items into element scores (reverse-coded items
  handled).
- :func:`reliability` gives Cronbach's alpha per element with Feldt's confidence interval.
- :func:`cohort_change` compares two phases per element: a paired t test, d_z, Hedges' g and
  the count of reliable improvements and declines (Jacobson & Truax, 1991).
- :func:`rm_corr` is the repeated-measures correlation of Bakdash & Marusich (2017): the
  within-person relation, never a pooled correlation across people.
- :func:`weekly_action_ratings` builds the per-person weekly pairs (actions logged, mean rating
  of an element) that rmcorr pools, and :func:`person_slopes` fits each person's own line
  through them, for the forest plot beside the pooled estimate.

Grouped statistics are computed from grouped moments over whole columns (one ``groupby`` with
built-in reductions), so a cohort of thousands costs the same code as a cohort of ten.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import AnalysisInputError
from ..framework import Framework, load_framework
from ._grouped import bh_q, require_frame

#: Aggregates over fewer people than this are suppressed (DESIGN.md, "Privacy").
MIN_N = 5
#: |RCI| above this is a reliable change (two-sided 5%).
RCI_CRITICAL = 1.96


def _questionnaire(framework):
    fw = load_framework(framework)
    if fw.questionnaire is None:
        raise AnalysisInputError(f"framework '{fw.name}' has no questionnaire, so responses "
                                 "cannot be scored; use a framework with one (like career_mastery)")
    return fw, fw.questionnaire


def _coded_items(responses, framework, *, function, extra=()):
    """Responses of the framework's instrument with element and reverse-coded value."""
    require_frame(responses, ["participant_id", "date", "item", "value", *extra],
                  name="responses", function=function)
    fw, q = _questionnaire(framework)
    frame = responses
    if "instrument" in frame.columns:
        frame = frame.loc[frame["instrument"].astype(str) == q.instrument]
    items = pd.DataFrame({"item": [i.id for i in q.items], "element": [i.element for i in q.items],
                          "reverse": [i.reverse for i in q.items]})
    cols = ["participant_id", "date", "item", "value", *extra]
    out = frame[cols].copy()
    out["item"] = out["item"].astype(str)
    unknown = sorted(set(out["item"]) - set(items["item"]))
    if unknown:
        raise AnalysisInputError(
            f"{function}: the responses hold item{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown[:10])} that the {q.instrument} questionnaire of "
            f"framework '{fw.name}' does not have (its items are {', '.join(items['item'])})")
    out = out.merge(items, on="item", how="left")
    value = pd.to_numeric(out["value"], errors="coerce").astype(float)
    out["value"] = np.where(out["reverse"], q.scale.min + q.scale.max - value, value)
    out = out.loc[np.isfinite(out["value"].to_numpy())]
    out["date"] = pd.to_datetime(out["date"]).dt.normalize().astype("datetime64[ns]")
    return fw, q, out


def score_responses(responses: pd.DataFrame, framework: Framework | str | None = None) -> pd.DataFrame:
    """Element scores from questionnaire items: the mean of each element's answered items.

    Reverse-coded items are turned around first (``scale.min + scale.max - value``). Rows of
    other instruments (when there is an ``instrument`` column) are ignored; items the
    questionnaire does not have are an error. When an item was answered twice on one day (a
    hand-built frame), the last answer counts.

    Parameters
    ----------
    responses : DataFrame
        participant_id, date, phase, item, value (and optionally instrument).
    framework : Framework or str, optional
        The framework whose questionnaire the responses answer (default: career_mastery).

    Returns
    -------
    DataFrame
        One row per participant, date, phase and element, sorted by them:
        ``participant_id``, ``date`` (datetime64[ns]), ``phase``, ``element``,
        ``score`` (float, mean of the coded items, on the questionnaire's scale) and
        ``n_items`` (int, how many of the element's items were answered).

    Raises
    ------
    AnalysisInputError
        A missing column, an unknown item, or a framework without a questionnaire.
    """
    fw, q, coded = _coded_items(responses, framework, function="score_responses", extra=("phase",))
    coded = coded.drop_duplicates(["participant_id", "date", "phase", "item"], keep="last")
    keys = ["participant_id", "date", "phase", "element"]
    out = coded.groupby(keys, sort=True, as_index=False).agg(
        score=("value", "mean"), n_items=("value", "size"))
    out["n_items"] = out["n_items"].astype(np.int64)
    order = {k: i for i, k in enumerate(fw.keys)}
    out = out.assign(_o=out["element"].map(order)).sort_values(
        ["participant_id", "date", "phase", "_o"], kind="stable").drop(columns="_o")
    return out.reset_index(drop=True)[["participant_id", "date", "phase", "element", "score", "n_items"]]


def reliability(responses: pd.DataFrame, framework: Framework | str | None = None, *,
                phase: str | list[str] | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Cronbach's alpha of each element's items, with Feldt's confidence interval.

    Each response set (one participant on one date) is a row of the item table; sets that
    miss any of an element's items are left out of that element (listwise deletion).
    Reverse-coded items are turned around first. Equal to ``pingouin.cronbach_alpha`` (with
    ``nan_policy="listwise"``) per element.

    Parameters
    ----------
    responses : DataFrame
        participant_id, date, item, value (phase when ``phase`` is given; instrument optional).
    framework : Framework or str, optional
        The framework whose questionnaire the responses answer (default: career_mastery).
    phase : str or list of str, optional
        Use only these phases (``"baseline"``, say). By default every response set counts,
        so a person answering twice counts twice.
    confidence : float
        Level of the interval (0.95).

    Returns
    -------
    DataFrame
        One row per framework element with questionnaire items, in framework order:
        ``element``, ``n`` (int, complete response sets), ``n_items`` (int, the element's
        items, k), ``alpha`` (float; NaN when n < 2, k < 2 or the total score is constant),
        ``ci_low``, ``ci_high`` (float, Feldt: ``1 - (1 - alpha) F``, F quantiles on n - 1 and
        (n - 1)(k - 1) degrees of freedom).
    """
    extra = ("phase",) if phase is not None else ()
    fw, q, coded = _coded_items(responses, framework, function="reliability", extra=extra)
    if phase is not None:
        phases = [phase] if isinstance(phase, str) else list(phase)
        coded = coded.loc[coded["phase"].astype(str).isin(phases)]
    coded = coded.drop_duplicates(["participant_id", "date", "item"], keep="last")
    k_by = pd.Series({e: len(q.items_for(e)) for e in fw.keys})
    k_by = k_by[k_by > 0]
    sets = ["participant_id", "date", "element"]
    answered = coded.groupby(sets)["value"].transform("size")
    complete = coded.loc[answered.to_numpy() == k_by.reindex(coded["element"]).to_numpy()]
    item_var = complete.groupby(["element", "item"])["value"].var(ddof=1).groupby(level=0).sum()
    totals = complete.groupby(sets)["value"].sum()
    total_var = totals.groupby(level="element").var(ddof=1)
    n = totals.groupby(level="element").size()
    out = pd.DataFrame({"element": k_by.index})
    out["n"] = n.reindex(k_by.index).fillna(0).to_numpy(dtype=np.int64)
    out["n_items"] = k_by.to_numpy(dtype=np.int64)
    k = out["n_items"].to_numpy(dtype=float)
    sv = item_var.reindex(k_by.index).to_numpy(dtype=float)
    tv = total_var.reindex(k_by.index).to_numpy(dtype=float)
    nn = out["n"].to_numpy(dtype=float)
    ok = (nn >= 2) & (k >= 2) & np.isfinite(tv) & (tv > 0)
    alpha = np.full(len(out), np.nan)
    lo = np.full(len(out), np.nan)
    hi = np.full(len(out), np.nan)
    if ok.any():
        alpha[ok] = k[ok] / (k[ok] - 1) * (1 - sv[ok] / tv[ok])
        a = 1 - confidence
        df1 = nn[ok] - 1
        df2 = df1 * (k[ok] - 1)
        lo[ok] = 1 - (1 - alpha[ok]) * stats.f.isf(a / 2, df1, df2)
        hi[ok] = 1 - (1 - alpha[ok]) * stats.f.isf(1 - a / 2, df1, df2)
    out["alpha"], out["ci_low"], out["ci_high"] = alpha, lo, hi
    return out


def _reliability_lookup(reliability_arg, framework, elements, *, pre: str):
    """rxx per element and where it came from: the ``reliability`` argument, then the framework.

    A frame from :func:`~mastery_analysis.analysis.reliability.scale_reliability` gives its
    ``reliability`` and ``source`` per scale (the ``pre`` phase's rows when it has several
    phases); the frame :func:`reliability` returns and a dict give values whose source is
    ``given``; the framework's ``Element.reliability`` is ``assumed``.
    """
    given: dict = {}
    sources: dict = {}
    if isinstance(reliability_arg, pd.DataFrame):
        frame = reliability_arg
        key = "scale" if "scale" in frame.columns else "element" if "element" in frame.columns else None
        col = next((c for c in ("reliability", "alpha", "rxx") if c in frame.columns), None)
        if key is None or col is None:
            raise AnalysisInputError(
                "cohort_change: the reliability frame needs a 'scale' (or 'element') column and a "
                "'reliability' (or 'alpha') column, as scale_reliability() returns; it has "
                f"{', '.join(map(str, frame.columns))}")
        if "phase" in frame.columns and (frame["phase"].astype(str) == pre).any():
            frame = frame.loc[frame["phase"].astype(str) == pre]
        if "instrument" in frame.columns and framework is not None:
            q = load_framework(framework).questionnaire
            if q is not None and (frame["instrument"].astype(str) == q.instrument).any():
                frame = frame.loc[frame["instrument"].astype(str) == q.instrument]
        src = (frame["source"].astype(str) if "source" in frame.columns
               else pd.Series("given", index=frame.index))
        given = dict(zip(frame[key].astype(str), frame[col].astype(float)))
        sources = dict(zip(frame[key].astype(str), src))
    elif isinstance(reliability_arg, Mapping):
        given = {str(k): float(v) for k, v in reliability_arg.items()}
        sources = {k: "given" for k in given}
    elif reliability_arg is not None:
        raise AnalysisInputError("cohort_change: reliability should be a dict element -> alpha or "
                                 "the frame scale_reliability() returns, got "
                                 f"{type(reliability_arg).__name__}")
    fw_rel = {}
    if framework is not None:
        fw = load_framework(framework)
        fw_rel = {e.key: e.reliability for e in fw.elements if e.reliability is not None}
    values, where = [], []
    for e in elements:
        if e in given and given[e] is not None and np.isfinite(given[e]) and 0 < given[e] < 1:
            values.append(given[e])
            where.append(sources.get(e, "given"))
        elif e in fw_rel and 0 < fw_rel[e] < 1:
            values.append(fw_rel[e])
            where.append("assumed")
        else:
            values.append(np.nan)
            where.append("none")
    return np.array(values, dtype=float), where


CHANGE_COLUMNS = ["element", "n", "mean_pre", "mean_post", "mean_diff", "ci_low", "ci_high", "t",
                  "p_value", "q_value", "d_z", "hedges_g", "n_reliable_improved", "n_reliable_declined",
                  "reliability", "reliability_source", "suppressed"]


def cohort_change(ratings_or_scores: pd.DataFrame, *, pre: str = "baseline", post: str = "post",
                  framework: Framework | str | None = None, reliability=None, min_n: int = MIN_N,
                  confidence: float = 0.95) -> pd.DataFrame:
    """Change from phase ``pre`` to phase ``post`` per element, for the people measured at both.

    The input is the frame :func:`score_responses` returns (``score``) or ratings with a
    ``phase`` column (``rating``; only ``kind == "current"`` rows when there is a ``kind``
    column). Several values of one person, phase and element (several dates or check-ins) are
    averaged first. Positive differences mean post is higher than pre.

    Parameters
    ----------
    ratings_or_scores : DataFrame
        participant_id, phase, element and ``score`` (or ``rating``).
    pre, post : str
        The phases compared.
    framework : Framework or str, optional
        Gives the element order and the reliabilities used when ``reliability`` does not name
        an element (``Element.reliability``). Default: career_mastery.
    reliability : DataFrame or dict, optional
        rxx per element for the reliable change index. Best: the frame
        :func:`~mastery_analysis.analysis.reliability.scale_reliability` returns for the
        ``pre`` phase's answers (Jacobson and Truax's advice when no test-retest value is at
        hand), which carries its own ``source`` (measured, or the published or assumed value
        when too few people answered); also a dict ``{element: rxx}`` or the frame
        :func:`reliability` returns (source ``given``). Elements it does not cover use the
        framework's ``Element.reliability`` (source ``assumed``).
    min_n : int
        Privacy: an element with fewer than ``min_n`` paired participants keeps its ``n`` but
        every statistic is blanked (NaN, counts missing) and ``suppressed`` is true.
    confidence : float
        Level of the mean difference's interval (0.95).

    Returns
    -------
    DataFrame
        One row per element (framework order, then any others sorted):

        - ``element``; ``n`` (int): participants with both phases
        - ``mean_pre``, ``mean_post``, ``mean_diff`` (float): means; post minus pre
        - ``ci_low``, ``ci_high`` (float): t interval of the mean difference
        - ``t``, ``p_value`` (float): paired t test on n - 1 degrees of freedom (as
          ``scipy.stats.ttest_rel``; NaN when all differences are equal or n < 2)
        - ``q_value`` (float): Benjamini-Hochberg adjusted p over the elements shown (not
          suppressed) in this call; claim a change per element on q, not p
        - ``d_z`` (float): mean difference / SD of the differences
        - ``hedges_g`` (float): d_avg = mean difference / sqrt((var_pre + var_post) / 2), times
          ``1 - 3 / (8 n - 9)`` (as ``pingouin.compute_effsize(post, pre, paired=True,
          eftype="hedges")``)
        - ``n_reliable_improved``, ``n_reliable_declined`` (Int64): people whose
          ``diff / SE_diff`` is above 1.96 / below -1.96, ``SE_diff = SD_pre sqrt(2)
          sqrt(1 - rxx)`` (Jacobson-Truax); missing when no reliability is known
        - ``reliability`` (float): the rxx those counts used (NaN when none is known, and
          blanked with the rest when suppressed)
        - ``reliability_source`` (str): where it came from: ``measured`` (alpha of this
          cohort's answers), ``published`` (the instrument's), ``assumed`` (the framework
          file's), ``given`` (a value passed in) or ``none``
        - ``suppressed`` (bool): true when n < min_n
    """
    require_frame(ratings_or_scores, ["participant_id", "phase", "element"],
                  name="ratings_or_scores", function="cohort_change")
    frame = ratings_or_scores
    value_col = "score" if "score" in frame.columns else "rating" if "rating" in frame.columns else None
    if value_col is None:
        raise AnalysisInputError("cohort_change: the frame has no column 'score' (from score_responses) "
                                 f"or 'rating'; it has {', '.join(map(str, frame.columns))}")
    if value_col == "rating" and "kind" in frame.columns:
        frame = frame.loc[frame["kind"].astype(str) == "current"]
    if not isinstance(min_n, (int, np.integer)) or min_n < 1:
        raise AnalysisInputError(f"cohort_change: min_n should be a whole number of people >= 1, got {min_n!r}")
    d = pd.DataFrame({"participant_id": frame["participant_id"].astype(str).to_numpy(),
                      "phase": frame["phase"].astype(str).to_numpy(),
                      "element": frame["element"].astype(str).to_numpy(),
                      "value": pd.to_numeric(frame[value_col], errors="coerce").astype(float).to_numpy()})
    d = d.loc[np.isfinite(d["value"].to_numpy()) & d["phase"].isin([pre, post])]
    means = d.groupby(["element", "participant_id", "phase"])["value"].mean().unstack("phase")
    means = means.reindex(columns=[pre, post])
    paired = means.dropna().rename(columns={pre: "pre", post: "post"})
    paired["diff"] = paired["post"] - paired["pre"]

    fw = load_framework(framework)
    present = sorted(set(d["element"]))
    elements = [e for e in fw.keys if e in present or framework is not None] + [
        e for e in present if e not in fw.keys]
    g = paired.groupby(level="element")
    agg = pd.DataFrame({
        "n": g.size(),
        "mean_pre": g["pre"].mean(), "mean_post": g["post"].mean(), "mean_diff": g["diff"].mean(),
        "var_pre": g["pre"].var(ddof=1), "var_post": g["post"].var(ddof=1),
        "sd_diff": g["diff"].std(ddof=1),
    }).reindex(elements)
    agg["n"] = agg["n"].fillna(0)
    n = agg["n"].to_numpy(dtype=float)
    md = agg["mean_diff"].to_numpy(dtype=float)
    sd = agg["sd_diff"].to_numpy(dtype=float)
    testable = (n >= 2) & np.isfinite(sd) & (sd > 0)
    t = np.full(len(agg), np.nan)
    p = np.full(len(agg), np.nan)
    lo = np.full(len(agg), np.nan)
    hi = np.full(len(agg), np.nan)
    dz = np.full(len(agg), np.nan)
    if testable.any():
        se = sd[testable] / np.sqrt(n[testable])
        df = n[testable] - 1
        t[testable] = md[testable] / se
        p[testable] = 2 * stats.t.sf(np.abs(t[testable]), df)
        crit = stats.t.ppf(1 - (1 - confidence) / 2, df)
        lo[testable], hi[testable] = md[testable] - crit * se, md[testable] + crit * se
        dz[testable] = md[testable] / sd[testable]
    avg_var = (agg["var_pre"].to_numpy(dtype=float) + agg["var_post"].to_numpy(dtype=float)) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        g_ok = (n >= 2) & (avg_var > 0)
        hedges = np.where(g_ok, md / np.sqrt(avg_var) * (1 - 3 / (4 * (2 * n) - 9)), np.nan)

    # Jacobson-Truax reliable change, per person, counted per element
    rxx, rxx_source = _reliability_lookup(reliability, framework if framework is not None else fw,
                                          elements, pre=pre)
    rel = pd.Series(rxx, index=elements)
    sd_pre = np.sqrt(agg["var_pre"])
    se_diff = (sd_pre * np.sqrt(2) * np.sqrt(1 - rel)).reindex(paired.index.get_level_values("element"))
    with np.errstate(divide="ignore", invalid="ignore"):
        rci = paired["diff"].to_numpy() / se_diff.to_numpy()
    known = np.isfinite(se_diff.to_numpy()) & (se_diff.to_numpy() > 0)
    per = pd.DataFrame({"element": paired.index.get_level_values("element"),
                        "up": known & (rci > RCI_CRITICAL), "down": known & (rci < -RCI_CRITICAL)})
    counts = per.groupby("element")[["up", "down"]].sum().reindex(elements)
    rci_known = np.isfinite(rel.to_numpy()) & np.isfinite(sd_pre.to_numpy()) & (sd_pre.to_numpy() > 0)

    small = n < min_n
    blank = lambda a: np.where(small, np.nan, a)  # noqa: E731
    out = pd.DataFrame({
        "element": elements,
        "n": n.astype(np.int64),
        "mean_pre": blank(agg["mean_pre"].to_numpy(dtype=float)),
        "mean_post": blank(agg["mean_post"].to_numpy(dtype=float)),
        "mean_diff": blank(md),
        "ci_low": blank(lo), "ci_high": blank(hi),
        "t": blank(t), "p_value": blank(p), "q_value": bh_q(blank(p)), "d_z": blank(dz), "hedges_g": blank(hedges),
        "n_reliable_improved": pd.array(np.where(rci_known & ~small, counts["up"].to_numpy(dtype=float),
                                                 np.nan), dtype="Float64").astype("Int64"),
        "n_reliable_declined": pd.array(np.where(rci_known & ~small, counts["down"].to_numpy(dtype=float),
                                                 np.nan), dtype="Float64").astype("Int64"),
        "reliability": blank(rxx),
        "reliability_source": rxx_source,
        "suppressed": small,
    })
    return out[CHANGE_COLUMNS]


RM_COLUMNS = ["r", "dof", "p_value", "ci_low", "ci_high", "n_subjects", "n_obs", "slope", "slope_low",
              "slope_high"]


def rm_corr(data: pd.DataFrame, *, x: str, y: str, subject: str, confidence: float = 0.95) -> pd.DataFrame:
    """Repeated-measures correlation (Bakdash & Marusich, 2017): the common within-person slope.

    Each person's values are centred on that person's means; r is the correlation of the
    centred values, with ``N - k - 1`` degrees of freedom (N observations, k people). Equals
    the ANCOVA form of rmcorr and ``pingouin.rm_corr``: on Bland & Altman's (1995) data
    r = -0.507 with 38 degrees of freedom. Rows with a missing x, y or subject are dropped.

    Parameters
    ----------
    data : DataFrame
        Long frame with columns ``x``, ``y`` and ``subject``.
    x, y, subject : str
        Column names.
    confidence : float
        Level of the interval (0.95), Fisher z on ``dof + 2`` as pingouin does.

    Returns
    -------
    DataFrame
        One row: ``r`` (float), ``dof`` (int), ``p_value`` (float, two-sided t test on dof),
        ``ci_low``, ``ci_high`` (float), ``n_subjects`` (int), ``n_obs`` (int), ``slope``
        (float, the common within-person slope of y on x, the x coefficient of the ANCOVA
        ``y ~ C(subject) + x``, in units of y per unit of x), ``slope_low``, ``slope_high``
        (float, its t interval on dof). r and the rest are NaN when there are fewer than 3
        subjects, dof < 2, or x or y never varies within a person.
    """
    require_frame(data, [x, y, subject], name="data", function="rm_corr")
    d = pd.DataFrame({"s": data[subject].to_numpy(),
                      "x": pd.to_numeric(data[x], errors="coerce").astype(float).to_numpy(),
                      "y": pd.to_numeric(data[y], errors="coerce").astype(float).to_numpy()})
    d = d.loc[d["s"].notna() & np.isfinite(d["x"].to_numpy()) & np.isfinite(d["y"].to_numpy())]
    n_obs = len(d)
    k = int(d["s"].nunique())
    dof = n_obs - k - 1
    xc = d["x"] - d.groupby("s")["x"].transform("mean")
    yc = d["y"] - d.groupby("s")["y"].transform("mean")
    sxx, syy, sxy = float((xc * xc).sum()), float((yc * yc).sum()), float((xc * yc).sum())
    r = p = lo = hi = slope = s_lo = s_hi = np.nan
    if k >= 3 and dof >= 2 and sxx > 0 and syy > 0:
        r = float(np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0))
        slope = sxy / sxx
        se = np.sqrt(max(syy - slope * sxy, 0.0) / dof / sxx)
        crit = stats.t.ppf(1 - (1 - confidence) / 2, dof)
        s_lo, s_hi = float(slope - crit * se), float(slope + crit * se)
        with np.errstate(divide="ignore"):
            t = r * np.sqrt(dof / max(1 - r * r, 0.0))
        p = float(2 * stats.t.sf(abs(t), dof))
        if dof + 2 > 3:
            z = np.arctanh(np.clip(r, -1 + 1e-15, 1 - 1e-15))
            half = stats.norm.ppf(1 - (1 - confidence) / 2) / np.sqrt(dof + 2 - 3)
            lo, hi = float(np.tanh(z - half)), float(np.tanh(z + half))
    return pd.DataFrame({"r": [r], "dof": [max(dof, 0)], "p_value": [p], "ci_low": [lo],
                         "ci_high": [hi], "n_subjects": [k], "n_obs": [n_obs], "slope": [slope],
                         "slope_low": [s_lo], "slope_high": [s_hi]}).astype(
        {"dof": np.int64, "n_subjects": np.int64, "n_obs": np.int64})[RM_COLUMNS]


WEEKLY_COLUMNS = ["participant_id", "element", "week", "actions", "rating"]


def _period_start(dates: pd.Series, freq, function: str) -> pd.Series:
    days = pd.to_datetime(dates)
    if getattr(days.dt, "tz", None) is not None:
        days = days.dt.tz_localize(None)
    try:
        return days.dt.to_period(freq).dt.start_time.astype("datetime64[ns]")
    except (ValueError, TypeError, AttributeError) as exc:
        raise AnalysisInputError(
            f"{function}: freq={freq!r} is not a pandas period frequency like 'W' (weeks from "
            f"Monday to Sunday), 'W-SAT' or 'M' ({exc})") from None


def weekly_action_ratings(actions: pd.DataFrame, ratings: pd.DataFrame, *,
                          element: str | list[str] | None = "proactive", freq="W") -> pd.DataFrame:
    """Per person and week: the actions logged that week and the week's mean rating of an element.

    These are the pairs a within-person analysis of "do I rate myself higher in the weeks I act
    more?" uses: :func:`rm_corr` pools them, :func:`person_slopes` fits each person's own line.

    A week is a row only when the person checked in that week (rated the element at least
    once): a week without a check-in has no rating and is left out, not filled in. In a week
    with a check-in but no action logged, ``actions`` is 0 (nothing logged counts as nothing
    done). Several ratings of the element in one week are averaged; the action counts of all
    goals in the week are summed. Only ``kind == "current"`` ratings count when the frame has a
    ``kind`` column.

    Parameters
    ----------
    actions : DataFrame
        participant_id, date, count (the actions table; other columns are ignored).
    ratings : DataFrame
        participant_id, date, element, rating (and optionally kind).
    element : str, list of str or None
        The element(s) whose rating is paired with the actions (default ``"proactive"``);
        None pairs every element.
    freq : str
        A pandas period frequency: ``"W"`` (default) is weeks from Monday to Sunday.

    Returns
    -------
    DataFrame
        One row per participant, element and week with a check-in, sorted by them:
        ``participant_id``, ``element``, ``week`` (datetime64[ns], the first day of the
        period), ``actions`` (float, the sum of ``count`` over the week's actions, 0 when none
        were logged) and ``rating`` (float, the mean rating of the element that week).

    Raises
    ------
    AnalysisInputError
        A missing column or a ``freq`` that is not a period frequency.
    """
    fn = "weekly_action_ratings"
    require_frame(actions, ["participant_id", "date", "count"],
                  name="actions", function="weekly_action_ratings")
    require_frame(ratings, ["participant_id", "date", "element", "rating"],
                  name="ratings", function="weekly_action_ratings")
    r = ratings
    if "kind" in r.columns:
        r = r.loc[r["kind"].astype(str) == "current"]
    if element is not None:
        wanted = [element] if isinstance(element, str) else [str(e) for e in element]
        r = r.loc[r["element"].astype(str).isin(wanted)]
    rated = pd.DataFrame({
        "participant_id": r["participant_id"].astype(str).to_numpy(),
        "element": r["element"].astype(str).to_numpy(),
        "week": _period_start(r["date"], freq, fn).to_numpy(),
        "rating": pd.to_numeric(r["rating"], errors="coerce").astype(float).to_numpy()})
    rated = rated.loc[np.isfinite(rated["rating"].to_numpy())]
    weekly = rated.groupby(["participant_id", "element", "week"], sort=True, as_index=False)["rating"].mean()
    acted = pd.DataFrame({
        "participant_id": actions["participant_id"].astype(str).to_numpy(),
        "week": _period_start(actions["date"], freq, fn).to_numpy(),
        "actions": pd.to_numeric(actions["count"], errors="coerce").astype(float).to_numpy()})
    summed = acted.groupby(["participant_id", "week"], sort=False, as_index=False)["actions"].sum()
    out = weekly.merge(summed, on=["participant_id", "week"], how="left")
    out["actions"] = out["actions"].fillna(0.0)
    out["week"] = out["week"].astype("datetime64[ns]")
    return out[WEEKLY_COLUMNS].reset_index(drop=True)


def person_slopes(data: pd.DataFrame, *, x: str, y: str, subject: str, by: str | list[str] | None = None,
                  confidence: float = 0.95) -> pd.DataFrame:
    """Each person's own least-squares slope of ``y`` on ``x``, with its interval and r.

    The per-person counterpart of :func:`rm_corr`: rmcorr pools the within-person relation,
    this shows each person's. Computed from grouped moments over whole columns (one
    ``groupby`` with built-in reductions), equal per person to ``scipy.stats.linregress``.
    Rows with a missing x, y or subject are dropped.

    Parameters
    ----------
    data : DataFrame
        Long frame with columns ``x``, ``y``, ``subject`` (and ``by``), e.g. the output of
        :func:`weekly_action_ratings` with ``x="actions", y="rating",
        subject="participant_id"``.
    x, y, subject : str
        Column names.
    by : str or list of str, optional
        Further grouping columns (``"element"``, say): one slope per subject and group.
    confidence : float
        Level of the slope's t interval (0.95), on n - 2 degrees of freedom.

    Returns
    -------
    DataFrame
        One row per subject (and ``by`` group), sorted by them: the ``by`` columns, the
        ``subject`` column, ``n`` (int, observations), ``slope`` (float, change in y per unit
        of x), ``ci_low``, ``ci_high`` (float, ``slope -+ t * stderr``), ``r`` (float, Pearson
        r). slope and r are NaN when n < 2 or x never varies (r also when y never varies);
        the interval is NaN when n < 3.
    """
    groups = [] if by is None else [by] if isinstance(by, str) else list(by)
    if subject in groups or x in groups or y in groups:
        raise AnalysisInputError(f"person_slopes: by={groups!r} repeats x, y or subject")
    require_frame(data, [x, y, subject, *groups], name="data", function="person_slopes")
    keys = [*groups, subject]
    d = data[keys].copy()
    d["_x"] = pd.to_numeric(data[x], errors="coerce").astype(float).to_numpy()
    d["_y"] = pd.to_numeric(data[y], errors="coerce").astype(float).to_numpy()
    d = d.loc[d[keys].notna().all(axis=1).to_numpy() & np.isfinite(d["_x"].to_numpy())
              & np.isfinite(d["_y"].to_numpy())]
    g = d.groupby(keys, sort=True)
    xc = d["_x"] - g["_x"].transform("mean")
    yc = d["_y"] - g["_y"].transform("mean")
    m = pd.DataFrame({"xx": xc * xc, "yy": yc * yc, "xy": xc * yc}).groupby(
        [d[k] for k in keys], sort=True).sum()
    out = g.size().rename("n").to_frame().join(m).reset_index()
    n = out["n"].to_numpy(dtype=float)
    sxx, syy, sxy = (out[c].to_numpy(dtype=float) for c in ("xx", "yy", "xy"))
    slope = np.full(len(out), np.nan)
    r = np.full(len(out), np.nan)
    lo = np.full(len(out), np.nan)
    hi = np.full(len(out), np.nan)
    fit = (n >= 2) & (sxx > 0)
    slope[fit] = sxy[fit] / sxx[fit]
    corr = fit & (syy > 0)
    r[corr] = np.clip(sxy[corr] / np.sqrt(sxx[corr] * syy[corr]), -1.0, 1.0)
    band = fit & (n >= 3)
    if band.any():
        resid = np.maximum(syy[band] - slope[band] * sxy[band], 0.0)
        se = np.sqrt(resid / (n[band] - 2) / sxx[band])
        crit = stats.t.ppf(1 - (1 - confidence) / 2, n[band] - 2)
        lo[band], hi[band] = slope[band] - crit * se, slope[band] + crit * se
    out["n"] = out["n"].astype(np.int64)
    out["slope"], out["ci_low"], out["ci_high"], out["r"] = slope, lo, hi, r
    return out[[*keys, "n", "slope", "ci_low", "ci_high", "r"]]
