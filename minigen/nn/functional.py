"""``minigen.nn.functional`` (import as ``F``): the differentiable operations under PyTorch's names."""

from ..ops import *  # noqa: F401,F403 - every op is part of F, as in torch.nn.functional
from ..ops.activation import leaky_relu, log_softmax, relu, softmax, softplus  # noqa: F401
from ..ops.elementwise import sigmoid, tanh  # noqa: F401
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,  # noqa: F401
                        mse_loss, nll_loss)
from ..ops.norm import batch_norm, dropout, embedding, linear  # noqa: F401
from ..ops.conv import conv2d, conv_transpose2d  # noqa: F401
from ..ops.pool import avg_pool2d, interpolate, max_pool2d, upsample  # noqa: F401
from ..ops.shape import pad  # noqa: F401
