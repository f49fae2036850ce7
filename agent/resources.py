"""Where the shipped prompts and scenarios are: beside the package in a checkout, inside it in a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _resource_dir(name: str) -> Path:
    bundled = _PACKAGE_DIR / "_bundled" / name
    if bundled.is_dir():
        return bundled
    checkout = _PACKAGE_DIR.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"faithcheck's {name}/ directory is missing from this installation ({_PACKAGE_DIR})")


def prompts_dir() -> Path:
    """The directory of built-in prompt templates."""
    return _resource_dir("prompts")


def scenarios_dir() -> Path:
    """The directory of built-in scenario files (and their data/)."""
    return _resource_dir("scenarios")
