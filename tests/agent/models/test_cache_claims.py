"""Requests in flight shared across processes through the SQLite cache: claims, waiting, and taking over."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agent.models import SQLiteCache
from agent.models.scripted import scripted_model


def _claim_as(cache_dir: Path, owner: str, expires_in: float, key: str = "k") -> None:
    """Write a pending claim as another process would."""
    SQLiteCache(cache_dir).claim_sync("warm-up", 1)  # creates the tables
    with sqlite3.connect(cache_dir / "responses.sqlite3") as conn:
        conn.execute("INSERT OR REPLACE INTO pending VALUES (?, ?, ?)", (key, owner, time.time() + expires_in))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_live_claim_of_another_process_makes_others_wait(tmp_path: Path) -> None:
    _claim_as(tmp_path, f"{socket.gethostname()} {os.getppid()} other", expires_in=60)
    cache = SQLiteCache(tmp_path)
    assert cache.claim_sync("k", 60).busy
    assert cache.claim_sync("another-key", 60).owned


def test_a_claim_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    _claim_as(tmp_path, f"{socket.gethostname()} {_dead_pid()} gone", expires_in=600)
    assert SQLiteCache(tmp_path).claim_sync("k", 60).owned


def test_an_expired_claim_is_taken_over_even_from_another_host(tmp_path: Path) -> None:
    _claim_as(tmp_path, "some-other-host 1 token", expires_in=-1)
    assert SQLiteCache(tmp_path).claim_sync("k", 60).owned
    _claim_as(tmp_path, "some-other-host 1 token", expires_in=600, key="k2")
    assert SQLiteCache(tmp_path).claim_sync("k2", 60).busy  # alive as far as we can tell


def test_a_stored_value_answers_a_claim_and_storing_ends_it(tmp_path: Path) -> None:
    first, second = SQLiteCache(tmp_path), SQLiteCache(tmp_path)
    # Caches of one process share its claims: the second stands for another live process here.
    second._owner = dataclasses.replace(second._owner, token="another-process")
    assert first.claim_sync("k", 60).owned
    assert second.claim_sync("k", 60).busy
    first.put_sync("k", {"text": "done"})
    assert second.claim_sync("k", 60).value == {"text": "done"}
    with sqlite3.connect(tmp_path / "responses.sqlite3") as conn:
        assert conn.execute("SELECT COUNT(*) FROM pending WHERE key = 'k'").fetchone() == (0,)


def test_a_released_claim_lets_the_waiter_send_it_itself(tmp_path: Path) -> None:
    first, second = SQLiteCache(tmp_path), SQLiteCache(tmp_path)
    assert first.claim_sync("k", 60).owned
    first.release_sync("k")
    assert second.claim_sync("k", 60).owned


async def test_a_model_waits_for_the_answer_another_process_is_fetching(tmp_path: Path) -> None:
    sent: list[str] = []

    def reply(messages: Any, config: Any, hint: Any) -> str:
        sent.append(messages[-1].content)
        return "mine"

    await scripted_model(reply, cache=SQLiteCache(tmp_path)).generate("hello")
    assert sent == ["hello"]
    with sqlite3.connect(tmp_path / "responses.sqlite3") as conn:  # as if another live process were still asking
        key, value = conn.execute("SELECT key, value FROM responses").fetchone()
        conn.execute("DELETE FROM responses")
        conn.execute("INSERT INTO pending VALUES (?, ?, ?)", (key, f"{socket.gethostname()} {os.getppid()} x", 1e12))

    model = scripted_model(reply, cache=SQLiteCache(tmp_path))
    waiting = asyncio.ensure_future(model.generate("hello"))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # the other process holds the claim: wait for it, do not send
    SQLiteCache(tmp_path).put_sync(key, json.loads(value) | {"choices": [{"text": "theirs"}]})
    completion = await asyncio.wait_for(waiting, 5)

    assert completion.text == "theirs"
    assert completion.cached
    assert sent == ["hello"]
    assert model.usage.calls_sent == 0
    assert model.usage.shared_in_flight == 1


def test_a_claim_left_by_an_earlier_cache_of_this_process_is_taken_over(tmp_path: Path) -> None:
    """An audit stopped with requests in flight, resumed in the same process, must not wait for its own claims."""
    assert SQLiteCache(tmp_path).claim_sync("k", 600).owned
    assert SQLiteCache(tmp_path).claim_sync("k", 600).owned
