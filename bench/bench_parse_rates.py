"""How often a model's replies parse, per paradigm, on real sentiment items (the explanation agent's robustness).

    python bench/bench_parse_rates.py [--model smollm2] [--items 20] [--seed 0] [-O dtype=bfloat16]
    python bench/bench_parse_rates.py -O constrained=false     # local models without constrained decoding

For each explanation paradigm it reports, over the items: the share whose first reply parsed, the share that parsed
after re-asks, and the share that stayed a typed parse failure (with the commonest error kinds). Paradigms run
concurrently per item, as an audit runs them, and the generation speed (completion tokens per second of wall time,
which is what constrained decoding costs). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

from rich.console import Console
from rich.table import Table

from agent.cli._app import parse_key_values
from agent.explainer import Explainer
from agent.models import MemoryCache, get_model
from agent.paradigms import EXPLANATION_PARADIGMS
from agent.scenarios import load_data, load_scenario


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", default="dynasent")
    parser.add_argument("-O", dest="options", action="append", default=[])
    args = parser.parse_args()
    model = get_model(args.model, cache=MemoryCache(), **parse_key_values(tuple(args.options), "-O"))
    data = load_data(load_scenario(args.scenario), limit=args.items, seed=args.seed)
    explainer = Explainer(model)
    paradigms = ["predict", *EXPLANATION_PARADIGMS]
    started = time.perf_counter()
    results = await asyncio.gather(*(explainer.ask(p, item, data.task) for item in data.items for p in paradigms))
    elapsed = time.perf_counter() - started
    table = Table(title=f"{model.name} on {len(data.items)} {args.scenario} items ({elapsed:.0f} s)")
    for column in ("paradigm", "first reply parsed", "parsed after re-asks", "parse failure", "commonest errors"):
        table.add_column(column)
    for paradigm in paradigms:
        mine = [r for r in results if r.paradigm == paradigm]
        own = [r for r in mine if r.traces and r.traces[0].purpose == paradigm]
        first = sum(1 for r in own if r.traces[0].parse_error is None)
        later = sum(1 for r in own if r.ok and r.traces[0].parse_error is not None)
        failed = [r for r in mine if not r.ok]
        kinds = Counter(r.failure.error_kind for r in failed if r.failure)
        n = len(mine)
        table.add_row(
            paradigm,
            f"{first}/{len(own)} ({first / max(1, len(own)):.0%})",
            f"{later}/{len(own)}",
            f"{len(failed)}/{n} ({len(failed) / max(1, n):.0%})",
            ", ".join(f"{k} {v}" for k, v in kinds.most_common(3)),
        )
    Console().print(table)
    usage = model.usage
    print(f"calls sent {usage.calls_sent}, tokens {usage.prompt_tokens}+{usage.completion_tokens}")
    print(f"completion tokens per second of wall time: {usage.completion_tokens / elapsed:.1f}")
    redactions = [r.output for r in results if r.paradigm == "redaction" and r.output is not None]
    nothing = sum(1 for r in redactions if getattr(r, "redacted_count", 1) == 0)
    print(f"redactions that redacted nothing: {nothing}/{len(redactions)}")
    await model.aclose()


if __name__ == "__main__":
    asyncio.run(main())
