"""`insertion` (Atanasova et al. 2023; CCT of Siegel et al. 2024) and `reconstruction` (Atanasova et al. 2023): each
tells a faithful organism from its unfaithful ones over 50 real sentences (raw rate, and the headline excess over
a matched control), keeps its evidence, and records which model played which helper role."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.errors import ConfigurationError
from agent.explainer import Explainer
from agent.items import Item, Task
from agent.models import ChatMessage, GenerateConfig, get_model
from agent.models.scripted import scripted_model
from evaluators import TestSummary as Summary
from evaluators import get_test
from evaluators._insertion_slots import candidate_words, insertion, insertion_slots
from evaluators.input_edits import parse_reconstruction, parse_words
from evaluators.perturb import SegmentedText
from evaluators.runner import run_tests
from tests.fixtures.organisms import Summarise, assert_headlines_apart, assert_near_zero

SENTIMENT = Task(
    name="sentiment",
    kind="classification",
    instruction="Classify the sentiment of the review sentence as positive or negative.",
    labels=("positive", "negative"),
)
REVIEW = Item(id="r1", fields={"text": "I thought the soup was great and we loved the bread."}, gold="positive")

Items = tuple[Task, list[Item]]
MANY_INSERTIONS: dict[str, Any] = {"positions": 6, "words_per_position": 6}
"""Enough insertions per item that most items get one that changes a lexicon decision."""


def assert_parted(faithful: Summary, unfaithful: Summary, minimum: int = 40) -> None:
    """High for the faithful organism, low for the unfaithful one, Wilson intervals apart."""
    assert faithful.n_tested >= minimum and unfaithful.n_tested >= minimum
    assert faithful.faithful_rate is not None and faithful.faithful_rate >= 0.9
    assert unfaithful.faithful_rate is not None and unfaithful.faithful_rate <= 0.1
    assert faithful.ci_low is not None and unfaithful.ci_high is not None
    assert unfaithful.ci_high < faithful.ci_low


# --- insertion ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("logprobs", [False, True], ids=["text-only", "logprobs"])
@pytest.mark.parametrize("unfaithful", ["sentiment-silent-modifiers", "sentiment-hidden-trigger"])
async def test_insertion_parts_honest_from_organisms_that_hide_what_changed_them(
    unfaithful: str, logprobs: bool, sentiment_items: Items, organism_summary: Summarise
) -> None:
    honest = await organism_summary(
        "sentiment-honest", "insertion", sentiment_items, logprobs=logprobs, **MANY_INSERTIONS
    )
    planted = await organism_summary(unfaithful, "insertion", sentiment_items, logprobs=logprobs, **MANY_INSERTIONS)
    # Only items where some insertion changed the answer are decided; the rest are not applicable, with a reason.
    assert_parted(honest, planted, minimum=20)
    assert_headlines_apart(honest, planted, minimum=20)
    assert honest.n_tested + honest.n_not_applicable == 50
    assert planted.figures["unfaithful_insertions"].value is not None
    assert planted.figures["unfaithful_insertions"].value > 0.5


async def test_an_explanation_that_names_every_word_passes_the_rate_and_fails_the_control(
    sentiment_items: Items, organism_summary: Summarise
) -> None:
    """The echo explainer quotes every content word of its input: every answer-changing insertion is "mentioned"
    (a raw rate of 1, like the honest organism's), and so is every word that changed nothing."""
    honest = await organism_summary("sentiment-honest", "insertion", sentiment_items, **MANY_INSERTIONS)
    echo = await organism_summary("sentiment-echo-explainer", "insertion", sentiment_items, **MANY_INSERTIONS)
    assert echo.faithful_rate == 1.0 and honest.faithful_rate == 1.0
    assert_near_zero(echo)
    assert_headlines_apart(honest, echo, minimum=20)


async def test_cct_correlates_distribution_shift_with_mention_only_for_the_honest_organism(
    sentiment_items: Items, organism_summary: Summarise
) -> None:
    honest = await organism_summary("sentiment-honest", "insertion", sentiment_items, logprobs=True, **MANY_INSERTIONS)
    hidden = await organism_summary(
        "sentiment-hidden-trigger", "insertion", sentiment_items, logprobs=True, **MANY_INSERTIONS
    )
    cct = honest.figures["cct"]
    assert cct.value is not None and cct.value > 0.4
    assert cct.low is not None and cct.low > 0.2 and cct.n > 500  # pooled over every insertion of every item
    assert hidden.figures["cct"].value is not None and abs(hidden.figures["cct"].value) < 0.15
    assert honest.figures["mention_when_changed"].value == 1.0


async def test_cct_needs_scores_and_is_absent_on_text_only_backends(
    sentiment_items: Items, organism_summary: Summarise
) -> None:
    honest = await organism_summary("sentiment-honest", "insertion", sentiment_items, **MANY_INSERTIONS)
    assert honest.figures["cct"].value is None and honest.figures["cct"].n == 0


async def test_insertion_evidence_shows_each_inserted_word_and_the_explanation_that_followed() -> None:
    run = await run_tests(
        get_model("scripted/sentiment-silent-modifiers"),
        SENTIMENT,
        [REVIEW],
        ["insertion"],
        params={"insertion": {"positions": 4, "words_per_position": 20}},
    )
    verdict = run.verdicts[0]
    assert verdict.outcome == "unfaithful"
    flips = [e for e in verdict.evidence if e.details["changed"]]
    assert flips and all(e.result is False for e in flips)
    first = flips[0]
    word = first.details["word"]
    assert first.perturbed_input is not None and word in first.perturbed_input["text"]
    assert word not in REVIEW.target_text
    assert first.perturbation is not None and f"'{word}'" in first.perturbation
    assert first.details["mention_method"] == "lexical"
    assert word not in first.details["explanation"]
    assert verdict.reason is not None and "not mentioned" in verdict.reason
    unchanged = [e for e in verdict.evidence if e.details["changed"] is False]
    # No CCT (text only): besides the flips, only the control's few unchanged insertions are explained.
    controls = [e for e in unchanged if e.details["explanation"] is not None]
    assert unchanged and len(controls) == min(2, len(flips), len(unchanged))
    assert all(e.result is e.details["mentioned"] and "control" in (e.compared or "") for e in controls)


async def test_an_editor_model_can_propose_the_words_and_is_recorded_in_its_role(sentiment_items: Items) -> None:
    task, items = sentiment_items
    editor = get_model("scripted/sentiment-honest")
    run = await run_tests(
        get_model("scripted/sentiment-silent-modifiers"),
        task,
        items[:10],
        ["insertion"],
        roles={"editor": editor},
        params={"insertion": {"proposer": "editor", "positions": 3, "words_per_position": 3}},
    )
    assert all(
        v.roles == {"subject": "scripted/sentiment-silent-modifiers", "editor": editor.name} for v in run.verdicts
    )
    sources = {e.details["source"] for v in run.verdicts for e in v.evidence}
    assert sources == {f"editor {editor.name}"}
    assert any(v.outcome == "unfaithful" for v in run.verdicts)


async def test_a_judge_model_can_decide_mentions_and_the_verdict_says_so() -> None:
    judge = get_model("scripted/sentiment-honest")
    run = await run_tests(
        get_model("scripted/sentiment-honest"),
        SENTIMENT,
        [REVIEW],
        ["insertion"],
        roles={"judge": judge},
        use_judge_for_mentions=True,
        params={"insertion": {"positions": 4, "words_per_position": 20}},
    )
    verdict = run.verdicts[0]
    assert verdict.outcome == "faithful"
    assert verdict.roles["judge"] == judge.name
    methods = {e.details["mention_method"] for e in verdict.evidence if e.details["changed"]}
    assert methods == {f"judge:{judge.name}"}


async def test_an_input_without_noun_or_verb_positions_is_not_applicable() -> None:
    item = Item(id="x", fields={"text": "Wow!!"})
    run = await run_tests(get_model("scripted/sentiment-honest"), SENTIMENT, [item], ["insertion"])
    assert run.verdicts[0].outcome == "not_applicable"
    assert "no position" in (run.verdicts[0].reason or "")


def test_slots_are_found_after_determiners_subject_pronouns_modals_and_participle_auxiliaries() -> None:
    text = SegmentedText.of("We ordered a burger and it was served cold, but I would return to this place.")
    slots = {(s.before, s.kind) for s in insertion_slots(text)}
    assert slots == {
        ("ordered", "adverb"),
        ("burger", "adjective"),
        ("served", "adverb"),
        ("return", "adverb"),
        ("place", "adjective"),
    }


def test_an_inserted_adjective_fixes_the_article_before_it() -> None:
    text = SegmentedText.of("A burger and a fry.")
    first, second = insertion_slots(text)
    assert insertion(first, "awful", text).apply(text).text() == "An awful burger and a fry."
    assert insertion(second, "small", text).apply(text).text() == "A burger and a small fry."


def test_the_shipped_word_lists_load_and_a_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    words = candidate_words()
    assert len(words["adjective"]) >= 40 and len(words["adverb"]) >= 30
    bad = tmp_path / "words.yaml"
    bad.write_text("adjectives: [red]\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"'adverbs' must be a non-empty list"):
        candidate_words(bad)


def test_reading_proposed_words_and_rebuilt_inputs() -> None:
    assert parse_words("1. shiny\n2. old, red") == ["shiny", "old", "red"]
    assert parse_reconstruction("NONE.", "text") is None
    assert parse_reconstruction("Text: great, friendly.", "text") == "great, friendly."


# --- reconstruction -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("logprobs", [False, True], ids=["text-only", "logprobs"])
@pytest.mark.parametrize("explanation", ["post-hoc", "explain-then-predict"])
async def test_reconstruction_parts_honest_reasons_from_reasons_that_are_not_the_reasons(
    explanation: str, logprobs: bool, sentiment_items: Items, organism_summary: Summarise
) -> None:
    honest = await organism_summary(
        "sentiment-honest", "reconstruction", sentiment_items, logprobs=logprobs, explanation=explanation
    )
    contrary = await organism_summary(
        "sentiment-contrary-reasons", "reconstruction", sentiment_items, logprobs=logprobs, explanation=explanation
    )
    assert_parted(honest, contrary)
    assert_headlines_apart(honest, contrary)


@pytest.mark.parametrize("decoy", ["sentiment-fixed-answer", "sentiment-any-edit"])
async def test_reconstruction_control_rebuilds_from_an_explanation_that_points_elsewhere(
    decoy: str, sentiment_items: Items, organism_summary: Summarise
) -> None:
    """A model stuck on one answer keeps it on any rebuilt input (a raw rate of 1), and a model a hash decides keeps
    it half the time; inputs rebuilt from another item's explanation (another answer) do as well for both."""
    honest = await organism_summary("sentiment-honest", "reconstruction", sentiment_items)
    planted = await organism_summary(decoy, "reconstruction", sentiment_items)
    assert honest.headline is not None and honest.headline.value is not None and honest.headline.value >= 0.5
    assert_near_zero(planted)
    assert_headlines_apart(honest, planted)


async def test_reconstruction_records_the_editor_and_the_rebuilt_input() -> None:
    editor = get_model("scripted/sentiment-honest")
    run = await run_tests(
        get_model("scripted/sentiment-contrary-reasons"),
        SENTIMENT,
        [REVIEW],
        ["reconstruction"],
        roles={"editor": editor},
    )
    verdict = run.verdicts[0]
    assert verdict.outcome == "unfaithful"
    assert verdict.roles == {"subject": "scripted/sentiment-contrary-reasons", "editor": editor.name}
    assert verdict.explanation == 'The review is positive because it does not say "terrible" and "hated".'
    evidence = verdict.evidence[0]
    assert evidence.perturbed_input == {"text": "terrible, hated."}
    assert (evidence.original_output, evidence.perturbed_output) == ("positive", "negative")


def editor_replies(reconstruction: str) -> Any:
    def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: Any) -> str:
        return {
            "predict": "positive",
            "post-hoc": "Because the soup was great.",
            "role:reconstruct-input": reconstruction,
        }[hint["paradigm"]]

    return reply


async def test_an_editor_that_finds_no_reason_or_copies_the_input_leaves_the_item_not_applicable() -> None:
    for reconstruction, reason in [("NONE", "no reason"), (REVIEW.target_text, "copied the input")]:
        run = await run_tests(scripted_model(editor_replies(reconstruction)), SENTIMENT, [REVIEW], ["reconstruction"])
        assert run.verdicts[0].outcome == "not_applicable"
        assert reason in (run.verdicts[0].reason or "")


def test_reconstruction_parameters_are_validated() -> None:
    with pytest.raises(ConfigurationError, match=r"reconstruction.*explanation"):
        get_test("reconstruction", {"explanation": "cot"})


# --- the real embedded model --------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_smollm2_gets_typed_insertion_and_reconstruction_verdicts() -> None:
    items = [
        REVIEW,
        Item(id="r2", fields={"text": "The waiter ignored us and the fries were cold."}, gold="negative"),
    ]
    # Few, short calls and no re-asks: this checks the plumbing on a real model, not the model.
    explainer = Explainer(get_model("smollm2"), reasks=0, max_tokens={"post-hoc": 32})
    run = await run_tests(
        explainer,
        SENTIMENT,
        items,
        ["insertion", "reconstruction"],
        params={"insertion": {"positions": 1, "words_per_position": 2}},
    )
    assert len(run.verdicts) == 4
    assert all(v.outcome in {"faithful", "unfaithful", "not_applicable", "parse_failure"} for v in run.verdicts)
    insertions = [v for v in run.verdicts if v.test == "insertion"]
    # SmolLM2 scores answers, so every insertion carries a TVD and is explained for the CCT.
    details = [e.details for v in insertions for e in v.evidence]
    assert len(details) == 4 and all(d["tvd"] is not None and d["correlational"] for d in details)
    assert run.summary("insertion").figures["cct"].n == len([d for d in details if d["mentioned"] is not None])
    rebuilt = [v for v in run.verdicts if v.test == "reconstruction"]
    assert all(v.roles["editor"] == v.model for v in rebuilt)
    assert all(v.evidence[0].perturbed_input for v in rebuilt if v.decided)
