"""Invitations and nudges through a real SMTP server on loopback (aiosmtpd), and what was sent."""

import datetime as dt
import re

import pandas as pd
import pytest
from smtp_support import start_smtp

from mastery_analysis import access, messaging
from mastery_analysis.cli import main
from mastery_analysis.errors import AddressError, MailError, MasteryError
from mastery_analysis.store import export_tables

TODAY = dt.date(2026, 3, 20)
CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{8}\b")
URL = re.compile(r"https?://[^\s\"'<>]+")
PAGE = "https://workshop.example.org/mastery/"


@pytest.fixture(autouse=True)
def fast_codes(monkeypatch):
    # the hash keeps its own parameters, so codes made this way verify as any other
    monkeypatch.setattr(access, "SCRYPT_N", 2**10)
    for name in (messaging.PASSWORD_ENV, messaging.SMTP_ENV, messaging.PAGE_URL_ENV, messaging.FROM_ENV,
                 messaging.COACH_NAME_ENV, messaging.REPLY_TO_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def smtp(tmp_path):
    server = start_smtp(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def cohort20(store):
    store.add_cohort("spring")
    people = pd.DataFrame({"participant_id": [f"p{i:02d}" for i in range(1, 21)],
                           "name": [f"Person {i:02d}" for i in range(1, 21)],
                           "email": [f"p{i:02d}@example.org" for i in range(1, 21)],
                           "joined_on": [TODAY - dt.timedelta(days=30)] * 20})
    store.add_participants(people, cohort="spring")
    return store


def mail_args(store, server, *extra):
    return ["--store", store.url, "--cohort", "spring", "--smtp", server.url(), "--from", "coach@example.org",
            "--coach-name", "Casey", "--reply-to", "casey@example.org", *extra]


def invite(store, server, *extra):
    return main(["invite", *mail_args(store, server, "--page-url", PAGE, *extra)])


def code_in(received) -> str:
    codes = set(CODE.findall(received.text())) | set(CODE.findall(received.html()))
    assert len(codes) == 1, codes
    return codes.pop()


def urls_in(received) -> list[str]:
    found = URL.findall(received.text()) + URL.findall(received.html())
    found += re.findall(r'href="([^"]*)"', received.html())
    return found


def test_invite_mails_each_of_20_their_own_working_code_never_in_a_link(cohort20, smtp, capsys):
    store = cohort20
    assert invite(store, smtp) == 0
    out = capsys.readouterr().out
    assert "sent 20 invitations" in out and "no longer work" in out
    assert len(smtp.received) == 20
    seen = set()
    for got in smtp.received:
        msg = got.message
        to = msg["To"].addresses[0].addr_spec
        assert got.rcpt_tos == [to]
        pid = to.split("@")[0]
        code = code_in(got)
        who = access.verify(store, code)
        assert who.participant_id == pid  # the right person's code, and it works
        seen.add(pid)
        secret = code.replace("-", "")
        for url in urls_in(got):
            plain = re.sub(r"[^0-9A-Z]", "", url.upper())
            assert code not in url and secret not in plain
        assert url_free_of_code(got, code)
        assert msg["From"].addresses[0].display_name == "Casey"
        assert msg["Reply-To"] == "casey@example.org"
        assert msg.get_content_type() == "multipart/alternative"
    assert seen == {f"p{i:02d}" for i in range(1, 21)}
    sent = store.messages(cohort="spring")
    assert len(sent) == 20 and set(sent["outcome"]) == {"sent"} and set(sent["kind"]) == {"invite"}
    # the record holds who, kind, when and outcome: never the code
    codes = {code_in(r) for r in smtp.received}
    assert not any(c in str(v) for c in codes for v in sent.astype(str).to_numpy().ravel())


def url_free_of_code(received, code) -> bool:
    return all(code not in u and code.replace("-", "") not in u.upper() for u in urls_in(received))


def test_a_second_invite_sends_nothing_the_same_day_and_with_again_new_codes_replace_the_old(cohort20, smtp, capsys):
    store = cohort20
    assert invite(store, smtp) == 0
    first = {r.rcpt_tos[0]: code_in(r) for r in smtp.received}
    capsys.readouterr()
    assert invite(store, smtp) == 0
    assert len(smtp.received) == 20  # nothing twice the same day
    assert "20 invited today" in capsys.readouterr().out
    assert invite(store, smtp, "--again") == 0
    out = capsys.readouterr().out
    assert "sent 20 invitations" in out and "codes these people had before no longer work" in out
    second = {r.rcpt_tos[0]: code_in(r) for r in smtp.received[20:]}
    assert second.keys() == first.keys()
    for address, old in first.items():
        assert second[address] != old
        with pytest.raises(access.AccessDenied, match="replaced or withdrawn"):
            access.verify(store, old)
        assert access.verify(store, second[address]).participant_id == address.split("@")[0]


def test_a_refused_recipient_is_named_the_rest_still_go_and_keeps_their_code(cohort20, smtp, capsys):
    store = cohort20
    old = access.issue_code(store, "p03")
    smtp.refuse.add("p03@example.org")
    assert invite(store, smtp) == 2
    out = capsys.readouterr().out
    assert "sent 19 invitations" in out
    assert re.search(r"not delivered to Person 03 \(p03, p03@example.org\): the server said 550", out)
    assert len(smtp.received) == 19 and "p03@example.org" not in {r.rcpt_tos[0] for r in smtp.received}
    assert access.verify(store, old).participant_id == "p03"  # the code they had still works
    live = access.codes(store, participant_id="p03")
    assert live["revoked_at"].isna().sum() == 1
    outcomes = store.messages(participant="p03")
    assert outcomes["outcome"].tolist() == ["refused"] and "550" in outcomes["detail"].iloc[0]


def quiet_cohort(store):
    """p01, p02: last check-in 5 days ago; p03: 1 day ago; p04: never (joined 30 days ago);
    p05: quiet but opted out; p06: quiet, no address."""
    store.add_cohort("spring")
    rows = [("p01", "Ann", "ann@example.org"), ("p02", "Bo", "bo@example.org"),
            ("p03", "Cy", "cy@example.org"), ("p04", "Di", "di@example.org"),
            ("p05", "Ed", "ed@example.org"), ("p06", "Flo", None)]
    store.add_participants(pd.DataFrame({"participant_id": [r[0] for r in rows], "name": [r[1] for r in rows],
                                         "email": [r[2] for r in rows],
                                         "joined_on": [TODAY - dt.timedelta(days=30)] * len(rows)}),
                           cohort="spring")
    for pid, ago in (("p01", 5), ("p02", 5), ("p03", 1), ("p05", 9), ("p06", 9)):
        store.record_checkin(pid, TODAY - dt.timedelta(days=ago), ratings={"proactive": 5})
    store.set_opt_out("p05", True)
    return store


def test_nudge_mails_exactly_the_quiet_who_did_not_opt_out_and_twice_sends_nothing_new(store, smtp):
    store = quiet_cohort(store)
    sender = messaging.sender("coach@example.org", name="Casey", page_url=PAGE)
    server = messaging.smtp_server(smtp.url())
    plan = messaging.nudge_preview(store, cohort="spring", quiet_days=3, today=TODAY)
    assert set(plan.loc[plan["will_get"], "participant_id"]) == {"p01", "p02", "p04"}
    reasons = plan.set_index("participant_id")["reason"]
    assert reasons["p03"].startswith("checked in") and reasons["p05"] == "asked for no e-mail"
    assert reasons["p06"] == "no e-mail address"
    result = messaging.nudge(store, cohort="spring", outbox=messaging.SmtpOutbox(server), sender=sender,
                             quiet_days=3, today=TODAY)
    assert sorted(result.loc[result["outcome"] == "sent", "participant_id"]) == ["p01", "p02", "p04"]
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["ann@example.org", "bo@example.org", "di@example.org"]
    by_to = {r.rcpt_tos[0]: r.text() for r in smtp.received}
    assert "5 days since your last check-in" in by_to["ann@example.org"]
    assert "not checked in yet" in by_to["di@example.org"]
    assert "Reminders tab" in by_to["ann@example.org"]
    again = messaging.nudge(store, cohort="spring", outbox=messaging.SmtpOutbox(server), sender=sender,
                            quiet_days=3, today=TODAY)
    assert again.empty and len(smtp.received) == 3
    last = messaging.nudge_preview(store, cohort="spring", today=TODAY).set_index("participant_id")
    assert last.loc[["p01", "p02", "p04"], "last_nudged"].notna().all()
    assert last.loc[["p03", "p05", "p06"], "last_nudged"].isna().all()
    # a longer quiet threshold leaves out those quiet only 5 days
    plan7 = messaging.nudge_preview(store, cohort="spring", quiet_days=7, today=TODAY + dt.timedelta(days=1))
    assert set(plan7.loc[plan7["will_get"], "participant_id"]) == {"p04"}


def test_nudge_from_the_command_line_and_a_refusal(store, smtp, capsys, monkeypatch):
    store = quiet_cohort(store)
    smtp.refuse.add("bo@example.org")
    code = main(["nudge", *mail_args(store, smtp), "--quiet-days", "3", "--today", TODAY.isoformat()])
    out = capsys.readouterr().out
    assert code == 2
    assert "sent 2 reminders" in out and "not delivered to Bo (p02, bo@example.org)" in out
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["ann@example.org", "di@example.org"]


@pytest.mark.parametrize("name", ["<b>Eve</b>", "Eve\r\nBcc: x@example.org", "Eve\nSubject: win"])
def test_names_come_out_as_text_no_header_injection_no_html(store, smtp, name):
    store.add_cohort("spring")
    store.add_participant("eve", name=name, cohort="spring", email="eve@example.org",
                          joined_on=TODAY - dt.timedelta(days=10))
    sender = messaging.sender("coach@example.org", name="Casey\r\nBcc: y@example.org", page_url=PAGE)
    messaging.invite(store, cohort="spring", outbox=messaging.SmtpOutbox(messaging.smtp_server(smtp.url())),
                     sender=sender, today=TODAY)
    messaging.nudge(store, cohort="spring", outbox=messaging.SmtpOutbox(messaging.smtp_server(smtp.url())),
                    sender=sender, today=TODAY)
    assert len(smtp.received) == 2
    for got in smtp.received:
        assert got.rcpt_tos == ["eve@example.org"]
        msg = got.message
        assert msg["Bcc"] is None and msg["Subject"].startswith(("Your personal code", "A friendly reminder"))
        assert [a.addr_spec for a in msg["To"].addresses] == ["eve@example.org"]
        assert [a.addr_spec for a in msg["From"].addresses] == ["coach@example.org"]
        headers = got.data.split(b"\r\n\r\n", 1)[0].decode()
        assert not re.search(r"^(Bcc|Subject: win)", headers, re.M | re.I)
        if "<b>" in name:
            assert "&lt;b&gt;Eve&lt;/b&gt;" in got.html()
        assert "<b>" not in got.html()  # the name is text, not markup
        assert "Hello " + " ".join(name.replace("\r", " ").replace("\n", " ").split()) in got.text()


def test_bad_input_is_one_clear_line_and_nothing_is_marked_sent(cohort20, smtp, capsys, monkeypatch, tmp_path):
    store = cohort20
    before = access.codes(store)
    # an unreachable server: a port nobody listens on
    from smtp_support import free_port

    dead = f"smtp://127.0.0.1:{free_port()}"
    assert main(["invite", "--store", store.url, "--cohort", "spring", "--smtp", dead,
                 "--from", "coach@example.org", "--page-url", PAGE]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot reach the mail server 127.0.0.1" in err and "nothing was sent" in err
    # an address that is not one
    assert main(["participant", "add", "zed", "--cohort", "spring", "--email", "zed@", "--store", store.url]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "mastery: error: email of zed: 'zed@' is not an e-mail address (expected name@example.org)"
    assert not store.has_participant("zed")
    assert main(["invite", *mail_args(store, smtp, "--page-url", PAGE)][:-4] + ["--from", "coach at example"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--from: 'coach at example' is not an e-mail address" in err
    # a cohort with nobody who has an address
    store.add_cohort("empty")
    store.add_participant("solo", name="Solo", cohort="empty")
    assert main(["nudge", "--store", store.url, "--cohort", "empty", "--smtp", smtp.url(),
                 "--from", "coach@example.org"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nobody in cohort 'empty' has an e-mail address" in err
    # a password in the URL, a user without $MASTERY_SMTP_PASSWORD
    assert main(["invite", *mail_args(store, smtp, "--page-url", PAGE)[:-6],
                 "--smtp", "smtp://coach:hunter2@127.0.0.1:25", "--from", "coach@example.org"]) == 1
    err = capsys.readouterr().err
    assert "never put the password in the URL" in err and "hunter2" not in err
    assert main(["invite", *mail_args(store, smtp, "--page-url", PAGE)[:-6],
                 "--smtp", "smtp://coach@127.0.0.1:25", "--from", "coach@example.org"]) == 1
    assert "set $MASTERY_SMTP_PASSWORD" in capsys.readouterr().err
    assert smtp.received == [] and store.messages().empty
    after = access.codes(store)
    pd.testing.assert_frame_equal(before, after)  # no code issued or revoked


def test_plain_smtp_to_a_host_that_is_not_this_machine_needs_tls(monkeypatch):
    server = messaging.smtp_server("smtp://mail.example.org:2525")
    assert not server.loopback and server.port == 2525 and server.user is None
    assert messaging.smtp_server("smtp://localhost").loopback and messaging.smtp_server("smtps://[::1]").port == 465
    with pytest.raises(MailError, match="smtp://user@host:port"):
        messaging.smtp_server("http://mail.example.org")
    monkeypatch.setenv(messaging.PASSWORD_ENV, "s3cret")
    s = messaging.smtp_server("smtps://coach%40example.org@mail.example.org")
    assert s.user == "coach@example.org" and s.password == "s3cret" and "s3cret" not in repr(s) + str(s)


def test_plain_smtp_is_refused_to_a_server_that_is_not_this_machine(cohort20, tmp_path, capsys):
    from smtp_support import outside_address

    host = outside_address()
    if host is None:
        pytest.skip("this machine has no address but loopback")
    server = start_smtp(tmp_path, host=host)  # speaks SMTP without STARTTLS
    try:
        assert main(["invite", "--store", cohort20.url, "--cohort", "spring", "--smtp", server.url(),
                     "--from", "coach@example.org", "--page-url", PAGE]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "does not offer STARTTLS" in err and "nothing was sent" in err
        assert server.received == [] and cohort20.messages().empty and access.codes(cohort20).empty
    finally:
        server.stop()
    # the same server with STARTTLS is fine
    tls = start_smtp(tmp_path, host=host, starttls=True)
    try:
        assert main(["invite", "--store", cohort20.url, "--cohort", "spring", "--smtp", tls.url(),
                     "--smtp-ca", str(tls.cafile), "--from", "coach@example.org", "--page-url", PAGE,
                     "--participant", "p01"]) == 0
        assert [r.rcpt_tos for r in tls.received] == [["p01@example.org"]]
    finally:
        tls.stop()


@pytest.mark.parametrize("mode", ["starttls", "implicit_tls"])
def test_login_over_tls_and_a_wrong_password(tmp_path, cohort20, capsys, monkeypatch, mode):
    store = cohort20
    server = start_smtp(tmp_path, users={"coach": "right horse battery"}, **{mode: True})
    try:
        args = ["invite", "--store", store.url, "--cohort", "spring", "--smtp", server.url("coach"),
                "--smtp-ca", str(server.cafile), "--from", "coach@example.org", "--page-url", PAGE,
                "--participant", "p01"]
        monkeypatch.setenv(messaging.PASSWORD_ENV, "wrong staple")
        assert main(args) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "refused the login of 'coach' (535)" in err
        assert "wrong staple" not in err and "nothing was sent" in err
        assert server.received == [] and store.messages().empty and access.codes(store).empty
        monkeypatch.setenv(messaging.PASSWORD_ENV, "right horse battery")
        assert main(args) == 0
        out, err = capsys.readouterr()
        assert "sent 1 invitation " in out and "right horse" not in out + err
        store.close()
        for path in tmp_path.glob("mastery.db*"):  # the password is never stored
            assert b"right horse battery" not in path.read_bytes()
        assert [r.rcpt_tos for r in server.received] == [["p01@example.org"]]
        # without the CA the server's certificate is not trusted: refused before anything is sent
        assert main([a for a in args if a not in ("--smtp-ca", str(server.cafile))] + ["--again"]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "is not trusted" in err and "--smtp-ca" in err
        assert "nothing was sent" in err
        assert len(server.received) == 1
    finally:
        server.stop()


def test_a_dry_run_writes_eml_files_and_changes_nothing(cohort20, tmp_path, capsys):
    store = cohort20
    folder = tmp_path / "outbox"
    assert main(["invite", "--store", store.url, "--cohort", "spring", "--from", "coach@example.org",
                 "--page-url", PAGE, "--dry-run", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "wrote 20 invitations" in out and "placeholders" in out
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 20
    from email import message_from_bytes, policy

    msg = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["To"].addresses[0].addr_spec == "p01@example.org"
    assert messaging.PLACEHOLDER_CODE in msg.get_body(("plain",)).get_content()
    assert access.codes(store).empty and store.messages().empty


def test_email_addresses_stay_out_of_exports_views_and_participant_frames(cohort20, tmp_path, capsys):
    store = cohort20
    store.set_email("p01", "changed@example.org")
    for fmt in ("csv", "xlsx"):
        for history in (False, True):
            folder = tmp_path / f"export-{fmt}-{history}"
            for path in export_tables(store, folder, format=fmt, history=history):
                data = path.read_bytes()
                assert b"example.org" not in data, path
    assert "email" not in store.participants().columns and "email" not in store.history("participants").columns
    session = access.CoachSession(store, access.Identity("coach", None, "Casey", "spring", None))
    for frame in session.cohort_frames().values():
        assert not frame.astype(str).apply(lambda c: c.str.contains("example.org")).any().any()
    assert main(["participant", "list", "--store", store.url, "--format", "csv"]) == 0
    assert "example.org" not in capsys.readouterr().out


def test_participant_import_reads_an_email_column_and_refuses_a_bad_one(store, tmp_path, capsys):
    store.add_cohort("spring")
    good = tmp_path / "people.csv"
    good.write_text("participant_id,name,email\nann,Ann,ann@example.org\nbob,Bob,\n")
    assert main(["participant", "import", str(good), "--cohort", "spring", "--store", store.url]) == 0
    book = store.contacts()
    assert book["participant_id"].tolist() == ["ann"] and book["email"].tolist() == ["ann@example.org"]
    bad = tmp_path / "bad.csv"
    bad.write_text("participant_id,name,email\ncy,Cy,cy@example.org\ndi,Di,di at example\n")
    assert main(["participant", "import", str(bad), "--cohort", "spring", "--store", store.url]) == 1
    err = capsys.readouterr().err
    assert "row 3, column 'email'" in err and "di at example" in err
    assert not store.has_participant("cy") and len(store.contacts()) == 1  # all or none


def test_participant_email_command_and_forget(cohort20, capsys):
    store = cohort20
    assert main(["participant", "email", "p02", "--opt-out", "--store", store.url]) == 0
    assert main(["participant", "email", "p03", "--remove", "--store", store.url]) == 0
    book = store.contacts().set_index("participant_id")
    assert book.loc["p02", "opted_out"] and pd.isna(book.loc["p03", "email"])
    with pytest.raises(AddressError):
        store.set_email("p04", "not an address")
    assert store.contacts(participant="p04")["email"].iloc[0] == "p04@example.org"
    deleted = store.forget("p02")
    assert deleted["contacts"] == 1 and store.contacts(participant="p02").empty


def test_a_server_that_stops_half_way_says_how_many_went_and_a_rerun_sends_the_rest(cohort20, smtp, capsys):
    store = cohort20
    smtp.handler.fail_after = 3
    assert invite(store, smtp) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "3 invitations had been sent and are recorded" in err
    log = store.messages()
    assert (log["outcome"] == "sent").sum() == 3 and "sending" not in set(log["outcome"])
    # nobody lost their way in: those not reached have no new live code beside their old state
    live = access.codes(store)
    assert live["revoked_at"].isna().sum() == 3
    smtp.handler.fail_after = None
    assert invite(store, smtp) == 0
    assert "sent 17 invitations" in capsys.readouterr().out
    assert len({r.rcpt_tos[0] for r in smtp.received}) == 20 and len(smtp.received) == 20


def test_nudge_plan_on_frames_built_by_hand():
    participation = pd.DataFrame({"participant_id": ["a", "b", "c", "d"], "name": ["A", None, "C", "D"],
                                  "last_check_in": pd.to_datetime(["2026-03-17", "2026-03-18", None, "2026-03-01"])})
    participants = pd.DataFrame({"participant_id": ["a", "b", "c", "d"],
                                 "joined_on": pd.to_datetime(["2026-03-01", "2026-03-01", "2026-03-19", "2026-03-01"])})
    contacts = pd.DataFrame({"participant_id": ["a", "b", "c"], "email": ["a@example.org", "b@example.org", None],
                             "opted_out": [False, False, False]})
    messages = pd.DataFrame({"participant_id": ["d", "a"], "kind": ["nudge", "nudge"],
                             "day": pd.to_datetime(["2026-03-20", "2026-03-10"]), "outcome": ["sent", "sent"],
                             "at": pd.to_datetime(["2026-03-20 08:00", "2026-03-10 08:00"], utc=True)})
    plan = messaging.nudge_plan(participation, participants, contacts, messages, today=TODAY, quiet_days=3)
    rows = plan.set_index("participant_id")
    assert rows["days_quiet"].tolist() == [3, 2, 1, 19]  # c never checked in: counted from joining
    assert rows["will_get"].to_dict() == {"a": True, "b": False, "c": False, "d": False}
    assert rows.loc["d", "reason"] == "no e-mail address" and rows.loc["b", "reason"] == "checked in within 3 days"
    assert rows.loc["a", "last_nudged"] == pd.Timestamp("2026-03-10 08:00", tz="UTC")
    assert bool(rows.loc["d", "nudged_today"])
    assert list(plan.columns) == ["participant_id", "name", "last_check_in", "days_quiet", "quiet", "has_email",
                                  "opted_out", "nudged_today", "last_nudged", "will_get", "reason"]
    with pytest.raises(MasteryError, match="quiet-days"):
        messaging.nudge_plan(participation, participants, contacts, messages, today=TODAY, quiet_days=0)
