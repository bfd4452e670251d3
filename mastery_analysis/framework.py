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
class Questionnaire:
    instrument: str
    title: str
    scale: Scale
    items: tuple[Item, ...]

    def items_for(self, element: str) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.element == element)


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
        questionnaire = Questionnaire(
            instrument=_stored_id(q, "instrument", qwhere),
            title=q.get("title", title),
            scale=qscale,
            items=tuple(items),
        )
    return Framework(name, title, scale, tuple(elements), questionnaire, source=where)
