"""The append-only store over SQLAlchemy Core: SQLite by default, PostgreSQL for shared use.

Saving a day again adds a row; readers (``ratings()``, ``actions()``, ...) see the latest
row per key, and ``history(table)`` shows every version. Only ``forget(participant_id)``
deletes, and then it deletes everything of that person. Every write is one transaction and
is validated first, so a bad write leaves the store exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event

from . import __version__
from .errors import StoreError, StoreVersionError, UnknownParticipantError, ValidationError
from .framework import DEFAULT_FRAMEWORK, FRAMEWORK_DIR, Framework, load_framework
from .locations import STORE_ENV, store_location
from .resources import checkout_root
from .schema import TABLES, as_day, empty, validate

SCHEMA_VERSION = 1
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
    cur.execute("PRAGMA synchronous = NORMAL")
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
        try:
            with self._engine.begin() as conn:
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
                    ])
                elif int(stored) > SCHEMA_VERSION:
                    raise StoreVersionError(
                        f"the store at {url} has schema version {stored}, written by a newer "
                        f"mastery-analysis; this version ({__version__}) reads up to schema version "
                        f"{SCHEMA_VERSION}. Upgrade with `pip install -U mastery-analysis`."
                    )
                recorded_fw = conn.execute(sa.select(META.c.value).where(META.c.key == "framework")).scalar()
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open the store at {url}: {exc.orig}") from None
        except sa.exc.DatabaseError as exc:
            raise StoreError(f"{url} is not a mastery store: {exc.orig}") from None
        self.framework = chosen if chosen is not None else load_framework(recorded_fw)

    def __repr__(self):
        return f"Store({self.url!r})"

    def close(self):
        self._engine.dispose()
        if self._read_engine is not self._engine:
            self._read_engine.dispose()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextmanager
    def _connection(self, *, write: bool = False) -> Iterator[sa.Connection]:
        """A connection (a transaction when ``write``); a database failure is a StoreError."""
        try:
            if write:
                with self._engine.begin() as conn:
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
        t = SQL_TABLES[table]
        spec = TABLES[table]
        conds = []
        if participant is not None:
            ids = [participant] if isinstance(participant, str) else list(participant)
            conds.append(t.c.participant_id.in_(ids))
        if cohort is not None:
            members = self._latest_select("participants", ["participant_id", "cohort"]).subquery()
            conds.append(t.c.participant_id.in_(
                sa.select(members.c.participant_id).where(members.c.cohort == cohort)))
        date_col = "date" if "date" in spec.columns else None
        if date_col and start is not None:
            conds.append(t.c[date_col] >= as_day(start, what="start date"))
        if date_col and end is not None:
            conds.append(t.c[date_col] <= as_day(end, what="end date"))
        if latest:
            key = [t.c[k] for k in spec.key]
            newest = sa.select(sa.func.max(t.c.version_id).label("v")).where(*conds).group_by(*key).subquery()
            query = sa.select(*[t.c[c] for c in spec.columns]).join(newest, t.c.version_id == newest.c.v)
        else:
            query = sa.select(t.c.version_id, *[t.c[c] for c in spec.columns]).where(*conds)
        order = [t.c[k] for k in ("participant_id", "date", "goal_id", "element", "kind", "item")
                 if k in spec.columns] + [t.c.version_id]
        query = query.order_by(*order)
        with self._connection() as conn:
            rows = conn.execute(query).mappings().all()
        return _to_frame(table, rows, with_version=not latest)

    def _latest_select(self, table, columns):
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
        return goals if include_archived else goals.loc[~goals["archived"]].reset_index(drop=True)

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
    def write(self, table: str, frame: pd.DataFrame, *, where: str | None = None) -> int:
        """Validate ``frame`` and append it to ``table`` in one transaction.

        Returns the number of rows written. Raises :class:`ValidationError` (every bad row),
        or :class:`UnknownParticipantError`; in either case nothing is written.
        """
        _check_table(table)
        clean = validate(table, frame, framework=self.framework, where=where)
        if clean.empty:
            return 0
        with self._connection(write=True) as conn:
            self._check_references(conn, table, clean, where)
            return self._insert(conn, table, clean)

    def write_many(self, frames: Mapping[str, pd.DataFrame], *, where: str | None = None,
                   skip_unchanged: bool = False, row_label: str = "row",
                   progress: bool = False) -> dict[str, int]:
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
            the store keeps what the frame leaves empty (an import that knows less about a
            person never blanks what the store knows); only cells the frame fills can change.
            Decided inside the write transaction.
        row_label : str
            What the frames' index labels are called in error messages (``line`` for an
            importer's frames, which are indexed by file line).
        progress : bool
            Show a progress bar while inserting many rows.

        Returns
        -------
        dict of table -> rows written.
        """
        for t in frames:
            _check_table(t)
        order = [t for t in DATA_TABLES if t in frames]
        clean, errors = {}, []
        for t in order:
            try:
                clean[t] = validate(t, frames[t], framework=self.framework, where=where)
            except ValidationError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise ValidationError(errors[0].table, errors[0].failures, where=where, label=row_label)
        if errors:  # one error for the whole write, naming each table's cells
            raise ValidationError(
                " and ".join(e.table for e in errors),
                [{**f, "column": f"{e.table}.{f['column']}" if f.get("column") else e.table}
                 for e in errors for f in e.failures], where=where, label=row_label)
        given = None
        if skip_unchanged and "participants" in frames:  # which participant cells the frame fills
            raw = frames["participants"]
            given = pd.DataFrame({c: raw[c].notna() if c in raw else False
                                  for c in TABLES["participants"].columns}, index=raw.index)
        counts = {}
        with self._connection(write=True) as conn:
            for t in order:
                rows = clean[t]
                if skip_unchanged and not rows.empty:
                    rows = self._changed_rows(conn, t, rows, given)
                if not rows.empty:
                    try:
                        self._check_references(conn, t, rows, where)
                    except ValidationError as exc:
                        raise ValidationError(exc.table, exc.failures, where=where,
                                              label=row_label) from None
                    counts[t] = self._insert(conn, t, rows, progress=progress)
                else:
                    counts[t] = 0
        return counts

    def _changed_rows(self, conn, table, clean, given=None):
        """The rows of ``clean`` that differ from the current version of their key.

        Participants already stored are merged first: cells the import left empty (``given``
        False) take the stored value.
        """
        spec = TABLES[table]
        t = SQL_TABLES[table]
        key = list(spec.key)
        ids = sorted(set(clean["participant_id"]))
        newest = sa.select(sa.func.max(t.c.version_id).label("v")).where(
            t.c.participant_id.in_(ids)).group_by(*[t.c[k] for k in key]).subquery()
        query = sa.select(*[t.c[c] for c in spec.columns]).join(newest, t.c.version_id == newest.c.v)
        current = _to_frame(table, conn.execute(query).mappings().all(), with_version=False)
        if current.empty:
            return clean
        compare = [c for c in spec.columns if c not in key and c != "recorded_at"]
        label = clean.index
        rows = clean.reset_index(drop=True)
        cur = rows[key].merge(current, on=key, how="left", indicator=True)
        known = (cur["_merge"] == "both").to_numpy()
        if table == "participants" and given is not None:
            filled = given.reindex(label).reset_index(drop=True)
            for c in compare:
                keep_stored = known & ~filled[c].to_numpy()
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
                        consent_share: bool = False, access_code_hash=None) -> None:
        """Add a new participant; an id already in the store is an error."""
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

    def record_checkin(self, participant_id: str, day, *, ratings: Mapping[str, int],
                       vision: Mapping[str, int] | None = None,
                       actions: Mapping[str, int | Mapping] | None = None,
                       progress: Mapping[str, float] | None = None,
                       note: str | None = None, source: str = "checkin") -> dict[str, int]:
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
                            ("progress", progress)):
            if given is not None and not isinstance(given, Mapping):
                raise ValidationError(what, [{"row": None, "column": None, "value": type(given).__name__,
                                              "expected": "a dict (element or goal_id -> value)"}],
                                      noun="argument")
        frames = {}
        rows = [{"participant_id": participant_id, "date": when, "element": e, "rating": v,
                 "kind": "current", "note": note, "source": source} for e, v in (ratings or {}).items()]
        rows += [{"participant_id": participant_id, "date": when, "element": e, "rating": v,
                  "kind": "vision", "note": note, "source": source} for e, v in (vision or {}).items()]
        if rows:
            frames["ratings"] = pd.DataFrame(rows)
        if actions:
            arows = []
            for goal_id, value in actions.items():
                count, minutes = (value.get("count"), value.get("minutes")) if isinstance(value, Mapping) \
                    else (value, None)
                arows.append({"participant_id": participant_id, "date": when, "goal_id": goal_id,
                              "count": count, "minutes": minutes, "note": note, "source": source})
            frames["actions"] = pd.DataFrame(arows)
        if progress:
            frames["progress"] = pd.DataFrame([
                {"participant_id": participant_id, "date": when, "goal_id": g, "percent": p,
                 "note": note, "source": source} for g, p in progress.items()])
        if not frames:
            raise ValidationError("ratings", [{"row": None, "column": None, "value": "(nothing)",
                                               "expected": "at least one rating, action or progress"}])
        self.require_participant(participant_id)
        return self.write_many(frames, where=f"check-in of {participant_id} on {when}")

    def forget(self, participant_id: str) -> dict[str, int]:
        """Delete every row of one participant from every table. Returns rows deleted per table."""
        self.require_participant(participant_id)
        deleted = {}
        with self._connection(write=True) as conn:
            for name in reversed(DATA_TABLES):
                t = SQL_TABLES[name]
                deleted[name] = conn.execute(sa.delete(t).where(t.c.participant_id == participant_id)).rowcount
        return deleted

    # ----------------------------------------------------------------- internals
    def _check_references(self, conn, table, clean, where):
        if table == "participants":
            return
        failures = []
        pt = SQL_TABLES["participants"]
        ids = sorted(set(clean["participant_id"]))
        known = {r[0] for r in conn.execute(sa.select(pt.c.participant_id).where(
            pt.c.participant_id.in_(ids)).distinct())}
        for label in clean.index[~clean["participant_id"].isin(known)]:
            failures.append({"row": label, "column": "participant_id",
                             "value": clean.at[label, "participant_id"],
                             "expected": "a participant in the store (add them first)"})
        if table in ("actions", "progress", "goals"):
            latest = self._latest_select("goals", ["goal_id", "participant_id"]).subquery()
            owners = dict(conn.execute(sa.select(latest.c.goal_id, latest.c.participant_id).where(
                latest.c.goal_id.in_(sorted(set(clean["goal_id"]))))).all())
        if table in ("actions", "progress"):
            for label, goal, who in zip(clean.index, clean["goal_id"], clean["participant_id"]):
                owner = owners.get(goal)
                if owner is None:
                    failures.append({"row": label, "column": "goal_id", "value": goal,
                                     "expected": f"a goal of participant '{who}' (no such goal)"})
                elif owner != who:
                    failures.append({"row": label, "column": "goal_id", "value": goal,
                                     "expected": f"a goal of participant '{who}' (this goal belongs "
                                                 f"to '{owner}')"})
        if table == "goals":
            for label, goal, who in zip(clean.index, clean["goal_id"], clean["participant_id"]):
                if owners.get(goal, who) != who:
                    failures.append({"row": label, "column": "goal_id", "value": goal,
                                     "expected": f"a goal id not used by another participant "
                                                 f"(it belongs to '{owners[goal]}')"})
        if failures:
            if all(f["column"] == "participant_id" for f in failures) and len(known) == 0 and len(ids) == 1:
                raise UnknownParticipantError(
                    f"unknown participant '{ids[0]}' in {self.url}: add them before writing {table}")
            raise ValidationError(table, failures, where=where)

    def _insert(self, conn, table, clean, *, progress: bool = False) -> int:
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
        records = []
        for rec in clean.to_dict("records"):
            out = {}
            for col, val in rec.items():
                if col == "recorded_at":
                    out[col] = now
                elif val is None or (not isinstance(val, str) and pd.isna(val)):
                    out[col] = None
                elif isinstance(val, pd.Timestamp):
                    out[col] = val.date()
                elif hasattr(val, "item"):
                    out[col] = val.item()
                else:
                    out[col] = val
            if "recorded_at" not in out:
                out["recorded_at"] = now
            records.append(out)
        step = 20_000
        if progress and len(records) > step:
            from tqdm.auto import tqdm

            with tqdm(total=len(records), desc=f"writing {table}", unit=" rows") as bar:
                for i in range(0, len(records), step):
                    conn.execute(SQL_TABLES[table].insert(), records[i:i + step])
                    bar.update(len(records[i:i + step]))
        else:
            conn.execute(SQL_TABLES[table].insert(), records)
        return len(records)


def _framework_ref(fw: Framework) -> str:
    """What a new store records to find its framework again: a shipped name, else the YAML path."""
    source = Path(fw.source) if fw.source else None
    if source is None or source.parent == FRAMEWORK_DIR:
        return fw.name
    return str(source.resolve())


def _check_table(table):
    if table not in DATA_TABLES:
        raise StoreError(f"unknown table '{table}'; tables are {', '.join(DATA_TABLES)}")


def _to_frame(table: str, rows, *, with_version: bool) -> pd.DataFrame:
    base = empty(table)
    if not rows:
        frame = base
    else:
        frame = pd.DataFrame.from_records(rows, columns=(["version_id"] if with_version else []) + list(base.columns))
        for col, dtype in base.dtypes.items():
            if col == "recorded_at":
                frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601").astype(dtype)
            elif str(dtype).startswith("datetime64"):
                frame[col] = pd.to_datetime(frame[col]).astype(dtype)
            elif dtype == bool:
                frame[col] = frame[col].fillna(False).astype(bool)
            else:
                frame[col] = frame[col].astype(dtype)
    if with_version and "version_id" not in frame:
        frame.insert(0, "version_id", pd.Series(dtype="int64"))
    return frame


def export_tables(store: Store, directory: str | os.PathLike, *, format: str = "csv",
                  tables: Iterable[str] = DATA_TABLES, history: bool = False) -> list[Path]:
    """Write every table to ``directory`` as CSV or Parquet; all files or none.

    Returns the paths written. Files are first written to a temporary folder beside the
    target and moved into place only when all succeeded.
    """
    if format not in ("csv", "parquet"):
        raise StoreError(f"unknown export format '{format}'; use csv or parquet")
    tables = list(tables)
    for name in tables:
        _check_table(name)
    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target))
    except OSError as exc:
        raise StoreError(f"cannot write to {target}: {exc.strerror}") from None
    written = []
    try:
        for name in tables:
            frame = store.history(name) if history else store._read(name)
            path = staging / f"{name}.{format}"
            if format == "csv":
                frame.to_csv(path, index=False, date_format="%Y-%m-%d")
            else:
                frame.to_parquet(path, index=False)
            written.append(path)
        final = []
        for path in written:
            dest = target / path.name
            os.replace(path, dest)
            final.append(dest)
        return final
    except OSError as exc:  # a full disk, say: one clear message, not a traceback
        raise StoreError(f"cannot write the export to {target}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
