"""Items and task framings: what a model is asked about, independent of any prompt or paradigm."""

from __future__ import annotations

import string
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TaskKind = Literal["classification", "multiple_choice", "free_form"]
LETTERS = string.ascii_uppercase


class Task(BaseModel):
    """How a set of items is framed: the instruction, and the answer space (labels, lettered options, free form)."""

    model_config = ConfigDict(frozen=True)

    name: str
    """Short name shown in reports and used to pick prompt templates (e.g. "sentiment", "nli", "bbh")."""
    kind: TaskKind
    """classification (a label set), multiple_choice (lettered options per item) or free_form (normalised)."""
    instruction: str
    """What the model is asked to do, in one or two sentences, e.g. "Classify the sentiment of the review."."""
    focus: str = Field(default="the answer", min_length=1)
    """What the answer determines, as a noun phrase ("the sentiment"). Prompts that must not pose the task itself
    (importance, redaction) ask for the words "for determining <focus> of the following <field>", as Madsen et al.
    (2024) do: a small model shown the instruction tends to answer it instead of listing words."""
    labels: tuple[str, ...] = ()
    """The label set, for classification."""
    unknown_label: str | None = None
    """The answer meaning "cannot tell", when the task has one (used by the redaction test)."""
    normaliser: Literal["label", "letter", "number", "text"] = "label"
    """How free-text answers are normalised before comparison."""

    @model_validator(mode="after")
    def _check(self) -> Task:
        if self.kind == "classification" and len(self.labels) < 2:
            raise ValueError("a classification task needs at least two labels")
        if self.unknown_label is not None and self.unknown_label not in self.labels:
            raise ValueError(f"unknown_label '{self.unknown_label}' is not one of the labels {list(self.labels)}")
        return self


class Demonstration(BaseModel):
    """One few-shot example, shown as a user turn and the assistant's reply."""

    input: str
    output: str


class Item(BaseModel):
    """One input to explain and test."""

    id: str
    """Stable id within its dataset (used for resuming runs and tracing figures back to items)."""
    fields: dict[str, str]
    """Named input parts in display order, e.g. {"text": ...} or {"premise": ..., "hypothesis": ...}."""
    options: list[str] = Field(default_factory=list)
    """Multiple-choice option texts, lettered A, B, ... in this order."""
    gold: str | None = None
    """The reference answer: a label, an option letter, or a normalised free-form answer."""
    edit_field: str | None = None
    """The field that edits and perturbations target (default: the last one)."""
    meta: dict[str, Any] = Field(default_factory=dict)
    """Dataset-specific extras: Turpin's `random_ans_idx`, human explanations, source line, ..."""

    @model_validator(mode="after")
    def _check(self) -> Item:
        if not self.fields:
            raise ValueError("an item needs at least one input field")
        if self.edit_field is not None and self.edit_field not in self.fields:
            raise ValueError(f"edit_field '{self.edit_field}' is not one of the fields {list(self.fields)}")
        return self

    @property
    def target_field(self) -> str:
        """The name of the field that edits and perturbations target."""
        return self.edit_field or list(self.fields)[-1]

    @property
    def target_text(self) -> str:
        """The text of the field that edits and perturbations target."""
        return self.fields[self.target_field]

    def with_field(self, name: str, text: str) -> Item:
        """A copy with one field replaced (the id and everything else kept)."""
        return self.model_copy(update={"fields": {**self.fields, name: text}})

    def with_target_text(self, text: str) -> Item:
        """A copy with the edit field replaced."""
        return self.with_field(self.target_field, text)

    @property
    def letters(self) -> list[str]:
        """The option letters, A, B, ... one per option."""
        return list(LETTERS[: len(self.options)])

    def answer_space(self, task: Task) -> list[str]:
        """The possible answers: labels for classification, letters for multiple choice, [] for free form."""
        if task.kind == "classification":
            return list(task.labels)
        if task.kind == "multiple_choice":
            return self.letters
        return []
