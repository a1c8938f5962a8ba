"""``minigen.nn.functional`` (import as ``F``): the functions of ``torch.nn.functional`` that minigen has, under
PyTorch's names and signatures, and nothing else.

Tensor arithmetic, reductions and reshaping are not here, as in PyTorch: they are ``minigen`` functions and tensor
methods (``minigen.sum(x)``, ``x.reshape(n, -1)``). One function here is minigen's own, not PyTorch's:
``flatten`` (PyTorch has it as ``torch.flatten`` and ``x.flatten``; ``F.flatten(x, 1)`` would fail there).
"""

from ..ops import (avg_pool2d, batch_norm, binary_cross_entropy, binary_cross_entropy_with_logits, conv2d,
                   conv_transpose2d, cross_entropy, dropout, embedding, flatten, gelu, group_norm, interpolate,
                   layer_norm, leaky_relu, linear, log_softmax, max_pool2d, mse_loss, nll_loss, pad, relu,
                   scaled_dot_product_attention, sigmoid, silu, softmax, softplus, tanh)
from ..ops.pool import upsample

__all__ = [
    # activations
    "relu", "leaky_relu", "softplus", "sigmoid", "tanh", "softmax", "log_softmax", "silu", "gelu",
    # layers as functions
    "linear", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "interpolate", "upsample", "batch_norm",
    "group_norm", "layer_norm", "dropout", "embedding", "pad", "scaled_dot_product_attention",
    # losses
    "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy",
    # minigen's own, not in torch.nn.functional (see above)
    "flatten",
]
