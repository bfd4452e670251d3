"""The workshop commands: cohorts, participant lists, consent and access codes."""

import csv
import os
import stat

import pytest

from mastery_analysis import access
from mastery_analysis.cli import main
from mastery_analysis.store import open_store


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch):
    monkeypatch.setattr(access, "SCRYPT_N", 2**10)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def db(tmp_path, capsys):
    path = str(tmp_path / "w.db")
    assert run(capsys, "cohort", "add", "spring", "--store", path)[0] == 0
    return path


def test_cohorts_are_added_once_and_participants_must_name_one(db, capsys):
    code, _, err = run(capsys, "cohort", "add", "spring", "--store", db)
    assert code == 1 and "already exists" in err
    code, _, err = run(capsys, "participant", "add", "zed", "--cohort", "sprng", "--store", db)
    assert code == 1 and "unknown cohort 'sprng'" in err and "known cohorts: spring" in err
    assert run(capsys, "participant", "add", "zed", "--cohort", "spring", "--store", db)[0] == 0
    code, _, err = run(capsys, "cohort", "add", "autumn", "--framework", "nope", "--store", db)
    assert code == 1 and "nope" in err
    assert run(capsys, "cohort", "add", "autumn", "--framework", "wheel_of_life", "--store", db)[0] == 0
    code, out, _ = run(capsys, "cohort", "list", "--format", "csv", "--store", db)
    rows = list(csv.DictReader(out.splitlines()))
    assert [(r["name"], r["framework"], r["members"]) for r in rows] == [
        ("autumn", "wheel_of_life", "0"), ("spring", "career_mastery", "1")]


def test_opening_a_phase(db, capsys):
    assert run(capsys, "cohort", "phase", "spring", "--open", "mid", "--store", db)[0] == 0
    with open_store(db) as s:
        assert s.cohort("spring")["open_phase"] == "mid"
    assert run(capsys, "cohort", "phase", "spring", "--open", "none", "--store", db)[0] == 0
    with open_store(db) as s:
        assert s.cohort("spring")["open_phase"] is None
    code, _, err = run(capsys, "cohort", "phase", "autumn", "--open", "post", "--store", db)
    assert code == 1 and "unknown cohort" in err


def test_import_is_all_or_nothing(db, capsys, tmp_path):
    good = tmp_path / "people.csv"
    good.write_text("participant_id,name,email\nalex,Alex A,a@x.example.org\nsam,,s@x.example.org\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("participant_id,name\nkim,Kim\nbad id,X\nalex,Again\nkim,Twice\n")
    code, _, err = run(capsys, "participant", "import", str(bad), "--cohort", "spring", "--store", db)
    assert code == 1 and "row 3" in err and "bad id" in err
    with open_store(db) as s:
        assert s.participants().empty
    code, out, _ = run(capsys, "participant", "import", str(good), "--cohort", "spring", "--store", db)
    assert code == 0 and "added 2 participants" in out
    code, _, err = run(capsys, "participant", "import", str(bad).replace("bad", "missing"), "--cohort", "spring",
                       "--store", db)
    assert code == 1 and "no such file" in err
    again = tmp_path / "again.csv"
    again.write_text("participant_id,name\nkim,Kim\nalex,Alex\n")
    code, _, err = run(capsys, "participant", "import", str(again), "--cohort", "spring", "--store", db)
    assert code == 1 and "row 3" in err and "already in the store" in err
    with open_store(db) as s:
        people = s.participants()
        assert people[["participant_id", "name", "cohort"]].fillna("-").values.tolist() == [
            ["alex", "Alex A", "spring"], ["sam", "-", "spring"]]


def test_consent(db, capsys):
    run(capsys, "participant", "add", "alex", "--cohort", "spring", "--store", db)
    assert run(capsys, "participant", "consent", "alex", "--share", "yes", "--store", db)[0] == 0
    with open_store(db) as s:
        assert bool(s.participants()["consent_share"].iloc[0]) is True
    assert run(capsys, "participant", "consent", "alex", "--share", "no", "--store", db)[0] == 0
    with open_store(db) as s:
        assert bool(s.participants()["consent_share"].iloc[0]) is False
        assert s.history("participants")["consent_share"].tolist() == [False, True, False]
    code, _, err = run(capsys, "participant", "consent", "nobody", "--share", "no", "--store", db)
    assert code == 1 and "unknown participant" in err


def test_codes_are_printed_once_written_privately_and_revoked(db, capsys, tmp_path):
    for who in ("alex", "sam"):
        run(capsys, "participant", "add", who, "--name", who.title(), "--cohort", "spring", "--store", db)
    code, out, err = run(capsys, "code", "issue", "alex", "--store", db)
    first = out.strip().split(": ")[1]
    assert code == 0 and "shown once" in err
    out_file = tmp_path / "codes.csv"
    code, out, _ = run(capsys, "code", "issue", "--cohort", "spring", "--out", str(out_file), "--store", db)
    assert code == 0 and "wrote 2 new codes" in out and "-" not in out.split("codes to")[0]
    assert stat.S_IMODE(os.stat(out_file).st_mode) == 0o600
    rows = list(csv.DictReader(out_file.open()))
    assert [(r["participant_id"], r["name"]) for r in rows] == [("alex", "Alex"), ("sam", "Sam")]
    with open_store(db) as s:
        with pytest.raises(access.AccessDenied, match="replaced"):
            access.verify(s, first)
        assert access.verify(s, rows[1]["code"]).participant_id == "sam"
    code, _, err = run(capsys, "code", "issue", "--cohort", "spring", "--out", str(out_file), "--store", db)
    assert code == 1 and "already exists" in err
    code, out, _ = run(capsys, "code", "issue", "--coach", "kim", "--cohort", "spring", "--store", db)
    coach_code = out.strip().split(": ")[1]
    assert run(capsys, "code", "revoke", "sam", "--store", db)[1].strip() == "revoked 1 code"
    code, out, _ = run(capsys, "code", "list", "--format", "csv", "--store", db)
    listed = list(csv.DictReader(out.splitlines()))
    assert len(listed) == 4 and all("scrypt" not in str(r) for r in listed)
    with open_store(db) as s:
        with pytest.raises(access.AccessDenied, match="replaced"):
            access.verify(s, rows[1]["code"])
        assert access.verify(s, rows[0]["code"]).participant_id == "alex"
        assert access.verify(s, coach_code).coach == "kim"
    for argv, message in ((("code", "issue"), "give one participant id"),
                          (("code", "issue", "--coach", "kim"), "--coach NAME --cohort NAME"),
                          (("code", "issue", "nobody"), "unknown participant"),
                          (("code", "revoke"), "give a participant id")):
        code, _, err = run(capsys, *argv, "--store", db)
        assert code == 1 and message in err, (argv, err)


def test_forget_takes_the_codes_too(db, capsys):
    run(capsys, "participant", "add", "alex", "--cohort", "spring", "--store", db)
    run(capsys, "code", "issue", "alex", "--store", db)
    code, out, _ = run(capsys, "participant", "forget", "alex", "--yes", "--store", db)
    assert code == 0 and "1 access_codes" in out
    with open_store(db) as s:
        assert access.codes(s).empty
