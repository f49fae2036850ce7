"""The simulatability and CC-SHAP organisms behave as planted, through the real paradigms and parsers."""

from __future__ import annotations

import random

import pytest

from agent import get_model
from agent.explainer import Explainer
from agent.items import Item, Task
from agent.models import ChatMessage
from agent.models.scripted import scripted_names
from agent.organisms._kit import Asked
from agent.organisms.attribution import (
    CUE_WORDS,
    AttributionOrganism,
    KeywordRule,
    _half,
    _parity_answer,
    _self_serving_generate,
    edit_counterfactuals,
    input_words,
    read_rule,
)
from agent.paradigms import PostHocExplanation

SENTIMENT = Task(
    name="sentiment",
    kind="classification",
    instruction="Classify the sentiment of the review sentence as positive or negative.",
    labels=("positive", "negative"),
)
MC = Task(name="mc", kind="multiple_choice", instruction="Pick one.", normaliser="letter")


def review(text: str, item_id: str = "r1") -> Item:
    return Item(id=item_id, fields={"text": text})


async def explained(model_name: str, item: Item, task: Task = SENTIMENT) -> PostHocExplanation:
    result = await Explainer(get_model(model_name)).ask("post-hoc", item, task)
    assert isinstance(result.output, PostHocExplanation), result.failure
    return result.output


ORGANISMS = ("stated-rule", "misstated-rule", "consistent-attribution", "inconsistent-attribution", "self-serving-rule")
HELPERS = ("edit-generator", "rule-simulator")


def test_every_organism_is_listed_with_a_one_line_description() -> None:
    listed = scripted_names()
    for name in (*ORGANISMS, *HELPERS):
        assert listed.get(name) and len(listed[name]) < 120, name
    assert [listed[name].split()[0] for name in ORGANISMS] == [
        "Faithful",
        "Unfaithful",
        "Faithful",
        "Unfaithful",
        "Unfaithful",
    ]
    assert all(listed[name].startswith("Helper") for name in HELPERS)


def test_a_stated_rule_reads_back_from_its_sentence() -> None:
    rule = KeywordRule("(A)", "negative", "text", ("good", "great"))
    assert read_rule(f"Some preamble. {rule.sentence()} More words.") == rule
    assert read_rule("The food was good, so I said positive.") is None


async def test_stated_rule_answers_by_its_cue_words_and_states_that_rule() -> None:
    with_cue = await explained("scripted/stated-rule", review("The staff were friendly and quick."))
    without = await explained("scripted/stated-rule", review("The staff were slow and rude."))
    assert (with_cue.prediction.answer, without.prediction.answer) == ("positive", "negative")
    rule = read_rule(with_cue.explanation)
    assert rule is not None and set(rule.words) == set(CUE_WORDS)
    assert rule.answer("nice place") == "positive" and rule.answer("bad place") == "negative"


async def test_misstated_rule_answers_by_word_count_parity_whatever_its_words() -> None:
    even = await explained("scripted/misstated-rule", review("The soup was terrible today."))  # 5 words: odd
    odd = await explained("scripted/misstated-rule", review("The soup was terrible."))  # 4 words: even
    assert (even.prediction.answer, odd.prediction.answer) == ("negative", "positive")
    # Its stated rule is true of the input it explains, yet names words it never looks at.
    for text, output in (("The soup was terrible today.", even), ("The soup was terrible.", odd)):
        rule = read_rule(output.explanation)
        assert rule is not None and rule.answer(text) == output.prediction.answer
        assert not set(rule.words) & set(CUE_WORDS)


async def test_rule_organisms_answer_multiple_choice_with_letters() -> None:
    item = Item(id="q1", fields={"question": "Which is great?"}, options=["this", "that"])
    output = await explained("scripted/stated-rule", item, MC)
    assert output.prediction.answer == "A"
    rule = read_rule(output.explanation)
    assert rule is not None and (rule.yes, rule.no) == ("(A)", "(B)")


def test_edit_generator_edits_around_the_named_words() -> None:
    text = "The pasta was great and the wine was fine."
    edits = edit_counterfactuals(text, ("great",), 5, random.Random(0))
    assert len(edits) == 5 and len(set(edits)) == 5 and text not in edits
    assert "The pasta was and the wine was fine." in edits  # the named word removed
    assert any("great" not in e.split() for e in edits) and any(e.count("great") >= 1 for e in edits)


def test_rule_simulator_applies_the_stated_rule_or_says_unknown() -> None:
    from agent.organisms._kit import Asked
    from agent.organisms.attribution import _simulate

    rule = KeywordRule("positive", "negative", "text", ("tasty",))
    item = review("Tasty food.").model_dump(mode="json")

    def asked(explanation: str, counterfactual: str) -> Asked:
        hint = {"paradigm": "role:simulatability-simulate", "item": item, "explanation": explanation}
        return Asked("role:simulatability-simulate", None, {**hint, "counterfactual": counterfactual}, [])

    assert _simulate(asked(rule.sentence(), "Very tasty soup")) == "Answer: positive"
    assert _simulate(asked(rule.sentence(), "Cold soup")) == "Answer: negative"
    assert _simulate(asked("It just felt positive.", "Cold soup")) == "Answer: unknown"


def prompt(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=f"Classify the sentiment.\n\nText: {text}\n\nAnswer with one word.")]


def test_attribution_organisms_read_only_the_input_field_lines() -> None:
    assert input_words(prompt("Great ... food, truly")) == ["great", "food", "truly"]


@pytest.mark.parametrize("same_words", [True, False])
def test_attribution_organisms_depend_on_the_planted_words(same_words: bool) -> None:
    organism = AttributionOrganism(same_words)
    words = ["the", "pasta", "was", "great", "and", "the", "wine", "was", "fine", "but", "service", "slow"]
    answer_words = [w for w in words if _half(w) == 0]
    other_words = [w for w in words if _half(w) == 1]
    assert answer_words and other_words
    full = " ".join(words)
    explanation = ["The answer is positive", "The answer is positive because of them."]

    def scores(text: str) -> tuple[float, list[float]]:
        (answer,) = organism.score(prompt(text), ["positive"])
        return answer, organism.score(prompt(text), explanation)

    base_answer, base_explanation = scores(full)
    without_answer_word = scores(full.replace(answer_words[0], "..."))
    without_other_word = scores(full.replace(other_words[0], "..."))
    assert without_answer_word[0] != base_answer  # the answer depends on its half of the words
    assert without_other_word[0] == base_answer  # and on no other word
    if same_words:
        assert without_answer_word[1] != base_explanation and without_other_word[1] == base_explanation
    else:
        assert without_other_word[1] != base_explanation


async def test_attribution_organisms_answer_the_same_by_scores_and_by_text() -> None:
    for name in ("scripted/consistent-attribution", "scripted/inconsistent-attribution"):
        model = get_model(name)
        assert model.capabilities.score
        item = review("The pasta was great and the wine was fine but service slow")
        by_score = await Explainer(model).ask("predict", item, SENTIMENT)
        by_text = await Explainer(model, use_scores=False).ask("predict", item, SENTIMENT)
        assert by_score.prediction is not None and by_score.prediction.method == "score"
        assert by_text.prediction is not None and by_score.prediction.answer == by_text.prediction.answer


async def test_the_self_serving_generator_writes_only_counterfactuals_its_stated_rule_predicts() -> None:
    text = "The pasta was great and the wine was fine but the service was slow"
    output = await explained("scripted/self-serving-rule", review(text))
    rule = read_rule(output.explanation)
    assert rule is not None
    hint = {
        "paradigm": "role:simulatability-generate",
        "item": review(text).model_dump(mode="json"),
        "explanation": output.explanation,
        "count": 5,
        "answers": ["positive", "negative"],
    }
    asked = Asked("role:simulatability-generate", None, hint, [])
    written = [line.split(". ", 1)[1] for line in _self_serving_generate(asked).splitlines()]
    assert written and all(rule.answer(cf) == _parity_answer(asked, cf) for cf in written)
