"""Timing helpers: the clock around one step (waiting for the GPU), NumPy's matrix-product rate as the reference,
flop counts, and which threads are running. PyTorch is looked up here only, and only when it is installed."""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from .. import backend


def _torch():
    """The torch module, or None when PyTorch is not installed (it is never a dependency)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_on(device: str):
    """The torch module when PyTorch can run on ``device`` (a CPU-only build cannot use the GPU), else None."""
    torch = _torch()
    return torch if torch is not None and (device == "cpu" or torch.cuda.is_available()) else None


def torch_device(device: str) -> str:
    return "cpu" if device == "cpu" else device


def synchronize(device: str) -> None:
    """Wait for queued GPU work, minigen's and PyTorch's, so a timer measures the work and not its launch."""
    backend.synchronize(device)
    torch = torch_on(device)
    if device != "cpu" and torch is not None:
        torch.cuda.synchronize()


def timed(fn, device) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def matmul_gflops(device: str = "cpu", n: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a float32 n×n matrix product through NumPy (or CuPy on a GPU): the reference rate."""
    xp = backend.array_module(device)
    rng = np.random.default_rng(0)
    a = xp.asarray(rng.standard_normal((n, n), dtype=np.float32))
    b = xp.asarray(rng.standard_normal((n, n), dtype=np.float32))
    for _ in range(3):
        a @ b
    seconds = statistics.median(timed(lambda: a @ b, device) for _ in range(repeats))
    return 2 * n ** 3 / seconds / 1e9


def conv_flops(N, C, O, out_hw, kernel, groups=1, passes=3) -> float:
    """Flops of ``passes`` convolution matrix products (forward, input gradient, weight gradient):
    2·N·Ho·Wo·O·(C/g)·kh·kw each."""
    return passes * 2.0 * N * out_hw[0] * out_hw[1] * O * (C // groups) * kernel[0] * kernel[1]


def thread_settings() -> dict:
    """Who uses how many threads: the CPUs this process may run on, NumPy's BLAS (when threadpoolctl is
    installed), PyTorch, and the environment variables that set them."""
    settings = {"cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE",
                 "OPENBLAS_THREAD_TIMEOUT", "MINIGEN_NUM_THREADS"):
        if os.environ.get(name):
            settings[name] = os.environ[name]
    blas = _numpy_openblas()
    if blas:
        settings["numpy_openblas"] = blas
    from .. import threads
    settings["minigen_threads"] = threads.num_threads()
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
