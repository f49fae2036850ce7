"""Untrusted text reaches people with its control and invisible characters shown, never obeyed."""

from __future__ import annotations

import io
import json
import unicodedata
from pathlib import Path

import pytest
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agent.report import render_report
from agent.visible_text import SafeConsole, needs_visible, visible
from tests.fixtures.runs import write_run

HOSTILE = {
    "clear screen and retitle": "ok\x1b[2J\x1b]0;pwned\x07 done",
    "rewrite the line": "unfaithful\rfaithful  ",
    "right-to-left override": "answer: \u202enegative\u202c",
    "isolates": "x \u2066y\u2069 z",
    "zero-width joiner in a word": "pos\u200ditive",
    "tag characters": "hi\U000e0041\U000e0042",
    "C1 control (CSI)": "a\x9b31mb",
    "line separator": "a\u2028b",
}


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_visible_shows_every_control_and_invisible_character_as_a_code_point(text: str) -> None:
    shown = visible(text)
    assert not needs_visible(shown)
    assert all(unicodedata.category(c) not in {"Cc", "Cf", "Zl", "Zp", "Cs"} or c in "\n\t" for c in shown)
    assert "<U+" in shown


def test_line_feeds_tabs_and_ordinary_unicode_are_kept() -> None:
    text = "Étape 1:\tlire\nステップ 2 — ok ✓ 😀"
    assert visible(text) == text
    assert visible("a\r\nb") == "a\nb"
    assert visible("\u202e") == "<U+202E>"


def test_the_character_class_covers_every_control_and_format_character_python_knows() -> None:
    uncovered = [
        f"U+{code:04X}"
        for code in range(0x110000)
        if unicodedata.category(chr(code)) in {"Cc", "Cf", "Zl", "Zp", "Cs"}
        and chr(code) not in "\n\t"
        and not needs_visible(chr(code))
    ]
    assert uncovered == []


def _printed(*renderables: object) -> str:
    out = io.StringIO()
    console = SafeConsole(file=out, force_terminal=True, width=100, color_system="truecolor")
    for renderable in renderables:
        console.print(renderable)
    return out.getvalue()


def test_the_console_neutralises_model_text_in_strings_text_tables_and_panels_but_keeps_its_own_styling() -> None:
    table = Table("test", "reply")
    table.add_row("redaction", HOSTILE["clear screen and retitle"])
    table.add_row(Text("styled"), Text(HOSTILE["right-to-left override"], style="bold"))
    output = _printed(
        f"[green]ok[/green] {HOSTILE['rewrite the line']}",
        Text(HOSTILE["isolates"], style="red"),
        table,
        Panel(HOSTILE["tag characters"], title="reply"),
    )
    # The console's own colours are escape sequences, but none that model text carried: no clear screen, no window
    # title, no carriage return, no bidi control.
    for smuggled in ("\x1b[2J", "\x1b]0;", "\x07", "\r", "\u202e", "\u2066", "\U000e0041"):
        assert smuggled not in output
    assert "\x1b[32m" in output  # [green] still styles
    shown = Text.from_ansi(output).plain
    for code in ("<U+001B>", "<U+000D>", "<U+202E>", "<U+2066>", "<U+E0041>"):
        assert code in shown


def test_a_table_with_visible_codes_keeps_its_borders_aligned() -> None:
    table = Table("reply")
    table.add_row("a\u202eb")
    table.add_row("plain")
    lines = [line for line in _printed(table).splitlines() if line.strip()]
    assert len({len(Text.from_ansi(line).plain) for line in lines}) == 1


def test_the_report_shows_invisible_characters_in_replies_and_still_escapes_them(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run")
    records = run_dir / "records.jsonl"
    lines = []
    for line in records.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if isinstance(record.get("reply"), str):
            record["reply"] += " \u202etfel\u202c \x1b[2J<b>x</b>"
        lines.append(json.dumps(record))
    records.write_text("\n".join(lines) + "\n", encoding="utf-8")

    html = render_report([run_dir]).read_text(encoding="utf-8")

    assert "\u202e" not in html
    assert "\x1b" not in html
    assert "&lt;U+202E&gt;tfel&lt;U+202C&gt; &lt;U+001B&gt;[2J&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html
