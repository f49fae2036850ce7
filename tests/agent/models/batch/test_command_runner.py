"""The batch command runner: a command of our own (tests/fixtures/batch_command.py) answers each round's file."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from agent.errors import ModelUnavailableError
from agent.models import Completion, GenerateConfig, Model, get_model
from agent.models.batch import batch_mode_of, bind_run_directory
from agent.models.batch._runners import RUN_MARKER

PROMPTS = ["one", "two", "three"]
RUNNER = f"{sys.executable} -m tests.fixtures.batch_command -i {{input}} -o {{output}} --engine echo"
FAST = {"batch_window": 0.05, "retry_initial_wait": 0.01, "retry_max_wait": 0.05}


def commanded(template: str, run_dir: Path | None = None) -> Model:
    model = get_model("openai/local", batch_command=template, **FAST)
    if run_dir is not None:
        bind_run_directory([model], run_dir)
    return model


async def ask(model: Model, prompts: list[str], **config: int) -> list[Completion | BaseException]:
    try:
        return await asyncio.gather(
            *(model.generate(p, GenerateConfig(**config)) for p in prompts), return_exceptions=True
        )
    finally:
        await model.aclose()


def command_runs(run_dir: Path) -> int:
    return sum(log.read_bytes().count(RUN_MARKER) for log in (run_dir / "batches").glob("round-*.log"))


async def test_a_round_answered_before_a_restart_is_read_again_not_run_again(tmp_path: Path) -> None:
    first = await ask(commanded(RUNNER, tmp_path), PROMPTS)
    assert [r.text for r in first] == [f"echo: {p}" for p in PROMPTS]
    assert command_runs(tmp_path) == 1
    again = await ask(commanded(RUNNER, tmp_path), PROMPTS)  # no response cache: only the ledger can answer
    assert [r.text for r in again] == [f"echo: {p}" for p in PROMPTS]
    assert command_runs(tmp_path) == 1


async def test_a_round_cut_short_by_its_process_ending_runs_again(tmp_path: Path) -> None:
    template = f"{RUNNER} --hang-once {tmp_path / 'hung'}"
    first = commanded(template, tmp_path)
    pending = [asyncio.ensure_future(first.generate(p)) for p in PROMPTS]
    for _ in range(1000):  # until the command hangs
        if (tmp_path / "hung").exists():
            break
        await asyncio.sleep(0.01)
    for task in pending:
        task.cancel()
    await first.aclose()  # the process "ends": its command is stopped, the round never finished

    second = commanded(template, tmp_path)
    replies = await ask(second, PROMPTS)
    assert [r.text for r in replies] == [f"echo: {p}" for p in PROMPTS]
    mode = batch_mode_of(second)
    assert mode is not None
    assert [(r.abandoned, r.finished is not None) for r in mode.ledger.rounds.values()] == [
        (True, False),
        (False, True),
    ]


async def test_a_request_missing_from_every_output_fails_instead_of_getting_an_answer(tmp_path: Path) -> None:
    results = await ask(commanded(f"{RUNNER} --drop-last", tmp_path), PROMPTS, max_retries=1)
    answered = {r.text for r in results if isinstance(r, Completion)}
    failed = [r for r in results if isinstance(r, BaseException)]
    assert answered == {"echo: one", "echo: two"}
    assert len(failed) == 1 and isinstance(failed[0], ModelUnavailableError)
    assert "without a result for this request" in str(failed[0])


async def test_round_files_stay_out_of_the_way_without_a_run_directory() -> None:
    model = commanded(RUNNER)
    mode = batch_mode_of(model)
    assert mode is not None
    replies = await ask(model, PROMPTS[:1])
    assert replies[0].text == "echo: one"
    assert mode.ledger.path is None


@pytest.mark.parametrize("exit_status", [1, 3])
async def test_a_failing_command_ends_as_an_error_that_names_its_log(tmp_path: Path, exit_status: int) -> None:
    template = f"{sys.executable} -c 'import sys; print(\"no GPU here\"); sys.exit({exit_status})' {{input}} {{output}}"
    (result,) = await ask(commanded(template, tmp_path), ["hello"], max_retries=1)
    assert isinstance(result, ModelUnavailableError)
    assert f"exited with status {exit_status}" in str(result) and "no GPU here" in str(result)
    assert ".log" in str(result)
