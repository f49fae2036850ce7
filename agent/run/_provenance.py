"""Provenance for run headers: package versions, prompt hashes, run ids, and a command line with secrets masked.

Secrets come from the environment or flags and must never reach a run directory. `SecretMasker` knows the secret
values of this process (the `--api-key` value, environment variables whose names say they hold a key, token,
secret or password) and replaces them wherever they would be written; it also masks the values of secret-looking
flags and anything shaped like an API key in a command line, whether or not it is a known value.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata

from agent.prompts import PromptLibrary

MASK = "***"
KEY_PACKAGES = (
    "faithcheck",
    "torch",
    "transformers",
    "openai",
    "langchain-core",
    "pydantic",
    "tenacity",
    "jinja2",
    "numpy",
    "click",
    "rich",
)
"""Distributions whose versions can change a run's numbers or its records."""

_SECRET_NAME = re.compile(r"(?:^|[_-])(?:api[_-]?key|key|token|secret|password|passwd|credentials?)(?:$|[_-])", re.I)
_SECRET_FLAGS = ("--api-key", "--token", "--password", "--secret")
# Shapes of credentials that must be masked even when nobody told us they are secrets: provider key prefixes,
# bearer tokens, and long opaque strings mixing letters and digits.
_KEY_SHAPES = re.compile(
    r"\b(?:sk|pk|rk|hf|gsk|xai|key|api|ghp|gho|github_pat|glpat|AKIA)[-_][A-Za-z0-9_\-]{12,}"
    r"|\bBearer\s+[A-Za-z0-9._\-]{12,}"
    r"|\b(?=[A-Za-z0-9_\-]{32,}\b)(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{32,}\b"
)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)[^/@\s:]+(?::[^/@\s]*)?@", re.I)
_MIN_SECRET_LENGTH = 6
"""Shorter values are not treated as secrets: masking "abc" everywhere would mangle ordinary text."""


def is_secret_name(name: str) -> bool:
    """Whether an option or environment variable name says its value is a credential."""
    return bool(_SECRET_NAME.search(name))


class SecretMasker:
    """Masks known secret values, secret-looking flag values and key-shaped strings."""

    def __init__(self, values: Iterable[str | None] = (), environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        found = {v for v in values if v}
        found |= {value for name, value in environ.items() if is_secret_name(name) and value}
        # Longest first, so a secret that contains another is masked whole.
        self._values = sorted((v for v in found if len(v) >= _MIN_SECRET_LENGTH), key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """`text` with every known secret value and URL credential replaced by ***.

        Key-shaped strings are left alone here: records hold content hashes that look just like keys.
        """
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)

    def mask_argv(self, argv: Sequence[str]) -> list[str]:
        """A command line safe to store: known secrets, values of secret flags and secret `-O key=value` options,
        and anything shaped like an API key are masked."""
        masked: list[str] = []
        hide_next = False
        for arg in argv:
            if hide_next:
                masked.append(MASK)
                hide_next = False
                continue
            flag, sep, _ = arg.partition("=")
            if flag in _SECRET_FLAGS:
                if sep:
                    masked.append(f"{flag}={MASK}")
                else:
                    masked.append(arg)
                    hide_next = True
                continue
            if sep and not flag.startswith("-") and is_secret_name(flag):
                masked.append(f"{flag}={MASK}")  # -O api_key=... or --test-param x.token=...
                continue
            if sep and flag.startswith("-") and is_secret_name(flag.lstrip("-")):
                masked.append(f"{flag}={MASK}")
                continue
            masked.append(_KEY_SHAPES.sub(MASK, self.scrub(arg)))
        return masked

    def mask_options(self, options: Mapping[str, object]) -> dict[str, object]:
        """Provider options safe to store: values under secret-looking names replaced by ***."""
        return {
            key: MASK if is_secret_name(key) else (self.scrub(value) if isinstance(value, str) else value)
            for key, value in options.items()
        }


def package_versions(names: Sequence[str] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of the distributions that matter for a run (missing ones are left out)."""
    versions: dict[str, str] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def prompt_hashes(prompts: PromptLibrary) -> dict[str, str]:
    """Template name -> source hash for every template on the library's search path."""
    return {name: prompts.source_hash(name) for name in prompts.names()}


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: UTC time plus a random suffix, e.g. 20250101-120000-3fa2c1."""
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
