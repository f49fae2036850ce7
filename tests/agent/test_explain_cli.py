"""`faithcheck explain`: readable panels, typed JSON, one-line errors; scripted, SmolLM2 and a real server."""

from __future__ import annotations

import pytest

from agent.cli import main
from agent.explainer import Explanation
from agent.paradigms import EXPLANATION_PARADIGMS
from tests.fixtures.servers import ServedModel

SENTENCE = "The plot dragged and the acting was wooden."
PANEL_TITLES = (
    "answer",
    "post-hoc explanation",
    "explain, then predict",
    "important words",
    "counterfactual",
    "redaction",
    "chain of thought",
)


def run_explain(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `faithcheck explain ARGS` in-process: (exit status, stdout, stderr)."""
    try:
        main(["explain", *args])
        status = 0
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def assert_every_paradigm_answered_or_failed_typed(explanation: Explanation) -> None:
    """Each default paradigm has a result that holds either an output or a parse failure with the raw reply."""
    assert set(explanation.results) == {"predict", *EXPLANATION_PARADIGMS}
    for name, result in explanation.results.items():
        assert (result.output is None) != (result.failure is None), name
        assert result.traces and result.traces[0].messages, f"{name} keeps the calls behind it"


def test_readable_output_has_a_panel_per_paradigm_and_usage_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_explain(["--model", "scripted/sentiment-honest", SENTENCE], capsys)
    assert status == 0
    for title in PANEL_TITLES:
        assert title in out
    assert "negative" in out
    assert "calls sent" in err and "scripted/sentiment-honest" in err


def test_json_output_is_the_typed_result(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_explain(["--model", "scripted/sentiment-honest", "--json", SENTENCE], capsys)
    assert status == 0
    explanation = Explanation.model_validate_json(out)
    assert explanation.item.fields == {"review": SENTENCE}
    assert explanation.answer == "negative"
    assert_every_paradigm_answered_or_failed_typed(explanation)
    counterfactual = explanation.results["counterfactual"].output
    assert counterfactual is not None and counterfactual.kind == "counterfactual"
    assert counterfactual.target == "positive" and counterfactual.edited_text != SENTENCE


def test_chosen_paradigms_only(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_explain(
        ["--model", "scripted/sentiment-honest", "--json", "-p", "importance", "-k", "2", SENTENCE], capsys
    )
    assert status == 0
    explanation = Explanation.model_validate_json(out)
    assert set(explanation.results) == {"predict", "importance"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "nli", "A man sleeps."], "--task nli needs --premise"),
        (["--task", "mc", "Which?", "--options", "only one"], "--task mc needs at least two --options"),
    ],
)
def test_incomplete_input_is_a_one_line_error(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run_explain(["--model", "scripted/sentiment-honest", *args], capsys)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unknown_provider_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_explain(["--model", "nosuch/model", SENTENCE], capsys)
    assert status == 2
    assert "nosuch" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_smollm2_explains_the_issue_sentence_offline(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_explain(["--model", "smollm2", "--json", SENTENCE], capsys)
    assert status == 0
    explanation = Explanation.model_validate_json(out)
    assert_every_paradigm_answered_or_failed_typed(explanation)
    prediction = explanation.results["predict"].output
    # SmolLM2 runs locally and can score, so the answer is read by scoring every option.
    assert prediction is not None and prediction.kind == "prediction" and prediction.method == "score"


@pytest.mark.server
@pytest.mark.slow
def test_explain_through_transformers_serve(
    transformers_server: ServedModel, capsys: pytest.CaptureFixture[str]
) -> None:
    model = f"openai/{transformers_server.model_id}"
    status, out, err = run_explain(["--model", model, "--base-url", transformers_server.base_url, SENTENCE], capsys)
    assert status == 0, err
    for title in PANEL_TITLES:
        assert title in out
    # transformers serve returns no logprobs: the answer must have been read from the text.
    assert "(read by text)" in out
    assert model in err
