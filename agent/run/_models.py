"""The models of an audit, by name: what a user chooses, what a run header records, and how they are built.

    models = AuditModels("openai/gpt-4o-mini", roles={"judge": "openai/gpt-4o"}, base_url="http://localhost:8000/v1")
    subject, roles = models.build(cache=SQLiteCache())   # roles: {"judge": <Model openai/gpt-4o>}

The header records everything here except the API key, so `--resume RUN_DIR` can build the same models again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.errors import ConfigurationError
from agent.models import Model, ResponseCache, get_model
from agent.records import RunHeader
from agent.run._provenance import MASK


def build_model(
    name: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    options: Mapping[str, Any] | None = None,
    cache: ResponseCache | None = None,
) -> Model:
    """Resolve a model name with provider options; `base_url` and `api_key` go to OpenAI-compatible models only."""
    options = dict(options or {})
    if name.startswith("openai/") or name == "openai":
        if base_url:
            options.setdefault("base_url", base_url)
        if api_key:
            options.setdefault("api_key", api_key)
    return get_model(name, cache=cache, **options)


@dataclass
class AuditModels:
    """The model under test and the helper roles' models, by name, with how to reach them.

    Like AuditSettings, a field left at its default means "not chosen": on a resume (`over`) it keeps the run's
    recorded value.
    """

    model: str = ""
    """`provider/model` to audit."""
    roles: dict[str, str] = field(default_factory=dict)
    """Helper role -> model name, for the roles given another model (the others use the model under test)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Provider options of the model under test (`-O`); helper models get none."""
    base_url: str | None = None
    """Endpoint of OpenAI-compatible models (the model under test and helpers alike)."""
    api_key: str | None = None
    """Key of OpenAI-compatible models. Never recorded: it is masked wherever it would be written."""

    def over(self, recorded: AuditModels) -> AuditModels:
        """These choices on top of a run's recorded ones: roles are merged, provider options replaced as a whole.

        Recorded options whose values were secret are masked in the header: they must be given again.
        """
        if not self.options and any(value == MASK for value in recorded.options.values()):
            raise ConfigurationError("the run was started with secret -O options: pass the same -O options again")
        return AuditModels(
            model=self.model or recorded.model,
            roles={**recorded.roles, **self.roles},
            options=dict(self.options or recorded.options),
            base_url=self.base_url or recorded.base_url,
            api_key=self.api_key,
        )

    @classmethod
    def from_header(cls, header: RunHeader) -> AuditModels:
        """The models a run was started with (credentials in a base URL are never recorded: pass it again then)."""
        options = header.options
        base_url = header.model.get("base_url")
        return cls(
            model=str(options.get("model_name") or header.model.get("name") or ""),
            roles={role: str(name) for role, name in dict(options.get("role_models") or {}).items()},
            options=dict(options.get("model_options") or {}),
            base_url=base_url if isinstance(base_url, str) else None,
        )

    def build(self, cache: ResponseCache | None = None) -> tuple[Model, dict[str, Model]]:
        """The model under test and the helper models (a role naming the model under test shares its object)."""
        if not self.model:
            raise ConfigurationError("audit needs --model (e.g. --model smollm2), or --resume RUN_DIR")
        subject = build_model(
            self.model, base_url=self.base_url, api_key=self.api_key, options=self.options, cache=cache
        )
        roles = {
            role: subject
            if name == self.model
            else build_model(name, base_url=self.base_url, api_key=self.api_key, cache=cache)
            for role, name in self.roles.items()
        }
        return subject, roles
