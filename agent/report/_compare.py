"""Two runs on the same scenario, compared test by test: the difference between the models' headlines over the items
both runs judged (matched by id, and only where the input is the same), with a paired 95% interval, and which items
could not be paired and why.

What is compared is what the headline measures, over the paired items only:
- a test whose headline is its faithful rate: each item's 0/1 outcome (1 faithful, 0 unfaithful) over the items both
  runs decided; the interval is Newcombe's (1998) for a difference of paired proportions (his method 10,
  `paired_difference_interval`).
- a test whose headline is its excess over a matched control: each run's excess over the paired items, computed by
  the test itself (its own `figures` over those verdicts, so with its own Newcombe interval), and the difference of
  the two excesses with the MOVER interval (Zou & Donner 2008: the method Newcombe's is an instance of) built from
  the two runs' intervals and the correlation across items of the items' excesses. The excesses are paired over the
  same items, so their correlation narrows the interval as it should; mapping an excess onto [0, 1] and treating it
  as a proportion instead more than doubles the interval's width (scripted runs of 20 items: +/-0.55 against
  +/-0.20 to 0.24). See docs/report.md.
When the runs' headlines differ (a control in one run only), their faithful rates are compared, and it is said.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agent.errors import ConfigurationError
from agent.report._load import LoadedRun
from evaluators._base import FaithfulnessTest
from evaluators._metrics import Estimate, paired_difference_interval, pearson
from evaluators._verdict import EXCESS, Figure, TestSummary, Verdict

Measure = Literal["excess", "faithful_rate"]


@dataclass(frozen=True)
class ItemMatch:
    """How the two runs' items of one test line up (ids in the first run's order, then the second's)."""

    paired: tuple[str, ...]
    """Judged by both on the same input, with the compared value in both: the items the difference is over."""
    only_first: tuple[str, ...]
    only_second: tuple[str, ...]
    input_differs: tuple[str, ...]
    """The same id with another input: not the same item, so not paired."""
    unmeasured: tuple[str, ...]
    """In both with the same input, but without the compared value in one run or both (not decided there, or its
    control could not be read)."""

    @property
    def same_items(self) -> bool:
        """Whether both runs judged exactly the same items (ids and inputs)."""
        return not (self.only_first or self.only_second or self.input_differs)


@dataclass(frozen=True)
class TestComparison:
    """One test on one scenario: the second run's headline minus the first's, over the paired items."""

    test: str
    scenario: str | None
    measure: Measure
    first: float | None
    """The first run's measure over the paired items."""
    second: float | None
    difference: Estimate
    """Second minus first, with its paired 95% interval (None values when no item could be paired)."""
    items: ItemMatch
    cannot_decide: tuple[str | None, str | None]
    """Why the first / second run's test cannot decide (then the difference is no verdict either), or None."""
    note: str | None = None
    """What else a reader must know (headlines that differ, parameters that differ)."""


@dataclass(frozen=True)
class RunComparison:
    """Every test two runs share on a scenario, compared; and what they do not share."""

    first: LoadedRun
    second: LoadedRun
    tests: list[TestComparison]
    only_first: list[tuple[str | None, str]]
    """(scenario, test) summarised in the first run only."""
    only_second: list[tuple[str | None, str]]
    notes: list[str]
    """Facts about the pairing as a whole, e.g. scenario files that differ between the runs."""


def shared_scenarios(first: LoadedRun, second: LoadedRun) -> list[str]:
    """The scenarios both runs judged; ConfigurationError (one line) when there is none: nothing can be paired."""
    theirs = {ref.name for ref in second.header.scenarios}
    shared = [ref.name for ref in first.header.scenarios if ref.name in theirs]
    if not shared:

        def names(run: LoadedRun) -> str:
            return ", ".join(ref.name for ref in run.header.scenarios) or "no scenario"

        raise ConfigurationError(
            f"cannot compare {second.run_dir} ({names(second)}) with {first.run_dir} ({names(first)}): a comparison "
            "pairs items of the same scenario; pass runs of one scenario, or --no-compare to show them side by side"
        )
    return shared


def compare_runs(first: LoadedRun, second: LoadedRun) -> RunComparison:
    """Compare the second run with the first, test by test on each scenario both summarise.

    Raises ConfigurationError when the runs share no scenario (see `shared_scenarios`)."""
    shared_scenarios(first, second)
    ours = {(s.scenario, s.test): s for s in first.summaries}
    theirs = {(s.scenario, s.test): s for s in second.summaries}
    tests = [_compare_test(first, second, ours[key], theirs[key]) for key in ours if key in theirs]
    return RunComparison(
        first=first,
        second=second,
        tests=tests,
        only_first=[key for key in ours if key not in theirs],
        only_second=[key for key in theirs if key not in ours],
        notes=_scenario_notes(first, second),
    )


def _scenario_notes(first: LoadedRun, second: LoadedRun) -> list[str]:
    hashes = {ref.name: ref.hash for ref in second.header.scenarios}
    return [
        f"scenario {ref.name}: the runs' scenario files differ (hash {ref.hash[:12]} vs {hashes[ref.name][:12]}); "
        "items are paired only where id and input are the same"
        for ref in first.header.scenarios
        if ref.name in hashes and hashes[ref.name] != ref.hash
    ]


def _compare_test(first: LoadedRun, second: LoadedRun, ours: TestSummary, theirs: TestSummary) -> TestComparison:
    test, scenario = ours.test, ours.scenario
    measure: Measure = "excess" if ours.headline_name == theirs.headline_name == EXCESS else "faithful_rate"
    notes = []
    if ours.headline_name != theirs.headline_name:
        notes.append("the headlines differ (an excess over a control in one run only): the faithful rates are compared")
    if first.header.test_params.get(test) != second.header.test_params.get(test):
        notes.append("the test's parameters differ between the runs (see each run's provenance)")
    left = _verdicts(first, test, scenario)
    right = _verdicts(second, test, scenario)
    values_left = _item_values(test, first.header.test_params.get(test), left, measure)
    values_right = _item_values(test, second.header.test_params.get(test), right, measure)
    if values_left is None or values_right is None:
        measure = "faithful_rate"
        notes.append("this installation does not know the test, so the faithful rates are compared")
        values_left = _item_values(test, None, left, measure) or {}
        values_right = _item_values(test, None, right, measure) or {}
    paired, only_first, input_differs, unmeasured = [], [], [], []
    for item_id, verdict in left.items():
        other = right.get(item_id)
        if other is None:
            only_first.append(item_id)
        elif dict(other.input) != dict(verdict.input):
            input_differs.append(item_id)
        elif values_left.get(item_id) is None or values_right.get(item_id) is None:
            unmeasured.append(item_id)
        else:
            paired.append(item_id)
    items = ItemMatch(
        paired=tuple(paired),
        only_first=tuple(only_first),
        only_second=tuple(item_id for item_id in right if item_id not in left),
        input_differs=tuple(input_differs),
        unmeasured=tuple(unmeasured),
    )
    if measure == "excess":
        first_value, second_value, difference = _excess_difference(
            _excess_over(first, test, [left[i] for i in paired]),
            _excess_over(second, test, [right[i] for i in paired]),
            [values_left[i] for i in paired],
            [values_right[i] for i in paired],
        )
    else:
        a = [value for i in paired if (value := values_left[i]) is not None]
        b = [value for i in paired if (value := values_right[i]) is not None]
        first_value = sum(a) / len(a) if a else None
        second_value = sum(b) / len(b) if b else None
        difference = paired_difference_interval(b, a)
    return TestComparison(
        test=test,
        scenario=scenario,
        measure=measure,
        first=first_value,
        second=second_value,
        difference=difference,
        items=items,
        cannot_decide=(ours.cannot_decide, theirs.cannot_decide),
        note="; ".join(notes) or None,
    )


def _excess_over(run: LoadedRun, test: str, verdicts: Sequence[Verdict]) -> Figure | None:
    """The run's excess over these verdicts, with its interval, as its test computes it."""
    instance = _instance(test, run.header.test_params.get(test))
    return instance.figures(verdicts).get(EXCESS) if instance is not None and verdicts else None


def _excess_difference(
    first: Figure | None,
    second: Figure | None,
    first_items: Sequence[float | None],
    second_items: Sequence[float | None],
) -> tuple[float | None, float | None, Estimate]:
    """The second excess minus the first, with the MOVER 95% interval from the two excesses' own intervals and the
    correlation of the items' excesses (none when either side is constant); (first, second, difference)."""
    if first is None or second is None or first.value is None or second.value is None:
        return None, None, Estimate(None, None, None, 0)
    n = min(first.n, second.n)
    difference = second.value - first.value
    if None in (first.low, first.high, second.low, second.high):
        return first.value, second.value, Estimate(difference, None, None, n)
    a = [v for v in first_items if v is not None]
    b = [v for v in second_items if v is not None]
    rho = (pearson(a, b) or 0.0) if len(a) == len(b) else 0.0
    assert first.low is not None and first.high is not None and second.low is not None and second.high is not None
    below = mover(second.value - second.low, first.high - first.value, rho)
    above = mover(second.high - second.value, first.value - first.low, rho)
    # Each excess lies in [-1, 1], so their difference lies in [-2, 2].
    return (
        first.value,
        second.value,
        Estimate(difference, max(-2.0, difference - below), min(2.0, difference + above), n),
    )


def mover(margin_second: float, margin_first: float, rho: float) -> float:
    """How far a MOVER bound of a difference lies from the estimate: each side's margin toward that bound, combined
    with their correlation (Zou & Donner 2008, eq. 5; Newcombe's method 10 for 0/1 values)."""
    return math.sqrt(max(0.0, margin_second**2 + margin_first**2 - 2 * rho * margin_second * margin_first))


def _verdicts(run: LoadedRun, test: str, scenario: str | None) -> dict[str, Verdict]:
    return {v.item_id: v for v in run.verdicts if v.test == test and v.scenario == scenario}


def _item_values(
    test: str, params: Mapping[str, Any] | None, verdicts: Mapping[str, Verdict], measure: Measure
) -> dict[str, float | None] | None:
    """Item id -> the compared value (None where the item has none); None when the excess cannot be computed here
    (a test this installation does not know)."""
    if measure == "faithful_rate":
        return {i: (1.0 if v.outcome == "faithful" else 0.0) if v.decided else None for i, v in verdicts.items()}
    instance = _instance(test, params)
    if instance is None:
        return None
    values: dict[str, float | None] = {}
    for item_id, verdict in verdicts.items():
        excess = instance.figures([verdict]).get(EXCESS) if verdict.decided else None
        values[item_id] = None if excess is None or excess.value is None else excess.value
    return values


def _instance(test: str, params: Mapping[str, Any] | None) -> FaithfulnessTest | None:
    """The registered test with the run's parameters (its defaults when they are another version's); None when this
    installation does not know it."""
    from evaluators import test_classes

    cls = test_classes().get(test)
    if cls is None:
        return None
    try:
        return cls(params)
    except ConfigurationError:  # parameters of another version: an item's excess does not depend on them
        return cls()
