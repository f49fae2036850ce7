"""The embedded SmolLM2: conversion safety (fast, with a stand-in converter) and the real model (slow)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent.models.smollm2 as smollm2
from agent._sync import run_sync
from agent.errors import ConfigurationError
from agent.models import ChatMessage, GenerateConfig, Model, get_model
from agent.models.smollm2 import CONVERTED_NAME, MARKER_NAME, MODEL_DIR_ENV, SmolLM2API, converted_model_dir

REPO_ROOT = Path(__file__).resolve().parents[3]

# --- the alias -----------------------------------------------------------------------------------------------------


def test_the_alias_is_called_smollm2_and_takes_no_model_name() -> None:
    model = get_model("smollm2")
    fast = get_model("smollm2", dtype="bfloat16")
    assert isinstance(model.api, SmolLM2API)
    assert isinstance(fast.api, SmolLM2API)
    assert model.name == "smollm2"
    assert (model.api.dtype, fast.api.dtype) == ("float32", "bfloat16")
    with pytest.raises(ConfigurationError, match="takes no name"):
        get_model("smollm2/large")


async def test_the_alias_runs_the_directory_named_by_the_environment(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MODEL_DIR_ENV, str(tiny_model_dir))
    model = get_model("smollm2")
    try:
        completion = await model.generate("Hello", GenerateConfig(max_tokens=3))
    finally:
        await model.aclose()
    assert completion.model == "smollm2"
    assert completion.usage.completion_tokens >= 1
    identity = model.api.cache_identity()
    assert identity["provider"] == "smollm2"
    assert Path(identity["path"]) == tiny_model_dir


# --- conversion safety, with a stand-in for the 20-second conversion ----------------------------------------------


def fake_convert(gguf: Path, out_dir: Path) -> None:
    """Writes the two files a converted directory must have, the weights last."""
    (out_dir / "config.json").write_text("{}")
    (out_dir / "model.safetensors").write_bytes(b"weights")


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".converting-", ".replaced-")))


CONVERT_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import agent.models.smollm2 as smollm2

    root, log, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    def convert(gguf, out_dir):
        with log.open("a") as f:
            f.write(f"convert {name}\\n")
        # Hold the conversion until both processes are running, so the second one really meets it.
        deadline = time.monotonic() + 60
        while len(list(root.parent.glob("started-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        (out_dir / "config.json").write_text("{}")
        (out_dir / "model.safetensors").write_bytes(b"weights from " + name.encode())

    smollm2._convert = convert
    smollm2.embedded_gguf_path = lambda: log
    (root.parent / f"started-{name}").touch()
    print(smollm2.converted_model_dir(root))
    """
)


def test_two_processes_converting_at_once_convert_once_and_agree(tmp_path: Path) -> None:
    root = tmp_path / "models"
    log = tmp_path / "conversions.log"
    log.touch()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop(MODEL_DIR_ENV, None)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CONVERT_SCRIPT, str(root), str(log), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("a", "b")
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs

    target = root / CONVERTED_NAME
    assert {out.strip() for out, _ in outputs} == {str(target)}
    assert len(log.read_text().splitlines()) == 1  # the second process waited and used the first one's result
    assert any("waiting for another process" in err for _, err in outputs)
    assert json.loads((target / MARKER_NAME).read_text())["format"] == smollm2.CONVERSION_FORMAT
    assert (target / "model.safetensors").read_bytes().startswith(b"weights from ")
    assert leftovers(root) == []


def test_an_outdated_conversion_and_leftovers_of_a_killed_one_are_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    monkeypatch.setattr(smollm2, "_convert", fake_convert)
    monkeypatch.setattr(smollm2, "embedded_gguf_path", lambda: tmp_path / "model.gguf")
    (tmp_path / "model.gguf").write_bytes(b"gguf")
    root = tmp_path / "models"
    old = root / CONVERTED_NAME
    old.mkdir(parents=True)
    (old / "config.json").write_text('{"quantization_config": {}}')  # written by an older faithcheck: no marker
    (old / "model.safetensors").write_bytes(b"old")
    (root / ".converting-killed").mkdir()
    (root / ".converting-killed" / "model.safetensors").write_bytes(b"half")

    target = converted_model_dir(root)

    assert target == old
    assert (target / "config.json").read_text() == "{}"
    assert (target / MARKER_NAME).is_file()
    assert leftovers(root) == []
    assert converted_model_dir(root) == target  # now current: no second conversion
    assert (target / "model.safetensors").read_bytes() == b"weights"


def test_a_failed_conversion_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(gguf: Path, out_dir: Path) -> None:
        (out_dir / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    monkeypatch.setattr(smollm2, "_convert", broken)
    monkeypatch.setattr(smollm2, "embedded_gguf_path", lambda: tmp_path / "model.gguf")
    root = tmp_path / "models"
    with pytest.raises(RuntimeError, match="disk full"):
        converted_model_dir(root)
    assert not (root / CONVERTED_NAME).exists()
    assert leftovers(root) == []


# --- the real model (slow) -----------------------------------------------------------------------------------------

REVIEW = (
    "Review: An absolute delight from start to finish. The acting is superb and I loved every minute of it.\n"
    "Is the sentiment of this review positive or negative?"
)


@pytest.fixture(scope="module")
def smollm2_model(smollm2_dir: Path) -> Iterator[Model]:
    """One loaded SmolLM2 (fp32) for the module; its worker thread serves every test's event loop."""
    model = get_model("smollm2")
    yield model
    run_sync(model.aclose())


@pytest.mark.slow
async def test_smollm2_replies_to_a_chat_message(smollm2_model: Model) -> None:
    completion = await smollm2_model.generate(
        [ChatMessage(role="user", content="Say hello.")], GenerateConfig(max_tokens=24)
    )
    assert completion.model == "smollm2"
    assert completion.text.strip()
    assert completion.usage.completion_tokens >= 1


@pytest.mark.slow
async def test_smollm2_score_agrees_with_a_direct_forward_pass(smollm2_model: Model, smollm2_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Mechanics only: at fp32 this 135M model does not reliably prefer " positive" for an obviously positive
    # review (the leading space is unusual right after the assistant header), so no preference is asserted.
    continuations = [" positive", " negative", "Positive"]
    scores = await smollm2_model.score(REVIEW, continuations)
    assert all(torch.isfinite(torch.tensor(s)) and s < 0 for s in scores)

    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_dir), local_files_only=True)
    reference = AutoModelForCausalLM.from_pretrained(str(smollm2_dir), dtype=torch.float32, local_files_only=True)
    prompt = str(
        tokenizer.apply_chat_template([{"role": "user", "content": REVIEW}], add_generation_prompt=True, tokenize=False)
    )
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    expected = []
    for continuation in continuations:
        ids = tokenizer(prompt + continuation, add_special_tokens=False)["input_ids"]
        assert ids[: len(prompt_ids)] == prompt_ids
        with torch.inference_mode():
            logits = reference(torch.tensor([ids])).logits[0].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        expected.append(sum(float(logprobs[p - 1, ids[p]]) for p in range(len(prompt_ids), len(ids))))
    assert scores == pytest.approx(expected, abs=1e-4)


@pytest.mark.slow
async def test_smollm2_batched_greedy_matches_batch_one_except_at_near_ties(smollm2_dir: Path) -> None:
    # Padding changes float summation order (~1e-6), so a token can only legitimately differ where the two
    # best candidates are within float noise of each other. Assert exactly that: identical up to the first
    # difference, and a near-tie there.
    prompts = ["Say hello.", "Name a fruit.", "What is two plus two?", "Write one word about the sea."]
    config = GenerateConfig(max_tokens=16, logprobs=True, top_logprobs=2)
    batched_model = get_model("smollm2", batch_size=4, max_batch_wait_ms=500)
    alone_model = get_model("smollm2", batch_size=1)
    try:
        batched = await asyncio.gather(*(batched_model.generate(p, config) for p in prompts))
        alone = [await alone_model.generate(p, config) for p in prompts]
        assert isinstance(batched_model.api, SmolLM2API)
        stats = batched_model.api.worker_stats
        assert stats is not None and stats.largest_batch == 4
    finally:
        await batched_model.aclose()
        await alone_model.aclose()
    for in_batch, by_itself in zip(batched, alone, strict=True):
        a, b = in_batch.choices[0].logprobs, by_itself.choices[0].logprobs
        assert a is not None and b is not None
        for x, y in zip(a, b, strict=False):
            if x.token != y.token:
                assert abs(y.top[0][1] - y.top[1][1]) < 1e-3, f"diverged without a near-tie at {y.token!r}"
                break
            assert x.logprob == pytest.approx(y.logprob, abs=1e-3)
        else:
            assert in_batch.text == by_itself.text


@pytest.mark.slow
def test_cli_generate_prints_a_completion(smollm2_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agent.cli import main

    main(["generate", "--model", "smollm2", "--max-tokens", "16", "Say hello."])
    out, err = capsys.readouterr()
    assert out.strip()
    assert "[smollm2 ·" in err
