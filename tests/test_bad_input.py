"""Bad input, command by command, run as a user runs the CLI: exit status 2, exactly one line on stderr that says
what to fix, no traceback, and nothing written (no run directory, no cache, inputs untouched).

Each case runs `faithcheck` in a process of its own, in an empty working directory, with the response cache
pointed inside it; the shared input files (bad scenarios, damaged run directories) are hashed before and after.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FAITHCHECK = str(Path(sys.executable).with_name("faithcheck"))
UNREACHABLE = "http://127.0.0.1:9/v1"
"""Port 9 (discard) has no listener here: the connection is refused at once."""

SCENARIO_TAIL = (
    "task: {kind: classification, instruction: 'Positive or negative?', labels: [positive, negative]}\n"
    "fields: {id: id, inputs: [text], gold: label}\n"
    "tests: [counterfactual]\n"
)


@dataclass(frozen=True)
class Case:
    """One bad input: the arguments after `faithcheck`, extra environment, and words the error line must have."""

    args: tuple[str, ...]
    says: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)


def _cases() -> dict[str, Case]:
    echo = ("-m", "scripted/echo")
    audit = ("audit", *echo, "-s", "{inputs}/good.yaml")
    return {
        # --- provider options (-O), model names, flags of generate and explain ---
        "option value of the wrong type": Case(
            ("generate", "-m", "openai/m", "--base-url", UNREACHABLE, "-O", "timeout=abc", "hi"), ("timeout='abc'",)
        ),
        "zero timeout": Case(
            ("generate", "-m", "openai/m", "--base-url", UNREACHABLE, "-O", "timeout=0", "hi"), ("greater than 0",)
        ),
        "misspelt option": Case(
            ("generate", "-m", "openai/m", "--base-url", UNREACHABLE, "-O", "timout=5", "hi"),
            ("did you mean 'timeout'",),
        ),
        "zero max_connections": Case(("generate", *echo, "-O", "max_connections=0", "hi"), ("max_connections=0",)),
        "deadline shorter than an attempt": Case(
            ("generate", "-m", "openai/m", "--base-url", UNREACHABLE, "-O", "deadline=1", "-O", "timeout=5", "hi"),
            ("shorter than one attempt",),
        ),
        "option without a value": Case(("generate", *echo, "-O", "timeout", "hi"), ("expects key=value",)),
        "unknown provider": Case(("generate", "-m", "nosuch/model", "hi"), ("unknown model provider 'nosuch'",)),
        "openai without a model name": Case(
            ("generate", "-m", "openai", "--base-url", UNREACHABLE, "hi"), ("model name",)
        ),
        "hosted openai without a key": Case(("generate", "-m", "openai/gpt-4o-mini", "hi"), ("OPENAI_API_KEY",)),
        "base URL that is not a URL": Case(
            ("generate", "-m", "openai/m", "--base-url", "not a url", "hi"), ("http(s)://host",)
        ),
        "base URL nobody listens on": Case(
            ("generate", "-m", "openai/m", "--base-url", UNREACHABLE, "--no-cache", "hi"), ("cannot reach", "1 attempt")
        ),
        "unknown dtype": Case(("generate", "-m", "smollm2", "-O", "dtype=float8", "hi"), ("dtype='float8'",)),
        "missing hf directory": Case(("generate", "-m", "hf/{inputs}/no-model-here", "hi"), ("no model directory",)),
        "unknown scripted model": Case(("generate", "-m", "scripted/nosuch", "hi"), ("unknown scripted model",)),
        "integer flag given a word": Case(("generate", *echo, "--max-tokens", "abc", "hi"), ("--max-tokens",)),
        "missing argument": Case(("generate", *echo), ("Missing argument 'PROMPT'",)),
        "unknown command": Case(("frobnicate",), ("No such command",)),
        "unexpected argument": Case(("models", "extra"), ("unexpected extra argument",)),
        "empty text to explain": Case(("explain", *echo, ""), ("TEXT is empty",)),
        "nli without a premise": Case(("explain", *echo, "--task", "nli", "it rains"), ("--premise",)),
        "multiple choice with one option": Case(("explain", *echo, "--task", "mc", "q?", "--options", "a"), ("two",)),
        # --- audit flags ---
        "audit without a model": Case(("audit", "-s", "demo"), ("needs --model",)),
        "audit without a scenario": Case(("audit", *echo), ("needs --scenario",)),
        "unknown scenario": Case(("audit", *echo, "-s", "no-such-scenario"), ("unknown scenario",)),
        "negative limit": Case((*audit, "--limit", "-1"), ("--limit",)),
        "zero concurrency": Case((*audit, "--concurrency", "0"), ("--concurrency",)),
        "gate that is not a rate": Case((*audit, "--fail-under", "abc"), ("--fail-under",)),
        "test parameter without a test": Case((*audit, "--test-param", "k=1"), ("TEST.KEY=VALUE",)),
        "unknown test parameter": Case((*audit, "--test-param", "counterfactual.zz=1"), ("'zz'",)),
        "unknown test": Case((*audit, "--tests", "no-such-test"), ("unknown faithfulness test",)),
        "zero token budget": Case((*audit, "--max-tokens", "cot=0"), ("--max-tokens",)),
        "seed that is not a number": Case((*audit, "--seed", "abc"), ("--seed",)),
        "unknown helper model": Case((*audit, "--judge", "nosuch/x"), ("unknown model provider",)),
        "audit option of the wrong type": Case(
            ("audit", "-m", "openai/m", "--base-url", UNREACHABLE, "-s", "{inputs}/good.yaml", "-O", "timeout=abc"),
            ("timeout='abc'",),
        ),
        "dry run of a resumed run": Case(("audit", "--dry-run", "--resume", "{inputs}/run"), ("--dry-run",)),
        # --- scenario files ---
        "scenario in Latin-1": Case(("audit", *echo, "-s", "{inputs}/latin1.yaml"), ("not UTF-8", "line 2")),
        "scenario of binary bytes": Case(("audit", *echo, "-s", "{inputs}/binary.yaml"), ("not UTF-8",)),
        "scenario that is a list": Case(("audit", *echo, "-s", "{inputs}/list.yaml"), ("expected a mapping",)),
        "scenario with a YAML syntax error": Case(("audit", *echo, "-s", "{inputs}/broken.yaml"), ("not valid YAML",)),
        "scenario with an unknown field": Case(("audit", *echo, "-s", "{inputs}/typo.yaml"), ("unknown field",)),
        "CSV in Latin-1": Case(("audit", *echo, "-s", "{inputs}/csv/latin1.yaml"), ("latin1.csv:3", "not utf-8")),
        "JSONL in Latin-1": Case(("audit", *echo, "-s", "{inputs}/jsonl/latin1.yaml"), ("latin1.jsonl:2",)),
        "JSONL with a broken line": Case(("audit", *echo, "-s", "{inputs}/jsonl/broken.yaml"), ("not valid JSON",)),
        "CSV without the gold column": Case(("audit", *echo, "-s", "{inputs}/csv/nogold.yaml"), ("no column 'label'",)),
        "unknown text encoding": Case(("audit", *echo, "-s", "{inputs}/csv/encoding.yaml"), ("unknown text encoding",)),
        # --- environment ---
        "scenario path that is a file": Case(
            ("scenarios",),
            ("FAITHCHECK_SCENARIOS_PATH", "not a directory"),
            {"FAITHCHECK_SCENARIOS_PATH": "{inputs}/good.yaml"},
        ),
        "scenario path that does not exist": Case(
            ("scenarios",), ("does not exist",), {"FAITHCHECK_SCENARIOS_PATH": "{inputs}/nowhere"}
        ),
        "scenario path of control bytes": Case(
            ("audit", *echo, "-s", "demo"), ("FAITHCHECK_SCENARIOS_PATH",), {"FAITHCHECK_SCENARIOS_PATH": "\x01\x1b[2J"}
        ),
        "scenario path holding a bad file": Case(
            ("scenarios",), ("binary.yaml", "not UTF-8"), {"FAITHCHECK_SCENARIOS_PATH": "{inputs}"}
        ),
        "cache directory that is a file": Case(
            ("generate", *echo, "hi"), ("--cache-dir",), {"FAITHCHECK_CACHE_DIR": "{inputs}/good.yaml"}
        ),
        "cache directory under a file": Case(
            ("generate", *echo, "hi"), ("under a file",), {"FAITHCHECK_CACHE_DIR": "{inputs}/good.yaml/cache"}
        ),
        "base URL variable that is not a URL": Case(
            ("generate", "-m", "openai/m", "hi"), ("OPENAI_BASE_URL",), {"OPENAI_BASE_URL": "localhost:8000"}
        ),
        "model variable that names no provider": Case(("generate", "hi"), ("'??'",), {"FAITHCHECK_MODEL": "??"}),
        # --- run directories and records ---
        "resume a missing directory": Case(("audit", "--resume", "{inputs}/nowhere"), ("not a run directory",)),
        "resume an empty directory": Case(("audit", "--resume", "{inputs}/empty"), ("not a run directory",)),
        "resume garbage records": Case(("audit", "--resume", "{inputs}/garbage"), ("run header",)),
        "resume a damaged record": Case(("audit", "--resume", "{inputs}/damaged"), ("record 2",)),
        "resume records that are not UTF-8": Case(("audit", "--resume", "{inputs}/latin1-run"), ("records.jsonl",)),
        "resume with other tests": Case(
            ("audit", "--resume", "{inputs}/run", "--tests", "redaction"), ("'redaction'",)
        ),
        "resume with another seed": Case(("audit", "--resume", "{inputs}/run", "--seed", "99"), ("cannot resume",)),
        "report a missing directory": Case(("report", "{inputs}/nowhere"), ("does not exist",)),
        "report an empty directory": Case(("report", "{inputs}/empty"), ("not a run directory",)),
        "report garbage records": Case(("report", "{inputs}/garbage"), ("run header",)),
        "report two runs without --out": Case(("report", "{inputs}/run", "{inputs}/damaged"), ("--out",)),
    }


CASES = _cases()


def _write_inputs(root: Path) -> None:
    """The bad (and one good) scenario files, data files and run directories the cases point at."""
    root.mkdir()
    (root / "reviews.jsonl").write_text('{"id": "1", "text": "warm and lovely", "label": "positive"}\n')
    (root / "good.yaml").write_text("dataset: jsonl\npath: reviews.jsonl\n" + SCENARIO_TAIL)
    (root / "latin1.yaml").write_bytes("# ok\ndescription: caf\xe9\ndataset: sst2\n".encode("latin-1"))
    (root / "binary.yaml").write_bytes(b"\xff\xfe\x00garbage\x00")
    (root / "list.yaml").write_text("- dataset\n- sst2\n")
    (root / "broken.yaml").write_text("dataset: [sst2\n")
    (root / "typo.yaml").write_text("dataset: sst2\ntets: [counterfactual]\n")
    csv, jsonl = root / "csv", root / "jsonl"
    csv.mkdir()
    jsonl.mkdir()
    (csv / "latin1.csv").write_bytes("id,text,label\n1,fine,positive\n2,caf\xe9,negative\n".encode("latin-1"))
    (csv / "latin1.yaml").write_text("dataset: csv\npath: latin1.csv\n" + SCENARIO_TAIL)
    (csv / "nogold.csv").write_text("id,text\n1,fine\n")
    (csv / "nogold.yaml").write_text("dataset: csv\npath: nogold.csv\n" + SCENARIO_TAIL)
    (csv / "encoding.yaml").write_text("dataset: csv\npath: nogold.csv\noptions: {encoding: klingon}\n" + SCENARIO_TAIL)
    (jsonl / "latin1.jsonl").write_bytes(
        '{"id": "1", "text": "ok", "label": "positive"}\n{"id": "2", "text": "caf\xe9", "label": "positive"}\n'.encode(
            "latin-1"
        )
    )
    (jsonl / "latin1.yaml").write_text("dataset: jsonl\npath: latin1.jsonl\n" + SCENARIO_TAIL)
    (jsonl / "broken.jsonl").write_text('{"id": "1", "text": "ok", "label": "positive"}\n{"id": "2", "te\n')
    (jsonl / "broken.yaml").write_text("dataset: jsonl\npath: broken.jsonl\n" + SCENARIO_TAIL)
    (root / "empty").mkdir()
    (root / "garbage").mkdir()
    (root / "garbage" / "records.jsonl").write_text("this is not json\n")
    subprocess.run(
        [FAITHCHECK, "audit", "-m", "scripted/echo", "-s", str(root / "good.yaml"), "--out", str(root / "run")],
        check=True,
        capture_output=True,
        env={**os.environ, "FAITHCHECK_CACHE_DIR": str(root / "run-cache")},
    )
    header = (root / "run" / "records.jsonl").read_text().splitlines()[0]
    (root / "damaged").mkdir()
    (root / "damaged" / "records.jsonl").write_text(header + '\n{"kind": "verdict", "oops": 1}\n')
    (root / "latin1-run").mkdir()
    (root / "latin1-run" / "records.jsonl").write_bytes(header.encode() + b'\n{"kind": "item_done", "x": "\xe9"}\n')


def _tree_hash(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@dataclass(frozen=True)
class Outcome:
    status: int
    stdout: str
    stderr: str
    written: list[str]
    """Files and directories that appeared in the working directory."""


def _run(case: Case, inputs: Path, work: Path) -> Outcome:
    work.mkdir()
    fill = {"inputs": str(inputs)}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FAITHCHECK_", "OPENAI_"))},
        "FAITHCHECK_CACHE_DIR": str(work / "cache"),
        "NO_COLOR": "1",
        **{name: value.format(**fill) for name, value in case.env.items()},
    }
    done = subprocess.run(
        [FAITHCHECK, *(arg.format(**fill) for arg in case.args)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Outcome(done.returncode, done.stdout, done.stderr, sorted(str(p.relative_to(work)) for p in work.rglob("*")))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every case run once, a few at a time, with the input tree's hashes checked around them."""
    root = tmp_path_factory.mktemp("bad-input")
    inputs = root / "inputs"
    _write_inputs(inputs)
    before = _tree_hash(inputs)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            name: pool.submit(_run, case, inputs, root / f"work-{i}") for i, (name, case) in enumerate(CASES.items())
        }
        results = {name: future.result() for name, future in futures.items()}
    assert _tree_hash(inputs) == before, "a bad input changed a file it was given"
    return results


def test_the_table_covers_every_command_with_at_least_thirty_cases() -> None:
    commands = {case.args[0] for case in CASES.values() if not case.args[0].startswith("-")}
    assert {"generate", "explain", "audit", "scenarios", "report", "models"} <= commands
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_line_that_says_what_to_fix_and_writes_nothing(
    name: str, outcomes: dict[str, Outcome]
) -> None:
    outcome = outcomes[name]
    lines = outcome.stderr.splitlines()
    assert outcome.status == 2, outcome.stderr
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("faithcheck: error: ")
    assert "Traceback" not in outcome.stderr
    for words in CASES[name].says:
        assert words in lines[0]
    assert "\x1b" not in lines[0] and "\x01" not in lines[0]  # control bytes from the input are shown, not sent
    assert outcome.stdout == ""
    assert outcome.written == []
