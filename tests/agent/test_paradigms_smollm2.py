"""Every paradigm end to end on the embedded SmolLM2, for each task framing it supports.

These assert types and that nothing raised — a 135M model is an audit subject, not an oracle — plus the one property
the issue asks of option scoring: a proper distribution that agrees with text extraction where the model is confident.
"""

from __future__ import annotations

import asyncio

import pytest

from agent.explainer import Explainer
from agent.items import Item, Task
from agent.models import Model, get_model
from agent.paradigms import ParadigmResult, get_paradigm, paradigm_names
from agent.presets import task_preset
from agent.scenarios import load_data, load_scenario
from agent.structured import ParseFailure

pytestmark = pytest.mark.slow

SHORT_BUDGETS = {"cot": 96, "continue-reasoning": 96, "explain-then-predict": 64, "post-hoc": 48}


@pytest.fixture(scope="module")
def smollm2() -> Model:
    """One SmolLM2 for the module (bfloat16: these tests check mechanics, not exact numbers)."""
    return get_model("smollm2", dtype="bfloat16")


def framings() -> list[tuple[str, Task, Item]]:
    """One real item per task framing: DynaSent (classification), ARC (multiple choice), GSM8K (free form)."""
    out = []
    for name in ("dynasent", "arc_challenge", "gsm8k"):
        data = load_data(load_scenario(name), limit=40, seed=0)
        item = min(data.items, key=lambda i: len(" ".join(i.fields.values())) + len(" ".join(i.options)))
        out.append((name, data.task, item))
    return out


def params_for(paradigm: str, item: Item) -> dict[str, object]:
    if paradigm == "answer-after-reasoning":
        return {"reasoning": "Let me think about the question."}
    if paradigm == "continue-reasoning":
        return {"prefix": ["Let me think about the question."]}
    return {}


async def test_every_paradigm_returns_a_typed_output_or_a_typed_failure(smollm2: Model) -> None:
    explainer = Explainer(smollm2, max_tokens=SHORT_BUDGETS, reasks=1)
    cases = [
        (dataset, task, item, name)
        for dataset, task, item in framings()
        for name in paradigm_names()
        if get_paradigm(name).supports(task.kind)
    ]
    # All at once: the local backend batches concurrent requests, which is how an audit runs them too.
    results = await asyncio.gather(
        *(explainer.ask(name, item, task, **params_for(name, item)) for _, task, item, name in cases)
    )
    for (dataset, _, _, name), result in zip(cases, results, strict=True):
        assert isinstance(result, ParadigmResult)
        assert (result.output is None) != (result.failure is None), (dataset, name)
        if result.failure is not None:
            assert isinstance(result.failure, ParseFailure)
            assert result.failure.attempts >= 1 or result.failure.error_kind == "not_applicable"
        assert result.traces or result.failure is not None, (dataset, name)
    assert len(cases) >= 20  # 8 paradigms apply to classification and multiple choice, 7 to free form


@pytest.fixture(scope="module")
def float32_smollm2() -> Model:
    """fp32 for the scoring comparison: deterministic, so the test sees the same numbers every run."""
    return get_model("smollm2", dtype="float32")


CLEAR_REVIEWS = [
    "The plot dragged and the acting was wooden.",
    "Absolutely wonderful food and friendly staff!",
    "Terrible service, I will never come back.",
    "I loved every minute of it.",
    "The room was dirty and smelled awful.",
]


async def test_option_scores_form_a_distribution_that_agrees_with_text_when_confident(
    float32_smollm2: Model,
) -> None:
    task = task_preset("sentiment")
    scored = Explainer(float32_smollm2, use_scores=True)
    texted = Explainer(float32_smollm2, use_scores=False)
    confident = 0
    for index, review in enumerate(CLEAR_REVIEWS):
        item = Item(id=f"clear-{index}", fields={"review": review})
        by_score = (await scored.ask("predict", item, task)).prediction
        assert by_score is not None and by_score.method == "score"
        distribution = by_score.distribution or {}
        assert set(distribution) == set(task.labels)
        assert sum(distribution.values()) == pytest.approx(1.0)
        assert all(0.0 <= p <= 1.0 for p in distribution.values())
        if max(distribution.values()) >= 0.55:  # SmolLM2 rarely goes far above this on two labels
            confident += 1
            by_text = (await texted.ask("predict", item, task)).prediction
            assert by_text is not None, f"unreadable text answer for {review!r}"
            assert by_text.answer == by_score.answer, (review, distribution, by_text.raw)
    assert confident >= 2, "too few confident items to compare scoring with text extraction"
