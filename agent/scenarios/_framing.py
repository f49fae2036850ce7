"""The parts of a scenario file that frame a task and map a user's columns to item parts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.items import TaskKind


class TaskFraming(BaseModel):
    """Overrides for how a dataset's task is put to the model (and, for a user's file, the whole framing)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    """Short task name for reports and prompt templates (default: the dataset's)."""
    kind: TaskKind | None = None
    """classification, multiple_choice or free_form: required for jsonl/csv data, fixed for built-in datasets."""
    instruction: str | None = Field(default=None, min_length=1)
    """The instruction shown to the model, one or two short sentences."""
    focus: str | None = Field(default=None, min_length=1)
    """What the answer determines, as a noun phrase ("the sentiment"; default "the answer"), for prompts that list
    or redact the words that determine it."""
    labels: list[str] | None = None
    """Classification labels. For a built-in dataset: new names for its labels, in the dataset's label order."""
    unknown_label: str | None = None
    """A label that really means "cannot tell", if the label set has one (used by the redaction test)."""
    normaliser: Literal["label", "letter", "number", "text"] | None = None
    """How a free-form answer is normalised before comparison: label, letter, number or text."""

    @field_validator("labels")
    @classmethod
    def _distinct_labels(cls, labels: list[str] | None) -> list[str] | None:
        if labels is not None and len(set(labels)) != len(labels):
            raise ValueError(f"labels must be distinct, got {labels}")
        return labels


class FieldMapping(BaseModel):
    """Which columns of a user's JSONL or CSV file hold the item's parts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inputs: list[str] | dict[str, str] = Field(min_length=1)
    """Input columns in display order: a list of column names, or {field name: column}."""
    options: list[str] | str | None = None
    """Multiple choice: one column per option (A, B, ...), or one column holding a list (JSONL)."""
    gold: str | None = None
    """The column with the reference answer: a label, an option letter or option text, or free text."""
    id: str | None = None
    """The column with a stable item id (default: the line or row number)."""
    edit_field: str | None = None
    """The input field that edits and perturbations target (default: the last)."""
    meta: list[str] = Field(default_factory=list)
    """Extra columns to keep in item.meta."""

    def input_columns(self) -> dict[str, str]:
        """{field name: column name}, in display order."""
        if isinstance(self.inputs, dict):
            return dict(self.inputs)
        return {column: column for column in self.inputs}
