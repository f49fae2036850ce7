"""`BatchMode`: how an `openai/` model in batch mode answers `generate` — by rounds of batched requests.

A request is built exactly as for a direct call (`OpenAIAPI.request_params`) and keyed by a hash of its body. If
the ledger holds it in a round that is still good (started, not spent by an error), it waits for that round;
otherwise it joins the open round. The open round closes when no request has arrived for `window_s` or when it
holds `max_requests`; it is then uploaded, submitted and recorded, and every request in it waits for its batch to
end. The reply body is read exactly as a direct reply (`OpenAIAPI.read_completion`).

Everything above `generate` stays as for direct calls: `Model` caches, shares identical requests in flight,
retries transient failures (a retried request joins a later round) and counts usage. Only its concurrency limit
is raised to a round's size, so that every request an audit can issue at once joins the same round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.models._types import ChatMessage, Completion, GenerateConfig
from agent.models.batch._errors import RequestUnanswered
from agent.models.batch._ledger import (
    LEDGER_FILE,
    BatchLedger,
    RoundAbandoned,
    RoundFinished,
    RoundOpened,
    RoundRecord,
    RoundStarted,
)
from agent.models.batch._lines import LineOutcome, input_line, read_round, request_key
from agent.models.batch._options import BatchOptions
from agent.models.batch._runners import BatchAPIRunner, BatchRunner, CommandRunner

if TYPE_CHECKING:
    from agent.models.openai_api import OpenAIAPI

log = logging.getLogger("faithcheck.models.batch")

_TAKEN = LineOutcome()
"""Stands for an outcome its request has already taken."""

ROUNDS_DIRECTORY = "batches"
"""Where a command runner keeps each round's input, output and log, inside the run directory."""


@dataclass
class BatchStats:
    """What batch mode has done in this process; the progress display and the ledger read it."""

    submitted: int = 0
    """Rounds sent in this process (each exactly once)."""
    resumed: int = 0
    """Rounds an earlier process had sent, waited for instead of sent again."""
    pending: int = 0
    """Rounds sent and not yet answered."""
    requests: int = 0
    """Requests sent in the rounds of this process."""
    failed_lines: int = 0
    """Requests a batch answered with an error (each went on to the retry layer)."""
    statuses: dict[str, int] = field(default_factory=dict)
    """How the waited-for rounds ended: completed, failed, expired, cancelled."""


@dataclass
class _OpenRound:
    """The round that requests are joining now."""

    round_id: str
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    full: bool = False
    started: asyncio.Future[RoundRecord] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class BatchMode:
    """Batched `generate` for one `openai/` model (see the module docstring)."""

    def __init__(self, api: OpenAIAPI, options: BatchOptions, runner: BatchRunner) -> None:
        self._api = api
        self.options = options
        self.runner = runner
        self.ledger = BatchLedger()
        self.stats = BatchStats()
        self._open: _OpenRound | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waits: dict[str, asyncio.Task[dict[str, LineOutcome]]] = {}
        self._settling: dict[str, asyncio.Task[RoundRecord]] = {}
        self._outcomes: dict[str, dict[str, LineOutcome]] = {}
        """Outcomes of finished rounds, kept until each of their requests has taken its own (then dropped)."""
        self._untaken: dict[str, int] = {}
        self._spent: dict[str, set[str]] = {}

    @classmethod
    def for_api(cls, api: OpenAIAPI, options: BatchOptions) -> BatchMode:
        """Batch mode for `api`: its endpoint's Batch API, or the command in `options`."""
        runner: BatchRunner
        if options.command is not None:
            runner = CommandRunner(options.command_argv(), template=options.command, model=api.model_name)
        else:
            runner = BatchAPIRunner(
                api._client,
                name=api.name,
                base_url=api.base_url,
                poll_interval_s=options.poll_interval_s,
                completion_window=options.completion_window,
            )
        return cls(api, options, runner)

    @property
    def max_in_flight(self) -> int:
        """Requests `Model` may have in flight at once: a whole round."""
        return self.options.max_requests

    def cache_identity(self, identity: dict[str, Any]) -> dict[str, Any]:
        """The Batch API answers as the endpoint does (the cache is shared); a command is an endpoint of its own."""
        if self.options.command is None:
            return identity
        return {key: value for key, value in identity.items() if key != "base_url"} | {
            "batch_command": self.options.command
        }

    def bind_run_directory(self, path: Path) -> None:
        """Keep the ledger (and a command's round files) in the run directory; read what an earlier process left."""
        self.ledger.bind(path / LEDGER_FILE)
        self.runner.use_directory(path / ROUNDS_DIRECTORY)
        if not self.runner.survives_restart:
            for record in self.ledger.rounds.values():
                if record.earlier_session and record.finished is None and not record.abandoned:
                    self.ledger.record(RoundAbandoned(round_id=record.round_id, reason="its process ended first"))

    async def generate(self, messages: Sequence[ChatMessage], config: GenerateConfig) -> Completion:
        """One request, answered through a round; failures raise what a direct call would have raised."""
        from openai.types.chat import ChatCompletion

        body = self._api.request_params(messages, config)
        key = request_key(body, config.sample_id)
        reply = await self._answer(key, body)
        # construct, not validate: the SDK does not validate direct replies either (servers omit fields).
        return self._api.read_completion(ChatCompletion.construct(**reply), config)

    async def _answer(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        record = self._recorded_round(key)
        if record is not None and record.remote_id is None:
            record = await self._settle(record)
        if record is None or record.abandoned:
            record = await self._join_open_round(key, body)
        outcome = await self._take(record, key)
        if outcome is None:  # the ledger listed the key, the round's reading did not: treat as unanswered
            outcome = LineOutcome(error=RequestUnanswered(f"round {record.round_id} has no result for this request"))
        if outcome.error is not None:
            self._spent.setdefault(key, set()).add(record.round_id)
            self.stats.failed_lines += 1
            raise outcome.error
        assert outcome.body is not None
        return outcome.body

    def _recorded_round(self, key: str) -> RoundRecord | None:
        """The newest round holding this request that can still answer it (same runner, endpoint and model)."""
        spent = self._spent.get(key, set())
        for record in self.ledger.rounds_for(key):
            opened = record.opened
            if record.abandoned or record.round_id in spent:
                continue
            if (opened.runner, opened.endpoint, opened.model) != (
                self.runner.kind,
                self.runner.endpoint,
                self._api.model_name,
            ):
                continue
            return record
        return None

    async def _join_open_round(self, key: str, body: dict[str, Any]) -> RoundRecord:
        current = self._open
        if current is None:
            current = self._open = _OpenRound(round_id=self._new_round_id())
            self._spawn(self._close_when_quiet(current))
        current.bodies.setdefault(key, body)
        current.arrived.set()
        if len(current.bodies) >= self.options.max_requests:
            current.full = True
            self._open = None  # the next request starts the next round
        return await asyncio.shield(current.started)

    async def _close_when_quiet(self, current: _OpenRound) -> None:
        while not current.full:
            current.arrived.clear()
            try:
                await asyncio.wait_for(current.arrived.wait(), timeout=self.options.window_s)
            except asyncio.TimeoutError:
                break
        if self._open is current:
            self._open = None
        try:
            record = await self._submit(current)
        except asyncio.CancelledError:
            current.started.cancel()
            raise
        except Exception as exc:
            current.started.set_exception(exc)
            current.started.exception()  # retrieved: every waiter re-raises it
            return
        current.started.set_result(record)

    async def _submit(self, current: _OpenRound) -> RoundRecord:
        """Upload, record, start, record: a crash between any two steps leaves a ledger that says what was done."""
        keys = list(current.bodies)
        payload = "".join(input_line(key, current.bodies[key]) + "\n" for key in keys).encode("utf-8")
        input_ref = await self.runner.upload(current.round_id, payload)
        self.ledger.record(
            RoundOpened(
                round_id=current.round_id,
                runner=self.runner.kind,
                endpoint=self.runner.endpoint,
                model=self._api.model_name,
                input=input_ref,
                keys=keys,
            )
        )
        remote_id = await self.runner.start(current.round_id, input_ref)
        record = self.ledger.record(RoundStarted(round_id=current.round_id, remote_id=remote_id))
        self.stats.submitted += 1
        self.stats.requests += len(keys)
        log.info("%s: round %s sent as %s (%d requests)", self._api.name, current.round_id, remote_id, len(keys))
        return record

    async def _settle(self, record: RoundRecord) -> RoundRecord:
        """A round uploaded but not known to have started: adopt its batch if the server has one, else abandon it."""
        task = self._settling.get(record.round_id)
        if task is None:
            task = self._spawn(self._find_started(record))
            self._settling[record.round_id] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done() and task.exception() is not None:
                self._settling.pop(record.round_id, None)

    async def _find_started(self, record: RoundRecord) -> RoundRecord:
        if record.remote_id is not None or record.abandoned:
            return record
        remote_id = await self.runner.find_started(record)
        if remote_id is not None:
            log.info("%s: round %s was submitted as %s; waiting for it", self._api.name, record.round_id, remote_id)
            return self.ledger.record(RoundStarted(round_id=record.round_id, remote_id=remote_id))
        return self.ledger.record(RoundAbandoned(round_id=record.round_id, reason="no batch was made from its input"))

    async def _take(self, record: RoundRecord, key: str) -> LineOutcome | None:
        """A request's outcome from its round. Replies are dropped once every request of the round has its own;
        a request asked again after that (with no response cache) reads the round's output once more."""
        outcomes = await self._collect(record)
        outcome = outcomes.get(key)
        if outcome is _TAKEN:
            self._outcomes.pop(record.round_id, None)
            outcomes = await self._collect(record)
            outcome = outcomes.get(key)
        if outcome is not None:
            outcomes[key] = _TAKEN
            self._untaken[record.round_id] -= 1
            if self._untaken[record.round_id] == 0:
                self._outcomes.pop(record.round_id, None)
        return outcome

    async def _collect(self, record: RoundRecord) -> dict[str, LineOutcome]:
        """The outcomes of a round's batch, waited for once however many requests ask."""
        done = self._outcomes.get(record.round_id)
        if done is not None:
            return done
        task = self._waits.get(record.round_id)
        if task is None:
            task = self._spawn(self._wait(record))
            self._waits[record.round_id] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._waits.pop(record.round_id, None)  # a failed wait (the server unreachable) is tried anew

    async def _wait(self, record: RoundRecord) -> dict[str, LineOutcome]:
        self.stats.pending += 1
        if record.earlier_session:
            self.stats.resumed += 1
        try:
            result = await self.runner.wait(record)
        finally:
            self.stats.pending -= 1
        outcomes = read_round(record.opened.keys, result)
        self.stats.statuses[result.status] = self.stats.statuses.get(result.status, 0) + 1
        if record.finished is None:
            answered = sum(1 for outcome in outcomes.values() if outcome.body is not None)
            self.ledger.record(
                RoundFinished(
                    round_id=record.round_id,
                    status=result.status,
                    answered=answered,
                    failed=len(outcomes) - answered,
                )
            )
        self._outcomes[record.round_id] = outcomes
        self._untaken[record.round_id] = len(outcomes)
        return outcomes

    def _new_round_id(self) -> str:
        return f"{len(self.ledger.rounds) + 1:04d}-{uuid.uuid4().hex[:8]}"

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def aclose(self) -> None:
        """Stop waiting (submitted batches stay on the server; a resumed run picks them up) and close the ledger."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):  # cancelled or failed: nobody waits for it any more
                await task
        self._open = None
        self._waits.clear()
        self._settling.clear()
        await self.runner.aclose()
        self.ledger.close()
