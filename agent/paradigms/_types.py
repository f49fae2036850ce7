"""Typed inputs and outputs of the explanation paradigms (pydantic in, pydantic out)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from agent.items import Demonstration, Item, Task
from agent.structured import CallTrace, ParseFailure


class ParadigmRequest(BaseModel):
    """What a paradigm is asked about: an item in a task framing, with optional demonstrations and a cue."""

    item: Item
    task: Task
    demonstrations: list[Demonstration] = Field(default_factory=list)
    """Few-shot examples shown before the item as earlier turns."""
    preamble: str | None = None
    """Text put before the input, after the instruction (e.g. a metadata block that gives the answer away)."""
    suffix: str | None = None
    """Text appended to the input, after the options (e.g. Turpin's suggested-answer cue)."""
    allow_unknown: bool = False
    """Offer "unknown" as an answer (Madsen et al. 2024 offer it in every self-consistency prompt)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Paradigm-specific parameters (k for importance, target for counterfactual, reasoning for forced answers)."""


class Prediction(BaseModel):
    """The model's answer to an item."""

    kind: Literal["prediction"] = "prediction"
    answer: str
    """A label, an option letter, a normalised free-form answer, or "unknown"."""
    method: Literal["json", "text", "score"]
    """How the answer was read: a JSON field, plain-text rules, or scoring every option (argmax)."""
    distribution: dict[str, float] | None = None
    """Probability of each answer (normalised over the answer space), when the backend can score."""
    raw: str | None = None
    """The reply text the answer was read from (None when it came from scoring alone)."""

    def probability(self, answer: str) -> float | None:
        """The probability of an answer, when a distribution exists."""
        return None if self.distribution is None else self.distribution.get(answer, 0.0)


class PostHocExplanation(BaseModel):
    """Answer first, then the model's free-text reason for it (asked in a second turn)."""

    kind: Literal["post-hoc"] = "post-hoc"
    prediction: Prediction
    explanation: str


class ExplainThenPredict(BaseModel):
    """The explanation first, then the answer, in one reply."""

    kind: Literal["explain-then-predict"] = "explain-then-predict"
    explanation: str
    prediction: Prediction


class ImportantWord(BaseModel):
    """One word or phrase the model says mattered, with its score when asked for."""

    text: str
    score: float | None = None
    in_input: bool
    """Whether it occurs in the input (case-insensitive); words that do not cannot be removed."""


class FeatureImportance(BaseModel):
    """The k words or phrases of the input that mattered most for the answer (Madsen et al. 2024)."""

    kind: Literal["importance"] = "importance"
    words: list[ImportantWord]
    k: int
    """How many were asked for."""


class Counterfactual(BaseModel):
    """The model's minimal edit of the input meant to make the answer `target`, and its answer on the edit."""

    kind: Literal["counterfactual"] = "counterfactual"
    field: str
    """The input field that was edited."""
    original_text: str
    edited_text: str
    original_answer: str
    target: str
    """The answer the edit is meant to produce."""
    edited_prediction: Prediction | None = None
    """The model's answer on the edited input, asked in a fresh conversation (None if unreadable)."""
    edited_failure: ParseFailure | None = None
    unchanged: bool = False
    """True when the "edit" left the text as it was."""


class Redaction(BaseModel):
    """The input with the words the model needs replaced by a redaction token (Madsen et al. 2024)."""

    kind: Literal["redaction"] = "redaction"
    field: str
    original_text: str
    redacted_text: str
    token: str
    redacted_count: int
    """How many redaction tokens the reply contains."""


class ChainOfThought(BaseModel):
    """Step-by-step reasoning, kept as a list of steps, and the final answer."""

    kind: Literal["cot"] = "cot"
    steps: list[str]
    prediction: Prediction
    answer_forced: bool = False
    """True when the reply reasoned but gave no final answer, so the answer was asked after the steps (as Lanham et
    al. 2023 elicit every answer); the steps then stop before the first repeated one."""
    reasoning_trace: str | None = None
    """A separate trace returned by a reasoning model, kept as it came."""
    text: str
    """The whole visible reply as a reader would quote it (reasoning blocks, chatty wrapper, headings and emphasis
    marks taken out); the raw reply is in the call's trace."""


ParadigmOutput = Annotated[
    Prediction
    | PostHocExplanation
    | ExplainThenPredict
    | FeatureImportance
    | Counterfactual
    | Redaction
    | ChainOfThought,
    Field(discriminator="kind"),
]


class ParadigmResult(BaseModel):
    """A paradigm's typed output or typed failure, with every call behind it."""

    kind: Literal["paradigm_result"] = "paradigm_result"
    paradigm: str
    item_id: str
    model: str
    output: ParadigmOutput | None = None
    failure: ParseFailure | None = None
    traces: list[CallTrace] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the output is present."""
        return self.output is not None

    @property
    def prediction(self) -> Prediction | None:
        """The answer this result carries, whatever the paradigm (None when it has none or failed)."""
        output = self.output
        if isinstance(output, Prediction):
            return output
        return getattr(output, "prediction", None)
