"""Who answers a round: the Batch API of an OpenAI-compatible endpoint, or a command run once per round."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import tempfile
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from agent.errors import ModelRequestError
from agent.models.batch._errors import BatchCommandError
from agent.models.batch._ledger import RoundRecord
from agent.models.batch._lines import CHAT_URL, BatchIssue, RoundResult

if TYPE_CHECKING:
    from openai import AsyncOpenAI

log = logging.getLogger("faithcheck.models.batch")

TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})
ADOPTION_SCAN_LIMIT = 1000
"""How many of the endpoint's most recent batches are searched for one a crashed process submitted."""
CLOCK_SLACK_S = 3600.0
"""The search stops at batches older than the round by this much (the server's clock may differ from ours)."""
RUN_MARKER = b"--- faithcheck: the batch command starts ---\n"
"""Written to a round's log before each run of its command."""
LOG_TAIL_CHARS = 160
"""How much of a failed command's last output an error message quotes (the log file has all of it)."""


class BatchRunner(ABC):
    """Answers rounds of requests written in the batch JSONL format."""

    kind: ClassVar[str]
    """Recorded in the ledger: rounds are only ever reused by a runner of the same kind."""
    survives_restart: ClassVar[bool]
    """Whether a round started by a process that has died can still finish (a batch on a server can)."""

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """Where rounds go, safe to record (a public base URL or the command template)."""

    def use_directory(self, path: Path) -> None:  # noqa: B027  (optional hook, deliberately a no-op by default)
        """Where round files may be kept (a run directory's `batches/`)."""

    @abstractmethod
    async def upload(self, round_id: str, payload: bytes) -> str:
        """Make the round's input available to the runner; returns its reference (file id or path)."""

    @abstractmethod
    async def start(self, round_id: str, input_ref: str) -> str:
        """Submit the round; returns its remote id. May fail after the server accepted it (see `find_started`)."""

    @abstractmethod
    async def find_started(self, record: RoundRecord) -> str | None:
        """The remote id of a batch already submitted with this round's input, if one exists."""

    @abstractmethod
    async def wait(self, record: RoundRecord) -> RoundResult:
        """Wait until the round's batch ends and read its output."""

    async def aclose(self) -> None:  # noqa: B027  (optional hook, deliberately a no-op by default)
        """Release what the runner holds."""


class BatchAPIRunner(BatchRunner):
    """The `/v1/files` and `/v1/batches` endpoints, through the openai SDK (api.openai.com or any imitation)."""

    kind = "batch-api"
    survives_restart = True

    def __init__(
        self,
        client: Callable[[], AsyncOpenAI],
        *,
        name: str,
        base_url: str,
        poll_interval_s: float,
        completion_window: str,
    ) -> None:
        self._client = client
        self._name = name
        self._base_url = base_url
        self._poll_interval_s = poll_interval_s
        self._completion_window = completion_window

    @property
    def endpoint(self) -> str:
        """The public base URL."""
        return self._base_url

    async def upload(self, round_id: str, payload: bytes) -> str:
        """Upload the input file (purpose `batch`)."""
        with self._batch_api_errors():
            uploaded = await self._client().files.create(
                file=(f"faithcheck-{round_id}.jsonl", payload, "application/jsonl"), purpose="batch"
            )
        return str(uploaded.id)

    async def start(self, round_id: str, input_ref: str) -> str:
        """Create the batch; the round id goes into its metadata, to find it in the dashboard."""
        with self._batch_api_errors():
            batch = await self._client().batches.create(
                input_file_id=input_ref,
                endpoint=CHAT_URL,
                # The SDK types the window as "24h" only; other Batch API servers accept more.
                completion_window=self._completion_window,  # type: ignore[arg-type]
                metadata={"faithcheck_round": round_id},
            )
        return str(batch.id)

    async def find_started(self, record: RoundRecord) -> str | None:
        """Search the endpoint's recent batches (newest first) for one made from this round's input file."""
        import openai

        scanned = 0
        try:
            async for batch in self._client().batches.list(limit=100):
                if batch.input_file_id == record.opened.input:
                    return str(batch.id)
                scanned += 1
                if scanned >= ADOPTION_SCAN_LIMIT or batch.created_at < record.opened.at - CLOCK_SLACK_S:
                    break
        except openai.NotFoundError:
            log.warning("%s cannot list batches; round %s is sent again", self._base_url, record.round_id)
        return None

    async def wait(self, record: RoundRecord) -> RoundResult:
        """Poll the batch until it ends, then read its output and error files (an expired file counts as none)."""
        import openai

        assert record.remote_id is not None
        client = self._client()
        while True:
            batch = await client.batches.retrieve(record.remote_id)
            if batch.status in TERMINAL_STATUSES:
                break
            await asyncio.sleep(self._poll_interval_s)
        texts = []
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            try:
                texts.append((await client.files.content(file_id)).text)
            except openai.NotFoundError:
                log.warning("batch %s: its file %s is gone; its requests count as unanswered", batch.id, file_id)
        issues = [
            BatchIssue(code=error.code, message=error.message or "", line=error.line)
            for error in ((batch.errors.data or []) if batch.errors else [])
        ]
        return RoundResult(batch_id=str(batch.id), status=str(batch.status), texts=texts, issues=issues)

    @contextlib.contextmanager
    def _batch_api_errors(self) -> Iterator[None]:
        """A 404 from /v1/files or /v1/batches means the endpoint has no Batch API: say so, not "check the model"."""
        import openai

        try:
            yield
        except openai.NotFoundError:
            raise ModelRequestError(
                self._name,
                f"{self._base_url} has no Batch API (HTTP 404 from /v1/files or /v1/batches): drop -O batch=true, "
                "or point --base-url at an endpoint that implements both",
            ) from None


class CommandRunner(BatchRunner):
    """A command run once per round, reading `{input}` and writing `{output}` (vLLM run_batch, a Ray job, ...).

    Rounds run one at a time, so that a single-node engine never loads the model twice. Each round keeps its
    input, output and the command's log in the run directory's `batches/`.
    """

    kind = "command"
    survives_restart = False

    def __init__(self, argv: list[str], *, template: str, model: str) -> None:
        self._argv = argv
        self._template = template
        self._model = model
        self._directory: Path | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        # One lock per event loop: an asyncio.Lock cannot be shared between loops (generate_sync makes one each).
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    @property
    def endpoint(self) -> str:
        """The command template's hash: rounds are reused only by the same command, and the ledger never holds a
        token the user typed into it."""
        return "command:" + hashlib.sha256(self._template.encode()).hexdigest()[:16]

    def use_directory(self, path: Path) -> None:
        """Keep round files in `path`."""
        self._directory = path

    def _files_directory(self) -> Path:
        if self._directory is None:
            if self._scratch is None:
                self._scratch = tempfile.TemporaryDirectory(prefix="faithcheck-batches-")
            return Path(self._scratch.name)
        self._directory.mkdir(parents=True, exist_ok=True)
        return self._directory

    async def upload(self, round_id: str, payload: bytes) -> str:
        """Write the round's input file."""
        path = self._files_directory() / f"round-{round_id}.input.jsonl"
        await asyncio.to_thread(path.write_bytes, payload)
        return str(path)

    async def start(self, round_id: str, input_ref: str) -> str:
        """Nothing to submit: the command runs when the round is waited for."""
        return round_id

    async def find_started(self, record: RoundRecord) -> str | None:
        """A command that was running when its process died left nothing to wait for."""
        return None

    async def wait(self, record: RoundRecord) -> RoundResult:
        """Run the command (one round at a time) and read its output file; a finished round's is read again."""
        input_path = Path(record.opened.input)
        output_path = input_path.with_name(input_path.name.replace(".input.", ".output."))
        if record.finished is not None and output_path.is_file():  # answered before this process started
            return RoundResult(batch_id=record.round_id, status="completed", texts=[output_path.read_text("utf-8")])
        async with self._locks.setdefault(asyncio.get_running_loop(), asyncio.Lock()):
            output_path.unlink(missing_ok=True)
            log_path = input_path.with_name(input_path.name.replace(".input.jsonl", ".log"))
            values = {"{input}": str(input_path), "{output}": str(output_path), "{model}": self._model}
            argv = [_substitute(arg, values) for arg in self._argv]
            status = await _run(argv, log_path)
            if status != 0:
                raise BatchCommandError(
                    f"the batch command of round {record.round_id} exited with status {status} "
                    f"(log: {log_path}): {_tail(log_path)}"
                )
            if not output_path.is_file():
                raise BatchCommandError(
                    f"the batch command of round {record.round_id} exited without writing {output_path}: "
                    "does the template pass {output} where the runner writes its results?"
                )
            text = await asyncio.to_thread(output_path.read_text, "utf-8")
        return RoundResult(batch_id=record.round_id, status="completed", texts=[text])

    async def aclose(self) -> None:
        """Remove the scratch directory, when there was no run directory."""
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None


async def _run(argv: list[str], log_path: Path) -> int:
    """Run a command with its output appended to `log_path`; stop it if the audit is interrupted meanwhile."""
    with log_path.open("ab") as sink:
        sink.write(RUN_MARKER)  # not the command line: a template may hold a token the user typed
        sink.flush()
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=asyncio.subprocess.STDOUT
        )
        try:
            return await process.wait()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            raise


def _substitute(arg: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        arg = arg.replace(placeholder, value)
    return arg


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    text = text.rpartition(RUN_MARKER.decode())[2]  # this run's output only
    text = " ".join(text[-LOG_TAIL_CHARS:].split())
    return text or "(it printed nothing)"
