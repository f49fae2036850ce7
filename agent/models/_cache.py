"""A persistent response cache: SQLite in WAL mode, safe with several writers (threads or processes)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir

CACHE_DIR_ENV = "FAITHCHECK_CACHE_DIR"


def default_cache_dir() -> Path:
    """`$FAITHCHECK_CACHE_DIR`, else the per-user cache directory (platformdirs)."""
    return Path(os.environ.get(CACHE_DIR_ENV) or user_cache_dir("faithcheck"))


def cache_key(payload: dict[str, Any]) -> str:
    """A stable hash of a request: sorted JSON, so dict order cannot change it."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache(ABC):
    """Maps request keys to JSON-serialisable responses."""

    @abstractmethod
    async def get(self, key: str) -> Any | None:
        """The stored value, or None."""

    @abstractmethod
    async def put(self, key: str, value: Any) -> None:
        """Store a value (last writer wins; values for one key are interchangeable)."""


class MemoryCache(ResponseCache):
    """Per-process cache: shares work inside one run when the persistent cache is off."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    async def get(self, key: str) -> Any | None:
        return self._values.get(key)

    async def put(self, key: str, value: Any) -> None:
        self._values[key] = value


class SQLiteCache(ResponseCache):
    """One SQLite file; each thread gets its own connection, writes are single statements."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory else default_cache_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "responses.sqlite3"
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)"
            )

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
        return conn

    def get_sync(self, key: str) -> Any | None:
        """Blocking lookup."""
        row = self._connect().execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_sync(self, key: str, value: Any) -> None:
        """Blocking store."""
        self._connect().execute(
            "INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)",
            (key, json.dumps(value, ensure_ascii=False), time.time()),
        )

    async def get(self, key: str) -> Any | None:
        return await asyncio.to_thread(self.get_sync, key)

    async def put(self, key: str, value: Any) -> None:
        await asyncio.to_thread(self.put_sync, key, value)

    def __len__(self) -> int:
        return int(self._connect().execute("SELECT COUNT(*) FROM responses").fetchone()[0])
