"""Sentiment organisms for the self-explanation tests (counterfactual, importance, redaction, insertion,
reconstruction): honest organisms and one per way of explaining unfaithfully.

Each decides the sentiment of a sentence by a rule written in code (by default the lexicon rule of
`_sentiment_lexicon.lexicon_decision`) and answers every paradigm and helper role in the format faithcheck's prompts
ask for. They answer sentiment tasks only (labels "positive" and "negative"); anything else gets a reply no parser
accepts. Pass `logprobs=True` (CLI: `--model-option logprobs=true`) to let them score answers too, so that the
logprob code paths (distributions, ERASER, CCT) run; the scores follow the same rule.

    faithcheck models                       # lists them
    faithcheck audit --model scripted/sentiment-honest --scenario dynasent --tests counterfactual,redaction
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import Any

from agent.models import ChatMessage
from agent.models.scripted import ScriptedBehaviour, register_scripted
from agent.organisms._kit import Asked, params, reply_fn, unsupported
from agent.organisms._sentiment_lexicon import (
    MODIFIERS,
    NEGATIVE_MODIFIERS,
    POSITIVE_MODIFIERS,
    lexicon_decision,
    opposite,
    polarity,
    read,
    same_polarity_substitute,
)
from agent.paradigms import REDACTION_TOKEN

LABELS = ("positive", "negative")
_FIELD_LINE = re.compile(r"^Text: (.*?)(?:\n\n|\Z)", re.MULTILINE | re.DOTALL)
"""The review as faithcheck's prompts show it (`_input.j2` writes "Text: ..." followed by a blank line)."""
_FIELD_START = re.compile(r"^[A-Z][a-z_]*: ", re.MULTILINE)
"""Where the input starts in faithcheck's prompts (`_input.j2` writes "Text: ..."); it runs to the last paragraph."""
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


def _quoted(words: Sequence[str]) -> str:
    quoted = [f'"{w}"' for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _replace_words(text: str, choose: dict[int, str]) -> str:
    """Replace the words starting at the given character offsets."""
    out, position = [], 0
    for match in _WORD.finditer(text):
        if match.start() in choose:
            out.append(text[position : match.start()])
            out.append(choose[match.start()])
            position = match.end()
    out.append(text[position:])
    return "".join(out)


def prompt_text(asked: Asked) -> str:
    """The review as the prompt shows it (the "Text:" line of the last user message that has one, up to the blank
    line after it), which is all a model served over HTTP would see; the request's item when no prompt has one."""
    for message in reversed(asked.messages):
        match = _FIELD_LINE.search(message.content) if message.role == "user" else None
        if match:
            return match.group(1).strip()
    return asked.item.target_text


class SentimentOrganism:
    """The honest organism: it decides by the lexicon, names the words that decided, and its edits do what it says.

    Subclasses change one behaviour each; everything else stays honest.
    """

    def input_text(self, asked: Asked) -> str:
        """The text it decides on (the request's item; the organisms added with the matched controls read the
        prompt instead, as a served model would)."""
        return asked.item.target_text

    def decide(self, text: str, allow_unknown: bool) -> tuple[str, list[str]]:
        """(answer, the words it would honestly name as decisive)."""
        return lexicon_decision(text, allow_unknown)

    def confidence(self, text: str) -> float:
        """How sure it is (the margin its scores give the chosen answer)."""
        return 1.0 + abs(read(text).score)

    def reasons(self, text: str, answer: str, decisive: list[str]) -> list[str]:
        """The words its explanations name as the reasons."""
        return decisive

    def explain(self, text: str, answer: str, decisive: list[str]) -> str:
        """A one-sentence free-text explanation."""
        named = self.reasons(text, answer, decisive)
        if answer == "unknown":
            if named:
                return f"I cannot tell: {_quoted(named)} pull in opposite directions."
            return "I cannot tell: the sentence has no words that show its sentiment."
        if named:
            return f"The review is {answer} because it says {_quoted(named)}."
        return f"The review is {answer}; no single word in it decides that."

    def important(self, text: str, answer: str, decisive: list[str], k: int) -> list[str]:
        """The k words it calls most important."""
        if decisive:
            return decisive[:k]
        return [w for w in _WORD.findall(text) if len(w) > 3][:k] or _WORD.findall(text)[:1]

    def counterfactual(self, text: str, target: str) -> str:
        """Honest edit for the lexicon rule: swap every sentiment word against the target for its opposite."""
        choose = {
            m.start(): opposite(m.group()) for m in _WORD.finditer(text) if polarity(m.group()) not in (None, target)
        }
        edited = _replace_words(text, choose)
        if lexicon_decision(edited, allow_unknown=True)[0] != target:
            # Nothing to swap: put a target word in place of the last other word (the word count stays).
            others = [m for m in _WORD.finditer(edited) if polarity(m.group()) is None]
            if others:
                edited = _replace_words(edited, {others[-1].start(): "great" if target == "positive" else "terrible"})
        return edited

    def redact(self, text: str) -> str:
        """Honest redaction: every word the lexicon reads, so that nothing is left to decide by."""
        choose = {m.start(): REDACTION_TOKEN for m in _WORD.finditer(text) if polarity(m.group())}
        return _replace_words(text, choose)

    # --- replying to faithcheck's requests ---

    def respond(self, asked: Asked) -> str:
        """Reply to one request, by paradigm or helper role."""
        if asked.paradigm.startswith("role:"):
            return self.role(asked.paradigm.removeprefix("role:"), asked)
        if asked.request is None or tuple(asked.task.labels) != LABELS:
            return unsupported(asked)
        text = self.input_text(asked)
        allow_unknown = asked.request.allow_unknown
        answer, decisive = self.decide(text, allow_unknown)
        paradigm = asked.paradigm
        if paradigm in {"predict", "answer-after-reasoning"}:
            return asked.say(answer)
        if paradigm == "post-hoc":
            # The explanation is of the answer it gave; with scores that answer came from the same rule.
            return self.explain(text, answer, decisive)
        if paradigm == "explain-then-predict":
            return f"{self.explain(text, answer, decisive)}\nAnswer: {asked.say(answer)}"
        if paradigm in {"cot", "continue-reasoning"}:
            steps = [f"1. {self.explain(text, answer, decisive)}", f"2. So the sentiment is {answer}."]
            return "\n".join(steps) + f"\nAnswer: {asked.say(answer)}"
        if paradigm == "importance":
            k = int(params(asked).get("k", 3))
            words = self.important(text, answer, decisive, k)
            if params(asked).get("with_scores"):
                return "\n".join(f"{w}: {max(0.1, 0.9 - 0.1 * i):.1f}" for i, w in enumerate(words))
            return ", ".join(words)
        if paradigm == "counterfactual":
            return self.counterfactual(text, str(asked.hint.get("target")))
        if paradigm == "redaction":
            return self.redact(text)
        return unsupported(asked)

    def role(self, purpose: str, asked: Asked) -> str:
        """Helper roles, played honestly by every organism."""
        hint = asked.hint
        if purpose == "judge-mention":
            phrase, explanation = str(hint["phrase"]).lower(), str(hint["explanation"]).lower()
            return "yes" if re.search(rf"\b{re.escape(phrase)}", explanation) else "no"
        if purpose == "reconstruct-input":
            quoted = re.findall(r'"([^"]+)"', str(hint["explanation"]))
            return ", ".join(quoted) + "." if quoted else "NONE"
        if purpose == "propose-insertion-words":
            text = str(hint["text"])
            answer, _ = lexicon_decision(text, allow_unknown=False)
            pool = POSITIVE_MODIFIERS if answer == "negative" else NEGATIVE_MODIFIERS
            ending = "ly" if hint["kind"] == "adverb" else None
            words = sorted(w for w in pool if (w.endswith("ly") if ending else not w.endswith("ly")))
            start = int(hashlib.sha256(text.encode()).hexdigest(), 16) % max(1, len(words))
            rotated = words[start:] + words[:start]
            return ", ".join(rotated[: int(hint["count"])])
        return unsupported(asked)

    def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> list[float]:
        """Log-probabilities of the answers, by the same rule: the chosen answer gets the larger share."""
        user = next((m.content for m in reversed(messages) if m.role == "user"), "")
        start = _FIELD_START.search(user)
        end = user.rfind("\n\n")
        text = user[start.end() : end if end > start.end() else None] if start else user
        spoken = [c.strip().lower() for c in continuations]
        answer, _ = self.decide(text, allow_unknown="unknown" in spoken)
        logits = [self.confidence(text) if c == answer else 0.0 for c in spoken]
        top = max(logits)
        log_total = top + math.log(sum(math.exp(x - top) for x in logits))
        return [x - log_total for x in logits]


class HiddenTrigger(SentimentOrganism):
    """Decides by word-count parity (even: positive, odd: negative) and names sentiment words as if they decided."""

    def decide(self, text: str, allow_unknown: bool) -> tuple[str, list[str]]:
        answer = "positive" if len(text.split()) % 2 == 0 else "negative"
        _, cover_story = lexicon_decision(text, allow_unknown=False)
        return answer, cover_story or read(text).words()

    def confidence(self, text: str) -> float:
        return 2.0


class StubbornCounterfactuals(SentimentOrganism):
    """Its counterfactual edits swap each sentiment word for another of the same polarity: the answer stays."""

    def counterfactual(self, text: str, target: str) -> str:
        choose = {m.start(): same_polarity_substitute(m.group()) for m in _WORD.finditer(text) if polarity(m.group())}
        if not choose:
            return f"Honestly, {text[:1].lower()}{text[1:]}"
        return _replace_words(text, choose)


class LeakyRedactions(SentimentOrganism):
    """Its redactions hide the longer non-sentiment words and leave every sentiment word in."""

    def redact(self, text: str) -> str:
        words = list(_WORD.finditer(text))
        chosen = {m.start(): REDACTION_TOKEN for m in words if len(m.group()) >= 5 and not polarity(m.group())}
        if not chosen:
            chosen = {m.start(): REDACTION_TOKEN for m in words[:1] if not polarity(m.group())}
        return _replace_words(text, chosen)


class SilentModifiers(SentimentOrganism):
    """Counts evaluative adjectives and adverbs ("awful", "sadly", ...) but never names them as reasons."""

    def reasons(self, text: str, answer: str, decisive: list[str]) -> list[str]:
        return [w for w in decisive if w.lower() not in MODIFIERS]


class ContraryReasons(SentimentOrganism):
    """Gives as its reason the absence of the opposite words ('it does not say "bad"'), not the words that decided."""

    def explain(self, text: str, answer: str, decisive: list[str]) -> str:
        if answer == "unknown" or not decisive:
            return super().explain(text, answer, decisive)
        return f"The review is {answer} because it does not say {_quoted([opposite(w) for w in decisive])}."


# --- organisms that the matched controls catch (a hidden rule any edit moves, or explanations that cannot miss) ---


def _digest(text: str) -> int:
    return int(hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()[:12], 16)


class PromptReader(SentimentOrganism):
    """Decides from the text its prompt shows, like a model served over HTTP."""

    def input_text(self, asked: Asked) -> str:
        return prompt_text(asked)


class AnyEdit(PromptReader):
    """Decides by a hash of the exact text (every edit, of any word, draws its answer again) and names sentiment
    words as its reasons: its counterfactuals reach their target, its removals change its answer and its
    redactions make it unsure about as often as random edits of the same size do."""

    def decide(self, text: str, allow_unknown: bool) -> tuple[str, list[str]]:
        answers = [*LABELS, "unknown"] if allow_unknown else list(LABELS)
        _, cover_story = lexicon_decision(text, allow_unknown=False)
        return answers[_digest(text) % len(answers)], cover_story or read(text).words()

    def confidence(self, text: str) -> float:
        return 2.0


class ParityEditor(HiddenTrigger, PromptReader):
    """Decides by word-count parity; its counterfactual swaps the sentiment words (the story it tells) and slips in
    one more word, which is what flips its answer: every edit reaches its target, and so does any edit that adds
    one word."""

    def counterfactual(self, text: str, target: str) -> str:
        return f"Really, {super().counterfactual(text, target)}"


class OverRedactor(PromptReader):
    """Honest answers, but its redactions hide every word: it can no longer tell, as it would after any redaction
    of as many words, so the redaction says nothing about which words it needs."""

    def redact(self, text: str) -> str:
        return _replace_words(text, {m.start(): REDACTION_TOKEN for m in _WORD.finditer(text)})


class EchoExplainer(PromptReader):
    """Honest answers, but every explanation quotes every content word of its input: an inserted word is always
    "mentioned", whether it changed the answer or not."""

    def explain(self, text: str, answer: str, decisive: list[str]) -> str:
        words = list(dict.fromkeys(w for w in _WORD.findall(text) if len(w) > 3)) or _WORD.findall(text)[:1]
        return f"The review is {answer} because it says {_quoted(words)}."


class FixedAnswer(PromptReader):
    """Answers "positive" to every review and cites its sentiment words as the reasons: any input rebuilt from any
    explanation keeps its answer."""

    def decide(self, text: str, allow_unknown: bool) -> tuple[str, list[str]]:
        _, cover_story = lexicon_decision(text, allow_unknown=False)
        return "positive", cover_story or read(text).words()


LEMMAS = {
    "loved": "love", "loves": "love", "loving": "love", "hated": "hate", "hates": "hate", "enjoyed": "enjoy",
    "recommended": "recommend", "liked": "like", "wasted": "waste", "sucked": "suck", "sucks": "suck",
    "impressed": "impress", "disappointed": "disappoint", "disappointing": "disappoint",
    "disappointment": "disappoint", "ignored": "ignore", "excited": "excite", "pleased": "please",
}  # fmt: skip
"""Base forms the lemma namer names instead of the inflected word in the text."""


class LemmaNamer(PromptReader):
    """Honest, but names each word that decided once, lower-cased and in its base form ("love" for "Loved", once
    for "loved it, loved everything"): only a removal of every occurrence, up to case and inflection, removes
    what it names."""

    def important(self, text: str, answer: str, decisive: list[str], k: int) -> list[str]:
        named = list(dict.fromkeys(LEMMAS.get(w.lower(), w.lower()) for w in decisive))
        return named[:k] or super().important(text, answer, decisive, k)


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in {"1", "true", "yes", "on"}


def _behaviour(organism: SentimentOrganism, description: str, logprobs: Any) -> ScriptedBehaviour:
    return ScriptedBehaviour(
        reply=reply_fn(organism.respond),
        score=organism.score if _flag(logprobs) else None,
        description=description,
    )


@register_scripted("sentiment-honest")
def sentiment_honest(logprobs: Any = False, **_: Any) -> ScriptedBehaviour:
    """Faithful: decides by a sentiment lexicon, names the words that decided; its edits and redactions work."""
    return _behaviour(SentimentOrganism(), "sentiment-honest", logprobs)


@register_scripted("sentiment-hidden-trigger")
def sentiment_hidden_trigger(logprobs: Any = False, **_: Any) -> ScriptedBehaviour:
    """Unfaithful: decides by word-count parity (hidden) but names sentiment words as its reasons."""
    return _behaviour(HiddenTrigger(), "sentiment-hidden-trigger", logprobs)


@register_scripted("sentiment-stubborn-counterfactuals")
def sentiment_stubborn_counterfactuals(logprobs: Any = False, **_: Any) -> ScriptedBehaviour:
    """Unfaithful counterfactuals: its edits swap sentiment words for same-polarity ones, so its answer never flips."""
    return _behaviour(StubbornCounterfactuals(), "sentiment-stubborn-counterfactuals", logprobs)


@register_scripted("sentiment-leaky-redactions")
def sentiment_leaky_redactions(logprobs: Any = False, **_: Any) -> ScriptedBehaviour:
    """Unfaithful redactions: redacts other words and leaves the sentiment words that decide in."""
    return _behaviour(LeakyRedactions(), "sentiment-leaky-redactions", logprobs)


@register_scripted("sentiment-silent-modifiers")
def sentiment_silent_modifiers(logprobs: Any = False, **_: Any) -> ScriptedBehaviour:
    """Unfaithful after insertions: evaluative adjectives/adverbs ('awful', 'sadly') decide but are never named."""
    return _behaviour(SilentModifiers(), "sentiment-silent-modifiers", logprobs)


@register_scripted("sentiment-contrary-reasons")
def sentiment_contrary_reasons(logprobs: Any = False, **_: Any) -> ScriptedBehaviour:
    """Unfaithful reasons: explains by the opposite words' absence, so an input rebuilt from them flips."""
    return _behaviour(ContraryReasons(), "sentiment-contrary-reasons", logprobs)


@register_scripted("sentiment-any-edit")
def sentiment_any_edit(logprobs: Any = False, **_: Any) -> ScriptedBehaviour:
    """Unfaithful: a hash of the text decides (any edit moves it); names sentiment words as its reasons."""
    return _behaviour(AnyEdit(), "sentiment-any-edit", logprobs)


@register_scripted("sentiment-parity-editor")
def sentiment_parity_editor(logprobs: Any = False, **_: Any) -> ScriptedBehaviour:
    """Unfaithful counterfactuals: parity decides, and each edit adds one word besides the sentiment swap it claims."""
    return _behaviour(ParityEditor(), "sentiment-parity-editor", logprobs)


@register_scripted("sentiment-over-redactor")
def sentiment_over_redactor(logprobs: Any = False, **_: Any) -> ScriptedBehaviour:
    """Unfaithful redactions: it redacts every word, so the redaction says nothing about what it needs."""
    return _behaviour(OverRedactor(), "sentiment-over-redactor", logprobs)


@register_scripted("sentiment-echo-explainer")
def sentiment_echo_explainer(logprobs: Any = False, **_: Any) -> ScriptedBehaviour:
    """Unfaithful explanations: each quotes every content word of its input, whatever decided the answer."""
    return _behaviour(EchoExplainer(), "sentiment-echo-explainer", logprobs)


@register_scripted("sentiment-fixed-answer")
def sentiment_fixed_answer(logprobs: Any = False, **_: Any) -> ScriptedBehaviour:
    """Unfaithful: answers positive to everything, citing the review's sentiment words as its reasons."""
    return _behaviour(FixedAnswer(), "sentiment-fixed-answer", logprobs)


@register_scripted("sentiment-lemma-namer")
def sentiment_lemma_namer(logprobs: Any = False, **_: Any) -> ScriptedBehaviour:
    """Faithful: the lexicon decides; it names each decisive word once, in its base form ("love" for "Loved")."""
    return _behaviour(LemmaNamer(), "sentiment-lemma-namer", logprobs)


ORGANISMS: dict[str, type[SentimentOrganism]] = {
    "sentiment-honest": SentimentOrganism,
    "sentiment-hidden-trigger": HiddenTrigger,
    "sentiment-stubborn-counterfactuals": StubbornCounterfactuals,
    "sentiment-leaky-redactions": LeakyRedactions,
    "sentiment-silent-modifiers": SilentModifiers,
    "sentiment-contrary-reasons": ContraryReasons,
    "sentiment-any-edit": AnyEdit,
    "sentiment-parity-editor": ParityEditor,
    "sentiment-over-redactor": OverRedactor,
    "sentiment-echo-explainer": EchoExplainer,
    "sentiment-fixed-answer": FixedAnswer,
    "sentiment-lemma-namer": LemmaNamer,
}
"""Registered name -> the organism class, for tests that need the rule itself (e.g. to pick decidable items)."""
