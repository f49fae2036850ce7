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

_SECRET_NAME = re.compile(
    r"(?:^|[_-])(?:api[_-]?key|key|token|secret|password|passwd|credentials?|signature|sig)(?:$|[_-])", re.I
)
_SECRET_FLAGS = ("--api-key", "--token", "--password", "--secret")
# Every pattern below is linear in the length of the text: each starts at a fixed, rare anchor ("://", a query
# separator, a word boundary before a known prefix) and scans a run of characters that the next anchor ends.
# (The first version scanned forward from every letter of a word for a "://" or a 32-character run: quadratic,
# 23 s for a 40,000-character word.)
_URL_CREDENTIALS = re.compile(r"(?<=[A-Za-z0-9+.\-])://[^/@\s]+@")
"""`scheme://user:password@`: the userinfo part is masked."""
_QUERY_PARAMETER = re.compile(r"(?<=[?&;])([A-Za-z0-9_.\-]{1,64})=([^&\s#\"'<>]+)")
"""`?name=value` in a URL: the value is masked when the name says it is a credential (`api-key`, `token`, ...)."""
_AUTH_HEADER = re.compile(r"\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/=\-]{8,}")
"""A credential after an auth scheme anywhere: masked in logs and command lines."""
_AUTHORIZATION = re.compile(
    r"(authorization['\"]?\s{0,3}[:=,]\s{0,3}b?['\"]?\s{0,3}(?:Bearer|Basic)\s{1,3})[A-Za-z0-9._~+/=\-]+", re.I
)
"""A credential in an Authorization header: masked everywhere, records included (there, "Basic arithmetic" is
text, so the bare scheme is not enough)."""
_KEY_PREFIXES = re.compile(r"\b(?:sk|pk|rk|hf|gsk|xai|key|api|ghp|gho|github_pat|glpat|AKIA)[-_][A-Za-z0-9_\-]{12,}")
"""Provider key shapes: a known prefix and a long run."""
_OPAQUE_RUN = re.compile(r"[A-Za-z0-9_\-]{32,}")
"""A long run that is an opaque key when it mixes letters and digits (checked per run, not by lookahead)."""
_MIN_SECRET_LENGTH = 6
"""Shorter values are not treated as secrets: masking "abc" everywhere would mangle ordinary text."""


def is_secret_name(name: str) -> bool:
    """Whether an option or environment variable name says its value is a credential."""
    return bool(_SECRET_NAME.search(name))


def _mask_secret_parameter(match: re.Match[str]) -> str:
    return f"{match.group(1)}={MASK}" if is_secret_name(match.group(1)) else match.group(0)


def _mask_opaque_run(match: re.Match[str]) -> str:
    run = match.group(0)
    has_digit = any(c.isdigit() for c in run)
    has_letter = any(c.isalpha() for c in run)
    return MASK if has_digit and has_letter else run


def mask_key_shapes(text: str) -> str:
    """`text` with anything shaped like an API key or bearer token masked, known or not (too eager for records,
    whose content hashes look like keys; right for command lines and logs)."""
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _KEY_PREFIXES.sub(MASK, text)
    return _OPAQUE_RUN.sub(_mask_opaque_run, text)


class SecretMasker:
    """Masks known secret values, credentials in URLs and headers, secret-looking flag values and key shapes.

    Every method runs in time linear in the length of its text (bench/bench_secret_masker.py gives the time per MB).
    """

    def __init__(self, values: Iterable[str | None] = (), environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        found = {v for v in values if v}
        found |= {value for name, value in environ.items() if is_secret_name(name) and value}
        # Longest first, so a secret that contains another is masked whole.
        self._values = sorted((v for v in found if len(v) >= _MIN_SECRET_LENGTH), key=len, reverse=True)

    def add(self, value: str | None) -> None:
        """Treat `value` as a secret from now on (e.g. a key given on the command line)."""
        if value and len(value) >= _MIN_SECRET_LENGTH and value not in self._values:
            self._values = sorted([*self._values, value], key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """`text` with every known secret value, URL credential, secret query parameter and Authorization header
        value replaced by ***.

        Other key-shaped strings are left alone here: records hold content hashes that look just like keys.
        """
        for value in self._values:
            text = text.replace(value, MASK)
        if "://" in text:
            text = _URL_CREDENTIALS.sub(f"://{MASK}@", text)
        if "=" in text:
            text = _QUERY_PARAMETER.sub(_mask_secret_parameter, text)
        if "uthorization" in text or "UTHORIZATION" in text:
            text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{MASK}", text)
        return text

    def scrub_log(self, text: str) -> str:
        """A log line safe to print: `scrub` and every key shape."""
        return mask_key_shapes(self.scrub(text))

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
            masked.append(self.scrub_log(arg))
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
