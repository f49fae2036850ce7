"""Word-level differences between an original and a perturbed text, so a reader sees what the test changed."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass(frozen=True)
class Segment:
    """A run of text that is unchanged, inserted by the perturbation, or removed by it."""

    text: str
    change: Literal["same", "added", "removed"]


def word_diff(original: str, perturbed: str) -> list[Segment]:
    """The perturbed text as segments, with the words it lost shown as removed ones at the place they were."""
    before = _TOKENS.findall(original)
    after = _TOKENS.findall(perturbed)
    segments: list[Segment] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if op == "equal":
            segments.append(Segment("".join(after[b_start:b_end]), "same"))
            continue
        removed = "".join(before[a_start:a_end])
        added = "".join(after[b_start:b_end])
        # Only the words of a change are marked: a struck-out or highlighted space reads as noise. Removed
        # whitespace is dropped, so the unremoved segments spell the perturbed text exactly.
        if removed.strip():
            segments.append(Segment(removed.strip(), "removed"))
        if added:
            core = added.strip()
            start = added.index(core) if core else len(added)
            segments.append(Segment(added[:start], "same"))
            segments.append(Segment(core, "added"))
            segments.append(Segment(added[start + len(core) :], "same"))
    return [segment for segment in segments if segment.text]
