"""What fresh memory costs on this machine: the bound under the organisation's analysis.

``python -m benchmarks.bench_memory [GB]`` writes ``GB`` (default 1) of float64 three ways,
each in a fresh array or a reused one, and prints the rate of each:

- fresh: ``np.full`` into memory the process has never touched (the kernel maps and zeroes
  every page on first write: what a new 100 MB column of a 15-million-row frame pays);
- reused: the same write again into that array (the pages are mapped: what a block of
  participants pays when it writes into the memory the block before it freed);
- copy: ``np.copyto`` between two mapped arrays (read and write bandwidth).

The organisation's analysis asks for a few GB of fresh memory whatever its arithmetic (its
results alone are about 1.3 GB), so ``fresh`` times those GB is a floor under its time.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from benchmarks.common import fmt, load_average, print_table


def _rate(gb: float, seconds: float) -> float:
    return gb / seconds if seconds > 0 else float("inf")


def run(gb: float = 1.0) -> dict:
    n = int(gb * 1e9 / 8)
    t0 = time.perf_counter()
    a = np.full(n, 1.0)  # fresh pages
    fresh = time.perf_counter() - t0
    t0 = time.perf_counter()
    a.fill(2.0)  # the same pages again
    reused = time.perf_counter() - t0
    b = np.full(n, 0.0)
    t0 = time.perf_counter()
    np.copyto(b, a)
    copy = time.perf_counter() - t0
    if not (b[0] == 2.0 and b[-1] == 2.0):
        raise AssertionError("the copy did not land")
    figures = {"memory.fresh_gb_per_s": _rate(gb, fresh),
               "memory.reused_gb_per_s": _rate(gb, reused),
               "memory.copy_gb_per_s": _rate(gb, copy),
               "memory.fresh_s_per_gb": fresh / gb}
    print(f"-- memory: {fmt(gb)} GB of float64 ({load_average()})", flush=True)
    print_table([("fresh (first write: pages mapped and zeroed)", fmt(fresh), fmt(_rate(gb, fresh))),
                 ("reused (the same pages written again)", fmt(reused), fmt(_rate(gb, reused))),
                 ("copy (mapped to mapped)", fmt(copy), fmt(_rate(gb, copy)))],
                ("write", "seconds", "GB/s"))
    print(f"   fresh memory costs {fmt(fresh / max(reused, 1e-9), 1)}x a write into memory "
          "already mapped", flush=True)
    return figures


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    return run(float(argv[0]) if argv else 1.0)


if __name__ == "__main__":
    main()
