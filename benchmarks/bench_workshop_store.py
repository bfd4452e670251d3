"""Benchmark: the workshop's store path, on SQLite and (when a server is given) PostgreSQL.

``python -m benchmarks.bench_workshop_store [CHECKINS]`` (default 100) prints:

- check-in latency through ``ParticipantSession.check_in`` (every value checked twice, one
  transaction), median and 95th percentile, against a bare SQLAlchemy insert of the same
  rows in one transaction (the floor any store has to pay: connection, commit, fsync);
- SQLite ``synchronous=FULL`` (what the store uses) against NORMAL for the bare insert, the
  price of a check-in that survives a power cut;
- ``verify`` of a right code against one bare ``hashlib.scrypt`` with the same parameters.

PostgreSQL runs when ``$MASTERY_BENCH_POSTGRES_URL`` or ``$MASTERY_TEST_POSTGRES_URL`` names a
server (`.ci/postgres.sh start DIR` starts one); each run uses a fresh schema and drops it.
The 16 x 200 concurrent check-ins are timed by tests/test_concurrency.py (run with ``-s``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from mastery_analysis import access
from mastery_analysis.store import open_store


def _quantiles(seconds):
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p95 * 1000


def _checkins(url: str, n: int):
    store = open_store(url)
    store.add_cohort("bench")
    store.add_participant("alex", cohort="bench")
    code = access.issue_code(store, "alex")
    session = access.ParticipantSession(store, access.verify(store, code))
    goal = session.save_goal(title="Write")
    first = dt.date(2025, 1, 1)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        session.check_in(first + dt.timedelta(days=i), ratings={k: 5 + i % 5 for k in session.framework.keys},
                         actions={goal: 1}, progress={goal: min(100, i)}, note="bench")
        times.append(time.perf_counter() - t0)
    store.close()
    return times


def _bare(url: str, n: int, *, synchronous: str | None = None):
    engine = sa.create_engine(url)
    if synchronous:
        @sa.event.listens_for(engine, "connect")
        def _pragmas(conn, _):
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {synchronous}")
    meta = sa.MetaData()
    t = sa.Table(f"bare_{uuid.uuid4().hex[:8]}", meta, sa.Column("participant_id", sa.String(64)),
                 sa.Column("date", sa.Date), sa.Column("element", sa.String(64)), sa.Column("rating", sa.Integer),
                 sa.Column("note", sa.Text))
    meta.create_all(engine)
    first = dt.date(2025, 1, 1)
    times = []
    for i in range(n):
        rows = [{"participant_id": "alex", "date": first + dt.timedelta(days=i), "element": f"e{k}",
                 "rating": 5, "note": "bench"} for k in range(7)]
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(t.insert(), rows)
        times.append(time.perf_counter() - t0)
    meta.drop_all(engine)
    engine.dispose()
    return times


def _postgres_url():
    server = os.environ.get("MASTERY_BENCH_POSTGRES_URL") or os.environ.get("MASTERY_TEST_POSTGRES_URL")
    if not server:
        return None, None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    admin.dispose()
    url = sa.engine.make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), (server, schema)


def _drop(made):
    server, schema = made
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100
    print(f"   {n} check-ins each (a rating per element, one action, one progress)")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        med, p95 = _quantiles(_checkins(sqlite_url, n))
        full = _quantiles(_bare(f"sqlite:///{Path(tmp) / 'bare-full.db'}", n, synchronous="FULL"))
        normal = _quantiles(_bare(f"sqlite:///{Path(tmp) / 'bare-normal.db'}", n, synchronous="NORMAL"))
        print(f"   SQLite check-in      median {med:7.1f} ms  p95 {p95:7.1f} ms  "
              f"(bare insert, FULL: {full[0]:.1f} ms, ratio {med / full[0]:.1f}x)")
        print(f"   SQLite bare insert   FULL median {full[0]:.1f} ms, NORMAL median {normal[0]:.1f} ms "
              f"(FULL costs {full[0] - normal[0]:+.1f} ms a commit)")
    url, made = _postgres_url()
    if url is None:
        print("   PostgreSQL: skipped (set MASTERY_BENCH_POSTGRES_URL; .ci/postgres.sh start DIR starts a server)")
    else:
        try:
            med, p95 = _quantiles(_checkins(url, n))
            bare = _quantiles(_bare(url, n))
            print(f"   PostgreSQL check-in  median {med:7.1f} ms  p95 {p95:7.1f} ms  "
                  f"(bare insert: {bare[0]:.1f} ms, ratio {med / bare[0]:.1f}x)")
        finally:
            _drop(made)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "codes.db")
        store.add_participant("alex")
        code = access.issue_code(store, "alex")
        verifies, raws = [], []
        for _ in range(5):
            t0 = time.perf_counter()
            access.verify(store, code, address="127.0.0.1")
            verifies.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            hashlib.scrypt(b"ABCDEFGH", salt=b"0" * 16, n=access.SCRYPT_N, r=access.SCRYPT_R, p=access.SCRYPT_P,
                           maxmem=64 * 1024 * 1024, dklen=32)
            raws.append(time.perf_counter() - t0)
        store.close()
        v, r = statistics.median(verifies) * 1000, statistics.median(raws) * 1000
        print(f"   verify (right code)  median {v:7.1f} ms  (bare hashlib.scrypt n={access.SCRYPT_N} r={access.SCRYPT_R} p={access.SCRYPT_P}: {r:.1f} ms, "
              f"ratio {v / r:.2f}x)")


if __name__ == "__main__":
    main()
