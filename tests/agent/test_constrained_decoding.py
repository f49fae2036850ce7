"""Constrained decoding on the local backend: rows of one batch follow their own reply grammar (or none) inside our
token selection, a reply that would stop early is taken to its ending, and `-O constrained=false` switches it off.
The tiny random model writes gibberish, so any reply that matches its grammar was made to."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from agent.items import Item, Task
from agent.models import ChatMessage, GenerateConfig, get_model
from agent.paradigms import REDACTION_TOKEN, ParadigmRequest, get_paradigm
from agent.paradigms._formats import lark

TASK = Task(name="sentiment", kind="classification", instruction="Classify.", labels=("positive", "negative"))
ITEM = Item(id="r1", fields={"review": "The plot dragged and the acting was wooden."})
PROMPT = [ChatMessage(role="user", content="Say something about the film.")]


async def test_rows_of_one_batch_follow_their_own_grammars(tiny_model_dir: Path) -> None:
    model = get_model(f"hf/{tiny_model_dir}", batch_size=8, max_batch_wait_ms=300)
    request = ParadigmRequest(item=ITEM, task=TASK)
    redaction = get_paradigm("redaction").reply_grammar(request)
    words = get_paradigm("importance").reply_grammar(request)
    try:
        free, redacted, listed, answer, free_again = await asyncio.gather(
            model.generate(PROMPT, GenerateConfig(max_tokens=24)),
            model.generate(PROMPT, GenerateConfig(max_tokens=48, reply_grammar=redaction)),
            model.generate(PROMPT, GenerateConfig(max_tokens=24, reply_grammar=words)),
            model.generate(PROMPT, GenerateConfig(max_tokens=24, reply_grammar=lark("(positive|negative)"))),
            model.generate(PROMPT, GenerateConfig(max_tokens=24, sample_id=1)),
        )
        alone = await model.generate(PROMPT, GenerateConfig(max_tokens=24, sample_id=2))
    finally:
        await model.aclose()
    kept = [w for w in redacted.text.split() if w != REDACTION_TOKEN]
    assert len(redacted.text.split()) == len(ITEM.target_text.split())
    assert all(w in ITEM.target_text.split() for w in kept), redacted.text
    assert re.fullmatch(r"[\w.]+(, [\w.]+){0,2}", listed.text) and all(
        w in ITEM.target_text for w in listed.text.split(", ")
    ), listed.text
    assert answer.text in {"positive", "negative"} and answer.choices[0].finish_reason == "stop"
    # A row without a grammar is untouched by its neighbours' constraints.
    assert free.text == free_again.text == alone.text


async def test_a_reply_that_would_stop_early_goes_on_to_its_ending(tiny_model_dir: Path) -> None:
    model = get_model(f"hf/{tiny_model_dir}")
    grammar = lark(r"[^\n]{1,40}\nAnswer: (positive|negative)")
    config = GenerateConfig(max_tokens=64, reply_grammar=grammar, reply_ending=lark("Answer: (positive|negative)"))
    try:
        completion = await model.generate(PROMPT, config)
    finally:
        await model.aclose()
    assert re.fullmatch(r"[^\n]{1,40}\nAnswer: (positive|negative)", completion.text), completion.text


async def test_constrained_false_sends_free_text_and_declares_no_grammar(tiny_model_dir: Path) -> None:
    model = get_model(f"hf/{tiny_model_dir}", constrained=False)
    try:
        assert not model.capabilities.grammar
        config = GenerateConfig(max_tokens=12, reply_grammar=lark("(positive|negative)"))
        completion = await model.generate(PROMPT, config)
    finally:
        await model.aclose()
    assert completion.text not in {"positive", "negative"}


def test_a_row_that_wants_to_end_early_is_taken_to_a_new_line_then_its_ending(smollm2_dir: Path) -> None:
    import torch
    from transformers import AutoTokenizer

    from agent.models._constrained import GrammarCompiler

    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_dir))
    eos = int(tokenizer.convert_tokens_to_ids("<|im_end|>"))
    compiler = GrammarCompiler(tokenizer, len(tokenizer), {eos})
    matcher = compiler.matcher(
        lark(r"([^\n]{1,400}\n){1,12}Answer: (positive|negative)"), lark("Answer: (positive|negative)"), "m"
    )
    assert matcher is not None
    for token in tokenizer.encode("The review is negative.", add_special_tokens=False):
        mask = matcher.allowed(torch.device("cpu"), wanted=token)
        assert mask is not None and mask[token]
        matcher.consume(token)
    # The model wants to stop here: only tokens that start a new line are allowed.
    mask = matcher.allowed(torch.device("cpu"), wanted=eos)
    assert mask is not None and not mask[eos] and bool((mask <= compiler.newline_tokens).all())
    newline = int(mask.nonzero()[0])
    matcher.consume(newline)
    # From there the ending alone: "Answer: " and one of the answers, then the end.
    text = ""
    while True:
        mask = matcher.allowed(torch.device("cpu"), wanted=eos)
        assert mask is not None
        if mask[eos]:
            break
        token = int(mask.nonzero()[0])
        text += tokenizer.decode([token])
        matcher.consume(token)
    assert re.fullmatch("Answer: (positive|negative)", text), text
