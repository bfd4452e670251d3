import pytest

from mastery_analysis.errors import FrameworkError
from mastery_analysis.framework import available_frameworks, load_framework


def test_default_framework_has_the_five_elements():
    fw = load_framework()
    assert fw.keys == ["proactive", "connect", "informed", "focused", "potential"]
    assert fw.labels["proactive"] == "Being proactive"
    assert (fw.scale.min, fw.scale.max) == (1, 10)
    assert all(e.prompt and e.description for e in fw.elements)
    assert len(set(fw.colors.values())) == 5
    q = fw.questionnaire
    assert {i.element for i in q.items} == set(fw.keys)
    assert any(i.reverse for i in q.items_for("proactive"))


def test_wheel_of_life_is_shipped():
    assert set(available_frameworks()) >= {"career_mastery", "wheel_of_life"}
    assert len(load_framework("wheel_of_life").elements) == 8


def test_load_from_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nscale: {min: 0, max: 4}\nelements:\n  - {key: calm, label: Calm}\n")
    fw = load_framework(path)
    assert fw.keys == ["calm"] and fw.scale.contains(0) and not fw.scale.contains(5)


@pytest.mark.parametrize("text, message", [
    ("name: x\nscale: {min: 1, max: 10}\n", "missing required field 'elements'"),
    ("name: x\nscale: {min: 5, max: 1}\nelements: [{key: a, label: A}]\n", "must be below max"),
    ("name: x\nscale: {min: 1, max: 5}\nelements: [{key: a, label: A}, {key: a, label: B}]\n",
     "appears twice"),
    ("name: x\nscale: {min: 1, max: 5}\nelements: [{key: Bad Key, label: A}]\n", "lower-case"),
    ("name: x\nscale: {min: 1, max: 5}\nelements: [{key: a, label: A, color: red}]\n", "color"),
    ("name: x\nscale: {min: 1, max: 5}\nelements: [{key: a, label: A}]\nquestionnaire:\n"
     "  instrument: q\n  scale: {min: 1, max: 5}\n  items: [{id: i1, element: b, text: t}]\n",
     "element 'b' is not one of"),
    ("name: [unclosed\n", "not valid YAML"),
    ("name: x\nscale: {min: 1, max: 5}\nelements: [{key: a, label: A}]\nquestionnaire:\n"
     "  instrument: q\n  scale: {min: 1, max: 5}\n  items: [{id: item one, element: a, text: t}]\n",
     "id 'item one' should be an id of letters"),
    ("name: x\nscale: {min: 1, max: 5, labels: {low: L}}\nelements: [{key: a, label: A}]\n",
     "scale labels should map values from 1 to 5"),
    ("name: x\nscale: {min: 1, max: 5}\nelements: [{key: a, label: A, prompt: 5}]\n",
     "field 'prompt' should be text"),
])
def test_bad_framework_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(FrameworkError, match=message) as info:
        load_framework(path)
    assert "bad.yaml" in str(info.value)


def test_unknown_name():
    with pytest.raises(FrameworkError, match="no framework named 'nope'"):
        load_framework("nope")
