"""A run's header: the provenance an audit records before it starts, and the check that a resume is the same audit.

The header's `options` hold the settings (`AuditSettings.to_options`), the models by name and their masked provider
options, so that a resume rebuilds both without repeating a flag (`AuditSettings.from_options`,
`AuditModels.from_header`).
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Mapping
from typing import Any

from agent import __version__
from agent.models import Model
from agent.prompts import PromptLibrary
from agent.records import RunHeader
from agent.run._plan import AuditPlan, AuditSettings
from agent.run._provenance import new_run_id, package_versions, prompt_hashes


def build_header(
    plan: AuditPlan,
    settings: AuditSettings,
    subject: Model,
    roles: Mapping[str, Model],
    prompts: PromptLibrary,
    *,
    command: list[str],
    options: Mapping[str, Any],
    run_id: str | None = None,
) -> RunHeader:
    """The header of a new run (or of this session, to compare with a recorded one). `options` are added as given."""
    tests = {t.name: t for part in plan.parts for t in part.tests}
    return RunHeader(
        run_id=run_id or new_run_id(),
        faithcheck_version=__version__,
        command=command,
        model=subject.describe(),
        roles={role: model.describe() for role, model in roles.items()},
        scenarios=[part.ref for part in plan.parts],
        tests=plan.tests,
        test_params={name: test.params.model_dump(mode="json") for name, test in tests.items()},
        seed=settings.run_seed,
        packages=package_versions(),
        prompt_hashes=prompt_hashes(prompts),
        python=sys.version.split()[0],
        platform=platform.platform(),
        options={
            **settings.to_options(),
            "model_name": subject.name,
            "role_models": {role: model.name for role, model in roles.items()},
            "scenario_hash": plan.scenario_hash,
            "part_tests": {part.label: part.test_names for part in plan.parts},
            "unavailable_tests": plan.unavailable,
            **options,
        },
    )


def audit_difference(recorded: RunHeader, fresh: RunHeader) -> str | None:
    """What differs between a recorded header and this session's, in words, or None when it is the same audit."""
    if recorded.model != fresh.model:
        return "model " + (_first_difference(recorded.model, fresh.model) or "")
    if recorded.roles != fresh.roles:
        return "helper models " + (_first_difference(recorded.roles, fresh.roles) or "")
    if recorded.options.get("scenario_hash") != fresh.options.get("scenario_hash"):
        return "scenario (its file or data changed since the run started)"
    parts = _parts_difference(recorded, fresh)
    if parts:
        return parts
    if recorded.options.get("part_tests") != fresh.options.get("part_tests"):
        return f"tests (run: {recorded.options.get('part_tests')}, now: {fresh.options.get('part_tests')})"
    if recorded.test_params != fresh.test_params:
        return "test parameters " + (_first_difference(recorded.test_params, fresh.test_params) or "")
    if recorded.seed != fresh.seed:
        return f"seed (run: {recorded.seed}, now: {fresh.seed})"
    if recorded.prompt_hashes != fresh.prompt_hashes:
        return "prompt templates " + (_first_difference(recorded.prompt_hashes, fresh.prompt_hashes) or "")
    old_prompt, new_prompt = recorded.options.get("system_prompt_sha256"), fresh.options.get("system_prompt_sha256")
    if old_prompt != new_prompt:
        return f"system prompt (run: {old_prompt or 'none'}, now: {new_prompt or 'none'})"
    old_budgets, new_budgets = recorded.options.get("max_tokens") or {}, fresh.options.get("max_tokens") or {}
    if old_budgets != new_budgets:
        return "generation budgets " + (_first_difference(old_budgets, new_budgets) or "")
    return None


def _parts_difference(recorded: RunHeader, fresh: RunHeader) -> str | None:
    """How the scenario parts differ: their names, hashes, sampling seeds, limits or sampled items."""
    old_names = [ref.name for ref in recorded.scenarios]
    new_names = [ref.name for ref in fresh.scenarios]
    if old_names != new_names:
        return f"scenario parts (run: {', '.join(old_names)}; now: {', '.join(new_names)})"
    for old, new in zip(recorded.scenarios, fresh.scenarios, strict=True):
        if old.hash != new.hash:
            return f"scenario {old.name} (its file or data changed since the run started)"
        if old.seed != new.seed:
            return f"sampling seed of {old.name} (run: {old.seed}, now: {new.seed})"
        if old.limit != new.limit:
            return f"item limit of {old.name} (run: {old.limit}, now: {new.limit})"
        if old.item_ids != new.item_ids:
            return f"sampled items of {old.name}"
    return None


def _first_difference(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """The first key whose value differs between two flat descriptions, as 'key (run: a, now: b)', or None."""
    for key in sorted(set(recorded) | set(current)):
        if recorded.get(key) != current.get(key):
            return f"{key} (run: {_short(recorded.get(key))}, now: {_short(current.get(key))})"
    return None


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"
