"""Benchmark: reading a 100,000-response form export with a survey mapping.

``python -m benchmarks.bench_forms [ROWS]`` (default 100,000 responses): writes a Google
Forms "Download responses" CSV (every field quoted, ``2021/01/23 10:58:38 pm GMT+8``
timestamps, an e-mail column, five agreement questions and a free-text answer with commas,
quotes and line breaks) and times ``importers.forms.read`` on it: encoding and delimiter
detection, records with their physical lines, the column's date order, answer labels to
numbers, and the schema checks of every row. The peer is what a person would write by
hand with pandas: ``read_csv``, ``to_datetime`` with the format spelled out, ``melt`` and
a ``map`` of the labels, with no checks. No timing is asserted anywhere.
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from mastery_analysis.importers import forms

LABELS = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]
QUESTIONS = [f"Question {i + 1} about how proactive I am" for i in range(5)]


def form_csv(rows: int, folder: Path) -> Path:
    rng = random.Random(9)
    out = folder / "Form responses.csv"
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["Timestamp", "Email Address", *QUESTIONS, "Anything else?"])
        for i in range(rows):
            day, second = 1 + i % 28, i % 43_200
            hour, minute, sec = second // 3600, (second // 60) % 60, second % 60
            stamp = (f"2024/03/{day:02d} {hour % 12 or 12}:{minute:02d}:{sec:02d} "
                     f"{'am' if hour < 12 else 'pm'} GMT+8")
            note = rng.choice(["", "fine", 'a "good" week, mostly', "two\nlines"])
            writer.writerow([stamp, f"p{i}@example.org", *(rng.choice(LABELS) for _ in QUESTIONS), note])
    return out


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100_000
    mapping = {"participant": {"column": "Email Address", "kind": "email"}, "phase": "baseline",
               "scales": {"agree": {label: i + 1 for i, label in enumerate(LABELS)}},
               "columns": {q: {"item": f"pro{1 + i % 3}" if i < 3 else f"con{i - 2}",
                               "answers": "agree"} for i, q in enumerate(QUESTIONS)},
               "ignore": ["Anything else?"]}
    with tempfile.TemporaryDirectory() as tmp:
        path = form_csv(rows, Path(tmp))
        t0, c0 = time.perf_counter(), time.process_time()
        result = forms.read(path, mapping=mapping)
        t_ours, c_ours = time.perf_counter() - t0, time.process_time() - c0
        n = len(result.frames["responses"])
        assert n == rows * len(QUESTIONS) and len(result.rejected) == 0

        t0, c0 = time.perf_counter(), time.process_time()
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        raw["date"] = pd.to_datetime(raw["Timestamp"].str.replace(" GMT+8", "", regex=False),
                                     format="%Y/%m/%d %I:%M:%S %p").dt.normalize()
        long = raw.melt(id_vars=["Email Address", "date"], value_vars=QUESTIONS,
                        var_name="question", value_name="label")
        long["value"] = long["label"].map({label: i + 1 for i, label in enumerate(LABELS)})
        t_peer, c_peer = time.perf_counter() - t0, time.process_time() - c0
        assert len(long) == n
    print(f"   Google Forms CSV of {rows:,} responses x {len(QUESTIONS)} questions "
          f"({n:,} answers)")
    print(f"   forms.read with a mapping:      {t_ours:6.2f} s  ({rows / t_ours:,.0f} responses/s; "
          f"{c_ours:.2f} s of CPU)")
    print(f"   peer, read_csv + to_datetime(format) + melt + map, no checks: {t_peer:6.2f} s  "
          f"({c_peer:.2f} s of CPU; ours / peer = {c_ours / c_peer:.1f}x CPU)")
    print("   (wall times on a shared machine vary; CPU seconds are steadier)")


if __name__ == "__main__":
    main()
