"""What a dataset loader receives and returns, and how a dataset describes itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agent.errors import ConfigurationError
from agent.items import Demonstration, Item, Task, TaskKind
from agent.scenarios._framing import FieldMapping, TaskFraming


class NoOptions(BaseModel):
    """Loader options for a dataset that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class LoadRequest:
    """Everything a loader may use: where the data is, the validated options, the chosen subset."""

    data_dir: Path
    """The dataset's folder (built-in) or the scenario file's folder (user data)."""
    options: BaseModel
    """The scenario's `options`, validated by the dataset's options model."""
    subset: tuple[str, ...] = ()
    """The chosen subsets (BBH tasks, DynaSent binary/ternary); empty means the dataset's default."""
    seed: int = 0
    """The scenario seed, for loaders that shuffle option order (TruthfulQA)."""
    path: str | None = None
    """User data: the file, relative to `data_dir`."""
    fields: FieldMapping | None = None
    """User data: the column mapping."""
    framing: TaskFraming | None = None
    """User data: the task framing (kind, instruction, labels)."""


@dataclass
class LoadedDataset:
    """A dataset mapped to items, with its task and any few-shot demonstrations."""

    task: Task
    items: list[Item]
    files: list[Path]
    """The data files read, for the scenario's content hash."""
    demonstrations: dict[str, dict[str, list[Demonstration]]] = field(default_factory=dict)
    """{group: {variant: demonstrations}}; a group is the value of item.meta[demonstration_group] ("" if None)."""
    demonstration_group: str | None = None
    """The meta key that picks an item's demonstration group (BBH: "task"), or None for one shared group."""


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset a scenario can name: how to load it, what it is, and under which licence it ships."""

    name: str
    summary: str
    licence: str
    load: Callable[[LoadRequest], LoadedDataset]
    kind: TaskKind | None = None
    """The task kind of a built-in dataset (None for user files, whose scenario says)."""
    folder: str | None = None
    """Its folder under scenarios/data (None for user files)."""
    options_model: type[BaseModel] = NoOptions
    subsets: tuple[str, ...] = ()
    """The subsets a scenario may pick (empty: the dataset has none)."""
    multiple_subsets: bool = False
    """Whether several subsets may be picked at once (BBH tasks) or exactly one (DynaSent)."""
    user_file: bool = False
    """Whether the data comes from the scenario's own `path:` with a field mapping."""


class DataFileError(ConfigurationError):
    """A data file is missing or does not have the expected shape."""

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = path


def require_file(path: Path) -> Path:
    """`path`, or a DataFileError saying the file is missing."""
    if not path.is_file():
        raise DataFileError(path, "data file is missing; reinstall faithcheck or fix the scenario's path")
    return path
