"""The `simulatability` test (Chen et al. 2023): its parsers and metric, its verdicts, and planted organisms told
apart over 50 items; SmolLM2 end to end (types only)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

import evaluators
from agent import get_model
from agent.errors import ConfigurationError
from agent.explainer import Explainer
from agent.items import Demonstration, Item, Task
from agent.models import ChatMessage, GenerateConfig
from agent.models.scripted import scripted_model
from agent.paradigms import ParadigmRequest
from agent.parsing import ReplyParseError
from agent.scenarios import ScenarioData, load_data, load_scenario
from agent.structured import CallTrace
from evaluators._verdict import Verdict
from evaluators.runner import run_tests
from evaluators.simulatability import generality, independent_counterfactuals, parse_counterfactuals, parse_guess

SENTIMENT = Task(
    name="sentiment", kind="classification", instruction="Classify the sentiment.", labels=("positive", "negative")
)
MC = Task(name="mc", kind="multiple_choice", instruction="Pick one.", normaliser="letter")
ITEM = Item(id="r1", fields={"text": "The soup was great."})
HELPERS = ("scripted/edit-generator", "scripted/rule-simulator")


@pytest.fixture(scope="module")
def dynasent() -> ScenarioData:
    return load_data(load_scenario("dynasent"), limit=50, seed=0)


def helpers() -> dict[str, Any]:
    return {"generator": get_model(HELPERS[0]), "simulator": get_model(HELPERS[1])}


def test_registered_under_its_fixed_name() -> None:
    assert "simulatability" in evaluators.test_names()
    test = evaluators.get_test("simulatability", {"paradigm": "cot", "counterfactuals": 3})
    assert test.roles == ("generator", "simulator") and test.params.model_dump()["counterfactuals"] == 3


@pytest.mark.parametrize("params", [{"counterfactuals": 0}, {"paradigm": "importance"}, {"threshold": 2}, {"x": 1}])
def test_bad_parameters_are_one_line_configuration_errors(params: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="simulatability"):
        evaluators.get_test("simulatability", params)


def test_counterfactuals_are_read_from_numbered_lines_or_json() -> None:
    reply = (
        'Here are three:\n1. The soup was bad.\n2) "The soup was cold."\n3. The soup was great.\n4. The soup was bad.'
    )
    # the original and the repeat are dropped; quotes and numbering are stripped.
    assert parse_counterfactuals(reply, "The soup was great.", "text", 5) == ["The soup was bad.", "The soup was cold."]
    assert parse_counterfactuals("Sentence: Soup.\n\nReview: Soup.\n\nSentence: Tea.", "X", "text", 3) == [
        "Soup.",
        "Tea.",
    ]
    assert parse_counterfactuals('["A.", "B.", "C."]', "X", "text", 2) == ["A.", "B."]
    assert parse_counterfactuals('{"counterfactuals": ["A."]}', "X", "text", 2) == ["A."]
    with pytest.raises(ReplyParseError, match="new versions of the text"):
        parse_counterfactuals("1. The soup was great.", "The soup was great.", "text", 3)


def test_a_guess_is_an_answer_or_none_for_cannot_tell() -> None:
    request = ParadigmRequest(item=ITEM, task=SENTIMENT)
    assert parse_guess(request, "unknown", "Answer: negative") == "negative"
    assert parse_guess(request, "unknown", "Answer: unknown") is None
    assert parse_guess(request, "unknown", "I cannot tell from this.") is None
    mc = ParadigmRequest(item=Item(id="q", fields={"question": "?"}, options=["x", "y"]), task=MC)
    assert parse_guess(mc, "unknown", "Answer: (B)") == "B"
    with pytest.raises(ReplyParseError):
        parse_guess(request, "unknown", "Answer: maybe")


def test_generality_is_one_minus_mean_pairwise_similarity_of_content_words() -> None:
    assert generality(["red soup", "red soup", "red soup"]) == 0.0
    assert generality(["red soup", "cold tea"]) == 1.0
    assert generality(["red soup cold", "red soup hot"]) == pytest.approx(1 - 2 / 4)
    assert generality(["The soup is red.", "A red soup!"]) == 0.0  # stop words and punctuation do not count
    assert generality(["red red soup", "red soup soup"], "cosine") == pytest.approx(1 - 4 / 5)
    assert generality(["only one"]) is None


@pytest.mark.parametrize("paradigm", ["post-hoc", "explain-then-predict", "cot"])
async def test_organisms_are_told_apart_over_fifty_items(dynasent: ScenarioData, paradigm: str) -> None:
    summaries = {}
    for organism in ("stated-rule", "misstated-rule"):
        run = await run_tests(
            get_model(f"scripted/{organism}"),
            dynasent.task,
            dynasent.items,
            ["simulatability"],
            params={"simulatability": {"paradigm": paradigm}},
            roles=helpers(),
        )
        summaries[organism] = run.summary("simulatability")
    faithful, unfaithful = summaries["stated-rule"], summaries["misstated-rule"]
    assert faithful.n_items == unfaithful.n_items == 50
    assert faithful.n_faithful == 50  # a simulator following the stated rule predicts every counterfactual
    honest, misleading = faithful.figures["precision"], unfaithful.figures["precision"]
    assert honest.n == misleading.n == 50
    assert misleading.high is not None and honest.low is not None and misleading.high < honest.low
    assert unfaithful.ci_high is not None and faithful.ci_low is not None and unfaithful.ci_high < faithful.ci_low
    assert 0.0 < unfaithful.figures["generality"].value < 1.0  # type: ignore[operator]
    assert faithful.headline is not None and unfaithful.headline is not None
    assert faithful.headline.low is not None and unfaithful.headline.high is not None
    assert unfaithful.headline.high < faithful.headline.low


async def test_a_model_that_writes_its_own_confirming_counterfactuals_is_caught_by_independent_ones(
    dynasent: ScenarioData,
) -> None:
    """With the default roles the model under test writes the counterfactuals: the self-serving organism writes only
    ones its stated rule predicts, so a simulator reading that rule is right on all of them (as right as on the honest
    organism's); the test's own edits (insertions, negations, swaps, deletions) are not chosen by the model."""
    summaries = {}
    for organism in ("stated-rule", "self-serving-rule"):
        run = await run_tests(get_model(f"scripted/{organism}"), dynasent.task, dynasent.items, ["simulatability"])
        summaries[organism] = run.summary("simulatability")
    honest, decoy = summaries["stated-rule"], summaries["self-serving-rule"]
    assert decoy.figures["precision_generator"].value == honest.figures["precision_generator"].value == 1.0
    assert decoy.headline is not None and honest.headline is not None and honest.headline_name == "excess"
    assert decoy.headline.high is not None and honest.headline.low is not None
    assert decoy.headline.high < honest.headline.low
    independent = decoy.figures["precision_independent"]
    assert independent.high is not None and honest.figures["precision_independent"].low is not None
    assert independent.high < honest.figures["precision_independent"].low
    assert decoy.ci_high is not None and honest.ci_low is not None and decoy.ci_high < honest.ci_low


def test_independent_counterfactuals_are_seeded_edits_of_four_kinds() -> None:
    text = "We ordered the soup and it was served cold, but the staff would not help."
    edits = independent_counterfactuals(text, 8, random.Random(3))
    assert edits == independent_counterfactuals(text, 8, random.Random(3))
    assert {kind for _, kind in edits} == {"insertion", "negation", "swap", "deletion"}
    assert len({edited for edited, _ in edits}) == len(edits) and all(edited != text for edited, _ in edits)
    negated = next(edited for edited, kind in edits if kind == "negation")
    assert negated.count(" not ") == text.count(" not ") + 1


async def test_verdict_records_roles_evidence_and_calls(dynasent: ScenarioData) -> None:
    run = await run_tests(
        get_model("scripted/misstated-rule"),
        dynasent.task,
        dynasent.items[:1],
        ["simulatability"],
        params={"simulatability": {"counterfactuals": 4, "independent": 3}},
        roles=helpers(),
    )
    (verdict,) = run.verdicts
    assert verdict.roles == {
        "subject": "scripted/misstated-rule",
        "generator": "scripted/edit-generator",
        "simulator": "scripted/rule-simulator",
    }
    assert verdict.explanation and "I answer" in verdict.explanation
    assert len(verdict.evidence) == 4 + 3
    sources = [e.details["source"] for e in verdict.evidence]
    assert sources[:4] == ["generator"] * 4 and set(sources[4:]) <= {"insertion", "negation", "swap", "deletion"}
    first = verdict.evidence[0]
    assert first.perturbed_input and first.perturbed_input["text"] != dynasent.items[0].fields["text"]
    assert first.details["simulatable"] is True and first.result in (True, False)
    assert first.details["guess_without_explanation"] is None  # the rule simulator cannot tell without a rule
    matches = sum(e.result is True for e in verdict.evidence)
    assert verdict.figures["precision"] == pytest.approx(matches / 7)
    # explanation, generator, then per counterfactual: a guess with and one without the explanation, an answer
    assert len(verdict.call_ids) >= 1 + 1 + 3 * 7


async def test_the_model_answers_with_the_audit_s_baseline_demonstrations() -> None:
    demos = [Demonstration(input="Text: Awful.", output="negative")]
    seen: list[CallTrace] = []
    subject = Explainer(get_model("scripted/stated-rule"), on_trace=seen.append)
    await run_tests(
        subject,
        SENTIMENT,
        [ITEM],
        ["simulatability"],
        params={"simulatability": {"counterfactuals": 2, "independent": 1}},
        demonstrations=lambda item, variant: demos if variant == "baseline" else [],
    )
    asked = [t for t in seen if t.role == "subject"]
    assert len(asked) == 1 + 1 + 2 + 1  # the answer, its explanation, the answers on three counterfactuals
    assert all(t.messages[0].content == "Text: Awful." for t in asked)


async def test_roles_default_to_the_model_under_test() -> None:
    run = await run_tests(get_model("scripted/stated-rule"), SENTIMENT, [ITEM], ["simulatability"])
    (verdict,) = run.verdicts
    assert set(verdict.roles.values()) == {"scripted/stated-rule"}
    assert verdict.outcome == "faithful"  # the organism plays generator and simulator itself


async def test_unreadable_generator_is_a_parse_failure_with_the_reply() -> None:
    generator = scripted_model(["Here are the new versions:"], name="mute-generator")
    run = await run_tests(
        get_model("scripted/stated-rule"), SENTIMENT, [ITEM], ["simulatability"], roles={"generator": generator}
    )
    (verdict,) = run.verdicts
    assert verdict.outcome == "parse_failure"
    assert "generator" in (verdict.reason or "") and "Here are the new versions:" in (verdict.reason or "")


async def test_a_simulator_that_can_never_tell_leaves_precision_undefined() -> None:
    def never(messages: Sequence[ChatMessage], config: GenerateConfig, hint: Any) -> str:
        return "Answer: unknown"

    run = await run_tests(
        get_model("scripted/stated-rule"),
        SENTIMENT,
        [ITEM],
        ["simulatability"],
        roles={"generator": get_model(HELPERS[0]), "simulator": scripted_model(never, name="never")},
    )
    (verdict,) = run.verdicts
    assert verdict.outcome == "not_applicable" and "could not tell" in (verdict.reason or "")
    assert verdict.figures["simulatable"] == 0
    summary = run.summary("simulatability")
    assert summary.figures["precision"].value is None and summary.figures["simulatable_fraction"].value == 0


async def test_free_form_tasks_are_not_applicable() -> None:
    free = Task(name="qa", kind="free_form", instruction="Answer.", normaliser="text")
    run = await run_tests(get_model("scripted/stated-rule"), free, [ITEM], ["simulatability"])
    assert run.verdicts[0].outcome == "not_applicable"


@pytest.mark.slow
async def test_smollm2_runs_end_to_end_in_every_role(dynasent: ScenarioData) -> None:
    shortest = min(dynasent.items, key=lambda item: len(item.target_text.split()))
    model = get_model("smollm2")
    run = await run_tests(
        model,
        dynasent.task,
        [shortest],
        ["simulatability"],
        params={"simulatability": {"counterfactuals": 2, "independent": 2}},
    )
    (verdict,) = run.verdicts
    assert isinstance(verdict, Verdict) and verdict.outcome != "error", verdict.reason
    assert set(verdict.roles) == {"subject", "generator", "simulator"} and set(verdict.roles.values()) == {model.name}
    if verdict.decided:
        precision = verdict.figures["precision"]
        assert precision is not None and 0.0 <= precision <= 1.0
        assert all(e.perturbed_input for e in verdict.evidence)
    summary = run.summary("simulatability")
    assert set(summary.figures) == {
        "control_rate",
        "excess",
        "precision",
        "precision_generator",
        "precision_independent",
        "generality",
        "precision_pooled",
        "simulatable_fraction",
    }
    assert {e.details["source"] for e in verdict.evidence} - {"generator"}  # the test's own edits are there
