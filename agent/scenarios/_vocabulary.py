"""The names a scenario may use for explanation paradigms and faithfulness tests.

The test names are a fixed list for now; the faithfulness-test registry replaces the source with
`set_test_name_source` once it exists, so scenario files are validated against the tests that really run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, get_args

Paradigm = Literal["predict", "post-hoc", "explain-then-predict", "importance", "counterfactual", "redaction", "cot"]
PARADIGMS: tuple[str, ...] = get_args(Paradigm)

TEST_NAMES: tuple[str, ...] = (
    "counterfactual",
    "importance",
    "redaction",
    "insertion",
    "reconstruction",
    "biasing-features",
    "hints",
    "paired-questions",
    "early-answering",
    "adding-mistakes",
    "paraphrasing",
    "filler-tokens",
    "simulatability",
    "cc-shap",
)
"""The faithfulness tests scenario files may name, until the test registry provides its own list."""

_test_name_source: Callable[[], Iterable[str]] = lambda: TEST_NAMES  # noqa: E731


def known_test_names() -> tuple[str, ...]:
    """The test names scenario files are validated against now."""
    return tuple(_test_name_source())


def set_test_name_source(source: Callable[[], Iterable[str]] | None) -> None:
    """Validate scenario `tests` against `source()` from now on (None restores the built-in list)."""
    global _test_name_source
    _test_name_source = source if source is not None else (lambda: TEST_NAMES)
