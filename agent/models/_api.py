"""The provider interface: one required async method, everything else has a default."""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from agent.errors import (
    CapabilityError,
    FaithcheckError,
    ModelAuthError,
    ModelError,
    ModelRequestError,
    ModelUnavailableError,
)
from agent.models._options import NetworkOptions, ProviderOptions, validate_options
from agent.models._types import Capabilities, ChatMessage, Completion, GenerateConfig

RequestHint = Mapping[str, Any]
"""What the caller knows about a request (paradigm, item, ...). Real backends ignore it; scripted models read it."""

_TRANSIENT_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})
_AUTH_STATUS = frozenset({401, 403})
_TRANSIENT_NAMES = (
    "Timeout",
    "ConnectError",
    "ConnectionError",
    "RemoteProtocolError",
    "ReadError",
    "APIConnection",
)


class MalformedResponse(Exception):
    """The backend answered with success, but the body is not a valid completion (truncated JSON, an HTML page,
    no choices, the wrong shape). A transport fault like a 5xx: the retry layer retries it."""


class AttemptTimeout(TimeoutError):
    """One attempt took longer than its time budget (the per-attempt timeout, or what was left of the deadline)."""

    def __init__(self, seconds: float, *, by_deadline: bool) -> None:
        super().__init__(f"no complete answer within {seconds:.3g} s")
        self.seconds = seconds
        self.by_deadline = by_deadline
        """Whether the call's deadline, not the per-attempt timeout, set the budget."""


@dataclass(frozen=True)
class ErrorClass:
    """How the retry layer should treat an exception."""

    transient: bool
    """Retrying may help (rate limit, 5xx, timeout, dropped connection, malformed body)."""
    retry_after: float | None = None
    """Seconds the server asked us to wait, when it said."""
    status: int | None = None
    """The HTTP status, when there was one."""
    unreachable: bool = False
    """Nothing answered at all: connection refused or the host name did not resolve. Retried only once the
    endpoint has answered before (a wrong URL or a stopped server should fail at once)."""


def _status_of(exc: BaseException) -> int | None:
    for attr in ("status_code", "status", "http_status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def _retry_after_of(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for header in ("retry-after-ms", "Retry-After-Ms"):
        if headers.get(header):
            try:
                return float(headers[header]) / 1000.0
            except ValueError:
                pass
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        # An HTTP date: honour it roughly.
        from datetime import datetime, timezone
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_unreachable(exc: BaseException) -> bool:
    """Whether nothing answered: connection refused, or the host name did not resolve (not a timeout)."""
    for cause in _causes(exc):
        if isinstance(cause, (ConnectionRefusedError, socket.gaierror)):
            return True
        names = {cls.__name__ for cls in type(cause).__mro__}
        if "ConnectError" in names and not any("Timeout" in name for name in names):
            return True
    return False


def classify_exception(exc: BaseException) -> ErrorClass:
    """Tell transient failures from fatal ones by HTTP status and exception type, whatever the SDK."""
    if isinstance(exc, (MalformedResponse, AttemptTimeout)):
        return ErrorClass(transient=True)
    if isinstance(exc, FaithcheckError):
        return ErrorClass(transient=False)
    status = _status_of(exc)
    if status is not None:
        return ErrorClass(status in _TRANSIENT_STATUS or status >= 500, _retry_after_of(exc), status)
    if is_unreachable(exc):
        return ErrorClass(transient=True, unreachable=True)
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return ErrorClass(transient=True)
    names = [cls.__name__ for cls in type(exc).__mro__]
    return ErrorClass(transient=any(part in name for name in names for part in _TRANSIENT_NAMES))


class ModelAPI(ABC):
    """A model backend. Subclasses implement `generate`; `score` is optional and declared in `capabilities`."""

    provider: ClassVar[str] = ""
    """The registry name of the provider (the part before `/`); set by `@register_provider`."""
    requires: ClassVar[tuple[str, ...]] = ()
    """What this provider imports lazily ('import_name=pip-name' or one name for both); set by
    `@register_provider`. A missing one gives an "install X" error."""
    summary: ClassVar[str] = ""
    """One line for `faithcheck models`; set by `@register_provider`."""
    Options: ClassVar[type[ProviderOptions]] = ProviderOptions
    """The provider's typed options (keyword arguments to `get_model`, `-O key=value` on the CLI)."""

    def __init__(self, model_name: str, **options: Any) -> None:
        self.model_name = model_name
        # Named as `name` would be; not the property itself, which subclasses may base on state set after this.
        owner = f"{self.provider}/{model_name}" if model_name else self.provider
        self.options: ProviderOptions = validate_options(type(self).Options, owner, options)

    @property
    def name(self) -> str:
        """`provider/model`, as users write it."""
        return f"{self.provider}/{self.model_name}" if self.model_name else self.provider

    @property
    def capabilities(self) -> Capabilities:
        """What this backend can do."""
        return Capabilities()

    @property
    def max_connections(self) -> int:
        """How many requests may be in flight at once (shared by every Model on the same endpoint)."""
        return self.options.max_connections or 8

    @property
    def retry_initial_wait_s(self) -> float:
        """First backoff wait in seconds before a retry (option `retry_initial_wait`); later waits grow from it."""
        return self.options.retry_initial_wait

    @property
    def retry_max_wait_s(self) -> float:
        """Longest backoff wait in seconds (option `retry_max_wait`); a server's Retry-After is honoured regardless."""
        return self.options.retry_max_wait

    def attempt_timeout_s(self, config: GenerateConfig | None = None) -> float | None:
        """Seconds one attempt may take: `config.timeout`, else option `timeout`. None (no limit) for providers
        without network options: a local model's request waits its turn in a batch, however long that takes."""
        if not isinstance(self.options, NetworkOptions):
            return None
        if config is not None and config.timeout is not None:
            return config.timeout
        return self.options.timeout

    @property
    def deadline_s(self) -> float | None:
        """Seconds one call may take over all its attempts (option `deadline`); None for no limit (local)."""
        return self.options.deadline_s if isinstance(self.options, NetworkOptions) else None

    @abstractmethod
    async def generate(
        self, messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None = None
    ) -> Completion:
        """Generate from chat messages. Raise the SDK's own exceptions; the retry layer classifies them."""

    async def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> list[float]:
        """Log-probability of each continuation as the start of the assistant's reply to `messages`."""
        raise CapabilityError(f"{self.name} cannot score continuations (it declares no 'score' capability)")

    def cache_identity(self) -> dict[str, Any]:
        """Everything about this backend that can change its output (never secrets)."""
        return {"provider": self.provider, "model": self.model_name}

    def concurrency_key(self) -> str:
        """Requests with the same key share one concurrency limit. Asked when a Model is made: keep it cheap."""
        return self.provider

    def describe(self) -> dict[str, Any]:
        """Provenance for run headers: safe to write to disk (no keys, no tokens)."""
        return {"name": self.name, **self.cache_identity(), "capabilities": self.capabilities.names()}

    def classify_error(self, exc: BaseException) -> ErrorClass:
        """Transient or fatal; providers with unusual SDKs override this."""
        return classify_exception(exc)

    def to_user_error(self, exc: BaseException, attempts: int) -> FaithcheckError:
        """Turn a final failure into a one-line error that names the provider and the fix."""
        if isinstance(exc, FaithcheckError):
            return exc
        kind = self.classify_error(exc)
        detail = _one_line(exc)
        if isinstance(exc, AttemptTimeout):
            return ModelUnavailableError(
                self.name,
                f"{detail} ({attempt_count(attempts)}): is the server overloaded? "
                "allow more time with -O timeout=SECONDS (per attempt) or -O deadline=SECONDS (per call)",
            )
        if isinstance(exc, MalformedResponse):
            return ModelUnavailableError(
                self.name,
                f"answered with something that is not a completion ({attempt_count(attempts)}; last: {detail})",
            )
        if kind.status in _AUTH_STATUS:
            return ModelAuthError(
                self.name, f"authentication failed (HTTP {kind.status}): check the API key ({detail})"
            )
        if kind.status is not None and not kind.transient:
            return ModelRequestError(
                self.name,
                f"request rejected (HTTP {kind.status}): check the model name and options ({detail})",
            )
        if kind.transient:
            return ModelUnavailableError(
                self.name, f"still failing after {attempt_count(attempts)}: {detail}; check that the server is up"
            )
        return ModelError(self.name, detail)

    async def aclose(self) -> None:  # noqa: B027  (optional hook, deliberately a no-op by default)
        """Release clients, threads or weights."""


def attempt_count(attempts: int) -> str:
    """ "1 attempt", "3 attempts"."""
    return f"{attempts} attempt" + ("" if attempts == 1 else "s")


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
