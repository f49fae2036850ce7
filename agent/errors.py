"""Errors that reach users. Each message is one line that says what went wrong and what to do about it."""

from __future__ import annotations


class FaithcheckError(Exception):
    """Base class: anything faithcheck raises on purpose. The CLI prints `str(error)` and exits 2."""


class ConfigurationError(FaithcheckError):
    """Bad user input: an unknown model name, a malformed scenario, a missing file, a bad flag value."""


class MissingDependencyError(ConfigurationError):
    """An optional dependency that a provider or feature needs is not installed."""

    def __init__(self, feature: str, package: str, *, extra: str | None = None) -> None:
        if extra:  # the package comes with one of faithcheck's extras: name the extra, which brings the rest too
            message = f"{feature} needs the {extra} extra: pip install 'faithcheck[{extra}]'"
        else:
            message = f"{feature} needs the '{package}' package: pip install '{package}'"
        super().__init__(message)
        self.package = package
        self.extra = extra


class ModelError(FaithcheckError):
    """A model backend failed in a way that retrying will not fix (or retries ran out)."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"[{provider}] {message}")
        self.provider = provider


class ModelAuthError(ModelError):
    """The backend refused our credentials (HTTP 401/403)."""


class ModelRequestError(ModelError):
    """The backend rejected the request itself (HTTP 400/404/422): wrong model name, bad parameter."""


class ModelUnavailableError(ModelError):
    """The backend could not be reached, or kept failing with transient errors until retries ran out."""


class CapabilityError(FaithcheckError):
    """The operation needs a capability (token logprobs, option scoring) that this backend does not declare."""
