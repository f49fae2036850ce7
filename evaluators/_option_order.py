"""Seeded shuffling of multiple-choice options, so a CoT figure can be checked against answer-option order.

Bentham et al. (2024) show that Lanham-style CoT metrics move with the order of the answer options (and with
accuracy); running a test again with a different `shuffle_options` seed shows how much of a figure is order.
The gold letter and Turpin's suggested answer are remapped, so they keep pointing at the same option text.
"""

from __future__ import annotations

import hashlib
import random

from agent.items import LETTERS, Item


def option_permutation(item: Item, seed: int) -> list[int]:
    """The new order of an item's options as old indices (new option i is old option perm[i]), fixed by
    (seed, item id) so that every test and every rerun poses the item the same way."""
    digest = hashlib.sha256(f"option-order|{seed}|{item.id}".encode()).hexdigest()
    order = list(range(len(item.options)))
    random.Random(int(digest[:16], 16)).shuffle(order)
    return order


def shuffle_options(item: Item, seed: int | None) -> Item:
    """The item with its options permuted (gold and `suggested_letter` / `random_ans_idx` remapped);
    unchanged when `seed` is None or the item has fewer than two options. `meta["option_order"]` keeps the
    permutation (old indices in new order) so a verdict can be traced back to the dataset's order."""
    if seed is None or len(item.options) < 2:
        return item
    order = option_permutation(item, seed)
    new_index = {old: new for new, old in enumerate(order)}

    def remap(letter: str | None) -> str | None:
        if letter is None or letter not in item.letters:
            return letter
        return LETTERS[new_index[LETTERS.index(letter)]]

    meta = dict(item.meta)
    if isinstance(meta.get("suggested_letter"), str):
        meta["suggested_letter"] = remap(meta["suggested_letter"])
    if isinstance(meta.get("random_ans_idx"), int) and 0 <= meta["random_ans_idx"] < len(order):
        meta["random_ans_idx"] = new_index[meta["random_ans_idx"]]
    meta["option_order"] = order
    return item.model_copy(
        update={"options": [item.options[old] for old in order], "gold": remap(item.gold), "meta": meta}
    )
