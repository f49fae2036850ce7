"""Progress of an audit: an observer protocol, and a rich display of items, model calls, cache hits and errors.

The display reads the models' live usage counters each time it refreshes, so calls show up as they happen, not
only when an item finishes. It stays silent when the console is not a terminal (CI logs get the final table).
"""

from __future__ import annotations

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


class _CallsColumn(ProgressColumn):
    """Model calls sent, cache hits and errors, read live from the models' counters."""

    def __init__(self, models: Sequence[Model]) -> None:
        super().__init__()
        self.models = list(models)

    def render(self, task: Task) -> Text:
        sent = sum(m.usage.calls_sent for m in self.models)
        hits = sum(m.usage.cache_hits + m.usage.shared_in_flight for m in self.models)
        errors = sum(m.usage.errors for m in self.models)
        text = Text(f"{sent} calls · {hits} cache hits · ")
        text.append(f"{errors} errors", style="red" if errors else "dim")
        batches = batch_progress(self.models)  # batch mode (issue 17)
        if batches:
            text.append(f" · {batches}")
        return text


class RichProgress:
    """A live progress bar on stderr: items done / total, calls, cache hits, errors, elapsed and remaining time."""

    def __init__(self, console: Console | None = None, announce: str = "") -> None:
        """`announce` is printed as one line when the audit starts, if the console is not a terminal."""
        self.console = console or Console(stderr=True)
        self.enabled = self.console.is_terminal
        self.announce = announce
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, total_items: int, done_items: int, models: Sequence[Model]) -> None:
        """Show the bar (when on a terminal; otherwise one line)."""
        if not self.enabled:
            if self.announce:
                done = f" ({done_items} already done)" if done_items else ""
                self.console.print(f"{self.announce}: {total_items} items{done}", soft_wrap=True, highlight=False)
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
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=label)

    def item_done(self) -> None:
        """Advance the bar."""
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def stop(self) -> None:
        """Leave the final state on screen."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
