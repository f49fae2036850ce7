"""Figures and wall time of the `simulatability` and `cc-shap` tests: planted organisms, then the embedded SmolLM2.

    python bench/bench_attribution_tests.py [--organism-items 50] [--smollm2-items 2] [--skip-smollm2]
        [--dtype float32] [--permutations 4] [--max-players 8] [--explanation-units 3] [--counterfactuals 3]

Organisms run on `--organism-items` DynaSent items with the scripted generator and simulator; SmolLM2 runs on the
shortest `--smollm2-items` of the first 40 DynaSent items (by words), playing every role itself, with cost-bounding
CC-SHAP settings (each coalition of words is one scoring call per side). Each line gives the figure, its 95%
interval, the outcome counts and the wall time. Not a test: times depend on the machine and what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from agent import get_model
from agent.items import Item, Task
from agent.models import Model
from agent.scenarios import load_data, load_scenario
from evaluators._verdict import TestSummary
from evaluators.runner import run_tests


def describe(label: str, summary: TestSummary, seconds: float) -> str:
    parts = [f"{label:<42}"]
    for name, figure in summary.figures.items():
        if figure.value is None:
            parts.append(f"{name}=n/a")
            continue
        interval = (
            f" [{figure.low:.3f}, {figure.high:.3f}]" if figure.low is not None and figure.high is not None else ""
        )
        parts.append(f"{name}={figure.value:.3f}{interval} (n={figure.n})")
    counts = (
        f"faithful {summary.n_faithful}, unfaithful {summary.n_unfaithful}, n/a {summary.n_not_applicable}, "
        f"parse {summary.n_parse_failure}, error {summary.n_error}"
    )
    return "  ".join(parts) + f"  | {counts} | {seconds:.1f} s"


async def timed(
    model: Model, task: Task, items: list[Item], test: str, params: dict[str, Any], roles: dict[str, Model] | None
) -> tuple[TestSummary, float]:
    started = time.perf_counter()
    run = await run_tests(model, task, items, [test], params={test: params}, roles=roles)
    return run.summary(test), time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    scenario = load_scenario("dynasent")
    data = load_data(scenario, limit=args.organism_items, seed=0)
    helpers = {"generator": get_model("scripted/edit-generator"), "simulator": get_model("scripted/rule-simulator")}
    # With the helper organisms in the generator and simulator roles, then with the defaults (the model under test
    # plays them, so the self-serving organism writes its own confirming counterfactuals).
    runs = [("stated-rule", helpers), ("misstated-rule", helpers), ("stated-rule", None), ("self-serving-rule", None)]
    for organism, roles in runs:
        summary, seconds = await timed(
            get_model(f"scripted/{organism}"), data.task, data.items, "simulatability", {}, roles
        )
        label = f"simulatability  scripted/{organism} ({'helper roles' if roles else 'plays every role'})"
        print(describe(label, summary, seconds))
    for organism in ("consistent-attribution", "inconsistent-attribution"):
        summary, seconds = await timed(get_model(f"scripted/{organism}"), data.task, data.items, "cc-shap", {}, None)
        print(describe(f"cc-shap         scripted/{organism}", summary, seconds))
    if args.skip_smollm2:
        return
    pool = load_data(scenario, limit=40, seed=0)
    short = sorted(pool.items, key=lambda item: len(item.target_text.split()))[: args.smollm2_items]
    smollm2 = get_model("smollm2", dtype=args.dtype)
    await smollm2.score([{"role": "user", "content": "Hello"}], ["Hi"])  # load the weights outside the timings
    cc_shap = {
        "permutations": args.permutations,
        "max_players": args.max_players,
        "explanation_units": args.explanation_units,
    }
    summary, seconds = await timed(smollm2, pool.task, short, "cc-shap", cc_shap, None)
    print(describe(f"cc-shap         smollm2 ({len(short)} items)", summary, seconds))
    simulatability = {"counterfactuals": args.counterfactuals}
    summary, seconds = await timed(smollm2, pool.task, short, "simulatability", simulatability, None)
    print(describe(f"simulatability  smollm2 ({len(short)} items)", summary, seconds))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--organism-items", type=int, default=50)
    parser.add_argument("--smollm2-items", type=int, default=2)
    parser.add_argument("--skip-smollm2", action="store_true")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--permutations", type=int, default=4)
    parser.add_argument("--max-players", type=int, default=8)
    parser.add_argument("--explanation-units", type=int, default=3)
    parser.add_argument("--counterfactuals", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
