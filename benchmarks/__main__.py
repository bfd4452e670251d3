"""Run the benchmarks, print a table of the figures, write ``benchmarks/results.json``.

``python -m benchmarks`` (``make bench``, a few minutes): the analysis at the cohort size and
at a scaled-down organisation (2,000 people x 365 days), against its peers and the naive loops;
loading at the scaled-down organisation; saving with about a million rows stored; figures.

``python -m benchmarks --full`` (``make bench-full``, heavy: run it rarely on a shared
machine): every size, the organisation at 10,000 x 365 (about 25 million rows), the
store's ``read_sql`` at that size, and the reports.

``--only analysis,load,save,reports,figures`` picks sections; ``--runs N`` sets how many runs
a median is taken over (3 by default). Nothing is asserted about timings; results of the
peers and the naive loops are checked equal to ours, and a mismatch fails the run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback

from benchmarks.common import RESULTS, fmt, load_average, print_table
from benchmarks.synthetic import SIZES

SECTIONS = ("analysis", "load", "save", "figures", "reports", "others")
SMALL_ORG = 2_000
TARGETS = {  # key: (target, "<=" or ">=")
    "analysis_org_s": (8, "<="), "analysis_org_peak_rss_gb": (3, "<="),
    "analysis_vs_best_peer": (1.0, ">="), "analysis_speedup_vs_naive": (30, ">="),
    "load_org_s": (3, "<="), "save_p50_ms": (5, "<="), "save_p99_ms": (25, "<="),
    "report_personal_s": (8, "<="), "report_cohort_500_s": (30, "<="),
    "report_batch_24_s": (90, "<="), "report_html_mb": (6, "<="), "figure_max_json_mb": (1, "<="),
    # issue 18's room (500 arriving within a minute under --full; 100 in the quick run)
    "bench_serve.arrive_p50_s": (2, "<="), "bench_serve.arrive_p95_s": (10, "<="),
    "bench_serve.at_once_30_p50_s": (5, "<="), "bench_serve.mib_per_session": (10, "<="),
}


#: What ``--full`` passes to the other benchmarks (their sizes beyond the quick run's).
FULL_ARGS = {"bench_serve": ["500"]}  # the room of issue 18: 500 arriving within a minute


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="every size, the full organisation, reports")
    p.add_argument("--only", help="comma-separated sections: " + ", ".join(SECTIONS))
    p.add_argument("--runs", type=int, default=3, help="runs per median (default 3)")
    p.add_argument("--out", default=str(RESULTS), help="where to write the JSON (default %(default)s)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    sections = args.only.split(",") if args.only else (
        SECTIONS if args.full else ("analysis", "load", "save", "figures", "others"))
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        print(f"unknown section(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    results = {"runs": args.runs, "cpus": float(__import__("os").cpu_count())}
    print(f"benchmarks: {', '.join(sections)}{' (full)' if args.full else ''}; python "
          f"{platform.python_version()}; {load_average()}\n", flush=True)
    failed = []
    org_label, org_people = ("org", SIZES["organisation"][0]) if args.full else ("org_small", SMALL_ORG)
    days = SIZES["organisation"][1]

    def section(name, fn):
        if name not in sections:
            return
        t0 = time.perf_counter()
        try:
            results.update(fn())
        except Exception:  # report and go on with the others; the run still fails
            traceback.print_exc()
            failed.append(name)
        print(f"   ({name}: {time.perf_counter() - t0:.0f} s)\n", flush=True)

    def analysis():
        from benchmarks import bench_analysis

        out = {}
        labels = (["personal", "cohort"] if args.full else ["cohort"])
        for label in labels:
            out.update(bench_analysis.run(label, *SIZES[label], runs=args.runs))
        out.update(bench_analysis.run(org_label, org_people, days, runs=args.runs))
        # the headline ratios are those of the largest size measured
        out["analysis_vs_best_peer"] = out[f"analysis_{org_label}_vs_best_peer"]
        out["analysis_speedup_vs_naive"] = out[f"analysis_{org_label}_speedup_vs_naive"]
        return out

    def load():
        from benchmarks import bench_store

        return bench_store.load(org_label, org_people, days, runs=args.runs)

    def save():
        from benchmarks import bench_store

        return bench_store.save(*SIZES["cohort"])

    def figures():
        from benchmarks import bench_figures

        return bench_figures.run(None if args.full else SMALL_ORG)

    def reports():
        from benchmarks import bench_reports

        return bench_reports.run(runs=args.runs)

    def others():
        """Every other ``benchmarks/bench_*.py`` with a ``main()`` (serving, imports, ...)."""
        import importlib
        import pkgutil
        from pathlib import Path

        out = {}
        mine = {"bench_analysis", "bench_store", "bench_figures", "bench_reports"}
        names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                       if m.name.startswith("bench_") and m.name not in mine)
        for name in names:
            module = importlib.import_module(f"benchmarks.{name}")
            if not hasattr(module, "main"):
                continue
            print(f"== benchmarks.{name}", flush=True)
            saved, sys.argv = sys.argv, [f"benchmarks.{name}", *(FULL_ARGS.get(name, []) if args.full else [])]
            try:
                got = module.main()
            except Exception:
                traceback.print_exc()
                failed.append(name)
                got = None
            finally:
                sys.argv = saved
            if isinstance(got, dict):
                out.update({f"{name}.{k}": v for k, v in got.items() if isinstance(v, (int, float))})
        return out

    for name, fn in (("analysis", analysis), ("load", load), ("save", save),
                     ("figures", figures), ("reports", reports), ("others", others)):
        section(name, fn)

    results["load_average_1min"] = __import__("os").getloadavg()[0]
    rows = []
    for key, (target, sense) in TARGETS.items():
        value = results.get(key)
        if value is None:
            continue
        met = value <= target if sense == "<=" else value >= target
        rows.append((key, fmt(value), f"{sense} {target:g}", "yes" if met else "NO"))
    if rows:
        print(f"targets ({load_average()}):")
        print_table(rows, ("key", "measured", "target", "met"))
    with open(args.out, "w") as fh:
        json.dump({k: (float(v) if isinstance(v, (int, float)) else v) for k, v in results.items()},
                  fh, indent=1, sort_keys=True)
    print(f"\nwrote {args.out}")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
