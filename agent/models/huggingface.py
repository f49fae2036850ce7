"""`hf/<path>`: a local transformers model directory, run in this process with batched generation and exact scoring.

Importing this module is cheap: torch and transformers are imported when the model is first used, and the weights
are loaded then (on the worker thread, once). Concurrent requests never run the model concurrently: they queue for
one batching worker per loaded model (`agent.models._batch_worker`), which runs compatible requests as one
left-padded `generate` (or one forward pass for scoring).

Choices made here:
- Sampling follows `GenerateConfig` only; a checkpoint's `generation_config.json` contributes its special tokens,
  never its sampling defaults. temperature 0 is greedy; temperature > 0 samples from a seeded generator per choice
  (the seed is drawn and recorded in `Completion.seed` when none is given), so a row's tokens never depend on what
  else shares its batch.
- A prompt longer than the model's context is an error, not truncated: cutting the start would drop the instruction
  and the model would answer a different question. A reply is bounded by the room left in the context
  (finish_reason "length").
- Token log-probabilities are those of the model's own distribution (before temperature and top_p).
- Nothing is ever downloaded: a directory, or a hub id already in the local HF cache, with `local_files_only`.
- Replies follow the reply grammar a request carries (constrained decoding with llguidance, see
  `agent.models._constrained`), unless `-O constrained=false`: then the capability is not declared, no grammar is
  sent, and replies are free text as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PositiveInt, StrictBool

from agent.errors import ConfigurationError, ModelRequestError
from agent.models._api import ModelAPI, RequestHint
from agent.models._batch_worker import WorkerStats
from agent.models._options import ProviderOptions
from agent.models._registry import register_provider
from agent.models._types import Capabilities, ChatMessage, Completion, GenerateConfig

if TYPE_CHECKING:
    from agent.models._hf_runner import LocalRunner, RunnerSpec

# Weight files are fingerprinted by size and modification time (hashing gigabytes would cost more than a run);
# every other file (config, tokenizer, chat template) by content, since they are small and change the output.
log = logging.getLogger("faithcheck.models.hf")

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack", ".ckpt")
_HASHED_MAX_BYTES = 64 * 1024 * 1024


class HuggingFaceOptions(ProviderOptions):
    """Options of `hf/<path>` (and `smollm2`)."""

    dtype: Literal["float32", "bfloat16", "float16", "auto", "fastest"] = "float32"
    """float32 (reproducible across runs and batch sizes), bfloat16 (twice as fast on CPUs with AVX-512 BF16 or AMX,
    an order of magnitude slower on AVX2-only CPUs), float16, auto (what the checkpoint's config says), or fastest
    (float32 or bfloat16, whichever a model-sized matmul runs faster on this CPU at start-up; the choice is recorded
    in the run header and the cache key)"""
    threads: PositiveInt | None = None
    """torch intra-op threads; default: the physical cores this process may use, less those busy with other work"""
    batch_size: PositiveInt = 8
    """requests the batching worker runs as one generate call"""
    max_batch_tokens: PositiveInt = 8192
    """rows x (longest prompt + max new tokens) of one generate or scoring pass: bounds memory on long prompts"""
    device: str = "cpu"
    """the torch device to run on"""
    max_batch_wait_ms: float = Field(default=20.0, ge=0)
    """milliseconds the worker waits for more requests to fill a batch"""
    constrained: StrictBool = True
    """true/false: constrain decoding to each request's reply format (grammar or JSON schema)"""


@register_provider(
    "hf",
    requires=("torch", "transformers"),
    summary="a local transformers model directory (chat template, batched generation, exact scoring)",
    example="hf/path/to/model-dir",
)
class HuggingFaceAPI(ModelAPI):
    """A local transformers causal LM; options in `HuggingFaceOptions`."""

    Options = HuggingFaceOptions
    options: HuggingFaceOptions

    def __init__(self, model_name: str, **options: Any) -> None:
        super().__init__(model_name, **options)
        self._dtype: str | None = None if self.options.dtype == "fastest" else self.options.dtype
        self.batch_size = self.options.batch_size
        self.device = self.options.device
        self.max_batch_wait_s = self.options.max_batch_wait_ms / 1000.0
        self.constrained = self.options.constrained
        self._lock = threading.RLock()  # re-entered: resolving the dtype finds the model directory
        self._path: Path | None = None
        self._fingerprint: str | None = None
        self._runner: LocalRunner | None = None
        self._spec: RunnerSpec | None = None

    # --- where the model is -----------------------------------------------------------------------------------------

    def model_path(self) -> Path:
        """The resolved model directory (found once; nothing is loaded)."""
        with self._lock:
            if self._path is None:
                self._path = self._locate_model()
            return self._path

    def _locate_model(self) -> Path:
        """Find the model directory. Subclasses (the embedded model) override this."""
        if not self.model_name:
            raise ConfigurationError("hf needs a model directory: hf/path/to/model-dir (e.g. hf/./my-model)")
        path = Path(self.model_name).expanduser()
        if path.is_dir():
            return _checked_model_dir(self.name, path.resolve())
        cached = _local_hub_snapshot(self.model_name) if not path.exists() else None
        if cached is not None:
            return _checked_model_dir(self.name, cached)
        raise ConfigurationError(
            f"{self.name}: no model directory at {path.resolve()}: give a local transformers directory "
            "(config.json, weights, tokenizer) as hf/<path>; nothing is downloaded"
        )

    def fingerprint(self) -> str:
        """A cheap content fingerprint of the model directory (computed once)."""
        path = self.model_path()
        with self._lock:
            if self._fingerprint is None:
                self._fingerprint = _directory_fingerprint(path)
            return self._fingerprint

    @property
    def dtype(self) -> str:
        """The float type the weights run in; `dtype=fastest` is resolved here, once, by timing both on this CPU."""
        with self._lock:
            if self._dtype is None:
                self._dtype = _fastest_dtype(self.name, self._model_dims())
            return self._dtype

    def _model_dims(self) -> tuple[int, int]:
        """(hidden size, MLP size) from config.json, for the dtype probe; SmolLM2-135M's when the config lacks them."""
        path = self.model_path()
        try:
            config = json.loads((path / "config.json").read_text())
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{self.name}: cannot read {path / 'config.json'}: {exc}") from exc
        hidden = config.get("hidden_size") or config.get("n_embd") or 576
        return int(hidden), int(config.get("intermediate_size") or 4 * hidden)

    # --- ModelAPI ---------------------------------------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """Token logprobs, exact scoring, seeds, constrained decoding (unless switched off), in this process."""
        return Capabilities(logprobs=True, score=True, seed=True, local=True, grammar=self.constrained)

    @property
    def max_connections(self) -> int:
        """Enough requests in flight that the worker can fill a batch while the previous one runs."""
        return self.options.max_connections or max(32, 4 * self.batch_size)

    def cache_identity(self) -> dict[str, Any]:
        """Provider, model directory and its fingerprint, dtype and device: what changes the output."""
        return {
            "provider": self.provider,
            "model": self.model_name,
            "path": str(self.model_path()),
            "fingerprint": self.fingerprint(),
            "dtype": self.dtype,
            **({"dtype_chosen": "fastest"} if self.options.dtype == "fastest" else {}),
            "device": self.device,
        }

    def concurrency_key(self) -> str:
        """One limit per model as named: every request to it goes through the same worker. The name, not the
        resolved directory: finding (or converting) the model is left to its first use."""
        return f"{self.provider}:{self.model_name}"

    async def generate(
        self, messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None = None
    ) -> Completion:
        """Generate through the batching worker; `hint` is ignored (real backends do not read it)."""
        from agent.models._hf_runner import GENERATE, GenerateRequest

        if config.max_tokens < 1 or config.n < 1:
            raise ModelRequestError(
                self.name, f"max_tokens and n must be at least 1 (got {config.max_tokens}, {config.n})"
            )
        if not self.constrained and (config.reply_grammar or config.reply_ending):
            config = config.model_copy(update={"reply_grammar": None, "reply_ending": None})
        rows = config.n if config.temperature > 0 else 1
        runner = await self._get_runner()
        future = runner.worker.submit(GENERATE, GenerateRequest(list(messages), config), rows=rows)
        completion: Completion = await asyncio.wrap_future(future)
        return completion

    async def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> list[float]:
        """Sum of token log-probabilities of each continuation as the start of the reply, in one forward pass."""
        from agent.models._hf_runner import SCORE, ScoreRequest

        if not continuations:
            return []
        runner = await self._get_runner()
        future = runner.worker.submit(SCORE, ScoreRequest(list(messages), list(continuations)), rows=len(continuations))
        scores: list[float] = await asyncio.wrap_future(future)
        return scores

    async def aclose(self) -> None:
        """Stop using the worker; the last user of a loaded model stops it and frees the weights."""
        with self._lock:
            spec, self._spec, self._runner = self._spec, None, None
        if spec is not None:
            from agent.models._hf_runner import release_runner

            await asyncio.to_thread(release_runner, spec)

    @property
    def worker_stats(self) -> WorkerStats | None:
        """What the batching worker has run so far (None before the first request)."""
        runner = self._runner
        return runner.worker.stats if runner is not None else None

    async def _get_runner(self) -> LocalRunner:
        if self._runner is not None:
            return self._runner
        # Finding the directory may convert the embedded model or import torch: keep that off the event loop.
        return await asyncio.to_thread(self._acquire_runner)

    def _acquire_runner(self) -> LocalRunner:
        path = self.model_path()
        from agent.models._hf_runner import RunnerSpec, acquire_runner

        with self._lock:
            if self._runner is None:
                spec = RunnerSpec(
                    name=self.name,
                    path=path,
                    dtype=self.dtype,
                    device=self.device,
                    threads=self.options.threads,
                    max_batch_tokens=self.options.max_batch_tokens,
                    batch_size=self.batch_size,
                    max_wait_s=self.max_batch_wait_s,
                )
                self._runner, self._spec = acquire_runner(spec), spec
            return self._runner


def _fastest_dtype(name: str, dims: tuple[int, int]) -> str:
    from agent.models._local_cpu import fastest_dtype

    choice, seconds = fastest_dtype(*dims)
    log.info("%s: dtype=fastest chose %s (seconds per probe: %s)", name, choice, seconds)
    return choice


def _checked_model_dir(name: str, path: Path) -> Path:
    if not (path / "config.json").is_file():
        raise ConfigurationError(
            f"{name}: {path} is not a transformers model directory (no config.json); "
            "save one with save_pretrained() or give the directory that holds config.json"
        )
    return path


def _local_hub_snapshot(repo_id: str) -> Path | None:
    """The snapshot of a hub model already in the local HF cache, without any network access."""
    if repo_id.count("/") != 1 or repo_id.startswith((".", "/", "~")):
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached, or not a valid repo id: the caller reports the missing directory
        return None


def _directory_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.iterdir() if p.is_file()):
        stat = file.stat()
        digest.update(file.name.encode())
        if file.name.endswith(_WEIGHT_SUFFIXES) or stat.st_size > _HASHED_MAX_BYTES:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
        else:
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:16]
