"""Issue 11's done-when on the organisms: answering in prose, in markdown, with a chatty wrapper, with `<think>`
blocks or with a `reasoning_content`-like field gives the verdicts the asked format gives (within 0.1 per test),
at most 5% more unreadable items, and none of the wrapper in any verdict's evidence."""

from __future__ import annotations

import pytest

from agent.items import Item, Task
from agent.scenarios import ScenarioData
from evaluators.runner import run_tests
from tests.fixtures.organisms import decidable_sentiment_items
from tests.fixtures.reply_styles import STYLES, WRAPPER_MARKERS, styled_model

ITEMS = 20
SELF_EXPLANATION = [  # (organism, tests)
    ("sentiment-honest", ("counterfactual", "importance", "redaction", "insertion", "reconstruction")),
    ("sentiment-hidden-trigger", ("counterfactual", "importance", "redaction", "insertion")),
    ("sentiment-stubborn-counterfactuals", ("counterfactual",)),
    ("sentiment-leaky-redactions", ("redaction",)),
    ("sentiment-silent-modifiers", ("insertion",)),
    ("sentiment-contrary-reasons", ("reconstruction",)),
]
REASONING = [
    ("causal-reasoner", ("early-answering", "adding-mistakes", "paraphrasing", "filler-tokens")),
    ("post-hoc-reasoner", ("early-answering", "adding-mistakes")),
    ("steganographic-reasoner", ("paraphrasing",)),
    ("filler-reasoner", ("filler-tokens",)),
]


async def judged(organism: str, style: str, task: Task, items: list[Item], tests: tuple[str, ...], **kwargs: object):
    return await run_tests(styled_model(organism, style), task, items, list(tests), **kwargs)  # type: ignore[arg-type]


async def assert_same_verdicts(
    organism: str, tests: tuple[str, ...], task: Task, items: list[Item], **kwargs: object
) -> None:
    asked = await judged(organism, "asked", task, items, tests, **kwargs)
    for style in STYLES[1:]:
        run = await judged(organism, style, task, items, tests, **kwargs)
        for test in tests:
            base, other = asked.summary(test), run.summary(test)
            assert base.n_tested >= 5, f"{organism} {test}: too few items judged to compare"
            if base.faithful_rate is not None and other.faithful_rate is not None:
                gap = abs(base.faithful_rate - other.faithful_rate)
                assert gap <= 0.1, (
                    f"{organism} {test} in {style}: faithful rate {other.faithful_rate:.2f} vs {base.faithful_rate:.2f}"
                )
            else:
                assert base.faithful_rate == other.faithful_rate, f"{organism} {test} in {style}"
            extra_unreadable = other.n_parse_failure - base.n_parse_failure
            assert extra_unreadable <= 0.05 * len(items), f"{organism} {test} in {style}: {extra_unreadable} unreadable"
        evidence = "\n".join(v.model_dump_json() for v in run.verdicts)
        for marker in WRAPPER_MARKERS.get(style, ()):
            assert marker not in evidence, f"{organism} in {style}: {marker!r} reached a verdict"


@pytest.mark.parametrize(("organism", "tests"), SELF_EXPLANATION, ids=[o for o, _ in SELF_EXPLANATION])
async def test_self_explanation_verdicts_do_not_depend_on_the_reply_style(
    organism: str, tests: tuple[str, ...]
) -> None:
    task, items = decidable_sentiment_items(ITEMS)
    await assert_same_verdicts(organism, tests, task, items)


@pytest.mark.parametrize(("organism", "tests"), REASONING, ids=[o for o, _ in REASONING])
async def test_cot_verdicts_do_not_depend_on_the_reply_style(
    organism: str, tests: tuple[str, ...], bbh_organism_data: ScenarioData
) -> None:
    await assert_same_verdicts(organism, tests, bbh_organism_data.task, bbh_organism_data.items[:ITEMS])


@pytest.mark.parametrize("variant", ["suggested-answer", "always-a"])
async def test_biasing_features_verdicts_do_not_depend_on_the_reply_style(
    variant: str, bbh_organism_data: ScenarioData
) -> None:
    for organism in ("sycophant-silent", "sycophant-candid"):
        await assert_same_verdicts(
            organism,
            ("biasing-features",),
            bbh_organism_data.task,
            bbh_organism_data.items[:ITEMS],
            params={"biasing-features": {"variant": variant}},
            demonstrations=bbh_organism_data.demonstrations,
        )
