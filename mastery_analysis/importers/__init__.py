"""Importers: one module per outside format. Each reads a file and returns tidy frames.

Importers never write: :func:`read` returns an :class:`ImportResult` and ``Store.import_result``
(the store's single write path) writes it in one transaction.

Every format module offers::

    read(path, *, participant_id=None, mapping=None, dayfirst=None, framework=None) -> ImportResult
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import ImportFormatError
from ._result import ImportResult, empty_rejected

# format name -> module (imported on first use, so a format's optional reader is only
# needed when that format is read)
FORMATS: dict[str, str] = {
    "tidy": "tidy",
    "loop": "loop",
    "daylio": "daylio",
    "google_forms": "google_forms",
    "microsoft_forms": "microsoft_forms",
    "typeform": "typeform",
}
# names people type on the command line
ALIASES = {"forms": "google_forms", "google-forms": "google_forms", "gforms": "google_forms",
           "microsoft-forms": "microsoft_forms", "msforms": "microsoft_forms",
           "loop-habit-tracker": "loop"}


def canonical(format: str) -> str:
    """The registry name of ``format`` (an alias like ``forms`` allowed).

    Raises
    ------
    ImportFormatError
        Naming the formats there are.
    """
    name = ALIASES.get(str(format).strip().lower(), str(format).strip().lower())
    if name not in FORMATS:
        raise ImportFormatError(
            f"unknown import format {format!r}: expected one of {', '.join(FORMATS)}")
    return name


def module(format: str):
    """The module that reads ``format``."""
    name = canonical(format)
    try:
        return importlib.import_module(f"{__name__}.{FORMATS[name]}")
    except ModuleNotFoundError as exc:  # a format module not written yet
        if exc.name == f"{__name__}.{FORMATS[name]}":
            raise ImportFormatError(f"the {name} importer is not available in this version") from None
        raise


def read(format: str, path, **options) -> ImportResult:
    """Read ``path`` as ``format`` and return tidy frames; nothing is written.

    Parameters
    ----------
    format : str
        One of :data:`FORMATS` (or an alias such as ``forms``).
    path : str or Path
        The file or folder to read.
    **options
        ``participant_id``, ``mapping``, ``dayfirst``, ``framework``: passed to the format.

    Raises
    ------
    ImportFormatError
        For an unknown format or a path that does not exist.
    """
    reader = module(format)
    path = Path(path)
    if not path.exists():
        raise ImportFormatError(f"{path}: no such file or folder")
    return reader.read(path, **options)


__all__ = ["FORMATS", "ImportResult", "canonical", "empty_rejected", "module", "read"]
