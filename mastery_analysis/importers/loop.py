"""Loop Habit Tracker: the CSV export (zip or folder) and the SQLite backups.

Every layout seen in real Loop files is read:

- the export as a ``.zip`` or an unpacked folder (possibly one folder deeper), with a
  top-level ``Habits.csv`` (the old header ``Position,Name,Question,Description,
  NumRepetitions,Interval,Color`` or the new one with ``Type``, ``FrequencyNumerator``,
  ``FrequencyDenominator``, ``Unit``, ``Target Value``, ``Archived?``), a wide
  ``Checkmarks.csv`` (``Date,<habit>,...,`` with a trailing comma, newest date first, cells
  coded -1 unknown, 0 no, 1 automatic, 2 by hand, or the ``Entry(timestamp=..., value=...)``
  cells of a buggy Loop version that split into two fields), and per-habit folders
  ``NNN Name/Checkmarks.csv`` (headerless sparse ``date,value`` lines, or ``Date,Value,
  Notes`` with ``YES_MANUAL``, ``YES_AUTO``, ``NO``, ``SKIP``, ``UNKNOWN`` and notes);
- a single ``Checkmarks.csv`` (wide or per-habit), also one re-saved by a spreadsheet
  (byte-order mark, ``06-16-24`` dates, no trailing comma);
- a single ``Scores.csv`` of a daily habit: Loop's score of a daily habit moves by a known
  step, so the days done are read back from it exactly (and checked: a file that is not a
  daily habit's scores is refused);
- the SQLite backup (``.db``) of every schema seen: version 12 (``Repetitions(habit,
  timestamp)``), 21 and 22 (``value``), 25 (``notes``, ``uuid``, ``question``).

What becomes what (one participant, named with ``participant_id``):

- each habit -> a goal ``<participant>-loop-<name>`` with Loop's frequency (times per
  days), start date (the first day the export covers, or the habit's first entry),
  archived flag, and for numerical habits the target and unit as ``target``;
- what Loop counts as done by hand (``YES_MANUAL``, code 2; a numerical entry above 0) ->
  an action with ``count`` 1; numerical amounts are divided by 1000 (Loop stores
  thousandths) and kept in the note with their unit. Loop's automatic checkmarks (days its
  schedule excuses) and unknown days write nothing; a day marked NO or SKIP by hand (in
  the sparse files and backups) or carrying a note is an action with ``count`` 0, so the
  note and the fact are kept and ``habit_strength`` treats the day as not done, as Loop does.

With these rules ``analysis.habit_strength`` gives back Loop's own ``Scores.csv`` for
yes/no habits (the tests check it to 4 decimals).
"""

from __future__ import annotations

import io
import re
import sqlite3
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from ..errors import ImportFormatError
from ._parse import decode, iter_records, parse_timestamps
from ._result import ImportResult, validate_frames

SOURCE = "import:loop"
CODES = {"YES_MANUAL": 2, "YES_AUTO": 1, "NO": 0, "SKIP": 3, "UNKNOWN": -1}
MANUAL, AUTO, NO, SKIP, UNKNOWN = 2, 1, 0, 3, -1
_ENTRY = re.compile(r"Entry\(timestamp=([^,()]*),\s*value=(-?\d+)\)")
_HABIT_DIR = re.compile(r"^(\d{1,4}) (.*)$")
_MINUTE_UNITS = {"min", "mins", "minute", "minutes", "minuten", "minutos"}


@dataclass
class _Habit:
    key: str                       # how entries find it: position, or name for a wide column
    name: str
    freq_times: int = 1
    freq_days: int = 1
    numerical: bool | None = None  # None: decided from the values
    unit: str = ""
    target: float | None = None
    archived: bool = False
    where: str = ""
    entries: list = field(default_factory=list)  # (label, date text, code, note)
    sparse: bool = False           # a file of recorded entries only (not a dense daily grid)
    first_day: str | None = None   # the first day the export covers for this habit


def read(path, *, participant_id=None, mapping=None, dayfirst=None, framework=None) -> ImportResult:
    """Read a Loop Habit Tracker export or backup into goals and actions of one participant.

    Parameters
    ----------
    path : str or Path
        The export's ``.zip``, its unpacked folder, one of its ``Checkmarks.csv`` or
        ``Scores.csv`` files, or a ``.db`` backup.
    participant_id : str
        Whose habits these are (required: a Loop file does not say).
    mapping : ignored
        Loop habits are named by Loop; there is nothing to map.
    dayfirst : bool, optional
        For a re-saved file whose dates (``06-07-24``) cannot tell their order.
    framework : Framework or str, optional
        Checked against when validating.

    Returns
    -------
    ImportResult
        ``frames``: ``participants`` (the one participant), ``goals`` and ``actions``
        (columns of DESIGN.md, ``source`` ``import:loop``), indexed by where each row came
        from (``file line N`` or ``Habits row id N``); ``notes`` say habit by habit what was
        made of it.

    Raises
    ------
    ImportFormatError
        For a missing participant, a truncated or empty zip, an empty file, a layout that is
        not Loop's, or an export without a single entry.
    """
    path = Path(path)
    if not participant_id:
        raise ImportFormatError(
            f"{path}: a Loop export holds one person's habits and does not say whose; "
            "name them with --participant ID")
    notes: list[str] = []
    habits = _read_any(path, notes, dayfirst)
    return _frames(path, habits, str(participant_id), notes, framework)


# ----------------------------------------------------------------------------- sources
def _read_any(path: Path, notes, dayfirst) -> list[_Habit]:
    try:
        head = path.read_bytes()[:16] if path.is_file() else b""
    except OSError as exc:
        raise ImportFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.is_file() and path.stat().st_size == 0:
        raise ImportFormatError(f"{path}: the file is empty (0 bytes); expected a Loop Habit "
                                "Tracker export (.zip, folder, .csv or .db)")
    if head.startswith(b"SQLite format 3\x00"):
        return _read_db(path, notes)
    if path.is_dir():
        files = {}
        for f in sorted(path.rglob("*")):
            if f.is_file() and f.suffix.lower() == ".csv":
                files[f.relative_to(path).as_posix()] = f.read_bytes()
        return _read_tree(path, files, notes, dayfirst)
    if head.startswith(b"PK") or path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
                if bad is not None:
                    raise ImportFormatError(f"{path}: the zip is damaged ({bad} fails its "
                                            "checksum); export again from Loop")
                files = {n: zf.read(n) for n in zf.namelist()
                         if not n.endswith("/") and n.lower().endswith(".csv")}
        except (zipfile.BadZipFile, EOFError, OSError, zipfile.LargeZipFile) as exc:
            raise ImportFormatError(f"{path}: not a readable zip file ({exc}); the download may "
                                    "be truncated: export again from Loop") from None
        except (RuntimeError, NotImplementedError) as exc:  # encrypted, unknown compression
            raise ImportFormatError(f"{path}: cannot open the zip ({exc})") from None
        if not files:
            raise ImportFormatError(f"{path}: the zip holds no CSV files; expected Loop's "
                                    "Habits.csv and Checkmarks.csv")
        return _read_tree(path, files, notes, dayfirst)
    return _read_tree(path.parent, {path.name: path.read_bytes()}, notes, dayfirst,
                      single=path)


def _text(where, data: bytes) -> str:
    return decode(data, source=where).text


def _records(where, data):
    return list(iter_records(_text(where, data), ",", source=where))


def _read_tree(base: Path, files: dict[str, bytes], notes, dayfirst, single=None) -> list[_Habit]:
    names = {PurePosixPath(n): n for n in files}
    # the export's root: the shallowest folder holding Habits.csv or a wide Checkmarks.csv
    roots = sorted({p.parent for p in names if p.name in ("Habits.csv", "Checkmarks.csv",
                                                          "Scores.csv")},
                   key=lambda p: (len(p.parts), str(p)))
    if not roots:
        raise ImportFormatError(f"{single or base}: no Habits.csv or Checkmarks.csv found; "
                                "expected a Loop Habit Tracker export")
    root = roots[0]

    def get(rel):
        key = names.get(root / rel)
        return (key, files[key]) if key is not None else (None, None)

    where = (lambda rel: f"{single}" if single else f"{rel}")
    habits_key, habits_bytes = get("Habits.csv")
    checks_key, checks_bytes = get("Checkmarks.csv")
    scores_key, scores_bytes = get("Scores.csv")
    per_habit = {}
    for p, n in names.items():
        if p.name == "Checkmarks.csv" and p.parent.parent == root and p.parent != root:
            m = _HABIT_DIR.match(p.parent.name)
            if m:
                per_habit[int(m.group(1))] = (n, files[n], m.group(2))
    habits: list[_Habit] = []
    if habits_bytes is not None:
        habits = _read_habits(where(habits_key), habits_bytes)
    wide = None
    if checks_bytes is not None:
        wide = _classify(where(checks_key), checks_bytes)
    if single is not None and wide is None and scores_bytes is not None:
        return _read_scores_only(single, scores_bytes, notes, dayfirst)
    if not habits and wide is None and per_habit:
        habits = [_Habit(key=str(pos), name=name, where=n) for pos, (n, _, name) in sorted(per_habit.items())]
    if wide is not None and wide[0] == "per-habit":  # a lone per-habit file
        name = "Loop habit"
        if single is not None:
            m = _HABIT_DIR.match(single.parent.name)
            if m:
                name = m.group(2)
        h = _Habit(key="1", name=name, where=where(checks_key))
        if name == "Loop habit":
            notes.append(f"{where(checks_key)} is one habit's file without the habit's name "
                         "(it is the name of the folder Loop puts it in); imported as "
                         "'Loop habit'")
        _fill_per_habit(h, where(checks_key), wide[1])
        return _decide([h], notes, dayfirst)
    if wide is not None and wide[0] == "wide":
        columns, rows = wide[1], wide[2]
        if not habits:
            habits = [_Habit(key=str(i + 1), name=c, where=where(checks_key)) for i, c in enumerate(columns)]
            notes.append(f"{where(checks_key)} comes without Habits.csv: every habit is taken "
                         "as once a day (Loop's frequency is in Habits.csv)")
        by_name = {h.name: h for h in habits}
        first = min((d for _, d, _ in rows), default=None, key=lambda d: d)
        for i, col in enumerate(columns):
            h = by_name.get(col)
            if h is None:
                h = _Habit(key=f"column {i + 1}", name=col, where=where(checks_key))
                habits.append(h)
                by_name[col] = h
            h.first_day = None if not rows else "wide"
            if _position(h) in per_habit:
                continue  # the per-habit file has the same days and, in newer exports, notes
            for line, day, cells in rows:
                code, note = cells[i]
                h.entries.append((f"{where(checks_key)} line {line}", day, code, note))
        for h in habits:
            if h.first_day == "wide":
                h.first_day = first
    for h in habits:
        pos = _position(h)
        if pos in per_habit:
            n, data, _ = per_habit[pos]
            if data.strip():
                _fill_per_habit(h, where(n), _classify(where(n), data, per_habit_file=True)[1])
    if not habits:
        raise ImportFormatError(f"{base}: Habits.csv lists no habits")
    return _decide(habits, notes, dayfirst)


def _position(h: _Habit):
    try:
        return int(h.key)
    except ValueError:
        return None


def _read_habits(where, data) -> list[_Habit]:
    records = _records(where, data)
    if not records:
        raise ImportFormatError(f"{where}: the file is empty; expected Loop's Habits.csv")
    header = [c.strip() for c in records[0][1]]
    col = {c: i for i, c in enumerate(header)}
    if "Name" not in col:
        raise ImportFormatError(f"{where}: line 1: no 'Name' column; expected Loop's Habits.csv "
                                f"header (Position,Name,...), got {','.join(header)[:120]!r}")
    num = next((c for c in ("FrequencyNumerator", "NumRepetitions") if c in col), None)
    den = next((c for c in ("FrequencyDenominator", "Interval") if c in col), None)
    out = []
    for i, (line, fields) in enumerate(records[1:], start=1):
        cell = lambda c: fields[col[c]].strip() if c in col and col[c] < len(fields) else ""  # noqa: E731
        name = cell("Name")
        if not name:
            continue
        h = _Habit(key=cell("Position") or str(i), name=name, where=f"{where} line {line}")
        for attr, c in (("freq_times", num), ("freq_days", den)):
            if c and cell(c):
                try:
                    setattr(h, attr, int(cell(c)))
                except ValueError:
                    raise ImportFormatError(f"{where}: line {line}: column {c}: got "
                                            f"{cell(c)!r}, expected a whole number") from None
        kind = cell("Type").upper()
        if kind:
            h.numerical = kind == "NUMERICAL"
        h.unit = cell("Unit")
        if cell("Target Value"):
            try:
                h.target = float(cell("Target Value"))
            except ValueError:
                pass
        h.archived = cell("Archived?").lower() == "true"
        out.append(h)
    return out


def _cell_code(text: str):
    t = text.strip()
    if t.upper() in CODES:
        return CODES[t.upper()]
    if re.fullmatch(r"-?\d+", t):
        return int(t)
    return None


def _classify(where, data, *, per_habit_file=False):
    """("wide", columns, rows) or ("per-habit", rows) for a Checkmarks.csv."""
    records = _records(where, data)
    if not records:
        raise ImportFormatError(f"{where}: the file is empty; expected Loop's Checkmarks.csv")
    first = [c.strip() for c in records[0][1]]
    if first and first[0].lower() == "date" and (per_habit_file or (
            len(first) >= 2 and [c.lower() for c in first[1:3]] == ["value", "notes"][:len(first[1:3])]
            and len(first) <= 3)):
        return ("per-habit", [(line, f[0], f[1] if len(f) > 1 else "", f[2] if len(f) > 2 else "")
                              for line, f in records[1:]])
    if first and first[0].lower() == "date":
        columns = first[1:]
        while columns and not columns[-1]:
            columns.pop()
        if not columns:
            raise ImportFormatError(f"{where}: line 1: no habit columns after 'Date'")
        rows = []
        for line, fields in records[1:]:
            rest = fields[1:]
            if any(c.lstrip().startswith("Entry(") for c in rest[:1]):
                found = _ENTRY.findall(",".join(rest))
                cells = [(v, "") for _, v in found]
            else:
                cells = [(c, "") for c in rest[:len(columns)]]
                if len(rest) > len(columns) and any(c.strip() for c in rest[len(columns):]):
                    raise ImportFormatError(
                        f"{where}: line {line}: {len(rest)} values for {len(columns)} habits; "
                        "expected one value per habit column")
            if len(cells) < len(columns):
                raise ImportFormatError(
                    f"{where}: line {line}: {len(cells)} values for {len(columns)} habits "
                    "(the line is cut short); expected one value per habit column")
            rows.append((line, fields[0], cells))
        return ("wide", columns, rows)
    # headerless per-habit lines: date,value
    if len(first) >= 2 and _cell_code(first[1]) is not None:
        return ("per-habit", [(line, f[0], f[1] if len(f) > 1 else "", f[2] if len(f) > 2 else "")
                              for line, f in records])
    raise ImportFormatError(
        f"{where}: line 1: {','.join(first)[:80]!r} is not a Loop Checkmarks.csv header; "
        "expected 'Date,<habit names>' (the export's Checkmarks.csv), 'Date,Value,Notes' or "
        "'YYYY-MM-DD,value' lines (a habit's own Checkmarks.csv)")


def _fill_per_habit(h: _Habit, where, rows):
    h.entries = []
    dense = False
    for line, day, value, note in rows:
        if value.strip().upper() in ("YES_AUTO", "UNKNOWN"):
            dense = True  # the newer exporter writes every day, so NO there is not a choice
        h.entries.append((f"{where} line {line}", day, value, note))
    h.sparse = not dense


def _decide(habits, notes, dayfirst) -> list[_Habit]:
    """Parse every entry's date and code (one date parser for the whole export)."""
    cells = [(h, e) for h in habits for e in h.entries]
    # the first day each habit's file covers is parsed with its entries: one column, one order
    covers = [(h, h.first_day) for h in habits if isinstance(h.first_day, str)]
    cells += [(h, (f"{h.where}", day, "", "")) for h, day in covers]
    values = pd.Series([e[1].strip() for _, e in cells], dtype=object)
    if len(values):
        parsed = parse_timestamps(values, column="Date", lines=range(1, len(values) + 1),
                                  dayfirst=dayfirst, source="the export")
        bad = parsed.rejected
        if bad:
            label = cells[bad[0]["line"] - 1][1][0]
            raise ImportFormatError(f"{label}: column Date: got {bad[0]['value']!r}, expected "
                                    f"{bad[0]['expected']}" + (
                                        f" ({len(bad) - 1} more such dates)" if len(bad) > 1 else ""))
        days = parsed.day.tolist()
    else:
        days = []
    n_entries = len(days) - len(covers)
    for (h, _), day in zip(covers, days[n_entries:]):
        h.first_day = day
    i = 0
    for h in habits:
        out = []
        for label, _, raw, note in h.entries:
            code = _cell_code(str(raw))
            if code is None:
                raise ImportFormatError(f"{label}: got {raw!r}, expected a Loop checkmark "
                                        "(YES_MANUAL, YES_AUTO, NO, SKIP, UNKNOWN or a number)")
            out.append((label, days[i], code, note))
            i += 1
        h.entries = out
        if h.numerical is None:
            h.numerical = any(c not in (MANUAL, AUTO, NO, SKIP, UNKNOWN) for _, _, c, _ in out)
    return habits


def _read_db(path: Path, notes) -> list[_Habit]:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ImportFormatError(f"{path}: cannot open the SQLite file ({exc})") from None
    try:
        tables = {r[0].lower(): r[0] for r in con.execute(
            "select name from sqlite_master where type='table'")}
        if "habits" not in tables or "repetitions" not in tables:
            raise ImportFormatError(
                f"{path}: not a Loop Habit Tracker backup: it has no Habits and Repetitions "
                f"tables (it has {', '.join(sorted(tables.values())) or 'no tables'})")
        version = con.execute("pragma user_version").fetchone()[0]
        hcols = {r[1].lower(): r[1] for r in con.execute(f"pragma table_info({tables['habits']})")}
        rcols = {r[1].lower(): r[1] for r in con.execute(f"pragma table_info({tables['repetitions']})")}
        pick = lambda cols, name, default="NULL": cols.get(name, default)  # noqa: E731
        hq = (f"select {hcols['id']}, {pick(hcols, 'name')}, {pick(hcols, 'freq_num', '1')}, "
              f"{pick(hcols, 'freq_den', '1')}, {pick(hcols, 'archived', '0')}, "
              f"{pick(hcols, 'type', '0')}, {pick(hcols, 'target_value')}, {pick(hcols, 'unit')}, "
              f"{pick(hcols, 'position', hcols['id'])} from {tables['habits']} order by 9, 1")
        rq = (f"select {rcols['id']}, {rcols['habit']}, {rcols['timestamp']}, "
              f"{pick(rcols, 'value', '2')}, {pick(rcols, 'notes')} from {tables['repetitions']} "
              "order by 2, 3")
        habit_rows = con.execute(hq).fetchall()
        rep_rows = con.execute(rq).fetchall()
    except sqlite3.DatabaseError as exc:
        raise ImportFormatError(f"{path}: not a readable SQLite backup ({exc})") from None
    finally:
        con.close()
    notes.append(f"{path.name}: Loop backup, schema version {version}, {len(habit_rows)} habits, "
                 f"{len(rep_rows)} repetitions")
    habits = {}
    for hid, name, fnum, fden, archived, kind, target, unit, _pos in habit_rows:
        habits[hid] = _Habit(
            key=str(hid), name=(name or f"habit {hid}").strip(), freq_times=int(fnum or 1),
            freq_days=int(fden or 1), numerical=bool(kind), unit=(unit or "").strip(),
            target=float(target) if kind and target is not None else None,
            archived=bool(archived), where=f"{path.name} Habits id {hid}", sparse=True)
    for rid, hid, ts, value, note in rep_rows:
        h = habits.get(hid)
        if h is None:
            notes.append(f"{path.name}: repetition id {rid} belongs to no habit (habit {hid}); left out")
            continue
        try:
            day = pd.Timestamp(int(ts), unit="ms").normalize()
            code = int(value)
        except (TypeError, ValueError, OverflowError):
            raise ImportFormatError(f"{path.name}: Repetitions id {rid}: timestamp {ts!r} / value "
                                    f"{value!r}, expected milliseconds since 1970 and a whole "
                                    "number") from None
        h.entries.append((f"{path.name} Repetitions id {rid}", day, code, note or ""))
    return list(habits.values())


def _read_scores_only(path: Path, data, notes, dayfirst) -> list[_Habit]:
    """A lone Scores.csv of daily habits: the days done, read back from Loop's scores.

    For a daily habit score_t = m score_(t-1) + (1 - m) c_t with c_t 0 or 1, so
    c_t = (score_t - m score_(t-1)) / (1 - m); 4 decimals leave an error under 0.002,
    far from the gap between 0 and 1. A column whose read-back is not 0 or 1 everywhere is
    not a daily habit and is refused.
    """
    records = _records(path, data)
    if len(records) < 2:
        raise ImportFormatError(f"{path}: no scores in the file")
    header = [c.strip() for c in records[0][1]]
    if not header or header[0].lower() != "date":
        raise ImportFormatError(f"{path}: line 1: expected Loop's Scores.csv header 'Date,<habit names>'")
    columns = header[1:]
    while columns and not columns[-1]:
        columns.pop()
    body = records[1:]
    parsed = parse_timestamps([f[0] for _, f in body], column="Date", source=path,
                              lines=[line for line, _ in body], dayfirst=dayfirst)
    if parsed.rejected:
        r = parsed.rejected[0]
        raise ImportFormatError(f"{path}: line {r['line']}: column Date: got {r['value']!r}, "
                                f"expected {r['expected']}")
    order = np.argsort(parsed.day.to_numpy(), kind="stable")
    m = 0.5 ** (1 / 13)
    habits = []
    for j, name in enumerate(columns):
        try:
            score = np.array([float(body[i][1][j + 1]) for i in order])
        except (IndexError, ValueError):
            raise ImportFormatError(f"{path}: column {name!r}: expected a score from 0 to 1 on "
                                    "every line") from None
        prev = np.concatenate(([0.0], score[:-1]))
        done = (score - m * prev) / (1 - m)
        if np.abs(done - np.round(done)).max() > 0.01 or not np.isin(np.round(done), (0, 1)).all():
            raise ImportFormatError(
                f"{path}: the scores of {name!r} are not those of a daily yes/no habit, so the "
                "days done cannot be read back from them; import the whole export (zip or "
                "folder) or its Checkmarks.csv")
        h = _Habit(key=str(j + 1), name=name, where=str(path), sparse=True)
        h.first_day = parsed.day.iloc[order[0]]
        for i, d in zip(order, np.round(done)):
            if d == 1:
                h.entries.append((f"{path} line {body[i][0]}", parsed.day.iloc[i], MANUAL, ""))
        habits.append(h)
    notes.append(f"{path.name} holds Loop's scores only: the days done were read back from the "
                 "scores of each daily habit (frequency once a day)")
    return habits


# ----------------------------------------------------------------------------- frames
def _slug(text: str) -> str:
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    t = re.sub(r"[^A-Za-z0-9]+", "-", t).strip("-").lower()
    return t or "habit"


def _frames(path, habits, pid, notes, framework) -> ImportResult:
    goals, actions, taken = [], [], set()
    base = f"{pid}-loop-"
    n_entries = 0
    for h in habits:
        slug = _slug(h.name)[: 64 - len(base) - 3] or "habit"
        goal_id, k = base + slug, 2
        while goal_id in taken:
            goal_id, k = f"{base}{slug}-{k}", k + 1
        taken.add(goal_id)
        days = [d for _, d, c, _ in h.entries if c != UNKNOWN]
        start = h.first_day if isinstance(h.first_day, pd.Timestamp) else None
        if days:
            start = min([start, min(days)] if start is not None else days)
        target = None
        if h.numerical and h.target:
            target = f"{h.target:g} {h.unit}".strip()
        goals.append({"_label": h.where, "goal_id": goal_id, "participant_id": pid,
                      "title": h.name[:200], "freq_times": h.freq_times, "freq_days": h.freq_days,
                      "start_date": start, "target": target, "archived": h.archived})
        made = 0
        for label, day, code, note in h.entries:
            note = (note or "").strip() or None
            if h.numerical:
                if code <= 0 and not note:
                    continue
                amount = code / 1000
                text = f"{amount:g} {h.unit}".strip() if code > 0 else None
                row = {"count": 1 if code > 0 else 0,
                       "minutes": amount if h.unit.lower() in _MINUTE_UNITS and 0 < amount <= 1440 else None,
                       "note": "; ".join(x for x in (text, note) if x) or None}
            elif code == MANUAL:
                row = {"count": 1, "minutes": None, "note": note}
            elif code == SKIP or (code == NO and h.sparse) or (note and code != UNKNOWN):
                extra = "skipped in Loop" if code == SKIP else None
                row = {"count": 0, "minutes": None,
                       "note": "; ".join(x for x in (extra, note) if x) or None}
            else:
                continue
            actions.append({"_label": label, "participant_id": pid, "date": day,
                            "goal_id": goal_id, **row, "source": SOURCE})
            made += 1
        n_entries += made
        freq = "every day" if h.freq_times == h.freq_days == 1 else \
            f"{h.freq_times} time{'s' if h.freq_times != 1 else ''} in {h.freq_days} days"
        kind = "numerical, " if h.numerical else ""
        if start is None:
            notes.append(f"Loop habit {h.name!r} has no entries and no dates: left out")
            goals.pop()
            continue
        notes.append(f"Loop habit {h.name!r} ({kind}{freq}) -> goal {goal_id}, "
                     + (f"{made} action{'s' if made != 1 else ''}" if made else "no entries"))
    if not goals:
        raise ImportFormatError(f"{path}: no Loop habits with entries or dates found")
    if n_entries == 0:
        raise ImportFormatError(f"{path}: the export has no check-ins at all (every habit is empty)")

    def frame(rows):
        f = pd.DataFrame(rows)
        return f.set_index("_label").rename_axis(None)

    raw = {"participants": pd.DataFrame([{"participant_id": pid}], index=[str(path)]),
           "goals": frame(goals), "actions": frame(actions)}
    clean, rejected = validate_frames(raw, framework=framework)
    return ImportResult(format="loop", source=path, frames=clean, rejected=rejected,
                        unmapped={}, notes=notes)
