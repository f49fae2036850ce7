"""Network retries, in one place for every provider. Parse re-asks live in the explanation layer, not here.

What is retried: rate limits, 5xx, timeouts, dropped connections and successful responses whose body is not a
completion (`MalformedResponse`), all with exponential backoff and jitter, honouring Retry-After. What bounds a
call: a number of attempts, a time budget per attempt, and a deadline over the whole call (attempts and waits).
What is not retried: authentication and request errors, and a refused connection or an unknown host before the
endpoint has ever answered (a wrong URL or a server that is not running; retrying would only delay saying so).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_before_delay
from tenacity.stop import stop_base
from tenacity.wait import wait_exponential, wait_random

from agent.models._api import AttemptTimeout, ModelAPI

T = TypeVar("T")
log = logging.getLogger("faithcheck.retry")

MAX_RETRY_AFTER_S = 120.0
"""A Retry-After longer than this is capped: we would rather fail visibly than hang."""


def _always() -> bool:
    return True


@dataclass(frozen=True)
class RetryPolicy:
    """How one call is retried and how long it may take."""

    max_retries: int = 6
    """Attempts after the first one."""
    initial_wait_s: float = 1.0
    """The first backoff wait; later ones double, up to `max_wait_s`."""
    max_wait_s: float = 60.0
    attempt_timeout_s: float | None = None
    """Seconds one attempt may take (None: no limit, e.g. a local model)."""
    deadline_s: float | None = None
    """Seconds the whole call may take, attempts and waits together (None: no limit)."""
    endpoint_answered: Callable[[], bool] = _always
    """Whether the endpoint has answered before; until it has, an unreachable endpoint is not retried."""


async def call_with_retries(
    api: ModelAPI,
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """Run `call` under `policy`; a final failure is re-raised as the provider's one-line error."""
    # wait_exponential + wait_random rather than wait_exponential_jitter, whose arguments changed within tenacity 9.x.
    backoff = wait_exponential(multiplier=policy.initial_wait_s, max=policy.max_wait_s) + wait_random(
        0, policy.initial_wait_s
    )
    started = time.monotonic()

    def remaining() -> float | None:
        return None if policy.deadline_s is None else policy.deadline_s - (time.monotonic() - started)

    def retryable(exc: BaseException) -> bool:
        kind = api.classify_error(exc)
        return kind.transient and not (kind.unreachable and not policy.endpoint_answered())

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

    async def attempt() -> T:
        left = remaining()
        budget = policy.attempt_timeout_s
        by_deadline = left is not None and (budget is None or left < budget)
        if by_deadline:
            budget = max(left or 0.0, 0.0)
        if budget is None:
            return await call()
        # A task and asyncio.wait rather than wait_for: a timeout raised inside the call stays the call's own.
        task = asyncio.ensure_future(call())
        try:
            await asyncio.wait({task}, timeout=budget)
        except BaseException:
            task.cancel()
            raise
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise AttemptTimeout(budget, by_deadline=by_deadline)
        return task.result()

    stop: stop_base = stop_after_attempt(policy.max_retries + 1)
    if policy.deadline_s is not None:
        stop = stop | stop_before_delay(policy.deadline_s)  # never start a wait that would end past the deadline
    retrying = AsyncRetrying(
        retry=retry_if_exception(retryable),
        wait=wait,
        stop=stop,
        before_sleep=before_sleep,
        reraise=True,
    )
    attempts = 0
    try:
        async for attempt_state in retrying:
            with attempt_state:
                attempts += 1
                return await attempt()
    except Exception as exc:
        error = api.to_user_error(exc, attempts)
        if policy.deadline_s is not None and retryable(exc) and attempts <= policy.max_retries:
            # Retryable with attempts left: the deadline ended the call.
            error.args = (
                f"{error}; gave up at the per-call deadline of {policy.deadline_s:g} s "
                "(allow more with -O deadline=SECONDS)",
            )
        raise error from exc
    raise AssertionError("unreachable: tenacity either returns or raises")
