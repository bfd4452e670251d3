"""``mastery serve`` attacked without a browser (one server for the module).

A crafted client loads the participant's page, opens a session's websocket the way Solara's
front end does and then talks to it directly: it sends execute requests, reads the state of
every widget, sets any trait of any widget (hidden, disabled, never shown; a slider's max),
clicks any button, and reuses another browser's session ids. Whatever it does, another
participant's rows stay byte for byte as they were and nothing of theirs reaches it; no
traceback reaches it either. A room behind one address gets in: a hundred right codes in a
minute, and fifty wrong guesses from the same address stop none of them.
"""

import json
import threading
import time
import uuid

import pandas as pd
import pytest

from mastery_analysis import access
from mastery_analysis.store import open_store
from serve_support import PARTICIPANT, CraftedClient, MasteryServer, load_page, rows_of

pytestmark = pytest.mark.slow

BOB_SECRETS = ["Roberta Secretname", "Interview at Initech", "bob-g-hidden", "felt anxious about money"]
ROOM = 100  # sign-ins behind one address within a minute
ROOM_CODES = 20  # each used five times (issuing a code costs about 50 ms of hashing)


@pytest.fixture(scope="module", params=[1, 2], ids=["one-process", "two-processes"])
def target(tmp_path_factory, request):
    """A store where bob has rows worth stealing, ann (the attacker) has a code, and a server:
    one process, and two behind the dispatcher (every test runs against both)."""
    db = tmp_path_factory.mktemp("serve-security") / "workshop.db"
    with open_store(db) as s:
        s.add_cohort("spring")
        s.add_participant("ann", name="Ann Attacker", cohort="spring")
        s.add_participant("bob", name=BOB_SECRETS[0], cohort="spring", consent_share=True)
        s.write("goals", pd.DataFrame([
            {"goal_id": "ann-goal", "participant_id": "ann", "title": "My own goal", "start_date": "2024-05-01"},
            {"goal_id": BOB_SECRETS[2], "participant_id": "bob", "title": BOB_SECRETS[1],
             "start_date": "2024-05-01"}]))
        s.record_checkin("bob", "2024-06-01", ratings={"proactive": 3}, actions={BOB_SECRETS[2]: 2},
                         note=BOB_SECRETS[3])
        codes = {"ann": access.issue_code(s, "ann"), "bob": access.issue_code(s, "bob")}
        for i in range(ROOM_CODES):
            s.add_participant(f"p{i:03d}", cohort="spring")
        codes["room"] = [access.issue_code(s, f"p{i:03d}") for i in range(ROOM_CODES)]
    # the default limits: they must let a room in
    server = MasteryServer(db, "--processes", str(request.param)).start()
    try:
        yield {"db": db, "codes": codes, "server": server}
    finally:
        server.stop()


def leaked(client):
    text = client.text()
    return [s for s in BOB_SECRETS if s in text]


def signed_in(client, code):
    client.discover()
    field = client.find("PasswordModel")[0]
    button = client.find("ButtonModel", description="Open my page")[0]
    assert client.set_state(field, {"value": code})
    assert client.click(button)  # the new widgets arrive with their state
    return field, button


def test_execute_requests_are_dropped(target):
    client = CraftedClient(target["server"])
    try:
        marker = target["db"].parent / "pwned.txt"
        for msg_type, content in [
            ("execute_request", {"code": f"open({str(marker)!r}, 'w').write('x')", "silent": False,
                                 "store_history": False, "user_expressions": {}, "allow_stdin": False}),
            ("inspect_request", {"code": "store", "cursor_pos": 5, "detail_level": 1}),
            ("complete_request", {"code": "sto", "cursor_pos": 3}),
            ("history_request", {"output": True, "raw": True, "hist_access_type": "tail", "n": 10})]:
            client.send(msg_type, content)
        client.drain(quiet=3)
        assert not marker.exists()
        replies = {m["msg_type"] for m in client.received}
        assert not replies & {"execute_reply", "inspect_reply", "complete_reply", "history_reply"}
    finally:
        client.close()
    # Solara refuses the message and closes that session
    assert "Unsupported msg with msg_type 'execute_request'" in target["server"].log()


def test_a_crafted_client_cannot_reach_another_participants_rows(target):
    db, server = target["db"], target["server"]
    before = rows_of(db, "bob")
    assert before["ratings"] and before["actions"] and before["goals"]
    client = CraftedClient(server)
    try:
        states = client.discover()
        assert states and not leaked(client)  # the page before sign-in holds nothing of anyone
        field, signin = signed_in(client, target["codes"]["ann"])
        assert any(s.get("value", "").startswith("Signed in as Ann Attacker")
                   for s in client.states.values() if s.get("_model_name") == "LabelModel")

        # 1. the sign-in button is never shown again: a crafted click with bob's code changes nothing
        client.set_state(field, {"value": target["codes"]["bob"]})
        client.click(signin)
        client.drain(quiet=1)

        # 2. a slider's max raised, then a value far off the scale, saved
        slider = client.find("IntSliderModel", _dom_classes="mastery-rating-proactive")[0]
        client.set_state(slider, {"max": 999999})
        client.set_state(slider, {"value": 999999})
        save = client.find("ButtonModel", description="Save")[0]
        client.click(save)
        client.drain(quiet=1)
        status = [s["value"] for s in client.states.values()
                  if s.get("_model_name") == "HTMLModel" and "Could not save" in s.get("value", "")]
        assert status and "999999" in status[-1]  # refused by the session's own check
        with open_store(db) as s:
            assert s.ratings(participant="ann").empty

        # 3. every tab opened and the vision sliders shown (the page builds them when first
        #    opened), then every text trait set to bob's id, numbers pushed far, every box
        #    ticked, every button clicked (disabled and hidden ones too), Enter in every text field
        (tabs,) = client.find("TabModel")
        for index in range(len(client.states[tabs]["children"])):
            client.set_state(tabs, {"selected_index": index})
        (vision,) = [c for c in client.find("CheckboxModel") if "vision" in client.states[c]["description"]]
        client.set_state(vision, {"value": True})
        client.drain(quiet=1)
        assert client.find("IntSliderModel", _dom_classes="mastery-vision-proactive")
        assert client.find("ButtonModel", description="Save my choice")  # the Sharing tab
        for comm_id, state in list(client.states.items()):
            model = state.get("_model_name", "")
            change = {}
            for key, value in state.items():
                if key.startswith("_") or key in ("layout", "style", "children", "tabbable", "tooltip"):
                    continue
                if isinstance(value, str) and key in ("value", "placeholder", "description"):
                    change[key] = "bob"
                elif isinstance(value, bool) and key in ("value", "disabled"):
                    change[key] = not value
                elif isinstance(value, int) and not isinstance(value, bool) and key in ("value", "max", "index"):
                    change[key] = 10**9 if key != "index" else 0
            if change:
                client.set_state(comm_id, change)
            # (not "Make my report": it renders ann's own report, half a minute of nothing to see)
            if model == "ButtonModel" and "report" not in state.get("description", ""):
                client.click(comm_id)
            if model in ("TextModel", "PasswordModel"):
                client.submit(comm_id)
        # a date far in the future and a goal that is not hers, through the widgets' own types
        for picker in client.find("DatePickerModel"):
            client.set_state(picker, {"value": {"year": 2999, "month": 0, "date": 1}})
        client.drain(quiet=2)
        client.discover()
    finally:
        client.close()

    assert rows_of(db, "bob") == before  # byte for byte
    assert leaked(client) == []
    assert "Traceback" not in client.text()
    with open_store(db) as s:  # whatever ann's page wrote is ann's
        for table in ("ratings", "actions", "progress", "goals", "responses"):
            frame = getattr(s, table)()
            assert set(frame["participant_id"]) <= {"ann", "bob"}
            assert (frame.loc[frame["participant_id"] == "bob"].shape[0]
                    == getattr(s, table)(participant="bob").shape[0])


def test_a_bad_trait_value_sends_no_traceback_to_the_page(target):
    client = CraftedClient(target["server"])
    try:
        signed_in(client, target["codes"]["ann"])
        picker = client.find("DatePickerModel")[0]
        slider = client.find("IntSliderModel")[0]
        client.set_state(picker, {"value": "not a date at all"})
        client.set_state(slider, {"value": "eleven"})
        client.comm_msg("no-such-comm", {"method": "update", "state": {"value": 1}})
        client.drain(quiet=2)
        text = client.text()
        assert "Traceback" not in text and "TraitError" not in text and "/site-packages/" not in text
        errors = [m for m in client.received if m.get("msg_type") in ("error", "stream")]
        assert errors == []
    finally:
        client.close()
    assert "expected an int, not the str 'eleven'" in target["server"].log()  # the server's log has it


def test_the_address_reaches_the_store_and_session_ids_stay_out_of_the_log(target):
    db, server = target["db"], target["server"]
    # addresses a client may claim: none of them is believed (no --behind-proxy here)
    forged = ["X-Forwarded-For: 10.9.9.1", "X-Real-IP: 10.9.9.2", "X-Mastery-Peer: 10.9.9.3",
              "X-Mastery-Client: 10.9.9.4"]
    client = CraftedClient(server, headers=forged)
    try:
        client.discover()
        field = client.find("PasswordModel")[0]
        button = client.find("ButtonModel", description="Open my page")[0]
        client.set_state(field, {"value": "ZZZZ-ZZZZZZZZ"})
        client.click(button)
        client.drain(quiet=1)
        assert any("not right" in s.get("value", "") for s in client.states.values())
    finally:
        client.close()
    import sqlite3

    con = sqlite3.connect(db)
    try:
        addresses = {r[0] for r in con.execute("SELECT address FROM access_attempts")}
    finally:
        con.close()
    assert addresses == {"127.0.0.1"}
    time.sleep(1)
    assert client.kernel_id not in server.log()
    assert "<kernel>" in server.log()


def test_a_session_id_from_another_browser_opens_nothing_of_theirs(target):
    """Ann's session id (kernel id) with bob's cookie is refused; ann's cookie with a new session
    id opens a fresh page with the code field, nothing of ann's."""
    server, codes = target["server"], target["codes"]
    bob = CraftedClient(server)
    try:
        signed_in(bob, codes["bob"])
        assert leaked(bob)  # bob's own page shows bob's data
        # ann's browser (another cookie) reuses bob's session id
        thief = CraftedClient(server, kernel_id=bob.kernel_id, start=False)
        try:
            thief.send("comm_info_request", {"target_name": "jupyter.widget"})
            thief.start()
            thief.drain(quiet=2, limit=20)
        except Exception:  # noqa: BLE001 - the server may close the socket: that is a refusal too
            pass
        finally:
            thief.close()
        assert leaked(thief) == [] and thief.find("LabelModel") == []
        # bob's cookie (stolen) with a session of the thief's own: a fresh page, nothing of bob's
        cookie_thief = CraftedClient(server, cookie=bob.cookie)
        try:
            cookie_thief.discover()
            assert cookie_thief.find("PasswordModel")  # the code field, not bob's page
            assert leaked(cookie_thief) == []
        finally:
            cookie_thief.close()
    finally:
        bob.close()
    assert "Session id mismatch" in server.log()


def test_a_room_behind_one_address_gets_in_despite_a_guesser(target):
    """100 sign-ins with right codes from one address within a minute all open their pages,
    while 50 wrong guesses from the same address come in between."""
    server, db = target["server"], target["db"]
    results, errors = {}, []

    def person(i, code):
        try:
            client = CraftedClient(server)
            try:
                client.discover()
                field = client.find("PasswordModel")[0]
                button = client.find("ButtonModel", description="Open my page")[0]
                client.set_state(field, {"value": code})
                client.click(button)
                client.drain(quiet=1, limit=60)
                results[i] = any(s.get("value", "").startswith("Signed in as")
                                 for s in client.states.values() if s.get("_model_name") == "LabelModel")
            finally:
                client.close()
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            errors.append(repr(exc))

    guesser = CraftedClient(server)
    try:
        guesser.discover()
        field = guesser.find("PasswordModel")[0]
        button = guesser.find("ButtonModel", description="Open my page")[0]
        start = time.monotonic()
        codes = target["codes"]["room"] * (ROOM // ROOM_CODES)
        people = [threading.Thread(target=person, args=(i, code)) for i, code in enumerate(codes)]
        for i, thread in enumerate(people):
            thread.start()
            if i % 2 == 0:  # a wrong guess between every two people
                guesser.set_state(field, {"value": f"{uuid.uuid4().hex[:4]}-ZZZZZZZZ"})
                guesser.click(button)
        for thread in people:
            thread.join(timeout=300)
        elapsed = time.monotonic() - start
    finally:
        guesser.close()
    assert errors == []
    assert sum(results.values()) == ROOM, f"{sum(results.values())} of {ROOM} got in in {elapsed:.0f} s"
    import sqlite3

    con = sqlite3.connect(db)
    try:
        outcomes = dict(con.execute("SELECT outcome, COUNT(*) FROM access_attempts "
                                    "WHERE address = '127.0.0.1' GROUP BY outcome").fetchall())
    finally:
        con.close()
    assert outcomes.get("failed", 0) >= 50 and outcomes.get("ok", 0) >= ROOM


def test_security_headers_and_the_session_cookie(target):
    status, headers, body, jar = load_page(target["server"], PARTICIPANT)
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    cookie = "; ".join(headers.get_all("set-cookie") or [])
    assert "solara-session-id=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert 'name="viewport"' in body and "width=device-width" in body
    assert "Traceback (most recent call last)" not in body and "solara.dev/static" not in body
    # nothing but the pages and their assets: no Solara diagnostics, no other path
    for path in ("/resourcez", "/readyz", "/anything", "/participant/../../etc/passwd"):
        assert load_page(target["server"], path)[0] == 404, path
