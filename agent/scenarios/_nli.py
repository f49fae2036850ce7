"""e-SNLI (Camburu et al. 2018): SNLI test pairs with three human explanations each, from line-aligned files."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent.items import Item, Task
from agent.presets import NLI_FOCUS
from agent.scenarios._text import detokenise
from agent.scenarios._types import DataFileError, LoadedDataset, LoadRequest, require_file

NLI_LABELS = ("entailment", "neutral", "contradiction")
_FILES = ("s1.test", "s2.test", "labels.test", "preproc1_expl_1.test", "preproc1_expl_2.test", "preproc1_expl_3.test")


class ESNLIOptions(BaseModel):
    """Loader options for `esnli`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detokenise: bool = Field(
        default=True,
        description="Rejoin the tokenised text ('a church .' -> 'a church.'); words and case are unchanged.",
    )


def load_esnli(request: LoadRequest) -> LoadedDataset:
    """One item per line: premise and hypothesis fields (edits target the hypothesis), the three explanations."""
    assert isinstance(request.options, ESNLIOptions)
    paths = [require_file(request.data_dir / name) for name in _FILES]
    columns = [path.read_text(encoding="utf-8").splitlines() for path in paths]
    if len({len(column) for column in columns}) != 1:
        counts = ", ".join(f"{path.name} {len(column)}" for path, column in zip(paths, columns, strict=True))
        raise DataFileError(request.data_dir, f"the e-SNLI files are not line-aligned ({counts} lines)")
    clean = detokenise if request.options.detokenise else str.strip
    items = []
    for line, (premise, hypothesis, label, *explanations) in enumerate(zip(*columns, strict=True), start=1):
        if label not in NLI_LABELS:
            raise DataFileError(paths[2], f"unknown label {label!r}; expected one of {list(NLI_LABELS)}", line)
        items.append(
            Item(
                id=f"test-{line}",
                fields={"premise": clean(premise), "hypothesis": clean(hypothesis)},
                gold=label,
                edit_field="hypothesis",
                meta={"explanations": [clean(explanation) for explanation in explanations], "line": line},
            )
        )
    task = Task(
        name="nli",
        kind="classification",
        instruction="Does the premise entail the hypothesis, contradict it, or neither?",
        focus=NLI_FOCUS,
        labels=NLI_LABELS,
    )
    return LoadedDataset(task=task, items=items, files=paths)
