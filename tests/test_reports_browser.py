"""Reports in a real browser (Debian's Chromium, network off): charts draw, typed text stays text.

The renders are shared with tests/test_reports.py (see tests/report_renders.py).
"""

from __future__ import annotations

import re

import pytest
from conftest import require_browser

from mastery_analysis.cli import main

import report_renders as rr
from browser_support import launch_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DRAWN = ("() => [...document.querySelectorAll('.mastery-figure')]"
         ".filter(d => d.querySelector('.js-plotly-plot .main-svg')).length")


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


class OfflinePage:
    """A page with the network off: every request that is not file: or data: is aborted
    (and recorded), and dialogs and script errors are recorded."""

    def __init__(self, browser):
        self.context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.outside, self.dialogs, self.errors = [], [], []
        self.page.route("**/*", self._route)
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path):
        self.page.goto(path.resolve().as_uri(), wait_until="load")
        expected = self.page.locator(".mastery-figure").count()
        self.page.wait_for_function(f"() => ({DRAWN})() === {expected}", timeout=60000)
        return expected

    def close(self):
        self.context.close()


@pytest.mark.parametrize("name,figures", [("personal", 7), ("cohort", 5), ("tiny", 4)])  # cohort: + reliability
def test_every_chart_draws_offline(browser, tmp_path_factory, name, figures):
    path = rr.rendered(tmp_path_factory, name)
    in_html = len(re.findall(r'<div class="mastery-figure"', path.read_text(encoding="utf-8")))
    view = OfflinePage(browser)
    try:
        expected = view.open(path)
        assert expected == in_html == figures
        assert view.page.evaluate(DRAWN) == expected
        # one plotly graph per figure, each with its fixed id
        ids = view.page.eval_on_selector_all(".mastery-figure .js-plotly-plot", "els => els.map(e => e.id)")
        assert len(ids) == expected and all(i.startswith("fig-") for i in ids)
        assert view.outside == [] and view.errors == [] and view.dialogs == []
    finally:
        view.close()


def test_typed_markup_renders_as_text_and_runs_nothing(browser, tmp_path_factory):
    path = rr.rendered(tmp_path_factory, "personal")
    view = OfflinePage(browser)
    try:
        view.open(path)
        view.page.wait_for_timeout(500)  # give an injected onerror time to fire
        assert view.dialogs == [] and view.errors == [] and view.outside == []
        shown = view.page.get_by_text(rr.XSS, exact=True)
        assert shown.count() >= 2  # alex's name in the header and the note
        assert shown.first.is_visible()
        assert view.page.locator('img[src="x"]').count() == 0
        # in the charts too: the goal title is SVG text, not an element
        svg_text = view.page.locator("svg text", has_text="onerror=alert(1)")
        assert svg_text.count() >= 1
    finally:
        view.close()


def test_cli_writes_html_and_pdf(tmp_path_factory, tmp_path, capsys):
    require_browser()
    out = tmp_path / "sub" / "tiny.html"
    code = main(["report", "cohort", "--cohort", rr.TINY, "--out", str(out), "--pdf",
                 "--store", rr.store_path(tmp_path_factory)])
    printed, err = capsys.readouterr()
    assert code == 0, err
    assert printed.split() == [str(out), str(out.with_suffix(".pdf"))]
    pdf = out.with_suffix(".pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 20_000
    assert out.read_bytes() == rr.rendered(tmp_path_factory, "tiny").read_bytes()
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny.html", "tiny.pdf"]
