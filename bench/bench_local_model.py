"""The embedded SmolLM2 through `get_model`: threads, batching, determinism, the dtype probe and peak memory.

    python bench/bench_local_model.py [--prompts 8] [--max-tokens 48] [--threads 1 0] [--dtype float32]

For each thread count (0 = the default `default_threads()` picks) it times the same greedy requests twice: a
per-prompt loop (batch_size=1, one request after another) and one batched round (batch_size=len(prompts), all
requests concurrent). It then checks that batched greedy replies equal the per-prompt ones token for token and that
a second batched run repeats the first, prints the `dtype=fastest` probe's timings and the process's peak RSS.
Not a test: the timings depend on the CPU and on what else runs on it (give the load average with the numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import time
from collections.abc import Sequence

PROMPTS = [
    "Say hello.",
    "Name three fruits and say which one you like best.",
    "Explain in two sentences why the sky is blue.",
    "Write a short poem about the sea.",
    "What is the capital of France? Answer and add one fact about it.",
    "Give me a tip for learning a new language.",
    "Describe a cat to someone who has never seen one.",
    "List the days of the week.",
]


async def _run(dtype: str, threads: int | None, batch: int, prompts: Sequence[str], max_tokens: int, tag: int):
    from agent.models import GenerateConfig, get_model

    options = {"dtype": dtype, "batch_size": batch, "max_batch_wait_ms": 50}
    if threads:
        options["threads"] = threads
    model = get_model("smollm2", **options)
    try:
        await model.generate("warm up", GenerateConfig(max_tokens=2, sample_id=-1))  # loads the weights
        config = GenerateConfig(max_tokens=max_tokens, sample_id=tag)  # a fresh sample_id: nothing is shared
        started = time.perf_counter()
        if batch == 1:
            completions = [await model.generate(p, config) for p in prompts]
        else:
            completions = list(await asyncio.gather(*(model.generate(p, config) for p in prompts)))
        seconds = time.perf_counter() - started
    finally:
        await model.aclose()
    texts = [c.choices[0].text for c in completions]
    tokens = sum(c.usage.completion_tokens for c in completions)
    return texts, tokens, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 0], help="0: the default choice")
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()

    from agent.models._local_cpu import default_threads, fastest_dtype

    prompts = (PROMPTS * (args.prompts // len(PROMPTS) + 1))[: args.prompts]
    print(
        f"load average {os.getloadavg()}, affinity {len(os.sched_getaffinity(0))} CPUs, "
        f"default_threads()={default_threads()}"
    )
    choice, probe = fastest_dtype(576, 1536)
    print(
        "dtype probe (SmolLM2 MLP matmul x8): "
        + ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in probe.items())
        + f" -> fastest={choice}"
    )
    print(f"\n{'threads':>7} {'mode':<8} {'tokens':>6} {'seconds':>8} {'tok/s':>7}")
    reference: list[str] | None = None
    for index, threads in enumerate(args.threads):
        label = str(threads) if threads else f"{default_threads()}*"
        loop_texts, loop_tokens, loop_s = asyncio.run(
            _run(args.dtype, threads or None, 1, prompts, args.max_tokens, 10 * index)
        )
        batch_texts, batch_tokens, batch_s = asyncio.run(
            _run(args.dtype, threads or None, len(prompts), prompts, args.max_tokens, 10 * index + 1)
        )
        again_texts, _, _ = asyncio.run(
            _run(args.dtype, threads or None, len(prompts), prompts, args.max_tokens, 10 * index + 2)
        )
        print(f"{label:>7} {'loop':<8} {loop_tokens:>6} {loop_s:>8.2f} {loop_tokens / loop_s:>7.1f}")
        print(
            f"{label:>7} {'batched':<8} {batch_tokens:>6} {batch_s:>8.2f} {batch_tokens / batch_s:>7.1f}"
            f"   ({(batch_tokens / batch_s) / (loop_tokens / loop_s):.1f}x the loop)"
        )
        same = sum(a == b for a, b in zip(loop_texts, batch_texts, strict=True))
        repeat = sum(a == b for a, b in zip(batch_texts, again_texts, strict=True))
        print(f"{'':>7} batched == per-prompt: {same}/{len(prompts)}; batched run-to-run: {repeat}/{len(prompts)}")
        if reference is None:
            reference = loop_texts
        else:
            across = sum(a == b for a, b in zip(reference, loop_texts, strict=True))
            print(f"{'':>7} same replies as {args.threads[0] or 'default'} threads: {across}/{len(prompts)}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
