"""Network retries, in one place for every provider. Parse re-asks live in the explanation layer, not here."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential, wait_random

from agent.models._api import ModelAPI

T = TypeVar("T")
log = logging.getLogger("faithcheck.retry")

MAX_RETRY_AFTER_S = 120.0
"""A Retry-After longer than this is capped: we would rather fail visibly than hang."""


async def call_with_retries(
    api: ModelAPI,
    call: Callable[[], Awaitable[T]],
    *,
    max_retries: int,
    on_retry: Callable[[], None] | None = None,
    initial_wait_s: float = 1.0,
    max_wait_s: float = 60.0,
) -> T:
    """Run `call`, retrying transient failures with exponential backoff and jitter, honouring Retry-After.

    Fatal failures (auth, bad request) and exhausted retries are re-raised as the provider's one-line error.
    """
    # wait_exponential + wait_random rather than wait_exponential_jitter, whose arguments changed within tenacity 9.x.
    backoff = wait_exponential(multiplier=initial_wait_s, max=max_wait_s) + wait_random(0, initial_wait_s)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = api.classify_error(exc).retry_after if exc else None
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_S)
        return float(backoff(state))

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s: attempt %d failed (%s); retrying", api.name, state.attempt_number, type(exc).__name__)
        if on_retry is not None:
            on_retry()

    retrying = AsyncRetrying(
        retry=retry_if_exception(lambda exc: api.classify_error(exc).transient),
        wait=wait,
        stop=stop_after_attempt(max_retries + 1),
        before_sleep=before_sleep,
        reraise=True,
    )
    attempts = 0
    try:
        async for attempt in retrying:
            with attempt:
                attempts += 1
                return await call()
    except Exception as exc:
        raise api.to_user_error(exc, attempts) from exc
    raise AssertionError("unreachable: tenacity either returns or raises")
