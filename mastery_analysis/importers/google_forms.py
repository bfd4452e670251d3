"""Google Forms exports: the CSV of "Download responses", and Sheets' "Download > CSV" and
"Download > XLSX" of the responses sheet.

The first column is the timestamp, headed in the form's language ("Timestamp", "Marca
temporal", "Carimbo de data/hora"...) and written in the spreadsheet's locale
(``31/05/2024 23:30:28``, ``1/18/2024 14:18:57``) or, from Forms itself, as
``2021/01/23 10:58:38 pm GMT+8``; an XLSX holds Excel serial numbers. Grid questions are
``Question [Row]`` columns, quiz forms add ``Score``/``Total score`` and
``Question [Score]``/``Question [Feedback]`` columns (left out), checkbox answers are joined
with ", " or ";". Which columns are which items comes from the survey mapping.
"""

from __future__ import annotations

from pathlib import Path

from ._forms import import_form
from ._parse import read_table
from ._result import ImportResult

FORMAT = "google_forms"


def read(path, *, participant_id=None, mapping=None, dayfirst=None, framework=None) -> ImportResult:
    """Read a Google Forms export with a survey mapping; nothing is written.

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
