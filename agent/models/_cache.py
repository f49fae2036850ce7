"""A persistent response cache: SQLite in WAL mode, safe with several writers (threads or processes).

Requests in flight are shared across processes through the same file: before sending, a process *claims* the key
with a pending entry that names it (host, pid, a random token) and expires; a second process that finds a live
claim waits for the value instead of sending the request again, and takes the claim over when its owner died
(its pid is gone, so a kill -9 costs nothing) or the claim expired (a hung owner on another host).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import socket
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir

from agent.errors import ConfigurationError

CACHE_DIR_ENV = "FAITHCHECK_CACHE_DIR"
log = logging.getLogger("faithcheck.cache")


def default_cache_dir() -> Path:
    """`$FAITHCHECK_CACHE_DIR`, else the per-user cache directory (platformdirs)."""
    return Path(os.environ.get(CACHE_DIR_ENV) or user_cache_dir("faithcheck"))


def cache_key(payload: dict[str, Any]) -> str:
    """A stable hash of a request: sorted JSON, so dict order cannot change it."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Claim:
    """The answer to "may I send this request?": yes (`owned`), no because here is its value, or not yet."""

    owned: bool = False
    """Send it, then `put` the value (which ends the claim) or `release` the claim."""
    value: Any | None = None
    """Another process already stored the response."""

    @property
    def busy(self) -> bool:
        """Another live process is sending it: wait and ask again."""
        return not self.owned and self.value is None


OWNED = Claim(owned=True)


class ResponseCache(ABC):
    """Maps request keys to JSON-serialisable responses."""

    @abstractmethod
    async def get(self, key: str) -> Any | None:
        """The stored value, or None."""

    @abstractmethod
    async def put(self, key: str, value: Any) -> None:
        """Store a value (last writer wins; values for one key are interchangeable); ends this process's claim."""

    async def claim(self, key: str, ttl_s: float) -> Claim:
        """Claim the right to send the request `key` for at most `ttl_s` seconds (a cache seen by this process
        only has nothing to coordinate: always owned)."""
        return OWNED

    async def release(self, key: str) -> None:  # noqa: B027  (nothing to release without cross-process claims)
        """Give up this process's claim on `key` (the request failed or was cancelled)."""


class MemoryCache(ResponseCache):
    """Per-process cache: shares work inside one run when the persistent cache is off."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    async def get(self, key: str) -> Any | None:
        return self._values.get(key)

    async def put(self, key: str, value: Any) -> None:
        self._values[key] = value


_PROCESS_TOKEN = secrets.token_hex(4)
"""One token per process, shared by its caches: a claim left by an earlier cache of this very process (an audit
stopped while requests were in flight, then resumed in the same process) is this process's own, so it is taken
over at once instead of waited on until it expires. A reused pid gets another token."""


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            if stat.read().rpartition(")")[2].split()[:1] == ["Z"]:
                return False  # a zombie: killed, not yet reaped by its parent
    except OSError:
        pass  # no /proc (not Linux), or no such process: ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


@dataclass(frozen=True)
class _Owner:
    host: str
    pid: int
    token: str

    def __str__(self) -> str:
        return f"{self.host} {self.pid} {self.token}"

    @classmethod
    def parse(cls, text: str) -> _Owner | None:
        host, _, rest = text.partition(" ")
        pid, _, token = rest.partition(" ")
        return cls(host, int(pid), token) if pid.isdigit() else None

    def alive(self) -> bool:
        """Whether the owner may still answer: on another host we cannot tell, so only the expiry decides."""
        return self.host != socket.gethostname() or _process_alive(self.pid)


class SQLiteCache(ResponseCache):
    """One SQLite file; each thread gets its own connection, writes are single statements.

    Nothing is created until the first lookup, so a command that stops at bad input leaves no cache behind;
    `check_usable` finds an unusable directory before then.
    """

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory else default_cache_dir()
        self.path = self.directory / "responses.sqlite3"
        self._local = threading.local()
        self._owner = _Owner(socket.gethostname(), os.getpid(), _PROCESS_TOKEN)
        self._created = False
        self._creating = threading.Lock()

    def check_usable(self) -> None:
        """A ConfigurationError when the cache directory could not be created or written (nothing is created)."""
        existing = self.directory
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise ConfigurationError(
                f"the cache directory {self.directory} is under a file ({existing}): pass --cache-dir DIR or --no-cache"
            )
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ConfigurationError(f"cannot write the cache directory {existing}: pass --cache-dir DIR or --no-cache")
        if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
            raise ConfigurationError(f"cannot read and write the cache {self.path}: pass --cache-dir DIR or --no-cache")

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._creating:
                if not self._created:
                    self.directory.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=60000")
            conn.execute("PRAGMA synchronous=NORMAL")
            with self._creating:
                if not self._created:
                    _use_wal(conn)
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)"
                    )
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS pending (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL)"
                    )
                    self._created = True
            self._local.conn = conn
        return conn

    def get_sync(self, key: str) -> Any | None:
        """Blocking lookup."""
        row = self._connect().execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_sync(self, key: str, value: Any) -> None:
        """Blocking store; ends this process's claim on `key` in the same transaction."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)",
                (key, json.dumps(value, ensure_ascii=False), time.time()),
            )
            conn.execute("DELETE FROM pending WHERE key = ? AND owner = ?", (key, str(self._owner)))

    def claim_sync(self, key: str, ttl_s: float) -> Claim:
        """Blocking `claim`: look without locking first, take the write lock only to claim."""
        seen = self._peek(self._connect(), key)
        if seen is not None:
            return seen
        with self._transaction(immediate=True) as locked:
            seen = self._peek(locked, key)  # again under the lock: another process may have been quicker
            if seen is not None:
                return seen
            previous = locked.execute("SELECT owner FROM pending WHERE key = ?", (key,)).fetchone()
            if previous is not None and previous[0] != str(self._owner):
                log.info("taking over a request claimed by %s (gone or expired)", previous[0])
            locked.execute(
                "INSERT OR REPLACE INTO pending (key, owner, expires) VALUES (?, ?, ?)",
                (key, str(self._owner), time.time() + ttl_s),
            )
        return OWNED

    def _peek(self, conn: sqlite3.Connection, key: str) -> Claim | None:
        """The stored value, or busy (a live claim of another process), or None when `key` is free to claim."""
        row = conn.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        if row:
            return Claim(value=json.loads(row[0]))
        pending = conn.execute("SELECT owner, expires FROM pending WHERE key = ?", (key,)).fetchone()
        if pending is not None and not self._claimable(*pending):
            return Claim()
        return None

    def _claimable(self, owner: str, expires: float | None) -> bool:
        if owner == str(self._owner) or expires is None or expires < time.time():
            return True
        parsed = _Owner.parse(owner)
        return parsed is None or not parsed.alive()

    def release_sync(self, key: str) -> None:
        """Blocking `release`."""
        self._connect().execute("DELETE FROM pending WHERE key = ? AND owner = ?", (key, str(self._owner)))

    @contextlib.contextmanager
    def _transaction(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    async def get(self, key: str) -> Any | None:
        return await asyncio.to_thread(self.get_sync, key)

    async def put(self, key: str, value: Any) -> None:
        await asyncio.to_thread(self.put_sync, key, value)

    async def claim(self, key: str, ttl_s: float) -> Claim:
        return await asyncio.to_thread(self.claim_sync, key, ttl_s)

    async def release(self, key: str) -> None:
        await asyncio.to_thread(self.release_sync, key)

    def __len__(self) -> int:
        return int(self._connect().execute("SELECT COUNT(*) FROM responses").fetchone()[0])


def _use_wal(conn: sqlite3.Connection, attempts: int = 50) -> None:
    """Put the database in WAL mode (it stays so: the mode is stored in the file). Switching needs an exclusive
    lock and SQLite reports "database is locked" at once, without waiting, when another connection holds any lock;
    so the switch is made once per process, only if still needed, and retried while others read."""
    for attempt in range(attempts):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
