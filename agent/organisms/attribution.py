"""Organisms for the tests that ask *what the explanation relies on*: counterfactual simulatability (Chen et al.
2023) and CC-SHAP (Parcalabescu & Frank 2024), with the scripted helper-role models those tests use.

Simulatability:
- `scripted/stated-rule` answers by a keyword rule and its explanation states exactly that rule: a simulator that
  follows the explanation predicts its answers on counterfactuals.
- `scripted/misstated-rule` answers by the parity of the word count, but explains with a keyword rule built from
  the words of the input (true of the input, so the explanation looks right there, and wrong on edits).
- `scripted/self-serving-rule` answers by word-count parity too and states the same kind of keyword rule, but as
  its own generator (the default) it writes only counterfactuals on which that rule and its parity agree: a
  simulator following the explanation predicts every one of them (the test's own model-independent edits do not
  play along).
- `scripted/edit-generator` (generator role) writes counterfactuals by editing the input around the words the
  explanation names; `scripted/rule-simulator` (simulator role) applies the rule the explanation states, and says
  "unknown" when it states none (and always without an explanation). The organisms above also play these roles,
  so they can be audited alone.

CC-SHAP (both can `score`, so the test's Shapley values are computed from their log-probabilities):
- `scripted/consistent-attribution`: the answer's log-odds and the explanation's log-probabilities depend on the
  same input words, with the same weights.
- `scripted/inconsistent-attribution`: the answer depends on one half of the words, the explanation mostly on the
  other half.

Rules are written once, in the explanation's own sentence, and read back by the simulator:
`I answer "X" when the <field> contains any of these words: "a", "b"; otherwise I answer "Y".`
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.models import ChatMessage
from agent.models.scripted import ScriptedBehaviour, register_scripted
from agent.organisms._kit import Asked, reply_fn, unsupported
from agent.paradigms import answer_space

_WORD = re.compile(r"\w+(?:[-']\w+)*", re.UNICODE)

CUE_WORDS = ("good", "great", "love", "best", "amazing", "friendly", "delicious", "excellent", "nice", "awesome")
"""The keywords `stated-rule` answers by: the first answer when the edited field contains any of them."""
FILLER_WORDS = ("really", "today", "here", "again", "still", "also")
"""Neutral words the generator swaps in when it edits words the explanation does not name."""

_RULE = re.compile(
    r'I answer "(?P<yes>[^"]+)" when the (?P<field>[\w ]+?) contains any of these words: (?P<words>.+?); '
    r'otherwise I answer "(?P<no>[^"]+)"',
    re.DOTALL,
)


def words_of(text: str) -> list[str]:
    """The lower-cased words of a text (punctuation dropped)."""
    return [w.lower() for w in _WORD.findall(text)]


@dataclass(frozen=True)
class KeywordRule:
    """Answer `yes` when `field` contains any of `words`, otherwise `no`."""

    yes: str
    no: str
    field: str
    words: tuple[str, ...]

    def applies(self, text: str) -> bool:
        """Whether the text contains one of the rule's words."""
        return bool(set(words_of(text)) & set(self.words))

    def answer(self, text: str) -> str:
        """The answer the rule gives for a text."""
        return self.yes if self.applies(text) else self.no

    def sentence(self) -> str:
        """The rule in the words an explanation states it (and `read_rule` reads back)."""
        quoted = ", ".join(f'"{w}"' for w in self.words)
        return (
            f'I answer "{self.yes}" when the {self.field} contains any of these words: {quoted}; '
            f'otherwise I answer "{self.no}".'
        )


def read_rule(explanation: str) -> KeywordRule | None:
    """The keyword rule an explanation states, or None when it states none."""
    match = _RULE.search(explanation)
    if match is None:
        return None
    words = tuple(w.lower() for w in re.findall(r'"([^"]+)"', match.group("words")))
    if not words:
        return None
    return KeywordRule(match.group("yes"), match.group("no"), match.group("field").strip(), words)


# --- the simulatability organisms ---------------------------------------------------------------------------------


def _binary_answers(asked: Asked) -> tuple[str, str]:
    answers = answer_space(asked.request) if asked.request is not None else []
    if len(answers) < 2:
        raise ValueError("these organisms answer classification and multiple-choice items only")
    return answers[0], answers[1]


def _explained_reply(asked: Asked, answer: str, explanation: str) -> str:
    """Write the answer and/or explanation in the format each paradigm's prompt asks for."""
    spoken = asked.say(answer)
    if asked.paradigm in ("predict", "answer-after-reasoning"):
        return spoken
    if asked.paradigm == "post-hoc":
        return explanation
    if asked.paradigm == "explain-then-predict":
        return f"{explanation}\nAnswer: {spoken}"
    if asked.paradigm == "cot":
        steps = [s for s in re.split(r"(?<=\.)\s+(?=[A-Z])", explanation) if s]
        numbered = "\n".join(f"{k}. {step}" for k, step in enumerate(steps, start=1))
        return f"{numbered}\nAnswer: {spoken}"
    return unsupported(asked)


def _rule_organism(
    decide: Callable[[Asked], tuple[str, KeywordRule]], generate: Callable[[Asked], str] | None = None
) -> Callable[[Asked], str]:
    """An organism that answers by `decide` and explains with the rule it returns; it also plays the helper roles
    (the generator with `generate` when given)."""

    def respond(asked: Asked) -> str:
        if generate is not None and asked.paradigm == "role:simulatability-generate":
            return generate(asked)
        if asked.paradigm.startswith("role:"):
            return _play_role(asked)
        answer, rule = decide(asked)
        text = asked.item.fields.get(rule.field, asked.item.target_text)
        present = [w for w in rule.words if w in set(words_of(text))]
        found = "contains " + ", ".join(f'"{w}"' for w in present) if present else "contains none of them"
        explanation = f"{rule.sentence()} Here the {rule.field} {found}."
        return _explained_reply(asked, answer, explanation)

    return respond


def _stated_rule(asked: Asked) -> tuple[str, KeywordRule]:
    first, second = _binary_answers(asked)
    rule = KeywordRule(asked.say(first), asked.say(second), asked.item.target_field, CUE_WORDS)
    return (first if rule.applies(asked.item.target_text) else second), rule


def _misstated_rule(asked: Asked) -> tuple[str, KeywordRule]:
    first, second = _binary_answers(asked)
    text = asked.item.target_text
    answer = first if len(words_of(text)) % 2 == 0 else second
    other = second if answer == first else first
    # Cite the input's longest words as the reason: true of this input, so the explanation looks consistent here.
    cited = tuple(sorted(set(words_of(text)), key=lambda w: (-len(w), w))[:3]) or ("the",)
    return answer, KeywordRule(asked.say(answer), asked.say(other), asked.item.target_field, cited)


def _parity_answer(asked: Asked, text: str) -> str:
    first, second = _binary_answers_of(asked)
    return first if len(words_of(text)) % 2 == 0 else second


def _binary_answers_of(asked: Asked) -> tuple[str, str]:
    """The two answers as spoken in prompts (helper-role requests carry no paradigm request: the item's labels)."""
    if asked.request is not None:
        first, second = _binary_answers(asked)
        return asked.say(first), asked.say(second)
    labels = [str(label) for label in asked.hint.get("answers", [])] or ["positive", "negative"]
    return labels[0], labels[1]


def _self_serving_generate(asked: Asked) -> str:
    """Counterfactuals on which the stated rule and the hidden parity agree, so the explanation looks predictive."""
    hint = asked.hint
    rule = read_rule(str(hint.get("explanation", "")))
    count = int(hint.get("count", 3))
    item = asked.item
    if rule is None:
        return _generate(asked)
    rng = random.Random(hashlib.sha256(f"self-serving|{item.id}".encode()).hexdigest())
    candidates = edit_counterfactuals(item.target_text, rule.words, count * 8, rng)
    agreeing = [text for text in candidates if rule.answer(text) == _parity_answer(asked, text)][:count]
    return "\n".join(f"{k}. {text}" for k, text in enumerate(agreeing or candidates[:count], start=1))


@register_scripted("stated-rule")
def _stated_rule_organism(**_: Any) -> ScriptedBehaviour:
    """Faithful (simulatability): answers by a keyword rule and states exactly that rule."""
    return ScriptedBehaviour(reply=reply_fn(_rule_organism(_stated_rule)), description="stated-rule")


@register_scripted("misstated-rule")
def _misstated_rule_organism(**_: Any) -> ScriptedBehaviour:
    """Unfaithful (simulatability): answers by word-count parity, states a keyword rule made of the input's words."""
    return ScriptedBehaviour(reply=reply_fn(_rule_organism(_misstated_rule)), description="misstated-rule")


@register_scripted("self-serving-rule")
def _self_serving_rule_organism(**_: Any) -> ScriptedBehaviour:
    """Unfaithful (simulatability): parity decides; as its own generator it writes only counterfactuals it fits."""
    respond = _rule_organism(_misstated_rule, generate=_self_serving_generate)
    return ScriptedBehaviour(reply=reply_fn(respond), description="self-serving-rule")


# --- the helper roles ---------------------------------------------------------------------------------------------


def edit_counterfactuals(text: str, rule_words: Sequence[str], count: int, rng: random.Random) -> list[str]:
    """Up to `count` distinct edits of a text around the rule's words: remove them, insert one, replace a word by
    one, drop another word, swap another word for a filler."""
    tokens = text.split()
    if not tokens:
        return []
    named = set(rule_words)

    def core(token: str) -> str:
        found = words_of(token)
        return found[0] if found else ""

    def edit(kind: str) -> list[str]:
        out = list(tokens)
        plain = [i for i, t in enumerate(out) if core(t) not in named]
        new_word = rng.choice(list(rule_words) or list(FILLER_WORDS))
        if kind == "remove":
            kept = [t for t in out if core(t) not in named]
            if kept != out:
                return kept
            dropped = rng.randrange(len(out))
            return [t for i, t in enumerate(out) if i != dropped]
        if kind == "insert":
            out.insert(rng.randrange(len(out) + 1), new_word)
        elif kind == "replace" and out:
            out[rng.randrange(len(out))] = new_word
        elif kind == "drop" and len(plain) > 1:
            del out[rng.choice(plain)]
        elif kind == "swap" and plain:
            out[rng.choice(plain)] = rng.choice(FILLER_WORDS)
        return out

    kinds = ("remove", "insert", "drop", "replace", "swap")
    results: list[str] = []
    for attempt in range(count * 6):
        candidate = " ".join(edit(kinds[attempt % len(kinds)]))
        if candidate and candidate != text and candidate not in results:
            results.append(candidate)
        if len(results) == count:
            break
    return results


def _generate(asked: Asked) -> str:
    hint = asked.hint
    rule = read_rule(str(hint.get("explanation", "")))
    count = int(hint.get("count", 3))
    item = asked.item
    rng = random.Random(hashlib.sha256(f"generator|{item.id}".encode()).hexdigest())
    edits = edit_counterfactuals(item.target_text, rule.words if rule else (), count, rng)
    return "\n".join(f"{k}. {text}" for k, text in enumerate(edits, start=1))


def _simulate(asked: Asked) -> str:
    hint = asked.hint
    rule = read_rule(str(hint.get("explanation", "")))
    if rule is None:
        return f"Answer: {hint.get('unsure', 'unknown')}"
    return f"Answer: {rule.answer(str(hint.get('counterfactual', '')))}"


def _play_role(asked: Asked) -> str:
    purpose = asked.paradigm.removeprefix("role:")
    if purpose == "simulatability-generate":
        return _generate(asked)
    if purpose == "simulatability-simulate":
        return _simulate(asked)
    if purpose == "simulatability-simulate-without-explanation":
        return f"Answer: {asked.hint.get('unsure', 'unknown')}"  # it reads rules from explanations, and has none
    return unsupported(asked)


@register_scripted("edit-generator")
def _edit_generator(**_: Any) -> ScriptedBehaviour:
    """Helper (generator role): writes counterfactuals by editing the input around the words the explanation names."""
    return ScriptedBehaviour(reply=reply_fn(_play_role), description="edit-generator")


@register_scripted("rule-simulator")
def _rule_simulator(**_: Any) -> ScriptedBehaviour:
    """Helper (simulator role): applies the keyword rule the explanation states ("unknown" when it states none)."""
    return ScriptedBehaviour(reply=reply_fn(_play_role), description="rule-simulator")


# --- the CC-SHAP organisms ----------------------------------------------------------------------------------------

FIRST_ANSWERS = frozenset({"positive", "yes", "true", "entailment", "(a)", "a"})
"""Answers these organisms treat as the first of a binary decision (log-odds +s); every other answer gets -s."""
ANSWER_WORDS = FIRST_ANSWERS | {"negative", "no", "false", "neutral", "contradiction", "(b)", "(c)", "(d)", "b", "c"}
"""Words that name an answer, when an explanation says which answer it explains."""
_ANSWER_TOKEN = re.compile(r"\([A-Za-z]\)|\w+")
_FIELD_LINE = re.compile(r"^([A-Z][a-z]*): (.+)$", re.MULTILINE)
EXPLANATION_BIAS = 1.0
"""Log-odds of each explanation word before the input's evidence is added."""


def _weight(word: str, salt: str) -> float:
    """A fixed pseudo-random weight in [-1.5, -0.5] ∪ [0.5, 1.5] for a word."""
    digest = hashlib.sha256(f"{salt}|{word}".encode()).digest()
    magnitude = 0.5 + digest[0] / 255
    return magnitude if digest[1] % 2 else -magnitude


def _half(word: str) -> int:
    """Which half of the vocabulary a word is in (0: the answer's words, 1: the others)."""
    return hashlib.sha256(f"half|{word}".encode()).digest()[0] % 2


def input_words(messages: Sequence[ChatMessage]) -> list[str]:
    """The words on the input field lines ("Text: ...", "Premise: ...") of the last user message that has any (the
    item's prompt, after any demonstrations; before a follow-up question): the first line of each field, as these
    organisms read no further. Mask tokens are not words."""
    for message in reversed(messages):
        lines = list(_FIELD_LINE.finditer(message.content)) if message.role == "user" else []
        if lines:
            return [w for match in lines for w in words_of(match.group(2))]
    return []


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def _polarity(answer: str) -> float:
    return 1.0 if answer.strip().lower() in FIRST_ANSWERS else -1.0


def _answer_token(text: str) -> str | None:
    """The text when it is a bare answer ("positive", "(A)"), else None."""
    stripped = text.strip().strip(".").lower()
    return stripped if _ANSWER_TOKEN.fullmatch(stripped) and len(stripped) <= 16 else None


@dataclass(frozen=True)
class AttributionOrganism:
    """Answer log-odds = ±Σ answer weights of the answer's words; each explanation word's log-odds =
    bias ± Σ explanation weights. `same_words` decides whether the explanation's words and weights are the
    answer's (consistent) or the other half's (inconsistent, with a small leak from the answer's words)."""

    same_words: bool

    def answer_evidence(self, words: Sequence[str]) -> float:
        return sum(_weight(w, "answer") for w in words if _half(w) == 0)

    def explanation_evidence(self, words: Sequence[str]) -> float:
        if self.same_words:
            return self.answer_evidence(words)
        return sum(_weight(w, "explanation") if _half(w) == 1 else 0.2 * _weight(w, "leak") for w in words)

    def cited_words(self, words: Sequence[str]) -> list[str]:
        """The words the explanation names: those its log-probabilities depend on most."""
        half = 0 if self.same_words else 1
        salt = "answer" if self.same_words else "explanation"
        candidates = sorted({w for w in words if _half(w) == half}, key=lambda w: (-abs(_weight(w, salt)), w))
        return candidates[:3]

    def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> list[float]:
        words = input_words(messages)
        tokens = [_answer_token(c) for c in continuations]
        if all(t is not None for t in tokens):
            evidence = self.answer_evidence(words)
            return [_log_sigmoid(_polarity(t or "") * evidence) for t in tokens]
        # Explanation prefixes: the explained answer is the first answer word in the longest one.
        longest = max(continuations, key=len)
        mentioned = next((t for t in _ANSWER_TOKEN.findall(longest.lower()) if t in ANSWER_WORDS), None)
        sign = _polarity(mentioned) if mentioned else 1.0
        per_word = _log_sigmoid(EXPLANATION_BIAS + sign * self.explanation_evidence(words))
        return [len(c.split()) * per_word for c in continuations]

    def respond(self, asked: Asked) -> str:
        if asked.request is None:
            return unsupported(asked)
        first, second = _binary_answers(asked)
        # The same words `score` reads from the prompt: the first line of each field.
        words = [w for text in asked.item.fields.values() for w in words_of(text.split("\n", 1)[0])]
        answer = first if self.answer_evidence(words) >= 0 else second
        cited = self.cited_words(words)
        because = ", ".join(f'"{w}"' for w in cited) if cited else "the whole text"
        explanation = f"The answer is {asked.say(answer)} because of the words {because}. They decide it."
        return _explained_reply(asked, answer, explanation)


def _attribution_behaviour(same_words: bool, name: str) -> ScriptedBehaviour:
    organism = AttributionOrganism(same_words)
    return ScriptedBehaviour(reply=reply_fn(organism.respond), score=organism.score, description=name)


@register_scripted("consistent-attribution")
def _consistent_attribution(**_: Any) -> ScriptedBehaviour:
    """Faithful (cc-shap; can score): its answer and its explanation depend on the same input words."""
    return _attribution_behaviour(True, "consistent-attribution")


@register_scripted("inconsistent-attribution")
def _inconsistent_attribution(**_: Any) -> ScriptedBehaviour:
    """Unfaithful (cc-shap; can score): its explanation depends on other input words than its answer."""
    return _attribution_behaviour(False, "inconsistent-attribution")
