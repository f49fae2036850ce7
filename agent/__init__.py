"""faithcheck's orchestrator: models, explanation paradigms, runs and the CLI."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agent.errors import ConfigurationError, FaithcheckError, ModelError

if TYPE_CHECKING:
    from agent.models import ChatMessage, Completion, GenerateConfig, Model, get_model

__version__ = "0.1.0"

_FROM_MODELS = ("ChatMessage", "Completion", "GenerateConfig", "Model", "get_model")
"""Re-exported from agent.models on first use: importing `agent` (as every `agent.x` import does) stays cheap."""

__all__ = [
    "ChatMessage",
    "Completion",
    "ConfigurationError",
    "FaithcheckError",
    "GenerateConfig",
    "Model",
    "ModelError",
    "__version__",
    "get_model",
]


def __getattr__(name: str) -> Any:
    if name in _FROM_MODELS:
        return getattr(importlib.import_module("agent.models"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
