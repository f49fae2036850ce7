"""Batch options fail in one line before anything is sent; the ledger reads back what a killed process wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigurationError
from agent.models import get_model
from agent.models.batch import BatchLedger, batch_mode_of, batch_options
from agent.models.batch._ledger import RoundOpened, RoundStarted


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"batch": "yes"}, "takes true or false"),
        ({"batch": True, "batch_windw": 1}, "unknown option -O batch_windw"),
        ({"batch_window": 1}, "only applies in batch mode"),
        ({"batch": True, "batch_window": -1}, "-O batch_window=-1"),
        ({"batch": True, "batch_max_requests": 0}, "-O batch_max_requests=0"),
        ({"batch_command": {"sh -c 'a": "b'"}}, "quote the whole value"),
        ({"batch_command": "python -m runner -i {input}"}, "must contain {output}"),
        ({"batch_command": "no-such-runner-xyz -i {input} -o {output}"}, "not a program on PATH"),
        ({"batch_command": "runner 'unclosed -i {input} -o {output}"}, "cannot be split"),
    ],
)
def test_bad_batch_options_fail_with_one_line_that_says_what_to_fix(options: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        batch_options(options)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_batch_mode_is_off_unless_asked_for() -> None:
    assert batch_options({"base_url": "http://x/v1"}) is None
    assert batch_options({"batch": False}) is None
    assert batch_mode_of(get_model("openai/m", base_url="http://127.0.0.1:9/v1")) is None


def test_a_batch_command_needs_no_endpoint_or_key_and_is_a_backend_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    command = "python -m vllm.entrypoints.openai.run_batch -i {input} -o {output} --model m"
    model = get_model("openai/m", batch_command=command)
    mode = batch_mode_of(model)
    assert mode is not None and mode.options.command == command
    identity = model.api.cache_identity()
    assert identity["batch_command"] == command and "base_url" not in identity
    # A direct model and a batched one never share a connection limit; a round may hold 50,000 requests.
    assert model.api.concurrency_key() != get_model("openai/m", base_url="http://h/v1").api.concurrency_key()
    assert model.api.max_connections == 50_000


def test_the_batch_api_shares_the_cache_of_direct_calls_to_the_same_endpoint() -> None:
    direct = get_model("openai/m", base_url="http://127.0.0.1:9/v1")
    batched = get_model("openai/m", base_url="http://127.0.0.1:9/v1", batch=True)
    assert direct.api.cache_identity() == batched.api.cache_identity()


def opened(round_id: str, keys: list[str]) -> RoundOpened:
    return RoundOpened(round_id=round_id, runner="batch-api", endpoint="e", model="m", input="file-1", keys=keys)


def test_the_ledger_reads_back_rounds_and_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "batches.jsonl"
    ledger = BatchLedger()
    ledger.record(opened("0001-a", ["k1", "k2"]))  # before binding: kept, then written on bind
    ledger.bind(path)
    ledger.record(RoundStarted(round_id="0001-a", remote_id="batch-1"))
    ledger.record(opened("0002-b", ["k2"]))
    ledger.close()
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"kind":"started","round_id":"0002-b","remo')  # killed mid-write

    again = BatchLedger()
    again.bind(path)
    assert [r.round_id for r in again.rounds_for("k2")] == ["0002-b", "0001-a"]
    first, second = again.rounds["0001-a"], again.rounds["0002-b"]
    assert first.remote_id == "batch-1" and first.earlier_session
    assert second.remote_id is None  # the torn line never happened: the round is settled with the server


def test_the_progress_display_shows_batches_sent_and_pending() -> None:
    from agent.run._progress import _CallsColumn

    batching = get_model("openai/m", base_url="http://127.0.0.1:9/v1", batch=True)
    direct = get_model("openai/m", base_url="http://127.0.0.1:9/v1")
    mode = batch_mode_of(batching)
    assert mode is not None
    mode.stats.submitted, mode.stats.resumed, mode.stats.pending = 3, 1, 2
    shown = _CallsColumn([batching, direct]).render(None).plain
    assert "3 batches sent (+1 resumed) · 2 pending" in shown
    assert "batches" not in _CallsColumn([direct]).render(None).plain


def test_a_bad_batch_option_on_the_command_line_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.cli import main

    args = ["audit", "-m", "openai/m", "--base-url", "http://127.0.0.1:9/v1", "-s", "sst2", "--limit", "1"]
    with pytest.raises(SystemExit) as exited:
        main([*args, "--out", str(tmp_path / "run"), "-O", "batch=true", "-O", "batch_windw=1"])
    assert exited.value.code == 2
    printed = capsys.readouterr().err.strip().splitlines()
    assert len(printed) == 1 and "unknown option -O batch_windw" in printed[0]
    assert not (tmp_path / "run").exists()
