"""Explanation paradigms: typed specs (pydantic in, pydantic out), separate from the prompts that carry them."""

from agent.paradigms import _edits, _explanations, _importance, _predict, _reasoning  # noqa: F401  (registration)
from agent.paradigms._answers import answer_space, normalise_gold, parse_answer, softmax, spoken, unknown_answer
from agent.paradigms._base import (
    HELPER_BUDGET,
    Paradigm,
    Session,
    default_budgets,
    get_paradigm,
    paradigm_names,
    register_paradigm,
    resolve_budget,
)
from agent.paradigms._edits import REDACTION_TOKEN, count_redactions, default_target
from agent.paradigms._hint import ParadigmHint, hint_extras, hint_request
from agent.paradigms._reasoning import reasoning_text
from agent.paradigms._types import (
    ChainOfThought,
    Counterfactual,
    ExplainThenPredict,
    FeatureImportance,
    ImportantWord,
    ParadigmOutput,
    ParadigmRequest,
    ParadigmResult,
    PostHocExplanation,
    Prediction,
    Redaction,
)

EXPLANATION_PARADIGMS = ("post-hoc", "explain-then-predict", "importance", "counterfactual", "redaction", "cot")
"""The paradigms `explain` runs by default (beside `predict`, which always runs)."""

__all__ = [
    "EXPLANATION_PARADIGMS",
    "HELPER_BUDGET",
    "REDACTION_TOKEN",
    "ChainOfThought",
    "Counterfactual",
    "ExplainThenPredict",
    "FeatureImportance",
    "ImportantWord",
    "Paradigm",
    "ParadigmHint",
    "ParadigmOutput",
    "ParadigmRequest",
    "ParadigmResult",
    "PostHocExplanation",
    "Prediction",
    "Redaction",
    "Session",
    "answer_space",
    "count_redactions",
    "default_budgets",
    "default_target",
    "get_paradigm",
    "hint_extras",
    "hint_request",
    "normalise_gold",
    "paradigm_names",
    "parse_answer",
    "reasoning_text",
    "register_paradigm",
    "resolve_budget",
    "softmax",
    "spoken",
    "unknown_answer",
]
