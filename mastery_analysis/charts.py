"""Plotly figure factories: a frame in (usually the output of :mod:`mastery_analysis.analysis`),
a :class:`plotly.graph_objects.Figure` out.

Rules every chart here follows:

- **No statistics of their own.** Charts plot what the analysis computed. The only arithmetic
  is for display: weekly means to bound a figure's size, quartiles for a box, a least-squares
  line drawn through a scatter.
- **One theme.** :data:`TEMPLATE` is applied to every figure, and each element keeps its
  framework colour (Okabe-Ito, colour-blind safe) in every chart.
- **Text people typed is escaped.** Goal titles, names, notes and ids go through
  :func:`html.escape` before they reach a title, a trace name, a tick label or hover text
  (plotly renders those as HTML).
- **Bounded size.** Long daily series are shown as weekly means above ``weekly_after`` days and
  large scatters use ``scattergl``, so ``len(fig.to_json())`` stays under a megabyte whatever
  the size of the data.
- **Empty states.** A chart on an empty frame returns a figure whose annotation says what to
  do next; it never raises for lack of data.
- Charts never call ``show()``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .analysis.correlation import lagged_pairs
from .analysis.privacy import consenting_only
from .errors import MasteryError
from .framework import Framework, load_framework

__all__ = [
    "TEMPLATE", "ChartError", "plot_trajectories", "plot_wheel", "plot_calendar",
    "plot_habit_strength", "plot_lag_profile", "plot_action_progress", "plot_goal_pace",
    "plot_cohort_change", "plot_forest", "plot_distribution", "plot_participation",
    "plot_experiment", "plot_randomisation",
]

#: Days per series above which daily values are shown as weekly means.
WEEKLY_AFTER = 400
#: Points in one trace above which a scatter is drawn with WebGL (``scattergl``).
GL_AFTER = 2000
#: The smallest group whose aggregate a cohort chart shows (DESIGN.md, "Privacy").
MIN_N = 5
#: Cohort charts draw one line (or row) per participant up to this many participants; beyond
#: it they draw the distribution instead (bands, histograms), which stays readable and keeps a
#: chart of 10,000 people as small as one of 300.
MAX_PEOPLE_DRAWN = 300
_HIST_BINS = 40

FONT = "Source Sans Pro, Helvetica Neue, Helvetica, Arial, sans-serif"
INK = "#222222"
MUTED = "#6b6b6b"
GRID = "#e6e6e6"
NEUTRAL = "#4d5d6c"  # charts that are about no element in particular
NO_DATA_GREY = "#b0b0b0"
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

_AXIS = dict(showgrid=True, gridcolor=GRID, zeroline=False, linecolor="#9a9a9a", ticks="outside",
             tickcolor="#9a9a9a", automargin=True, title=dict(font=dict(size=13, color=MUTED)))

#: The one theme of every chart (a plotly layout template).
TEMPLATE = go.layout.Template(
    layout=dict(
        font=dict(family=FONT, size=13, color=INK),
        title=dict(x=0.01, xanchor="left", yref="container", y=1.0, yanchor="top",
                   pad=dict(t=14), font=dict(size=19, color=INK),
                   subtitle=dict(font=dict(size=13, color=MUTED))),
        paper_bgcolor="white",
        plot_bgcolor="white",
        colorway=OKABE_ITO,
        xaxis=_AXIS,
        yaxis=_AXIS,
        polar=dict(bgcolor="white", angularaxis=dict(gridcolor=GRID, linecolor="#9a9a9a"),
                   radialaxis=dict(gridcolor=GRID, linecolor="#9a9a9a")),
        legend=dict(orientation="h", yref="container", yanchor="top", xanchor="left", x=0,
                    font=dict(size=12), bgcolor="rgba(255,255,255,0)"),
        hoverlabel=dict(font=dict(family=FONT, size=12), align="left"),
        margin=dict(l=70, r=30, t=110, b=60),
        width=1000,
    )
)


class ChartError(MasteryError, ValueError):
    """A frame given to a chart lacks a column the chart needs, or mixes what it cannot show."""


# ---------------------------------------------------------------------------- helpers
def _fw(framework) -> Framework:
    return load_framework(framework)


def esc(value) -> str:
    """``value`` as text safe to show in a plotly title, name, tick label or hover text."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    # quotes are harmless once < > & are escaped (no tag can open), and plotly shows them as
    # typed; a zero-width space keeps a typed "%{...}" from being read as a hovertemplate field
    return html.escape(str(value), quote=False).replace("%{", "%\u200b{")


def _color(fw: Framework, element) -> str:
    return fw.colors.get(element, NEUTRAL) if isinstance(element, str) else NEUTRAL


def _label(fw: Framework, element) -> str:
    return esc(fw.labels.get(element, element))


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _num(value, digits=2, signed=False) -> str:
    if value is None or pd.isna(value):
        return "–"
    text = f"{float(value):+.{digits}f}" if signed else f"{float(value):.{digits}f}"
    return text.replace("-", "−")


def _p(value, name: str = "p") -> str:
    """``p = 0.012`` or ``p < 0.001`` (``name`` may be ``q``)."""
    if value is None or pd.isna(value):
        return f"{name} = –"
    return f"{name} < 0.001" if value < 0.001 else f"{name} = {value:.3f}"


def _day(value) -> str:
    if value is None or pd.isna(value):
        return "–"
    return pd.Timestamp(value).strftime("%d %b %Y")


def _base(title: str, subtitle: str | None = None, **layout) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, title=dict(text=title, subtitle=dict(text=subtitle or "")),
                      **layout)
    return fig


_TAG = re.compile(r"<[^>]*>")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|\w+);")
_BREAK = re.compile(r" (?![^<]*>)")  # a space outside any <tag ...>
#: Characters of subtitle text per line at the theme's 1000 px width: a line never runs past
#: the figure's edge (measured on a wide fallback font, DejaVu Sans, with room to spare).
SUBTITLE_CHARS = 120
#: A date axis spans at least this many days, so that a day or two of data is labelled with
#: dates, not with times of day.
MIN_DATE_SPAN_DAYS = 7


def _visible_len(text: str) -> int:
    return len(_ENTITY.sub("x", _TAG.sub("", text)))


def wrap_text(text: str, width: int) -> str:
    """``text`` (plotly's HTML subset) broken with ``<br>`` into lines of at most ``width``
    visible characters where it can be: between the `` · `` separated parts first, then
    between words. Tags and entities are never split and do not count towards the width;
    existing ``<br>`` are kept; a single word longer than ``width`` stays whole.
    """
    out = []
    for paragraph in (text or "").split("<br>"):
        lines: list[str] = []
        for part in paragraph.split(" · "):
            if lines and _visible_len(lines[-1]) + 3 + _visible_len(part) <= width:
                lines[-1] += " · " + part
                continue
            if lines:
                lines[-1] += " ·"
            line = ""
            for word in _BREAK.split(part):
                if line and _visible_len(line) + 1 + _visible_len(word) > width:
                    lines.append(line)
                    line = word
                else:
                    line = f"{line} {word}" if line else word
            lines.append(line)
        out.append("<br>".join(lines))
    return "<br>".join(out)


def _date_spans(traces) -> dict[str, list]:
    """The first and last day shown on each x axis that shows dates (``{"xaxis": [lo, hi]}``).

    ``traces`` are plotly trace objects or the dicts a trace is built from.
    """
    spans: dict[str, list] = {}
    for trace in traces:
        get = trace.get if isinstance(trace, dict) else lambda key, t=trace: getattr(t, key, None)
        x = get("x")
        if x is None or len(x) == 0:
            continue
        values = np.asarray(x)
        if not np.issubdtype(values.dtype, np.datetime64):
            if values.dtype != object or not isinstance(values[0], (pd.Timestamp, np.datetime64)):
                continue
        days = pd.to_datetime(pd.Series(values.ravel()), errors="coerce").dropna()
        if days.empty:
            continue
        xaxis = get("xaxis")
        axis = "xaxis" + (xaxis[1:] if xaxis else "")
        lo, hi = days.min(), days.max()
        old = spans.get(axis)
        spans[axis] = [lo, hi] if old is None else [min(old[0], lo), max(old[1], hi)]
    return spans


def _date_axis_layout(spans: dict[str, list]) -> dict[str, dict]:
    """Layout of the date axes of :func:`_date_spans`: labelled with days, never with times of day.

    Each axis spans at least :data:`MIN_DATE_SPAN_DAYS` (padded evenly around short data), and
    when zoomed in below a day its ticks still read as dates.
    """
    if not spans:
        return {}
    lo = min(v[0] for v in spans.values())
    hi = max(v[1] for v in spans.values())
    short = hi - lo < pd.Timedelta(days=MIN_DATE_SPAN_DAYS)
    pad = (pd.Timedelta(days=MIN_DATE_SPAN_DAYS) - (hi - lo)) / 2
    out = {}
    for axis in spans:
        settings = dict(type="date", tickformatstops=[dict(dtickrange=[None, 86_400_000], value="%b %d, %Y")])
        if short:
            settings["range"] = [(lo - pad).isoformat(), (hi + pad).isoformat()]
        out[axis] = settings
    return out


def _date_axes(fig: go.Figure) -> None:
    """Label every x axis of ``fig`` that shows dates with days (:func:`_date_axis_layout`)."""
    for axis, settings in _date_axis_layout(_date_spans(fig.data)).items():
        fig.layout[axis].update(settings)


def _stacking(subtitle: str | None, *, height: int, width: int | None = None, panel_titles: int = 0,
              legend: bool = True) -> dict:
    """The layout that stacks title, subtitle, legend and the plot area without overlap.

    ``subtitle`` is wrapped to the figure's ``width`` (:func:`wrap_text`; the theme's width when
    None); ``panel_titles`` is the number of text lines of the subplot titles above the first row.
    """
    scale = (width or TEMPLATE.layout.width) / TEMPLATE.layout.width
    sub = wrap_text(subtitle or "", max(30, int(SUBTITLE_CHARS * scale)))
    lines = sub.count("<br>") + 1 if sub else 0
    legend_top = 14 + 26 + 18 * lines + 8
    top = legend_top + (30 if legend else 0) + 18 * panel_titles + 10
    return dict(title=dict(subtitle=dict(text=sub)), height=height, showlegend=legend,
                legend=dict(y=1 - legend_top / height), margin=dict(t=top))


def _merged(base: dict, update: dict) -> dict:
    """``base`` updated by ``update`` as plotly's ``update_layout`` does: nested dicts merge,
    anything else (a number, a string, a list) replaces. Neither argument is modified."""
    out = dict(base)
    for key, value in update.items():
        old = out.get(key)
        out[key] = _merged(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def _finish(fig: go.Figure, *, height: int, panel_titles: int = 0, legend: bool = True,
            **layout) -> go.Figure:
    """Apply the theme and stack title, subtitle, legend and the plot area without overlap.

    ``panel_titles`` is the number of text lines of the subplot titles above the first row.
    The subtitle is wrapped to the figure's width (:func:`wrap_text`), and date axes
    are labelled with days (:func:`_date_axes`).
    """
    width = layout.get("width") or fig.layout.width or TEMPLATE.layout.width
    stack = _stacking(fig.layout.title.subtitle.text, height=height, width=width,
                      panel_titles=panel_titles, legend=legend)
    fig.update_layout(title=stack.pop("title"))
    _date_axes(fig)
    fig.update_layout(template=TEMPLATE, **stack)
    fig.update_layout(**layout)
    return fig


def _figure(data: list[dict], title: str, subtitle: str | None = None, /, *, height: int,
            panel_titles: int = 0, legend: bool = True, **layout) -> go.Figure:
    """A themed figure of the traces ``data`` (dicts), built and validated once.

    The same figure as :func:`_base` ``(title, subtitle)``, one ``add_trace`` per trace and
    :func:`_finish` ``(fig, height=..., **layout)`` give (the same theme, stacking and date
    axes; tested), without plotly validating the figure again on every call: for a chart drawn
    on every save (:func:`plot_recent_days`), where those calls cost two thirds of its time.
    ``layout`` is given as nested dicts (no ``xaxis_title_text`` shorthands) and applied last
    (``title=dict(font=...)`` styles the title whose text is ``title``).
    """
    stack = _stacking(subtitle, height=height, width=layout.get("width"), panel_titles=panel_titles,
                      legend=legend)
    full = dict(template=TEMPLATE, title=dict(text=title, subtitle=stack.pop("title")["subtitle"]),
                **_date_axis_layout(_date_spans(data)))
    return go.Figure(data=data, layout=_merged(_merged(full, stack), layout))


def _empty(title: str, message: str) -> go.Figure:
    """A figure that says there is nothing to show yet, and what to do about it."""
    fig = _base(title)
    fig.add_annotation(text=esc(message), x=0.5, y=0.5, xref="paper", yref="paper",
                       showarrow=False, font=dict(size=16, color=MUTED), align="center")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _finish(fig, height=360, legend=False, meta={"empty": True})


def _is_empty(frame) -> bool:
    return frame is None or len(frame) == 0 or (len(frame.columns) == 0)


def _require(frame: pd.DataFrame, needed: Iterable[str], chart: str, source: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ChartError(
            f"{chart} needs the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(the output of {source}); the frame has {', '.join(map(str, frame.columns))}")


def _dates(series: pd.Series) -> pd.Series:
    dates = pd.to_datetime(series)
    return dates.dt.tz_localize(None) if dates.dt.tz is not None else dates


def _one_participant(frame: pd.DataFrame, participant, chart: str) -> tuple[pd.DataFrame, str | None]:
    if "participant_id" not in frame.columns:
        return frame, participant
    if participant is not None:
        return frame.loc[frame["participant_id"] == participant], participant
    ids = frame["participant_id"].dropna().unique()
    if len(ids) > 1:
        raise ChartError(f"{chart} shows one participant; the frame holds {len(ids)} "
                         f"({', '.join(map(str, ids[:5]))}{', ...' if len(ids) > 5 else ''}): "
                         "pass participant=")
    return frame, (ids[0] if len(ids) else None)


def _element_order(fw: Framework, present: Iterable) -> list:
    present = [e for e in pd.unique(pd.Series(list(present))) if isinstance(e, str)]
    return [k for k in fw.keys if k in present] + sorted(e for e in present if e not in fw.keys)


def _weekly(frame: pd.DataFrame, by: list[str], values: list[str], how="mean") -> pd.DataFrame:
    """Weekly (Monday-start) aggregates of ``values`` per ``by``; the date is the week's Monday."""
    week = frame["date"].dt.to_period("W-SUN").dt.start_time
    grouped = frame.assign(date=week).groupby(by + ["date"], sort=True, dropna=False)[values]
    return (grouped.mean() if how == "mean" else grouped.last()).reset_index()


def _goal_info(goals: pd.DataFrame | None, fw: Framework) -> dict:
    """goal_id -> (escaped title, element, colour, dash) with distinct dashes within a colour."""
    info, used = {}, {}
    if goals is None or len(goals) == 0 or "goal_id" not in goals:
        return info
    dashes = ["solid", "dash", "dot", "dashdot", "longdash"]
    for row in goals.drop_duplicates("goal_id").itertuples(index=False):
        element = getattr(row, "element", None)
        color = _color(fw, element)
        k = used.get(color, 0)
        used[color] = k + 1
        title = getattr(row, "title", None)
        info[row.goal_id] = (esc(title if isinstance(title, str) and title else row.goal_id),
                             element if isinstance(element, str) else None, color,
                             dashes[k % len(dashes)])
    return info


def _goal_style(goal_id, info: dict, i: int) -> tuple[str, str, str]:
    if goal_id in info:
        title, _, color, dash = info[goal_id]
        return title, color, dash
    return esc(goal_id), OKABE_ITO[i % len(OKABE_ITO)], "solid"


def _scatter_cls(n: int):
    return go.Scattergl if n > GL_AFTER else go.Scatter


# ---------------------------------------------------------------------------- personal
def plot_trajectories(trajectories: pd.DataFrame, *, participant: str | None = None,
                      notes: pd.DataFrame | None = None, framework=None,
                      weekly_after: int = WEEKLY_AFTER) -> go.Figure:
    """Each element over time: ratings as dots, the rolling mean as a line, the vision as a
    dashed line, and the gap between them shaded; one panel per element.

    Parameters
    ----------
    trajectories : DataFrame
        Output of :func:`~mastery_analysis.analysis.element_trajectories`: participant_id,
        element, date, rating, rolling_mean, vision (``ewm`` and ``gap`` are not needed).
    participant : str, optional
        Whose trajectories to show when the frame holds several people.
    notes : DataFrame, optional
        The ratings table (participant_id, date, note): each day's note is shown, escaped and
        cut to 140 characters, in the hover of that day's ratings (daily view only).
    framework : Framework or str, optional
        Element labels, colours and scale; the default framework when None.
    weekly_after : int
        Above this many days per element the series are shown as weekly means.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fw = _fw(framework)
    title = "My elements over time"
    if _is_empty(trajectories):
        return _empty(title, "No ratings yet: do a check-in in 01_check_in.ipynb")
    _require(trajectories, ["element", "date", "rating", "rolling_mean"], "plot_trajectories",
             "element_trajectories")
    data, who = _one_participant(trajectories, participant, "plot_trajectories")
    if data.empty:
        return _empty(title, f"No ratings for {participant} yet: do a check-in in 01_check_in.ipynb")
    data = data.assign(date=_dates(data["date"]))
    if "vision" not in data:
        data = data.assign(vision=np.nan)
    elements = _element_order(fw, data["element"])
    weekly = data.groupby("element")["date"].nunique().max() > weekly_after
    if weekly:
        data = _weekly(data, ["element"], ["rating", "rolling_mean", "vision"])
    fig = make_subplots(rows=len(elements), cols=1, shared_xaxes=True, vertical_spacing=0.045,
                        subplot_titles=[_label(fw, e) for e in elements])
    point_name = "Weekly mean rating" if weekly else "Daily rating"
    day_note = pd.Series(dtype=object)
    if notes is not None and not weekly and len(notes) and {"date", "note"} <= set(notes.columns):
        n = notes if who is None or "participant_id" not in notes else notes.loc[notes["participant_id"] == who]
        n = n.dropna(subset=["note"]).assign(date=lambda f: _dates(f["date"]))
        text = n["note"].astype(str).str.slice(0, 140).map(esc)
        day_note = text.groupby(n["date"]).first()
    line_name = "Rolling mean (weekly)" if weekly else "Rolling mean"
    for i, element in enumerate(elements, start=1):
        g = data.loc[data["element"] == element].sort_values("date")
        color, label = _color(fw, element), _label(fw, element)
        first = i == 1
        both = g.dropna(subset=["rolling_mean", "vision"])
        if len(both):
            fig.add_trace(go.Scatter(
                x=pd.concat([both["date"], both["date"][::-1]]),
                y=np.concatenate([both["rolling_mean"].to_numpy(), both["vision"].to_numpy()[::-1]]),
                fill="toself", fillcolor=_rgba(color, 0.13), line=dict(width=0), mode="lines",
                name="Gap to vision", legendgroup="gap", showlegend=first, hoverinfo="skip"),
                row=i, col=1)
            fig.add_trace(go.Scatter(
                x=g["date"], y=g["vision"], mode="lines", name="Vision",
                line=dict(color=color, width=1.8, dash="dash"), legendgroup="vision",
                showlegend=first,
                hovertemplate=f"{label}<br>%{{x|%d %b %Y}}<br>Vision %{{y:.1f}}<extra></extra>"),
                row=i, col=1)
        cls = _scatter_cls(len(g))
        extra = {}
        if len(day_note):
            extra = dict(text=["<br><i>" + day_note[d] + "</i>" if d in day_note.index else ""
                               for d in g["date"]])
        fig.add_trace(cls(
            x=g["date"], y=g["rating"], mode="markers", name=point_name, legendgroup="points",
            showlegend=first, marker=dict(color=color, size=5 if len(g) > 200 else 7, opacity=0.45),
            hovertemplate=f"{label}<br>%{{x|%d %b %Y}}<br>{point_name} %{{y:.1f}}"
                          + ("%{text}" if extra else "") + "<extra></extra>", **extra),
            row=i, col=1)
        fig.add_trace(go.Scatter(
            x=g["date"], y=g["rolling_mean"], mode="lines", name=line_name, legendgroup="line",
            showlegend=first, line=dict(color=color, width=2.6),
            hovertemplate=f"{label}<br>%{{x|%d %b %Y}}<br>{line_name} %{{y:.2f}}<extra></extra>"),
            row=i, col=1)
    lo, hi = fw.scale.min, fw.scale.max
    fig.update_yaxes(range=[lo - 0.5, hi + 0.5], dtick=max(1, (hi - lo) // 4 or 1))
    fig.update_yaxes(title_text=f"Rating ({lo}–{hi})", row=(len(elements) + 1) // 2, col=1)
    fig.update_xaxes(title_text="Date", row=len(elements), col=1)
    fig.update_annotations(font=dict(size=14, color=INK), xanchor="left", x=0)
    sub = ("Dots: " + ("weekly mean ratings" if weekly else "daily ratings")
           + " · line: rolling mean · dashed: vision · shaded: the gap to close")
    fig.update_layout(title=dict(text=f"{title}" + (f": {esc(who)}" if who else ""),
                                 subtitle=dict(text=sub)))
    return _finish(fig, height=190 * len(elements) + 190, panel_titles=1)


def plot_wheel(wheel: pd.DataFrame, *, participant: str | None = None, framework=None,
               min_n: int = MIN_N) -> go.Figure:
    """Radar of the elements: where I started, where I am now, and my vision.

    Draws the values :func:`~mastery_analysis.analysis.wheel_values` computed: one person's
    wheel (a frame with ``participant_id``) or the cohort's medians (``by="cohort"``), where a
    suppressed median (fewer than ``min_n`` people) is left out of its polygon.

    Parameters
    ----------
    wheel : DataFrame
        Output of :func:`~mastery_analysis.analysis.wheel_values`: element, measure
        (baseline, now, vision), value; participant_id for one person's wheel, n_people for
        the cohort's.
    participant : str, optional
        Whose wheel to show when the frame holds several people.
    framework : Framework or str, optional
    min_n : int
        The ``min_n`` given to ``wheel_values``: a cohort of fewer people gets an empty state
        that says so.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fw = _fw(framework)
    title = "My wheel: where I started, where I am, where I want to be"
    if _is_empty(wheel):
        return _empty(title, "No ratings yet: do a check-in in 01_check_in.ipynb")
    _require(wheel, ["element", "measure", "value"], "plot_wheel", "wheel_values")
    cohort = "participant_id" not in wheel.columns
    data, who = (wheel, None) if cohort else _one_participant(wheel, participant, "plot_wheel")
    if data.empty:
        return _empty(title, f"No ratings for {participant} yet: do a check-in in 01_check_in.ipynb")
    if cohort:
        _require(wheel, ["n_people"], "plot_wheel", "wheel_values(by=\"cohort\")")
        people = int(data["n_people"].iloc[0])
        if people < min_n:
            return _empty(title, f"Only {people} people have ratings: a cohort view needs at least "
                                 f"{min_n} (privacy rule)")
        title = f"Cohort wheel: median of {people} people"
    elif who is not None:
        title = f"{title}: {esc(who)}"
    baseline, now, vision = (data.loc[data["measure"] == m].set_index("element")["value"]
                             for m in ("baseline", "now", "vision"))
    elements = _element_order(fw, data["element"])
    theta = [_label(fw, e) for e in elements]
    closed = theta + theta[:1]

    def values(s):
        v = [s.get(e, np.nan) for e in elements]
        return v + v[:1]

    sub = "Baseline: first week's mean · now: current rolling mean"
    if vision.notna().any():
        sub += " · vision: where " + ("they want" if cohort else "I want") + " to be"
    fig = _base(title, sub + (" (cohort medians)" if cohort else ""))
    if vision.notna().any():
        fig.add_trace(go.Scatterpolar(
            r=values(vision), theta=closed, name="Vision", mode="lines+markers",
            line=dict(color=INK, width=2, dash="dash"), marker=dict(size=6, color=INK),
            hovertemplate="%{theta}<br>Vision %{r:.1f}<extra></extra>"))
    fig.add_trace(go.Scatterpolar(
        r=values(baseline), theta=closed, name="Baseline", mode="lines+markers",
        line=dict(color="#8c8c8c", width=2, dash="dot"), marker=dict(size=6, color="#8c8c8c"),
        hovertemplate="%{theta}<br>Baseline %{r:.1f}<extra></extra>"))
    fig.add_trace(go.Scatterpolar(
        r=values(now), theta=closed, name="Now", mode="lines+markers", fill="toself",
        fillcolor=_rgba(NEUTRAL, 0.12), line=dict(color=NEUTRAL, width=2.5),
        marker=dict(size=13, color=[_color(fw, e) for e in elements] + [_color(fw, elements[0])],
                    line=dict(color="white", width=1.5)),
        hovertemplate="%{theta}<br>Now %{r:.2f}<extra></extra>"))
    ticktext = [f'<span style="color:{_color(fw, e)}"><b>{_label(fw, e)}</b></span>' for e in elements]
    fig.update_layout(
        polar=dict(radialaxis=dict(range=[0, fw.scale.max], dtick=max(1, fw.scale.max // 5),
                                   angle=90 - 180 / len(elements), tickangle=90 - 180 / len(elements),
                                   tickfont=dict(size=11, color=MUTED)),
                   angularaxis=dict(direction="clockwise", rotation=90, tickmode="array",
                                    tickvals=theta, ticktext=ticktext, tickfont=dict(size=14)),
                   domain=dict(x=[0.08, 0.92], y=[0.0, 0.94])))
    return _finish(fig, height=640, legend_x=0.5, legend_xanchor="center",
                   margin_l=120, margin_r=120, margin_b=40)


def plot_calendar(actions: pd.DataFrame, *, participant: str | None = None, goal_id: str | None = None,
                  goals: pd.DataFrame | None = None, streaks: pd.DataFrame | None = None,
                  today=None, framework=None) -> go.Figure:
    """A year-per-row calendar of daily action (GitHub style): each cell is a day, darker
    means more actions, so streaks show as unbroken runs of coloured cells.

    Parameters
    ----------
    actions : DataFrame
        The actions table: participant_id, date, goal_id, count (summed over goals per day).
    participant : str, optional
        Whose actions when the frame holds several people.
    goal_id : str, optional
        Show one goal only (coloured by its element when ``goals`` is given).
    goals : DataFrame, optional
        The goals table (goal_id, title, element), for the goal's name and colour.
    streaks : DataFrame, optional
        Output of :func:`~mastery_analysis.analysis.streaks` (goal_id, start, end, length): the
        longest and the current streak are named in the subtitle.
    today : date-like, optional
        Last day of the calendar; the last date in the frame when None.
    framework : Framework or str, optional

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fw = _fw(framework)
    title = "Daily action calendar"
    if _is_empty(actions):
        return _empty(title, "No actions logged yet: log today's actions in 01_check_in.ipynb")
    _require(actions, ["date", "goal_id", "count"], "plot_calendar", "the actions table")
    data, who = _one_participant(actions, participant, "plot_calendar")
    info = _goal_info(goals, fw)
    color = None
    if goal_id is not None:
        data = data.loc[data["goal_id"] == goal_id]
        name, _, color, _ = info.get(goal_id, (esc(goal_id), None, NEUTRAL, "solid"))
        title = f"Daily action calendar: {name}"
    elif who:
        title = f"Daily action calendar: {esc(who)}"
    if data.empty:
        return _empty(title, "No actions logged yet: log today's actions in 01_check_in.ipynb")
    data = data.assign(date=_dates(data["date"]))
    daily = data.groupby("date")["count"].sum()
    last = pd.Timestamp(today).normalize() if today is not None else daily.index.max()
    daily = daily.loc[daily.index <= last]
    if daily.empty:
        return _empty(title, f"No actions on or before {_day(last)} yet")
    first = daily.index.min()
    years = list(range(first.year, last.year + 1))
    zmax = max(1.0, float(daily.max()))
    if color is None or color == NEUTRAL:  # all goals: GitHub's greens (ordered by lightness)
        scale = [[0.0, "#ebedf0"], [1e-9, "#9be9a8"], [0.34, "#40c463"], [0.67, "#30a14e"], [1.0, "#216e39"]]
    else:
        scale = [[0.0, "#ebedf0"], [1e-9, _rgba(color, 0.3)], [0.5, _rgba(color, 0.65)], [1.0, color]]
    fig = make_subplots(rows=len(years), cols=1, vertical_spacing=0.22 / len(years) if len(years) > 1 else 0.0,
                        subplot_titles=[str(y) for y in years])
    weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    for i, year in enumerate(years, start=1):
        days = pd.date_range(max(first, pd.Timestamp(year, 1, 1)), min(last, pd.Timestamp(year, 12, 31)))
        jan1 = pd.Timestamp(year, 1, 1)
        col = ((days - jan1).days + jan1.weekday()) // 7
        z = np.full((7, 54), np.nan)
        text = np.full((7, 54), "", dtype=object)
        counts = daily.reindex(days, fill_value=0).to_numpy(dtype=float)
        z[days.day_of_week, col] = counts
        text[days.day_of_week, col] = [f"{d:%a %d %b %Y}: {int(c)} action{'s' if c != 1 else ''}"
                                   for d, c in zip(days, counts)]
        fig.add_trace(go.Heatmap(
            z=z, x=list(range(54)), y=weekdays, text=text, hovertemplate="%{text}<extra></extra>",
            colorscale=scale, zmin=0, zmax=zmax, xgap=2, ygap=2, showscale=i == 1,
            colorbar=dict(title=dict(text="Actions<br>per day", side="top"), thickness=12, len=0.5,
                          y=1.0, yanchor="top"),
            hoverongaps=False), row=i, col=1)
        months = pd.date_range(jan1, pd.Timestamp(year, 12, 31), freq="MS")
        fig.update_xaxes(tickmode="array", tickvals=(((months - jan1).days + jan1.weekday()) // 7).tolist(),
                         ticktext=[m.strftime("%b") for m in months], range=[-0.5, 53.5],
                         showgrid=False, ticks="", linecolor="rgba(0,0,0,0)", row=i, col=1)
        fig.update_yaxes(autorange="reversed", tickmode="array", tickvals=["Mon", "Wed", "Fri"],
                         showgrid=False, ticks="", linecolor="rgba(0,0,0,0)", row=i, col=1)
    sub = f"{int((daily > 0).sum())} active days of {len(pd.date_range(first, last))} · " \
          f"{int(daily.sum())} actions in all"
    if streaks is not None and len(streaks) and {"length", "start", "end"} <= set(streaks.columns):
        s = streaks
        if goal_id is not None and "goal_id" in s:
            s = s.loc[s["goal_id"] == goal_id]
        if who is not None and "participant_id" in s:
            s = s.loc[s["participant_id"] == who]
        if len(s):
            best = s.sort_values(["length", "end"], ascending=[False, False]).iloc[0]
            label = ""
            if goal_id is None and "goal_id" in s:
                label = f" ({_goal_style(best['goal_id'], info, 0)[0]})"
            sub += f" · longest streak {int(best['length'])} days{label}, " \
                   f"{_day(best['start'])} to {_day(best['end'])}"
            current = s.loc[_dates(s["end"]) >= last - pd.Timedelta(days=1)]
            if len(current):
                sub += f" · current streak {int(current['length'].max())} days"
    fig.update_annotations(font=dict(size=14, color=INK), xanchor="left", x=0)
    fig.update_layout(title=dict(text=title, subtitle=dict(text=sub)))
    return _finish(fig, height=190 * len(years) + 110, panel_titles=1, legend=False)


def plot_habit_strength(scores: pd.DataFrame, *, goals: pd.DataFrame | None = None,
                        participant: str | None = None, framework=None,
                        weekly_after: int = WEEKLY_AFTER) -> go.Figure:
    """Habit strength of each goal over time (Loop Habit Tracker's score, 0 to 100 %).

    Parameters
    ----------
    scores : DataFrame
        Output of :func:`~mastery_analysis.analysis.habit_strength`: participant_id, goal_id,
        date, score (0 to 1).
    goals : DataFrame, optional
        The goals table (goal_id, title, element): names and element colours of the lines.
    participant : str, optional
    framework : Framework or str, optional
    weekly_after : int
        Above this many days per goal the scores are shown as weekly means.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fw = _fw(framework)
    title = "Habit strength"
    if _is_empty(scores):
        return _empty(title, "No habit data yet: add a goal in 01_goals.ipynb, then log actions in 01_check_in.ipynb")
    _require(scores, ["goal_id", "date", "score"], "plot_habit_strength", "habit_strength")
    data, who = _one_participant(scores, participant, "plot_habit_strength")
    if data.empty:
        return _empty(title, "No habit data yet: add a goal in 01_goals.ipynb, then log actions in 01_check_in.ipynb")
    data = data.assign(date=_dates(data["date"]))
    weekly = data.groupby("goal_id")["date"].nunique().max() > weekly_after
    if weekly:
        data = _weekly(data, ["goal_id"], ["score"])
    info = _goal_info(goals, fw)
    order = [g for g in info if g in set(data["goal_id"])] + sorted(set(data["goal_id"]) - set(info))
    fig = _base(f"{title}: {esc(who)}" if who else title,
                "Loop Habit Tracker's score: rises with each day of action at the goal's "
                "frequency, fades when you skip" + (" · weekly means" if weekly else ""))
    for i, goal in enumerate(order):
        g = data.loc[data["goal_id"] == goal].sort_values("date")
        name, color, dash = _goal_style(goal, info, i)
        fig.add_trace(_scatter_cls(len(g))(
            x=g["date"], y=g["score"] * 100, mode="lines", name=name,
            line=dict(color=color, width=2.4, dash=dash),
            hovertemplate=f"{name}<br>%{{x|%d %b %Y}}<br>Habit strength %{{y:.0f}}%<extra></extra>"))
    fig.update_yaxes(title_text="Habit strength (%)", range=[0, 102], ticksuffix="%")
    fig.update_xaxes(title_text="Date")
    return _finish(fig, height=500)


# ---------------------------------------------------------------------------- action and progress
def plot_lag_profile(correlations: pd.DataFrame, *, goals: pd.DataFrame | None = None,
                     participant: str | None = None, framework=None) -> go.Figure:
    """Correlation of daily action with later progress change, by lag, one panel per goal.

    The band is the confidence interval; a filled diamond marks a lag significant after the
    Benjamini-Hochberg correction; grey hollow circles mark lags without enough data yet.

    Parameters
    ----------
    correlations : DataFrame
        Output of :func:`~mastery_analysis.analysis.action_progress_correlation`:
        participant_id, goal_id, lag, n, n_eff, r, ci_low, ci_high, p_value, q_value,
        significant, sufficient, days_needed.
    goals : DataFrame, optional
        The goals table (goal_id, title, element) for panel titles and colours.
    participant : str, optional
    framework : Framework or str, optional

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fw = _fw(framework)
    title = "Does my daily action move my goals?"
    empty_msg = ("No action and progress pairs yet: log actions and goal progress for a few "
                 "weeks in 01_check_in.ipynb")
    if _is_empty(correlations):
        return _empty(title, empty_msg)
    _require(correlations, ["goal_id", "lag", "r", "ci_low", "ci_high", "significant", "sufficient"],
             "plot_lag_profile", "action_progress_correlation")
    data, who = _one_participant(correlations, participant, "plot_lag_profile")
    if data.empty:
        return _empty(title, empty_msg)
    info = _goal_info(goals, fw)
    order = [g for g in info if g in set(data["goal_id"])] + sorted(set(data["goal_id"]) - set(info))
    ncols = min(3, len(order))
    nrows = -(-len(order) // ncols)
    fig = make_subplots(rows=nrows, cols=ncols, shared_yaxes=True, horizontal_spacing=0.04,
                        vertical_spacing=0.16 if nrows > 1 else 0.0,
                        subplot_titles=[_goal_style(g, info, i)[0] for i, g in enumerate(order)])
    shown = set()
    for i, goal in enumerate(order):
        row, col = i // ncols + 1, i % ncols + 1
        g = data.loc[data["goal_id"] == goal].sort_values("lag")
        _, color, _ = _goal_style(goal, info, i)
        sig = g["significant"].fillna(False).astype(bool).to_numpy()
        ok = g["sufficient"].fillna(False).astype(bool).to_numpy()
        ci = g.dropna(subset=["ci_low", "ci_high"])
        if len(ci):
            fig.add_trace(go.Scatter(
                x=pd.concat([ci["lag"], ci["lag"][::-1]]),
                y=np.concatenate([ci["ci_high"].to_numpy(), ci["ci_low"].to_numpy()[::-1]]),
                fill="toself", fillcolor=_rgba(color, 0.15), line=dict(width=0), mode="lines",
                name="95% confidence interval", legendgroup="ci", showlegend="ci" not in shown,
                hoverinfo="skip"), row=row, col=col)
            shown.add("ci")
        fig.add_trace(go.Scatter(x=g["lag"], y=g["r"], mode="lines", line=dict(color=color, width=2),
                                 showlegend=False, hoverinfo="skip"), row=row, col=col)
        hover = [
            f"Lag {int(lag)} day{'s' if lag != 1 else ''}<br>r = {_num(r, 2, True)} "
            f"[{_num(lo, 2, True)}, {_num(hi, 2, True)}]<br>n = {_num(n, 0)} days "
            f"(effective {_num(ne, 0)})<br>{_p(p)}, {_p(q, 'q')}<br>"
            + ("enough data" if s else f"not enough data yet: about {_num(dn, 0)} days needed")
            for lag, r, lo, hi, n, ne, p, q, s, dn in zip(
                g["lag"], g["r"], g["ci_low"], g["ci_high"], *(
                    g[c] if c in g else [np.nan] * len(g) for c in ("n", "n_eff", "p_value", "q_value")),
                ok, g["days_needed"] if "days_needed" in g else [np.nan] * len(g))]
        hover = np.asarray(hover, dtype=object)
        for key, mask, marker, name in (
            ("sig", sig & ok, dict(symbol="diamond", size=14, color=color, line=dict(color=INK, width=1.5)),
             "Significant (q < 0.05)"),
            ("ns", ~sig & ok, dict(symbol="circle", size=9, color=color, line=dict(color="white", width=1)),
             "Not significant"),
            ("insufficient", ~ok, dict(symbol="circle-open", size=10, color=NO_DATA_GREY,
                                        line=dict(width=2)), "Not enough data yet"),
        ):
            if mask.any():
                # a lag without enough data may have no r at all: its grey circle sits on 0
                ys = g["r"].to_numpy(dtype=float)[mask]
                ys = np.where(np.isfinite(ys), ys, 0.0) if key == "insufficient" else ys
                fig.add_trace(go.Scatter(
                    x=g["lag"].to_numpy()[mask], y=ys, mode="markers",
                    marker=marker, name=name, legendgroup=key, showlegend=key not in shown,
                    hovertext=hover[mask].tolist(), hoverinfo="text"), row=row, col=col)
                shown.add(key)
        fig.add_hline(y=0, line=dict(color="#9a9a9a", width=1), row=row, col=col)
    fig.update_yaxes(range=[-1.05, 1.05], dtick=0.5)
    for r in range(1, nrows + 1):
        fig.update_yaxes(title_text="Correlation r", row=r, col=1)
    fig.update_xaxes(title_text="Lag (days after the action)", dtick=1, row=nrows)
    fig.update_annotations(font=dict(size=14, color=INK))
    fig.update_layout(title=dict(text=title + (f" ({esc(who)})" if who else ""),
                                 subtitle=dict(text="Actions on a day against the change in goal "
                                                    "progress that many days later<br>Band: 95% "
                                                    "interval, allowing for autocorrelation · q: "
                                                    "p corrected for testing many lags and goals")))
    return _finish(fig, height=340 * nrows + 170, panel_titles=1)


def plot_action_progress(actions: pd.DataFrame, progress: pd.DataFrame,
                         correlations: pd.DataFrame | None = None, *, goal_id: str | None = None,
                         lag: int | None = None, participant: str | None = None,
                         goals: pd.DataFrame | None = None, checkins: pd.DataFrame | None = None,
                         measure: str = "count", framework=None) -> go.Figure:
    """Actions on a day against the progress change that followed, with a least-squares line
    and the analysis' numbers (r, interval, p, q, n) in the subtitle.

    The dots are the very day pairs :func:`~mastery_analysis.analysis.action_progress_correlation`
    correlates at that lag (actions on day t; progress change per day from day t+lag to the
    next progress entry).

    Parameters
    ----------
    actions, progress : DataFrame
        The actions and progress tables (participant_id, date, goal_id, count / percent).
    correlations : DataFrame, optional
        Output of :func:`~mastery_analysis.analysis.action_progress_correlation`; the row of
        this goal and lag gives the numbers. With ``goal_id`` or ``lag`` missing, the goal and
        lag with the smallest q among the rows with enough data are shown.
    goal_id : str, optional
    lag : int, optional
        Days between the action and the start of the progress change (0 when nothing chooses).
    participant : str, optional
        Whose data when the frames hold several people.
    goals : DataFrame, optional
        The goals table (goal_id, title, element) for the title and colour.
    checkins : DataFrame, optional
        The same ``checkins`` given to the correlation (participant_id, date), if any.
    measure : str
        The action column correlated (``count`` or ``minutes``).
    framework : Framework or str, optional

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fw = _fw(framework)
    title = "Action and the progress that followed"
    empty_msg = ("No action and progress pairs yet: log actions and goal progress for a few weeks "
                 "in 01_check_in.ipynb")
    if _is_empty(actions) or _is_empty(progress):
        return _empty(title, empty_msg)
    _require(actions, ["participant_id", "date", "goal_id", measure], "plot_action_progress",
             "the actions table")
    _require(progress, ["participant_id", "date", "goal_id", "percent"], "plot_action_progress",
             "the progress table")
    _, who = _one_participant(actions, participant, "plot_action_progress")
    res = {}
    if correlations is not None and len(correlations):
        c = correlations
        if who is not None and "participant_id" in c:
            c = c.loc[c["participant_id"] == who]
        if goal_id is not None:
            c = c.loc[c["goal_id"] == goal_id]
        if lag is not None:
            c = c.loc[c["lag"] == lag]
        if len(c):
            ranked = c.assign(_q=c["q_value"].where(c["sufficient"].fillna(False).astype(bool))
                              if "q_value" in c else np.nan)
            res = ranked.sort_values(["_q", "goal_id", "lag"], na_position="last").iloc[0].to_dict()
            goal_id = res["goal_id"] if goal_id is None else goal_id
            lag = int(res["lag"]) if lag is None else lag
    if goal_id is None:
        goal_id = sorted(set(actions.loc[actions["participant_id"] == who, "goal_id"]))[0] \
            if who is not None else sorted(set(actions["goal_id"]))[0]
    lag = 0 if lag is None else int(lag)
    info = _goal_info(goals, fw)
    name, color, _ = _goal_style(goal_id, info, 0)
    title = f"Action and the progress that followed: {name}"
    pairs = lagged_pairs(actions, progress, participant=who, goal_id=goal_id, lag=lag,
                          measure=measure, checkins=checkins)
    if pairs.empty:
        return _empty(title, empty_msg)
    sub = "Each dot is a day · line: least-squares fit (display only; the numbers come from the analysis)"
    if res:
        enough = bool(res.get("sufficient", True))
        sub = (f"Lag {lag}: r = {_num(res.get('r'), 2, True)} [95% CI {_num(res.get('ci_low'), 2, True)}, "
               f"{_num(res.get('ci_high'), 2, True)}], {_p(res.get('p_value'))}, "
               f"{_p(res.get('q_value'), 'q')}, n = {_num(res.get('n'), 0)} days"
               + ("" if enough else f" · not enough data yet: about {_num(res.get('days_needed'), 0)} "
                                    "days needed") + "<br>" + sub)
    xs = pairs["actions"].to_numpy(dtype=float)
    ys = pairs["progress_change"].to_numpy(dtype=float)
    # Deterministic horizontal jitter so that days with the same count do not hide each other;
    # the hover shows the true count.
    whole = bool(np.allclose(xs, np.round(xs)))
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(xs)) if whole else 0.0
    fig = _base(title, sub)
    fig.add_trace(_scatter_cls(len(xs))(
        x=xs + jitter, y=ys, mode="markers", name="Days",
        marker=dict(color=color, size=7 if len(xs) < 1000 else 5, opacity=0.5, line=dict(width=0)),
        customdata=np.column_stack([pairs["date"].dt.strftime("%d %b %Y").to_numpy(), xs]),
        hovertemplate="%{customdata[0]}<br>" + ("Actions" if measure == "count" else "Minutes")
                      + " %{customdata[1]}<br>Progress change %{y:+.2f} points a day<extra></extra>"))
    if len(xs) >= 3 and np.ptp(xs) > 0:
        slope, intercept = np.polyfit(xs, ys, 1)
        line_x = np.array([xs.min(), xs.max()])
        fig.add_trace(go.Scatter(x=line_x, y=intercept + slope * line_x, mode="lines",
                                 name="Least-squares line", line=dict(color=INK, width=2.5),
                                 hovertemplate="Fit: %{y:+.2f} points a day at %{x}<extra></extra>"))
    when = "the same day" if lag == 0 else f"{lag} day{'s' if lag != 1 else ''} later"
    fig.update_xaxes(title_text="Actions on the day (count)" if measure == "count" else
                     "Minutes of action on the day", dtick=1 if whole and xs.max() <= 12 else None)
    fig.update_yaxes(title_text=f"Progress change from {when}<br>(percentage points per day)",
                     zeroline=True, zerolinecolor="#9a9a9a")
    return _finish(fig, height=540, legend=False)


def plot_goal_pace(pace: pd.DataFrame, progress: pd.DataFrame, goals: pd.DataFrame, *,
                   participant: str | None = None, today=None, framework=None,
                   weekly_after: int = WEEKLY_AFTER) -> go.Figure:
    """Each goal's progress against the line it should follow, and where its pace leads.

    Parameters
    ----------
    pace : DataFrame
        Output of :func:`~mastery_analysis.analysis.goal_pace`: participant_id, goal_id,
        percent, expected, pace (points per week), projected_finish, status.
    progress : DataFrame
        The progress table: participant_id, date, goal_id, percent.
    goals : DataFrame
        The goals table: goal_id, title, element, start_date, due_date.
    participant : str, optional
    today : date-like, optional
        Marked with a vertical line; the last progress date when None.
    framework : Framework or str, optional
    weekly_after : int
        Above this many progress entries per goal, the last value of each week is shown.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fw = _fw(framework)
    title = "Goal pace: am I on track?"
    if _is_empty(goals):
        return _empty(title, "No goals yet: add a goal in 01_goals.ipynb")
    if _is_empty(pace):
        return _empty(title, "No goal progress recorded yet: record how far each goal has come "
                             "in 01_check_in.ipynb")
    _require(pace, ["goal_id", "percent", "status"], "plot_goal_pace", "goal_pace")
    _require(goals, ["goal_id", "start_date"], "plot_goal_pace", "the goals table")
    pace, who = _one_participant(pace, participant, "plot_goal_pace")
    if pace.empty:
        return _empty(title, "No goal progress recorded yet: record how far each goal has come "
                             "in 01_check_in.ipynb")
    progress = progress if progress is not None and len(progress) else pd.DataFrame(
        columns=["date", "goal_id", "percent"])
    progress = progress.assign(date=_dates(progress["date"]))
    info = _goal_info(goals, fw)
    by_goal = goals.drop_duplicates("goal_id").set_index("goal_id")
    order = [g for g in info if g in set(pace["goal_id"])] + sorted(set(pace["goal_id"]) - set(info))
    last_day = pd.Timestamp(today) if today is not None else (
        progress["date"].max() if len(progress) else None)
    status_text = {"ahead": "ahead", "on_track": "on track", "at_risk": "at risk",
                   "off_track": "off track", "done": "done", "not_started": "not started yet"}
    titles = []
    for i, goal in enumerate(order):
        row = pace.loc[pace["goal_id"] == goal].iloc[0]
        extra = f" (expected by now {_num(row.get('expected'), 0)}%)" if pd.notna(row.get("expected")) else ""
        level = f", {_num(row['percent'], 0)}%" if pd.notna(row["percent"]) else ""
        titles.append(f"{_goal_style(goal, info, i)[0]}: <b>{status_text.get(row['status'], esc(row['status']))}"
                      f"</b>{level}{extra}")
    fig = make_subplots(rows=len(order), cols=1, vertical_spacing=0.09 if len(order) > 1 else 0.0,
                        subplot_titles=titles)
    shown = set()
    for i, goal in enumerate(order, start=1):
        name, color, _ = _goal_style(goal, info, i - 1)
        row = pace.loc[pace["goal_id"] == goal].iloc[0]
        p = progress.loc[progress["goal_id"] == goal].sort_values("date")
        if last_day is not None:
            p = p.loc[p["date"] <= last_day]
        if len(p) > weekly_after:
            p = _weekly(p, ["goal_id"], ["percent"], how="last")
        start = by_goal["start_date"].get(goal) if goal in by_goal.index else None
        due = by_goal["due_date"].get(goal) if "due_date" in by_goal and goal in by_goal.index else None
        if start is not None and pd.notna(start) and due is not None and pd.notna(due):
            fig.add_trace(go.Scatter(
                x=[pd.Timestamp(start), pd.Timestamp(due)], y=[0, 100], mode="lines",
                line=dict(color="#8c8c8c", width=1.8, dash="dash"), name="Expected (start to due date)",
                legendgroup="expected", showlegend="expected" not in shown,
                hovertemplate="Expected %{y:.0f}% on %{x|%d %b %Y}<extra></extra>"), row=i, col=1)
            shown.add("expected")
        fig.add_trace(go.Scatter(
            x=p["date"], y=p["percent"], mode="lines+markers" if len(p) < 150 else "lines",
            line=dict(color=color, width=2.6), marker=dict(size=6, color=color), name="Progress",
            legendgroup="progress", showlegend="progress" not in shown,
            hovertemplate=f"{name}<br>%{{x|%d %b %Y}}: %{{y:.0f}}%<extra></extra>"), row=i, col=1)
        shown.add("progress")
        finish = row.get("projected_finish")
        if len(p) and finish is not None and pd.notna(finish) and row["status"] != "done":
            fig.add_trace(go.Scatter(
                x=[p["date"].iloc[-1], pd.Timestamp(finish)], y=[p["percent"].iloc[-1], 100],
                mode="lines+markers", line=dict(color=color, width=2, dash="dot"),
                marker=dict(size=[0, 10], symbol="star", color=color), name="Projected at current pace",
                legendgroup="projected", showlegend="projected" not in shown,
                hovertemplate=(f"{name}<br>At {_num(row.get('pace'), 1)} points a week: 100% on "
                               f"{_day(finish)}<extra></extra>")), row=i, col=1)
            shown.add("projected")
        if last_day is not None:
            fig.add_vline(x=last_day, line=dict(color=MUTED, width=1, dash="dot"), row=i, col=1)
        fig.update_yaxes(title_text="Progress (%)", range=[0, 105], ticksuffix="%", row=i, col=1)
    fig.update_xaxes(title_text="Date", row=len(order), col=1)
    fig.update_annotations(font=dict(size=14, color=INK), xanchor="left", x=0)
    sub = "Dashed grey: a straight line from start to due date · dotted: where the current pace leads"
    if last_day is not None:
        sub += f" · as of {_day(last_day)}"
    fig.update_layout(title=dict(text=title + (f" ({esc(who)})" if who else ""), subtitle=dict(text=sub)))
    return _finish(fig, height=290 * len(order) + 170, panel_titles=1)


# ---------------------------------------------------------------------------- cohort
def _score_title(fw: Framework, value: str) -> str:
    q = fw.questionnaire
    if value == "score" and q is not None:
        return f"Element score ({q.scale.min}–{q.scale.max}, questionnaire)"
    if value == "rating":
        return f"Rating ({fw.scale.min}–{fw.scale.max})"
    return "Element score"


def plot_cohort_change(scores: pd.DataFrame, change: pd.DataFrame | None = None, *,
                       participants: pd.DataFrame | None = None, value: str = "score",
                       pre: str = "baseline", post: str = "post", min_n: int = MIN_N,
                       framework=None, y_title: str | None = None) -> go.Figure:
    """Before and after, per element: a thin line for each consenting participant, the
    cohort median in the element's colour, and the effect size in each panel's title.

    Parameters
    ----------
    scores : DataFrame
        One score per participant, element and phase: participant_id, element, phase and the
        ``value`` column (the output of :func:`~mastery_analysis.analysis.score_responses`).
    change : DataFrame, optional
        Output of :func:`~mastery_analysis.analysis.cohort_change` (element, n, d_z,
        hedges_g, p_value, n_reliable_improved, n_reliable_declined) for the panel titles.
    participants : DataFrame, optional
        The participants table; individual lines are drawn only for those with
        ``consent_share`` (none when it is not given).
    value : str
        The score column.
    pre, post : str
        The two phases compared.
    min_n : int
        Fewest people with both phases for a median to be shown (privacy rule).
    framework : Framework or str, optional
    y_title : str, optional
        Title of the score axis; by default "Element score" with the questionnaire's scale.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fw = _fw(framework)
    title = "Before and after the workshop"
    empty_msg = (f"No {pre} and {post} assessments yet: collect both with 01_assessment.ipynb "
                 "(the baseline at the start, the post at the end)")
    if _is_empty(scores):
        return _empty(title, empty_msg)
    _require(scores, ["participant_id", "element", "phase", value], "plot_cohort_change",
             "score_responses")
    data = scores.loc[scores["phase"].isin([pre, post])]
    wide = data.pivot_table(index=["element", "participant_id"], columns="phase", values=value,
                            aggfunc="mean")
    if pre not in wide or post not in wide:
        return _empty(title, empty_msg)
    wide = wide.dropna(subset=[pre, post])
    if wide.empty:
        return _empty(title, empty_msg)
    elements = _element_order(fw, wide.index.get_level_values("element"))
    consenting = set(consenting_only(wide.reset_index(), participants)["participant_id"])
    change_by = (change.drop_duplicates("element").set_index("element")
                 if change is not None and len(change) and "element" in change else None)
    titles = []
    for e in elements:
        t = f"<b>{_label(fw, e)}</b>"
        if change_by is not None and e in change_by.index:
            c = change_by.loc[e]
            n = c.get("n", np.nan)
            if bool(c.get("suppressed", False)) or (pd.notna(n) and n < min_n):
                t += f"<br>fewer than {min_n} people"
            else:
                t += f"<br>d<sub>z</sub> = {_num(c.get('d_z'), 2, True)}, g = {_num(c.get('hedges_g'), 2, True)}"
                if "n_reliable_improved" in c:
                    t += (f"<br>reliable: {_num(c.get('n_reliable_improved'), 0)}↑ "
                          f"{_num(c.get('n_reliable_declined'), 0)}↓ of {_num(n, 0)}")
        titles.append(t)
    fig = make_subplots(rows=1, cols=len(elements), shared_yaxes=True, subplot_titles=titles,
                        horizontal_spacing=0.025)
    cats = [pre.capitalize(), post.capitalize()]
    shown = set()
    suppressed = []
    for j, e in enumerate(elements, start=1):
        w = wide.loc[e]
        color = _color(fw, e)
        mine = w.loc[w.index.isin(consenting)]
        if len(consenting) > MAX_PEOPLE_DRAWN:  # too many lines to read: the spread, as bands
            if len(w) >= min_n:
                for lo_q, hi_q, alpha, name in ((0.1, 0.9, 0.14, "Middle 80% of participants"),
                                                (0.25, 0.75, 0.28, "Middle 50% of participants")):
                    q = w[[pre, post]].quantile([lo_q, hi_q])
                    fig.add_trace(go.Scatter(
                        x=cats + cats[::-1], y=[q.at[lo_q, pre], q.at[lo_q, post],
                                                q.at[hi_q, post], q.at[hi_q, pre]],
                        mode="lines", fill="toself", fillcolor=_rgba(color, alpha),
                        line=dict(width=0), name=name, legendgroup=name,
                        showlegend=name not in shown, hoverinfo="skip"), row=1, col=j)
                    shown.add(name)
            mine = mine.iloc[:0]
        if len(mine):
            xs, ys, hover = [], [], []
            for pid, r in mine.iterrows():
                xs += cats + [None]
                ys += [r[pre], r[post], None]
                hover += [esc(pid)] * 2 + [""]
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines+markers", line=dict(color="rgba(110,110,110,0.35)", width=1),
                marker=dict(size=4, color="rgba(110,110,110,0.5)"), name="One consenting participant",
                legendgroup="people", showlegend="people" not in shown, text=hover,
                hovertemplate="%{text}<br>%{x}: %{y:.2f}<extra></extra>", connectgaps=False),
                row=1, col=j)
            shown.add("people")
        if len(w) >= min_n:
            med = [w[pre].median(), w[post].median()]
            fig.add_trace(go.Scatter(
                x=cats, y=med, mode="lines+markers", line=dict(color=color, width=4),
                marker=dict(size=12, color=color), name="Cohort median", legendgroup="median",
                showlegend="median" not in shown,
                hovertemplate=f"{_label(fw, e)}<br>Median %{{x}}: %{{y:.2f}} (n = {len(w)})<extra></extra>"),
                row=1, col=j)
            shown.add("median")
        else:
            suppressed.append(_label(fw, e))
    q = fw.questionnaire
    if q is not None and value == "score":
        fig.update_yaxes(range=[q.scale.min - 0.2, q.scale.max + 0.2])
    fig.update_yaxes(title_text=esc(y_title) if y_title else _score_title(fw, value), row=1, col=1)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=cats, range=[-0.35, 1.35])
    fig.update_annotations(font=dict(size=12, color=INK))
    people = (f"Grey lines: the {len(consenting)} participants who agreed to share"
              if len(consenting) <= MAX_PEOPLE_DRAWN else
              f"Bands: the middle 50% and 80% of the {wide.index.get_level_values('participant_id').nunique()} "
              f"participants (too many for a line each)")
    sub = (f"{people} · thick line: cohort median (shown for {min_n} or "
           "more people)<br>d<sub>z</sub>, g: effect sizes of the change · reliable: changes larger "
           "than measurement error (Jacobson-Truax)")
    if suppressed:
        sub += f" · median hidden for fewer than {min_n} people: {', '.join(suppressed)}"
    fig.update_layout(title=dict(text=title, subtitle=dict(text=sub)))
    return _finish(fig, height=600, panel_titles=3, width=1100)


def plot_forest(estimates: pd.DataFrame, rmcorr: pd.Series | dict | pd.DataFrame | None = None, *,
                estimate: str = "slope", low: str = "slope_low", high: str = "slope_high",
                label: str = "participant_id", x_title: str = "Slope (rating points per week)",
                title: str = "Each participant's trend, and the cohort's within-person relation",
                rmcorr_label: str = "Within-person correlation (rmcorr)",
                framework=None) -> go.Figure:
    """Forest plot: one row per participant with its estimate and interval, one panel per
    element when the frame has an ``element`` column, and the rmcorr result in the subtitle.

    When the rmcorr result has a value for ``estimate`` (``"r"``, or ``"slope"``: the common
    within-person slope :func:`~mastery_analysis.analysis.rm_corr` reports), it is also drawn
    as a diamond row ("All: rmcorr") on the same axis, with its interval (``ci_low`` and
    ``ci_high`` for r, ``slope_low`` and ``slope_high`` for the slope). So pass the rmcorr of
    the same relation the rows estimate: :func:`~mastery_analysis.analysis.person_slopes` and
    :func:`~mastery_analysis.analysis.rm_corr` of the same pairs (``low="ci_low",
    high="ci_high"``). When the rmcorr result names an ``element``, its diamond is drawn in that
    element's panel only.

    Parameters
    ----------
    estimates : DataFrame
        One row per participant (and element): ``label``, ``estimate``, ``low``, ``high``
        columns; by default the output of :func:`~mastery_analysis.analysis.element_trends`
        (participant_id, element, slope, slope_low, slope_high). Show only consenting
        participants here (see :func:`~mastery_analysis.analysis.privacy.consenting_only`).
    rmcorr : Series, dict or one-row DataFrame, optional
        Output of :func:`~mastery_analysis.analysis.rm_corr`: r, dof, p_value, ci_low, ci_high,
        n_subjects, n_obs, slope, slope_low, slope_high.
    estimate, low, high, label : str
        Column names.
    x_title, title : str
        Axis and figure titles.
    rmcorr_label : str
        What the rmcorr relates, shown before its numbers (escaped).
    framework : Framework or str, optional

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fw = _fw(framework)
    title = esc(title)
    if isinstance(rmcorr, pd.DataFrame):
        rmcorr = rmcorr.iloc[0] if len(rmcorr) else None
    rm = dict(rmcorr) if rmcorr is not None else {}
    sub = ""
    if rm:
        sub = (f"{esc(rmcorr_label)}: r = {_num(rm.get('r'), 2, True)} "
               f"[95% CI {_num(rm.get('ci_low'), 2, True)}, {_num(rm.get('ci_high'), 2, True)}], "
               f"{_p(rm.get('p_value'))}, {_num(rm.get('n_subjects'), 0)} people, "
               f"{_num(rm.get('n_obs'), 0)} observations")
    if _is_empty(estimates):
        return _empty(title, "No per-participant estimates yet: participants who agreed to share "
                             "need a few weeks of check-ins")
    _require(estimates, [label, estimate, low, high], "plot_forest", "element_trends or person_slopes")
    data = estimates.dropna(subset=[estimate])
    if data.empty:
        return _empty(title, "Not enough data for any participant's estimate yet: a few more weeks "
                             "of check-ins are needed")
    elements = _element_order(fw, data["element"]) if "element" in data else [None]
    # One row order for all panels: by the mean estimate across elements.
    order = data.groupby(label)[estimate].mean().sort_values().index.tolist()
    rows = [esc(v) for v in order]
    overall = bool(rm) and rm.get(estimate) is not None and pd.notna(rm.get(estimate))
    if overall:
        pooled = float(rm[estimate])
        low_key, high_key = ("ci_low", "ci_high") if estimate == "r" else (f"{estimate}_low", f"{estimate}_high")
        pooled_lo = rm.get(low_key, pooled)
        pooled_hi = rm.get(high_key, pooled)
        pooled_lo = pooled if pooled_lo is None or pd.isna(pooled_lo) else float(pooled_lo)
        pooled_hi = pooled if pooled_hi is None or pd.isna(pooled_hi) else float(pooled_hi)
        rows = ["<b>All: rmcorr</b>"] + rows
    if len(order) > MAX_PEOPLE_DRAWN:
        return _forest_histograms(data, elements, fw, estimate=estimate, x_title=x_title,
                                  title=title, sub=sub, rm=rm if overall else {},
                                  pooled=(pooled, pooled_lo, pooled_hi) if overall else None,
                                  people=len(order))
    fig = make_subplots(rows=1, cols=len(elements), shared_yaxes=True, horizontal_spacing=0.02,
                        subplot_titles=[_label(fw, e) if e else "" for e in elements])
    for j, e in enumerate(elements, start=1):
        d = data if e is None else data.loc[data["element"] == e]
        d = d.set_index(label).reindex(order).dropna(subset=[estimate]).reset_index()
        color = _color(fw, e)
        est = d[estimate].to_numpy(dtype=float)
        lo_ = d[low].to_numpy(dtype=float)
        hi_ = d[high].to_numpy(dtype=float)
        names = [esc(v) for v in d[label]]
        fig.add_trace(go.Scatter(
            x=est, y=names, mode="markers", marker=dict(symbol="square", size=8, color=color),
            error_x=dict(type="data", symmetric=False, array=np.nan_to_num(hi_ - est),
                         arrayminus=np.nan_to_num(est - lo_), color=_rgba(color, 0.7), thickness=1.6,
                         width=0),
            name=_label(fw, e) if e else "Participant", showlegend=False,
            customdata=np.column_stack([lo_, hi_]),
            hovertemplate="%{y}<br>" + esc(x_title) + ": %{x:.2f} [%{customdata[0]:.2f}, "
                          "%{customdata[1]:.2f}]<extra></extra>"), row=1, col=j)
        if overall and (e is None or rm.get("element") in (None, e)):
            fig.add_trace(go.Scatter(
                x=[pooled], y=[rows[0]], mode="markers",
                marker=dict(symbol="diamond", size=16, color=INK),
                error_x=dict(type="data", symmetric=False, array=[pooled_hi - pooled],
                             arrayminus=[pooled - pooled_lo], color=INK, thickness=2.5, width=0),
                customdata=[[pooled_lo, pooled_hi]],
                showlegend=False,
                hovertemplate=("rmcorr r" if estimate == "r" else "rmcorr common " + esc(estimate))
                + " = %{x:.2f} [%{customdata[0]:.2f}, %{customdata[1]:.2f}]<extra></extra>"),
                row=1, col=j)
        fig.add_vline(x=0, line=dict(color="#9a9a9a", width=1), row=1, col=j)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=rows[::-1], showgrid=False)
    fig.update_xaxes(title_text=esc(x_title) if len(elements) == 1 else "", zeroline=False)
    if len(elements) > 1:
        fig.add_annotation(text=esc(x_title), x=0.5, y=-0.02, xref="paper", yref="paper",
                           yanchor="top", yshift=-28, showarrow=False, font=dict(size=13, color=MUTED))
    fig.update_annotations(font=dict(size=13))
    fig.update_layout(title=dict(text=title, subtitle=dict(text=sub)))
    return _finish(fig, height=min(2400, 22 * len(rows) + 230), panel_titles=1, legend=False,
                   margin_b=80)


def _forest_histograms(data, elements, fw, *, estimate, x_title, title, sub, rm, pooled,
                       people) -> go.Figure:
    """plot_forest for more than MAX_PEOPLE_DRAWN participants: how the estimates spread.

    One histogram of the participants' estimates per element (binned here, so the figure
    carries 40 bars per panel rather than every estimate), with zero and, when given, the
    rmcorr estimate and its interval as a line and a band.
    """
    values = data[estimate].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    lo, hi = (np.quantile(values, [0.005, 0.995]) if len(values) else (0.0, 1.0))
    if pooled is not None:
        lo, hi = min(lo, pooled[1]), max(hi, pooled[2])
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, _HIST_BINS + 1)
    mids = (edges[:-1] + edges[1:]) / 2
    fig = make_subplots(rows=1, cols=len(elements), shared_yaxes=True, horizontal_spacing=0.02,
                        subplot_titles=[_label(fw, e) if e else "" for e in elements])
    for j, e in enumerate(elements, start=1):
        d = data if e is None else data.loc[data["element"] == e]
        v = d[estimate].to_numpy(dtype=float)
        counts, _ = np.histogram(np.clip(v[np.isfinite(v)], lo, hi), bins=edges)
        color = _color(fw, e)
        fig.add_trace(go.Bar(
            x=mids, y=counts, width=(edges[1] - edges[0]) * 0.95, marker_color=_rgba(color, 0.75),
            showlegend=False, customdata=np.column_stack([edges[:-1], edges[1:]]),
            hovertemplate="%{customdata[0]:.2f} to %{customdata[1]:.2f}: %{y} people<extra></extra>"),
            row=1, col=j)
        fig.add_vline(x=0, line=dict(color="#9a9a9a", width=1), row=1, col=j)
        if pooled is not None and (e is None or rm.get("element") in (None, e)):
            fig.add_vrect(x0=pooled[1], x1=pooled[2], fillcolor=_rgba(INK, 0.12), line_width=0,
                          row=1, col=j)
            fig.add_vline(x=pooled[0], line=dict(color=INK, width=2.5), row=1, col=j)
    fig.update_yaxes(title_text="People", row=1, col=1, rangemode="tozero")
    fig.update_xaxes(title_text=esc(x_title) if len(elements) == 1 else "", zeroline=False)
    if len(elements) > 1:
        fig.add_annotation(text=esc(x_title), x=0.5, y=-0.02, xref="paper", yref="paper",
                           yanchor="top", yshift=-28, showarrow=False, font=dict(size=13, color=MUTED))
    fig.update_annotations(font=dict(size=13))
    note = (f"{people} participants: how their estimates spread (too many for a row each)"
            + (" · dark line and band: rmcorr and its interval" if pooled is not None else ""))
    fig.update_layout(title=dict(text=title, subtitle=dict(text=f"{sub}<br>{note}" if sub else note)))
    return _finish(fig, height=520, panel_titles=1, legend=False, margin_b=80)


def plot_distribution(scores: pd.DataFrame, *, value: str = "score", phases=("baseline", "mid", "post"),
                      min_n: int = MIN_N, framework=None, y_title: str | None = None) -> go.Figure:
    """The cohort's distribution per element at each phase, as boxes (median, quartiles,
    whiskers to the furthest value within 1.5 IQR); no individual points are drawn.

    Boxes are precomputed from the data (quartiles for display), so the figure holds no
    individual's value and its size does not grow with the cohort. A phase with fewer than
    ``min_n`` people is not shown.

    Parameters
    ----------
    scores : DataFrame
        participant_id, element, phase and the ``value`` column (the output of
        :func:`~mastery_analysis.analysis.score_responses`, or ratings with a phase).
    value : str
        The score column.
    phases : sequence of str
        The phases to show, in order (phases absent from the data are skipped).
    min_n : int
        Fewest people a box may summarise (privacy rule).
    framework : Framework or str, optional
    y_title : str, optional
        Title of the score axis; by default "Element score" with the questionnaire's scale.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fw = _fw(framework)
    title = "How the cohort rates itself, element by element"
    if _is_empty(scores):
        return _empty(title, "No assessments yet: collect the baseline questionnaire with 01_assessment.ipynb")
    _require(scores, ["element", "phase", value], "plot_distribution", "score_responses")
    data = scores.dropna(subset=[value])
    present = [p for p in phases if p in set(data["phase"])]
    if not present:
        return _empty(title, "No assessments yet: collect the baseline questionnaire with 01_assessment.ipynb")
    elements = _element_order(fw, data["element"])
    alphas = np.linspace(0.25, 0.75, len(present)) if len(present) > 1 else [0.6]
    fig = _base(title, f"Boxes: middle half of the cohort, line at the median, dashed at the mean, "
                       f"whiskers to the furthest score within 1.5 IQR<br>Groups of fewer than {min_n} people "
                       "are hidden (privacy rule)")
    hidden = []
    for e in elements:
        color = _color(fw, e)
        for phase, alpha in zip(present, alphas):
            v = data.loc[(data["element"] == e) & (data["phase"] == phase), value]
            n = int(v.count() if "participant_id" not in data else data.loc[
                (data["element"] == e) & (data["phase"] == phase), "participant_id"].nunique())
            if n < min_n:
                if n:
                    hidden.append(f"{_label(fw, e)} {esc(phase)}")
                continue
            q1, med, q3 = v.quantile([0.25, 0.5, 0.75]).to_numpy()
            iqr = q3 - q1
            lower = v.loc[v >= q1 - 1.5 * iqr].min()
            upper = v.loc[v <= q3 + 1.5 * iqr].max()
            fig.add_trace(go.Box(
                x=[[_label(fw, e)], [f"{esc(phase).capitalize()}"]], orientation="v", q1=[q1], median=[med], q3=[q3],
                lowerfence=[lower], upperfence=[upper], mean=[v.mean()], boxmean=True,
                name=f"{_label(fw, e)}: {esc(phase)} (n = {n})", fillcolor=_rgba(color, alpha),
                line=dict(color=color, width=2), showlegend=False, hoverinfo="y+name"))
    if not fig.data:
        return _empty(title, f"Fewer than {min_n} people in every group: the distribution is hidden "
                             "(privacy rule)")
    q = fw.questionnaire
    if q is not None and value == "score":
        fig.update_yaxes(range=[q.scale.min - 0.2, q.scale.max + 0.2])
    fig.update_yaxes(title_text=esc(y_title) if y_title else _score_title(fw, value))
    fig.update_xaxes(title_text="", tickfont=dict(size=12))
    if hidden:
        fig.add_annotation(text=f"Hidden (fewer than {min_n} people): " + ", ".join(hidden), x=0, y=-0.2,
                           xref="paper", yref="paper", showarrow=False, xanchor="left",
                           font=dict(size=11, color=MUTED))
    return _finish(fig, height=540, legend=False, boxgap=0.25, boxgroupgap=0.1)


def plot_participation(ratings: pd.DataFrame, participants: pd.DataFrame | None = None, *,
                       framework=None) -> go.Figure:
    """How many people checked in each week (a check-in is a day with a rating).

    Parameters
    ----------
    ratings : DataFrame
        The ratings table: participant_id, date (kind is used to count current ratings only).
    participants : DataFrame, optional
        The participants table, for the cohort size drawn as a line.
    framework : Framework or str, optional
        Unused; accepted so that every chart takes the same keyword.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = "Participation: who checked in each week"
    if _is_empty(ratings):
        return _empty(title, "No check-ins yet: participants check in with 01_check_in.ipynb")
    _require(ratings, ["participant_id", "date"], "plot_participation", "the ratings table")
    data = ratings
    if "kind" in data:
        data = data.loc[data["kind"] == "current"]
    data = data.assign(date=_dates(data["date"]))
    week = data["date"].dt.to_period("W-SUN").dt.start_time
    people = data.assign(week=week).groupby("week")["participant_id"].nunique()
    days = data.assign(week=week).drop_duplicates(["participant_id", "date"]).groupby("week").size()
    size = participants["participant_id"].nunique() if participants is not None and len(participants) else None
    fig = _base(title, "Bars: people with at least one check-in that week · hover for check-in days")
    fig.add_trace(go.Bar(x=people.index, y=people.to_numpy(), marker_color=NEUTRAL, name="People",
                         customdata=days.reindex(people.index).to_numpy(),
                         hovertemplate="Week of %{x|%d %b %Y}<br>%{y} people, %{customdata} check-in days"
                                       "<extra></extra>"))
    if size:
        fig.add_hline(y=size, line=dict(color=MUTED, dash="dash", width=1.5),
                      annotation_text=f"{size} in the cohort", annotation_position="top left")
    fig.update_yaxes(title_text="People who checked in", rangemode="tozero")
    fig.update_xaxes(title_text="Week")
    return _finish(fig, height=440, legend=False)


def plot_recent_days(ratings: pd.DataFrame, actions: pd.DataFrame, *, day, framework=None,
                     days: int = 14) -> go.Figure:
    """A small chart of the last ``days`` days to ``day``: actions per day and the day's mean rating.

    What the check-in form shows after a save. Bars: the day's actions summed over every
    goal (0 on a day without any); line: the mean of the day's current ratings (a gap on a
    day without a check-in), on the framework's scale.

    Parameters
    ----------
    ratings : DataFrame
        One participant's ratings: date, rating (and kind: only ``current`` rows count).
    actions : DataFrame
        One participant's actions: date, count.
    day : date-like
        The last day shown.
    framework : Framework or str, optional
        For the rating axis (its scale); defaults to career_mastery.
    days : int
        How many days, ending on ``day``.

    Returns
    -------
    plotly.graph_objects.Figure
        Trace 0 the bars (one per day), trace 1 the line; 460 x 220 px.
    """
    fw = _fw(framework)
    last = pd.Timestamp(day).normalize()
    index = pd.date_range(last - pd.Timedelta(days=days - 1), last, freq="D")
    per_day = (actions.assign(date=_dates(actions["date"])).groupby("date")["count"].sum()
               .reindex(index, fill_value=0))
    current = ratings.loc[ratings["kind"] == "current"] if "kind" in ratings else ratings
    mean = current.assign(date=_dates(current["date"])).groupby("date")["rating"].mean().reindex(index)
    lo, hi = fw.scale.min, fw.scale.max
    # Drawn after every save, so built in one go (:func:`_figure`): the figure _base, add_bar,
    # add_scatter, update_* and _finish would give, for a third of the CPU
    # (python -m benchmarks.bench_checkin_chart).
    bars = dict(type="bar", x=index, y=per_day.to_numpy(), name="actions", marker=dict(color=NEUTRAL),
                hovertemplate="%{x|%a %d %b}: %{y} actions<extra></extra>")
    line = dict(type="scatter", x=index, y=mean.to_numpy(), name="mean rating", yaxis="y2",
                mode="lines+markers", connectgaps=False, line=dict(color=OKABE_ITO[3]),
                hovertemplate="%{x|%a %d %b}: mean rating %{y:.1f}<extra></extra>")
    # no legend in so small a chart: the two axis titles name the two series
    return _figure([bars, line], "Last two weeks" if days == 14 else f"Last {days} days",
                   height=220, width=460, legend=False, bargap=0.2,
                   title=dict(font=dict(size=14)), margin=dict(l=50, r=50, b=40),
                   xaxis=dict(tickformat="%d %b"),
                   yaxis=dict(title=dict(text="actions"), rangemode="tozero",
                              dtick=max(1, int(np.ceil(float(per_day.max()) / 4)))),
                   yaxis2=dict(title=dict(text="rating", font=dict(size=13, color=MUTED)),
                               overlaying="y", side="right", range=[lo - 0.5, hi + 0.5],
                               showgrid=False, tickvals=[lo, (lo + hi) // 2, hi]))


__all__.append("plot_recent_days")


# --------------------------------------------------------------------------------------------
# self-experiments (N-of-1 trials)

#: Colours of the two conditions of a self-experiment, and of washout days.
CONDITION_COLORS = {"A": OKABE_ITO[0], "B": OKABE_ITO[1]}
WASHOUT_COLOR = NO_DATA_GREY


def _condition_names(conditions) -> dict:
    names = {"A": "A", "B": "B"}
    if conditions:
        names.update({k: f"{k}: {esc(v)}" for k, v in dict(conditions).items() if k in names and v})
    return names


def _effect_line(effect: pd.DataFrame | None) -> str:
    """The subtitle sentence for an experiment_effect row: the result, or that there is none yet."""
    if _is_empty(effect):
        return ""
    r = effect.iloc[0]
    if not bool(r["finished"]):
        return (f"Running until {_day(r['planned_end'])}: no result before the planned end "
                f"({int(r['n_a'])} A days and {int(r['n_b'])} B days so far)")
    kind = "as assigned" if bool(r["randomised"]) else "as followed (not randomised)"
    lo, hi = r["ci_low"], r["ci_high"]
    interval = f"[{_num(lo, signed=True)}, {_num(hi, signed=True)}]" if np.isfinite(lo) and np.isfinite(hi) \
        else "(no interval: too few possible schedules)"
    return (f"B − A = {_num(r['estimate'], signed=True)}, {100 * (1 - r['alpha']):.0f}% interval "
            f"{interval} · {_p(r['p_value'])} over {int(r['assignments']):,} schedules"
            f"{'' if bool(r['exact']) else ' drawn at random'} · NAP {_num(r['nap'])} · "
            f"{int(r['n_a'])} A days, {int(r['n_b'])} B days, {kind}")


def plot_experiment(outcome: pd.DataFrame, schedule: pd.DataFrame, *, effect: pd.DataFrame | None = None,
                    conditions: dict | None = None, outcome_label: str = "Outcome",
                    title: str | None = None) -> go.Figure:
    """A self-experiment over time: the outcome per day, the days shaded by condition.

    Parameters
    ----------
    outcome : DataFrame
        ``date`` and ``value`` (as given to
        :func:`~mastery_analysis.analysis.experiments.experiment_effect`).
    schedule : DataFrame
        ``date``, ``condition`` (``"A"``/``"B"``) and ``washout`` (the plan's schedule).
    effect : DataFrame, optional
        The row of ``experiment_effect``: its result (or that there is none before the
        planned end) goes in the subtitle.
    conditions : dict, optional
        ``{"A": "...", "B": "..."}``: the conditions in the person's words (escaped).
    outcome_label : str
        The outcome's name, for the axis (escaped).
    title : str, optional
        The experiment's title (escaped).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    head = esc(title) if title else "Self-experiment"
    if _is_empty(schedule):
        return _empty(head, "No plan yet: plan an experiment with 05_self_experiment.ipynb")
    _require(schedule, ["date", "condition", "washout"], "plot_experiment", "plan_experiment")
    names = _condition_names(conditions)
    s = schedule.assign(date=_dates(schedule["date"])).sort_values("date")
    fig = _base(head, _effect_line(effect) or "Days shaded by condition; grey: washout days "
                                             "(followed, left out of the analysis)")
    # shaded runs of days of one condition (and washout flag)
    key = s["condition"].astype(str) + s["washout"].astype(bool).map({True: "w", False: ""})
    run = (key != key.shift()).cumsum()
    for _, days in s.groupby(run, sort=True):
        c = str(days["condition"].iloc[0])
        wash = bool(days["washout"].iloc[0])
        fig.add_vrect(x0=days["date"].iloc[0] - pd.Timedelta(hours=12),
                      x1=days["date"].iloc[-1] + pd.Timedelta(hours=12),
                      fillcolor=WASHOUT_COLOR if wash else CONDITION_COLORS.get(c, NEUTRAL),
                      opacity=0.25 if wash else 0.13, line_width=0, layer="below")
    if not _is_empty(outcome):
        _require(outcome, ["date", "value"], "plot_experiment", "the outcome (date, value)")
        o = outcome.assign(date=_dates(outcome["date"]))[["date", "value"]].dropna()
        o = o.merge(s[["date", "condition", "washout"]], on="date", how="inner").sort_values("date")
        fig.add_trace(go.Scatter(x=o["date"], y=o["value"], mode="lines", name="Outcome",
                                 line=dict(color=GRID, width=1.5), hoverinfo="skip", showlegend=False))
        for c in ("A", "B"):
            part = o.loc[(o["condition"] == c) & ~o["washout"].astype(bool)]
            fig.add_trace(go.Scatter(x=part["date"], y=part["value"], mode="markers", name=names[c],
                                     marker=dict(color=CONDITION_COLORS[c], size=8),
                                     hovertemplate="%{x|%d %b %Y}: %{y}<extra>" + names[c] + "</extra>"))
        wash = o.loc[o["washout"].astype(bool)]
        if len(wash):
            fig.add_trace(go.Scatter(x=wash["date"], y=wash["value"], mode="markers",
                                     name="Washout (left out)",
                                     marker=dict(color=WASHOUT_COLOR, size=7, symbol="circle-open"),
                                     hovertemplate="%{x|%d %b %Y}: %{y}<extra>washout</extra>"))
    if not any(t.mode == "markers" for t in fig.data):
        for c in ("A", "B"):  # a legend for the shading when there is no data yet
            fig.add_trace(go.Scatter(x=[s["date"].iloc[0]], y=[None], mode="markers", name=names[c],
                                     marker=dict(color=CONDITION_COLORS[c], size=8)))
    fig.update_yaxes(title_text=esc(outcome_label))
    return _finish(fig, height=460)


def plot_randomisation(distribution: pd.DataFrame, *, effect: pd.DataFrame | None = None,
                       title: str | None = None, bins: int = _HIST_BINS) -> go.Figure:
    """The randomisation distribution of a finished self-experiment, with the observed difference.

    Bars count the schedules the design could have produced by the difference B - A each
    would have given on the same outcome; the darker bars are those at least as extreme as
    the observed difference (their share is the p-value); the line marks the observed one.

    Parameters
    ----------
    distribution : DataFrame
        The output of :func:`~mastery_analysis.analysis.experiments.experiment_distribution`
        (``difference``, ``observed``, ``extreme``); empty before the planned end.
    effect : DataFrame, optional
        The row of ``experiment_effect``, for the subtitle.
    title : str, optional
        The experiment's title (escaped).
    bins : int
        Histogram bins (display only).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    head = f"{esc(title)}: could chance alone give this difference?" if title else \
        "Could chance alone give this difference?"
    if _is_empty(distribution):
        return _empty(head, "No result yet: the randomisation test is run at the planned end "
                            "of the experiment")
    _require(distribution, ["difference", "observed", "extreme"], "plot_randomisation",
             "experiment_distribution")
    d = distribution["difference"].to_numpy(dtype=float)
    d = d[np.isfinite(d)]
    observed = float(distribution["observed"].iloc[0])
    lo, hi = min(d.min(), observed), max(d.max(), observed)
    edges = np.histogram_bin_edges(d, bins=bins, range=(lo, hi) if hi > lo else None)
    extreme = distribution["extreme"].to_numpy(dtype=bool)[np.isfinite(distribution["difference"])]
    count_in, _ = np.histogram(d[extreme], bins=edges)
    count_out, _ = np.histogram(d[~extreme], bins=edges)
    mids = (edges[:-1] + edges[1:]) / 2
    width = np.diff(edges)
    fig = _base(head, _effect_line(effect) or
                f"{len(d):,} schedules the design could have produced; darker: at least as extreme "
                "as the observed difference")
    fig.add_trace(go.Bar(x=mids, y=count_out, width=width, name="Less extreme",
                         marker=dict(color=_rgba(NEUTRAL, 0.35)),
                         hovertemplate="B − A ≈ %{x:.2f}: %{y} schedules<extra></extra>"))
    fig.add_trace(go.Bar(x=mids, y=count_in, width=width, name="At least as extreme (p)",
                         marker=dict(color=CONDITION_COLORS["B"]),
                         hovertemplate="B − A ≈ %{x:.2f}: %{y} schedules<extra></extra>"))
    fig.add_vline(x=observed, line=dict(color=INK, width=2, dash="dash"))
    fig.add_annotation(x=observed, y=1, yref="paper", yanchor="bottom", showarrow=False,
                       text=f"observed {_num(observed, signed=True)}", font=dict(color=INK))
    fig.update_layout(barmode="stack", bargap=0)
    fig.update_xaxes(title_text="Difference B − A had the schedule been another one")
    fig.update_yaxes(title_text="Schedules")
    return _finish(fig, height=420)


def plot_reliability(reliability: pd.DataFrame, *, min_n: int = 5, warn_below: float = 0.70,
                     framework=None) -> go.Figure:
    """Each scale's reliability in this cohort: Cronbach's alpha with its 95% interval.

    One row per instrument, scale and phase (dots coloured by phase), a dashed line at
    ``warn_below`` (0.70) and, where the instrument publishes one (or the framework file
    assumes one), that value as an open diamond. Scales answered completely by fewer than
    ``min_n`` people are not drawn (privacy rule) and the subtitle says so.

    Parameters
    ----------
    reliability : DataFrame
        The output of :func:`~mastery_analysis.analysis.scale_reliability`: instrument,
        scale, phase, n, alpha, alpha_ci_low, alpha_ci_high, published.
    min_n : int
        Fewest complete answers for a scale's alpha to be drawn.
    warn_below : float
        Where the dashed warning line is drawn.
    framework : Framework or str, optional
        Shows element labels for the framework's own questionnaire.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = "Reliability of each scale in this cohort"
    if _is_empty(reliability):
        return _empty(title, "No questionnaire answers yet: open a phase with `mastery cohort phase`")
    _require(reliability, ["instrument", "scale", "phase", "n", "alpha", "alpha_ci_low", "alpha_ci_high"],
             "plot_reliability", "scale_reliability")
    fw = load_framework(framework)
    data = reliability.reset_index(drop=True)
    shown = data.loc[(data["n"] >= min_n) & data["alpha"].notna()]
    hidden = len(data) - len(shown)
    subtitle = (f"Cronbach's alpha with its 95% interval (Feldt); dashed line: {warn_below:.2f}, "
                "under which the report warns; open diamond: the published or assumed value")
    if hidden:
        subtitle += f" · {hidden} not drawn: fewer than {min_n} complete answers or no alpha"
    fig = _base(title, subtitle)
    if shown.empty:
        return _empty(title, f"No scale has {min_n} complete answers yet: wait for more answers")
    names = [f"{_label(fw, s) if q == getattr(fw.questionnaire, 'instrument', None) else esc(s)}"
             f" · {esc(q)}" for q, s in zip(shown["instrument"], shown["scale"])]
    order = list(dict.fromkeys(names))
    phases = list(dict.fromkeys(shown["phase"]))
    for k, phase in enumerate(phases):
        part = shown["phase"].to_numpy() == phase
        sub = shown.loc[part]
        alpha = sub["alpha"].to_numpy(dtype=float)
        fig.add_trace(go.Scatter(
            x=alpha, y=[n for n, p in zip(names, part) if p], mode="markers", name=esc(phase or "all"),
            marker=dict(color=OKABE_ITO[k % len(OKABE_ITO)], size=10),
            error_x=dict(type="data", symmetric=False,
                         array=sub["alpha_ci_high"].to_numpy(dtype=float) - alpha,
                         arrayminus=alpha - sub["alpha_ci_low"].to_numpy(dtype=float)),
            customdata=np.c_[sub["alpha_ci_low"].to_numpy(dtype=float), sub["alpha_ci_high"].to_numpy(dtype=float),
                             sub["n"].to_numpy(dtype=float)],
            hovertemplate="%{y}<br>alpha %{x:.2f} (95%: %{customdata[0]:.2f} to %{customdata[1]:.2f}), "
                          "%{customdata[2]:.0f} complete answers<extra></extra>"))
    if "published" in shown.columns and shown["published"].notna().any():
        ref = shown.loc[shown["published"].notna()].drop_duplicates(["instrument", "scale"])
        ref_names = [f"{_label(fw, s) if q == getattr(fw.questionnaire, 'instrument', None) else esc(s)}"
                     f" · {esc(q)}" for q, s in zip(ref["instrument"], ref["scale"])]
        fig.add_trace(go.Scatter(x=ref["published"].to_numpy(dtype=float), y=ref_names, mode="markers",
                                 name="Published or assumed",
                                 marker=dict(symbol="diamond-open", size=11, color=MUTED),
                                 hovertemplate="%{y}<br>published or assumed: %{x:.2f}<extra></extra>"))
    fig.add_vline(x=warn_below, line=dict(color=MUTED, dash="dash", width=1.5))
    low = min(0.0, float(np.nanmin(shown["alpha_ci_low"].to_numpy(dtype=float))))
    fig.update_xaxes(title_text="Reliability (Cronbach's alpha)", range=[low - 0.05, 1.0])
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], title_text="")
    return _finish(fig, height=max(360, 150 + 34 * len(order)))
