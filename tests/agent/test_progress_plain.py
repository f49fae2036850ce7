"""Progress without a terminal: a real `faithcheck audit` with stderr on a pipe prints plain lines as it goes."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from agent.models import get_model
from agent.run import RichProgress
from agent.run._progress import INTERVAL_ENV
from tests.fixtures.audit import audit_args, probe_scenario  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]

LINE = re.compile(
    r"(?P<done>\d+)/(?P<total>\d+) items · (?P<calls>\d+) calls · \d+ cache hits · (?P<errors>\d+) errors · "
    r"\d+:\d\d elapsed · (?P<left>\S+) left"
)


def test_an_audit_on_a_pipe_prints_a_plain_line_every_interval(probe_scenario: Path, tmp_path: Path) -> None:  # noqa: F811
    """Held partway (every call after the 12th waits at a gate), the audit keeps reporting where it is."""
    gate, log = tmp_path / "gate", tmp_path / "stderr.log"
    gate.mkdir()
    args = audit_args(probe_scenario, "--out", str(tmp_path / "run"), "--no-cache", "--concurrency", "1")
    args += ["-O", "hold_after=12", "-O", f"gate={gate}"]
    with log.open("wb") as stderr:  # a file: not a terminal
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.fixtures.audit_driver", *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(ROOT), INTERVAL_ENV: "0.2"},
        )
        try:
            deadline = time.monotonic() + 120
            while not (gate / "held").exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert (gate / "held").exists(), log.read_text()
            while len(_lines(log)) < 3 and time.monotonic() < deadline:  # the ticker runs while a call hangs
                time.sleep(0.05)
            held = _lines(log)
            (gate / "release").touch()
            assert process.wait(timeout=120) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
    output = log.read_text()
    assert "\x1b[" not in output  # no live display, no colour codes
    assert len(held) >= 3 and all(int(m["done"]) < int(m["total"]) for m in held), output
    assert len({int(m["calls"]) for m in held}) == 1  # nothing moves while the call is held, yet lines keep coming
    lines = _lines(log)
    done, calls = [int(m["done"]) for m in lines], [int(m["calls"]) for m in lines]
    assert done == sorted(done) and calls == sorted(calls)
    assert done[-1] == int(lines[-1]["total"]) and lines[-1]["left"] == "0:00", output


def _lines(log: Path) -> list[re.Match[str]]:
    return [match for line in log.read_text().splitlines() if (match := LINE.search(line))]


def test_the_time_left_is_extrapolated_from_the_items_this_session_finished() -> None:
    stream = io.StringIO()
    progress = RichProgress(Console(file=stream, force_terminal=False), interval=60)
    model = get_model("scripted/echo")
    progress.start(total_items=10, done_items=4, models=[model])
    assert progress._plain is not None
    assert progress._plain.line().endswith("? left")  # nothing finished in this session yet
    time.sleep(0.05)
    progress.item_done()
    line = progress._plain.line()
    assert "5/10 items" in line
    left = re.search(r"~(\d+):(\d\d) left", line)
    assert left is not None  # about 5 x the time one item took
    progress.stop()
    assert stream.getvalue().strip().splitlines()[-1].startswith("auditing 5/10 items")
