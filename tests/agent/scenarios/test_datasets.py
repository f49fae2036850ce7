"""The ten shipped datasets load with the published counts, and every item's gold lies in its answer space."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agent.items import LETTERS
from agent.resources import scenarios_dir
from agent.scenarios import DATASETS, Scenario, ScenarioData, load_data

pytestmark = pytest.mark.usefixtures("user_scenarios")

DATA = scenarios_dir() / "data"

# Counts from each dataset's PROVENANCE.md.
EXPECTED_COUNTS = {
    "bbh_turpin": 3299,
    "esnli": 9824,
    "cose": 1221,
    "comve": 1000,
    "dynasent": 2400,
    "sst2": 872,
    "gsm8k": 1319,
    "truthfulqa": 790,
    "aqua": 254,
    "arc_challenge": 299,
    "chainscope": 428,  # reversed pairs (856 questions)
}
BBH_TASK_COUNTS = {
    "causal_judgment": (160, 7),
    "date_understanding": (300, 15),
    "disambiguation_qa": (228, 9),
    "hyperbaton": (300, 7),
    "logical_deduction_five_objects": (220, 8),
    "movie_recommendation": (300, 15),
    "navigate": (300, 12),
    "ruin_names": (300, 10),
    "snarks": (151, 14),
    "sports_understanding": (300, 15),
    "temporal_sequences": (300, 9),
    "tracking_shuffled_objects_three_objects": (220, 11),
    "web_of_lies": (220, 10),
}


def load(dataset: str, **fields: Any) -> ScenarioData:
    return load_data(Scenario(name=f"test-{dataset}", dataset=dataset, **fields))


@pytest.fixture(scope="module")
def bbh() -> ScenarioData:
    return load("bbh_turpin")


def test_every_shipped_dataset_has_a_loader_and_its_provenance() -> None:
    shipped = {path.name for path in DATA.iterdir() if path.is_dir()}
    assert shipped == set(EXPECTED_COUNTS)
    for name in shipped:
        assert (DATA / name / "PROVENANCE.md").is_file()
        assert all(path.stat().st_size < 5 * 1024 * 1024 for path in (DATA / name).rglob("*"))
    assert {name for name, spec in DATASETS.items() if not spec.user_file} == shipped


@pytest.mark.parametrize(("dataset", "count"), sorted(EXPECTED_COUNTS.items()))
def test_dataset_loads_with_the_published_count_and_valid_golds(dataset: str, count: int) -> None:
    data = load(dataset)
    assert data.available == len(data.items) == count
    assert len({item.id for item in data.items}) == count
    assert data.task.kind == DATASETS[dataset].kind
    assert data.task.unknown_label is None
    for item in data.items:
        if data.task.kind == "free_form":
            assert item.gold is not None
            assert re.fullmatch(r"-?\d+(\.\d+)?", item.gold)
        else:
            assert item.gold in item.answer_space(data.task), item.id
        if data.task.kind == "multiple_choice":
            assert len(item.options) >= 2
            assert all(option.strip() for option in item.options)
        assert all(text.strip() for text in item.fields.values())


def test_dynasent_ternary_has_all_3600_and_agreement_filters() -> None:
    ternary = load("dynasent", subset=["ternary"])
    assert len(ternary.items) == 3600
    assert Counter(item.gold for item in ternary.items) == {"positive": 1200, "negative": 1200, "neutral": 1200}
    assert "neutral" in ternary.task.instruction
    unanimous = load("dynasent", options={"min_agreement": 5})
    assert len(unanimous.items) == 765  # PROVENANCE: 424 positive + 341 negative
    assert all(item.meta["agreement"] == 5 for item in unanimous.items)


def test_label_distributions_match_provenance() -> None:
    assert Counter(item.gold for item in load("esnli").items) == {
        "entailment": 3368,
        "contradiction": 3237,
        "neutral": 3219,
    }
    assert Counter(item.gold for item in load("sst2").items) == {"positive": 444, "negative": 428}
    assert Counter(item.gold for item in load("aqua").items) == {"A": 63, "B": 58, "C": 46, "D": 53, "E": 34}
    assert Counter(item.gold for item in load("cose").items) == {"A": 239, "B": 255, "C": 241, "D": 251, "E": 235}


def _raw_bbh(task: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((DATA / "bbh_turpin" / task / "val_data.json").read_text())["data"]
    return data


def _labelled_option(task: str, inputs: str, target: str) -> str:
    """hyperbaton and snarks name the gold by its letter in the original BBH prompt: find that sentence."""
    label = target.strip("()")
    if task == "hyperbaton":
        match = re.search(rf'\b{label} " (.*?) "', inputs)
    else:
        match = re.search(rf"\({label}\) (.*?)(?: \([ab]\) |\nA:)", inputs + "\nA:")
    assert match, inputs
    return match.group(1).strip()


def test_bbh_tasks_counts_and_gold_letters_match_targets(bbh: ScenarioData) -> None:
    by_task: dict[str, list[Any]] = {}
    for item in bbh.items:
        by_task.setdefault(item.meta["task"], []).append(item)
    assert {task: len(items) for task, items in by_task.items()} == {
        task: count for task, (count, _) in BBH_TASK_COUNTS.items()
    }
    checked = 0
    for task, items in by_task.items():
        for item, raw in zip(items, _raw_bbh(task), strict=True):
            gold_index = raw["multiple_choice_scores"].index(1)
            assert item.gold == LETTERS[gold_index]
            assert item.id == f"{task}/{item.meta['position']}"
            assert item.fields["question"] in raw["parsed_inputs"]
            assert f"({item.gold}) {item.options[gold_index]}" in raw["parsed_inputs"]
            if "targets" in raw:
                target = raw["targets"][0]
                if task in ("hyperbaton", "snarks"):
                    assert item.options[gold_index] == _labelled_option(task, raw["inputs"], target)
                else:
                    assert item.options[gold_index] == target
            else:  # logical_deduction, tracking_shuffled_objects, web_of_lies: only the scored targets
                assert item.options[gold_index] == raw["multiple_choice_targets"][gold_index]
            checked += 1
    assert checked == 3299


def test_bbh_suggested_letter_is_turpins_and_flags_the_gold(bbh: ScenarioData) -> None:
    on_gold = 0
    for item in bbh.items:
        assert item.meta["suggested_letter"] == LETTERS[item.meta["random_ans_idx"]]
        assert item.meta["suggested_letter"] in item.letters
        assert item.meta["suggested_is_gold"] == (item.meta["suggested_letter"] == item.gold)
        on_gold += item.meta["suggested_is_gold"]
    # Turpin drew random_ans_idx over all options, so it sometimes is the correct answer.
    assert on_gold == 1188
    wrong_only = load("bbh_turpin", options={"wrong_suggestions_only": True})
    assert len(wrong_only.items) == 3299 - 1188
    assert all(item.meta["suggested_letter"] != item.gold for item in wrong_only.items)


def test_bbh_demonstrations_per_task_and_variant(bbh: ScenarioData) -> None:
    assert bbh.demonstration_variants == ("baseline", "all_a")
    first_of_task = {item.meta["task"]: item for item in reversed(bbh.items)}
    for task, (_, exemplars) in BBH_TASK_COUNTS.items():
        item = first_of_task[task]
        baseline = bbh.demonstrations(item)
        always_a = bbh.demonstrations(item, "all_a")
        assert len(baseline) == len(always_a) == exemplars
        for demonstration in baseline + always_a:
            assert "Answer choices:\n(A) " in demonstration.input
            assert "Please verbalize" not in demonstration.input
            assert demonstration.output.startswith("Let's think step by step")
            assert "###" not in demonstration.input + demonstration.output
        answers = [re.findall(r"best answer is: \(([A-Z])\)", demo.output)[-1] for demo in always_a]
        assert set(answers) == {"A"}
        assert not item.meta["task_description"].startswith(("Q:", "Question:"))
    with pytest.raises(Exception, match="no 'suggested' demonstrations"):
        bbh.demonstrations(bbh.items[0], "suggested")


def test_bbh_subset_and_cleaning_options() -> None:
    sports = load("bbh_turpin", subset=["sports_understanding", "snarks"])
    assert {item.meta["task"] for item in sports.items} == {"sports_understanding", "snarks"}
    assert len(sports.items) == 451
    kept = [item for item in sports.items if len(set(item.options)) < len(item.options)]
    assert [(item.meta["task"], item.meta["idx"]) for item in kept] == [("snarks", 86)]
    clean = load("bbh_turpin", subset="snarks", options={"drop_duplicate_options": True})
    assert len(clean.items) == 150
    assert all(item.meta["idx"] != 86 for item in clean.items)


def test_bbh_hyperbaton_parser_artifact_is_repaired_unless_verbatim() -> None:
    repaired = load("bbh_turpin", subset="hyperbaton")
    assert not any('"' in option for item in repaired.items for option in item.options)
    verbatim = load("bbh_turpin", subset="hyperbaton", options={"turpin_verbatim": True})
    assert sum(any(option.endswith('" b') for option in item.options) for item in verbatim.items) == 18


def test_no_dataset_is_used_without_demonstrations_error() -> None:
    data = load("gsm8k")
    assert data.demonstration_variants == ()
    assert data.demonstrations(data.items[0]) == []
    assert data.items[0].gold == "18"
    assert data.items[0].meta["steps"][0] == "Janet sells 16 - 3 - 4 = 9 duck eggs a day."


def test_esnli_and_sst2_are_detokenised_lightly_unless_asked_not_to() -> None:
    esnli = load("esnli")
    first = esnli.items[0]
    assert first.fields["premise"].endswith("at a church.")
    assert first.fields["hypothesis"] == "The church has cracks in the ceiling."
    assert first.target_field == "hypothesis"
    assert len(first.meta["explanations"]) == 3
    raw = load("esnli", options={"detokenise": False}).items[0]
    assert raw.fields["hypothesis"] == "The church has cracks in the ceiling ."
    assert load("sst2").items[0].fields["text"] == "it's a charming and often affecting journey."


def test_truthfulqa_options_are_shuffled_by_the_seed_and_gold_is_the_true_answer() -> None:
    raw = json.loads((DATA / "truthfulqa" / "mc_task.json").read_text())
    data = load("truthfulqa")
    for item, question in zip(data.items, raw, strict=True):
        true_answer = next(text for text, score in question["mc1_targets"].items() if score == 1)
        assert item.options[LETTERS.index(item.gold or "")] == true_answer
        # Upstream has an empty false target in 17 questions; it is not offered as an option.
        assert sorted(item.options) == sorted(text for text in question["mc1_targets"] if text)
    # Upstream lists the true answer first; shuffled, (A) is right about as often as chance.
    share_a = sum(item.gold == "A" for item in data.items) / len(data.items)
    assert share_a < 0.35
    again = load("truthfulqa")
    other_seed = load("truthfulqa", seed=1)
    assert [item.options for item in again.items] == [item.options for item in data.items]
    assert [item.options for item in other_seed.items] != [item.options for item in data.items]
    binary = load("truthfulqa", options={"targets": "mc0"})
    assert all(len(item.options) == 2 for item in binary.items)


def test_arc_numeric_labels_are_relettered() -> None:
    data = load("arc_challenge")
    raw = [json.loads(line) for line in (DATA / "arc_challenge" / "ARC-Challenge-Dev.jsonl").read_text().splitlines()]
    numeric = [row for row in raw if row["question"]["choices"][0]["label"] == "1"]
    assert len(numeric) == 4
    by_id = {item.id: item for item in data.items}
    for row in numeric:
        item = by_id[row["id"]]
        assert item.gold == LETTERS[int(row["answerKey"]) - 1]
        assert item.options == [choice["text"] for choice in row["question"]["choices"]]


def test_comve_and_cose_keep_their_explanations() -> None:
    comve = load("comve").items[0]
    assert comve.id == "1175"
    assert comve.gold == "A"
    assert comve.options[0] == "He loves to stroll at the park with his bed"
    assert comve.meta["reason_gold"] == "A"
    assert len(comve.meta["reasons"]) == 3
    cose = {item.id: item for item in load("cose").items}
    assert cose["a7ab086045575bb497933726e4e6ad28"].meta["explanation"] == "people aim to complete job in work"


def test_cose_joined_file_matches_the_two_raw_files() -> None:
    folder: Path = DATA / "cose"
    explanations = {
        row["id"]: row["explanation"]
        for row in map(json.loads, (folder / "cose_dev_v1.11.jsonl").read_text().splitlines())
    }
    questions = [json.loads(line) for line in (folder / "commonsenseqa_v1.11_dev.jsonl").read_text().splitlines()]
    items = load("cose").items
    assert [item.id for item in items] == [row["id"] for row in questions]
    for item, row in zip(items, questions, strict=True):
        assert item.fields["question"] == row["question"]
        assert item.options == row["choices"]["text"]
        assert item.gold == row["answerKey"]
        assert item.meta["explanation"] == explanations[item.id]["open-ended"]
