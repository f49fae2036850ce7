"""Constrained decoding for the local backend: a reply grammar (Lark, as `GenerateConfig.reply_grammar` carries
it) compiled by llguidance into a matcher that gives, at every step, the tokens the grammar still allows.

Why llguidance (bench/bench_constrained_decoding.py measures the candidates on SmolLM2's tokenizer): it computes a
mask in tens of microseconds per row with no warm-up per grammar, takes Lark grammars with regular expressions and
JSON schemas (`%json{…}`) in one format, ships one dependency-free abi3 wheel (xgrammar pulls triton and apache-tvm;
outlines pulls far more; lm-format-enforcer is pure Python and much slower per token), and its matchers are plain
per-row objects, so rows of one batch can follow different grammars, or none, inside our own token selection.

Imported only by `_hf_runner` when a request carries a grammar.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from agent.errors import ConfigurationError, ModelRequestError

log = logging.getLogger("faithcheck.models.constrained")


class GrammarCompiler:
    """Compiles reply grammars for one tokenizer (the tokenizer's llguidance view is built once, ~1-2 s)."""

    def __init__(self, tokenizer: Any, vocab_size: int, eos_ids: Iterable[int]) -> None:
        try:
            import llguidance
            import llguidance.hf
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ConfigurationError(
                "constrained decoding needs llguidance: pip install llguidance (or -O constrained=false)"
            ) from exc
        self._llguidance = llguidance
        self.vocab_size = vocab_size
        self.eos_ids = frozenset(eos_ids)
        self._tokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=self.vocab_size, eos_token=sorted(eos_ids))
        newline = np.zeros(vocab_size, dtype=bool)
        for token_id in range(min(vocab_size, len(tokenizer))):
            newline[token_id] = "\n" in tokenizer.decode([token_id])
        self.newline_tokens = torch.from_numpy(newline)
        """Tokens that start a new line: where a row goes when it would end before its grammar is complete."""

    def compile(self, grammar: str, model: str) -> Any:
        """A fresh llguidance matcher; an invalid grammar is a request error naming the problem."""
        compiled = self._llguidance.LLMatcher.grammar_from_lark(grammar)
        matcher = self._llguidance.LLMatcher(self._tokenizer, compiled, log_level=0)
        if matcher.is_error():
            raise ModelRequestError(model, f"the reply grammar does not compile: {matcher.get_error()[:200]}")
        return matcher

    def matcher(self, grammar: str, ending: str | None, model: str) -> RowMatcher | None:
        """One row's matcher for its reply grammar and the ending it must reach; None (free text, with a warning)
        when the grammar does not compile, so that one bad grammar costs its row the constraint, not the batch."""
        try:
            return RowMatcher(self.compile(grammar, model), self.compile(ending, model) if ending else None, self)
        except ModelRequestError as error:
            log.warning("%s; this reply is generated without it", error)
            return None


class RowMatcher:
    """One row's grammar state: the allowed-token mask for the next step, and the tokens chosen so far.

    A model that wants to end before its grammar is complete ("The review is negative." and no answer line yet) is
    taken to a new line, and from there follows the ending grammar (the answer line): left to the whole grammar, a
    greedy model would keep writing the free-text part to its token limit.
    """

    def __init__(self, matcher: Any, ending: Any | None, compiler: GrammarCompiler) -> None:
        self._matcher = matcher
        self._ending = ending
        self._compiler = compiler
        self._vocab_size = compiler.vocab_size
        self.failed = False
        """True when a chosen token broke the grammar (the row then goes on unconstrained, and its reply is read
        as free text)."""
        self.closing = False
        """True once the row was taken to its ending."""
        self._skip_next = False

    def allowed(self, device: torch.device, wanted: int) -> torch.Tensor | None:
        """A boolean mask of the tokens allowed next (only the end of sequence once the grammar is complete);
        None: no constraint any more. `wanted` is the model's own choice."""
        if self.failed:
            return None
        mask = self._mask(self._matcher)
        if mask is None:
            return None
        if wanted in self._compiler.eos_ids and not mask[wanted] and not self.closing:
            onward = mask & self._compiler.newline_tokens
            if onward.any():
                mask = onward
                if self._ending is not None:
                    self.closing, self._skip_next = True, True
                    self._matcher = self._ending  # after this newline: the ending alone
        return mask.to(device)

    def _mask(self, matcher: Any) -> torch.Tensor | None:
        bits = np.frombuffer(matcher.compute_bitmask(), dtype=np.uint8)
        mask = torch.from_numpy(np.unpackbits(bits, bitorder="little")[: self._vocab_size].astype(bool))
        return mask if mask.any() else None

    def consume(self, token: int) -> None:
        """Advance past the chosen token (tokens after the end of sequence, which the batch pads with, are ignored)."""
        if self.failed or self._matcher.is_stopped():
            return
        if self._skip_next:
            self._skip_next = False  # the newline that leads to the ending is not part of it
            return
        if not self._matcher.consume_token(token):
            self.failed = True
            log.debug("a row left its grammar: %s", self._matcher.get_error()[:200])
