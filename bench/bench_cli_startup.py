"""Start-up time of the CLI and size of the light core (issue 16: `faithcheck --help` under 0.3 s warm).

    python bench/bench_cli_startup.py [--repeat 20] [--source DIR] [--venv /tmp/lightvenv]

Runs each command `--repeat` times after one warm-up run (so the files are in the page cache) and prints the
median and the fastest wall time, the median CPU time (user + system, which load from other processes inflates
less) and the load average. `--source DIR` times the code of another checkout (e.g. main's) with this
interpreter and its packages. With `--venv`, also the installed size of that virtualenv (`pip install .` into a fresh
one gives the core install). `python -X importtime -m agent.cli --help` shows what an import costs.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

CLI = [sys.executable, "-c", "from agent.cli import main; main()"]
"""What the `faithcheck` script runs."""
COMMANDS = {
    "faithcheck --help": [*CLI, "--help"],
    "faithcheck audit --help": [*CLI, "audit", "--help"],
    "python -c 'import agent'": [sys.executable, "-c", "import agent"],
    "python -c pass (the floor)": [sys.executable, "-c", "pass"],
}


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # From the root directory: `python -c` puts the working directory first on sys.path, before --source.
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, cwd="/")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def size_of(path: Path) -> int:
    """Bytes of the files under `path` (what `du` counts, without block rounding)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--venv", type=Path, default=None, help="a virtualenv whose installed size to report")
    parser.add_argument("--source", type=Path, default=None, help="time the agent package of this checkout")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.source is not None:
        env["PYTHONPATH"] = str(args.source.resolve())
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {args.repeat} runs each")
    for name, command in COMMANDS.items():
        timed(command, env)  # warm-up
        runs = [timed(command, env) for _ in range(args.repeat)]
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(
            f"{name:32} median {statistics.median(walls):.3f} s  fastest {min(walls):.3f} s  "
            f"cpu {statistics.median(cpus):.3f} s"
        )
    if args.venv is not None:
        print(f"{args.venv}: {size_of(args.venv) / 1e6:.0f} MB installed")
        if shutil.which("du"):
            subprocess.run(["du", "-sh", str(args.venv)], check=False)


if __name__ == "__main__":
    main()
