"""minigen: a small, readable deep-learning library on NumPy and CuPy.

Read in this order: ``backend`` (arrays and devices) → ``autograd`` (Tensor, Function, backward) →
``ops/`` (each op's forward and backward) → ``gradcheck`` (how we know the backwards are right).
"""

import os as _os
import sys as _sys

# Before NumPy loads OpenBLAS: its idle worker threads go to sleep at once instead of spinning on a core for
# about 0.1 s after every matrix product, which would slow the threads of ``threads.py`` that run next (measured:
# a U-Net's convolutions split over two cores ran no faster than on one until this was set). Too late if NumPy was
# imported first, so then minigen does not split work over threads (``threads.num_threads``) unless it was set.
_blas_threads_sleep = "numpy" not in _sys.modules or "OPENBLAS_THREAD_TIMEOUT" in _os.environ
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")    # 2⁴ cycles, OpenBLAS's smallest (its default is 2²⁸)
# ruff: noqa: E402 (the imports below must come after that line)

from . import ops  # installs the tensor methods and operators  # noqa: F401
from .autograd import Function, Tensor, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import cuda_is_available, initial_seed, manual_seed
from .creation import (arange, as_tensor, empty, eye, from_numpy, full, full_like, linspace, ones, ones_like,
                       rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros, zeros_like)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import (abs, add, amax, amin, argmax, argmin, cat, chunk, clamp, div, eq, erf, exp, flatten, ge, gt, le,
                  log, logsumexp, lt, matmul, max, maximum, mean, min, minimum, mul, ne, neg, permute, pow,
                  reshape, sigmoid, split, sqrt, squeeze, stack, std, sub, sum, tanh, transpose, unsqueeze, var,
                  where)
from .ops.dtypes import bool_ as bool, float16, float32, float64, int32, int64, uint8  # noqa: A001
from . import nn, optim  # noqa: E402,F401
from .serialization import load, save  # noqa: E402,F401

__version__ = "0.1.0"
float = float32  # noqa: A001 - PyTorch's aliases
double = float64
long = int64
