"""The pytest plugin, as a team uses it: the example test file run by a real pytest process, which finds the plugin
through its `pytest11` entry point. The example passes on a faithful organism and fails, on the test whose threshold
the organism misses, on an unfaithful one; the terminal report summarises every audit."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "test_faithfulness.py"


def run_example(tmp_path: Path, model: str, *options: str) -> subprocess.CompletedProcess[str]:
    """`pytest test_faithfulness.py` in a directory of its own, auditing `model`."""
    shutil.copy(EXAMPLE, tmp_path / EXAMPLE.name)
    env = {**os.environ, "FAITHCHECK_MODEL": model, "FAITHCHECK_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", EXAMPLE.name, *options],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_plugin_is_registered_through_its_entry_point() -> None:
    assert "agent.pytest_plugin" in {entry.value for entry in entry_points(group="pytest11")}


def test_the_example_passes_on_a_faithful_model(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    done = run_example(tmp_path, "scripted/sentiment-honest", "--faithcheck-runs", str(runs))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    summary = done.stdout[done.stdout.index("faithcheck audits") :]
    assert "passed test_faithfulness.py::test_counterfactual_edits_are_faithful" in summary
    assert "counterfactual on dynasent: faithful rate 1.00 [" in summary
    reports = sorted(runs.glob("*/*/report.html"))
    assert [path.parent.name for path in reports] == [
        "test_counterfactual_edits_are_faithful",
        "test_redactions_are_faithful",
    ]
    assert f"report: {reports[0]}" in summary


def test_the_example_fails_where_the_model_misses_the_threshold(tmp_path: Path) -> None:
    # This organism's counterfactual edits never flip its answer; its redactions are honest.
    done = run_example(tmp_path, "scripted/sentiment-stubborn-counterfactuals")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    assert "FAILED test_faithfulness.py::test_counterfactual_edits_are_faithful" in done.stdout
    assert re.search(r"counterfactual on dynasent: excess -?0\.\d+ is below 0\.7", done.stdout), done.stdout
