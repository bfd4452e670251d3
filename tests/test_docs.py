"""The user guide: every command it shows is one the `mastery` command takes, every link and
figure it points to is there, and the figures stay small."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from mastery_analysis.cli import build_parser

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = ["guide.md", "personal.md", "coach.md", "organisation.md"]
WRITTEN_ELSEWHERE = {"workshop.md", "scaling.md", "statistics.md"}  # other pages of docs/


def _commands(text: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("mastery ")]


@pytest.mark.parametrize("page", PAGES)
def test_every_command_shown_parses(page):
    commands = _commands((DOCS / page).read_text())
    assert commands, page
    parser = build_parser()
    for command in commands:
        argv = shlex.split(command.split(" && ")[0], comments=True)[1:]
        if argv == ["--version"]:
            continue
        args = parser.parse_args(argv)  # exits (fails the test) on an unknown option
        assert callable(args.func), command


@pytest.mark.parametrize("page", PAGES)
def test_links_and_figures_are_there(page):
    text = (DOCS / page).read_text()
    assert "OUTPUT" not in text  # no placeholder left for a command's output
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if target.startswith(("http://", "https://")):
            continue
        if target in WRITTEN_ELSEWHERE and not (DOCS / target).exists():
            continue  # written with another part of the project
        assert (DOCS / target).is_file(), f"{page} links to {target}, which is missing"
    for image in re.findall(r"!\[[^\]]+\]\(([^)]+)\)", text):
        data = (DOCS / image).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) < 250_000, image


def test_every_use_is_linked_from_the_guide():
    guide = (DOCS / "guide.md").read_text()
    for page in PAGES[1:] + sorted(WRITTEN_ELSEWHERE):
        assert f"]({page}" in guide, page
