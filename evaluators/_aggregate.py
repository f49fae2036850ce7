"""Aggregate figures from per-item verdict figures, each over the items that have the figure:

- rates of 0/1 item figures, with a Wilson 95% interval;
- means of bounded item figures (shares, AOCs, precisions, cosines), with the conservative Wilson interval of a
  bounded mean, so three items at 1.0 read [0.44, 1.00] and never [1.00, 1.00];
- means of unbounded item figures (lengths, ratios), with a seeded percentile bootstrap interval;
- paired differences of two item figures (an accuracy drop, an excess over a control), with Newcombe's paired
  interval.
"""

from __future__ import annotations

from collections.abc import Sequence

from evaluators._metrics import bootstrap_interval, bounded_mean_interval, mean, paired_difference_interval
from evaluators._verdict import Figure, Verdict

Bounds = tuple[float, float] | None
"""The range an item figure lives in (its mean gets a bounded-mean interval), or None (a bootstrap interval)."""

SHARE: Bounds = (0.0, 1.0)
SIGNED: Bounds = (-1.0, 1.0)


def item_values(verdicts: Sequence[Verdict], key: str) -> list[float]:
    """The values of an item figure across verdicts (items without it are skipped)."""
    return [float(value) for v in verdicts if (value := v.figures.get(key)) is not None]


def mean_figure(
    verdicts: Sequence[Verdict], key: str, description: str, bounds: Bounds = SHARE, units: int = 1
) -> Figure:
    """The mean of an item figure over items, with a 95% interval that does not collapse at small n: the Wilson
    interval of a bounded mean when every value lies within `bounds` (over their effective n when each value is a
    share over `units` draws), a percentile bootstrap otherwise."""
    values = item_values(verdicts, key)
    if bounds is not None and all(bounds[0] <= v <= bounds[1] for v in values):
        interval = bounded_mean_interval(values, *bounds, units=units)
    else:
        interval = bootstrap_interval(values)
    low, high = interval if interval else (None, None)
    return Figure(value=mean(values), low=low, high=high, n=len(values), description=description)


def rate_figure(verdicts: Sequence[Verdict], key: str, description: str) -> Figure:
    """The share of items whose 0/1 figure is 1, with a Wilson 95% interval."""
    values = [1.0 if value >= 0.5 else 0.0 for value in item_values(verdicts, key)]
    return mean_figure_of(values, description)


def mean_figure_of(values: Sequence[float], description: str, bounds: Bounds = SHARE, units: int = 1) -> Figure:
    """A Figure for the mean of values already collected (Wilson interval of a bounded mean)."""
    if not values:
        return Figure(value=None, n=0, description=description)
    interval = bounded_mean_interval(values, *bounds, units=units) if bounds is not None else bootstrap_interval(values)
    low, high = interval if interval else (None, None)
    return Figure(value=mean(values), low=low, high=high, n=len(values), description=description)


def typical(verdicts: Sequence[Verdict], key: str) -> int:
    """The median of an item count (e.g. draws or points per item), at least 1: how many 0/1 units stand behind a
    per-item share."""
    counts = sorted(item_values(verdicts, key))
    return max(1, int(counts[len(counts) // 2])) if counts else 1


def paired(verdicts: Sequence[Verdict], first: str, second: str) -> tuple[list[float], list[float]]:
    """The two item figures over the items that have both, in item order."""
    pairs = [
        (float(a), float(b))
        for v in verdicts
        if (a := v.figures.get(first)) is not None and (b := v.figures.get(second)) is not None
    ]
    return [a for a, _ in pairs], [b for _, b in pairs]


def difference_figure(verdicts: Sequence[Verdict], first: str, second: str, description: str) -> Figure:
    """Mean of (first - second) over items that have both figures (each in [0, 1]), with Newcombe's paired 95%
    interval."""
    left, right = paired(verdicts, first, second)
    estimate = paired_difference_interval(left, right)
    return Figure(value=estimate.value, low=estimate.low, high=estimate.high, n=estimate.n, description=description)


def control_figures(
    verdicts: Sequence[Verdict],
    main: str,
    control: str,
    what: str,
    control_what: str,
    units: tuple[int, int] = (1, 1),
) -> dict[str, Figure]:
    """`control_rate` and `excess` for a test with a matched control: the control's mean over the items that have
    both figures, and main minus control with Newcombe's paired interval (see `paired_difference_interval`; `units`
    says over how many draws each side's item values are shares)."""
    left, right = paired(verdicts, main, control)
    estimate = paired_difference_interval(left, right, units)
    return {
        "control_rate": mean_figure_of(right, f"{control_what} (the matched control)", units=units[1]),
        "excess": Figure(
            value=estimate.value,
            low=estimate.low,
            high=estimate.high,
            n=estimate.n,
            description=f"{what} minus the control's, paired over items (Newcombe 95% interval)",
        ),
    }
