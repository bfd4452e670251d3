"""The elements people rate themselves on, as data.

A framework is a YAML file: a rating scale, the elements (key, label, description, prompt,
colour) and an optional questionnaire for baseline/post assessments. The default is
``career_mastery``; ``wheel_of_life`` shows that another framework works the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import FrameworkError

FRAMEWORK_DIR = Path(__file__).parent / "frameworks"
DEFAULT_FRAMEWORK = "career_mastery"
# ids stored in the tables (participants, goals, questionnaire instruments and items)
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
ID_EXPECTED = "an id of letters, digits, '_', '.', '@' or '-' (at most 64 characters)"
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


@dataclass(frozen=True)
class Scale:
    """An integer rating scale from ``min`` to ``max`` inclusive."""

    min: int
    max: int
    labels: dict = field(default_factory=dict)

    def contains(self, value) -> bool:
        try:
            return float(value) == int(value) and self.min <= int(value) <= self.max
        except (TypeError, ValueError, OverflowError):
            return False

    def describe(self) -> str:
        return f"an integer from {self.min} to {self.max}"


@dataclass(frozen=True)
class Element:
    key: str
    label: str
    description: str
    prompt: str
    color: str
    reliability: float | None = None  # test-retest or alpha, used for reliable change (RCI)


@dataclass(frozen=True)
class Item:
    id: str
    element: str
    text: str
    reverse: bool = False


@dataclass(frozen=True)
class Norm:
    """Published mean and SD of a scale score in a named sample, quoted from ``source``."""

    group: str
    n: int | None
    mean: float
    sd: float
    source: str


@dataclass(frozen=True)
class ScaleScore:
    """A score computed from some of a questionnaire's items (an element or a subscale).

    ``reliability`` is the published value (``reliability_source`` says where from) for a
    validated instrument, or the value the framework assumes for a home-made one.
    """

    key: str
    label: str
    items: tuple[str, ...]
    reliability: float | None = None
    reliability_source: str = ""
    norms: tuple[Norm, ...] = ()


@dataclass(frozen=True)
class Questionnaire:
    """Items answered on one scale, scored into one or more scales (elements or subscales).

    A framework's own questionnaire scores each element from the items naming it; a
    validated instrument (:func:`load_instrument`) lists its scales, how they are scored
    (``scoring``: ``mean`` or ``sum`` of the coded items), its citation and the permission
    under which it is shipped.
    """

    instrument: str
    title: str
    scale: Scale
    items: tuple[Item, ...]
    scales: tuple[ScaleScore, ...] = ()
    scoring: str = "mean"
    validated: bool = False
    citation: str = ""
    licence: str = ""
    licence_source: str = ""
    source: str = ""

    def items_for(self, element: str) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.element == element)

    @property
    def scale_keys(self) -> list[str]:
        return [s.key for s in self.scales]

    def scale_score(self, key: str) -> ScaleScore:
        for s in self.scales:
            if s.key == key:
                return s
        raise FrameworkError(f"questionnaire '{self.instrument}' has no scale '{key}'; its scales are "
                             f"{', '.join(self.scale_keys)}")

    def item(self, item_id: str) -> Item:
        for i in self.items:
            if i.id == item_id:
                return i
        raise FrameworkError(f"questionnaire '{self.instrument}' has no item '{item_id}'")


@dataclass(frozen=True)
class Framework:
    """A rating framework: its scale, its elements in display order, its questionnaire."""

    name: str
    title: str
    scale: Scale
    elements: tuple[Element, ...]
    questionnaire: Questionnaire | None = None
    source: str = ""

    @property
    def keys(self) -> list[str]:
        return [e.key for e in self.elements]

    @property
    def labels(self) -> dict[str, str]:
        return {e.key: e.label for e in self.elements}

    @property
    def colors(self) -> dict[str, str]:
        return {e.key: e.color for e in self.elements}

    def element(self, key: str) -> Element:
        for e in self.elements:
            if e.key == key:
                return e
        raise FrameworkError(
            f"framework '{self.name}' has no element '{key}'; its elements are {', '.join(self.keys)}"
        )


def available_frameworks() -> list[str]:
    """Names of the frameworks shipped with the package."""
    return sorted(p.stem for p in FRAMEWORK_DIR.glob("*.yaml"))


def load_framework(name_or_path: str | Path | Framework | None = None) -> Framework:
    """Load a framework by shipped name (``"career_mastery"``) or from a YAML file path.

    Parameters
    ----------
    name_or_path : str, Path, Framework or None
        ``None`` gives the default framework; a ``Framework`` is returned as is.

    Raises
    ------
    FrameworkError
        When the file is missing or unreadable, or its content is not a valid framework;
        the message names the file and the field.
    """
    if isinstance(name_or_path, Framework):
        return name_or_path
    name_or_path = name_or_path or DEFAULT_FRAMEWORK
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = FRAMEWORK_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise FrameworkError(
                f"no framework named '{name_or_path}'; shipped frameworks are "
                f"{', '.join(available_frameworks())}, or give the path of a YAML file"
            )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FrameworkError(f"cannot read framework file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FrameworkError(f"framework file {path} is not valid YAML: {exc}") from None
    return _parse(data, where=str(path))


def _need(mapping, key, where, kind=str):
    if not isinstance(mapping, dict) or key not in mapping:
        raise FrameworkError(f"{where}: missing required field '{key}'")
    value = mapping[key]
    if kind is not None and not isinstance(value, kind):
        raise FrameworkError(
            f"{where}: field '{key}' should be {kind.__name__}, got {value!r}"
        )
    return value


def _stored_id(mapping, key, where) -> str:
    value = _need(mapping, key, where)
    if not re.match(ID_PATTERN, value):
        raise FrameworkError(f"{where}: {key} {value!r} should be {ID_EXPECTED}")
    return value


def _optional_text(mapping, key, where) -> str:
    value = mapping.get(key, "")
    if not isinstance(value, str):
        raise FrameworkError(f"{where}: field '{key}' should be text, got {value!r}")
    return value


def _parse_scale(data, where) -> Scale:
    lo, hi = _need(data, "min", where, int), _need(data, "max", where, int)
    if lo >= hi:
        raise FrameworkError(f"{where}: scale min ({lo}) must be below max ({hi})")
    labels = data.get("labels") or {}
    if not isinstance(labels, dict) or not all(
            isinstance(k, int) and not isinstance(k, bool) and lo <= k <= hi for k in labels):
        raise FrameworkError(f"{where}: scale labels should map values from {lo} to {hi} to "
                             f"labels, got {labels!r}")
    return Scale(lo, hi, {k: str(v) for k, v in labels.items()})


def _parse(data, where: str) -> Framework:
    if not isinstance(data, dict):
        raise FrameworkError(f"{where}: a framework file must be a mapping, got {type(data).__name__}")
    name = _need(data, "name", where)
    title = data.get("title", name)
    scale = _parse_scale(_need(data, "scale", where, dict), f"{where}: scale")
    raw_elements = _need(data, "elements", where, list)
    if not raw_elements:
        raise FrameworkError(f"{where}: 'elements' is empty; a framework needs at least one element")
    elements, seen = [], set()
    for i, raw in enumerate(raw_elements):
        at = f"{where}: elements[{i}]"
        key = _need(raw, "key", at)
        if not _KEY.match(key):
            raise FrameworkError(f"{at}: key {key!r} must be lower-case letters, digits and _")
        if key in seen:
            raise FrameworkError(f"{at}: element key '{key}' appears twice")
        seen.add(key)
        color = raw.get("color", "#777777")
        if not isinstance(color, str) or not _COLOR.match(color):
            raise FrameworkError(f"{at}: color {color!r} should look like '#0072B2'")
        rel = raw.get("reliability")
        if rel is not None and not (isinstance(rel, (int, float)) and 0 < rel < 1):
            raise FrameworkError(f"{at}: reliability {rel!r} should be a number between 0 and 1")
        elements.append(
            Element(
                key=key,
                label=_need(raw, "label", at),
                description=_optional_text(raw, "description", at),
                prompt=_optional_text(raw, "prompt", at),
                color=color,
                reliability=None if rel is None else float(rel),
            )
        )
    questionnaire = None
    if data.get("questionnaire") is not None:
        q = data["questionnaire"]
        qwhere = f"{where}: questionnaire"
        qscale = _parse_scale(_need(q, "scale", qwhere, dict), f"{qwhere}: scale")
        items, ids = [], set()
        for i, raw in enumerate(_need(q, "items", qwhere, list)):
            at = f"{qwhere}: items[{i}]"
            item_id = _stored_id(raw, "id", at)
            element = _need(raw, "element", at)
            if element not in seen:
                raise FrameworkError(f"{at}: element '{element}' is not one of {', '.join(seen)}")
            if item_id in ids:
                raise FrameworkError(f"{at}: item id '{item_id}' appears twice")
            ids.add(item_id)
            reverse = raw.get("reverse", False)
            if not isinstance(reverse, bool):
                raise FrameworkError(f"{at}: reverse should be true or false, got {reverse!r}")
            items.append(Item(item_id, element, _need(raw, "text", at), reverse))
        scales = tuple(
            ScaleScore(key=e.key, label=e.label, items=tuple(i.id for i in items if i.element == e.key),
                       reliability=e.reliability,
                       reliability_source="assumed by the framework file" if e.reliability else "")
            for e in elements if any(i.element == e.key for i in items))
        questionnaire = Questionnaire(
            instrument=_stored_id(q, "instrument", qwhere),
            title=q.get("title", title),
            scale=qscale,
            items=tuple(items),
            scales=scales,
            scoring="mean",
            validated=bool(q.get("validated", False)),
            citation=_optional_text(q, "citation", qwhere),
            source=where,
        )
    return Framework(name, title, scale, tuple(elements), questionnaire, source=where)


# --------------------------------------------------------------------------- validated instruments
INSTRUMENT_DIR = FRAMEWORK_DIR / "instruments"
_SCORING = ("mean", "sum")


def available_instruments() -> list[str]:
    """Names of the questionnaires shipped as instruments (validated scales and the home-made one)."""
    return sorted(p.stem for p in INSTRUMENT_DIR.glob("*.yaml"))


def load_instrument(name_or_path: str | Path | Questionnaire) -> Questionnaire:
    """Load a questionnaire instrument by shipped name (``"pearlin_mastery"``) or YAML path.

    Besides a framework's own questionnaire (``Framework.questionnaire``), a cohort may use
    instruments: questionnaires with their scales, scoring rule, citation, published
    reliability and norms, and the licence under which the file ships them.

    Parameters
    ----------
    name_or_path : str, Path or Questionnaire
        A shipped name (see :func:`available_instruments`), the path of a YAML file, or a
        ``Questionnaire`` (returned as is). The name of a framework with a questionnaire
        (``career_mastery``) gives that questionnaire.

    Raises
    ------
    FrameworkError
        One message naming the file and what is wrong: a missing field (a licence statement
        included), a duplicated item id, a scale that names an unknown item or has none.
    """
    if isinstance(name_or_path, Questionnaire):
        return name_or_path
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = INSTRUMENT_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            fw_path = FRAMEWORK_DIR / f"{name_or_path}.yaml"
            if fw_path.exists():
                fw = load_framework(fw_path)
                if fw.questionnaire is not None:
                    return fw.questionnaire
            for name in available_frameworks():
                fw = load_framework(name)
                if fw.questionnaire is not None and fw.questionnaire.instrument == str(name_or_path):
                    return fw.questionnaire
            raise FrameworkError(
                f"no instrument named '{name_or_path}'; shipped instruments are "
                f"{', '.join(available_instruments())}, or give the path of a YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FrameworkError(f"cannot read instrument file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise FrameworkError(f"instrument file {path} is not valid YAML: {exc}") from None
    return _parse_instrument(data, where=str(path))


def _number(mapping, key, where, *, lo=None, hi=None, optional=False):
    if optional and (not isinstance(mapping, dict) or mapping.get(key) is None):
        return None
    value = _need(mapping, key, where, None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            lo is not None and value <= lo) or (hi is not None and value >= hi):
        span = f" between {lo} and {hi}" if lo is not None and hi is not None else ""
        raise FrameworkError(f"{where}: field '{key}' should be a number{span}, got {value!r}")
    return float(value)


def _parse_instrument(data, where: str) -> Questionnaire:
    if not isinstance(data, dict):
        raise FrameworkError(f"{where}: an instrument file must be a mapping, got {type(data).__name__}")
    instrument = _stored_id(data, "instrument", where)
    licence = data.get("licence")
    if not isinstance(licence, dict) or not str(licence.get("statement") or "").strip() or not str(
            licence.get("source") or "").strip():
        raise FrameworkError(
            f"{where}: missing licence statement; an instrument file needs 'licence' with "
            "'statement' (the permission's wording, quoted) and 'source' (where it was read), "
            "so that nobody ships a scale its authors did not allow")
    scale = _parse_scale(_need(data, "scale", where, dict), f"{where}: scale")
    scoring = data.get("scoring", "mean")
    if scoring not in _SCORING:
        raise FrameworkError(f"{where}: scoring {scoring!r} should be one of {', '.join(_SCORING)}")
    items, ids = [], set()
    for i, raw in enumerate(_need(data, "items", where, list)):
        at = f"{where}: items[{i}]"
        item_id = _stored_id(raw, "id", at)
        if item_id in ids:
            raise FrameworkError(f"{at}: item id '{item_id}' appears twice")
        ids.add(item_id)
        reverse = raw.get("reverse", False)
        if not isinstance(reverse, bool):
            raise FrameworkError(f"{at}: reverse should be true or false, got {reverse!r}")
        items.append(Item(item_id, "", _need(raw, "text", at), reverse))
    if not items:
        raise FrameworkError(f"{where}: 'items' is empty; an instrument needs items")
    scales, keys = [], set()
    for s, raw in enumerate(_need(data, "scales", where, list)):
        at = f"{where}: scales[{s}]"
        key = _need(raw, "key", at)
        if not _KEY.match(key):
            raise FrameworkError(f"{at}: key {key!r} must be lower-case letters, digits and _")
        if key in keys:
            raise FrameworkError(f"{at}: scale key '{key}' appears twice")
        keys.add(key)
        members = raw.get("items")
        if not isinstance(members, list) or not members:
            raise FrameworkError(f"{at}: scale '{key}' has no items; list the ids of the items it scores")
        unknown = [m for m in members if m not in ids]
        if unknown:
            raise FrameworkError(f"{at}: scale '{key}' names unknown item{'s' if len(unknown) > 1 else ''} "
                                 f"{', '.join(map(repr, unknown))}; the items are {', '.join(sorted(ids))}")
        if len(set(members)) != len(members):
            raise FrameworkError(f"{at}: scale '{key}' lists an item twice")
        rel = raw.get("published_reliability")
        value = _number(rel, "value", f"{at}: published_reliability", lo=0, hi=1, optional=True)
        rel_source = _optional_text(rel, "source", f"{at}: published_reliability") if isinstance(
            rel, dict) else ""
        if value is not None and not rel_source.strip():
            raise FrameworkError(f"{at}: published_reliability needs a 'source' (where it was read)")
        norms = []
        for j, nraw in enumerate(raw.get("norms") or []):
            nat = f"{at}: norms[{j}]"
            n = nraw.get("n") if isinstance(nraw, dict) else None
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
                raise FrameworkError(f"{nat}: n should be a whole number of people, got {n!r}")
            norms.append(Norm(group=_need(nraw, "group", nat), n=n,
                              mean=_number(nraw, "mean", nat), sd=_number(nraw, "sd", nat, lo=0),
                              source=_need(nraw, "source", nat)))
        scales.append(ScaleScore(key=key, label=raw.get("label", key), items=tuple(members),
                                 reliability=value, reliability_source=rel_source, norms=tuple(norms)))
    if not scales:
        raise FrameworkError(f"{where}: 'scales' is empty; an instrument scores at least one scale")
    return Questionnaire(
        instrument=instrument, title=str(data.get("title", instrument)), scale=scale, items=tuple(items),
        scales=tuple(scales), scoring=scoring, validated=bool(data.get("validated", False)),
        citation=_optional_text(data, "citation", where), licence=str(licence["statement"]).strip(),
        licence_source=str(licence["source"]).strip(), source=where)
