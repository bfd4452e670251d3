"""Mastery notebooks: track career mastery and see, honestly, whether daily action moves goals."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mastery-analysis")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

from .errors import MasteryError  # noqa: E402
from .framework import Framework, load_framework  # noqa: E402

__all__ = ["MasteryError", "Framework", "load_framework", "__version__"]
