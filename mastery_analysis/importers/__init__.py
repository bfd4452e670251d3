"""Importers: one module per outside format. Each reads a file and returns tidy frames.

Importers never write: :func:`read` returns an :class:`ImportResult` and ``Store.import_result``
(the store's single write path) writes it in one transaction.

Every format module offers::

    read(path, *, participant_id=None, mapping=None, dayfirst=None, framework=None) -> ImportResult
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from dataclasses import dataclass, field

import pandas as pd

from ..errors import ImportFormatError, ImportRowsError
from ._result import ImportResult, empty_rejected, validate_frames, validate_rows

# format name -> module (imported on first use, so a format's optional reader is only
# needed when that format is read)
FORMATS: dict[str, str] = {
    "tidy": "tidy",
    "loop": "loop",
    "daylio": "daylio",
    "google_forms": "google_forms",
    "microsoft_forms": "microsoft_forms",
    "typeform": "typeform",
    "forms": "forms",  # any of the three form services, told apart by their columns
}
# names people type on the command line
ALIASES = {"google-forms": "google_forms", "gforms": "google_forms",
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


def rejected_path(source) -> Path:
    """Where ``--skip-invalid`` writes the rejected rows: ``<name>.rejected.csv`` beside the input."""
    source = Path(source)
    return source.parent / f"{source.name}.rejected.csv"


@dataclass
class ImportOutcome:
    """What an import did (or, in a dry run, would do).

    Attributes
    ----------
    result : ImportResult
        What the importer read.
    written : dict of str to int
        Rows added per table (in a dry run: rows a real import would add). Rows equal to
        what the store already holds are not counted: they are not written again.
    rejected_file : Path or None
        The CSV of rejected rows written with ``skip_invalid``.
    dry_run : bool
    """

    result: ImportResult
    written: dict = field(default_factory=dict)
    rejected_file: Path | None = None
    dry_run: bool = False


def run(store, format: str, path, *, dry_run: bool = False, skip_invalid: bool = False,
        progress: bool = False, **options) -> ImportOutcome:
    """Read ``path`` as ``format`` and write what it holds into ``store`` in one transaction.

    The importer only reads; the store's write path (``Store.write_many`` with
    ``skip_unchanged``) writes, so importing the same file twice adds nothing the second
    time, and participants the file names that the store does not know yet are added.

    Parameters
    ----------
    store : Store
    format, path, **options
        As for :func:`read`; ``framework`` defaults to the store's.
    dry_run : bool
        Check and count everything inside the store's transaction, then roll it back.
    skip_invalid : bool
        Write the valid rows and the rejected ones (with reasons) to
        :func:`rejected_path`; without it any invalid row aborts the import.
    progress : bool
        Say on standard error what is being done (reading, then checking and writing,
        with a progress bar over the rows of a large file).

    Raises
    ------
    ImportRowsError
        Without ``skip_invalid``, when any row is invalid: one message listing every bad
        cell (file line, column, value, what was expected). Nothing is written.
    MasteryError
        Whatever the importer or the store refuses (the store is left unchanged).
    """
    options.setdefault("framework", store.framework)
    t0 = time.perf_counter()
    if progress:
        print(f"reading {path} ...", file=sys.stderr, flush=True)
    result = read(format, path, **options)
    if progress:
        n, bad_n = sum(result.rows.values()), len(result.rejected)
        print(f"read {n:,} row{'s' if n != 1 else ''}"
              + (f" and {bad_n:,} invalid" if bad_n else "")
              + f" in {time.perf_counter() - t0:.1f} s; "
              f"{'checking (dry run)' if dry_run else 'checking and writing'} ...",
              file=sys.stderr, flush=True)
    outcome = ImportOutcome(result=result, dry_run=dry_run)
    bad = result.rejected
    if len(bad) and not skip_invalid:
        failures = [{"row": _plain_line(r.line), "column": r.column, "value": r.value,
                     "expected": r.expected} for r in bad.itertuples(index=False)]
        kept = sum(len(f) for f in result.frames.values())
        raise ImportRowsError(
            f"{result.format} import", failures, where=str(result.source),
            hint=f"Nothing was written. Fix these rows, or run again with --skip-invalid to "
                 f"import the {kept} valid row{'s' if kept != 1 else ''} and write the "
                 f"rejected ones to {rejected_path(result.source)}.")
    if result.experiments:  # checked before anything is written
        planned = store.import_experiments(result.experiments, dry_run=True, where=str(result.source))
    if result.frames:
        outcome.written = store.write_many(result.frames, where=str(result.source),
                                           skip_unchanged=True, row_label="line",
                                           progress=progress, dry_run=dry_run)
    if result.experiments:  # after the rows they measure; each experiment in one transaction
        outcome.written.update(planned if dry_run else store.import_experiments(
            result.experiments, where=str(result.source)))
    if len(bad) and skip_invalid and not dry_run:
        target = rejected_path(result.source)
        from .tidy import neutralise_formulas

        try:  # people open it in a spreadsheet: the input's formula-like cells stay inert
            neutralise_formulas(bad).to_csv(target, index=False)
        except OSError as exc:
            raise ImportFormatError(f"imported, but cannot write the rejected rows to {target}: "
                                    f"{exc.strerror or exc}") from None
        outcome.rejected_file = target
    return outcome


def _plain_line(line):
    if line is None or (isinstance(line, float) and pd.isna(line)):
        return None
    if isinstance(line, float) and line.is_integer():
        return int(line)
    return line


def describe(outcome: ImportOutcome) -> str:
    """The plain-text summary the CLI prints: rows per table, date range, participants,
    what was not placed, and the importer's notes."""
    r = outcome.result
    lines = [f"{'dry run: would import' if outcome.dry_run else 'imported'} {r.source} "
             f"({r.format})"]
    for table, n in {**r.rows, **{t: len(f) for t, f in r.experiments.items()}}.items():
        new = outcome.written.get(table, 0)
        same = n - new
        lines.append(f"  {table}: {n} row{'s' if n != 1 else ''} read, {new} "
                     f"{'to add' if outcome.dry_run else 'added'}"
                     + (f", {same} already in the store" if same else ""))
    span = r.date_range
    if span:
        lines.append(f"  dates: {span[0]} to {span[1]}")
    people = r.participants
    if people:
        shown = ", ".join(people[:10]) + (f" ... ({len(people)} in all)" if len(people) > 10 else "")
        lines.append(f"  people: {shown}")
    for what, items in r.unmapped.items():
        if items:
            more = f" ... ({len(items)} in all)" if len(items) > 20 else ""
            lines.append(f"  not imported ({what}): " + "; ".join(items[:20]) + more)
    if len(r.rejected):
        lines.append(f"  rejected: {len(r.rejected)} bad cell{'s' if len(r.rejected) != 1 else ''}"
                     + (f", written to {outcome.rejected_file}" if outcome.rejected_file else
                        " (a real run with --skip-invalid writes them to "
                        f"{rejected_path(r.source)})"))
    lines += [f"  - {n}" for n in r.notes]
    if outcome.dry_run:
        lines.append("nothing was written (dry run)")
    return "\n".join(lines)


__all__ = ["FORMATS", "ImportOutcome", "ImportResult", "canonical", "describe",
           "empty_rejected", "module", "read", "rejected_path", "run", "validate_frames",
           "validate_rows"]
