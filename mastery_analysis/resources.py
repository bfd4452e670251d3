"""Where the files the package ships live: the notebooks (app pages, report templates, the
everyday notebooks) and the frameworks.

In a source checkout the notebooks are the checkout's ``notebooks/`` folder (edited there);
an installed wheel carries a copy as ``mastery_analysis/notebooks`` (``setup.py`` copies it
at build time), so nothing needs the checkout.
"""

from __future__ import annotations

from pathlib import Path

from .errors import MasteryError

PACKAGE_DIR = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The source checkout this package runs from, if it runs from one."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def notebooks_dir() -> Path:
    """The folder of the shipped notebooks (``reports/`` and ``app/`` inside it)."""
    root = checkout_root()
    folder = root / "notebooks" if root is not None else PACKAGE_DIR / "notebooks"
    if not folder.is_dir():
        raise MasteryError(f"the notebooks that ship with mastery-analysis are missing at {folder}; "
                           "reinstall the package (pip install --force-reinstall mastery-analysis)")
    return folder


def notebook_path(relative: str) -> Path:
    """One shipped notebook, e.g. ``notebook_path("reports/personal_report.ipynb")``."""
    path = notebooks_dir() / relative
    if not path.is_file():
        raise MasteryError(f"no notebook {relative} in {notebooks_dir()}")
    return path
