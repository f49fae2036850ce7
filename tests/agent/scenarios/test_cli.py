"""`faithcheck scenarios`: lists every scenario with its data, kind, item count, tests and licence."""

from __future__ import annotations

import json

import pytest

from agent.cli import main
from agent.resources import scenarios_dir
from tests.fixtures.scenarios import WriteFile


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_lists_every_shipped_scenario(capsys: pytest.CaptureFixture[str], user_scenarios: object) -> None:
    code, out, _ = run(capsys, "scenarios", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)["scenarios"]}
    assert set(rows) == {path.stem for path in scenarios_dir().glob("*.yaml")}
    dynasent = rows["dynasent"]
    assert (dynasent["dataset"], dynasent["kind"], dynasent["available"]) == ("dynasent", "classification", 2400)
    assert dynasent["items"] == 100
    assert dynasent["licence"].startswith("CC BY 4.0")
    assert "redaction" in dynasent["tests"]
    assert rows["sst2"]["licence"] == "none stated (unknown)"
    assert rows["gsm8k"]["kind"] == "free_form"
    demo = rows["demo"]
    assert demo["kind"] == "suite"
    assert [(part["dataset"], part["items"]) for part in demo["parts"]] == [("dynasent", 8), ("bbh_turpin", 4)]
    assert demo["items"] == 12


def test_table_shows_user_scenarios(capsys: pytest.CaptureFixture[str], write_file: WriteFile) -> None:
    write_file("data/q.jsonl", '{"q": "Why?", "a": "Because."}\n')
    write_file(
        "why.yaml",
        "dataset: jsonl\npath: data/q.jsonl\nlicence: CC0-1.0\ntask: {kind: free_form, instruction: Answer.}\n"
        "fields: {inputs: [q], gold: a}\ntests: [paraphrasing]\n",
    )
    code, out, _ = run(capsys, "scenarios")
    assert code == 0
    assert "why" in out
    assert "CC0-1.0" in out
    assert "bbh_turpin" in out


def test_a_broken_user_scenario_is_one_line_on_stderr(
    capsys: pytest.CaptureFixture[str], write_file: WriteFile
) -> None:
    path = write_file("broken.yaml", "dataset: dynasent\ntests: [vibes]\n")
    code, out, err = run(capsys, "scenarios", "--json")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert f"{path}: field 'tests[0]'" in err
