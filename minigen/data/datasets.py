"""Datasets: MNIST, Fashion-MNIST, CIFAR-10, the embedded digits, and plain arrays (``TensorDataset``).

Each dataset holds all its images in memory as ``data`` (uint8; (N, 28, 28) or (N, 32, 32, 3)) and its labels
as ``targets`` (int64), as torchvision's do; ``dataset[i]`` gives ``(image, label)`` as NumPy values, and
``DataLoader`` turns batches into tensors.

The IDX format (MNIST and Fashion-MNIST): a big-endian header (two zero bytes, a type code 0x08 = uint8, the
number of dimensions), one 4-byte size per dimension, then the raw bytes. Images have magic 2051, labels 2049.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from . import files as _files


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not) into a uint8 array of its declared shape."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not a uint8 IDX file (header {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape} but the file holds {body.size} values")
    return body.reshape(shape)


class _IDXDataset:
    folder = ""
    mirrors: list[str] = []
    md5: dict[str, str] = {}
    classes: list[str] = []

    def __init__(self, root=None, train: bool = True, download: bool = True):
        prefix = "train" if train else "t10k"
        names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
        paths = _files.fetch(self.folder, {n: self.md5[n] for n in names}, self.mirrors, root, download,
                             type(self).__name__)
        self.train = train
        self.data = read_idx(paths[names[0]])                             # (N, 28, 28) uint8
        self.targets = read_idx(paths[names[1]]).astype(np.int64)         # (N,)
        if len(self.data) != len(self.targets):
            raise ValueError(f"{type(self).__name__}: {len(self.data)} images but {len(self.targets)} labels")

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i], self.targets[i]

    def __repr__(self):
        return f"{type(self).__name__}({'train' if self.train else 'test'}, {len(self)} images)"


class MNIST(_IDXDataset):
    """Handwritten digits (LeCun et al., 1998): 60,000 training and 10,000 test images."""
    folder = "mnist"
    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    md5 = {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
           "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
           "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
           "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
    classes = [str(d) for d in range(10)]


class FashionMNIST(_IDXDataset):
    """Zalando's clothing images (Xiao, Rasul and Vollgraf, 2017), in MNIST's format; MIT license."""
    folder = "fashion-mnist"
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
               "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"]
    md5 = {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
           "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
           "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
           "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """CIFAR-10's python archive is pickled dicts of bytes, lists and arrays: allow exactly those, no code."""
    allowed = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("builtins", "bytes")}

    def find_class(self, module, name):
        if (module, name) in self.allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"CIFAR10: refusing to load {module}.{name} from the archive")


class CIFAR10:
    """32×32 colour images in 10 classes (Krizhevsky, 2009), from the python version archive."""
    folder = "cifar10"
    archive = "cifar-10-python.tar.gz"
    mirrors = ["https://www.cs.toronto.edu/~kriz/"]
    md5 = {archive: "c58f30108f718f92721af3b95e74349a"}
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(self, root=None, train: bool = True, download: bool = True):
        path = _files.fetch(self.folder, self.md5, self.mirrors, root, download, "CIFAR10")[self.archive]
        wanted = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
        images, labels = [], []
        with tarfile.open(path, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            for name in wanted:
                if name not in members:
                    raise ValueError(f"CIFAR10: {path} has no member {name}")
                batch = _NumpyOnlyUnpickler(io.BytesIO(tar.extractfile(members[name]).read()),
                                            encoding="bytes").load()
                images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                labels.extend(batch[b"labels"])
        self.train = train
        self.data = np.concatenate(images).transpose(0, 2, 3, 1)         # (N, 32, 32, 3) uint8, as torchvision
        self.targets = np.asarray(labels, dtype=np.int64)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i], self.targets[i]


class Digits:
    """The embedded default dataset (see ``digits.py``): rendered font digits, made once and cached.
    ``train=True`` gives ``n`` images from ``seed``; ``train=False`` a separate set from another seed."""

    def __init__(self, root=None, train: bool = True, n: int | None = None, seed: int = 0, cache: bool = True):
        from .digits import make_digits
        n = n or (10000 if train else 2000)
        seed = seed if train else seed + 1_000_003
        path = (Path(root) if root else _files.writable_root()) / "digits" / f"digits-{n}-{seed}.npz"
        if cache and path.exists():
            with np.load(path, allow_pickle=False) as f:
                self.data, self.targets = f["images"], f["labels"]
        else:
            self.data, self.targets = make_digits(n, seed)
            if cache:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.tmp")
                with open(tmp, "wb") as f:
                    np.savez(f, images=self.data, labels=self.targets)
                tmp.replace(path)
        self.train = train
        self.classes = [str(d) for d in range(10)]

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i], self.targets[i]


class TensorDataset:
    """Arrays of equal length, indexed together: ``TensorDataset(images, labels)[i] → (images[i], labels[i])``."""

    def __init__(self, *arrays):
        arrays = [a.data if hasattr(a, "grad_fn") else np.asarray(a) for a in arrays]
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(f"TensorDataset: arrays of different lengths {[len(a) for a in arrays]}")
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, i):
        return tuple(a[i] for a in self.arrays)
