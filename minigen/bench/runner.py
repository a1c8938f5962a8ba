"""Running workloads: minigen and PyTorch take turns in short timed blocks, and a table of the results."""

from __future__ import annotations

import statistics
import time

from .. import backend
from .registry import WORKLOADS, Case
from .timing import matmul_gflops, thread_settings, timed


def time_case(case: Case, device: str, repeats: int = 20, warmup: int = 3, block: int = 5, settle: float = 0.3):
    """Median seconds of minigen's step and of PyTorch's (None without a twin).

    The two libraries take turns in blocks of ``block`` timed runs. Before each block the process sleeps
    ``settle`` seconds and runs the step once untimed: BLAS and OpenMP worker threads keep spinning for up to
    about 0.1 s after a library returns, and would otherwise slow down whichever library ran next."""
    for _ in range(warmup):
        case.minigen()
        if case.torch is not None:
            case.torch()
    times = {"minigen": [], "torch": []}
    while len(times["minigen"]) < repeats:
        n = min(block, repeats - len(times["minigen"]))
        for name in ("minigen", "torch"):
            step = getattr(case, name)
            if step is None:
                continue
            time.sleep(settle)
            step()
            times[name] += [timed(step, device) for _ in range(n)]
    return statistics.median(times["minigen"]), (statistics.median(times["torch"]) if times["torch"] else None)


def run(device: str = "cpu", workloads=None, repeats: int = 20, warmup: int = 3, print_fn=print,
        settle: float = 0.3, matmul_n: int = 2048) -> list[dict]:
    """Time ``workloads`` (ids; default: all registered) on ``device``; print a table through ``print_fn``
    (None: silent) and return one dict per workload: id, description, device, ms, gflops, matmul_gflops,
    matmul_fraction, torch_ms, ratio (None where not defined)."""
    device = backend.canonical_device(device)
    ids = list(WORKLOADS) if workloads is None else list(workloads)
    for id in ids:
        if id not in WORKLOADS:
            raise KeyError(f"bench: unknown workload {id!r}; known: {', '.join(WORKLOADS)}")
    say = print_fn or (lambda *args: None)
    reference = matmul_gflops(device, matmul_n)
    say(f"device {device}; float32 {matmul_n}² matmul: {reference:.1f} GFLOP/s; threads: {thread_settings()}")
    say(f"{'id':4} {'minigen ms':>11} {'GFLOP/s':>8} {'of matmul':>10} {'torch ms':>9} {'ratio':>6}  workload")
    rows = []
    for id in ids:
        spec = WORKLOADS[id]
        case = spec.setup(device)
        seconds, torch_seconds = time_case(case, device, repeats, warmup, settle=settle)
        gflops = case.flops / seconds / 1e9 if case.flops else None
        row = {"id": id, "description": spec.description, "device": device, "ms": seconds * 1e3,
               "gflops": gflops, "matmul_gflops": reference,
               "matmul_fraction": gflops / reference if gflops else None,
               "torch_ms": torch_seconds * 1e3 if torch_seconds else None,
               "ratio": seconds / torch_seconds if torch_seconds else None}
        rows.append(row)

        def show(value, fmt):
            return format(value, fmt) if value is not None else "-"
        say(f"{id:4} {row['ms']:11.2f} {show(gflops, '8.1f'):>8} {show(row['matmul_fraction'], '10.0%'):>10} "
            f"{show(row['torch_ms'], '9.2f'):>9} {show(row['ratio'], '6.2f'):>6}  {spec.description}")
    return rows
