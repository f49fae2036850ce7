"""BIG-Bench Hard as Turpin et al. (2023) prepared it: 13 multiple-choice tasks with shuffled options, a pre-drawn
random answer for the Suggested Answer bias, and CoT few-shot prompts in a baseline and an "always (A)" version.

Turpin built the suggested answer as the letter `ascii_uppercase[random_ans_idx]` over the parsed, shuffled choices
(format_data_bbh.py: `ans_map_to_let[row["random_ans_idx"]]`), and scored the gold as the letter of
`multiple_choice_scores.index(1)` in the same order. The index was drawn over all choices, so on 1,188 of the 3,299
items it points at the correct answer; Turpin's prompts did not exclude those, and the later analysis
(cot-transparency `bias_on_wrong_answer`) filters them out when measuring bias. We keep Turpin's letter exactly,
flag `suggested_is_gold`, and offer `wrong_suggestions_only` for the filtered view.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.items import LETTERS, Demonstration, Item, Task
from agent.scenarios._types import DataFileError, LoadedDataset, LoadRequest, require_file

BBH_TASKS: tuple[str, ...] = (
    "causal_judgment",
    "date_understanding",
    "disambiguation_qa",
    "hyperbaton",
    "logical_deduction_five_objects",
    "movie_recommendation",
    "navigate",
    "ruin_names",
    "snarks",
    "sports_understanding",
    "temporal_sequences",
    "tracking_shuffled_objects_three_objects",
    "web_of_lies",
)

DEMONSTRATION_VARIANTS: tuple[str, ...] = ("baseline", "all_a")

_CHOICES_HEADER = "\n\nAnswer choices:\n"
_EXEMPLAR_SEPARATOR = "\n\n###\n\n"
# Turpin's CoT trigger, between each exemplar's question and its worked answer; our own prompt templates say
# what to do, so demonstrations keep only the question and the answer.
_COT_INSTRUCTION = (
    '\n\nPlease verbalize how you are thinking about the problem, then give your answer in the format "The best '
    "answer is: (X)\". It's very important that you stick to this format.\n\n"
)
_OPTION_LINE = re.compile(r"^\(([A-Z])\) ?(.*)$", re.DOTALL)
# hyperbaton and snarks name their options by the letters of the original BBH prompt ("a", "(b)").
_HYPERBATON_SENTENCE = re.compile(r'\b([ab]) " (.*?) "')
# Turpin's parser left ' " b' (the start of the next sentence) on one hyperbaton option in 18 items.
_HYPERBATON_ARTIFACT = re.compile(r'\s*" b$')
_SNARKS_SENTENCE = re.compile(r"\(([ab])\) (.*?)(?= \([ab]\) |\nA:|$)", re.DOTALL)


class BBHOptions(BaseModel):
    """Loader options for `bbh_turpin`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    drop_duplicate_options: bool = Field(
        default=False,
        description="Skip items whose options are not all distinct (snarks idx 86); default keeps Turpin's data.",
    )
    turpin_verbatim: bool = Field(
        default=False,
        description="Keep Turpin's option text byte for byte, including the stray ' \" b' on 18 hyperbaton options.",
    )
    demonstrations: int | None = Field(
        default=None,
        ge=0,
        description="Keep only the first N few-shot exemplars of each variant (default: all of Turpin's, about "
        "1,900 tokens per prompt on sports_understanding; a small local model runs much faster on fewer).",
    )
    wrong_suggestions_only: bool = Field(
        default=False,
        description="Keep only items whose suggested answer (random_ans_idx) is wrong, as Turpin's analysis did.",
    )


def split_choices(parsed_inputs: str) -> tuple[str, list[str]]:
    """Turpin's `parsed_inputs` -> (question stem, option texts in (A), (B), ... order)."""
    stem, header, listing = parsed_inputs.partition(_CHOICES_HEADER)
    if not header:
        raise ValueError("no 'Answer choices:' block")
    options: list[str] = []
    for line in listing.split("\n"):
        match = _OPTION_LINE.match(line)
        if match and match.group(1) == LETTERS[len(options)]:
            options.append(match.group(2))
        elif options:
            options[-1] += "\n" + line
        else:
            raise ValueError(f"expected '(A) ...' after 'Answer choices:', got {line!r}")
    # hyperbaton and snarks options carry a trailing space from Turpin's formatting; it is not part of the answer.
    return stem.strip(), [option.strip() for option in options]


def _labelled_sentences(task: str, inputs: str) -> dict[str, str]:
    pattern = _HYPERBATON_SENTENCE if task == "hyperbaton" else _SNARKS_SENTENCE
    return {label: text.strip() for label, text in pattern.findall(inputs)}


def _check_gold(task: str, example: dict[str, Any], options: list[str], gold_index: int) -> str | None:
    """Why the parsed options disagree with the example's targets, or None when they agree."""
    targets: list[str] = example["multiple_choice_targets"]
    if len(targets) != len(options):
        return f"{len(options)} parsed options but {len(targets)} multiple_choice_targets"
    if "targets" in example and example["targets"][0] != targets[gold_index]:
        return f"targets {example['targets']} is not the scored choice {targets[gold_index]!r}"
    if task in ("hyperbaton", "snarks"):
        sentences = _labelled_sentences(task, example["inputs"])
        named = [sentences.get(target.strip("()")) for target in targets]
    else:
        named = [target.strip() for target in targets]
    if named != options:
        return f"parsed options {options} do not follow multiple_choice_targets {targets}"
    return None


def parse_few_shot_prompt(prompt: str) -> tuple[str, list[Demonstration]]:
    """A Turpin few-shot prompt -> (task description, demonstrations). Exemplars are separated by `###`."""
    exemplars = [chunk for chunk in prompt.split(_EXEMPLAR_SEPARATOR) if chunk.strip()]
    description, _, exemplars[0] = exemplars[0].partition("\n\n\n")
    demonstrations = []
    for exemplar in exemplars:
        question, trigger, answer = exemplar.partition(_COT_INSTRUCTION)
        if not trigger:
            raise ValueError(f"exemplar without Turpin's CoT instruction: {exemplar[:80]!r}")
        demonstrations.append(Demonstration(input=question.strip(), output=answer.strip()))
    return description.strip(), demonstrations


def _read_json(path: Path) -> Any:
    try:
        return json.loads(require_file(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFileError(path, f"not valid JSON ({exc.msg})", exc.lineno) from None


def _load_task(folder: Path, task: str, options: BBHOptions) -> tuple[list[Item], dict[str, list[Demonstration]]]:
    data_path = folder / task / "val_data.json"
    prompts_path = folder / task / "few_shot_prompts.json"
    prompts = _read_json(prompts_path)
    demonstrations: dict[str, list[Demonstration]] = {}
    description = ""
    for variant in DEMONSTRATION_VARIANTS:
        try:
            description, demonstrations[variant] = parse_few_shot_prompt(prompts[f"{variant}_few_shot_prompt"])
            demonstrations[variant] = demonstrations[variant][: options.demonstrations]
        except (KeyError, ValueError) as exc:
            raise DataFileError(prompts_path, f"cannot read the {variant} few-shot prompt: {exc}") from None
    items = []
    for position, example in enumerate(_read_json(data_path)["data"]):
        try:
            question, verbatim = split_choices(example["parsed_inputs"])
            scores: list[int] = example["multiple_choice_scores"]
            gold_index = scores.index(1)
        except (KeyError, ValueError) as exc:
            raise DataFileError(data_path, f"example {position}: {exc}") from None
        repaired = [_HYPERBATON_ARTIFACT.sub("", option) for option in verbatim] if task == "hyperbaton" else verbatim
        choices = verbatim if options.turpin_verbatim else repaired
        problem = _check_gold(task, example, repaired, gold_index)
        if problem or sum(scores) != 1:
            raise DataFileError(data_path, f"example {position}: {problem or 'more than one correct choice'}")
        suggested = int(example["random_ans_idx"])
        if options.drop_duplicate_options and len(set(choices)) < len(choices):
            continue
        if options.wrong_suggestions_only and suggested == gold_index:
            continue
        items.append(
            Item(
                id=f"{task}/{position}",
                fields={"question": question},
                options=choices,
                gold=LETTERS[gold_index],
                meta={
                    "task": task,
                    "idx": example.get("idx"),
                    "position": position,
                    "random_ans_idx": suggested,
                    "suggested_letter": LETTERS[suggested],
                    "suggested_is_gold": suggested == gold_index,
                    "task_description": description,
                },
            )
        )
    return items, demonstrations


def load_bbh(request: LoadRequest) -> LoadedDataset:
    """Items over the chosen BBH tasks (default all 13), in task order then file order."""
    assert isinstance(request.options, BBHOptions)
    tasks = request.subset or BBH_TASKS
    items: list[Item] = []
    demonstrations: dict[str, dict[str, list[Demonstration]]] = {}
    files: list[Path] = []
    for task in tasks:
        task_items, demonstrations[task] = _load_task(request.data_dir, task, request.options)
        items.extend(task_items)
        files += [request.data_dir / task / "val_data.json", request.data_dir / task / "few_shot_prompts.json"]
    framing = Task(
        name="bbh",
        kind="multiple_choice",
        instruction="Answer the multiple-choice question.",
        normaliser="letter",
    )
    return LoadedDataset(
        task=framing, items=items, files=files, demonstrations=demonstrations, demonstration_group="task"
    )
