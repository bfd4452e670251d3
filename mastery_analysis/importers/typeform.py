"""Typeform CSV exports.

The older layout: ``#`` (the response token), one column per question, and for
multiple-choice questions one column per option (headed by the option's label, holding the
label when chosen; several "Other" columns), then ``Start Date (UTC)``,
``Submit Date (UTC)`` and ``Network ID``. The newer layout adds ``Response Type``
(completed or partial), ``Stage Date (UTC)``, ``Tags`` and ``Ending``. ``Submit Date (UTC)``
is the timestamp, in UTC (a mapping's ``timestamp.timezone`` converts it to the
participants' zone before the day is taken); partial responses are left out unless the
mapping sets ``include_partial: true``.
"""

from __future__ import annotations

from pathlib import Path

from ._forms import import_form
from ._parse import read_table
from ._result import ImportResult

FORMAT = "typeform"


def read(path, *, participant_id=None, mapping=None, dayfirst=None, framework=None) -> ImportResult:
    """Read a Typeform export with a survey mapping; nothing is written.

    Returns
    -------
    ImportResult
        ``participants`` (participant_id, name, cohort), ``responses`` (participant_id,
        date, phase, instrument, item, value) and/or ``ratings`` (participant_id, date,
        element, rating, kind, note, source), indexed by file line.

    Raises
    ------
    MappingError
        Without a mapping (the message says how to draft one), or when it does not fit.
    ImportFormatError
        When the file cannot be read.
    """
    return import_form(read_table(Path(path)), FORMAT, participant_id=participant_id,
                       mapping=mapping, dayfirst=dayfirst, framework=framework)
