"""Daylio: the CSV export, in every layout its versions wrote.

Layouts, with or without the header line (a byte-order mark is common):

- 7 columns ``full_date,date,weekday,time,mood,activities,note`` (and the oldest,
  ``year,date,weekday,time,...``, where ``date`` is a localized day and month such as
  ``7 września`` or ``16 de octubre``);
- 8 columns, with ``note_title`` before ``note``;
- 9 columns, with ``scales`` (``Sleep Quality: 8/10 points | Sleep Time: 8:00``) too.

Times are 12-hour (``6:50 pm``, ``3:26 AM``) or 24-hour; a day may have several entries;
moods may be Daylio's own (rad, good, meh, bad, awful) or the person's (``Sin animo``,
``sad `` with a stray space); notes may hold HTML (``<b>``, ``<br>``), which is turned into
plain text. A line that lost its last fields is read with them empty (and said so).

What becomes what, for one participant:

- **Without a mapping**: each activity becomes a goal of its own
  (``<participant>-daylio-<activity>``, once a day) with an action on each day it was
  logged (``count``: the entries of that day that name it), and a goal ``Daylio check-in``
  gets one action per day with the day's entries kept in its note: time, mood, note title,
  note and scales, so nothing of the export is lost.
- **With a mapping** (YAML, or a dict)::

      format: daylio
      participant: alex            # or --participant
      mood_element: focused        # the element a mood rates
      moods: {rad: 10, good: 8, meh: 5, bad: 3, awful: 1}   # labels: case and spaces ignored
      activities:                  # activity -> an existing goal id, a new goal, or skip
        programming: alex-portfolio
        walk: {goal: alex-walk, title: Walk every day, element: proactive}
        nap: skip

  The day's mood becomes a rating of ``mood_element`` (the mean of its entries, rounded,
  as Daylio's daily average), with the day's notes as its note; activities named in the
  mapping become actions of their goals, and the others are listed as unmapped.
"""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..errors import ImportFormatError, MappingError
from ..framework import load_framework
from ._parse import decode, iter_records, parse_timestamps
from ._result import ImportResult, validate_frames

SOURCE = "import:daylio"
NOTE_MAX = 2000
LAYOUTS = {
    7: ("full_date", "date", "weekday", "time", "mood", "activities", "note"),
    8: ("full_date", "date", "weekday", "time", "mood", "activities", "note_title", "note"),
    9: ("full_date", "date", "weekday", "time", "mood", "activities", "scales", "note_title", "note"),
}
# month names as Daylio writes them in its ``date`` column (nominative and genitive forms)
MONTHS = {
    1: "january jan enero ene janeiro janvier janv januar jänner gennaio januari styczeń stycznia "
       "leden ledna ocak январь января",
    2: "february feb febrero febrer fevereiro fev février févr februar febbraio februari luty "
       "lutego únor února şubat февраль февраля",
    3: "march mar marzo março mars märz marz maart marzec marca březen března mart март марта",
    4: "april apr abril avril aprile kwiecień kwietnia duben dubna nisan апрель апреля",
    5: "may mayo maio mai mei maggio maj maja květen května mayıs май мая",
    6: "june jun junio junho juin juni giugno czerwiec czerwca červen června haziran июнь июня",
    7: "july jul julio julho juillet juil juli luglio lipiec lipca červenec července temmuz "
       "июль июля",
    8: "august aug agosto août augustus sierpień sierpnia srpen srpna ağustos август августа",
    9: "september sep sept septiembre setembro septembre settembre wrzesień września září "
       "eylül сентябрь сентября",
    10: "october oct octubre outubro out octobre oktober ottobre październik października říjen "
        "října ekim октябрь октября",
    11: "november nov noviembre novembro novembre listopad listopada listopadu kasım ноябрь "
        "ноября",
    12: "december dec diciembre dic dezembro dez décembre déc dezember dicembre grudzień "
        "grudnia prosinec prosince aralık декабрь декабря",
}
_MONTH = {name: number for number, names in MONTHS.items() for name in names.split()}
_TAG = re.compile(r"<[^>]{0,200}>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li)\s*/?\s*>", re.I)


def read(path, *, participant_id=None, mapping=None, dayfirst=None, framework=None) -> ImportResult:
    """Read a Daylio CSV export into goals and actions (and ratings, with a mapping).

    Parameters
    ----------
    path : str or Path
        Daylio's ``daylio_export.csv``.
    participant_id : str, optional
        Whose diary this is; required unless the mapping names the participant.
    mapping : str, Path or dict, optional
        Moods to ratings of an element and activities to goals (see the module docstring).
    dayfirst : ignored
        Daylio writes ISO dates (or a year and a day-month name).
    framework : Framework or str, optional
        The framework whose elements and scale the ratings use.

    Returns
    -------
    ImportResult
        ``frames``: ``participants``, ``goals``, ``actions`` and, with a mapping of moods,
        ``ratings`` (columns of DESIGN.md; ``source`` ``import:daylio``), indexed by the
        file line of the day's first entry. ``unmapped`` lists moods and activities the
        mapping does not place.

    Raises
    ------
    ImportFormatError
        For an empty file, a file that is not a Daylio export, or a line whose date or time
        cannot be read (naming the line).
    MappingError
        For a mapping that is not valid.
    """
    path = Path(path)
    fw = load_framework(framework)
    spec = _mapping(mapping, fw)
    pid = participant_id or spec.get("participant")
    if not pid:
        raise ImportFormatError(
            f"{path}: a Daylio export is one person's diary and does not say whose; name them "
            "with --participant ID (or 'participant:' in the mapping)")
    pid = str(pid)
    notes: list[str] = []
    entries = _entries(path, notes)
    return _frames(path, entries, pid, spec, fw, notes, framework)


# ----------------------------------------------------------------------------- reading
def _entries(path: Path, notes) -> pd.DataFrame:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not data.strip():
        raise ImportFormatError(f"{path}: the file is empty; expected Daylio's CSV export")
    text = decode(data, source=path).text
    records = list(iter_records(text, ",", source=path))
    if not records:
        raise ImportFormatError(f"{path}: the file is empty; expected Daylio's CSV export")
    first = [f.strip().lower() for f in records[0][1]]
    if first and first[0] in ("full_date", "year"):
        header = first
        body = records[1:]
        known = set(LAYOUTS[9]) | {"year"}
        if not {"date", "time", "mood"} <= set(header) or not set(header) <= known:
            raise ImportFormatError(
                f"{path}: line 1: the header {','.join(records[0][1])[:100]!r} is not Daylio's; "
                f"expected {','.join(LAYOUTS[8])} (or the 7- or 9-column form)")
    else:
        width = len(records[0][1])
        if width not in LAYOUTS or not re.fullmatch(r"\d{4}(-\d{2}-\d{2})?", first[0] if first else ""):
            raise ImportFormatError(
                f"{path}: line 1: {','.join(records[0][1])[:80]!r} is neither Daylio's header "
                f"nor an entry of its export; expected '{','.join(LAYOUTS[8])}' or lines like "
                "'2021-10-16,16 October,Saturday,18:43,good,work | walk,note'")
        header = list(LAYOUTS[width])
        if len(first[0]) == 4:
            header[0] = "year"
        body = records
        notes.append(f"{path.name} has no header line: read as Daylio's {width}-column layout "
                     f"({','.join(header)})")
    if not body:
        raise ImportFormatError(f"{path}: no entries after the header")
    width = len(header)
    short = [line for line, f in body if len(f) < width]
    extra = [line for line, f in body if len(f) > width and any(x.strip() for x in f[width:])]
    if extra:
        raise ImportFormatError(f"{path}: line {extra[0]}: more fields than the {width} of the "
                                f"header; expected {','.join(header)}")
    if short:
        notes.append(f"{len(short)} line{'s' if len(short) != 1 else ''} (first: line {short[0]}) "
                     "had fewer fields than the header; the missing ones are read as empty")
    cells = [list(f[:width]) + [""] * (width - len(f)) for _, f in body]
    frame = pd.DataFrame(cells, columns=header, dtype=object)
    frame.index = [line for line, _ in body]
    for col in LAYOUTS[9]:
        if col not in frame:
            frame[col] = ""
    frame["day_text"] = _day_texts(path, frame)
    times = frame["time"].astype(str).str.strip()
    stamp = (frame["day_text"] + " " + times).where(times != "", frame["day_text"])
    parsed = parse_timestamps(stamp, column="full_date and time", source=path,
                              lines=list(frame.index))
    if parsed.rejected:
        bad = parsed.rejected[0]
        more = f" ({len(parsed.rejected) - 1} more lines like it)" if len(parsed.rejected) > 1 else ""
        raise ImportFormatError(f"{path}: line {bad['line']}: date and time {bad['value']!r} "
                                f"cannot be read; expected a day like 2021-10-16 and a time like "
                                f"18:43 or 6:50 pm{more}")
    frame["when"] = parsed.local.to_numpy()
    missing = frame["when"].isna()
    if missing.any():
        line = frame.index[missing][0]
        raise ImportFormatError(f"{path}: line {line}: no date; expected a day like 2021-10-16")
    frame["day"] = frame["when"].dt.normalize()
    frame["mood"] = frame["mood"].astype(str).map(lambda s: " ".join(s.split()))
    frame["acts"] = frame["activities"].astype(str).map(_activities)
    return frame


def _day_texts(path, frame) -> pd.Series:
    """ISO day of each entry: ``full_date`` as it is, or ``year`` with the named day-month."""
    if "year" not in frame:
        return frame["full_date"].astype(str).str.strip()
    out = []
    for line, year, text in zip(frame.index, frame["year"], frame["date"]):
        day = month = None
        words = re.findall(r"[^\W\d_]+\.?|\d+", str(text).lower())
        for w in words:
            if w.isdigit() and day is None:
                day = int(w)
            elif w.rstrip(".") in _MONTH:
                month = _MONTH[w.rstrip(".")]
        if day is None or month is None or not str(year).strip().isdigit():
            raise ImportFormatError(
                f"{path}: line {line}: year {year!r} and date {text!r} do not name a day; "
                "expected a year like 2017 and a day and month like '7 września' or 'March 3'")
        out.append(f"{int(year):04d}-{month:02d}-{day:02d}")
    return pd.Series(out, index=frame.index, dtype=object)


def _activities(cell: str) -> list[str]:
    seen, out = set(), []
    for part in cell.split("|"):
        name = " ".join(part.split())
        if name and name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def plain_text(note: str) -> str:
    """A Daylio note as plain text: line breaks for ``<br>``, other tags dropped, entities read."""
    text = _BREAK.sub("\n", str(note))
    text = html.unescape(_TAG.sub("", text))
    lines = [" ".join(line.split()) for line in text.replace("\r", "").split("\n")]
    return "\n".join(lines).strip()


# ----------------------------------------------------------------------------- the mapping
def norm(label) -> str:
    """A mood or activity label compared without case, accents' forms or extra spaces."""
    return " ".join(unicodedata.normalize("NFC", str(label)).split()).casefold()


def _mapping(mapping, fw) -> dict:
    if mapping is None:
        return {}
    where = "the mapping"
    if isinstance(mapping, (str, Path)):
        where = str(mapping)
        try:
            raw = yaml.safe_load(Path(mapping).read_text(encoding="utf-8"))
        except OSError as exc:
            raise MappingError(f"cannot read the mapping {mapping}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise MappingError(f"{mapping}: not valid YAML ({exc})") from None
    else:
        raw = mapping
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: expected a mapping with keys format, participant, "
                           "mood_element, moods, activities")
    allowed = {"format", "participant", "mood_element", "moods", "activities"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise MappingError(f"{where}: unknown key {unknown[0]!r}; a Daylio mapping has "
                           f"{', '.join(sorted(allowed))}")
    if raw.get("format", "daylio") != "daylio":
        raise MappingError(f"{where}: format is {raw.get('format')!r}, expected daylio")
    spec: dict = {"participant": raw.get("participant")}
    moods = raw.get("moods") or {}
    if not isinstance(moods, dict):
        raise MappingError(f"{where}: moods: expected label: rating pairs")
    element = raw.get("mood_element")
    if moods and element not in fw.keys:
        raise MappingError(f"{where}: mood_element: got {element!r}, expected one of the "
                           f"{fw.name} elements ({', '.join(fw.keys)})")
    spec["element"] = element
    spec["moods"] = {}
    for label, value in moods.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
                or not fw.scale.min <= value <= fw.scale.max:
            raise MappingError(f"{where}: moods: {label!r}: got {value!r}, expected "
                               f"{fw.scale.describe()}")
        spec["moods"][norm(label)] = int(value)
    acts = raw.get("activities") or {}
    if not isinstance(acts, dict):
        raise MappingError(f"{where}: activities: expected activity: goal pairs")
    spec["activities"] = {}
    for label, value in acts.items():
        if value == "skip":
            spec["activities"][norm(label)] = None
        elif isinstance(value, str):
            spec["activities"][norm(label)] = {"goal": value}
        elif isinstance(value, dict) and isinstance(value.get("goal"), str):
            extra = sorted(set(value) - {"goal", "title", "element"})
            if extra:
                raise MappingError(f"{where}: activities: {label!r}: unknown key {extra[0]!r}; "
                                   "expected goal, title, element")
            spec["activities"][norm(label)] = dict(value)
        else:
            raise MappingError(f"{where}: activities: {label!r}: got {value!r}, expected a goal "
                               "id, {goal: id, title: ..., element: ...} or skip")
    spec["mapped"] = True
    return spec


# ----------------------------------------------------------------------------- frames
def _slug(text: str) -> str:
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", t).strip("-").lower() or "activity"


def _day_note(entries: pd.DataFrame) -> str:
    parts = []
    for e in entries.sort_values("when").itertuples():
        bits = [e.when.strftime("%H:%M")]
        if e.mood:
            bits.append(e.mood)
        title, note, scales = (plain_text(e.note_title), plain_text(e.note),
                               " ".join(str(e.scales).split()))
        text = ": ".join(x for x in (title, note) if x)
        line = " ".join(bits) + (f" - {text}" if text else "") + (f" [{scales}]" if scales else "")
        parts.append(line)
    return "\n".join(parts)


def _fit(note, shortened):
    if note and len(note) > NOTE_MAX:
        shortened.append(1)
        return note[: NOTE_MAX - 1] + "…"
    return note or None


def _frames(path, entries, pid, spec, fw, notes, framework) -> ImportResult:
    mapped = spec.get("mapped", False)
    first_line = entries.reset_index().groupby("day")["index"].min()
    by_day = {day: group for day, group in entries.groupby("day", sort=True)}
    shortened: list = []
    goals, actions, ratings = [], [], []
    unmapped_moods, unmapped_acts = set(), {}
    taken: set = set()

    def goal_id_for(slug):
        base = f"{pid}-daylio-"
        gid, k = base + slug[: 64 - len(base) - 3], 2
        while gid in taken:
            gid, k = f"{base}{slug[: 64 - len(base) - 6]}-{k}", k + 1
        taken.add(gid)
        return gid

    # activities: one row per (day, activity), counting the entries that name it
    act_rows = [(day, name, line) for line, day, acts in zip(entries.index, entries["day"], entries["acts"])
                for name in acts]
    per_act: dict[str, dict] = {}
    for day, name, line in act_rows:
        key = norm(name)
        rec = per_act.setdefault(key, {"name": name, "days": {}})
        d = rec["days"].setdefault(day, [0, line])
        d[0] += 1
        d[1] = min(d[1], line)
    for key, rec in sorted(per_act.items(), key=lambda kv: kv[1]["name"].lower()):
        if mapped:
            if key not in spec["activities"]:
                unmapped_acts[rec["name"]] = len(rec["days"])
                continue
            target = spec["activities"][key]
            if target is None:
                continue
            gid = target["goal"]
            if "title" in target or "element" in target:
                if gid not in taken:
                    taken.add(gid)
                    goals.append({"_label": min(v[1] for v in rec["days"].values()), "goal_id": gid,
                                  "participant_id": pid, "title": target.get("title", rec["name"]),
                                  "element": target.get("element"), "start_date": min(rec["days"])})
        else:
            gid = goal_id_for(_slug(rec["name"]))
            goals.append({"_label": min(v[1] for v in rec["days"].values()), "goal_id": gid,
                          "participant_id": pid, "title": rec["name"][:200],
                          "start_date": min(rec["days"])})
        for day, (count, line) in sorted(rec["days"].items()):
            actions.append({"_label": line, "participant_id": pid, "date": day, "goal_id": gid,
                            "count": count, "note": None, "source": SOURCE})
    if not mapped:
        gid = goal_id_for("check-in")
        goals.append({"_label": int(entries.index.min()), "goal_id": gid, "participant_id": pid,
                      "title": "Daylio check-in", "start_date": min(by_day)})
        for day, group in by_day.items():
            actions.append({"_label": int(first_line[day]), "participant_id": pid, "date": day,
                            "goal_id": gid, "count": len(group),
                            "note": _fit(_day_note(group), shortened), "source": SOURCE})
        notes.append(f"{len(per_act)} activities -> one goal each (an action on each day logged); "
                     f"every day's entries (time, mood, note) -> the note of goal {gid}")
    else:
        moods = spec["moods"]
        for day, group in by_day.items():
            values = [moods.get(norm(m)) for m in group["mood"]]
            for m, v in zip(group["mood"], values):
                if v is None and m:
                    unmapped_moods.add(m)
            got = [v for v in values if v is not None]
            note = _fit(_day_note(group), shortened)
            if got and spec.get("element"):
                mean = float(np.mean(got))
                ratings.append({"_label": int(first_line[day]), "participant_id": pid, "date": day,
                                "element": spec["element"], "rating": int(np.floor(mean + 0.5)),
                                "kind": "current", "note": note, "source": SOURCE})
        if moods:
            notes.append(f"moods -> ratings of {spec['element']} (the day's mean, rounded), with "
                         "the day's entries as the note")
    if shortened:
        notes.append(f"{len(shortened)} day note{'s' if len(shortened) != 1 else ''} longer than "
                     f"{NOTE_MAX} characters {'were' if len(shortened) != 1 else 'was'} shortened")
    span = f"{min(by_day).date()} to {max(by_day).date()}"
    notes.append(f"{len(entries)} Daylio entries on {len(by_day)} days ({span})")

    def frame(rows, columns):
        if not rows:
            return None
        f = pd.DataFrame(rows)
        return f.set_index("_label").rename_axis(None).reindex(columns=[c for c in columns if c in f])

    raw = {"participants": pd.DataFrame([{"participant_id": pid}], index=[str(path)]),
           "goals": frame(goals, ["goal_id", "participant_id", "title", "element", "start_date"]),
           "actions": frame(actions, ["participant_id", "date", "goal_id", "count", "note", "source"]),
           "ratings": frame(ratings, ["participant_id", "date", "element", "rating", "kind", "note",
                                      "source"])}
    clean, rejected = validate_frames({k: v for k, v in raw.items() if v is not None},
                                      framework=framework)
    unmapped = {}
    if unmapped_moods:
        unmapped["moods"] = sorted(unmapped_moods)
    if unmapped_acts:
        unmapped["activities"] = [f"{a} ({n} day{'s' if n != 1 else ''})"
                                  for a, n in sorted(unmapped_acts.items())]
    return ImportResult(format="daylio", source=path, frames=clean, rejected=rejected,
                        unmapped=unmapped, notes=notes)
