"""What the three form importers share: each service's layout, and a mapping applied to rows.

A form export is one row per response. :func:`layout_of` says which of its columns are the
service's own (timestamp, response id, quiz scores, metadata) and :func:`import_form` turns
the rows into ``participants``, ``responses`` and ``ratings`` with a
:class:`~mastery_analysis.importers.mapping.Mapping`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import MappingError
from ..framework import ID_EXPECTED, ID_PATTERN
from . import _parse
from ._result import REJECTED_COLUMNS, ImportResult, empty_rejected, validate_frames
from .mapping import GOOGLE_TIMESTAMP_HEADERS, Mapping, load_mapping, norm_label

_ID = re.compile(ID_PATTERN)
_QUIZ_TOTAL = {"score", "total score", "puntuación", "puntuación total", "pontuação",
               "pontuação total", "punteggio", "punteggio totale", "punktzahl", "gesamtpunktzahl",
               "note", "note totale", "rezultat", "ukupni rezultat", "bodovi"}
_QUIZ_SUFFIX = re.compile(r"\[(score|feedback|puntuación|comentarios|pontuação|comentários|"
                          r"punteggio|commenti|punktzahl|feedback|note|commentaires)\]$", re.I)


@dataclass
class Layout:
    """A form service's own columns in one export.

    Attributes
    ----------
    timestamp : str or None
        The column that says when a response was submitted.
    written_in : str or None
        The zone of timestamps that state none (``UTC`` for Typeform).
    response_id : str or None
        The service's id of each response.
    meta : dict
        Column -> why it is not a question (the service's own columns).
    partial : str or None
        The column that marks unfinished responses (Typeform's ``Response Type``).
    """

    timestamp: str | None
    written_in: str | None = None
    response_id: str | None = None
    meta: dict = field(default_factory=dict)
    partial: str | None = None
    fallback: str | None = None  # where a partial response's time is (Typeform's stage date)


def layout_of(table, fmt: str) -> Layout:
    """The :class:`Layout` of ``table`` as an export of ``fmt``."""
    cols = table.columns
    heads = {norm_label(c): c for c in cols}
    meta: dict[str, str] = {}
    for c in cols:
        if c.startswith("(column ") and all(_parse.is_blank(v) for v in table.rows[c]):
            meta[c] = "a column without header or answers"
    if fmt == "microsoft_forms":
        meta.update({heads[h]: why for h, why in (
            ("id", "the response's id"), ("start time", "when the response was started"),
            ("completion time", "when the response was submitted (the timestamp)"),
            ("last modified time", "when the response was edited"))
            if h in heads})
        for h in ("email", "name"):
            c = heads.get(h)
            if c is None:
                continue
            cells = {norm_label(v) for v in table.rows[c] if not _parse.is_blank(v)}
            if not cells or cells == {"anonymous"}:
                meta[c] = "anonymous responses" if cells else "empty in every response"
        return Layout(timestamp=heads.get("completion time"), response_id=heads.get("id"),
                      meta=meta)
    if fmt == "typeform":
        meta[cols[0]] = "the response's token"
        for h, why in (("start date (utc)", "when the response was started"),
                       ("submit date (utc)", "when the response was submitted (the timestamp)"),
                       ("stage date (utc)", "when the response reached its stage"),
                       ("network id", "the respondent's network"), ("response type", "completed or partial"),
                       ("tags", "Typeform tags"), ("ending", "which ending screen was shown")):
            if h in heads:
                meta[heads[h]] = why
        ts = heads.get("submit date (utc)")
        return Layout(timestamp=ts, written_in="UTC", response_id=cols[0], meta=meta,
                      partial=heads.get("response type"), fallback=heads.get("stage date (utc)"))
    # google_forms: the timestamp column comes first; quiz forms add score columns
    ts = cols[0] if cols else None
    if ts and norm_label(ts) not in GOOGLE_TIMESTAMP_HEADERS:
        shares = {c: _parse.timestamp_share(table.rows[c].head(200)) for c in cols}
        ts = max(shares, key=shares.get) if shares and max(shares.values()) >= 0.9 else ts
    if ts:
        meta[ts] = "when the response was submitted (the timestamp)"
    for c in cols:
        if norm_label(c) in _QUIZ_TOTAL and cols.index(c) <= 2:
            meta[c] = "the quiz's total score"
        elif _QUIZ_SUFFIX.search(c.strip()) or _QUIZ_SUFFIX.search(re.sub(r" \(\d+\)$", "", c)):
            meta[c] = "a quiz score or feedback column"
    return Layout(timestamp=ts, meta=meta)


def is_choice_option(column: str, values) -> bool:
    """True when every answer is the column's own header: one option of a Typeform
    multiple-choice question written one column per option."""
    base = norm_label(re.sub(r" \(\d+\)$", "", column))
    cells = [norm_label(v) for v in values if not _parse.is_blank(v)]
    return bool(cells) and all(c == base for c in cells)


def looks_like_checkboxes(values) -> bool:
    """True when cells join several answers with ``", "`` or ``";"`` (a checkbox
    question): many cells hold a separator and the parts repeat across cells."""
    cells = [str(v).strip() for v in values if not _parse.is_blank(v)]
    if len(cells) < 3:
        return False
    for sep in (";", ", "):
        joined = [c for c in cells if sep in c]
        if len(joined) < 0.2 * len(cells):
            continue
        parts = [p.strip() for c in cells for p in c.split(sep) if p.strip()]
        if len(set(parts)) <= 0.5 * len(parts) and len(set(parts)) < len(set(cells)):
            return True
    return False


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _resolve(table, name: str, where: str, key: str) -> str:
    """The table's column that the mapping's ``name`` means, or a MappingError."""
    wanted = norm_label(name)
    for c in table.columns:
        if norm_label(c) == wanted:
            return c
    import difflib

    near = difflib.get_close_matches(name, table.columns, n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    raise MappingError(f"{where}: key '{key}' names the column {name!r}, which "
                       f"{table.source} does not have{hint}")


def import_form(table, fmt: str, *, participant_id=None, mapping=None, dayfirst=None,
                framework=None) -> ImportResult:
    """Apply a survey mapping to a form export already read.

    Parameters
    ----------
    table : RawTable
        The export, read by :func:`mastery_analysis.importers._parse.read_table`.
    fmt : str
        ``google_forms``, ``microsoft_forms`` or ``typeform``.
    participant_id : str, optional
        Every response is this person's (the mapping's participant is then not needed).
    mapping : str, Path, dict or Mapping
        The survey mapping; without one a :class:`MappingError` says how to get a draft.
    dayfirst : bool, optional
        Overrides the mapping's ``timestamp.dayfirst``.
    framework : str, Path or Framework, optional

    Returns
    -------
    ImportResult
        ``frames``: ``participants`` (participant_id, name, cohort), ``responses``
        (participant_id, date, phase, instrument, item, value) and/or ``ratings``
        (participant_id, date, element, rating, kind, note, source), each indexed by the
        line of the response in the file; ``rejected`` cells; ``unmapped`` columns and
        answers; ``notes``.
    """
    if mapping is None:
        raise MappingError(
            f"{table.source}: a {fmt.replace('_', ' ').title()} export does not say which "
            f"columns are questionnaire items or element ratings; write a draft with "
            f"'mastery import forms {table.source} --suggest-mapping mapping.yaml', edit "
            f"it, and pass it with --mapping mapping.yaml")
    m: Mapping = load_mapping(mapping, framework=framework)
    where = m.source
    layout = layout_of(table, fmt)
    rows = table.rows
    lines = table.lines
    n = len(rows)
    notes = list(table.notes)
    rejected: list[dict] = []

    ts_col = _resolve(table, m.timestamp, where, "timestamp.column") if m.timestamp else layout.timestamp
    if ts_col is None:
        raise MappingError(f"{where}: {table.source} has no timestamp column this reader "
                           f"knows; name it under timestamp.column")
    order = dayfirst if dayfirst is not None else m.dayfirst
    stamps = rows[ts_col]
    if layout.partial and m.include_partial and layout.fallback and not m.timestamp:
        # a partial response was never submitted: its time is when it reached its stage
        stamps = stamps.where(~stamps.map(_parse.is_blank), rows[layout.fallback])
    times = _parse.parse_timestamps(stamps, column=ts_col, source=table.source,
                                    lines=lines, dayfirst=order, timezone=m.timezone,
                                    written_in=layout.written_in, epoch=table.epoch)
    rejected += times.rejected
    ok = times.local.notna().to_numpy().copy()
    for i in np.flatnonzero(~ok):
        if _parse.is_blank(stamps.iloc[i]):
            rejected.append(_parse._reject(lines[i], ts_col, "", "the response's timestamp"))
    if times.order:
        how = (f"from {times.evidence!r}" if times.decided_by == "evidence" and times.evidence
               else "as asked" if times.decided_by == "option" else "")
        notes.append(f"dates in '{ts_col}' read {_parse._ORDER_WORDS[times.order]} {how}".rstrip())

    keep = np.ones(n, dtype=bool)
    if layout.partial and not m.include_partial:
        partial = rows[layout.partial].map(lambda v: norm_label(v) == "partial").to_numpy()
        if partial.any():
            keep &= ~partial
            notes.append(f"{int(partial.sum())} partial responses (never submitted) left out; "
                         f"include_partial: true in the mapping keeps them")

    # who answered
    pids, names, id_problems = _participants(table, layout, m, participant_id, times, where)
    for i, value, expected, column in id_problems:
        rejected.append(_parse._reject(lines[i], column, value, expected))
        ok[i] = False
    good = ok & keep

    # the phase of each response
    if isinstance(m.phase, str):
        phases = np.array([m.phase] * n, dtype=object)
    else:
        pc = _resolve(table, m.phase.column, where, "phase.column")
        phases = np.array([m.phase.values.get(norm_label(v)) for v in rows[pc]], dtype=object)
        for i in np.flatnonzero(good & (phases == None)):  # noqa: E711 - elementwise
            rejected.append(_parse._reject(lines[i], pc, rows[pc].iloc[i],
                                           f"one of the answers under phase.values "
                                           f"({', '.join(sorted(m.phase.values))})"))
            good[i] = False

    days = times.day
    responses, ratings, unmapped_answers = [], [], []
    used = {ts_col}
    if m.participant and m.participant.column:
        used.add(_resolve(table, m.participant.column, where, "participant.column"))
    if not isinstance(m.phase, str):
        used.add(_resolve(table, m.phase.column, where, "phase.column"))
    for cm in m.columns:
        col = _resolve(table, cm.column, where, cm.key)
        used.add(col)
        cells = rows[col]
        if cm.answers is None:
            parsed = _parse.parse_numbers(cells, column=col, lines=lines,
                                          decimal_hint=table.decimal_hint)
            values = parsed.values.to_numpy()
            for r in parsed.rejected:
                pos = int(np.flatnonzero(lines == r["line"])[0])
                if good[pos]:
                    rejected.append(r)
        else:
            labels = [None if _parse.is_blank(v) else norm_label(
                int(v) if isinstance(v, float) and v == int(v) else v) for v in cells]
            values = np.array([np.nan if lab is None else cm.answers.get(lab, np.nan)
                               for lab in labels], dtype=float)
            unknown = np.array([lab is not None and lab not in cm.answers for lab in labels],
                               dtype=bool)
            seen = set()
            for i in np.flatnonzero(unknown & good):
                written = str(cells.iloc[i]).strip()
                if norm_label(written) not in seen:
                    seen.add(norm_label(written))
                    unmapped_answers.append(f"{col}: {written}")
                rejected.append(_parse._reject(lines[i], col, cells.iloc[i],
                                               f"an answer mapped under '{cm.key}.answers'"))
        present = good & ~np.isnan(values)
        idx = np.flatnonzero(present)
        if not len(idx):
            continue
        base = {"participant_id": pids[idx], "date": days.to_numpy()[idx],
                "_when": times.local.to_numpy()[idx], "_line": lines[idx]}
        if cm.item is not None:
            responses.append(pd.DataFrame({**base, "phase": phases[idx],
                                           "instrument": cm.instrument, "item": cm.item,
                                           "value": values[idx]}))
        else:
            ratings.append(pd.DataFrame({**base, "element": cm.element, "rating": values[idx],
                                         "kind": cm.kind, "note": None, "source": fmt}))

    frames = {}
    resp = _latest(pd.concat(responses, ignore_index=True) if responses else None,
                   ["participant_id", "date", "instrument", "item"], notes, "answers")
    rate = _latest(pd.concat(ratings, ignore_index=True) if ratings else None,
                   ["participant_id", "date", "element", "kind"], notes, "ratings")
    if resp is not None:
        frames["responses"] = resp
    if rate is not None:
        frames["ratings"] = rate
    idx = np.flatnonzero(good)
    people = pd.DataFrame({"participant_id": pids[idx], "name": names[idx],
                           "cohort": m.cohort, "_line": lines[idx]})
    people = people.drop_duplicates("participant_id", keep="first")
    frames["participants"] = people.set_index("_line").rename_axis(None)
    if not frames["participants"].empty:
        frames["participants"]["name"] = frames["participants"]["name"].astype(object)

    fw = m.framework
    clean, bad = validate_frames(frames, framework=fw)
    if len(bad):
        rejected += bad.to_dict("records")
    skipped = sorted(set(table.columns) - used - set(layout.meta) - set(_ignored(table, m, where)))
    unmapped = {"columns": skipped, "answers": unmapped_answers}
    reject_frame = (pd.DataFrame(rejected, columns=list(REJECTED_COLUMNS))
                    .sort_values(["line", "column"], key=lambda s: s.astype(str) if s.name == "column" else s,
                                 kind="stable").reset_index(drop=True)
                    if rejected else empty_rejected())
    if layout.meta:
        notes.append(f"{len(layout.meta)} columns are {fmt.replace('_', ' ')}'s own "
                     f"(timestamp, ids, scores...) and are not answers")
    return ImportResult(format=fmt, source=table.source, frames=clean, rejected=reject_frame,
                        unmapped=unmapped, notes=notes)


def _ignored(table, m: Mapping, where):
    out = []
    for name in m.ignore:
        wanted = norm_label(name)
        match = [c for c in table.columns if norm_label(c) == wanted]
        out += match  # an ignored column the file lacks is harmless (a form edited later)
    return out


def _latest(frame, key, notes, what):
    """One row per key: the latest response of a day wins (a later submission corrects)."""
    if frame is None or frame.empty:
        return None
    frame = frame.sort_values(["_when", "_line"], kind="stable")
    dup = frame.duplicated(key, keep="last")
    if dup.any():
        lines = sorted(set(frame.loc[dup, "_line"].tolist()))
        shown = ", ".join(map(str, lines[:10])) + (" ..." if len(lines) > 10 else "")
        notes.append(f"{int(dup.sum())} {what} replaced by a later response of the same "
                     f"person on the same day (lines {shown})")
        frame = frame[~dup]
    frame = frame.sort_values(["_line"], kind="stable")
    return frame.drop(columns=["_when"]).set_index("_line").rename_axis(None)


def _participants(table, layout: Layout, m: Mapping, participant_id, times, where):
    """Each row's participant id and name, and the cells that cannot name anyone."""
    rows = table.rows
    n = len(rows)
    names = np.array([None] * n, dtype=object)
    problems = []
    if participant_id is not None:
        if not isinstance(participant_id, str) or not _ID.match(participant_id):
            raise MappingError(f"participant id {participant_id!r} should be {ID_EXPECTED}")
        return np.array([participant_id] * n, dtype=object), names, problems
    pm = m.participant
    if pm is None:
        raise MappingError(
            f"{where}: no 'participant' key, and no --participant given: say which column "
            f"identifies people ({{column: ..., kind: id|email|name|code}}), or kind: "
            f"anonymous to make each response its own participant")
    pids = np.array([None] * n, dtype=object)
    if pm.kind == "anonymous":
        if layout.response_id:
            raw = [f"{pm.prefix}{_slug(str(v))}" if not _parse.is_blank(v) else None
                   for v in rows[layout.response_id]]
        else:
            stamps = times.local.dt.strftime("%Y%m%dT%H%M%S").tolist()
            raw, seen = [], {}
            for s in stamps:
                if not isinstance(s, str):
                    raw.append(None)
                    continue
                seen[s] = seen.get(s, 0) + 1
                raw.append(f"{pm.prefix}{s}" + (f"-{seen[s]}" if seen[s] > 1 else ""))
        column = layout.response_id or layout.timestamp
        for i, v in enumerate(raw):
            if v is not None and _ID.match(v):
                pids[i] = v
            elif v is not None:
                problems.append((i, v, ID_EXPECTED, column))
        return pids, names, problems
    col = _resolve(table, pm.column, where, "participant.column")
    for i, v in enumerate(rows[col]):
        if _parse.is_blank(v):
            problems.append((i, "", f"the {pm.kind} that identifies the participant", col))
            continue
        text = " ".join(str(v).replace("\u00a0", " ").split())
        if isinstance(v, float) and v == int(v):
            text = str(int(v))
        if pm.kind == "email":
            pid = text.lower()
            if "@" not in pid:
                problems.append((i, v, "an e-mail address", col))
                continue
        elif pm.kind == "name":
            pid = _slug(text)
            names[i] = text
        elif pm.kind == "code":
            pid = text.replace(" ", "").casefold()
        else:
            pid = text
        pid = pm.prefix + pid
        if not _ID.match(pid):
            problems.append((i, v, f"a participant {pm.kind} that gives {ID_EXPECTED}", col))
            continue
        pids[i] = pid
    return pids, names, problems
