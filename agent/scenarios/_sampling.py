"""Seeded, stable sampling of items.

Each item gets a rank from a hash of (seed, item id), and a sample is the n lowest-ranked items in rank order.
So the same seed gives the same items in the same order whatever order the items arrive in, a larger sample
contains every smaller one (growing a run reuses the cached work), and Python's hash randomisation never enters.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence

from agent.errors import ConfigurationError
from agent.items import Item


def _rank(seed: int, item: Item) -> bytes:
    return hashlib.sha256(f"{seed}\x00{item.id}".encode()).digest()


def stratum_key(stratify: str) -> Callable[[Item], str]:
    """The grouping for `stratify`: "gold" (the reference answer) or "meta.<key>" (e.g. "meta.task" for BBH)."""
    if stratify == "gold":
        return lambda item: str(item.gold)
    if stratify.startswith("meta.") and len(stratify) > len("meta."):
        key = stratify[len("meta.") :]
        return lambda item: str(item.meta.get(key))
    raise ConfigurationError(f"stratify must be 'gold' or 'meta.<key>', got '{stratify}'")


def sample(items: Sequence[Item], n: int | None, seed: int, stratify: str | None = None) -> list[Item]:
    """`n` items chosen by `seed` (all of them, in their original order, when `n` is None).

    With `stratify`, each group (gold label, or a meta field) gets a share of `n` proportional to its size
    (largest remainders first, ties to the alphabetically first group), and the chosen items are returned in rank
    order. Neither the groups nor the ties depend on the order the items arrive in.
    """
    if n is None:
        return list(items)
    if n < 0:
        raise ConfigurationError(f"a sample size must be at least 0, got {n}")
    ranked = sorted(items, key=lambda item: _rank(seed, item))
    if stratify is None or n >= len(items):
        return ranked[:n]
    key = stratum_key(stratify)
    members_by_group: dict[str, list[Item]] = defaultdict(list)
    for item in ranked:
        members_by_group[key(item)].append(item)
    groups = {name: members_by_group[name] for name in sorted(members_by_group)}  # ties go to the first name
    total = len(items)
    quotas = {name: n * len(members) // total for name, members in groups.items()}
    remainders = sorted(groups, key=lambda name: -(n * len(groups[name]) % total))
    for name in remainders[: n - sum(quotas.values())]:
        quotas[name] += 1
    chosen = {id(item) for name, members in groups.items() for item in members[: quotas[name]]}
    return [item for item in ranked if id(item) in chosen]
