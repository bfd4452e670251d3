"""The append-only store over SQLAlchemy Core: SQLite by default, PostgreSQL for shared use.

Saving a day again adds a row; readers (``ratings()``, ``actions()``, ...) see the latest
row per key, and ``history(table)`` shows every version. Only ``forget(participant_id)``
deletes, and then it deletes everything of that person. Every write is one transaction and
is validated first, so a bad write leaves the store exactly as it was.

Workshop mode adds three tables of *state*, updated in place rather than appended to:
``cohorts`` (name, framework, the questionnaire phase that is open, the questionnaires
chosen per phase), ``access_codes`` (a
selector in clear, the scrypt hash of the secret, whose code it is, issued and revoked
times, failed attempts and a lock-out time) and ``access_attempts`` (recent code tries per
address, for the per-address budget). :mod:`mastery_analysis.access` issues and checks codes;
``forget`` deletes a person's codes and attempts with the rest of their rows.

Durability: SQLite runs in WAL mode with ``synchronous=FULL``, so a write that returned is
on disk (NORMAL would let a power cut lose the last transactions). On PostgreSQL every write
transaction takes one advisory lock, so writes are serialised exactly as SQLite's
``BEGIN IMMEDIATE`` serialises them, and checks made inside a write (an id already taken, a
goal owned by someone else) cannot race.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event

from . import __version__
from .errors import (ExperimentError, StoreError, StoreVersionError, UnknownCohortError,
                     UnknownParticipantError, ValidationError)
from .framework import (DEFAULT_FRAMEWORK, FRAMEWORK_DIR, ID_EXPECTED, ID_PATTERN, Framework, load_framework,
                        load_instrument)
from .locations import STORE_ENV, store_location
from .resources import checkout_root
from .schema import (EXPERIMENT_COLUMNS, PHASES, TABLES, Rows, as_day, as_email, check_experiment_plan,
                     check_rows, check_schedule, dtypes, empty, format_outcome, validate)
from .snapshot import GENERATION_KEY, Snapshot, new_generation

# 1: the tidy tables and meta. 2: cohorts, access_codes and access_attempts (state tables);
# a version-1 store is upgraded when opened (its cohorts are registered from participants).
# 3: contacts and messages (state tables of the coach's e-mails; see their comment below).
# 4: cohorts.instruments, the questionnaires a cohort uses per phase (validated instruments).
# 5: self-experiments (experiments, experiment_schedule, adherence: append-only).
SCHEMA_VERSION = 5
DATA_TABLES = ("participants", "goals", "ratings", "actions", "progress", "responses")

_metadata = sa.MetaData()
_SQL_TYPES = {
    "participant_id": sa.String(64), "goal_id": sa.String(64), "cohort": sa.String(64),
    "element": sa.String(64), "kind": sa.String(16), "phase": sa.String(16),
    "instrument": sa.String(64), "item": sa.String(64), "source": sa.String(100),
    "name": sa.Text, "title": sa.Text, "note": sa.Text, "target": sa.Text,
    "access_code_hash": sa.Text,
    "date": sa.Date, "joined_on": sa.Date, "start_date": sa.Date, "due_date": sa.Date,
    "rating": sa.Integer, "count": sa.Integer, "freq_times": sa.Integer, "freq_days": sa.Integer,
    "minutes": sa.Float, "percent": sa.Float, "value": sa.Float,
    "consent_share": sa.Boolean, "archived": sa.Boolean,
    "recorded_at": sa.String(32),  # ISO 8601 UTC text: same on SQLite and PostgreSQL
}
SQL_TABLES: dict[str, sa.Table] = {}
for _name in DATA_TABLES:
    _spec = TABLES[_name]
    _cols = [sa.Column("version_id", sa.Integer, primary_key=True, autoincrement=True)]
    _cols += [sa.Column(c, _SQL_TYPES[c], nullable=c not in _spec.key) for c in _spec.columns]
    if "recorded_at" not in _spec.columns:
        _cols.append(sa.Column("recorded_at", _SQL_TYPES["recorded_at"]))
    SQL_TABLES[_name] = sa.Table(
        _name, _metadata, *_cols,
        sa.Index(f"ix_{_name}_key", *_spec.key, "version_id"),
        *([sa.Index(f"ix_{_name}_participant", "participant_id")] if "participant_id" not in _spec.key[:1] else []),
    )
META = sa.Table("meta", _metadata, sa.Column("key", sa.String(64), primary_key=True),
                sa.Column("value", sa.Text))

# ---- workshop state (schema version 2): updated in place, not append-only
_STAMP = sa.String(32)  # ISO 8601 UTC text with microseconds: compares as text on both databases
COHORTS = sa.Table(
    "cohorts", _metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("framework", sa.Text, nullable=False),
    sa.Column("open_phase", sa.String(16)),
    sa.Column("created_at", _STAMP, nullable=False),
    # JSON {phase: [instrument, ...]}: the questionnaires the cohort answers in each phase;
    # a phase not named uses the framework's own questionnaire (schema version 3)
    sa.Column("instruments", sa.Text),
)
ACCESS_CODES = sa.Table(
    "access_codes", _metadata,
    sa.Column("selector", sa.String(8), primary_key=True),
    sa.Column("secret_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("participant_id", sa.String(64)),
    sa.Column("coach", sa.String(64)),
    sa.Column("cohort", sa.String(64)),
    sa.Column("issued_at", _STAMP, nullable=False),
    sa.Column("revoked_at", _STAMP),
    sa.Column("failed_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", _STAMP),
    sa.Index("ix_access_codes_participant", "participant_id"),
    sa.Index("ix_access_codes_coach", "coach", "cohort"),
)
ACCESS_ATTEMPTS = sa.Table(
    "access_attempts", _metadata,
    sa.Column("attempt_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("address", sa.String(64)),
    sa.Column("selector", sa.String(8)),
    sa.Column("participant_id", sa.String(64)),
    sa.Column("at", _STAMP, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # pending, failed, ok
    sa.Index("ix_access_attempts_address", "address", "at"),
    sa.Index("ix_access_attempts_participant", "participant_id"),
)
# ---- messages to participants (schema version 3): state, not facts
# A person's e-mail address and their opt-out are *current preferences*: changed in place, and
# gone without a trace when changed or forgotten. As columns of the append-only participants
# table, every earlier address would stay in its history and travel with `export --history`,
# the snapshot and every frame that reads participants (cohort views, reports); here they
# serve the coach's messages alone (DESIGN.md, "Privacy") and no data table ever holds one.
CONTACTS = sa.Table(
    "contacts", _metadata,
    sa.Column("participant_id", sa.String(64), primary_key=True),
    sa.Column("email", sa.Text),
    sa.Column("opted_out_at", _STAMP),  # set: this person is never mailed again
    sa.Column("updated_at", _STAMP, nullable=False),
)
# What was sent: who, which kind (invite, nudge), the day the run counted as today, when,
# and the outcome (sending, sent, refused); never the code or the text. A row in `sending` or
# `sent` for (participant, kind, day) is what stops a second run the same day from mailing
# that person again (claimed before the message goes, so two runs at once cannot both send).
MESSAGES = sa.Table(
    "messages", _metadata,
    sa.Column("message_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("participant_id", sa.String(64), nullable=False),
    sa.Column("cohort", sa.String(64)),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("at", _STAMP, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text),
    sa.Index("ix_messages_participant", "participant_id", "kind", "day"),
    sa.Index("ix_messages_cohort", "cohort", "kind"),
)
STATE_TABLES = ("cohorts", "access_codes", "access_attempts", "contacts", "messages")

# ---- self-experiments (schema version 5): append-only like the tidy tables. A plan is a row
# of ``experiments`` (a new version while its start day has not come); its schedule rows name
# the plan version they belong to, so a changed plan's schedule replaces the old one whole.
EXPERIMENTS = sa.Table(
    "experiments", _metadata,
    sa.Column("version_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment_id", sa.String(64), nullable=False),
    sa.Column("participant_id", sa.String(64), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("condition_a", sa.Text, nullable=False),
    sa.Column("condition_b", sa.Text, nullable=False),
    sa.Column("outcome_kind", sa.String(16), nullable=False),
    sa.Column("outcome_ref", sa.String(64), nullable=False),
    sa.Column("design", sa.String(16), nullable=False),
    sa.Column("period_days", sa.Integer, nullable=False),
    sa.Column("periods", sa.Integer, nullable=False),
    sa.Column("washout_days", sa.Integer, nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("min_effect", sa.Float),
    sa.Column("recorded_at", _STAMP, nullable=False),
    sa.Index("ix_experiments_key", "experiment_id", "version_id"),
    sa.Index("ix_experiments_participant", "participant_id"),
)
EXPERIMENT_SCHEDULE = sa.Table(
    "experiment_schedule", _metadata,
    sa.Column("version_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("plan_version", sa.Integer, nullable=False),  # experiments.version_id
    sa.Column("experiment_id", sa.String(64), nullable=False),
    sa.Column("participant_id", sa.String(64), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("condition", sa.String(1), nullable=False),
    sa.Column("washout", sa.Boolean, nullable=False),
    sa.Column("recorded_at", _STAMP, nullable=False),
    sa.Index("ix_experiment_schedule_plan", "plan_version", "date"),
    sa.Index("ix_experiment_schedule_participant", "participant_id"),
)
ADHERENCE = sa.Table(
    "adherence", _metadata,
    sa.Column("version_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("participant_id", sa.String(64), nullable=False),
    sa.Column("experiment_id", sa.String(64), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("followed", sa.Boolean, nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("recorded_at", _STAMP, nullable=False),
    sa.Index("ix_adherence_key", "experiment_id", "date", "version_id"),
    sa.Index("ix_adherence_participant", "participant_id"),
)
EXPERIMENT_TABLES = ("experiments", "experiment_schedule", "adherence")
# One key for the advisory lock every PostgreSQL write transaction takes (any constant works;
# this one spells "mastery" in hex-ish so it is recognisable in pg_locks).
_PG_WRITE_LOCK = 0x6D617374


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def stamp(when: dt.datetime | None = None) -> str:
    """A UTC time as the fixed-width text the state tables store (sorts as it compares)."""
    when = utc_now() if when is None else when.astimezone(dt.timezone.utc)
    return when.isoformat(timespec="microseconds")


def project_root() -> Path | None:
    """The source checkout this package runs from, if it runs from one."""
    return checkout_root()


def default_url() -> str:
    """The store used when none is named: ``$MASTERY_STORE`` (a URL or a file path) if set,
    else ``data/mastery.db`` of the source checkout, else ``mastery.db`` in the user data
    folder (see :mod:`mastery_analysis.locations`)."""
    return store_location().value


def resolve_url(url: str | os.PathLike | None) -> str:
    """A SQLAlchemy URL from a URL, a file path (taken as SQLite), or None (the default store)."""
    return store_location(url).value if url is not None else default_url()


def open_store(url: str | os.PathLike | None = None, *, framework: Framework | str | None = None,
               create: bool = True) -> "Store":
    """Open (and create if needed) the store at ``url``.

    Parameters
    ----------
    url : str, path or None
        A SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://...``), a file path
        (taken as SQLite), or None for ``$MASTERY_STORE`` or the default ``data/mastery.db``.
    framework : Framework, str or None
        The framework ratings are checked against; None uses the one recorded in the store
        (``career_mastery`` for a new store).
    create : bool
        Create the file and tables when missing; with False a missing SQLite file is an error.
    """
    return Store(resolve_url(url), framework=framework, create=create)


def _sqlite_pragmas(dbapi_connection, _record):
    # Autocommit at the driver level so that our own BEGIN IMMEDIATE below is the only BEGIN.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA busy_timeout = 30000")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA journal_mode = WAL")
    # FULL: a commit is on disk when it returns, so a check-in the page called "Saved" survives a
    # power cut. (NORMAL in WAL mode survives an application crash but may lose the last
    # commits on power loss.) Measured cost: see docs/workshop.md.
    cur.execute("PRAGMA synchronous = FULL")
    cur.close()


def _begin_immediate(conn):
    # Take the write lock up front: a deferred transaction that upgrades to a writer can fail
    # with "database is locked" at once instead of waiting out the busy timeout.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(conn):
    conn.exec_driver_sql("BEGIN")


class Store:
    """An append-only store of the tidy tables. Use :func:`open_store` to get one."""

    def __init__(self, url: str, *, framework=None, create: bool = True):
        self.url = url
        chosen = load_framework(framework) if framework is not None else None  # before any file is made
        self._sqlite = url.startswith("sqlite")
        in_memory = False
        if self._sqlite:
            path = sa.engine.make_url(url).database
            in_memory = not path or path == ":memory:"
            if not in_memory:
                p = Path(path)
                if not p.exists():
                    if not create:
                        raise StoreError(f"no store at {p}; run `mastery init --store {url}` first")
                    try:
                        p.parent.mkdir(parents=True, exist_ok=True)
                    except OSError as exc:
                        raise StoreError(f"cannot create the folder {p.parent} for the store: "
                                         f"{exc.strerror}") from None
        try:
            if in_memory:  # one connection, or every reader would see its own empty database
                self._engine = sa.create_engine(url, poolclass=sa.pool.StaticPool)
            else:
                self._engine = sa.create_engine(url)
            self._read_engine = sa.create_engine(url) if self._sqlite and not in_memory else self._engine
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise StoreError(f"cannot use the store URL {url!r}: {exc}") from None
        if self._sqlite:
            engines = [(self._engine, _begin_immediate)]
            if self._read_engine is not self._engine:
                engines.append((self._read_engine, _begin_deferred))
            for engine, begin in engines:
                event.listen(engine, "connect", _sqlite_pragmas)
                event.listen(engine, "begin", begin)
        self._postgres = self._engine.dialect.name == "postgresql"
        try:
            with self._engine.begin() as conn:
                if self._postgres:  # several processes may open a new store at once
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_WRITE_LOCK})
                if self._sqlite:  # an SQLite file belongs to one application: never add ours to another's
                    found = set(sa.inspect(conn).get_table_names())
                    if found and META.name not in found:
                        raise StoreError(f"{url} is not a mastery store: it holds other tables "
                                         f"({', '.join(sorted(found)[:5])}) and no schema version")
                _metadata.create_all(conn, checkfirst=True)
                stored = conn.execute(sa.select(META.c.value).where(META.c.key == "schema_version")).scalar()
                if stored is not None and not str(stored).isdigit():
                    raise StoreError(f"{url} is not a mastery store: schema version {stored!r}")
                if stored is None:
                    fw_name = _framework_ref(chosen) if chosen is not None else DEFAULT_FRAMEWORK
                    conn.execute(META.insert(), [
                        {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                        {"key": "framework", "value": fw_name},
                        {"key": "created_by", "value": f"mastery-analysis {__version__}"},
                        {"key": GENERATION_KEY, "value": new_generation()},
                    ])
                elif int(stored) > SCHEMA_VERSION:
                    raise StoreVersionError(
                        f"the store at {url} has schema version {stored}, written by a newer "
                        f"mastery-analysis; this version ({__version__}) reads up to schema version "
                        f"{SCHEMA_VERSION}. Upgrade with `pip install -U mastery-analysis`."
                    )
                recorded_fw = conn.execute(sa.select(META.c.value).where(META.c.key == "framework")).scalar()
                if stored is not None and int(stored) < SCHEMA_VERSION:
                    _upgrade(conn, int(stored), recorded_fw)
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open the store at {url}: {exc.orig}") from None
        except sa.exc.DatabaseError as exc:
            raise StoreError(f"{url} is not a mastery store: {exc.orig}") from None
        self.framework = chosen if chosen is not None else load_framework(recorded_fw)

    def __repr__(self):
        return f"Store({self.url!r})"

    def snapshot(self, directory=None) -> Snapshot:
        """The store's columnar snapshot for analysis (:mod:`mastery_analysis.snapshot`):
        ``store.snapshot().read("ratings")`` equals ``store.ratings()``, read from Parquet."""
        if directory is not None:
            return Snapshot(self, directory)
        if getattr(self, "_snapshot", None) is None:
            self._snapshot = Snapshot(self)
        return self._snapshot

    def close(self):
        self._engine.dispose()
        if self._read_engine is not self._engine:
            self._read_engine.dispose()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextmanager
    def _connection(self, *, write: bool = False, serialise: bool = True) -> Iterator[sa.Connection]:
        """A connection (a transaction when ``write``); a database failure is a StoreError.

        Write transactions are serialised (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an
        advisory lock). ``serialise=False`` skips the PostgreSQL lock for a transaction that
        is one atomic statement on one row (charging a code attempt), which needs no more.
        """
        try:
            if write:
                with self._engine.begin() as conn:
                    if serialise and self._postgres:
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_WRITE_LOCK})
                    yield conn
            else:
                with self._read_engine.connect() as conn:
                    yield conn
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"cannot {'write to' if write else 'read'} the store at {self.url}: "
                             f"{exc.orig}") from None

    # ----------------------------------------------------------------- meta
    @property
    def schema_version(self) -> int:
        with self._connection() as conn:
            return int(conn.execute(sa.select(META.c.value).where(META.c.key == "schema_version")).scalar())

    # ----------------------------------------------------------------- reading
    def _read(self, table: str, *, participant=None, cohort=None, start=None, end=None,
              latest: bool = True) -> pd.DataFrame:
        params = {}
        if participant is not None:
            params["ids"] = [participant] if isinstance(participant, str) else list(participant)
        if cohort is not None:
            params["cohort"] = cohort
        if "date" in TABLES[table].columns:
            if start is not None:
                params["start"] = as_day(start, what="start date")
            if end is not None:
                params["end"] = as_day(end, what="end date")
        query = _read_query(table, latest=latest, filters=tuple(sorted(params)))
        with self._connection() as conn:
            rows = conn.execute(query, params).all()
        return _to_frame(table, rows, with_version=not latest)

    @staticmethod
    def _latest_select(table, columns):
        t = SQL_TABLES[table]
        key = [t.c[k] for k in TABLES[table].key]
        newest = sa.select(sa.func.max(t.c.version_id).label("v")).group_by(*key).subquery()
        return sa.select(*[t.c[c] for c in columns]).join(newest, t.c.version_id == newest.c.v)

    def participants(self, *, participant=None, cohort=None) -> pd.DataFrame:
        """Participants (latest version of each): participant_id, name, cohort, joined_on,
        consent_share, access_code_hash."""
        return self._read("participants", participant=participant, cohort=cohort)

    def ratings(self, *, participant=None, cohort=None, start=None, end=None) -> pd.DataFrame:
        """Ratings, latest per (participant_id, date, element, kind)."""
        return self._read("ratings", participant=participant, cohort=cohort, start=start, end=end)

    def goals(self, *, participant=None, cohort=None, include_archived: bool = True) -> pd.DataFrame:
        """Goals, latest version of each."""
        goals = self._read("goals", participant=participant, cohort=cohort)
        if include_archived or not goals["archived"].any():  # the same frame, without a copy
            return goals
        return goals.loc[~goals["archived"]].reset_index(drop=True)

    def actions(self, *, participant=None, cohort=None, start=None, end=None) -> pd.DataFrame:
        """Actions, latest per (participant_id, date, goal_id)."""
        return self._read("actions", participant=participant, cohort=cohort, start=start, end=end)

    def progress(self, *, participant=None, cohort=None, start=None, end=None) -> pd.DataFrame:
        """Goal progress, latest per (participant_id, date, goal_id)."""
        return self._read("progress", participant=participant, cohort=cohort, start=start, end=end)

    def responses(self, *, participant=None, cohort=None, start=None, end=None) -> pd.DataFrame:
        """Questionnaire responses, latest per (participant_id, date, instrument, item)."""
        return self._read("responses", participant=participant, cohort=cohort, start=start, end=end)

    def history(self, table: str, *, participant=None) -> pd.DataFrame:
        """Every version of every row of ``table`` with a ``version_id`` column, sorted by key
        (participant, date, ...) and, within a key, oldest version first."""
        _check_table(table)
        return self._read(table, participant=participant, latest=False)

    def row_counts(self) -> dict[str, int]:
        """Number of stored rows (all versions) per table."""
        with self._connection() as conn:
            return {name: conn.execute(sa.select(sa.func.count()).select_from(SQL_TABLES[name])).scalar()
                    for name in DATA_TABLES}

    def has_participant(self, participant_id: str) -> bool:
        t = SQL_TABLES["participants"]
        with self._connection() as conn:
            return conn.execute(sa.select(t.c.participant_id).where(
                t.c.participant_id == participant_id).limit(1)).first() is not None

    def require_participant(self, participant_id: str) -> None:
        """Raise :class:`UnknownParticipantError` unless the participant exists."""
        if not self.has_participant(participant_id):
            known = self.participants()["participant_id"].tolist()
            hint = f"; known participants: {', '.join(known[:10])}{' ...' if len(known) > 10 else ''}" \
                if known else "; the store has no participants yet (try `mastery participant add` or `mastery demo`)"
            raise UnknownParticipantError(f"unknown participant '{participant_id}' in {self.url}{hint}")

    # ----------------------------------------------------------------- writing
    def write(self, table: str, frame: pd.DataFrame, *, where: str | None = None,
              framework: Framework | None = None) -> int:
        """Validate ``frame`` and append it to ``table`` in one transaction.

        Returns the number of rows written. Raises :class:`ValidationError` (every bad row),
        or :class:`UnknownParticipantError`; in either case nothing is written.
        ``framework`` checks elements and scales against a cohort's framework instead of the
        store's. Participants rows naming a cohort the store does not know register it (with
        the store's framework) in the same transaction: bulk loads bring whole cohorts.
        """
        _check_table(table)
        clean = validate(table, frame, framework=framework or self.framework, where=where)
        if clean.empty:
            return 0
        with self._connection(write=True) as conn:
            self._check_references(conn, table, clean, where)
            if table == "participants":
                self._register_cohorts(conn, clean)
            return self._insert(conn, table, clean)

    def write_many(self, frames: Mapping[str, pd.DataFrame], *, where: str | None = None,
                   skip_unchanged: bool = False, row_label: str = "row",
                   progress: bool = False, framework: Framework | None = None,
                   dry_run: bool = False) -> dict[str, int]:
        """Write several tables in one transaction (participants and goals first).

        Parameters
        ----------
        frames : dict of table -> DataFrame
        where : str, optional
            Where the rows come from (a file name), named in error messages.
        skip_unchanged : bool
            For imports: a row equal to the current version of its key (every column but
            ``recorded_at``) is not written again, so writing the same frames twice adds
            nothing the second time; a changed row adds a version. A participant already in
            the store keeps what the frame leaves empty or False (an import that knows less
            about a person never blanks what the store knows, nor withdraws a consent); only
            cells the frame fills can change.
            Decided inside the write transaction.
        row_label : str
            What the frames' index labels are called in error messages (``line`` for an
            importer's frames, which are indexed by file line).
        progress : bool
            Show a progress bar while inserting many rows.
        framework : Framework, optional
            Check elements and scales against a cohort's framework instead of the store's.
        dry_run : bool
            Do everything (checks, comparisons, inserts) inside the transaction, then roll it
            back: the counts are exactly what a real write would add, and nothing is kept.

        Returns
        -------
        dict of table -> rows written.
        """
        for t in frames:
            _check_table(t)
        order = [t for t in DATA_TABLES if t in frames]
        clean = _checked_together(
            order, lambda t: validate(t, frames[t], framework=framework or self.framework, where=where),
            where=where, row_label=row_label)
        counts = {}
        try:
            with self._connection(write=True) as conn:
                self._write_clean(conn, order, clean, counts, where=where,
                                  skip_unchanged=skip_unchanged, row_label=row_label,
                                  progress=progress)
                if dry_run:
                    raise _RollBack
        except _RollBack:
            pass
        return counts

    def _write_clean(self, conn, order, clean, counts, *, where, skip_unchanged,
                     row_label, progress):
        """Insert validated frames (or :class:`Rows`) on ``conn`` (inside the caller's transaction)."""
        found = {"participants": set(), "owners": {}}  # what one table's check found, for the next
        for t in order:
            rows = clean[t]
            if skip_unchanged and len(rows):
                rows = self._changed_rows(conn, t, rows)
            if len(rows):
                try:
                    self._check_references(conn, t, rows, where, found=found)
                except ValidationError as exc:
                    raise ValidationError(exc.table, exc.failures, where=where,
                                          label=row_label) from None
                if t == "participants":
                    self._register_cohorts(conn, rows)
                counts[t] = self._insert(conn, t, rows, progress=progress)
            else:
                counts[t] = 0

    def _changed_rows(self, conn, table, clean):
        """The rows of ``clean`` that differ from the current version of their key.

        Participants already stored are merged first: cells the import leaves empty (or
        False, the default of a flag) keep the stored value.
        """
        spec = TABLES[table]
        t = SQL_TABLES[table]
        key = list(spec.key)
        ids = sorted(set(clean["participant_id"]))
        newest = sa.select(sa.func.max(t.c.version_id).label("v")).where(
            t.c.participant_id.in_(ids)).group_by(*[t.c[k] for k in key]).subquery()
        query = sa.select(*[t.c[c] for c in spec.columns]).join(newest, t.c.version_id == newest.c.v)
        current = _to_frame(table, conn.execute(query).all(), with_version=False)
        if current.empty:
            return clean
        compare = [c for c in spec.columns if c not in key and c != "recorded_at"]
        label = clean.index
        rows = clean.reset_index(drop=True)
        cur = rows[key].merge(current, on=key, how="left", indicator=True)
        known = (cur["_merge"] == "both").to_numpy()
        if table == "participants":
            for c in compare:
                filled = rows[c].notna().to_numpy() & (rows[c].to_numpy() != False)  # noqa: E712
                keep_stored = known & ~filled
                if keep_stored.any():
                    rows[c] = rows[c].astype(object).where(~keep_stored, cur[c].astype(object))
            rows = validate(table, rows, framework=self.framework)
        same = known.copy()
        for c in compare:
            a, b = rows[c], cur[c]
            equal = (a.astype(object) == b.astype(object)).to_numpy() | (a.isna() & b.isna()).to_numpy()
            same &= equal
        rows.index = label
        return rows.loc[~same]

    def add_participant(self, participant_id: str, *, name=None, cohort=None, joined_on=None,
                        consent_share: bool = False, access_code_hash=None, email=None) -> None:
        """Add a new participant; an id already in the store is an error.

        A ``cohort`` must have been added first (:meth:`add_cohort`); a typo is an
        :class:`UnknownCohortError`, not a new cohort. ``email`` (optional) is kept apart,
        in ``contacts``, for the coach's messages only (:meth:`set_email`).
        """
        address = as_email(email, what=f"email of {participant_id}")
        if cohort is not None:
            self.require_cohort(cohort)
        clean = validate("participants", pd.DataFrame([{
            "participant_id": participant_id, "name": name, "cohort": cohort,
            "joined_on": joined_on if joined_on is not None else dt.date.today(),
            "consent_share": consent_share, "access_code_hash": access_code_hash}]),
            framework=self.framework)
        t = SQL_TABLES["participants"]
        with self._connection(write=True) as conn:  # checked inside the write lock: two adds cannot both pass
            if conn.execute(sa.select(t.c.participant_id).where(
                    t.c.participant_id == participant_id).limit(1)).first() is not None:
                raise StoreError(f"participant '{participant_id}' already exists in {self.url}")
            self._insert(conn, "participants", clean)
            if address is not None:
                self._put_contact(conn, participant_id, email=address)

    def record_checkin(self, participant_id: str, day, *, ratings: Mapping[str, int],
                       vision: Mapping[str, int] | None = None,
                       actions: Mapping[str, int | Mapping] | None = None,
                       progress: Mapping[str, float] | None = None,
                       note: str | None = None, source: str = "checkin",
                       framework: Framework | None = None,
                       adherence: Mapping[str, bool] | None = None,
                       note_values: Mapping[str, float] | None = None) -> dict[str, int]:
        """Write one participant-day in one transaction.

        Parameters
        ----------
        participant_id : str
        day : date-like
            The participant's calendar day. Days after tomorrow (UTC) are refused.
        ratings, vision : dict of element -> int
            Current and vision ratings on the framework's scale.
        actions : dict of goal_id -> count, or goal_id -> {"count": int, "minutes": float}
        progress : dict of goal_id -> percent (0 to 100)
        note : str, optional
            The day's note, kept on every row this check-in writes.
        framework : Framework, optional
            Check ratings against this framework (a cohort's) instead of the store's.
        adherence : dict of experiment_id -> bool, optional
            Whether the day's condition of each of the participant's running experiments
            was followed (see :meth:`record_adherence`), written in the same transaction.
        note_values : dict of name -> number, optional
            Numeric notes of the day (the outcome ``note:NAME`` of a self-experiment): kept
            as ``responses`` rows with instrument ``note``, item NAME and phase ``mid``, each
            value a finite number.

        Returns
        -------
        dict of table -> rows written.
        """
        when = as_day(day, what="day")
        if when is None:
            raise ValidationError("day", [{"row": None, "column": None, "value": None,
                                           "expected": "a date like 2024-05-31"}], noun="")
        if when > dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1):
            raise ValidationError("day", [{"row": None, "column": None, "value": str(when),
                                           "expected": "today or an earlier day (not the future)"}],
                                  noun="")
        for what, given in (("ratings", ratings), ("vision", vision), ("actions", actions),
                            ("progress", progress), ("note_values", note_values)):
            if given is not None and not isinstance(given, Mapping):
                raise ValidationError(what, [{"row": None, "column": None, "value": type(given).__name__,
                                              "expected": "a dict (element or goal_id -> value)"}],
                                      noun="argument")
        records = {}
        rows = [{"participant_id": participant_id, "date": when, "element": e, "rating": v,
                 "kind": "current", "note": note, "source": source} for e, v in (ratings or {}).items()]
        rows += [{"participant_id": participant_id, "date": when, "element": e, "rating": v,
                  "kind": "vision", "note": note, "source": source} for e, v in (vision or {}).items()]
        if rows:
            records["ratings"] = rows
        if actions:
            arows = []
            for goal_id, value in actions.items():
                count, minutes = (value.get("count"), value.get("minutes")) if isinstance(value, Mapping) \
                    else (value, None)
                arows.append({"participant_id": participant_id, "date": when, "goal_id": goal_id,
                              "count": count, "minutes": minutes, "note": note, "source": source})
            records["actions"] = arows
        if progress:
            records["progress"] = [
                {"participant_id": participant_id, "date": when, "goal_id": g, "percent": p,
                 "note": note, "source": source} for g, p in progress.items()]
        if note_values:
            bad = [{"row": None, "column": f"note_values.{name}", "value": repr(v)[:80],
                    "expected": "a finite number"} for name, v in note_values.items()
                   if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating))
                   or not np.isfinite(v)]
            if bad:
                raise ValidationError("note values", bad, noun="")
            records["responses"] = [
                {"participant_id": participant_id, "date": when, "phase": "mid", "instrument": "note",
                 "item": name, "value": v} for name, v in note_values.items()]
        if adherence is not None and not isinstance(adherence, Mapping):
            raise ValidationError("adherence", [{"row": None, "column": None, "value": type(adherence).__name__,
                                                 "expected": "a dict (experiment_id -> true or false)"}],
                                  noun="argument")
        if not records and not adherence:
            raise ValidationError("ratings", [{"row": None, "column": None, "value": "(nothing)",
                                               "expected": "at least one rating, action or progress"}])
        where = f"check-in of {participant_id} on {when}"
        # a check-in's few rows are checked in plain Python (check_rows: validate's rules
        # without building frames) and written by the same path as every other write
        order = [t for t in DATA_TABLES if t in records]
        clean = _checked_together(
            order, lambda t: check_rows(t, records[t], framework=framework or self.framework, where=where),
            where=where, row_label="row")
        counts = {}
        try:
            with self._connection(write=True) as conn:
                self._write_clean(conn, order, clean, counts, where=where, skip_unchanged=False,
                                  row_label="row", progress=False)
                if adherence:
                    if not order:
                        self._check_references(conn, "adherence", Rows("adherence", [0], {
                            "participant_id": [participant_id]}), where)
                    counts["adherence"] = self._insert_adherence(conn, participant_id, adherence, when,
                                                                 source=source)
        except UnknownParticipantError:
            self.require_participant(participant_id)  # the message that names who is known
            raise
        return counts

    def forget(self, participant_id: str) -> dict[str, int]:
        """Delete every row of one participant from every table, their access codes, code
        attempts, e-mail address, opt-out and message records included. Returns rows deleted
        per table."""
        self.require_participant(participant_id)
        deleted = {}
        with self._connection(write=True) as conn:
            for name in reversed(DATA_TABLES):
                t = SQL_TABLES[name]
                deleted[name] = conn.execute(sa.delete(t).where(t.c.participant_id == participant_id)).rowcount
            for t in (ACCESS_CODES, ACCESS_ATTEMPTS, CONTACTS, MESSAGES, ADHERENCE, EXPERIMENT_SCHEDULE,
                      EXPERIMENTS):
                deleted[t.name] = conn.execute(sa.delete(t).where(t.c.participant_id == participant_id)).rowcount
            # deletions are invisible to a version watermark: snapshots rebuild on a new generation
            conn.execute(META.delete().where(META.c.key == GENERATION_KEY))
            conn.execute(META.insert(), [{"key": GENERATION_KEY, "value": new_generation()}])
        return deleted

    # ----------------------------------------------------------------- self-experiments
    def save_experiment(self, plan: Mapping, schedule: pd.DataFrame, *, today=None) -> dict[str, int]:
        """Keep a self-experiment's plan and its schedule, in one transaction.

        Parameters
        ----------
        plan : mapping
            The fields of :data:`mastery_analysis.schema.EXPERIMENT_COLUMNS` (checked by
            :func:`~mastery_analysis.schema.check_experiment_plan`).
        schedule : DataFrame
            ``date``, ``period``, ``condition`` (``"A"``/``"B"``), ``washout``: the plan's
            schedule as :func:`mastery_analysis.analysis.experiments.plan_experiment` made it
            from the seed. Kept as it is, so it survives a change of that function.
        today : date-like, optional
            The person's today (defaults to the UTC date); decides what is in the past.

        Returns
        -------
        dict of table -> rows written
            ``experiments`` and ``experiment_schedule``; both 0 when the same plan and
            schedule are saved again.

        Raises
        ------
        ValidationError
            A bad field of the plan or the schedule (every one named).
        ExperimentError
            The experiment id belongs to someone else; the plan changes an experiment whose
            start day has come (a new plan is a new experiment); the outcome is one the
            person never rates (no rows of it); the start day is in the past and the outcome
            already has values on or after it. Nothing is written.
        UnknownParticipantError
        """
        fw = self.framework
        clean = check_experiment_plan(plan, framework=fw)
        if clean["outcome_kind"] == "element":
            cohort = self.participants(participant=clean["participant_id"])["cohort"]
            if len(cohort) and isinstance(cohort.iloc[0], str):
                fw = self.cohort_framework(cohort.iloc[0])
                clean = check_experiment_plan(plan, framework=fw)
        sched = check_schedule(schedule, clean)
        today = as_day(today, what="today") if today is not None else utc_now().date()
        pid, xid = clean["participant_id"], clean["experiment_id"]
        self.require_participant(pid)
        with self._connection(write=True) as conn:
            current = conn.execute(self._experiment_select().where(
                EXPERIMENTS.c.experiment_id == xid)).mappings().first()
            if current is not None:
                if current["participant_id"] != pid:
                    raise ExperimentError(f"experiment id '{xid}' is taken by another participant; "
                                          "choose another id")
                old_sched = _schedule_frame(conn.execute(self._schedule_select(current["plan_version"])).all())
                same = all(_same(current[c], clean[c]) for c in EXPERIMENT_COLUMNS) and \
                    old_sched.reset_index(drop=True).equals(sched.reset_index(drop=True))
                if same:
                    return {"experiments": 0, "experiment_schedule": 0}
                if _as_date(current["start_date"]) <= today:
                    raise ExperimentError(
                        f"experiment '{xid}' started on {_as_date(current['start_date'])}: its plan and "
                        "schedule can no longer change (a new plan is a new experiment: give it a new id)")
            first = self._first_outcome_day(conn, clean)
            if first is None:
                raise ExperimentError(
                    f"participant '{pid}' has no {_outcome_words(clean)} yet: an experiment measures "
                    "an outcome the person already records (rate it in a few check-ins first)")
            start = clean["start_date"]
            if start < today:
                after = self._first_outcome_day(conn, clean, since=start)
                if after is not None:
                    raise ExperimentError(
                        f"the start day {start} is in the past and {_outcome_words(clean)} already "
                        f"has values from {after} on: a schedule drawn after the results are known "
                        "is not randomised. Start today or later.")
            now = stamp()
            result = conn.execute(EXPERIMENTS.insert().values(**clean, recorded_at=now))
            plan_version = result.inserted_primary_key[0]
            rows = [{"plan_version": plan_version, "experiment_id": xid, "participant_id": pid,
                     "date": d.date(), "period": int(p), "condition": c, "washout": bool(w),
                     "recorded_at": now}
                    for d, p, c, w in zip(sched["date"], sched["period"], sched["condition"], sched["washout"])]
            conn.execute(EXPERIMENT_SCHEDULE.insert(), rows)
        return {"experiments": 1, "experiment_schedule": len(rows)}

    @staticmethod
    def _experiment_select():
        t = EXPERIMENTS
        newest = sa.select(sa.func.max(t.c.version_id).label("v")).group_by(t.c.experiment_id).subquery()
        return sa.select(*[t.c[c] for c in EXPERIMENT_COLUMNS], t.c.version_id.label("plan_version"),
                         t.c.recorded_at).join(newest, t.c.version_id == newest.c.v)

    @staticmethod
    def _schedule_select(plan_version):
        t = EXPERIMENT_SCHEDULE
        return sa.select(t.c.date, t.c.period, t.c.condition, t.c.washout).where(
            t.c.plan_version == plan_version).order_by(t.c.date)

    def _first_outcome_day(self, conn, plan, *, since=None):
        """The first day on (or after ``since``) which the plan's outcome has a value, or None."""
        kind, ref, pid = plan["outcome_kind"], plan["outcome_ref"], plan["participant_id"]
        if kind == "element":
            t = SQL_TABLES["ratings"]
            conds = [t.c.element == ref, t.c.kind == "current"]
        elif kind in ("goal_progress", "goal_actions"):
            gt = SQL_TABLES["goals"]
            owner = conn.execute(sa.select(gt.c.participant_id).where(gt.c.goal_id == ref).order_by(
                gt.c.version_id.desc()).limit(1)).scalar()
            if owner != pid:
                raise ExperimentError(f"participant '{pid}' has no goal '{ref}'"
                                      + ("" if owner is None else " (it belongs to someone else)"))
            t = SQL_TABLES["progress" if kind == "goal_progress" else "actions"]
            conds = [t.c.goal_id == ref]
        else:
            t = SQL_TABLES["responses"]
            conds = [t.c.instrument == "note", t.c.item == ref]
        conds.append(t.c.participant_id == pid)
        if since is not None:
            conds.append(t.c.date >= since)
        found = conn.execute(sa.select(sa.func.min(t.c.date)).where(*conds)).scalar()
        return None if found is None else _as_date(found)

    def experiments(self, *, participant=None) -> pd.DataFrame:
        """The self-experiments (latest plan of each).

        Returns
        -------
        DataFrame
            experiment_id, participant_id, title, condition_a, condition_b, outcome_kind,
            outcome_ref, outcome (as typed: ``element:focused``, ``goal:G1:progress``...),
            design, period_days, periods, washout_days, start_date, end_date (the schedule's
            last day), seed, min_effect, plan_version, recorded_at; sorted by participant
            and start day.
        """
        params = {}
        if participant is not None:
            params["ids"] = [participant] if isinstance(participant, str) else list(participant)
        query = _experiments_query(by_participant=participant is not None)
        s = EXPERIMENT_SCHEDULE
        with self._connection() as conn:
            rows = conn.execute(query, params).mappings().all()
            if not rows:  # most people have none: the frame of none is built once
                return _no_experiments().copy()
            ends = dict(conn.execute(sa.select(s.c.plan_version, sa.func.max(s.c.date)).where(
                s.c.plan_version.in_([r["plan_version"] for r in rows])).group_by(s.c.plan_version)).all())
        return _experiments_frame(rows, ends)

    def experiment(self, experiment_id: str, *, participant: str | None = None) -> dict:
        """One experiment's latest plan as a dict (the columns of :meth:`experiments`).

        With ``participant``, an experiment of someone else is as unknown as a missing one.

        Raises
        ------
        ExperimentError
            Naming the experiments the participant (or the store) has.
        """
        found = self.experiments(participant=participant)
        match = found.loc[found["experiment_id"] == experiment_id]
        if match.empty:
            known = found["experiment_id"].tolist()
            hint = f"; known: {', '.join(known[:10])}" if known else \
                "; none planned yet (`mastery experiment plan`)"
            who = f" of participant '{participant}'" if participant else ""
            raise ExperimentError(f"unknown experiment '{experiment_id}'{who} in {self.url}{hint}")
        return match.iloc[0].to_dict()

    def experiment_schedule(self, experiment_id: str, *, participant: str | None = None) -> pd.DataFrame:
        """The schedule kept with the experiment's latest plan.

        Returns
        -------
        DataFrame
            date (datetime64), period (int64), condition (``"A"``/``"B"``), washout (bool),
            design (the plan's), one row per day, sorted by date: the columns
            :func:`~mastery_analysis.analysis.experiments.plan_experiment` returns.
        """
        plan = self.experiment(experiment_id, participant=participant)
        with self._connection() as conn:
            frame = _schedule_frame(conn.execute(self._schedule_select(int(plan["plan_version"]))).all())
        frame["design"] = plan["design"]
        return frame

    def record_adherence(self, participant_id: str, experiment_id: str, day, followed: bool, *,
                         source: str = "manual") -> int:
        """Record whether the participant followed the day's condition (a new version if the
        day has one already). The day must be in the experiment's schedule and not after
        tomorrow (UTC). Returns rows written (1)."""
        with self._connection(write=True) as conn:
            return self._insert_adherence(conn, participant_id, {experiment_id: followed}, day,
                                          source=source)

    def write_adherence(self, participant_id: str, experiment_id: str, frame: pd.DataFrame, *,
                        source: str = "import") -> int:
        """Record many days of one experiment's adherence (``date`` and ``followed`` columns)
        in one transaction, all or none: each day must be in the schedule and not after
        tomorrow (UTC), each ``followed`` true or false. Returns rows written."""
        if not isinstance(frame, pd.DataFrame) or not {"date", "followed"} <= set(frame.columns):
            raise ValidationError("adherence", [{"row": None, "column": None, "value": type(frame).__name__,
                                                 "expected": "a frame with columns date and followed"}])
        if frame.empty:
            return 0
        with self._connection(write=True) as conn:
            return sum(self._insert_adherence(conn, participant_id, {experiment_id: flag}, day, source=source)
                       for day, flag in zip(frame["date"], frame["followed"]))

    def _insert_adherence(self, conn, participant_id, followed: Mapping, day, *, source) -> int:
        when = as_day(day, what="day")
        if when is None or when > utc_now().date() + dt.timedelta(days=1):
            raise ValidationError("day", [{"row": None, "column": None, "value": str(when),
                                           "expected": "today or an earlier day (not the future)"}],
                                  noun="")
        rows = []
        for xid, flag in followed.items():
            if not isinstance(flag, (bool, np.bool_)):
                raise ValidationError("followed", [{"row": None, "column": None, "value": flag,
                                                    "expected": "true or false"}], noun="")
            plan = conn.execute(self._experiment_select().where(
                EXPERIMENTS.c.experiment_id == xid)).mappings().first()
            if plan is None or plan["participant_id"] != participant_id:
                raise ExperimentError(f"participant '{participant_id}' has no experiment '{xid}'")
            s = EXPERIMENT_SCHEDULE
            on = conn.execute(sa.select(s.c.condition).where(
                s.c.plan_version == plan["plan_version"], s.c.date == when)).first()
            if on is None:
                raise ExperimentError(f"{when} is not a day of experiment '{xid}' (it runs from "
                                      f"{_as_date(plan['start_date'])})")
            rows.append({"participant_id": participant_id, "experiment_id": xid, "date": when,
                         "followed": bool(flag), "source": str(source)[:100], "recorded_at": stamp()})
        if rows:
            conn.execute(ADHERENCE.insert(), rows)
        return len(rows)

    def adherence(self, *, participant=None, experiment: str | None = None) -> pd.DataFrame:
        """Whether each experiment day's condition was followed (latest answer per day).

        Returns
        -------
        DataFrame
            participant_id, experiment_id, date (datetime64), followed (bool), source,
            recorded_at (UTC); sorted by experiment and date.
        """
        t = ADHERENCE
        conds = []
        if participant is not None:
            ids = [participant] if isinstance(participant, str) else list(participant)
            conds.append(t.c.participant_id.in_(ids))
        if experiment is not None:
            conds.append(t.c.experiment_id == experiment)
        newest = sa.select(sa.func.max(t.c.version_id).label("v")).where(*conds).group_by(
            t.c.experiment_id, t.c.date).subquery()
        query = sa.select(t.c.participant_id, t.c.experiment_id, t.c.date, t.c.followed, t.c.source,
                          t.c.recorded_at).join(newest, t.c.version_id == newest.c.v).order_by(
            t.c.experiment_id, t.c.date)
        with self._connection() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame.from_records(rows, columns=list(t.c.keys())[1:])
        frame["date"] = pd.to_datetime(frame["date"])
        frame["followed"] = frame["followed"].astype(bool)
        frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True, format="ISO8601")
        return frame

    def experiment_rows(self, table: str, *, participant=None) -> pd.DataFrame:
        """Every stored version of an experiment table (``experiments``,
        ``experiment_schedule`` or ``adherence``), with ``version_id``: the history."""
        t = {"experiments": EXPERIMENTS, "experiment_schedule": EXPERIMENT_SCHEDULE,
             "adherence": ADHERENCE}.get(table)
        if t is None:
            raise StoreError(f"unknown table '{table}'; experiment tables are {', '.join(EXPERIMENT_TABLES)}")
        query = sa.select(t).order_by(t.c.version_id)
        if participant is not None:
            query = query.where(t.c.participant_id == participant)
        with self._connection() as conn:
            return pd.DataFrame.from_records(conn.execute(query).all(), columns=list(t.c.keys()))

    def experiment_tables(self, *, history: bool = False) -> dict[str, pd.DataFrame]:
        """The three experiment tables as ``mastery export`` writes them.

        Returns
        -------
        dict of table -> DataFrame
            ``experiments``: the columns of :data:`~mastery_analysis.schema.EXPERIMENT_COLUMNS`
            and recorded_at, the latest plan of each experiment; ``experiment_schedule``:
            experiment_id, participant_id, date, period, condition, washout, recorded_at, the
            latest plan's days; ``adherence``: participant_id, experiment_id, date, followed,
            source, recorded_at, the latest answer per day. With ``history`` every stored row,
            with ``version_id`` (and the schedule's ``plan_version``) first.
        """
        if history:
            out = {t: self.experiment_rows(t) for t in EXPERIMENT_TABLES}
        else:
            plans = self.experiments()
            sched = self.experiment_rows("experiment_schedule")
            sched = sched.loc[sched["plan_version"].isin(plans["plan_version"])].drop(
                columns=["version_id", "plan_version"])
            out = {"experiments": plans[list(EXPERIMENT_COLUMNS) + ["recorded_at"]],
                   "experiment_schedule": sched.sort_values(["experiment_id", "date"], kind="stable"),
                   "adherence": self.adherence()}
        for frame in out.values():
            for col in ("date", "start_date"):
                if col in frame:
                    frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
        return {t: f.reset_index(drop=True) for t, f in out.items()}

    def import_experiments(self, frames: Mapping[str, pd.DataFrame], *, dry_run: bool = False,
                           where: str = "the import") -> dict[str, int]:
        """Keep exported experiments (what :meth:`experiment_tables` gives) in this store.

        Each plan (the latest version per experiment id) and its schedule go through
        :meth:`save_experiment`, as planned on its start day, and its adherence through
        the same checks as :meth:`write_adherence`; an experiment already here with the same
        plan and schedule adds nothing, and only adherence days that are new or changed are
        written. Everything is checked (:func:`~mastery_analysis.schema.check_experiment_plan`,
        :func:`~mastery_analysis.schema.check_schedule`, an id taken by someone else or held
        here with another plan) before anything is written; each experiment is then written
        in one transaction. ``mastery import tidy`` runs these checks (a dry run) before it
        writes the tidy rows, and keeps the experiments after them.

        Returns
        -------
        dict of table -> rows written (in a dry run: plans, schedule days and adherence
        answers of experiments not in the store yet, and nothing is written).

        Raises
        ------
        ValidationError, ExperimentError
            Naming ``where`` and the experiment; see :meth:`save_experiment`.
        """
        work = check_experiment_imports(frames, framework=self.framework, where=where)
        counts = dict.fromkeys(EXPERIMENT_TABLES, 0)
        here = {r["experiment_id"]: r for r in self.experiments().to_dict("records")}
        known = set(here)
        for plan, _, _ in work:  # what save_experiment would refuse, refused before any write
            old = here.get(plan["experiment_id"])
            if old is None:
                continue
            if old["participant_id"] != plan["participant_id"]:
                raise ExperimentError(f"{where}: experiment id '{plan['experiment_id']}' is taken by "
                                      "another participant in this store")
            if not all(_same(old[c].date() if c == "start_date" else old[c], plan[c])
                       or (c == "min_effect" and _is_missing(old[c]) and plan[c] is None)
                       for c in EXPERIMENT_COLUMNS):
                raise ExperimentError(f"{where}: experiment '{plan['experiment_id']}' is in this store "
                                      "with another plan; a plan cannot change once it has started")
        for plan, schedule, answers in work:
            if dry_run:
                if plan["experiment_id"] not in known:
                    counts["experiments"] += 1
                    counts["experiment_schedule"] += len(schedule)
                    counts["adherence"] += len(answers)
                continue
            for table, n in self.save_experiment(plan, schedule, today=plan["start_date"]).items():
                counts[table] += n
            have = self.adherence(experiment=plan["experiment_id"])
            old = {as_day(d): bool(f) for d, f in zip(have["date"], have["followed"])}
            new = answers.loc[[old.get(as_day(d, what="adherence date")) is not bool(f)
                               for d, f in zip(answers["date"], answers["followed"])]]
            counts["adherence"] += self.write_adherence(plan["participant_id"], plan["experiment_id"],
                                                        new, source="import")
        return counts

    # ----------------------------------------------------------------- workshop: cohorts and people
    def add_cohort(self, name: str, *, framework: Framework | str | None = None) -> None:
        """Add a cohort with its framework (default: the store's); an existing name is an error."""
        _check_id(name, "cohort name")
        fw = load_framework(framework) if framework is not None else self.framework
        with self._connection(write=True) as conn:
            if conn.execute(sa.select(COHORTS.c.name).where(COHORTS.c.name == name)).first() is not None:
                raise StoreError(f"cohort '{name}' already exists in {self.url}")
            conn.execute(COHORTS.insert().values(name=name, framework=_framework_ref(fw),
                                                 open_phase=None, created_at=stamp()))

    def cohorts(self) -> pd.DataFrame:
        """The cohorts.

        Returns
        -------
        DataFrame
            name, framework (a shipped framework's name or a YAML path), open_phase
            (``baseline``, ``mid``, ``post`` or missing), created_at (UTC), members (number of
            participants), instruments (text: the questionnaires chosen per phase, like
            ``baseline: pearlin_mastery, career_mastery_q``; empty when the framework's own
            questionnaire is used throughout), sorted by name.
        """
        members = self._latest_select("participants", ["participant_id", "cohort"]).subquery()
        counts = sa.select(members.c.cohort, sa.func.count().label("members")).group_by(members.c.cohort).subquery()
        query = sa.select(COHORTS.c.name, COHORTS.c.framework, COHORTS.c.open_phase, COHORTS.c.created_at,
                          sa.func.coalesce(counts.c.members, 0).label("members"), COHORTS.c.instruments).outerjoin(
            counts, counts.c.cohort == COHORTS.c.name).order_by(COHORTS.c.name)
        with self._connection() as conn:
            rows = conn.execute(query).mappings().all()
        frame = pd.DataFrame.from_records(rows, columns=["name", "framework", "open_phase", "created_at", "members",
                                                         "instruments"])
        frame["instruments"] = [
            "; ".join(f"{phase}: {', '.join(names)}" for phase, names in sorted(json.loads(raw).items()))
            if raw else "" for raw in frame["instruments"]]
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
        frame["members"] = frame["members"].astype("int64")
        frame["open_phase"] = frame["open_phase"].astype(object)
        return frame

    def cohort(self, name: str) -> dict:
        """One cohort as a dict (name, framework, open_phase, created_at); unknown is an error."""
        with self._connection() as conn:
            row = conn.execute(sa.select(COHORTS).where(COHORTS.c.name == name)).mappings().first()
        if row is None:
            self.require_cohort(name)
        return dict(row)

    def require_cohort(self, name: str) -> None:
        """Raise :class:`UnknownCohortError` (naming the known cohorts) unless ``name`` exists."""
        with self._connection() as conn:
            names = [r[0] for r in conn.execute(sa.select(COHORTS.c.name).order_by(COHORTS.c.name))]
        if name not in names:
            hint = (f"; known cohorts: {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}"
                    if names else "; the store has no cohorts yet")
            raise UnknownCohortError(f"unknown cohort '{name}' in {self.url}{hint} "
                                     f"(add it with `mastery cohort add {name}`)")

    def cohort_framework(self, name: str | None) -> Framework:
        """The framework a cohort's participants are checked against (the store's for None)."""
        if name is None:
            return self.framework
        ref = self.cohort(name)["framework"]
        if ref == _framework_ref(self.framework):
            return self.framework
        return load_framework(ref)

    def set_open_phase(self, name: str, phase: str | None, *, instruments=None) -> None:
        """Open the questionnaire ``phase`` (baseline, mid, post) for a cohort, or close it (None).

        Parameters
        ----------
        name : str
            The cohort.
        phase : str or None
            ``baseline``, ``mid``, ``post``, or None (or ``"none"``) to close the questionnaire.
        instruments : list of str, optional
            The questionnaires the cohort answers in this phase, by name (shipped instruments
            such as ``pearlin_mastery``, or the framework's own, ``career_mastery_q``), in the
            order they are asked. Remembered per phase; not given keeps the phase's earlier
            choice (by default the framework's own questionnaire).

        Raises
        ------
        ValidationError, FrameworkError, UnknownCohortError
            A phase not in the list, an unknown instrument, instruments given when closing.
        """
        if phase == "none":
            phase = None
        if phase is not None and phase not in PHASES:
            raise ValidationError("phase", [{"row": None, "column": None, "value": phase,
                                             "expected": "baseline, mid, post or none"}], noun="")
        self.require_cohort(name)
        chosen = None
        if instruments:
            if phase is None:
                raise StoreError(f"cohort '{name}': instruments are chosen for a phase being opened; "
                                 "closing the questionnaire takes none")
            chosen = [load_instrument(i).instrument for i in instruments]
            twice = sorted({i for i in chosen if chosen.count(i) > 1})
            if twice:
                raise StoreError(f"cohort '{name}': instrument {', '.join(twice)} is named twice")
            ids = [it.id for i in chosen for it in load_instrument(i).items]
            clash = sorted({i for i in ids if ids.count(i) > 1})
            if clash:
                raise StoreError(f"cohort '{name}': the instruments {', '.join(chosen)} share item ids "
                                 f"({', '.join(clash[:5])}), so their answers could not be told apart")
        with self._connection(write=True) as conn:
            values = {"open_phase": phase}
            if chosen is not None:
                raw = conn.execute(sa.select(COHORTS.c.instruments).where(COHORTS.c.name == name)).scalar()
                per_phase = json.loads(raw) if raw else {}
                per_phase[phase] = chosen
                values["instruments"] = json.dumps(per_phase, sort_keys=True)
            conn.execute(sa.update(COHORTS).where(COHORTS.c.name == name).values(**values))

    def cohort_instruments(self, name: str, phase: str | None = None) -> list[str]:
        """The questionnaires (instrument names) a cohort answers in ``phase``, in order.

        ``phase`` None means the open phase. A phase with no choice recorded uses the cohort
        framework's own questionnaire; an empty list means there is nothing to answer (no
        phase open, or a framework without a questionnaire and no instrument chosen).
        """
        row = self.cohort(name)
        phase = row["open_phase"] if phase is None else phase
        if phase is None:
            return []
        per_phase = json.loads(row["instruments"]) if row.get("instruments") else {}
        if per_phase.get(phase):
            return list(per_phase[phase])
        q = self.cohort_framework(name).questionnaire
        return [q.instrument] if q is not None else []

    def add_participants(self, frame: pd.DataFrame, *, cohort: str, where: str | None = None) -> int:
        """Add several new participants to one cohort, all or none.

        ``frame`` has ``participant_id`` and optionally ``name``, ``joined_on``,
        ``consent_share`` and ``email`` (kept apart, in ``contacts``: see :meth:`set_email`).
        Ids already in the store, ids given twice, an address that is not one and an unknown
        cohort are errors, and then nobody is added. Returns the number added.
        """
        self.require_cohort(cohort)
        if not isinstance(frame, pd.DataFrame):
            raise ValidationError("participants", [{"row": None, "column": None, "value": type(frame).__name__,
                                                    "expected": "a pandas DataFrame"}], where=where)
        addresses, bad = {}, []
        if "email" in frame:
            for label, pid, value in zip(frame.index, frame["participant_id"], frame["email"]):
                try:
                    address = as_email(value)
                except ValidationError:
                    bad.append({"row": label, "column": "email", "value": value,
                                "expected": "an e-mail address like name@example.org, or nothing"})
                    continue
                if address is not None:
                    addresses[pid] = address
        if bad:
            raise ValidationError("participants", bad, where=where)
        rows = frame.drop(columns=["email"], errors="ignore").copy()
        rows["cohort"] = cohort
        if "joined_on" not in rows:
            rows["joined_on"] = dt.date.today()
        clean = validate("participants", rows, framework=self.framework, where=where)
        t = SQL_TABLES["participants"]
        with self._connection(write=True) as conn:
            taken = {r[0] for r in conn.execute(sa.select(t.c.participant_id).where(
                t.c.participant_id.in_(sorted(set(clean["participant_id"])))).distinct())}
            failures = [{"row": label, "column": "participant_id", "value": pid,
                         "expected": "a new participant id (this one is already in the store)"}
                        for label, pid in clean["participant_id"].items() if pid in taken]
            if failures:
                raise ValidationError("participants", failures, where=where)
            n = self._insert(conn, "participants", clean)
            for pid, address in addresses.items():
                self._put_contact(conn, pid, email=address)
            return n

    def set_consent(self, participant_id: str, share: bool) -> None:
        """Record whether a participant shares their own rows in the cohort views (a new version
        of their participants row; the earlier one stays in the history)."""
        if not isinstance(share, bool):
            raise ValidationError("consent_share", [{"row": None, "column": None, "value": share,
                                                     "expected": "true or false"}], noun="")
        t = SQL_TABLES["participants"]
        with self._connection(write=True) as conn:  # read and append under one lock: no lost update
            latest = self._latest_select("participants", list(TABLES["participants"].columns)).where(
                t.c.participant_id == participant_id)
            row = conn.execute(latest).mappings().first()
            if row is None:
                raise UnknownParticipantError(f"unknown participant '{participant_id}' in {self.url}")
            rec = dict(row)
            rec["consent_share"] = share
            self._insert(conn, "participants", validate("participants", pd.DataFrame([rec]),
                                                        framework=self.framework))

    # ----------------------------------------------------------------- messages: contacts, what was sent
    def set_email(self, participant_id: str, email: str | None) -> None:
        """Set (or with None or blank, remove) a participant's e-mail address.

        The address lives in ``contacts``, a state table updated in place: it serves the
        coach's invitations and nudges alone (:mod:`mastery_analysis.messaging`) and never
        appears in a data table, an export, a report or a cohort view.

        Raises
        ------
        AddressError
            For a value that is not one address; nothing is written.
        UnknownParticipantError
        """
        address = as_email(email, what=f"email of {participant_id}")
        with self._connection(write=True) as conn:
            self._require_participant_in(conn, participant_id)
            self._put_contact(conn, participant_id, email=address)

    def set_opt_out(self, participant_id: str, opted_out: bool) -> None:
        """Record that a participant wants no more e-mail (True) or wants it again (False).
        An opted-out person is never mailed, whatever a coach asks."""
        if not isinstance(opted_out, bool):
            raise ValidationError("opt-out", [{"row": None, "column": None, "value": repr(opted_out),
                                               "expected": "true or false"}], noun="")
        with self._connection(write=True) as conn:
            self._require_participant_in(conn, participant_id)
            self._put_contact(conn, participant_id, opted_out=opted_out)

    def contacts(self, *, participant=None, cohort=None) -> pd.DataFrame:
        """E-mail addresses and opt-outs, for the coach's messages only.

        Returns
        -------
        DataFrame
            participant_id, email (missing for none), opted_out (bool), opted_out_at (UTC),
            one row per participant who has a contacts row, sorted by participant_id.
        """
        c = CONTACTS
        query = sa.select(c.c.participant_id, c.c.email, c.c.opted_out_at).order_by(c.c.participant_id)
        if participant is not None:
            query = query.where(c.c.participant_id.in_([participant] if isinstance(participant, str)
                                                       else list(participant)))
        if cohort is not None:
            members = self._latest_select("participants", ["participant_id", "cohort"]).subquery()
            query = query.where(c.c.participant_id.in_(
                sa.select(members.c.participant_id).where(members.c.cohort == cohort)))
        with self._connection() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame.from_records(rows, columns=["participant_id", "email", "opted_out_at"])
        frame["email"] = frame["email"].astype(object)
        frame["opted_out_at"] = pd.to_datetime(frame["opted_out_at"], utc=True, format="ISO8601")
        frame.insert(2, "opted_out", frame["opted_out_at"].notna())
        return frame

    def claim_message(self, participant_id: str, *, kind: str, day, cohort: str | None = None,
                      again: bool = False) -> int | None:
        """Claim the sending of one message: a ``sending`` row, unless this person was already
        sent (or is being sent) a message of this ``kind`` on ``day`` (then None; with
        ``again``, claimed anyway) or has opted out (None). Decided under the write lock, so
        two runs at once cannot both send. Returns the message id for
        :meth:`finish_message`."""
        day_text = as_day(day, what="day").isoformat()
        m, c = MESSAGES, CONTACTS
        with self._connection(write=True) as conn:
            if conn.execute(sa.select(c.c.participant_id).where(
                    c.c.participant_id == participant_id, c.c.opted_out_at.is_not(None))).first():
                return None
            if not again and conn.execute(sa.select(m.c.message_id).where(
                    m.c.participant_id == participant_id, m.c.kind == kind, m.c.day == day_text,
                    m.c.outcome.in_(("sending", "sent"))).limit(1)).first() is not None:
                return None
            return conn.execute(m.insert().values(
                participant_id=participant_id, cohort=cohort, kind=kind, day=day_text, at=stamp(),
                outcome="sending", detail=None).returning(m.c.message_id)).scalar_one()

    def finish_message(self, message_id: int, outcome: str, detail: str | None = None) -> None:
        """Record how a claimed message went (``sent``, ``refused`` or ``failed``) and when."""
        with self._connection(write=True) as conn:
            conn.execute(sa.update(MESSAGES).where(MESSAGES.c.message_id == message_id).values(
                outcome=outcome, at=stamp(), detail=None if detail is None else str(detail)[:300]))

    def messages(self, *, participant=None, cohort=None, kind=None) -> pd.DataFrame:
        """What was sent to whom (never a code or a text).

        Returns
        -------
        DataFrame
            message_id, participant_id, cohort, kind (``invite``, ``nudge``), day (the day
            the run counted as today), at (UTC, when the outcome was recorded), outcome
            (``sending``, ``sent``, ``refused``, ``failed``), detail (the server's reply for
            a refusal), oldest first.
        """
        m = MESSAGES
        query = sa.select(m).order_by(m.c.message_id)
        if participant is not None:
            query = query.where(m.c.participant_id.in_([participant] if isinstance(participant, str)
                                                       else list(participant)))
        if cohort is not None:
            query = query.where(m.c.cohort == cohort)
        if kind is not None:
            query = query.where(m.c.kind == kind)
        with self._connection() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame.from_records(rows, columns=[col.name for col in m.columns])
        frame["message_id"] = frame["message_id"].astype("int64")
        frame["day"] = pd.to_datetime(frame["day"]).astype("datetime64[ns]")
        frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
        return frame

    def _require_participant_in(self, conn, participant_id) -> None:
        t = SQL_TABLES["participants"]
        if conn.execute(sa.select(t.c.participant_id).where(
                t.c.participant_id == participant_id).limit(1)).first() is None:
            raise UnknownParticipantError(f"unknown participant '{participant_id}' in {self.url}")

    _KEEP = object()

    def _put_contact(self, conn, participant_id, *, email=_KEEP, opted_out=_KEEP) -> None:
        """Insert or update a contacts row inside the caller's write transaction."""
        c = CONTACTS
        now = stamp()
        values = {"updated_at": now}
        if email is not Store._KEEP:
            values["email"] = email
        if opted_out is not Store._KEEP:
            values["opted_out_at"] = now if opted_out else None
        have = conn.execute(sa.select(c.c.opted_out_at).where(c.c.participant_id == participant_id)).first()
        if have is None:
            conn.execute(c.insert().values(participant_id=participant_id, **{
                "email": None, "opted_out_at": None, **values}))
        else:
            if opted_out is True and have[0] is not None:
                values.pop("opted_out_at")  # keep the first opt-out's time
            conn.execute(sa.update(c).where(c.c.participant_id == participant_id).values(**values))

    def check_integrity(self) -> list[str]:
        """Problems found in the store: the database's own check (SQLite ``integrity_check``
        and ``foreign_key_check``) and the references between tables (every row's participant
        exists, the experiment tables' included; every action and progress row names a goal of
        that participant). Empty when the store is sound."""
        problems = []
        with self._connection() as conn:
            if self._sqlite:
                result = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
                if result != ["ok"]:
                    problems += [f"integrity_check: {r}" for r in result]
                problems += [f"foreign_key_check: {tuple(r)}" for r in conn.exec_driver_sql("PRAGMA foreign_key_check")]
            pt = SQL_TABLES["participants"]
            known = sa.select(pt.c.participant_id)
            for name in DATA_TABLES[1:]:
                t = SQL_TABLES[name]
                n = conn.execute(sa.select(sa.func.count()).select_from(t).where(
                    t.c.participant_id.not_in(known))).scalar()
                if n:
                    problems.append(f"{name}: {n} rows of participants not in the store")
            gt = SQL_TABLES["goals"]
            for name in ("actions", "progress"):
                t = SQL_TABLES[name]
                n = conn.execute(sa.select(sa.func.count()).select_from(t).where(~sa.exists().where(
                    gt.c.goal_id == t.c.goal_id, gt.c.participant_id == t.c.participant_id))).scalar()
                if n:
                    problems.append(f"{name}: {n} rows naming a goal their participant does not own")
            for t in (EXPERIMENTS, EXPERIMENT_SCHEDULE, ADHERENCE):
                n = conn.execute(sa.select(sa.func.count()).select_from(t).where(
                    t.c.participant_id.not_in(known))).scalar()
                if n:
                    problems.append(f"{t.name}: {n} rows of participants not in the store")
            n = conn.execute(sa.select(sa.func.count()).select_from(ACCESS_CODES).where(
                ACCESS_CODES.c.participant_id.is_not(None), ACCESS_CODES.c.participant_id.not_in(known))).scalar()
            if n:
                problems.append(f"access_codes: {n} codes of participants not in the store")
            for t in (CONTACTS, MESSAGES):
                n = conn.execute(sa.select(sa.func.count()).select_from(t).where(
                    t.c.participant_id.not_in(known))).scalar()
                if n:
                    problems.append(f"{t.name}: {n} rows of participants not in the store")
        return problems

    def _register_cohorts(self, conn, participants: pd.DataFrame) -> None:
        names = sorted({c for c in participants["cohort"] if isinstance(c, str) and c})
        if not names:
            return
        have = {r[0] for r in conn.execute(sa.select(COHORTS.c.name).where(COHORTS.c.name.in_(names)))}
        new = [n for n in names if n not in have]
        if new:
            ref, now = _framework_ref(self.framework), stamp()
            conn.execute(COHORTS.insert(), [{"name": n, "framework": ref, "open_phase": None,
                                             "created_at": now} for n in new])

    # ----------------------------------------------------------------- internals
    def _check_references(self, conn, table, clean, where, *, found=None):
        """Every row's participant exists and every goal belongs to the row's participant.

        ``found`` carries what earlier tables of the same transaction found (participants and
        goal owners; only what exists, so rows written in between are still looked up).
        """
        if table == "participants":
            return
        found = {"participants": set(), "owners": {}} if found is None else found
        failures = []
        pt = SQL_TABLES["participants"]
        labels, pids = _column(clean, "participant_id")
        ids = sorted(set(pids))
        known = found["participants"]
        ask = [i for i in ids if i not in known]
        if ask:
            known.update(r[0] for r in conn.execute(sa.select(pt.c.participant_id).where(
                pt.c.participant_id.in_(ask)).distinct()))
        for label, who in zip(labels, pids):
            if who not in known:
                failures.append({"row": label, "column": "participant_id", "value": who,
                                 "expected": "a participant in the store (add them first)"})
        if table in ("actions", "progress", "goals"):
            _, goals = _column(clean, "goal_id")
            owners = found["owners"]
            ask = sorted({g for g in goals if g not in owners})
            if ask:
                gt = SQL_TABLES["goals"]
                # the newest version of the named goals only (not of every goal, then filtered)
                newest = sa.select(sa.func.max(gt.c.version_id)).where(
                    gt.c.goal_id.in_(ask)).group_by(gt.c.goal_id)
                owners.update(conn.execute(sa.select(gt.c.goal_id, gt.c.participant_id).where(
                    gt.c.version_id.in_(newest))).all())
        if table in ("actions", "progress"):
            for label, goal, who in zip(labels, goals, pids):
                owner = owners.get(goal)
                if owner is None:
                    failures.append({"row": label, "column": "goal_id", "value": goal,
                                     "expected": f"a goal of participant '{who}' (no such goal)"})
                elif owner != who:
                    failures.append({"row": label, "column": "goal_id", "value": goal,
                                     "expected": f"a goal of participant '{who}' (this goal belongs "
                                                 f"to '{owner}')"})
        if table == "goals":
            for label, goal, who in zip(labels, goals, pids):
                if owners.get(goal, who) != who:
                    failures.append({"row": label, "column": "goal_id", "value": goal,
                                     "expected": f"a goal id not used by another participant "
                                                 f"(it belongs to '{owners[goal]}')"})
        if failures:
            if all(f["column"] == "participant_id" for f in failures) and len(ids) == 1:
                raise UnknownParticipantError(
                    f"unknown participant '{ids[0]}' in {self.url}: add them before writing {table}")
            raise ValidationError(table, failures, where=where)

    def _insert(self, conn, table, clean, *, progress: bool = False) -> int:
        """Append validated rows (a frame from :func:`validate` or :class:`Rows`)."""
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
        columns = self._db_columns(clean)
        names = list(columns) + ["recorded_at"]
        rows = list(zip(*columns.values(), [now] * len(clean)))
        return self._insert_rows_in_steps(conn, table, names, rows, progress)

    def _db_columns(self, clean) -> dict[str, list]:
        """Each column (but ``recorded_at``, which the insert stamps) as the driver's values."""
        if isinstance(clean, Rows):
            if not self._sqlite:
                return clean.columns
            # SQLAlchemy's SQLite Date type stores ISO text; so do we
            return {c: [None if d is None else d.isoformat() for d in v] if c in TABLES[clean.table].dates
                    else v for c, v in clean.columns.items()}
        # column by column into plain Python values (None for missing): a row-by-row
        # conversion was most of the time of a 100,000-row import
        columns = {}
        for col in clean.columns:
            if col == "recorded_at":
                continue
            s = clean[col]
            if pd.api.types.is_datetime64_any_dtype(s) and self._sqlite:
                # SQLAlchemy's SQLite Date type stores ISO text; so do we
                values = s.dt.strftime("%Y-%m-%d").astype(object).where(s.notna(), None).tolist()
            elif pd.api.types.is_datetime64_any_dtype(s):
                values = [None if d is None else d.date() for d in
                          s.astype(object).where(s.notna(), None)]
            elif pd.api.types.is_bool_dtype(s):
                values = s.astype(bool).tolist()
            elif pd.api.types.is_integer_dtype(s):
                values = s.astype("int64").tolist()
            elif pd.api.types.is_float_dtype(s):
                values = s.astype(object).where(s.notna(), None).tolist()
            else:
                values = s.astype(object).where(s.notna(), None).tolist()
            columns[col] = values
        return columns

    def _insert_rows_in_steps(self, conn, table, names, rows, progress):
        step = 20_000
        bar = None
        if progress and len(rows) > step:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(rows), desc=f"writing {table}", unit=" rows")
        try:
            for i in range(0, len(rows), step):
                self._insert_rows(conn, table, names, rows[i:i + step])
                if bar is not None:
                    bar.update(len(rows[i:i + step]))
        finally:
            if bar is not None:
                bar.close()
        return len(rows)

    def _insert_rows(self, conn, table, names, rows):
        """One executemany of plain tuples: SQLAlchemy's per-row parameter processing took
        most of a large import's time."""
        dialect = conn.dialect
        mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
        if mark is None:  # a driver with named parameters: the Core insert does the work
            conn.execute(SQL_TABLES[table].insert(), [dict(zip(names, r)) for r in rows])
            return
        q = dialect.identifier_preparer
        sql = (f"INSERT INTO {q.format_table(SQL_TABLES[table])} "
               f"({', '.join(q.quote(n) for n in names)}) VALUES ({', '.join([mark] * len(names))})")
        conn.exec_driver_sql(sql, rows)


def _as_date(value) -> dt.date:
    """A date column's value as the driver returns it (a date, or ISO text on SQLite)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(b, dt.date):
        return _as_date(a) == b
    return a == b


def _schedule_frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=["date", "period", "condition", "washout"])
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    frame["period"] = frame["period"].astype("int64")
    frame["condition"] = frame["condition"].astype(str)
    frame["washout"] = frame["washout"].astype(bool)
    return frame


def _outcome_words(plan) -> str:
    kind, ref = plan["outcome_kind"], plan["outcome_ref"]
    return {"element": f"ratings of '{ref}'", "goal_progress": f"progress of goal '{ref}'",
            "goal_actions": f"actions for goal '{ref}'", "note": f"note '{ref}' values"}[kind]


def _column(clean, name: str) -> tuple[list, list]:
    """Row labels and one column's values, of a validated frame or :class:`Rows`."""
    if isinstance(clean, Rows):
        return clean.labels, clean.columns[name]
    return list(clean.index), clean[name].tolist()


def _checked_together(tables, check, *, where, row_label):
    """``check(table)`` for each table; every table's failures raised as one error."""
    clean, errors = {}, []
    for t in tables:
        try:
            clean[t] = check(t)
        except ValidationError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise ValidationError(errors[0].table, errors[0].failures, where=where, label=row_label)
    if errors:  # one error for the whole write, naming each table's cells
        raise ValidationError(
            " and ".join(e.table for e in errors),
            [{**f, "column": f"{e.table}.{f['column']}" if f.get("column") else e.table}
             for e in errors for f in e.failures], where=where, label=row_label)
    return clean


class _RollBack(Exception):
    """Raised inside a dry run's transaction so that it is rolled back."""


def _framework_ref(fw: Framework) -> str:
    """What a new store records to find its framework again: a shipped name, else the YAML path."""
    source = Path(fw.source) if fw.source else None
    if source is None or source.parent == FRAMEWORK_DIR:
        return fw.name
    return str(source.resolve())


def _upgrade(conn, version: int, framework_ref: str | None) -> None:
    """Bring an older store to SCHEMA_VERSION inside the opening transaction.

    1 -> 2: the state tables were just created by ``create_all``; every cohort named in
    participants becomes a row of ``cohorts`` with the store's framework, so existing
    cohorts keep working with the commands that now check cohort names.
    2 -> 3: ``contacts`` and ``messages`` (e-mail invitations and nudges) start empty.
    3 -> 4: ``cohorts`` gains ``instruments`` (none chosen: the framework's questionnaire).
    4 -> 5: the self-experiment tables (``experiments``, ``experiment_schedule``, ``adherence``).
    """
    if version < 2:
        t = SQL_TABLES["participants"]
        names = sorted({r[0] for r in conn.execute(sa.select(t.c.cohort).where(t.c.cohort.is_not(None)).distinct())})
        have = {r[0] for r in conn.execute(sa.select(COHORTS.c.name))}
        now = stamp()
        rows = [{"name": n, "framework": framework_ref or DEFAULT_FRAMEWORK, "open_phase": None,
                 "created_at": now} for n in names if n not in have]
        if rows:
            conn.execute(COHORTS.insert(), rows)
    if version < 3:
        # invitations and nudges: `contacts` and `messages` are new, empty tables that
        # ``create_all`` has just made; no existing row changes
        pass
    if version < 4:  # validated instruments: the questionnaires a cohort uses per phase
        have = {c["name"] for c in sa.inspect(conn).get_columns("cohorts")}
        if "instruments" not in have:  # create_all above made it when cohorts was new
            conn.execute(sa.text("ALTER TABLE cohorts ADD COLUMN instruments TEXT"))
    if version < 5:
        # self-experiments: three new append-only tables (create_all made them already when
        # the store was opened; this keeps the step whole); older stores have no rows to move.
        for table in (EXPERIMENTS, EXPERIMENT_SCHEDULE, ADHERENCE):
            table.create(conn, checkfirst=True)
    conn.execute(sa.update(META).where(META.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))


def _check_id(value, what: str) -> None:
    if not isinstance(value, str) or not re.match(ID_PATTERN, value):
        raise ValidationError(what, [{"row": None, "column": None, "value": value,
                                      "expected": ID_EXPECTED}], noun="")


def check_experiment_imports(frames: Mapping[str, pd.DataFrame], *, framework=None,
                             where: str = "the import") -> list[tuple[dict, pd.DataFrame, pd.DataFrame]]:
    """Check exported experiment tables without writing: (plan, schedule, adherence) per
    experiment, the plan checked by :func:`~mastery_analysis.schema.check_experiment_plan`,
    the schedule by :func:`~mastery_analysis.schema.check_schedule`, the adherence's
    ``followed`` true or false and its days in the schedule. With ``version_id`` columns (an
    export with history) the latest plan, its schedule (``plan_version``) and the latest
    answer per day are taken.

    Raises
    ------
    ValidationError, ExperimentError
        Naming ``where``, the experiment and what is wrong.
    """
    plans = frames.get("experiments")
    sched = frames.get("experiment_schedule")
    answers = frames.get("adherence")
    if plans is None or not len(plans):
        if (sched is not None and len(sched)) or (answers is not None and len(answers)):
            raise ExperimentError(f"{where}: experiment_schedule or adherence rows without the "
                                  "experiments table they belong to")
        return []
    plans = _latest_version(plans, ["experiment_id"])
    sched = sched if sched is not None else pd.DataFrame(columns=["experiment_id", "date"])
    answers = _latest_version(answers, ["experiment_id", "date"]) if answers is not None else \
        pd.DataFrame(columns=["experiment_id", "date", "followed"])
    unknown = (set(sched["experiment_id"]) | set(answers["experiment_id"])) - set(plans["experiment_id"])
    if unknown:
        raise ExperimentError(f"{where}: rows of experiment{'s' if len(unknown) > 1 else ''} "
                              f"{', '.join(sorted(map(str, unknown)))} that the experiments table "
                              "does not have")
    out = []
    for raw in plans.to_dict("records"):
        plan = {c: (None if c == "min_effect" and _is_missing(raw.get(c)) else raw.get(c))
                for c in EXPERIMENT_COLUMNS}
        xid = plan["experiment_id"]
        plan = check_experiment_plan(plan, framework=framework)
        days = sched.loc[sched["experiment_id"] == xid]
        if "plan_version" in days and len(days):
            days = days.loc[days["plan_version"] == days["plan_version"].max()]
        schedule = check_schedule(days.reset_index(drop=True), plan)
        done = answers.loc[answers["experiment_id"] == xid, ["date", "followed"]].reset_index(drop=True)
        failures = []
        for i, (day, flag) in enumerate(zip(done["date"], done["followed"])):
            if not isinstance(flag, (bool, np.bool_)):
                failures.append({"row": i + 1, "column": "followed", "value": flag,
                                 "expected": "true or false"})
            elif pd.Timestamp(as_day(day, what="adherence date")) not in set(schedule["date"]):
                failures.append({"row": i + 1, "column": "date", "value": str(day),
                                 "expected": f"a day of experiment '{xid}'s schedule"})
        if failures:
            raise ValidationError("adherence", failures, where=f"{where}, experiment '{xid}'")
        out.append((plan, schedule, done))
    return out


def _latest_version(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    if "version_id" not in frame or not len(frame):
        return frame.reset_index(drop=True)
    return frame.sort_values("version_id", kind="stable").drop_duplicates(key, keep="last").reset_index(drop=True)


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _check_table(table):
    if table not in DATA_TABLES:
        raise StoreError(f"unknown table '{table}'; tables are {', '.join(DATA_TABLES)}")


def _experiments_frame(rows, ends: Mapping) -> pd.DataFrame:
    """The frame of :meth:`Store.experiments` from its query's rows and each plan's last day."""
    cols = list(EXPERIMENT_COLUMNS) + ["plan_version", "recorded_at"]
    frame = pd.DataFrame.from_records(rows, columns=cols)
    frame.insert(list(frame.columns).index("design"), "outcome",
                 [format_outcome(k, r) for k, r in zip(frame["outcome_kind"], frame["outcome_ref"])])
    frame.insert(list(frame.columns).index("seed"), "end_date",
                 pd.to_datetime(pd.Series([ends.get(v) for v in frame["plan_version"]], dtype=object)))
    frame["start_date"] = pd.to_datetime(frame["start_date"])
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True, format="ISO8601")
    for c in ("period_days", "periods", "washout_days", "seed", "plan_version"):
        frame[c] = frame[c].astype("int64")
    frame["min_effect"] = frame["min_effect"].astype("float64")
    return frame.sort_values(["participant_id", "start_date", "experiment_id"]).reset_index(drop=True)


@functools.cache
def _experiments_query(*, by_participant: bool) -> sa.Select:
    """The query of :meth:`Store.experiments` (``ids`` bound when ``by_participant``),
    built once: building it for every read cost about 0.1 ms."""
    query = Store._experiment_select()
    if by_participant:
        query = query.where(EXPERIMENTS.c.participant_id.in_(sa.bindparam("ids", expanding=True)))
    return query


@functools.cache
def _no_experiments() -> pd.DataFrame:
    """:func:`_experiments_frame` of no rows (its dtypes are those of no data), built once:
    about 2 ms that every sign-in of someone without experiments spent. Copy before use."""
    return _experiments_frame([], {})


@functools.cache
def _read_query(table: str, *, latest: bool, filters: tuple[str, ...]) -> sa.Select:
    """The query of :meth:`Store._read` for ``table`` with the named ``filters`` (``ids``,
    ``cohort``, ``start``, ``end``) as bound parameters, sorted as the store sorts.

    Built once for each table and set of filters: building the statement and its cache
    key again for every read cost about 0.2 ms, a fifth of a participant's small read.
    """
    t = SQL_TABLES[table]
    spec = TABLES[table]
    conds = []
    if "ids" in filters:
        conds.append(t.c.participant_id.in_(sa.bindparam("ids", expanding=True)))
    if "cohort" in filters:
        members = Store._latest_select("participants", ["participant_id", "cohort"]).subquery()
        conds.append(t.c.participant_id.in_(
            sa.select(members.c.participant_id).where(members.c.cohort == sa.bindparam("cohort"))))
    if "start" in filters:
        conds.append(t.c.date >= sa.bindparam("start"))
    if "end" in filters:
        conds.append(t.c.date <= sa.bindparam("end"))
    if latest:
        key = [t.c[k] for k in spec.key]
        newest = sa.select(sa.func.max(t.c.version_id).label("v")).where(*conds).group_by(*key).subquery()
        query = sa.select(*[t.c[c] for c in spec.columns]).join(newest, t.c.version_id == newest.c.v)
    else:
        query = sa.select(t.c.version_id, *[t.c[c] for c in spec.columns]).where(*conds)
    order = [t.c[k] for k in ("participant_id", "date", "goal_id", "element", "kind", "item")
             if k in spec.columns] + [t.c.version_id]
    return query.order_by(*order)


def _to_frame(table: str, rows, *, with_version: bool) -> pd.DataFrame:
    """``rows`` (tuples of version_id when ``with_version``, then the table's columns, in
    order) as a frame with the store's dtypes.

    Built a column at a time, each column converted once to its dtype: a participant's
    page makes a dozen small reads, and building a frame of every row and then replacing
    each column cost about 3.7 ms for 55 ratings (now about 0.5 ms). Time stamps are parsed
    without pandas' cache, which only ever cost time here (0.4 ms at 55 rows; 0.6 s more
    at a million rows with few distinct stamps).
    """
    types = dtypes(table)
    if not rows:
        frame = empty(table)
        if with_version:
            frame.insert(0, "version_id", pd.Series(dtype="int64"))
        return frame
    names = (["version_id"] if with_version else []) + list(types)
    values = dict(zip(names, map(list, zip(*rows))))
    out = {"version_id": _typed_column(values["version_id"], np.dtype("int64"))} if with_version else {}
    for col, dtype in types.items():
        v = values[col]
        if col == "recorded_at":
            out[col] = pd.to_datetime(v, utc=True, format="ISO8601", cache=False).astype(dtype).array
        elif str(dtype).startswith("datetime64"):  # days: datetime.date (or None) from the driver
            out[col] = pd.array(v, dtype=dtype)
        elif dtype == bool:
            out[col] = _typed_column(v, dtype, fill=False)
        elif isinstance(dtype, np.dtype):
            out[col] = _typed_column(v, dtype)
        else:  # text: pandas' string dtype
            out[col] = pd.array(v, dtype=dtype)
    return pd.DataFrame(out, copy=False)


def _typed_column(values: list, dtype, *, fill=None):
    """A numeric or flag column: numpy's own array when it already has ``dtype`` (whole
    numbers as int64, numbers with None as float64 with NaN, flags), else pandas' conversion,
    which raises as before on a missing whole number."""
    if fill is not None and None in values:
        values = [fill if v is None else v for v in values]
    arr = np.array(values, dtype=float) if dtype == np.float64 else np.array(values)
    if arr.dtype == dtype and arr.ndim == 1:
        return arr
    return pd.Series(values).astype(dtype).to_numpy()


def export_tables(store: Store, directory: str | os.PathLike, *, format: str = "csv",
                  tables: Iterable[str] | None = None, history: bool = False) -> list[Path]:
    """Write every table to ``directory`` as CSV, Parquet or one XLSX workbook; all or none.

    ``tables`` defaults to the tidy tables and the three experiment tables
    (:meth:`Store.experiment_tables`: a person's experiments, schedules and adherence).

    Returns the paths written (``<table>.csv``/``.parquet``, or ``mastery.xlsx`` with a sheet
    per table). CSV and XLSX text cells that a spreadsheet would run as a formula are
    neutralised, and ``mastery import tidy`` reads them back as they were. Files are first
    written to a temporary folder beside the target and moved into place only when all
    succeeded.
    """
    from .importers.tidy import write_tables  # the tidy layout is written where it is read

    if format not in ("csv", "parquet", "xlsx"):
        raise StoreError(f"unknown export format '{format}'; use csv, xlsx or parquet")
    tables = list(DATA_TABLES + EXPERIMENT_TABLES if tables is None else tables)
    for name in tables:
        if name not in EXPERIMENT_TABLES:
            _check_table(name)
    frames = {name: store.history(name) if history else store._read(name)
              for name in tables if name not in EXPERIMENT_TABLES}
    chosen = [t for t in EXPERIMENT_TABLES if t in tables]
    if chosen:
        experiments = store.experiment_tables(history=history)
        frames.update({t: experiments[t] for t in chosen})
    return write_tables(frames, directory, format=format)
