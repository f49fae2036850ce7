"""The hf/ backend on a tiny random Llama: generation, batching, stop/length/n/logprobs, scoring, errors."""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.errors import ConfigurationError, ModelRequestError
from agent.models import ChatMessage, GenerateConfig, Model, get_model
from agent.models._batch_worker import WorkerStats
from agent.models.huggingface import HuggingFaceAPI
from tests.fixtures.local_models import TINY_MAX_CONTEXT

PROMPTS = [f"Question {i}: " + "tell me about the weather " * i for i in range(8)]
"""Eight prompts of different lengths, so a batch of them really is padded."""


def hf_name(directory: Path) -> str:
    return f"hf/{directory}"


@pytest.fixture
async def tiny(tiny_model_dir: Path) -> AsyncIterator[Model]:
    """The tiny model behind the hf/ provider, batch 8, with a generous wait so concurrent requests share a batch."""
    model = get_model(hf_name(tiny_model_dir), batch_size=8, max_batch_wait_ms=200)
    yield model
    await model.aclose()


def api_of(model: Model) -> HuggingFaceAPI:
    assert isinstance(model.api, HuggingFaceAPI)
    return model.api


def stats_of(model: Model) -> WorkerStats:
    """What the model's batching worker has run (it must have started)."""
    stats = api_of(model).worker_stats
    assert stats is not None
    return stats


def test_importing_the_module_does_not_import_torch() -> None:
    code = "import sys, agent.models.huggingface, agent.models.smollm2; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_generate_returns_a_completion_with_usage(tiny: Model, tiny_model_dir: Path) -> None:
    completion = await tiny.generate("Hello there", GenerateConfig(max_tokens=8))
    assert completion.model == hf_name(tiny_model_dir)
    assert len(completion.choices) == 1
    assert completion.text.strip()
    assert completion.usage.prompt_tokens > 5  # the chat template adds a system turn and role headers
    assert 1 <= completion.usage.completion_tokens <= 8
    assert completion.choices[0].finish_reason in {"stop", "length"}
    assert tiny.capabilities.names() == ["logprobs", "score", "grammar", "seed", "local"]


async def test_concurrent_requests_run_in_fewer_generate_calls_than_requests(tiny: Model) -> None:
    config = GenerateConfig(max_tokens=6)
    completions = await asyncio.gather(*(tiny.generate(prompt, config) for prompt in PROMPTS))
    assert all(c.text for c in completions)
    stats = stats_of(tiny)
    assert stats.jobs == len(PROMPTS)
    assert stats.batches["generate"] < len(PROMPTS)
    assert stats.largest_batch > 1


async def test_a_batched_greedy_result_equals_the_same_request_alone(tiny: Model, tiny_model_dir: Path) -> None:
    # Left padding changes float summation order by ~1e-6, which could only flip an argmax at a near-tie; the
    # tiny model's logits are spread wide, so for these prompts the tokens must be identical, and the
    # log-probabilities agree to well within 1e-4.
    config = GenerateConfig(max_tokens=12, logprobs=True)
    batched = await asyncio.gather(*(tiny.generate(prompt, config) for prompt in PROMPTS))
    assert stats_of(tiny).largest_batch == len(PROMPTS)

    alone_model = get_model(hf_name(tiny_model_dir), batch_size=1)
    try:
        alone = [await alone_model.generate(prompt, config) for prompt in PROMPTS]
        assert stats_of(alone_model).largest_batch == 1
    finally:
        await alone_model.aclose()

    for in_batch, by_itself in zip(batched, alone, strict=True):
        a, b = in_batch.choices[0], by_itself.choices[0]
        assert a.text == b.text
        assert a.finish_reason == b.finish_reason
        assert a.logprobs is not None and b.logprobs is not None
        assert [t.token for t in a.logprobs] == [t.token for t in b.logprobs]
        assert [t.logprob for t in a.logprobs] == pytest.approx([t.logprob for t in b.logprobs], abs=1e-4)


async def test_max_tokens_ends_with_finish_reason_length(tiny: Model) -> None:
    completion = await tiny.generate("Count to ten", GenerateConfig(max_tokens=3, logprobs=True))
    choice = completion.choices[0]
    assert choice.finish_reason == "length"
    assert completion.usage.completion_tokens == 3
    assert choice.logprobs is not None and len(choice.logprobs) == 3


async def test_a_stop_sequence_cuts_the_text_and_ends_generation_early(tiny: Model) -> None:
    free = await tiny.generate("Write a story", GenerateConfig(max_tokens=24, logprobs=True))
    assert free.choices[0].finish_reason == "length"
    text = free.text
    # A stop string from the middle of the unconstrained reply, at its first occurrence.
    start = next(i for i in range(4, len(text) - 3) if text.find(text[i : i + 3]) == i)
    stop = text[start : start + 3]

    stopped = await tiny.generate("Write a story", GenerateConfig(max_tokens=24, stop=(stop,), logprobs=True))
    choice = stopped.choices[0]
    assert choice.text == text[:start]
    assert choice.finish_reason == "stop"
    assert stopped.usage.completion_tokens < free.usage.completion_tokens
    # Log-probabilities cover the tokens of the returned text, not the ones past the cut.
    assert choice.logprobs is not None and free.choices[0].logprobs is not None
    assert 0 < len(choice.logprobs) <= stopped.usage.completion_tokens
    assert choice.logprobs == free.choices[0].logprobs[: len(choice.logprobs)]


async def test_greedy_n_returns_n_identical_choices(tiny: Model) -> None:
    completion = await tiny.generate("Hi", GenerateConfig(max_tokens=5, n=3))
    assert len(completion.choices) == 3
    assert len({c.text for c in completion.choices}) == 1
    assert stats_of(tiny).rows == 1  # greedy: one row, copied


async def test_sampling_is_reproducible_by_seed_and_independent_of_the_batch(tiny: Model) -> None:
    config = GenerateConfig(max_tokens=8, temperature=1.0, n=3, seed=123)
    alone = await tiny.generate("Tell me a joke", config)
    assert alone.seed == 123
    assert len(alone.choices) == 3
    assert len({c.text for c in alone.choices}) > 1  # each choice draws from its own generator

    # The same request again, this time batched with other requests: every choice is unchanged.
    others = [
        tiny.generate(prompt, GenerateConfig(max_tokens=8, temperature=0.7, seed=i))
        for i, prompt in enumerate(PROMPTS[:4])
    ]
    again, *_ = await asyncio.gather(tiny.generate("Tell me a joke", config), *others)
    assert stats_of(tiny).largest_batch > 3
    assert [c.text for c in again.choices] == [c.text for c in alone.choices]

    other_seed = await tiny.generate("Tell me a joke", config.model_copy(update={"seed": 124}))
    assert [c.text for c in other_seed.choices] != [c.text for c in alone.choices]


async def test_sampling_without_a_seed_records_the_seed_it_drew(tiny: Model) -> None:
    config = GenerateConfig(max_tokens=6, temperature=1.0)
    first = await tiny.generate("Tell me a joke", config)
    assert first.seed is not None
    replay = await tiny.generate("Tell me a joke", config.model_copy(update={"seed": first.seed}))
    assert replay.text == first.text


async def test_logprobs_of_greedy_tokens_are_the_top_alternative(tiny: Model) -> None:
    completion = await tiny.generate("Hello", GenerateConfig(max_tokens=6, logprobs=True, top_logprobs=3))
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None
    assert len(logprobs) == completion.usage.completion_tokens
    for entry in logprobs:
        assert entry.logprob <= 0.0
        assert len(entry.top) == 3
        assert [value for _, value in entry.top] == sorted((value for _, value in entry.top), reverse=True)
        # Greedy picks the most likely token, so it is the first alternative.
        assert entry.top[0] == (entry.token, pytest.approx(entry.logprob))


async def test_logprobs_are_absent_unless_asked(tiny: Model) -> None:
    completion = await tiny.generate("Hello", GenerateConfig(max_tokens=3))
    assert completion.choices[0].logprobs is None


def direct_continuation_logprob(model_dir: Path, messages: list[ChatMessage], continuation: str) -> float:
    """The reference: one unpadded forward pass of prompt + continuation, straight through transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32, local_files_only=True).eval()
    prompt = str(
        tokenizer.apply_chat_template([m.model_dump() for m in messages], add_generation_prompt=True, tokenize=False)
    )
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(prompt + continuation, add_special_tokens=False)["input_ids"]
    assert full_ids[: len(prompt_ids)] == prompt_ids
    with torch.inference_mode():
        logits = model(torch.tensor([full_ids])).logits[0].float()
    logprobs = torch.log_softmax(logits[:-1], dim=-1)
    positions = range(len(prompt_ids) - 1, len(full_ids) - 1)
    return float(sum(logprobs[p, full_ids[p + 1]] for p in positions))


async def test_score_matches_a_direct_forward_pass_in_one_batch(tiny: Model, tiny_model_dir: Path) -> None:
    messages = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Is it raining?")]
    continuations = [" yes", " no", "Maybe later, if the clouds come in."]
    scores = await tiny.score(messages, continuations)
    assert len(scores) == 3
    assert all(math.isfinite(s) and s < 0 for s in scores)
    assert stats_of(tiny).batches == {"score": 1}
    expected = [direct_continuation_logprob(tiny_model_dir, messages, c) for c in continuations]
    assert scores == pytest.approx(expected, abs=1e-4)


async def test_concurrent_score_requests_share_a_forward_pass_and_keep_their_order(tiny: Model) -> None:
    questions = ["Is it raining?", "Is it sunny today, or is it cloudy?", "Snow?"]
    alone = [await tiny.score(q, [" yes", " no, it is not"]) for q in questions]
    before = stats_of(tiny).batches["score"]
    together = await asyncio.gather(*(tiny.score(q, [" yes", " no, it is not"]) for q in questions))
    assert stats_of(tiny).batches["score"] == before + 1
    for a, b in zip(together, alone, strict=True):
        assert a == pytest.approx(b, abs=1e-4)


async def test_an_empty_continuation_scores_zero(tiny: Model) -> None:
    scores = await tiny.score("Hi", ["", " there"])
    assert scores[0] == 0.0
    assert scores[1] < 0
    assert await tiny.score("Hi", []) == []


async def test_a_prompt_longer_than_the_context_is_a_clear_error(tiny: Model) -> None:
    with pytest.raises(ModelRequestError) as caught:
        await tiny.generate("word " * (2 * TINY_MAX_CONTEXT), GenerateConfig(max_tokens=4))
    message = str(caught.value)
    assert "\n" not in message
    assert f"context holds {TINY_MAX_CONTEXT}" in message
    with pytest.raises(ModelRequestError, match="context"):
        await tiny.score("word " * (2 * TINY_MAX_CONTEXT), [" yes"])


async def test_a_reply_is_bounded_by_the_room_left_in_the_context(tiny: Model) -> None:
    completion = await tiny.generate("word " * (TINY_MAX_CONTEXT - 40), GenerateConfig(max_tokens=100))
    assert completion.usage.prompt_tokens + completion.usage.completion_tokens <= TINY_MAX_CONTEXT
    assert completion.usage.completion_tokens < 100
    if completion.choices[0].finish_reason == "length":
        assert completion.usage.prompt_tokens + completion.usage.completion_tokens == TINY_MAX_CONTEXT


async def test_bfloat16_generates(tiny_model_dir: Path) -> None:
    model = get_model(hf_name(tiny_model_dir), dtype="bfloat16")
    try:
        completion = await model.generate("Hello", GenerateConfig(max_tokens=4))
    finally:
        await model.aclose()
    assert completion.usage.completion_tokens >= 1


async def test_a_missing_directory_is_a_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    model = get_model(f"hf/{missing}")
    with pytest.raises(ConfigurationError) as caught:
        await model.generate("Hello")
    message = str(caught.value)
    assert "\n" not in message
    assert str(missing) in message
    assert "nothing is downloaded" in message


async def test_a_directory_without_config_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"no config\.json"):
        await get_model(f"hf/{tmp_path}").generate("Hello")


async def test_a_tokenizer_without_a_chat_template_is_a_one_line_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    plain = tmp_path / "no-template"
    shutil.copytree(tiny_model_dir, plain)
    (plain / "chat_template.jinja").unlink()
    model = get_model(f"hf/{plain}")
    try:
        with pytest.raises(ConfigurationError) as caught:
            await model.generate("Hello")
    finally:
        await model.aclose()
    message = str(caught.value)
    assert "no chat template" in message
    assert "\n" not in message


def test_bad_options_are_rejected_when_the_model_is_named(tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match="option dtype='float8': input should be 'float32'"):
        get_model(hf_name(tiny_model_dir), dtype="float8")
    with pytest.raises(ConfigurationError, match="unknown option 'dtpye'"):
        get_model(hf_name(tiny_model_dir), dtpye="bfloat16")
    with pytest.raises(ConfigurationError, match="batch_size"):
        get_model(hf_name(tiny_model_dir), batch_size=0)


def test_cache_identity_changes_with_dtype_and_directory_contents(tiny_model_dir: Path, tmp_path: Path) -> None:
    fp32 = get_model(hf_name(tiny_model_dir)).api.cache_identity()
    bf16 = get_model(hf_name(tiny_model_dir), dtype="bfloat16").api.cache_identity()
    assert fp32["path"] == str(tiny_model_dir.resolve())
    assert fp32["dtype"] == "float32"
    assert fp32 != bf16
    assert fp32["fingerprint"] == get_model(hf_name(tiny_model_dir)).api.cache_identity()["fingerprint"]

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    template = copy / "chat_template.jinja"
    template.write_text(template.read_text().replace("helpful", "unhelpful"))
    assert get_model(f"hf/{copy}").api.cache_identity()["fingerprint"] != fp32["fingerprint"]


def test_concurrency_key_and_connection_limit(tiny_model_dir: Path) -> None:
    api = api_of(get_model(hf_name(tiny_model_dir), batch_size=4))
    assert api.concurrency_key() == f"hf:{tiny_model_dir}"  # as named: nothing is located to make a Model
    assert api.max_connections >= 2 * api.batch_size


async def test_models_with_the_same_settings_share_one_worker(tiny_model_dir: Path) -> None:
    first = get_model(hf_name(tiny_model_dir), max_batch_wait_ms=200)
    second = get_model(hf_name(tiny_model_dir), max_batch_wait_ms=200)
    config = GenerateConfig(max_tokens=4)
    await asyncio.gather(first.generate("one", config), second.generate("two", config))
    assert stats_of(first) is stats_of(second)
    assert stats_of(first).batches == {"generate": 1}

    await first.aclose()
    # The other user still has the loaded model.
    assert (await second.generate("three", config)).text
    await second.aclose()
    assert not any(t.name == f"batch-worker {hf_name(tiny_model_dir)}" for t in threading.enumerate())
