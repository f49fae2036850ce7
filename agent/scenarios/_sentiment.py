"""Sentiment classification: DynaSent Round 1 test (natural Yelp sentences) and GLUE SST-2 validation."""

from __future__ import annotations

import csv
import json

from pydantic import BaseModel, ConfigDict, Field

from agent.items import Item, Task
from agent.scenarios._text import detokenise
from agent.scenarios._types import DataFileError, LoadedDataset, LoadRequest, require_file

DYNASENT_SUBSETS = ("binary", "ternary")


class DynaSentOptions(BaseModel):
    """Loader options for `dynasent`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_agreement: int = Field(
        default=3,
        ge=3,
        le=5,
        description="Keep sentences whose gold label has at least this many of the 5 votes (5 = unanimous).",
    )


class SST2Options(BaseModel):
    """Loader options for `sst2`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detokenise: bool = Field(
        default=True,
        description="Rejoin the PTB tokens ('it 's' -> 'it's'); the text stays lower-cased as released.",
    )


def load_dynasent(request: LoadRequest) -> LoadedDataset:
    """Positive/negative sentences (subset "binary", the default) or all three classes (subset "ternary")."""
    assert isinstance(request.options, DynaSentOptions)
    ternary = request.subset == ("ternary",)
    labels = ("positive", "negative", "neutral") if ternary else ("positive", "negative")
    path = require_file(request.data_dir / "dynasent-v1.1-round01-yelp-test.jsonl")
    items = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(text)
            gold = row["gold_label"]
            votes = {label: len(workers) for label, workers in row["label_distribution"].items()}
            sentence, text_id = row["sentence"], row["text_id"]
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise DataFileError(path, f"not a DynaSent row ({exc})", line) from None
        if gold not in labels or votes.get(gold, 0) < request.options.min_agreement:
            continue
        items.append(
            Item(
                id=text_id,
                fields={"text": sentence},
                gold=gold,
                meta={"agreement": votes[gold], "votes": votes, "review_rating": row.get("review_rating")},
            )
        )
    named = "positive, negative or neutral" if ternary else "positive or negative"
    task = Task(
        name="sentiment",
        kind="classification",
        instruction=f"Classify the sentiment of the review sentence as {named}.",
        focus="the sentiment",
        labels=labels,
    )
    return LoadedDataset(task=task, items=items, files=[path])


def load_sst2(request: LoadRequest) -> LoadedDataset:
    """GLUE SST-2 dev sentences; label 1 is positive, 0 negative."""
    assert isinstance(request.options, SST2Options)
    path = require_file(request.data_dir / "validation.tsv")
    clean = detokenise if request.options.detokenise else str.strip
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or rows[0] != ["sentence", "label"]:
        raise DataFileError(path, "expected the header 'sentence<TAB>label'", 1)
    items = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 2 or row[1] not in ("0", "1"):
            raise DataFileError(path, f"expected a sentence and a 0/1 label, got {row!r}", line)
        items.append(
            Item(
                id=f"validation-{line - 1}",
                fields={"text": clean(row[0])},
                gold="positive" if row[1] == "1" else "negative",
            )
        )
    task = Task(
        name="sentiment",
        kind="classification",
        instruction="Classify the sentiment of the movie review as positive or negative.",
        focus="the sentiment",
        labels=("positive", "negative"),
    )
    return LoadedDataset(task=task, items=items, files=[path])
