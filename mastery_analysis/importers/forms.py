"""Any form export: tells Google Forms, Microsoft Forms and Typeform apart by their columns
(see :func:`mastery_analysis.importers.mapping.detect`) and reads the file as that one.
A mapping's ``format`` key, when given, must agree with what the file is.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import MappingError
from ._forms import import_form
from ._parse import read_table
from ._result import ImportResult
from .mapping import detect, detect_table, load_mapping, suggest_mapping

__all__ = ["read", "detect", "suggest_mapping"]


def read(path, *, participant_id=None, mapping=None, dayfirst=None, framework=None) -> ImportResult:
    """Read a Google Forms, Microsoft Forms or Typeform export with a survey mapping.

    Returns
    -------
    ImportResult
        As the format's own reader returns it (``format`` names the service found):
        ``participants`` (participant_id, name, cohort), ``responses`` (participant_id,
        date, phase, instrument, item, value) and/or ``ratings`` (participant_id, date,
        element, rating, kind, note, source), indexed by file line.

    Raises
    ------
    ImportFormatError
        When the file is not a form export.
    MappingError
        Without a mapping, when it does not fit, or when its ``format`` is another service.
    """
    table = read_table(Path(path))
    fmt = detect_table(table)
    if mapping is not None:
        mapping = load_mapping(mapping, framework=framework)
        if mapping.format and mapping.format != fmt:
            raise MappingError(f"{mapping.source}: key 'format' says {mapping.format}, but "
                               f"{path} is a {fmt} export")
    return import_form(table, fmt, participant_id=participant_id, mapping=mapping,
                       dayfirst=dayfirst, framework=framework)
