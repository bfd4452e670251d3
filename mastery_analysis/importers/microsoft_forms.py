"""Microsoft Forms exports: the XLSX of "Open in Excel" (``ID, Start time, Completion time,
Email, Name, Last modified time, <questions>``, times as Excel date cells) and a CSV saved
from it by Excel (``Id``, no ``Last modified time``, times like ``9/1/2024 11:27`` without
seconds, often Windows-1252). ``Completion time`` is the timestamp; ``Email`` is
"anonymous" when the form did not record people. Which columns are which items comes from
the survey mapping.
"""

from __future__ import annotations

from pathlib import Path

from ._forms import import_form
from ._parse import read_table
from ._result import ImportResult

FORMAT = "microsoft_forms"


def read(path, *, participant_id=None, mapping=None, dayfirst=None, framework=None) -> ImportResult:
    """Read a Microsoft Forms export with a survey mapping; nothing is written.

    Returns
    -------
    ImportResult
        ``participants`` (participant_id, name, cohort), ``responses`` (participant_id,
        date, phase, instrument, item, value) and/or ``ratings`` (participant_id, date,
        element, rating, kind, note, source), indexed by file line (sheet row for XLSX).

    Raises
    ------
    MappingError
        Without a mapping (the message says how to draft one), or when it does not fit.
    ImportFormatError
        When the file cannot be read, or its dates cannot be told day- from month-first.
    """
    return import_form(read_table(Path(path)), FORMAT, participant_id=participant_id,
                       mapping=mapping, dayfirst=dayfirst, framework=framework)
