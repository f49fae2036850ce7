"""Where a word can be inserted (before a noun phrase, before a verb) and which words to insert, without a tagger.

The insertion test (Atanasova et al. 2023) puts a random adjective before a noun and a random adverb before a verb.
No POS tagger model can be downloaded here, so positions come from closed-class words, which are listed in full:
  - before a noun phrase: right after a determiner or possessive ("the food" -> "the wooden food");
  - before a verb: right after a subject pronoun ("we ordered" -> "we quickly ordered"), after a modal or "do"
    ("would recommend" -> "would gladly recommend"), and after a form of "be"/"have" when the next word looks like a
    participle ("was served" -> "was quickly served").
An inserted adjective after "a"/"an" also fixes the article ("an awful meal", not "a awful meal").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

from agent.errors import ConfigurationError
from evaluators.perturb import Insert, Perturbation, Replace, SegmentedText

SlotKind = Literal["adjective", "adverb"]

DETERMINERS = frozenset(
    {"the", "a", "an", "this", "these", "those", "my", "your", "his", "its", "our", "their", "every", "each"}
    | {"another", "several", "some"}
)
"""Words a noun phrase follows; "that", "her" and "no" are left out (complementiser, object pronoun, reply)."""
SUBJECT_PRONOUNS = frozenset({"i", "we", "they", "he", "she"})
"""Pronouns that are (almost) always subjects; "it" and "you" are often objects, so they are left out."""
MODALS = frozenset({"will", "would", "can", "could", "should", "must", "might", "may", "did", "does", "do"})
PARTICIPLE_AUXILIARIES = frozenset({"is", "was", "were", "are", "am", "be", "been", "has", "have", "had"})
_PARTICIPLE = re.compile(r"^[a-z]{3,}(?:ed|en|ing)$")
_NOT_AFTER = frozenset({"not", "n't", "never", "also", "just", "really", "very", "so", "too"})
"""Next words that mean the slot is not directly before the verb or noun phrase (insert nothing there)."""

WORDS_FILE = Path(__file__).resolve().parent / "_data" / "insertion_words.yaml"


@dataclass(frozen=True)
class Slot:
    """A place to insert a word: before the segment at `index`, of the given part of speech."""

    index: int
    kind: SlotKind
    before: str
    """The word the insertion goes before."""
    article: int | None = None
    """Index of an "a"/"an" right before the slot, whose form must agree with the inserted word."""


def insertion_slots(text: SegmentedText) -> list[Slot]:
    """Every position where an adjective (before a noun phrase) or an adverb (before a verb) fits."""
    segments = text.segments
    slots: list[Slot] = []
    for i in range(len(segments) - 1):
        word, following = segments[i].text.lower(), segments[i + 1]
        if not (segments[i].is_word and following.is_word) or following.text.lower() in _NOT_AFTER:
            continue
        after = following.text.lower()
        if word in DETERMINERS and after not in DETERMINERS:
            slots.append(Slot(i + 1, "adjective", following.text, article=i if word in {"a", "an"} else None))
        elif word in SUBJECT_PRONOUNS or word in MODALS:
            if after not in MODALS and after not in PARTICIPLE_AUXILIARIES and after not in SUBJECT_PRONOUNS:
                slots.append(Slot(i + 1, "adverb", following.text))
        elif word in PARTICIPLE_AUXILIARIES and _PARTICIPLE.match(after):
            slots.append(Slot(i + 1, "adverb", following.text))
    return slots


def article_for(word: str) -> str:
    """ "an" before a vowel-initial word, else "a" (spelling rule; enough for the shipped lists)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def insertion(slot: Slot, word: str, text: SegmentedText) -> Perturbation:
    """The perturbation that puts `word` into `slot`, fixing an "a"/"an" before it."""
    if slot.article is None:
        return Insert(slot.index, word)
    original = text.segments[slot.article].text
    article = article_for(word)
    if original[:1].isupper():
        article = article.capitalize()
    return Replace((slot.article,), f"{article} {word}")


@lru_cache(maxsize=4)
def candidate_words(path: Path = WORDS_FILE) -> dict[SlotKind, tuple[str, ...]]:
    """The shipped adjective and adverb lists (or a user's file of the same shape)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read insertion word list {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"insertion word list {path}: expected keys 'adjectives' and 'adverbs'")
    words: dict[SlotKind, tuple[str, ...]] = {}
    keys: tuple[tuple[SlotKind, str], ...] = (("adjective", "adjectives"), ("adverb", "adverbs"))
    for kind, key in keys:
        listed = data.get(key)
        if not isinstance(listed, list) or not all(isinstance(w, str) and w.strip() for w in listed) or not listed:
            raise ConfigurationError(f"insertion word list {path}: '{key}' must be a non-empty list of words")
        words[kind] = tuple(w.strip() for w in listed)
    return words
