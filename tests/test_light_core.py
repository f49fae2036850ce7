"""The light core: an API audit never imports torch or transformers, `faithcheck --help` imports only the CLI's
skeleton, and a provider whose extra is missing says which extra to install.

The checks run in fresh interpreters (`python -c`), since this test process has imported everything already; each
child prints its `sys.modules` at exit. Install size and `--help` time are measured by bench/, not asserted here.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.errors import MissingDependencyError
from agent.models import get_model
from tests.fixtures.stub_openai import stub_server

LOCAL_ONLY = ("torch", "transformers", "llguidance", "gguf", "numpy")
"""What only the `local` extra installs: an API audit must not import any of it."""

_AUDIT_IN_A_CHILD = """
import json, sys
from agent.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code or 0
else:
    status = 0
print(json.dumps({"status": status, "modules": sorted(sys.modules)}), file=sys.__stderr__)
"""


def _child(code: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )
    last = done.stderr.strip().splitlines()[-1]
    return json.loads(last)


@pytest.mark.server
def test_an_audit_over_an_openai_compatible_server_never_imports_torch(tmp_path: Path) -> None:
    with stub_server() as stub:
        result = _child(
            _AUDIT_IN_A_CHILD,
            *("audit", "--model", "openai/stub-model", "--base-url", stub.base_url, "--scenario", "demo"),
            *("--limit", "2", "--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache")),
            cwd=tmp_path,
        )
        sent = len(stub.received)
    assert result["status"] in (0, 1, 3), result["status"]
    assert sent > 0 and (tmp_path / "run" / "summary.json").exists()
    modules = set(result["modules"])
    assert "openai" in modules and "agent.run" in modules, "the audit really ran in the child"
    assert not [name for name in LOCAL_ONLY if name in modules]


def test_importing_agent_and_the_help_stay_light() -> None:
    imported = _child("import sys, json, agent; print(json.dumps({'modules': sorted(sys.modules)}), file=sys.stderr)")
    assert not {"agent.models", "pydantic", *LOCAL_ONLY} & set(imported["modules"])
    # A help page comes from click alone: no model, run, report or rich machinery.
    heavy = {"agent.run", "agent.models", "openai", "rich", "pydantic", "yaml", "jinja2", *LOCAL_ONLY}
    for command in (["--help"], ["audit", "--help"]):
        helped = _child(_AUDIT_IN_A_CHILD, *command)
        assert helped["status"] == 0
        assert not heavy & set(helped["modules"]), command


@pytest.mark.parametrize(("model", "package"), [("smollm2", "torch"), ("hf/./some-model", "transformers")])
def test_a_missing_local_extra_names_the_extra(model: str, package: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def without(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == package else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", without)
    with pytest.raises(MissingDependencyError) as error:
        get_model(model)
    provider = model.partition("/")[0]
    assert str(error.value) == f"{provider} needs the local extra: pip install 'faithcheck[local]'"
