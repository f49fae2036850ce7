"""Seeded sampling: deterministic, independent of input order, nested, and proportional when stratified."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from agent.errors import ConfigurationError
from agent.items import Item
from agent.scenarios import Scenario, load_data, sample

pytestmark = pytest.mark.usefixtures("user_scenarios")


def make_items(count: int, labels: tuple[str, ...] = ("yes", "no")) -> list[Item]:
    return [Item(id=f"item-{n}", fields={"text": f"text {n}"}, gold=labels[n % len(labels)]) for n in range(count)]


def ids(items: list[Item]) -> list[str]:
    return [item.id for item in items]


def test_same_seed_same_items_in_the_same_order_whatever_the_input_order() -> None:
    items = make_items(200)
    shuffled = list(items)
    random.Random(3).shuffle(shuffled)
    first = sample(items, 20, seed=7)
    assert ids(first) == ids(sample(items, 20, seed=7))
    assert ids(first) == ids(sample(shuffled, 20, seed=7))
    assert ids(first) != ids(sample(items, 20, seed=8))
    assert ids(first) != ids(items[:20])  # a sample is not just the head of the file


def test_larger_samples_contain_smaller_ones() -> None:
    items = make_items(100)
    assert ids(sample(items, 30, seed=1))[:10] == ids(sample(items, 10, seed=1))


def test_none_keeps_everything_in_order_and_oversized_samples_return_all() -> None:
    items = make_items(10)
    assert ids(sample(items, None, seed=5)) == ids(items)
    assert sorted(ids(sample(items, 50, seed=5))) == sorted(ids(items))
    assert sample(items, 0, seed=5) == []
    with pytest.raises(ConfigurationError):
        sample(items, -1, seed=5)


def test_stratified_sample_is_proportional_to_label_frequencies() -> None:
    items = make_items(300, labels=("a", "a", "b"))  # a: 200, b: 100
    chosen = sample(items, 30, seed=2, stratify="gold")
    assert Counter(item.gold for item in chosen) == {"a": 20, "b": 10}
    assert ids(chosen) == ids(sample(list(reversed(items)), 30, seed=2, stratify="gold"))
    odd = sample(items, 7, seed=2, stratify="gold")
    assert Counter(item.gold for item in odd) == {"a": 5, "b": 2}  # 4.67 and 2.33, largest remainder first
    tied = make_items(30, labels=("z", "y", "x"))  # 10 each: one spare place, decided by name not by input order
    assert ids(sample(tied, 4, seed=2, stratify="gold")) == ids(sample(tied[::-1], 4, seed=2, stratify="gold"))
    assert Counter(item.gold for item in sample(tied, 4, seed=2, stratify="gold")) == {"x": 2, "y": 1, "z": 1}


def test_stratify_on_a_meta_field() -> None:
    items = [Item(id=str(n), fields={"q": "?"}, gold="A", meta={"task": "xy"[n % 2]}) for n in range(40)]
    chosen = sample(items, 10, seed=0, stratify="meta.task")
    assert Counter(item.meta["task"] for item in chosen) == {"x": 5, "y": 5}
    with pytest.raises(ConfigurationError, match="stratify"):
        sample(items, 10, seed=0, stratify="label")


def test_scenario_sample_size_seed_limit_and_stratification() -> None:
    scenario = Scenario(name="s", dataset="esnli", sample_size=30, seed=4, stratify="gold")
    data = load_data(scenario)
    assert len(data.items) == 30
    assert data.available == 9824
    assert Counter(item.gold for item in data.items) == {"entailment": 10, "contradiction": 10, "neutral": 10}
    assert ids(load_data(scenario).items) == ids(data.items)
    quick = load_data(scenario, limit=5).items
    assert len(quick) == 5
    assert set(ids(quick)) <= set(ids(data.items))
    assert len(load_data(scenario, limit=500).items) == 30  # limit caps, never raises, the sample size
    assert ids(load_data(scenario, seed=5).items) != ids(data.items)


def test_bbh_sample_spreads_over_tasks() -> None:
    data = load_data(Scenario(name="b", dataset="bbh_turpin", sample_size=26, stratify="meta.task"))
    per_task = Counter(item.meta["task"] for item in data.items)
    sizes = Counter(item.meta["task"] for item in load_data(Scenario(name="all", dataset="bbh_turpin")).items)
    assert set(per_task) == set(sizes)  # every one of the 13 tasks is represented
    for task, count in per_task.items():
        assert abs(count - 26 * sizes[task] / 3299) < 1
