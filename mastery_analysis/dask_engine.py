"""The per-person analysis on Dask, over participant-partitioned Parquet.

Everything the package computes per person is independent across people, so a cohort too
large for one machine is split by participant: :func:`write_partitions` writes each table as
Parquet files ``<table>/part-00000.parquet ...`` in which every participant's rows are in
exactly one partition (chosen by a stable hash of the id), and :func:`run_analysis` runs the
package's own pandas function on each partition as one Dask task, on whatever cluster the
``client`` points at (a ``distributed.LocalCluster`` on one machine, or a real cluster).

The few statistics that span people are combined from the per-person results, which are
small: ``cohort-change`` scores each person's questionnaire in their partition and runs
:func:`~mastery_analysis.analysis.cohort.cohort_change` once on the gathered scores;
``correlations`` computes each partition's pairs and moments
(:func:`~mastery_analysis.analysis.correlation.correlation_moments`) and runs the tests, the
false discovery rate over every test and the days needed once on them all
(:func:`~mastery_analysis.analysis.correlation.correlation_tests`). Results
equal the pandas path with the same options exactly (tested on the demo cohort and on a
generated cohort spanning several partitions). Needs the optional extra ``pip install mastery-analysis[dask]``.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import MasteryError

PARTITIONED_TABLES = ("participants", "goals", "ratings", "actions", "progress", "responses")
ANALYSES = ("trends", "habits", "correlations", "goals", "cohort-change")
# the sort of each analysis' output (as the pandas functions sort it)
_SORT = {"trends": ["participant_id", "element"], "habits": ["participant_id", "goal_id"],
         "correlations": ["participant_id", "goal_id", "lag"], "goals": ["participant_id", "goal_id"]}


class DaskUnavailableError(MasteryError):
    """The optional Dask extra is not installed."""


def _require_dask():
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise DaskUnavailableError(
            "--engine dask needs the optional Dask extra: pip install 'mastery-analysis[dask]'") from None


def partition_of(ids, partitions: int) -> np.ndarray:
    """The partition of each participant id: crc32 of its UTF-8 bytes modulo ``partitions``.

    Stable across processes and machines (Python's own ``hash`` of a string is not).
    """
    uniq, inverse = np.unique(np.asarray(pd.Series(ids).astype(str), dtype=object), return_inverse=True)
    buckets = np.array([zlib.crc32(u.encode("utf-8")) % partitions for u in uniq], dtype=np.int64)
    return buckets[inverse]


def write_partitions(frames: dict[str, pd.DataFrame], directory: str | os.PathLike, *,
                     partitions: int = 8) -> Path:
    """Write tables as participant-partitioned Parquet under ``directory``.

    Parameters
    ----------
    frames : dict of table name -> DataFrame
        Tables with a ``participant_id`` column (the store's, or ``synthetic_frames``').
    directory : path
        Created if needed; each table goes to ``<directory>/<table>/part-NNNNN.parquet``, one
        file per partition (an empty file when a partition has no rows of that table, so
        every partition has every table).
    partitions : int
        How many partitions (tasks); a participant's rows are always in one of them.

    Returns
    -------
    Path
        ``directory``.
    """
    if int(partitions) != partitions or partitions < 1:
        raise MasteryError(f"partitions should be a whole number >= 1, got {partitions!r}")
    root = Path(directory)
    for name, frame in frames.items():
        if "participant_id" not in frame.columns:
            raise MasteryError(f"table '{name}' has no participant_id column to partition by")
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("part-*.parquet"):
            old.unlink()
        part = partition_of(frame["participant_id"], partitions) if len(frame) else np.zeros(0, int)
        for k in range(partitions):
            frame.loc[part == k].reset_index(drop=True).to_parquet(
                folder / f"part-{k:05d}.parquet", index=False)
    return root


def _partitions(directory: Path) -> list[int]:
    files = sorted((directory / "ratings").glob("part-*.parquet")) or sorted(
        (directory / "goals").glob("part-*.parquet"))
    if not files:
        raise MasteryError(f"no participant-partitioned Parquet in {directory} "
                           "(expected ratings/part-00000.parquet ...; see write_partitions)")
    return [int(f.stem.split("-")[1]) for f in files]


def _read(directory: Path, table: str, k: int) -> pd.DataFrame:
    path = directory / table / f"part-{k:05d}.parquet"
    if not path.exists():
        from .schema import empty
        return empty(table)
    return pd.read_parquet(path)


def analyse_partition(directory: str, k: int, analysis: str, options: dict) -> pd.DataFrame:
    """One partition's part of ``analysis``, by the package's pandas functions (a Dask task,
    on one core: Dask already runs a task per worker thread)."""
    from .analysis._grouped import one_thread_per_call

    with one_thread_per_call():
        return _analyse_partition(Path(directory), k, analysis, options)


def _analyse_partition(d: Path, k: int, analysis: str, options: dict) -> pd.DataFrame:
    from .analysis import cohort, correlation, goals, habits, trajectories
    from .framework import load_framework

    if analysis == "trends":
        return trajectories.element_trends(_read(d, "ratings", k))
    if analysis == "habits":
        strength = habits.habit_strength(_read(d, "actions", k), _read(d, "goals", k))
        return strength.groupby(["participant_id", "goal_id"], sort=False).tail(1).reset_index(drop=True)
    if analysis == "correlations":  # the per-person half; the tests run once on them all
        return correlation.correlation_moments(
            _read(d, "actions", k), _read(d, "progress", k), checkins=_read(d, "ratings", k))
    if analysis == "goals":
        return goals.goal_pace(_read(d, "goals", k), _read(d, "progress", k), today=options["today"])
    if analysis == "cohort-change":
        responses = _read(d, "responses", k)
        return cohort.score_responses(responses, load_framework(options.get("framework")))
    raise MasteryError(f"unknown analysis '{analysis}'; one of {', '.join(ANALYSES)}")


def _today(directory: Path, parts: list[int]) -> pd.Timestamp | None:
    """The default 'today' of goal_pace over everyone: the last progress date of any partition."""
    last = None
    for table, column in (("progress", "date"), ("goals", "start_date")):  # as goal_pace
        for k in parts:
            values = _read(directory, table, k)[column].dropna() if column in _read(
                directory, table, k) else pd.Series(dtype="datetime64[ns]")
            if len(values):
                day = pd.Timestamp(values.max())
                last = day if last is None or day > last else last
        if last is not None:
            return last
    return last


def run_analysis(analysis: str, directory: str | os.PathLike, *, client=None, today=None,
                 framework=None, pre: str = "baseline", post: str = "post",
                 min_n: int | None = None) -> pd.DataFrame:
    """Run ``analysis`` over every partition on Dask and combine the results.

    Parameters
    ----------
    analysis : {"trends", "habits", "correlations", "goals", "cohort-change"}
        As ``mastery stats``.
    directory : path
        Written by :func:`write_partitions`.
    client : distributed.Client, optional
        Where to run; by default Dask's current client, or its local threaded scheduler.
    today, framework, pre, post, min_n
        As the pandas functions take them (``today`` for goals; the others for
        cohort-change).

    Returns
    -------
    DataFrame
        Exactly what the pandas function returns for everyone at once: the same columns,
        dtypes, rows and order.
    """
    _require_dask()
    import dask

    if analysis not in ANALYSES:
        raise MasteryError(f"unknown analysis '{analysis}'; one of {', '.join(ANALYSES)}")
    d = Path(directory)
    parts = _partitions(d)
    options = {"framework": framework}  # a Framework pickles; load_framework takes it as is
    if analysis == "goals":
        options["today"] = today if today is not None else _today(d, parts)
    tasks = [dask.delayed(analyse_partition)(str(d), k, analysis, options) for k in parts]
    results = client.gather(client.compute(tasks)) if client is not None else dask.compute(*tasks)
    results = [r for r in results if len(r)] or [results[0]]
    out = pd.concat(results, ignore_index=True)
    if analysis == "cohort-change":
        from .analysis import cohort
        from .analysis.reliability import scale_reliability
        from .framework import load_framework

        fw = load_framework(options["framework"])
        scores = out.sort_values(["participant_id", "date", "phase", "element"],
                                 kind="stable", ignore_index=True)
        responses = pd.concat([_read(d, "responses", k) for k in parts], ignore_index=True)
        rel = scale_reliability(responses, framework=fw, phase=pre)
        kw = {} if min_n is None else {"min_n": min_n}
        return cohort.cohort_change(scores, pre=pre, post=post, framework=fw, reliability=rel, **kw)
    if analysis == "correlations":  # one FDR family over every partition's tests, as pandas
        from .analysis import correlation

        return correlation.correlation_tests(out)
    out = out.sort_values(_SORT[analysis], kind="stable", ignore_index=True)
    return out


def local_client(workers: int = 2, *, processes: bool = False):
    """A ``distributed.Client`` on a ``LocalCluster`` of ``workers`` (threads by default)."""
    _require_dask()
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                           dashboard_address=":0")
    return Client(cluster)
