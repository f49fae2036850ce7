"""`faithcheck scenarios`: the built-in and user scenarios, with their data, tests and licences."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from agent.cli._app import main

if TYPE_CHECKING:
    from agent.scenarios import Scenario


def _licence(scenario: Scenario) -> str:
    from agent.scenarios import DATASETS

    spec = DATASETS[scenario.dataset]
    if spec.user_file:
        return scenario.licence or "not stated"
    return spec.licence


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def describe_scenario(scenario: Scenario) -> dict[str, Any]:
    """What `faithcheck scenarios` shows for one scenario (a suite sums its parts)."""
    from agent.scenarios import load_parts

    parts: list[dict[str, Any]] = [
        {
            "scenario": data.scenario.name,
            "dataset": data.scenario.dataset,
            "kind": data.task.kind,
            "items": len(data.items),
            "available": data.available,
            "tests": list(data.scenario.tests),
            "paradigms": list(data.scenario.paradigms),
            "licence": _licence(data.scenario),
        }
        for data in load_parts(scenario)
    ]
    return {
        "name": scenario.name,
        "description": scenario.description,
        "dataset": scenario.dataset,
        "kind": "suite" if scenario.is_suite else parts[0]["kind"],
        "items": sum(part["items"] for part in parts),
        "available": sum(part["available"] for part in parts),
        "tests": _unique([test for part in parts for test in part["tests"]]),
        "paradigms": _unique([paradigm for part in parts for paradigm in part["paradigms"]]),
        "licence": "; ".join(_unique([part["licence"] for part in parts])),
        "path": str(scenario.source_path) if scenario.source_path else None,
        "parts": parts if scenario.is_suite else [],
    }


@main.command("scenarios")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def scenarios_command(as_json: bool) -> None:
    """List scenarios: built-in ones and those in FAITHCHECK_SCENARIOS_PATH directories."""
    from rich import box
    from rich.table import Table

    from agent.scenarios import list_scenarios
    from agent.visible_text import SafeConsole

    rows = [describe_scenario(scenario) for scenario in list_scenarios()]
    if as_json:
        click.echo(json.dumps({"scenarios": rows}, indent=2))
        return
    table = Table(title="Scenarios (faithcheck audit --scenario NAME)", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("name", no_wrap=True)
    table.add_column("dataset / kind", max_width=16, overflow="fold")
    table.add_column("items", no_wrap=True, justify="right")
    table.add_column("tests", ratio=3, min_width=17)
    table.add_column("licence", ratio=2)
    for row in rows:
        dataset = ", ".join(part["dataset"] for part in row["parts"]) if row["parts"] else row["dataset"]
        table.add_row(
            row["name"],
            f"{dataset}\n[dim]{row['kind'].replace('_', ' ')}[/dim]",
            f"{row['items']:,}/{row['available']:,}",
            ", ".join(row["tests"]),
            row["licence"],
        )
    SafeConsole().print(table)
