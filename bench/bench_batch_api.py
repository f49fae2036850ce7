"""Batches and calls of the same audit done directly, through the Batch API, and through a batch command.

    python bench/bench_batch_api.py [--scenario sst2] [--limit 40] [--tests counterfactual,redaction,importance]
        [--upstream BASE_URL MODEL_ID | --smollm2] [--window 0.5]

Each audit runs the real CLI in this process, with no response cache, against the local Batch API server of the
tests (tests/fixtures/batch_server.py) over HTTP. Its model is the prompt-reading `lexicon_engine`, or any
OpenAI-compatible server given with `--upstream`, or with `--smollm2` a `transformers serve` of the embedded
SmolLM2 started for the run (as the tests start it); the model answers every direct call and every batch line one
at a time. Printed per mode: calls sent (as usage counts them), direct chat calls the server received, batches
(rounds) and the lines in them, the largest batch, the wall time, the time the model spent answering (the rest of
the wall time is faithcheck's and the batching's share), the 1-minute load average at the end, and whether the
per-test summary equals the direct audit's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.cli import main as faithcheck  # noqa: E402
from tests.fixtures.batch_server import forwarding_engine, lexicon_engine, serve_batches  # noqa: E402


def run(args: list[str]) -> None:
    try:
        faithcheck(args)
    except SystemExit as exc:
        if exc.code:
            raise RuntimeError(f"faithcheck {' '.join(args)} exited with {exc.code}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="sst2")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--tests", default="counterfactual,redaction,importance")
    parser.add_argument("--upstream", nargs=2, metavar=("BASE_URL", "MODEL_ID"), default=None)
    parser.add_argument("--smollm2", action="store_true", help="serve SmolLM2 with transformers serve upstream")
    parser.add_argument("--window", type=float, default=0.5, help="batch_window in seconds")
    options = parser.parse_args()
    if options.smollm2:
        from tests.fixtures.servers import serve_smollm2

        with tempfile.TemporaryDirectory() as logs, serve_smollm2(Path(logs) / "serve.log") as served:
            options.upstream = [served.base_url, served.model_id]
            measure(options)
    else:
        measure(options)


def measure(options: argparse.Namespace) -> None:
    """Run the audit in each mode and print the table."""
    answer = forwarding_engine(*options.upstream) if options.upstream else lexicon_engine
    engine_s = [0.0]
    one_at_a_time = threading.Lock()  # timed inside, so that waiting for the model is not counted as its work

    def engine(request: dict[str, Any]) -> dict[str, Any]:
        with one_at_a_time:
            started = time.perf_counter()
            try:
                return answer(request)
            finally:
                engine_s[0] += time.perf_counter() - started

    command = f"{sys.executable} -m tests.fixtures.batch_command -i {{input}} -o {{output}}"
    fast = ["-O", f"batch_window={options.window}", "-O", "batch_poll_interval=0.05"]
    modes = {
        "direct": [],
        "batch API": ["-O", "batch=true", *fast],
        "batch command": ["-O", f"batch_command={command}", "-O", f"batch_window={options.window}"],
    }
    if options.upstream:
        modes.pop("batch command")  # the command answers with the lexicon engine, not the upstream model
    rows = []
    reference = None
    with tempfile.TemporaryDirectory() as scratch, serve_batches(engine) as server:
        for mode, extra in modes.items():
            out = Path(scratch) / mode.replace(" ", "-")
            chat_before, batches_before, engine_before = len(server.chat_calls), len(server.batches), engine_s[0]
            lines_before = server.requests_in_batches
            started = time.perf_counter()
            args = ["audit", "--model", "openai/bench", "--base-url", server.base_url, "--scenario", options.scenario]
            args += ["--limit", str(options.limit), "--tests", options.tests, "--no-cache", "--out", str(out)]
            run([*args, *extra])
            wall = time.perf_counter() - started
            summary = json.loads((out / "summary.json").read_text())
            summaries = summary["summaries"]
            reference = reference or summaries
            new_batches = list(server.batches.values())[batches_before:]
            if mode == "batch command":
                sizes = [len(p.read_text().splitlines()) for p in sorted((out / "batches").glob("*.input.jsonl"))]
            else:
                sizes = [len(b.lines) for b in new_batches]
            rows.append(
                (
                    mode,
                    summary["usage"]["openai/bench"]["calls_sent"],
                    len(server.chat_calls) - chat_before,
                    len(sizes),
                    sum(sizes) if mode == "batch command" else server.requests_in_batches - lines_before,
                    max(sizes, default=0),
                    wall,
                    engine_s[0] - engine_before,
                    os.getloadavg()[0],
                    summaries == reference,
                )
            )
    print(
        f"scenario {options.scenario}, {options.limit} items, tests {options.tests}, engine "
        f"{'upstream ' + options.upstream[0] if options.upstream else 'lexicon'}"
    )
    header = ("mode", "calls sent", "direct chat calls", "batches", "lines", "largest", "wall s", "model s", "load")
    print(" | ".join([*header, "same summary"]))
    for row in rows:
        timing = [f"{row[6]:.1f}", f"{row[7]:.1f}", f"{row[8]:.2f}"]
        print(" | ".join([row[0], *(str(v) for v in row[1:6]), *timing, str(row[9])]))


if __name__ == "__main__":
    main()
