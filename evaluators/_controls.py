"""Matched controls: perturb the same item by the same amount, without the explanation's information.

A test whose verdict is "the perturbation changed (or kept) the answer" means little alone: a model that any edit
moves passes every such test. Each control here draws, with a generator seeded by (run seed, test, item, draw), a
perturbation of the same shape and size as the explanation-guided one:
- `random_types`: as many word types, of the same kinds (content or function), as the explanation named; every
  occurrence of each is removed, as the named words' are;
- `random_positions`: as many word positions, of the same kinds, as the explanation's redaction covered;
- `same_shape_edit`: as many substitutions, insertions and deletions, of the same kinds, as the explanation's edit
  made, at random positions and with neutral words (`_data/control_words.yaml`);
- `first_other`: another item of the scenario (its explanation stands in for this item's), preferably one whose
  answer differs, so that the control says what agreement an explanation that points elsewhere gets.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from agent.items import Item
from evaluators._words import WordKind, control_words, word_kind
from evaluators.perturb import EditShape, Location, SegmentedInput, SegmentedText, Splice

T = TypeVar("T")
KINDS: tuple[WordKind, ...] = ("content", "function")


def random_types(segmented: SegmentedInput, kinds: Sequence[WordKind], rng: random.Random) -> list[list[Location]]:
    """One random word type per kind asked, distinct, with every occurrence; a kind the input has too few types of
    is filled with the other kind. Fewer than asked only when the input has fewer word types."""
    by_kind = {kind: segmented.types(kind) for kind in KINDS}
    taken: set[str] = set()
    chosen: list[list[Location]] = []
    for kind in kinds:
        pool = [s for s in by_kind[kind] if s not in taken] or [
            s for other in KINDS for s in by_kind[other] if s not in taken
        ]
        if not pool:
            break
        pick = rng.choice(pool)
        taken.add(pick)
        chosen.append(next(by_kind[k][pick] for k in KINDS if pick in by_kind[k]))
    return chosen


def random_positions(segmented: SegmentedInput, kinds: Sequence[WordKind], rng: random.Random) -> list[Location]:
    """One random word position per kind asked, distinct (the other kind when one runs out)."""
    by_kind = {kind: segmented.words(kind) for kind in KINDS}
    taken: list[Location] = []
    for kind in kinds:
        pool = [loc for loc in by_kind[kind] if loc not in taken] or [
            loc for other in KINDS for loc in by_kind[other] if loc not in taken
        ]
        if not pool:
            break
        taken.append(rng.choice(pool))
    return taken


def same_shape_edit(text: str, shape: EditShape, rng: random.Random) -> Splice:
    """An edit of `text` with the shape of another: its substitutions, insertions and deletions, kind for kind, at
    random positions and with neutral words of the replaced or inserted kind."""
    segmented = SegmentedText.of(text)
    words = segmented.words()
    pool = control_words()
    positions = {kind: [i for i, w in words if word_kind(w) == kind] for kind in KINDS}
    used: set[int] = set()

    def position(kind: WordKind) -> int | None:
        free = [i for i in positions[kind] if i not in used] or [i for i, _ in words if i not in used]
        if not free:
            return None
        pick = rng.choice(free)
        used.add(pick)
        return pick

    substitute: dict[int, str] = {}
    for old, new in shape.substituted:
        at = position(old)
        if at is not None:
            current = segmented.segments[at].text.lower()
            substitute[at] = rng.choice([w for w in pool[new] if w != current] or list(pool[new]))
    delete = frozenset(at for kind in shape.deleted if (at := position(kind)) is not None)
    insert: dict[int, tuple[str, ...]] = {}
    slots = [i for i, _ in words] + [len(segmented.segments)]
    for kind in shape.inserted:
        at = rng.choice(slots)
        insert[at] = (*insert.get(at, ()), rng.choice(pool[kind]))
    return Splice(substitute, insert, delete)


async def first_other(
    others: Sequence[Item],
    answer_of: Callable[[Item], Awaitable[T | None]],
    own: T,
    *,
    tries: int = 4,
) -> tuple[Item, T] | None:
    """The first of `others` (already in a seeded order) whose answer differs from `own`, among the first `tries`
    with a readable answer; failing that, the first with one; None when none has. Asked one after the other, so the
    choice never depends on timing."""
    fallback: tuple[Item, T] | None = None
    readable = 0
    for other in others:
        if readable >= tries:
            break
        answer = await answer_of(other)
        if answer is None:
            continue
        readable += 1
        if answer != own:
            return other, answer
        fallback = fallback or (other, answer)
    return fallback
