"""Shapley values of a few players for a vector-valued game, exactly or by permutation sampling.

The game is given as the values of the coalitions a plan needs, so the caller can compute them all at once (every
coalition is a model call: they are batched, deduplicated and run concurrently). A plan is exact when enumerating
every coalition costs no more than the sampling budget, otherwise it samples permutations (Castro et al. 2009),
each together with its reverse (antithetic sampling halves the variance for little cost), and averages each player's
marginal contribution v(S ∪ {i}) - v(S) over them.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Coalition = frozenset[int]


@dataclass(frozen=True)
class ShapleyPlan:
    """Which coalitions to evaluate, and how to turn their values into Shapley values."""

    players: int
    method: Literal["exact", "permutation"]
    permutations: tuple[tuple[int, ...], ...] = ()
    """The sampled orders (permutation method only)."""

    @property
    def coalitions(self) -> list[Coalition]:
        """Every coalition whose value is needed, each once, smallest first."""
        if self.method == "exact":
            everyone = range(self.players)
            return [frozenset(c) for size in range(self.players + 1) for c in itertools.combinations(everyone, size)]
        seen: dict[Coalition, None] = {frozenset(): None}
        for order in self.permutations:
            for k in range(1, len(order) + 1):
                seen.setdefault(frozenset(order[:k]), None)
        return sorted(seen, key=len)

    def values(self, game: Mapping[Coalition, Sequence[float]]) -> list[list[float]]:
        """Shapley values [player][output] from the value of every coalition in `coalitions`."""
        outputs = len(game[frozenset()])
        phi = [[0.0] * outputs for _ in range(self.players)]
        if self.method == "exact":
            n = self.players
            for coalition in self.coalitions:
                if len(coalition) == n:
                    continue
                weight = math.factorial(len(coalition)) * math.factorial(n - len(coalition) - 1) / math.factorial(n)
                for player in range(n):
                    if player in coalition:
                        continue
                    with_player = game[coalition | {player}]
                    without = game[coalition]
                    for j in range(outputs):
                        phi[player][j] += weight * (with_player[j] - without[j])
            return phi
        for order in self.permutations:
            before: Coalition = frozenset()
            for player in order:
                after = before | {player}
                for j in range(outputs):
                    phi[player][j] += game[after][j] - game[before][j]
                before = after
        count = len(self.permutations)
        return [[value / count for value in row] for row in phi]


def plan_shapley(players: int, permutations: int, rng: random.Random) -> ShapleyPlan:
    """Exact when 2^players coalitions cost no more than `permutations` sampled orders would, else sampled.

    `permutations` is rounded up to an even number: each sampled order is used with its reverse.
    """
    if players < 1:
        raise ValueError("a Shapley plan needs at least one player")
    pairs = max(1, math.ceil(permutations / 2))
    budget = 2 * pairs * players + 1
    if 2**players <= budget:
        return ShapleyPlan(players, "exact")
    orders: list[tuple[int, ...]] = []
    for _ in range(pairs):
        order = list(range(players))
        rng.shuffle(order)
        orders.append(tuple(order))
        orders.append(tuple(reversed(order)))
    return ShapleyPlan(players, "permutation", tuple(orders))
