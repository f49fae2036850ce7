"""Task framings for ad-hoc use (`faithcheck explain --task ...`); scenario files define their own."""

from __future__ import annotations

from collections.abc import Sequence

from agent.errors import ConfigurationError
from agent.items import Item, Task

NLI_FOCUS = "the relation to the premise"
"""What an NLI answer determines, in the words importance and redaction prompts use for it."""

TASK_PRESETS: dict[str, Task] = {
    "sentiment": Task(
        name="sentiment",
        kind="classification",
        instruction="Classify the sentiment of the review as positive or negative.",
        focus="the sentiment",
        labels=("positive", "negative"),
    ),
    "nli": Task(
        name="nli",
        kind="classification",
        instruction="Does the premise entail the hypothesis, contradict it, or neither (neutral)?",
        focus=NLI_FOCUS,
        labels=("entailment", "neutral", "contradiction"),
    ),
    "mc": Task(
        name="mc",
        kind="multiple_choice",
        instruction="Answer the multiple-choice question.",
        normaliser="letter",
    ),
    "math": Task(
        name="math",
        kind="free_form",
        instruction="Solve the math word problem.",
        normaliser="number",
    ),
}

PRESET_FIELDS: dict[str, tuple[str, ...]] = {
    "sentiment": ("review",),
    "nli": ("premise", "hypothesis"),
    "mc": ("question",),
    "math": ("question",),
}
"""The input field names of each preset, in display order (the last one is the one edits target)."""


def task_preset(name: str, labels: tuple[str, ...] = ()) -> Task:
    """A preset task, with its label set optionally replaced."""
    if name not in TASK_PRESETS:
        raise ConfigurationError(f"unknown task '{name}': use one of {', '.join(TASK_PRESETS)}")
    task = TASK_PRESETS[name]
    if labels:
        if task.kind != "classification":
            raise ConfigurationError(f"--labels only applies to classification tasks, not '{name}'")
        task = task.model_copy(update={"labels": tuple(labels)})
    return task


def preset_item(name: str, text: str, *, premise: str | None = None, options: Sequence[str] = ()) -> Item:
    """An ad-hoc item for a preset task: `text` is its input (the hypothesis for nli, which needs a `premise`)."""
    task = task_preset(name)
    fields = PRESET_FIELDS[name]
    if name == "nli":
        if not premise:
            raise ConfigurationError("--task nli needs --premise (TEXT is the hypothesis)")
        values = {fields[0]: premise, fields[1]: text}
    else:
        values = {fields[0]: text}
    if task.kind == "multiple_choice" and len(options) < 2:
        raise ConfigurationError("--task mc needs at least two --options")
    return Item(id="cli", fields=values, options=list(options))
