"""Reading over a real OpenAI-compatible HTTP server (tests/fixtures/chat_server.py): structured outputs and their
fallback, prose and <think> replies, and answer probabilities from token logprobs, through the `openai/` provider."""

from __future__ import annotations

import logging

import pytest

from agent.models import get_model
from evaluators.runner import run_tests
from tests.fixtures.chat_server import ServedLexicon, serve_lexicon
from tests.fixtures.organisms import decidable_sentiment_items

pytestmark = pytest.mark.server
ITEMS = 8


async def audit(served: ServedLexicon, **options: object):
    task, items = decidable_sentiment_items(ITEMS)
    with serve_lexicon(served) as base_url:
        model = get_model("openai/lexicon", base_url=base_url, **options)
        try:
            return await run_tests(model, task, items, ["importance", "redaction"])
        finally:
            await model.aclose()


@pytest.mark.parametrize("style", ["prose", "think"])
async def test_scores_come_from_top_logprobs_and_prose_replies_are_read(style: str) -> None:
    served = ServedLexicon(style=style)
    run = await audit(served, json_mode=False, structured_output=False)
    predicts = [r for r in served.requests if "most important" not in r["messages"][-1]["content"]]
    assert predicts and all(r.get("logprobs") and r.get("top_logprobs") == 20 for r in predicts)
    importance, redaction = run.summary("importance"), run.summary("redaction")
    assert importance.n_parse_failure == 0 and redaction.n_parse_failure == 0
    assert importance.figures["comprehensiveness"].value is not None
    assert redaction.figures["probability_drop"].value is not None
    for verdict in run.verdicts:
        assert "<think>" not in verdict.model_dump_json()


async def test_structured_outputs_are_sent_and_a_refusal_is_remembered(caplog: pytest.LogCaptureFixture) -> None:
    accepted = ServedLexicon()
    await audit(accepted)
    kinds = [r.get("response_format", {}).get("type") for r in accepted.requests]
    assert kinds and all(kind == "json_schema" for kind in kinds)
    schema = accepted.requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["answer"]["enum"] == ["positive", "negative", "unknown"]

    refusing = ServedLexicon(refuse_json_schema=True)
    with caplog.at_level(logging.WARNING, logger="faithcheck.models.formats"):
        run = await audit(refusing)
    refused = [r for r in refusing.requests if r.get("response_format", {}).get("type") == "json_schema"]
    later = refusing.requests[len(refused) :]
    assert 1 <= len(refused) <= 8, "only the requests already in flight meet the refusal"
    assert later and all(r["response_format"] == {"type": "json_object", "schema": r["response_format"]["schema"]}
                         for r in later)  # fmt: skip
    assert sum("refused response_format" in record.message for record in caplog.records) == 1
    assert run.summary("importance").n_parse_failure == 0


async def test_a_server_that_refuses_logprobs_is_asked_without_them_for_the_rest_of_the_run() -> None:
    served = ServedLexicon(refuse_logprobs=True)
    run = await audit(served, json_mode=False, structured_output=False)
    asked = [r for r in served.requests if r.get("logprobs")]
    assert 1 <= len(asked) <= 8, "only the requests already in flight meet the refusal"
    assert not any(v.outcome == "error" for v in run.verdicts)
    assert run.summary("importance").figures["comprehensiveness"].value is None  # no scores: left empty
