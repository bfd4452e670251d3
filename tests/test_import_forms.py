"""Google Forms, Microsoft Forms and Typeform exports: every real file in the fixtures.

Each real export is read through ``outside_fixture``; a draft mapping is suggested for it,
and with a mapping written here for its rating-like columns, the import gives the counts
the file itself holds (counted here with the csv module or openpyxl, never copied from
what the importer printed), on the days written in the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest
import yaml

from mastery_analysis.errors import AmbiguousDateError, ImportFormatError, MappingError
from mastery_analysis.importers import forms, google_forms, mapping as M, microsoft_forms, typeform
from mastery_analysis.importers._parse import read_table
from mastery_analysis.schema import validate
from outside_fixtures import outside_fixture

AGREE7 = {"Strongly disagree": 1, "Disagree": 2, "Slightly disagree": 3,
          "Neither agree nor disagree": 4, "Slightly agree": 5, "Agree": 6, "Strongly agree": 7,
          "Slight agree": 5, "Not applicable": "skip"}
ACUERDO = {"Totalmente en desacuerdo": 1, "En desacuerdo": 2, "Neutral": 3, "De acuerdo": 4,
           "Totalmente de acuerdo": 5}
YES_NO = {"Yes": 1, "No": 0}
EXPERIENCE = {"0-5 años": 1, "5-15 años": 2, "15-25 años": 3, "más de 25 años": 4}
RANK = {"1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
TIM51_NUMERIC = [
    "Koliko ste upoznati s procesom pridruživanja Bosne i Hercegovine Europskoj uniji?",
    "Na skali od 1 do 5, koliko ste optimistični u vezi s budućnošću Bosne i Hercegovine kao "
    "članice Europske unije?",
]
R_NUMERIC = [
    "Comparado con otros temas técnicos que aprendiste en clase o en el trabajo, en una escala "
    "del 1 al 5, ¿qué difícil esperas que sea aprender R?",
    "¿Qué tan probable es que recomiendes R a un colega, amiga/o o un familiar?",
]

# (fixture path, format, encoding of the CSV, {column: answers or None for numbers},
#  dayfirst to give, the participant spec)
CASES = {
    "grid": (("google-forms", "chrisroat-pyrcv-grid", "transform_testdata.csv"), "google_forms",
             "utf-8", {f"What is your favorite season? [{s}]": RANK
                       for s in ("Spring", "Summer", "Autumn", "Winter")}, False, None),
    "edubots-uni": (("google-forms", "jj-edubots-paper-es", "encuesta-edubots-uni.csv"),
                    "google_forms", "utf-8", {"Experiencia docente": EXPERIENCE}, None, None),
    "edubots-2021": (("google-forms", "jj-edubots-paper-es", "survey-student-interaction-2021.csv"),
                     "google_forms", "utf-8", {"Experiencia docente": EXPERIENCE}, None, None),
    "pru": (("google-forms", "jthh-pru-feedback", "sample.csv"), "google_forms", "utf-8",
            {"I prefer online classes to physical classes.": AGREE7,
             "I feel safe studying in NUS.": AGREE7,
             "I feel safe living in NUS residences.": AGREE7}, None, None),
    "ce301": (("google-forms", "lineu96-quest-ce301-ptbr",
               "estbas (respostas) - Respostas ao formulário 1.csv"), "google_forms", "utf-8",
              {"Qual a importância que você atribui à Estatística?": None}, None, None),
    "mepc24": (("google-forms", "lineu96-quest-mepc24-ptbr", "respostas-2022.csv"), "google_forms",
               "utf-8", {"Qual a importância que você atribui à Estatística no seu trabalho de "
                         "Pós-Graduação/Pesquisa?": None}, None, None),
    "tim51-sheets": (("google-forms", "muxbh28-tim51-bosnian", "TIM51 (Responses) - Form responses 1.csv"),
                     "google_forms", "utf-8", {c: None for c in TIM51_NUMERIC}, None, None),
    "tim51-forms": (("google-forms", "muxbh28-tim51-bosnian", "google_forms.csv"), "google_forms",
                    "utf-8", {c: None for c in TIM51_NUMERIC}, None, None),
    "r-survey-csv": (("google-forms", "rstudio-r-community-survey-2019-es",
                      "2019 Spanish R Community Survey Responses.csv"), "google_forms", "utf-8",
                     {c: None for c in R_NUMERIC}, None, None),
    "r-survey-xlsx": (("google-forms", "rstudio-r-community-survey-2019-es",
                       "2019 Spanish R Community Survey Responses.xlsx"), "google_forms", None,
                      {c: None for c in R_NUMERIC}, None, None),
    "workshop-names": (("google-forms", "sshah98-gw-data-workshop", "Form Responses 1.csv"),
                       "google_forms", "utf-8", {}, False, {"column": "Full Name", "kind": "name"}),
    "hotdog-sheets": (("google-forms", "uvads-ds4002-hotdog",
                       "Hot Dog Classification Survey_ Is it a Sandwich_  (Responses) - Form Responses 1.csv"),
                      "google_forms", "utf-8",
                      {"Do you believe that a hotdog falls under the category of a sandwich?": YES_NO},
                      None, None),
    "hotdog-xlsx": (("google-forms", "uvads-ds4002-hotdog",
                     "Hot Dog Classification Survey_ Is it a Sandwich_  (Responses).xlsx"),
                    "google_forms", None,
                    {"Do you believe that a hotdog falls under the category of a sandwich?": YES_NO},
                    None, None),
    "hotdog-bom": (("google-forms", "uvads-ds4002-hotdog", "Is hotdog a sandwich_ (Responses).csv"),
                   "google_forms", "utf-8-sig",
                   {"What year are you in?": None, "Is hotdog a sandwich?": YES_NO}, None, None),
    "msforms-xlsx": (("microsoft-forms", "ketsa143-design-thinking-es", "encuesta.xlsx"),
                     "microsoft_forms", None,
                     {"¿En su opinión, la IA tiene beneficios prácticos en sus estudios?": ACUERDO,
                      "¿En su opinión, la IA puede afectar negativamente en su vida académica?": ACUERDO},
                     None, None),
    "msforms-csv": (("microsoft-forms", "uvads-ds4002-hotdog-fa24", "Hot-Dog-Form-Fa24.csv"),
                    "microsoft_forms", "cp1252",
                    {"Is a hotdog a sandwich": YES_NO, "Are you a UVA undergraduate student": YES_NO},
                    False, None),
    "typeform": (("typeform", "maximorose-opportunitegp-fr", "res_YvBfAdHB.csv"), "typeform", "utf-8",
                 {"Si vous deviez noter votre aisance personnelle avec l'informatique, combien "
                  "vous donneriez vous ?": None,
                  "Pensez-vous qu'il est important d'apprendre l'informatique à l'école ?": None},
                 None, None),
    "typeform-early": (("typeform", "maximorose-opportunitegp-fr", "responses.csv"), "typeform",
                       "utf-8", {"Pensez-vous que ce serait une bonne chose d'en avoir un ?": None},
                       None, None),
}


def _file_rows(path, encoding):
    """Header and data rows as the file holds them (csv module or openpyxl)."""
    if encoding is None:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        ws = book.worksheets[0]
        ws.reset_dimensions()
        rows = [["" if v is None else v for v in r] for r in ws.iter_rows(values_only=True)]
        book.close()
        rows = [r for r in rows if any(str(v).strip() for v in r)]
    else:
        with open(path, encoding=encoding, newline="") as fh:
            rows = [r for r in csv.reader(fh) if r]
    header = [str(h).strip() for h in rows[0]]
    return header, rows[1:]


def _expected_count(path, encoding, columns):
    header, rows = _file_rows(path, encoding)
    total = 0
    for column, answers in columns.items():
        j = header.index(column)
        for r in rows:
            cell = str(r[j]).strip() if j < len(r) else ""
            if not cell:
                continue
            if answers is not None and answers.get(cell, answers.get(cell.strip())) == "skip":
                continue
            total += 1
    return total, len(rows)


def _mapping(columns, dayfirst, participant, instrument="survey"):
    spec = {"participant": participant or {"kind": "anonymous", "prefix": "r-"},
            "instrument": instrument, "phase": "baseline",
            "columns": {c: ({"item": f"q{i + 1}"} | ({"answers": a} if a is not None else {}))
                        for i, (c, a) in enumerate(columns.items())}}
    if dayfirst is not None:
        spec["timestamp"] = {"dayfirst": dayfirst}
    return spec


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_form_fixture_imports_with_the_counts_of_the_file(case):
    parts, fmt, encoding, columns, dayfirst, participant = CASES[case]
    path = outside_fixture(*parts)
    assert M.detect(path) == fmt
    draft = M.suggest_mapping(path)
    data = yaml.safe_load(draft)
    assert data["format"] == fmt
    table = read_table(path)
    assert data["timestamp"]["column"] in table.columns
    result = forms.read(path, mapping=_mapping(columns, dayfirst, participant))
    assert result.format == fmt
    assert len(result.rejected) == 0, result.rejected.to_dict("records")
    expected, n_rows = _expected_count(path, encoding, columns)
    responses = result.frames.get("responses", pd.DataFrame())
    assert len(responses) == expected
    people = result.frames["participants"]
    if participant is None:  # anonymous: each response its own participant
        assert len(people) == n_rows
    else:
        header, rows = _file_rows(path, encoding)
        j = header.index(participant["column"])
        assert len(people) == len({" ".join(str(r[j]).replace("\u00a0", " ").split()).lower()
                                   for r in rows})
    validate("participants", people)
    if len(responses):
        validate("responses", responses)
        assert set(responses["phase"]) == {"baseline"}
        # each response row is indexed by the line its form response starts on
        assert set(responses.index) <= set(table.lines.tolist())
    # the format's own reader gives the same as the dispatcher
    reader = {"google_forms": google_forms, "microsoft_forms": microsoft_forms,
              "typeform": typeform}[fmt]
    own = reader.read(path, mapping=_mapping(columns, dayfirst, participant))
    pd.testing.assert_frame_equal(own.frames["participants"], people)


@pytest.mark.parametrize("case", ["grid", "workshop-names", "msforms-csv"])
def test_ambiguous_real_dates_are_refused_with_the_hint_then_parse_with_the_option(case):
    parts, fmt, encoding, columns, _, participant = CASES[case]
    path = outside_fixture(*parts)
    with pytest.raises(AmbiguousDateError) as err:
        forms.read(path, mapping=_mapping(columns, None, participant))
    assert "--dayfirst" in str(err.value) and "--monthfirst" in str(err.value)
    assert str(path) in str(err.value)
    # the suggestion leaves the choice open, and says so
    assert "dayfirst:   # the column cannot tell" in M.suggest_mapping(path)
    month = forms.read(path, mapping=_mapping(columns, None, participant), dayfirst=False)
    day = forms.read(path, mapping=_mapping(columns, None, participant), dayfirst=True)
    header, rows = _file_rows(path, encoding)
    ts = header.index("Completion time" if fmt == "microsoft_forms" else "Timestamp")
    first = rows[0][ts].split()[0]
    a, b, y = (int(x) for x in first.split("/"))
    line = int(read_table(path).lines[0])
    pm = month.frames["participants"]
    assert len(pm) == len(day.frames["participants"])
    if "responses" in month.frames:
        got_m = month.frames["responses"].loc[[line], "date"].iloc[0]
        got_d = day.frames["responses"].loc[[line], "date"].iloc[0]
        assert got_m == pd.Timestamp(y, a, b) and got_d == pd.Timestamp(y, b, a)


def test_names_with_no_break_spaces_become_clean_participants():
    path = outside_fixture("google-forms", "sshah98-gw-data-workshop", "Form Responses 1.csv")
    raw = path.read_bytes().decode("utf-8")
    assert "\u00a0" in raw  # the quirk this file is here for
    result = forms.read(path, mapping={"participant": {"column": "Full Name", "kind": "name"},
                                       "timestamp": {"dayfirst": False}})
    people = result.frames["participants"].set_index("participant_id")
    assert people.loc["bernadette-melugin", "name"] == "Bernadette Melugin"
    assert not any(n != n.strip() or "\u00a0" in n for n in people["name"])


def test_bosnian_sheets_csv_and_its_forms_twin_give_the_same_days():
    sheets = outside_fixture("google-forms", "muxbh28-tim51-bosnian",
                             "TIM51 (Responses) - Form responses 1.csv")
    direct = outside_fixture("google-forms", "muxbh28-tim51-bosnian", "google_forms.csv")
    # read the first responses ourselves: the same person, rendered in two time zones
    _, s_rows = _file_rows(sheets, "utf-8")
    _, d_rows = _file_rows(direct, "utf-8")
    assert s_rows[0][0] == "31/05/2024 23:30:28" and d_rows[0][0] == "2024/06/01 12:30:27 am EEST"
    columns = {c: None for c in TIM51_NUMERIC}
    as_written_s = forms.read(sheets, mapping=_mapping(columns, None, None)).frames["responses"]
    as_written_d = forms.read(direct, mapping=_mapping(columns, None, None)).frames["responses"]
    # the calendar day is the local date as written in each file
    assert as_written_s["date"].iloc[0] == pd.Timestamp(2024, 5, 31)
    assert as_written_d["date"].iloc[0] == pd.Timestamp(2024, 6, 1)
    # with the participants' zone, times that state a zone are converted: same days
    spec = _mapping(columns, None, None)
    spec["timestamp"] = {"timezone": "Europe/Sarajevo"}
    s = forms.read(sheets, mapping=spec).frames["responses"]
    d = forms.read(direct, mapping=spec).frames["responses"]
    assert len(s) == len(d) == _expected_count(sheets, "utf-8", columns)[0]
    assert s["date"].tolist() == d["date"].tolist()
    assert s["value"].tolist() == d["value"].tolist()
    # and the quiz columns of the direct download are the service's, not unmapped answers
    result = forms.read(direct, mapping=spec)
    assert not any("[Score]" in c or "[Feedback]" in c or c == "Total score"
                   for c in result.unmapped["columns"])


def test_sheets_xlsx_serials_give_the_days_of_the_sheets_csv():
    csv_path = outside_fixture("google-forms", "rstudio-r-community-survey-2019-es",
                               "2019 Spanish R Community Survey Responses.csv")
    xlsx_path = outside_fixture("google-forms", "rstudio-r-community-survey-2019-es",
                                "2019 Spanish R Community Survey Responses.xlsx")
    columns = {c: None for c in R_NUMERIC}
    a = forms.read(csv_path, mapping=_mapping(columns, None, None)).frames["responses"]
    b = forms.read(xlsx_path, mapping=_mapping(columns, None, None)).frames["responses"]
    assert a["date"].tolist() == b["date"].tolist() and a["value"].tolist() == b["value"].tolist()
    _, rows = _file_rows(csv_path, "utf-8")
    m, d, y = (int(x) for x in rows[0][0].split()[0].split("/"))
    assert a["date"].iloc[0] == pd.Timestamp(y, m, d)
    # and the hot-dog survey's workbook and CSV agree response by response
    hot_csv = outside_fixture(*CASES["hotdog-sheets"][0])
    hot_xlsx = outside_fixture(*CASES["hotdog-xlsx"][0])
    cols = CASES["hotdog-sheets"][3]
    c = forms.read(hot_csv, mapping=_mapping(cols, None, None)).frames["responses"]
    x = forms.read(hot_xlsx, mapping=_mapping(cols, None, None)).frames["responses"]
    assert c["date"].tolist() == x["date"].tolist() and c["value"].tolist() == x["value"].tolist()


def test_spanish_a_m_with_no_break_space_and_gmt_offsets_parse_to_their_days():
    path = outside_fixture("google-forms", "jj-edubots-paper-es", "survey-student-interaction-2021.csv")
    _, rows = _file_rows(path, "utf-8")
    assert "\u00a0" in rows[0][0]
    result = forms.read(path, mapping=_mapping({"Experiencia docente": EXPERIENCE}, None, None))
    want = [dt.datetime.strptime(r[0].split()[0], "%Y/%m/%d") for r in rows]
    assert result.frames["responses"]["date"].tolist() == [pd.Timestamp(w) for w in want]
    pru = outside_fixture("google-forms", "jthh-pru-feedback", "sample.csv")
    _, rows = _file_rows(pru, "utf-8")
    assert rows[0][0] == "2021/01/23 10:58:38 pm GMT+8"
    got = forms.read(pru, mapping=_mapping({"I feel safe studying in NUS.": AGREE7}, None, None))
    assert got.frames["responses"]["date"].iloc[0] == pd.Timestamp(2021, 1, 23)


def test_spanish_dates_day_first_from_the_column_and_answers_with_trailing_spaces():
    path = outside_fixture("google-forms", "jj-edubots-paper-es", "encuesta-edubots-uni.csv")
    _, rows = _file_rows(path, "utf-8")
    assert rows[0][0] == "8/02/2021 13:30:30"
    result = forms.read(path, mapping=_mapping({"Experiencia docente": EXPERIENCE}, None, None))
    assert result.frames["responses"]["date"].iloc[0] == pd.Timestamp(2021, 2, 8)
    assert any("day-first" in n for n in result.notes)
    ms = outside_fixture("microsoft-forms", "ketsa143-design-thinking-es", "encuesta.xlsx")
    header, rows = _file_rows(ms, None)
    col = "¿En su opinión, la IA puede afectar negativamente en su vida académica?"
    j = header.index(col)
    assert any(str(r[j]) != str(r[j]).rstrip() for r in rows)  # "De acuerdo " as written
    got = forms.read(ms, mapping=_mapping({col: ACUERDO}, None, None)).frames["responses"]
    want = [ACUERDO[str(r[j]).strip()] for r in rows if str(r[j]).strip()]
    assert got["value"].tolist() == want


def test_unmapped_answers_are_listed_and_rejected_with_their_lines():
    path = outside_fixture("google-forms", "jthh-pru-feedback", "sample.csv")
    strict = {k: v for k, v in AGREE7.items() if k != "Slight agree"}
    col = "I prefer online classes to physical classes."
    result = forms.read(path, mapping=_mapping({col: strict}, None, None))
    assert f"{col}: Slight agree" in result.unmapped["answers"]
    bad = result.rejected[result.rejected["value"] == "Slight agree"]
    header, rows = _file_rows(path, "utf-8")
    j = header.index(col)
    table = read_table(path)
    want = [int(table.lines[i]) for i, r in enumerate(rows) if r[j] == "Slight agree"]
    assert sorted(bad["line"].tolist()) == want and want


def test_typeform_option_columns_repeated_other_and_utc_dates():
    path = outside_fixture("typeform", "maximorose-opportunitegp-fr", "res_YvBfAdHB.csv")
    table = read_table(path)
    assert "Other (2)" in table.columns  # repeated 'Other' headers kept apart
    draft = yaml.safe_load(M.suggest_mapping(path))
    option_columns = [c for c in table.columns if c in ("Smartphone professionnel", "Smartphone personnel")]
    assert option_columns and not set(option_columns) & set(draft.get("columns") or {})
    header, rows = _file_rows(path, "utf-8")
    j = header.index("Submit Date (UTC)")
    result = forms.read(path, mapping=_mapping(CASES["typeform"][3], None, None))
    got = result.frames["responses"]
    days = {pd.Timestamp(r[j][:10]) for r in rows}
    assert set(got["date"]) <= days
    assert set(got["participant_id"]) <= {"r-" + r[0] for r in rows}


NEW_TYPEFORM = [
    # the newer exporter's columns, as Typeform documents its CSV download
    ["#", "How proactive were you this week?", "I reach out to people", "Response Type",
     "Start Date (UTC)", "Stage Date (UTC)", "Submit Date (UTC)", "Network ID", "Tags", "Ending"],
    ["a1b2c3", "7", "Agree", "completed", "2024-03-01 23:50:00", "2024-03-01 23:58:00",
     "2024-03-01 23:58:00", "9f1e", "", "Thanks"],
    ["d4e5f6", "4", "Strongly agree", "completed", "2024-03-02 08:00:00", "2024-03-02 08:03:10",
     "2024-03-02 08:03:10", "9f1f", "vip", "Thanks"],
    ["g7h8i9", "9", "", "partial", "2024-03-02 09:00:00", "2024-03-02 09:01:00", "", "9f20", "", ""],
]


def test_newer_typeform_layout_with_partial_responses(tmp_path):
    path = tmp_path / "responses.csv"
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\n").writerows(NEW_TYPEFORM)
    path.write_text(buf.getvalue(), encoding="utf-8")
    assert M.detect(path) == "typeform"
    spec = {"participant": {"kind": "anonymous", "prefix": "tf-"},
            "columns": {"How proactive were you this week?": {"element": "proactive"},
                        "I reach out to people": {"item": "con1", "answers": {
                            "en": {"Strongly disagree": 1, "Disagree": 2, "Neutral": 3,
                                   "Agree": 4, "Strongly agree": 5}}}}}
    result = typeform.read(path, mapping=spec)
    ratings = result.frames["ratings"]
    assert ratings["rating"].tolist() == [7, 4]
    assert ratings["participant_id"].tolist() == ["tf-a1b2c3", "tf-d4e5f6"]
    assert result.frames["responses"]["item"].tolist() == ["con1", "con1"]
    assert any("partial" in n for n in result.notes)
    for meta in ("Response Type", "Stage Date (UTC)", "Tags", "Ending", "Network ID"):
        assert meta not in result.unmapped["columns"]
    # with the participants' zone, the UTC submit time of 23:58 on 1 March is 2 March
    spec["timestamp"] = {"timezone": "Europe/Helsinki"}
    spec["include_partial"] = True
    zoned = typeform.read(path, mapping=spec)
    assert zoned.frames["ratings"]["date"].tolist() == [pd.Timestamp(2024, 3, 2)] * 3


def test_a_form_without_mapping_says_how_to_get_one():
    path = outside_fixture("google-forms", "jthh-pru-feedback", "sample.csv")
    with pytest.raises(MappingError, match="--suggest-mapping"):
        google_forms.read(path)
    with pytest.raises(MappingError, match="--suggest-mapping"):
        forms.read(path)


def test_detect_refuses_what_is_not_a_form(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("name,score\nann,3\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="not an export of a form service"):
        M.detect(path)


def test_mapping_format_must_agree_with_the_file():
    path = outside_fixture("typeform", "maximorose-opportunitegp-fr", "responses.csv")
    spec = _mapping(CASES["typeform-early"][3], None, None) | {"format": "google_forms"}
    with pytest.raises(MappingError, match="'format'"):
        forms.read(path, mapping=spec)
