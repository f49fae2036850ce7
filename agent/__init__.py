"""faithcheck's orchestrator: models, explanation paradigms, runs and the CLI."""

from agent.errors import ConfigurationError, FaithcheckError, ModelError
from agent.models import ChatMessage, Completion, GenerateConfig, Model, get_model

__version__ = "0.1.0"

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
