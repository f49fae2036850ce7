"""Time per MB of the secret masker on adversarial and ordinary text (it scrubs every record an audit writes).

    python bench/bench_secret_masker.py [--sizes 40000 1000000 4000000] [--repeat 3]

Each input is scrubbed as a record would be (`scrub`) and as a log line or command line (`scrub_log`); the fastest
of `--repeat` runs is kept. Linear time shows as a flat ms/MB column across sizes. For comparison, the first version
took 23 s for one 40,000-character word (its patterns scanned forward from every letter of a word).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from agent.run import SecretMasker

SECRET = "sk-proj-0123456789abcdefSECRET"


def inputs(size: int) -> dict[str, str]:
    """Texts of about `size` characters that each pattern must scan."""
    prose = "The review praises the warm service but finds the soup cold. "
    record = json.dumps({"kind": "call", "reply": prose * 3, "url": "http://127.0.0.1:8000/v1", "hash": "ab12" * 16})
    return {
        "one unbroken word": "a" * size,
        "letters and digits": ("a1" * size)[:size],
        "scheme separators": ("a://" * size)[:size],
        "query separators": ("&a=b" * size)[:size],
        "auth schemes": ("Bearer " * size)[:size],
        "prose": (prose * (size // len(prose) + 1))[:size],
        "JSON records": ((record + "\n") * (size // (len(record) + 1) + 1))[:size],
    }


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[40_000, 1_000_000, 4_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    masker = SecretMasker([SECRET], environ={"OPENAI_API_KEY": "sk-env-0123456789abcdef"})
    print(f"{'input':<20} {'characters':>11} {'scrub ms':>9} {'ms/MB':>7} {'scrub_log ms':>13} {'ms/MB':>7}")
    for size in args.sizes:
        for name, text in inputs(size).items():
            megabytes = len(text.encode()) / 1e6
            scrub = best_of(args.repeat, lambda text=text: masker.scrub(text))
            log = best_of(args.repeat, lambda text=text: masker.scrub_log(text))
            print(
                f"{name:<20} {len(text):>11,} {scrub * 1e3:>9.1f} {scrub * 1e3 / megabytes:>7.0f}"
                f" {log * 1e3:>13.1f} {log * 1e3 / megabytes:>7.0f}"
            )


if __name__ == "__main__":
    main()
