"""What kind of word a word is, and the word lists the tests draw from.

Controls are *kind-matched*: a content word is replaced, removed or inserted where the explanation's edit touched a
content word, a function word where it touched a function word. Without a tagger (no model may be downloaded), a
word is a function word when it is on NLTK's English stop-word list and a content word otherwise. Stems (Snowball,
"terribly" and "terrible" both give "terribl") make occurrence and mention checks case- and inflection-tolerant.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from agent.errors import ConfigurationError

DATA = Path(__file__).resolve().parent / "_data"
STOPWORDS_FILE = DATA / "english_stopwords.txt"
CONTROL_WORDS_FILE = DATA / "control_words.yaml"

WordKind = Literal["content", "function"]
_WORD = re.compile(r"\w+(?:'\w+)?", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of a lower-cased word: "terribly" and "terrible" both give "terribl"."""
    return str(_stemmer().stemWord(word.lower().strip("'")))


def stems(text: str) -> list[str]:
    """Stems of the words of a text, in order."""
    return [stem(w) for w in _WORD.findall(text)]


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """NLTK's English stop words (179), lower-cased."""
    lines = STOPWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def word_kind(word: str) -> WordKind:
    """ "function" for a stop word (case-insensitive), else "content"."""
    return "function" if word.lower() in stopwords() else "content"


@lru_cache(maxsize=2)
def control_words(path: Path = CONTROL_WORDS_FILE) -> dict[WordKind, tuple[str, ...]]:
    """The neutral words a control edit inserts or substitutes, by kind (`_data/control_words.yaml`)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read control word list {path}: {exc}") from None
    kinds: tuple[WordKind, ...] = ("content", "function")
    if not isinstance(data, dict) or not all(isinstance(data.get(kind), list) and data[kind] for kind in kinds):
        raise ConfigurationError(f"control word list {path}: expected non-empty lists 'content' and 'function'")
    return {kind: tuple(dict.fromkeys(str(w).strip() for w in data[kind] if str(w).strip())) for kind in kinds}
