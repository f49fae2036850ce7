"""Untrusted text (model replies, dataset rows, server messages) made safe to show to a person.

A reply can hold terminal control sequences (an ESC that moves the cursor, clears the screen, retitles the window
or rewrites the line above, so that a verdict reads differently), a carriage return that overwrites its own line,
bidirectional overrides that display text in another order than it is stored ("Trojan Source"), and invisible
characters that make two different words look the same. Every human-facing output shows each of these as a
visible code point, `<U+202E>`, and keeps line feeds and tabs. JSON output (`--json`) and the records keep the text
exactly as it came: they are data, and JSON escapes control characters anyway.

What is replaced: the Unicode categories Cc (controls, except line feed and tab), Cf (format characters: bidi
embeddings, overrides, isolates and marks, zero-width spaces and joiners, the BOM, soft hyphens, tag characters),
Zl and Zp (line and paragraph separators), and lone surrogates (which cannot even be encoded for a terminal).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

# Category Cf, Zl, Zp and Cc (but \t and \n) as of Unicode 15.1; tests/agent/test_visible_text.py checks this
# class against unicodedata, so a newer Unicode's additions show up as a failing test, not as a silent gap.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f\ud800-\udfff]"
)


def _code_point(match: re.Match[str]) -> str:
    return f"<U+{ord(match.group(0)):04X}>"


def visible(text: str) -> str:
    """`text` with every control, format and separator character shown as `<U+XXXX>`; CRLF becomes a line feed.

    Linear in the length of `text`, and a quick scan when there is nothing to replace.
    """
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return _INVISIBLE.sub(_code_point, text)


def needs_visible(text: str) -> bool:
    """Whether `visible` would change `text`."""
    return _INVISIBLE.search(text) is not None


def _visible_text(text: Text, console: Console) -> Text:
    """A Text with the same styles whose characters are visible (rebuilt from its styled pieces)."""
    rebuilt = Text(
        justify=text.justify, overflow=text.overflow, no_wrap=text.no_wrap, end=text.end, tab_size=text.tab_size
    )
    for segment in text.render(console, end=""):
        rebuilt.append(visible(segment.text), segment.style)
    return rebuilt


class SafeConsole(Console):
    """The console every command prints through: whatever it prints, control and invisible characters in it are
    shown as code points, so untrusted text cannot drive the terminal or hide what it says.

    Text is made visible where it enters (strings and Text objects, before layout, so tables keep their widths),
    and once more on the way out (every non-control segment), which catches renderables that build their own
    segments. Rich's own styling and cursor movements are control segments or styles, never text, and pass.
    """

    def render_str(self, text: str, **kwargs: Any) -> Text:
        """Strings (and markup) become visible before rich reads them."""
        return super().render_str(visible(text), **kwargs)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        """Render, with Text made visible first and every text segment checked on the way out."""
        if isinstance(renderable, Text) and needs_visible(renderable.plain):
            renderable = _visible_text(renderable, self)
        for segment in super().render(renderable, options):
            if segment.control or not needs_visible(segment.text):
                yield segment
            else:
                yield Segment(visible(segment.text), segment.style)
