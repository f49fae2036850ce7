"""The built wheel carries its prompts and scenarios: install it in a fresh venv and use it from outside the repo."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the faithcheck wheel in it; dependencies are borrowed from the dev venv.

    The dev venv's site-packages is added by a plain path in a .pth file: that makes its packages importable but does
    not process its own .pth files, so the editable install of this checkout stays invisible and `import agent`
    resolves to the wheel's copy.
    """
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(root / "dist"), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
    )
    wheel = next((root / "dist").glob("faithcheck-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "zz_dev_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def run_in(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_console_script_runs_from_the_wheel(installed_wheel: Path, tmp_path: Path) -> None:
    result = run_in(installed_wheel, str(installed_wheel / "bin" / "faithcheck"), "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "explain" in result.stdout and "generate" in result.stdout


def test_prompts_and_scenarios_load_from_the_installed_copy(installed_wheel: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import agent, json
        from agent.resources import prompts_dir, scenarios_dir
        from agent.prompts import PromptLibrary
        from agent.scenarios import load_scenario, load_data
        data = load_data(load_scenario("dynasent"), limit=3, seed=1)
        rendered = PromptLibrary().render("reask", {"error": "x"})
        print(json.dumps({"agent": agent.__file__, "prompts": str(prompts_dir()), "scenarios": str(scenarios_dir()),
                          "items": len(data.items), "message": rendered.messages[0].content}))
        """
    )
    result = run_in(installed_wheel, str(installed_wheel / "bin" / "python"), "-c", script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    import json

    info = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("agent", "prompts", "scenarios"):
        assert str(installed_wheel) in info[key], (key, info[key])
        assert str(REPO) not in info[key]
    assert info["items"] == 3
    assert "could not be read" in info["message"]
