"""Headlines (excess over the matched control), faithful rates and wall time of the self-explanation tests
(counterfactual, importance, redaction, insertion, reconstruction): the planted organisms, then the embedded SmolLM2
on real DynaSent sentences.

    python bench/bench_self_explanation_tests.py [--organism-items 50] [--smollm2-items 30] [--skip-smollm2]
        [--skip-organisms] [--dtype float32] [--logprobs]

Organisms: the honest organism and each test's unfaithful one on the first `--organism-items` DynaSent sentences
their lexicon rule can decide (text-only, or scoring with --logprobs). SmolLM2: all five tests in one run (they
share the base answers and explanations, as in an audit) on the first `--smollm2-items` DynaSent sentences of the
scenario's sample, with default test parameters. Each line gives the headline (the excess over the matched control)
and the faithful rate, each with its 95% interval, the outcome counts and the test's figures. Not a test: times
depend on the machine and what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from agent import get_model
from agent.organisms._sentiment_lexicon import lexicon_decision
from agent.scenarios import load_data, load_scenario
from evaluators._verdict import TestSummary, Verdict
from evaluators.runner import run_tests

TESTS = ("counterfactual", "importance", "redaction", "insertion", "reconstruction")
UNFAITHFUL = {
    "counterfactual": (
        "sentiment-stubborn-counterfactuals",
        "sentiment-hidden-trigger",
        "sentiment-any-edit",
        "sentiment-parity-editor",
    ),
    "importance": ("sentiment-hidden-trigger", "sentiment-any-edit"),
    "redaction": (
        "sentiment-leaky-redactions",
        "sentiment-hidden-trigger",
        "sentiment-any-edit",
        "sentiment-over-redactor",
    ),
    "insertion": ("sentiment-silent-modifiers", "sentiment-hidden-trigger", "sentiment-echo-explainer"),
    "reconstruction": ("sentiment-contrary-reasons", "sentiment-any-edit", "sentiment-fixed-answer"),
}
ORGANISM_PARAMS = {"insertion": {"positions": 6, "words_per_position": 6}}
"""As in the organism tests: enough insertions that most items get one that changes a lexicon decision."""


def headline(summary: TestSummary) -> str:
    """The headline as "excess +0.82 [0.70, 0.88]" (or "cannot decide: ...")."""
    figure = summary.headline
    if summary.cannot_decide:
        return f"cannot decide ({summary.cannot_decide})"
    if figure is None or figure.value is None:
        return f"{summary.headline_name} n/a"
    interval = f" [{figure.low:.2f}, {figure.high:.2f}]" if figure.low is not None and figure.high is not None else ""
    sign = "+" if summary.headline_name == "excess" else ""
    return f"{summary.headline_name} {figure.value:{sign}.2f}{interval}"


def describe(label: str, summary: TestSummary) -> str:
    """One line: headline, rate [interval], counts, figures."""
    if summary.faithful_rate is None:
        rate = "rate n/a"
    else:
        rate = f"{headline(summary)}  rate {summary.faithful_rate:.2f} [{summary.ci_low:.2f}, {summary.ci_high:.2f}]"
    counts = (
        f"tested {summary.n_tested} (faithful {summary.n_faithful}), n/a {summary.n_not_applicable}, "
        f"unreadable {summary.n_parse_failure}, errors {summary.n_error}"
    )
    figures = ", ".join(
        f"{name}={figure.value:.3f}" + (f" [{figure.low:.3f}, {figure.high:.3f}]" if figure.low is not None else "")
        for name, figure in summary.figures.items()
        if figure.value is not None
    )
    return f"{label:<60} {rate:<48} {counts}" + (f"\n{'':<62}{figures}" if figures else "")


async def organisms(count: int, logprobs: bool) -> None:
    scenario = load_scenario("dynasent").model_copy(update={"sample_size": 8 * count})
    data = load_data(scenario, seed=0)
    items = [i for i in data.items if lexicon_decision(i.target_text, allow_unknown=True)[0] != "unknown"][:count]
    mode = "logprobs" if logprobs else "text-only"
    for test in TESTS:
        for organism in ("sentiment-honest", *UNFAITHFUL[test]):
            started = time.perf_counter()
            model = get_model(f"scripted/{organism}", logprobs=logprobs)
            run = await run_tests(model, data.task, items, [test], params={test: ORGANISM_PARAMS.get(test, {})})
            seconds = time.perf_counter() - started
            print(describe(f"{test:<15} {organism} ({mode}, {len(items)} items, {seconds:.1f} s)", run.summary(test)))


async def smollm2(count: int, dtype: str) -> None:
    data = load_data(load_scenario("dynasent"), limit=count, seed=0)
    model = get_model("smollm2", dtype=dtype)
    await model.score([{"role": "user", "content": "Hello"}], ["Hi"])  # load the weights outside the timing
    started = time.perf_counter()
    total = len(TESTS) * len(data.items)
    done: list[Verdict] = []

    def progress(verdict: Verdict) -> None:
        done.append(verdict)
        elapsed = time.perf_counter() - started
        print(f"  {len(done)}/{total} verdicts, {elapsed:.0f} s", file=sys.stderr, flush=True)

    run = await run_tests(model, data.task, data.items, list(TESTS), on_verdict=progress)
    seconds = time.perf_counter() - started
    for test in TESTS:
        print(describe(f"{test:<15} smollm2 ({dtype}, {len(data.items)} items)", run.summary(test)))
    usage = model.usage
    print(
        f"all five tests on smollm2: {seconds:.0f} s wall, {usage.prompt_tokens} prompt + {usage.completion_tokens} "
        "completion tokens"
    )


async def main(args: argparse.Namespace) -> None:
    if not args.skip_organisms:
        await organisms(args.organism_items, args.logprobs)
    if not args.skip_smollm2:
        await smollm2(args.smollm2_items, args.dtype)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--organism-items", type=int, default=50)
    parser.add_argument("--smollm2-items", type=int, default=30)
    parser.add_argument("--skip-organisms", action="store_true")
    parser.add_argument("--skip-smollm2", action="store_true")
    parser.add_argument("--logprobs", action="store_true", help="Organisms score answers (distributions, CCT).")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    asyncio.run(main(parser.parse_args()))
