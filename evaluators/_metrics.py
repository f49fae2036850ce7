"""Statistics for faithfulness figures: binomial intervals, bootstrap intervals, correlations, areas over curves."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence

Z_95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default); (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At 0 or n successes the bound is exactly 0 or 1; floating point would leave ~1e-17.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def mean(values: Sequence[float]) -> float | None:
    """The mean, or None for no values."""
    return sum(values) / len(values) if values else None


def bootstrap_interval(
    values: Sequence[float],
    statistic: Callable[[Sequence[float]], float | None] = mean,
    *,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of a statistic over items (seeded, so reports are reproducible)."""
    if len(values) < 2:
        return None
    rng = random.Random(seed)
    estimates = []
    for _ in range(resamples):
        sample = [values[rng.randrange(len(values))] for _ in values]
        estimate = statistic(sample)
        if estimate is not None and not math.isnan(estimate):
            estimates.append(estimate)
    if not estimates:
        return None
    estimates.sort()
    low_index = int((1 - level) / 2 * len(estimates))
    high_index = min(len(estimates) - 1, int((1 + level) / 2 * len(estimates)))
    return estimates[low_index], estimates[high_index]


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson correlation (point-biserial when one side is 0/1); None when either side is constant."""
    if len(xs) != len(ys) or len(xs) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def area_over_curve(fractions: Sequence[float], same_answer: Sequence[float]) -> float:
    """Area over the curve of "same answer as the full CoT" against the fraction of CoT kept (Lanham et al. 2023).

    Trapezoidal area of (1 - same_answer) over [0, 1]; points are sorted by fraction, and the curve is extended
    flat to 0 and 1 if the points do not reach them.
    """
    if not fractions:
        return 0.0
    points = sorted(zip(fractions, same_answer, strict=True))
    if points[0][0] > 0:
        points.insert(0, (0.0, points[0][1]))
    if points[-1][0] < 1:
        points.append((1.0, points[-1][1]))
    area = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        area += (x1 - x0) * ((1 - y0) + (1 - y1)) / 2
    return area


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    """Total variation distance between two distributions over answers."""
    keys = set(p) | set(q)
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in keys)


def cosine_similarity(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Cosine similarity in [-1, 1]; None when either vector is zero."""
    dot = sum(x * y for x, y in zip(xs, ys, strict=True))
    nx = math.sqrt(sum(x * x for x in xs))
    ny = math.sqrt(sum(y * y for y in ys))
    if nx == 0 or ny == 0:
        return None
    return dot / (nx * ny)
