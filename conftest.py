"""Session set-up for every test, notebooks included.

The whole session (and every notebook kernel nbval starts, which inherits the environment)
uses a throwaway SQLite store holding the demo data, even when the person has set
MASTERY_STORE to their own store: a test run never reads or writes their data (the
notebooks' checked outputs are those of the demo data). The previous value comes back
at the end of the session.
"""

import os
import shutil
import tempfile
from pathlib import Path

_UNSET = object()


def pytest_configure(config):
    from mastery_analysis.demo import load_demo
    from mastery_analysis.store import open_store

    folder = Path(tempfile.mkdtemp(prefix="mastery-test-"))
    with open_store(folder / "demo.db") as store:
        load_demo(store)
    config._mastery_previous_store = os.environ.get("MASTERY_STORE", _UNSET)
    os.environ["MASTERY_STORE"] = f"sqlite:///{folder / 'demo.db'}"
    config._mastery_store_dir = folder


def pytest_unconfigure(config):
    folder = getattr(config, "_mastery_store_dir", None)
    if folder is None:
        return
    shutil.rmtree(folder, ignore_errors=True)
    previous = config._mastery_previous_store
    if previous is _UNSET:
        os.environ.pop("MASTERY_STORE", None)
    else:
        os.environ["MASTERY_STORE"] = previous
