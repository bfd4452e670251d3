"""The ``mastery`` command. Thin: it parses arguments and calls the package.

Every subcommand takes ``--store URL`` (default: ``$MASTERY_STORE``, else ``data/mastery.db``
in a source checkout, else ``mastery.db`` in the user data folder; ``mastery where`` says
which). A :class:`~mastery_analysis.errors.MasteryError` prints one clear message and exits 1.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import sys
import textwrap
import threading
from pathlib import Path

import pandas as pd

from . import __version__
from .errors import MasteryError
from .schema import PHASES

STORE_HELP = ("store URL or SQLite file path (default: $MASTERY_STORE, else data/mastery.db in a "
              "source checkout, else mastery.db in the user data folder; see `mastery where`)")
WIDTH = 100
"""Tables and sentences fit this many columns (or the terminal, when it is narrower)."""


def _store(args, *, create: bool = False):
    """The store named by ``--store``; only commands that write may create a new one."""
    from .store import open_store

    return open_store(args.store, create=create)


def _width() -> int:
    columns = shutil.get_terminal_size((WIDTH, 24)).columns
    return max(40, min(WIDTH, columns)) if sys.stdout.isatty() else WIDTH


def fit_columns(frame: pd.DataFrame, width: int) -> tuple[pd.DataFrame, list[str]]:
    """The columns of a text frame that fit ``width`` columns, in order, and those left out."""
    kept, left_out, used = [], [], 0
    for col in frame.columns:
        need = max([len(str(col))] + [len(str(v)) for v in frame[col]]) + (2 if kept else 0)
        if used + need <= width or not kept:
            kept.append(col)
            used += need
        else:
            left_out.append(col)
    return frame[kept], left_out


def print_frame(frame: pd.DataFrame, fmt: str = "table", *, file=None, framework=None,
                drop: tuple[str, ...] = (), first: tuple[str, ...] = ()) -> None:
    """Print a frame as a table for reading, CSV or JSON records (for every command's output).

    CSV and JSON carry every column, unrounded. The table shows worded headers, element
    labels and rounded numbers (:func:`mastery_analysis.display.readable`), leaves out the
    ``drop`` columns, puts the ``first`` ones first, and fits 100 columns (or a narrower terminal): columns that do not fit
    are named below it with the way to see them.
    """
    file = file or sys.stdout
    if fmt == "csv":
        frame.to_csv(file, index=False, date_format="%Y-%m-%d", lineterminator="\n")
    elif fmt == "json":
        file.write(frame.to_json(orient="records", date_format="iso", indent=2) + "\n")
    elif frame.empty:
        file.write("(no rows)\n")
    else:
        from .display import readable

        order = [c for c in first if c in frame.columns and c not in drop]
        order += [c for c in frame.columns if c not in order and c not in drop]
        shown = readable(frame[order], framework=framework)
        width = _width()
        shown, left_out = fit_columns(shown, width)
        file.write(shown.to_string(index=False) + "\n")
        if left_out:
            note = (f"({len(left_out)} more column{'s' if len(left_out) > 1 else ''} not shown "
                    f"at {width} columns: {', '.join(left_out)}; --format csv or --format json "
                    "prints every column, unrounded)")
            file.write(textwrap.fill(note, width) + "\n")


def _add_format(parser):
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="output format (default: table)")


# ----------------------------------------------------------------------------- init / demo
def _add_init_command(sub):
    p = sub.add_parser("init", help="create an empty store",
                       description="Create the store (tables and schema version) if it does not exist.")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--framework", default=None,
                   help="framework name (career_mastery, wheel_of_life) or YAML path, recorded in "
                        "a new store (default: career_mastery)")
    p.set_defaults(func=_run_init)


def _run_init(args):
    from .store import open_store

    with open_store(args.store, framework=args.framework) as s:
        print(f"store ready: {s.url} (schema version {s.schema_version}, framework {s.framework.name})")


def _add_demo_command(sub):
    p = sub.add_parser("demo", help="load the demo data into a store",
                       description="Load the embedded demo data (alex: two years daily; "
                                   "spring-cohort: 24 people, 12 weeks) into the store.")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--if-empty", action="store_true",
                   help="do nothing when the demo participants are already in the store")
    p.set_defaults(func=_run_demo)


def _run_demo(args):
    from .demo import load_demo

    with _store(args, create=True) as s:
        written = load_demo(s, if_empty=args.if_empty)
        if not written:
            print(f"demo data already in {s.url}; nothing to do")
        else:
            words = {"experiment_schedule": "experiment days", "adherence": "adherence answers"}
            counts = ", ".join(f"{n} {words.get(t, t)}" for t, n in written.items())
            print(f"loaded the demo data into {s.url}: {counts}")


# ----------------------------------------------------------------------------- export
def _add_export_command(sub):
    p = sub.add_parser("export", help="export every table as CSV, one XLSX workbook, or Parquet",
                       description="Write every table, self-experiments included (latest "
                                   "version of each row, or --history for every version) to a "
                                   "folder; all files or none.")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--out", required=True,
                   help="folder to write <table>.csv, <table>.parquet or mastery.xlsx into")
    p.add_argument("--format", choices=("csv", "xlsx", "parquet"), default="csv",
                   help="csv (one file per table), xlsx (one workbook, a sheet per table) or "
                        "parquet (default: csv). Text a spreadsheet would run as a formula "
                        "(starting with = + - @) gets a leading ' in CSV and XLSX; "
                        "`mastery import tidy` takes it off again")
    p.add_argument("--history", action="store_true", help="export every version, not only the latest")
    p.set_defaults(func=_run_export)


def _run_export(args):
    from .store import export_tables

    with _store(args) as s:
        for path in export_tables(s, args.out, format=args.format, history=args.history):
            print(path)


# ----------------------------------------------------------------------------- import / template
def _add_import_command(sub):
    from .importers import ALIASES, FORMATS

    p = sub.add_parser(
        "import", help="import data from another tool (Loop, Daylio, forms) or a tidy export",
        description="Read FORMAT's file and write what it holds into the store in one "
                    "transaction. Formats: tidy (this tool's own CSV/XLSX/Parquet tables), "
                    "loop (Loop Habit Tracker: the CSV export as .zip or folder, a "
                    "Checkmarks.csv, or a .db backup), daylio (Daylio's CSV export), "
                    "google_forms, microsoft_forms, typeform, or forms (any of the three, told "
                    "apart by their columns). Any invalid row "
                    "aborts with one message listing each bad row, unless --skip-invalid. "
                    "Importing the same file twice adds nothing the second time; participants "
                    "the file names that are not in the store yet are added.",
        epilog="examples: mastery import loop Loop-export.zip --participant alex --dry-run; "
               "mastery import daylio daylio_export.csv --participant alex; "
               "mastery import forms responses.csv --mapping survey.yaml")
    p.add_argument("format", metavar="FORMAT", type=str.lower,
                   choices=sorted(set(FORMATS) | set(ALIASES)),
                   help="tidy, loop, daylio, forms, google_forms, microsoft_forms or typeform")
    p.add_argument("path", metavar="PATH", help="the file or folder to import")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--participant", metavar="ID",
                   help="whose data this is (Loop and Daylio exports hold one person's data "
                        "and do not say whose); with --mapping it names the person in place "
                        "of the mapping's participant, so one mapping serves several people")
    p.add_argument("--mapping", metavar="FILE",
                   help="YAML mapping of a survey's columns to participants, phases, items and "
                        "ratings (forms), or of Daylio moods and activities to ratings and goals")
    p.add_argument("--dry-run", action="store_true",
                   help="print what would be written (rows per table, dates, participants, "
                        "unmapped columns and answers) and write nothing")
    p.add_argument("--skip-invalid", action="store_true",
                   help="import the valid rows and write the rejected ones, with their reasons, "
                        "to <PATH>.rejected.csv beside the input")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--dayfirst", dest="dayfirst", action="store_const", const=True,
                       default=None, help="read dates like 03/04/2024 as day/month/year")
    order.add_argument("--monthfirst", dest="dayfirst", action="store_const", const=False,
                       help="read dates like 03/04/2024 as month/day/year")
    p.add_argument("--suggest-mapping", metavar="OUT.yaml", default=None,
                   help="(forms) write a draft mapping of the file's columns to OUT.yaml for you "
                        "to edit, and import nothing")
    p.set_defaults(func=_run_import)


def _run_import(args):
    from . import importers

    if args.suggest_mapping:
        from pathlib import Path

        from .importers import mapping

        out = Path(args.suggest_mapping)
        if out.exists():
            raise MasteryError(f"{out} exists already; name a new file for the draft mapping")
        draft = mapping.suggest_mapping(args.path)
        try:
            out.write_text(draft, encoding="utf-8")
        except OSError as exc:
            raise MasteryError(f"cannot write {out}: {exc.strerror or exc}") from None
        print(f"wrote a draft mapping to {out}; edit it, then run "
              f"`mastery import {args.format} {args.path} --mapping {out}`")
        return
    options = {"participant_id": args.participant, "mapping": args.mapping,
               "dayfirst": args.dayfirst}
    if args.dry_run and not _store_exists(args.store):
        from .store import open_store

        with open_store("sqlite://") as s:  # nothing is created: count against an empty store
            outcome = importers.run(s, args.format, args.path, dry_run=True, **options)
        print(importers.describe(outcome))
        print("(the store does not exist yet: counted against an empty one)")
        return
    with _store(args, create=not args.dry_run) as s:
        outcome = importers.run(s, args.format, args.path, dry_run=args.dry_run,
                                skip_invalid=args.skip_invalid, progress=sys.stderr.isatty(),
                                **options)
    print(importers.describe(outcome))


def _store_exists(url) -> bool:
    from .store import resolve_url

    resolved = resolve_url(url)
    if not resolved.startswith("sqlite"):
        return True
    from pathlib import Path

    import sqlalchemy as sa

    db = sa.engine.make_url(resolved).database
    return not db or db == ":memory:" or Path(db).exists()


def _add_template_command(sub):
    p = sub.add_parser(
        "template", help="write empty CSV and XLSX templates of the tables, with a README",
        description="Write one empty CSV per table, one XLSX workbook with a sheet per table, "
                    "and a README of the columns to DIR: fill them in and run "
                    "`mastery import tidy DIR` (or the workbook).")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the templates into")
    p.set_defaults(func=_run_template)


def _run_template(args):
    from .importers.tidy import write_template

    for path in write_template(args.out):
        print(path)


# ----------------------------------------------------------------------------- participant
def _add_participant_command(sub):
    p = sub.add_parser("participant", help="add, import, list or forget participants",
                       description="Manage participants. `forget` deletes every row of one person, "
                                   "their access codes included.")
    psub = p.add_subparsers(dest="action", required=True, metavar="{add,import,email,consent,list,forget}")

    add = psub.add_parser("add", help="add a participant", description="Add a new participant.")
    add.add_argument("participant_id", help="short id: letters, digits, '_', '.', '@', '-'")
    add.add_argument("--name", help="display name")
    add.add_argument("--cohort", help="cohort name, for workshops (add it first: `mastery cohort add`)")
    add.add_argument("--joined-on", help="date joined, YYYY-MM-DD (default: today)")
    add.add_argument("--consent-share", action="store_true",
                     help="the participant agrees that a coach's cohort views show their own rows")
    add.add_argument("--email", help="e-mail address for the coach's invitations and reminders (kept "
                                     "apart: never in a cohort view, report or export)")
    add.add_argument("--store", help=STORE_HELP)
    add.set_defaults(func=_run_participant_add)

    imp = psub.add_parser("import", help="add a cohort's participants from a CSV file",
                          description="Add every participant listed in a CSV file (columns participant_id "
                                      "and optionally name and email) to one cohort: all of them or, if "
                                      "any line is wrong or any id is already in the store, none.")
    imp.add_argument("file", help="CSV file with a header line: participant_id,name[,email]")
    imp.add_argument("--cohort", required=True, help="cohort name (add it first: `mastery cohort add`)")
    imp.add_argument("--store", help=STORE_HELP)
    imp.set_defaults(func=_run_participant_import)

    consent = psub.add_parser("consent", help="record whether a participant shares their data with the cohort",
                              description="Record a participant's consent: with yes, the coach's cohort "
                                          "views may show their own rows; with no, they count only in "
                                          "aggregates of 5 people or more.")
    consent.add_argument("participant_id")
    consent.add_argument("--share", required=True, choices=("yes", "no"), help="yes or no")
    consent.add_argument("--store", help=STORE_HELP)
    consent.set_defaults(func=_run_participant_consent)

    mail = psub.add_parser("email", help="set or remove a participant's e-mail address, or record an opt-out",
                           description="Set a participant's e-mail address for the coach's invitations "
                                       "and reminders, remove it (--remove), or record that they asked for "
                                       "no more e-mail (--opt-out; only they can undo it, on their page).")
    mail.add_argument("participant_id")
    mail.add_argument("address", nargs="?", help="the e-mail address")
    mail.add_argument("--remove", action="store_true", help="remove the address")
    mail.add_argument("--opt-out", action="store_true", help="never e-mail this person again")
    mail.add_argument("--store", help=STORE_HELP)
    mail.set_defaults(func=_run_participant_email)

    ls = psub.add_parser("list", help="list participants", description="List participants.")
    ls.add_argument("--cohort", help="only this cohort")
    ls.add_argument("--store", help=STORE_HELP)
    _add_format(ls)
    ls.set_defaults(func=_run_participant_list)

    forget = psub.add_parser("forget", help="delete everything of one participant",
                             description="Delete every row of one participant from every table. "
                                         "This cannot be undone.")
    forget.add_argument("participant_id")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    forget.add_argument("--store", help=STORE_HELP)
    forget.set_defaults(func=_run_participant_forget)


def _run_participant_add(args):
    with _store(args, create=True) as s:
        s.add_participant(args.participant_id, name=args.name, cohort=args.cohort,
                          joined_on=args.joined_on, consent_share=args.consent_share, email=args.email)
        print(f"added participant '{args.participant_id}' to {s.url}")


def _run_participant_import(args):
    from .roster import read_roster

    people = read_roster(args.file)
    with _store(args) as s:
        n = s.add_participants(people, cohort=args.cohort, where=args.file)
        print(f"added {n} participants to cohort '{args.cohort}' in {s.url}")


def _run_participant_email(args):
    if sum([args.address is not None, args.remove, args.opt_out]) != 1:
        raise MasteryError("give an address, --remove or --opt-out (one of them)")
    with _store(args) as s:
        if args.opt_out:
            s.set_opt_out(args.participant_id, True)
            print(f"'{args.participant_id}' will not be e-mailed again")
        else:
            s.set_email(args.participant_id, None if args.remove else args.address)
            print(f"'{args.participant_id}': e-mail address {'removed' if args.remove else 'set'}")


def _run_participant_consent(args):
    with _store(args) as s:
        s.set_consent(args.participant_id, args.share == "yes")
        print(f"'{args.participant_id}' {'shares' if args.share == 'yes' else 'does not share'} their rows "
              "with the cohort views")


def _run_participant_list(args):
    with _store(args) as s:
        frame = s.participants(cohort=args.cohort).drop(columns=["access_code_hash"])
        print_frame(frame, args.format)


def _run_participant_forget(args):
    with _store(args) as s:
        s.require_participant(args.participant_id)
        if not args.yes:
            if not sys.stdin.isatty():
                raise MasteryError("forget deletes everything of a participant: add --yes to confirm")
            answer = input(f"Delete every row of '{args.participant_id}' from {s.url}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing deleted")
                return
        deleted = s.forget(args.participant_id)
        total = sum(deleted.values())
        detail = ", ".join(f"{n} {t}" for t, n in deleted.items() if n)
        print(f"forgot '{args.participant_id}': {total} rows deleted ({detail})")


# ----------------------------------------------------------------------------- cohort
def _add_cohort_command(sub):
    p = sub.add_parser("cohort", help="add cohorts, open a questionnaire phase, list cohorts",
                       description="Cohorts are the groups a coach runs a workshop for. Each has a "
                                   "framework and, at times, an open questionnaire phase that "
                                   "participants are asked to answer on their page.")
    csub = p.add_subparsers(dest="action", required=True, metavar="{add,phase,list}")
    add = csub.add_parser("add", help="add a cohort", description="Add a cohort.")
    add.add_argument("name", help="cohort name: letters, digits, '_', '.', '@', '-'")
    add.add_argument("--framework", default=None,
                     help="framework name (career_mastery, wheel_of_life) or YAML path (default: the store's)")
    add.add_argument("--store", help=STORE_HELP)
    add.set_defaults(func=_run_cohort_add)
    phase = csub.add_parser("phase", help="open or close the cohort's questionnaire",
                            description="Choose which questionnaire the participants' page asks for: "
                                        "baseline, mid, post, or none to close it.")
    phase.add_argument("name", help="cohort name")
    phase.add_argument("--open", required=True, choices=PHASES + ("none",), help="the phase to open")
    phase.add_argument("--instrument", action="append", metavar="NAME",
                       help="a questionnaire the cohort answers in this phase (repeat for several, in "
                            "the order asked): a validated instrument (pearlin_mastery, "
                            "ipip_assertiveness), the framework's own (career_mastery_q) or a YAML "
                            "path; remembered per phase (default: the framework's own)")
    phase.add_argument("--store", help=STORE_HELP)
    phase.set_defaults(func=_run_cohort_phase)
    ls = csub.add_parser("list", help="list cohorts", description="List cohorts with their framework, "
                                                                  "open phase, number of members and the "
                                                                  "questionnaires chosen per phase.")
    ls.add_argument("--store", help=STORE_HELP)
    _add_format(ls)
    ls.set_defaults(func=_run_cohort_list)


def _run_cohort_add(args):
    with _store(args, create=True) as s:
        s.add_cohort(args.name, framework=args.framework)
        print(f"added cohort '{args.name}' (framework {s.cohort_framework(args.name).name}) to {s.url}")


def _run_cohort_phase(args):
    with _store(args) as s:
        s.set_open_phase(args.name, args.open, instruments=args.instrument)
        if args.open == "none":
            print(f"cohort '{args.name}': no questionnaire open")
        else:
            asked = ", ".join(s.cohort_instruments(args.name, args.open)) or "no questionnaire"
            print(f"cohort '{args.name}': the {args.open} questionnaire is open ({asked})")


def _run_cohort_list(args):
    with _store(args) as s:
        print_frame(s.cohorts(), args.format)


# ----------------------------------------------------------------------------- code
def _add_code_command(sub):
    p = sub.add_parser("code", help="issue, revoke or list access codes for the workshop pages",
                       description="Access codes open the pages of `mastery serve`: a participant's "
                                   "code opens their own page, a coach's code their cohort's. Each new "
                                   "code is shown once; the store keeps only a salted scrypt hash. "
                                   "Issuing a code again revokes the previous one.")
    csub = p.add_subparsers(dest="action", required=True, metavar="{issue,revoke,list}")
    issue = csub.add_parser("issue", help="issue new codes (shown once)",
                            description="Issue a new code for one participant, for every member of a "
                                        "cohort (--cohort), or for a coach (--coach with --cohort). "
                                        "Each code is printed (or written with --out) once; a "
                                        "previous code of the same person stops working.")
    issue.add_argument("participant_id", nargs="?", help="the participant to issue a code for")
    issue.add_argument("--cohort", help="every member of this cohort (or, with --coach, the coach's cohort)")
    issue.add_argument("--coach", help="a coach's name: issue the code for the cohort's coach page")
    issue.add_argument("--out", help="write participant_id,name,code to this new CSV file (for a mail "
                                     "merge; readable by you only) instead of printing")
    issue.add_argument("--store", help=STORE_HELP)
    issue.set_defaults(func=_run_code_issue)
    revoke = csub.add_parser("revoke", help="withdraw codes",
                             description="Withdraw a participant's code (or a coach's, with --coach and "
                                         "--cohort); pages opened with it can no longer save.")
    revoke.add_argument("participant_id", nargs="?")
    revoke.add_argument("--coach", help="a coach's name")
    revoke.add_argument("--cohort", help="the coach's cohort")
    revoke.add_argument("--store", help=STORE_HELP)
    revoke.set_defaults(func=_run_code_revoke)
    ls = csub.add_parser("list", help="list codes (never the codes themselves)",
                         description="List codes on record: selector, whose, when issued or revoked, "
                                     "failed tries and lock-out. The secret part is never stored.")
    ls.add_argument("--store", help=STORE_HELP)
    _add_format(ls)
    ls.set_defaults(func=_run_code_list)


def _run_code_issue(args):
    from .access import issue_code_batch, issue_coach_code, issue_code

    if args.coach is not None:
        if args.participant_id is not None or args.cohort is None:
            raise MasteryError("a coach's code is for one cohort: use --coach NAME --cohort NAME")
        if args.out is not None:
            raise MasteryError("--out is for a cohort's participant codes")
        with _store(args) as s:
            code = issue_coach_code(s, args.coach, cohort=args.cohort)
        print(f"coach {args.coach} ({args.cohort}): {code}")
        print("This code is shown once: the store keeps only its hash.", file=sys.stderr)
        return
    if (args.participant_id is None) == (args.cohort is None):
        raise MasteryError("give one participant id, or --cohort NAME for every member of a cohort")
    with _store(args) as s:
        if args.participant_id is not None:
            if args.out is not None:
                raise MasteryError("--out is for a cohort's codes (--cohort NAME)")
            print(f"{args.participant_id}: {issue_code(s, args.participant_id)}")
            print("This code is shown once: the store keeps only its hash.", file=sys.stderr)
            return
        written = issue_code_batch(s, cohort=args.cohort, out=args.out)
        if args.out is None:
            print_frame(written)
            print("These codes are shown once: the store keeps only their hashes.", file=sys.stderr)
        else:
            print(f"wrote {len(written)} new codes to {args.out}; earlier codes of these people no longer work")


def _run_code_revoke(args):
    from .access import revoke_coach_codes, revoke_codes

    with _store(args) as s:
        if args.coach is not None:
            if args.cohort is None or args.participant_id is not None:
                raise MasteryError("revoke a coach's code with --coach NAME --cohort NAME")
            n = revoke_coach_codes(s, args.coach, cohort=args.cohort)
        elif args.participant_id is not None:
            n = revoke_codes(s, args.participant_id)
        else:
            raise MasteryError("give a participant id, or --coach NAME --cohort NAME")
        print(f"revoked {n} code{'s' if n != 1 else ''}")


def _run_code_list(args):
    from .access import codes

    with _store(args) as s:
        print_frame(codes(s), args.format)


# ----------------------------------------------------------------------------- invite / nudge / reminder
def _add_mail_options(p):
    p.add_argument("--cohort", required=True, help="cohort name")
    p.add_argument("--smtp", metavar="URL",
                   help="your mail server: smtp://user@host:587 (STARTTLS) or smtps://user@host:465 "
                        "(TLS); no user: no login; plain SMTP only to this machine (a local relay). The "
                        "password comes only from $MASTERY_SMTP_PASSWORD (default URL: $MASTERY_SMTP)")
    p.add_argument("--smtp-ca", metavar="FILE", help="a CA certificate (PEM) to trust for your mail server")
    p.add_argument("--from", dest="from_address", metavar="ADDRESS",
                   help="the sender address (default: $MASTERY_MAIL_FROM, else the SMTP user)")
    p.add_argument("--coach-name", metavar="NAME", help="your name, in From and the signature "
                                                       "(default: $MASTERY_COACH_NAME)")
    p.add_argument("--reply-to", metavar="ADDRESS", help="where replies go (default: $MASTERY_REPLY_TO)")
    p.add_argument("--page-url", metavar="URL",
                   help="the participant page's address, e.g. https://workshop.example.org/ "
                        "(default: $MASTERY_PAGE_URL)")
    p.add_argument("--dry-run", metavar="DIR",
                   help="write the messages as .eml files into DIR instead of sending; nothing is "
                        "issued or recorded")
    p.add_argument("--store", help=STORE_HELP)


def _add_invite_command(sub):
    p = sub.add_parser(
        "invite", help="e-mail each participant a new code and the page's address",
        description="Issue each member of the cohort (or --participant) a new code and e-mail it "
                    "with the participant page's address through your mail server. The code is in "
                    "the text, never in a link. A code they had before stops working once the "
                    "server took the message (a refused message leaves the old code working). "
                    "People already invited today are skipped unless --again; people who opted "
                    "out are never mailed. See docs/workshop.md.")
    _add_mail_options(p)
    p.add_argument("--participant", metavar="ID", help="only this member of the cohort")
    p.add_argument("--again", action="store_true",
                   help="also mail those already invited today (a second new code; the first stops working)")
    p.set_defaults(func=_run_invite)


def _add_nudge_command(sub):
    p = sub.add_parser(
        "nudge", help="e-mail a friendly reminder to participants who have gone quiet",
        description="E-mail a short reminder to each member of the cohort who has not checked in "
                    "for --quiet-days days, has an address and has not opted out. Nobody gets "
                    "two the same day.")
    _add_mail_options(p)
    p.add_argument("--quiet-days", type=int, default=3,
                   help="days without a check-in before a reminder (default: 3)")
    p.add_argument("--preview", action="store_true", help="list who would get one, and why not the others; send nothing")
    p.add_argument("--today", help="the day counted as today, YYYY-MM-DD (default: today, UTC)")
    p.set_defaults(func=_run_nudge)


def _mail(args, kind):
    from . import messaging

    server, sender = messaging.mail_settings(
        smtp=args.smtp, cafile=args.smtp_ca, from_address=args.from_address, coach_name=args.coach_name,
        reply_to=args.reply_to, page_url=args.page_url, need_server=args.dry_run is None)
    outbox = messaging.FolderOutbox(args.dry_run) if args.dry_run else messaging.SmtpOutbox(server)
    with _store(args) as s:
        if kind == "invite":
            result = messaging.invite(s, cohort=args.cohort, outbox=outbox, sender=sender,
                                      participant=args.participant, again=args.again)
        else:
            result = messaging.nudge(s, cohort=args.cohort, outbox=outbox, sender=sender,
                                     quiet_days=args.quiet_days, today=args.today)
    for line in messaging.describe(result, kind=kind, cohort=args.cohort, dry_run=outbox.dry_run,
                                   folder=args.dry_run):
        print(line)
    if (result["outcome"] == "refused").any():
        return 2
    return 0


def _run_invite(args):
    return _mail(args, "invite")


def _run_nudge(args):
    if args.preview:
        from .messaging import nudge_preview

        with _store(args) as s:
            plan = nudge_preview(s, cohort=args.cohort, quiet_days=args.quiet_days, today=args.today)
        print_frame(plan[["participant_id", "name", "days_quiet", "will_get", "reason", "last_check_in",
                          "last_nudged"]])
        print(f"{int(plan['will_get'].sum())} of {len(plan)} would get a reminder")
        return 0
    return _mail(args, "nudge")


def _add_reminder_command(sub):
    p = sub.add_parser(
        "reminder", help="write a repeating check-in reminder for your calendar (.ics)",
        description="Write an iCalendar file with one repeating event at the time you choose, in "
                    "your time zone, that opens the check-in page (--url) or names the check-in "
                    "notebook. Import it into your calendar (Google, Outlook, Apple, Thunderbird).")
    p.add_argument("--at", required=True, help="time of day, 24-hour clock, e.g. 20:00")
    p.add_argument("--days", default="daily",
                   help="daily (default), weekdays, weekends, a range like mon-fri or a list like mon,wed,fri")
    p.add_argument("--tz", default=None, help="your time zone, e.g. Europe/Lisbon (default: this "
                                              "machine's, else UTC)")
    p.add_argument("--url", help="the check-in page to open (default: $MASTERY_PAGE_URL, else the "
                                 "event names the check-in notebook)")
    p.add_argument("--out", required=True, help="the .ics file to write (a new file)")
    p.set_defaults(func=_run_reminder)


def _run_reminder(args):
    import os

    from .reminders import describe_reminder, local_zone_name, write_reminder

    tz = args.tz or local_zone_name()
    url = args.url or os.environ.get("MASTERY_PAGE_URL") or None
    path = write_reminder(args.out, at=args.at, days=args.days, tz=tz, url=url)
    print(f"wrote {path}: a check-in reminder {describe_reminder(at=args.at, days=args.days, tz=tz)}; "
          "import it into your calendar")


# ----------------------------------------------------------------------------- report
def _add_report_command(sub):
    p = sub.add_parser(
        "report", help="render a personal or cohort report to self-contained HTML",
        description="Run a report notebook on the store's data and write one HTML file that opens "
                    "offline (no code, plotly inlined). The same data and version give the same "
                    "bytes. --pdf also prints it to PDF with headless Chromium.")
    rsub = p.add_subparsers(dest="kind", required=True, metavar="{personal,cohort,experiment}")

    personal = rsub.add_parser(
        "personal", help="one person's report (or one per consenting member of a cohort)",
        description="One participant's report: wheel, trajectories, trends, habits, action and "
                    "progress, goal pace. With --cohort and --out-dir: one report per consenting "
                    "member of the cohort.")
    who = personal.add_mutually_exclusive_group(required=True)
    who.add_argument("--participant", help="participant id")
    who.add_argument("--cohort", help="render one report per consenting member of this cohort")
    personal.add_argument("--start", help="first day, YYYY-MM-DD (default: first day of data)")
    personal.add_argument("--end", help="last day, YYYY-MM-DD (default: last day of data)")
    where = personal.add_mutually_exclusive_group()
    where.add_argument("--out", help="HTML file to write (default: personal-<id>.html in the "
                                     "reports folder; see `mastery where`)")
    where.add_argument("--out-dir", help="folder for the personal-<id>.html files (default: the "
                                         "reports folder)")
    personal.add_argument("--pdf", action="store_true", help="also write a PDF beside the HTML")
    personal.add_argument("--jobs", type=int, default=None,
                          help="with --cohort: reports rendered at once, each in its own kernel "
                               "(default: one per core, up to 4); the files are the same bytes "
                               "whatever the number")
    personal.add_argument("--store", help=STORE_HELP)
    personal.set_defaults(func=_run_report)

    cohort = rsub.add_parser(
        "cohort", help="a cohort's report, privacy rules applied",
        description="A cohort's report: participation, pre/post change with effect sizes, "
                    "distributions, rmcorr and forest plot. Individual data only of consenting "
                    "participants; no aggregate over fewer than --min-group-size people.")
    cohort.add_argument("--cohort", required=True, help="cohort name")
    cohort.add_argument("--out", help="HTML file to write (default: cohort-<name>.html in the "
                                      "reports folder; see `mastery where`)")
    cohort.add_argument("--min-group-size", type=int, default=None,
                        help="smallest group an aggregate is shown for (default: 5)")
    cohort.add_argument("--pdf", action="store_true", help="also write a PDF beside the HTML")
    cohort.add_argument("--store", help=STORE_HELP)
    cohort.set_defaults(func=_run_report)

    experiment = rsub.add_parser(
        "experiment", help="one self-experiment's report (design, randomisation, adherence, result)",
        description="A self-experiment's report with what a reader needs to judge a trial of one "
                    "person (the CENT 2015 and SCRIBE 2016 items that apply): design, "
                    "randomisation, washout, adherence, outcome, the effect with its interval and "
                    "p-value, and what was not controlled. Before the planned end it shows the "
                    "data so far and no result.")
    experiment.add_argument("--participant", required=True, help="participant id")
    experiment.add_argument("--experiment", required=True, help="experiment id (`mastery experiment list`)")
    experiment.add_argument("--out", help="HTML file to write (default: experiment-<id>.html in the "
                                          "reports folder; see `mastery where`)")
    experiment.add_argument("--pdf", action="store_true", help="also write a PDF beside the HTML")
    experiment.add_argument("--store", help=STORE_HELP)
    experiment.set_defaults(func=_run_report)


def _report_file(name: str) -> Path:
    from .locations import reports_location

    safe = re.sub(r"[^A-Za-z0-9_.@-]+", "-", name).strip("-") or "report"
    return Path(reports_location().value) / f"{safe}.html"


def _run_report(args):
    from . import reports

    if args.kind == "experiment":
        out = args.out or _report_file(f"experiment-{args.experiment}")
        written = [reports.render_report("experiment", out=out, store=args.store, pdf=args.pdf,
                                         participant=args.participant, experiment=args.experiment)]
    elif args.kind == "cohort":
        out = args.out or _report_file(f"cohort-{args.cohort}")
        written = [reports.render_report("cohort", out=out, store=args.store, pdf=args.pdf,
                                         cohort=args.cohort, min_group_size=args.min_group_size)]
    elif args.participant is not None:
        if args.out_dir is not None:
            raise reports.ReportParameterError(
                "--participant writes one file: give --out FILE (or nothing, for the reports folder)")
        if args.jobs is not None:
            raise reports.ReportParameterError("--jobs goes with --cohort: --participant renders one report")
        out = args.out or _report_file(f"personal-{args.participant}")
        written = [reports.render_report("personal", out=out, store=args.store, pdf=args.pdf,
                                         participant=args.participant, start=args.start, end=args.end)]
    else:
        if args.out is not None:
            raise reports.ReportParameterError(
                "--cohort writes one report per consenting participant: give --out-dir DIR "
                "(or nothing, for the reports folder)")
        if args.start or args.end:
            raise reports.ReportParameterError("--start/--end go with --participant, not --cohort")
        from .locations import reports_location

        written = reports.render_personal_reports(args.cohort, store=args.store, pdf=args.pdf,
                                                  out_dir=reports_location(args.out_dir).value,
                                                  jobs=args.jobs)
    for path in written:
        print(path)
        if args.pdf:
            print(reports.pdf_path_for(path))


# ----------------------------------------------------------------------------- experiment
OUTCOME_HELP = ("what is measured: element:KEY (the element's daily rating), goal:GOAL_ID:progress "
                "(the change in the goal's progress), goal:GOAL_ID:actions (the day's action count) "
                "or note:NAME (a numeric note of your own)")


def _add_experiment_command(sub):
    p = sub.add_parser(
        "experiment", help="plan and analyse a self-experiment (a randomised trial of one person)",
        description="A self-experiment compares two conditions, A and B, on an outcome you already "
                    "record: days or periods are assigned to A or B at random from a seed, you follow "
                    "the day's condition, and a randomisation test over exactly the schedules the "
                    "design could have produced says whether B differs from A. The plan cannot change "
                    "once its first day has come; the result is given only after its last day.")
    esub = p.add_subparsers(dest="action", required=True,
                            metavar="{plan,today,list,adherence,analyse}")

    plan = esub.add_parser(
        "plan", help="plan a new experiment and keep its schedule",
        description="Draw the schedule from the design and the seed, keep plan and schedule in the "
                    "store, print the schedule and how many periods the plan needs (from your own "
                    "past values of the outcome), and warn when it is too short.")
    plan.add_argument("--participant", required=True, help="participant id")
    plan.add_argument("--title", required=True, help="what the experiment asks, in your words")
    plan.add_argument("--a", required=True, dest="condition_a", help="condition A in your words "
                                                                     "(usually what you do now)")
    plan.add_argument("--b", required=True, dest="condition_b", help="condition B in your words "
                                                                     "(what you want to try)")
    plan.add_argument("--outcome", required=True, help=OUTCOME_HELP)
    plan.add_argument("--design", required=True, choices=("days", "pairs", "alternating"),
                      help="days: each day at random within blocks (half A, half B); pairs: pairs "
                           "of periods, AB or BA at random; alternating: periods in a random order "
                           "with no more than two of one condition in a row")
    plan.add_argument("--period-days", required=True, type=int,
                      help="days in a period (for days: in a block, an even number)")
    plan.add_argument("--periods", required=True, type=int,
                      help="number of periods (blocks for days); at least two of each condition")
    plan.add_argument("--washout-days", type=int, default=0,
                      help="days after each switch of condition that you follow but that are left "
                           "out of the analysis, shorter than a period (default: 0)")
    plan.add_argument("--start", required=True, help="first day, YYYY-MM-DD (today or later)")
    plan.add_argument("--seed", type=int, default=None,
                      help="seed of the random schedule (default: drawn at random and kept)")
    plan.add_argument("--min-effect", type=float, default=None,
                      help="the smallest difference B - A you care about, in the outcome's units "
                           "(used to say how many periods give 80%% power)")
    plan.add_argument("--id", dest="experiment_id", default=None,
                      help="experiment id (default: <participant>-x<n>)")
    plan.add_argument("--store", help=STORE_HELP)
    plan.set_defaults(func=_run_experiment_plan)

    today = esub.add_parser("today", help="print today's condition of each running experiment",
                            description="Print the condition to follow on a day, in your words, "
                                        "and whether you said you followed it.")
    today.add_argument("--participant", required=True, help="participant id")
    today.add_argument("--date", default=None, help="the day, YYYY-MM-DD (default: today)")
    today.add_argument("--store", help=STORE_HELP)
    _add_format(today)
    today.set_defaults(func=_run_experiment_today)

    ls = esub.add_parser("list", help="list experiments", description="List the planned experiments.")
    ls.add_argument("--participant", default=None, help="only this participant's")
    ls.add_argument("--store", help=STORE_HELP)
    _add_format(ls)
    ls.set_defaults(func=_run_experiment_list)

    adh = esub.add_parser("adherence", help="record whether you followed a day's condition",
                          description="Record whether the day's condition was followed (a new "
                                      "answer for a day replaces the earlier one; both are kept).")
    adh.add_argument("--participant", required=True, help="participant id")
    adh.add_argument("--experiment", required=True, help="experiment id")
    adh.add_argument("--date", required=True, help="the day, YYYY-MM-DD")
    adh.add_argument("--followed", required=True, choices=("yes", "no"), help="yes or no")
    adh.add_argument("--store", help=STORE_HELP)
    adh.set_defaults(func=_run_experiment_adherence)

    an = esub.add_parser(
        "analyse", help="the result of an experiment (after its last day)",
        description="The difference B - A with a confidence interval, the randomisation p-value, "
                    "NAP, counts per condition and adherence; intention-to-treat (as assigned) by "
                    "default. Before the planned end it shows the data so far and no result.")
    an.add_argument("--participant", required=True, help="participant id")
    an.add_argument("--experiment", required=True, help="experiment id")
    an.add_argument("--as-followed", action="store_true",
                    help="also analyse the days as followed (not randomised: a check, not a result)")
    an.add_argument("--today", default=None,
                    help="the day the analysis is as of, YYYY-MM-DD (default: today)")
    an.add_argument("--store", help=STORE_HELP)
    an.set_defaults(func=_run_experiment_analyse)


def _run_experiment_plan(args):
    from . import self_experiments as sx

    with _store(args) as s:
        made = sx.plan_new_experiment(
            s, participant_id=args.participant, title=args.title, condition_a=args.condition_a,
            condition_b=args.condition_b, outcome=args.outcome, design=args.design,
            period_days=args.period_days, periods=args.periods, washout_days=args.washout_days,
            start=args.start, seed=args.seed, min_effect=args.min_effect, experiment_id=args.experiment_id)
        for line in sx.plan_lines(made["plan"], made["schedule"]):
            print(line)
        if not made["written"]["experiments"]:
            print("(this plan was already kept: nothing new written)")
        for line in sx.power_lines(s, made["plan"]):
            print(line)


def _run_experiment_today(args):
    import datetime as dt

    from . import self_experiments as sx

    with _store(args) as s:
        s.require_participant(args.participant)
        day = args.date or dt.date.today().isoformat()
        status = sx.conditions_on(s, args.participant, day)
        if args.format != "table":
            print_frame(status, args.format)
            return
        if status.empty:
            print(f"'{args.participant}' has no experiments (plan one with `mastery experiment plan`)")
        for line in sx.today_lines(status):
            print(line)


def _run_experiment_list(args):
    with _store(args) as s:
        if args.participant:
            s.require_participant(args.participant)
        frame = s.experiments(participant=args.participant)
        print_frame(frame.drop(columns=["outcome_kind", "outcome_ref", "plan_version", "recorded_at"]),
                    args.format, first=("experiment_id", "participant_id", "title", "start_date", "end_date"))


def _run_experiment_adherence(args):
    with _store(args) as s:
        s.require_participant(args.participant)
        s.record_adherence(args.participant, args.experiment, args.date, args.followed == "yes",
                           source="cli")
        print(f"recorded: {args.experiment} on {args.date} {'followed' if args.followed == 'yes' else 'not followed'}")


def _run_experiment_analyse(args):
    import datetime as dt

    from . import self_experiments as sx

    with _store(args) as s:
        s.require_participant(args.participant)
        today = args.today or dt.date.today()  # the command's today; notebooks use the data's last day
        for line in sx.analysis_lines(s, args.participant, args.experiment, today=today,
                                      as_followed=args.as_followed):
            print(line)


# ----------------------------------------------------------------------------- stats
STATS = ("trends", "habits", "correlations", "goals", "cohort-change", "insights")


def _add_stats_command(sub):
    p = sub.add_parser(
        "stats", help="print an analysis table for a participant or a cohort",
        description="Statistics from the store: trends (Theil-Sen and Mann-Kendall per element), "
                    "habits (Loop habit strength on the last day), correlations (actions against "
                    "later progress changes, with effective n and FDR q), goals (pace and status), "
                    "cohort-change (pre/post per element; --cohort only), insights (plain-English "
                    "findings; --participant only). With --cohort, only participants who consent "
                    "to sharing are included.")
    p.add_argument("analysis", choices=STATS, help="which table to print")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--participant", help="participant id")
    who.add_argument("--cohort", help="cohort name (consenting participants only)")
    p.add_argument("--today", help="the day goals and insights are assessed on, YYYY-MM-DD "
                                   "(default: the last date in the data)")
    p.add_argument("--pre", default="baseline", choices=PHASES,
                   help="cohort-change: the first phase (default: baseline)")
    p.add_argument("--post", default="post", choices=PHASES,
                   help="cohort-change: the second phase (default: post)")
    p.add_argument("--min-group-size", type=int, default=None,
                   help="cohort-change: smallest group a statistic is shown for (default: 5)")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--engine", choices=("pandas", "dask"), default="pandas",
                   help="pandas (default): in this process; dask: one task per partition of "
                        "participants, on a local Dask cluster or --scheduler (needs the [dask] "
                        "extra; not for insights; the same table as pandas)")
    p.add_argument("--partitions", type=int, default=8,
                   help="dask: how many participant partitions (default: 8)")
    p.add_argument("--workers", type=int, default=2,
                   help="dask: workers of the local cluster when no --scheduler is given (default: 2)")
    p.add_argument("--scheduler", help="dask: address of a running Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--format", choices=("text", "table", "csv", "json"), default=None,
                   help="text: insights as sentences (the default for insights); table: a table "
                        "for reading (the default for the others; rounded, 100 columns wide); "
                        "csv, json: every column, unrounded")
    p.set_defaults(func=_run_stats)


def _stats_on_dask(args, s, read):
    """``mastery stats --engine dask``: the store's tables as participant-partitioned Parquet,
    the analysis one Dask task per partition (see :mod:`mastery_analysis.dask_engine`)."""
    import tempfile

    from . import dask_engine

    dask_engine._require_dask()
    what = args.analysis
    if what == "insights":
        raise MasteryError("insights are for one person: use --engine pandas")
    if what == "cohort-change":
        if args.cohort is None:
            raise MasteryError("cohort-change compares a cohort's phases: use --cohort NAME")
        frames = {"responses": s.responses(cohort=args.cohort)}  # aggregates only: everyone counts
    else:
        needed = {"trends": ("ratings",), "habits": ("actions", "goals"),
                  "correlations": ("actions", "progress", "ratings"), "goals": ("goals", "progress")}
        frames = {t: read(t) for t in needed[what]}
    with tempfile.TemporaryDirectory(prefix="mastery-dask-") as tmp:
        dask_engine.write_partitions(frames, tmp, partitions=args.partitions)
        from distributed import Client

        client = Client(args.scheduler) if args.scheduler else dask_engine.local_client(args.workers)
        try:
            return dask_engine.run_analysis(
                what, tmp, client=client, today=args.today, framework=s.framework, pre=args.pre,
                post=args.post, min_n=args.min_group_size)
        finally:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None and not args.scheduler:
                cluster.close()


def _run_stats(args):
    # from the modules, not the package: the submodule `insights` shadows the lazy re-export
    from .analysis import cohort, correlation, goals, habits, trajectories
    from .analysis.findings import insights
    from .analysis.privacy import consenting_only
    from .analysis.reliability import scale_reliability

    with _store(args) as s:
        if args.participant is not None:
            s.require_participant(args.participant)
            sel = {"participant": args.participant}
        else:
            members = s.participants(cohort=args.cohort)
            if members.empty:
                raise MasteryError(f"no participants in cohort '{args.cohort}' in {s.url}")
            sel = {"cohort": args.cohort}

        def read(table):
            frame = getattr(s, table)(**sel)
            return frame if args.participant is not None else consenting_only(frame, members)

        what = args.analysis
        if args.engine == "dask":
            out = _stats_on_dask(args, s, read)
        elif what == "cohort-change":
            if args.cohort is None:
                raise MasteryError("cohort-change compares a cohort's phases: use --cohort NAME")
            responses = s.responses(cohort=args.cohort)  # aggregates only: everyone counts
            scores = cohort.score_responses(responses, s.framework)
            rel = scale_reliability(responses, framework=s.framework, phase=args.pre)
            kw = {} if args.min_group_size is None else {"min_n": args.min_group_size}
            out = cohort.cohort_change(scores, pre=args.pre, post=args.post, framework=s.framework,
                                         reliability=rel, **kw)
        elif what == "insights":
            if args.participant is None:
                raise MasteryError("insights are for one person: use --participant ID")
            from .self_experiments import experiment_summaries

            out = insights(read("ratings"), read("actions"), read("progress"), read("goals"),
                                    participant_id=args.participant, today=args.today,
                                    framework=s.framework,
                                    experiments=experiment_summaries(s, args.participant, today=args.today))
        elif what == "trends":
            out = trajectories.element_trends(read("ratings"))
        elif what == "habits":
            strength = habits.habit_strength(read("actions"), read("goals"))
            out = strength.groupby(["participant_id", "goal_id"], sort=False).tail(1).reset_index(drop=True)
        elif what == "correlations":
            out = correlation.action_progress_correlation(read("actions"), read("progress"),
                                                       checkins=read("ratings"))
        else:  # goals
            out = goals.goal_pace(read("goals"), read("progress"), today=args.today)
        fmt = args.format or ("text" if what == "insights" else "table")
        if fmt == "text" and what == "insights":
            print_findings(out, args.participant)
            return
        # one person's tables need not repeat their id on every row
        drop = ("participant_id",) if args.participant is not None else ()
        if what == "insights":
            drop += ("text",)  # the sentences are --format text; the table has the numbers
        print_frame(out, "table" if fmt == "text" else fmt, framework=s.framework, drop=drop,
                    first=_FIRST_COLUMNS.get(what, ()))


# what a reader needs first when not every column fits (csv and json keep the function's order)
_FIRST_COLUMNS = {
    "cohort-change": ("element", "n", "mean_pre", "mean_post", "mean_diff", "ci_low", "ci_high",
                      "p_value", "q_value", "d_z", "hedges_g", "n_reliable_improved",
                      "n_reliable_declined", "reliability", "reliability_source"),
    "correlations": ("participant_id", "goal_id", "lag", "r", "ci_low", "ci_high", "p_value",
                     "q_value", "n", "n_eff", "sufficient", "more_days"),
    "goals": ("participant_id", "goal_id", "percent", "expected", "status", "pace",
              "projected_finish"),
}


_FINDING_HEADINGS = {"trend": "Trends", "action_progress": "Does action move the goals?",
                     "habit": "Habits", "goal_pace": "Goal pace", "experiment": "Self-experiments"}


def print_findings(findings: pd.DataFrame, participant: str, *, file=None) -> None:
    """Print the findings of :func:`~mastery_analysis.analysis.insights` as sentences, grouped
    by kind, wrapped to the terminal (at most 100 columns)."""
    file = file or sys.stdout
    width = _width()
    if findings.empty:
        file.write(f"No findings for {participant} yet: check in for a few weeks.\n")
        return
    file.write(f"What the data of {participant} says:\n")
    for kind, rows in findings.groupby("kind", sort=False):
        heading = _FINDING_HEADINGS.get(kind, str(kind).replace("_", " ").capitalize())
        file.write(f"\n{heading}\n")
        for text in rows["text"]:
            # "q < 0.001" and "r = 0.19" stay on one line
            text = re.sub(r" ([<>=]) ", "\u00a0\\1\u00a0", str(text))
            wrapped = textwrap.fill(text, width, initial_indent="- ", subsequent_indent="  ")
            file.write(wrapped.replace("\u00a0", " ") + "\n")
    file.write("\n(--format table, csv or json for the numbers behind each sentence)\n")


# ----------------------------------------------------------------------------- where / lab
def _add_where_command(sub):
    p = sub.add_parser(
        "where", help="print where the store, the notebooks and the reports are, and why",
        description="Print the store, the notebook workspace (`mastery lab`) and the folder reports "
                    "are written to, each with how it was chosen: an option, an environment "
                    "variable ($MASTERY_STORE, $MASTERY_WORKSPACE, $MASTERY_REPORTS), the source "
                    "checkout, or the platform's user folders.")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--dir", help="a workspace folder, as `mastery lab --dir` takes")
    p.add_argument("--out-dir", help="a reports folder, as `mastery report ... --out-dir` takes")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text for reading (default) or json")
    p.set_defaults(func=_run_where)


def _run_where(args):
    from .locations import where

    places = where(store=args.store, workspace=args.dir, reports=args.out_dir)
    if args.format == "json":
        print(json.dumps({p.what: {"value": p.value, "path": None if p.path is None else str(p.path),
                                   "chosen_by": p.chosen_by, "reason": p.reason} for p in places},
                         indent=2))
        return
    width = _width()
    for place in places:
        print(f"{place.what:<10} {place.value}")
        print(textwrap.fill(place.reason, width, initial_indent=" " * 11, subsequent_indent=" " * 11))


def _add_lab_command(sub):
    p = sub.add_parser(
        "lab", help="copy the notebooks into your workspace and open JupyterLab there",
        description="Copy the notebooks that ship with the package into a workspace folder and "
                    "start JupyterLab on it. Run it again after an upgrade: new notebooks are "
                    "added and unchanged ones updated, but a notebook you changed is never "
                    "overwritten (it says which it kept). In a source checkout the default "
                    "workspace is the checkout's notebooks/ itself.",
        epilog="Arguments after -- go to JupyterLab (e.g. -- --ServerApp.token=SECRET).")
    p.add_argument("--dir", help="the workspace folder (default: $MASTERY_WORKSPACE, else "
                                 "notebooks/ in a source checkout, else Mastery in your "
                                 "documents folder; see `mastery where`)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--port", type=int, default=None, help="port for JupyterLab (default: 8888 "
                                                           "or the next free one)")
    p.add_argument("--sync-only", action="store_true",
                   help="copy or update the notebooks, then stop (do not start JupyterLab)")
    p.add_argument("jupyter_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=_run_lab)


def _run_lab(args):
    from .locations import workspace_location
    from .workspace import start_lab, sync_workspace

    place = workspace_location(args.dir)
    result = sync_workspace(place.value)
    for line in result.lines():
        print(textwrap.fill(line, _width(), subsequent_indent="  "))
    if args.sync_only:
        return
    extra = [a for a in args.jupyter_args if a != "--"]
    print(f"starting JupyterLab in {result.folder} (Ctrl-C stops it)", flush=True)
    code = start_lab(result.folder, browser=not args.no_browser, port=args.port, extra=extra)
    if code not in (0, None):
        raise MasteryError(f"JupyterLab stopped with exit code {code}")


# ----------------------------------------------------------------------------- serve
def _add_serve_command(sub):
    from .serve import default_processes  # light: the server's own imports wait for `serve`

    p = sub.add_parser(
        "serve", help="serve the participants' and the coach's pages for a workshop",
        description="Serve the workshop pages from a server process per core (Solara; each open "
                    "page is a light session of one): participants open the participant page "
                    "and type their personal code (from `mastery code issue`), the coach opens the "
                    "coach page with a coach's code. Listens on 127.0.0.1 unless --host says "
                    "otherwise; any other host needs --token or --behind-proxy. See "
                    "docs/workshop.md.")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for "
                        "every interface, with --token or --behind-proxy)")
    p.add_argument("--port", type=int, default=8866, help="port (default: 8866)")
    p.add_argument("--token", default=None,
                   help="a secret of 16 characters or more that every browser must type once on "
                        "the login page (default: $MASTERY_SERVE_TOKEN, else none)")
    p.add_argument("--behind-proxy", action="store_true",
                   help="a TLS reverse proxy is in front: take the client's address from its "
                        "X-Real-IP / X-Forwarded-For headers and mark cookies Secure")
    p.add_argument("--page-loads-per-minute", type=int, default=1200,
                   help="page loads allowed per client address per minute, enough for a room "
                        "behind one address; 0 for no limit (default: 1200)")
    p.add_argument("--max-pages", type=int, default=1000,
                   help="pages open at once (each a session of a few MB in the server); more get "
                        "'server full' (default: 1000)")
    p.add_argument("--idle-minutes", type=int, default=15,
                   help="close a page's session after this many idle minutes (default: 15)")
    p.add_argument("--workers", type=int, default=2,
                   help="worker processes for slow work such as report renders (default: 2)")
    p.add_argument("--processes", type=int, default=default_processes(),
                   help="server processes (default: one per core, at most 4: %(default)s here). One "
                        "process runs Python on about one core, and a room signing in at once needs "
                        "them all: each page's session stays with its process, and the open pages, "
                        "page loads and workers are shared out among them. 1 runs a single process")
    p.add_argument("--base-url", default="/",
                   help="the path the pages live under, e.g. /services/mastery/ as a JupyterHub "
                        "service (default: /)")
    p.set_defaults(func=_run_serve)


def _run_serve(args):
    import os

    from .serve import ServeSettings, serve
    from .store import resolve_url

    token = args.token if args.token is not None else os.environ.get("MASTERY_SERVE_TOKEN") or None
    serve(ServeSettings(store=resolve_url(args.store), host=args.host, port=args.port, token=token,
                        behind_proxy=args.behind_proxy,
                        page_loads_per_minute=args.page_loads_per_minute,
                        max_pages=args.max_pages, cull_idle_timeout=args.idle_minutes * 60,
                        base_url=args.base_url, workers=args.workers,
                        processes=args.processes))



# ----------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mastery",
        description="Mastery notebooks: track career mastery (self-ratings on five elements, "
                    "daily actions, goal progress) and see, with honest statistics, whether your "
                    "daily action moves your goals.",
        epilog="Run `mastery COMMAND --help` for the options of a command.")
    parser.add_argument("--version", action="version", version=f"mastery-analysis {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


COMMANDS = [_add_init_command, _add_demo_command, _add_export_command, _add_import_command,
            _add_template_command, _add_participant_command, _add_cohort_command, _add_code_command,
            _add_invite_command, _add_nudge_command, _add_reminder_command,
            _add_report_command, _add_stats_command, _add_serve_command, _add_where_command,
            _add_lab_command, _add_experiment_command]


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # a SIGTERM (a job runner, `kill`) unwinds like Ctrl-C: half-written files are removed
    # and JupyterLab is stopped, instead of the process vanishing mid-write
    handle = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if handle else None
    try:
        code = args.func(args)
    except MasteryError as exc:
        print(f"mastery: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mastery: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        if handle:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
