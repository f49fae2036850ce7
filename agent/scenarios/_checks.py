"""Checks on a scenario that depend on its dataset: subsets, loader options, user-file mapping, suite shape."""

from __future__ import annotations

from pydantic import ValidationError

from agent.items import Task
from agent.scenarios._errors import Problem, problems_from
from agent.scenarios._registry import DATASETS
from agent.scenarios._schema import Scenario
from agent.scenarios._types import DatasetSpec


def _suite_problems(scenario: Scenario) -> list[Problem]:
    problems: list[Problem] = []
    if not scenario.parts:
        problems.append(("parts", "a suite needs a list of parts, each {scenario: <name>, limit: <n>}"))
    fields = ("subset", "options", "task", "tests", "paradigms", "sample_size", "seed", "stratify", "path", "fields")
    for field in fields:
        if field in scenario.model_fields_set:
            problems.append((field, "not used by a suite; set it on the scenario a part names, or in the part"))
    return problems


def _subset_problems(scenario: Scenario, spec: DatasetSpec) -> list[Problem]:
    if not scenario.subset:
        return []
    if not spec.subsets:
        return [("subset", f"dataset '{spec.name}' has no subsets; remove subset")]
    unknown = [name for name in scenario.subset if name not in spec.subsets]
    if unknown:
        return [("subset", f"expected names among: {', '.join(spec.subsets)}; got {', '.join(unknown)}")]
    if not spec.multiple_subsets and len(scenario.subset) > 1:
        return [("subset", f"dataset '{spec.name}' takes one subset, one of: {', '.join(spec.subsets)}")]
    return []


def _user_file_problems(scenario: Scenario) -> list[Problem]:
    problems: list[Problem] = []
    if not scenario.path:
        problems.append(("path", f"a {scenario.dataset} scenario needs path: (the data file, relative to this file)"))
    if scenario.fields is None:
        problems.append(("fields", "a user-data scenario needs fields: {inputs: [...], gold: ..., id: ...}"))
    framing = scenario.task
    if framing is None or framing.kind is None or framing.instruction is None:
        problems.append(("task", "a user-data scenario needs task: with kind and instruction"))
        return problems
    try:
        Task(
            name=framing.name or scenario.name,
            kind=framing.kind,
            instruction=framing.instruction,
            focus=framing.focus or "the answer",
            labels=tuple(framing.labels or ()),
            unknown_label=framing.unknown_label,
        )
    except ValidationError as exc:
        problems += [("task", message) for _, message in problems_from(exc)]
    mapping = scenario.fields
    if mapping is not None:
        if framing.kind == "multiple_choice" and mapping.options is None:
            problems.append(("fields.options", "a multiple_choice task needs the option columns"))
        if framing.kind != "multiple_choice" and mapping.options is not None:
            problems.append(("fields.options", f"a {framing.kind} task has no options; remove fields.options"))
        names = list(mapping.input_columns())
        if mapping.edit_field is not None and mapping.edit_field not in names:
            problems.append(("fields.edit_field", f"expected one of the input fields {names}"))
    return problems


def _builtin_problems(scenario: Scenario, spec: DatasetSpec) -> list[Problem]:
    problems: list[Problem] = []
    for field in ("path", "fields", "parts"):
        if field in scenario.model_fields_set:
            problems.append((field, f"only jsonl/csv (path, fields) or suite (parts) use it, not {spec.name}"))
    framing = scenario.task
    if framing is not None and framing.kind is not None and framing.kind != spec.kind:
        problems.append(("task.kind", f"dataset '{spec.name}' is {spec.kind}; remove task.kind"))
    if framing is not None and framing.labels is not None and spec.kind != "classification":
        problems.append(("task.labels", f"dataset '{spec.name}' is {spec.kind}, it has no labels to rename"))
    return problems


def scenario_problems(scenario: Scenario) -> list[Problem]:
    """Everything wrong with `scenario` beyond its field types, as (field, message) pairs."""
    if scenario.is_suite:
        return _suite_problems(scenario)
    if scenario.parts:
        return [("parts", "only a scenario with dataset: suite has parts")]
    spec = DATASETS[scenario.dataset]
    problems = _subset_problems(scenario, spec)
    if scenario.options and not spec.options_model.model_fields:
        problems.append(("options", f"dataset '{spec.name}' takes no options; remove options"))
    try:
        spec.options_model.model_validate(scenario.options)
    except ValidationError as exc:
        known = list(spec.options_model.model_fields)
        problems += problems_from(exc, prefix="options", known_fields=known)
    if spec.user_file:
        problems += _user_file_problems(scenario)
    else:
        problems += _builtin_problems(scenario, spec)
    return problems
