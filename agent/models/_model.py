"""`Model`: what callers hold. Wraps a provider with the cache, in-flight sharing, concurrency limit, retries
and usage accounting, so no provider implements any of them."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from agent.models._api import ModelAPI, RequestHint
from agent.models._cache import ResponseCache, cache_key
from agent.models._retry import call_with_retries
from agent.models._types import Capabilities, ChatMessage, Completion, GenerateConfig, as_messages
from agent.models._usage import UsageStats

T = TypeVar("T")

# One semaphore per (event loop, endpoint): a judge and a model under test on the same server share its limit.
_SEMAPHORES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _endpoint_semaphore(key: str, limit: int) -> asyncio.Semaphore:
    per_loop = _SEMAPHORES.setdefault(asyncio.get_running_loop(), {})
    if key not in per_loop:
        per_loop[key] = asyncio.Semaphore(limit)
    return per_loop[key]


class Model:
    """A model under test (or in a helper role). Create one with `agent.get_model("provider/name")`."""

    def __init__(
        self,
        api: ModelAPI,
        *,
        cache: ResponseCache | None = None,
        max_connections: int | None = None,
    ) -> None:
        self.api = api
        self.cache = cache
        self.usage = UsageStats()
        self._max_connections = max_connections or api.max_connections
        self._in_flight: dict[str, asyncio.Future[Any]] = {}

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

        value, cached = await self._cached_call(key, send, config.max_retries)
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

        value, cached = await self._cached_call(key, send, max_retries=6)
        return [float(x) for x in value], cached

    async def _cached_call(self, key: str, send: Callable[[], Awaitable[T]], max_retries: int) -> tuple[T, bool]:
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
            semaphore = _endpoint_semaphore(self.api.concurrency_key(), self._max_connections)
            async with semaphore:
                self.usage.calls_sent += 1
                value = await call_with_retries(
                    self.api,
                    send,
                    max_retries=max_retries,
                    on_retry=self._count_retry,
                    initial_wait_s=self.api.retry_initial_wait_s,
                    max_wait_s=self.api.retry_max_wait_s,
                )
            if self.cache is not None:
                await self.cache.put(key, value)
            future.set_result(value)
            return value, False
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self.usage.errors += 1
            future.set_exception(exc)
            future.exception()  # mark retrieved: joiners re-raise it themselves
            raise
        finally:
            del self._in_flight[key]

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
