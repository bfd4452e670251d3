"""The one way tests reach the real exports of other tools (Loop, Daylio, form services).

Those files belong to their authors and are never copied into this repository: they sit in
the ``fixtures`` folder of the ``shared`` folder beside the project's root. Without it a
test that needs one skips and says why; with ``MASTERY_REQUIRE_FIXTURES=1`` (set by
``.ci/run``) a missing folder or file fails the test instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE_FIXTURES = ROOT.parent / "shared" / "fixtures"
REQUIRE_ENV = "MASTERY_REQUIRE_FIXTURES"


def outside_fixture(*parts: str) -> Path:
    """Path of one real export (a file or a folder) under the shared fixtures folder.

    Skips the calling test when the folder or the file is missing, or fails it when
    ``$MASTERY_REQUIRE_FIXTURES`` is set.
    """
    path = OUTSIDE_FIXTURES.joinpath(*parts)
    if path.exists():
        return path
    missing = OUTSIDE_FIXTURES if not OUTSIDE_FIXTURES.is_dir() else path
    reason = (f"real exports of other tools not found at {missing}: they are read in place "
              f"from the shared fixtures folder beside the project, never copied into it")
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 makes this a failure)")
    pytest.skip(reason)
