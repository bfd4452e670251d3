"""Run every ``benchmarks/bench_*.py`` module's ``main()`` and print its figures.

``python -m benchmarks [PEOPLE] [DAYS]``: the optional scale is passed on to each benchmark
(through ``sys.argv``). Exits non-zero if any benchmark failed, after running the others.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    failed = []
    for name in names:
        print(f"== benchmarks.{name}", flush=True)
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            module.main()
        except Exception:  # report and go on with the other benchmarks
            traceback.print_exc()
            failed.append(name)
        print(f"   ({time.perf_counter() - t0:.1f} s in total)\n", flush=True)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
