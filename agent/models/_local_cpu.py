"""What the CPU a local model runs on can do: how many torch threads to use, and which float type is faster.

Both are decided on the machine at start-up, never carried over from another machine: the same wheel runs on CPUs
where bfloat16 matmuls are twice as fast as float32 (AVX-512 BF16, AMX) and on CPUs where they are an order of
magnitude slower (AVX2 only), and on cores shared with other jobs, where more intra-op threads than free cores make
every matmul wait for a descheduled thread.

torch is imported inside the functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

_SAMPLES = 5
_SAMPLE_GAP_S = 0.01


def usable_cpus() -> set[int]:
    """The CPUs this process may run on (its affinity mask; all CPUs where the OS has no affinity call)."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def physical_cores(cpus: set[int]) -> int:
    """How many physical cores `cpus` span: hyper-threads of one core count once (sysfs topology; else one each)."""
    cores = set()
    for cpu in cpus:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


def busy_cpus_elsewhere() -> int:
    """Runnable tasks other than the calling thread right now (median of a few /proc/stat samples; 0 if unknown)."""
    samples = []
    for _ in range(_SAMPLES):
        try:
            for line in Path("/proc/stat").read_text().splitlines():
                if line.startswith("procs_running"):
                    samples.append(int(line.split()[1]) - 1)  # the calling thread is running too
        except (OSError, ValueError):
            return 0
        time.sleep(_SAMPLE_GAP_S)
    return max(0, int(statistics.median(samples))) if samples else 0


def default_threads() -> int:
    """Intra-op threads for a local model: the physical cores this process may use, less those busy with others."""
    cpus = usable_cpus()
    ceiling = min(len(cpus), physical_cores(cpus))
    free = len(cpus) - busy_cpus_elsewhere()
    return max(1, min(ceiling, free))


def fastest_dtype(hidden: int, intermediate: int, repeats: int = 3) -> tuple[str, dict[str, float]]:
    """ "float32" or "bfloat16", whichever multiplies a model-sized layer faster here, and the seconds each took.

    The probe is one MLP-shaped matmul (64 token rows x hidden, times hidden x intermediate), the operation that
    dominates a small decoder's generate on CPU; best of `repeats` after a warm-up, well under a second in total.
    bfloat16 must win by 20%: it costs reproducibility across batch sizes, so a tie keeps float32.
    """
    import torch

    seconds: dict[str, float] = {}
    for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        generator = torch.Generator().manual_seed(0)
        left = torch.randn(64, hidden, generator=generator).to(dtype)
        right = torch.randn(hidden, intermediate, generator=generator).to(dtype)
        torch.matmul(left, right)  # warm-up: kernel selection, first-touch of the buffers
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(8):
                torch.matmul(left, right)
            best = min(best, time.perf_counter() - start)
        seconds[name] = best
    return ("bfloat16" if seconds["bfloat16"] * 1.2 < seconds["float32"] else "float32"), seconds
