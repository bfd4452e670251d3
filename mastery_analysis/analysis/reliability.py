"""Reliability of questionnaire scales, measured on the people who answered.

- :func:`scale_reliability`: per instrument, scale and phase, Cronbach's alpha with Feldt's
  interval (as ``pingouin.cronbach_alpha``), McDonald's omega total from a one-factor model,
  the number of complete responses, and the reliability to use for reliable change with
  where it came from (measured here, published with the instrument, or assumed by the
  framework file).
- :func:`item_statistics`: per item, the corrected item-total correlation and alpha if the
  item were dropped, with a flag on items that run against their scale (a reverse-keyed item
  scored the wrong way shows up as a negative item-total correlation).
- :func:`omega_total`: omega total of a correlation matrix from a minimum-residual (minres)
  factor fit, as ``psych::omega`` reports it.

Reverse-keyed items are turned around from the questionnaire (``min + max - value``) before
anything is computed. A response set is one participant on one date in one phase; an item
answered twice in a set counts once (the last answer).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..errors import AnalysisInputError, FrameworkError
from ..framework import Framework, Questionnaire, load_framework, load_instrument
from ._grouped import require_frame

#: From this many complete responses a scale's measured alpha is used for reliable change;
#: below it a validated instrument's published value is used instead. docs/statistics.md
#: ("Reliability") shows why 30.
MIN_RELIABILITY_N = 30
#: With no published value (a home-made questionnaire, whose 0.80 is only assumed), the
#: measured alpha is still used from this many complete responses: by simulation it keeps
#: false "reliable change" claims near 5% where the assumed 0.80 gives 20% when the truth is
#: 0.55. Below it (and when alpha is not between 0 and 1) the assumed value is used.
MIN_MEASURED_N = 10

RELIABILITY_COLUMNS = ["instrument", "scale", "phase", "n", "n_answered", "n_items", "alpha",
                       "alpha_ci_low", "alpha_ci_high", "omega", "published", "reliability", "source",
                       "note"]
ITEM_COLUMNS = ["instrument", "scale", "phase", "item", "reverse", "n", "mean", "sd", "item_total_r",
                "alpha_if_dropped", "flag"]
#: Alpha below this gets a plain warning in the cohort report (the usual floor for scales
#: used to compare groups; Nunnally's 0.70).
ALPHA_WARNING = 0.70
#: A corrected item-total correlation below this is flagged as weak.
WEAK_ITEM_TOTAL_R = 0.2


# --------------------------------------------------------------------------- omega
def _minres_uniquenesses(corr: np.ndarray, n_factors: int) -> np.ndarray:
    """Uniquenesses of a minres factor fit (psych's ``fa(fm="minres")`` objective).

    For uniquenesses psi the model is the ``n_factors`` leading eigenpairs of ``R`` with
    ``1 - psi`` on its diagonal; psi minimises the sum of squared off-diagonal residuals,
    bounded to [0.005, 1] as psych bounds it.
    """
    k = corr.shape[0]
    off = ~np.eye(k, dtype=bool)

    def residual(psi):
        s = corr.copy()
        np.fill_diagonal(s, 1 - psi)
        values, vectors = np.linalg.eigh(s)
        top = np.argsort(values)[::-1][:n_factors]
        load = vectors[:, top] * np.sqrt(np.maximum(values[top], 0))
        res = corr - load @ load.T
        return float(np.sum(res[off] ** 2))

    try:
        smc = 1 - 1 / np.diag(np.linalg.inv(corr))
    except np.linalg.LinAlgError:
        smc = np.full(k, 0.5)
    start = np.clip(1 - smc, 0.005, 1.0)
    fit = optimize.minimize(residual, start, method="L-BFGS-B", bounds=[(0.005, 1.0)] * k,
                            options={"ftol": 1e-14, "gtol": 1e-10, "maxiter": 2000})
    return fit.x


def omega_total(corr, *, n_factors: int = 1) -> float:
    """McDonald's omega total of a correlation matrix: ``1 - sum(uniquenesses) / sum(R)``.

    Parameters
    ----------
    corr : array-like or DataFrame
        A k x k item correlation matrix (k >= 3 for one factor).
    n_factors : int
        Factors of the minres fit. One for a scale meant to measure one thing (what
        :func:`scale_reliability` uses); ``psych::omega`` fits a general factor and, by
        default, three group factors, whose total communality is that of a three-factor fit.

    Returns
    -------
    float
        Omega total (NaN when the matrix has missing values or fewer than 3 items).
    """
    r = np.asarray(corr, dtype=float)
    if r.ndim != 2 or r.shape[0] != r.shape[1]:
        raise AnalysisInputError(f"omega_total: expected a square correlation matrix, got shape {r.shape}")
    if r.shape[0] < 3 or not np.isfinite(r).all() or n_factors < 1 or n_factors >= r.shape[0]:
        return float("nan")
    psi = _minres_uniquenesses(r, n_factors)
    total = r.sum()
    return float(1 - psi.sum() / total) if total > 0 else float("nan")


# --------------------------------------------------------------------------- helpers
def _questionnaires(responses, framework, instruments) -> dict[str, Questionnaire]:
    found: dict[str, Questionnaire] = {}
    fw = load_framework(framework)
    if fw.questionnaire is not None:
        found[fw.questionnaire.instrument] = fw.questionnaire
    for ins in instruments or ():
        q = load_instrument(ins)
        found[q.instrument] = q
    if "instrument" in responses.columns:
        for name in pd.unique(responses["instrument"].astype(str)):
            if name not in found:
                try:
                    found[name] = load_instrument(name)
                except FrameworkError as exc:
                    raise AnalysisInputError(
                        f"the responses name instrument '{name}', which is neither the framework's "
                        f"questionnaire nor a known instrument: {exc}") from None
    if not found:
        raise AnalysisInputError(f"framework '{fw.name}' has no questionnaire and no instrument was "
                                 "given, so there is nothing to score")
    return found


def _coded(responses, framework, instruments, *, phase, function):
    """Wide coded item tables: {(instrument, phase): DataFrame sets x items}."""
    require_frame(responses, ["participant_id", "item", "value"], name="responses", function=function)
    qs = _questionnaires(responses, framework, instruments)
    frame = pd.DataFrame({
        "participant_id": responses["participant_id"].astype(str).to_numpy(),
        "date": (pd.to_datetime(responses["date"]).dt.normalize().to_numpy() if "date" in responses.columns
                 else np.zeros(len(responses), dtype="datetime64[ns]")),
        "phase": responses["phase"].astype(str).to_numpy() if "phase" in responses.columns else "",
        "instrument": (responses["instrument"].astype(str).to_numpy() if "instrument" in responses.columns
                       else next(iter(qs))),
        "item": responses["item"].astype(str).to_numpy(),
        "value": pd.to_numeric(responses["value"], errors="coerce").astype(float).to_numpy(),
    })
    if phase is not None:
        phases = [phase] if isinstance(phase, str) else list(phase)
        frame = frame.loc[frame["phase"].isin(phases)]
    tables = {}
    for (instrument, ph), part in frame.groupby(["instrument", "phase"], sort=True):
        q = qs[instrument]
        known = {i.id: i for i in q.items}
        unknown = sorted(set(part["item"]) - set(known))
        if unknown:
            raise AnalysisInputError(
                f"{function}: the responses hold item{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown[:10]))} that instrument '{instrument}' does not have "
                f"(its items are {', '.join(known)})")
        rev = part["item"].map({k: v.reverse for k, v in known.items()}).to_numpy(dtype=bool)
        coded = np.where(rev, q.scale.min + q.scale.max - part["value"].to_numpy(), part["value"].to_numpy())
        part = part.assign(value=coded)
        part = part.loc[np.isfinite(part["value"].to_numpy())]
        wide = part.pivot_table(index=["participant_id", "date"], columns="item", values="value",
                                aggfunc="last")
        tables[(instrument, ph)] = (q, wide)
    return tables


def _alpha(cov: np.ndarray) -> float:
    k = cov.shape[0]
    total = cov.sum()
    if k < 2 or not np.isfinite(total) or total <= 0:
        return float("nan")
    return float(k / (k - 1) * (1 - np.trace(cov) / total))


def feldt_interval(alpha, n, k, *, confidence: float = 0.95):
    """Feldt's (1965) interval of Cronbach's alpha: ``1 - (1 - alpha) F`` quantiles.

    Vectorised over ``alpha``, ``n`` (response sets) and ``k`` (items); the F distribution
    has ``n - 1`` and ``(n - 1)(k - 1)`` degrees of freedom, as ``pingouin.cronbach_alpha``.

    Returns
    -------
    tuple of ndarray
        ``(low, high)``.
    """
    alpha, n, k = (np.asarray(v, dtype=float) for v in (alpha, n, k))
    a = 1 - confidence
    df1 = n - 1
    df2 = df1 * (k - 1)
    low = 1 - (1 - alpha) * stats.f.isf(a / 2, df1, df2)
    high = 1 - (1 - alpha) * stats.f.isf(1 - a / 2, df1, df2)
    return low, high


def _fallback(q: Questionnaire, scale):
    """(value, source) of the reliability the instrument or framework file gives."""
    if scale.reliability is None:
        return np.nan, "none"
    return float(scale.reliability), "published" if q.validated else "assumed"


# --------------------------------------------------------------------------- public
def scale_reliability(responses: pd.DataFrame, *, framework: Framework | str | None = None,
                      instruments: Iterable[str | Questionnaire] | None = None,
                      phase: str | list[str] | None = None, nan_policy: str = "pairwise",
                      min_n: int = MIN_RELIABILITY_N, confidence: float = 0.95) -> pd.DataFrame:
    """Reliability of every scale in the responses, per instrument and phase.

    Cronbach's alpha is computed from the items' covariance matrix exactly as
    ``pingouin.cronbach_alpha`` does: pairwise-complete covariances by default
    (``nan_policy="listwise"`` keeps only complete response sets), and Feldt's interval on
    ``n_answered - 1`` and ``(n_answered - 1)(k - 1)`` degrees of freedom. Omega total comes
    from a one-factor minres fit of the pairwise item correlations (:func:`omega_total`).

    The reliability to use for reliable change (``reliability``) is the measured alpha when
    the scale has at least ``min_n`` complete responses and an alpha between 0 and 1. Below
    that a validated instrument's published value is used; a scale with no published value
    (a home-made questionnaire) keeps its measured alpha from :data:`MIN_MEASURED_N` (10)
    complete responses, and falls back to the framework's assumed value below that; ``note``
    says which and why (docs/statistics.md, "Reliability", shows the simulations behind the
    rule).

    Parameters
    ----------
    responses : DataFrame
        participant_id, item, value; date, phase and instrument when present (without an
        ``instrument`` column every row answers the framework's questionnaire).
    framework : Framework or str, optional
        Its questionnaire scores the framework's elements (default: career_mastery).
    instruments : iterable of str or Questionnaire, optional
        Further instruments whose items the responses may hold; instruments named in the
        ``instrument`` column are looked up among the shipped ones anyway.
    phase : str or list of str, optional
        Keep only these phases (``"baseline"`` for the reliability RCI uses).
    nan_policy : {"pairwise", "listwise"}
        As pingouin: pairwise-complete covariances, or complete response sets only.
    min_n : int
        Complete responses from which the measured alpha is preferred to a published one (30).
    confidence : float
        Level of alpha's interval (0.95).

    Returns
    -------
    DataFrame
        One row per instrument, phase and scale (scales in the instrument's order):

        - ``instrument``, ``scale``, ``phase`` (str; phase is "" without a phase column)
        - ``n`` (int): complete response sets (every item of the scale answered)
        - ``n_answered`` (int): response sets with at least one of its items (pingouin's n)
        - ``n_items`` (int): the scale's items, k
        - ``alpha``, ``alpha_ci_low``, ``alpha_ci_high`` (float): Cronbach's alpha and Feldt's
          interval; NaN when fewer than 2 sets or items, or the total has no variance
        - ``omega`` (float): McDonald's omega total, one factor (NaN under 3 items or 3 sets)
        - ``published`` (float): the instrument's published (or the framework's assumed)
          reliability, NaN when there is none
        - ``reliability`` (float): the value reliable change should use
        - ``source`` (str): ``measured``, ``published``, ``assumed`` or ``none``
        - ``note`` (str): why a fallback was used ("" when measured)
    """
    if nan_policy not in ("pairwise", "listwise"):
        raise AnalysisInputError("scale_reliability: nan_policy should be 'pairwise' or 'listwise', "
                                 f"got {nan_policy!r}")
    if not isinstance(min_n, (int, np.integer)) or min_n < 2:
        raise AnalysisInputError(f"scale_reliability: min_n should be a whole number >= 2, got {min_n!r}")
    rows = []
    for (instrument, ph), (q, wide) in _coded(responses, framework, instruments, phase=phase,
                                             function="scale_reliability").items():
        for scale in q.scales:
            items = list(scale.items)
            sub = wide.reindex(columns=items).dropna(how="all")
            n_complete = int(sub.notna().all(axis=1).sum())
            if nan_policy == "listwise":
                data = sub.dropna()
            else:
                data = sub
            n_answered = len(sub)
            k = len(items)
            alpha = lo = hi = omega = np.nan
            if len(data) >= 2 and k >= 2:
                cov = data.cov().to_numpy()
                alpha = _alpha(cov)
                if np.isfinite(alpha):
                    lo, hi = (float(v) for v in feldt_interval(alpha, n_answered, k, confidence=confidence))
                if k >= 3 and len(data) >= 3:
                    sd = np.sqrt(np.diag(cov))
                    if np.all(sd > 0):
                        omega = omega_total(cov / np.outer(sd, sd))
            published, fallback_source = _fallback(q, scale)
            usable = bool(np.isfinite(alpha) and 0 < alpha < 1)
            if usable and n_complete >= min_n:
                value, source, note = alpha, "measured", ""
            elif usable and n_complete >= min(min_n, MIN_MEASURED_N) and fallback_source != "published":
                value, source = alpha, "measured"
                note = (f"only {n_complete} complete responses (under {min_n}) and no published "
                        "value: this cohort's alpha is used all the same"
                        + (f" (the {published:.2f} the framework file assumes is no evidence)"
                           if fallback_source == "assumed" else ""))
            else:
                value, source = published, fallback_source
                why = (f"only {n_complete} complete responses (under {min_n})" if n_complete < min_n
                       else f"measured alpha {alpha:.2f} is not a usable reliability")
                note = (f"{why}: using the {source} reliability {published:.2f}" if source != "none"
                        else f"{why}, and no published or assumed value: reliable change not computed")
            rows.append({"instrument": instrument, "scale": scale.key, "phase": ph, "n": n_complete,
                         "n_answered": n_answered, "n_items": k, "alpha": alpha, "alpha_ci_low": lo,
                         "alpha_ci_high": hi, "omega": omega, "published": published,
                         "reliability": value, "source": source, "note": note})
    out = pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)
    for col in ("n", "n_answered", "n_items"):
        out[col] = out[col].astype(np.int64)
    for col in ("alpha", "alpha_ci_low", "alpha_ci_high", "omega", "published", "reliability"):
        out[col] = out[col].astype(float)
    return out


def item_statistics(responses: pd.DataFrame, *, framework: Framework | str | None = None,
                    instruments: Iterable[str | Questionnaire] | None = None,
                    phase: str | list[str] | None = None) -> pd.DataFrame:
    """Per item: its corrected item-total correlation and the scale's alpha without it.

    Items are coded first (reverse-keyed ones turned around), so an item that still
    correlates negatively with the rest of its scale is answered, or keyed, against it: the
    usual sign of a reverse item scored the wrong way. The item-total correlation is the
    Pearson correlation of the item with the sum of the scale's *other* items over complete
    response sets (``psych::alpha``'s ``r.drop``); alpha if dropped uses the pairwise
    covariances as :func:`scale_reliability` does.

    Parameters
    ----------
    responses, framework, instruments, phase
        As :func:`scale_reliability`.

    Returns
    -------
    DataFrame
        One row per instrument, phase, scale and item (instrument order):

        - ``instrument``, ``scale``, ``phase``, ``item`` (str); ``reverse`` (bool): keyed in
          reverse (already turned around in what follows)
        - ``n`` (int): sets that answered the item
        - ``mean``, ``sd`` (float): of the coded item
        - ``item_total_r`` (float): corrected item-total correlation (complete sets)
        - ``alpha_if_dropped`` (float): the scale's alpha without this item
        - ``flag`` (str): "negative" when ``item_total_r`` < 0 (check its keying), "weak"
          when below 0.2, "" otherwise
    """
    rows = []
    for (instrument, ph), (q, wide) in _coded(responses, framework, instruments, phase=phase,
                                             function="item_statistics").items():
        for scale in q.scales:
            items = list(scale.items)
            sub = wide.reindex(columns=items).dropna(how="all")
            cov = sub.cov().to_numpy() if len(sub) >= 2 else np.full((len(items), len(items)), np.nan)
            complete = sub.dropna().to_numpy()
            for j, item in enumerate(items):
                keep = [i for i in range(len(items)) if i != j]
                col = sub[item]
                r = np.nan
                if len(complete) >= 3 and len(items) >= 2:
                    rest = complete[:, keep].sum(axis=1)
                    x = complete[:, j]
                    if x.std() > 0 and rest.std() > 0:
                        r = float(np.corrcoef(x, rest)[0, 1])
                drop = _alpha(cov[np.ix_(keep, keep)]) if len(keep) >= 2 else np.nan
                flag = "negative" if r < 0 else "weak" if r < WEAK_ITEM_TOTAL_R else ""
                rows.append({"instrument": instrument, "scale": scale.key, "phase": ph, "item": item,
                             "reverse": q.item(item).reverse, "n": int(col.notna().sum()),
                             "mean": float(col.mean()), "sd": float(col.std(ddof=1)),
                             "item_total_r": r, "alpha_if_dropped": drop, "flag": flag})
    out = pd.DataFrame(rows, columns=ITEM_COLUMNS)
    out["n"] = out["n"].astype(np.int64)
    out["reverse"] = out["reverse"].astype(bool)
    return out


# --------------------------------------------------------------------------- scores, norms, change
SCORE_COLUMNS = ["participant_id", "date", "phase", "instrument", "scale", "score", "n_items"]
NORM_COLUMNS = ["instrument", "scale", "group", "norm_n", "norm_mean", "norm_sd", "source"]
BASELINE_NORM_COLUMNS = ["instrument", "scale", "n", "mean", "sd", "group", "norm_n", "norm_mean",
                         "norm_sd", "difference_in_norm_sd", "source"]


def scale_scores(responses: pd.DataFrame, *, framework: Framework | str | None = None,
                 instruments: Iterable[str | Questionnaire] | None = None) -> pd.DataFrame:
    """Each person's score on every scale, by its instrument's scoring rule.

    Reverse-keyed items are turned around first. ``scoring: mean`` is the mean of the
    answered items (as :func:`~mastery_analysis.analysis.cohort.score_responses`);
    ``scoring: sum`` is the sum of the items and needs every item answered (a partial sum
    would not be on the published scale), so a response set missing one has no score.

    Parameters
    ----------
    responses, framework, instruments
        As :func:`scale_reliability`.

    Returns
    -------
    DataFrame
        One row per participant, date, phase, instrument and scale with a score:
        ``participant_id``, ``date`` (datetime64[ns]), ``phase``, ``instrument``, ``scale``
        (str), ``score`` (float, on the instrument's scale: the item range for a mean, k
        times it for a sum) and ``n_items`` (int, items answered).
    """
    frames = []
    for (instrument, ph), (q, wide) in _coded(responses, framework, instruments, phase=None,
                                             function="scale_scores").items():
        for scale in q.scales:
            sub = wide.reindex(columns=list(scale.items))
            answered = sub.notna().sum(axis=1)
            score = sub.sum(axis=1, min_count=len(scale.items)) if q.scoring == "sum" else sub.mean(axis=1)
            keep = score.notna() & (answered > 0)
            idx = sub.index[keep.to_numpy()]
            frames.append(pd.DataFrame({
                "participant_id": idx.get_level_values("participant_id").astype(str),
                "date": idx.get_level_values("date"), "phase": ph, "instrument": instrument,
                "scale": scale.key, "score": score[keep].to_numpy(dtype=float),
                "n_items": answered[keep].to_numpy(dtype=np.int64)}))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            SCORE_COLUMNS, [object, "datetime64[ns]", object, object, object, float, np.int64])})
    out = pd.concat(frames, ignore_index=True)
    out["date"] = out["date"].astype("datetime64[ns]")
    return out[SCORE_COLUMNS]


def published_norms(instruments: Iterable[str | Questionnaire]) -> pd.DataFrame:
    """The norms the instrument files quote (mean and SD of a scale score in a named sample).

    Returns
    -------
    DataFrame
        One row per instrument, scale and norm group: ``instrument``, ``scale``, ``group``
        (str), ``norm_n`` (Int64, people in the sample, missing when not given),
        ``norm_mean``, ``norm_sd`` (float) and ``source`` (str, where it was read).
        Empty when no file quotes a norm.
    """
    rows = []
    for ins in instruments:
        q = load_instrument(ins)
        for s in q.scales:
            for nm in s.norms:
                rows.append({"instrument": q.instrument, "scale": s.key, "group": nm.group, "norm_n": nm.n,
                             "norm_mean": nm.mean, "norm_sd": nm.sd, "source": nm.source})
    out = pd.DataFrame(rows, columns=NORM_COLUMNS)
    out["norm_n"] = out["norm_n"].astype("Int64")
    for c in ("norm_mean", "norm_sd"):
        out[c] = out[c].astype(float)
    return out


def baseline_beside_norms(scores: pd.DataFrame, norms: pd.DataFrame, *, phase: str = "baseline") -> pd.DataFrame:
    """The cohort's mean and SD in ``phase`` beside each published norm of the same scale.

    Parameters
    ----------
    scores : DataFrame
        From :func:`scale_scores` (a person's several dates in the phase are averaged first).
    norms : DataFrame
        From :func:`published_norms`.
    phase : str
        The phase set beside the norms (``baseline``).

    Returns
    -------
    DataFrame
        One row per norm whose scale the cohort answered in ``phase``: ``instrument``,
        ``scale``, ``n`` (int, people), ``mean``, ``sd`` (float, the cohort's), ``group``,
        ``norm_n``, ``norm_mean``, ``norm_sd`` (the norm's), ``difference_in_norm_sd``
        (float, (mean - norm_mean) / norm_sd) and ``source``.
    """
    require_frame(scores, ["participant_id", "phase", "instrument", "scale", "score"], name="scores",
                  function="baseline_beside_norms")
    part = scores.loc[scores["phase"].astype(str) == phase]
    person = part.groupby(["instrument", "scale", "participant_id"])["score"].mean()
    cohort = person.groupby(level=["instrument", "scale"]).agg(n="size", mean="mean", sd="std").reset_index()
    out = cohort.merge(norms, on=["instrument", "scale"], how="inner")
    out["n"] = out["n"].astype(np.int64)
    out["difference_in_norm_sd"] = (out["mean"] - out["norm_mean"]) / out["norm_sd"]
    return out.reindex(columns=BASELINE_NORM_COLUMNS).reset_index(drop=True)


def scale_change(responses: pd.DataFrame, *, framework: Framework | str | None = None,
                 instruments: Iterable[str | Questionnaire] | None = None, pre: str = "baseline",
                 post: str = "post", min_n: int = 5) -> pd.DataFrame:
    """Change from ``pre`` to ``post`` on every scale, its RCI using the ``pre`` reliability.

    :func:`~mastery_analysis.analysis.cohort.cohort_change` per instrument on
    :func:`scale_scores`, with the reliability :func:`scale_reliability` gives for the
    ``pre`` answers (measured, published or assumed: each row says which).

    Returns
    -------
    DataFrame
        ``instrument``, ``scale`` and then every column of ``cohort_change`` but
        ``element`` (n, means, interval, t, p, q within the instrument, d_z, Hedges' g,
        reliable changes, ``reliability``, ``reliability_source``, ``suppressed``).
    """
    from .cohort import CHANGE_COLUMNS, cohort_change

    scores = scale_scores(responses, framework=framework, instruments=instruments)
    rel = scale_reliability(responses, framework=framework, instruments=instruments, phase=pre)
    qs = _questionnaires(responses, framework, instruments)
    parts = []
    for instrument, part in scores.groupby("instrument", sort=False):
        q = qs[instrument]
        rel_i = rel.loc[rel["instrument"] == instrument]
        change = cohort_change(part.rename(columns={"scale": "element"}), pre=pre, post=post,
                               framework=None, reliability=rel_i if len(rel_i) else {}, min_n=min_n)
        order = {k: i for i, k in enumerate(q.scale_keys)}
        change = change.loc[change["element"].isin(order)]
        change = change.assign(_o=change["element"].map(order)).sort_values("_o").drop(columns="_o")
        parts.append(change.rename(columns={"element": "scale"}).assign(instrument=instrument))
    cols = ["instrument", "scale"] + [c for c in CHANGE_COLUMNS if c != "element"]
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols]
