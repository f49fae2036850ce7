"""Reading batch output: every request gets a reply or the exception a direct call would have raised, never none."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.models import classify_exception
from agent.models.batch import BatchLineStatusError, RequestUnanswered
from agent.models.batch._lines import BatchIssue, RoundResult, read_round, request_key

KEYS = ["k1", "k2", "k3"]


def ok(key: str, text: str = "hi") -> str:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
    return json.dumps({"id": "r", "custom_id": key, "response": {"status_code": 200, "body": body}, "error": None})


def status_line(key: str, status: int, body: Any = None, error: Any = None) -> str:
    return json.dumps({"id": "r", "custom_id": key, "response": {"status_code": status, "body": body}, "error": error})


def transient(exc: BaseException | None) -> bool:
    assert exc is not None
    return classify_exception(exc).transient


def test_each_reply_goes_to_its_own_request_whatever_the_output_order() -> None:
    result = RoundResult("b", "completed", texts=["\n".join([ok("k3", "three"), ok("k1", "one"), ok("k2", "two")])])
    outcomes = read_round(KEYS, result)
    assert [outcomes[k].body["choices"][0]["message"]["content"] for k in KEYS] == ["one", "two", "three"]


def test_http_errors_keep_their_status_so_the_retry_layer_treats_them_as_direct_calls() -> None:
    error = {"error": {"message": "bad parameter", "type": "invalid_request_error"}}
    text = "\n".join([status_line("k1", 400, error), status_line("k2", 500, error), status_line("k3", 429, error)])
    outcomes = read_round(KEYS, RoundResult("b", "completed", texts=[text]))
    errors = [outcomes[k].error for k in KEYS]
    assert all(isinstance(e, BatchLineStatusError) for e in errors)
    assert [e.status_code for e in errors] == [400, 500, 429]
    assert [transient(e) for e in errors] == [False, True, True]
    assert "bad parameter" in str(errors[0])


def test_vllm_style_error_lines_without_a_body_are_errors_too() -> None:
    # vLLM's run_batch writes failed requests with a status, no body and the reason in `error`.
    text = status_line("k1", 400, None, "The model `x` does not exist.") + "\n" + ok("k2") + "\n" + ok("k3")
    outcome = read_round(KEYS, RoundResult("b", "completed", texts=[text]))["k1"]
    assert isinstance(outcome.error, BatchLineStatusError) and "does not exist" in str(outcome.error)
    assert not transient(outcome.error)


def test_expired_cancelled_and_missing_requests_are_unanswered_and_retried() -> None:
    expired = json.dumps({"custom_id": "k1", "response": None, "error": {"code": "batch_expired", "message": "late"}})
    cancelled = json.dumps({"custom_id": "k2", "response": None, "error": {"code": "batch_cancelled", "message": "x"}})
    outcomes = read_round(KEYS, RoundResult("b", "expired", texts=[expired, cancelled]))
    for key in KEYS:  # k3 has no line at all
        assert isinstance(outcomes[key].error, RequestUnanswered) and transient(outcomes[key].error)


def test_a_failed_batch_blames_its_bad_line_and_leaves_the_others_to_be_sent_again() -> None:
    result = RoundResult("b", "failed", issues=[BatchIssue("invalid_request", "line 2 is not valid", line=2)])
    outcomes = read_round(KEYS, result)
    assert isinstance(outcomes["k2"].error, BatchLineStatusError) and not transient(outcomes["k2"].error)
    assert "input line 2" in str(outcomes["k2"].error)
    assert transient(outcomes["k1"].error) and transient(outcomes["k3"].error)


@pytest.mark.parametrize(
    ("code", "retried"),
    [("token_limit_exceeded", True), ("rate_limit", True), ("server_error", True), ("invalid_endpoint", False)],
)
def test_a_whole_batch_failure_is_retried_only_when_its_code_says_so(code: str, retried: bool) -> None:
    outcomes = read_round(KEYS, RoundResult("b", "failed", issues=[BatchIssue(code, "rejected")]))
    assert all(transient(outcomes[k].error) is retried for k in KEYS)


def test_unreadable_output_lines_count_as_unanswered_not_as_replies() -> None:
    text = ok("k1") + "\n{not json\n" + json.dumps({"no": "custom id"}) + "\n" + ok("k3")
    outcomes = read_round(KEYS, RoundResult("b", "completed", texts=[text]))
    assert outcomes["k1"].body is not None and outcomes["k3"].body is not None
    assert isinstance(outcomes["k2"].error, RequestUnanswered)


def test_a_200_line_without_a_body_is_not_a_reply() -> None:
    text = json.dumps({"custom_id": "k1", "response": {"status_code": 200, "body": None}, "error": None})
    outcome = read_round(["k1"], RoundResult("b", "completed", texts=[text]))["k1"]
    assert outcome.body is None and isinstance(outcome.error, RequestUnanswered)


def test_request_keys_are_stable_and_tell_samples_apart() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.7}
    assert request_key(body, 0) == request_key(dict(reversed(list(body.items()))), 0)
    assert request_key(body, 0) != request_key(body, 1)
    assert request_key(body, 0) != request_key({**body, "temperature": 0.0}, 0)
