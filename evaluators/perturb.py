"""Perturbations as objects over a segmented input, in the spirit of captum's TextTemplateInput: *what* is
perturbed is kept apart from *how*.

What:
- `SegmentedText` (one field as words and punctuation) and `SegmentedInput` (every field of an item; a word is a
  `Location`, (field, segment index)), which finds every occurrence of a phrase up to case and inflection and
  lists words by kind (content or function, `evaluators._words`);
- a chain of thought, as its list of steps;
- the cue slots of a posed prompt (`Posing`): the text after the input, and the demonstrations before it.

How:
- on a field: `Insert`, `Delete`, `Replace`, `Redact`, `Rewrite`, `Splice` (substitutions, insertions and
  deletions at once);
- on words anywhere in an item: `RemoveWords` (redact or delete every selected word), `KeepOnlyWords`, `EditField`;
- on steps: `Truncate`, `ReplaceStep`, `ReplacePrefix`, `Filler`, `ForeignPrefix`;
- on cue slots: `AppendCue`, `ShowDemonstrations`.

Each perturbation can describe itself, so verdicts show exactly what was done.
"""

from __future__ import annotations

import difflib
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agent.items import Demonstration, Item
from evaluators._words import WordKind, stem, word_kind

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


@dataclass(frozen=True)
class Rewrite(Perturbation):
    """Replace a whole field with a new text (a model's edit, redaction or counterfactual)."""

    text: str
    by: str = "the generator"

    def apply(self, text: SegmentedText) -> SegmentedText:
        return SegmentedText.of(self.text)

    def describe(self) -> str:
        return f"rewritten by {self.by}"


@dataclass(frozen=True)
class Splice(Perturbation):
    """Word substitutions, insertions and deletions in one pass (indices refer to the original segments)."""

    substitute: Mapping[int, str] = field(default_factory=dict)
    insert: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    """Words to insert before segment i (i = len(segments) appends)."""
    delete: frozenset[int] = frozenset()

    def apply(self, text: SegmentedText) -> SegmentedText:
        out: list[Segment] = []
        carried: str | None = None  # the leading whitespace of a deleted first segment, for the next one
        for i, segment in enumerate(text.segments):
            inserted = self.insert.get(i, ())
            for k, word in enumerate(inserted):
                out.append(
                    Segment(word, (segment.before if carried is None else carried) if k == 0 and not out else " ")
                )
            if i in self.delete:
                if not out and carried is None:
                    carried = segment.before
                continue
            before = " " if inserted else segment.before
            if not out and carried is not None:
                before = carried
            out.append(Segment(self.substitute.get(i, segment.text), before))
        out.extend(Segment(word, " ") for word in self.insert.get(len(text.segments), ()))
        return SegmentedText(tuple(out), text.trailing)

    def describe(self) -> str:
        parts = []
        if self.substitute:
            parts.append(f"substituted {', '.join(repr(w) for w in self.substitute.values())}")
        if self.insert:
            parts.append(f"inserted {', '.join(repr(w) for words in self.insert.values() for w in words)}")
        if self.delete:
            parts.append(f"deleted {len(self.delete)} word(s)")
        return "; ".join(parts) or "no change"


@dataclass(frozen=True)
class EditShape:
    """How many words an edit substituted, inserted and deleted, by kind: what a same-shape control reproduces."""

    substituted: tuple[tuple[WordKind, WordKind], ...] = ()
    """(kind of the word replaced, kind of its replacement) per substitution."""
    inserted: tuple[WordKind, ...] = ()
    deleted: tuple[WordKind, ...] = ()

    @property
    def size(self) -> int:
        """Words touched."""
        return len(self.substituted) + len(self.inserted) + len(self.deleted)

    def describe(self) -> str:
        """The shape in words."""
        counts = (len(self.substituted), len(self.inserted), len(self.deleted))
        return "{} substitution(s), {} insertion(s), {} deletion(s)".format(*counts)


def edit_shape(original: str, edited: str) -> EditShape:
    """The word-level shape of an edit (difflib's alignment of the two word sequences; a replaced block of unequal
    length is substitutions for the shorter side, insertions or deletions for the rest)."""
    before = [w for _, w in SegmentedText.of(original).words()]
    after = [w for _, w in SegmentedText.of(edited).words()]
    substituted: list[tuple[WordKind, WordKind]] = []
    inserted: list[WordKind] = []
    deleted: list[WordKind] = []
    matcher = difflib.SequenceMatcher(a=[w.lower() for w in before], b=[w.lower() for w in after], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        old, new = before[i1:i2], after[j1:j2]
        pairs = min(len(old), len(new))
        substituted += [(word_kind(a), word_kind(b)) for a, b in zip(old[:pairs], new[:pairs], strict=True)]
        deleted += [word_kind(w) for w in old[pairs:]]
        inserted += [word_kind(w) for w in new[pairs:]]
    return EditShape(tuple(substituted), tuple(inserted), tuple(deleted))


def redacted_words(original: str, redacted: str, token: str = "[REDACTED]") -> list[str]:
    """The words of `original` that `redacted` replaced by redaction tokens (aligned word by word)."""
    before = [w for _, w in SegmentedText.of(original).words()]
    marked = redacted.replace(token, " \x00 ")
    after = [w if w != "\x00" else token for w in re.findall(r"\x00|\w+(?:[-']\w+)*", marked)]
    found: list[str] = []
    matcher = difflib.SequenceMatcher(a=[w.lower() for w in before], b=[w.lower() for w in after], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete") and token in after[j1:j2]:
            found += before[i1:i2]
    return found


# --- what: every field of an item ---


Location = tuple[str, int]
"""(field name, segment index) of one word."""


@dataclass(frozen=True)
class SegmentedInput:
    """Every input field of an item, segmented: the features a word-level perturbation switches off or changes."""

    item: Item
    fields: Mapping[str, SegmentedText]

    @classmethod
    def of(cls, item: Item) -> SegmentedInput:
        """Segment each field of an item, the edit field first (where a named word is looked for first)."""
        order = [item.target_field, *[name for name in item.fields if name != item.target_field]]
        return cls(item, {name: SegmentedText.of(item.fields[name]) for name in order})

    def word(self, location: Location) -> str:
        """The text of one word."""
        name, index = location
        return self.fields[name].segments[index].text

    def words(self, kind: WordKind | None = None) -> list[Location]:
        """Every word (punctuation excluded), optionally of one kind, the edit field first."""
        return [
            (name, index)
            for name, text in self.fields.items()
            for index, word in text.words()
            if kind is None or word_kind(word) == kind
        ]

    def occurrences(self, phrase: str) -> list[Location]:
        """Every occurrence of a phrase, up to case and inflection (Snowball stems, as the mention check compares)."""
        target = [stem(w) for w in re.findall(r"\w+(?:[-']\w+)*", phrase)]
        if not target:
            return []
        found: list[Location] = []
        for name, text in self.fields.items():
            words = text.words()
            stemmed = [stem(w) for _, w in words]
            for start in range(len(words) - len(target) + 1):
                if stemmed[start : start + len(target)] == target:
                    found.extend((name, words[start + k][0]) for k in range(len(target)))
        return list(dict.fromkeys(found))

    def types(self, kind: WordKind | None = None) -> dict[str, list[Location]]:
        """Word types (by stem) -> every occurrence, optionally of one kind only, in order of first occurrence."""
        types: dict[str, list[Location]] = {}
        for location in self.words(kind):
            types.setdefault(stem(self.word(location)), []).append(location)
        return types

    def locate(self, phrases: Sequence[str]) -> tuple[list[Location], list[str]]:
        """Every occurrence of each phrase, and the phrases found (in the order given)."""
        taken: list[Location] = []
        found: list[str] = []
        for phrase in phrases:
            hits = [h for h in self.occurrences(phrase) if h not in taken]
            if hits:
                taken.extend(hits)
                found.append(phrase)
        return taken, found

    def by_field(self, locations: Sequence[Location]) -> dict[str, tuple[int, ...]]:
        """Field -> the sorted segment indices of the given words in it."""
        grouped: dict[str, set[int]] = {}
        for name, index in locations:
            grouped.setdefault(name, set()).add(index)
        return {name: tuple(sorted(indices)) for name, indices in grouped.items()}


# --- how: on words anywhere in an item ---


class ItemPerturbation(ABC):
    """A change to an item's input fields."""

    @abstractmethod
    def apply(self, item: Item) -> Item:
        """The perturbed item."""

    @abstractmethod
    def describe(self) -> str:
        """The change in words, for evidence."""


@dataclass(frozen=True)
class RemoveWords(ItemPerturbation):
    """Redact (Madsen et al.: replace by [REDACTED]) or delete the selected words, in every field they are in."""

    locations: tuple[Location, ...]
    how: str = "redact"
    """"redact" or "delete"."""

    def apply(self, item: Item) -> Item:
        segmented = SegmentedInput.of(item)
        for name, indices in segmented.by_field(self.locations).items():
            change: Perturbation = Redact(indices) if self.how == "redact" else Delete(indices)
            item = item.with_field(name, change.apply(segmented.fields[name]).text())
        return item

    def describe(self) -> str:
        return f"{self.how}ed {len(self.locations)} word(s)"


@dataclass(frozen=True)
class KeepOnlyWords(ItemPerturbation):
    """ERASER's sufficiency input: each field holding selected words reduced to them, in order; others kept."""

    locations: tuple[Location, ...]

    def apply(self, item: Item) -> Item:
        segmented = SegmentedInput.of(item)
        for name, indices in segmented.by_field(self.locations).items():
            segments = segmented.fields[name].segments
            item = item.with_field(name, " ".join(segments[i].text for i in indices))
        return item

    def describe(self) -> str:
        return f"kept only {len(self.locations)} word(s)"


@dataclass(frozen=True)
class EditField(ItemPerturbation):
    """A field-level perturbation applied to one field (default: the item's edit field)."""

    change: Perturbation
    field: str | None = None

    def apply(self, item: Item) -> Item:
        return self.change.on_item(item, self.field)

    def describe(self) -> str:
        return self.change.describe()


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


def word_count(steps: Sequence[str]) -> int:
    """Whitespace-separated words over all steps."""
    return sum(len(step.split()) for step in steps)


@dataclass(frozen=True)
class ForeignPrefix(StepPerturbation):
    """Replace the reasoning with the first `words` words of another reasoning (kept in its own steps): a control
    prefix as long as the real one that says nothing about this item."""

    source: tuple[str, ...]
    words: int
    origin: str = "another item"

    def apply(self, steps: Sequence[str]) -> list[str]:
        out: list[str] = []
        left = self.words
        while left > 0 and self.source:
            for step in self.source:
                if left <= 0:
                    break
                taken = step.split()[:left]
                out.append(" ".join(taken))
                left -= len(taken)
        return out

    def describe(self) -> str:
        return f"replaced the reasoning with the first {self.words} word(s) of the reasoning on {self.origin}"


# --- cue slots of a posed prompt ---


@dataclass(frozen=True)
class Posing:
    """How an item is put to the model: the demonstrations before it and any text after its input."""

    item: Item
    demonstrations: tuple[Demonstration, ...] = ()
    suffix: str | None = None


class CuePerturbation(ABC):
    """A change to a cue slot of a posed prompt (Turpin et al.'s biasing features)."""

    @abstractmethod
    def apply(self, posing: Posing) -> Posing:
        """The biased posing."""

    @abstractmethod
    def describe(self) -> str:
        """The change in words."""


@dataclass(frozen=True)
class AppendCue(CuePerturbation):
    """Put a sentence after the input (Turpin's suggested answer)."""

    sentence: str

    def apply(self, posing: Posing) -> Posing:
        return Posing(posing.item, posing.demonstrations, self.sentence)

    def describe(self) -> str:
        return f"appended: {self.sentence}"


@dataclass(frozen=True)
class ShowDemonstrations(CuePerturbation):
    """Show other demonstrations (Turpin's answer-is-always-A exemplars)."""

    demonstrations: tuple[Demonstration, ...]
    what: str = "demonstrations"

    def apply(self, posing: Posing) -> Posing:
        return Posing(posing.item, self.demonstrations, posing.suffix)

    def describe(self) -> str:
        return f"{len(self.demonstrations)} {self.what}, instead of the baseline ones"
