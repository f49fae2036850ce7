"""Constrained-decoding libraries on SmolLM2's tokenizer: set-up, grammar compilation and per-token mask time.

    python bench/bench_constrained_decoding.py [--items 20]

For each library that imports (llguidance, xgrammar, lm-format-enforcer), on the reply grammars faithcheck sends
for 20 DynaSent items (a redaction: the input word by word, each kept or redacted; an importance list: 1..3 words
of the input; a chain of thought: free lines, then the answer line), it times building the tokenizer view, compiling
each grammar, and computing the allowed-token mask at each step of a reply that follows the grammar (the input
itself for redaction, its first words for importance, a three-line CoT), and checks that the reply is accepted.
Parse rates are the same for every correct engine (each enforces the same grammar); they are measured end to end
for the chosen one by bench/bench_parse_rates.py. Single-threaded, CPU; not part of the test suite.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

from transformers import AutoTokenizer

from agent.models.smollm2 import converted_model_dir
from agent.paradigms._formats import answer_line_regex, redaction_regex, words_regex
from agent.paradigms._types import ParadigmRequest
from agent.scenarios import load_data, load_scenario

Case = tuple[str, str, str]  # (kind, regex, a reply that matches it)


def cases(items: int) -> list[Case]:
    data = load_data(load_scenario("dynasent"), limit=items, seed=0)
    out: list[Case] = []
    for item in data.items:
        text = " ".join(item.target_text.split())
        request = ParadigmRequest(item=item, task=data.task)
        words = re.findall(r"[\w'’-]+", text)[:2]
        cot = "First, read the review.\nNext, weigh its words.\nFinally, decide.\nAnswer: negative"
        out.append(("redaction", redaction_regex(item.target_text, "[REDACTED]"), text))
        out.append(("importance", words_regex(text, 3), ", ".join(words)))
        out.append(("cot", f"([^\\n]{{1,400}}\\n){{1,12}}{answer_line_regex(request)}", cot))
    return out


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def bench_llguidance(tokenizer: Any, work: list[Case]) -> dict[str, Any]:
    import llguidance
    import llguidance.hf

    lltok, setup = timed(lambda: llguidance.hf.from_tokenizer(tokenizer))
    compile_s, mask_s, accepted = [], [], 0
    for _, regex, reply in work:
        grammar = llguidance.LLMatcher.grammar_from_regex(regex)
        matcher, seconds = timed(lambda g=grammar: llguidance.LLMatcher(lltok, g, log_level=0))
        compile_s.append(seconds)
        ok = not matcher.is_error()
        for token in tokenizer.encode(reply, add_special_tokens=False):
            _, seconds = timed(matcher.compute_bitmask)
            mask_s.append(seconds)
            ok = ok and matcher.consume_token(token)
        accepted += bool(ok and matcher.is_accepting())
    return {"setup_s": setup, "compile_ms": compile_s, "mask_us": mask_s, "accepted": accepted}


def bench_xgrammar(tokenizer: Any, work: list[Case]) -> dict[str, Any]:
    import xgrammar

    def make() -> Any:
        info = xgrammar.TokenizerInfo.from_huggingface(tokenizer)
        return xgrammar.GrammarCompiler(info), info

    (compiler, info), setup = timed(make)
    bitmask = xgrammar.allocate_token_bitmask(1, info.vocab_size)
    compile_s, mask_s, accepted = [], [], 0
    for _, regex, reply in work:
        compiled, seconds = timed(lambda r=regex: compiler.compile_regex(r))
        compile_s.append(seconds)
        matcher = xgrammar.GrammarMatcher(compiled)
        ok = True
        for token in tokenizer.encode(reply, add_special_tokens=False):
            _, seconds = timed(lambda m=matcher: m.fill_next_token_bitmask(bitmask))
            mask_s.append(seconds)
            ok = ok and matcher.accept_token(token)
        # xgrammar accepts a complete reply by accepting the end of sequence after it.
        accepted += bool(ok and (matcher.is_terminated() or matcher.accept_token(tokenizer.eos_token_id)))
    return {"setup_s": setup, "compile_ms": compile_s, "mask_us": mask_s, "accepted": accepted}


def bench_lm_format_enforcer(tokenizer: Any, work: list[Case]) -> dict[str, Any]:
    from lmformatenforcer import RegexParser, TokenEnforcer
    from lmformatenforcer.integrations.transformers import build_token_enforcer_tokenizer_data

    data, setup = timed(lambda: build_token_enforcer_tokenizer_data(tokenizer))
    compile_s, mask_s, accepted = [], [], 0
    for _, regex, reply in work:
        enforcer, seconds = timed(lambda r=regex: TokenEnforcer(data, RegexParser(r)))
        compile_s.append(seconds)
        prefix: list[int] = []
        ok = True
        for token in tokenizer.encode(reply, add_special_tokens=False):
            allowed, seconds = timed(lambda p=list(prefix), e=enforcer: e.get_allowed_tokens(p))
            mask_s.append(seconds)
            ok = ok and token in allowed
            prefix.append(token)
        accepted += bool(ok)
    return {"setup_s": setup, "compile_ms": compile_s, "mask_us": mask_s, "accepted": accepted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20)
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(str(converted_model_dir()))
    work = cases(args.items)
    print(f"SmolLM2 tokenizer, {len(work)} grammars ({args.items} DynaSent items x redaction, importance, cot)\n")
    print(f"{'library':22} {'setup s':>8} {'compile ms (median/max)':>24} {'mask us (median/p95)':>22} accepted")
    for name, fn in (
        ("llguidance", bench_llguidance),
        ("xgrammar", bench_xgrammar),
        ("lm-format-enforcer", bench_lm_format_enforcer),
    ):
        try:
            result = fn(tokenizer, work)
        except Exception as exc:  # a library that is missing or fails is reported, not fatal
            print(f"{name:22} failed: {type(exc).__name__}: {' '.join(str(exc).split())[:120]}")
            continue
        compile_ms = [1000 * s for s in result["compile_ms"]]
        mask_us = sorted(1e6 * s for s in result["mask_us"])
        p95 = mask_us[int(0.95 * (len(mask_us) - 1))]
        print(
            f"{name:22} {result['setup_s']:8.2f} {statistics.median(compile_ms):12.2f} / {max(compile_ms):9.1f}"
            f" {statistics.median(mask_us):11.1f} / {p95:8.1f} {result['accepted']:5}/{len(work)}"
        )


if __name__ == "__main__":
    main()
