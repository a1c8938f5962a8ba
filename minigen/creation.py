"""Making tensors: from data, filled with a constant, or random from the device's seeded generator.

Signatures follow PyTorch: ``zeros(2, 3)`` or ``zeros((2, 3))``, keyword ``dtype``, ``device`` and
``requires_grad``; floating results are float32 unless ``dtype`` says otherwise.
"""

from __future__ import annotations

import numpy as np

from . import backend
from .autograd import Tensor
from .ops.dtypes import DEFAULT_FLOAT


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _make(array, requires_grad) -> Tensor:
    return Tensor(array, requires_grad=requires_grad)


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists, an array or a tensor)."""
    array = backend.array_from(data, dtype, device)
    if backend.is_array(data) or isinstance(data, Tensor):  # always a copy, as torch.tensor
        array = array.copy()
    return _make(array, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with an array when no conversion is needed."""
    return data if isinstance(data, Tensor) and dtype is None and device is None else \
        Tensor(backend.array_from(data, dtype, device))


def from_numpy(array: np.ndarray) -> Tensor:
    return Tensor(array)


def _filled(fill, size, dtype, device, requires_grad):
    device = backend.canonical_device(device)
    xp = backend.array_module(device)
    return _make(xp.full(_size(size), fill, dtype=dtype or DEFAULT_FLOAT), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(0, size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(1, size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None and isinstance(fill_value, (bool, int)):
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64
    return _filled(fill_value, (size,), dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    xp = backend.array_module(backend.canonical_device(device))
    return _make(xp.eye(n, m, dtype=dtype or DEFAULT_FLOAT), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if is_int else DEFAULT_FLOAT
    xp = backend.array_module(backend.canonical_device(device))
    return _make(xp.arange(start, end, step, dtype=dtype), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    xp = backend.array_module(backend.canonical_device(device))
    return _make(xp.linspace(start, end, steps, dtype=dtype or DEFAULT_FLOAT), requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples from ``device``'s seeded generator."""
    device = backend.canonical_device(device)
    array = backend.generator(device).standard_normal(_size(size), dtype=dtype or DEFAULT_FLOAT)
    return _make(array, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) from ``device``'s seeded generator."""
    device = backend.canonical_device(device)
    array = backend.generator(device).random(_size(size), dtype=dtype or DEFAULT_FLOAT)
    return _make(array, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None) -> Tensor:
    if high is None:
        low, high = 0, low
    device = backend.canonical_device(device)
    array = backend.generator(device).integers(low, high, size=tuple(size))
    return _make(array.astype(dtype or np.int64), False)


def randperm(n, device=None) -> Tensor:
    """A random permutation of 0..n-1: the order that sorts n uniform samples (CuPy's Generator, unlike
    NumPy's, has no ``permutation``)."""
    device = backend.canonical_device(device)
    u = backend.generator(device).random(int(n))
    return _make(u.argsort().astype(np.int64), False)


def _like(maker):
    def like(input: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
        return maker(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                     requires_grad=requires_grad)
    like.__name__ = maker.__name__ + "_like"
    return like


zeros_like, ones_like, randn_like, rand_like = (_like(f) for f in (zeros, ones, randn, rand))


def full_like(input: Tensor, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(input.shape, fill_value, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)
