"""Commonsense multiple choice with human explanations: CoS-E over CommonsenseQA, and ComVE (SemEval-2020 Task 4)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from agent.items import LETTERS, Item, Task
from agent.scenarios._types import DataFileError, LoadedDataset, LoadRequest, require_file

COMVE_QUESTION = "Which statement is against common sense?"


def load_cose(request: LoadRequest) -> LoadedDataset:
    """CommonsenseQA v1.11 dev questions (A-E) with the CoS-E open-ended explanation and selected span in meta.

    Reads the shipped joined file (CQA row order); its PROVENANCE says how it was joined from the two raw files.
    """
    path = require_file(request.data_dir / "cose_v1.11_dev_joined.jsonl")
    items = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(text)
            labels: list[str] = row["choices"]["label"]
            if labels != list(LETTERS[: len(labels)]):
                raise ValueError(f"choice labels {labels} are not A, B, C, ...")
            items.append(
                Item(
                    id=row["id"],
                    fields={"question": row["question"]},
                    options=list(row["choices"]["text"]),
                    gold=row["answerKey"],
                    meta={
                        "explanation": row["explanation_open_ended"],
                        "explanation_selected": row["explanation_selected"],
                        "question_concept": row["question_concept"],
                    },
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise DataFileError(path, f"not a joined CoS-E row ({exc})", line) from None
    task = Task(
        name="commonsense_qa",
        kind="multiple_choice",
        instruction="Choose the best answer to the commonsense question.",
        normaliser="letter",
    )
    return LoadedDataset(task=task, items=items, files=[path])


def _read_csv(path: Path, header: bool) -> list[list[str]]:
    with require_file(path).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[1:] if header else rows


def load_comve(request: LoadRequest) -> LoadedDataset:
    """Subtask A as two-option multiple choice (which statement is against common sense); B and C go in meta."""
    folder = request.data_dir
    names = [
        "subtaskA_test_data.csv",
        "subtaskA_gold_answers.csv",
        "subtaskB_test_data.csv",
        "subtaskB_gold_answers.csv",
        "subtaskC_gold_answers.csv",
    ]
    paths = [folder / name for name in names]
    statements = _read_csv(paths[0], header=True)
    gold_a = {row[0]: row[1] for row in _read_csv(paths[1], header=False)}
    reasons_b = {row[0]: row[2:5] for row in _read_csv(paths[2], header=True)}
    gold_b = {row[0]: row[1] for row in _read_csv(paths[3], header=False)}
    references_c = {row[0]: row[1:] for row in _read_csv(paths[4], header=False)}
    items = []
    for line, row in enumerate(statements, start=2):
        if len(row) != 3:
            raise DataFileError(paths[0], f"expected id,sent0,sent1, got {len(row)} columns", line)
        item_id, sent0, sent1 = row
        label = gold_a.get(item_id)
        if label not in ("0", "1") or item_id not in reasons_b or item_id not in references_c:
            raise DataFileError(paths[0], f"id {item_id} lacks a subtask A label or subtask B/C answers", line)
        items.append(
            Item(
                id=item_id,
                fields={"question": COMVE_QUESTION},
                options=[sent0, sent1],
                gold=LETTERS[int(label)],
                meta={
                    "false_sentence": [sent0, sent1][int(label)],
                    "reason_options": reasons_b[item_id],
                    "reason_gold": gold_b.get(item_id),
                    "reasons": [reason for reason in references_c[item_id] if reason.strip()],
                },
            )
        )
    task = Task(
        name="comve",
        kind="multiple_choice",
        instruction="Pick the statement that is against common sense.",
        normaliser="letter",
    )
    return LoadedDataset(task=task, items=items, files=paths)
