"""Generation throughput of the embedded SmolLM2: fp32 vs bf16, batch 1 vs batch 8, our Model vs transformers.

    python bench/bench_local_generation.py [--max-tokens 64] [--dtypes float32 bfloat16] [--prompts 8] [--repeat 2]

"direct" runs `model.generate` on transformers itself (batch 8 = one left-padded call); "Model" goes through
`get_model("smollm2")` with the batching worker (batch 1 = requests one after another with batch_size=1;
batch 8 = eight concurrent requests with batch_size=8). Tokens are the generated tokens each request kept (a row
that ends early stops counting), so tok/s is useful throughput. Loading is excluded; each measurement is repeated
(interleaved) and the fastest run is kept. Not a test: numbers depend on the machine and what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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


@dataclass
class Row:
    dtype: str
    mode: str
    batch: int
    tokens: int
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


class Direct:
    """transformers alone: batch 1 is one `generate` per prompt, batch N one left-padded call for all prompts."""

    def __init__(self, model_dir: Path, dtype: str) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self.tokenizer.padding_side = "left"
        self.model = AutoModelForCausalLM.from_pretrained(
            str(model_dir), dtype=getattr(torch, dtype), local_files_only=True
        ).eval()
        self.eos = self.tokenizer.eos_token_id

    def _template(self, prompt: str) -> str:
        messages = [{"role": "user", "content": prompt}]
        return str(self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))

    def _generate(self, prompts: Sequence[str], max_tokens: int) -> int:
        inputs = self.tokenizer(
            [self._template(p) for p in prompts], return_tensors="pt", padding=True, add_special_tokens=False
        )
        with self.torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=max_tokens, do_sample=False, pad_token_id=self.eos)
        kept = 0
        for row in out[:, inputs["input_ids"].shape[1] :].tolist():
            kept += row.index(self.eos) if self.eos in row else len(row)
        return kept

    def run(self, prompts: Sequence[str], batch: int, max_tokens: int) -> int:
        """Generated tokens kept, over all prompts."""
        if batch == 1:
            return sum(self._generate([p], max_tokens) for p in prompts)
        return self._generate(prompts, max_tokens)


class ThroughModel:
    """Our Model interface: batch 1 is sequential requests with batch_size=1, batch N concurrent requests."""

    def __init__(self, dtype: str, batch: int) -> None:
        from agent.models import get_model

        self.model = get_model("smollm2", dtype=dtype, batch_size=batch, max_batch_wait_ms=50)

    async def run(self, prompts: Sequence[str], batch: int, max_tokens: int, sample_id: int) -> int:
        from agent.models import GenerateConfig

        # A fresh sample_id per repetition: identical requests would otherwise be shared, not run.
        config = GenerateConfig(max_tokens=max_tokens, sample_id=sample_id)
        if batch == 1:
            completions = [await self.model.generate(p, config) for p in prompts]
        else:
            completions = list(await asyncio.gather(*(self.model.generate(p, config) for p in prompts)))
        return sum(c.usage.completion_tokens for c in completions)


async def bench_dtype(model_dir: Path, dtype: str, prompts: Sequence[str], max_tokens: int, repeat: int) -> list[Row]:
    """Every path at both batch sizes, interleaved and repeated: the best time of each is kept, since other
    processes on a shared machine only ever make a run slower."""
    from agent.models import GenerateConfig

    batch = len(prompts)
    direct = Direct(model_dir, dtype)
    direct.run(prompts[:1], 1, 2)  # warm up
    models = {size: ThroughModel(dtype, size) for size in (1, batch)}
    for through in models.values():
        await through.model.generate("warm up", GenerateConfig(max_tokens=2))  # loads the weights
    best: dict[tuple[str, int], tuple[int, float]] = {}
    try:
        for attempt in range(repeat):
            for size in (1, batch):
                for mode in ("direct", "Model"):
                    started = time.perf_counter()
                    if mode == "direct":
                        tokens = direct.run(prompts, size, max_tokens)
                    else:
                        tokens = await models[size].run(prompts, size, max_tokens, sample_id=attempt)
                    elapsed = time.perf_counter() - started
                    if (mode, size) not in best or elapsed < best[(mode, size)][1]:
                        best[(mode, size)] = (tokens, elapsed)
    finally:
        for through in models.values():
            await through.model.aclose()
    return [Row(dtype, mode, size, *best[(mode, size)]) for size in (1, batch) for mode in ("direct", "Model")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--prompts", type=int, default=8, help="number of prompts (= the batch size of batch runs)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement; the fastest is reported")
    args = parser.parse_args()

    from agent.models.smollm2 import converted_model_dir

    prompts = (PROMPTS * (args.prompts // len(PROMPTS) + 1))[: args.prompts]
    model_dir = converted_model_dir()
    rows: list[Row] = []
    for dtype in args.dtypes:
        rows += asyncio.run(bench_dtype(model_dir, dtype, prompts, args.max_tokens, max(1, args.repeat)))

    print(f"smollm2, greedy, {len(prompts)} prompts, max_tokens={args.max_tokens}, best of {args.repeat}\n")
    print(f"{'dtype':<10} {'path':<7} {'batch':>5} {'tokens':>7} {'seconds':>8} {'tok/s':>7}")
    for row in rows:
        print(
            f"{row.dtype:<10} {row.mode:<7} {row.batch:>5} {row.tokens:>7} {row.seconds:>8.2f} "
            f"{row.tokens_per_second:>7.1f}"
        )


if __name__ == "__main__":
    main()
