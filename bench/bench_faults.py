"""Audits of 1,000+ model calls over real HTTP against a hostile network, with the figures issue 12 asks for.

    python bench/bench_faults.py [--items 24] [--rate-limit 0.10] [--server-error 0.05] [--hang 0.02]
                                 [--malformed 0.02] [--seed 0] [--timeout 1] [--parts faults,kill,shared]

Every audit is the real `faithcheck audit` CLI in a process of its own, auditing `openai/stub-model` on a synthetic
classification scenario (every default test that applies: about 45 calls per item) against the deterministic stub
server of tests/fixtures/stub_openai.py, so runs can be compared reply for reply:

- faults: a clean run, then the same audit through tests/fixtures/fault_proxy.py injecting 429 with Retry-After,
  500, hangs (held past the per-attempt timeout) and malformed 200 bodies at the given rates: exit status, outcome
  counts and recorded calls must equal the clean run's, with no error verdict;
- kill: kill -9 after 1/4 of the items, again after 1/2, then --resume to the end: the summary must equal the
  clean run's, with no verdict written twice and no finished item asked about again;
- shared: three audits of the same scenario at once, sharing one response cache: no request may reach the server
  twice.

Set PYTHONPATH to another checkout's root to measure that version of faithcheck with the same servers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.fault_audits import (
    audit_command,
    call_multiset,
    kill_when_done,
    outcome_counts,
    records,
    run,
    write_scenario,
)
from tests.fixtures.fault_proxy import FaultRates, fault_proxy
from tests.fixtures.stub_openai import stub_server


def faults(work: Path, scenario: Path, rates: FaultRates, timeout: float) -> None:
    with stub_server() as stub:
        clean = run(audit_command(stub.base_url, scenario, work / "clean", "--no-cache"))
        sent_clean = len(stub.received)
        with fault_proxy(stub.base_url, rates) as proxy:
            faulty = run(
                audit_command(proxy.base_url, scenario, work / "faulty", "--no-cache", "-O", f"timeout={timeout}")
            )
    print(f"clean run:  exit {clean.status}, {sent_clean} calls, {clean.wall_s:.1f} s")
    injected = sum(proxy.injected.values())
    print(
        f"faulty run: exit {faulty.status}, {proxy.forwarded} requests forwarded, {injected} faults injected "
        f"({', '.join(f'{k} {v}' for k, v in sorted(proxy.injected.items()))}), {faulty.wall_s:.1f} s"
    )
    if faulty.status != 0:
        print("  faulty run failed:", faulty.stderr.strip().splitlines()[-1:])
        return
    usage = faulty.summary["usage"]["openai/stub-model"]
    errors = sum(s["n_error"] for s in faulty.summary["summaries"])
    print(
        f"  retries {usage['retries']}, error verdicts {errors}, "
        f"same outcome counts as clean: {outcome_counts(faulty.summary) == outcome_counts(clean.summary)}, "
        f"same calls and replies: {call_multiset(work / 'faulty') == call_multiset(work / 'clean')}"
    )


def kill(work: Path, scenario: Path, items: int) -> None:
    run_dir, cache = work / "killed", str(work / "kill-cache")
    with stub_server() as stub:
        clean = run(audit_command(stub.base_url, scenario, work / "clean-kill", "--no-cache"))
        first = audit_command(stub.base_url, scenario, run_dir, "--cache-dir", cache)
        started = time.monotonic()
        done_first = kill_when_done(first, run_dir, items=max(1, items // 4))
        resume = [*first[:2], "--resume", str(run_dir), "--json", "--cache-dir", cache]
        done_second = kill_when_done(resume, run_dir, items=max(1, items // 4))
        finished = run(resume)
        wall = time.monotonic() - started
    written = records(run_dir)
    verdicts = Counter((r["scenario"], r["test"], r["item_id"]) for r in written if r.get("kind") == "verdict")
    sessions: list[set[str]] = [set()]
    for record in written:
        if record.get("kind") == "resumed":
            sessions.append(set())
        elif record.get("kind") == "call":
            sessions[-1].add(str(record["item_id"]))
    asked_again = [len(sessions[1] & done_first), len(sessions[2] & done_second)] if len(sessions) == 3 else None
    same = finished.status == 0 and outcome_counts(finished.summary) == outcome_counts(clean.summary)
    twice = sum(1 for count in verdicts.values() if count > 1)
    print(
        f"kill -9 after {len(done_first)} and {len(done_second)} of {items} items, then --resume: exit "
        f"{finished.status}, {wall:.1f} s; same summary as clean: {same}; verdicts written twice: "
        f"{twice}; finished items asked again per resumed session: {asked_again}"
    )


def shared(work: Path, scenario: Path) -> None:
    with stub_server(delay_s=0.01) as stub:
        cache = str(work / "shared-cache")
        commands = [
            audit_command(stub.base_url, scenario, work / f"shared-{i}", "--cache-dir", cache) for i in range(3)
        ]
        started = time.monotonic()
        processes = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
        outputs = [process.communicate() for process in processes]
        wall = time.monotonic() - started
        sent = stub.counts()
    statuses = [process.returncode for process in processes]
    repeated = sum(count - 1 for count in sent.values())
    calls = [json.loads(out)["usage"]["openai/stub-model"]["calls_sent"] if out else None for out, _ in outputs]
    print(
        f"three concurrent audits, one cache: exit {statuses}, {wall:.1f} s; {sum(sent.values())} requests reached "
        f"the server for {len(sent)} distinct ones ({repeated} sent again); calls sent per process {calls}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=24)
    parser.add_argument("--rate-limit", type=float, default=0.10)
    parser.add_argument("--server-error", type=float, default=0.05)
    parser.add_argument("--hang", type=float, default=0.02)
    parser.add_argument("--malformed", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--timeout", type=float, default=1.0, help="-O timeout: seconds before a hung attempt is retried"
    )
    parser.add_argument("--parts", default="faults,kill,shared")
    args = parser.parse_args()
    rates = FaultRates(args.rate_limit, args.server_error, args.hang, args.malformed, seed=args.seed, hang_s=30)
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        work = Path(tmp)
        scenario = write_scenario(work / "scenario", args.items)
        parts = args.parts.split(",")
        if "faults" in parts:
            faults(work, scenario, rates, args.timeout)
        if "kill" in parts:
            kill(work, scenario, args.items)
        if "shared" in parts:
            shared(work, scenario)


if __name__ == "__main__":
    main()
