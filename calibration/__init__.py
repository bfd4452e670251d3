"""Calibration of the analysis' statistical claims by simulation (``make calibrate``).

Kept beside the package, like ``benchmarks/``, not inside it: it is how the claims are
checked, not something a user runs on their data, and its comparison tests come from
``pymannkendall``, a test dependency. ``tests/test_calibration.py`` runs small seeded
versions of the same simulations, so a change that breaks calibration fails the suite.
"""
