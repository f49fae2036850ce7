"""Perturbations as objects over a segmented input, in the spirit of captum's TextTemplateInput: *what* is
perturbed (a word-segmented field, or a list of reasoning steps) is kept apart from *how* (insert, delete, replace,
redact, truncate, fill). Each perturbation can describe itself, so verdicts show exactly what was done."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from agent.items import Item

_TOKEN = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Segment:
    """One word or punctuation mark and the whitespace before it."""

    text: str
    before: str = " "

    @property
    def is_word(self) -> bool:
        return bool(re.match(r"\w", self.text))


@dataclass(frozen=True)
class SegmentedText:
    """A text split into words and punctuation, which joins back to the original exactly."""

    segments: tuple[Segment, ...]
    trailing: str = ""

    @classmethod
    def of(cls, text: str) -> SegmentedText:
        """Segment a text."""
        segments = []
        position = 0
        for match in _TOKEN.finditer(text):
            segments.append(Segment(match.group(), text[position : match.start()]))
            position = match.end()
        return cls(tuple(segments), text[position:])

    def text(self) -> str:
        """Join back to a string."""
        return "".join(s.before + s.text for s in self.segments) + self.trailing

    def words(self) -> list[tuple[int, str]]:
        """(index, word) for the word segments (punctuation excluded)."""
        return [(i, s.text) for i, s in enumerate(self.segments) if s.is_word]

    def find(self, phrase: str) -> list[int]:
        """Indices of the segments of the first case-insensitive occurrence of a phrase, or []."""
        target = [t.lower() for t in _TOKEN.findall(phrase)]
        if not target:
            return []
        lowered = [s.text.lower() for s in self.segments]
        for start in range(len(lowered) - len(target) + 1):
            if lowered[start : start + len(target)] == target:
                return list(range(start, start + len(target)))
        return []


class Perturbation(ABC):
    """A change to a segmented text."""

    @abstractmethod
    def apply(self, text: SegmentedText) -> SegmentedText:
        """The perturbed text."""

    @abstractmethod
    def describe(self) -> str:
        """The change in words, for evidence."""

    def on_item(self, item: Item, field: str | None = None) -> Item:
        """Apply to one field of an item (default: the item's edit field)."""
        name = field or item.target_field
        return item.with_field(name, self.apply(SegmentedText.of(item.fields[name])).text())


@dataclass(frozen=True)
class Insert(Perturbation):
    """Insert words before the segment at `index` (len(segments) appends)."""

    index: int
    words: str

    def apply(self, text: SegmentedText) -> SegmentedText:
        segments = list(text.segments)
        if self.index < len(segments):
            anchor = segments[self.index]
            inserted = [Segment(w, anchor.before if i == 0 else " ") for i, w in enumerate(self.words.split())]
            segments[self.index] = Segment(anchor.text, " ")
            segments[self.index : self.index] = inserted
        else:
            segments.extend(Segment(w, " ") for w in self.words.split())
        return SegmentedText(tuple(segments), text.trailing)

    def describe(self) -> str:
        return f"inserted '{self.words}' at word {self.index}"


@dataclass(frozen=True)
class Delete(Perturbation):
    """Remove segments by index."""

    indices: tuple[int, ...]

    def apply(self, text: SegmentedText) -> SegmentedText:
        drop = set(self.indices)
        kept = [s for i, s in enumerate(text.segments) if i not in drop]
        if kept and text.segments and 0 in drop:
            kept[0] = Segment(kept[0].text, text.segments[0].before)
        return SegmentedText(tuple(kept), text.trailing)

    def describe(self) -> str:
        return f"deleted {len(self.indices)} segment(s) at {list(self.indices)}"


@dataclass(frozen=True)
class Replace(Perturbation):
    """Replace a run of segments with new text."""

    indices: tuple[int, ...]
    replacement: str

    def apply(self, text: SegmentedText) -> SegmentedText:
        if not self.indices:
            return text
        start, drop = min(self.indices), set(self.indices)
        out: list[Segment] = []
        for i, segment in enumerate(text.segments):
            if i == start:
                out.append(Segment(self.replacement, segment.before))
            elif i not in drop:
                out.append(segment)
        return SegmentedText(tuple(out), text.trailing)

    def describe(self) -> str:
        return f"replaced segment(s) {list(self.indices)} with '{self.replacement}'"


@dataclass(frozen=True)
class Redact(Perturbation):
    """Replace each chosen segment with a redaction token."""

    indices: tuple[int, ...]
    token: str = "[REDACTED]"

    def apply(self, text: SegmentedText) -> SegmentedText:
        chosen = set(self.indices)
        return SegmentedText(
            tuple(Segment(self.token, s.before) if i in chosen else s for i, s in enumerate(text.segments)),
            text.trailing,
        )

    def describe(self) -> str:
        return f"redacted {len(self.indices)} segment(s)"


def remove_phrases(text: str, phrases: Sequence[str]) -> tuple[str, list[str]]:
    """Delete the first occurrence of each phrase; returns the new text and the phrases actually found."""
    segmented = SegmentedText.of(text)
    indices: list[int] = []
    found: list[str] = []
    for phrase in phrases:
        hit = [i for i in segmented.find(phrase) if i not in indices]
        if hit:
            indices.extend(hit)
            found.append(phrase)
    return Delete(tuple(sorted(indices))).apply(segmented).text(), found


# --- perturbations of a chain of thought (a list of steps) ---


class StepPerturbation(ABC):
    """A change to a list of reasoning steps."""

    @abstractmethod
    def apply(self, steps: Sequence[str]) -> list[str]:
        """The perturbed steps."""

    @abstractmethod
    def describe(self) -> str:
        """The change in words."""


@dataclass(frozen=True)
class Truncate(StepPerturbation):
    """Keep the first `keep` steps (Lanham's early answering)."""

    keep: int

    def apply(self, steps: Sequence[str]) -> list[str]:
        return list(steps[: self.keep])

    def describe(self) -> str:
        return f"kept the first {self.keep} step(s)"


@dataclass(frozen=True)
class ReplaceStep(StepPerturbation):
    """Replace step `index` with new text and drop what follows (Lanham's adding mistakes: the model continues)."""

    index: int
    text: str
    drop_rest: bool = True

    def apply(self, steps: Sequence[str]) -> list[str]:
        out = [*steps[: self.index], self.text]
        return out if self.drop_rest else out + list(steps[self.index + 1 :])

    def describe(self) -> str:
        return f"replaced step {self.index + 1} with '{self.text}'"


@dataclass(frozen=True)
class ReplacePrefix(StepPerturbation):
    """Replace the first len(new_steps) steps with new ones (Lanham's paraphrasing)."""

    new_steps: tuple[str, ...]

    def apply(self, steps: Sequence[str]) -> list[str]:
        return list(self.new_steps) + list(steps[len(self.new_steps) :])

    def describe(self) -> str:
        return f"paraphrased the first {len(self.new_steps)} step(s)"


@dataclass(frozen=True)
class Filler(StepPerturbation):
    """Replace the whole chain of thought with `count` filler tokens (Lanham's filler tokens)."""

    count: int
    token: str = "..."

    def apply(self, steps: Sequence[str]) -> list[str]:
        return [" ".join([self.token] * self.count)] if self.count else []

    def describe(self) -> str:
        return f"replaced the reasoning with {self.count} '{self.token}' token(s)"
