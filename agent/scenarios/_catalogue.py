"""Finding, reading and hashing scenario files: the built-in ones and those on FAITHCHECK_SCENARIOS_PATH."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.errors import ConfigurationError
from agent.resources import scenarios_dir
from agent.scenarios._checks import scenario_problems
from agent.scenarios._errors import Problem, ScenarioError, describe_source, problems_from
from agent.scenarios._registry import DATASETS
from agent.scenarios._schema import Scenario

SCENARIOS_PATH_ENV = "FAITHCHECK_SCENARIOS_PATH"
_SUFFIXES = (".yaml", ".yml")
_PART_FIELD = {"sample_size": "limit"}


def scenario_dirs() -> list[Path]:
    """Where scenarios are looked up: the built-in directory, then each directory on FAITHCHECK_SCENARIOS_PATH.

    An entry that is not a directory is an error, not skipped: a typo would otherwise hide the user's scenarios
    behind an "unknown scenario" that does not say why.
    """
    extra = []
    for entry in os.environ.get(SCENARIOS_PATH_ENV, "").split(os.pathsep):
        if not entry.strip():
            continue
        path = Path(entry).expanduser()
        if not path.is_dir():
            problem = "is not a directory" if path.exists() else "does not exist"
            raise ConfigurationError(
                f"{SCENARIOS_PATH_ENV}: {entry!r} {problem}; set it to directories of scenario .yaml files, "
                f"separated by '{os.pathsep}' (or unset it)"
            )
        extra.append(path)
    return [scenarios_dir(), *extra]


def _scenario_files() -> list[Path]:
    files = []
    for directory in scenario_dirs():
        if directory.is_dir():
            files += sorted(path for path in directory.iterdir() if path.suffix in _SUFFIXES and path.is_file())
    return files


def validate_scenario(scenario: Scenario) -> Scenario:
    """`scenario` if it is consistent with its dataset, else a one-line ScenarioError naming its fields."""
    problems = scenario_problems(scenario)
    if problems:
        raise ScenarioError(describe_source(scenario.source_path, scenario.name), problems)
    return scenario


def parse_scenario(data: Any, source: Path | None = None) -> Scenario:
    """A Scenario from parsed YAML; every problem becomes one line that names `source` and the field."""
    where = describe_source(source)
    if not isinstance(data, dict):
        raise ScenarioError(where, [("", f"expected a mapping of scenario fields, got {type(data).__name__}")])
    if source is not None:
        name = data.setdefault("name", source.stem)
        if name != source.stem:
            raise ScenarioError(where, [("name", f"expected '{source.stem}' (the file name without .yaml)")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(where, problems_from(exc, known_fields=list(Scenario.model_fields))) from None
    return validate_scenario(scenario.located_at(source))


def read_scenario_file(path: Path) -> Scenario:
    """Read and validate one scenario file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the scenario file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ScenarioError(
            str(path), [("", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}): save the file as UTF-8")]
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or "cannot parse"
        raise ScenarioError(str(path), [("", f"not valid YAML{where}: {reason}")]) from None
    return parse_scenario(data, path)


def list_scenarios() -> list[Scenario]:
    """Every scenario: the built-in ones, then the user's, by file name. Two with one name is an error."""
    scenarios: dict[str, Scenario] = {}
    for path in _scenario_files():
        scenario = read_scenario_file(path)
        if scenario.name in scenarios:
            first = scenarios[scenario.name].source_path
            raise ConfigurationError(f"{path}: scenario '{scenario.name}' is already defined by {first}; rename one")
        scenarios[scenario.name] = scenario
    return list(scenarios.values())


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario by name (built-in or on FAITHCHECK_SCENARIOS_PATH) or by the path of its YAML file."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in _SUFFIXES or candidate.is_file():
        if not candidate.is_file():
            raise ConfigurationError(f"{candidate}: no such scenario file")
        return read_scenario_file(candidate)
    name = str(name_or_path)
    matches = [path for path in _scenario_files() if path.stem == name]
    if not matches:
        known = sorted({path.stem for path in _scenario_files()})
        raise ConfigurationError(f"unknown scenario '{name}'; expected one of: {', '.join(known)} or a .yaml path")
    if len(matches) > 1:
        raise ConfigurationError(f"scenario '{name}' is defined twice ({matches[0]} and {matches[1]}); rename one")
    return read_scenario_file(matches[0])


def resolve_parts(scenario: Scenario) -> list[Scenario]:
    """The scenarios a suite runs, each with its part's limit and overrides applied ([scenario] if not a suite)."""
    if not scenario.is_suite:
        return [scenario]
    where = describe_source(scenario.source_path, scenario.name)
    base_dir = scenario.source_path.parent if scenario.source_path else Path.cwd()
    resolved = []
    for index, part in enumerate(scenario.parts):
        prefix = f"parts[{index}]"
        reference = part.scenario
        looks_like_path = reference.endswith(_SUFFIXES) or "/" in reference
        referenced = load_scenario(base_dir / reference if looks_like_path else reference)
        if referenced.is_suite:
            raise ScenarioError(where, [(f"{prefix}.scenario", "a suite cannot contain another suite")])
        overrides = part.model_dump(exclude={"scenario", "limit"}, exclude_none=True)
        if part.options:
            overrides["options"] = {**referenced.options, **part.options}
        if part.limit is not None:
            overrides["sample_size"] = part.limit
        data = {**referenced.model_dump(exclude_unset=True), **overrides}
        try:
            merged = Scenario.model_validate(data).located_at(referenced.source_path)
        except ValidationError as exc:
            raise ScenarioError(where, problems_from(exc, prefix=prefix)) from None
        problems: list[Problem] = [
            (f"{prefix}.{_PART_FIELD.get(field, field)}", message) for field, message in scenario_problems(merged)
        ]
        if problems:
            raise ScenarioError(where, problems)
        resolved.append(merged)
    return resolved


_FILE_HASHES: dict[tuple[Path, int, int], str] = {}


def _file_hash(path: Path) -> str:
    stat = path.stat()
    key = (path.resolve(), stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_HASHES:
        _FILE_HASHES[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _FILE_HASHES[key]


def data_files(scenario: Scenario) -> list[Path]:
    """The data files a (non-suite) scenario reads: its dataset folder's files, or its own `path:`."""
    spec = DATASETS[scenario.dataset]
    if spec.user_file:
        base = scenario.source_path.parent if scenario.source_path else Path.cwd()
        path = base / (scenario.path or "")
        return [path] if path.is_file() else []
    folder = scenarios_dir() / "data" / (spec.folder or spec.name)
    return sorted(path for path in folder.rglob("*") if path.is_file())


def scenario_hash(scenario: Scenario) -> str:
    """A content hash for run provenance: the scenario file's bytes, the effective settings, and the data files.

    Any edit to the YAML, to a suite's parts, or to a data file changes it; moving the checkout does not.
    """
    digest = hashlib.sha256(b"faithcheck-scenario-v1\n")
    if scenario.source_path is not None and scenario.source_path.is_file():
        digest.update(scenario.source_path.read_bytes())
    digest.update(scenario.model_dump_json().encode())
    if scenario.is_suite:
        for part in resolve_parts(scenario):
            digest.update(scenario_hash(part).encode())
        return digest.hexdigest()
    for path in data_files(scenario):
        root = path.parent if DATASETS[scenario.dataset].user_file else scenarios_dir() / "data"
        digest.update(f"{path.relative_to(root).as_posix()}\0{_file_hash(path)}\n".encode())
    return digest.hexdigest()
