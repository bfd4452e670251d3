"""The served check-in in a real browser shows today's self-experiment condition in the
person's words and saves "did you follow it today?" with the day."""

import datetime as dt

import pandas as pd
import pytest

from browser_support import VIEWPORT, chromium  # noqa: F401
from mastery_analysis import access
from mastery_analysis.analysis.experiments import plan_experiment
from mastery_analysis.store import open_store
from serve_support import PARTICIPANT, MasteryServer

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"
TIMEOUT = 120_000


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    db = tmp_path_factory.mktemp("experiment-browser") / "x.db"
    today = dt.date.today()
    start = today - dt.timedelta(days=1)
    with open_store(db) as s:
        s.add_cohort("spring")
        s.add_participant("ann", name="Ann Example", cohort="spring")
        s.record_checkin("ann", today - dt.timedelta(days=5), ratings={"focused": 5})
        sched = plan_experiment(start, design="pairs", period_days=3, periods=4, seed=2)
        s.save_experiment({"experiment_id": "ann-x1", "participant_id": "ann", "title": "Deep work",
                           "condition_a": f"Usual mornings {XSS}", "condition_b": f"Deep work before ten {XSS}",
                           "outcome_kind": "element", "outcome_ref": "focused", "design": "pairs",
                           "period_days": 3, "periods": 4, "washout_days": 0, "start_date": start,
                           "seed": 2, "min_effect": None}, sched, today=start)
        condition = sched.loc[sched["date"] == str(today), "condition"].iloc[0]
        code = access.issue_code(s, "ann")
    server = MasteryServer(db).start()
    try:
        yield {"db": db, "code": code, "server": server,
               "words": ("Usual mornings " if condition == "A" else "Deep work before ten ") + XSS}
    finally:
        server.stop()


def test_the_served_check_in_asks_and_saves_whether_the_condition_was_followed(served, chromium):
    server = served["server"]
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        page.goto(server.base_url + PARTICIPANT, timeout=TIMEOUT)
        page.locator(".mastery-code input").fill(served["code"])
        page.get_by_role("button", name="Open my page").click()
        page.locator(".mastery-checkin").wait_for()
        shown = page.locator(".mastery-condition-ann-x1")
        shown.wait_for()
        assert shown.inner_text().strip() == f"Today: {served['words']}"  # text, not markup
        assert page.locator("img[src='x']").count() == 0
        page.locator(".mastery-followed-ann-x1").get_by_role("button", name="Yes").click()
        page.locator(".mastery-checkin").get_by_role("button", name="Save").click()
        page.locator(".mastery-checkin").get_by_text("1 experiment answer", exact=False).wait_for()
        with open_store(served["db"]) as s:
            answers = s.adherence(participant="ann")
        assert answers[["date", "followed"]].values.tolist() == [[pd.Timestamp(dt.date.today()), True]]
        assert page.get_by_text("Error displaying widget").count() == 0
    finally:
        context.close()
