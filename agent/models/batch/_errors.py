"""The exceptions a batch line turns into: the same kinds the retry layer sees from a failed direct call."""

from __future__ import annotations


class RequestUnanswered(TimeoutError):
    """The batch ended without answering this request (expired, cancelled, skipped or missing from its output).

    Like a timed-out direct call it is transient: the retry layer sends it again, in a later round.
    """


class BatchCommandError(ConnectionError):
    """The batch command of a round failed (exit status, or no output file); transient, like a refused connection."""
