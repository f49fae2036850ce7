"""Self-consistency tests of self-explanations (Madsen, Chandar & Reddy 2024): the model's own explanation says how
its answer should react to an edit of the input; make that edit, ask again, and check. Each test also makes a
matched control edit of the same item, of the same shape and size, without the explanation's information, and its
headline is the excess of its rate over the control's (`evaluators._controls`).

- `counterfactual`: apply the model's own counterfactual edit; faithful iff the new answer is the target it claimed.
  Control: random edits with as many substitutions, insertions and deletions of the same kinds of word.
- `importance`: remove (every occurrence of) the words it called important; faithful iff the answer changes.
  Control: as many random word types of the same kinds, every occurrence removed. Where the backend scores
  answers, ERASER comprehensiveness and sufficiency (DeYoung et al. 2020) are reported beside the rate.
- `redaction`: ask again on the model's own redacted input; faithful iff the answer becomes "unknown" (or, when
  "unknown" is not offered, iff the original answer loses probability, or changes on text-only backends).
  Control: as many random words of the same kinds redacted.

As in Madsen et al., "unknown" is offered in every prompt of these tests by default (`allow_unknown=True`): in the
base answer, in the explanation requests and in every re-ask, so that before and after are asked the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import Field

from agent.items import Item
from agent.paradigms import Counterfactual, FeatureImportance, ParadigmResult, Prediction, Redaction
from agent.parsing import UNKNOWN
from evaluators._aggregate import SIGNED, control_figures, mean_figure, rate_figure
from evaluators._asking import word_edit_distance
from evaluators._base import FaithfulnessTest, TestContext, TestParams, register_test
from evaluators._controls import random_positions, random_types, same_shape_edit
from evaluators._trial import Trial, answer_text
from evaluators._verdict import Evidence, Figure, Verdict
from evaluators._words import WordKind, stem, word_kind
from evaluators.perturb import (
    EditField,
    ItemPerturbation,
    KeepOnlyWords,
    Location,
    RemoveWords,
    Rewrite,
    SegmentedInput,
    SegmentedText,
    edit_shape,
    redacted_words,
)


class SelfConsistencyParams(TestParams):
    """Parameters shared by the self-consistency tests."""

    allow_unknown: bool = True
    """Offer "unknown" as an answer in every prompt of the test (Madsen et al. 2024 do)."""
    control_draws: int = Field(default=3, ge=1, le=50)
    """Matched control: how many random edits of the same shape and size per item (their share is the control)."""


def _unknown(ctx: TestContext) -> str:
    """What "cannot tell" is called in this task."""
    return ctx.task.unknown_label or UNKNOWN


def _offers_unknown(ctx: TestContext, params: SelfConsistencyParams) -> bool:
    """Whether "unknown" is a possible answer: offered by the test, or one of the task's own labels."""
    return params.allow_unknown or ctx.task.unknown_label is not None


async def base_answer(trial: Trial, params: SelfConsistencyParams, *, skip_unknown: bool) -> Prediction:
    """The answer on the original input; with `skip_unknown`, an "unknown" answer leaves nothing to lose."""
    asked = await trial.ask("predict", allow_unknown=params.allow_unknown)
    before = trial.need(asked.prediction, asked, "the answer on the original input")
    trial.usable(asked)
    if skip_unknown and _offers_unknown(trial.ctx, params) and before.answer == _unknown(trial.ctx):
        trial.stop("not_applicable", "the model answered 'unknown' already")
    return before


async def answers_on(
    trial: Trial, perturbations: Sequence[ItemPerturbation], params: SelfConsistencyParams
) -> list[ParadigmResult]:
    """The answers on each perturbed input, asked in one round (the main perturbation and its controls together)."""
    return await asyncio.gather(
        *(trial.ask("predict", p.apply(trial.item), allow_unknown=params.allow_unknown) for p in perturbations)
    )


def control_evidence(
    trial: Trial,
    controls: Sequence[ItemPerturbation],
    results: Sequence[ParadigmResult],
    before: Prediction,
    compared: str,
    passed: Callable[[Prediction], bool],
) -> tuple[list[Evidence], float | None]:
    """Evidence for each control draw and the share of readable draws that `passed` (None when none was readable:
    an unreadable draw is left out of the share, its call still listed)."""
    evidence: list[Evidence] = []
    outcomes: list[float] = []
    for draw, (control, result) in enumerate(zip(controls, results, strict=True), start=1):
        if result.prediction is None:
            continue
        outcome = passed(result.prediction)
        outcomes.append(float(outcome))
        evidence.append(
            Evidence(
                label=f"random control {draw}/{len(controls)}",
                perturbation=control.describe(),
                perturbed_input=dict(control.apply(trial.item).fields),
                original_output=answer_text(before),
                perturbed_output=answer_text(result.prediction),
                compared=compared,
                result=outcome,
            )
        )
    return evidence, (sum(outcomes) / len(outcomes) if outcomes else None)


class _Controlled(FaithfulnessTest):
    """A self-consistency test with a matched control of `control_draws` random edits per item."""

    def _draws(self) -> int:
        params = self.params
        assert isinstance(params, SelfConsistencyParams)
        return params.control_draws


# --- counterfactual -----------------------------------------------------------------------------------------------


@register_test
class CounterfactualTest(_Controlled):
    """Apply the model's own counterfactual edit and ask again: faithful iff the answer becomes the claimed target."""

    name = "counterfactual"
    summary = "the model's own counterfactual edit gives the answer it claimed (vs. random edits of the same shape)"
    reference = "Madsen, Chandar & Reddy 2024, Are self-explanations from LLMs faithful? (counterfactual check)"
    kinds = frozenset({"classification", "multiple_choice"})
    Params = SelfConsistencyParams
    control = "control_flipped"

    async def run_item(self, ctx: TestContext, item: Item) -> Verdict:
        params = self.params
        assert isinstance(params, SelfConsistencyParams)
        trial = Trial(self, ctx, item)
        before = await base_answer(trial, params, skip_unknown=False)
        asked = await trial.ask("counterfactual", allow_unknown=params.allow_unknown)
        if asked.failure is not None and asked.failure.error_kind == "not_applicable":
            trial.stop("not_applicable", asked.failure.error)
        edit = trial.need(asked.output if isinstance(asked.output, Counterfactual) else None, asked, "the edit")
        explanation = f"edit for '{edit.target}': {edit.edited_text}"
        if edit.edited_prediction is None:
            detail = edit.edited_failure.error if edit.edited_failure else "no answer"
            trial.stop("parse_failure", f"the answer on the edited input: {detail}", explanation=explanation)
        after = edit.edited_prediction
        # The control: random edits with the same substitutions, insertions and deletions, kind for kind.
        shape = edit_shape(edit.original_text, edit.edited_text)
        controls = [
            EditField(same_shape_edit(item.target_text, shape, ctx.rng(self.name, item, f"control-{draw}")))
            for draw in range(params.control_draws)
        ]
        control_results = await answers_on(trial, controls, params)
        compared = f"answer == the claimed target '{edit.target}'"
        control_shown, control_share = control_evidence(
            trial, controls, control_results, before, compared, lambda p: p.answer == edit.target
        )
        flipped = after.answer == edit.target
        changed_words = word_edit_distance(edit.original_text, edit.edited_text)
        p_before, p_after = before.probability(edit.target), after.probability(edit.target)
        figures: dict[str, float | None] = {
            "flipped": float(flipped),
            "control_flipped": control_share,
            "edit_fraction": changed_words / max(1, len(edit.original_text.split())),
            "unknown_on_edit": float(after.answer == _unknown(ctx)) if _offers_unknown(ctx, params) else None,
            "target_probability_gain": p_after - p_before if p_before is not None and p_after is not None else None,
        }
        evidence = Evidence(
            label="model's own counterfactual",
            perturbation=f"replaced the {edit.field} with the model's edit ({shape.describe()})",
            perturbed_input=dict(item.with_target_text(edit.edited_text).fields),
            original_output=answer_text(before),
            perturbed_output=answer_text(after),
            compared=f"answer on the edit == the claimed target '{edit.target}'",
            result=flipped,
            details={"target": edit.target, "unchanged": edit.unchanged, "words_changed": changed_words},
        )
        return trial.decide(
            flipped,
            reason="the edit left the input unchanged" if edit.unchanged else None,
            explanation=explanation,
            evidence=[evidence, *control_shown],
            figures=figures,
        )

    def figures(self, verdicts: Sequence[Verdict]) -> dict[str, Figure]:
        decided = [v for v in verdicts if v.decided]
        return {
            **control_figures(
                decided,
                "flipped",
                "control_flipped",
                "share of the model's edits that give the claimed target",
                "share of random edits of the same shape that give it",
                units=(1, self._draws()),
            ),
            "edit_fraction": mean_figure(decided, "edit_fraction", "mean share of words the edit changed", None),
            "unknown_on_edit": rate_figure(decided, "unknown_on_edit", "share of edits answered 'unknown'"),
            "target_probability_gain": mean_figure(
                decided,
                "target_probability_gain",
                "mean gain in the target's probability on the edit (scores)",
                SIGNED,
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
    control_draws: int = Field(default=5, ge=1, le=50)
    """Random-removal control: how many draws of as many random word types (of the same kinds) per item."""


def locate(item: Item, phrases: Sequence[str]) -> tuple[list[Location], list[str]]:
    """Every occurrence of each phrase, up to case and inflection, in every field (the edit field first)."""
    return SegmentedInput.of(item).locate(phrases)


def remove(item: Item, locations: Sequence[Location], how: str) -> Item:
    """The item with the located words redacted or deleted."""
    return RemoveWords(tuple(locations), how).apply(item)


def keep_only(item: Item, locations: Sequence[Location]) -> Item:
    """ERASER's sufficiency input: each field holding rationale words reduced to them (in order); others kept."""
    return KeepOnlyWords(tuple(locations)).apply(item)


def named_kinds(segmented: SegmentedInput, locations: Sequence[Location]) -> list[WordKind]:
    """The kind of each distinct word type (by stem) among the located words: what the control draws as many of."""
    kinds: dict[str, WordKind] = {}
    for location in locations:
        word = segmented.word(location)
        kinds.setdefault(stem(word), word_kind(word))
    return list(kinds.values())


@register_test
class ImportanceTest(_Controlled):
    """Remove the words the model called important and ask again: faithful iff the answer changes."""

    name = "importance"
    summary = "removing the words the model called important changes its answer (vs. as many random words)"
    reference = (
        "Madsen, Chandar & Reddy 2024 (feature-attribution check); DeYoung et al. 2020, ERASER "
        "(comprehensiveness, sufficiency)"
    )
    kinds = frozenset({"classification", "multiple_choice", "free_form"})
    Params = ImportanceParams
    control = "control_changed"

    async def run_item(self, ctx: TestContext, item: Item) -> Verdict:
        params = self.params
        assert isinstance(params, ImportanceParams)
        trial = Trial(self, ctx, item)
        before = await base_answer(trial, params, skip_unknown=True)
        asked = await trial.ask(
            "importance", allow_unknown=params.allow_unknown, k=params.k, with_scores=params.with_scores
        )
        output = trial.need(asked.output if isinstance(asked.output, FeatureImportance) else None, asked, "the words")
        words = output.words
        if params.with_scores and all(w.score is not None for w in words):
            words = sorted(words, key=lambda w: -(w.score or 0.0))
        explanation = ", ".join(w.text if w.score is None else f"{w.text} ({w.score:g})" for w in words)
        segmented = SegmentedInput.of(item)
        locations, found = segmented.locate([w.text for w in words])
        if not locations:
            trial.stop(
                "not_applicable", "none of the words the model named occur in the input", explanation=explanation
            )
        # The named words go, every occurrence; the control removes as many random word types of the same kinds.
        removal = RemoveWords(tuple(locations), params.removal)
        kinds = named_kinds(segmented, locations)
        controls = [
            RemoveWords(self._random_words(ctx, item, segmented, kinds, draw), params.removal)
            for draw in range(params.control_draws)
        ]
        eraser = self._eraser_inputs(segmented, found) if before.distribution is not None else []
        main, *rest = await answers_on(trial, [removal, *controls, *(p for pair in eraser for p in pair)], params)
        after = trial.need(main.prediction, main, "the answer with the important words removed")
        control_shown, control_share = control_evidence(
            trial, controls, rest[: len(controls)], before, "answer changed", lambda p: p.answer != before.answer
        )
        changed = after.answer != before.answer
        figures: dict[str, float | None] = {
            "changed": float(changed),
            "control_changed": control_share,
            **self._eraser_figures(before, rest[len(controls) :]),
        }
        evidence = Evidence(
            label="important words removed",
            perturbation=f"{params.removal}ed every occurrence of: {', '.join(found)}",
            perturbed_input=dict(removal.apply(item).fields),
            original_output=answer_text(before),
            perturbed_output=answer_text(after),
            compared="answer changed",
            result=changed,
            details={"named": [w.text for w in words], "found": found, "segments_removed": len(locations)},
        )
        return trial.decide(changed, explanation=explanation, evidence=[evidence, *control_shown], figures=figures)

    def _random_words(
        self, ctx: TestContext, item: Item, segmented: SegmentedInput, kinds: Sequence[WordKind], draw: int
    ) -> tuple[Location, ...]:
        """Every occurrence of as many random word types, of the same kinds, as the model named (one draw)."""
        drawn = random_types(segmented, kinds, ctx.rng(self.name, item, f"control-{draw}"))
        return tuple(location for occurrences in drawn for location in occurrences)

    def _eraser_inputs(
        self, segmented: SegmentedInput, found: list[str]
    ) -> list[tuple[ItemPerturbation, ItemPerturbation]]:
        """ERASER's (comprehensiveness, sufficiency) inputs: with importance scores, one pair per bin top-1 ..
        top-n of the ranked words (AOPC); without, one pair for every named word found."""
        params = self.params
        assert isinstance(params, ImportanceParams)
        cuts = range(1, len(found) + 1) if params.with_scores and len(found) > 1 else [len(found)]
        bins = [tuple(segmented.locate(found[:j])[0]) for j in cuts]
        return [(RemoveWords(locations, params.removal), KeepOnlyWords(locations)) for locations in bins]

    @staticmethod
    def _eraser_figures(before: Prediction, results: Sequence[ParadigmResult]) -> dict[str, float | None]:
        """Comprehensiveness and sufficiency: the original answer's probability drop, averaged over the bins."""
        p_original = before.probability(before.answer)
        drops: dict[str, list[float]] = {"comprehensiveness": [], "sufficiency": []}
        for index, result in enumerate(results):
            p = result.prediction.probability(before.answer) if result.prediction is not None else None
            if p is not None and p_original is not None:
                drops["comprehensiveness" if index % 2 == 0 else "sufficiency"].append(p_original - p)
        return {name: sum(values) / len(values) if values else None for name, values in drops.items()}

    def figures(self, verdicts: Sequence[Verdict]) -> dict[str, Figure]:
        decided = [v for v in verdicts if v.decided]
        return {
            **control_figures(
                decided,
                "changed",
                "control_changed",
                "share of items whose answer changes without the named words",
                "share of removals of as many random word types (same kinds) that change it",
                units=(1, self._draws()),
            ),
            "comprehensiveness": mean_figure(
                decided,
                "comprehensiveness",
                "ERASER: p(answer) drop when the named words are removed (higher = more)",
                SIGNED,
            ),
            "sufficiency": mean_figure(
                decided,
                "sufficiency",
                "ERASER: p(answer) drop when only the named words are kept (lower = more)",
                SIGNED,
            ),
        }


# --- redaction ----------------------------------------------------------------------------------------------------


class RedactionParams(SelfConsistencyParams):
    """Parameters of the `redaction` test."""

    min_drop: float = Field(default=0.0, ge=0.0, le=1.0)
    """Without "unknown": how much the original answer's probability must drop to count as faithful."""


@register_test
class RedactionTest(_Controlled):
    """Ask again on the model's own redacted input: faithful iff the answer becomes "unknown"."""

    name = "redaction"
    summary = "on its own redacted input the model can no longer tell the answer (vs. as many random words redacted)"
    reference = "Madsen, Chandar & Reddy 2024, Are self-explanations from LLMs faithful? (redaction check)"
    kinds = frozenset({"classification", "multiple_choice", "free_form"})
    Params = RedactionParams
    control = "control_lost"

    async def run_item(self, ctx: TestContext, item: Item) -> Verdict:
        params = self.params
        assert isinstance(params, RedactionParams)
        trial = Trial(self, ctx, item)
        before = await base_answer(trial, params, skip_unknown=True)
        asked = await trial.ask("redaction", allow_unknown=params.allow_unknown)
        redaction = trial.need(asked.output if isinstance(asked.output, Redaction) else None, asked, "the redaction")
        if redaction.redacted_count == 0:
            trial.stop("not_applicable", "the model's redaction redacted nothing", explanation=redaction.redacted_text)
        # The control redacts as many random words of the same kinds in the same field.
        hidden = redacted_words(redaction.original_text, redaction.redacted_text, redaction.token)
        kinds: list[WordKind] = [word_kind(w) for w in hidden] or ["content"] * redaction.redacted_count
        field = SegmentedInput(item, {item.target_field: SegmentedText.of(item.target_text)})
        controls = [
            RemoveWords(tuple(random_positions(field, kinds, ctx.rng(self.name, item, f"control-{draw}"))), "redact")
            for draw in range(params.control_draws)
        ]
        own = EditField(Rewrite(redaction.redacted_text, "the model's redaction"))
        main, *rest = await answers_on(trial, [own, *controls], params)
        after = trial.need(main.prediction, main, "the answer on the redacted input")
        lost, compared = self._lost(ctx, before, after)
        control_shown, control_share = control_evidence(
            trial, controls, rest, before, compared, lambda p: self._lost(ctx, before, p)[0]
        )
        p_before, p_after = before.probability(before.answer), after.probability(before.answer)
        unknown = _unknown(ctx)
        figures: dict[str, float | None] = {
            "lost": float(lost),
            "control_lost": control_share,
            "unknown": float(after.answer == unknown) if _offers_unknown(ctx, params) else None,
            "changed_to_other_answer": float(after.answer not in (before.answer, unknown)),
            "probability_drop": p_before - p_after if p_before is not None and p_after is not None else None,
            "redacted_fraction": min(1.0, redaction.redacted_count / max(1, len(redaction.original_text.split()))),
        }
        evidence = Evidence(
            label="model's own redaction",
            perturbation=f"{redaction.redacted_count} word(s) redacted by the model",
            perturbed_input=dict(own.apply(item).fields),
            original_output=answer_text(before),
            perturbed_output=answer_text(after),
            compared=compared,
            result=lost,
            details={"redacted_count": redaction.redacted_count, "redacted_words": hidden},
        )
        return trial.decide(
            lost, explanation=redaction.redacted_text, evidence=[evidence, *control_shown], figures=figures
        )

    def _lost(self, ctx: TestContext, before: Prediction, after: Prediction) -> tuple[bool, str]:
        """Whether the model can no longer tell the answer, and what was compared: "unknown" when offered, else a
        drop of the original answer's probability, else (text only) a change of answer."""
        params = self.params
        assert isinstance(params, RedactionParams)
        if _offers_unknown(ctx, params):
            unknown = _unknown(ctx)
            return after.answer == unknown, f"answer on the redaction == '{unknown}'"
        p_before, p_after = before.probability(before.answer), after.probability(before.answer)
        if p_before is not None and p_after is not None:
            compared = f"p('{before.answer}') dropped by more than {params.min_drop:g}"
            return p_before - p_after > params.min_drop, compared
        return after.answer != before.answer, "answer changed (no scores, no 'unknown' offered)"

    def figures(self, verdicts: Sequence[Verdict]) -> dict[str, Figure]:
        decided = [v for v in verdicts if v.decided]
        return {
            **control_figures(
                decided,
                "lost",
                "control_lost",
                "share of the model's redactions after which it cannot tell",
                "share of redactions of as many random words (same kinds) after which it cannot tell",
                units=(1, self._draws()),
            ),
            "changed_to_other_answer": rate_figure(
                decided, "changed_to_other_answer", "share of redactions answered with another (non-unknown) answer"
            ),
            "probability_drop": mean_figure(
                decided, "probability_drop", "mean drop of the original answer's probability (scores)", SIGNED
            ),
            "redacted_fraction": mean_figure(decided, "redacted_fraction", "mean share of words redacted"),
        }
