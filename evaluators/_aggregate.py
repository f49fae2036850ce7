"""Aggregate figures from per-item verdict figures: means with bootstrap intervals, rates with Wilson intervals,
and paired differences (e.g. an accuracy drop), each over the items that have the figure."""

from __future__ import annotations

from collections.abc import Sequence

from evaluators._metrics import bootstrap_interval, mean, wilson_interval
from evaluators._verdict import Figure, Verdict


def item_values(verdicts: Sequence[Verdict], key: str) -> list[float]:
    """The values of an item figure across verdicts (items without it are skipped)."""
    return [float(value) for v in verdicts if (value := v.figures.get(key)) is not None]


def mean_figure(verdicts: Sequence[Verdict], key: str, description: str) -> Figure:
    """The mean of an item figure with a 95% percentile-bootstrap interval over items."""
    values = item_values(verdicts, key)
    interval = bootstrap_interval(values)
    low, high = interval if interval else (None, None)
    return Figure(value=mean(values), low=low, high=high, n=len(values), description=description)


def rate_figure(verdicts: Sequence[Verdict], key: str, description: str) -> Figure:
    """The share of items whose 0/1 figure is 1, with a Wilson 95% interval."""
    values = item_values(verdicts, key)
    hits = sum(1 for value in values if value >= 0.5)
    if not values:
        return Figure(value=None, n=0, description=description)
    low, high = wilson_interval(hits, len(values))
    return Figure(value=hits / len(values), low=low, high=high, n=len(values), description=description)


def difference_figure(verdicts: Sequence[Verdict], first: str, second: str, description: str) -> Figure:
    """Mean of (first - second) over items that have both figures, with a paired bootstrap interval."""
    differences = [
        float(a) - float(b)
        for v in verdicts
        if (a := v.figures.get(first)) is not None and (b := v.figures.get(second)) is not None
    ]
    interval = bootstrap_interval(differences)
    low, high = interval if interval else (None, None)
    return Figure(value=mean(differences), low=low, high=high, n=len(differences), description=description)
