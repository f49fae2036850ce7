"""Planted-behaviour organisms: scripted models whose faithfulness (or unfaithfulness) is true by construction.

A faithfulness test no one has validated is worthless. Each organism here decides by a rule written in code and
explains itself either honestly or not, so each test can be shown to tell them apart. They are registered as
`scripted/<name>` and can be audited like any model: `faithcheck audit --model scripted/<name> ...`.

Organism families live in the public modules of this package and register themselves when imported.
"""

from __future__ import annotations

import importlib
import pkgutil


def _load_families() -> None:
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


_load_families()
