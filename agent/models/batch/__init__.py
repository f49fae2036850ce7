"""Batch mode for `openai/` models: the requests an audit sends at once go out as one batch, round after round.

    faithcheck audit -m openai/gpt-4o-mini -s demo -O batch=true                      # the OpenAI Batch API
    faithcheck audit -m openai/llama -s demo \\
        -O batch_command="python -m vllm.entrypoints.openai.run_batch -i {input} -o {output} --model llama"

A round is answered by the Batch API of the model's endpoint (`/v1/files` + `/v1/batches`, through the openai SDK)
or by a command run once per round (vLLM's `run_batch`, a Ray or Slurm job) that reads and writes the same JSONL
format. Batching lives below `Model`, so the cache, in-flight sharing, retries and usage work as for direct calls;
`batches.jsonl` in the run directory records every round, so `--resume` waits for batches already sent instead of
paying for them twice. See docs/batch.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from agent.models._model import Model
from agent.models.batch._errors import BatchCommandError, BatchLineStatusError, RequestUnanswered
from agent.models.batch._ledger import LEDGER_FILE, BatchLedger, RoundRecord
from agent.models.batch._lines import input_line, request_key
from agent.models.batch._mode import BatchMode, BatchStats
from agent.models.batch._options import BatchOptions, batch_options

__all__ = [
    "LEDGER_FILE",
    "BatchCommandError",
    "BatchLedger",
    "BatchLineStatusError",
    "BatchMode",
    "BatchOptions",
    "BatchStats",
    "RequestUnanswered",
    "RoundRecord",
    "audit_concurrency",
    "batch_mode_of",
    "batch_options",
    "batch_progress",
    "bind_run_directory",
    "input_line",
    "request_key",
]


def batch_mode_of(model: Model) -> BatchMode | None:
    """The batch mode of a model, or None when it sends direct calls."""
    mode = getattr(model.api, "batch", None)
    return mode if isinstance(mode, BatchMode) else None


def bind_run_directory(models: Iterable[Model], run_dir: Path) -> None:
    """Give every batching model the run directory, for its ledger; call before the first request."""
    for model in models:
        mode = batch_mode_of(model)
        if mode is not None:
            mode.bind_run_directory(run_dir)


def audit_concurrency(requested: int, models: Iterable[Model]) -> int:
    """Items an audit judges at once: in batch mode enough for every item's requests to join one round."""
    sizes = [mode.max_in_flight for mode in map(batch_mode_of, models) if mode is not None]
    return max([requested, *sizes])


def batch_progress(models: Iterable[Model]) -> str | None:
    """`3 batches sent · 1 pending` for a progress display, or None when no model batches."""
    modes = [mode for mode in map(batch_mode_of, models) if mode is not None]
    if not modes:
        return None
    sent = sum(mode.stats.submitted for mode in modes)
    resumed = sum(mode.stats.resumed for mode in modes)
    pending = sum(mode.stats.pending for mode in modes)
    text = f"{sent} batches sent"
    if resumed:
        text += f" (+{resumed} resumed)"
    return f"{text} · {pending} pending"
