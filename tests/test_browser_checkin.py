"""The check-in notebook in a real JupyterLab, driven by keyboard and mouse in Chromium."""

import datetime as dt
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from browser_support import chromium, jupyter_lab, lab_page, open_notebook, run_all_cells  # noqa: F401
from mastery_analysis.store import open_store

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_check_in.ipynb"

pytestmark = pytest.mark.browser


def wait_for_rows(path, table, n, timeout=20):
    """The rows of ``table`` once it holds at least ``n`` (all versions), or fail."""
    deadline = time.monotonic() + timeout
    while True:
        with open_store(path) as s:
            rows = s.history(table)
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_check_in_with_keyboard_and_mouse_in_jupyterlab(tmp_path, jupyter_lab, lab_page):
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    db = tmp_path / "store.db"
    with open_store(db) as s:
        s.add_participant("alex", name="Alex")
        s.write("goals", pd.DataFrame([{"goal_id": "apply", "participant_id": "alex",
                                        "title": "Send applications", "start_date": "2024-05-01"}]))
    lab = jupyter_lab(root, env={"MASTERY_STORE": f"sqlite:///{db}"})
    page = lab_page

    open_notebook(page, lab, NOTEBOOK.name)
    run_all_cells(page)
    form = page.locator(".mastery-checkin")
    form.wait_for(timeout=60_000)

    # the form fits the laptop screen's width
    box = form.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1366

    # two sliders moved with the keyboard (fresh store: they start in the middle, 5)
    proactive = page.locator(".mastery-rating-proactive .noUi-handle")
    connect = page.locator(".mastery-rating-connect .noUi-handle")
    assert proactive.get_attribute("aria-valuenow").startswith("5")
    proactive.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    connect.focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        """() => document.querySelector('.mastery-rating-proactive .widget-readout').textContent.trim() === '7'
              && document.querySelector('.mastery-rating-connect .widget-readout').textContent.trim() === '4'""")

    # a goal's action, typed
    goal = page.locator(".mastery-goal-apply")
    goal.locator(".mastery-count input").fill("3")
    goal.locator(".mastery-minutes input").fill("25")
    goal.locator(".mastery-progress input").fill("40")

    # Tab goes through the goal's fields, the note and Save in the order they are shown
    goal.locator(".mastery-count input").focus()
    visited = []
    for _ in range(4):
        page.keyboard.press("Tab")
        visited.append(page.evaluate(
            """() => { const a = document.activeElement;
                       const c = a.closest('.mastery-minutes, .mastery-progress, .mastery-note');
                       return c ? c.className.match(/mastery-[a-z]+/)[0] : a.tagName + ':' + a.textContent.trim(); }"""))
    assert visited == ["mastery-minutes", "mastery-progress", "mastery-note", "BUTTON:Save"]

    form.get_by_role("button", name="Save").click()  # the icon adds a glyph to the name
    form.get_by_text("Saved", exact=False).first.wait_for(timeout=30_000)

    ratings = wait_for_rows(db, "ratings", 5)
    current = ratings.set_index("element")["rating"]
    assert current.to_dict() == {"proactive": 7, "connect": 4, "informed": 5, "focused": 5,
                                 "potential": 5}
    assert set(ratings["date"].dt.date) == {dt.date.today()} and set(ratings["kind"]) == {"current"}
    actions = wait_for_rows(db, "actions", 1)
    assert actions[["goal_id", "count", "minutes"]].to_dict("records") == [
        {"goal_id": "apply", "count": 3, "minutes": 25.0}]
    assert wait_for_rows(db, "progress", 1)["percent"].tolist() == [40.0]
    form.get_by_text("Streak: 1 day in a row").wait_for()
    form.locator(".js-plotly-plot").first.wait_for(timeout=30_000)  # the two-week chart renders

    # Enter in the note saves again: a new version of the day
    note = page.locator(".mastery-note input")
    note.fill("saved with Enter")
    note.press("Enter")
    ratings = wait_for_rows(db, "ratings", 10)
    assert len(ratings) == 10 and ratings.sort_values("version_id")["note"].tolist()[-5:] == ["saved with Enter"] * 5
    assert ratings.loc[ratings["element"] == "proactive", "rating"].tolist() == [7, 7]

    assert page.get_by_text("Error displaying widget").count() == 0
    assert not [e for e in page.errors if "widget" in e.lower()], page.errors
