"""Report renders shared by tests/test_reports.py and tests/test_reports_browser.py.

Rendering takes seconds, so each report is rendered once per test session (the cache below
lives as long as this module) from a store built once: the demo data, plus

- text typed with markup in it (a note, a goal title, alex's name) that must render as text,
- a cohort ``tiny`` of four people (two consenting), to check that no aggregate over fewer
  than five people is shown.
"""

from __future__ import annotations

import pandas as pd

from mastery_analysis.demo import NON_CONSENTING, load_demo, read_demo_csv
from mastery_analysis.reports import render_report
from mastery_analysis.store import open_store

XSS = "<img src=x onerror=alert(1)>"
XSS_GOAL = "xss-goal"
XSS_DAY = "2026-10-31"  # alex's last day: the note is the first of the report's notes
TINY = "tiny"
TINY_MEMBERS = {"tiny1": "sc01", "tiny2": "sc02", "tiny3": "sc03", "tiny4": "sc05"}
TINY_CONSENTING = ("tiny1", "tiny2")

_cache: dict[str, object] = {}


def build_store(path) -> str:
    """A store at ``path`` with the demo data, the typed markup and the tiny cohort."""
    with open_store(path) as s:
        load_demo(s)
        person = s.participants(participant="alex").assign(name=XSS)
        s.write("participants", person)
        s.write("goals", pd.DataFrame([{
            "goal_id": XSS_GOAL, "participant_id": "alex", "title": XSS, "element": "proactive",
            "freq_times": 1, "freq_days": 1, "start_date": "2026-06-01", "due_date": "2026-12-31"}]))
        s.record_checkin("alex", XSS_DAY, ratings={"proactive": 7}, actions={XSS_GOAL: 1},
                         progress={XSS_GOAL: 10.0}, note=XSS)
        s.write_many(tiny_cohort_frames())
    return str(path)


def tiny_cohort_frames() -> dict[str, pd.DataFrame]:
    """Four demo cohort members copied under new ids into the cohort ``tiny``."""
    demo = read_demo_csv()
    source_ids = list(TINY_MEMBERS.values())
    rename = {v: k for k, v in TINY_MEMBERS.items()}
    out = {}
    for table, frame in demo.items():
        rows = frame.loc[frame["participant_id"].isin(source_ids)].copy()
        rows["participant_id"] = rows["participant_id"].map(rename)
        if "goal_id" in rows:
            rows["goal_id"] = "tiny-" + rows["goal_id"]
        out[table] = rows.reset_index(drop=True)
    people = out["participants"]
    people["cohort"] = TINY
    people["name"] = people["participant_id"].str.upper()
    people["consent_share"] = people["participant_id"].isin(TINY_CONSENTING)
    return out


def store_path(tmp_path_factory) -> str:
    """The shared report store (built on first use)."""
    if "store" not in _cache:
        _cache["store"] = build_store(tmp_path_factory.mktemp("report-store") / "reports.db")
    return _cache["store"]


def rendered(tmp_path_factory, name: str):
    """The path of one shared render: ``personal``, ``cohort`` (spring-cohort) or ``tiny``."""
    if name not in _cache:
        store = store_path(tmp_path_factory)
        out = tmp_path_factory.mktemp(f"report-{name}") / f"{name}.html"
        if name == "personal":
            _cache[name] = render_report("personal", out=out, store=store, participant="alex")
        elif name == "cohort":
            _cache[name] = render_report("cohort", out=out, store=store, cohort="spring-cohort")
        elif name == "tiny":
            _cache[name] = render_report("cohort", out=out, store=store, cohort=TINY)
        else:
            raise KeyError(name)
    return _cache[name]


def non_consenting_people() -> dict[str, str]:
    """participant_id -> name of the spring-cohort members who did not consent to sharing."""
    people = read_demo_csv()["participants"]
    rows = people.loc[people["participant_id"].isin(NON_CONSENTING)]
    return dict(zip(rows["participant_id"], rows["name"]))
