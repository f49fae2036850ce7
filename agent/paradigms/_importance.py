"""`importance`: the k words or phrases of the input that mattered most (Huang et al. 2023; Madsen et al. 2024)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from agent.paradigms._base import Paradigm, Session, register_paradigm
from agent.paradigms._formats import important_words, lark, literal, reply_model, words_regex, words_type
from agent.paradigms._types import FeatureImportance, ImportantWord, ParadigmRequest, ParadigmResult
from agent.parsing import (
    ReplyParseError,
    check_not_empty_or_refusal,
    extract_json,
    json_field,
    looks_like_json,
    plain_markdown,
    strip_chatter,
)

DEFAULT_K = 3
_SCORED_ITEM = re.compile(r"^(?P<text>.+?)\s*[:=(\-–]\s*(?P<score>-?\d+(?:\.\d+)?)\s*\)?$")
_BULLET = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*")
_QUOTED = re.compile(r"[\"“]([^\"”\n]{1,60})[\"”]")
_SENTENCE = re.compile(r"^\s*\S+(?:\s+\S+){2,}[.!?]?\s*$")
_NOT_A_WORD = re.compile(r"[{}\[\]]|\"\s*:|^\W*$")
"""JSON syntax or no letter at all: a piece of a JSON reply, not a word of the input."""


def _clean(word: str) -> str:
    return word.strip().strip("\"'`“”‘’*.,;").strip()


def parse_important_words(text: str, source: str, k: int) -> list[ImportantWord]:
    """Words (with scores where given) from a JSON list/object or a comma-, line- or bullet-separated reply."""
    stripped = plain_markdown(strip_chatter(check_not_empty_or_refusal(text)))
    data = extract_json(stripped)
    raw_items: list[tuple[str, float | None]] = []
    listing: Any = (
        json_field(data, ("words", "important_words", "phrases", "tokens")) if isinstance(data, dict) else data
    )
    if isinstance(listing, list):
        for entry in listing:
            if isinstance(entry, str):
                raw_items.append((entry, None))
            elif isinstance(entry, dict):
                word = json_field(entry, ("word", "phrase", "text", "token"))
                score = json_field(entry, ("score", "importance", "weight"))
                if isinstance(word, str):
                    raw_items.append((word, float(score) if isinstance(score, (int, float)) else None))
    elif isinstance(listing, dict):
        raw_items = [(w, float(s) if isinstance(s, (int, float)) else None) for w, s in listing.items()]
    if not raw_items and looks_like_json(stripped):
        raise ReplyParseError(f'reply with a complete JSON object {{"words": [...]}} listing the {k} words')
    if not raw_items:
        # "The most important words (for determining the sentiment of this review) are": what follows is the list.
        body = re.sub(
            r"^.*?\b(?:words?|phrases?)\b[^\"“\n]{0,80}?(?:\bare\b|:)\s*",
            "",
            stripped,
            count=1,
            flags=re.IGNORECASE | re.DOTALL,
        )
        pieces = [p for line in body.splitlines() for p in (line.split(",") if "," in line else [line])]
        for piece in pieces:
            piece = _BULLET.sub("", piece).strip()
            if not piece:
                continue
            scored = _SCORED_ITEM.match(piece)
            if scored:
                raw_items.append((scored.group("text"), float(scored.group("score"))))
            else:
                raw_items.append((piece, None))
        introduced = [q for q in _QUOTED.findall(body) if q.strip()] if body != stripped else []
        if len(raw_items) == 1 and introduced:
            # "The most important words ... are "dramatical" and "woody."": the words it introduces, even ones
            # that are not in the input (they are marked so, and the tests treat them as such).
            raw_items = [(q, None) for q in introduced]
        elif any(len(_clean(raw).split()) > 6 for raw, _ in raw_items):
            # Prose, not a list: "The most important words are "went" and "back"" — the quoted words are the list.
            quoted = [q for q in _QUOTED.findall(stripped) if q.strip() and q.lower() in source.lower()]
            raw_items = [(q, None) for q in quoted] or raw_items
    words: list[ImportantWord] = []
    seen: set[str] = set()
    lowered_source = source.lower()
    for raw, score in raw_items:
        word = _clean(raw)
        if not word or word.lower() in seen or len(word.split()) > 6 or _NOT_A_WORD.search(word):
            continue  # a whole sentence, or a piece of JSON, is not a "word that mattered"
        seen.add(word.lower())
        words.append(ImportantWord(text=word, score=score, in_input=word.lower() in lowered_source))
    if len(raw_items) == 1 and words and not words[0].in_input and _SENTENCE.search(raw_items[0][0]):
        # One sentence that is not part of the input ("The review is positive.") is an answer, not a list of words.
        words = []
    if not words:
        raise ReplyParseError(f"list the {k} most important words of the input, separated by commas")
    return words[:k]


@register_paradigm
class Importance(Paradigm):
    """Ask which k words or phrases of the input mattered most; optionally with scores."""

    name = "importance"
    summary = "the k words of the input that mattered most (optionally scored)"
    kinds = frozenset({"classification", "multiple_choice", "free_form"})
    budget = 48

    async def run(self, session: Session, request: ParadigmRequest) -> ParadigmResult:
        k = int(request.params.get("k", DEFAULT_K))
        with_scores = bool(request.params.get("with_scores", False))
        prompt = session.render(self.name, request, k=k, with_scores=with_scores)
        source = " ".join(request.item.fields.values())
        asked = await session.asker.ask(
            prompt,
            lambda text: parse_important_words(text, source, k),
            purpose=self.name,
            config=session.config(self.name, request),
            hint=session.hint(self.name, request, k=k, with_scores=with_scores),
            item_id=request.item.id,
            history=session.history(request),
        )
        if asked.value is None:
            return self.result(request, session, failure=asked.failure, traces=asked.traces)
        return self.result(request, session, output=FeatureImportance(words=asked.value, k=k), traces=asked.traces)

    def canonical_reply(self, request: ParadigmRequest, extra: Mapping[str, Any]) -> str:
        k = int(extra.get("k") or request.params.get("k") or DEFAULT_K)
        return ", ".join(important_words(request.item, k))

    def reply_schema(self, request: ParadigmRequest) -> type[BaseModel] | None:
        k = int(request.params.get("k", DEFAULT_K))
        return reply_model("ImportantWords", words=words_type(k, bool(request.params.get("with_scores", False))))

    def reply_grammar(self, request: ParadigmRequest) -> str | None:
        k = int(request.params.get("k", DEFAULT_K))
        source = " ".join(request.item.fields.values())
        if request.params.get("with_scores"):
            # "word: 0.9" per line, words of the input, scores between 0 and 1.
            line = words_regex(source, 1) + literal(": ") + r"(0(\.[0-9]{1,3})?|1(\.0{1,3})?)"
            return lark(f"{line}(\n{line}){{0,{max(0, k - 1)}}}")
        return lark(words_regex(source, k))
