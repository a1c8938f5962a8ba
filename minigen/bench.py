"""Benchmarks: the workloads of GUIDE §5, timed against NumPy's own matrix product and, when it is installed,
against PyTorch on the same machine in the same run.

    python -c 'import minigen.bench as b; b.run()'           (``minigen bench`` calls ``run``)

For each workload: the median wall time over ``repeats`` runs after warm-up, the achieved GFLOP/s where the
flop count is defined, that rate as a fraction of a float32 2048×2048 matrix product (the practical ceiling of
the machine: NumPy's BLAS, or cuBLAS through CuPy), and PyTorch's median time with the ratio minigen / torch.
minigen and PyTorch take turns in short blocks, so both see the same machine state. They also share this
process's settings: the thread counts (printed with the results) and minigen's allocator setting
(``backend.retain_freed_memory``, which spares PyTorch page faults too). Timing is never a test.

Adding a workload: write ``setup(device) -> Case`` and decorate it with ``@workload("W3", "description")``;
``Case.torch`` may be None (no PyTorch twin) and ``Case.flops`` None (no GFLOP/s).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Callable, NamedTuple

import numpy as np

from . import backend


class Case(NamedTuple):
    minigen: Callable[[], object]        # one step of the workload in minigen
    torch: Callable[[], object] | None   # the same step in PyTorch, or None
    flops: float | None                  # floating-point operations in one step, or None


class Workload(NamedTuple):
    id: str
    description: str
    setup: Callable[[str], Case]         # device → Case (allocates the inputs)


WORKLOADS: dict[str, Workload] = {}      # the registry, in the order workloads are defined


def workload(id: str, description: str):
    """Register ``setup(device) -> Case`` as workload ``id``."""
    def register(setup):
        WORKLOADS[id] = Workload(id, description, setup)
        return setup
    return register


# --- Helpers ----------------------------------------------------------------------------------------------
def _torch():
    """The torch module, or None when PyTorch is not installed (it is never a dependency)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_on(device: str):
    """The torch module when PyTorch can run on ``device`` (a CPU-only build cannot use the GPU), else None."""
    torch = _torch()
    return torch if torch is not None and (device == "cpu" or torch.cuda.is_available()) else None


def _torch_device(device: str) -> str:
    return "cpu" if device == "cpu" else device


def _synchronize(device: str) -> None:
    """Wait for queued GPU work, minigen's and PyTorch's, so a timer measures the work and not its launch."""
    backend.synchronize(device)
    torch = _torch_on(device)
    if device != "cpu" and torch is not None:
        torch.cuda.synchronize()


def _timed(fn, device) -> float:
    _synchronize(device)
    start = time.perf_counter()
    fn()
    _synchronize(device)
    return time.perf_counter() - start


def matmul_gflops(device: str = "cpu", n: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a float32 n×n matrix product through NumPy (or CuPy on a GPU): the reference rate."""
    xp = backend.array_module(device)
    rng = np.random.default_rng(0)
    a = xp.asarray(rng.standard_normal((n, n), dtype=np.float32))
    b = xp.asarray(rng.standard_normal((n, n), dtype=np.float32))
    for _ in range(3):
        a @ b
    seconds = statistics.median(_timed(lambda: a @ b, device) for _ in range(repeats))
    return 2 * n ** 3 / seconds / 1e9


def conv_flops(N, C, O, out_hw, kernel, groups=1, passes=3) -> float:
    """Flops of ``passes`` convolution matrix products (forward, input gradient, weight gradient):
    2·N·Ho·Wo·O·(C/g)·kh·kw each."""
    return passes * 2.0 * N * out_hw[0] * out_hw[1] * O * (C // groups) * kernel[0] * kernel[1]


def thread_settings() -> dict:
    """Who uses how many threads: the CPUs this process may run on, NumPy's BLAS (when threadpoolctl is
    installed), PyTorch, and the environment variables that set them."""
    settings = {"cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE"):
        if os.environ.get(name):
            settings[name] = os.environ[name]
    blas = _numpy_openblas()
    if blas:
        settings["numpy_openblas"] = blas
    torch = _torch()
    if torch is not None:
        settings["torch_threads"] = torch.get_num_threads()
    return settings


def _numpy_openblas() -> str | None:
    """'<kernel>, <n> threads' of the OpenBLAS bundled with NumPy wheels, or None if that cannot be read."""
    import ctypes
    import glob
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*"))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", "")):
            try:
                corename = getattr(lib, f"{prefix}_get_corename{suffix}")
                threads = getattr(lib, f"{prefix}_get_num_threads{suffix}")
            except AttributeError:
                continue
            corename.restype = ctypes.c_char_p
            return f"{corename().decode()} kernels, {threads()} threads"
    return None


# --- The workloads ----------------------------------------------------------------------------------------
def _conv_case(device, x_shape, w_shape, transposed, **params) -> Case:
    """A conv or transposed conv, forward and backward for the input and the weight, float32."""
    import minigen
    import minigen.nn.functional as F
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(x_shape, dtype=np.float32)
    w_np = (rng.standard_normal(w_shape, dtype=np.float32) * 0.05).astype(np.float32)
    x = minigen.tensor(x_np, device=device, requires_grad=True)
    w = minigen.tensor(w_np, device=device, requires_grad=True)
    op = F.conv_transpose2d if transposed else F.conv2d
    with minigen.no_grad():
        y_shape = op(x, w, **params).shape
    g_np = rng.standard_normal(y_shape, dtype=np.float32)
    g = minigen.tensor(g_np, device=device)

    def step():
        y = op(x, w, **params)
        return minigen.grad(y, (x, w), g)

    torch_step = None
    torch = _torch_on(device)
    if torch is not None:
        tdev = _torch_device(device)
        tx = torch.tensor(x_np, device=tdev, requires_grad=True)
        tw = torch.tensor(w_np, device=tdev, requires_grad=True)
        tg = torch.tensor(g_np, device=tdev)
        top = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d

        def torch_step():
            y = top(tx, tw, **params)
            return torch.autograd.grad(y, (tx, tw), tg)

    # the matrix products run on the conv's small side: (N·H·W of the conv input side, C·k·k) × O
    if transposed:  # conv_transpose2d(x, w) is the input gradient of conv2d(·, w) whose output has x's size
        flops = conv_flops(x_shape[0], y_shape[1], x_shape[1], x_shape[2:], w_shape[2:], params.get("groups", 1))
    else:
        flops = conv_flops(x_shape[0], x_shape[1], w_shape[0], y_shape[2:], w_shape[2:], params.get("groups", 1))
    return Case(step, torch_step, flops)


@workload("W1", "conv2d fwd+bwd: x (64, 64, 14, 14), w (128, 64, 5, 5), stride 2, padding 2")
def _w1(device):
    return _conv_case(device, (64, 64, 14, 14), (128, 64, 5, 5), False, stride=2, padding=2)


@workload("W2", "conv_transpose2d fwd+bwd: x (64, 128, 7, 7), w (128, 64, 5, 5), stride 2, padding 2, "
                "output_padding 1")
def _w2(device):
    return _conv_case(device, (64, 128, 7, 7), (128, 64, 5, 5), True, stride=2, padding=2, output_padding=1)


# --- Running ----------------------------------------------------------------------------------------------
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
            times[name] += [_timed(step, device) for _ in range(n)]
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
from . import bench_models  # noqa: E402,F401  (registers W3 and W4)
