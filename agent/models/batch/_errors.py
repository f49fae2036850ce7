"""The exceptions a batch line turns into: the same kinds the retry layer sees from a failed direct call."""

from __future__ import annotations

from typing import Any

import openai


class BatchLineStatusError(openai.APIStatusError):
    """A batch line that failed with an HTTP status: the error the SDK raises for that status on a direct call.

    The SDK's constructor needs the HTTP response, which a batch line does not have; the attributes that the
    retry layer and `OpenAIAPI.to_user_error` read (status, body, message) are set here instead.
    """

    def __init__(self, message: str, *, status_code: int, body: Any) -> None:
        Exception.__init__(self, message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.request_id = None
        self.code = body.get("code") if isinstance(body, dict) else None
        self.param = None
        self.type = None


class RequestUnanswered(TimeoutError):
    """The batch ended without answering this request (expired, cancelled, skipped or missing from its output).

    Like a timed-out direct call it is transient: the retry layer sends it again, in a later round.
    """


class BatchCommandError(ConnectionError):
    """The batch command of a round failed (exit status, or no output file); transient, like a refused connection."""
