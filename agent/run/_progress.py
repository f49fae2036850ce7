"""Progress of an audit: an observer protocol, and a display of items, model calls, cache hits and errors.

The display reads the models' live usage counters each time it refreshes, so calls show up as they happen, not
only when an item finishes. On a terminal it is rich's live bar; elsewhere (CI logs, `nohup`, a pipe) it is one
plain line every few seconds, so a long local audit is never silent.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from agent.models import Model
from agent.models.batch import batch_progress  # batch mode (issue 17)

INTERVAL_ENV = "FAITHCHECK_PROGRESS_SECONDS"
"""Seconds between plain progress lines when stderr is not a terminal (default 5)."""


def plain_interval() -> float:
    """`$FAITHCHECK_PROGRESS_SECONDS`, or 5 when it is unset or not a positive number."""
    try:
        seconds = float(os.environ.get(INTERVAL_ENV, "5"))
    except ValueError:
        return 5.0
    return seconds if seconds > 0 else 5.0


class AuditObserver(Protocol):
    """What an audit tells whoever watches it."""

    def start(self, total_items: int, done_items: int, models: Sequence[Model]) -> None:
        """The audit starts: `done_items` of `total_items` were finished by an earlier session."""

    def part(self, label: str, items: int) -> None:
        """A scenario part starts with this many items left."""

    def item_done(self) -> None:
        """Every test of one more item has a verdict."""

    def stop(self) -> None:
        """The audit stopped (finished or interrupted)."""


class SilentObserver:
    """Watches nothing."""

    def start(self, total_items: int, done_items: int, models: Sequence[Model]) -> None:
        """Nothing to show."""

    def part(self, label: str, items: int) -> None:
        """Nothing to show."""

    def item_done(self) -> None:
        """Nothing to show."""

    def stop(self) -> None:
        """Nothing to show."""


def _call_counts(models: Sequence[Model]) -> tuple[int, int, int]:
    """(calls sent, cache hits, errors) over `models`, read live from their usage counters."""
    sent = sum(m.usage.calls_sent for m in models)
    hits = sum(m.usage.cache_hits + m.usage.shared_in_flight for m in models)
    errors = sum(m.usage.errors for m in models)
    return sent, hits, errors


class _CallsColumn(ProgressColumn):
    """Model calls sent, cache hits and errors, read live from the models' counters."""

    def __init__(self, models: Sequence[Model]) -> None:
        super().__init__()
        self.models = list(models)

    def render(self, task: Task) -> Text:
        sent, hits, errors = _call_counts(self.models)
        text = Text(f"{sent} calls · {hits} cache hits · ")
        text.append(f"{errors} errors", style="red" if errors else "dim")
        batches = batch_progress(self.models)  # batch mode (issue 17)
        if batches:
            text.append(f" · {batches}")
        return text


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class PlainProgress:
    """One plain line every `interval` seconds (and one at the end): for consoles that are not a terminal.

    `auditing 3/12 items · 41 calls · 6 cache hits · 0 errors · 1:20 elapsed · ~5:00 left`. The time left is
    extrapolated from the items this session finished; before the first one it reads `? left`.
    """

    def __init__(self, console: Console, interval: float = 5.0) -> None:
        self.console = console
        self.interval = interval
        self._models: list[Model] = []
        self._label = "auditing"
        self._total = 0
        self._done = 0
        self._done_at_start = 0
        self._started = 0.0
        self._stopping = threading.Event()
        self._ticker: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self, total_items: int, done_items: int, models: Sequence[Model]) -> None:
        """Start printing a line every `interval` seconds on a background thread."""
        self._models = list(models)
        self._total, self._done, self._done_at_start = total_items, done_items, done_items
        self._started = time.monotonic()
        self._stopping.clear()
        self._ticker = threading.Thread(target=self._tick, name="faithcheck-progress", daemon=True)
        self._ticker.start()

    def part(self, label: str, items: int) -> None:
        """Name the part being judged in the following lines."""
        self._label = label

    def item_done(self) -> None:
        """Count one more item."""
        with self._lock:
            self._done += 1

    def stop(self) -> None:
        """Stop the ticker and print the final line."""
        ticker, self._ticker = self._ticker, None
        if ticker is None:
            return
        self._stopping.set()
        ticker.join()
        self._print()

    def line(self) -> str:
        """The progress line as it reads now."""
        with self._lock:
            done, total = self._done, self._total
        elapsed = time.monotonic() - self._started
        sent, hits, errors = _call_counts(self._models)
        finished_here = done - self._done_at_start
        if done >= total:
            left = "0:00 left"
        elif finished_here > 0:
            left = f"~{_clock(elapsed / finished_here * (total - done))} left"
        else:
            left = "? left"
        parts = [f"{self._label} {done}/{total} items", f"{sent} calls", f"{hits} cache hits", f"{errors} errors"]
        batches = batch_progress(self._models)  # batch mode (issue 17)
        if batches:
            parts.append(batches)
        return " · ".join([*parts, f"{_clock(elapsed)} elapsed", left])

    def _tick(self) -> None:
        while not self._stopping.wait(self.interval):
            self._print()

    def _print(self) -> None:
        self.console.print(self.line(), soft_wrap=True, highlight=False, markup=False)


class RichProgress:
    """Progress on stderr: items done / total, calls, cache hits, errors, elapsed and remaining time.

    A live bar on a terminal; otherwise `PlainProgress` lines every `interval` seconds."""

    def __init__(self, console: Console | None = None, announce: str = "", interval: float | None = None) -> None:
        """`announce` is printed as one line when the audit starts, if the console is not a terminal; `interval`
        (default `plain_interval()`) is the seconds between plain lines there."""
        self.console = console or Console(stderr=True)
        self.enabled = self.console.is_terminal
        self.announce = announce
        self._plain = None if self.enabled else PlainProgress(self.console, interval or plain_interval())
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, total_items: int, done_items: int, models: Sequence[Model]) -> None:
        """Show the bar (when on a terminal; otherwise one line, then a plain line every few seconds)."""
        if self._plain is not None:
            if self.announce:
                done = f" ({done_items} already done)" if done_items else ""
                self.console.print(f"{self.announce}: {total_items} items{done}", soft_wrap=True, highlight=False)
            self._plain.start(total_items, done_items, models)
            return
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("items ·"),
            _CallsColumn(models),
            TextColumn("·"),
            TimeElapsedColumn(),
            TextColumn("elapsed ·"),
            TimeRemainingColumn(),
            TextColumn("left"),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task("auditing", total=total_items, completed=done_items)

    def part(self, label: str, items: int) -> None:
        """Name the part being judged."""
        if self._plain is not None:
            self._plain.part(label, items)
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=label)

    def item_done(self) -> None:
        """Advance the bar."""
        if self._plain is not None:
            self._plain.item_done()
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def stop(self) -> None:
        """Leave the final state on screen."""
        if self._plain is not None:
            self._plain.stop()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
