"""`Model`: what callers hold. Wraps a provider with the cache, in-flight sharing, concurrency limit, retries
and usage accounting, so no provider implements any of them.

How one request is answered, first match wins: the cache; the same request already in flight in this process;
the same request in flight in another process sharing the cache (wait for its answer); else send it, holding a
slot of the endpoint's connection limit while sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from agent.models._api import ModelAPI, RequestHint
from agent.models._cache import OWNED, ResponseCache, cache_key
from agent.models._retry import RetryPolicy, call_with_retries
from agent.models._types import Capabilities, ChatMessage, Completion, GenerateConfig, as_messages
from agent.models._usage import UsageStats

T = TypeVar("T")

_POLL_FIRST_S = 0.02
_POLL_MAX_S = 0.5
"""How often a request claimed by another process is looked up again (doubling from the first to the max)."""
CLAIM_SLACK_S = 60.0
"""How long past its deadline a claim lasts: the owner has given up by then, or died."""
LOCAL_CLAIM_S = 1800.0
"""How long a claim on a request to a backend without a deadline (a local model) lasts."""


class Endpoint:
    """One endpoint's shared state within an event loop: its connection slots and whether it has answered."""

    def __init__(self) -> None:
        self.answered = False
        """A request to it has succeeded in this run: from now on an unreachable endpoint is worth retrying."""
        self._active = 0
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def slot(self, limit: Callable[[], int]) -> AsyncIterator[None]:
        """Hold one of the endpoint's connection slots, of which there are `limit()`."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._active < limit())
            self._active += 1
        try:
            yield
        finally:
            async with self._changed:
                self._active -= 1
                self._changed.notify()


_ENDPOINTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Endpoint]] = weakref.WeakKeyDictionary()
_MODELS_BY_ENDPOINT: dict[str, weakref.WeakSet[Model]] = {}


def _endpoint(key: str) -> Endpoint:
    per_loop = _ENDPOINTS.setdefault(asyncio.get_running_loop(), {})
    if key not in per_loop:
        per_loop[key] = Endpoint()
    return per_loop[key]


def endpoint_limit(key: str) -> int:
    """The connection limit of an endpoint: the smallest `max_connections` given to any model on it, or, when none
    was given one, the smallest provider default. A limit protects the server, so the strictest one applies to
    every model there (a judge and a model under test on one server share it)."""
    models = list(_MODELS_BY_ENDPOINT.get(key, ()))
    explicit = [model._max_connections for model in models if model._explicit_limit]
    return min(explicit or [model._max_connections for model in models] or [1])


class Model:
    """A model under test (or in a helper role). Create one with `agent.get_model("provider/name")`."""

    def __init__(
        self,
        api: ModelAPI,
        *,
        cache: ResponseCache | None = None,
        max_connections: int | None = None,
    ) -> None:
        """`max_connections` overrides the provider's limit (its option of that name, or its default)."""
        self.api = api
        self.cache = cache
        self.usage = UsageStats()
        self._max_connections = max_connections or api.max_connections
        self._explicit_limit = max_connections is not None or api.options.max_connections is not None
        self._in_flight: dict[str, asyncio.Future[Any]] = {}
        _MODELS_BY_ENDPOINT.setdefault(api.concurrency_key(), weakref.WeakSet()).add(self)

    @property
    def name(self) -> str:
        """`provider/model`."""
        return self.api.name

    @property
    def capabilities(self) -> Capabilities:
        """What the backend declares it can do."""
        return self.api.capabilities

    def describe(self) -> dict[str, Any]:
        """Provenance without secrets."""
        return self.api.describe()

    def __repr__(self) -> str:
        return f"Model({self.name!r})"

    async def generate(
        self,
        prompt: str | Sequence[ChatMessage] | Sequence[dict[str, str]],
        config: GenerateConfig | None = None,
        *,
        hint: RequestHint | None = None,
    ) -> Completion:
        """Generate a completion for a prompt or chat messages.

        Identical requests (same backend, messages and output-relevant config) are answered from the cache,
        or share the request already in flight; set `config.sample_id` to ask for a fresh sample on purpose.
        """
        messages = as_messages(prompt)
        config = config or GenerateConfig()
        key = cache_key(
            {
                "kind": "generate",
                "backend": self.api.cache_identity(),
                "messages": [m.model_dump() for m in messages],
                "config": config.cache_fields(),
            }
        )

        async def send() -> dict[str, Any]:
            started = time.perf_counter()
            completion = await self.api.generate(messages, config, hint)
            completion.latency_s = time.perf_counter() - started
            self.usage.prompt_tokens += completion.usage.prompt_tokens
            self.usage.completion_tokens += completion.usage.completion_tokens
            return completion.model_dump()

        value, cached = await self._cached_call(key, send, config.max_retries, self.api.attempt_timeout_s(config))
        completion = Completion.model_validate(value)
        completion.cached = cached
        return completion

    async def score(
        self, prompt: str | Sequence[ChatMessage] | Sequence[dict[str, str]], continuations: Sequence[str]
    ) -> list[float]:
        """Log-probability of each continuation as the start of the assistant's reply (needs `score`)."""
        logprobs, _ = await self.score_with_cache_flag(prompt, continuations)
        return logprobs

    async def score_with_cache_flag(
        self, prompt: str | Sequence[ChatMessage] | Sequence[dict[str, str]], continuations: Sequence[str]
    ) -> tuple[list[float], bool]:
        """`score`, and whether the answer came from the cache (or an identical request in flight)."""
        messages = as_messages(prompt)
        key = cache_key(
            {
                "kind": "score",
                "backend": self.api.cache_identity(),
                "messages": [m.model_dump() for m in messages],
                "continuations": list(continuations),
            }
        )

        async def send() -> list[float]:
            return [float(x) for x in await self.api.score(messages, list(continuations))]

        value, cached = await self._cached_call(key, send, 6, self.api.attempt_timeout_s())
        return [float(x) for x in value], cached

    async def _cached_call(
        self, key: str, send: Callable[[], Awaitable[T]], max_retries: int, attempt_timeout_s: float | None
    ) -> tuple[T, bool]:
        if self.cache is not None:
            hit = await self.cache.get(key)
            if hit is not None:
                self.usage.cache_hits += 1
                return hit, True
        if key in self._in_flight:
            self.usage.shared_in_flight += 1
            return await asyncio.shield(self._in_flight[key]), True
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            value, shared = await self._answer(key, send, max_retries, attempt_timeout_s)
            future.set_result(value)
            return value, shared
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self.usage.errors += 1
            future.set_exception(exc)
            future.exception()  # mark retrieved: joiners re-raise it themselves
            raise
        finally:
            del self._in_flight[key]

    async def _answer(
        self, key: str, send: Callable[[], Awaitable[T]], max_retries: int, attempt_timeout_s: float | None
    ) -> tuple[T, bool]:
        """Send the request, unless another process sharing the cache is sending it: then wait for its answer."""
        key_of_endpoint = self.api.concurrency_key()
        endpoint = _endpoint(key_of_endpoint)
        policy = RetryPolicy(
            max_retries=max_retries,
            initial_wait_s=self.api.retry_initial_wait_s,
            max_wait_s=self.api.retry_max_wait_s,
            attempt_timeout_s=attempt_timeout_s,
            deadline_s=self.api.deadline_s,
            endpoint_answered=lambda: endpoint.answered,
        )
        claim_s = (policy.deadline_s or LOCAL_CLAIM_S) + CLAIM_SLACK_S
        poll_s = _POLL_FIRST_S
        while True:
            async with endpoint.slot(lambda: endpoint_limit(key_of_endpoint)):
                claim = await self.cache.claim(key, claim_s) if self.cache is not None else OWNED
                if claim.value is not None:
                    self.usage.shared_in_flight += 1
                    return claim.value, True
                if claim.owned:
                    self.usage.calls_sent += 1
                    try:
                        value = await call_with_retries(self.api, send, policy, on_retry=self._count_retry)
                    except BaseException:
                        if self.cache is not None:
                            await asyncio.shield(self.cache.release(key))
                        raise
                    endpoint.answered = True
                    if self.cache is not None:
                        await self.cache.put(key, value)
                    return value, False
            # Busy: another process is sending it. Wait outside the slot, so this endpoint's limit serves others.
            await asyncio.sleep(poll_s)
            poll_s = min(2 * poll_s, _POLL_MAX_S)

    def _count_retry(self) -> None:
        self.usage.retries += 1

    def generate_sync(
        self,
        prompt: str | Sequence[ChatMessage] | Sequence[dict[str, str]],
        config: GenerateConfig | None = None,
    ) -> Completion:
        """Blocking `generate`, for scripts and notebooks."""
        from agent._sync import run_sync

        return run_sync(self.generate(prompt, config))

    async def aclose(self) -> None:
        """Release the backend's resources."""
        await self.api.aclose()
