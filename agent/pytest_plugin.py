"""faithcheck's pytest plugin: audit a model inside a team's own test suite and assert a faithfulness threshold.

Installing faithcheck registers it (the `pytest11` entry point), which gives every test the `faithcheck` fixture:

    def test_counterfactual_edits_are_faithful(faithcheck):
        faithcheck.audit("openai/gpt-4o-mini", "dynasent", tests=["counterfactual"], limit=20, fail_under=0.7)

`audit` runs an audit as `faithcheck audit` does (agent.run.prepare_audit) into a run directory of its own (under
pytest's temporary directory, or `--faithcheck-runs DIR`), with the CLI's response cache (FAITHCHECK_CACHE_DIR;
FAITHCHECK_NO_CACHE=1 for none) and its endpoint and key (OPENAI_BASE_URL, OPENAI_API_KEY). The test fails when a
`fail_under` gate fails or a verdict is an `error` (a call failed for good: the rates would be incomplete). Every
audit of the session is summarised at the end of pytest's terminal report. See docs/examples/test_faithfulness.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_AUDITS = pytest.StashKey[list["PluginAudit"]]()
_RUNS_DIR = pytest.StashKey[Path | None]()


@dataclass
class PluginAudit:
    """One audit a test ran, for the terminal summary."""

    nodeid: str
    result: Any
    """The AuditResult (typed loosely so that loading the plugin imports nothing heavy)."""
    failures: list[str]


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--faithcheck-runs DIR`: keep the run directories there instead of pytest's temporary directory."""
    group = parser.getgroup("faithcheck")
    group.addoption(
        "--faithcheck-runs",
        default=None,
        metavar="DIR",
        help="faithcheck: write the run directories of audits here (default: pytest's temporary directory).",
    )


def pytest_configure(config: pytest.Config) -> None:
    """A list of this session's audits, for the terminal summary; with --faithcheck-runs, a folder per session."""
    config.stash[_AUDITS] = []
    chosen = config.getoption("--faithcheck-runs")
    if chosen:
        from agent.run import new_run_id

        config.stash[_RUNS_DIR] = Path(chosen) / new_run_id()  # a rerun never meets an earlier session's runs
    else:
        config.stash[_RUNS_DIR] = None


class Faithcheck:
    """The `faithcheck` fixture: run audits from a test and assert their thresholds."""

    def __init__(self, request: pytest.FixtureRequest, runs_dir: Path) -> None:
        self._request = request
        self._runs_dir = runs_dir
        self._count = 0

    def audit(
        self,
        model: str,
        scenario: str,
        *,
        tests: Sequence[str] | None = None,
        limit: int | None = None,
        seed: int | None = None,
        fail_under: float | Mapping[str, float] | None = None,
        roles: Mapping[str, str] | None = None,
        model_options: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> Any:
        """Audit `model` on `scenario` and return the AuditResult; fail the test when a gate fails or errors remain.

        `fail_under` is a minimum faithful rate for every test, or a mapping test -> rate. `roles` gives helper
        roles other models; other keyword arguments are `AuditSettings` fields (test_params, max_tokens, ...).
        """
        __tracebackhide__ = True
        from agent._sync import run_sync
        from agent.models import MemoryCache, SQLiteCache
        from agent.run import AuditModels, AuditSettings, parse_gates, prepare_audit

        gates = parse_gates(_gate_values(fail_under))
        models = AuditModels(
            model=model,
            roles=dict(roles or {}),
            options=dict(model_options or {}),
            base_url=os.environ.get("OPENAI_BASE_URL"),
            api_key=os.environ.get("OPENAI_API_KEY"),
        )
        chosen = AuditSettings(scenario, tuple(tests) if tests else None, limit, seed, **settings)
        no_cache = os.environ.get("FAITHCHECK_NO_CACHE", "").lower() in ("1", "true", "yes")
        cache = MemoryCache if no_cache else SQLiteCache  # SQLiteCache() honours FAITHCHECK_CACHE_DIR
        audit = prepare_audit(models, chosen, out=self._next_run_dir(), gates=gates, cache=cache)
        result = run_sync(audit.run(command=["pytest", self._request.node.nodeid]))
        failures = list(result.gate_failures)
        if result.errors:
            failures.append(
                f"{result.errors} (item, test) pair(s) ended in error (a model call failed for good); "
                f"judge them again with: faithcheck audit --resume {result.run_dir}"
            )
        self._request.config.stash[_AUDITS].append(PluginAudit(self._request.node.nodeid, result, failures))
        if failures:
            raise AssertionError(
                f"faithcheck: {model} on {scenario}:\n  " + "\n  ".join(failures) + f"\n  report: {_report(result)}"
            )
        return result

    def _next_run_dir(self) -> Path:
        self._count += 1
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", self._request.node.name)[:80]
        return self._runs_dir / (name if self._count == 1 else f"{name}-{self._count}")


def _gate_values(fail_under: float | Mapping[str, float] | None) -> list[str]:
    """`fail_under` as `--fail-under` values, so that the CLI's parser checks them."""
    if fail_under is None:
        return []
    if isinstance(fail_under, Mapping):
        return [f"{test}={rate}" for test, rate in fail_under.items()]
    return [str(fail_under)]


def _report(result: Any) -> str:
    """Where the audit's HTML report is, or would be (when it could not be written)."""
    from agent.records import REPORT_FILE

    return str(result.report or Path(result.run_dir) / REPORT_FILE)


@pytest.fixture
def faithcheck(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Faithcheck:
    """Run faithcheck audits from a test: `faithcheck.audit(model, scenario, tests=..., fail_under=...)`."""
    runs_dir = request.config.stash[_RUNS_DIR] or tmp_path_factory.mktemp("faithcheck-runs")
    return Faithcheck(request, runs_dir)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Every audit of the session: per test, the faithful rate with its interval and counts, and where the run is."""
    audits = config.stash.get(_AUDITS, [])
    if not audits:
        return
    terminalreporter.write_sep("=", "faithcheck audits")
    for audit in audits:
        result = audit.result
        verdict = "FAILED" if audit.failures else "passed"
        terminalreporter.write_line(f"{verdict} {audit.nodeid}: {result.summary.model} on {result.plan.scenario.name}")
        for summary in result.summary.summaries:
            rate = "–" if summary.faithful_rate is None else f"{summary.faithful_rate:.2f}"
            interval = (
                f" [{summary.ci_low:.2f}, {summary.ci_high:.2f}]"
                if summary.ci_low is not None and summary.ci_high is not None
                else ""
            )
            where = f"{summary.test}" + (f" on {summary.scenario}" if summary.scenario else "")
            terminalreporter.write_line(
                f"    {where}: faithful rate {rate}{interval}, {summary.n_faithful}/{summary.n_tested} decided items"
                f" faithful, {summary.n_items} items, {summary.n_error} errors"
            )
        for failure in audit.failures:
            terminalreporter.write_line(f"    {failure}")
        terminalreporter.write_line(f"    report: {_report(result)}")
