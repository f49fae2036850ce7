"""The click group and the options that several subcommands share."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from agent._sync import run_sync
from agent.errors import ConfigurationError

# Imported where they are used: `faithcheck --help` only needs click (see tests/test_light_core.py).
if TYPE_CHECKING:
    from agent.models import Model, ResponseCache
    from agent.run import SecretMasker

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class SafeLogFormatter(logging.Formatter):
    """Log lines as they may be shown: secrets masked (known values, URL credentials, Authorization headers, key
    shapes), control and invisible characters visible. The HTTP clients log full URLs at -v and more at -vv."""

    def __init__(self, fmt: str, secrets: Sequence[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = list(secrets)

    @functools.cached_property
    def masker(self) -> SecretMasker:
        """Built at the first log line: it imports agent.run, which `faithcheck CMD --help` should not wait for."""
        from agent.run import SecretMasker

        return SecretMasker(self.secrets)

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record (exception text included), made safe."""
        from agent.visible_text import visible

        return visible(self.masker.scrub_log(super().format(record)))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="faithcheck")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """faithcheck: ask an LLM to explain itself, then check whether the explanation is faithful."""
    level = logging.WARNING - 10 * min(verbose, 2)
    secrets = ctx.obj if isinstance(ctx.obj, list) else []  # the --api-key values, from cli.main
    handler = logging.StreamHandler()
    handler.setFormatter(SafeLogFormatter("%(levelname)s %(name)s: %(message)s", secrets))
    logging.basicConfig(level=level, handlers=[handler])


def parse_key_values(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    """`("dtype=bfloat16", "max_connections=4")` -> dict, with YAML scalars (numbers, booleans) parsed."""
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"{flag} expects key=value, got '{pair}'")
        options[key.strip().replace("-", "_")] = yaml.safe_load(value) if value else ""
    return options


prompts_dir_option = click.option(
    "--prompts-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    envvar="FAITHCHECK_PROMPTS_DIR",
    help="Directory of templates overriding the built-in ones [env FAITHCHECK_PROMPTS_DIR].",
)
"""`--prompts-dir DIR`: templates that override the built-in ones (commands that render prompts)."""


@dataclass(frozen=True)
class ModelFlags:
    """The flags that say how to reach a model, as one value: `model_options` passes it as `model_flags`."""

    base_url: str | None = None
    api_key: str | None = None
    model_option: tuple[str, ...] = ()
    """`-O KEY=VALUE` pairs as given."""
    cache_dir: Path | None = None
    no_cache: bool = False

    @property
    def options(self) -> dict[str, Any]:
        """The provider options (`-O`), values parsed as YAML scalars."""
        return parse_key_values(self.model_option, "--model-option")

    def open_cache(self) -> ResponseCache:
        """The persistent SQLite cache, or a per-run memory cache with --no-cache."""
        from agent.models import MemoryCache, SQLiteCache

        if self.no_cache:
            return MemoryCache()
        cache = SQLiteCache(self.cache_dir)
        cache.check_usable()
        return cache

    def build(self, name: str) -> Model:
        """The named model, reached with these flags (see `agent.run.build_model`)."""
        from agent.run import build_model

        return build_model(
            name, base_url=self.base_url, api_key=self.api_key, options=self.options, cache=self.open_cache()
        )


_MODEL_FLAGS = [
    click.option(
        "--base-url",
        envvar="OPENAI_BASE_URL",
        default=None,
        help="OpenAI-compatible endpoint for openai/ models [env OPENAI_BASE_URL].",
    ),
    click.option(
        "--api-key",
        envvar="OPENAI_API_KEY",
        default=None,
        show_envvar=False,
        help="API key for openai/ models; prefer the environment variable OPENAI_API_KEY.",
    ),
    click.option(
        "-O",
        "--model-option",
        "model_option",
        multiple=True,
        metavar="KEY=VALUE",
        help="Provider option, repeatable (e.g. -O dtype=bfloat16, -O max_connections=4).",
    ),
    click.option(
        "--cache-dir",
        envvar="FAITHCHECK_CACHE_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Response cache directory [env FAITHCHECK_CACHE_DIR; default: the user cache dir].",
    ),
    click.option(
        "--no-cache",
        envvar="FAITHCHECK_NO_CACHE",
        is_flag=True,
        default=False,
        help="Do not read or write the persistent cache (identical requests in one run are still shared).",
    ),
]
"""The click options behind ModelFlags, each mirroring an environment variable."""


def model_options(func: F) -> F:
    """Flags to reach a model: base URL, key, provider options, cache, each mirroring an environment variable.

    The command receives them as one `model_flags: ModelFlags` argument.
    """

    @functools.wraps(func)
    def command(
        *args: Any,
        base_url: str | None,
        api_key: str | None,
        model_option: tuple[str, ...],
        cache_dir: Path | None,
        no_cache: bool,
        **kwargs: Any,
    ) -> Any:
        flags = ModelFlags(base_url, api_key, model_option, cache_dir, no_cache)
        return func(*args, model_flags=flags, **kwargs)

    for decorator in reversed(_MODEL_FLAGS):
        command = decorator(command)
    return cast(F, command)


def run_and_close(work: Awaitable[T], *models: Model) -> T:
    """Run a command's async work to completion, then close its models, whatever happened."""

    async def go() -> T:
        try:
            return await work
        finally:
            for model in models:
                await model.aclose()

    return run_sync(go())
