"""Verdicts (one per item and test, holding their evidence) and summaries (one per test and model)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from evaluators._metrics import wilson_interval

Outcome = Literal["faithful", "unfaithful", "not_applicable", "parse_failure", "error"]
"""faithful / unfaithful: the test decided. not_applicable: the test does not apply to this item (the reason says
why). parse_failure: a reply it needed could not be read. error: a call failed for good (network, backend)."""


class Evidence(BaseModel):
    """One comparison a verdict rests on: what was changed, what came out before and after, what was compared."""

    label: str
    """What this comparison is, e.g. "model's own counterfactual", "random removal 2/5"."""
    perturbation: str | None = None
    """The perturbation in words, e.g. "removed: dragged, wooden"."""
    perturbed_input: dict[str, str] | None = None
    """The input fields after the perturbation."""
    original_output: str | None = None
    """The answer (or explanation) before."""
    perturbed_output: str | None = None
    """The answer (or explanation) after."""
    compared: str | None = None
    """What was compared, e.g. "answer on edit == target (positive)"."""
    result: bool | float | None = None
    """The comparison's outcome."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Anything else worth showing: distributions, scores, the mention method."""


class Verdict(BaseModel):
    """A test's decision on one item, with the evidence behind it."""

    kind: Literal["verdict"] = "verdict"
    test: str
    model: str
    item_id: str
    scenario: str | None = None
    outcome: Outcome
    reason: str | None = None
    """Why the item is not applicable, failed to parse or errored; or a short note on the decision."""
    input: dict[str, str] = Field(default_factory=dict)
    """The original input fields."""
    explanation: str | None = None
    """The explanation under test, as text (words, edit, rationale, ...)."""
    evidence: list[Evidence] = Field(default_factory=list)
    figures: dict[str, float | None] = Field(default_factory=dict)
    """Item-level numbers the test reports (e.g. tvd, aoc, accuracy flags)."""
    roles: dict[str, str] = Field(default_factory=dict)
    """Which model played which role (subject, editor, judge, generator, simulator)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The test's parameters."""
    call_ids: list[str] = Field(default_factory=list)
    """Ids of the model calls behind this verdict (see the run's records)."""

    @property
    def decided(self) -> bool:
        """Faithful or unfaithful (counted in the rate)."""
        return self.outcome in ("faithful", "unfaithful")


class Figure(BaseModel):
    """A test-specific aggregate number, with its interval when one makes sense."""

    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0
    """How many items (or units) it is computed over."""
    description: str = ""


FAITHFUL_RATE = "faithful_rate"
"""The headline of a test without a matched control: the share of decided items judged faithful."""
EXCESS = "excess"
"""The headline of a test with a matched control: its rate minus the control's, paired over items."""


class TestSummary(BaseModel):
    """A test's result for one model (on one scenario): its headline figure, the faithful rate with its interval,
    counts, figures, and, when the test could not decide on this model, why."""

    kind: Literal["summary"] = "summary"
    test: str
    model: str
    scenario: str | None = None
    n_items: int
    n_faithful: int
    n_unfaithful: int
    n_not_applicable: int
    n_parse_failure: int
    n_error: int
    faithful_rate: float | None
    """Faithful / (faithful + unfaithful); None when no item was decided."""
    ci_low: float | None
    ci_high: float | None
    figures: dict[str, Figure] = Field(default_factory=dict)
    items: dict[str, list[str]] = Field(default_factory=dict)
    """Outcome -> the item ids behind each count."""
    headline_name: str = FAITHFUL_RATE
    """Which figure the test's verdict rests on: "excess" (over its matched control) or "faithful_rate"."""
    headline: Figure | None = None
    """That figure, with its 95% interval: what the CLI table, the report and `--fail-under` read. Filled from the
    faithful rate when not given (summaries written before headlines existed)."""
    cannot_decide: str | None = None
    """Why the test cannot decide on this model (e.g. most replies unreadable, chains of thought that are not
    reasoning); None when it can. When set, the headline is not a verdict and gates fail."""

    @model_validator(mode="after")
    def _default_headline(self) -> TestSummary:
        if self.headline is None:
            self.headline = self.faithful_rate_figure()
        return self

    @property
    def n_tested(self) -> int:
        """Items the test decided."""
        return self.n_faithful + self.n_unfaithful

    def faithful_rate_figure(self) -> Figure:
        """The faithful rate as a Figure (Wilson 95% interval over the decided items)."""
        return Figure(
            value=self.faithful_rate,
            low=self.ci_low,
            high=self.ci_high,
            n=self.n_tested,
            description="share of decided items judged faithful (Wilson 95% interval)",
        )


def summarise_outcomes(test: str, model: str, verdicts: list[Verdict], scenario: str | None = None) -> TestSummary:
    """Counts, faithful rate and Wilson 95% interval over verdicts (figures are added by each test)."""
    by_outcome: dict[str, list[str]] = {}
    for verdict in verdicts:
        by_outcome.setdefault(verdict.outcome, []).append(verdict.item_id)
    faithful = len(by_outcome.get("faithful", []))
    unfaithful = len(by_outcome.get("unfaithful", []))
    decided = faithful + unfaithful
    low, high = wilson_interval(faithful, decided) if decided else (None, None)
    return TestSummary(
        test=test,
        model=model,
        scenario=scenario,
        n_items=len(verdicts),
        n_faithful=faithful,
        n_unfaithful=unfaithful,
        n_not_applicable=len(by_outcome.get("not_applicable", [])),
        n_parse_failure=len(by_outcome.get("parse_failure", [])),
        n_error=len(by_outcome.get("error", [])),
        faithful_rate=faithful / decided if decided else None,
        ci_low=low,
        ci_high=high,
        items=by_outcome,
    )
