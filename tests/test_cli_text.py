"""The terminal speaks sentences, and every table fits 100 columns or says how to see the rest."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from mastery_analysis.analysis.findings import insights
from mastery_analysis.cli import fit_columns, main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_insights_are_sentences_by_default(demo_store_path, demo_store, capsys):
    out = run(capsys, "stats", "insights", "--participant", "alex", "--store", str(demo_store_path))
    lines = out.splitlines()
    assert lines[0] == "What the data of alex says:"
    assert max(map(len, lines)) <= 100
    expected = insights(demo_store.ratings(participant="alex"), demo_store.actions(participant="alex"),
                        demo_store.progress(participant="alex"), demo_store.goals(participant="alex"),
                        participant_id="alex", framework=demo_store.framework)
    flowing = " ".join(line.strip() for line in lines)
    for text in expected["text"]:  # every finding is there, word for word
        assert f"- {text}" in flowing
    assert "q < 0.001" in flowing and "Trends" in lines
    assert "--format table" in lines[-1]
    for line in lines:  # "q < 0.001" is never split over two lines
        assert not line.rstrip().endswith((" <", " =", " q"))


def test_insights_table_and_csv_carry_the_numbers(demo_store_path, capsys):
    table = run(capsys, "stats", "insights", "--participant", "alex", "--store", str(demo_store_path),
                "--format", "table")
    assert "Estimate" in table and "< 0.001" in table and "Being proactive" in table
    assert max(map(len, table.splitlines())) <= 100
    csv = run(capsys, "stats", "insights", "--participant", "alex", "--store", str(demo_store_path),
              "--format", "csv")
    frame = pd.read_csv(io.StringIO(csv))
    assert "text" in frame.columns and frame["p_value"].min() < 1e-6  # unrounded


@pytest.mark.parametrize("argv", [
    ["stats", "trends", "--participant", "alex"], ["stats", "habits", "--participant", "alex"],
    ["stats", "correlations", "--participant", "alex"], ["stats", "goals", "--participant", "alex"],
    ["stats", "correlations", "--cohort", "spring-cohort"],
    ["stats", "cohort-change", "--cohort", "spring-cohort"], ["participant", "list"],
])
def test_every_table_fits_100_columns_or_names_what_it_left_out(demo_store_path, capsys, argv):
    out = run(capsys, *argv, "--store", str(demo_store_path))
    lines = out.splitlines()
    assert max(map(len, lines)) <= 100, max(lines, key=len)
    assert not any("_" in word for word in lines[0].split() if word != "d_z"), lines[0]  # d_z: a symbol
    if "not shown" in out:
        assert "--format csv or --format json prints every column" in " ".join(lines)
    full = json.loads(run(capsys, *argv, "--store", str(demo_store_path), "--format", "json"))
    assert full and len(full[0]) >= 3


def test_trends_show_labels_and_rounded_p_values(demo_store_path, capsys):
    out = run(capsys, "stats", "trends", "--participant", "alex", "--store", str(demo_store_path))
    assert "Being proactive" in out and "proactive " not in out.replace("Being proactive", "")
    assert "< 0.001" in out and "e-" not in out
    assert "alex" not in out  # one person's table does not repeat their id


def test_fit_columns_keeps_order_and_reports_what_it_dropped():
    frame = pd.DataFrame({"a": ["x" * 30], "b": ["y" * 50], "c": ["z" * 10], "d": ["w" * 40]})
    kept, left_out = fit_columns(frame, 60)
    assert list(kept.columns) == ["a", "c"] and left_out == ["b", "d"]
    kept, left_out = fit_columns(frame, 200)
    assert list(kept.columns) == list("abcd") and left_out == []
