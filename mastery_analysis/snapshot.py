"""A columnar snapshot of the store's latest rows, for loading large stores into analysis.

Reading an organisation (tens of millions of rows) with SQL means building one Python tuple
per row: about a minute and several GB. The snapshot keeps the latest row of every key of
each table as Parquet beside the store, and brings itself up to date from the append-only
tables before every read:

- The store's rows are append-only and numbered by ``version_id``, so the rows written since
  the snapshot was last refreshed are exactly those above its watermark (one indexed query
  per table). Only those rows are read by SQL and merged in: each changed participant's
  rows are rebuilt (latest row per key) and put back in place, so a read after a write
  sees the write and frames stay in the store's order.
- ``forget`` deletes, which a watermark cannot see: the store changes its ``generation``
  (a random token in its meta table) whenever it deletes, and a snapshot whose generation
  differs is rebuilt from scratch.
- New rows are persisted as small Parquet delta files; the base file is rewritten
  (compacted) when the deltas grow past a tenth of it. A file lock serialises processes
  that share one snapshot folder.

``store.snapshot().read("ratings")`` equals ``store.ratings()`` (same columns, dtypes, rows
and order); ``participant=`` and ``cohort=`` select rows as the store does.

The snapshot of a SQLite file lives in a folder beside it (``mastery.db.snapshot``); a
store without a file (in memory, or PostgreSQL without a ``directory``) keeps its snapshot
in memory only, for the life of the object. Commits on SQLite take version ids in commit
order, so a watermark never skips a row. PostgreSQL hands out sequence numbers before
commit, so a transaction that commits after a later one could be skipped; there the
snapshot re-reads the last :data:`PG_REREAD` version ids on every refresh.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from .errors import StoreError
from .schema import TABLES, empty

GENERATION_KEY = "generation"
ANALYSIS_TABLES = ("participants", "goals", "ratings", "actions", "progress", "responses")
PG_REREAD = 10_000
_FETCH = 500_000  # rows per fetch when (re)building
_COMPACT_SHARE = 0.1


def order_columns(table: str) -> list[str]:
    """The columns the store sorts ``table`` by (then version_id), as in ``Store._read``."""
    cols = TABLES[table].columns
    return [k for k in ("participant_id", "date", "goal_id", "element", "kind", "item") if k in cols]


def new_generation() -> str:
    return uuid.uuid4().hex


class Snapshot:
    """Latest rows of the store's tables as columnar frames, refreshed before every read.

    Use :meth:`mastery_analysis.store.Store.snapshot` to get the store's one snapshot.

    Parameters
    ----------
    store : Store
    directory : path, optional
        Where the Parquet files live. Default: ``<store file>.snapshot`` for a SQLite file,
        none (memory only) otherwise.
    """

    def __init__(self, store, directory: str | os.PathLike | None = None):
        self.store = store
        if directory is None and store._sqlite:
            path = sa.engine.make_url(store.url).database
            if path and path != ":memory:":
                directory = Path(path).with_name(Path(path).name + ".snapshot")
        self.directory = Path(directory) if directory is not None else None
        self._generation: str | None = None
        self._tables: dict[str, _Table] = {}

    def __repr__(self):
        return f"Snapshot({self.store.url!r}, directory={str(self.directory) if self.directory else None!r})"

    # ------------------------------------------------------------------ public
    def read(self, table: str, *, participant=None, cohort=None) -> pd.DataFrame:
        """The latest rows of ``table``, as ``store.<table>()`` returns them, after a refresh.

        Parameters
        ----------
        table : str
            One of participants, goals, ratings, actions, progress, responses.
        participant : str or list of str, optional
            Only these participants' rows.
        cohort : str, optional
            Only the rows of the cohort's members (by the participants' latest cohort).

        Returns
        -------
        DataFrame
            The store's columns and dtypes for ``table`` (see ``schema.TABLES``), sorted as
            the store sorts them.
        """
        if table not in ANALYSIS_TABLES:
            raise StoreError(f"unknown table '{table}'; tables are {', '.join(ANALYSIS_TABLES)}")
        needed = [table] if cohort is None else sorted({table, "participants"})
        self.refresh(needed)
        frame = self._tables[table].public()
        if cohort is not None:
            people = self._tables["participants"].frame
            ids = people.loc[people["cohort"] == cohort, "participant_id"]
            frame = frame.loc[frame["participant_id"].isin(ids)]
        if participant is not None:
            ids = [participant] if isinstance(participant, str) else list(participant)
            frame = frame.loc[frame["participant_id"].isin(ids)]
        if cohort is not None or participant is not None:
            frame = frame.reset_index(drop=True)
        return frame

    def frames(self, tables=("participants", "goals", "ratings", "actions", "progress")) -> dict:
        """Several tables at once (one refresh): ``{name: frame}``."""
        tables = list(tables)
        self.refresh(tables)
        return {t: self._tables[t].public() for t in tables}

    def refresh(self, tables=ANALYSIS_TABLES) -> dict[str, int]:
        """Bring the snapshot of ``tables`` up to date; returns the new rows read per table."""
        with self._lock():
            generation, marks = self._versions(tables)
            if generation != self._generation:  # first use, or the store deleted something
                self._tables = {}
                self._generation = generation
                self._load_from_disk()
            read = {}
            for name in tables:
                state = self._tables.get(name)
                if state is None:
                    state = self._tables[name] = _Table.build(self, name, marks[name])
                    read[name] = len(state.frame)
                    self._save(name, full=True)
                    continue
                low = state.watermark
                if not self.store._sqlite:
                    low = max(0, low - PG_REREAD)  # sequence numbers are taken before commit
                if marks[name] > state.watermark or (not self.store._sqlite and marks[name] > 0):
                    rows = self._fetch(name, low, marks[name])
                    read[name] = len(rows)
                    state.watermark = max(state.watermark, marks[name])
                    if len(rows):
                        state.merge(rows)
                        self._save(name, delta=rows)
                else:
                    read[name] = 0
            self._write_state()
            return read

    # ------------------------------------------------------------------ store side
    def _versions(self, tables):
        from .store import META, SQL_TABLES

        with self.store._connection() as conn:  # one read transaction: a consistent view
            generation = conn.execute(sa.select(META.c.value).where(
                META.c.key == GENERATION_KEY)).scalar()
            marks = {t: int(conn.execute(sa.select(sa.func.coalesce(
                sa.func.max(SQL_TABLES[t].c.version_id), 0))).scalar()) for t in tables}
        if generation is None:  # a store made before snapshots: give it a generation once
            generation = self._ensure_generation()
        return generation, marks

    def _ensure_generation(self) -> str:
        from .store import META

        token = new_generation()
        with self.store._connection(write=True) as conn:
            found = conn.execute(sa.select(META.c.value).where(META.c.key == GENERATION_KEY)).scalar()
            if found is not None:
                return found
            conn.execute(META.insert(), [{"key": GENERATION_KEY, "value": token}])
        return token

    def _fetch(self, table: str, low: int, high: int) -> pd.DataFrame:
        """Every stored row of ``table`` with low < version_id <= high, typed as the store's."""
        from .store import SQL_TABLES

        t = SQL_TABLES[table]
        cols = ["version_id", *TABLES[table].columns]
        query = sa.select(*[t.c[c] for c in cols]).where(
            t.c.version_id > low, t.c.version_id <= high).order_by(t.c.version_id)
        parts = []
        with self.store._connection() as conn:
            # the driver's own cursor: plain tuples, no per-row Row objects and type processing
            # (dates arrive as ISO text on SQLite and are parsed a column at a time in _typed)
            sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(sql)
                while True:
                    chunk = cursor.fetchmany(_FETCH)
                    if not chunk:
                        break
                    parts.append(_typed(table, pd.DataFrame.from_records(chunk, columns=cols)))
            finally:
                cursor.close()
        if not parts:
            return _typed(table, pd.DataFrame({c: [] for c in cols}))
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    # ------------------------------------------------------------------ disk side
    @contextlib.contextmanager
    def _lock(self):
        if self.directory is None:
            yield
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle = open(self.directory / ".lock", "a+")
        except OSError as exc:
            raise StoreError(f"cannot use the snapshot folder {self.directory}: {exc.strerror}") from None
        try:
            try:
                import fcntl
                fcntl.flock(handle, fcntl.LOCK_EX)
            except ImportError:  # not on POSIX: one process per folder
                pass
            yield
        finally:
            handle.close()  # closing releases the lock

    def _state_path(self) -> Path:
        return self.directory / "state.json"

    def _read_state(self) -> dict:
        try:
            return json.loads(self._state_path().read_text())
        except (OSError, ValueError):
            return {}

    def _load_from_disk(self) -> None:
        """Take the persisted tables of this generation (another process may have added to them)."""
        if self.directory is None:
            return
        state = self._read_state()
        if state.get("generation") != self._generation:
            return
        for name, info in state.get("tables", {}).items():
            try:
                frame = pd.read_parquet(self.directory / info["base"])
                frame = _typed(name, frame)
                tab = _Table(name, frame, int(info["base_watermark"]))
                for delta in info.get("deltas", []):
                    tab.merge(_typed(name, pd.read_parquet(self.directory / delta)))
                tab.watermark = int(info["watermark"])
                tab.deltas = list(info.get("deltas", []))
                tab.delta_rows = int(info.get("delta_rows", 0))
                tab.base = info["base"]
                self._tables[name] = tab
            except (OSError, KeyError, ValueError):
                self._tables.pop(name, None)  # unreadable: rebuilt from the store

    def _save(self, name: str, *, full: bool = False, delta: pd.DataFrame | None = None) -> None:
        """Persist a table: the new rows as a delta file, or (full, or too many deltas) a new base."""
        if self.directory is None:
            return
        tab = self._tables[name]
        if not full and tab.delta_rows + len(delta) <= _COMPACT_SHARE * max(len(tab.frame), 1) \
                and len(tab.deltas) < 50:
            fname = f"{name}.delta-{uuid.uuid4().hex[:12]}.parquet"
            _write_parquet(delta, self.directory / fname)
            tab.deltas.append(fname)
            tab.delta_rows += len(delta)
            return
        fname = f"{name}.{uuid.uuid4().hex[:12]}.parquet"
        _write_parquet(tab.frame, self.directory / fname)
        tab.base, tab.deltas, tab.delta_rows = fname, [], 0
        tab.base_watermark = tab.watermark

    def _write_state(self) -> None:
        if self.directory is None:
            return
        state = {"generation": self._generation, "tables": {
            n: {"base": t.base, "base_watermark": t.base_watermark, "watermark": t.watermark,
                "deltas": t.deltas, "delta_rows": t.delta_rows}
            for n, t in self._tables.items() if t.base}}
        tmp = self._state_path().with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self._state_path())
        keep = {"state.json", ".lock"} | {t.base for t in self._tables.values()} | {
            d for t in self._tables.values() for d in t.deltas}
        for f in self.directory.glob("*.parquet"):  # files of older states and generations
            if f.name not in keep:
                with contextlib.suppress(OSError):
                    f.unlink()


class _Table:
    """One table's latest rows (with version_id), sorted as the store sorts them."""

    def __init__(self, name: str, frame: pd.DataFrame, watermark: int):
        self.name = name
        self.key = list(TABLES[name].key)
        self.order = order_columns(name)
        self.frame = frame.reset_index(drop=True)
        self.watermark = watermark
        self.base_watermark = watermark
        self.base: str | None = None
        self.deltas: list[str] = []
        self.delta_rows = 0
        self._index_people()

    @classmethod
    def build(cls, snap: Snapshot, name: str, high: int) -> _Table:
        rows = snap._fetch(name, 0, high)
        return cls(name, _latest(rows, name), high)

    def public(self) -> pd.DataFrame:
        # a shallow copy: copy-on-write keeps the caller's edits out of the snapshot
        return self.frame.drop(columns="version_id")

    def _index_people(self) -> None:
        """The sorted participants and where each one's rows start (rows are sorted by them)."""
        pid = self.frame["participant_id"]
        if len(pid) == 0:
            self.people = np.array([], dtype=object)
            self.starts = np.zeros(1, dtype=np.int64)
            return
        # rows are grouped by participant: a new one starts where the id differs from the row
        # before (compared by pyarrow, without hashing every row's id as factorize would)
        ids = pa.array(pid)  # chunks compared as they are: combining them copies every id
        if not isinstance(ids, pa.ChunkedArray):
            ids = pa.chunked_array([ids])
        differs = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1))
        change = np.flatnonzero(np.r_[True, differs.to_numpy()])
        self.people = np.asarray(pid.iloc[change], dtype=object)
        self.starts = np.r_[change, len(pid)].astype(np.int64)

    def merge(self, rows: pd.DataFrame) -> None:
        """Merge newly stored rows: rebuild the changed participants' rows and put them back."""
        if len(rows) == 0:
            return
        if self.name == "goals":  # keyed by goal_id alone: a goal could move between people
            touched = set(rows["participant_id"]) | set(self.frame.loc[
                self.frame["goal_id"].isin(set(rows["goal_id"])), "participant_id"])
        else:
            touched = set(rows["participant_id"])
        touched = np.array(sorted(touched), dtype=object)
        pos = np.searchsorted(self.people, touched)
        present = (pos < len(self.people)) & (self.people[np.minimum(pos, len(self.people) - 1)] == touched) \
            if len(self.people) else np.zeros(len(touched), dtype=bool)
        old = [self.frame.iloc[self.starts[i]:self.starts[i + 1]] for i in pos[present]]
        block = _latest(pd.concat([*old, rows], ignore_index=True), self.name)
        # each touched participant's new rows go where their old rows were (or would be)
        b_pid = block["participant_id"].to_numpy(dtype=object)
        b_start = np.searchsorted(b_pid, touched, side="left")
        b_end = np.searchsorted(b_pid, touched, side="right")
        pieces, cursor = [], 0
        for k in range(len(touched)):
            at = int(self.starts[pos[k]]) if pos[k] < len(self.people) else len(self.frame)
            if present[k]:
                pieces.append(self.frame.iloc[cursor:at])
                cursor = int(self.starts[pos[k] + 1])
            else:
                pieces.append(self.frame.iloc[cursor:at])
                cursor = at
            pieces.append(block.iloc[b_start[k]:b_end[k]])
        pieces.append(self.frame.iloc[cursor:])
        self.frame = pd.concat([p for p in pieces if len(p)] or [self.frame.iloc[:0]],
                               ignore_index=True)
        # the participant index, updated without scanning the rows again
        keep = np.ones(len(self.people), dtype=bool)
        keep[pos[present]] = False
        counts = np.diff(self.starts)
        b_counts = b_end - b_start
        people = np.concatenate([self.people[keep], touched[b_counts > 0]])
        sizes = np.concatenate([counts[keep], b_counts[b_counts > 0]])
        o = np.argsort(people, kind="stable")
        self.people = people[o]
        self.starts = np.r_[0, np.cumsum(sizes[o])].astype(np.int64)


def _latest(rows: pd.DataFrame, table: str) -> pd.DataFrame:
    """The newest row of each key, sorted as the store sorts (order columns, version_id)."""
    if len(rows) == 0:
        return rows.reset_index(drop=True)
    key = list(TABLES[table].key)
    newest = rows.sort_values("version_id", kind="stable").drop_duplicates(key, keep="last")
    return newest.sort_values([*order_columns(table), "version_id"], kind="stable",
                              ignore_index=True)


def _typed(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (version_id and the table's columns) with the store's dtypes."""
    base = empty(table)
    # a column already of its dtype (the snapshot's own Parquet) is taken as it is:
    # to_numeric and to_datetime copy even then, a second and a half at 25 million rows
    vid = frame["version_id"]
    out = {"version_id": vid if vid.dtype == np.int64 else pd.to_numeric(vid).astype(np.int64)}
    for col, dtype in base.dtypes.items():
        s = frame[col]
        if s.dtype == dtype:
            out[col] = s
        elif col == "recorded_at":
            if not isinstance(s.dtype, pd.DatetimeTZDtype):
                s = pd.to_datetime(s, utc=True, format="ISO8601")
            out[col] = s.astype(dtype)
        elif str(dtype).startswith("datetime64"):
            out[col] = pd.to_datetime(s).astype(dtype)
        elif dtype == bool:
            out[col] = s.fillna(False).astype(bool)
        else:
            out[col] = s.astype(dtype)
    # no copy: the columns are fresh, or views that copy-on-write keeps apart (a copy of an
    # organisation's 25 million rows cost a second of fresh memory)
    return pd.DataFrame(out, copy=False)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except OSError as exc:
        raise StoreError(f"cannot write the snapshot file {path}: {exc.strerror or exc}") from None
