"""Usage accounting: what a run cost, per model."""

from __future__ import annotations

from pydantic import BaseModel


class UsageStats(BaseModel):
    """Counters for one model over a run. Cache hits and shared in-flight requests cost nothing."""

    calls_sent: int = 0
    """Requests that reached the backend (after the cache), counting each retry once as a retry, not a call."""
    cache_hits: int = 0
    """Requests answered from the response cache."""
    shared_in_flight: int = 0
    """Requests that joined an identical request already in flight."""
    retries: int = 0
    """Transient failures that were retried."""
    errors: int = 0
    """Requests that failed for good."""
    prompt_tokens: int = 0
    """Prompt tokens of sent calls, as the backend reported them."""
    completion_tokens: int = 0
    """Completion tokens of sent calls, as the backend reported them."""

    @property
    def requests(self) -> int:
        """All requests made, however they were answered."""
        return self.calls_sent + self.cache_hits + self.shared_in_flight

    def merged(self, other: UsageStats) -> UsageStats:
        """The sum of two counters."""
        return UsageStats(**{k: getattr(self, k) + getattr(other, k) for k in UsageStats.model_fields})
