"""Neural-network building blocks. ``functional`` holds the ops under PyTorch's names."""

from . import functional  # noqa: F401
