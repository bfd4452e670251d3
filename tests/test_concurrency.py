"""Many writers at once, code guesses at once, and writers killed mid-write, on SQLite and on
PostgreSQL. Each writer is a separate process, as each served page is a separate kernel."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from mastery_analysis import access
from mastery_analysis.store import open_store
from store_backends import backend, store_url  # noqa: F401

pytestmark = pytest.mark.slow

PROCESSES = 16
CHECKINS = 200
GUESSERS = 12


def _spawn(script, *args):
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_ready(procs, go_file, timeout=300):
    """Every process prints 'ready' once it has imported everything and opened the store;
    then one file tells them all to start, so their writes really overlap."""
    deadline = time.monotonic() + timeout
    for p in procs:
        line = p.stdout.readline()
        assert line.strip() == "ready", (line, p.stderr.read() if p.poll() is not None else "")
        assert time.monotonic() < deadline
    go_file.write_text("go")


PRELUDE = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from mastery_analysis.store import open_store
    url, go = sys.argv[1], Path(sys.argv[2])
    store = open_store(url)
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
""")

CHECKIN_WRITER = PRELUDE + textwrap.dedent("""
    import datetime as dt
    who, n = sys.argv[3], int(sys.argv[4])
    first = dt.date(2025, 1, 1)
    started = time.perf_counter()
    for i in range(n):
        store.record_checkin(who, first + dt.timedelta(days=i), ratings={"proactive": i % 10 + 1},
                             source="concurrency")
    print(f"done {time.perf_counter() - started:.3f}", flush=True)
""")


def test_sixteen_processes_each_save_two_hundred_checkins(store_url, tmp_path, backend):
    with open_store(store_url) as s:
        s.add_cohort("load")
        s.add_participants(pd.DataFrame({"participant_id": [f"p{i:02d}" for i in range(PROCESSES)]}), cohort="load")
    go = tmp_path / "go"
    procs = [_spawn(CHECKIN_WRITER, store_url, go, f"p{i:02d}", CHECKINS) for i in range(PROCESSES)]
    try:
        _wait_ready(procs, go)
        started = time.perf_counter()
        results = [p.communicate(timeout=3600) for p in procs]
        elapsed = time.perf_counter() - started
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0 and err == "", err  # no error shown to any writer
        assert out.strip().startswith("done")
    with open_store(store_url) as s:
        ratings = s.ratings()
        assert len(ratings) == PROCESSES * CHECKINS
        assert s.row_counts()["ratings"] == PROCESSES * CHECKINS
        assert ratings.groupby("participant_id").size().to_dict() == {f"p{i:02d}": CHECKINS for i in range(PROCESSES)}
        assert s.check_integrity() == []
    print(f"\n{backend}: {PROCESSES} x {CHECKINS} check-ins in {elapsed:.1f} s")


GUESSER = PRELUDE + textwrap.dedent("""
    from mastery_analysis.access import AccessDenied, verify
    code = sys.argv[3]
    try:
        verify(store, code, address=None)
        print("accepted", flush=True)
    except AccessDenied as exc:
        print("locked" if exc.retry_at is not None else "wrong", flush=True)
""")


def test_twelve_concurrent_wrong_guesses_are_all_counted(store_url, tmp_path):
    with open_store(store_url) as s:
        s.add_participant("alex")
        code = access.issue_code(s, "alex")  # the real scrypt cost: a wide window for races
    wrong = code[:-1] + ("2" if code[-1] != "2" else "3")
    go = tmp_path / "go"
    procs = [_spawn(GUESSER, store_url, go, wrong) for _ in range(GUESSERS)]
    try:
        _wait_ready(procs, go)
        results = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err
    outcomes = sorted(out.strip() for out, _ in results)
    # exactly five guesses had their hash checked; the other seven were refused unchecked
    assert outcomes == ["locked"] * (GUESSERS - access.MAX_FAILURES) + ["wrong"] * access.MAX_FAILURES
    with open_store(store_url) as s:
        state = access.codes(s).iloc[0]
        assert state["failed_attempts"] == GUESSERS
        assert isinstance(state["locked_until"], str)
        with pytest.raises(access.AccessDenied, match="Too many tries"):
            access.verify(s, code)


BULK_WRITER = textwrap.dedent("""
    import sys, time
    import pandas as pd
    from mastery_analysis.store import open_store
    url, rows = sys.argv[1], int(sys.argv[2])
    store = open_store(url)
    days = pd.date_range("2000-01-01", periods=rows // 5, freq="D")
    elements = ["proactive", "connect", "informed", "focused", "potential"]
    frame = pd.DataFrame({"participant_id": "bulk", "date": days.repeat(5),
                          "element": elements * (rows // 5), "rating": [i % 10 + 1 for i in range(rows)]})
    print("ready", flush=True)
    started = time.perf_counter()
    store.write_many({"ratings": frame, "actions": pd.DataFrame({
        "participant_id": "bulk", "date": days, "goal_id": "g-bulk", "count": 1})}, where="bulk")
    print(f"done {time.perf_counter() - started:.3f}", flush=True)
""")
BULK_ROWS = 10_000
TRIALS = 12


def test_a_bulk_write_killed_at_random_moments_leaves_all_or_nothing(store_url, backend):
    with open_store(store_url) as s:
        s.add_participant("bulk")
        s.write("goals", pd.DataFrame([{"goal_id": "g-bulk", "participant_id": "bulk", "title": "Bulk",
                                        "start_date": "2000-01-01"}]))
    # one uninterrupted run measures how long the write takes; then undo it
    calibrate = _spawn(BULK_WRITER, store_url, BULK_ROWS)
    out, err = calibrate.communicate(timeout=300)
    assert calibrate.returncode == 0, err
    duration = float(out.split("done")[1])
    with open_store(store_url) as s:
        assert s.row_counts()["ratings"] == BULK_ROWS
        s.forget("bulk")
        s.add_participant("bulk")
        s.write("goals", pd.DataFrame([{"goal_id": "g-bulk", "participant_id": "bulk", "title": "Bulk",
                                        "start_date": "2000-01-01"}]))
    rng = random.Random(20261201)
    seen, killed = [], 0
    for trial in range(TRIALS):
        p = _spawn(BULK_WRITER, store_url, BULK_ROWS)
        assert p.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, duration * 1.1))
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=60)
        killed += p.returncode == -signal.SIGKILL
        with open_store(store_url) as s:
            assert s.check_integrity() == [], f"trial {trial}"
            counts = s.row_counts()
            outcome = (counts["ratings"], counts["actions"])
            assert outcome in ((0, 0), (BULK_ROWS, BULK_ROWS // 5)), f"trial {trial}: {outcome}"
            seen.append("all" if outcome[0] else "none")
            if outcome[0]:  # start the next trial from an empty table again
                s.forget("bulk")
                s.add_participant("bulk")
                s.write("goals", pd.DataFrame([{"goal_id": "g-bulk", "participant_id": "bulk",
                                                "title": "Bulk", "start_date": "2000-01-01"}]))
    assert killed >= TRIALS // 2, f"only {killed} of {TRIALS} writers were killed before they finished"
    print(f"\n{backend}: write of {BULK_ROWS} rows takes {duration:.2f} s; after SIGKILL: "
          f"{seen.count('none')} none, {seen.count('all')} all")
