"""Benchmarks: fixed workloads timed against NumPy's own matrix product and, when it is installed, against PyTorch
on the same machine in the same run.

    minigen bench [W1 W2 ...]                 (or, from Python: ``minigen.bench.run()``)

For each workload: the median wall time over ``rounds`` × ``repeats`` runs after warm-up, the achieved GFLOP/s
where the flop count is defined, that rate as a fraction of a float32 2048×2048 matrix product (the practical
ceiling of the machine: NumPy's BLAS, or cuBLAS through CuPy), and PyTorch's median time with the ratio minigen /
torch. minigen and PyTorch are timed each in blocks of their own, after a rest, so neither runs while the other's
BLAS threads still spin; the blocks alternate (``rounds`` of each), so both sample the same stretches of time.
They also share this process's settings: the thread counts (printed with the results) and minigen's allocator
setting (``backend.retain_freed_memory``, which spares PyTorch page faults too). Timing is never a test.

The workloads (float32):

- W1  conv2d forward + backward: x (64, 64, 14, 14), w (128, 64, 5, 5), stride 2, padding 2
- W2  conv_transpose2d forward + backward: x (64, 128, 7, 7), w (128, 64, 5, 5), stride 2, padding 2,
      output_padding 1
- W3  one DCGAN training step (D then G, Adam), batch 256 (networks in ``bench/models.py``)
- W4  one VAE training step (784-400-20, BCE sum + KL, Adam), batch 128
- W5  one training step of a small diffusion U-Net (1.84 M parameters), batch 128 (the network in ``bench/unet.py``)
- W6  one sampling call of that U-Net under no_grad, batch 256

Beside each time, the peak memory one step adds (``bench/memory.py``: each library in a fresh process).

The package, each file importing only the ones above it in this list:
``registry`` (Case, Workload, the ``workload`` decorator), ``timing`` (the clock, the matmul reference, thread
settings, PyTorch when installed), ``memory`` (peak memory in a fresh process), the workloads ``convolutions`` (W1,
W2), ``models`` (W3, W4) and ``unet`` (W5, W6), and ``runner`` (``run``).
"""

from . import convolutions, models, unet  # noqa: F401  (importing them registers W1-W6)
from .registry import WORKLOADS, Case, Workload, workload
from .runner import run, time_block, time_case
from .timing import conv_flops, matmul_gflops, synchronize, thread_settings, timed

__all__ = ["WORKLOADS", "Case", "Workload", "workload", "run", "time_block", "time_case", "conv_flops", "matmul_gflops",
           "synchronize", "thread_settings", "timed"]
