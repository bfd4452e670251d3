"""Timing, memory and table helpers shared by the benchmarks (no timing is ever asserted)."""

from __future__ import annotations

import gc
import os
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).with_name("results.json")


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} CPUs"


def timed(fn, *args, runs: int = 1, **kw):
    """``(result of the last run, median wall seconds)`` over ``runs`` calls."""
    times, result = [], None
    for _ in range(runs):
        result = None
        gc.collect()
        t0 = time.perf_counter()
        result = fn(*args, **kw)
        times.append(time.perf_counter() - t0)
    return result, statistics.median(times)


def peak_rss_gb() -> float:
    """The peak resident memory of this process so far, GB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def frames_to_parquet(frames: dict[str, pd.DataFrame], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_parquet(directory / f"{name}.parquet", index=False)


def frames_from_parquet(directory: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted(Path(directory).glob("*.parquet"))}


def assert_close(name: str, ours: pd.DataFrame, theirs: pd.DataFrame, keys: list[str],
                 columns: list[str], *, rtol: float = 1e-9, atol: float = 1e-9) -> None:
    """``theirs`` has the same rows (matched on ``keys``) and values as ``ours``."""
    if len(ours) != len(theirs):
        raise AssertionError(f"{name}: {len(ours):,} rows ours, {len(theirs):,} theirs")
    a, a_keys = _sorted(ours, keys)
    b, b_keys = _sorted(theirs, keys)
    for k, (ca, ua), (cb, ub) in zip(keys, a_keys, b_keys):
        if list(ua) != list(ub) or not np.array_equal(ca, cb):
            raise AssertionError(f"{name}: key column {k} differs")
    for c in columns:
        x = _floats(a[c])
        y = _floats(b[c])
        if not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
            bad = np.flatnonzero(~np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=True))
            raise AssertionError(f"{name}: column {c} differs in {len(bad):,} rows "
                                 f"(first: ours {x[bad[0]]!r}, theirs {y[bad[0]]!r})")


def _floats(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.to_numpy("datetime64[ns]").astype(np.int64).astype(float)
    return s.to_numpy(dtype=float, na_value=np.nan)


def _key_codes(s: pd.Series):
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.to_numpy("datetime64[ns]").astype(np.int64), []
    if pd.api.types.is_integer_dtype(s):
        return s.to_numpy(np.int64), []
    if isinstance(s.dtype, pd.CategoricalDtype):  # by label, whatever the categories' order
        cats = np.asarray(s.cat.categories.astype(str), dtype=object)
        order = np.argsort(cats)
        rank = np.empty(len(cats), dtype=np.int64)
        rank[order] = np.arange(len(cats))
        codes, used = pd.factorize(rank[s.cat.codes.to_numpy()], sort=True)
        return codes, [str(u) for u in cats[order][used]]
    if s.dtype != "str":
        s = s.astype("str")
    codes, uniques = pd.factorize(s, sort=True)
    return codes, [str(u) for u in uniques]


def _sorted(frame: pd.DataFrame, keys: list[str]):
    coded = [_key_codes(frame[k]) for k in keys]
    order = np.lexsort([c for c, _ in coded][::-1])
    return frame.iloc[order].reset_index(drop=True), [(c[order], u) for c, u in coded]


def print_table(rows: list[tuple], header: tuple) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print("  " + line.format(*header))
    for r in rows:
        print("  " + line.format(*r), flush=True)


def fmt(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return f"{value:,.{digits}f}"
