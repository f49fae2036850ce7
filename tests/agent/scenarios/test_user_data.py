"""A user's own JSONL or CSV data, mapped to items through a scenario's `fields:`."""

from __future__ import annotations

import json

import pytest

from agent.errors import ConfigurationError
from agent.scenarios import DataFileError, load_data, load_parts, load_scenario
from tests.fixtures.scenarios import WriteFile

REVIEWS = [
    {"uid": "r1", "body": "Great service, fast delivery.", "label": "positive", "shop": "north"},
    {"uid": "r2", "body": "Cold food and a long wait.", "label": "negative", "shop": "south"},
    {"uid": "r3", "body": "Lovely staff.", "label": "positive", "shop": "south"},
]
REVIEWS_SCENARIO = """\
description: Our shop reviews.
dataset: jsonl
path: data/reviews.jsonl
licence: internal use only
task:
  kind: classification
  instruction: Is the review positive or negative?
  labels: [positive, negative]
fields:
  inputs: {text: body}
  gold: label
  id: uid
  meta: [shop]
tests: [counterfactual, redaction]
"""
QUIZ_CSV = """\
qid;question;a;b;c;answer
q1;Which is a fruit?;apple;chair;stone;A
q2;Which one flies?;rock;bird;;bird
"""
QUIZ_SCENARIO = """\
dataset: csv
path: quiz.csv
options: {delimiter: ";"}
task: {kind: multiple_choice, instruction: Choose the right answer.}
fields:
  inputs: [question]
  options: [a, b, c]
  gold: answer
  id: qid
tests: [biasing-features]
"""


def write_reviews(write_file: WriteFile, rows: list[dict[str, str]] = REVIEWS) -> None:
    write_file("data/reviews.jsonl", "".join(json.dumps(row) + "\n" for row in rows))


def test_jsonl_classification_scenario_loads_by_name(write_file: WriteFile) -> None:
    write_reviews(write_file)
    write_file("reviews.yaml", REVIEWS_SCENARIO)
    data = load_data(load_scenario("reviews"))
    assert data.task.kind == "classification"
    assert data.task.labels == ("positive", "negative")
    assert data.task.instruction == "Is the review positive or negative?"
    assert [item.id for item in data.items] == ["r1", "r2", "r3"]
    assert data.items[1].fields == {"text": "Cold food and a long wait."}
    assert data.items[1].gold == "negative"
    assert data.items[1].meta == {"shop": "south"}
    assert data.scenario.licence == "internal use only"


def test_csv_multiple_choice_with_letter_or_text_golds(write_file: WriteFile) -> None:
    write_file("quiz.csv", QUIZ_CSV)
    path = write_file("quiz.yaml", QUIZ_SCENARIO)
    data = load_data(load_scenario(path))
    first, second = data.items
    assert first.fields == {"question": "Which is a fruit?"}
    assert (first.options, first.gold) == (["apple", "chair", "stone"], "A")
    assert (second.options, second.gold) == (["rock", "bird"], "B")  # empty trailing option cell dropped


def test_jsonl_options_column_and_default_ids(write_file: WriteFile) -> None:
    write_file(
        "data/mc.jsonl", '{"q": "2+2?", "choices": ["3", "4"], "a": "B"}\n\n{"q": "1+1?", "choices": ["2"], "a": "2"}\n'
    )
    path = write_file(
        "mc.yaml",
        "dataset: jsonl\npath: data/mc.jsonl\ntask: {kind: multiple_choice, instruction: Pick one.}\n"
        "fields: {inputs: [q], options: choices, gold: a}\n",
    )
    data = load_data(load_scenario(path))
    assert [item.id for item in data.items] == ["row-1", "row-2"]
    assert [item.gold for item in data.items] == ["B", "A"]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"uid": "r1", "body": "fine", "label": "meh", "shop": "x"}], r"reviews.jsonl:1: gold 'meh' is not one of"),
        ([{"uid": "r1", "text": "fine", "label": "positive", "shop": "x"}], r"reviews.jsonl:1: no column 'body'"),
        (
            [REVIEWS[0], {**REVIEWS[1], "uid": "r1"}],
            r"reviews.jsonl:2: id 'r1' repeats the id on line 1",
        ),
    ],
)
def test_bad_rows_name_the_file_and_line(write_file: WriteFile, rows: list[dict[str, str]], expected: str) -> None:
    write_reviews(write_file, rows)
    path = write_file("reviews.yaml", REVIEWS_SCENARIO)
    with pytest.raises(DataFileError, match=expected) as caught:
        load_data(load_scenario(path))
    assert "\n" not in str(caught.value)


def test_broken_json_and_missing_file_are_one_line_errors(write_file: WriteFile) -> None:
    write_file("data/reviews.jsonl", '{"uid": "r1", "body": "ok"\n')
    path = write_file("reviews.yaml", REVIEWS_SCENARIO)
    with pytest.raises(DataFileError, match=r"reviews.jsonl:1: not valid JSON"):
        load_data(load_scenario(path))
    (path.parent / "data" / "reviews.jsonl").unlink()
    with pytest.raises(DataFileError, match=r"reviews.jsonl: data file is missing"):
        load_data(load_scenario(path))


def test_mapping_problems_are_caught_before_loading(write_file: WriteFile) -> None:
    bad_edit = REVIEWS_SCENARIO.replace("  meta: [shop]", "  meta: [shop]\n  edit_field: title")
    path = write_file("reviews.yaml", bad_edit)
    with pytest.raises(ConfigurationError, match=r"field 'fields.edit_field': expected one of the input fields"):
        load_scenario(path)
    no_options = QUIZ_SCENARIO.replace("  options: [a, b, c]\n", "")
    path = write_file("quiz.yaml", no_options)
    with pytest.raises(ConfigurationError, match=r"field 'fields.options': a multiple_choice task needs"):
        load_scenario(path)


def test_a_suite_mixes_user_and_builtin_scenarios(write_file: WriteFile) -> None:
    write_reviews(write_file)
    write_file("reviews.yaml", REVIEWS_SCENARIO)
    path = write_file(
        "mixed.yaml",
        "dataset: suite\nparts:\n"
        "  - {scenario: reviews.yaml, limit: 2}\n"
        "  - {scenario: sst2, limit: 3, tests: [importance]}\n",
    )
    reviews, sst2 = load_parts(load_scenario(path))
    assert len(reviews.items) == 2
    assert reviews.scenario.tests == ["counterfactual", "redaction"]
    assert (len(sst2.items), sst2.scenario.tests) == (3, ["importance"])
