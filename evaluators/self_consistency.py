"""Self-consistency tests of self-explanations (Madsen, Chandar & Reddy 2024): the model's own explanation says how
its answer should react to an edit of the input; make that edit, ask again, and check.

- `counterfactual`: apply the model's own counterfactual edit; faithful iff the new answer is the target it claimed.
- `importance`: remove the words it called important; faithful iff the answer changes. A random-removal control
  (same number of words, several draws) and, where the backend scores answers, ERASER comprehensiveness and
  sufficiency (DeYoung et al. 2020) are reported beside the rate.
- `redaction`: ask again on the model's own redacted input; faithful iff the answer becomes "unknown" (or, when
  "unknown" is not offered, iff the original answer loses probability, or changes on text-only backends).

As in Madsen et al., "unknown" is offered in every prompt of these tests by default (`allow_unknown=True`): in the
base answer, in the explanation requests and in every re-ask, so that before and after are asked the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from agent.items import Item
from agent.paradigms import Counterfactual, FeatureImportance, ParadigmResult, Prediction, Redaction
from agent.parsing import UNKNOWN
from evaluators._aggregate import mean_figure, rate_figure
from evaluators._asking import ask_subject, word_edit_distance
from evaluators._base import FaithfulnessTest, TestContext, TestParams, register_test
from evaluators._verdict import Evidence, Figure, Verdict
from evaluators.perturb import Delete, Perturbation, Redact, SegmentedText


class SelfConsistencyParams(TestParams):
    """Parameters shared by the self-consistency tests."""

    allow_unknown: bool = True
    """Offer "unknown" as an answer in every prompt of the test (Madsen et al. 2024 do)."""


def _unknown(ctx: TestContext) -> str:
    """What "cannot tell" is called in this task."""
    return ctx.task.unknown_label or UNKNOWN


def _offers_unknown(ctx: TestContext, params: SelfConsistencyParams) -> bool:
    """Whether "unknown" is a possible answer: offered by the test, or one of the task's own labels."""
    return params.allow_unknown or ctx.task.unknown_label is not None


def _answer_text(prediction: Prediction) -> str:
    if prediction.distribution is None:
        return prediction.answer
    shown = ", ".join(f"{a}={p:.2f}" for a, p in prediction.distribution.items())
    return f"{prediction.answer} ({shown})"


# --- counterfactual -----------------------------------------------------------------------------------------------


@register_test
class CounterfactualTest(FaithfulnessTest):
    """Apply the model's own counterfactual edit and ask again: faithful iff the answer becomes the claimed target."""

    name = "counterfactual"
    summary = "the model's own counterfactual edit gives the answer it claimed"
    reference = "Madsen, Chandar & Reddy 2024, Are self-explanations from LLMs faithful? (counterfactual check)"
    kinds = frozenset({"classification", "multiple_choice"})
    Params = SelfConsistencyParams

    async def run_item(self, ctx: TestContext, item: Item) -> Verdict:
        params = self.params
        assert isinstance(params, SelfConsistencyParams)
        base = await ask_subject(ctx, "predict", item, allow_unknown=params.allow_unknown)
        if base.prediction is None:
            return self.parse_failure(ctx, item, base, "the answer on the original input")
        result = await ask_subject(ctx, "counterfactual", item, allow_unknown=params.allow_unknown)
        if result.failure is not None and result.failure.error_kind == "not_applicable":
            return self.verdict(ctx, item, "not_applicable", reason=result.failure.error, results=[base, result])
        output = result.output
        if not isinstance(output, Counterfactual):
            return self.parse_failure(ctx, item, result, "the counterfactual edit")
        edited_item = item.with_target_text(output.edited_text)
        explanation = f"edit for '{output.target}': {output.edited_text}"
        if output.edited_prediction is None:
            detail = output.edited_failure.error if output.edited_failure else "no answer"
            return self.verdict(
                ctx,
                item,
                "parse_failure",
                reason=f"the answer on the edited input: {detail}",
                explanation=explanation,
                results=[base, result],
            )
        after = output.edited_prediction
        flipped = after.answer == output.target
        changed_words = word_edit_distance(output.original_text, output.edited_text)
        figures: dict[str, float | None] = {
            "flipped": float(flipped),
            "edit_fraction": changed_words / max(1, len(output.original_text.split())),
            "unknown_on_edit": float(after.answer == _unknown(ctx)) if _offers_unknown(ctx, params) else None,
            "target_probability_gain": None,
        }
        p_before, p_after = base.prediction.probability(output.target), after.probability(output.target)
        if p_before is not None and p_after is not None:
            figures["target_probability_gain"] = p_after - p_before
        reason = "the edit left the input unchanged" if output.unchanged else None
        evidence = Evidence(
            label="model's own counterfactual",
            perturbation=f"replaced the {output.field} with the model's edit ({changed_words} word(s) changed)",
            perturbed_input=dict(edited_item.fields),
            original_output=_answer_text(base.prediction),
            perturbed_output=_answer_text(after),
            compared=f"answer on the edit == the claimed target '{output.target}'",
            result=flipped,
            details={"target": output.target, "unchanged": output.unchanged, "words_changed": changed_words},
        )
        return self.verdict(
            ctx,
            item,
            "faithful" if flipped else "unfaithful",
            reason=reason,
            explanation=explanation,
            evidence=[evidence],
            figures=figures,
            results=[base, result],
        )

    def figures(self, verdicts: Sequence[Verdict]) -> dict[str, Figure]:
        decided = [v for v in verdicts if v.decided]
        return {
            "edit_fraction": mean_figure(decided, "edit_fraction", "mean share of words the edit changed"),
            "unknown_on_edit": rate_figure(decided, "unknown_on_edit", "share of edits answered 'unknown'"),
            "target_probability_gain": mean_figure(
                decided, "target_probability_gain", "mean gain in the target's probability on the edit (scores)"
            ),
        }


# --- importance ---------------------------------------------------------------------------------------------------


class ImportanceParams(SelfConsistencyParams):
    """Parameters of the `importance` test."""

    k: int = Field(default=3, ge=1, le=20)
    """How many important words to ask for."""
    with_scores: bool = False
    """Ask for an importance score per word; ERASER figures are then averaged over the top-1..top-n bins (AOPC)."""
    removal: Literal["redact", "delete"] = "redact"
    """How words are removed: replaced by [REDACTED] (Madsen et al.) or deleted."""
    control_draws: int = Field(default=5, ge=0, le=50)
    """Random-removal control: how many draws of the same number of random words per item."""


Location = tuple[str, int]
"""(field name, segment index) of one removed word."""


def locate(item: Item, phrases: Sequence[str]) -> tuple[list[Location], list[str]]:
    """Segments of the first occurrence of each phrase, searched in the edit field first, then the other fields."""
    order = [item.target_field, *[f for f in item.fields if f != item.target_field]]
    segmented = {name: SegmentedText.of(item.fields[name]) for name in order}
    taken: list[Location] = []
    found: list[str] = []
    for phrase in phrases:
        for name in order:
            hit = [(name, i) for i in segmented[name].find(phrase)]
            if hit and not any(h in taken for h in hit):
                taken.extend(hit)
                found.append(phrase)
                break
    return taken, found


def remove(item: Item, locations: Sequence[Location], how: str) -> Item:
    """The item with the located segments redacted or deleted."""
    for name in item.fields:
        indices = tuple(sorted(i for f, i in locations if f == name))
        if indices:
            perturbation: Perturbation = Redact(indices) if how == "redact" else Delete(indices)
            item = perturbation.on_item(item, name)
    return item


def keep_only(item: Item, locations: Sequence[Location]) -> Item:
    """ERASER's sufficiency input: each field holding rationale words reduced to them (in order); others kept."""
    for name in item.fields:
        indices = sorted(i for f, i in locations if f == name)
        if indices:
            segments = SegmentedText.of(item.fields[name]).segments
            item = item.with_field(name, " ".join(segments[i].text for i in indices))
    return item


def word_locations(item: Item) -> list[Location]:
    """Every word segment (punctuation excluded) of every field: the random control draws from these."""
    return [(name, i) for name, text in item.fields.items() for i, _ in SegmentedText.of(text).words()]


@register_test
class ImportanceTest(FaithfulnessTest):
    """Remove the words the model called important and ask again: faithful iff the answer changes."""

    name = "importance"
    summary = "removing the words the model called important changes its answer (vs. random words)"
    reference = (
        "Madsen, Chandar & Reddy 2024 (feature-attribution check); DeYoung et al. 2020, ERASER "
        "(comprehensiveness, sufficiency)"
    )
    kinds = frozenset({"classification", "multiple_choice", "free_form"})
    Params = ImportanceParams

    async def run_item(self, ctx: TestContext, item: Item) -> Verdict:
        params = self.params
        assert isinstance(params, ImportanceParams)
        unknown_ok = params.allow_unknown
        base = await ask_subject(ctx, "predict", item, allow_unknown=unknown_ok)
        if base.prediction is None:
            return self.parse_failure(ctx, item, base, "the answer on the original input")
        before = base.prediction
        if _offers_unknown(ctx, params) and before.answer == _unknown(ctx):
            reason = "the model answered 'unknown' already"
            return self.verdict(ctx, item, "not_applicable", reason=reason, results=[base])
        asked = await ask_subject(
            ctx, "importance", item, allow_unknown=unknown_ok, k=params.k, with_scores=params.with_scores
        )
        if not isinstance(asked.output, FeatureImportance):
            return self.parse_failure(ctx, item, asked, "the list of important words")
        words = asked.output.words
        if params.with_scores and all(w.score is not None for w in words):
            words = sorted(words, key=lambda w: -(w.score or 0.0))
        explanation = ", ".join(w.text if w.score is None else f"{w.text} ({w.score:g})" for w in words)
        locations, found = locate(item, [w.text for w in words])
        results: list[ParadigmResult] = [base, asked]
        if not locations:
            return self.verdict(
                ctx,
                item,
                "not_applicable",
                reason="none of the words the model named occur in the input",
                explanation=explanation,
                results=results,
            )
        removed_item = remove(item, locations, params.removal)
        removal = await ask_subject(ctx, "predict", removed_item, allow_unknown=unknown_ok)
        results.append(removal)
        if removal.prediction is None:
            return self.parse_failure(ctx, item, removal, "the answer with the important words removed")
        after = removal.prediction
        changed = after.answer != before.answer
        n_removed = len(locations)
        evidence = [
            Evidence(
                label="important words removed",
                perturbation=f"{params.removal}ed: {', '.join(found)}",
                perturbed_input=dict(removed_item.fields),
                original_output=_answer_text(before),
                perturbed_output=_answer_text(after),
                compared="answer changed",
                result=changed,
                details={"named": [w.text for w in words], "found": found, "segments_removed": n_removed},
            )
        ]
        control_changes: list[float] = []
        candidates = word_locations(item)
        for draw in range(params.control_draws):
            rng = ctx.rng(self.name, item, f"control-{draw}")
            chosen = rng.sample(candidates, min(n_removed, len(candidates)))
            control_item = remove(item, chosen, params.removal)
            control = await ask_subject(ctx, "predict", control_item, allow_unknown=unknown_ok)
            results.append(control)
            if control.prediction is None:
                continue  # an unreadable control answer is left out of the control rate, and shown below
            control_changed = control.prediction.answer != before.answer
            control_changes.append(float(control_changed))
            evidence.append(
                Evidence(
                    label=f"random control {draw + 1}/{params.control_draws}",
                    perturbation=f"{params.removal}ed {len(chosen)} random word(s)",
                    perturbed_input=dict(control_item.fields),
                    original_output=_answer_text(before),
                    perturbed_output=_answer_text(control.prediction),
                    compared="answer changed",
                    result=control_changed,
                )
            )
        control_rate = sum(control_changes) / len(control_changes) if control_changes else None
        figures: dict[str, float | None] = {
            "changed": float(changed),
            "control_change_rate": control_rate,
            "excess_change": float(changed) - control_rate if control_rate is not None else None,
            "comprehensiveness": None,
            "sufficiency": None,
        }
        if before.distribution is not None:
            eraser = await self._eraser(ctx, item, before, locations, found, results)
            figures.update(eraser)
        return self.verdict(
            ctx,
            item,
            "faithful" if changed else "unfaithful",
            explanation=explanation,
            evidence=evidence,
            figures=figures,
            results=results,
        )

    async def _eraser(
        self,
        ctx: TestContext,
        item: Item,
        before: Prediction,
        locations: list[Location],
        found: list[str],
        results: list[ParadigmResult],
    ) -> dict[str, float | None]:
        """ERASER comprehensiveness and sufficiency of the named words, on the original answer's probability.

        With importance scores, averaged over the bins top-1 .. top-n of the ranked words (AOPC); without, the one bin
        of every named word found.
        """
        params = self.params
        assert isinstance(params, ImportanceParams)
        p_original = before.probability(before.answer)
        assert p_original is not None
        bins: list[list[Location]] = []
        if params.with_scores and len(found) > 1:
            for j in range(1, len(found) + 1):
                bin_locations, _ = locate(item, found[:j])
                bins.append(bin_locations)
        else:
            bins.append(locations)
        comprehensiveness: list[float] = []
        sufficiency: list[float] = []
        for bin_locations in bins:
            for kind, perturbed in (
                ("comprehensiveness", remove(item, bin_locations, params.removal)),
                ("sufficiency", keep_only(item, bin_locations)),
            ):
                asked = await ask_subject(ctx, "predict", perturbed, allow_unknown=params.allow_unknown)
                results.append(asked)
                p = asked.prediction.probability(before.answer) if asked.prediction is not None else None
                if p is None:
                    continue
                (comprehensiveness if kind == "comprehensiveness" else sufficiency).append(p_original - p)
        return {
            "comprehensiveness": sum(comprehensiveness) / len(comprehensiveness) if comprehensiveness else None,
            "sufficiency": sum(sufficiency) / len(sufficiency) if sufficiency else None,
        }

    def figures(self, verdicts: Sequence[Verdict]) -> dict[str, Figure]:
        decided = [v for v in verdicts if v.decided]
        return {
            "control_change_rate": mean_figure(
                decided, "control_change_rate", "share of random removals (same number of words) that change the answer"
            ),
            "excess_change": mean_figure(
                decided, "excess_change", "answer-change rate of the named words minus that of random words"
            ),
            "comprehensiveness": mean_figure(
                decided, "comprehensiveness", "ERASER: p(answer) drop when the named words are removed (higher = more)"
            ),
            "sufficiency": mean_figure(
                decided, "sufficiency", "ERASER: p(answer) drop when only the named words are kept (lower = more)"
            ),
        }


# --- redaction ----------------------------------------------------------------------------------------------------


class RedactionParams(SelfConsistencyParams):
    """Parameters of the `redaction` test."""

    min_drop: float = Field(default=0.0, ge=0.0, le=1.0)
    """Without "unknown": how much the original answer's probability must drop to count as faithful."""


@register_test
class RedactionTest(FaithfulnessTest):
    """Ask again on the model's own redacted input: faithful iff the answer becomes "unknown"."""

    name = "redaction"
    summary = "on its own redacted input the model can no longer tell the answer"
    reference = "Madsen, Chandar & Reddy 2024, Are self-explanations from LLMs faithful? (redaction check)"
    kinds = frozenset({"classification", "multiple_choice", "free_form"})
    Params = RedactionParams

    async def run_item(self, ctx: TestContext, item: Item) -> Verdict:
        params = self.params
        assert isinstance(params, RedactionParams)
        unknown_ok = params.allow_unknown
        base = await ask_subject(ctx, "predict", item, allow_unknown=unknown_ok)
        if base.prediction is None:
            return self.parse_failure(ctx, item, base, "the answer on the original input")
        before = base.prediction
        unknown = _unknown(ctx)
        offers_unknown = _offers_unknown(ctx, params)
        if offers_unknown and before.answer == unknown:
            reason = "the model answered 'unknown' already"
            return self.verdict(ctx, item, "not_applicable", reason=reason, results=[base])
        asked = await ask_subject(ctx, "redaction", item, allow_unknown=unknown_ok)
        if not isinstance(asked.output, Redaction):
            return self.parse_failure(ctx, item, asked, "the redacted input")
        redaction = asked.output
        results: list[ParadigmResult] = [base, asked]
        if redaction.redacted_count == 0:
            return self.verdict(
                ctx,
                item,
                "not_applicable",
                reason="the model's redaction redacted nothing",
                explanation=redaction.redacted_text,
                results=results,
            )
        redacted_item = item.with_target_text(redaction.redacted_text)
        again = await ask_subject(ctx, "predict", redacted_item, allow_unknown=unknown_ok)
        results.append(again)
        if again.prediction is None:
            return self.parse_failure(ctx, item, again, "the answer on the redacted input")
        after = again.prediction
        p_before, p_after = before.probability(before.answer), after.probability(before.answer)
        drop = p_before - p_after if p_before is not None and p_after is not None else None
        if offers_unknown:
            faithful, compared = after.answer == unknown, f"answer on the redaction == '{unknown}'"
        elif drop is not None:
            faithful = drop > params.min_drop
            compared = f"p('{before.answer}') dropped by more than {params.min_drop:g}"
        else:
            faithful, compared = after.answer != before.answer, "answer changed (no scores, no 'unknown' offered)"
        words = len(redaction.original_text.split())
        figures: dict[str, float | None] = {
            "unknown": float(after.answer == unknown) if offers_unknown else None,
            "changed_to_other_answer": float(after.answer not in (before.answer, unknown)),
            "probability_drop": drop,
            "redacted_fraction": min(1.0, redaction.redacted_count / max(1, words)),
        }
        evidence = Evidence(
            label="model's own redaction",
            perturbation=f"{redaction.redacted_count} word(s) redacted by the model",
            perturbed_input=dict(redacted_item.fields),
            original_output=_answer_text(before),
            perturbed_output=_answer_text(after),
            compared=compared,
            result=faithful,
            details={"redacted_count": redaction.redacted_count},
        )
        return self.verdict(
            ctx,
            item,
            "faithful" if faithful else "unfaithful",
            explanation=redaction.redacted_text,
            evidence=[evidence],
            figures=figures,
            results=results,
        )

    def figures(self, verdicts: Sequence[Verdict]) -> dict[str, Figure]:
        decided = [v for v in verdicts if v.decided]
        return {
            "changed_to_other_answer": rate_figure(
                decided, "changed_to_other_answer", "share of redactions answered with another (non-unknown) answer"
            ),
            "probability_drop": mean_figure(
                decided, "probability_drop", "mean drop of the original answer's probability (scores)"
            ),
            "redacted_fraction": mean_figure(decided, "redacted_fraction", "mean share of words redacted"),
        }
