"""Session set-up for every test, notebooks included.

Unless MASTERY_STORE is already set, the whole session (and every notebook kernel nbval
starts, which inherits the environment) uses a throwaway SQLite store holding the demo data,
so a test run never reads or writes the person's own data/mastery.db.
"""

import os
import tempfile
from pathlib import Path


def pytest_configure(config):
    if os.environ.get("MASTERY_STORE"):
        return
    from mastery_analysis.demo import load_demo
    from mastery_analysis.store import open_store

    folder = Path(tempfile.mkdtemp(prefix="mastery-test-"))
    with open_store(folder / "demo.db") as store:
        load_demo(store)
    os.environ["MASTERY_STORE"] = f"sqlite:///{folder / 'demo.db'}"
    config._mastery_store_dir = folder


def pytest_unconfigure(config):
    folder = getattr(config, "_mastery_store_dir", None)
    if folder is not None:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("MASTERY_STORE", None)
