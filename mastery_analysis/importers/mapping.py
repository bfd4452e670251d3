"""The survey mapping: which column of a form export is what, and what its answers are worth.

A form export (Google Forms, Microsoft Forms, Typeform) knows nothing of our elements. A
mapping file (YAML) says it::

    participant:                  # who answered: a column, or anonymous responses
      column: Email               # an id, e-mail or name column, or a code question
      kind: email                 # id | email | name | code (names and e-mails become ids)
    timestamp:
      column: Timestamp           # found by parsing when left out
      dayfirst: true              # only when the column cannot tell (31/05 tells by itself)
      timezone: Europe/Sarajevo   # optional: convert times that state their zone
    phase: baseline               # or {column: Session, values: {Before: baseline, After: post}}
                                  # (required when items are mapped)
    instrument: career_mastery_q  # the default instrument of the items below
    scales:                       # named answer scales, per language
      agree5:
        en: {Strongly disagree: 1, Disagree: 2, Neutral: 3, Agree: 4, Strongly agree: 5}
        es: {Totalmente en desacuerdo: 1, En desacuerdo: 2, Neutral: 3, De acuerdo: 4,
             Totalmente de acuerdo: 5}
    columns:
      "I reach out to people who work in areas that interest me.":
        item: con1                # an item of the instrument (the framework's questionnaire
        answers: agree5           #   checks it exists); answers: a scale name or a mapping
      "How proactive were you this week? (1-10)":
        element: proactive        # an element rating instead of an item
        kind: current             # or vision
    ignore: ["What is your major?"]   # read and deliberately left out

An answer mapped to ``skip`` ("Not applicable": skip) is read as no answer. Answer labels
are matched with surrounding and repeated spaces (no-break spaces too) and
case ignored. A column without ``answers`` holds numbers. Every problem is a
:class:`~mastery_analysis.errors.MappingError` naming the mapping file and the key.

:func:`suggest_mapping` writes a draft of this file for a given export: the timestamp
column found by parsing, Likert-like columns found by their answer sets (small integer
ranges, or the labels of agreement and frequency scales in several languages), and the
participant column when there is one; a coach edits the draft instead of writing one.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import AmbiguousDateError, FrameworkError, ImportFormatError, MappingError
from ..framework import ID_EXPECTED, ID_PATTERN, Framework, load_framework
from ..schema import KINDS, PHASES
from . import _parse

__all__ = ["Mapping", "ColumnMap", "ParticipantMap", "PhaseMap", "load_mapping",
           "suggest_mapping", "detect", "norm_label", "FORM_FORMATS"]

FORM_FORMATS = ("google_forms", "microsoft_forms", "typeform")
PARTICIPANT_KINDS = ("id", "email", "name", "code", "anonymous")
_ID = re.compile(ID_PATTERN)
SKIP = float("nan")  # an answer mapped to 'skip': read as no answer (e.g. "Not applicable")
_TOP_KEYS = {"format", "participant", "timestamp", "phase", "instrument", "scales",
             "columns", "ignore", "cohort", "include_partial"}


def norm_label(text) -> str:
    """An answer label or header as compared: spaces collapsed, case folded."""
    return " ".join(str(text).replace("\u00a0", " ").split()).casefold()


@dataclass(frozen=True)
class ParticipantMap:
    """Who answered: ``column`` holds an id, e-mail, name or code (``kind``); with kind
    ``anonymous`` each response is its own participant, named ``prefix`` + the response's
    id (or its timestamp when the export has no response id)."""

    column: str | None
    kind: str
    prefix: str = ""


@dataclass(frozen=True)
class PhaseMap:
    """The phase read from a column: answer label (normalised) -> phase."""

    column: str
    values: dict


@dataclass(frozen=True)
class ColumnMap:
    """One mapped column: an item of ``instrument`` or a rating of ``element``."""

    column: str
    instrument: str | None = None
    item: str | None = None
    element: str | None = None
    kind: str = "current"
    answers: dict | None = None  # normalised label -> number; None: the cells are numbers
    key: str = ""  # where in the mapping file, for messages


@dataclass(frozen=True)
class Mapping:
    """A validated survey mapping (see the module's description)."""

    source: str
    format: str | None = None
    participant: ParticipantMap | None = None
    timestamp: str | None = None
    dayfirst: bool | None = None
    timezone: str | None = None
    phase: str | PhaseMap = "baseline"
    columns: tuple[ColumnMap, ...] = ()
    ignore: tuple[str, ...] = ()
    cohort: str | None = None
    include_partial: bool = False
    framework: Framework | None = field(default=None, compare=False)


def load_mapping(mapping, *, framework=None) -> Mapping:
    """Read and check a survey mapping.

    Parameters
    ----------
    mapping : str, Path, dict or Mapping
        A YAML file, its content as a dict, or a mapping already loaded (returned as is).
    framework : str, Path or Framework, optional
        Whose questionnaire items and elements the mapping may name (default framework by
        default).

    Returns
    -------
    Mapping

    Raises
    ------
    MappingError
        Naming the file and the key: unreadable file, unknown key, a column named twice,
        an item the framework's questionnaire lacks, an unknown element, an answer that is
        not a number, a phase that is not baseline/mid/post...
    """
    if isinstance(mapping, Mapping):
        return mapping
    try:
        fw = load_framework(framework)
    except FrameworkError as exc:
        raise MappingError(str(exc)) from None
    if isinstance(mapping, dict):
        data, where = mapping, "the mapping"
    else:
        path = Path(mapping)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MappingError(f"cannot read the mapping file {path}: "
                               f"{getattr(exc, 'strerror', None) or exc}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise MappingError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise MappingError(f"{where}: a mapping file must be a YAML mapping of keys "
                           f"(participant, timestamp, phase, columns...), got "
                           f"{type(data).__name__}")
    unknown = sorted(set(map(str, data)) - _TOP_KEYS)
    if unknown:
        raise MappingError(f"{where}: unknown key {_quote(unknown[0])}{_close(unknown[0], _TOP_KEYS)}; "
                           f"the keys are {', '.join(sorted(_TOP_KEYS))}")
    fmt = data.get("format")
    if fmt is not None and fmt not in FORM_FORMATS:
        raise MappingError(f"{where}: key 'format' is {fmt!r}; expected one of "
                           f"{', '.join(FORM_FORMATS)}")
    scales = _scales(data.get("scales"), where)
    default_instrument = data.get("instrument")
    if default_instrument is None and fw.questionnaire is not None:
        default_instrument = fw.questionnaire.instrument
    if default_instrument is not None:
        _check_id(default_instrument, where, "instrument")
    participant = _participant(data.get("participant"), where)
    roster = participant is not None and participant.column is not None
    columns = _columns(data.get("columns"), where, fw, scales, default_instrument, roster)
    ignore = data.get("ignore") or []
    if not isinstance(ignore, list) or not all(isinstance(c, (str, int, float)) for c in ignore):
        raise MappingError(f"{where}: key 'ignore' should be a list of column names")
    ignore = tuple(str(c) for c in ignore)
    mapped = {norm_label(c.column) for c in columns}
    both = [c for c in ignore if norm_label(c) in mapped]
    if both:
        raise MappingError(f"{where}: column {both[0]!r} is both under 'columns' and under "
                           f"'ignore'")
    timestamp, dayfirst, timezone = _timestamp(data.get("timestamp"), where)
    if "phase" not in data and any(c.item is not None for c in columns):
        # a post survey read as a baseline would turn every change into none: say it
        raise MappingError(f"{where}: key 'phase' is missing; questionnaire answers belong to "
                           f"a phase: baseline, mid or post, or {{column: ..., values: "
                           f"{{answer: phase}}}}")
    phase = _phase(data.get("phase", "baseline"), where)
    cohort = data.get("cohort")
    if cohort is not None:
        _check_id(cohort, where, "cohort")
    include_partial = data.get("include_partial", False)
    if not isinstance(include_partial, bool):
        raise MappingError(f"{where}: key 'include_partial' should be true or false, got "
                           f"{include_partial!r}")
    return Mapping(source=where, format=fmt, participant=participant, timestamp=timestamp,
                   dayfirst=dayfirst, timezone=timezone, phase=phase, columns=columns,
                   ignore=ignore, cohort=cohort, include_partial=include_partial, framework=fw)


def _quote(key) -> str:
    return repr(str(key))


def _close(word, choices) -> str:
    near = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _check_id(value, where, key):
    if not isinstance(value, str) or not _ID.match(value):
        raise MappingError(f"{where}: key '{key}' is {value!r}; expected {ID_EXPECTED}")


def _number(value, where, key) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MappingError(f"{where}: key '{key}' is {value!r}; expected a number (the value "
                           f"this answer stands for)")
    if value != value or value in (float("inf"), float("-inf")):
        raise MappingError(f"{where}: key '{key}' is {value!r}; expected a finite number")
    return float(value)


def _answer_map(raw, where, key) -> dict:
    """label -> number, from a flat mapping or one mapping per language."""
    if not isinstance(raw, dict) or not raw:
        raise MappingError(f"{where}: key '{key}' should map answer labels to numbers (or "
                           f"languages to such mappings), got {raw!r}")
    nested = [isinstance(v, dict) for v in raw.values()]
    if any(nested) and not all(nested):
        raise MappingError(f"{where}: key '{key}' mixes languages and labels; write either "
                           f"{{label: number}} or {{language: {{label: number}}}}")
    groups = raw.items() if all(nested) else [(None, raw)]
    out: dict[str, float] = {}
    origin: dict[str, str] = {}
    for lang, labels in groups:
        if not labels:
            raise MappingError(f"{where}: key '{key}.{lang}' is empty")
        for label, value in labels.items():
            at = f"{key}.{lang}.{label}" if lang is not None else f"{key}.{label}"
            if label is None or norm_label(label) == "":
                raise MappingError(f"{where}: key '{at}': an empty answer label")
            if value is None:
                raise MappingError(f"{where}: key '{at}' has no number; give the value this "
                                   f"answer stands for, or skip to read it as no answer")
            number = SKIP if value == "skip" else _number(value, where, at)
            n = norm_label(label)
            if n in out and out[n] != number and not (out[n] != out[n] and number != number):
                raise MappingError(f"{where}: key '{at}' gives {label!r} the value {value}, but "
                                   f"'{origin[n]}' gave it {out[n]:g}")
            out[n], origin[n] = number, at
    return out


def _scales(raw, where) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: key 'scales' should map scale names to answer mappings")
    return {str(name): _answer_map(labels, where, f"scales.{name}") for name, labels in raw.items()}


def _shipped_instrument(name: str):
    """The shipped validated instrument called ``name`` (None for a form's own instrument)."""
    from ..framework import available_instruments, load_instrument

    return load_instrument(name) if name in available_instruments() else None


def _columns(raw, where, fw: Framework, scales, default_instrument, roster=False
             ) -> tuple[ColumnMap, ...]:
    if (raw is None or raw == {}) and roster:
        return ()  # only who answered: the participants themselves
    if raw is None or raw == {}:
        raise MappingError(f"{where}: key 'columns' is missing or empty; map at least one "
                           f"column to a questionnaire item or an element rating (or name "
                           f"the participant column to import only who answered)")
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: key 'columns' should map column headers to what they "
                           f"are (item or element)")
    q = fw.questionnaire
    out, seen = [], {}
    for header, spec in raw.items():
        key = f"columns.{header}"
        if not isinstance(spec, dict):
            raise MappingError(f"{where}: key '{key}' should be a mapping with 'item' or "
                               f"'element' (and 'answers'), got {spec!r}")
        extra = sorted(set(map(str, spec)) - {"item", "instrument", "element", "kind", "answers"})
        if extra:
            raise MappingError(f"{where}: key '{key}.{extra[0]}' is not known; a column has "
                               f"item, instrument, element, kind and answers")
        n = norm_label(header)
        if n in seen:
            raise MappingError(f"{where}: column {header!r} is mapped twice ('{seen[n]}')")
        seen[n] = key
        has_item, has_element = spec.get("item") is not None, spec.get("element") is not None
        if has_item == has_element:
            raise MappingError(
                f"{where}: key '{key}' needs exactly one of 'item' (a questionnaire item"
                f"{': ' + ', '.join(i.id for i in q.items) if q else ''}) or 'element' (one "
                f"of {', '.join(fw.keys)})")
        answers = spec.get("answers")
        if isinstance(answers, str):
            if answers not in scales:
                raise MappingError(f"{where}: key '{key}.answers' names the scale {answers!r}, "
                                   f"which is not under 'scales'"
                                   f"{_close(answers, scales)}")
            answers = scales[answers]
        elif answers is not None:
            answers = _answer_map(answers, where, f"{key}.answers")
        if has_item:
            instrument = spec.get("instrument", default_instrument)
            if instrument is None:
                raise MappingError(f"{where}: key '{key}.instrument' is missing and the "
                                   f"framework has no questionnaire; name the instrument")
            _check_id(instrument, where, f"{key}.instrument")
            item = spec["item"]
            if not isinstance(item, str):
                item = str(item)
            _check_id(item, where, f"{key}.item")
            known = q if q is not None and instrument == q.instrument else _shipped_instrument(instrument)
            if known is not None:  # the framework's questionnaire or a shipped instrument
                ids = [i.id for i in known.items]
                if item not in ids:
                    raise MappingError(
                        f"{where}: key '{key}.item' is {item!r}, which is not an item of "
                        f"{instrument}{_close(item, ids)}; its items are {', '.join(ids)}")
                if answers:
                    bad = [v for v in answers.values()
                           if v == v and not known.scale.min <= v <= known.scale.max]
                    if bad:
                        raise MappingError(
                            f"{where}: key '{key}.answers' gives {bad[0]:g}, outside "
                            f"{instrument}'s scale ({known.scale.describe()})")
            out.append(ColumnMap(column=str(header), instrument=instrument, item=item,
                                 answers=answers, key=key))
        else:
            element = spec["element"]
            if element not in fw.keys:
                raise MappingError(f"{where}: key '{key}.element' is {element!r}, which is not "
                                   f"an element of {fw.name}{_close(element, fw.keys)}; its "
                                   f"elements are {', '.join(fw.keys)}")
            kind = spec.get("kind", "current")
            if kind not in KINDS:
                raise MappingError(f"{where}: key '{key}.kind' is {kind!r}; expected "
                                   f"{' or '.join(KINDS)}")
            if answers:
                bad = [v for v in answers.values() if v == v and not fw.scale.contains(v)]
                if bad:
                    raise MappingError(f"{where}: key '{key}.answers' gives {bad[0]:g}; an "
                                       f"element rating is {fw.scale.describe()}")
            out.append(ColumnMap(column=str(header), element=element, kind=kind,
                                 answers=answers, key=key))
    return tuple(out)


def _participant(raw, where) -> ParticipantMap | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"column": raw}
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: key 'participant' should be a column name or "
                           f"{{column: ..., kind: id|email|name|code}}")
    extra = sorted(set(map(str, raw)) - {"column", "kind", "prefix"})
    if extra:
        raise MappingError(f"{where}: key 'participant.{extra[0]}' is not known; use column, "
                           f"kind and prefix")
    kind = raw.get("kind", "id" if raw.get("column") is not None else "anonymous")
    if kind not in PARTICIPANT_KINDS:
        raise MappingError(f"{where}: key 'participant.kind' is {kind!r}; expected one of "
                           f"{', '.join(PARTICIPANT_KINDS)}")
    column = raw.get("column")
    if kind != "anonymous" and (column is None or norm_label(column) == ""):
        raise MappingError(f"{where}: key 'participant.column' is missing; name the column "
                           f"that identifies people, or set kind: anonymous")
    prefix = raw.get("prefix", "")
    if not isinstance(prefix, str) or (prefix and not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$", prefix)):
        raise MappingError(f"{where}: key 'participant.prefix' is {prefix!r}; expected letters, "
                           f"digits, '_', '.', '@' or '-'")
    return ParticipantMap(column=None if column is None else str(column), kind=kind, prefix=prefix)


def _timestamp(raw, where):
    if raw is None:
        return None, None, None
    if isinstance(raw, str):
        return raw, None, None
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: key 'timestamp' should be a column name or "
                           f"{{column: ..., dayfirst: true|false, timezone: ...}}")
    extra = sorted(set(map(str, raw)) - {"column", "dayfirst", "timezone"})
    if extra:
        raise MappingError(f"{where}: key 'timestamp.{extra[0]}' is not known; use column, "
                           f"dayfirst and timezone")
    dayfirst = raw.get("dayfirst")
    if dayfirst is not None and not isinstance(dayfirst, bool):
        raise MappingError(f"{where}: key 'timestamp.dayfirst' is {dayfirst!r}; expected true "
                           f"(dd/mm/yyyy), false (mm/dd/yyyy) or nothing")
    tz = raw.get("timezone")
    if tz is not None:
        try:
            _parse._zone(str(tz), where)
        except ImportFormatError:
            raise MappingError(f"{where}: key 'timestamp.timezone' is {tz!r}, not a known time "
                               f"zone; expected an IANA name such as Europe/Sarajevo") from None
    column = raw.get("column")
    return (None if column is None else str(column)), dayfirst, (None if tz is None else str(tz))


def _phase(raw, where):
    if isinstance(raw, str):
        if raw not in PHASES:
            raise MappingError(f"{where}: key 'phase' is {raw!r}; expected one of "
                               f"{', '.join(PHASES)} or {{column: ..., values: {{...}}}}")
        return raw
    if not isinstance(raw, dict) or "column" not in raw or "values" not in raw:
        raise MappingError(f"{where}: key 'phase' should be baseline, mid or post, or "
                           f"{{column: <header>, values: {{<answer>: baseline|mid|post}}}}")
    values = raw["values"]
    if not isinstance(values, dict) or not values:
        raise MappingError(f"{where}: key 'phase.values' should map answers to phases")
    out = {}
    for label, phase in values.items():
        if phase not in PHASES:
            raise MappingError(f"{where}: key 'phase.values.{label}' is {phase!r}; expected one "
                               f"of {', '.join(PHASES)}")
        out[norm_label(label)] = phase
    return PhaseMap(column=str(raw["column"]), values=out)


# --------------------------------------------------------------------------------------
# which form service wrote a file

GOOGLE_TIMESTAMP_HEADERS = (
    "timestamp", "marca temporal", "carimbo de data/hora", "horodateur", "zeitstempel",
    "informazioni cronologiche", "tijdstempel", "sygnatura czasowa", "časová značka",
    "tidsstempel", "tidstämpel", "aikaleima", "zaman damgası", "отметка времени",
    "позначка часу", "タイムスタンプ", "时间戳", "時間戳記", "타임스탬프", "dấu thời gian",
    "cap waktu", "stempel waktu", "marca de temps", "időbélyeg", "χρονική σήμανση",
    "חותמת זמן", "طابع زمني", "ora", "vremenska oznaka",
)
MS_COLUMNS = ("id", "start time", "completion time")
TYPEFORM_META = ("start date (utc)", "submit date (utc)", "network id", "stage date (utc)",
                 "response type", "tags", "ending")


def detect(path, *, table=None) -> str:
    """Which form service exported ``path``: ``google_forms``, ``microsoft_forms`` or
    ``typeform``.

    Raises
    ------
    ImportFormatError
        When the file is none of them, saying what each one looks like.
    """
    table = table if table is not None else _parse.read_table(path)
    return detect_table(table)


def detect_table(table) -> str:
    """:func:`detect` on a table already read."""
    heads = [norm_label(c) for c in table.columns]
    if heads and heads[0] == "#" and any(h in ("submit date (utc)", "network id") for h in heads):
        return "typeform"
    if len(heads) >= 3 and heads[0] == "id" and heads[1:3] == ["start time", "completion time"]:
        return "microsoft_forms"
    if heads and (heads[0] in GOOGLE_TIMESTAMP_HEADERS or (
            len(table.rows) and _parse.timestamp_share(table.rows.iloc[:, 0].head(200)) >= 0.9)):
        return "google_forms"
    raise ImportFormatError(
        f"{table.source}: not an export of a form service: a Google Forms export starts with "
        f"its timestamp column ('Timestamp', 'Marca temporal'...), a Microsoft Forms one with "
        f"'ID, Start time, Completion time', a Typeform one with '#' and ends with "
        f"'Submit Date (UTC)'; this file starts with "
        f"{', '.join(repr(c) for c in table.header[:3]) or 'nothing'}")


# --------------------------------------------------------------------------------------
# a draft mapping

# ordered answer scales (labels normalised), per language; the value is the label's rank
_SCALE_WORDS = {
    "agree": [
        # 7-point labels first: a column with any "slightly" label is read on 7 points
        ["strongly disagree", "disagree", "slightly disagree", "neither agree nor disagree",
         "slightly agree", "agree", "strongly agree"],
        ["totalmente en desacuerdo", "en desacuerdo", "algo en desacuerdo",
         "ni de acuerdo ni en desacuerdo", "algo de acuerdo", "de acuerdo",
         "totalmente de acuerdo"],
        ["discordo totalmente", "discordo", "discordo parcialmente",
         "não concordo nem discordo", "concordo parcialmente", "concordo",
         "concordo totalmente"],
        ["pas du tout d'accord", "pas d'accord", "plutôt pas d'accord",
         "ni d'accord ni pas d'accord", "plutôt d'accord", "d'accord", "tout à fait d'accord"],
        ["stimme überhaupt nicht zu", "stimme nicht zu", "stimme eher nicht zu",
         "weder noch", "stimme eher zu", "stimme zu", "stimme voll und ganz zu"],
    ],
    "frequency": [
        ["never", "rarely", "sometimes", "often", "always"],
        ["nunca", "casi nunca", "a veces", "casi siempre", "siempre"],
        ["nunca", "raramente", "às vezes", "frequentemente", "sempre"],
        ["jamais", "rarement", "parfois", "souvent", "toujours"],
        ["nie", "selten", "manchmal", "oft", "immer"],
    ],
}
_NEUTRAL = {"neutral", "neutro", "neutre", "neither", "ni de acuerdo ni en desacuerdo",
            "nem concordo nem discordo", "weder noch"}
_SYNONYMS = {"totally disagree": "strongly disagree", "totally agree": "strongly agree",
             "completely agree": "strongly agree", "completely disagree": "strongly disagree",
             "somewhat agree": "slightly agree", "somewhat disagree": "slightly disagree",
             "muy de acuerdo": "totalmente de acuerdo", "muy en desacuerdo": "totalmente en desacuerdo",
             "concordo plenamente": "concordo totalmente", "discordo plenamente": "discordo totalmente",
             "very often": "often", "usually": "often", "seldom": "rarely",
             "frecuentemente": "casi siempre", "a menudo": "casi siempre",
             "raramente": "raramente", "pocas veces": "casi nunca", "muchas veces": "casi siempre"}


def _match_scale(labels: set[str]):
    """The known scale a column's labels come from: (family, language index, {label:
    canonical word}, unrecognised labels), or None."""
    best = None
    for family, lists in _SCALE_WORDS.items():
        for li, words in enumerate(lists):
            matched = {}
            for lab in labels:
                c = _SYNONYMS.get(lab, lab)
                if c in _NEUTRAL:
                    c = words[len(words) // 2]
                if c in words:
                    matched[lab] = c
            if len(matched) < 2 or len(matched) < len(labels) / 2:
                continue
            score = (len(matched), -len(labels - set(matched)))
            if best is None or score > best[0]:
                best = (score, family, li, matched, sorted(labels - set(matched)))
    return None if best is None else best[1:]


def _scale_numbers(family: str, li: int, seven: bool) -> dict[str, int]:
    """canonical word -> number: 1..7 on seven points, 1..5 otherwise."""
    words = _SCALE_WORDS[family][li]
    if len(words) == 7 and not seven:
        words = [words[i] for i in (0, 1, 3, 5, 6)]
    return {w: i + 1 for i, w in enumerate(words)}


def _slug(text: str, limit: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].strip("-") or "form"


def _likert(values):
    """How a column looks as a rating: ("numbers", None) for small integer ranges,
    ("words", (family, language, {written label: canonical word}, unrecognised written
    labels)) for the labels of a known scale, or None."""
    cells = [v for v in values if not _parse.is_blank(v)]
    if len(cells) < 2:
        return None
    texts = [str(int(v)) if isinstance(v, float) and v == int(v) else str(v).strip() for v in cells]
    distinct = set(texts)
    if len(distinct) < 2:
        return None
    if all(re.fullmatch(r"-?\d+", t) for t in distinct):
        numbers = sorted(int(t) for t in distinct)
        # a rating scale: a short range of integers, three values at least (0/1 is yes/no)
        if numbers[0] >= -10 and numbers[-1] - numbers[0] <= 10 and len(distinct) >= 3 and \
                len(cells) >= 2 * len(distinct) - 2:
            return "numbers", None
        return None
    if len(distinct) > 11:
        return None
    by_norm = {}
    for t in sorted(distinct):
        by_norm.setdefault(norm_label(t), t)
    found = _match_scale(set(by_norm))
    if found is None:
        return None
    family, li, matched, missing = found
    return "words", (family, li, {by_norm[n]: c for n, c in matched.items()},
                     [by_norm[n] for n in missing])


def suggest_mapping(path, *, framework=None, table=None) -> str:
    """A draft mapping (YAML text) for a form export, for a coach to edit.

    The draft names the form service, the timestamp column (found by parsing its cells,
    with ``dayfirst`` left for the coach when the column cannot tell), the participant
    column (e-mails, names or a respondent id when there is one; anonymous responses
    otherwise), and every Likert-like column (small integer ranges, or agreement and
    frequency labels in English, Spanish, Portuguese, French or German) as an item of an
    instrument named after the file, with the numbers its labels stand for. Answers it
    does not recognise are left without a number (the mapping refuses them until one is
    given). Other columns are listed under ``ignore`` with what they seem to be.

    Returns
    -------
    str
        YAML text that :func:`load_mapping` reads once its open choices are made.

    Raises
    ------
    ImportFormatError
        When the file is not a form export.
    """
    table = table if table is not None else _parse.read_table(path)
    fmt = detect_table(table)
    fw = load_framework(framework)
    from . import _forms  # noqa: PLC0415 - the layouts live with the readers

    layout = _forms.layout_of(table, fmt)
    rows = table.rows
    ts_col = layout.timestamp
    dayfirst_note = None
    if ts_col is not None:
        try:
            _parse.parse_timestamps(rows[ts_col], column=ts_col, source=table.source,
                                    lines=table.lines, epoch=table.epoch)
        except AmbiguousDateError:
            dayfirst_note = ("the column cannot tell dd/mm from mm/dd: set true (dd/mm/yyyy) "
                             "or false (mm/dd/yyyy)")
        except ImportFormatError as exc:
            dayfirst_note = str(exc).replace("\n", " ")
    participant, participant_note = _suggest_participant(table, layout, fmt)

    instrument = _slug(Path(table.source).stem.replace("(Responses)", ""), 30)
    if not re.match(ID_PATTERN, instrument):
        instrument = "form"
    found_cols = []
    ignored: list[tuple[str, str]] = []
    skip = set(layout.meta) | {ts_col} | ({participant.get("column")} if participant else set())
    for column in table.columns:
        if column in skip:
            if column in layout.meta:
                ignored.append((column, layout.meta[column]))
            continue
        values = rows[column].tolist()
        if _forms.is_choice_option(column, values):
            ignored.append((column, "one option of a multiple-choice question"))
            continue
        if _forms.looks_like_checkboxes(values):
            ignored.append((column, "checkbox question (several answers joined in a cell)"))
            continue
        found = _likert(values)
        if found is None:
            ignored.append((column, _describe(values)))
            continue
        found_cols.append((column, found))
    # one scale per family and language for the whole form: seven points when any of its
    # columns uses a "slightly" label, so that equal labels get equal numbers everywhere
    seven = {}
    for _, (kind, info) in found_cols:
        if kind == "words":
            family, li, matched, _ = info
            numbers7 = _scale_numbers(family, li, True)
            uses = any(numbers7[c] in (3, 5) for c in matched.values()) and len(numbers7) == 7
            seven[(family, li)] = seven.get((family, li), False) or uses
    scales: dict[str, dict] = {}
    scale_names = {}
    for _, (kind, info) in found_cols:
        if kind != "words":
            continue
        family, li, matched, _ = info
        key = (family, li)
        numbers = _scale_numbers(family, li, seven[key])
        name = scale_names.get(key)
        if name is None:
            name = scale_names[key] = f"{family}{len(numbers)}" + (
                f"_{len(scale_names) + 1}" if any(k[0] == family for k in scale_names) else "")
            scales[name] = {w[:1].upper() + w[1:]: v for w, v in numbers.items()}
        labels = scales[name]
        for written, canon in matched.items():
            if canon in numbers and norm_label(written) not in {norm_label(x) for x in labels}:
                labels[written.strip()] = numbers[canon]  # a synonym or another neutral word
    mapped = []
    for column, (kind, info) in found_cols:
        item = f"q{table.columns.index(column) + 1}"
        if kind == "numbers":
            mapped.append((column, item, None, []))
        else:
            mapped.append((column, item, scale_names[(info[0], info[1])], info[3]))

    out = [f"# Draft survey mapping for {Path(table.source).name} ({fmt}).",
           "# Edit it, then: mastery import forms FILE --mapping THIS_FILE --dry-run",
           f"format: {fmt}"]
    if participant:
        out.append("participant:")
        for k, v in participant.items():
            out.append(f"  {k}: {_y(v)}")
    if participant_note:
        out.append(f"# participant: {participant_note}")
    out.append("timestamp:")
    out.append(f"  column: {_y(ts_col)}")
    if dayfirst_note:
        out.append(f"  dayfirst:   # {dayfirst_note}")
    out.append("phase: baseline   # or mid / post, or {column: ..., values: {answer: phase}}")
    q = fw.questionnaire
    out.append(f"instrument: {instrument}   # items of this form; to count toward the "
               f"framework use {q.instrument if q else 'its questionnaire'} and its item ids")
    if q:
        out.append(f"#   {q.instrument} items: {', '.join(i.id + ' (' + i.element + ')' for i in q.items)}")
    out.append(f"#   or map a column to an element rating: element: one of {', '.join(fw.keys)}")
    if scales:
        out.append("scales:")
        for name, labels in scales.items():
            out.append(f"  {name}:")
            for label, value in sorted(labels.items(), key=lambda kv: kv[1]):
                out.append(f"    {_y(label)}: {value:g}")
    if mapped:
        out.append("columns:")
        for column, item, scale_name, missing in mapped:
            out.append(f"  {_y(column)}:")
            out.append(f"    item: {item}")
            if scale_name:
                if missing:
                    out.append(f"    answers:   # {scale_name} plus answers it does not "
                               f"recognise: give each a number")
                    for label, value in sorted(scales[scale_name].items(), key=lambda kv: kv[1]):
                        out.append(f"      {_y(label)}: {value:g}")
                    for label in missing:
                        near = difflib.get_close_matches(label, list(scales[scale_name]), n=1)
                        hint = f"   # close to {near[0]!r}" if near else ""
                        out.append(f"      {_y(label)}:{hint}")
                else:
                    out.append(f"    answers: {scale_name}")
            else:
                out.append("    # answers are numbers")
    else:
        out.append("columns: {}   # no Likert-like column found: map the rating columns here")
    if ignored:
        out.append("ignore:")
        for column, why in ignored:
            out.append(f"  - {_y(column)}   # {why}")
    return "\n".join(out) + "\n"


def _y(value) -> str:
    """A YAML scalar, quoted when needed."""
    if value is None:
        return "null"
    text = yaml.safe_dump(str(value), allow_unicode=True, default_style='"', width=10_000)
    return text.strip().removesuffix("...").strip()


def _describe(values) -> str:
    cells = [str(v).strip() for v in values if not _parse.is_blank(v)]
    if not cells:
        return "empty in every response"
    distinct = len(set(cells))
    if distinct <= 12:
        return f"{distinct} different answers: not a rating scale this draft recognises"
    return "free text or many different answers"


def _suggest_participant(table, layout, fmt):
    rows = table.rows
    for column in table.columns:
        cells = [str(v).strip() for v in rows[column] if not _parse.is_blank(v)]
        if cells and sum("@" in c and "." in c for c in cells) >= 0.9 * len(cells):
            return {"column": column, "kind": "email"}, None
    for column in table.columns:
        h = norm_label(column)
        cells = [str(v).strip() for v in rows[column] if not _parse.is_blank(v)]
        if cells and len(h) <= 40 and re.search(r"\b(code|código|codigo|participant|id)\b", h) \
                and column not in layout.meta and len(set(cells)) >= 0.8 * len(cells):
            return {"column": column, "kind": "code"}, None
    for column in table.columns:
        h = norm_label(column)
        cells = [str(v).strip() for v in rows[column] if not _parse.is_blank(v)]
        if cells and re.search(r"\b(name|nombre|nome|nom|ime)\b", h) and \
                len(cells) >= 0.8 * len(rows):
            return {"column": column, "kind": "name"}, None
    prefix = _slug(Path(table.source).stem.replace("(Responses)", ""), 20) + "-"
    if layout.response_id:
        return ({"kind": "anonymous", "prefix": prefix},
                f"nobody is named; each response becomes a participant named {prefix}<"
                f"{layout.response_id}>")
    return ({"kind": "anonymous", "prefix": prefix},
            f"nobody is named; each response becomes a participant named {prefix}<its "
            f"timestamp>; a code question (participant: {{column: ..., kind: code}}) links "
            f"a person's baseline and post answers")
