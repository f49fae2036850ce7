"""Scenarios: which dataset, how its task is framed, which paradigms and faithfulness tests, how many items.

Built-in scenarios live in `scenarios/*.yaml` with their data in `scenarios/data/`; users add their own on
FAITHCHECK_SCENARIOS_PATH, including JSONL or CSV data with a field mapping, and suites that combine scenarios.
"""

from agent.scenarios._catalogue import (
    SCENARIOS_PATH_ENV,
    list_scenarios,
    load_scenario,
    read_scenario_file,
    resolve_parts,
    scenario_dirs,
    scenario_hash,
)
from agent.scenarios._data import ScenarioData, load_data, load_parts
from agent.scenarios._errors import ScenarioError
from agent.scenarios._framing import FieldMapping, TaskFraming
from agent.scenarios._registry import DATASETS, SUITE, get_dataset
from agent.scenarios._sampling import sample
from agent.scenarios._schema import Scenario, SuitePart
from agent.scenarios._text import detokenise
from agent.scenarios._types import DataFileError, DatasetSpec
from agent.scenarios._vocabulary import PARADIGMS, TEST_NAMES, known_test_names, set_test_name_source

__all__ = [
    "DATASETS",
    "PARADIGMS",
    "SCENARIOS_PATH_ENV",
    "SUITE",
    "TEST_NAMES",
    "DataFileError",
    "DatasetSpec",
    "FieldMapping",
    "Scenario",
    "ScenarioData",
    "ScenarioError",
    "SuitePart",
    "TaskFraming",
    "detokenise",
    "get_dataset",
    "known_test_names",
    "list_scenarios",
    "load_data",
    "load_parts",
    "load_scenario",
    "read_scenario_file",
    "resolve_parts",
    "sample",
    "scenario_dirs",
    "scenario_hash",
    "set_test_name_source",
]
