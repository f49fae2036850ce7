"""Math word problems: GSM8K (free-form number answers) and AQuA-RAT (five lettered options)."""

from __future__ import annotations

import json
import re

from agent.items import LETTERS, Item, Task
from agent.scenarios._types import DataFileError, LoadedDataset, LoadRequest, require_file

_CALCULATOR = re.compile(r"<<[^>]*>>")
_AQUA_OPTION = re.compile(r"^([A-E])\)\s*(.*)$", re.DOTALL)


def gsm8k_number(answer: str) -> str:
    """The final answer after `####`, with thousands separators removed ("1,450,000" -> "1450000")."""
    _, marker, final = answer.rpartition("####")
    number = final.strip().replace(",", "")
    if not marker or not re.fullmatch(r"-?\d+(\.\d+)?", number):
        raise ValueError(f"no '#### <number>' line in {answer[-60:]!r}")
    return number


def load_gsm8k(request: LoadRequest) -> LoadedDataset:
    """Questions with the final number as gold; the worked solution and its steps go in meta."""
    path = require_file(request.data_dir / "test.jsonl")
    items = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(text)
            gold = gsm8k_number(row["answer"])
        except (KeyError, ValueError, TypeError) as exc:
            raise DataFileError(path, f"not a GSM8K row ({exc})", line) from None
        worked = row["answer"].rpartition("####")[0].strip()
        items.append(
            Item(
                id=f"test-{line}",
                fields={"question": row["question"]},
                gold=gold,
                meta={
                    "solution": row["answer"],
                    # Calculator annotations (<<48/2=24>>) are training scaffolding, not part of the reasoning.
                    "steps": [_CALCULATOR.sub("", step).strip() for step in worked.splitlines() if step.strip()],
                },
            )
        )
    task = Task(
        name="math",
        kind="free_form",
        instruction="Solve the math word problem. Give the final answer as a number.",
        normaliser="number",
    )
    return LoadedDataset(task=task, items=items, files=[path])


def load_aqua(request: LoadRequest) -> LoadedDataset:
    """AQuA-RAT test problems: options "A)$61" become "$61", the human rationale goes in meta."""
    path = require_file(request.data_dir / "test.json")  # JSON Lines despite the name
    items = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(text)
            matches = [_AQUA_OPTION.match(option) for option in row["options"]]
            if not all(matches) or [m.group(1) for m in matches if m] != list(LETTERS[: len(matches)]):
                raise ValueError(f"options {row['options']} are not 'A)...', 'B)...', ...")
            options = [m.group(2).strip() for m in matches if m]
            if row["correct"] not in LETTERS[: len(options)]:
                raise ValueError(f"correct answer {row['correct']!r} is not an option letter")
        except (KeyError, ValueError, TypeError) as exc:
            raise DataFileError(path, f"not an AQuA row ({exc})", line) from None
        items.append(
            Item(
                id=f"test-{line}",
                fields={"question": row["question"]},
                options=options,
                gold=row["correct"],
                meta={"rationale": row["rationale"]},
            )
        )
    task = Task(
        name="algebra",
        kind="multiple_choice",
        instruction="Solve the algebra word problem and choose the correct option.",
        normaliser="letter",
    )
    return LoadedDataset(task=task, items=items, files=[path])
