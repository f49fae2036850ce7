"""Scenario files: the shipped ones validate, malformed ones fail with one line naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigurationError
from agent.resources import scenarios_dir
from agent.scenarios import (
    TEST_NAMES,
    ScenarioError,
    known_test_names,
    list_scenarios,
    load_data,
    load_parts,
    load_scenario,
    resolve_parts,
    scenario_hash,
    set_test_name_source,
)
from tests.fixtures.scenarios import WriteFile

SHIPPED = sorted(path.stem for path in scenarios_dir().glob("*.yaml"))


def test_every_shipped_scenario_validates_and_loads() -> None:
    scenarios = {scenario.name: scenario for scenario in list_scenarios()}
    assert set(SHIPPED) <= set(scenarios)
    assert {"bbh", "esnli", "cose", "comve", "dynasent", "sst2", "gsm8k", "truthfulqa", "aqua", "arc_challenge"} <= set(
        scenarios
    )
    for name in SHIPPED:
        for part in load_parts(scenarios[name]):
            assert part.items, name
            assert part.scenario.tests, name


def test_demo_suite_is_small_and_runs_the_promised_tests() -> None:
    demo = load_scenario("demo")
    assert demo.is_suite
    sentiment, bbh = load_parts(demo)
    assert (sentiment.scenario.dataset, len(sentiment.items)) == ("dynasent", 8)
    assert set(sentiment.scenario.tests) == {"counterfactual", "importance"}
    assert all(item.meta["agreement"] == 5 for item in sentiment.items)
    assert (bbh.scenario.dataset, len(bbh.items)) == ("bbh_turpin", 4)
    assert "biasing-features" in bbh.scenario.tests
    assert {"early-answering", "adding-mistakes", "paraphrasing"} <= set(bbh.scenario.tests)
    assert all(item.meta["suggested_letter"] != item.gold for item in bbh.items)
    # Three of Turpin's few-shot exemplars per variant, not fifteen: the demo must finish in minutes on a CPU.
    assert all(len(bbh.demonstrations(item, variant)) == 3 for item in bbh.items for variant in ("baseline", "all_a"))
    with pytest.raises(ConfigurationError, match="is a suite"):
        load_data(demo)


MALFORMED = [
    ("bad_test.yaml", "dataset: dynasent\ntests: [counterfactual, bogus]\n", "tests[1]", "expected a test name"),
    ("bad_size.yaml", "dataset: dynasent\nsample_size: -3\n", "sample_size", "greater than or equal to 1"),
    ("typo.yaml", "dataset: dynasent\nsamples: 10\n", "samples", "unknown field; expected one of: name"),
    ("no_dataset.yaml", "description: nothing\n", "dataset", "required field is missing"),
    ("bad_dataset.yaml", "dataset: imdb\n", "dataset", "expected a dataset among: bbh_turpin"),
    ("bad_paradigm.yaml", "dataset: sst2\nparadigms: [predict, guess]\n", "paradigms[1]", "'post-hoc'"),
    ("bad_subset.yaml", "dataset: bbh_turpin\nsubset: [sports]\n", "subset", "sports_understanding"),
    ("two_subsets.yaml", "dataset: dynasent\nsubset: [binary, ternary]\n", "subset", "takes one subset"),
    ("bad_option.yaml", "dataset: dynasent\noptions: {min_agreemnt: 5}\n", "options.min_agreemnt", "min_agreement"),
    ("bad_value.yaml", "dataset: dynasent\noptions: {min_agreement: 7}\n", "options.min_agreement", "less than"),
    ("no_options.yaml", "dataset: gsm8k\noptions: {x: 1}\n", "options", "takes no options"),
    ("yaml_bool.yaml", "dataset: sst2\ntask: {labels: [yes, no]}\n", "task.labels[0]", "quote it"),
    ("bad_seed.yaml", "dataset: sst2\nseed: lots\n", "seed", "valid integer"),
    ("bad_stratify.yaml", "dataset: sst2\nstratify: label\n", "stratify", "should match pattern"),
    ("wrong_name.yaml", "name: other\ndataset: sst2\n", "name", "expected 'wrong_name'"),
    ("no_path.yaml", "dataset: jsonl\ntask: {kind: free_form, instruction: Go.}\nfields: {inputs: [q]}\n", "path", ""),
    ("no_kind.yaml", "dataset: csv\npath: x.csv\nfields: {inputs: [q]}\n", "task", "kind and instruction"),
    ("kind_clash.yaml", "dataset: sst2\ntask: {kind: free_form}\n", "task.kind", "classification"),
    ("suite_test.yaml", "dataset: suite\nparts: [{scenario: sst2, tests: [nope]}]\n", "parts[0].tests[0]", "nope"),
    ("suite_empty.yaml", "dataset: suite\n", "parts", "needs a list of parts"),
    ("suite_seed.yaml", "dataset: suite\nseed: 3\nparts: [{scenario: sst2}]\n", "seed", "set it on the scenario"),
]


@pytest.mark.parametrize(("filename", "text", "field", "expected"), MALFORMED, ids=[case[0] for case in MALFORMED])
def test_malformed_file_gives_one_line_naming_file_and_field(
    write_file: WriteFile, filename: str, text: str, field: str, expected: str
) -> None:
    path = write_file(filename, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert f"field '{field}'" in message
    assert expected in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dataset: [sst2\n", "not valid YAML at line 2"),
        ("- dataset: sst2\n", "expected a mapping of scenario fields, got list"),
        ("just words\n", "expected a mapping of scenario fields, got str"),
    ],
)
def test_unreadable_yaml_gives_one_line_naming_the_file(write_file: WriteFile, text: str, expected: str) -> None:
    path = write_file("broken.yaml", text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_suite_part_overrides_are_checked_against_the_referenced_dataset(write_file: WriteFile) -> None:
    path = write_file("mix.yaml", "dataset: suite\nparts:\n  - {scenario: gsm8k, subset: [binary]}\n")
    with pytest.raises(ScenarioError, match=r"field 'parts\[0\]\.subset'.*no subsets"):
        resolve_parts(load_scenario(path))
    nested = write_file("nested.yaml", "dataset: suite\nparts: [{scenario: demo}]\n")
    with pytest.raises(ScenarioError, match=r"parts\[0\]\.scenario.*cannot contain another suite"):
        resolve_parts(load_scenario(nested))


def test_unknown_scenario_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown scenario 'nope'; expected one of: .*dynasent"):
        load_scenario("nope")
    with pytest.raises(ConfigurationError, match="no such scenario file"):
        load_scenario("missing.yaml")


def test_user_scenario_with_a_builtin_name_is_an_error(write_file: WriteFile) -> None:
    write_file("dynasent.yaml", "dataset: sst2\n")
    with pytest.raises(ConfigurationError, match="already defined by"):
        list_scenarios()


def test_task_framing_overrides_rename_labels_and_change_the_instruction(write_file: WriteFile) -> None:
    path = write_file(
        "nli_yes_no.yaml",
        "dataset: esnli\nsample_size: 20\ntask:\n  instruction: Is the hypothesis true given the premise?\n"
        "  labels: ['yes', maybe, 'no']\n",
    )
    data = load_data(load_scenario(path))
    assert data.task.labels == ("yes", "maybe", "no")
    assert data.task.instruction == "Is the hypothesis true given the premise?"
    assert {item.gold for item in data.items} == {"yes", "maybe", "no"}
    wrong = write_file("nli_two.yaml", "dataset: esnli\ntask: {labels: [agree, disagree]}\n")
    with pytest.raises(ScenarioError, match=r"nli_two.yaml: field 'task.labels': expected 3 names"):
        load_data(load_scenario(wrong))
    bad_unknown = write_file("nli_unknown.yaml", "dataset: esnli\ntask: {unknown_label: unsure}\n")
    with pytest.raises(ScenarioError, match=r"field 'task': unknown_label 'unsure' is not one of the labels"):
        load_data(load_scenario(bad_unknown))


def test_test_names_can_come_from_the_test_registry(write_file: WriteFile) -> None:
    path = write_file("future.yaml", "dataset: sst2\ntests: [brand-new-test]\n")
    try:
        set_test_name_source(lambda: [*TEST_NAMES, "brand-new-test"])
        assert "brand-new-test" in known_test_names()
        assert load_scenario(path).tests == ["brand-new-test"]
    finally:
        set_test_name_source(None)
    assert known_test_names() == TEST_NAMES
    with pytest.raises(ScenarioError, match="brand-new-test"):
        load_scenario(path)


def test_scenario_hash_follows_the_yaml_and_the_data(write_file: WriteFile, user_scenarios: Path) -> None:
    write_file("data/rows.jsonl", '{"q": "2+2?", "a": "4"}\n')
    text = "dataset: jsonl\npath: data/rows.jsonl\ntask: {kind: free_form, instruction: Answer.}\n"
    path = write_file("mine.yaml", text + "fields: {inputs: [q], gold: a}\n")
    first = scenario_hash(load_scenario(path))
    assert first == scenario_hash(load_scenario(path))
    write_file("mine.yaml", text + "fields: {inputs: [q], gold: a}\nseed: 3\n")
    second = scenario_hash(load_scenario(path))
    assert second != first
    write_file("data/rows.jsonl", '{"q": "2+2?", "a": "5"}\n')
    assert scenario_hash(load_scenario(path)) != second
    suite = write_file("both.yaml", "dataset: suite\nparts: [{scenario: mine.yaml, limit: 1}]\n")
    before = scenario_hash(load_scenario(suite))
    write_file("data/rows.jsonl", '{"q": "2+2?", "a": "6"}\n')
    assert scenario_hash(load_scenario(suite)) != before
    assert scenario_hash(load_scenario("bbh")) != scenario_hash(load_scenario("dynasent"))
