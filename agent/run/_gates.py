"""CI gates: `--fail-under RATE` (every test) or `--fail-under TEST=RATE`, checked against a run's summaries.

A gate reads each test's headline (its excess over its matched control where it has one, else its faithful rate)
and fails when it is below the threshold on any scenario part, when the test decided no item at all, or when the
test says it cannot decide on this model (a gate with nothing to measure must not pass silently).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agent.errors import ConfigurationError
from evaluators import TestSummary


@dataclass(frozen=True)
class Gate:
    """A minimum faithful rate for one test, or for every test when `test` is None."""

    threshold: float
    test: str | None = None

    def applies_to(self, test: str) -> bool:
        """Whether this gate checks the named test."""
        return self.test is None or self.test == test


def parse_gates(values: Iterable[str]) -> list[Gate]:
    """`["0.8", "counterfactual=0.6"]` -> gates; a malformed value is a one-line ConfigurationError."""
    gates = []
    for value in values:
        test, sep, rate = value.rpartition("=")
        try:
            threshold = float(rate)
        except ValueError:
            raise ConfigurationError(
                f"--fail-under expects RATE or TEST=RATE with RATE between 0 and 1, got '{value}'"
            ) from None
        if not 0.0 <= threshold <= 1.0:
            raise ConfigurationError(f"--fail-under rate must be between 0 and 1, got {threshold} in '{value}'")
        if sep and not test.strip():
            raise ConfigurationError(f"--fail-under expects TEST=RATE, got '{value}'")
        gates.append(Gate(threshold, test.strip() if sep else None))
    return gates


def check_gate_tests(gates: Sequence[Gate], tests: Sequence[str]) -> None:
    """Refuse a gate on a test the audit does not run (a typo would otherwise pass every CI build)."""
    for gate in gates:
        if gate.test is not None and gate.test not in tests:
            raise ConfigurationError(
                f"--fail-under names test '{gate.test}', which this audit does not run ({', '.join(tests)})"
            )


def gate_failures(gates: Sequence[Gate], summaries: Sequence[TestSummary]) -> list[str]:
    """One line per failed gate and scenario part; empty when every gate passes."""
    failures = []
    for summary in summaries:
        where = f"{summary.test}" + (f" on {summary.scenario}" if summary.scenario else "")
        for gate in gates:
            if not gate.applies_to(summary.test):
                continue
            headline = summary.headline
            value = headline.value if headline is not None else summary.faithful_rate
            name = summary.headline_name.replace("_", " ")
            if summary.cannot_decide:
                failures.append(
                    f"{where}: cannot decide on this model ({summary.cannot_decide}; gate {gate.threshold})"
                )
            elif value is None:
                failures.append(f"{where}: no item was decided, so there is no {name} (gate {gate.threshold})")
            elif value < gate.threshold:
                failures.append(f"{where}: {name} {value:.3f} is below {gate.threshold}")
    return failures
