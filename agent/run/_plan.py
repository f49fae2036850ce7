"""What an audit will do: the settings a user chose, and the plan they resolve to (scenario parts, items, tests).

Which tests run on which part of a scenario:
- a part runs the tests its scenario lists, or every registered test when it lists none;
- `tests` (the CLI's `--tests`) keeps only those names on each part; a name that no part lists is an error;
- a listed test that is not registered (not implemented in this installation) is skipped and reported in
  `AuditPlan.unavailable`, so a scenario can name tests before they exist.

A suite's parts are labelled by their scenario name; when two parts use the same scenario, the later ones are
labelled `name#2`, `name#3`, ... so (scenario, item) pairs stay unique in the records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from agent.errors import ConfigurationError
from agent.items import Item, Task
from agent.records import ScenarioRef
from agent.scenarios import Scenario, ScenarioData, load_parts, load_scenario, scenario_hash
from evaluators import FaithfulnessTest, get_test, test_names

DEFAULT_CONCURRENCY = 8
"""Items judged at once. Each item's tests send several requests at once too, so a local backend gets batches."""


@dataclass
class AuditSettings:
    """What to audit and how: everything except the models. Stored in the run header, so a run can be resumed.

    Every field has a default that means "not chosen": on a resume (`over`), a field left at its default keeps the
    run's recorded value.
    """

    scenario: str = ""
    """A scenario name, or the path of a scenario file."""
    tests: tuple[str, ...] | None = None
    """Only these tests (None: each part's own)."""
    limit: int | None = None
    """At most this many items per part."""
    seed: int | None = None
    """Replaces the scenario's sampling seed, and seeds the tests and generation (None: scenario seed, test seed 0)."""
    concurrency: int | None = None
    """Items judged at once (None: DEFAULT_CONCURRENCY)."""
    test_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Test name -> parameters."""
    use_judge_for_mentions: bool = False
    prompts_dir: Path | None = None
    max_tokens: dict[str, int] = field(default_factory=dict)
    """Paradigm name -> generation budget, replacing the default (agent.explainer.DEFAULT_MAX_TOKENS)."""
    system_prompt: str | None = None
    """The system prompt the audited model is deployed with (a chatbot's), sent first in every call to it and in
    none to a helper role. Recorded in the header as text (every record's messages hold it anyway) and as a hash."""

    @property
    def system_prompt_hash(self) -> str | None:
        """`sha256:<hex>` of the system prompt, to tell runs with different deployed prompts apart."""
        if not self.system_prompt:
            return None
        return "sha256:" + hashlib.sha256(self.system_prompt.encode()).hexdigest()

    @property
    def run_seed(self) -> int:
        """The seed tests draw from and generation uses."""
        return self.seed if self.seed is not None else 0

    @property
    def items_at_once(self) -> int:
        """How many items are judged at once."""
        return self.concurrency if self.concurrency is not None else DEFAULT_CONCURRENCY

    def over(self, recorded: AuditSettings) -> AuditSettings:
        """These settings on top of a run's recorded ones (a resume): a field left at its default keeps the record."""
        chosen = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != _default(f)}
        return replace(recorded, **chosen)

    def to_options(self) -> dict[str, Any]:
        """The settings as JSON-ready header options (paths made absolute, so a resume works from anywhere)."""
        scenario_path = Path(self.scenario).expanduser()
        scenario = str(scenario_path.resolve()) if scenario_path.suffix in (".yaml", ".yml") else self.scenario
        return {
            "scenario": scenario,
            "tests": list(self.tests) if self.tests is not None else None,
            "limit": self.limit,
            "seed": self.seed,
            "concurrency": self.items_at_once,
            "test_params": self.test_params,
            "use_judge_for_mentions": self.use_judge_for_mentions,
            "prompts_dir": str(self.prompts_dir.resolve()) if self.prompts_dir else None,
            "max_tokens": self.max_tokens,
            "system_prompt": self.system_prompt,
            "system_prompt_sha256": self.system_prompt_hash,
        }

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> AuditSettings:
        """Settings recorded by `to_options`."""
        tests = options.get("tests")
        prompts_dir = options.get("prompts_dir")
        return cls(
            scenario=str(options["scenario"]),
            tests=tuple(tests) if tests is not None else None,
            limit=options.get("limit"),
            seed=options.get("seed"),
            concurrency=int(options.get("concurrency") or DEFAULT_CONCURRENCY),
            test_params={k: dict(v) for k, v in (options.get("test_params") or {}).items()},
            use_judge_for_mentions=bool(options.get("use_judge_for_mentions")),
            prompts_dir=Path(prompts_dir) if prompts_dir else None,
            max_tokens={k: int(v) for k, v in (options.get("max_tokens") or {}).items()},
            system_prompt=options.get("system_prompt") or None,
        )


def _default(spec: Field[Any]) -> Any:
    """A dataclass field's default value."""
    return spec.default_factory() if spec.default_factory is not MISSING else spec.default


@dataclass
class PlannedPart:
    """One scenario (or suite part) to judge: its items and the tests to run on them."""

    label: str
    """The `scenario` written into verdicts and ItemDone records."""
    data: ScenarioData
    tests: list[FaithfulnessTest]
    ref: ScenarioRef

    @property
    def task(self) -> Task:
        """The part's task framing."""
        return self.data.task

    @property
    def items(self) -> list[Item]:
        """The sampled items, in order."""
        return self.data.items

    @property
    def test_names(self) -> list[str]:
        """The names of the tests run on this part."""
        return [t.name for t in self.tests]


@dataclass
class AuditPlan:
    """The resolved work of an audit."""

    scenario: Scenario
    scenario_hash: str
    """Hash of the scenario as given (a suite's covers its parts)."""
    parts: list[PlannedPart]
    unavailable: list[str] = field(default_factory=list)
    """Tests the scenario lists that this installation does not have (skipped)."""

    @property
    def tests(self) -> list[str]:
        """Every test the audit runs, in first-use order."""
        return list(dict.fromkeys(name for part in self.parts for name in part.test_names))

    @property
    def total_items(self) -> int:
        """Items over all parts."""
        return sum(len(part.items) for part in self.parts)

    @property
    def total_pairs(self) -> int:
        """(item, test) pairs over all parts."""
        return sum(len(part.items) * len(part.tests) for part in self.parts)


def _labels(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return labels


def plan_audit(settings: AuditSettings) -> AuditPlan:
    """Load the scenario and its items, and decide which tests run on which part (see the module docstring)."""
    registered = test_names()
    requested = _check(settings, registered)
    scenario = load_scenario(settings.scenario)
    datasets = load_parts(scenario, limit=settings.limit, seed=settings.seed)
    parts: list[PlannedPart] = []
    unavailable: dict[str, None] = {}
    listed_anywhere: dict[str, None] = {}
    instances: dict[str, FaithfulnessTest] = {}
    for label, data in zip(_labels([data.scenario.name for data in datasets]), datasets, strict=True):
        listed = list(data.scenario.tests) or registered
        listed_anywhere.update(dict.fromkeys(listed))
        unavailable.update(dict.fromkeys(name for name in listed if name not in registered))
        chosen = requested if requested is not None else listed
        names = [name for name in chosen if name in listed and name in registered]
        for name in names:
            if name not in instances:
                instances[name] = get_test(name, settings.test_params.get(name))
        parts.append(PlannedPart(label, data, [instances[n] for n in names], _ref(label, data, settings)))
    missing = [name for name in requested or () if name not in listed_anywhere]
    if missing:
        raise ConfigurationError(
            f"test '{missing[0]}' is not among scenario '{scenario.name}''s tests "
            f"({', '.join(sorted(listed_anywhere))}); pick from those or use another scenario"
        )
    parts = [part for part in parts if part.tests and part.items]
    if not parts:
        wanted = ", ".join(requested or sorted(listed_anywhere)) or "(none)"
        raise ConfigurationError(
            f"scenario '{scenario.name}' has nothing to run: none of its tests ({wanted}) is available "
            f"in this installation (available: {', '.join(registered) or 'none'})"
        )
    return AuditPlan(scenario, scenario_hash(scenario), parts, unavailable=list(unavailable))


def _check(settings: AuditSettings, registered: Sequence[str]) -> list[str] | None:
    """Refuse settings that cannot describe an audit; the requested test names (None: each part's own)."""
    if not settings.scenario:
        raise ConfigurationError("audit needs --scenario (see `faithcheck scenarios`), or --resume RUN_DIR")
    if settings.limit is not None and settings.limit < 1:
        raise ConfigurationError(f"--limit must be at least 1, got {settings.limit}")
    if settings.items_at_once < 1:
        raise ConfigurationError(f"--concurrency must be at least 1, got {settings.concurrency}")
    requested = list(dict.fromkeys(settings.tests)) if settings.tests is not None else None
    unknown = [name for name in requested or () if name not in registered]
    if unknown:
        raise ConfigurationError(
            f"unknown faithfulness test '{unknown[0]}': use one of {', '.join(sorted(registered)) or '(none)'}"
        )
    unknown_params = sorted(set(settings.test_params) - set(registered))
    if unknown_params:
        raise ConfigurationError(f"--test-param names unknown test '{unknown_params[0]}'")
    return requested


def _ref(label: str, data: ScenarioData, settings: AuditSettings) -> ScenarioRef:
    """How the run header pins a part: content hash, source, sampling, and the sampled items in order."""
    return ScenarioRef(
        name=label,
        hash=scenario_hash(data.scenario),
        source=str(data.scenario.source_path.resolve()) if data.scenario.source_path else None,
        limit=settings.limit,
        seed=data.scenario.seed if settings.seed is None else settings.seed,
        item_ids=[item.id for item in data.items],
    )
