"""The served pages without a server: set widget values and click, as a browser (or a crafted
client) would, and read the store."""

import base64
import datetime as dt
import html
import re

import ipywidgets as W
import pandas as pd
import pytest
from traitlets import TraitError

from mastery_analysis import access
from mastery_analysis.errors import StoreError
from mastery_analysis.widgets.app import CoachPage, ParticipantPage, download_link
from mastery_analysis.widgets.forms import SERVER_FAILURE

TODAY = dt.date.today()
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def workshop(store):
    store.add_cohort("spring")
    store.add_participant("ann", name="Ann", cohort="spring")
    store.add_participant("bob", name=XSS, cohort="spring", consent_share=True)
    store.write("goals", pd.DataFrame([
        {"goal_id": "bob-goal", "participant_id": "bob", "title": "Bob's goal", "start_date": "2024-05-01"}]))
    codes = {"ann": access.issue_code(store, "ann"), "bob": access.issue_code(store, "bob"),
             "coach": access.issue_coach_code(store, "Casey", cohort="spring")}
    return store, codes


def signed_in(store, code, address="10.0.0.1"):
    page = ParticipantPage(store, address=address, today=TODAY)
    page.signin.code.value = code
    page.signin.button.click()
    assert page.session is not None, page.signin.message.value
    return page


def opened(page, title):
    """Open the tab ``title`` as a person would, and return what it shows."""
    index = page.TITLES.index(title)
    page.tabs.selected_index = index
    (content,) = page.tabs.children[index].children
    return content


def test_sign_in_builds_the_check_in_and_each_other_tab_when_first_opened(workshop):
    store, codes = workshop
    page = signed_in(store, codes["ann"])
    assert page.tabs.titles == page.TITLES
    assert page.tabs.children[0].children == (page.checkin.widget,)
    assert all(box.children == () for box in page.tabs.children[1:])  # nothing built yet
    goals = opened(page, "Goals")
    assert goals is page.goals.widget
    page.tabs.selected_index = 0
    assert opened(page, "Goals") is goals  # built once, kept
    assert page.consent.value is False  # reading an attribute builds its tab too
    assert page.tabs.children[page.TITLES.index("Sharing")].children != ()
    with pytest.raises(TraitError):  # what a crafted client may send is refused by the widget
        page.tabs.selected_index = 99
    page.tabs.selected_index = None  # no tab: nothing opens, nothing breaks
    assert page.tabs.children[page.TITLES.index("Reminders")].children == ()


def labels(widget):
    """The text of every Label under ``widget``."""
    out = []
    stack = [widget]
    while stack:
        w = stack.pop()
        if isinstance(w, W.Label):
            out.append(w.value)
        stack.extend(getattr(w, "children", ()))
    return out


def test_a_wrong_code_gets_a_plain_message_and_the_field_is_cleared(workshop):
    store, codes = workshop
    page = ParticipantPage(store, address="10.0.0.1", today=TODAY)
    page.signin.code.value = "ABCD-EFGHJKMN"
    page.signin.button.click()
    assert page.session is None and "That code is not right." in page.signin.message.value
    assert page.signin.code.value == ""  # the code does not stay in widget state
    page.signin.button.click()
    assert "Type your code first" in page.signin.message.value


def test_sign_in_binds_the_person_and_a_second_sign_in_changes_nothing(workshop):
    store, codes = workshop
    page = signed_in(store, codes["ann"])
    assert page.session.participant_id == "ann"
    assert "Signed in as Ann · cohort spring" in labels(page.widget)
    page.signin.code.value = codes["bob"]  # the sign-in button is gone, but a crafted click still arrives
    page.signin.button.click()
    assert page.session.participant_id == "ann" and page.checkin.participant_id == "ann"
    assert page.signin.code.value == codes["bob"]  # not even read


def test_a_coach_code_does_not_open_the_participant_page(workshop):
    store, codes = workshop
    page = ParticipantPage(store, today=TODAY)
    page.signin.code.value = codes["coach"]
    page.signin.button.click()
    assert page.session is None and "participants" in page.signin.message.value


def test_a_check_in_with_a_raised_slider_max_is_refused_by_the_session(workshop):
    store, codes = workshop
    page = signed_in(store, codes["ann"])
    slider = page.checkin.sliders["proactive"]
    slider.max = 999999  # what a crafted client can do to any slider
    slider.value = 999999
    assert not page.checkin.save()
    assert "Could not save" in page.checkin.status.value and "999999" in page.checkin.status.value
    assert store.ratings(participant="ann").empty


def test_goals_added_and_archived_reach_the_check_in(workshop):
    store, codes = workshop
    page = signed_in(store, codes["ann"])
    assert page.checkin.goal_inputs == {}
    page.goals.title.value = "Apply <b>now</b>"
    page.goals.save_button.click()
    gid = page.goals.last_goal_id
    assert store.goals(participant="ann").set_index("goal_id").at[gid, "title"] == "Apply <b>now</b>"
    assert list(page.checkin.goal_inputs) == [gid]  # the check-in lists the new goal
    assert "&lt;b&gt;" in page.goals.status.value
    page.checkin.goal_inputs[gid].count.value = "2"
    page.checkin.note.value = XSS
    page.checkin.save_button.click()
    assert "Saved" in page.checkin.status.value
    assert store.actions(participant="ann")[["goal_id", "count"]].to_dict("records") == [
        {"goal_id": gid, "count": 2}]
    # the note shows as text in "My progress" (a Label), with the streak, once it is opened
    progress = page.tabs.children[ParticipantPage.TITLES.index("My progress")]
    assert progress.children == ()  # not drawn at sign-in
    page.tabs.selected_index = ParticipantPage.TITLES.index("My progress")
    assert f"{TODAY:%d %b %Y}: {XSS}" in labels(progress)
    assert any(t.startswith("Streak: 1 day") for t in labels(progress))
    # archived: gone from the check-in, and a served page cannot restore it
    page.goals.goal_picker.value = gid
    page.goals.archive_button.click()
    assert bool(store.goals(participant="ann").set_index("goal_id").at[gid, "archived"])
    assert page.checkin.goal_inputs == {}
    page.goals.goal_picker.value = gid
    assert page.goals.archive_button.disabled and page.goals.archive_button.description == "Archived"


def test_editing_a_goal_of_someone_else_is_refused(workshop):
    store, codes = workshop
    page = signed_in(store, codes["ann"])
    page.goals.title.value = "mine now"
    # a crafted client cannot pick bob's goal (the options are ann's), so go around the widget
    page.goals.goal_picker.options = [("(new goal)", ""), ("x", "bob-goal")]
    page.goals.goal_picker.value = "bob-goal"
    page.goals.title.value = "mine now"
    assert not page.goals.save()
    assert "one of your own goals" in page.goals.status.value
    assert store.goals(participant="bob")["title"].tolist() == ["Bob's goal"]


def test_the_questionnaire_follows_the_open_phase(workshop):
    store, codes = workshop
    page = signed_in(store, codes["ann"])
    assert page.assessment is None  # no phase open
    store.set_open_phase("spring", "baseline")
    page = signed_in(store, codes["ann"])
    form = page.assessment
    assert form.phase == "baseline"
    for radios in form.items.values():
        radios.value = radios.options[-1]
    form.save_button.click()
    answers = store.responses(participant="ann")
    assert len(answers) == len(form.items) and set(answers["phase"]) == {"baseline"}
    store.set_open_phase("spring", None)  # closed while the page is open
    form.save_button.click()
    assert "No questionnaire is open" in form.status.value


def test_consent_is_saved_through_the_session(workshop):
    store, codes = workshop
    page = signed_in(store, codes["ann"])
    assert page.consent.value is False
    page.consent.value = True
    save = next(w for w in opened(page, "Sharing").children if isinstance(w, W.Button))
    save.click()
    assert bool(store.participants(participant="ann")["consent_share"].iloc[0])


def test_a_server_failure_says_could_not_and_shows_no_detail(workshop, monkeypatch, capfd):
    store, codes = workshop
    page = signed_in(store, codes["ann"])

    def broken(*args, **kwargs):
        raise StoreError("cannot write to the store at sqlite:////srv/secret/path.db: disk I/O error")

    monkeypatch.setattr(page.session, "check_in", broken)
    page.checkin.save_button.click()
    assert SERVER_FAILURE in html.unescape(page.checkin.status.value)
    assert "/srv/secret" not in page.checkin.status.value
    assert "/srv/secret" in capfd.readouterr().err  # the server's log has it

    def bug(*args, **kwargs):
        raise KeyError("internal")

    monkeypatch.setattr(page.session, "set_consent", bug)
    save = next(w for w in opened(page, "Sharing").children if isinstance(w, W.Button))
    save.click()  # a bug in a callback: no exception escapes to the kernel
    assert "KeyError" not in str(labels(page.widget))


def test_the_coach_sees_names_as_text_and_no_ratings(workshop):
    store, codes = workshop
    store.record_checkin("bob", TODAY, ratings={"proactive": 9}, note="private")
    page = CoachPage(store, address="10.0.0.2", today=TODAY)
    page.signin.code.value = codes["ann"]
    page.signin.button.click()
    assert page.session is None and "coach" in page.signin.message.value
    page.signin.code.value = codes["coach"]
    page.signin.button.click()
    table = page.participation.value
    assert html.escape(XSS) in table and XSS not in table
    assert "private" not in table and ">9<" not in table
    assert "1 of 2 checked in" in " ".join(labels(page.widget))
    # not yet checked in first
    assert table.index(">ann<") < table.index(">bob<")


def test_download_link_carries_the_file_and_escapes_its_name():
    link = download_link(b"<html>report</html>", 'a"b<c>.html', "Download <mine>")
    href = re.search(r'href="data:text/html;base64,([^"]+)"', link).group(1)
    assert base64.b64decode(href) == b"<html>report</html>"
    assert 'download="a&quot;b&lt;c&gt;.html"' in link and "Download &lt;mine&gt;" in link


@pytest.mark.slow
def test_the_participant_downloads_their_own_report(workshop):
    store, codes = workshop
    page = signed_in(store, codes["ann"])
    store.record_checkin("ann", TODAY - dt.timedelta(days=1), ratings={"proactive": 6})
    report = opened(page, "My report")
    button = next(w for w in report.children if isinstance(w, W.Button))
    button.click()
    link = report.children[-1].value
    match = re.search(r'download="mastery-report-ann.html" href="data:text/html;base64,([^"]+)"', link)
    assert match, report.children[-2].value
    body = base64.b64decode(match.group(1)).decode("utf-8")
    # the page's text and figures, not the compressed plotly.js (base64, which spells anything)
    shown = re.sub(r"<script\b[^>]*>[A-Za-z0-9+/=\s]{10000,}</script>", "", body)
    assert "ann" in shown
    for leak in ("bob-goal", "Bob's goal", "Bob&#x27;s goal", "Bob&#39;s goal", "onerror"):
        assert leak not in body  # nothing of the other participant: id, goal, name
    assert not re.search(r"[\"'>\s]bob[\"'<\s]", shown)
    assert store.url.split("///")[-1] not in link  # no server path on the page


@pytest.mark.slow
def test_the_coach_downloads_the_reports_of_those_who_share(workshop):
    import io
    import zipfile

    store, codes = workshop
    store.record_checkin("bob", TODAY - dt.timedelta(days=1), ratings={"proactive": 7})
    store.record_checkin("ann", TODAY - dt.timedelta(days=1), ratings={"proactive": 4})  # ann does not share
    page = CoachPage(store, today=TODAY)
    page.signin.code.value = codes["coach"]
    page.signin.button.click()
    tabs = page.widget.children[1]
    reports_tab = tabs.children[tabs.titles.index("Reports")]
    button = next(w for w in reports_tab.children if isinstance(w, W.Button))
    button.click()
    link = reports_tab.children[-1].value
    match = re.search(r'download="reports-spring.zip" href="data:application/zip;base64,([^"]+)"', link)
    assert match, reports_tab.children[-2].value
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(match.group(1)))) as zf:
        assert zf.namelist() == ["personal-bob.html"]


def test_slow_work_runs_where_the_server_sends_it(workshop, monkeypatch):
    """Served, the cohort views are computed in a worker process (``run_slow``), and the page
    shows the same views as when computed in place."""
    import concurrent.futures
    import multiprocessing

    from mastery_analysis.widgets import app

    store, codes = workshop
    store.record_checkin("ann", TODAY, ratings={"proactive": 7})
    page = CoachPage(store, today=TODAY)
    page.signin.code.value = codes["coach"]
    page.signin.button.click()
    in_place = labels(page._views)
    sent = []
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        def in_a_worker(fn, *args):
            sent.append(fn.__name__)
            return pool.submit(fn, *args).result()

        monkeypatch.setattr(app, "run_slow", in_a_worker)
        page.refresh_views()
    assert sent == ["cohort_view_parts"]
    assert labels(page._views) == in_place
    charts = [w for w in page._views.children if "mastery-view-participation" in w._dom_classes]
    assert len(charts) == 1
