"""CPU threads for work that splits over the batch: each thread takes its own images, BLAS runs on one thread.

Most of a convolution's time on the CPU is a matrix product, which OpenBLAS already spreads over the cores. The
rest (copies, additions) runs in NumPy on one core. The convolutions of ``ops/passes.py`` (and Winograd's,
``ops/winograd.py``) do their work in passes of a few images, each pass small enough to stay in the processor's
caches: unfold the images, multiply (Winograd: transform, sixteen small products, transform back). Such passes
are independent, so the cores can take turns: thread k runs passes k, k + T, k + 2T, …, each with its own
scratch buffers, and every step of a pass, products included, runs on that thread's core. NumPy releases
Python's global lock inside its array loops and BLAS calls, so the threads do run at once. While they do,
OpenBLAS is held to one thread: two threads each asking BLAS for two would fight over two cores.

Measured on a quiet 2-core machine, float32, batch 128-256, 3×3 convolutions of a small U-Net: the passes split
over two threads ran in 0.5–0.85 of the time of the direct path (one unfolding of the whole batch, then one
product on both cores); Winograd's in 0.68–0.91. Elementwise work per example splits the same way
(``over_first_axis``): SiLU, group/layer norm (forward and backward) and large additions give each core a
contiguous range of the batch. (Adam's update did too, and was slower for it inside a training step:
``optim/optimizer.py``.)

One more thing had to change for the threads to pay: after a product on two threads, OpenBLAS's idle worker
spins on the other core for about 0.1 s (its ``THREAD_TIMEOUT``) waiting for the next product, and a thread of
ours started in that time shares the core with it. ``minigen/__init__.py`` sets ``OPENBLAS_THREAD_TIMEOUT`` so the
worker sleeps at once; that only works before NumPy loads OpenBLAS, so if NumPy was imported before minigen (and
the variable was not set), minigen uses one thread.

How many threads: ``MINIGEN_NUM_THREADS`` if set, else as many as OpenBLAS was told to use when minigen first
asked (``OPENBLAS_NUM_THREADS=1`` keeps everything on one core, e.g. for two trainings side by side). With one
thread, ``run_split`` simply runs the parts in order in the calling thread.
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_workers: int | None = None
_pool: ThreadPoolExecutor | None = None
_controller = None                       # threadpoolctl's view of the loaded BLAS libraries, made once


def _blas_controller():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController
        _controller = ThreadpoolController()
    return _controller


def num_threads() -> int:
    """Threads that ``run_split`` uses (read once: ``MINIGEN_NUM_THREADS``, else OpenBLAS's thread count)."""
    global _workers
    if _workers is None:
        setting = os.environ.get("MINIGEN_NUM_THREADS")
        if setting:
            _workers = max(1, int(setting))
        elif not getattr(sys.modules.get("minigen"), "_blas_threads_sleep", False):
            _workers = 1                 # NumPy came first: OpenBLAS's idle threads spin (minigen/__init__.py)
        else:
            blas = [lib["num_threads"] for lib in _blas_controller().info() if lib["user_api"] == "blas"]
            _workers = max(blas) if blas else 1
    return _workers


def set_num_threads(n: int) -> None:
    """Use ``n`` threads from now on (1: no threads at all)."""
    global _workers, _pool
    if n < 1:
        raise ValueError(f"set_num_threads: need at least 1 thread, got {n}")
    _workers = int(n)
    if _pool is not None:
        _pool.shutdown()
        _pool = None


def run_split(part, parts: int) -> None:
    """Run ``part(k, T)`` for k = 0 … T − 1 with T = min(num_threads(), parts), at once on T threads.

    ``part(k, T)`` does the k-th share of the work (e.g. passes k, k + T, …) and writes its results into memory
    that no other part writes. BLAS is held to one thread meanwhile. Exceptions from a part propagate.

    The calling thread does share 0 itself while the pool's threads do the rest: it would otherwise sit waiting,
    and waking one thread fewer per call saved 5 % of a U-Net training step (minigen bench W5: 1,188 ms against
    1,248, alternating the two in one process). A call made from inside a share runs all of its work in that
    thread: the pool's threads are busy with the outer call, and waiting for them would never end."""
    global _pool
    T = min(num_threads(), parts)
    if T <= 1 or getattr(_inside, "share", False):
        part(0, 1)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(num_threads() - 1, thread_name_prefix="minigen", initializer=_mark_inside)
    with _blas_controller().limit(limits=1, user_api="blas"):
        futures = [_pool.submit(part, k, T) for k in range(1, T)]
        _inside.share = True
        try:
            part(0, T)
        finally:
            _inside.share = False
            for future in futures:           # wait for every share, even when ours failed
                future.exception()
        for future in futures:
            future.result()


_inside = threading.local()                  # .share: this thread is running a share of run_split's work


def _mark_inside():
    """The pool's threads only ever run shares."""
    _inside.share = True


def run_passes(N: int, step: int, work, scratch=None) -> None:
    """Images 0 … N − 1 in passes of ``step`` (the last may be smaller), shared out by ``run_split``: thread k
    makes its buffers once, ``buffers = scratch(k)`` (None without ``scratch``), then calls
    ``work(buffers, n0, n)`` for passes k, k + T, …, pass i covering images n0 = i·step … n0 + n − 1. ``work``
    must write only its own images' memory (or thread k's own buffers). With one pass (a GPU's whole batch) it
    all runs in the calling thread; with no images, ``scratch(0)`` is still made and nothing else happens."""
    starts = range(0, N, step)

    def part(k, T):
        buffers = scratch(k) if scratch is not None else None
        for n0 in starts[k::T]:
            work(buffers, n0, min(step, N - n0))

    run_split(part, len(starts))


# Elementwise work and reductions per example are memory-bound: below this many numbers a second thread costs
# more (waking it, ~0.1 ms) than it saves.
MIN_SPLIT = 1 << 17


def over_first_axis(fn, x) -> None:
    """Call ``fn(a, b)`` on contiguous ranges [a, b) that cover the first axis of the array ``x``, one range per
    thread at once when ``x`` is a NumPy array large enough to pay (``MIN_SPLIT`` numbers), else ``fn(0, n)``
    once: a GPU array (CuPy runs its own kernels; CPU threads would only queue them) or a small one. Each call
    must write only the rows a … b − 1 of its outputs."""
    n = x.shape[0]
    if not isinstance(x, np.ndarray) or n < 2 or x.size < MIN_SPLIT or num_threads() == 1:
        fn(0, n)
        return
    run_split(lambda k, T: fn(k * n // T, (k + 1) * n // T), n)
