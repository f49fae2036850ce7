"""Light detokenisation of PTB-style text (SNLI, SST-2): prompts read better without "it 's" and "word ."."""

from __future__ import annotations

import re

_BRACKETS = {"-lrb-": "(", "-rrb-": ")", "-lsb-": "[", "-rsb-": "]", "-lcb-": "{", "-rcb-": "}"}
_GLUE_LEFT = {".", ",", "!", "?", ";", ":", "%", ")", "]", "}", "...", "'"}
_GLUE_RIGHT = {"(", "[", "{", "$", "#"}
_CLITIC = re.compile(r"^(n't|'s|'re|'ve|'ll|'d|'m)$", re.IGNORECASE)
_OPEN_QUOTES = {"``"}
_CLOSE_QUOTES = {"''"}


def detokenise(text: str) -> str:
    """Join PTB tokens back into ordinary spacing: "it 's a `` gem '' ." -> 'it's a "gem".'.

    Only spacing and bracket/quote tokens change; words and case stay as they are, so edits, redactions and
    word-importance answers still line up with the words a reader sees.
    """
    out = ""
    glue_next = False
    quote_open = False
    for raw in text.split():
        token = _BRACKETS.get(raw.lower(), raw)
        glue_left = token in _GLUE_LEFT or bool(_CLITIC.match(token))
        glue_right = token in _GLUE_RIGHT
        if token in _OPEN_QUOTES or (token == '"' and not quote_open):
            token, glue_left, glue_right, quote_open = '"', False, True, True
        elif token in _CLOSE_QUOTES or token == '"':
            token, glue_left, glue_right, quote_open = '"', True, False, False
        if out and not glue_left and not glue_next:
            out += " "
        out += token
        glue_next = glue_right
    return out
