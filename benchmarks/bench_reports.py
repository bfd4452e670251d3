"""Reports through the public API: one person's, a cohort of 500, a batch of 24 personal ones.

Each is rendered by :func:`mastery_analysis.reports.render_report` (or
:func:`~mastery_analysis.reports.render_personal_reports` for the batch) from a store seeded
with the generated frames, as ``mastery report`` does; the HTML size is the largest file.
Times are medians of ``runs`` (the first render after other heavy work reads the kernel's
libraries from disk again and can take twice as long).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.common import fmt, load_average, timed
from benchmarks.seed import seed_store
from benchmarks.synthetic import SIZES, subset, synthetic_frames
from mastery_analysis import reports


def run(*, runs: int = 1) -> dict:
    figures = {}
    sizes = []
    with tempfile.TemporaryDirectory(prefix="mastery-bench-reports-") as tmp:
        tmp = Path(tmp)
        people, days = SIZES["personal"]
        personal = seed_store(str(tmp / "personal.db"), synthetic_frames(people, days))
        personal.close()
        out = tmp / "personal.html"
        _, t = timed(reports.render_report, "personal", out=out, store=str(tmp / "personal.db"),
                     participant="p000000", runs=runs)
        figures["report_personal_s"] = t
        sizes.append(out.stat().st_size)
        print(f"-- reports: personal ({days} days) {t:.1f} s, {out.stat().st_size / 1e6:.2f} MB "
              f"({load_average()})", flush=True)

        people, days = SIZES["cohort"]
        frames = synthetic_frames(people, days)
        cohort = seed_store(str(tmp / "cohort.db"), frames)
        cohort.close()
        out = tmp / "cohort.html"
        _, t = timed(reports.render_report, "cohort", out=out, store=str(tmp / "cohort.db"),
                     cohort="org", runs=runs)
        figures["report_cohort_500_s"] = t
        sizes.append(out.stat().st_size)
        print(f"   cohort of {people} ({days} days) {t:.1f} s, {out.stat().st_size / 1e6:.2f} MB",
              flush=True)

        batch = seed_store(str(tmp / "batch.db"), subset(frames, 24))
        batch.close()
        _, t = timed(reports.render_personal_reports, "org", out_dir=tmp / "batch",
                     store=str(tmp / "batch.db"), runs=runs)
        figures["report_batch_24_s"] = t
        batch_sizes = [p.stat().st_size for p in (tmp / "batch").glob("*.html")]
        sizes += batch_sizes
        print(f"   batch of {len(batch_sizes)} personal reports ({days} days each) {t:.1f} s "
              f"({load_average()})", flush=True)
    figures["report_html_mb"] = max(sizes) / 1e6
    print(f"   largest report {fmt(figures['report_html_mb'])} MB")
    return figures
