"""A single background thread that collects requests for one local model and runs them in batches.

Concurrent callers must not each run the model: on a CPU that would multiply memory and thrash the cores, and on
any device it forgoes batching. Instead every request becomes a `Job` on a queue; one thread takes the oldest job,
waits briefly for more, groups jobs of the same kind up to a row budget and hands each group to `run_batch`.
Callers get a `concurrent.futures.Future`, so the worker serves any number of event loops (or none).
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("faithcheck.models.batching")


@dataclass
class Job:
    """One caller's request: what to run, how many batch rows it occupies, and where its result goes."""

    kind: str
    """Jobs are only batched with jobs of the same kind (e.g. "generate", "score")."""
    payload: Any
    """What the batch runner needs (messages, config, ...)."""
    rows: int
    """How many rows of a batch this job fills."""
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)
    """Resolved by the batch runner with the job's result or exception."""


@dataclass
class WorkerStats:
    """What the worker has done; benchmarks and tests read it to see that batching happened."""

    jobs: int = 0
    """Jobs taken off the queue (cancelled ones included)."""
    batches: dict[str, int] = field(default_factory=dict)
    """How many batches of each kind ran (one model call per batch)."""
    rows: int = 0
    """Rows run, over all batches."""
    largest_batch: int = 0
    """The most rows run in one batch."""


BatchRunner = Callable[[str, Sequence[Job]], None]
"""Runs one batch of same-kind jobs and resolves each job's future (the worker resolves any it leaves unresolved)."""

_STOP = object()


class BatchWorker:
    """One thread that runs every job for a model, batching concurrent jobs of the same kind.

    `max_rows` bounds the rows of a batch (a single job larger than that still runs, alone). After the first job of a
    batch arrives the worker waits up to `max_wait_s` for more, so requests issued together are run together.
    `warm_up` (e.g. loading the model) runs on the thread before its first batch is collected, so requests that
    arrive while it runs join the first batch; its failures are for `run_batch` to report.
    """

    def __init__(
        self,
        run_batch: BatchRunner,
        *,
        max_rows: int,
        max_wait_s: float,
        name: str,
        warm_up: Callable[[], None] | None = None,
    ) -> None:
        self._run_batch = run_batch
        self._warm_up = warm_up
        self._max_rows = max(1, max_rows)
        self._max_wait_s = max(0.0, max_wait_s)
        self._name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.stats = WorkerStats()

    def submit(self, kind: str, payload: Any, rows: int = 1) -> concurrent.futures.Future[Any]:
        """Queue a job; the returned future resolves when its batch has run."""
        job = Job(kind=kind, payload=payload, rows=max(1, rows))
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self._name}: the model was closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=f"batch-worker {self._name}", daemon=True)
                self._thread.start()
            self._queue.put(job)
        return job.future

    def close(self, timeout: float | None = None) -> None:
        """Stop after the batch in progress; jobs still queued fail. Blocks until the thread has ended."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        if self._warm_up is not None:
            try:
                self._warm_up()
            except Exception as exc:
                log.debug("%s: warm-up failed: %r", self._name, exc)
        pending: deque[Job] = deque()
        while True:
            if pending:
                # These jobs already waited while the last batch ran: add whatever else has arrived, without waiting.
                stop = self._collect(pending, deadline=0.0)
            else:
                item = self._queue.get()
                if item is _STOP:
                    break
                pending.append(item)
                # A fresh job: give concurrent callers a moment to join its batch.
                stop = self._collect(pending, deadline=time.monotonic() + self._max_wait_s)
            if stop:
                break
            batch = self._take_batch(pending)
            if batch:
                self._run(batch)
        self._fail_all(pending)

    def _collect(self, pending: deque[Job], deadline: float) -> bool:
        """Move queued jobs into `pending` until the oldest job's batch is full or the deadline passes.

        Returns True when a stop request was seen.
        """
        while True:
            full = self._rows_like_first(pending) >= self._max_rows
            timeout = 0.0 if full else deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            pending.append(item)

    def _rows_like_first(self, pending: deque[Job]) -> int:
        kind = pending[0].kind
        return sum(job.rows for job in pending if job.kind == kind)

    def _take_batch(self, pending: deque[Job]) -> list[Job]:
        """Remove and return the oldest job plus later jobs of its kind that fit in the row budget."""
        kind = pending[0].kind
        batch: list[Job] = []
        rows = 0
        keep: deque[Job] = deque()
        while pending:
            job = pending.popleft()
            if job.kind != kind or (batch and rows + job.rows > self._max_rows):
                keep.append(job)
                continue
            self.stats.jobs += 1
            # A caller that gave up (cancelled) needs no work.
            if job.future.set_running_or_notify_cancel():
                batch.append(job)
                rows += job.rows
        pending.extend(keep)
        return batch

    def _run(self, batch: list[Job]) -> None:
        kind = batch[0].kind
        rows = sum(job.rows for job in batch)
        self.stats.batches[kind] = self.stats.batches.get(kind, 0) + 1
        self.stats.rows += rows
        self.stats.largest_batch = max(self.stats.largest_batch, rows)
        try:
            self._run_batch(kind, batch)
        except BaseException as exc:  # the thread must survive anything one batch does
            log.debug("%s: %s batch of %d failed: %r", self._name, kind, len(batch), exc)
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        for job in batch:
            if not job.future.done():
                job.future.set_exception(RuntimeError(f"{self._name}: the batch runner left a request unanswered"))

    def _fail_all(self, pending: deque[Job]) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                pending.append(item)
        for job in pending:
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(RuntimeError(f"{self._name}: the model was closed before this request ran"))
