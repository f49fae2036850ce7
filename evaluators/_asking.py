"""Shared measures of the input-perturbation tests: how far an answer distribution moved, and how big an edit is.
(Asking goes through `evaluators._trial.Trial`.)"""

from __future__ import annotations

from agent.paradigms import Prediction
from evaluators._metrics import total_variation


def distribution_shift(before: Prediction, after: Prediction) -> float | None:
    """Total variation distance between two answer distributions (None unless both exist)."""
    if before.distribution is None or after.distribution is None:
        return None
    return total_variation(before.distribution, after.distribution)


def word_edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two texts counted in whitespace-separated words."""
    x, y = a.split(), b.split()
    previous = list(range(len(y) + 1))
    for i, word in enumerate(x, start=1):
        current = [i]
        for j, other in enumerate(y, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1]
