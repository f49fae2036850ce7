"""The batch ledger: which requests went out in which round, so that no round is paid for twice.

`batches.jsonl` in the run directory is appended to (flushed and fsynced) at each step of a round's life:

1. `round`: the round's input is uploaded (or written); its request keys are listed in line order;
2. `started`: the batch exists on the server, under this id;
3. `finished`: the batch ended (completed, failed, expired or cancelled) and its output was read;
   or `abandoned`: it never started (the submission failed and no batch with its input exists).

A resumed process reads the ledger back: a request whose key is in a started round waits for that batch instead of
joining a new one. A round with no `started` line (the process died between uploading and submitting, or the
submission failed) is looked up on the server by its input file before anything is sent again. Keys are hashes of
the request body (`agent.models.batch._lines.request_key`): the ledger holds no prompt and no secret.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

log = logging.getLogger("faithcheck.models.batch")

LEDGER_FILE = "batches.jsonl"


class RoundOpened(BaseModel):
    """A round's input exists (uploaded, or written for a command); its requests are listed in line order."""

    kind: Literal["round"] = "round"
    round_id: str
    runner: str
    """`batch-api` or `command`."""
    endpoint: str
    """The public base URL (Batch API) or a hash of the command template: rounds of another are never reused."""
    model: str
    """The model sent in each request body."""
    input: str
    """The uploaded input file id (Batch API) or the input file path (command)."""
    keys: list[str]
    """Request keys in input line order; each line's `custom_id` is its key."""
    at: float = Field(default_factory=time.time)


class RoundStarted(BaseModel):
    """The batch of a round exists and will be answered."""

    kind: Literal["started"] = "started"
    round_id: str
    remote_id: str
    """The batch id on the server (the round id itself for a command)."""
    at: float = Field(default_factory=time.time)


class RoundFinished(BaseModel):
    """A round's batch ended and its output was read."""

    kind: Literal["finished"] = "finished"
    round_id: str
    status: str
    """completed, failed, expired or cancelled."""
    answered: int
    """Lines answered with a reply."""
    failed: int
    """Lines that ended in an error (they go through the retry layer like a failed direct call)."""
    at: float = Field(default_factory=time.time)


class RoundAbandoned(BaseModel):
    """A round that never started: its requests join a later round."""

    kind: Literal["abandoned"] = "abandoned"
    round_id: str
    reason: str
    at: float = Field(default_factory=time.time)


LedgerEvent = Annotated[RoundOpened | RoundStarted | RoundFinished | RoundAbandoned, Field(discriminator="kind")]
_EVENT: TypeAdapter[LedgerEvent] = TypeAdapter(LedgerEvent)


@dataclass
class RoundRecord:
    """What the ledger knows about one round."""

    opened: RoundOpened
    remote_id: str | None = None
    finished: RoundFinished | None = None
    abandoned: bool = False
    earlier_session: bool = False
    """Recorded by a process before this one (a resumed run)."""

    @property
    def round_id(self) -> str:
        """The round's id."""
        return self.opened.round_id


class BatchLedger:
    """Rounds by id and by request key, kept in memory and, once bound to a run directory, in `batches.jsonl`."""

    def __init__(self) -> None:
        self.rounds: dict[str, RoundRecord] = {}
        self._by_key: dict[str, list[str]] = {}
        self._unwritten: list[BaseModel] = []
        self._file: IO[str] | None = None
        self.path: Path | None = None

    def bind(self, path: Path) -> None:
        """Read the ledger at `path` (a resumed run's) and append to it from now on."""
        if self.path == path:
            return
        self.close()
        for event in _read_events(path):
            self._apply(event, earlier_session=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self.path = path
        unwritten, self._unwritten = self._unwritten, []
        for pending in unwritten:
            self._write(pending)

    def record(self, event: RoundOpened | RoundStarted | RoundFinished | RoundAbandoned) -> RoundRecord:
        """Take an event into account and append it (durably, before the caller goes on)."""
        record = self._apply(event, earlier_session=False)
        if self._file is None:
            self._unwritten.append(event)
        else:
            self._write(event)
        return record

    def rounds_for(self, key: str) -> list[RoundRecord]:
        """The rounds that hold a request, newest first."""
        return [self.rounds[round_id] for round_id in reversed(self._by_key.get(key, []))]

    def close(self) -> None:
        """Stop appending."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self.path = None

    def _write(self, event: BaseModel) -> None:
        assert self._file is not None
        self._file.write(event.model_dump_json() + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def _apply(self, event: LedgerEvent, *, earlier_session: bool) -> RoundRecord:
        if isinstance(event, RoundOpened):
            record = RoundRecord(opened=event, earlier_session=earlier_session)
            self.rounds[event.round_id] = record
            for key in event.keys:
                self._by_key.setdefault(key, []).append(event.round_id)
            return record
        record = self.rounds[event.round_id]
        if isinstance(event, RoundStarted):
            record.remote_id = event.remote_id
        elif isinstance(event, RoundFinished):
            record.finished = event
        else:
            record.abandoned = True
        return record


def _read_events(path: Path) -> list[LedgerEvent]:
    """Every event of a ledger file; a torn last line (a killed process) is skipped, as it was never acted on."""
    if not path.is_file():
        return []
    events: list[LedgerEvent] = []
    known: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = _EVENT.validate_python(json.loads(line))
        except (ValueError, ValidationError):
            log.warning("%s: line %d is not a ledger event; ignored", path, number)
            continue
        if not isinstance(event, RoundOpened) and event.round_id not in known:
            log.warning("%s: line %d names a round the ledger never opened; ignored", path, number)
            continue
        known.add(event.round_id)
        events.append(event)
    return events
