"""The exceptions people see. Every message names what was wrong, where, and what was expected."""


class MasteryError(Exception):
    """Base class of every error this package raises on purpose.

    The CLI prints the message of a ``MasteryError`` without a traceback and exits non-zero.
    """


class FrameworkError(MasteryError):
    """A framework YAML file is missing, unreadable or does not describe a valid framework."""


class ValidationError(MasteryError):
    """A frame does not match its table's schema. ``failures`` lists every failing cell.

    Attributes
    ----------
    table : str
        The table the frame was meant for.
    failures : list of dict
        One dict per failing cell with keys ``row``, ``column``, ``value`` and ``expected``.
    """

    def __init__(self, table, failures, *, where=None, noun="table", label="row"):
        self.table = table
        self.failures = list(failures)
        self.where = where
        lines = []
        for f in self.failures[:50]:
            row = f.get("row")
            # a label that is already a place ("Habits.csv line 3") is shown as it is
            where_parts = ([] if row is None else [row if isinstance(row, str) else f"{label} {row}"]) + (
                [] if f.get("column") is None else [f"column '{f['column']}'"])
            place = ", ".join(where_parts)
            lines.append(f"  {place + ': ' if place else ''}got {f.get('value')!r}, expected {f['expected']}")
        more = len(self.failures) - 50
        if more > 0:
            lines.append(f"  ... and {more} more")
        origin = f" in {where}" if where else ""
        n = len(self.failures)
        super().__init__(
            f"{n} problem{'s' if n != 1 else ''} with the {table}"
            f"{' ' + noun if noun else ''}{'s' if noun and ' and ' in table else ''}{origin}:\n"
            + "\n".join(lines)
        )


class StoreError(MasteryError):
    """The store cannot be opened, read or written."""


class StoreVersionError(StoreError):
    """The store was written by a newer version of mastery-analysis than the one running."""


class UnknownParticipantError(MasteryError):
    """A participant id that the store does not know."""


class AnalysisInputError(MasteryError):
    """A frame given to an analysis function lacks a column it needs, or an option is invalid."""


class ImportFormatError(MasteryError):
    """An outside file cannot be read as the format named: unknown format, wrong layout,
    truncated or empty file, or a cell that cannot be read (the message names file and line)."""


class AmbiguousDateError(ImportFormatError):
    """A date column could be read day-first or month-first and nothing in it tells which;
    the message names the file and column and the option (``--dayfirst``/``--monthfirst``)
    that decides."""


class MappingError(MasteryError):
    """A survey mapping file is missing, unreadable or wrong; the message names the file and
    the key, or a form was imported without the mapping it needs."""


class UnknownCohortError(MasteryError):
    """A cohort name that the store does not know."""


class ImportRowsError(ValidationError):
    """An import found invalid rows and wrote nothing; the message lists each bad cell (file
    line, column, value, what was expected) and how to import the valid rows anyway."""

    def __init__(self, table, failures, *, where=None, hint=""):
        super().__init__(table, failures, where=where, noun="", label="line")
        if hint:
            self.args = (self.args[0] + "\n" + hint,)

    def __str__(self):
        return self.args[0]


class AddressError(ValidationError):
    """A value that is not one e-mail address; the message is one line naming the value and
    whose or which option it was."""

    def __init__(self, what, value, *, expected="an e-mail address like name@example.org"):
        super().__init__(what, [{"row": None, "column": None, "value": value, "expected": expected}],
                         noun="")
        self.args = (f"{what}: {value!r} is not an e-mail address (expected {expected.removeprefix('an e-mail address like ')})",)

    def __str__(self):
        return self.args[0]


class MailError(MasteryError):
    """The mail server cannot be reached, refuses the login, or the messages cannot be sent
    or written; nothing is marked as sent."""


class ExperimentError(AnalysisInputError):
    """A self-experiment's plan, schedule or outcome cannot be used: an unknown design, too
    few periods per condition, a washout as long as a period, an outcome with no day in the
    schedule. The message names the option or column and the value, and what was expected."""
