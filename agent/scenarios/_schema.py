"""The scenario file format, validated with pydantic; checks that need the dataset registry live in `_checks`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr

from agent.scenarios._framing import FieldMapping, TaskFraming
from agent.scenarios._registry import SUITE, dataset_names
from agent.scenarios._vocabulary import Paradigm, known_test_names


def _known_test(name: str) -> str:
    known = known_test_names()
    if name not in known:
        raise ValueError(f"expected a test name among: {', '.join(known)}; got '{name}'")
    return name


def _known_dataset(name: str) -> str:
    if name not in dataset_names():
        raise ValueError(f"expected a dataset among: {', '.join(dataset_names())}; got '{name}'")
    return name


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


TestName = Annotated[str, AfterValidator(_known_test)]
SubsetList = Annotated[list[str], BeforeValidator(_as_list)]
_STRATIFY = r"^(gold|meta\.\w+)$"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class SuitePart(BaseModel):
    """One scenario inside a suite, with its own limit and optional overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str = Field(min_length=1)
    """A scenario name, or a path to a scenario file relative to the suite's file."""
    limit: int | None = Field(default=None, ge=1)
    """How many items this part uses (replaces the scenario's sample_size)."""
    tests: list[TestName] | None = None
    paradigms: list[Paradigm] | None = None
    subset: SubsetList | None = None
    options: dict[str, Any] | None = None
    """Loader options, merged over the referenced scenario's."""
    seed: int | None = None
    stratify: str | None = Field(default=None, pattern=_STRATIFY)


class Scenario(BaseModel):
    """A validated scenario: which data, how it is framed, which paradigms and faithfulness tests, how many items."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    """The scenario's name; in a file it is the file name without .yaml."""
    description: str = ""
    dataset: Annotated[str, AfterValidator(_known_dataset)]
    """A shipped dataset (bbh_turpin, esnli, ...), "jsonl" or "csv" for your own file, or "suite"."""
    subset: SubsetList = Field(default_factory=list)
    """Dataset subsets: BBH task names, or DynaSent "binary"/"ternary"."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Loader options (see the dataset's options model), e.g. {min_agreement: 5} for DynaSent."""
    task: TaskFraming | None = None
    """Overrides of the task framing (instruction, label names); the whole framing for jsonl/csv."""
    paradigms: list[Paradigm] = Field(default_factory=list)
    """Explanation paradigms to elicit."""
    tests: list[TestName] = Field(default_factory=list)
    """Faithfulness tests to run."""
    sample_size: int | None = Field(default=None, ge=1)
    """How many items to sample (None: all)."""
    seed: int = 0
    """Seed for sampling (and for option shuffling where a loader shuffles)."""
    stratify: str | None = Field(default=None, pattern=_STRATIFY)
    """Sample proportionally within groups: "gold" or "meta.<key>" (e.g. "meta.task")."""
    path: str | None = None
    """jsonl/csv: the data file, relative to the scenario file."""
    fields: FieldMapping | None = None
    """jsonl/csv: which columns are the inputs, options, gold and id."""
    licence: str | None = None
    """jsonl/csv: the licence of your data, shown by `faithcheck scenarios`."""
    parts: list[SuitePart] = Field(default_factory=list)
    """suite: the scenarios it combines."""

    _source: Path | None = PrivateAttr(default=None)

    @property
    def source_path(self) -> Path | None:
        """The YAML file this scenario was read from (None if built in Python)."""
        return self._source

    @property
    def is_suite(self) -> bool:
        """Whether this scenario combines other scenarios (dataset: suite)."""
        return self.dataset == SUITE

    def located_at(self, path: Path | None) -> Scenario:
        """A copy that remembers the file it came from (relative data paths resolve against it)."""
        copy = self.model_copy()
        copy._source = path
        return copy
