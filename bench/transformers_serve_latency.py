"""How long `transformers serve` with the embedded SmolLM2 takes to start, and to answer through `openai/`.

Run: `.venv/bin/python -m bench.transformers_serve_latency [--requests N] [--max-tokens N]`; prints JSON.
Startup is launch-to-healthy (the model is pinned, so it is loaded by then). Each request goes through the full
`openai/` provider path (no cache) and uses greedy decoding with a fixed number of new tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.models import GenerateConfig, get_model
from tests.fixtures.servers import ServedModel, serve_smollm2

PROMPT = "Explain in one sentence why the sky is blue."


async def measure(server: ServedModel, requests: int, max_tokens: int) -> dict[str, Any]:
    model = get_model(f"openai/{server.model_id}", base_url=server.base_url)
    latencies: list[float] = []
    tokens: list[int] = []
    try:
        for index in range(requests):
            started = time.perf_counter()
            completion = await model.generate(PROMPT, GenerateConfig(max_tokens=max_tokens, sample_id=index))
            latencies.append(time.perf_counter() - started)
            tokens.append(completion.usage.completion_tokens)
    finally:
        await model.aclose()
    later = latencies[1:] or latencies
    return {
        "startup_s": round(server.startup_s, 2),
        "first_response_s": round(latencies[0], 3),
        "later_median_s": round(statistics.median(later), 3),
        "completion_tokens": tokens,
        "tokens_per_s_median": round(statistics.median(t / s for t, s in zip(tokens, latencies, strict=True)), 1),
        "requests": requests,
        "max_tokens": max_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, serve_smollm2(Path(tmp) / "serve.log") as server:
        result = asyncio.run(measure(server, args.requests, args.max_tokens))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
