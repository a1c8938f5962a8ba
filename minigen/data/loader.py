"""``DataLoader``: batches of a dataset as tensors on a device, in an order fixed by (seed, epoch).

Shuffling draws a permutation from a generator seeded with (seed, epoch), so epoch 3 of a run has the same order
whether the run went straight through or resumed after epoch 2 (``set_epoch`` sets where to continue).

Where the work happens: on the CPU, batches are indexed and transformed with NumPy. On a GPU, a dataset of
in-memory arrays (``data`` and ``targets``, or ``arrays``) is copied to the device once, on the first iteration,
and kept by the loader; each epoch's order is copied there once, and every batch is gathered and transformed on
the device: no batch is copied from the host (only ``Binarize``'s noise is, see there). A dataset read item by item
(``ds[i]``) is batched on the host and each batch copied over.

Transforms work on whole batches, NumPy or CuPy arrays alike (the module of the batch, ``backend.xp_of(x)``):
``ToFloat()`` (uint8 0–255 → float32 in [0, 1]), ``ScaleTo(-1, 1)`` (scaling to [−1, 1]),
``Binarize()`` (dynamic binarization: each pixel becomes 1 with probability equal to its intensity, drawn
afresh every time, the standard protocol for Bernoulli VAEs), ``Flatten()`` ((N, 28, 28) → (N, 784)) and
``AddChannel()`` ((N, 28, 28) → (N, 1, 28, 28)).
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Tensor


class ToFloat:
    """uint8 in 0–255 → float32 in [0, 1]."""

    def __call__(self, x, rng):
        return x.astype(np.float32) / np.float32(255)


class ScaleTo:
    """float in [0, 1] → float in [lo, hi] (``ScaleTo(-1, 1)`` for tanh generators)."""

    def __init__(self, lo: float = -1.0, hi: float = 1.0):
        self.lo, self.hi = lo, hi

    def __call__(self, x, rng):
        return (x * np.float32(self.hi - self.lo) + np.float32(self.lo)).astype(np.float32)


class Binarize:
    """Dynamic binarization: pixel p ∈ [0, 1] → 1 with probability p, else 0 (new draw every batch)."""

    def __call__(self, x, rng):
        noise = rng.random(x.shape, dtype=np.float32)
        if backend.xp_of(x) is not np:
            # The noise comes from the epoch's host generator even for a batch on the GPU, and is copied there:
            # the draws then depend only on (seed, epoch), so a run repeats, resumes exactly and binarizes the
            # same pixels on every device. The cost is one host → device copy per batch (nothing is read back).
            noise = backend.on_device(noise, backend.device_of(x))
        return (noise < x).astype(np.float32)


class Flatten:
    def __call__(self, x, rng):
        return x.reshape(len(x), -1)


class AddChannel:
    def __call__(self, x, rng):
        return x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # (N, H, W, C) → (N, C, H, W)


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x, rng):
        for t in self.transforms:
            x = t(x, rng)
        return x


class DataLoader:
    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int = 0, device: str = "cpu", transform=None):
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.seed, self.device, self.transform = seed, backend.canonical_device(device), transform
        self.epoch = 0
        self._cache = None  # (the dataset's arrays, their copies on the device): filled on the first iteration

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batch(self, index):
        ds = self.dataset
        if hasattr(ds, "data") and hasattr(ds, "targets"):  # in-memory arrays: one fancy-index per batch
            return ds.data[index], ds.targets[index]
        if hasattr(ds, "arrays"):
            return tuple(a[index] for a in ds.arrays)
        items = [ds[int(i)] for i in index]
        return tuple(np.stack([np.asarray(item[k]) for item in items]) for k in range(len(items[0])))

    def _device_arrays(self):
        """The dataset's in-memory arrays on the loader's (GPU) device, copied once and kept; copied again only
        if the dataset's arrays were replaced. None for a dataset read item by item."""
        ds = self.dataset
        if hasattr(ds, "data") and hasattr(ds, "targets"):
            arrays = (ds.data, ds.targets)
        elif hasattr(ds, "arrays"):
            arrays = tuple(ds.arrays)
        else:
            return None
        if self._cache is None or len(self._cache[0]) != len(arrays) or \
                any(a is not b for a, b in zip(self._cache[0], arrays)):
            self._cache = arrays, tuple(backend.on_device(a, self.device) for a in arrays)
        return self._cache[1]

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])  # order and transform noise: fixed per epoch
        n = len(self.dataset)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        self.epoch += 1
        arrays = self._device_arrays() if self.device != "cpu" else None
        xp = np
        if arrays is not None:  # on the GPU: the order goes there once per epoch, and batches are gathered there
            order, xp = backend.on_device(order, self.device), backend.array_module(self.device)
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            if self.drop_last and len(index) < self.batch_size:
                break
            x, *rest = self._batch(index) if arrays is None else tuple(a[index] for a in arrays)
            if self.transform is not None:
                x = self.transform(x, rng)
            yield tuple(Tensor(backend.on_device(xp.ascontiguousarray(a), self.device)) for a in (x, *rest))
