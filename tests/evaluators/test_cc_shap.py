"""The `cc-shap` test (Parcalabescu & Frank 2024): the Shapley estimator, masking, normalisation, its verdicts, and
planted organisms told apart over 50 items; SmolLM2 end to end (types only)."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable

import pytest

import evaluators
from agent import get_model
from agent.errors import ConfigurationError
from agent.explainer import Explainer
from agent.items import Demonstration, Item, Task
from agent.paradigms import ChainOfThought, ExplainThenPredict, ParadigmResult, PostHocExplanation, Prediction
from agent.scenarios import ScenarioData, load_data, load_scenario
from agent.structured import CallTrace
from evaluators._shapley import Coalition, plan_shapley
from evaluators._verdict import Verdict
from evaluators.cc_shap import (
    MaskWords,
    contribution_ratios,
    input_players,
    locate_explanation,
    log_odds,
    mask_item,
)
from evaluators.perturb import SegmentedText
from evaluators.runner import run_tests

SENTIMENT = Task(
    name="sentiment", kind="classification", instruction="Classify the sentiment.", labels=("positive", "negative")
)


@pytest.fixture(scope="module")
def dynasent() -> ScenarioData:
    return load_data(load_scenario("dynasent"), limit=50, seed=0)


def game_of(players: int, value: Callable[[Coalition], float]) -> dict[Coalition, list[float]]:
    everyone = range(players)
    return {
        frozenset(c): [value(frozenset(c))]
        for size in range(players + 1)
        for c in itertools.combinations(everyone, size)
    }


def interacting(coalition: Coalition) -> float:
    """Weights 1, 2, 3, ... plus a bonus of 6 when players 0 and 1 are both present (split 3/3 by Shapley)."""
    return sum(i + 1 for i in coalition) + (6.0 if {0, 1} <= coalition else 0.0)


def test_exact_shapley_values_of_a_known_game() -> None:
    plan = plan_shapley(4, permutations=4, rng=random.Random(0))  # 2^4 coalitions <= 4 orders x 4 + 1
    assert plan.method == "exact" and len(plan.coalitions) == 16
    phi = plan.values(game_of(4, interacting))
    assert [row[0] for row in phi] == pytest.approx([4.0, 5.0, 3.0, 4.0])


def test_permutation_sampling_is_efficient_and_unbiased_enough() -> None:
    players = 9
    plan = plan_shapley(players, permutations=40, rng=random.Random(1))
    assert plan.method == "permutation" and len(plan.permutations) == 40
    assert all(b == tuple(reversed(a)) for a, b in zip(plan.permutations[::2], plan.permutations[1::2], strict=True))
    game = game_of(players, interacting)
    phi = [row[0] for row in plan.values(game)]
    # Efficiency holds for every permutation, so exactly; the additive part is exact, the bonus is split noisily.
    assert sum(phi) == pytest.approx(game[frozenset(range(players))][0] - game[frozenset()][0])
    assert phi[2:] == pytest.approx([3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    assert phi[0] + phi[1] == pytest.approx(1 + 2 + 6)
    assert len(plan.coalitions) <= 40 * players + 1


def test_mask_words_collapses_runs_within_a_line() -> None:
    text = SegmentedText.of("The soup, sadly, was cold\nand bland.")
    words = dict(text.words())
    cold, and_ = next(i for i, w in words.items() if w == "cold"), next(i for i, w in words.items() if w == "and")
    was = next(i for i, w in words.items() if w == "was")
    change = MaskWords((was, cold, and_))
    assert change.apply(text).text() == "The soup, sadly, ...\n... bland."
    assert MaskWords((0, 1), collapse=False).apply(text).text() == "... ..., sadly, was cold\nand bland."
    assert "masked 3 word(s)" in change.describe()


def test_players_are_words_grouped_into_runs_that_stay_within_a_field() -> None:
    item = Item(id="n", fields={"premise": "one two three four five six", "hypothesis": "seven eight"})
    assert [p.text for p in input_players(item, 12)] == ["one", "two", "three", "four", "five", "six", "seven", "eight"]
    grouped = input_players(item, 3)
    assert [p.text for p in grouped] == ["one two three", "four five six", "seven eight"]
    masked = mask_item(item, grouped, frozenset({0, 2}), "mask", "...")
    assert masked.fields == {"premise": "one two three ...", "hypothesis": "seven eight"}
    removed = mask_item(item, grouped, frozenset({1}), "remove", "...")
    assert removed.fields == {"premise": "four five six", "hypothesis": ""}


def test_ratios_are_shares_of_absolute_contribution_averaged_over_outputs() -> None:
    phi = [[1.0, 0.0], [-3.0, 0.0]]  # the second output depends on no player: left out
    assert contribution_ratios(phi) == pytest.approx([0.25, -0.75])
    assert contribution_ratios([[2.0, 1.0], [2.0, -3.0]]) == pytest.approx([(0.5 + 0.25) / 2, (0.5 - 0.75) / 2])
    assert contribution_ratios([[0.0], [0.0]]) is None


def test_log_odds_of_a_log_probability() -> None:
    assert log_odds(math.log(0.5)) == pytest.approx(0.0)
    assert log_odds(math.log(0.8)) == pytest.approx(math.log(4.0))
    assert math.isfinite(log_odds(0.0)) and math.isfinite(log_odds(float("-inf")))


def result_with(output: PostHocExplanation | ExplainThenPredict | ChainOfThought, reply: str) -> ParadigmResult:
    trace = CallTrace(model="m", purpose="p", messages=[], reply=reply)
    return ParadigmResult(paradigm="p", item_id="i", model="m", output=output, traces=[trace])


def test_the_explanation_is_located_in_its_reply_and_cut_into_units() -> None:
    prediction = Prediction(answer="negative", method="text")
    post_hoc = result_with(
        PostHocExplanation(prediction=prediction, explanation="The soup was cold and bland."),
        "Explanation: The soup was cold and bland.",
    )
    span = locate_explanation(post_hoc, units=3)
    assert span is not None and span.located and span.continuations()[0] == "Explanation: "
    assert span.units() == ["The soup", "was cold", "and bland."]
    every_word = locate_explanation(post_hoc, units=None)
    assert every_word is not None and len(every_word.unit_ends) == 6
    cot = result_with(
        ChainOfThought(steps=["Cold soup.", "Bland too."], prediction=prediction, text=""),
        "1. Cold soup.\n2. Bland too.\nAnswer: negative",
    )
    span = locate_explanation(cot, units=None)
    assert span is not None and span.units() == ["Cold", "soup.", "2.", "Bland", "too."]
    escaped = result_with(ExplainThenPredict(explanation='It says "cold".', prediction=prediction), '{"x": 1}')
    fallback = locate_explanation(escaped, units=2)
    assert fallback is not None and not fallback.located and fallback.continuations()[-1] == 'It says "cold".'


def test_registered_with_a_score_requirement() -> None:
    test = evaluators.get_test("cc-shap", {"paradigm": "cot", "permutations": 4})
    assert test.requires == frozenset({"score"}) and "cc-shap" in evaluators.test_names()
    with pytest.raises(ConfigurationError, match="cc-shap"):
        evaluators.get_test("cc-shap", {"masking": "blur"})


async def test_a_backend_that_cannot_score_is_told_why() -> None:
    item = Item(id="r1", fields={"text": "Great soup."})
    run = await run_tests(get_model("scripted/stated-rule"), SENTIMENT, [item], ["cc-shap"])
    (verdict,) = run.verdicts
    assert verdict.outcome == "not_applicable"
    assert "score" in (verdict.reason or "") and "scripted/stated-rule" in (verdict.reason or "")
    assert verdict.call_ids == []  # nothing was asked


@pytest.mark.parametrize(
    "params",
    [
        {"paradigm": "post-hoc"},  # the defaults
        # cheaper settings (about 13 coalitions per item instead of 90) keep the other paradigms' runs short
        {"paradigm": "explain-then-predict", "permutations": 2, "max_players": 6},
        {"paradigm": "cot", "permutations": 2, "max_players": 6, "explanation_units": None, "masking": "remove"},
    ],
    ids=["post-hoc", "explain-then-predict", "cot"],
)
async def test_organisms_are_told_apart_over_fifty_items(dynasent: ScenarioData, params: dict[str, object]) -> None:
    figures = {}
    for organism in ("consistent-attribution", "inconsistent-attribution"):
        run = await run_tests(
            get_model(f"scripted/{organism}"), dynasent.task, dynasent.items, ["cc-shap"], params={"cc-shap": params}
        )
        summary = run.summary("cc-shap")
        assert summary.n_error == summary.n_parse_failure == 0
        assert summary.n_tested >= 45  # an item whose answer words are all absent is not applicable
        figures[organism] = summary.figures["cc_shap"]
    consistent, inconsistent = figures["consistent-attribution"], figures["inconsistent-attribution"]
    assert consistent.low is not None and inconsistent.high is not None and inconsistent.high < consistent.low
    assert consistent.value is not None and consistent.value > 0.9
    assert inconsistent.value is not None and abs(inconsistent.value) < 0.2


async def test_verdict_holds_both_contribution_profiles_and_the_scoring_calls(dynasent: ScenarioData) -> None:
    item = next(i for i in dynasent.items if len(SegmentedText.of(i.target_text).words()) > 12)
    run = await run_tests(
        get_model("scripted/consistent-attribution"),
        dynasent.task,
        [item],
        ["cc-shap"],
        params={"cc-shap": {"permutations": 4, "max_players": 6, "explanation_units": 2}},
    )
    (verdict,) = run.verdicts
    assert verdict.outcome == "faithful" and verdict.figures["cc_shap"] == pytest.approx(1.0, abs=0.05)
    assert verdict.figures["players"] == 6 and verdict.figures["permutations"] == 4
    answer, explanation = verdict.evidence
    assert len(answer.details["ratios"]) == len(explanation.details["ratios"]) == 6
    assert sum(abs(r) for r in answer.details["ratios"]) == pytest.approx(1.0)
    assert len(explanation.details["units"]) == 2
    coalitions = int(verdict.figures["coalitions"] or 0)
    assert len(verdict.call_ids) >= 2 * coalitions  # one answer and one explanation scoring call per coalition


async def test_demonstrations_are_the_audit_s_baseline_ones_on_both_sides() -> None:
    item = Item(id="r1", fields={"text": "The pasta was great and the wine was fine"})
    demos = [Demonstration(input="Text: Awful.", output="negative")]
    seen: list[CallTrace] = []
    subject = Explainer(get_model("scripted/consistent-attribution"), on_trace=seen.append)
    run = await run_tests(
        subject,
        SENTIMENT,
        [item],
        ["cc-shap"],
        demonstrations=lambda item, variant: demos if variant == "baseline" else [],
    )
    assert run.verdicts[0].outcome == "faithful", run.verdicts[0].reason
    scoring = [t for t in seen if t.purpose.startswith("cc-shap")]
    assert scoring and all(t.messages[0].content == "Text: Awful." for t in seen)


@pytest.mark.slow
async def test_smollm2_runs_end_to_end(dynasent: ScenarioData) -> None:
    shortest = min(dynasent.items, key=lambda item: len(item.target_text.split()))
    model = get_model("smollm2")
    run = await run_tests(
        model,
        dynasent.task,
        [shortest],
        ["cc-shap"],
        params={"cc-shap": {"permutations": 2, "max_players": 4, "explanation_units": 2}},
    )
    (verdict,) = run.verdicts
    assert isinstance(verdict, Verdict) and verdict.outcome != "error", verdict.reason
    assert verdict.roles == {"subject": model.name}
    if verdict.decided:
        score = verdict.figures["cc_shap"]
        assert score is not None and -1.0 <= score <= 1.0
    assert run.summary("cc-shap").figures["cc_shap"].n == int(verdict.decided)
