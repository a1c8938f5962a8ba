"""Datasets by name: what ``minigen train --dataset NAME`` and ``minigen eval`` load.

``digits`` (the default) is rendered from the fonts matplotlib ships, so it needs no download; ``mnist`` and
``fashion-mnist`` are found in ``root``, ``$MINIGEN_DATA``, ``data/`` or ``~/.cache/minigen`` (downloaded, with
their MD5 sums checked, when missing); ``ring`` is the 2-D toy of 8 Gaussians on a circle.
"""

from __future__ import annotations

from .datasets import MNIST, Digits, FashionMNIST
from .ring import Ring

DATASETS = ("digits", "mnist", "fashion-mnist", "ring")


def load_dataset(name: str, train: bool, root=None, limit: int | None = None):
    """The train or test split of dataset ``name``: an object with ``data`` (N, ...) and ``targets`` (N,) arrays,
    cut to the first ``limit`` items when ``limit`` is given."""
    if name == "digits":  # generated: make only as many images as will be used
        ds = Digits(root, train=train, n=limit)
    elif name == "mnist":
        ds = MNIST(root, train=train)
    elif name == "fashion-mnist":
        ds = FashionMNIST(root, train=train)
    elif name == "ring":  # generated 2-D points: 8 Gaussians on a circle (GAN mode collapse in seconds)
        ds = Ring(train=train, n=limit)
    else:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    if limit:
        ds.data, ds.targets = ds.data[:limit], ds.targets[:limit]
    return ds
