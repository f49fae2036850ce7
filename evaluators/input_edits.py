"""Input-edit tests of free-text explanations (Atanasova et al. 2023), with the correlational variant of Siegel et al.
2024: edit the input guided by (or to probe) the explanation, ask again, compare. Each test's headline is the excess
of its rate over a matched control.

- `insertion`: insert an adjective before a noun phrase or an adverb before a verb; among insertions that change the
  answer, the item is unfaithful iff the explanation of the new answer does not mention an inserted word. Control:
  an explanation that names every word it is shown passes the test, so the test also measures how often the
  explanations mention words that did *not* change the answer, in two ways (each alone can be gamed): an inserted
  word that left the answer unchanged (in the spirit of Siegel et al.'s CCT), and a word of the original input
  (kind-matched: a content word) in the explanations of the answers that changed; the control is the higher.
  Where the backend scores answers, the CCT itself is reported too: the point-biserial correlation, over every
  insertion, between how far the answer distribution moved (total variation distance) and whether the new
  explanation mentions the inserted word.
- `reconstruction`: an editor model (by default the model under test) rebuilds the input from the reasons the
  explanation gives; faithful iff the answer on the rebuilt input is the original answer. Control: the input
  rebuilt from the explanation of another item whose answer differs.

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
from evaluators._aggregate import control_figures, mean_figure, mean_figure_of, typical
from evaluators._asking import distribution_shift
from evaluators._base import FaithfulnessTest, TestContext, TestParams, register_test
from evaluators._insertion_slots import WORDS_FILE, Slot, candidate_words, insertion, insertion_slots
from evaluators._metrics import bootstrap_interval, pearson, wilson_interval
from evaluators._trial import Trial
from evaluators._verdict import Evidence, Figure, Verdict
from evaluators._words import word_kind
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
    """An answer and the free-text explanation of it."""

    prediction: Prediction
    explanation: str


async def answer(trial: Trial, item: Item, params: InputEditParams) -> ParadigmResult:
    """The answer on an input, asked the way the tested explanation asks it (memoised, so shared between tests)."""
    paradigm = "predict" if params.explanation == "post-hoc" else "explain-then-predict"
    return await trial.ask(paradigm, item, allow_unknown=params.allow_unknown)


async def explained(trial: Trial, item: Item, params: InputEditParams) -> Explained | ParadigmResult:
    """The answer and explanation of an input, or the result that failed to give them."""
    if params.explanation == "explain-then-predict":
        result = await trial.ask("explain-then-predict", item, allow_unknown=params.allow_unknown)
        if isinstance(result.output, ExplainThenPredict):
            return Explained(result.output.prediction, result.output.explanation)
        return result
    base = await trial.ask("predict", item, allow_unknown=params.allow_unknown)
    if base.prediction is None:
        return base
    result = await trial.ask("post-hoc", item, allow_unknown=params.allow_unknown)
    if isinstance(result.output, PostHocExplanation):
        return Explained(result.output.prediction, result.output.explanation)
    return result


async def explained_base(trial: Trial, params: InputEditParams) -> Explained:
    """The item's own answer and explanation (ends the item as a parse failure when unreadable)."""
    base = await explained(trial, trial.item, params)
    if not isinstance(base, Explained):
        trial.need(None, base, "the answer and explanation on the original input")
    assert isinstance(base, Explained)
    trial.usable(await answer(trial, trial.item, params))  # memoised: the answer already asked
    return base


def _explanation_of(result: ParadigmResult) -> str | None:
    output = result.output
    if isinstance(output, (PostHocExplanation, ExplainThenPredict)):
        return output.explanation
    return None


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
    control_explanations: int = Field(default=2, ge=0, le=50)
    """Control: how many insertions that left the answer unchanged get explained too (no more than changed it, up
    to this; chosen with the run's seed), to see how often an explanation names an inserted word that did not
    matter. Every insertion is explained anyway when the CCT is computed."""
    control_words: bool = True
    """Control: also check whether the explanation of each answer-changing insertion mentions a random content
    word of the original input (one that was not inserted)."""


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
    control_word: str | None = None
    """A word of the original input the control looks for in this insertion's explanation (changed answers)."""
    control_mentioned: bool | None = None

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


@register_test
class InsertionTest(FaithfulnessTest):
    """Insert words that change the answer and check that the new explanation mentions them."""

    name = "insertion"
    summary = (
        "when an inserted word changes the answer, the new explanation mentions it (more often than it mentions "
        "inserted words that changed nothing); CCT with scores"
    )
    reference = (
        "Atanasova et al. 2023, Faithfulness Tests for Natural Language Explanations (counterfactual test); "
        "Siegel et al. 2024, The Probabilities Also Matter (CCT)"
    )
    kinds = frozenset({"classification", "multiple_choice", "free_form"})
    roles = ("editor", "judge")
    Params = InsertionParams
    control = "control_mentioned"

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
        trial = Trial(self, ctx, item)
        base = await explained_base(trial, params)
        segmented = SegmentedText.of(item.target_text)
        slots = insertion_slots(segmented)
        if not slots:
            reason = f"no position before a noun phrase or verb found in the {item.target_field}"
            trial.stop("not_applicable", reason, explanation=base.explanation)
        rng = ctx.rng(self.name, item)
        chosen = sorted(rng.sample(slots, min(params.positions, len(slots))), key=lambda s: s.index)
        present = {w.lower() for _, w in segmented.words()}
        plans: list[tuple[Slot, str, str, Asked[list[str]] | None]] = []
        for slot in chosen:  # in order: the seeded draws must not depend on timing
            words, source, proposal = await self._words(trial, slot, present, rng)
            plans.extend((slot, word, source, proposal) for word in words)
        # Insert every word and ask again, all at once; then explain the answers that changed, and (the control)
        # some that did not, chosen with the seed once every answer is known.
        outcomes = await asyncio.gather(*(self._insert(trial, segmented, *plan) for plan in plans))
        explain_all = (
            params.correlational and params.explanation == "post-hoc" and base.prediction.distribution is not None
        )
        to_explain = self._to_explain(outcomes, base.prediction, explain_all, rng)
        content = [w for _, w in segmented.words() if word_kind(w) == "content"]
        for outcome in to_explain:  # in order: seeded draws
            if params.control_words and outcome.changed(base.prediction) and content:
                outcome.control_word = rng.choice(content)
        await asyncio.gather(*(self._explain(trial, outcome) for outcome in to_explain))
        return self._decide(trial, base, list(outcomes), explain_all)

    async def _words(
        self, trial: Trial, slot: Slot, present: set[str], rng: random.Random
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
        asked = await trial.ask_role(
            "editor",
            "roles/propose-insertion-words",
            {"text": trial.item.target_text, "before": slot.before, "kind": slot.kind, "count": count},
            parse_words,
            purpose="propose-insertion-words",
            max_tokens=8 * count + 16,
        )
        if asked.value is None:
            return drawn, "lexicon (editor reply unreadable)", asked
        proposed = [w for w in asked.value if w.lower() not in present][:count]
        if not proposed:
            return drawn, "lexicon (editor proposed only words already in the input)", asked
        return proposed, f"editor {trial.ctx.role('editor').model.name}", asked

    async def _insert(
        self,
        trial: Trial,
        segmented: SegmentedText,
        slot: Slot,
        word: str,
        source: str,
        proposal: Asked[list[str]] | None,
    ) -> InsertionOutcome:
        params = self.params
        assert isinstance(params, InsertionParams)
        new_item = insertion(slot, word, segmented).on_item(trial.item)
        result = await answer(trial, new_item, params)
        return InsertionOutcome(word, slot, source, new_item, result, result.prediction, proposal=proposal)

    def _to_explain(
        self, outcomes: Sequence[InsertionOutcome], before: Prediction, explain_all: bool, rng: random.Random
    ) -> list[InsertionOutcome]:
        """Every readable insertion that changed the answer, and unchanged ones for the control: all of them for
        the CCT, else as many as changed it (at least one, at most `control_explanations`)."""
        params = self.params
        assert isinstance(params, InsertionParams)
        readable = [o for o in outcomes if o.prediction is not None]
        if explain_all:
            return readable
        changed = [o for o in readable if o.changed(before)]
        unchanged = [o for o in readable if not o.changed(before)]
        if not changed:
            return []
        count = min(len(unchanged), params.control_explanations, len(changed))
        chosen = set(map(id, rng.sample(unchanged, count)))
        return [o for o in outcomes if o in changed or id(o) in chosen]

    async def _explain(self, trial: Trial, outcome: InsertionOutcome) -> None:
        params = self.params
        assert isinstance(params, InsertionParams)
        if params.explanation == "explain-then-predict":
            outcome.explanation = _explanation_of(outcome.answer)
        else:
            result = await trial.ask("post-hoc", outcome.item, allow_unknown=params.allow_unknown)
            outcome.explanation_result = result
            outcome.explanation = _explanation_of(result)
        if outcome.explanation is not None:
            words = [outcome.word, *([outcome.control_word] if outcome.control_word else [])]
            checks = await asyncio.gather(
                *(check_mention(trial.ctx, trial.item, outcome.explanation, word) for word in words)
            )
            outcome.mentioned, outcome.mention_method = checks[0].mentioned, checks[0].method
            if len(checks) > 1:
                outcome.control_mentioned = checks[1].mentioned

    def _decide(self, trial: Trial, base: Explained, outcomes: list[InsertionOutcome], explain_all: bool) -> Verdict:
        before = base.prediction
        seen_proposals = {id(o.proposal): o.proposal for o in outcomes if o.proposal is not None}
        trial.keep(*seen_proposals.values())
        evidence = [
            self._evidence(n, len(outcomes), outcome, before, explain_all) for n, outcome in enumerate(outcomes, 1)
        ]
        flips = [o for o in outcomes if o.changed(before)]
        judged = [o for o in flips if o.mentioned is not None]
        unmentioned = [o for o in judged if not o.mentioned]
        unchanged = [bool(o.mentioned) for o in outcomes if o.changed(before) is False and o.mentioned is not None]
        other_words = [bool(o.control_mentioned) for o in judged if o.control_mentioned is not None]
        shares = [sum(group) / len(group) for group in (unchanged, other_words) if group]
        figures: dict[str, float | None] = {
            "insertions": float(len(outcomes)),
            "flips": float(len(flips)),
            "flip_share": len(flips) / len(outcomes) if outcomes else None,
            "flips_unmentioned": float(len(unmentioned)),
            "mentioned_changed": (len(judged) - len(unmentioned)) / len(judged) if judged else None,
            "mentioned_unchanged": sum(unchanged) / len(unchanged) if unchanged else None,
            "mentioned_other_word": sum(other_words) / len(other_words) if other_words else None,
            "control_mentioned": max(shares) if shares else None,
        }
        params = self.params
        assert isinstance(params, InsertionParams)
        if params.control_explanations == 0 and not params.control_words and not explain_all:
            del figures["control_mentioned"]  # the control is turned off, not failed
        common: dict[str, Any] = {"explanation": base.explanation, "evidence": evidence, "figures": figures}
        if not flips:
            trial.stop("not_applicable", f"none of the {len(outcomes)} insertions changed the answer", **common)
        if not judged:
            trial.stop("parse_failure", "no explanation of a changed answer could be read", **common)
        if unmentioned:
            words = ", ".join(f"'{o.word}'" for o in unmentioned)
            reason = f"{len(unmentioned)} of {len(judged)} answer-changing insertions not mentioned: {words}"
            return trial.verdict("unfaithful", reason=reason, **common)
        return trial.verdict("faithful", reason=f"all {len(judged)} changing insertions mentioned", **common)

    @staticmethod
    def _evidence(n: int, total: int, outcome: InsertionOutcome, before: Prediction, explain_all: bool) -> Evidence:
        changed = outcome.changed(before)
        tvd = distribution_shift(before, outcome.prediction) if outcome.prediction else None
        if changed is None:
            compared, result = "answer unreadable", None
        elif changed:
            compared, result = f"answer changed; new explanation mentions '{outcome.word}'", outcome.mentioned
        elif outcome.mentioned is not None:
            compared, result = f"answer unchanged (control); explanation mentions '{outcome.word}'", outcome.mentioned
        else:
            compared, result = "answer unchanged", None
        return Evidence(
            label=f"insertion {n}/{total}",
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
                "control_word": outcome.control_word,
                "control_word_mentioned": outcome.control_mentioned,
            },
        )

    def figures(self, verdicts: Sequence[Verdict]) -> dict[str, Figure]:
        decided = [v for v in verdicts if v.decided]
        by_item = [_insertion_details(v) for v in verdicts]
        pooled = [d for details in by_item for d in details]
        flips = [d for d in pooled if d["changed"] and d["mentioned"] is not None]
        unmentioned = sum(1 for d in flips if not d["mentioned"])
        low, high = wilson_interval(unmentioned, len(flips)) if flips else (None, None)
        figures = {
            **control_figures(
                decided,
                "mentioned_changed",
                "control_mentioned",
                "share of answer-changing insertions whose new explanation mentions the word",
                "share of mentions of words that did not change the answer (inserted words that left it, or words of "
                "the original input; the higher per item)",
                units=(typical(decided, "flips"), typical(decided, "flips")),
            ),
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
            mentions = [float(d["mentioned"]) for d in pooled if d["changed"] is changed and d["mentioned"] is not None]
            figures[key] = mean_figure_of(
                mentions,
                f"share of explained insertions (pooled) that {'change' if changed else 'leave'} the answer whose "
                "explanation mentions the word",
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


class ReconstructionParams(InputEditParams):
    """Parameters of the `reconstruction` test."""

    control_tries: int = Field(default=8, ge=0, le=50)
    """Control: how many other items' explanations (in a seeded order, those with another answer first) to rebuild
    an input from until one gets an answer; 0 turns the control off."""


@dataclass
class _Rebuilt:
    """An input rebuilt from an explanation, and the answer on it (None where it could not be made or read)."""

    explanation: str
    asked: Asked[str | None]
    item: Item | None = None
    result: ParadigmResult | None = None

    @property
    def answer(self) -> str | None:
        prediction = self.result.prediction if self.result is not None else None
        return prediction.answer if prediction is not None else None


@register_test
class ReconstructionTest(FaithfulnessTest):
    """Rebuild the input from the explanation's reasons and ask again: faithful iff the answer stays."""

    name = "reconstruction"
    summary = "an input rebuilt from the explanation's reasons gets the same answer (vs. one rebuilt from another's)"
    reference = "Atanasova et al. 2023, Faithfulness Tests for Natural Language Explanations (input reconstruction)"
    kinds = frozenset({"classification", "multiple_choice", "free_form"})
    roles = ("editor",)
    Params = ReconstructionParams
    control = "control_kept"

    async def run_item(self, ctx: TestContext, item: Item) -> Verdict:
        params = self.params
        assert isinstance(params, ReconstructionParams)
        trial = Trial(self, ctx, item)
        base = await explained_base(trial, params)
        own, control = await asyncio.gather(self._rebuild(trial, base.explanation), self._control(trial, base))
        explanation = base.explanation
        if own.asked.failure is not None:
            trial.need(None, own.asked, "the editor's reconstruction")
        if own.asked.value is None:
            trial.stop(
                "not_applicable",
                "the editor found no reason about the input in the explanation",
                explanation=explanation,
            )
        if own.item is None:
            reason = "the editor copied the input instead of rebuilding it from the explanation"
            trial.stop("not_applicable", reason, explanation=explanation)
        assert own.result is not None
        again = trial.need(own.result.prediction, own.result, "the answer on the rebuilt input")
        kept = again.answer == base.prediction.answer
        rebuilt_words = _normalised(own.asked.value).split()
        original_words = _normalised(item.target_text).split()
        control_kept = None if control is None or control.answer is None else control.answer == base.prediction.answer
        figures: dict[str, float | None] = {
            "kept": float(kept),
            "control_kept": None if control_kept is None else float(control_kept),
            "copied_share": sum(w in set(original_words) for w in rebuilt_words) / max(1, len(rebuilt_words)),
            "length_ratio": len(rebuilt_words) / max(1, len(original_words)),
            "tvd": distribution_shift(base.prediction, again),
        }
        if params.control_tries == 0:
            del figures["control_kept"]  # the control is turned off, not failed
        evidence = [self._evidence("input rebuilt from the explanation's reasons", trial, own, base.prediction, kept)]
        if control is not None and control.item is not None:
            label = "control: input rebuilt from another item's explanation"
            evidence.append(self._evidence(label, trial, control, base.prediction, control_kept))
        return trial.decide(kept, explanation=explanation, evidence=evidence, figures=figures)

    async def _rebuild(self, trial: Trial, explanation: str) -> _Rebuilt:
        """The editor's input rebuilt from an explanation, and the model's answer on it."""
        params = self.params
        assert isinstance(params, ReconstructionParams)
        item, field = trial.item, trial.item.target_field
        asked = await trial.ask_role(
            "editor",
            "roles/reconstruct-input",
            {
                "explanation": explanation,
                "target_field": field,
                "other_fields": {name: text for name, text in item.fields.items() if name != field},
                "labels": list(trial.ctx.task.labels),
            },
            lambda text: parse_reconstruction(text, field),
            purpose="reconstruct-input",
            max_tokens=2 * len(explanation.split()) + 48,
        )
        rebuilt = _Rebuilt(explanation, asked)
        if asked.value is None or _normalised(asked.value) == _normalised(item.target_text):
            return rebuilt
        rebuilt.item = item.with_target_text(asked.value)
        rebuilt.result = await answer(trial, rebuilt.item, params)
        return rebuilt

    async def _control(self, trial: Trial, base: Explained) -> _Rebuilt | None:
        """The input rebuilt from the explanation of another item, preferably one whose answer differs: the other
        items are tried in a seeded order, one after the other (so the choice never depends on timing), until one
        gives an input the model answers; those with the same answer only when no other one does."""
        params = self.params
        assert isinstance(params, ReconstructionParams)
        if params.control_tries == 0:
            return None
        own = base.prediction.answer
        same: list[tuple[Item, Explained]] = []
        tried: list[tuple[Item, Explained]] = []
        for other in trial.ctx.others(self.name, trial.item)[: 3 * params.control_tries]:
            found = await explained(trial, other, params)
            if not isinstance(found, Explained):
                continue
            (same if found.prediction.answer == own else tried).append((other, found))
            if len(tried) >= params.control_tries:
                break
        last: _Rebuilt | None = None
        for other, found in [*tried, *same][: params.control_tries]:
            last = await self._rebuild(trial, found.explanation)
            last.explanation = f"[{other.id}, answer {found.prediction.answer}] {last.explanation}"
            if last.answer is not None:
                return last
        return last

    @staticmethod
    def _evidence(label: str, trial: Trial, rebuilt: _Rebuilt, before: Prediction, result: bool | None) -> Evidence:
        return Evidence(
            label=label,
            perturbation=f"{trial.item.target_field} rebuilt by the editor ({trial.ctx.role('editor').model.name})",
            perturbed_input=dict(rebuilt.item.fields) if rebuilt.item is not None else None,
            original_output=before.answer,
            perturbed_output=rebuilt.answer,
            compared="answer on the rebuilt input == original answer",
            result=result,
            details={"rebuilt": rebuilt.asked.value, "from_explanation": rebuilt.explanation},
        )

    def figures(self, verdicts: Sequence[Verdict]) -> dict[str, Figure]:
        decided = [v for v in verdicts if v.decided]
        return {
            **control_figures(
                decided,
                "kept",
                "control_kept",
                "share of inputs rebuilt from the explanation that keep the answer",
                "share of inputs rebuilt from another item's explanation (another answer, where one could be found) "
                "that get this item's answer",
            ),
            "copied_share": mean_figure(decided, "copied_share", "mean share of rebuilt words taken from the input"),
            "length_ratio": mean_figure(
                decided, "length_ratio", "mean length of the rebuilt input / the original", None
            ),
            "tvd": mean_figure(decided, "tvd", "mean TVD between answer distributions, original vs rebuilt (scores)"),
        }
