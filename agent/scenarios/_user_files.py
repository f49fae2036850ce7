"""A user's own data: a JSONL or CSV file beside the scenario, with a mapping from columns to item parts."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.items import LETTERS, Item, Task
from agent.scenarios._framing import FieldMapping, TaskFraming
from agent.scenarios._types import DataFileError, LoadedDataset, LoadRequest, require_file

_DEFAULT_NORMALISER: dict[str, Literal["label", "letter", "text"]] = {
    "classification": "label",
    "multiple_choice": "letter",
    "free_form": "text",
}


def _known_encoding(name: str) -> str:
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(f"unknown text encoding '{name}' (e.g. utf-8, latin-1, cp1252)") from None
    return name


class JSONLOptions(BaseModel):
    """Loader options for `jsonl`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoding: str = "utf-8"
    """The file's text encoding (utf-8 also reads a file that starts with a byte order mark)."""

    _encoding = field_validator("encoding")(_known_encoding)


class CSVOptions(BaseModel):
    """Loader options for `csv` (the first row names the columns)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoding: str = "utf-8"
    """The file's text encoding (utf-8 also reads a file that starts with a byte order mark, as Excel writes)."""
    delimiter: str = Field(default=",", min_length=1, max_length=1)

    _encoding = field_validator("encoding")(_known_encoding)


def _read_text(path: Path, encoding: str) -> str:
    """The whole file as text, or a DataFileError naming the line whose bytes are not in `encoding`."""
    raw = path.read_bytes()
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataFileError(
            path,
            f"not {encoding} text (byte 0x{raw[exc.start]:02x}): save the file as {encoding}, or give its encoding "
            "in the scenario's options (e.g. options: {encoding: latin-1})",
            line,
        ) from None


def _jsonl_rows(path: Path, encoding: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, text in enumerate(_read_text(path, encoding).splitlines(), start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataFileError(path, f"not valid JSON ({exc.msg})", line) from None
        if not isinstance(row, dict):
            raise DataFileError(path, f"expected a JSON object per line, got {type(row).__name__}", line)
        yield line, row


def _csv_rows(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(_read_text(path, encoding), newline=""), delimiter=delimiter)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise DataFileError(path, f"not valid CSV ({exc})", reader.line_num) from None


def _column(path: Path, line: int, row: dict[str, Any], column: str) -> Any:
    if column not in row or row[column] is None:
        raise DataFileError(path, f"no column '{column}' (columns here: {', '.join(map(str, row))})", line)
    return row[column]


def _options(path: Path, line: int, row: dict[str, Any], mapping: FieldMapping) -> list[str]:
    if mapping.options is None:
        return []
    if isinstance(mapping.options, str):
        value = _column(path, line, row, mapping.options)
        if not isinstance(value, list):
            raise DataFileError(path, f"column '{mapping.options}' must hold a list of options", line)
        return [str(option) for option in value]
    options = [str(_column(path, line, row, column)) for column in mapping.options]
    while options and not options[-1].strip():  # CSV rows with fewer options leave the last cells empty
        options.pop()
    return options


def _gold(path: Path, line: int, value: Any, task: Task, options: list[str]) -> str:
    gold = str(value).strip()
    if task.kind == "classification" and gold not in task.labels:
        raise DataFileError(path, f"gold '{gold}' is not one of the labels {list(task.labels)}", line)
    if task.kind == "multiple_choice":
        letters = LETTERS[: len(options)]
        if len(gold) == 1 and gold.upper() in letters:
            return gold.upper()
        if gold in options:
            return letters[options.index(gold)]
        raise DataFileError(path, f"gold '{gold}' is neither an option letter ({letters}) nor an option's text", line)
    return gold


def user_task(framing: TaskFraming, default_name: str) -> Task:
    """The Task a user's scenario describes (its `task:` block must give kind and instruction)."""
    assert framing.kind is not None, "checked when the scenario was validated"
    assert framing.instruction is not None, "checked when the scenario was validated"
    return Task(
        name=framing.name or default_name,
        kind=framing.kind,
        instruction=framing.instruction,
        focus=framing.focus or "the answer",
        labels=tuple(framing.labels or ()),
        unknown_label=framing.unknown_label,
        normaliser=framing.normaliser or _DEFAULT_NORMALISER[framing.kind],
    )


def load_user_file(request: LoadRequest) -> LoadedDataset:
    """Items from the scenario's `path:` (JSONL or CSV by the dataset name), mapped through `fields:`."""
    assert request.path is not None, "checked when the scenario was validated"
    assert request.fields is not None, "checked when the scenario was validated"
    assert request.framing is not None, "checked when the scenario was validated"
    path = require_file(request.data_dir / request.path)
    mapping = request.fields
    task = user_task(request.framing, path.stem)
    if isinstance(request.options, CSVOptions):
        rows = _csv_rows(path, request.options.encoding, request.options.delimiter)
    else:
        assert isinstance(request.options, JSONLOptions)
        rows = _jsonl_rows(path, request.options.encoding)
    items: list[Item] = []
    seen: dict[str, int] = {}
    for number, (line, row) in enumerate(rows, start=1):
        item_id = str(_column(path, line, row, mapping.id)) if mapping.id else f"row-{number}"
        if item_id in seen:
            raise DataFileError(path, f"id '{item_id}' repeats the id on line {seen[item_id]}", line)
        seen[item_id] = line
        fields = {name: str(_column(path, line, row, column)) for name, column in mapping.input_columns().items()}
        options = _options(path, line, row, mapping)
        gold = _gold(path, line, _column(path, line, row, mapping.gold), task, options) if mapping.gold else None
        try:
            items.append(
                Item(
                    id=item_id,
                    fields=fields,
                    options=options,
                    gold=gold,
                    edit_field=mapping.edit_field,
                    meta={column: _column(path, line, row, column) for column in mapping.meta},
                )
            )
        except ValidationError as exc:
            raise DataFileError(path, exc.errors()[0]["msg"], line) from None
    if not items:
        raise DataFileError(path, "has no rows")
    return LoadedDataset(task=task, items=items, files=[path])
