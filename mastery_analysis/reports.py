"""Reproducible reports: papermill runs a report notebook, nbconvert turns it into one HTML file.

A report is a parameterised notebook in the shipped ``notebooks/reports/`` (``personal_report.ipynb``,
``cohort_report.ipynb``). :func:`render_report` checks the parameters against the store,
executes the notebook with them injected, and writes HTML that

- shows outputs only (no code cells),
- opens offline and references no outside URL (plotly.js is inlined once, gzip-compressed and
  unpacked by the browser's own DecompressionStream, so a report is about 2 MB instead of 5;
  no require.js, no MathJax, our own small stylesheet),
- is byte-identical for the same data and package version (fixed figure div ids, cell ids set
  from their position, papermill's and nbclient's volatile metadata cleared, no timestamp),
- states its parameters, the package version and a sha256 fingerprint of the rows it used.

The display helpers (:func:`show`, :func:`show_table`, :func:`show_text`, ...) are what the
report notebooks call; every piece of text a person typed goes through HTML escaping there.

Files are written atomically (a temporary file in the target folder, then ``os.replace``), so
a failed or interrupted render never leaves a partial report.
"""

from __future__ import annotations

import functools
import hashlib
import html
import io
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from pathlib import Path

import pandas as pd

from . import __version__
from .errors import MasteryError, UnknownParticipantError

KINDS = ("personal", "cohort", "experiment")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
MIN_GROUP_SIZE = 5
"""Default smallest group a cohort report shows an aggregate of (DESIGN.md, Privacy)."""

# The parameters each kind accepts, with their defaults (mirrors the notebooks' parameters cell).
PARAMETERS: dict[str, dict[str, object]] = {
    "personal": {"participant": None, "start": None, "end": None},
    "cohort": {"cohort": None, "min_group_size": MIN_GROUP_SIZE},
    "experiment": {"participant": None, "experiment": None},
}
_VOLATILE_COLUMNS = ("recorded_at", "version_id")


class ReportError(MasteryError):
    """A report cannot be rendered: bad parameters, an unwritable output or a failed render."""


class ReportParameterError(ReportError):
    """A report parameter is unknown, malformed, or selects no data."""


class UnknownCohortError(ReportParameterError):
    """A cohort name that no participant in the store belongs to."""


class ReportOutputError(ReportError):
    """The report's output file cannot be written where it was asked for."""


# ============================================================================ data
def data_fingerprint(frames: Mapping[str, pd.DataFrame]) -> str:
    """A sha256 fingerprint of the rows of several frames, stable across reloads of the data.

    Each frame becomes a canonical CSV: the columns sorted by name, ``recorded_at`` and
    ``version_id`` left out (loading the same data again gives them new values), dates as
    ``YYYY-MM-DD``, missing values empty, and the data lines sorted. The frames are hashed in
    the order of their names, each preceded by its name, so the fingerprint depends on the
    rows and their values only, not on the order of rows or columns.

    Parameters
    ----------
    frames : mapping of str -> DataFrame
        The frames a report used, by table name.

    Returns
    -------
    str
        ``"sha256:"`` followed by 64 hex digits.
    """
    digest = hashlib.sha256()
    for name in sorted(frames):
        frame = frames[name]
        cols = sorted(c for c in frame.columns if c not in _VOLATILE_COLUMNS)
        buf = io.StringIO()
        frame[cols].to_csv(buf, index=False, header=False, date_format="%Y-%m-%d",
                           lineterminator="\n", na_rep="")
        lines = sorted(buf.getvalue().splitlines())
        digest.update(f"[{name}]\n{','.join(cols)}\n{len(lines)}\n".encode())
        for line in lines:
            digest.update(line.encode())
            digest.update(b"\n")
    return "sha256:" + digest.hexdigest()


def _parse_day(value, what: str) -> pd.Timestamp | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and not re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        raise ReportParameterError(f"{what} must be a date like 2025-01-31; got {value!r}")
    try:
        day = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ReportParameterError(
            f"{what} must be a date like 2025-01-31; got {value!r}") from None
    if day is pd.NaT or pd.isna(day):
        raise ReportParameterError(f"{what} must be a date like 2025-01-31; got {value!r}")
    return day.normalize()


def _day_text(value) -> str | None:
    return None if value is None else pd.Timestamp(value).strftime("%Y-%m-%d")


def personal_frames(store, participant: str, *, start=None, end=None) -> dict[str, pd.DataFrame]:
    """The rows a personal report uses: one participant, ratings/actions/progress in a range.

    Parameters
    ----------
    store : Store
        An open store.
    participant : str
        The participant's id; an unknown id raises :class:`UnknownParticipantError`.
    start, end : date-like or None
        First and last day (inclusive); None means from the first / to the last day of data.

    Returns
    -------
    dict of str -> DataFrame
        ``participants`` (their one row), ``goals`` (all of theirs), and ``ratings``,
        ``actions``, ``progress`` within the range, each with its table's columns.
    """
    store.require_participant(participant)
    start_day, end_day = _parse_day(start, "start"), _parse_day(end, "end")
    if start_day is not None and end_day is not None and start_day > end_day:
        raise ReportParameterError(
            f"the date range is empty: start {_day_text(start_day)} is after end {_day_text(end_day)}")
    kw = {"participant": participant, "start": start_day, "end": end_day}
    return {
        "participants": store.participants(participant=participant),
        "goals": store.goals(participant=participant),
        "ratings": store.ratings(**kw),
        "actions": store.actions(**kw),
        "progress": store.progress(**kw),
    }


def _cohort_members(store, cohort: str) -> pd.DataFrame:
    """The cohort's rows of the participants table; :class:`UnknownCohortError` if none."""
    members = store.participants(cohort=cohort)
    if members.empty:
        known = sorted(c for c in store.participants()["cohort"].dropna().unique() if c)
        hint = f"; known cohorts: {', '.join(known)}" if known else "; the store has no cohorts"
        raise UnknownCohortError(f"unknown cohort '{cohort}' in {store.url}{hint}")
    return members


def as_of(frames: Mapping[str, pd.DataFrame], today=None) -> pd.Timestamp | None:
    """The day a personal view is as of: ``today`` if given, else the last date in the data.

    Parameters
    ----------
    frames : mapping of str -> DataFrame
        :func:`personal_frames` (its ``ratings``, ``actions`` and ``progress`` are read).
    today : date-like, optional
        The day asked for (``YYYY-MM-DD``); None means the last date of a rating, action or
        progress entry, never the wall clock.

    Returns
    -------
    Timestamp or None
        The day (midnight); None when ``today`` is None and there is no data yet.
    """
    if today is not None:
        return _parse_day(today, "today")
    days = pd.concat([frames[t]["date"] for t in ("ratings", "actions", "progress")]).dropna()
    return pd.Timestamp(days.max()).normalize() if len(days) else None


def cohort_frames(store, cohort: str) -> dict[str, pd.DataFrame]:
    """The rows a cohort report uses: every table, for the members of one cohort.

    Parameters
    ----------
    store : Store
        An open store.
    cohort : str
        The cohort's name; a cohort without members raises :class:`UnknownCohortError`.

    Returns
    -------
    dict of str -> DataFrame
        ``participants``, ``goals``, ``ratings``, ``actions``, ``progress``, ``responses`` of
        the cohort's members, each with its table's columns (all rows, consenting or not:
        the privacy rules are applied by the report when it shows them).
    """
    return {
        "participants": _cohort_members(store, cohort),
        "goals": store.goals(cohort=cohort),
        "ratings": store.ratings(cohort=cohort),
        "actions": store.actions(cohort=cohort),
        "progress": store.progress(cohort=cohort),
        "responses": store.responses(cohort=cohort),
    }


def _data_span(store, participant) -> str:
    days = pd.concat([t["date"] for t in (store.ratings(participant=participant),
                                          store.actions(participant=participant),
                                          store.progress(participant=participant))])
    if days.empty:
        return f"'{participant}' has no ratings, actions or progress yet"
    return (f"the data of '{participant}' runs from {_day_text(days.min())} "
            f"to {_day_text(days.max())}")


def check_parameters(kind: str, store, **params) -> dict[str, object]:
    """Check a report's parameters against the store; return them complete and normalised.

    Parameters
    ----------
    kind : {"personal", "cohort"}
    store : Store
        An open store.
    **params
        ``participant``, ``start``, ``end`` for a personal report; ``cohort`` and
        ``min_group_size`` for a cohort report.

    Returns
    -------
    dict
        Every parameter of the kind (defaults filled in), dates as ``YYYY-MM-DD`` text.

    Raises
    ------
    ReportParameterError
        Unknown kind or parameter name, missing participant/cohort, malformed or empty date
        range, a range with no data, a bad ``min_group_size``.
    UnknownParticipantError, UnknownCohortError
        The participant or cohort is not in the store.
    """
    if kind not in PARAMETERS:
        raise ReportParameterError(f"unknown report kind {kind!r}; use one of {', '.join(KINDS)}")
    allowed = PARAMETERS[kind]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ReportParameterError(
            f"unknown parameter{'s' if len(unknown) > 1 else ''} for a {kind} report: "
            f"{', '.join(unknown)}; it takes {', '.join(allowed)}")
    full = {**allowed, **{k: v for k, v in params.items() if v is not None}}
    if kind == "personal":
        if not full["participant"]:
            raise ReportParameterError("a personal report needs a participant (--participant ID)")
        frames = personal_frames(store, str(full["participant"]), start=full["start"], end=full["end"])
        if all(frames[t].empty for t in ("ratings", "actions", "progress")):
            where = (f"between {_day_text(_parse_day(full['start'], 'start')) or 'the beginning'} and "
                     f"{_day_text(_parse_day(full['end'], 'end')) or 'the end'}")
            raise ReportParameterError(
                f"no ratings, actions or progress of '{full['participant']}' {where}; "
                f"{_data_span(store, full['participant'])}")
        full["participant"] = str(full["participant"])
        full["start"] = _day_text(_parse_day(full["start"], "start"))
        full["end"] = _day_text(_parse_day(full["end"], "end"))
    elif kind == "experiment":
        if not full["participant"] or not full["experiment"]:
            raise ReportParameterError("an experiment report needs a participant and an experiment "
                                       "(--participant ID --experiment ID)")
        full["participant"], full["experiment"] = str(full["participant"]), str(full["experiment"])
        store.require_participant(full["participant"])
        store.experiment(full["experiment"], participant=full["participant"])  # names the known ones
    else:
        if not full["cohort"]:
            raise ReportParameterError("a cohort report needs a cohort (--cohort NAME)")
        size = full["min_group_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 2:
            raise ReportParameterError(
                f"min_group_size must be a whole number of at least 2; got {size!r}")
        _cohort_members(store, str(full["cohort"]))  # the notebook reads the tables itself
        full["cohort"] = str(full["cohort"])
    return full


# ============================================================================ display helpers
_figures_shown: dict[str, int] = {}  # figure names shown in this kernel; plotly.js goes with the first


def figure_id(name: str) -> str:
    """The fixed div id of a report figure: ``fig-`` and ``name`` reduced to ``[a-z0-9-]``."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")
    if not slug:
        raise ReportError(f"a figure needs a name with letters or digits; got {name!r}")
    return f"fig-{slug}"


@functools.lru_cache(maxsize=1)
def plotlyjs_payload() -> str:
    """plotly.js (the bundle plotly.py ships), gzip-compressed and base64-encoded.

    Compressed with a fixed level and no timestamp, so the same plotly version gives the
    same bytes (a report re-renders byte for byte). About 2 MB instead of 4.8 MB.
    """
    import base64
    import gzip

    from plotly.offline import get_plotlyjs

    raw = get_plotlyjs().encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


# The page inflates plotly.js with the browser's own DecompressionStream (no network, no
# library) and runs it; every figure's script waits on window.masteryPlotly. A browser without
# DecompressionStream (older than 2023) gets a sentence in place of each chart.
_LOADER = """<script data-encoding="gzip+base64" data-plotly-version="{version}" \
id="mastery-plotlyjs" type="application/octet-stream">{payload}</script>
<script type="text/javascript">
window.PlotlyConfig = {{MathJaxConfig: 'local'}};
window.masteryPlotly = (function () {{
  function fail(why) {{
    document.querySelectorAll(".mastery-figure").forEach(function (el) {{
      var p = document.createElement("p");
      p.className = "notice";
      p.textContent = "This chart could not be drawn: " + why +
        ". Open the report in a current browser (Chrome, Edge, Firefox or Safari).";
      el.insertBefore(p, el.firstChild);
    }});
    return new Promise(function () {{}});
  }}
  if (typeof DecompressionStream === "undefined" || typeof Response === "undefined") {{
    return fail("this browser cannot unpack the charting library");
  }}
  var text = atob(document.getElementById("mastery-plotlyjs").textContent);
  var bytes = new Uint8Array(text.length);
  for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).text().then(function (code) {{
    var script = document.createElement("script");
    script.text = code;
    document.head.appendChild(script);
    return window.Plotly;
  }}, function (err) {{ return fail(String(err)); }});
}})();
</script>"""

_PLOT_SCRIPT = re.compile(r"<script(?: type=\"text/javascript\")?>(.*?)</script>", re.S)


def figure_html(fig, name: str, *, include_plotlyjs: bool) -> str:
    """A figure as an HTML fragment with a fixed div id and, optionally, plotly.js inlined.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
    name : str
        Names the figure; its div id is :func:`figure_id` of it.
    include_plotlyjs : bool
        Inline plotly.js, compressed (:func:`plotlyjs_payload`), with the loader that
        unpacks it; do it for the first figure of a page only.

    Returns
    -------
    str
        ``<div class="mastery-figure" data-figure="...">`` around plotly's ``to_html`` div,
        whose script draws the figure once plotly.js is loaded.
    """
    import plotly

    height = fig.layout.height or 480
    div = fig.to_html(full_html=False, include_plotlyjs=False,
                      div_id=figure_id(name), default_width="100%", default_height=f"{height}px",
                      config={"displaylogo": False, "responsive": True})
    scripts = _PLOT_SCRIPT.findall(div)
    if len(scripts) != 1 or "Plotly.newPlot(" not in scripts[0]:
        raise ReportError(f"plotly {plotly.__version__} writes its figure HTML in a way this "
                          "version of mastery-analysis does not know; please report it")
    # the figure draws once plotly.js is unpacked (in a live notebook, Plotly may be there)
    div = _PLOT_SCRIPT.sub(lambda m: '<script type="text/javascript">'
                           "(window.masteryPlotly || Promise.resolve(window.Plotly))"
                           f".then(function () {{{m.group(1)}}});</script>", div)
    loader = (_LOADER.format(version=html.escape(plotly.__version__), payload=plotlyjs_payload())
              if include_plotlyjs else "")
    return (f'<div class="mastery-figure" data-figure="{html.escape(figure_id(name))}">'
            f"{loader}{div}</div>")


def _display_html(fragment: str) -> None:
    from IPython.display import HTML, display

    display(HTML(fragment))


def show(fig, name: str) -> None:
    """Display a plotly figure in a report: fixed div id, plotly.js inlined with the first one.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
    name : str
        A name unique within the report (``"wheel"``, ``"trajectories"``); it fixes the div id
        (``fig-wheel``), so two renders of the same data give the same bytes. A name shown
        again gets ``-2``, ``-3``, ... appended.
    """
    base = figure_id(name)
    first = not _figures_shown
    seen = _figures_shown.get(base, 0) + 1
    _figures_shown[base] = seen
    # a name shown again (a loop, a re-run cell) gets -2, -3, ...: div ids stay unique
    _display_html(figure_html(fig, name if seen == 1 else f"{name}-{seen}", include_plotlyjs=first))


def table_html(frame: pd.DataFrame, *, caption: str | None = None, index: bool = False,
               digits: int = 3, max_rows: int | None = None, framework=None,
               headers: Mapping[str, str] | None = None) -> str:
    """A frame as an escaped HTML table for reading (cell text a person typed cannot inject
    markup).

    The table goes through :func:`mastery_analysis.display.readable`: headers in words,
    element keys as the framework's labels, p- and q-values as ``< 0.001`` or two
    significant digits, estimates rounded and intervals as one "low to high" column. Only
    the display is rounded; the frame is not changed.

    Parameters
    ----------
    frame : DataFrame
    caption : str, optional
        Shown above the table (escaped).
    index : bool
        Show the index (as the first column).
    digits : int
        Significant digits of estimates.
    max_rows : int, optional
        Show at most this many rows and say how many were left out.
    framework : Framework, optional
        Shows element labels instead of keys.
    headers : mapping, optional
        Headers in words for this table's columns, where the usual ones do not fit.

    Returns
    -------
    str
    """
    from .display import readable

    shown = frame
    more = 0
    if max_rows is not None and len(frame) > max_rows:
        shown, more = frame.head(max_rows), len(frame) - max_rows
    if index:
        shown = shown.reset_index()
    shown = readable(shown, framework=framework, digits=digits, headers=dict(headers or {}))
    body = shown.to_html(escape=True, index=False, na_rep="–", border=0, classes="mastery-table")
    cap = f'<p class="caption">{html.escape(caption)}</p>' if caption else ""
    tail = f'<p class="more">… and {more} more rows</p>' if more else ""
    # wide tables (a dozen statistics) scroll sideways instead of running off the page
    return f'{cap}<div class="table-wrap">{body}</div>{tail}'


def show_table(frame: pd.DataFrame, *, caption: str | None = None, index: bool = False,
               digits: int = 3, max_rows: int | None = None, framework=None,
               headers: Mapping[str, str] | None = None) -> None:
    """Display :func:`table_html` of ``frame``."""
    _display_html(table_html(frame, caption=caption, index=index, digits=digits,
                             max_rows=max_rows, framework=framework, headers=headers))


def show_text(*paragraphs: str, kind: str = "text") -> None:
    """Display paragraphs of plain text, escaped.

    Parameters
    ----------
    *paragraphs : str
    kind : {"text", "notice"}
        ``"notice"`` draws a box (for empty states and privacy suppressions).
    """
    css = "notice" if kind == "notice" else "text"
    _display_html("".join(f'<p class="{css}">{html.escape(str(p))}</p>' for p in paragraphs))


def show_items(items: Iterable[str], *, empty: str | None = None) -> None:
    """Display a bulleted list of plain-text items, escaped (``empty`` is shown when none)."""
    items = [str(i) for i in items]
    if not items:
        if empty:
            show_text(empty, kind="notice")
        return
    _display_html("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")


def suppression_notice(n: int, min_n: int, what: str = "this") -> str:
    """The sentence a report shows where the privacy rule withholds an aggregate."""
    people = "person" if n == 1 else "people"
    return (f"Not shown: {what} would summarise {n} {people}, fewer than {min_n} "
            f"(privacy rule: no aggregate over fewer than {min_n} people).")


def show_aggregate(frame: pd.DataFrame, *, n_col: str = "n", min_n: int = MIN_GROUP_SIZE,
                   caption: str | None = None, columns: Iterable[str] | None = None,
                   digits: int = 3, framework=None,
                   headers: Mapping[str, str] | None = None) -> None:
    """Display an aggregate table with the privacy rule applied.

    Every number of a row summarising fewer than ``min_n`` people is blanked
    (:func:`~mastery_analysis.analysis.privacy.suppress_small`) and a notice says how many
    rows were withheld and why.

    Parameters
    ----------
    frame : DataFrame
        An aggregate with the number of people of each row in ``n_col``.
    n_col : str
        The column counting people.
    min_n : int
        The smallest group shown.
    caption : str, optional
    columns : iterable of str, optional
        The columns to show (default: all but ``suppressed``).
    digits : int
        Significant digits of estimates.
    framework : Framework, optional
        Shows element labels instead of keys.
    headers : mapping, optional
        Headers in words for this table's columns (see :func:`table_html`).
    """
    from .analysis.privacy import suppress_small

    shown = suppress_small(frame, n_col=n_col, min_n=min_n)
    hidden = shown.loc[shown["suppressed"], n_col]
    cols = list(columns) if columns is not None else [c for c in frame.columns if c != "suppressed"]
    show_table(shown[cols], caption=caption, digits=digits, framework=framework, headers=headers)
    if len(hidden):
        show_text(f"{len(hidden)} of {len(shown)} rows withheld: they summarise fewer than "
                  f"{min_n} people (privacy rule: no aggregate over fewer than {min_n} people).",
                  kind="notice")


def reliability_notes(reliability: pd.DataFrame, *, min_n: int = MIN_GROUP_SIZE,
                      phase: str | None = "baseline") -> list[str]:
    """Plain sentences about the scales' reliability in this cohort, for a report.

    One warning per scale whose alpha is under
    :data:`~mastery_analysis.analysis.reliability.ALPHA_WARNING` (0.70), one line per scale
    whose reliable change uses a published or assumed value instead of the measured one (its
    ``note``), and one per questionnaire that is not validated. Rows over fewer than
    ``min_n`` people say nothing about their alpha (privacy rule).

    Parameters
    ----------
    reliability : DataFrame
        From :func:`~mastery_analysis.analysis.reliability.scale_reliability`.
    min_n : int
        The smallest group an aggregate is shown for.
    phase : str or None
        Only this phase's rows (the baseline, which reliable change uses); None for all.

    Returns
    -------
    list of str
    """
    from .analysis.reliability import ALPHA_WARNING
    from .errors import FrameworkError
    from .framework import load_instrument

    rows = reliability if phase is None else reliability.loc[reliability["phase"] == phase]
    out = []
    notes: dict = {}
    for r in rows.itertuples(index=False):
        where = f"{r.instrument}, {r.scale}" + (f" ({r.phase})" if phase is None and r.phase else "")
        if r.n >= min_n and pd.notna(r.alpha) and r.alpha < ALPHA_WARNING:
            out.append(f"Warning: {where}: alpha is {r.alpha:.2f} in this cohort, under {ALPHA_WARNING:.2f}. "
                       "Its scores mix much measurement error into what they measure: read changes and "
                       "differences on it with caution.")
        if r.note and r.n >= min_n:  # one line per note, naming every scale it applies to
            notes.setdefault((r.instrument, r.note), []).append(r.scale)
    out += [f"{instrument} ({', '.join(scales)}): {note}." for (instrument, note), scales in notes.items()]
    for instrument in dict.fromkeys(rows["instrument"]):
        try:
            q = load_instrument(instrument)
        except FrameworkError:  # an instrument no file describes: nothing to say about it
            continue
        if not q.validated:
            out.append(f"{instrument} ({q.title}) is not a validated questionnaire: nothing shows that "
                       "its items measure what they claim, and its scores compare with nothing "
                       "published.")
    return out


def _cell_text(value) -> str:
    if value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return "–"
    return str(value)


def header_html(title: str, parameters: Mapping[str, object],
                frames: Mapping[str, pd.DataFrame]) -> str:
    """The report's header: title, parameters, package version and data fingerprint."""
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_cell_text(v))}</td></tr>"
                   for k, v in parameters.items())
    counts = ", ".join(f"{html.escape(name)} {len(frames[name])}" for name in sorted(frames))
    return (f'<header class="report-header"><h1>{html.escape(title)}</h1>'
            f'<table class="parameters">{rows}'
            f"<tr><th>mastery-analysis</th><td>{html.escape(__version__)}</td></tr>"
            f"<tr><th>data fingerprint</th><td><code>{data_fingerprint(frames)}</code></td></tr>"
            f"<tr><th>rows used</th><td>{counts}</td></tr></table></header>")


def show_header(title: str, parameters: Mapping[str, object],
                frames: Mapping[str, pd.DataFrame]) -> None:
    """Display :func:`header_html`: what the report is of, and how to reproduce it."""
    _display_html(header_html(title, parameters, frames))


# ============================================================================ rendering
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:0;
line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:1.5rem}
h1{font-size:1.7rem;margin:.2rem 0 .8rem}h2{font-size:1.3rem;margin-top:2rem;
border-bottom:1px solid #d0d7de;padding-bottom:.2rem}h3{font-size:1.1rem}
a.anchor-link{display:none}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
.table-wrap{overflow-x:auto;max-width:100%}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
thead th{background:#f6f8fa}
table.parameters th{background:#f6f8fa;font-weight:600}
.notice{border-left:4px solid #bf8700;background:#fff8c5;padding:.5rem .8rem}
.caption{font-weight:600;margin-bottom:.2rem}.more{color:#59636e;font-size:.85rem}
.mastery-figure{margin:1rem 0;break-inside:avoid}
pre{white-space:pre-wrap}
@media print{main{max-width:none;padding:0}h2{break-after:avoid}table{break-inside:auto;
font-size:.7rem}.table-wrap{overflow-x:visible}}
"""

_HTML_TEMPLATE = """{%- extends 'classic/base.html.j2' -%}
{%- block header -%}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="mastery-analysis {{ resources.mastery_version | e }}">
<title>{{ nb.metadata.get('title', 'Mastery report') | e }}</title>
<style>{{ resources.mastery_css }}</style>
</head>
{%- endblock header -%}
{%- block body_header -%}
<body>
<main class="mastery-report">
{%- endblock body_header -%}
{%- block body_footer -%}
</main>
</body>
{%- endblock body_footer -%}
{%- block footer -%}
</html>
{% endblock footer -%}
"""


def template_dir() -> Path:
    """The folder of the report notebooks (``reports/`` of the shipped notebooks)."""
    from .resources import notebooks_dir

    folder = notebooks_dir() / "reports"
    if not folder.is_dir():
        raise ReportError(f"the report notebooks are not at {folder}; reinstall mastery-analysis")
    return folder


def template_path(kind: str) -> Path:
    """The notebook of a report kind: ``<template_dir>/<kind>_report.ipynb``."""
    if kind not in KINDS:
        raise ReportParameterError(f"unknown report kind {kind!r}; use one of {', '.join(KINDS)}")
    path = template_dir() / f"{kind}_report.ipynb"
    if not path.is_file():
        raise ReportError(f"the {kind} report notebook is missing: {path}")
    return path


def _title(kind: str, params: Mapping[str, object]) -> str:
    if kind == "personal":
        return f"Personal report: {params['participant']}"
    if kind == "experiment":
        return f"Self-experiment report: {params['experiment']}"
    return f"Cohort report: {params['cohort']}"


def _reserve(path: Path) -> Path:
    """Check that ``path`` can be written and reserve a temporary file beside it."""
    if path.is_dir():
        raise ReportOutputError(f"cannot write the report to {path}: it is a folder; give a file name")
    blocker = next((p for p in path.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise ReportOutputError(f"cannot write the report to {path}: {blocker} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportOutputError(f"cannot create the folder {path.parent} for the report: "
                                f"{exc.strerror or exc}") from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ReportOutputError(f"cannot write the report to {path}: {exc.strerror or exc}") from None
    os.close(fd)
    return Path(tmp)


def _publish(tmp: Path, path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
    os.replace(tmp, path)


def _store_url(store) -> tuple[str, object | None]:
    """(URL for the kernel, Store to close or None) from a Store, a URL, a path or None."""
    from sqlalchemy.engine import make_url

    from .store import Store, open_store, resolve_url

    if isinstance(store, Store):
        url, owned = store.url, None
        opened = store
    else:
        url = resolve_url(store)
        opened = owned = open_store(url, create=False)
    if url.startswith("sqlite") and make_url(url).database in (None, "", ":memory:"):
        if owned is not None:
            owned.close()
        raise ReportParameterError("an in-memory store cannot be reported on; use a file or a URL")
    return url, opened if owned is None else owned


def _report_kernel_manager(folder: str):
    """A kernel manager for one report's kernel: it talks over Unix sockets in ``folder`` (a
    render's own temporary folder) rather than TCP ports, and its kernel's log lines stay off
    our stderr.

    With TCP, each kernel's five ports are picked free and only bound later, so renders in
    parallel processes (a batch of reports, the server's workers) now and then picked the
    same port and one kernel died at start ("Kernel died before replying to kernel_info").
    Sockets named inside the render's own folder cannot collide, and no port is opened.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class ReportKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self):
            return "ipc"

        @default("ip")
        def _ip_default(self):
            return os.path.join(folder, "kernel")  # the sockets: kernel-1, kernel-2, ...

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw["stderr"] = subprocess.DEVNULL  # the kernel's own log lines
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return ReportKernelManager


def execute_notebook(kind: str, parameters: Mapping[str, object], *, store_url: str):
    """Run a report notebook with papermill; return the executed, normalised notebook.

    Normalised means: stderr streams dropped, cell ids set from their position, and every
    metadata field cleared except cell tags, so two runs on the same data are equal.

    Raises
    ------
    ReportError
        A cell of the notebook failed (the message names the cell and the error).
    """
    import nbformat
    import papermill as pm
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import DeadKernelError
    from nbconvert.preprocessors import ClearMetadataPreprocessor

    source = template_path(kind)
    tmp_dir = tempfile.mkdtemp(prefix="mastery-report-")
    executed = Path(tmp_dir) / source.name
    try:
        try:
            pm.execute_notebook(str(source), str(executed),
                                parameters={"store": store_url, **parameters},
                                kernel_name="python3", progress_bar=False, log_output=False,
                                cwd=str(source.parent),
                                kernel_manager_class=_report_kernel_manager(tmp_dir))
        except pm.PapermillExecutionError as exc:
            raise ReportError(f"the {kind} report failed in cell {exc.exec_count}: "
                              f"{exc.ename}: {exc.evalue}") from None
        except (DeadKernelError, NoSuchKernel, RuntimeError, TimeoutError) as exc:
            raise ReportError(f"the Python kernel that runs the {kind} report failed: "
                              f"{type(exc).__name__}: {exc} (is ipykernel installed?)") from None
        nb = nbformat.read(executed, as_version=4)
    finally:
        for p in Path(tmp_dir).iterdir():
            p.unlink()
        os.rmdir(tmp_dir)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.get("name") == "stderr")]
    clear = ClearMetadataPreprocessor(clear_cell_metadata=True, clear_notebook_metadata=True,
                                      preserve_cell_metadata_mask={"tags"},
                                      preserve_nb_metadata_mask={("language_info", "name")})
    nb, _ = clear.preprocess(nb, {})
    nb.metadata["title"] = _title(kind, parameters)
    return nb


def notebook_to_html(nb) -> str:
    """Convert an executed report notebook to self-contained HTML without code cells."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="classic",
        extra_loaders=[DictLoader({"mastery_report.html.j2": _HTML_TEMPLATE})],
        template_file="mastery_report.html.j2",
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
        anchor_link_text="",
    )
    body, _ = exporter.from_notebook_node(
        nb, resources={"mastery_css": _CSS.strip(), "mastery_version": __version__,
                       "metadata": {"name": nb.metadata.get("title", "report")}})
    return body


def pdf_path_for(out: str | os.PathLike) -> Path:
    """Where ``--pdf`` writes the PDF of the report at ``out``: same name, ``.pdf``."""
    return Path(out).with_suffix(".pdf")


def render_report(kind: str, *, out: str | os.PathLike, store=None, pdf: bool = False,
                  **params) -> Path:
    """Render a report to one self-contained HTML file (and optionally a PDF beside it).

    Parameters are checked, and the output is checked to be writable, before anything runs;
    on any error nothing is written.

    Parameters
    ----------
    kind : {"personal", "cohort", "experiment"}
    out : path
        The HTML file to write (its folder is created if needed).
    store : Store, str, path or None
        The store to report on: an open :class:`~mastery_analysis.store.Store`, a URL, a
        SQLite path, or None for ``$MASTERY_STORE`` / the default store.
    pdf : bool
        Also write a PDF (:func:`pdf_path_for` ``out``) through headless Chromium.
    **params
        Personal: ``participant`` (required), ``start``, ``end`` (``YYYY-MM-DD``, inclusive).
        Cohort: ``cohort`` (required), ``min_group_size`` (default 5).
        Experiment: ``participant`` and ``experiment`` (both required).

    Returns
    -------
    Path
        The HTML file written.

    Raises
    ------
    ReportParameterError, UnknownParticipantError, UnknownCohortError
        Bad parameters (nothing was run or written).
    ReportOutputError
        The output cannot be written there (nothing was run or written).
    ReportError
        The notebook failed or the PDF could not be made (nothing was written).
    """
    if kind not in KINDS:
        raise ReportParameterError(f"unknown report kind {kind!r}; use one of {', '.join(KINDS)}")
    out = Path(out)
    url, opened = _store_url(store)
    try:
        full = check_parameters(kind, opened, **params)
    finally:
        if opened is not store:
            opened.close()
    template_path(kind)
    if pdf and not os.path.exists(CHROMIUM):
        raise ReportError(f"--pdf needs Chromium at {CHROMIUM} (apt-get install chromium)")
    tmp = _reserve(out)
    tmp_pdf = None
    try:
        if pdf:
            tmp_pdf = _reserve(pdf_path_for(out))
        nb = execute_notebook(kind, full, store_url=url)
        tmp.write_text(notebook_to_html(nb), encoding="utf-8")
        if pdf:
            write_pdf(tmp, tmp_pdf)
        _publish(tmp, out)
        if pdf:
            _publish(tmp_pdf, pdf_path_for(out))
    finally:
        for t in (tmp, tmp_pdf):
            if t is not None and t.exists():
                t.unlink()
    return out


_A4_PRINTABLE_PX = (210 - 20) / 25.4 * 96  # A4 width less 2 x 10 mm margins, in CSS pixels


def write_pdf(html_path: str | os.PathLike, pdf_path: str | os.PathLike, *,
              timeout_ms: int = 60000) -> Path:
    """Print a report's HTML to PDF with headless Chromium, offline, once every chart drew.

    Parameters
    ----------
    html_path : path
        A report written by :func:`render_report`.
    pdf_path : path
        The PDF to write (overwritten).
    timeout_ms : int
        How long to wait for the charts to draw.

    Returns
    -------
    Path
        ``pdf_path``.
    """
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ReportError("--pdf needs playwright (pip install playwright); "
                          "Chromium itself comes from apt-get install chromium") from None
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)

    def run():
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.route("**/*", lambda route: route.continue_()
                           if route.request.url.startswith(("file:", "data:")) else route.abort())
                page.goto(html_path.as_uri(), wait_until="load")
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.mastery-figure')].every("
                    "d => d.querySelector('.js-plotly-plot .main-svg'))", timeout=timeout_ms)
                # scale the page so the widest content (the fixed-width charts) fits on A4
                width = page.evaluate("() => Math.max(document.documentElement.scrollWidth, "
                                      "...[...document.querySelectorAll('.js-plotly-plot')]"
                                      ".map(e => e.scrollWidth))")
                scale = max(0.1, min(1.0, _A4_PRINTABLE_PX / max(width, 1)))
                page.pdf(path=str(pdf_path), format="A4", print_background=True, scale=scale,
                         margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"})
            finally:
                browser.close()

    # playwright's sync API refuses to run in a thread with an asyncio loop (a Jupyter kernel,
    # another playwright session): a thread of its own has none.
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            pool.submit(run).result()
        except PlaywrightError as exc:
            raise ReportError(f"Chromium could not print the report to PDF: {exc}") from None
    return pdf_path


def report_jobs() -> int:
    """Reports rendered side by side by default: one per core, up to 4 (each is a kernel of
    its own, a few hundred MB)."""
    return max(1, min(4, os.cpu_count() or 1))


def render_personal_reports(cohort: str, *, out_dir: str | os.PathLike, store=None,
                            pdf: bool = False, progress: bool = True,
                            log: Callable[[str], None] | None = None,
                            jobs: int | None = None) -> list[Path]:
    """One personal report per consenting member of a cohort, ``personal-<id>.html`` each.

    Participants without consent to share get no report; members with no data yet are
    skipped with a message. The cohort and the folder are checked before anything runs.
    Reports are rendered ``jobs`` at a time, each by :func:`render_report` in a worker
    process of its own, so each file is byte for byte the one a single ``render_report``
    writes. If one fails, the reports not yet started are not started, those running finish,
    and the error is raised.

    Parameters
    ----------
    cohort : str
    out_dir : path
        Folder for the reports (created if needed).
    store : Store, str, path or None
        As for :func:`render_report`.
    pdf : bool
        Also write a PDF of each.
    progress : bool
        Show a tqdm progress bar (on stderr).
    log : callable, optional
        Receives one line per skipped participant (default: print to stderr).
    jobs : int, optional
        Reports rendered at once (default :func:`report_jobs`: one per core, up to 4).

    Returns
    -------
    list of Path
        The HTML files written, in participant order.
    """
    from tqdm import tqdm

    jobs = report_jobs() if jobs is None else jobs
    if not isinstance(jobs, int) or jobs < 1:
        raise ReportParameterError(f"jobs={jobs!r} should be a whole number of reports at once, like 2")
    log = log or (lambda line: print(line, file=sys.stderr))
    url, opened = _store_url(store)
    try:
        frames = cohort_frames(opened, cohort)
        members = frames["participants"]
        consenting = members.loc[members["consent_share"], "participant_id"].tolist()
        with_data = set().union(*(set(frames[t]["participant_id"])
                                  for t in ("ratings", "actions", "progress")))
    finally:
        if opened is not store:
            opened.close()
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportOutputError(f"cannot write reports into {out_dir}: it is a file, not a folder")
    _reserve(out_dir / ".probe").unlink()
    for pid in members["participant_id"]:
        if pid not in consenting:
            continue
        if pid not in with_data:
            log(f"skipped {pid}: no ratings, actions or progress yet")
    todo = [pid for pid in consenting if pid in with_data]
    bar = tqdm(total=len(todo), desc=f"personal reports of {cohort}", unit="report",
               disable=not progress)
    kwargs = [dict(out=out_dir / f"personal-{pid}.html", store=url, pdf=pdf, participant=pid)
              for pid in todo]
    with bar:
        if jobs == 1 or len(todo) <= 1:
            written = []
            for kw in kwargs:
                written.append(render_report("personal", **kw))
                bar.update()
            return written
        # spawned workers: a fresh interpreter each, whatever threads this process runs
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=context) as pool:
            futures = [pool.submit(render_report, "personal", **kw) for kw in kwargs]
            try:
                for done in as_completed(futures):
                    done.result()
                    bar.update()
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return [f.result() for f in futures]


__all__ = [
    "KINDS", "PARAMETERS", "MIN_GROUP_SIZE", "ReportError", "ReportParameterError",
    "UnknownCohortError", "ReportOutputError", "UnknownParticipantError",
    "data_fingerprint", "personal_frames", "as_of", "cohort_frames", "check_parameters",
    "figure_id", "figure_html", "show", "table_html", "show_table", "show_text", "show_items",
    "header_html", "show_header", "suppression_notice", "show_aggregate", "template_dir", "template_path", "execute_notebook",
    "notebook_to_html", "render_report", "write_pdf", "pdf_path_for", "render_personal_reports",
    "report_jobs",
]
