"""Loading a scenario's items: the dataset, the task framing overrides, and the seeded sample."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from agent.errors import ConfigurationError
from agent.items import Demonstration, Item, Task
from agent.resources import scenarios_dir
from agent.scenarios._catalogue import resolve_parts, validate_scenario
from agent.scenarios._errors import ScenarioError, describe_source, problems_from
from agent.scenarios._registry import DATASETS
from agent.scenarios._sampling import sample
from agent.scenarios._schema import Scenario
from agent.scenarios._types import LoadedDataset, LoadRequest


@dataclass
class ScenarioData:
    """A scenario's task and sampled items, and the few-shot demonstrations that go with each item."""

    scenario: Scenario
    task: Task
    items: list[Item]
    available: int
    """How many items the dataset offered before sampling."""
    demonstration_sets: Mapping[str, Mapping[str, list[Demonstration]]] = field(default_factory=dict)
    """{group: {variant: demonstrations}}, as the loader returned them."""
    demonstration_group: str | None = None
    """The item.meta key that picks an item's group (BBH: "task"); None means one shared group ""."""

    @property
    def demonstration_variants(self) -> tuple[str, ...]:
        """The variants `demonstrations` accepts (BBH: "baseline", "all_a"); empty when the dataset has none."""
        variants: dict[str, None] = {}
        for group in self.demonstration_sets.values():
            variants.update(dict.fromkeys(group))
        return tuple(variants)

    def demonstrations(self, item: Item, variant: str = "baseline") -> list[Demonstration]:
        """The few-shot demonstrations for `item` (BBH: its task's baseline or all_a exemplars); [] if none."""
        if not self.demonstration_sets:
            return []
        group = str(item.meta.get(self.demonstration_group)) if self.demonstration_group else ""
        variants = self.demonstration_sets.get(group, {})
        if variant not in variants:
            known = ", ".join(self.demonstration_variants) or "none"
            raise ConfigurationError(
                f"scenario '{self.scenario.name}' has no '{variant}' demonstrations for item {item.id}; "
                f"variants: {known}"
            )
        return list(variants[variant])


def _data_dir(scenario: Scenario) -> Path:
    spec = DATASETS[scenario.dataset]
    if spec.user_file:
        return scenario.source_path.parent if scenario.source_path else Path.cwd()
    return scenarios_dir() / "data" / (spec.folder or spec.name)


def _framed(scenario: Scenario, loaded: LoadedDataset) -> tuple[Task, list[Item]]:
    """Apply the scenario's `task:` overrides to a built-in dataset's task (renaming labels in the golds too)."""
    framing = scenario.task
    if framing is None or DATASETS[scenario.dataset].user_file:
        return loaded.task, loaded.items
    where = describe_source(scenario.source_path, scenario.name)
    task, items = loaded.task, loaded.items
    update = framing.model_dump(
        include={"name", "instruction", "focus", "unknown_label", "normaliser"}, exclude_none=True
    )
    if framing.labels is not None:
        if len(framing.labels) != len(task.labels):
            expected = f"{len(task.labels)} names for the labels {list(task.labels)}, in that order"
            raise ScenarioError(where, [("task.labels", f"expected {expected}; got {framing.labels}")])
        renamed = dict(zip(task.labels, framing.labels, strict=True))
        update["labels"] = tuple(framing.labels)
        items = [item.model_copy(update={"gold": renamed.get(item.gold or "", item.gold)}) for item in items]
    try:
        return Task.model_validate({**task.model_dump(), **update}), items
    except ValidationError as exc:
        raise ScenarioError(where, [("task", message) for _, message in problems_from(exc)]) from None


def _load(scenario: Scenario, limit: int | None, seed: int | None) -> ScenarioData:
    validate_scenario(scenario)
    spec = DATASETS[scenario.dataset]
    request = LoadRequest(
        data_dir=_data_dir(scenario),
        options=spec.options_model.model_validate(scenario.options),
        subset=tuple(scenario.subset),
        seed=scenario.seed,
        path=scenario.path,
        fields=scenario.fields,
        framing=scenario.task,
    )
    loaded = spec.load(request)
    task, items = _framed(scenario, loaded)
    sizes = [size for size in (scenario.sample_size, limit) if size is not None]
    chosen = sample(items, min(sizes) if sizes else None, scenario.seed if seed is None else seed, scenario.stratify)
    return ScenarioData(
        scenario=scenario,
        task=task,
        items=chosen,
        available=len(items),
        demonstration_sets=loaded.demonstrations,
        demonstration_group=loaded.demonstration_group,
    )


def load_data(scenario: Scenario, limit: int | None = None, seed: int | None = None) -> ScenarioData:
    """The task and items of a single (non-suite) scenario.

    `limit` caps the number of items (a quick run; it never raises the scenario's sample_size); `seed` replaces
    the scenario's sampling seed (not the TruthfulQA option-order seed, which stays the scenario's). For a suite,
    use `load_parts`.
    """
    if scenario.is_suite:
        parts = len(scenario.parts)
        raise ConfigurationError(f"scenario '{scenario.name}' is a suite of {parts} parts; use load_parts")
    return _load(scenario, limit, seed)


def load_parts(scenario: Scenario, limit: int | None = None, seed: int | None = None) -> list[ScenarioData]:
    """One ScenarioData per part of a suite, or a one-element list for a single scenario.

    Each part's `scenario` is the referenced scenario with the part's limit and overrides applied, so its
    `tests` and `paradigms` are the ones to run on that part. `limit` caps every part.
    """
    return [_load(part, limit, seed) for part in resolve_parts(scenario)]
