"""Build hook only (the project is described in pyproject.toml).

The checkout keeps its notebooks in ``notebooks/`` where people open them; the wheel carries
a copy inside the package (``mastery_analysis/notebooks``) so that an installed package has
its report templates and app pages without the checkout.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithNotebooks(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads the checkout's folder
            return
        source = Path(__file__).resolve().parent / "notebooks"
        target = Path(self.build_lib) / "mastery_analysis" / "notebooks"
        for notebook in sorted(source.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in notebook.parts:
                continue
            dest = target / notebook.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(notebook, dest)


setup(cmdclass={"build_py": BuildPyWithNotebooks})
