"""Column names, pandera schemas and ``validate_*`` for the tidy tables of DESIGN.md.

Every frame that crosses a module boundary into the store (or out of an importer) passes
through :func:`validate`, which coerces types, checks every cell, and raises one
:class:`~mastery_analysis.errors.ValidationError` that lists every failing row and column.
Analysis functions do not call it: they need only the columns they read.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .errors import AddressError, ValidationError
from .framework import ID_EXPECTED, ID_PATTERN, Framework, load_framework

KINDS = ("current", "vision")
PHASES = ("baseline", "mid", "post")


@dataclass(frozen=True)
class Table:
    """A table's columns (in order), its key, the date-like columns and optional defaults."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    dates: tuple[str, ...] = ()
    defaults: tuple[tuple[str, object], ...] = ()

    @property
    def required(self) -> list[str]:
        optional = {c for c, _ in self.defaults} | {"recorded_at"}
        return [c for c in self.columns if c not in optional]


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "participants",
            ("participant_id", "name", "cohort", "joined_on", "consent_share", "access_code_hash"),
            ("participant_id",),
            dates=("joined_on",),
            defaults=(("name", None), ("cohort", None), ("joined_on", None),
                      ("consent_share", False), ("access_code_hash", None)),
        ),
        Table(
            "ratings",
            ("participant_id", "date", "element", "rating", "kind", "note", "source", "recorded_at"),
            ("participant_id", "date", "element", "kind"),
            dates=("date",),
            defaults=(("kind", "current"), ("note", None), ("source", "manual")),
        ),
        Table(
            "goals",
            ("goal_id", "participant_id", "title", "element", "freq_times", "freq_days",
             "start_date", "due_date", "target", "archived"),
            ("goal_id",),
            dates=("start_date", "due_date"),
            defaults=(("element", None), ("freq_times", 1), ("freq_days", 1), ("due_date", None),
                      ("target", None), ("archived", False)),
        ),
        Table(
            "actions",
            ("participant_id", "date", "goal_id", "count", "minutes", "note", "source", "recorded_at"),
            ("participant_id", "date", "goal_id"),
            dates=("date",),
            defaults=(("minutes", None), ("note", None), ("source", "manual")),
        ),
        Table(
            "progress",
            ("participant_id", "date", "goal_id", "percent", "note", "source", "recorded_at"),
            ("participant_id", "date", "goal_id"),
            dates=("date",),
            defaults=(("note", None), ("source", "manual")),
        ),
        Table(
            "responses",
            ("participant_id", "date", "phase", "instrument", "item", "value", "recorded_at"),
            ("participant_id", "date", "instrument", "item"),
            dates=("date",),
        ),
    )
}


def as_day(value, *, what: str = "date") -> dt.date | None:
    """A calendar day from a date, datetime, Timestamp or date string; None stays None.

    Raises
    ------
    ValidationError
        Naming ``what`` and the value when it is not a date.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        day = pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError):
        day = pd.NaT
    if pd.isna(day):
        raise ValidationError(what, [{"row": None, "column": None, "value": value,
                                      "expected": "a date like 2024-05-31"}], noun="")
    return day.date()


EMAIL_MAX = 254  # RFC 5321: the longest path a server must accept
EMAIL_EXPECTED = "an e-mail address like name@example.org"
# one address, no display name, no spaces, quotes, brackets or line breaks: what a person
# types into a form, and nothing a mail header could be made to carry
_EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")


def as_email(value, *, what: str = "email") -> str | None:
    """An e-mail address, stripped, from what a person typed; None or blank stays None.

    Raises
    ------
    AddressError
        (a :class:`ValidationError`) in one line naming ``what`` and the value when it is not
        one address (``name@example.org``).
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if not isinstance(value, str):
        raise AddressError(what, type(value).__name__)
    text = value.strip()
    if not text:
        return None
    local = text.rsplit("@", 1)[0]
    if (len(text) > EMAIL_MAX or not _EMAIL.fullmatch(text) or len(local) > 64
            or local.startswith(".") or local.endswith(".") or ".." in local):
        raise AddressError(what, value[:100])
    return text


@dataclass(frozen=True)
class Rule:
    """What one column's cells must be, read by both checkers (:func:`validate` for frames,
    through pandera, and :func:`check_rows` for a few rows in plain Python).

    ``kind`` is ``id``, ``text``, ``choice``, ``day``, ``number`` (whole numbers are checked
    as numbers here, and as whole before), ``finite``, ``flag`` or ``stamp``.
    """

    kind: str
    nullable: bool = False
    lo: float | None = None
    hi: float | None = None
    max_len: int | None = None
    choices: tuple[str, ...] = ()
    error: str = ""


def _id(nullable=False):
    return Rule("id", nullable=nullable, error=ID_EXPECTED)


def _text(nullable=True, max_len=2000):
    return Rule("text", nullable=nullable, max_len=max_len, error=f"text of at most {max_len} characters")


def _day(nullable=False):
    return Rule("day", nullable=nullable)


def _between(lo, hi, what, nullable=False):
    return Rule("number", nullable=nullable, lo=lo, hi=hi, error=what)


def _choice(choices, what, nullable=False):
    return Rule("choice", nullable=nullable, choices=tuple(choices), error=what)


_RULES: dict[tuple, dict[str, Rule]] = {}


def rules_for(table: str, framework: Framework | str | None = None) -> dict[str, Rule]:
    """Each column's :class:`Rule` for ``table``, with elements and scale from ``framework``."""
    fw = load_framework(framework)
    key = (table, fw.name, fw.source, tuple(fw.keys), fw.scale.min, fw.scale.max)
    if key not in _RULES:
        _RULES[key] = _build_rules(table, fw)
    return _RULES[key]


def _build_rules(table: str, fw: Framework) -> dict[str, Rule]:
    element = _choice(fw.keys, f"one of the {fw.name} elements ({', '.join(fw.keys)})")
    common = {"recorded_at": Rule("stamp", nullable=True)}
    return {
        "participants": {
            "participant_id": _id(),
            "name": _text(max_len=200),
            "cohort": _id(nullable=True),
            "joined_on": _day(nullable=True),
            "consent_share": Rule("flag"),
            "access_code_hash": _text(max_len=200),
        },
        "ratings": {
            "participant_id": _id(),
            "date": _day(),
            "element": element,
            "rating": _between(fw.scale.min, fw.scale.max, fw.scale.describe()),
            "kind": _choice(KINDS, "'current' or 'vision'"),
            "note": _text(),
            "source": _text(nullable=False, max_len=100),
            **common,
        },
        "goals": {
            "goal_id": _id(),
            "participant_id": _id(),
            "title": Rule("text", max_len=200, error="a title of 1 to 200 characters"),
            "element": Rule("choice", nullable=True, choices=element.choices, error=element.error),
            "freq_times": _between(1, 366, "a whole number of times from 1 to 366"),
            "freq_days": _between(1, 366, "a whole number of days from 1 to 366"),
            "start_date": _day(),
            "due_date": _day(nullable=True),
            "target": _text(max_len=200),
            "archived": Rule("flag"),
        },
        "actions": {
            "participant_id": _id(),
            "date": _day(),
            "goal_id": _id(),
            "count": _between(0, 10_000, "a whole number of actions from 0 to 10000"),
            "minutes": _between(0, 1440, "minutes from 0 to 1440", nullable=True),
            "note": _text(),
            "source": _text(nullable=False, max_len=100),
            **common,
        },
        "progress": {
            "participant_id": _id(),
            "date": _day(),
            "goal_id": _id(),
            "percent": _between(0, 100, "a percent from 0 to 100"),
            "note": _text(),
            "source": _text(nullable=False, max_len=100),
            **common,
        },
        "responses": {
            "participant_id": _id(),
            "date": _day(),
            "phase": _choice(PHASES, "'baseline', 'mid' or 'post'"),
            "instrument": _id(),
            "item": _id(),
            "value": Rule("finite", error="a finite number"),
            **common,
        },
    }[table]


_SCHEMAS: dict[tuple, pa.DataFrameSchema] = {}


def schema_for(table: str, framework: Framework | str | None = None) -> pa.DataFrameSchema:
    """The pandera schema of ``table``, built from :func:`rules_for`.

    Built once per table and framework (a check-in validates several small frames, and
    building the schema cost about a tenth of each validation).
    """
    fw = load_framework(framework)
    key = (table, fw.name, fw.source, tuple(fw.keys), fw.scale.min, fw.scale.max)
    if key not in _SCHEMAS:
        _SCHEMAS[key] = pa.DataFrameSchema(
            {col: _pandera_column(rule) for col, rule in rules_for(table, fw).items()},
            strict=False, ordered=False, name=table)
    return _SCHEMAS[key]


def _pandera_column(rule: Rule) -> pa.Column:
    if rule.kind == "id":
        return pa.Column(str, pa.Check.str_matches(ID_PATTERN, error=rule.error), nullable=rule.nullable)
    if rule.kind == "text":  # blank text is already None here, so only the length is left
        max_len = rule.max_len
        return pa.Column(str, pa.Check(lambda s: s.str.len() <= max_len, element_wise=False,
                                       error=rule.error), nullable=rule.nullable)
    if rule.kind == "choice":
        return pa.Column(str, pa.Check.isin(rule.choices, error=rule.error), nullable=rule.nullable)
    if rule.kind == "day":
        return pa.Column("datetime64[ns]", nullable=rule.nullable)
    if rule.kind == "number":
        # checked as float: cells that failed to parse are NaN here and already reported
        return pa.Column(float, pa.Check.in_range(rule.lo, rule.hi, error=rule.error),
                         nullable=rule.nullable)
    if rule.kind == "finite":
        return pa.Column(float, pa.Check(np.isfinite, error=rule.error))
    if rule.kind == "flag":
        return pa.Column(bool)
    return pa.Column("datetime64[ns, UTC]", nullable=True)  # stamp


def _parse_days(values: pd.Series) -> pd.Series:
    """Dates and date-times (any text pandas reads) as naive timestamps; unreadable -> NaT.

    A time with a UTC offset keeps its own wall-clock day (the day the person wrote), as a
    time-zone-aware column does below; offsets that differ from cell to cell are read one
    cell at a time (pandas refuses to put them in one column).
    """
    try:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    except (ValueError, TypeError):
        parsed = pd.Series([_parse_day(v) for v in values], index=values.index, dtype="datetime64[ns]")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed


def _parse_day(value) -> pd.Timestamp:
    """One cell as :func:`_parse_days` reads it (a naive timestamp, or NaT)."""
    if value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value)):
        return pd.NaT
    try:
        stamp = pd.to_datetime(value, format="mixed")
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    if stamp is pd.NaT or pd.isna(stamp):
        return pd.NaT
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _coerce_dates(frame, column, failures, nullable):
    raw = frame[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) is not None else raw
    else:
        parsed = _parse_days(raw.astype(object).where(raw.notna(), None))
        bad = parsed.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        for label in raw.index[bad]:
            failures.append({"row": label, "column": column, "value": _plain(raw[label]),
                             "expected": "a date like 2024-05-31"})
    if not nullable:
        missing = raw.isna()
        for label in raw.index[missing]:
            failures.append({"row": label, "column": column, "value": None, "expected": "a date"})
    return parsed.dt.normalize().astype("datetime64[ns]")


def _coerce_numbers(frame, column, failures, integer):
    raw = frame[column]
    if pd.api.types.is_bool_dtype(raw):
        flags = pd.Series(True, index=raw.index)
    elif raw.dtype == object:
        flags = raw.map(lambda v: isinstance(v, (bool, np.bool_))).astype(bool)
    else:
        flags = pd.Series(False, index=raw.index)
    parsed = pd.to_numeric(raw.where(~flags), errors="coerce")
    bad = (parsed.isna() & raw.notna()) | flags
    if integer:
        bad |= parsed.notna() & (parsed != np.round(parsed))
    for label in raw.index[bad]:
        failures.append({"row": label, "column": column, "value": _plain(raw[label]),
                         "expected": "a whole number" if integer else "a number"})
    return parsed.where(~bad)


def _coerce_bools(frame, column, failures):
    truthy = {"true": True, "1": True, "yes": True, "y": True,
              "false": False, "0": False, "no": False, "n": False, "": False}
    def one(v):
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return False
        return truthy.get(str(v).strip().lower(), None)
    out = frame[column].map(one)
    for label in out.index[out.isna()]:
        failures.append({"row": label, "column": column, "value": frame[column][label],
                         "expected": "true or false"})
    return out.fillna(False).astype(bool)


INT_COLUMNS = ("rating", "count", "freq_times", "freq_days")
FLOAT_COLUMNS = ("minutes", "percent", "value")
BOOL_COLUMNS = ("consent_share", "archived")
_TYPED = {*INT_COLUMNS, *FLOAT_COLUMNS, *BOOL_COLUMNS, "recorded_at"}


def validate(table: str, frame: pd.DataFrame, *, framework: Framework | str | None = None,
             where: str | None = None) -> pd.DataFrame:
    """Return a new frame of ``table``'s columns, typed and checked.

    Missing optional columns get their defaults; extra columns are dropped. Row labels of
    ``frame`` are kept so that errors name the row people know (importers index by line).

    Raises
    ------
    ValidationError
        Listing every failing row, column and value, and what was expected; also for a
        required column that is missing and for a key that appears twice in the frame.
    """
    spec = TABLES[table]
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(table, [{"row": None, "column": None, "value": type(frame).__name__,
                                       "expected": "a pandas DataFrame"}], where=where)
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        raise ValidationError(table, [{"row": None, "column": c, "value": "(missing column)",
                                       "expected": f"a column named '{c}'"} for c in missing],
                              where=where)
    out = pd.DataFrame(index=frame.index)
    defaults = dict(spec.defaults)
    failures: list[dict] = []
    for col in spec.columns:
        if col in frame.columns:
            out[col] = frame[col]
            if defaults.get(col) is not None:  # a row that left an optional cell empty
                out[col] = out[col].astype(object).where(out[col].notna(), defaults[col])
        elif col == "recorded_at":
            out[col] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
        else:
            out[col] = defaults[col]
    nullable_dates = {"joined_on", "due_date"}
    for col in spec.dates:
        out[col] = _coerce_dates(out, col, failures, nullable=col in nullable_dates)
    for col in INT_COLUMNS:
        if col in out:
            out[col] = _coerce_numbers(out, col, failures, integer=True)
    for col in FLOAT_COLUMNS:
        if col in out:
            out[col] = _coerce_numbers(out, col, failures, integer=False).astype(float)
    for col in BOOL_COLUMNS:
        if col in out:
            out[col] = _coerce_bools(out, col, failures)
    if "recorded_at" in out:
        out["recorded_at"] = pd.to_datetime(out["recorded_at"], utc=True, errors="coerce").astype(
            "datetime64[ns, UTC]")
    for col in spec.columns:
        if col not in _TYPED and col not in spec.dates:  # text columns, even when all empty
            s = out[col].astype(object)
            out[col] = s.where(s.isna(), s.astype(str).str.strip()).replace({"": None}).astype("str")
    for col in INT_COLUMNS:
        if col in out:
            out[col] = out[col].astype(float)
    try:
        schema_for(table, framework).validate(out, lazy=True)
    except pa.errors.SchemaErrors as exc:
        seen = {(f["row"], f["column"]) for f in failures}
        failures.extend(f for f in _pandera_failures(exc, out) if (f["row"], f["column"]) not in seen)
    if table == "goals":
        _check_goal_rows(out, failures)
    bad_rows = {f["row"] for f in failures}
    dup = out.duplicated(list(spec.key), keep=False) & ~out.index.isin(list(bad_rows))
    for label in out.index[dup]:
        key = ", ".join(f"{k}={_show(out.at[label, k])}" for k in spec.key)
        failures.append({"row": label, "column": "+".join(spec.key), "value": key,
                         "expected": "each key once per write (this key appears on several rows)"})
    if failures:
        order = {label: i for i, label in enumerate(out.index)}
        failures.sort(key=lambda f: (order.get(f["row"], -1), str(f["column"])))
        raise ValidationError(table, failures, where=where)
    result = out.copy()
    for col in INT_COLUMNS:
        if col in result:
            result[col] = result[col].astype("int64")
    return result


@dataclass
class Rows:
    """A validated table as plain Python columns: what :func:`check_rows` returns and the
    store inserts. ``labels`` name the rows in error messages; ``columns`` hold str or None,
    ``datetime.date``, int, float or None, bool, in :attr:`Table.columns` order (without
    ``recorded_at``, which the store stamps)."""

    table: str
    labels: list
    columns: dict[str, list]

    def __len__(self) -> int:
        return len(self.labels)


_TRUTHY = {"true": True, "1": True, "yes": True, "y": True,
           "false": False, "0": False, "no": False, "n": False, "": False}
_EMPTY = "a value (this cell is empty)"


def _missing(v) -> bool:
    return v is None or v is pd.NaT or v is pd.NA or (isinstance(v, (float, np.floating)) and np.isnan(v))


def check_rows(table: str, rows, *, framework: Framework | str | None = None,
               where: str | None = None) -> Rows:
    """:func:`validate` for a few rows given as dicts, in plain Python.

    The same rules (:func:`rules_for`), coercions, defaults and error messages, without
    building frames: a check-in writes a handful of rows, and pandas' and pandera's fixed
    cost per column was nearly all of its time. Anything that is not a plain number, text
    or date is read by the same pandas parser :func:`validate` uses. The tests hold the two
    to the same answers on random rows.

    Raises
    ------
    ValidationError
        Exactly as :func:`validate` would for ``pandas.DataFrame(rows)``.
    """
    spec = TABLES[table]
    rows = list(rows)
    present = set().union(*(r.keys() for r in rows)) if rows else set()
    missing = [c for c in spec.required if c not in present]
    if missing:
        raise ValidationError(table, [{"row": None, "column": c, "value": "(missing column)",
                                       "expected": f"a column named '{c}'"} for c in missing],
                              where=where)
    rules = rules_for(table, framework)
    defaults = dict(spec.defaults)
    labels = list(range(len(rows)))
    failures: list[dict] = []
    columns = {}
    for col in spec.columns:
        if col == "recorded_at":
            continue
        rule, default = rules[col], defaults.get(col)
        out = []
        for label, row in zip(labels, rows):
            v = row.get(col, default)
            if default is not None and _missing(v):
                v = default
            out.append(_check_cell(rule, col, v, label, failures))
        columns[col] = out
    if table == "goals":
        for i in labels:
            start, due = columns["start_date"][i], columns["due_date"][i]
            if due is not None and start is not None and due < start:
                failures.append({"row": i, "column": "due_date", "value": due.strftime("%Y-%m-%d"),
                                 "expected": f"a due_date on or after start_date "
                                             f"({start.strftime('%Y-%m-%d')})"})
            times, days = columns["freq_times"][i], columns["freq_days"][i]
            if times is not None and days is not None and times > days:
                failures.append({"row": i, "column": "freq_times", "value": times,
                                 "expected": f"at most freq_days ({days}): a goal counts at most once a day"})
    bad_rows = {f["row"] for f in failures}
    keys: dict[tuple, list] = {}
    for i in labels:  # as validate: a key shared with a bad row is still shared
        keys.setdefault(tuple(columns[k][i] for k in spec.key), []).append(i)
    for key, same in keys.items():
        if len(same) > 1:
            shown = ", ".join(f"{k}={_show(v)}" for k, v in zip(spec.key, key))
            failures.extend({"row": i, "column": "+".join(spec.key), "value": shown,
                             "expected": "each key once per write (this key appears on several rows)"}
                            for i in same if i not in bad_rows)
    if failures:
        failures.sort(key=lambda f: (-1 if f["row"] is None else f["row"], str(f["column"])))
        raise ValidationError(table, failures, where=where)
    return Rows(table, labels, columns)


def _check_cell(rule: Rule, col: str, v, label, failures):
    """One cell, coerced as :func:`validate` coerces its column; a failure is appended."""
    def fail(value, expected):
        failures.append({"row": label, "column": col, "value": value, "expected": expected})

    kind = rule.kind
    if kind == "day":
        if _missing(v) or (isinstance(v, str) and not v.strip()):
            if not rule.nullable:
                fail(None, "a date" if _missing(v) else _EMPTY)
            return None
        if isinstance(v, dt.datetime):  # Timestamp included: its wall-clock day
            return v.date()
        if isinstance(v, dt.date):
            return v
        day = _parse_day(v)
        if pd.isna(day):
            fail(_plain(v), "a date like 2024-05-31")
            return None
        return day.date()
    if kind == "number" or kind == "finite":
        integer = col in INT_COLUMNS
        if isinstance(v, (bool, np.bool_)):
            fail(_plain(v), "a whole number" if integer else "a number")
            return None
        if isinstance(v, (int, float, np.integer, np.floating)):
            x = float(v)
        elif _missing(v):
            x = float("nan")
        else:
            x = float(pd.to_numeric(pd.Series([v], dtype=object), errors="coerce").iloc[0])
            if np.isnan(x):
                fail(_plain(v), "a whole number" if integer else "a number")
                return None
        if np.isnan(x):
            if not rule.nullable:
                fail(None, _EMPTY)
            return None
        if integer and x != np.round(x):
            fail(_plain(v), "a whole number")
            return None
        if kind == "finite" and not np.isfinite(x):
            fail(x, rule.error)
        elif kind == "number" and not rule.lo <= x <= rule.hi:
            fail(_plain(x), rule.error)
        return int(x) if integer and np.isfinite(x) else x
    if kind == "flag":
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if _missing(v):
            return False
        flag = _TRUTHY.get(str(v).strip().lower())
        if flag is None:
            fail(v, "true or false")
            return False
        return flag
    # id, text and choice: text, stripped, blank as missing
    text = None if _missing(v) else str(v).strip() or None
    if text is None:
        if not rule.nullable:
            fail(None, _EMPTY)
        return None
    if kind == "id":
        ok = re.match(ID_PATTERN, text) is not None
    elif kind == "choice":
        ok = text in rule.choices
    else:
        ok = len(text) <= rule.max_len
    if not ok:
        fail(text, rule.error)
    return text


def _check_goal_rows(goals, failures):
    """Checks across columns, reported on the column a person would fix."""
    early = goals["due_date"].notna() & goals["start_date"].notna() & (
        goals["due_date"] < goals["start_date"])
    for label in goals.index[early]:
        failures.append({"row": label, "column": "due_date", "value": _show(goals.at[label, "due_date"]),
                         "expected": f"a due_date on or after start_date "
                                     f"({_show(goals.at[label, 'start_date'])})"})
    often = goals["freq_times"] > goals["freq_days"]
    for label in goals.index[often]:
        failures.append({"row": label, "column": "freq_times", "value": _plain(goals.at[label, "freq_times"]),
                         "expected": f"at most freq_days ({_plain(goals.at[label, 'freq_days'])}): "
                                     "a goal counts at most once a day"})


def _show(value):
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _plain(value):
    """A numpy scalar as the Python value people typed, for error messages."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _pandera_failures(exc, frame):
    cases = exc.failure_cases
    out = []
    for case in cases.itertuples(index=False):
        label = case.index if pd.notna(case.index) else None
        column = case.column if isinstance(case.column, str) and case.column in frame.columns else None
        value = _plain(case.failure_case)
        if _missing(value):
            value = None
        if column is None and label is not None:
            value = "(row)"
        expected = str(case.check)
        if expected == "not_nullable":
            expected = "a value (this cell is empty)"
        out.append({"row": label, "column": column, "value": value, "expected": expected})
    return out


def dtype_of(table: str, column: str) -> str:
    """The pandas dtype a column of ``table`` has once validated (and when read from the store)."""
    if column == "recorded_at":
        return "datetime64[ns, UTC]"
    if column in TABLES[table].dates:
        return "datetime64[ns]"
    if column in INT_COLUMNS:
        return "int64"
    if column in FLOAT_COLUMNS:
        return "float64"
    if column in BOOL_COLUMNS:
        return "bool"
    return "str"


def empty(table: str) -> pd.DataFrame:
    """An empty, correctly typed frame of ``table``: a fresh copy each call (safe to change)."""
    # built once per table and copied: building it cost about 1 ms (a Series per column),
    # and a participant's page reads a dozen small tables; a copy costs about 25 us
    return _empty_frame(table).copy()


def dtypes(table: str) -> dict[str, object]:
    """The pandas dtype of each column of ``table``, in order (those of :func:`empty`)."""
    _empty_frame(table)
    return dict(_DTYPES[table])


_EMPTY_FRAMES: dict[str, pd.DataFrame] = {}  # never handed out: empty() returns copies
_DTYPES: dict[str, dict[str, object]] = {}


def _empty_frame(table: str) -> pd.DataFrame:
    if table not in _EMPTY_FRAMES:
        frame = pd.DataFrame({c: pd.Series(dtype=dtype_of(table, c)) for c in TABLES[table].columns})
        _DTYPES[table] = dict(frame.dtypes.items())
        _EMPTY_FRAMES[table] = frame
    return _EMPTY_FRAMES[table]


def validate_participants(frame, **kw):
    return validate("participants", frame, **kw)


def validate_ratings(frame, **kw):
    return validate("ratings", frame, **kw)


def validate_goals(frame, **kw):
    return validate("goals", frame, **kw)


def validate_actions(frame, **kw):
    return validate("actions", frame, **kw)


def validate_progress(frame, **kw):
    return validate("progress", frame, **kw)


def validate_responses(frame, **kw):
    return validate("responses", frame, **kw)


# --------------------------------------------------------------------------- self-experiments
# A plan (``experiments``), its schedule (``experiment_schedule``) and the days followed
# (``adherence``). Append-only like the tidy tables, kept apart from DATA_TABLES (they are not
# imported or exported as tidy files); the store checks them with the functions below.
EXPERIMENT_DESIGNS = ("days", "pairs", "alternating")
OUTCOME_KINDS = ("element", "goal_progress", "goal_actions", "note")
EXPERIMENT_COLUMNS = (
    "experiment_id", "participant_id", "title", "condition_a", "condition_b", "outcome_kind",
    "outcome_ref", "design", "period_days", "periods", "washout_days", "start_date", "seed",
    "min_effect",
)
SCHEDULE_COLUMNS = ("date", "period", "condition", "washout")
ADHERENCE_COLUMNS = ("participant_id", "experiment_id", "date", "followed", "source", "recorded_at")
_OUTCOME_WORDS = {"progress": "goal_progress", "actions": "goal_actions"}


def parse_outcome(text: str) -> tuple[str, str]:
    """An outcome as people type it, as ``(outcome_kind, outcome_ref)``.

    ``element:focused`` (an element's current rating), ``goal:G1:progress`` (the day's change
    in the goal's progress), ``goal:G1:actions`` (the day's action count) or ``note:NAME``
    (a numeric note of one's own: ``responses`` rows with instrument ``note`` and item NAME).

    Raises
    ------
    ValidationError
        Naming the text and the forms accepted.
    """
    parts = str(text).strip().split(":") if text is not None else []
    expected = "element:KEY, goal:GOAL_ID:progress, goal:GOAL_ID:actions or note:NAME"
    if len(parts) == 2 and parts[0] in ("element", "note") and parts[1]:
        return parts[0], parts[1]
    if len(parts) == 3 and parts[0] == "goal" and parts[1] and parts[2] in _OUTCOME_WORDS:
        return _OUTCOME_WORDS[parts[2]], parts[1]
    raise ValidationError("outcome", [{"row": None, "column": None, "value": text,
                                       "expected": expected}], noun="")


def format_outcome(kind: str, ref: str) -> str:
    """The inverse of :func:`parse_outcome`."""
    if kind in ("element", "note"):
        return f"{kind}:{ref}"
    return f"goal:{ref}:{'progress' if kind == 'goal_progress' else 'actions'}"


def check_experiment_plan(plan, *, framework: Framework | str | None = None) -> dict:
    """One experiment plan (a mapping of :data:`EXPERIMENT_COLUMNS`), typed and checked.

    Checks each field alone and together: ids, a title and two different conditions of 1 to
    200 characters, a known outcome kind (an element of ``framework`` for ``element``), a
    design of :data:`EXPERIMENT_DESIGNS`, ``period_days`` 1 to 366, ``periods`` 4 to 366
    (at least two periods of each condition), ``washout_days`` 0 to less than a period, a
    start day, a whole-number seed 0 to 2**63 - 1 and an optional positive ``min_effect``.

    Returns
    -------
    dict
        The plan with Python values (``datetime.date``, int, float or None).

    Raises
    ------
    ValidationError
        Listing every bad field; ``row`` is None and ``column`` names the field.
    """
    fw = load_framework(framework)
    failures: list[dict] = []
    missing = [c for c in EXPERIMENT_COLUMNS if c not in plan and c != "min_effect"]
    if missing:
        raise ValidationError("experiment plan", [{"row": None, "column": c, "value": "(missing)",
                                                   "expected": f"a value for '{c}'"} for c in missing],
                              noun="")
    out: dict = {}

    def fail(col, value, expected):
        failures.append({"row": None, "column": col, "value": _plain(value), "expected": expected})

    for col in ("experiment_id", "participant_id"):
        out[col] = _check_cell(_id(), col, plan[col], None, failures)
    for col, what in (("title", "a title"), ("condition_a", "condition A in words"),
                      ("condition_b", "condition B in words")):
        out[col] = _check_cell(Rule("text", max_len=200, error=f"{what} of 1 to 200 characters"),
                               col, plan[col], None, failures)
    if out["condition_a"] and out["condition_a"] == out["condition_b"]:
        fail("condition_b", out["condition_b"], "a condition different from condition A")
    out["outcome_kind"] = _check_cell(_choice(OUTCOME_KINDS, f"one of {', '.join(OUTCOME_KINDS)}"),
                                      "outcome_kind", plan["outcome_kind"], None, failures)
    if out["outcome_kind"] == "element":
        out["outcome_ref"] = _check_cell(
            _choice(fw.keys, f"one of the {fw.name} elements ({', '.join(fw.keys)})"),
            "outcome_ref", plan["outcome_ref"], None, failures)
    else:
        out["outcome_ref"] = _check_cell(_id(), "outcome_ref", plan["outcome_ref"], None, failures)
    out["design"] = _check_cell(_choice(EXPERIMENT_DESIGNS, "days, pairs or alternating"),
                                "design", plan["design"], None, failures)
    out["period_days"] = _check_cell(_between(1, 366, "a whole number of days from 1 to 366"),
                                     "period_days", plan["period_days"], None, failures)
    n = len(failures)
    periods = _check_cell(_between(0, 366, "a whole number of periods up to 366"), "periods",
                          plan["periods"], None, failures)
    if len(failures) == n and periods is not None:
        if out["design"] == "days":  # the condition changes by the day: count days
            if out["period_days"] is not None and periods * out["period_days"] // 2 < 2:
                fail("periods", periods, "blocks giving at least two days of each condition")
        elif periods < 4:
            fail("periods", periods, "at least 4 periods: two or more of each condition (fewer "
                                     "cannot tell a difference from chance)")
    out["periods"] = periods
    n = len(failures)
    washout = _check_cell(_between(0, 365, "a whole number of days from 0"), "washout_days",
                          plan.get("washout_days", 0) or 0, None, failures)
    if len(failures) == n and out["period_days"] is not None and washout >= out["period_days"]:
        fail("washout_days", washout, f"fewer days than a period ({out['period_days']}): a "
                                      "washout as long as a period leaves nothing to measure")
    out["washout_days"] = washout
    out["start_date"] = _check_cell(_day(), "start_date", plan["start_date"], None, failures)
    seed = plan["seed"]
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= int(seed) < 2**63:
        fail("seed", seed, "a whole number from 0 to 2**63 - 1")
        out["seed"] = None
    else:
        out["seed"] = int(seed)
    effect = plan.get("min_effect")
    if _missing(effect):
        out["min_effect"] = None
    else:
        out["min_effect"] = _check_cell(Rule("finite", error="a finite number"), "min_effect",
                                        effect, None, failures)
        if out["min_effect"] is not None and not out["min_effect"] > 0:
            fail("min_effect", effect, "a positive difference (the smallest effect you care about)")
    if failures:
        raise ValidationError("experiment plan", failures, noun="")
    return out


def check_schedule(schedule: pd.DataFrame, plan: dict) -> pd.DataFrame:
    """A plan's schedule (``date``, ``period``, ``condition``, ``washout``), typed and checked.

    The schedule must start on the plan's start day, list each day once in order with no gap,
    give every day condition ``A`` or ``B``, and give each condition at least two periods
    that are not all washout.

    Returns
    -------
    DataFrame
        date (datetime64), period (int64), condition (str), washout (bool), sorted by date.

    Raises
    ------
    ValidationError
        Naming the row and column that are wrong.
    """
    where = f"the schedule of experiment '{plan['experiment_id']}'"
    if not isinstance(schedule, pd.DataFrame) or not set(SCHEDULE_COLUMNS) <= set(schedule.columns):
        raise ValidationError("schedule", [{"row": None, "column": None, "value": "(frame)",
                                            "expected": "a frame with columns date, period, "
                                                        "condition, washout"}], where=where)
    failures: list[dict] = []
    out = pd.DataFrame(index=schedule.index)
    out["date"] = _coerce_dates(schedule, "date", failures, nullable=False)
    period = _coerce_numbers(schedule, "period", failures, integer=True)
    out["condition"] = schedule["condition"].astype(object)
    out["washout"] = _coerce_bools(schedule, "washout", failures)
    for label in schedule.index[~out["condition"].isin(["A", "B"])]:
        failures.append({"row": label, "column": "condition", "value": out.at[label, "condition"],
                         "expected": "'A' or 'B'"})
    if failures:
        raise ValidationError("schedule", failures, where=where)
    out["period"] = period.astype("int64")
    out["condition"] = out["condition"].astype(str)
    out = out[list(SCHEDULE_COLUMNS)].sort_values("date", kind="stable").reset_index(drop=True)
    start = pd.Timestamp(plan["start_date"])
    expected = pd.date_range(start, periods=len(out), freq="D")
    if len(out) == 0 or not (out["date"].to_numpy() == expected.to_numpy()).all():
        raise ValidationError("schedule", [{"row": None, "column": "date",
                                            "value": f"{len(out)} days",
                                            "expected": f"every day once from the start day "
                                                        f"{start:%Y-%m-%d}, with no gap"}], where=where)
    measured = out.loc[~out["washout"]]
    days = plan.get("design") == "days"  # the condition changes by the day: count days
    per = measured.groupby("condition")["date" if days else "period"].nunique()
    unit = "days" if days else "periods"
    for cond in ("A", "B"):
        if per.get(cond, 0) < 2:
            failures.append({"row": None, "column": "condition", "value": f"{per.get(cond, 0)} {unit} of {cond}",
                             "expected": f"at least two {unit} of each condition"})
    if failures:
        raise ValidationError("schedule", failures, where=where)
    return out
