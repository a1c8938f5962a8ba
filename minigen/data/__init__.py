"""Datasets, downloads with checksums, the DataLoader, and the registry of datasets by name."""

from .datasets import CIFAR10, MNIST, Digits, FashionMNIST, TensorDataset, read_idx  # noqa: F401
from .ring import Ring  # noqa: F401
from .loader import AddChannel, Binarize, Compose, DataLoader, Flatten, ScaleTo, ToFloat  # noqa: F401
from .registry import DATASETS, load_dataset  # noqa: F401
