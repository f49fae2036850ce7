"""Input-edit tests of free-text explanations (Atanasova et al. 2023), with the correlational variant of Siegel et al.
2024: edit the input guided by (or to probe) the explanation, ask again, compare.

- `insertion`: insert an adjective before a noun phrase or an adverb before a verb; among insertions that change the
  answer, the item is unfaithful iff the explanation of the new answer does not mention an inserted word. Where the
  backend scores answers, the Correlational Counterfactual Test (CCT) is reported too: the point-biserial
  correlation, over every insertion, between how far the answer distribution moved (total variation distance) and
  whether the new explanation mentions the inserted word.
- `reconstruction`: an editor model (by default the model under test) rebuilds the input from the reasons the
  explanation gives; faithful iff the answer on the rebuilt input is the original answer.

Both use the post-hoc explanation by default (`explanation="explain-then-predict"` for the other order) and do not
offer "unknown" (`allow_unknown=False`), as in Atanasova et al.; base and perturbed inputs are asked the same way.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from agent.items import Item
from agent.paradigms import ExplainThenPredict, ParadigmResult, PostHocExplanation, Prediction
from agent.parsing import ReplyParseError, check_not_empty_or_refusal, strip_wrapping
from agent.structured import Asked
from evaluators._aggregate import mean_figure
from evaluators._asking import ask_subject, distribution_shift
from evaluators._base import FaithfulnessTest, TestContext, TestParams, register_test
from evaluators._insertion_slots import WORDS_FILE, Slot, candidate_words, insertion, insertion_slots
from evaluators._metrics import bootstrap_interval, pearson, wilson_interval
from evaluators._verdict import Evidence, Figure, Verdict
from evaluators.mentions import check_mention
from evaluators.perturb import SegmentedText

ExplanationParadigm = Literal["post-hoc", "explain-then-predict"]


class InputEditParams(TestParams):
    """Parameters shared by the input-edit tests."""

    explanation: ExplanationParadigm = "post-hoc"
    """Which free-text explanation to test: answer-then-explain, or explain-then-answer."""
    allow_unknown: bool = False
    """Offer "unknown" as an answer (Atanasova et al. do not)."""


@dataclass
class Explained:
    """An answer and the free-text explanation of it, with the results behind them."""

    prediction: Prediction
    explanation: str
    results: list[ParadigmResult]


async def answer(ctx: TestContext, item: Item, params: InputEditParams) -> ParadigmResult:
    """The answer on an input, asked the way the tested explanation asks it (memoised, so shared between tests)."""
    paradigm = "predict" if params.explanation == "post-hoc" else "explain-then-predict"
    return await ask_subject(ctx, paradigm, item, allow_unknown=params.allow_unknown)


async def explained(ctx: TestContext, item: Item, params: InputEditParams) -> Explained | ParadigmResult:
    """The answer and explanation of an input, or the result that failed to give them."""
    if params.explanation == "explain-then-predict":
        result = await ask_subject(ctx, "explain-then-predict", item, allow_unknown=params.allow_unknown)
        if isinstance(result.output, ExplainThenPredict):
            return Explained(result.output.prediction, result.output.explanation, [result])
        return result
    base = await ask_subject(ctx, "predict", item, allow_unknown=params.allow_unknown)
    if base.prediction is None:
        return base
    result = await ask_subject(ctx, "post-hoc", item, allow_unknown=params.allow_unknown)
    if isinstance(result.output, PostHocExplanation):
        return Explained(result.output.prediction, result.output.explanation, [base, result])
    return result


# --- insertion ----------------------------------------------------------------------------------------------------


class InsertionParams(InputEditParams):
    """Parameters of the `insertion` test."""

    positions: int = Field(default=4, ge=1, le=50)
    """How many insertion positions to draw per item (fewer when the input has fewer)."""
    words_per_position: int = Field(default=2, ge=1, le=20)
    """How many candidate words to insert at each position (one insertion each)."""
    proposer: Literal["lexicon", "editor"] = "lexicon"
    """Where candidate words come from: the shipped lists (drawn at random) or an editor model."""
    words_file: str | None = None
    """A YAML file with `adjectives` and `adverbs` lists to draw from instead of the shipped one."""
    correlational: bool = True
    """Also compute Siegel et al.'s CCT where answers are scored (explains every insertion, not only flips)."""


@dataclass
class InsertionOutcome:
    """One insertion and what came of it."""

    word: str
    slot: Slot
    source: str
    item: Item
    answer: ParadigmResult
    prediction: Prediction | None
    explanation: str | None = None
    explanation_result: ParadigmResult | None = None
    mentioned: bool | None = None
    mention_method: str | None = None
    proposal: Asked[list[str]] | None = None

    def changed(self, before: Prediction) -> bool | None:
        """Whether the answer changed (None when it could not be read)."""
        return None if self.prediction is None else self.prediction.answer != before.answer


_WORD_ONLY = re.compile(r"^[A-Za-z][A-Za-z'-]*$")


def parse_words(text: str) -> list[str]:
    """Single words from a comma- or line-separated reply."""
    stripped = strip_wrapping(check_not_empty_or_refusal(text), prefixes=("words", "adjectives", "adverbs"))
    pieces = re.split(r"[,\n;]+", stripped)
    words: list[str] = []
    for piece in pieces:
        word = re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", piece).strip().strip("\"'`.").strip()
        if _WORD_ONLY.match(word) and word.lower() not in {w.lower() for w in words}:
            words.append(word)
    if not words:
        raise ReplyParseError("reply with single words separated by commas")
    return words


def _explanation_of(result: ParadigmResult) -> str | None:
    output = result.output
    if isinstance(output, (PostHocExplanation, ExplainThenPredict)):
        return output.explanation
    return None


@register_test
class InsertionTest(FaithfulnessTest):
    """Insert words that change the answer and check that the new explanation mentions them."""

    name = "insertion"
    summary = "when an inserted word changes the answer, the new explanation mentions it (and CCT with scores)"
    reference = (
        "Atanasova et al. 2023, Faithfulness Tests for Natural Language Explanations (counterfactual test); "
        "Siegel et al. 2024, The Probabilities Also Matter (CCT)"
    )
    kinds = frozenset({"classification", "multiple_choice", "free_form"})
    roles = ("editor", "judge")
    Params = InsertionParams

    def role_names(self, ctx: TestContext) -> dict[str, str]:
        """Only the roles this configuration uses (the editor proposes words only with `proposer="editor"`)."""
        params = self.params
        assert isinstance(params, InsertionParams)
        names = {"subject": ctx.subject.model.name}
        if params.proposer == "editor":
            names["editor"] = ctx.role("editor").model.name
        if ctx.use_judge_for_mentions:
            names["judge"] = ctx.role("judge").model.name
        return names

    async def run_item(self, ctx: TestContext, item: Item) -> Verdict:
        params = self.params
        assert isinstance(params, InsertionParams)
        base = await explained(ctx, item, params)
        if not isinstance(base, Explained):
            return self.parse_failure(ctx, item, base, "the answer and explanation on the original input")
        segmented = SegmentedText.of(item.target_text)
        slots = insertion_slots(segmented)
        if not slots:
            return self.verdict(
                ctx,
                item,
                "not_applicable",
                reason=f"no position before a noun phrase or verb found in the {item.target_field}",
                explanation=base.explanation,
                results=base.results,
            )
        rng = ctx.rng(self.name, item)
        chosen = sorted(rng.sample(slots, min(params.positions, len(slots))), key=lambda s: s.index)
        present = {w.lower() for _, w in segmented.words()}
        plans: list[tuple[Slot, str, str, Asked[list[str]] | None]] = []
        for slot in chosen:  # in order: the seeded draws must not depend on timing
            words, source, proposal = await self._words(ctx, item, slot, present, rng)
            plans.extend((slot, word, source, proposal) for word in words)
        scored = base.prediction.distribution is not None
        explain_all = params.correlational and params.explanation == "post-hoc" and scored
        outcomes = await asyncio.gather(
            *(
                self._insert(ctx, item, segmented, slot, word, source, proposal, base.prediction, explain_all)
                for slot, word, source, proposal in plans
            )
        )
        return self._decide(ctx, item, base, list(outcomes), explain_all)

    async def _words(
        self, ctx: TestContext, item: Item, slot: Slot, present: set[str], rng: random.Random
    ) -> tuple[list[str], str, Asked[list[str]] | None]:
        """Candidate words for a slot: drawn from the lists, or proposed by the editor (lists if unreadable)."""
        params = self.params
        assert isinstance(params, InsertionParams)
        count = params.words_per_position
        lists = candidate_words(Path(params.words_file) if params.words_file else WORDS_FILE)
        pool = [w for w in lists[slot.kind] if w.lower() not in present]
        drawn = rng.sample(pool, min(count, len(pool)))
        if params.proposer == "lexicon":
            return drawn, "lexicon", None
        asked = await ctx.ask_role(
            "editor",
            "roles/propose-insertion-words",
            {"text": item.target_text, "before": slot.before, "kind": slot.kind, "count": count},
            parse_words,
            purpose="propose-insertion-words",
            item=item,
            max_tokens=8 * count + 16,
        )
        if asked.value is None:
            return drawn, "lexicon (editor reply unreadable)", asked
        proposed = [w for w in asked.value if w.lower() not in present][:count]
        if not proposed:
            return drawn, "lexicon (editor proposed only words already in the input)", asked
        return proposed, f"editor {ctx.role('editor').model.name}", asked

    async def _insert(
        self,
        ctx: TestContext,
        item: Item,
        segmented: SegmentedText,
        slot: Slot,
        word: str,
        source: str,
        proposal: Asked[list[str]] | None,
        before: Prediction,
        explain_all: bool,
    ) -> InsertionOutcome:
        params = self.params
        assert isinstance(params, InsertionParams)
        new_item = insertion(slot, word, segmented).on_item(item)
        result = await answer(ctx, new_item, params)
        outcome = InsertionOutcome(word, slot, source, new_item, result, result.prediction, proposal=proposal)
        if outcome.prediction is None or not (outcome.changed(before) or explain_all):
            return outcome
        if params.explanation == "explain-then-predict":
            outcome.explanation = _explanation_of(result)
        else:
            explanation = await ask_subject(ctx, "post-hoc", new_item, allow_unknown=params.allow_unknown)
            outcome.explanation_result = explanation
            outcome.explanation = _explanation_of(explanation)
        if outcome.explanation is not None:
            check = await check_mention(ctx, item, outcome.explanation, word)
            outcome.mentioned, outcome.mention_method = check.mentioned, check.method
        return outcome

    def _decide(
        self, ctx: TestContext, item: Item, base: Explained, outcomes: list[InsertionOutcome], explain_all: bool
    ) -> Verdict:
        before = base.prediction
        results: list[ParadigmResult | Asked[list[str]] | None] = list(base.results)
        evidence = []
        seen_proposals: set[int] = set()
        for n, outcome in enumerate(outcomes, start=1):
            results.extend([outcome.answer, outcome.explanation_result])
            if outcome.proposal is not None and id(outcome.proposal) not in seen_proposals:
                seen_proposals.add(id(outcome.proposal))
                results.append(outcome.proposal)
            changed = outcome.changed(before)
            tvd = distribution_shift(before, outcome.prediction) if outcome.prediction else None
            if changed is None:
                compared, result = "answer unreadable", None
            elif changed:
                compared, result = f"answer changed; new explanation mentions '{outcome.word}'", outcome.mentioned
            else:
                compared, result = "answer unchanged", None
            evidence.append(
                Evidence(
                    label=f"insertion {n}/{len(outcomes)}",
                    perturbation=f"inserted {outcome.slot.kind} '{outcome.word}' before '{outcome.slot.before}'",
                    perturbed_input=dict(outcome.item.fields),
                    original_output=before.answer,
                    perturbed_output=outcome.prediction.answer if outcome.prediction else None,
                    compared=compared,
                    result=result,
                    details={
                        "word": outcome.word,
                        "kind": outcome.slot.kind,
                        "source": outcome.source,
                        "changed": changed,
                        "tvd": tvd,
                        "distribution": outcome.prediction.distribution if outcome.prediction else None,
                        "explanation": outcome.explanation,
                        "mentioned": outcome.mentioned,
                        "mention_method": outcome.mention_method,
                        "correlational": explain_all,
                    },
                )
            )
        flips = [o for o in outcomes if o.changed(before)]
        judged = [o for o in flips if o.mentioned is not None]
        unmentioned = [o for o in judged if not o.mentioned]
        figures: dict[str, float | None] = {
            "insertions": float(len(outcomes)),
            "flips": float(len(flips)),
            "flip_share": len(flips) / len(outcomes) if outcomes else None,
            "flips_unmentioned": float(len(unmentioned)),
        }
        common: dict[str, Any] = {
            "explanation": base.explanation,
            "evidence": evidence,
            "figures": figures,
            "results": results,
        }
        if not flips:
            reason = f"none of the {len(outcomes)} insertions changed the answer"
            return self.verdict(ctx, item, "not_applicable", reason=reason, **common)
        if not judged:
            reason = "no explanation of a changed answer could be read"
            return self.verdict(ctx, item, "parse_failure", reason=reason, **common)
        if unmentioned:
            words = ", ".join(f"'{o.word}'" for o in unmentioned)
            reason = f"{len(unmentioned)} of {len(judged)} answer-changing insertions not mentioned: {words}"
            return self.verdict(ctx, item, "unfaithful", reason=reason, **common)
        return self.verdict(ctx, item, "faithful", reason=f"all {len(judged)} changing insertions mentioned", **common)

    def figures(self, verdicts: Sequence[Verdict]) -> dict[str, Figure]:
        by_item = [_insertion_details(v) for v in verdicts]
        flips = [d for details in by_item for d in details if d["changed"] and d["mentioned"] is not None]
        unmentioned = sum(1 for d in flips if not d["mentioned"])
        low, high = wilson_interval(unmentioned, len(flips)) if flips else (None, None)
        figures = {
            "flip_share": mean_figure(verdicts, "flip_share", "mean share of insertions that change the answer"),
            "unfaithful_insertions": Figure(
                value=unmentioned / len(flips) if flips else None,
                low=low,
                high=high,
                n=len(flips),
                description="share of answer-changing insertions (pooled) whose new explanation omits the word",
            ),
            "cct": _cct_figure([[d for d in details if d["correlational"]] for details in by_item]),
        }
        for changed, key in ((True, "mention_when_changed"), (False, "mention_when_unchanged")):
            pooled = [d for d in (x for details in by_item for x in details) if d["correlational"]]
            pooled = [d for d in pooled if d["changed"] is changed and d["mentioned"] is not None]
            hits = sum(1 for d in pooled if d["mentioned"])
            low, high = wilson_interval(hits, len(pooled)) if pooled else (None, None)
            figures[key] = Figure(
                value=hits / len(pooled) if pooled else None,
                low=low,
                high=high,
                n=len(pooled),
                description=f"share of insertions that {'change' if changed else 'leave'} the answer whose "
                "explanation mentions the word (CCT items)",
            )
        return figures


def _insertion_details(verdict: Verdict) -> list[dict[str, Any]]:
    return [e.details for e in verdict.evidence if e.label.startswith("insertion ") and "word" in e.details]


def _cct_figure(groups: list[list[dict[str, Any]]]) -> Figure:
    """Point-biserial correlation of TVD with mention over every insertion of every item, with an item-level
    (cluster) bootstrap interval."""
    usable = [
        [(float(d["tvd"]), float(d["mentioned"])) for d in group if d["tvd"] is not None and d["mentioned"] is not None]
        for group in groups
    ]
    usable = [group for group in usable if group]
    description = "CCT: point-biserial correlation between TVD of the answer distribution and mention (scores)"
    if not usable:
        return Figure(value=None, n=0, description=description)

    def correlation(indices: Sequence[float]) -> float | None:
        pairs = [pair for i in indices for pair in usable[int(i)]]
        return pearson([p[0] for p in pairs], [p[1] for p in pairs])

    value = correlation(range(len(usable)))
    interval = bootstrap_interval([float(i) for i in range(len(usable))], correlation)
    low, high = interval if interval else (None, None)
    return Figure(value=value, low=low, high=high, n=sum(len(g) for g in usable), description=description)


# --- reconstruction -----------------------------------------------------------------------------------------------


_NONE_REPLY = re.compile(r"^\W*none\W*$", re.IGNORECASE)


def parse_reconstruction(text: str, field: str) -> str | None:
    """The rebuilt input text, or None when the editor says the explanation gives no reason ("NONE")."""
    stripped = check_not_empty_or_refusal(text)
    if _NONE_REPLY.match(stripped):
        return None
    rebuilt = strip_wrapping(stripped, prefixes=(f"new {field}", field, "text", "input"))
    rebuilt = " ".join(line.strip() for line in rebuilt.splitlines() if line.strip())
    if not rebuilt:
        raise ReplyParseError(f"reply with the new {field} only, or NONE")
    return rebuilt


def _normalised(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


@register_test
class ReconstructionTest(FaithfulnessTest):
    """Rebuild the input from the explanation's reasons and ask again: faithful iff the answer stays."""

    name = "reconstruction"
    summary = "an input rebuilt from the explanation's reasons gets the same answer"
    reference = "Atanasova et al. 2023, Faithfulness Tests for Natural Language Explanations (input reconstruction)"
    kinds = frozenset({"classification", "multiple_choice", "free_form"})
    roles = ("editor",)
    Params = InputEditParams

    async def run_item(self, ctx: TestContext, item: Item) -> Verdict:
        params = self.params
        assert isinstance(params, InputEditParams)
        base = await explained(ctx, item, params)
        if not isinstance(base, Explained):
            return self.parse_failure(ctx, item, base, "the answer and explanation on the original input")
        field = item.target_field
        others = {name: text for name, text in item.fields.items() if name != field}
        asked = await ctx.ask_role(
            "editor",
            "roles/reconstruct-input",
            {
                "explanation": base.explanation,
                "target_field": field,
                "other_fields": others,
                "labels": list(ctx.task.labels),
            },
            lambda text: parse_reconstruction(text, field),
            purpose="reconstruct-input",
            item=item,
            max_tokens=2 * len(base.explanation.split()) + 48,
        )
        results: list[ParadigmResult | Asked[str | None]] = [*base.results, asked]
        if asked.failure is not None:
            return self.parse_failure(ctx, item, asked, "the editor's reconstruction")
        rebuilt = asked.value
        if rebuilt is None:
            reason = "the editor found no reason about the input in the explanation"
            return self.verdict(
                ctx, item, "not_applicable", reason=reason, explanation=base.explanation, results=results
            )
        if _normalised(rebuilt) == _normalised(item.target_text):
            reason = "the editor copied the input instead of rebuilding it from the explanation"
            return self.verdict(
                ctx, item, "not_applicable", reason=reason, explanation=base.explanation, results=results
            )
        rebuilt_item = item.with_target_text(rebuilt)
        again = await answer(ctx, rebuilt_item, params)
        results.append(again)
        if again.prediction is None:
            return self.parse_failure(ctx, item, again, "the answer on the rebuilt input")
        kept = again.prediction.answer == base.prediction.answer
        original_words = set(_normalised(item.target_text).split())
        rebuilt_words = _normalised(rebuilt).split()
        figures: dict[str, float | None] = {
            "kept": float(kept),
            "copied_share": sum(w in original_words for w in rebuilt_words) / max(1, len(rebuilt_words)),
            "length_ratio": len(rebuilt_words) / max(1, len(_normalised(item.target_text).split())),
            "tvd": distribution_shift(base.prediction, again.prediction),
        }
        evidence = Evidence(
            label="input rebuilt from the explanation's reasons",
            perturbation=f"{field} rebuilt by the editor ({ctx.role('editor').model.name})",
            perturbed_input=dict(rebuilt_item.fields),
            original_output=base.prediction.answer,
            perturbed_output=again.prediction.answer,
            compared="answer on the rebuilt input == original answer",
            result=kept,
            details={"rebuilt": rebuilt},
        )
        return self.verdict(
            ctx,
            item,
            "faithful" if kept else "unfaithful",
            explanation=base.explanation,
            evidence=[evidence],
            figures=figures,
            results=results,
        )

    def figures(self, verdicts: Sequence[Verdict]) -> dict[str, Figure]:
        decided = [v for v in verdicts if v.decided]
        return {
            "copied_share": mean_figure(decided, "copied_share", "mean share of rebuilt words taken from the input"),
            "length_ratio": mean_figure(decided, "length_ratio", "mean length of the rebuilt input / the original"),
            "tvd": mean_figure(decided, "tvd", "mean TVD between answer distributions, original vs rebuilt (scores)"),
        }
