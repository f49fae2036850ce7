"""The torch side of the `hf/` backend: one loaded model, its batching worker, and the batched generate and score.

Imported only when a local model is first used, because torch and transformers take seconds to import.

Token choice happens in `_TokenSelector`, a logits processor that picks every row's next token itself (argmax, or a
draw from that row's own seeded `torch.Generator`) and hands `generate` a one-hot mask to follow greedily. So each
row's tokens depend only on its own prompt, config and seed, never on what else shares the batch, and the same
processor records token log-probabilities without keeping whole-vocabulary logits for every step. A row whose
request carries a reply grammar chooses only among the tokens its grammar allows (`agent.models._constrained`);
its logged log-probabilities stay those of the model's own distribution.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.utils import logging as hf_logging

from agent.errors import ConfigurationError, FaithcheckError, ModelError, ModelRequestError
from agent.models._batch_worker import BatchWorker, Job
from agent.models._local_cpu import default_threads
from agent.models._types import ChatMessage, Choice, Completion, GenerateConfig, TokenLogprob, Usage

log = logging.getLogger("faithcheck.models.hf")

TORCH_DTYPES: dict[str, torch.dtype | str] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "auto": "auto",
}

GENERATE = "generate"
SCORE = "score"

_T = TypeVar("_T")


@dataclass(frozen=True)
class RunnerSpec:
    """Everything that decides which loaded model serves a request. Equal specs share one runner."""

    name: str
    """The model as users write it (`hf/...`, `smollm2`), for messages."""
    path: Path
    """The resolved model directory."""
    dtype: str
    device: str
    batch_size: int
    max_wait_s: float
    threads: int | None = None
    """torch intra-op threads (None: `default_threads()` when the model loads)."""
    max_batch_tokens: int = 8192
    """Rows x (longest prompt + its max new tokens) one generate or forward pass may hold: memory grows with the
    padded batch, not with the number of prompts, so long few-shot prompts run in smaller batches."""


@dataclass
class GenerateRequest:
    """The payload of a generate job."""

    messages: Sequence[ChatMessage]
    config: GenerateConfig


@dataclass
class ScoreRequest:
    """The payload of a score job."""

    messages: Sequence[ChatMessage]
    continuations: Sequence[str]


@dataclass
class _Row:
    """One sequence of a generate batch: a prompt and how to continue it."""

    prompt_ids: list[int]
    max_tokens: int
    temperature: float
    top_p: float | None
    seed: int | None
    """This row's own sampling seed; None for greedy rows."""
    stops: tuple[str, ...]
    top_logprobs: int | None
    """None: no log-probabilities; otherwise how many alternatives to keep per position."""
    grammar: str | None = None
    """A Lark grammar the row's reply must match (constrained decoding), or None."""
    ending: str | None = None
    """The grammar of what the reply must end with, when the model would stop early."""


@dataclass
class _PreparedJob:
    job: Job
    prompt_tokens: int
    seed: int | None
    rows: list[int] = field(default_factory=list)
    """Indices of this job's rows in the batch; a greedy job with n > 1 has one row, copied n times."""


LoggedToken = tuple[int, float, list[tuple[int, float]]]
"""(token id, log-probability, top alternatives as (id, log-probability))."""


# --- shared runners -----------------------------------------------------------------------------------------------

# Loaded weights are shared by every API object with the same spec (a judge and a model under test may both be
# `smollm2`): one copy in memory and one worker, so their requests batch together instead of competing for cores.
_RUNNERS: dict[RunnerSpec, tuple[LocalRunner, int]] = {}
_RUNNERS_LOCK = threading.Lock()


def acquire_runner(spec: RunnerSpec) -> LocalRunner:
    """The runner for `spec`, created on first use; pair every call with `release_runner`."""
    with _RUNNERS_LOCK:
        runner, users = _RUNNERS.get(spec, (None, 0))
        if runner is None:
            runner = LocalRunner(spec)
        _RUNNERS[spec] = (runner, users + 1)
        return runner


def release_runner(spec: RunnerSpec) -> None:
    """Drop one user of the runner; the last one stops its worker and frees the weights (blocks until done)."""
    with _RUNNERS_LOCK:
        entry = _RUNNERS.get(spec)
        if entry is None:
            return
        runner, users = entry
        if users > 1:
            _RUNNERS[spec] = (runner, users - 1)
            return
        del _RUNNERS[spec]
    runner.close()


# --- the runner ---------------------------------------------------------------------------------------------------


class LocalRunner:
    """One model and tokenizer, loaded on the worker thread at first use, and the worker that feeds them batches."""

    def __init__(self, spec: RunnerSpec) -> None:
        self.spec = spec
        self.worker = BatchWorker(
            self._run_batch,
            max_rows=spec.batch_size,
            max_wait_s=spec.max_wait_s,
            name=spec.name,
            # Load as soon as the first request arrives; requests that come in meanwhile join the first batch.
            warm_up=self._ensure_loaded,
        )
        # Touched only by the worker thread: loading happens there, once, so no lock is needed.
        self._model: Any = None
        self._tokenizer: Any = None
        self._load_error: FaithcheckError | None = None
        self._eos_ids: frozenset[int] = frozenset()
        self._pad_id = 0
        self._max_context: int | None = None
        self._keeps_logits = False
        self._warned_boundary = False
        self._grammars: Any = None  # a GrammarCompiler, built on the first row with a grammar
        self.threads: int | None = None
        """The torch intra-op threads chosen when the model loaded."""

    def close(self) -> None:
        """Stop the worker and drop the weights."""
        self.worker.close()
        self._model = None
        self._tokenizer = None

    # --- loading --------------------------------------------------------------------------------------------------

    def _ensure_loaded(self) -> None:
        if self._load_error is not None:
            raise self._load_error
        if self._model is not None:
            return
        try:
            self._load()
        except FaithcheckError as exc:
            self._load_error = exc
            raise
        except Exception as exc:
            detail = " ".join(str(exc).split())[:300] or type(exc).__name__
            self._load_error = ModelError(self.spec.name, f"could not load the model from {self.spec.path}: {detail}")
            raise self._load_error from exc

    def _load(self) -> None:
        spec = self.spec
        if not (spec.path / "config.json").is_file():
            raise ConfigurationError(f"{spec.name}: {spec.path} is not a transformers model directory (no config.json)")
        # torch's default (every core) oversubscribes cores that other jobs share: each matmul then waits for its
        # slowest, descheduled thread. Set on the worker thread, where every batch runs.
        threads = spec.threads or default_threads()
        torch.set_num_threads(threads)
        self.threads = threads
        log.info("loading %s from %s (%s on %s, %d threads)", spec.name, spec.path, spec.dtype, spec.device, threads)
        tokenizer = AutoTokenizer.from_pretrained(str(spec.path), local_files_only=True)
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigurationError(
                f"{spec.name}: the tokenizer in {spec.path} has no chat template; use a chat/instruct model "
                "(add chat_template.jinja to the directory if it has one elsewhere)"
            )
        # The per-weight progress bar is noise on a CLI; restore the user's setting afterwards.
        bars_were_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            model: Any = AutoModelForCausalLM.from_pretrained(
                str(spec.path), dtype=TORCH_DTYPES[spec.dtype], local_files_only=True
            )
        finally:
            if bars_were_on:
                hf_logging.enable_progress_bar()
        model.to(spec.device)
        model.eval()

        saved = model.generation_config
        eos = saved.eos_token_id if saved.eos_token_id is not None else tokenizer.eos_token_id
        eos_ids = {eos} if isinstance(eos, int) else set(eos or ())
        if tokenizer.eos_token_id is not None:
            eos_ids.add(int(tokenizer.eos_token_id))
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else saved.pad_token_id
        if pad is None:
            pad = min(eos_ids) if eos_ids else 0
        # Sampling is decided by GenerateConfig alone: the checkpoint's own defaults (temperature, repetition
        # penalty, ...) would otherwise be merged in by `generate`. Only its special tokens are kept.
        model.generation_config = GenerationConfig(
            bos_token_id=saved.bos_token_id, eos_token_id=sorted(eos_ids) or None, pad_token_id=pad
        )
        self._eos_ids = frozenset(eos_ids)
        self._pad_id = int(pad)
        max_positions = getattr(model.config, "max_position_embeddings", None)
        self._max_context = int(max_positions) if isinstance(max_positions, int) and max_positions > 0 else None
        # Most causal LMs can return logits for the last positions only, which spares the prompt's logits.
        self._keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters
        self._model = model
        self._tokenizer = tokenizer

    # --- batches ----------------------------------------------------------------------------------------------------

    def _run_batch(self, kind: str, jobs: Sequence[Job]) -> None:
        self._ensure_loaded()
        with torch.inference_mode():
            if kind == GENERATE:
                self._generate_batch(jobs)
            elif kind == SCORE:
                self._score_batch(jobs)
            else:  # pragma: no cover - the API only submits the two kinds above
                raise ValueError(f"unknown job kind {kind!r}")

    def _prompt_text(self, messages: Sequence[ChatMessage]) -> str:
        conversation = [{"role": m.role, "content": m.content} for m in messages]
        text = self._tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        return str(text)

    def _encode(self, text: str) -> list[int]:
        # The chat template writes the special tokens itself; the tokenizer must not add a BOS of its own.
        return list(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _context_error(self, tokens: int, what: str) -> ModelRequestError:
        return ModelRequestError(
            self.spec.name,
            f"{what} is {tokens} tokens but the model's context holds {self._max_context}: shorten the input "
            "(faithcheck does not truncate, so the model never answers a silently cut question)",
        )

    # --- generate ---------------------------------------------------------------------------------------------------

    def _generate_batch(self, jobs: Sequence[Job]) -> None:
        rows: list[_Row] = []
        prepared: list[_PreparedJob] = []
        for job in jobs:
            try:
                prepared.append(self._prepare_generate(job, rows))
            except Exception as exc:  # one bad request must not sink the batch
                job.future.set_exception(exc)
        if not rows:
            return
        outputs = []
        for chunk in _token_bounded(rows, lambda row: len(row.prompt_ids) + row.max_tokens, self.spec.max_batch_tokens):
            outputs += self._generate_rows(chunk)
        for item in prepared:
            try:
                item.job.future.set_result(self._completion(item, rows, outputs))
            except Exception as exc:
                item.job.future.set_exception(exc)

    def _prepare_generate(self, job: Job, rows: list[_Row]) -> _PreparedJob:
        request: GenerateRequest = job.payload
        config = request.config
        prompt_ids = self._encode(self._prompt_text(request.messages))
        max_tokens = config.max_tokens
        if self._max_context is not None:
            if len(prompt_ids) >= self._max_context:
                raise self._context_error(len(prompt_ids), "the prompt")
            # Room left in the context bounds the reply; reaching it reports finish_reason "length".
            max_tokens = min(max_tokens, self._max_context - len(prompt_ids))
        greedy = config.temperature <= 0
        seed = config.seed if greedy or config.seed is not None else secrets.randbelow(2**31)
        prepared = _PreparedJob(job=job, prompt_tokens=len(prompt_ids), seed=seed)
        for choice in range(1 if greedy else config.n):
            row_seed = None if seed is None or greedy else _row_seed(seed, choice)
            prepared.rows.append(len(rows))
            rows.append(
                _Row(
                    prompt_ids=prompt_ids,
                    max_tokens=max_tokens,
                    temperature=config.temperature,
                    top_p=config.top_p,
                    seed=row_seed,
                    stops=tuple(s for s in config.stop if s),
                    top_logprobs=(config.top_logprobs or 0) if config.logprobs else None,
                    grammar=config.reply_grammar,
                    ending=config.reply_ending,
                )
            )
        return prepared

    def _generate_rows(self, rows: list[_Row]) -> list[tuple[list[int], str, list[LoggedToken]]]:
        """Run one left-padded `generate` over all rows; per row: new token ids, finish reason, logged tokens."""
        device = self._model.device
        width = max(len(row.prompt_ids) for row in rows)
        input_ids = torch.full((len(rows), width), self._pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for index, row in enumerate(rows):
            # Left padding: every row's last prompt token sits at the same column, where generation starts.
            input_ids[index, width - len(row.prompt_ids) :] = torch.tensor(row.prompt_ids, dtype=torch.long)
            attention_mask[index, width - len(row.prompt_ids) :] = 1
        selector = _TokenSelector(rows, device, self._matchers(rows))
        stopper = _RowStopper(rows, width, self._eos_ids, self._tokenizer)
        sequences = self._model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            max_new_tokens=max(row.max_tokens for row in rows),
            do_sample=False,
            logits_processor=LogitsProcessorList([selector]),
            stopping_criteria=StoppingCriteriaList([stopper]),
        )
        steps = sequences.shape[1] - width
        results = []
        for index in range(len(rows)):
            kept = stopper.kept[index]
            if kept is None:
                kept = steps
            token_ids = sequences[index, width : width + kept].tolist()
            results.append((token_ids, stopper.reasons[index] or "length", selector.logged[index][:kept]))
        return results

    def _matchers(self, rows: Sequence[_Row]) -> list[Any]:
        """One grammar matcher per row that has a grammar (None for the others)."""
        if not any(row.grammar for row in rows):
            return [None] * len(rows)
        if self._grammars is None:
            from agent.models._constrained import GrammarCompiler

            vocab = int(self._model.get_output_embeddings().weight.shape[0])
            self._grammars = GrammarCompiler(self._tokenizer, vocab, self._eos_ids)
        return [
            self._grammars.matcher(row.grammar, row.ending, self.spec.name) if row.grammar else None for row in rows
        ]

    def _completion(
        self,
        item: _PreparedJob,
        rows: list[_Row],
        outputs: list[tuple[list[int], str, list[LoggedToken]]],
    ) -> Completion:
        request: GenerateRequest = item.job.payload
        config = request.config
        choices = []
        completion_tokens = 0
        for row_index in item.rows:
            token_ids, finish_reason, logged = outputs[row_index]
            choices.append(self._choice(token_ids, finish_reason, logged, rows[row_index]))
            completion_tokens += len(token_ids)
        if config.temperature <= 0 and config.n > 1:
            # Greedy decoding has one answer: the other choices are that answer again.
            choices = [choices[0].model_copy(deep=True) for _ in range(config.n)]
            completion_tokens *= config.n
        return Completion(
            model=self.spec.name,
            choices=choices,
            usage=Usage(prompt_tokens=item.prompt_tokens, completion_tokens=completion_tokens),
            seed=item.seed,
        )

    def _choice(self, token_ids: list[int], finish_reason: str, logged: list[LoggedToken], row: _Row) -> Choice:
        text = self._tokenizer.decode(token_ids, skip_special_tokens=True)
        cut = min((text.find(stop) for stop in row.stops if stop in text), default=-1)
        if cut >= 0:
            text, finish_reason = text[:cut], "stop"
        logprobs = None
        if row.top_logprobs is not None:
            if cut >= 0:
                logged = logged[: self._tokens_before(token_ids, cut)]
            logprobs = [
                TokenLogprob(
                    token=self._tokenizer.decode([token]),
                    logprob=logprob,
                    top=[(self._tokenizer.decode([alt]), alt_logprob) for alt, alt_logprob in top],
                )
                for token, logprob, top in logged
            ]
        return Choice(text=text, finish_reason=finish_reason, logprobs=logprobs)

    def _tokens_before(self, token_ids: list[int], cut: int) -> int:
        """How many leading tokens start before character `cut` of the decoded text (the tokens a stop cut keeps)."""
        for count in range(len(token_ids)):
            if len(self._tokenizer.decode(token_ids[:count], skip_special_tokens=True)) >= cut:
                return count
        return len(token_ids)

    # --- score ------------------------------------------------------------------------------------------------------

    def _score_batch(self, jobs: Sequence[Job]) -> None:
        sequences: list[tuple[list[int], int]] = []  # (prompt + continuation ids, prompt length), in job order
        results: list[list[float] | None] = []
        for job in jobs:
            try:
                results.append(self._prepare_score(job, sequences))
            except Exception as exc:
                job.future.set_exception(exc)
                results.append(None)
        # Rows with an empty continuation have nothing to score (log 1 = 0) and take no place in the batch.
        filled = [(i, seq) for i, seq in enumerate(sequences) if len(seq[0]) > seq[1]]
        row_scores = []
        for chunk in _token_bounded([seq for _, seq in filled], lambda seq: len(seq[0]), self.spec.max_batch_tokens):
            row_scores += self._score_rows(chunk)
        totals: dict[int, float] = {i: 0.0 for i in range(len(sequences))}
        for (i, _), value in zip(filled, row_scores, strict=True):
            totals[i] = value
        cursor = 0
        for job_index, job in enumerate(jobs):
            scores = results[job_index]
            if scores is None:
                continue
            for k in range(len(scores)):
                scores[k] = totals[cursor + k]
            cursor += len(scores)
            job.future.set_result(scores)

    def _prepare_score(self, job: Job, sequences: list[tuple[list[int], int]]) -> list[float]:
        request: ScoreRequest = job.payload
        prompt_text = self._prompt_text(request.messages)
        prompt_ids = self._encode(prompt_text)
        prepared: list[tuple[list[int], int]] = []
        for continuation in request.continuations:
            ids = prompt_ids + self._continuation_ids(prompt_text, prompt_ids, continuation)
            if self._max_context is not None and len(ids) > self._max_context:
                raise self._context_error(len(ids), "the prompt with a continuation")
            prepared.append((ids, len(prompt_ids)))
        sequences.extend(prepared)
        return [0.0] * len(prepared)

    def _continuation_ids(self, prompt_text: str, prompt_ids: list[int], continuation: str) -> list[int]:
        """The continuation's tokens as they would follow this exact prompt.

        Tokenising prompt + continuation together and taking the suffix beyond the prompt tokens gives the
        tokenisation a tokenizer produces mid-text (no spurious start-of-text space, as SentencePiece adds to a
        string on its own). That is only valid when the prompt tokens are a prefix of the joint tokens; when a
        merge crosses the boundary (e.g. a newline that joins the generation prompt's final newline) the model
        would never see that joint token after this prompt, so the continuation is tokenised on its own and
        appended: we score P(continuation | the exact prompt tokens `generate` conditions on).
        """
        if not continuation:
            return []
        joint = self._encode(prompt_text + continuation)
        if joint[: len(prompt_ids)] == prompt_ids:
            return joint[len(prompt_ids) :]
        if not self._warned_boundary:
            self._warned_boundary = True
            log.warning(
                "%s: a continuation merges with the end of the prompt when tokenised; scoring it tokenised alone",
                self.spec.name,
            )
        return self._encode(continuation)

    def _score_rows(self, sequences: list[tuple[list[int], int]]) -> list[float]:
        """Sum of log-probabilities of each row's tokens after its prompt, in one right-padded forward pass."""
        device = self._model.device
        width = max(len(ids) for ids, _ in sequences)
        input_ids = torch.full((len(sequences), width), self._pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for index, (ids, _) in enumerate(sequences):
            # Right padding keeps positions 0..len-1 as in an unpadded pass; pads come after and are never attended.
            input_ids[index, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention_mask[index, : len(ids)] = 1
        # Only positions from the first prompt's last token onwards predict continuation tokens.
        first = min(prompt_len for _, prompt_len in sequences) - 1
        inputs: dict[str, Any] = {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device)}
        if self._keeps_logits:
            inputs["logits_to_keep"] = width - first
        logits = self._model(**inputs).logits[:, -(width - first) :]
        scores = []
        for index, (ids, prompt_len) in enumerate(sequences):
            # Position p predicts token p + 1: tokens prompt_len..len-1 come from positions prompt_len-1..len-2.
            start = prompt_len - 1 - first
            row_logits = logits[index, start : start + len(ids) - prompt_len].float()
            targets = torch.tensor(ids[prompt_len:], dtype=torch.long, device=row_logits.device)
            logprobs = torch.log_softmax(row_logits, dim=-1).gather(1, targets[:, None]).squeeze(1)
            scores.append(float(logprobs.sum().item()))
        return scores


def _token_bounded(rows: Sequence[_T], cost: Callable[[_T], int], budget: int) -> list[list[_T]]:
    """`rows` in order, cut into runs whose padded size (rows x the largest cost among them) stays within `budget`;
    a row over budget on its own runs alone."""
    chunks: list[list[_T]] = []
    widest = 0
    for row in rows:
        width = max(widest, cost(row))
        if chunks and (len(chunks[-1]) + 1) * width <= budget:
            chunks[-1].append(row)
            widest = width
        else:
            chunks.append([row])
            widest = cost(row)
    return chunks


# --- token selection and stopping ---------------------------------------------------------------------------------


def _row_seed(seed: int, choice: int) -> int:
    """An independent seed per choice: seeds s and s+1 must not share samples between their choices."""
    digest = hashlib.sha256(f"{seed}:{choice}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class _TokenSelector(LogitsProcessor):
    """Chooses each row's next token (greedy or seeded sampling) and logs its log-probability when asked.

    It receives the raw logits (no other processor is configured) and returns a mask that is 0 at the chosen token
    and -inf elsewhere, so `generate`'s greedy step takes exactly this choice.
    """

    def __init__(self, rows: Sequence[_Row], device: torch.device, matchers: Sequence[Any] = ()) -> None:
        self._rows = rows
        self._matchers = list(matchers) or [None] * len(rows)
        self._generators: list[torch.Generator | None] = []
        for row in rows:
            if row.seed is None:
                self._generators.append(None)
            else:
                generator = torch.Generator(device=device)
                generator.manual_seed(row.seed)
                self._generators.append(generator)
        self._logging = [i for i, row in enumerate(rows) if row.top_logprobs is not None]
        self.logged: list[list[LoggedToken]] = [[] for _ in rows]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        logits = scores.float()
        allowed = logits
        wanted = logits.argmax(dim=-1).tolist()
        for index, matcher in enumerate(self._matchers):
            mask = matcher.allowed(logits.device, wanted[index]) if matcher is not None else None
            if mask is not None:
                if allowed is logits:
                    allowed = logits.clone()
                allowed[index, : mask.shape[0]] = allowed[index, : mask.shape[0]].masked_fill(~mask, float("-inf"))
                allowed[index, mask.shape[0] :] = float("-inf")
        chosen = allowed.argmax(dim=-1)
        for index, generator in enumerate(self._generators):
            if generator is not None:
                chosen[index] = _sample(allowed[index], self._rows[index], generator)
        for index, matcher in enumerate(self._matchers):
            if matcher is not None:
                matcher.consume(int(chosen[index]))
        if self._logging:
            rows = torch.tensor(self._logging, device=logits.device)
            logprobs = torch.log_softmax(logits[rows], dim=-1)
            for position, index in enumerate(self._logging):
                token = int(chosen[index])
                k = self._rows[index].top_logprobs or 0
                top: list[tuple[int, float]] = []
                if k > 0:
                    values, ids = logprobs[position].topk(k)
                    top = list(zip(ids.tolist(), values.tolist(), strict=True))
                self.logged[index].append((token, float(logprobs[position, token]), top))
        mask = torch.full_like(scores, float("-inf"))
        mask.scatter_(1, chosen[:, None], 0.0)
        return mask


def _sample(logits: torch.Tensor, row: _Row, generator: torch.Generator) -> torch.Tensor:
    probs = torch.softmax(logits / row.temperature, dim=-1)
    if row.top_p is not None and 0 < row.top_p < 1:
        sorted_probs, order = probs.sort(descending=True)
        # Keep the smallest set of most likely tokens whose mass reaches top_p (the most likely is always kept).
        keep = (sorted_probs.cumsum(0) - sorted_probs) < row.top_p
        pick = torch.multinomial(sorted_probs * keep, 1, generator=generator)
        return order[pick].squeeze(0)
    return torch.multinomial(probs, 1, generator=generator).squeeze(0)


class _RowStopper(StoppingCriteria):
    """Ends each row on its own terms: an end-of-sequence token, a stop string, or its own max_tokens.

    `kept[i]` is how many generated tokens row i keeps (its end-of-sequence token excluded); `reasons[i]` why it ended.
    """

    def __init__(self, rows: Sequence[_Row], prompt_width: int, eos_ids: frozenset[int], tokenizer: Any) -> None:
        self._rows = rows
        self._width = prompt_width
        self._eos_ids = eos_ids
        self._tokenizer = tokenizer
        self.kept: list[int | None] = [None] * len(rows)
        self.reasons: list[str | None] = [None] * len(rows)

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        generated = input_ids.shape[1] - self._width
        last = input_ids[:, -1].tolist()
        for index, row in enumerate(self._rows):
            if self.kept[index] is not None:
                continue
            if last[index] in self._eos_ids:
                self.kept[index], self.reasons[index] = generated - 1, "stop"
            elif row.stops and self._has_stop(input_ids[index, self._width :].tolist(), row.stops):
                self.kept[index], self.reasons[index] = generated, "stop"
            elif generated >= row.max_tokens:
                self.kept[index], self.reasons[index] = generated, "length"
        done = [kept is not None for kept in self.kept]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]

    def _has_stop(self, token_ids: list[int], stops: tuple[str, ...]) -> bool:
        text = self._tokenizer.decode(token_ids, skip_special_tokens=True)
        return any(stop in text for stop in stops)
