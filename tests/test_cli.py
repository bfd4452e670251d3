import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from mastery_analysis.cli import main
from mastery_analysis.store import SCHEMA_VERSION, open_store


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_demo_list_export_forget(tmp_path, capsys):
    db = str(tmp_path / "m.db")
    code, out, _ = run(capsys, "init", "--store", db)
    assert code == 0 and f"schema version {SCHEMA_VERSION}" in out
    code, out, _ = run(capsys, "demo", "--store", db)
    assert code == 0 and "5220 ratings" in out and "2 experiments" in out
    code, _, err = run(capsys, "demo", "--store", db)
    assert code == 1 and "already in" in err and "Traceback" not in err
    code, out, _ = run(capsys, "demo", "--store", db, "--if-empty")
    assert code == 0 and "nothing to do" in out

    code, out, _ = run(capsys, "participant", "list", "--store", db, "--cohort", "spring-cohort",
                       "--format", "json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 24 and {r["cohort"] for r in rows} == {"spring-cohort"}

    code, out, _ = run(capsys, "export", "--store", db, "--out", str(tmp_path / "csv"))
    assert code == 0
    ratings = pd.read_csv(tmp_path / "csv" / "ratings.csv")
    assert len(ratings) == 5220
    code, out, _ = run(capsys, "export", "--store", db, "--out", str(tmp_path / "pq"), "--format", "parquet")
    assert code == 0
    assert pd.read_parquet(tmp_path / "pq" / "responses.parquet").shape[0] == 1052

    code, out, _ = run(capsys, "participant", "forget", "sc01", "--yes", "--store", db)
    assert code == 0 and "rows deleted" in out
    with open_store(db) as s:
        assert not s.has_participant("sc01")
        assert s.has_participant("sc02")


def test_participant_add_and_errors(tmp_path, capsys):
    db = str(tmp_path / "m.db")
    code, _, err = run(capsys, "participant", "add", "kim", "--cohort", "c1", "--store", db)
    assert code == 1 and "unknown cohort 'c1'" in err  # a typo is not a new cohort
    assert run(capsys, "cohort", "add", "c1", "--store", db)[0] == 0
    code, out, _ = run(capsys, "participant", "add", "kim", "--name", "Kim", "--cohort", "c1",
                       "--consent-share", "--store", db)
    assert code == 0
    with open_store(db) as s:
        p = s.participants()
        assert p[["participant_id", "name", "cohort", "consent_share"]].values.tolist() == [
            ["kim", "Kim", "c1", True]]
    code, _, err = run(capsys, "participant", "add", "kim", "--store", db)
    assert code == 1 and "already exists" in err
    code, _, err = run(capsys, "participant", "add", "bad id", "--store", db)
    assert code == 1 and "'participant_id': got 'bad id'" in err
    code, _, err = run(capsys, "participant", "add", "lee", "--joined-on", "yesterday-ish", "--store", db)
    assert code == 1 and "joined_on" in err
    code, _, err = run(capsys, "participant", "forget", "nobody", "--yes", "--store", db)
    assert code == 1 and "unknown participant 'nobody'" in err
    code, _, err = run(capsys, "participant", "list", "--store", str(tmp_path / "none.db"))
    assert code == 1 and "no store at" in err
    assert not (tmp_path / "none.db").exists()


def test_forget_without_yes_and_no_terminal_refuses(tmp_path):
    db = str(tmp_path / "m.db")
    with open_store(db) as s:
        s.add_participant("kim")
    proc = subprocess.run([sys.executable, "-m", "mastery_analysis.cli", "participant", "forget", "kim",
                           "--store", db], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "add --yes" in proc.stderr and "Traceback" not in proc.stderr
    with open_store(db) as s:
        assert s.has_participant("kim")


@pytest.mark.parametrize("argv", [["--help"], ["init", "--help"], ["demo", "--help"],
                                  ["export", "--help"], ["participant", "--help"],
                                  ["participant", "add", "--help"], ["participant", "list", "--help"],
                                  ["participant", "forget", "--help"], ["report", "--help"],
                                  ["report", "personal", "--help"], ["report", "cohort", "--help"],
                                  ["stats", "--help"]])
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: mastery" in out and len(out.splitlines()) > 3


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "mastery"  # the entry point pip installed beside python
    assert script.exists(), f"no `mastery` command in {script.parent}"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("mastery-analysis ")


def _newer_store(path):
    open_store(path).close()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = '999' WHERE key = 'schema_version'"))
    engine.dispose()


@pytest.mark.parametrize("make, argv, needle", [
    (lambda p: p.write_bytes(b"not a database" * 200), ["participant", "list"], "not a mastery store"),
    (_newer_store, ["participant", "add", "kim"], "newer mastery-analysis"),
    (lambda p: open_store(p).close(), ["export", "--out", "/proc/no-such-dir"], "cannot write to"),
])
def test_store_problems_are_one_message_and_change_nothing(tmp_path, make, argv, needle):
    db = tmp_path / "m.db"
    make(db)
    before = db.read_bytes()
    proc = subprocess.run([sys.executable, "-m", "mastery_analysis.cli", *argv, "--store", str(db)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert db.read_bytes() == before
