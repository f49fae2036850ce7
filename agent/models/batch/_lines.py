"""The batch JSONL format: one request per input line, one result per output line, matched by `custom_id`.

The OpenAI Batch API, vLLM's `run_batch` and every runner that imitates them share it:

    input:  {"custom_id": K, "method": "POST", "url": "/v1/chat/completions", "body": {...chat request...}}
    output: {"custom_id": K, "response": {"status_code": 200, "body": {...chat completion...}}, "error": null}

A line with another status, or with an `error` and no response, is a failed request. Each failure becomes the
exception a direct call would have raised (or the closest one), so that the retry layer treats it the same way:
an HTTP status keeps its status, and a request the batch never answered (expired, cancelled, skipped, missing)
is a timeout, which is retried in a later round.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from agent.models._cache import cache_key
from agent.models.batch._errors import BatchLineStatusError, RequestUnanswered

log = logging.getLogger("faithcheck.models.batch")

CHAT_URL: Literal["/v1/chat/completions"] = "/v1/chat/completions"

_LIMIT_WORDS = ("limit", "quota", "rate")
_SERVER_WORDS = ("server", "internal", "timeout", "unavailable")


def request_key(body: Mapping[str, Any], sample_id: int) -> str:
    """A stable hash of a request body (and of the sample asked for, which the body does not carry)."""
    return cache_key({"body": dict(body), "sample_id": sample_id})


def input_line(key: str, body: Mapping[str, Any]) -> str:
    """One line of a batch input file (without the newline)."""
    return json.dumps(
        {"custom_id": key, "method": "POST", "url": CHAT_URL, "body": dict(body)},
        ensure_ascii=False,
        separators=(",", ":"),
    )


@dataclass(frozen=True)
class LineOutcome:
    """What a batch said about one request: a chat completion body, or the exception it amounts to."""

    body: dict[str, Any] | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class BatchIssue:
    """One entry of a failed batch's `errors` (the whole batch, or one input line of it)."""

    code: str | None
    message: str
    line: int | None = None
    """1-based input line, when the error is about one line."""


@dataclass
class RoundResult:
    """A round's batch after it ended: its status, the text of its output (and error) files, its issues."""

    batch_id: str
    status: str
    texts: list[str] = field(default_factory=list)
    issues: list[BatchIssue] = field(default_factory=list)


def read_round(keys: Sequence[str], result: RoundResult) -> dict[str, LineOutcome]:
    """Every request of a round (`keys` in input line order) mapped to its outcome; none is left out."""
    outcomes = _read_lines(result.texts, result.batch_id)
    line_issues = {issue.line: issue for issue in result.issues if issue.line is not None}
    batch_issues = [issue for issue in result.issues if issue.line is None]
    for number, key in enumerate(keys, start=1):
        if key in outcomes:
            continue
        issue = line_issues.get(number)
        if issue is not None:
            outcomes[key] = LineOutcome(error=_issue_error(issue, result.batch_id))
        elif batch_issues:
            outcomes[key] = LineOutcome(error=_issue_error(batch_issues[0], result.batch_id))
        elif result.status == "failed" and line_issues:
            lines = ", ".join(str(n) for n in sorted(line_issues)[:5])
            outcomes[key] = LineOutcome(
                error=RequestUnanswered(
                    f"batch {result.batch_id} failed validation (input line {lines}) before running this request"
                )
            )
        else:
            outcomes[key] = LineOutcome(
                error=RequestUnanswered(
                    f"batch {result.batch_id} ended ({result.status}) without a result for this request"
                )
            )
    return {key: outcomes[key] for key in keys}


def _read_lines(texts: Iterable[str], batch_id: str) -> dict[str, LineOutcome]:
    outcomes: dict[str, LineOutcome] = {}
    for text in texts:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                log.warning("batch %s: output line %d is not JSON; its request counts as unanswered", batch_id, number)
                continue
            custom_id = data.get("custom_id") if isinstance(data, dict) else None
            if not isinstance(custom_id, str):
                log.warning("batch %s: output line %d has no custom_id; ignored", batch_id, number)
                continue
            outcomes[custom_id] = _line_outcome(data, batch_id)
    return outcomes


def _line_outcome(data: dict[str, Any], batch_id: str) -> LineOutcome:
    response = data.get("response") if isinstance(data.get("response"), dict) else None
    error = data.get("error")
    if response is not None:
        status = response.get("status_code")
        body = response.get("body")
        if status == 200 and isinstance(body, dict) and not error:
            return LineOutcome(body=body)
        if isinstance(status, int) and status != 200:
            detail = _message(body) or _message(error) or f"HTTP {status}"
            return LineOutcome(
                error=BatchLineStatusError(
                    f"batch {batch_id}: {detail}", status_code=status, body=body if body is not None else error
                )
            )
    if isinstance(error, dict):
        code = error.get("code")
        return LineOutcome(
            error=_issue_error(BatchIssue(str(code) if code else None, _message(error) or "error"), batch_id)
        )
    detail = _message(error) or "a result line with neither a reply nor an error"
    return LineOutcome(error=RequestUnanswered(f"batch {batch_id}: {detail}"))


def _issue_error(issue: BatchIssue, batch_id: str) -> BaseException:
    """An error the batch reported without an HTTP status, as the exception a direct call would come closest to.

    Expired and cancelled requests were never answered: a timeout, retried in a later round. Otherwise the code
    decides: a limit is a 429, a server fault a 500 (both retried), anything else a 400 (not retried)."""
    code = (issue.code or "").lower()
    where = f" (input line {issue.line})" if issue.line is not None else ""
    text = f"batch {batch_id}: {issue.code or 'error'}: {issue.message}{where}"
    if code in ("batch_expired", "batch_cancelled") or "expired" in code or "cancel" in code:
        return RequestUnanswered(text)
    if any(word in code for word in _LIMIT_WORDS):
        status = 429
    elif any(word in code for word in _SERVER_WORDS):
        status = 500
    else:
        status = 400
    return BatchLineStatusError(text, status_code=status, body={"code": issue.code, "message": issue.message})


def _message(value: Any) -> str | None:
    """The human part of an error body: `{"error": {"message": ...}}`, `{"message": ...}`, or a string."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        inner = value.get("error")
        if isinstance(inner, (dict, str)):
            found = _message(inner)
            if found:
                return found
        message = value.get("message") or value.get("detail")
        if isinstance(message, str):
            return message
    return None
