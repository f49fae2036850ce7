"""The error of a batch line that failed with an HTTP status.

A module of its own because it subclasses the openai SDK's error, and the SDK takes about half a second to import:
only batch mode, which talks to the SDK anyway, pays for it.
"""

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
