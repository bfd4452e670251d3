"""The survey mapping: loading, the errors that name the file and key, answers per
language, and the draft that suggest_mapping writes."""

from __future__ import annotations

import csv
import io

import pytest
import yaml

from mastery_analysis.errors import MappingError
from mastery_analysis.importers import forms, google_forms
from mastery_analysis.importers.mapping import load_mapping, norm_label, suggest_mapping
from outside_fixtures import outside_fixture

GOOD = {
    "participant": {"column": "Email Address", "kind": "email"},
    "timestamp": {"column": "Timestamp"},
    "phase": "baseline",
    "scales": {"agree5": {
        "en": {"Strongly disagree": 1, "Disagree": 2, "Neutral": 3, "Agree": 4, "Strongly agree": 5},
        "es": {"Totalmente en desacuerdo": 1, "En desacuerdo": 2, "Neutral": 3, "De acuerdo": 4,
               "Totalmente de acuerdo": 5}}},
    "columns": {
        "I take the first step": {"item": "pro1", "answers": "agree5"},
        "Tomo la iniciativa": {"item": "pro2", "answers": "agree5"},
        "How proactive (1-10)?": {"element": "proactive"},
        "Where do you want to be (1-10)?": {"element": "proactive", "kind": "vision"},
    },
    "ignore": ["Comments"],
}

FORM = [
    ["Timestamp", "Email Address", "I take the first step", "Tomo la iniciativa",
     "How proactive (1-10)?", "Where do you want to be (1-10)?", "Comments", "Session"],
    ["2024/03/01 9:00:00 am GMT+1", "Ann@Example.org", "Agree", "de acuerdo ", "7", "9", "ok", "Before"],
    ["2024/03/01 10:00:00 am GMT+1", "bob@example.org", " STRONGLY  agree", "Totalmente\u00a0de acuerdo",
     "6", "8", "", "Before"],
    ["2024/03/29 10:00:00 am GMT+1", "ann@example.org", "Strongly agree", "Neutral", "8", "7", "",
     "After"],
]


def _write(tmp_path, rows, name="form.csv"):
    buf = io.StringIO(newline="")
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    path = tmp_path / name
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _yaml(tmp_path, data, name="mapping.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_good_mapping_imports_items_ratings_visions_in_two_languages(tmp_path):
    form = _write(tmp_path, FORM)
    result = google_forms.read(form, mapping=_yaml(tmp_path, GOOD))
    responses = result.frames["responses"]
    assert responses[["participant_id", "item", "value"]].values.tolist() == [
        ["ann@example.org", "pro1", 4.0], ["ann@example.org", "pro2", 4.0],
        ["bob@example.org", "pro1", 5.0], ["bob@example.org", "pro2", 5.0],
        ["ann@example.org", "pro1", 5.0], ["ann@example.org", "pro2", 3.0]]
    assert responses.index.tolist() == [2, 2, 3, 3, 4, 4]  # the file lines
    ratings = result.frames["ratings"]
    assert ratings[["element", "kind", "rating"]].values.tolist() == [
        ["proactive", "current", 7], ["proactive", "vision", 9], ["proactive", "current", 6],
        ["proactive", "vision", 8], ["proactive", "current", 8], ["proactive", "vision", 7]]
    assert set(ratings["source"]) == {"google_forms"}
    assert sorted(result.frames["participants"]["participant_id"]) == ["ann@example.org", "bob@example.org"]
    assert result.unmapped == {"columns": ["Session"], "answers": []}


def test_phase_from_a_column(tmp_path):
    form = _write(tmp_path, FORM)
    spec = dict(GOOD, phase={"column": "Session", "values": {"before": "baseline", "After": "post"}},
                ignore=["Comments"])
    responses = google_forms.read(form, mapping=spec).frames["responses"]
    assert responses["phase"].tolist() == ["baseline"] * 4 + ["post"] * 2
    bad = dict(spec, phase={"column": "Session", "values": {"Before": "baseline"}})
    result = google_forms.read(form, mapping=bad)
    assert result.rejected[["line", "column", "value"]].values.tolist() == [[4, "Session", "After"]]


def test_labels_ignore_case_and_spaces():
    assert norm_label("  Strongly\u00a0 AGREE ") == norm_label("strongly agree")


@pytest.mark.parametrize("change,key", [
    ({"columns": {"I take the first step": {"item": "pro9"}}}, "columns.I take the first step.item"),
    ({"columns": {"Q": {"element": "wisdom"}}}, "columns.Q.element"),
    ({"columns": {"Q": {"element": "proactive", "kind": "dream"}}}, "columns.Q.kind"),
    ({"columns": {"Q": {"item": "pro1", "element": "proactive"}}}, "columns.Q"),
    ({"columns": {"Q": {"item": "pro1", "answers": "agree7"}}}, "columns.Q.answers"),
    ({"columns": {"Q": {"item": "pro1", "answers": {"Agree": "four"}}}}, "columns.Q.answers.Agree"),
    ({"columns": {"Q": {"item": "pro1", "answers": {"Agree": 9}}}}, "columns.Q.answers"),
    ({"columns": {"Q": {"element": "proactive", "answers": {"Top": 11}}}}, "columns.Q.answers"),
    ({"columns": {"Q": {"item": "pro1", "answers": {"Agree": None}}}}, "columns.Q.answers.Agree"),
    ({"columns": {"Q": {"item": "pro1", "colour": "red"}}}, "columns.Q.colour"),
    ({"columns": {"Q": {"item": "x y", "instrument": "mine"}}}, "columns.Q.item"),
    ({"columns": {}, "participant": {"kind": "anonymous"}}, "columns"),
    ({"phase": None}, "phase"),
    ({"phase": "final"}, "phase"),
    ({"phase": {"column": "S", "values": {"a": "later"}}}, "phase.values.a"),
    ({"participant": {"column": "Email Address", "kind": "passport"}}, "participant.kind"),
    ({"participant": {"kind": "email"}}, "participant.column"),
    ({"participant": {"column": "E", "prefix": "a b"}}, "participant.prefix"),
    ({"timestamp": {"dayfirst": "yes"}}, "timestamp.dayfirst"),
    ({"timestamp": {"timezone": "Mars/Olympus"}}, "timestamp.timezone"),
    ({"timestamp": {"format": "%d"}}, "timestamp.format"),
    ({"colums": {}}, "colums"),
    ({"scales": {"s": {"en": {"A": 1}, "es": {"a": 2}}}}, "scales.s.es.a"),
    ({"scales": {"s": {"en": {"A": 1}, "B": 2}}}, "scales.s"),
    ({"format": "surveymonkey"}, "format"),
    ({"ignore": ["How proactive (1-10)?"]}, "ignore"),
    ({"include_partial": "sometimes"}, "include_partial"),
    ({"cohort": "spring cohort"}, "cohort"),
])
def test_bad_mappings_name_the_file_and_the_key(tmp_path, change, key):
    spec = {**GOOD, **change}
    path = _yaml(tmp_path, spec)
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    message = str(err.value)
    assert str(path) in message
    assert key in message or f"'{key.rsplit('.', 1)[-1]}'" in message, message


def test_answers_need_a_phase_ratings_do_not(tmp_path):
    spec = {k: v for k, v in GOOD.items() if k != "phase"}
    path = _yaml(tmp_path, spec)
    with pytest.raises(MappingError, match=r"key 'phase' is missing") as err:
        load_mapping(path)
    assert str(path) in str(err.value)
    only_ratings = dict(spec, columns={"How proactive (1-10)?": {"element": "proactive"}})
    assert load_mapping(only_ratings).columns[0].element == "proactive"


def test_a_column_the_file_lacks_is_named_with_a_close_match(tmp_path):
    form = _write(tmp_path, FORM)
    spec = {**GOOD, "columns": {"I take the first stp": {"item": "pro1", "answers": "agree5"}}}
    path = _yaml(tmp_path, spec)
    with pytest.raises(MappingError) as err:
        google_forms.read(form, mapping=path)
    assert str(path) in str(err.value) and "columns.I take the first stp" in str(err.value)
    assert "did you mean 'I take the first step'" in str(err.value)


def test_unreadable_mapping_files(tmp_path):
    with pytest.raises(MappingError, match="cannot read the mapping file"):
        load_mapping(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: [unclosed", encoding="utf-8")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(bad)
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(MappingError, match="must be a YAML mapping"):
        load_mapping(bad)


def test_a_mapping_for_another_framework(tmp_path):
    spec = {"participant": "Email Address",
            "columns": {"Health (1-10)": {"element": "health"}}}
    with pytest.raises(MappingError, match="'wisdom'|health"):
        load_mapping(spec)  # the default framework has no 'health' element
    loaded = load_mapping(spec, framework="wheel_of_life")
    assert loaded.columns[0].element == "health"


def test_skip_answers_are_no_answer_and_participant_id_option(tmp_path):
    rows = [["Timestamp", "Q"], ["2024-01-02 10:00", "Agree"], ["2024-01-03 10:00", "N/A"],
            ["2024-01-04 10:00", "Disagree"]]
    form = _write(tmp_path, rows)
    spec = {"phase": "post",
            "columns": {"Q": {"item": "pro1", "answers": {"Agree": 4, "Disagree": 2, "n/a": "skip"}}}}
    with pytest.raises(MappingError, match="no 'participant' key"):
        forms.read(form, mapping=spec)
    result = forms.read(form, mapping=spec, participant_id="alex")
    assert result.frames["responses"]["value"].tolist() == [4.0, 2.0]
    assert len(result.rejected) == 0 and result.unmapped["answers"] == []
    assert result.frames["participants"]["participant_id"].tolist() == ["alex"]


def test_same_person_twice_a_day_keeps_the_later_answer(tmp_path):
    rows = [["Timestamp", "Email", "Q"], ["2024-01-02 18:00", "a@x.org", "2"],
            ["2024-01-02 09:00", "a@x.org", "5"], ["2024-01-03 10:00", "a@x.org", "3"]]
    form = _write(tmp_path, rows)
    spec = {"participant": {"column": "Email", "kind": "email"},
            "phase": "mid", "columns": {"Q": {"item": "pro1"}}}
    result = forms.read(form, mapping=spec)
    assert result.frames["responses"]["value"].tolist() == [2.0, 3.0]
    assert any("later response" in n and "line" in n for n in result.notes)


def test_bad_cells_are_rejected_with_lines_not_raised(tmp_path):
    rows = [["Timestamp", "Email", "Q"], ["2024-01-02 18:00", "a@x.org", "2"],
            ["someday", "b@x.org", "3"], ["2024-01-03 10:00", "", "4"],
            ["2024-01-04 10:00", "c@x.org", "lots"], ["2024-01-05 10:00", "d@x.org", "9"]]
    form = _write(tmp_path, rows)
    spec = {"participant": {"column": "Email", "kind": "email"},
            "phase": "mid", "columns": {"Q": {"item": "pro1"}}}
    result = forms.read(form, mapping=spec)
    got = sorted((r["line"], r["column"].split(".")[-1]) for r in result.rejected.to_dict("records"))
    assert got == [(3, "Timestamp"), (4, "Email"), (5, "Q"), (6, "Q")]
    assert "career_mastery_q's scale" in result.rejected["expected"].iloc[-1]
    assert result.frames["responses"]["value"].tolist() == [2.0]


def test_suggested_mapping_finds_timestamp_participants_and_likert_columns(tmp_path):
    form = _write(tmp_path, FORM[:1] + FORM[1:] * 3)
    draft = suggest_mapping(form)
    data = yaml.safe_load(draft)
    assert data["timestamp"]["column"] == "Timestamp"
    assert data["participant"] == {"column": "Email Address", "kind": "email"}
    assert set(data["columns"]) == {"I take the first step", "Tomo la iniciativa",
                                    "How proactive (1-10)?", "Where do you want to be (1-10)?"}
    scales = data["scales"]
    values = {k: v for s in scales.values() for k, v in s.items()}
    assert values["Strongly agree"] == values["Totalmente de acuerdo"] == 5
    assert values["Agree"] == values["De acuerdo"] == 4
    assert "Comments" in {next(iter(x)) if isinstance(x, dict) else x for x in data["ignore"]}
    # the draft loads and imports as it is
    result = forms.read(form, mapping=data)
    assert len(result.frames["responses"]) == 12 and len(result.rejected) == 0


def test_draft_leaves_unrecognised_answers_for_the_coach():
    path = outside_fixture("google-forms", "jthh-pru-feedback", "sample.csv")
    draft = suggest_mapping(path)
    assert '"Slight agree":   # close to \'Slightly agree\'' in draft
    with pytest.raises(MappingError, match="has no number"):
        load_mapping(yaml.safe_load(draft))
    filled = draft.replace('"Slight agree":   #', '"Slight agree": 5   #').replace(
        '"Generally":', '"Generally": 4').replace('"Not applicable":', '"Not applicable": skip')
    result = forms.read(path, mapping=yaml.safe_load(filled))
    assert len(result.rejected) == 0
    assert result.unmapped["columns"] == []  # every other column is listed under ignore


def test_suggestion_on_a_grid_and_a_quiz_export():
    quiz = outside_fixture("google-forms", "muxbh28-tim51-bosnian", "google_forms.csv")
    data = yaml.safe_load(suggest_mapping(quiz))
    assert not any("[Score]" in c or "[Feedback]" in c for c in data["columns"])
    ignored = [next(iter(x)) if isinstance(x, dict) else x for x in data["ignore"]]
    assert "Total score" in ignored
    with quiz.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert all(c in header for c in data["columns"])
    # numeric 1-5 answers of the quiz questions are found as Likert-like
    assert "Na skali od 1 do 5, koliko ste optimistični u vezi s budućnošću Bosne i Hercegovine " \
           "kao članice Europske unije?" in data["columns"]


@pytest.mark.parametrize("parts,column,separator", [
    (("google-forms", "jj-edubots-paper-es", "survey-student-interaction-2021.csv"),
     "Titulaciones que imparte", ";"),
    (("google-forms", "jj-edubots-paper-es", "encuesta-edubots-uni.csv"),
     "Titulaciones que imparte", ", "),
    (("google-forms", "lineu96-quest-mepc24-ptbr", "respostas-2022.csv"),
     "De quais redes sociais você participa?", ", "),
])
def test_checkbox_answers_joined_either_way_are_not_taken_for_ratings(parts, column, separator):
    path = outside_fixture(*parts)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert any(separator in r[column] for r in rows)  # the file joins answers this way
    draft = suggest_mapping(path)
    assert column not in (yaml.safe_load(draft).get("columns") or {})
    line = next(x for x in draft.splitlines() if x.startswith(f'  - "{column}"'))
    assert "checkbox question" in line


def test_columns_can_map_to_a_shipped_instruments_items(tmp_path):
    agree4 = {"Strongly disagree": 1, "Disagree": 2, "Agree": 3, "Strongly agree": 4}
    spec = dict(GOOD, columns={
        "There is really no way I can solve some of the problems I have":
            {"instrument": "pearlin_mastery", "item": "pm1", "answers": agree4},
        "I take the first step": {"item": "pro1", "answers": "agree5"}})
    mapping = load_mapping(_yaml(tmp_path, spec))
    assert [(c.instrument, c.item) for c in mapping.columns] == [("pearlin_mastery", "pm1"),
                                                                 ("career_mastery_q", "pro1")]
    bad_item = dict(spec, columns={"Q": {"instrument": "pearlin_mastery", "item": "pm9"}})
    with pytest.raises(MappingError, match=r"'pm9', which is not an item of pearlin_mastery"):
        load_mapping(_yaml(tmp_path, bad_item))
    off_scale = dict(spec, columns={"Q": {"instrument": "pearlin_mastery", "item": "pm1", "answers": "agree5"}})
    with pytest.raises(MappingError, match=r"gives 5, outside pearlin_mastery's scale \(an integer from 1 to 4\)"):
        load_mapping(_yaml(tmp_path, off_scale))
