"""Shared fixtures: a fresh temporary store, and a store with the demo data loaded once."""

import os
import shutil
from pathlib import Path

import pytest

from mastery_analysis.store import open_store

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def store(tmp_path):
    """An empty SQLite store in a temporary folder."""
    s = open_store(tmp_path / "mastery.db")
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_store_path(tmp_path_factory):
    """Path of a SQLite store holding the demo data, built once per test session."""
    from mastery_analysis.demo import load_demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    with open_store(path) as s:
        load_demo(s)
    return path


@pytest.fixture
def demo_store(demo_store_path, tmp_path):
    """A private copy of the demo store (tests may write to it)."""
    path = tmp_path / "demo.db"
    shutil.copy(demo_store_path, path)
    s = open_store(path)
    yield s
    s.close()


def require_browser():
    """Skip when Chromium is missing, except in CI where MASTERY_REQUIRE_BROWSER=1 makes it fail."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("MASTERY_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is required here (MASTERY_REQUIRE_BROWSER=1)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
