"""Prompt templates: files in `prompts/`, loaded by name, rendered by one strict renderer.

A template renders to one or more chat messages. Lines of the form `[[system]]`, `[[user]]` or `[[assistant]]`
start a new message with that role; text before the first marker belongs to a user message. Rendering fails on
any undefined variable, so a typo in a template or a missing argument cannot silently produce a wrong prompt.

Users override any template by putting a file with the same name in their own directory and passing it first
(`PromptLibrary([my_dir])` or `--prompts-dir`); each rendered prompt records its name and a hash of its source,
including every template it includes, so records show exactly which wording produced a reply.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from agent.errors import ConfigurationError
from agent.models import ChatMessage
from agent.resources import prompts_dir

_ROLE_MARKER = re.compile(r"^\[\[(system|user|assistant)\]\]\s*$", re.MULTILINE)
TEMPLATE_SUFFIX = ".j2"


@dataclass(frozen=True)
class RenderedPrompt:
    """Messages rendered from a named template, with the template's identity."""

    template: str
    """Template name, e.g. "predict/classification"."""
    template_hash: str
    """sha256 (first 16 hex digits) of the template source and everything it includes."""
    messages: tuple[ChatMessage, ...]


class PromptLibrary:
    """Loads templates by name from a search path: user directories first, the built-in `prompts/` last."""

    def __init__(self, directories: Sequence[Path | str] = ()) -> None:
        self.directories = [Path(d) for d in directories] + [prompts_dir()]
        for directory in self.directories[:-1]:
            if not directory.is_dir():
                raise ConfigurationError(f"prompt directory '{directory}' does not exist")
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d) for d in self.directories]),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # prompts are plain text, not HTML
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["or_list"] = or_list
        self._hashes: dict[str, str] = {}

    def exists(self, name: str) -> bool:
        """Whether a template of this name (without suffix) exists on the search path."""
        try:
            self._env.get_template(name + TEMPLATE_SUFFIX)
        except jinja2.TemplateNotFound:
            return False
        return True

    def resolve(self, candidates: Iterable[str]) -> str:
        """The first candidate name that exists (e.g. "predict/multiple_choice" then "predict/default")."""
        tried = list(candidates)
        for name in tried:
            if self.exists(name):
                return name
        raise ConfigurationError(f"no prompt template found among {tried} in {[str(d) for d in self.directories]}")

    def source_hash(self, name: str) -> str:
        """Hash of the template source and, recursively, of every template it includes or extends."""
        if name not in self._hashes:
            digest = hashlib.sha256()
            for source in self._sources(name + TEMPLATE_SUFFIX, seen=set()):
                digest.update(source.encode("utf-8"))
            self._hashes[name] = digest.hexdigest()[:16]
        return self._hashes[name]

    def _sources(self, filename: str, seen: set[str]) -> list[str]:
        if filename in seen:
            return []
        seen.add(filename)
        loader = self._env.loader
        assert loader is not None
        source, _, _ = loader.get_source(self._env, filename)
        out = [filename, source]
        for child in jinja2.meta.find_referenced_templates(self._env.parse(source)):
            if child:
                out.extend(self._sources(child, seen))
        return out

    def render(self, name: str, variables: Mapping[str, Any]) -> RenderedPrompt:
        """Render a template to messages. Undefined variables raise a ConfigurationError naming the template."""
        try:
            text = self._env.get_template(name + TEMPLATE_SUFFIX).render(**variables)
        except jinja2.TemplateNotFound as exc:
            raise ConfigurationError(f"prompt template '{exc.name}' not found in {self.directories}") from exc
        except jinja2.UndefinedError as exc:
            raise ConfigurationError(f"prompt template '{name}': {exc.message}") from exc
        return RenderedPrompt(name, self.source_hash(name), split_messages(text))

    def names(self) -> list[str]:
        """All template names on the search path (partials starting with '_' excluded)."""
        found: set[str] = set()
        for directory in self.directories:
            for path in directory.rglob("*" + TEMPLATE_SUFFIX):
                relative = path.relative_to(directory).with_suffix("").as_posix()
                if not any(part.startswith("_") for part in relative.split("/")):
                    found.add(relative)
        return sorted(found)


def split_messages(text: str) -> tuple[ChatMessage, ...]:
    """Split rendered text on `[[role]]` marker lines into messages; empty messages are dropped."""
    messages: list[ChatMessage] = []
    role = "user"
    position = 0
    for match in _ROLE_MARKER.finditer(text):
        content = text[position : match.start()].strip()
        if content:
            messages.append(ChatMessage(role=role, content=content))
        role = match.group(1)
        position = match.end()
    content = text[position:].strip()
    if content:
        messages.append(ChatMessage(role=role, content=content))
    return tuple(messages)


def or_list(items: Sequence[str]) -> str:
    """`["a", "b", "c"]` -> "a, b or c" (a prompt filter)."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]
