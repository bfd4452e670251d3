"""Scale benchmarks: ``python -m benchmarks`` (or ``make bench``) runs every ``bench_*.py``.

Each ``bench_*`` module has a ``main()`` that times the package's vectorised analysis at
organisation scale (10,000 people x 365 days by default) against a naive per-group baseline
measured on a subset in the same run, prints seconds and the ratio, and returns the figures
as a dict. ``python -m benchmarks PEOPLE DAYS`` runs them all at another scale.
:mod:`benchmarks.synthetic` generates the seeded data. Benchmarks never assert timings.
"""
