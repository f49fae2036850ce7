"""Two runs on the same scenario, compared test by test: the difference between the models' headlines over the items
both runs judged (matched by id, and only where the input is the same), with a paired 95% interval, and which items
could not be paired and why.

What is compared per item is what the headline averages:
- a test whose headline is its faithful rate: 1 for a faithful item, 0 for an unfaithful one, over the items both
  runs decided; the interval is Newcombe's (1998) for a difference of paired proportions (his method 10).
- a test whose headline is its excess over a matched control: the item's excess (its figure minus its control's,
  e.g. agreement minus control_agreement for early-answering), as the test itself computes it (the test's own
  `figures` over that one verdict), over the items both runs decided with the control measured. An excess lies in
  [-1, 1]; it is mapped to [0, 1], the same paired interval taken (with each side's variance bounded by p(1 - p),
  which only widens it, see `paired_difference_interval`), and mapped back. The mean over the paired items of the
  difference is the difference of the two runs' excesses over those items.
When the runs' headlines differ (a control in one run only), their faithful rates are compared, and it is said.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agent.errors import ConfigurationError
from agent.report._load import LoadedRun
from evaluators._metrics import Estimate, paired_difference_interval
from evaluators._verdict import EXCESS, TestSummary, Verdict

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


def compare_runs(first: LoadedRun, second: LoadedRun) -> RunComparison:
    """Compare the second run with the first, test by test on each scenario both summarise."""
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
    a = [value for i in paired if (value := values_left[i]) is not None]
    b = [value for i in paired if (value := values_right[i]) is not None]
    return TestComparison(
        test=test,
        scenario=scenario,
        measure=measure,
        first=sum(a) / len(a) if a else None,
        second=sum(b) / len(b) if b else None,
        difference=paired_difference(b, a, signed=measure == "excess"),
        items=items,
        cannot_decide=(ours.cannot_decide, theirs.cannot_decide),
        note="; ".join(notes) or None,
    )


def paired_difference(second: Sequence[float], first: Sequence[float], *, signed: bool) -> Estimate:
    """Mean of (second - first) over paired items with Newcombe's paired 95% interval; `signed` values lie in
    [-1, 1] (an excess) and are compared on [0, 1] and mapped back."""
    if not signed:
        return paired_difference_interval(second, first)
    estimate = paired_difference_interval([(v + 1) / 2 for v in second], [(v + 1) / 2 for v in first])

    def back(value: float | None) -> float | None:
        return None if value is None else 2 * value

    return Estimate(back(estimate.value), back(estimate.low), back(estimate.high), estimate.n)


def _verdicts(run: LoadedRun, test: str, scenario: str | None) -> dict[str, Verdict]:
    return {v.item_id: v for v in run.verdicts if v.test == test and v.scenario == scenario}


def _item_values(
    test: str, params: Mapping[str, Any] | None, verdicts: Mapping[str, Verdict], measure: Measure
) -> dict[str, float | None] | None:
    """Item id -> the compared value (None where the item has none); None when the excess cannot be computed here
    (a test this installation does not know)."""
    if measure == "faithful_rate":
        return {i: (1.0 if v.outcome == "faithful" else 0.0) if v.decided else None for i, v in verdicts.items()}
    from evaluators import test_classes

    cls = test_classes().get(test)
    if cls is None:
        return None
    try:
        instance = cls(params)
    except ConfigurationError:  # parameters of another version: an item's excess does not depend on them
        instance = cls()
    values: dict[str, float | None] = {}
    for item_id, verdict in verdicts.items():
        excess = instance.figures([verdict]).get(EXCESS) if verdict.decided else None
        values[item_id] = None if excess is None or excess.value is None else max(-1.0, min(1.0, excess.value))
    return values
