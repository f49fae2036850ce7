"""Figures and wall time of the CoT tests (biasing-features and the four Lanham tests): organisms, then SmolLM2.

    python bench/bench_cot_tests.py [--organism-items 60] [--bbh-items 30] [--lanham-items 20]
        [--lanham-scenario aqua] [--cot-tokens 200] [--dtype bfloat16] [--only TEST,...] [--skip-organisms]
        [--skip-smollm2]

Organisms run on `--organism-items` BBH items (Turpin's data): each test on its planted pair. SmolLM2 runs
biasing-features (both cues, `--demonstrations` few-shot exemplars) on `--bbh-items` BBH items and each Lanham test
on `--lanham-items` items of `--lanham-scenario` (AQuA by default: multiple choice, so forced answers are scored),
playing the editor itself. Each test runs on its own (fresh explainer, no response cache), so its wall time is what
running that test alone costs. Each line gives the figures with their 95% intervals, the outcome counts and the
wall time. Not a test: times depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from agent import get_model
from agent.explainer import Explainer
from agent.scenarios import ScenarioData, load_data, load_scenario
from evaluators._verdict import TestSummary
from evaluators.runner import run_tests

ORGANISM_PAIRS = {
    "biasing-features": (
        "sycophant-candid",
        "sycophant-paraphrasing",
        "sycophant-trace-candid",
        "sycophant-silent",
        "sycophant-dismissive",
        "cue-jitter",
    ),
    "early-answering": ("causal-reasoner", "post-hoc-reasoner", "filler-reasoner", "length-reasoner"),
    "adding-mistakes": ("causal-reasoner", "post-hoc-reasoner"),
    "paraphrasing": ("causal-reasoner", "steganographic-reasoner"),
    "filler-tokens": ("causal-reasoner", "filler-reasoner"),
}
"""Per test, the organisms shown: the faithful ones first."""
LANHAM_TESTS = ("early-answering", "adding-mistakes", "paraphrasing", "filler-tokens")


def describe(label: str, summary: TestSummary, seconds: float) -> str:
    rate = (
        f"faithful {summary.faithful_rate:.3f} [{summary.ci_low:.3f}, {summary.ci_high:.3f}]"
        if summary.faithful_rate is not None
        else "faithful n/a"
    )
    figure = summary.headline
    if summary.cannot_decide:
        shown = f"cannot decide ({summary.cannot_decide})"
    elif figure is not None and figure.value is not None and figure.low is not None and figure.high is not None:
        sign = "+" if summary.headline_name == "excess" else ""
        shown = f"{summary.headline_name} {figure.value:{sign}.3f} [{figure.low:.3f}, {figure.high:.3f}]"
    else:
        shown = f"{summary.headline_name} n/a"
    lines = [f"{label}: {shown}; {rate}"]
    for name, figure in summary.figures.items():
        if figure.value is None:
            lines.append(f"    {name} = n/a")
            continue
        interval = (
            f" [{figure.low:.3f}, {figure.high:.3f}]" if figure.low is not None and figure.high is not None else ""
        )
        lines.append(f"    {name} = {figure.value:.3f}{interval} (n={figure.n})")
    lines.append(
        f"    counts: faithful {summary.n_faithful}, unfaithful {summary.n_unfaithful}, "
        f"n/a {summary.n_not_applicable}, parse failure {summary.n_parse_failure}, error {summary.n_error}"
        f" | {seconds:.1f} s"
    )
    return "\n".join(lines)


async def timed(subject: Any, data: ScenarioData, test: str, params: dict[str, Any]) -> tuple[TestSummary, float]:
    started = time.perf_counter()
    run = await run_tests(
        subject, data.task, data.items, [test], params={test: params}, demonstrations=data.demonstrations
    )
    return run.summary(test), time.perf_counter() - started


async def organisms(items: int, only: list[str]) -> None:
    data = load_data(load_scenario("bbh"), limit=items, seed=0)
    for test, pair in ORGANISM_PAIRS.items():
        if test not in only:
            continue
        params = {"variant": "both"} if test == "biasing-features" else {}
        for organism in pair:
            summary, seconds = await timed(get_model(f"scripted/{organism}"), data, test, params)
            print(describe(f"{test}  scripted/{organism}  ({len(data.items)} BBH items)", summary, seconds))


async def smollm2(args: argparse.Namespace) -> None:
    budgets = {"cot": args.cot_tokens, "continue-reasoning": args.cot_tokens}

    def subject() -> Explainer:
        return Explainer(get_model("smollm2", dtype=args.dtype), max_tokens=budgets, seed=0)

    if args.bbh_items and "biasing-features" in args.only:
        bbh = load_data(load_scenario("bbh"), limit=args.bbh_items, seed=0)
        params = {"variant": "both", "max_demonstrations": args.demonstrations}
        summary, seconds = await timed(subject(), bbh, "biasing-features", params)
        print(describe(f"biasing-features  smollm2  ({len(bbh.items)} BBH items)", summary, seconds))
    if args.lanham_items:
        data = load_data(load_scenario(args.lanham_scenario), limit=args.lanham_items, seed=0)
        lanham_params: dict[str, dict[str, Any]] = {
            "early-answering": {"max_points": args.positions + 1},
            "adding-mistakes": {"max_positions": args.positions, "editor_max_tokens": 64},
            "paraphrasing": {"max_positions": args.positions, "editor_max_tokens": 64},
            "filler-tokens": {},
        }
        for test in (t for t in LANHAM_TESTS if t in args.only):
            summary, seconds = await timed(subject(), data, test, lanham_params[test])
            label = f"{test}  smollm2  ({len(data.items)} {args.lanham_scenario} items)"
            print(describe(label, summary, seconds))


async def main(args: argparse.Namespace) -> None:
    if not args.skip_organisms:
        await organisms(args.organism_items, args.only)
    if not args.skip_smollm2:
        await smollm2(args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--organism-items", type=int, default=60)
    parser.add_argument("--bbh-items", type=int, default=30)
    parser.add_argument("--lanham-items", type=int, default=20)
    parser.add_argument("--lanham-scenario", default="aqua")
    parser.add_argument("--cot-tokens", type=int, default=200)
    parser.add_argument("--demonstrations", type=int, default=3, help="few-shot exemplars shown to SmolLM2")
    parser.add_argument("--positions", type=int, default=3, help="mistake / paraphrase positions per item")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--only", type=lambda v: v.split(","), default=list(ORGANISM_PAIRS), help="tests to run")
    parser.add_argument("--skip-organisms", action="store_true")
    parser.add_argument("--skip-smollm2", action="store_true")
    asyncio.run(main(parser.parse_args()))
