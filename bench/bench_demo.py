"""Wall time of `make demo`'s audit: the embedded SmolLM2 on the demo scenario, from a clean response cache.

    python bench/bench_demo.py [--dtype float32] [--concurrency 8] [--scenario demo] [--limit N] [--keep DIR]

Runs the real CLI (`faithcheck audit --model smollm2 --scenario demo ...`) in a subprocess with an empty
FAITHCHECK_CACHE_DIR, so every call is sent, then reads the run's records: wall time (model loading included),
calls sent, tokens generated and items per minute, per scenario part. The budget is 5 minutes on 2 cores; other
processes on the same cores only make it slower, so run it on a quiet machine. Not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from agent.records import ItemDone, RunSummary, read_records
from agent.structured import CallTrace

BUDGET_S = 300.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="demo")
    parser.add_argument("--dtype", default=None, help="smollm2 dtype (make demo uses the default, float32)")
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="write the run here instead of a temporary dir")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-demo-") as scratch:
        run_dir = args.keep or Path(scratch) / "run"
        command = [
            sys.executable,
            "-c",
            "from agent.cli import main; main()",
            "audit",
            "--model",
            "smollm2",
            "--scenario",
            args.scenario,
            "--out",
            str(run_dir),
        ]
        if args.dtype:
            command += ["-O", f"dtype={args.dtype}"]
        if args.concurrency:
            command += ["--concurrency", str(args.concurrency)]
        if args.limit:
            command += ["--limit", str(args.limit)]
        env = {**os.environ, "FAITHCHECK_CACHE_DIR": str(Path(scratch) / "cache")}
        started = time.perf_counter()
        status = subprocess.run(command, env=env, check=False).returncode
        wall = time.perf_counter() - started
        if status != 0:
            print(f"audit exited {status}", file=sys.stderr)
            return status
        report(run_dir, wall)
    return 0


def report(run_dir: Path, wall: float) -> None:
    """Print what the run did and how long it took."""
    records = list(read_records(run_dir / "records.jsonl"))
    calls = [r for r in records if isinstance(r, CallTrace) and not r.cached]
    done = Counter(r.scenario for r in records if isinstance(r, ItemDone))
    summary = RunSummary.model_validate_json((run_dir / "summary.json").read_text())
    generated = sum(c.usage.completion_tokens for c in calls)
    scored = sum(1 for c in calls if c.scores is not None)
    print(f"\nwall time: {wall:.1f} s (budget {BUDGET_S:.0f} s, {'within' if wall <= BUDGET_S else 'OVER'} budget)")
    print(f"audit time (without start-up and report): {summary.wall_time_s:.1f} s")
    print(f"calls sent: {len(calls)} ({len(calls) - scored} generate, {scored} score)")
    print(f"tokens generated: {generated} ({generated / summary.wall_time_s:.1f} tok/s over the audit)")
    for scenario, items in done.items():
        print(f"  {scenario}: {items} items")
    for s in summary.summaries:
        rate = "–" if s.faithful_rate is None else f"{s.faithful_rate:.2f}"
        print(
            f"  {s.scenario}/{s.test}: n={s.n_items} faithful={s.n_faithful} unfaithful={s.n_unfaithful} "
            f"n/a={s.n_not_applicable} unreadable={s.n_parse_failure} errors={s.n_error} rate={rate}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
