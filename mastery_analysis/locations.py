"""Where the store, the notebook workspace and the reports live, and why there.

Each location is chosen in the same order: an explicit option (``--store``, ``--dir``,
``--out-dir``), then an environment variable (``$MASTERY_STORE``, ``$MASTERY_WORKSPACE``,
``$MASTERY_REPORTS``), then the source checkout the package runs from (``data/mastery.db``,
``notebooks/``, ``reports/``), and otherwise the platform's user folders (platformdirs): the
user data folder for the store, the documents folder for the workspace and the reports.
``mastery where`` prints all three with the reason for each.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .resources import checkout_root

APP_NAME = "mastery-analysis"
STORE_ENV = "MASTERY_STORE"
WORKSPACE_ENV = "MASTERY_WORKSPACE"
REPORTS_ENV = "MASTERY_REPORTS"
DOCUMENTS_FOLDER = "Mastery"
"""The folder under the user's documents that holds the workspace and the reports."""


@dataclass(frozen=True)
class Location:
    """One place in use and how it was chosen.

    Attributes
    ----------
    what : str
        ``"store"``, ``"workspace"`` or ``"reports"``.
    value : str
        A SQLAlchemy URL for the store, a folder path for the others.
    chosen_by : str
        ``"option"``, ``"environment"``, ``"checkout"`` or ``"user folder"``.
    reason : str
        The same in words, naming the option, variable or folder.
    """

    what: str
    value: str
    chosen_by: str
    reason: str

    @property
    def path(self) -> Path | None:
        """The file or folder on disk (None for a store that is not an SQLite file)."""
        if self.what != "store":
            return Path(self.value)
        from sqlalchemy.engine import make_url

        if not self.value.startswith("sqlite"):
            return None
        database = make_url(self.value).database
        return Path(database) if database and database != ":memory:" else None


def _user_data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def _documents_dir() -> Path:
    from platformdirs import user_documents_path

    return user_documents_path() / DOCUMENTS_FOLDER


def sqlite_url(path: str | os.PathLike) -> str:
    """The SQLAlchemy URL of an SQLite file (``~`` expanded, made absolute)."""
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def as_url(url: str | os.PathLike) -> str:
    """A SQLAlchemy URL from a URL or a file path (a path is taken as SQLite)."""
    text = str(url)
    return text if "://" in text else sqlite_url(text)


def store_location(option: str | os.PathLike | None = None) -> Location:
    """The store in use: ``--store``, else ``$MASTERY_STORE``, else the checkout's
    ``data/mastery.db``, else ``mastery.db`` in the user data folder."""
    if option is not None and str(option) != "":
        return Location("store", as_url(option), "option", "given with --store")
    if os.environ.get(STORE_ENV):
        return Location("store", as_url(os.environ[STORE_ENV]), "environment",
                        f"set by ${STORE_ENV}")
    root = checkout_root()
    if root is not None:
        return Location("store", sqlite_url(root / "data" / "mastery.db"), "checkout",
                        f"the source checkout's data folder ({root})")
    return Location("store", sqlite_url(_user_data_dir() / "mastery.db"), "user folder",
                    "the user data folder (installed package; set --store or "
                    f"${STORE_ENV} to use another)")


def workspace_location(option: str | os.PathLike | None = None) -> Location:
    """The notebook workspace ``mastery lab`` opens: ``--dir``, else ``$MASTERY_WORKSPACE``,
    else the checkout's ``notebooks/`` (the sources themselves), else ``Mastery`` in the
    user's documents folder."""
    if option is not None and str(option) != "":
        return Location("workspace", str(Path(option).expanduser().resolve()), "option",
                        "given with --dir")
    if os.environ.get(WORKSPACE_ENV):
        return Location("workspace", str(Path(os.environ[WORKSPACE_ENV]).expanduser().resolve()),
                        "environment", f"set by ${WORKSPACE_ENV}")
    root = checkout_root()
    if root is not None:
        return Location("workspace", str(root / "notebooks"), "checkout",
                        "the source checkout's notebooks (edited in place)")
    return Location("workspace", str(_documents_dir()), "user folder",
                    "the user's documents folder (set --dir or "
                    f"${WORKSPACE_ENV} to use another)")


def reports_location(option: str | os.PathLike | None = None) -> Location:
    """The folder reports are written to when no ``--out`` is given: ``--out-dir``, else
    ``$MASTERY_REPORTS``, else the checkout's ``reports/``, else ``Mastery/reports`` in the
    user's documents folder."""
    if option is not None and str(option) != "":
        return Location("reports", str(Path(option).expanduser().resolve()), "option",
                        "given with --out-dir")
    if os.environ.get(REPORTS_ENV):
        return Location("reports", str(Path(os.environ[REPORTS_ENV]).expanduser().resolve()),
                        "environment", f"set by ${REPORTS_ENV}")
    root = checkout_root()
    if root is not None:
        return Location("reports", str(root / "reports"), "checkout",
                        "the source checkout's reports folder")
    return Location("reports", str(_documents_dir() / "reports"), "user folder",
                    "the user's documents folder (set --out-dir or "
                    f"${REPORTS_ENV} to use another)")


def where(*, store=None, workspace=None, reports=None) -> list[Location]:
    """The three locations in use (see :func:`store_location` and the others)."""
    return [store_location(store), workspace_location(workspace), reports_location(reports)]


__all__ = ["Location", "store_location", "workspace_location", "reports_location", "where",
           "as_url", "sqlite_url", "STORE_ENV", "WORKSPACE_ENV", "REPORTS_ENV"]
