"""The orchestrator's front door: ask a model for its answer and explanations of an item, typed and traceable.

    from agent import get_model
    from agent.explainer import explain_sync
    result = explain_sync(get_model("smollm2"), item, task, ["post-hoc", "counterfactual"])

`Explainer` is the session paradigms run in: it holds the model, the prompt library and the generation settings,
and memoises paradigm results within its lifetime, so that every faithfulness test of an audit shares one base
answer and one set of explanations per item instead of asking again.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from agent._sync import run_sync
from agent.items import Demonstration, Item, Task
from agent.models import ChatMessage, GenerateConfig, Model
from agent.paradigms import EXPLANATION_PARADIGMS, ParadigmRequest, ParadigmResult, get_paradigm
from agent.paradigms._answers import TOP_LOGPROBS
from agent.paradigms._base import _PARADIGMS, default_budgets, resolve_budget, template_variables
from agent.paradigms._formats import json_schema_text
from agent.paradigms._hint import ParadigmHint
from agent.prompts import PromptLibrary, RenderedPrompt
from agent.structured import Asker, TraceSink

DEFAULT_MAX_TOKENS: dict[str, int] = default_budgets()
"""Generation budgets per paradigm, as each paradigm declares it (`Paradigm.budget`)."""
JSON_FREE = frozenset({"cot", "continue-reasoning"})
"""Paradigms asked in plain text even in JSON mode: the CoT tests work on the model's own prose."""


class Explainer:
    """Runs paradigms for one model. Create one per model (and per run); reuse it across items and tests."""

    def __init__(
        self,
        model: Model,
        *,
        prompts: PromptLibrary | None = None,
        reasks: int = 2,
        use_scores: bool | None = None,
        json_mode: bool | None = None,
        max_tokens: Mapping[str, int] | None = None,
        seed: int | None = None,
        on_trace: TraceSink | None = None,
        role: str = "subject",
        constrain: bool | None = None,
        system_prompt: str | None = None,
    ) -> None:
        """`use_scores` / `json_mode`: None follows the backend's declared capabilities. `max_tokens` overrides
        paradigm budgets by name (see `resolve_budget`). `constrain`: send each paradigm's reply format (a JSON
        schema in JSON mode, a grammar of the plain-text format otherwise) to backends that can enforce it.
        `system_prompt`: the system prompt the model is deployed with, sent first in every call (see `Asker`)."""
        self.model = model
        self.prompts = prompts or PromptLibrary()
        self.asker = Asker(
            model, self.prompts, role=role, reasks=reasks, on_trace=on_trace, system_prompt=system_prompt
        )
        self.use_scores = model.capabilities.score if use_scores is None else use_scores
        self.json_mode = model.capabilities.json_mode if json_mode is None else json_mode
        self.max_tokens = dict(max_tokens or {})
        """Budget overrides by paradigm name; they win over everything else."""
        self.constrain = True if constrain is None else constrain
        self.seed = seed
        self._memo: dict[str, asyncio.Task[ParadigmResult]] = {}

    # --- the Session protocol paradigms use ---

    def render(self, paradigm: str, request: ParadigmRequest, **extra: Any) -> RenderedPrompt:
        json_mode = extra.pop("json_mode", self.json_mode)
        name = self.prompts.resolve(
            [f"{paradigm}/{request.task.name}", f"{paradigm}/{request.task.kind}", f"{paradigm}/default"]
        )
        return self.prompts.render(name, template_variables(request, json_mode, **extra))

    def config(
        self, paradigm: str, request: ParadigmRequest | None = None, *, requested: int | None = None
    ) -> GenerateConfig:
        """Greedy settings for a paradigm's (or helper task's) call: its budget (`resolve_budget`: an override,
        else `requested` or the request's `max_tokens` parameter, else the paradigm's default), its reply format
        where the backend can enforce one, and token logprobs where its answer can be scored from them."""
        json_mode = self.json_mode and paradigm not in JSON_FREE
        fields: dict[str, Any] = {}
        spec = _PARADIGMS.get(paradigm)
        capabilities = self.model.capabilities
        if spec is not None and request is not None and self.constrain:
            schema = spec.reply_schema(request) if json_mode else None
            if schema is not None and capabilities.structured_output:
                fields.update(reply_schema=json_schema_text(schema), reply_name=paradigm.replace("-", "_"))
            elif not json_mode and capabilities.grammar:
                fields.update(reply_grammar=spec.reply_grammar(request), reply_ending=spec.reply_ending(request))
        if spec is not None and spec.scored and not self.use_scores and capabilities.logprobs:
            fields.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        return GenerateConfig(
            temperature=0.0,
            max_tokens=resolve_budget(paradigm, request, overrides=self.max_tokens, requested=requested),
            seed=self.seed,
            json_mode=json_mode,
            **fields,
        )

    def history(self, request: ParadigmRequest) -> list[ChatMessage]:
        turns: list[ChatMessage] = []
        for demo in request.demonstrations:
            turns.append(ChatMessage(role="user", content=demo.input))
            turns.append(ChatMessage(role="assistant", content=demo.output))
        return turns

    def hint(self, paradigm: str, request: ParadigmRequest, **extra: Any) -> ParadigmHint:
        return ParadigmHint(paradigm, request, extra)

    async def run(self, paradigm: str, request: ParadigmRequest) -> ParadigmResult:
        """Run a paradigm on a request; identical requests within this Explainer's life share one result."""
        key = hashlib.sha256(f"{paradigm}\x00{request.model_dump_json()}".encode()).hexdigest()
        task = self._memo.get(key)
        if task is None:
            task = asyncio.ensure_future(get_paradigm(paradigm).run(self, request))
            self._memo[key] = task
        try:
            return await asyncio.shield(task)
        except BaseException:
            if task.done():
                self._memo.pop(key, None)  # a failed run (e.g. network) may be tried again later
            raise

    # --- conveniences ---

    async def ask(
        self,
        paradigm: str,
        item: Item,
        task: Task,
        *,
        demonstrations: Sequence[Demonstration] = (),
        preamble: str | None = None,
        suffix: str | None = None,
        allow_unknown: bool = False,
        **params: Any,
    ) -> ParadigmResult:
        """Run one paradigm on an item."""
        request = ParadigmRequest(
            item=item,
            task=task,
            demonstrations=list(demonstrations),
            preamble=preamble,
            suffix=suffix,
            allow_unknown=allow_unknown,
            params=params,
        )
        return await self.run(paradigm, request)


class Explanation(BaseModel):
    """An item's answer and explanations from one model."""

    model: str
    item: Item
    task: Task
    results: dict[str, ParadigmResult] = Field(default_factory=dict)
    """Paradigm name -> typed result (output or parse failure, with its calls)."""

    @property
    def answer(self) -> str | None:
        """The base answer (from `predict`)."""
        base = self.results.get("predict")
        return base.prediction.answer if base and base.prediction else None


async def explain(
    model: Model,
    item: Item,
    task: Task,
    paradigms: Sequence[str] = EXPLANATION_PARADIGMS,
    *,
    explainer: Explainer | None = None,
    demonstrations: Sequence[Demonstration] = (),
    **params: Any,
) -> Explanation:
    """Ask for the answer and each paradigm's explanation of one item.

    Paradigms the task framing does not support are skipped; `params` maps a paradigm name to its parameters.
    """
    explainer = explainer or Explainer(model)
    wanted = ["predict", *[p for p in paradigms if p != "predict"]]
    supported = [p for p in wanted if get_paradigm(p).supports(task.kind)]

    async def one(name: str) -> tuple[str, ParadigmResult]:
        return name, await explainer.ask(name, item, task, demonstrations=demonstrations, **params.get(name, {}))

    results = dict(await asyncio.gather(*(one(name) for name in supported)))
    return Explanation(model=model.name, item=item, task=task, results={p: results[p] for p in supported})


def explain_sync(
    model: Model,
    item: Item,
    task: Task,
    paradigms: Sequence[str] = EXPLANATION_PARADIGMS,
    **kwargs: Any,
) -> Explanation:
    """Blocking `explain`, for scripts and notebooks."""
    return run_sync(explain(model, item, task, paradigms, **kwargs))
