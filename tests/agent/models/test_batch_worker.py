"""The batching worker on its own: grouping by kind, the row budget, cancellation and shutdown."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from agent.models._batch_worker import BatchWorker, Job


class Recorder:
    """A batch runner that records each batch, answers every job, and can be held until released."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[object]]] = []
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, kind: str, jobs: Sequence[Job]) -> None:
        self.started.set()
        self.release.wait(timeout=10)
        self.batches.append((kind, [job.payload for job in jobs]))
        for job in jobs:
            job.future.set_result((kind, job.payload))


def test_jobs_queued_while_a_batch_runs_are_grouped_by_kind_within_the_row_budget() -> None:
    runner = Recorder()
    worker = BatchWorker(runner, max_rows=3, max_wait_s=0.0, name="test")
    first = worker.submit("generate", "first")
    assert runner.started.wait(timeout=10)
    # While "first" runs, queue a mix of kinds; the worker must group them, oldest kind first, 3 rows at most.
    futures = [worker.submit("generate", f"g{i}") for i in range(4)]
    futures += [worker.submit("score", "s0", rows=2), worker.submit("score", "s1", rows=2)]
    runner.release.set()
    results = [future.result(timeout=10) for future in [first, *futures]]
    worker.close()

    assert results[0] == ("generate", "first")
    assert [kind for kind, _ in results[1:]] == ["generate"] * 4 + ["score"] * 2
    assert runner.batches == [
        ("generate", ["first"]),
        ("generate", ["g0", "g1", "g2"]),
        ("generate", ["g3"]),
        ("score", ["s0"]),
        ("score", ["s1"]),
    ]
    assert worker.stats.batches == {"generate": 3, "score": 2}
    assert worker.stats.largest_batch == 3


def test_the_worker_waits_briefly_so_requests_sent_together_share_a_batch() -> None:
    runner = Recorder()
    runner.release.set()
    worker = BatchWorker(runner, max_rows=8, max_wait_s=0.5, name="test")
    futures = [worker.submit("generate", i) for i in range(5)]
    for future in futures:
        future.result(timeout=10)
    worker.close()
    assert runner.batches == [("generate", [0, 1, 2, 3, 4])]


def test_a_job_larger_than_the_budget_runs_alone() -> None:
    runner = Recorder()
    runner.release.set()
    worker = BatchWorker(runner, max_rows=2, max_wait_s=0.2, name="test")
    futures = [worker.submit("generate", "big", rows=5), worker.submit("generate", "small")]
    for future in futures:
        future.result(timeout=10)
    worker.close()
    assert runner.batches == [("generate", ["big"]), ("generate", ["small"])]


def test_cancelled_jobs_are_skipped() -> None:
    runner = Recorder()
    worker = BatchWorker(runner, max_rows=8, max_wait_s=0.0, name="test")
    blocker = worker.submit("generate", "blocker")
    assert runner.started.wait(timeout=10)
    cancelled = worker.submit("generate", "cancelled")
    kept = worker.submit("generate", "kept")
    assert cancelled.cancel()
    runner.release.set()
    assert kept.result(timeout=10) == ("generate", "kept")
    blocker.result(timeout=10)
    worker.close()
    assert runner.batches == [("generate", ["blocker"]), ("generate", ["kept"])]


def test_a_failing_batch_fails_its_jobs_and_the_worker_keeps_serving() -> None:
    calls = 0

    def flaky(kind: str, jobs: Sequence[Job]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("boom")
        for job in jobs:
            job.future.set_result("ok")

    worker = BatchWorker(flaky, max_rows=8, max_wait_s=0.0, name="test")
    with pytest.raises(ValueError, match="boom"):
        worker.submit("generate", 1).result(timeout=10)
    assert worker.submit("generate", 2).result(timeout=10) == "ok"
    worker.close()


def test_a_runner_that_forgets_a_job_does_not_leave_its_caller_hanging() -> None:
    def forgetful(kind: str, jobs: Sequence[Job]) -> None:
        jobs[0].future.set_result("answered")

    worker = BatchWorker(forgetful, max_rows=8, max_wait_s=0.2, name="test")
    answered, forgotten = worker.submit("generate", 1), worker.submit("generate", 2)
    assert answered.result(timeout=10) == "answered"
    with pytest.raises(RuntimeError, match="unanswered"):
        forgotten.result(timeout=10)
    worker.close()


def test_close_fails_queued_jobs_stops_the_thread_and_refuses_new_ones() -> None:
    runner = Recorder()
    worker = BatchWorker(runner, max_rows=1, max_wait_s=0.0, name="test")
    running = worker.submit("generate", "running")
    assert runner.started.wait(timeout=10)
    queued = worker.submit("generate", "queued")
    closer = threading.Thread(target=worker.close)
    closer.start()
    runner.release.set()
    closer.join(timeout=10)
    assert not closer.is_alive()
    assert running.result(timeout=10) == ("generate", "running")
    with pytest.raises(RuntimeError, match="closed"):
        queued.result(timeout=10)
    with pytest.raises(RuntimeError, match="closed"):
        worker.submit("generate", "late")
    assert not any(thread.name == "batch-worker test" for thread in threading.enumerate())


def test_requests_that_arrive_during_warm_up_join_the_first_batch() -> None:
    runner = Recorder()
    runner.release.set()
    loading = threading.Event()
    loaded = threading.Event()

    def warm_up() -> None:
        loading.set()
        assert loaded.wait(timeout=10)

    worker = BatchWorker(runner, max_rows=8, max_wait_s=0.0, name="test", warm_up=warm_up)
    futures = [worker.submit("generate", 0)]
    assert loading.wait(timeout=10)
    futures += [worker.submit("generate", i) for i in (1, 2)]
    loaded.set()
    for future in futures:
        future.result(timeout=10)
    worker.close()
    assert runner.batches == [("generate", [0, 1, 2])]
