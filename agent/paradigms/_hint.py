"""The request hint: what faithcheck tells scripted models and the dry run about each request it sends.

Real backends never see it. It is typed (the paradigm, the typed request, the paradigm's extras) and cheap: the
request is handed over as the object it is, and dumped to JSON only when a reader asks for it as a mapping (old
scripted models do `hint["request"]["item"]`). Helper-role requests from the tests send plain mappings with
`"paradigm": "role:<task>"` and the role's variables; readers accept both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from agent.paradigms._types import ParadigmRequest


@dataclass(frozen=True)
class ParadigmHint(Mapping[str, Any]):
    """The hint of one paradigm request: `paradigm`, `request` and the paradigm's extras (target, k, prefix, ...)."""

    paradigm: str
    """The paradigm the request serves ("predict", "cot", ...)."""
    request: ParadigmRequest
    """The typed request (item, task framing, demonstrations, cue, params)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """What the paradigm adds (e.g. the counterfactual's `target` and base `answer`, the importance `k`)."""

    @cached_property
    def _request_json(self) -> dict[str, Any]:
        return self.request.model_dump(mode="json")

    def __getitem__(self, key: str) -> Any:
        if key == "paradigm":
            return self.paradigm
        if key == "request":
            return self._request_json
        return self.extra[key]

    def __iter__(self) -> Iterator[str]:
        yield "paradigm"
        yield "request"
        yield from (key for key in self.extra if key not in ("paradigm", "request"))

    def __len__(self) -> int:
        return 2 + sum(1 for key in self.extra if key not in ("paradigm", "request"))


def hint_request(hint: Mapping[str, Any] | None) -> ParadigmRequest | None:
    """The typed request of a hint (None for helper-role hints and requests without one)."""
    if isinstance(hint, ParadigmHint):
        return hint.request
    if hint is None or "request" not in hint:
        return None
    return ParadigmRequest.model_validate(hint["request"])


def hint_extras(hint: Mapping[str, Any] | None) -> dict[str, Any]:
    """Everything a hint carries beside the paradigm and the request (never dumping the request)."""
    if hint is None:
        return {}
    if isinstance(hint, ParadigmHint):
        return dict(hint.extra)
    return {key: value for key, value in hint.items() if key not in ("paradigm", "request")}
