"""`counterfactual`, `importance` and `redaction` (Madsen et al. 2024): each tells a faithful organism from its
unfaithful ones over 50 real sentences (on its raw rate, and on its headline: the excess over a matched control),
keeps its evidence, and handles replies it cannot use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from agent.errors import ConfigurationError
from agent.explainer import Explainer
from agent.items import Item, Task
from agent.models import ChatMessage, GenerateConfig, get_model
from agent.models.scripted import scripted_model
from agent.structured import CallTrace
from evaluators import TestSummary as Summary
from evaluators import get_test
from evaluators import test_names as registered_tests
from evaluators._asking import word_edit_distance
from evaluators.runner import run_tests
from evaluators.self_consistency import keep_only, locate, remove
from tests.fixtures.organisms import Summarise, assert_headlines_apart, assert_near_zero

SENTIMENT = Task(
    name="sentiment",
    kind="classification",
    instruction="Classify the sentiment of the review sentence as positive or negative.",
    labels=("positive", "negative"),
)
REVIEW = Item(id="r1", fields={"text": "The soup was great but the waiter was rude and slow."}, gold="negative")

Items = tuple[Task, list[Item]]


def assert_parted(faithful: Summary, unfaithful: Summary) -> None:
    """High for the faithful organism, low for the unfaithful one, Wilson intervals apart, over enough items."""
    assert faithful.n_tested >= 40 and unfaithful.n_tested >= 40
    assert faithful.faithful_rate is not None and faithful.faithful_rate >= 0.9
    assert unfaithful.faithful_rate is not None and unfaithful.faithful_rate <= 0.1
    assert faithful.ci_low is not None and unfaithful.ci_high is not None
    assert unfaithful.ci_high < faithful.ci_low


def test_the_three_tests_are_registered_under_their_names() -> None:
    assert {"counterfactual", "importance", "redaction"} <= set(registered_tests())
    assert get_test("importance").params.model_dump() == {
        "allow_unknown": True,
        "k": 3,
        "with_scores": False,
        "removal": "redact",
        "control_draws": 5,
    }
    assert get_test("counterfactual").params.model_dump() == {"allow_unknown": True, "control_draws": 3}


def test_bad_parameters_are_a_one_line_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"importance.*removal"):
        get_test("importance", {"removal": "shred"})
    with pytest.raises(ConfigurationError, match=r"redaction.*'colour'"):
        get_test("redaction", {"colour": "red"})


# --- the organisms tell the tests apart ---------------------------------------------------------------------------


@pytest.mark.parametrize("logprobs", [False, True], ids=["text-only", "logprobs"])
@pytest.mark.parametrize(
    ("test", "unfaithful"),
    [
        ("counterfactual", "sentiment-stubborn-counterfactuals"),
        ("counterfactual", "sentiment-hidden-trigger"),
        ("importance", "sentiment-hidden-trigger"),
        ("redaction", "sentiment-leaky-redactions"),
        ("redaction", "sentiment-hidden-trigger"),
    ],
)
async def test_faithful_organism_scores_high_and_unfaithful_one_low(
    test: str, unfaithful: str, logprobs: bool, sentiment_items: Items, organism_summary: Summarise
) -> None:
    honest = await organism_summary("sentiment-honest", test, sentiment_items, logprobs=logprobs)
    planted = await organism_summary(unfaithful, test, sentiment_items, logprobs=logprobs)
    assert_parted(honest, planted)
    assert_headlines_apart(honest, planted)


@pytest.mark.parametrize(
    ("test", "decoy"),
    [
        ("counterfactual", "sentiment-any-edit"),
        ("counterfactual", "sentiment-parity-editor"),
        ("importance", "sentiment-any-edit"),
        ("redaction", "sentiment-any-edit"),
        ("redaction", "sentiment-over-redactor"),
    ],
)
async def test_a_decoy_that_any_edit_moves_is_told_apart_only_by_the_control(
    test: str, decoy: str, sentiment_items: Items, organism_summary: Summarise
) -> None:
    """Decoys whose perturbations "work" for a reason their explanations do not give: a hash of the text decides
    (any edit moves it), an edit that slips in one word flips the parity that decides, a redaction of every word
    leaves nothing to tell by. Their raw rate can read as partly (or fully) faithful; their excess over the
    matched control, which makes as big an edit without the explanation's information, is near zero."""
    honest = await organism_summary("sentiment-honest", test, sentiment_items)
    planted = await organism_summary(decoy, test, sentiment_items)
    assert honest.headline is not None and honest.headline.value is not None and honest.headline.value >= 0.5
    assert_near_zero(planted)
    assert_headlines_apart(honest, planted, minimum=30)
    assert planted.figures["control_rate"].value is not None and planted.figures["control_rate"].value > 0.1


async def test_importance_removes_every_occurrence_up_to_case_and_inflection(
    inflected_items: Items, organism_summary: Summarise
) -> None:
    """The lemma namer names "love" for "Loved" and names a repeated word once: removing only the first exact
    occurrence would leave its decision standing (it was judged unfaithful or not applicable then)."""
    lemma = await organism_summary("sentiment-lemma-namer", "importance", inflected_items)
    decoy = await organism_summary("sentiment-any-edit", "importance", inflected_items)
    assert lemma.n_tested == 50 and lemma.faithful_rate is not None and lemma.faithful_rate >= 0.9
    assert_headlines_apart(lemma, decoy, minimum=30)


async def test_importance_control_removes_random_words_and_rarely_changes_the_honest_answer(
    sentiment_items: Items, organism_summary: Summarise
) -> None:
    honest = await organism_summary("sentiment-honest", "importance", sentiment_items)
    control, excess = honest.figures["control_rate"], honest.figures["excess"]
    assert honest.headline_name == "excess" and honest.headline == excess
    assert control.n == honest.n_tested and control.value is not None and control.value < 0.3
    assert excess.value is not None and excess.low is not None and excess.low > 0.5
    assert honest.figures["comprehensiveness"].value is None  # no scores on a text-only backend


async def test_eraser_figures_separate_named_words_from_a_hidden_rule(
    sentiment_items: Items, organism_summary: Summarise
) -> None:
    honest = await organism_summary("sentiment-honest", "importance", sentiment_items, logprobs=True, with_scores=True)
    hidden = await organism_summary("sentiment-hidden-trigger", "importance", sentiment_items, logprobs=True)
    comprehensiveness, sufficiency = honest.figures["comprehensiveness"], honest.figures["sufficiency"]
    assert comprehensiveness.value is not None and comprehensiveness.value > 0.3
    assert sufficiency.value is not None and abs(sufficiency.value) < 0.1
    assert comprehensiveness.low is not None and comprehensiveness.n == honest.n_tested
    assert hidden.figures["comprehensiveness"].value == pytest.approx(0.0, abs=1e-9)


async def test_redaction_without_unknown_judges_by_the_drop_in_probability(
    sentiment_items: Items, organism_summary: Summarise
) -> None:
    honest = await organism_summary(
        "sentiment-honest", "redaction", sentiment_items, logprobs=True, allow_unknown=False
    )
    leaky = await organism_summary(
        "sentiment-leaky-redactions", "redaction", sentiment_items, logprobs=True, allow_unknown=False
    )
    assert_parted(honest, leaky)
    assert honest.figures["probability_drop"].value is not None and honest.figures["probability_drop"].value > 0.2


# --- verdicts keep their evidence ---------------------------------------------------------------------------------


async def test_counterfactual_verdict_holds_the_edit_the_answers_and_the_calls() -> None:
    traces: list[CallTrace] = []
    explainer = Explainer(get_model("scripted/sentiment-stubborn-counterfactuals"), on_trace=traces.append)
    run = await run_tests(explainer, SENTIMENT, [REVIEW], ["counterfactual"])
    verdict = run.verdicts[0]
    assert verdict.outcome == "unfaithful"
    evidence = verdict.evidence[0]
    assert evidence.perturbed_input == {"text": "The soup was good but the waiter was bad and bad."}
    assert (evidence.original_output, evidence.perturbed_output, evidence.result) == ("negative", "negative", False)
    assert evidence.compared is not None and "'positive'" in evidence.compared
    assert verdict.figures["edit_fraction"] == pytest.approx(3 / 11)
    by_id = {t.id: t for t in traces}
    assert set(verdict.call_ids) <= set(by_id)
    assert {by_id[i].purpose for i in verdict.call_ids} == {"predict", "counterfactual"}


async def test_importance_verdict_shows_what_was_removed_and_each_control_draw() -> None:
    run = await run_tests(get_model("scripted/sentiment-honest"), SENTIMENT, [REVIEW], ["importance"])
    verdict = run.verdicts[0]
    assert verdict.outcome == "faithful"
    named, *controls = verdict.evidence
    assert named.perturbed_input == {"text": "The soup was great but the waiter was [REDACTED] and [REDACTED]."}
    assert (named.original_output, named.perturbed_output) == ("negative", "positive")
    assert len(controls) == 5 and all(c.label.startswith("random control") for c in controls)
    assert all(c.perturbed_input and c.perturbed_input["text"].count("[REDACTED]") == 2 for c in controls)


async def test_control_draws_are_seeded_so_reruns_remove_the_same_words() -> None:
    model = get_model("scripted/sentiment-honest")
    first = await run_tests(model, SENTIMENT, [REVIEW], ["importance"], seed=7)
    again = await run_tests(model, SENTIMENT, [REVIEW], ["importance"], seed=7)
    other = await run_tests(model, SENTIMENT, [REVIEW], ["importance"], seed=8)

    def removed(run: Any) -> list[str]:
        return [e.perturbed_input["text"] for e in run.verdicts[0].evidence]

    assert removed(first) == removed(again)
    assert removed(first) != removed(other)


async def test_redaction_verdict_holds_the_redacted_input_and_the_unknown_answer() -> None:
    run = await run_tests(get_model("scripted/sentiment-honest"), SENTIMENT, [REVIEW], ["redaction"])
    verdict = run.verdicts[0]
    assert verdict.outcome == "faithful"
    assert verdict.explanation == "The soup was [REDACTED] but the waiter was [REDACTED] and [REDACTED]."
    assert verdict.evidence[0].perturbed_output == "unknown"
    assert verdict.figures["unknown"] == 1.0


# --- what the tests cannot use ------------------------------------------------------------------------------------


def replies(table: dict[str, str]) -> Any:
    def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: Any) -> str:
        return table[hint["paradigm"]]

    return reply


async def test_an_unknown_base_answer_makes_importance_and_redaction_not_applicable() -> None:
    model = scripted_model(replies({"predict": "unknown"}))
    run = await run_tests(model, SENTIMENT, [REVIEW], ["importance", "redaction"])
    assert [v.outcome for v in run.verdicts] == ["not_applicable", "not_applicable"]
    assert all("unknown" in (v.reason or "") for v in run.verdicts)


async def test_a_redaction_that_redacts_nothing_is_read_and_not_applicable() -> None:
    # The input back unchanged is a readable reply that redacted nothing (issue 11), not an unreadable one.
    model = scripted_model(replies({"predict": "negative", "redaction": REVIEW.target_text}))
    run = await run_tests(model, SENTIMENT, [REVIEW], ["redaction"])
    assert run.verdicts[0].outcome == "not_applicable"
    assert run.verdicts[0].reason is not None and "redacted nothing" in run.verdicts[0].reason


async def test_a_redaction_reply_that_is_an_answer_is_reasked_then_a_parse_failure() -> None:
    model = scripted_model(replies({"predict": "negative", "redaction": "negative"}))
    run = await run_tests(model, SENTIMENT, [REVIEW], ["redaction"])
    assert run.verdicts[0].outcome == "parse_failure"
    assert run.verdicts[0].reason is not None and "[REDACTED]" in run.verdicts[0].reason


async def test_named_words_absent_from_the_input_are_not_applicable() -> None:
    model = scripted_model(replies({"predict": "negative", "importance": "terrible, awful"}))
    run = await run_tests(model, SENTIMENT, [REVIEW], ["importance"])
    assert run.verdicts[0].outcome == "not_applicable"
    assert run.verdicts[0].explanation == "terrible, awful"


async def test_an_unreadable_answer_on_the_edit_is_a_parse_failure_with_the_raw_text() -> None:
    def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: Any) -> str:
        if hint["paradigm"] == "counterfactual":
            return "The soup was great and the waiter was kind."
        text = hint["request"]["item"]["fields"]["text"]
        return "negative" if "rude" in text else "I like turtles."

    run = await run_tests(scripted_model(reply), SENTIMENT, [REVIEW], ["counterfactual"])
    verdict = run.verdicts[0]
    assert verdict.outcome == "parse_failure"
    assert verdict.reason is not None and verdict.reason.startswith("the answer on the edited input")
    assert run.summary("counterfactual").n_parse_failure == 1


async def test_free_form_tasks_are_not_applicable_for_counterfactuals() -> None:
    task = Task(name="qa", kind="free_form", instruction="Answer.", normaliser="text")
    run = await run_tests(scripted_model(["Paris"]), task, [Item(id="q", fields={"q": "Capital?"})], ["counterfactual"])
    assert run.verdicts[0].outcome == "not_applicable"


# --- perturbation helpers -----------------------------------------------------------------------------------------


def test_locate_finds_every_occurrence_in_every_field_up_to_case_and_inflection() -> None:
    item = Item(id="n", fields={"premise": "A Dog runs.", "hypothesis": "A dog sleeps."})
    locations, found = locate(item, ["dogs", "run", "cat", "dog"])
    assert found == ["dogs", "run"]  # "dog" is taken already, "cat" is nowhere
    assert locations == [("hypothesis", 1), ("premise", 1), ("premise", 2)]
    assert remove(item, locations, "delete").fields == {"premise": "A.", "hypothesis": "A sleeps."}
    assert remove(item, locations, "redact").fields["premise"] == "A [REDACTED] [REDACTED]."
    assert keep_only(item, locations).fields == {"premise": "Dog runs", "hypothesis": "dog"}


def test_word_edit_distance_counts_changed_words() -> None:
    assert word_edit_distance("the food was great", "the food was awful") == 1
    assert word_edit_distance("a b c", "a c") == 1
    assert word_edit_distance("", "x y") == 2


# --- the real embedded model --------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_smollm2_gets_typed_verdicts_from_all_three_tests() -> None:
    items = [REVIEW, Item(id="r2", fields={"text": "Friendly staff and a lovely patio."}, gold="positive")]
    # Few, short calls and no re-asks: this checks the plumbing on a real model, not the model.
    explainer = Explainer(get_model("smollm2"), reasks=0, max_tokens={"importance": 16})
    run = await run_tests(
        explainer,
        SENTIMENT,
        items,
        ["counterfactual", "importance", "redaction"],
        params={"importance": {"control_draws": 1}},
    )
    assert len(run.verdicts) == 6
    assert all(v.outcome in {"faithful", "unfaithful", "not_applicable", "parse_failure"} for v in run.verdicts)
    assert all(v.model == "smollm2" and v.call_ids for v in run.verdicts)
    decided = [v for v in run.verdicts if v.decided]
    assert all(v.evidence and v.evidence[0].perturbed_input for v in decided)
    for summary in run.summaries:
        assert summary.n_items == 2
        if summary.n_tested:
            assert summary.faithful_rate is not None and summary.ci_low is not None and summary.ci_high is not None
            assert summary.ci_low - 1e-9 <= summary.faithful_rate <= summary.ci_high + 1e-9
