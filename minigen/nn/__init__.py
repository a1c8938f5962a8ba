"""Neural-network building blocks under PyTorch's names: ``Module``, ``Parameter``, layers, ``init``, ``utils``
and ``functional`` (the ops, imported as ``F``)."""

from . import functional, init, utils  # noqa: F401
from .activation import GELU, MultiheadAttention, SiLU  # noqa: F401
from .layers import (AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, Embedding,  # noqa: F401
                     Flatten, Identity, LeakyReLU, Linear, MaxPool2d, ModuleList, ReLU, Sequential, Sigmoid,
                     Softplus, Tanh, Unflatten, Upsample)
from .module import Module, Parameter  # noqa: F401
from .normalization import GroupNorm, LayerNorm  # noqa: F401
