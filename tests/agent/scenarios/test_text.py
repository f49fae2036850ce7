"""Light detokenisation of PTB-style text."""

from __future__ import annotations

import pytest

from agent.scenarios import detokenise


@pytest.mark.parametrize(
    ("tokenised", "expected"),
    [
        ("it 's a charming and often affecting journey . ", "it's a charming and often affecting journey."),
        ("i do n't like it , do you ?", "i don't like it, do you?"),
        ("he said `` hello '' to -lrb- his -rrb- dog !", 'he said "hello" to (his) dog!'),
        ("the boys ' toys cost $ 5 .", "the boys' toys cost $5."),
        ("Already clean.", "Already clean."),
    ],
)
def test_detokenise(tokenised: str, expected: str) -> None:
    assert detokenise(tokenised) == expected


def test_detokenise_keeps_every_word() -> None:
    text = "a man in a red shirt , with a `` sign '' , waits ."
    assert detokenise(text).replace('"', "").replace(",", "").replace(".", "").split() == [
        word for word in text.split() if word not in {",", ".", "``", "''"}
    ]
