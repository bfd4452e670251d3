"""The two install routes (pip with pyproject.toml, conda with environment.yml) agree."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_installs_the_project_with_its_test_extra():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "pip" in deps, "conda needs pip itself to run the pip: list"
    pip_lists = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert pip_lists == [["-e .[test]"]], "the pip list must install the project itself, nothing else"
    conda_only = [d for d in deps if isinstance(d, str)]
    # every other dependency lives in pyproject.toml: conda brings only python and pip
    assert sorted(re.split(r"[=<> ]", d)[0] for d in conda_only) == ["pip", "python"]


def test_python_versions_agree():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    version = python.split("=")[-1]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    minimum = project["requires-python"].removeprefix(">=")
    assert tuple(map(int, version.split("."))) >= tuple(map(int, minimum.split(".")))


def test_test_extra_has_what_the_suite_imports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=\[ ]", d)[0].lower() for d in project["optional-dependencies"]["test"]}
    assert {"pytest", "nbval", "playwright", "pingouin", "hypothesis"} <= names
    runtime = {re.split(r"[<>=\[ ]", d)[0].lower() for d in project["dependencies"]}
    assert {"pandas", "plotly", "ipywidgets", "pandera", "sqlalchemy", "papermill", "nbconvert"} <= runtime
