"""Datasets, downloads with checksums, and the DataLoader."""

from .datasets import CIFAR10, MNIST, Digits, FashionMNIST, TensorDataset, read_idx  # noqa: F401
from .ring import Ring  # noqa: F401
from .loader import AddChannel, Binarize, Compose, DataLoader, Flatten, ScaleTo, ToFloat  # noqa: F401
