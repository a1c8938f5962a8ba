"""Running workloads: each library timed in a block of its own, peak memory in fresh processes, and a table.

Timing. For each workload, minigen's step runs ``warmup`` times untimed and then ``repeats`` times timed; then the
process rests ``settle`` seconds and PyTorch's step does the same. One library's BLAS and OpenMP worker threads keep
spinning for up to about 0.1 s after it returns, and would slow down whatever ran next on the other core: so the
two never interleave, and the rest comes before each block. The pair of blocks is repeated ``rounds`` times
(minigen, PyTorch, minigen, PyTorch, …) and each library's figure is the median of all its timed steps: on a
shared or virtual machine whose speed drifts over minutes, both libraries then sample the same stretches of time,
and one slow minute cannot land on one library alone.
"""

from __future__ import annotations

import statistics
import time

from .. import backend
from .memory import peak_mib
from .registry import WORKLOADS, Case
from .timing import matmul_gflops, thread_settings, timed


def time_block(step, device: str, repeats: int, warmup: int, settle: float) -> list[float]:
    """Rest ``settle`` seconds, run ``step`` ``warmup`` times, then ``repeats`` timed runs: their seconds."""
    time.sleep(settle)
    for _ in range(warmup):
        step()
    return [timed(step, device) for _ in range(repeats)]


def time_case(case: Case, device: str, repeats: int = 20, warmup: int = 3, settle: float = 0.3, rounds: int = 1):
    """Median seconds of minigen's step and of PyTorch's (None without a twin): ``rounds`` pairs of blocks, one
    library per block, alternating; each median is over all of that library's timed runs."""
    if rounds < 1 or repeats < 1:
        raise ValueError(f"bench: rounds and repeats must be at least 1, got {rounds} and {repeats}")
    mine, theirs = [], []
    for _ in range(rounds):
        mine += time_block(case.minigen, device, repeats, warmup, settle)
        if case.torch is not None:
            theirs += time_block(case.torch, device, repeats, warmup, settle)
    return statistics.median(mine), statistics.median(theirs) if theirs else None


def run(device: str = "cpu", workloads=None, repeats: int = 5, warmup: int = 3, print_fn=print,
        settle: float = 0.3, matmul_n: int = 2048, memory: bool = True, rounds: int = 3) -> list[dict]:
    """Time ``workloads`` (ids; default: all registered) on ``device``, each library in ``rounds`` alternating
    blocks of ``warmup`` untimed and ``repeats`` timed steps; print a table through ``print_fn``
    (None: silent) and return one dict per workload: id, description, device, ms, gflops, matmul_gflops,
    matmul_fraction, torch_ms, ratio, and with ``memory`` the peak MiB of one step (mib, torch_mib, mib_ratio);
    None where not defined."""
    device = backend.canonical_device(device)
    ids = list(WORKLOADS) if workloads is None else list(workloads)
    for id in ids:
        if id not in WORKLOADS:
            raise KeyError(f"bench: unknown workload {id!r}; known: {', '.join(WORKLOADS)}")
    say = print_fn or (lambda *args: None)
    reference = matmul_gflops(device, matmul_n)
    say(f"device {device}; float32 {matmul_n}² matmul: {reference:.1f} GFLOP/s; threads: {thread_settings()}")
    say(f"{'id':4} {'minigen ms':>11} {'torch ms':>9} {'ratio':>6} {'GFLOP/s':>8} {'of matmul':>10} "
        f"{'minigen MiB':>12} {'torch MiB':>10} {'ratio':>6}  workload")
    rows = []
    for id in ids:
        spec = WORKLOADS[id]
        case = spec.setup(device)
        seconds, torch_seconds = time_case(case, device, repeats, warmup, settle=settle, rounds=rounds)
        gflops = case.flops / seconds / 1e9 if case.flops else None
        del case                                           # free its memory before the next workload
        row = {"id": id, "description": spec.description, "device": device, "ms": seconds * 1e3,
               "gflops": gflops, "matmul_gflops": reference,
               "matmul_fraction": gflops / reference if gflops else None,
               "torch_ms": torch_seconds * 1e3 if torch_seconds else None,
               "ratio": seconds / torch_seconds if torch_seconds else None,
               "mib": None, "torch_mib": None, "mib_ratio": None}
        if memory:
            row["mib"] = peak_mib(spec.setup, device, "minigen")
            row["torch_mib"] = peak_mib(spec.setup, device, "torch") if torch_seconds else None
            if row["mib"] is not None and row["torch_mib"]:
                row["mib_ratio"] = row["mib"] / row["torch_mib"]
        rows.append(row)

        def show(value, fmt):
            return format(value, fmt) if value is not None else "-"
        say(f"{id:4} {row['ms']:11.2f} {show(row['torch_ms'], '9.2f'):>9} {show(row['ratio'], '6.2f'):>6} "
            f"{show(gflops, '8.1f'):>8} {show(row['matmul_fraction'], '10.0%'):>10} {show(row['mib'], '12.1f'):>12} "
            f"{show(row['torch_mib'], '10.1f'):>10} {show(row['mib_ratio'], '6.2f'):>6}  {spec.description}")
    return rows

