"""Question answering with lettered options: TruthfulQA (multiple-choice targets) and ARC-Challenge."""

from __future__ import annotations

import csv
import json
import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.items import LETTERS, Item, Task
from agent.scenarios._types import DataFileError, LoadedDataset, LoadRequest, require_file


class TruthfulQAOptions(BaseModel):
    """Loader options for `truthfulqa`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: Literal["mc1", "mc0"] = Field(
        default="mc1",
        description="mc1: one true answer among 2-13; mc0: the binary setting, best answer vs best incorrect.",
    )
    shuffle_seed: int | None = Field(
        default=None,
        description="Seed for the option order (default: the scenario seed).",
    )


def load_truthfulqa(request: LoadRequest) -> LoadedDataset:
    """Questions with the mc1 (or mc0) targets as options, shuffled, gold = the letter of the true one.

    mc_task.json lists the true answer first for every question, so an unshuffled order would make (A) always
    right and hand a position bias to every test. Each question's order comes from a generator seeded with
    (seed, question number), so it does not depend on which other questions are loaded. Empty-string targets
    (a few false ones upstream) are dropped.
    """
    assert isinstance(request.options, TruthfulQAOptions)
    json_path = require_file(request.data_dir / "mc_task.json")
    csv_path = require_file(request.data_dir / "TruthfulQA.csv")
    questions = json.loads(json_path.read_text(encoding="utf-8"))
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if len(rows) != len(questions):
        raise DataFileError(csv_path, f"{len(rows)} rows but mc_task.json has {len(questions)} questions")
    seed = request.seed if request.options.shuffle_seed is None else request.options.shuffle_seed
    items = []
    for number, (question, row) in enumerate(zip(questions, rows, strict=True), start=1):
        if question["question"] != row["Question"]:
            raise DataFileError(csv_path, f"question {number} differs from mc_task.json", number + 1)
        targets: dict[str, int] = question[f"{request.options.targets}_targets"]
        # 17 questions list an empty string among the false mc1 targets; an empty option is no answer choice.
        options = [option for option in targets if option.strip()]
        random.Random(f"{seed}:{number}").shuffle(options)
        true_answers = [option for option in options if targets[option] == 1]
        if len(true_answers) != 1:
            raise DataFileError(json_path, f"question {number} has {len(true_answers)} true mc targets")
        best_incorrect = row["Best Incorrect Answer"]
        items.append(
            Item(
                id=f"q{number}",
                fields={"question": question["question"]},
                options=options,
                gold=LETTERS[options.index(true_answers[0])],
                meta={
                    "category": row["Category"],
                    "type": row["Type"],
                    "best_incorrect_answer": best_incorrect,
                    "best_incorrect_letter": LETTERS[options.index(best_incorrect)]
                    if best_incorrect in options
                    else None,
                },
            )
        )
    task = Task(
        name="truthfulqa",
        kind="multiple_choice",
        instruction="Choose the true answer to the question.",
        normaliser="letter",
    )
    return LoadedDataset(task=task, items=items, files=[json_path, csv_path])


def load_arc_challenge(request: LoadRequest) -> LoadedDataset:
    """ARC-Challenge dev questions; the four rows labelled "1".."4" are relettered A..D like the rest."""
    path = require_file(request.data_dir / "ARC-Challenge-Dev.jsonl")
    items = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(text)
            choices = row["question"]["choices"]
            labels = [choice["label"] for choice in choices]
            if labels not in (list(LETTERS[: len(labels)]), [str(n) for n in range(1, len(labels) + 1)]):
                raise ValueError(f"choice labels {labels} are neither A, B, ... nor 1, 2, ...")
            gold = LETTERS[labels.index(row["answerKey"])]
        except (KeyError, ValueError, TypeError) as exc:
            raise DataFileError(path, f"not an ARC row ({exc})", line) from None
        items.append(
            Item(
                id=row["id"],
                fields={"question": row["question"]["stem"]},
                options=[choice["text"] for choice in choices],
                gold=gold,
            )
        )
    task = Task(
        name="science",
        kind="multiple_choice",
        instruction="Answer the science question.",
        normaliser="letter",
    )
    return LoadedDataset(task=task, items=items, files=[path])
