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
            counts = ", ".join(f"{n} {t}" for t, n in written.items())
            print(f"loaded the demo data into {s.url}: {counts}")


# ----------------------------------------------------------------------------- export
def _add_export_command(sub):
    p = sub.add_parser("export", help="export every table as CSV or Parquet",
                       description="Write every table (latest version of each row, or --history "
                                   "for every version) to a folder; all files or none.")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--out", required=True, help="folder to write <table>.csv or <table>.parquet into")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format (default: csv)")
    p.add_argument("--history", action="store_true", help="export every version, not only the latest")
    p.set_defaults(func=_run_export)


def _run_export(args):
    from .store import export_tables

    with _store(args) as s:
        for path in export_tables(s, args.out, format=args.format, history=args.history):
            print(path)


# ----------------------------------------------------------------------------- participant
def _add_participant_command(sub):
    p = sub.add_parser("participant", help="add, list or forget participants",
                       description="Manage participants. `forget` deletes every row of one person.")
    psub = p.add_subparsers(dest="action", required=True, metavar="{add,list,forget}")

    add = psub.add_parser("add", help="add a participant", description="Add a new participant.")
    add.add_argument("participant_id", help="short id: letters, digits, '_', '.', '@', '-'")
    add.add_argument("--name", help="display name")
    add.add_argument("--cohort", help="cohort id, for workshops")
    add.add_argument("--joined-on", help="date joined, YYYY-MM-DD (default: today)")
    add.add_argument("--consent-share", action="store_true",
                     help="the participant agrees that a coach's cohort views show their own rows")
    add.add_argument("--store", help=STORE_HELP)
    add.set_defaults(func=_run_participant_add)

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
                          joined_on=args.joined_on, consent_share=args.consent_share)
        print(f"added participant '{args.participant_id}' to {s.url}")


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


# ----------------------------------------------------------------------------- report
def _add_report_command(sub):
    p = sub.add_parser(
        "report", help="render a personal or cohort report to self-contained HTML",
        description="Run a report notebook on the store's data and write one HTML file that opens "
                    "offline (no code, plotly inlined). The same data and version give the same "
                    "bytes. --pdf also prints it to PDF with headless Chromium.")
    rsub = p.add_subparsers(dest="kind", required=True, metavar="{personal,cohort}")

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


def _report_file(name: str) -> Path:
    from .locations import reports_location

    safe = re.sub(r"[^A-Za-z0-9_.@-]+", "-", name).strip("-") or "report"
    return Path(reports_location().value) / f"{safe}.html"


def _run_report(args):
    from . import reports

    if args.kind == "cohort":
        out = args.out or _report_file(f"cohort-{args.cohort}")
        written = [reports.render_report("cohort", out=out, store=args.store, pdf=args.pdf,
                                         cohort=args.cohort, min_group_size=args.min_group_size)]
    elif args.participant is not None:
        if args.out_dir is not None:
            raise reports.ReportParameterError(
                "--participant writes one file: give --out FILE (or nothing, for the reports folder)")
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
                                                  out_dir=reports_location(args.out_dir).value)
    for path in written:
        print(path)
        if args.pdf:
            print(reports.pdf_path_for(path))


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
    p.add_argument("--format", choices=("text", "table", "csv", "json"), default=None,
                   help="text: insights as sentences (the default for insights); table: a table "
                        "for reading (the default for the others; rounded, 100 columns wide); "
                        "csv, json: every column, unrounded")
    p.set_defaults(func=_run_stats)


def _run_stats(args):
    # from the modules, not the package: the submodule `insights` shadows the lazy re-export
    from .analysis import cohort, correlation, goals, habits, trajectories
    from .analysis.findings import insights
    from .analysis.privacy import consenting_only

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
        if what == "cohort-change":
            if args.cohort is None:
                raise MasteryError("cohort-change compares a cohort's phases: use --cohort NAME")
            responses = s.responses(cohort=args.cohort)  # aggregates only: everyone counts
            scores = cohort.score_responses(responses, s.framework)
            rel = cohort.reliability(responses, s.framework, phase=args.pre)
            kw = {} if args.min_group_size is None else {"min_n": args.min_group_size}
            out = cohort.cohort_change(scores, pre=args.pre, post=args.post, framework=s.framework,
                                         reliability=rel, **kw)
        elif what == "insights":
            if args.participant is None:
                raise MasteryError("insights are for one person: use --participant ID")
            out = insights(read("ratings"), read("actions"), read("progress"), read("goals"),
                                    participant_id=args.participant, today=args.today,
                                    framework=s.framework)
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
                      "n_reliable_declined"),
    "correlations": ("participant_id", "goal_id", "lag", "r", "ci_low", "ci_high", "p_value",
                     "q_value", "n", "n_eff", "sufficient", "more_days"),
    "goals": ("participant_id", "goal_id", "percent", "expected", "status", "pace",
              "projected_finish"),
}


_FINDING_HEADINGS = {"trend": "Trends", "action_progress": "Does action move the goals?",
                     "habit": "Habits", "goal_pace": "Goal pace"}


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


COMMANDS = [_add_init_command, _add_demo_command, _add_export_command, _add_participant_command,
            _add_report_command, _add_stats_command, _add_where_command, _add_lab_command]


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
        args.func(args)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
