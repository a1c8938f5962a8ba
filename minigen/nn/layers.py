"""Layers: modules that hold their weights and call a function of ``F`` (PyTorch's names, arguments and
default initialisations).

Linear, Conv2d and ConvTranspose2d start from PyTorch's default U(−1/√fan_in, 1/√fan_in) for weights and biases
(``kaiming_uniform_(a=√5)`` works out to exactly that bound). Each layer checks its input and names itself and
both shapes when the input does not fit, e.g.
``Conv2d(3, 8, kernel_size=3): expected input with 3 channels, got shape (1, 1, 8, 8)``.
"""

from __future__ import annotations

import math

from .. import creation
from ..ops.embedding import _padding_index
from . import functional as F
from . import init
from .module import Module, Parameter


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _check(layer, condition: bool, expected: str, x) -> None:
    if not condition:
        raise RuntimeError(f"{layer.signature()}: expected {expected}, got shape {x.shape}")


class Layer(Module):
    """A module that names itself in error messages (``Conv2d(3, 8, kernel_size=3): expected ...``)."""

    def signature(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Linear(Layer):
    """y = x Wᵀ + b (``F.linear``).

    Args:
        in_features, out_features: sizes of each input and output vector.
        bias: learn the additive b (default True).
        device, dtype: where and how the parameters are created.

    Parameters: ``weight`` (out_features, in_features) and ``bias`` (out_features,), both U(−1/√in, 1/√in).

    Shape: input (..., in_features) → output (..., out_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(creation.empty(out_features, in_features, device=device, dtype=dtype))
        self.bias = Parameter(creation.empty(out_features, device=device, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # = U(−1/√in, 1/√in)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        _check(self, x.ndim >= 1 and x.shape[-1] == self.in_features,
               f"input with last dim {self.in_features}", x)
        return F.linear(x, self.weight, self.bias)                    # (..., in) → (..., out)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class _ConvNd(Layer):
    """What Conv2d and ConvTranspose2d share: arguments, parameters, PyTorch's initialisation, the input check."""

    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 output_padding=0, device=None, dtype=None):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.dilation = _pair(kernel_size), _pair(stride), _pair(dilation)
        self.padding = padding if isinstance(padding, str) else _pair(padding)
        self.output_padding = _pair(output_padding)
        # Conv2d: (out, in/groups, kh, kw); ConvTranspose2d: (in, out/groups, kh, kw), as PyTorch
        shape = ((in_channels, out_channels // groups) if self.transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(creation.empty(shape, device=device, dtype=dtype))
        self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x):
        _check(self, x.ndim in (3, 4) and x.shape[-3] == self.in_channels,
               f"input with {self.in_channels} channels", x)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def signature(self):  # the short form a learner wrote: Conv2d(3, 8, kernel_size=3)
        k = self.kernel_size[0] if self.kernel_size[0] == self.kernel_size[1] else self.kernel_size
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, kernel_size={k})"


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as in PyTorch) of the input with ``out_channels`` learned kernels, plus a
    bias per output channel (``F.conv2d``).

    Args:
        in_channels, out_channels: channels of the input and the output.
        kernel_size, stride, dilation: int or (h, w).
        padding: int, (h, w), 'valid' (0) or 'same' (output as large as the input; stride 1 only). Zeros.
        groups: split the channels into this many groups, each convolved with its own kernels.
        bias: learn one bias per output channel (default True).
        padding_mode: only 'zeros'. device, dtype: where and how the parameters are created.

    Parameters: ``weight`` (out_channels, in_channels/groups, kh, kw) and ``bias`` (out_channels,),
    U(−1/√fan_in, 1/√fan_in) with fan_in = in_channels/groups · kh · kw.

    Shape: input (N, C_in, H, W) or (C_in, H, W) → output (N, C_out, Ho, Wo) or (C_out, Ho, Wo), with
    Ho = ⌊(H + 2·padding − dilation·(kh − 1) − 1) / stride⌋ + 1 (the same for Wo).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise NotImplementedError(f"Conv2d: padding_mode {padding_mode!r} is not implemented; use 'zeros'")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         device=device, dtype=dtype)

    def forward(self, x):
        self._check_input(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution: the adjoint (backward) of a Conv2d with the same arguments, used to
    upsample: each input pixel adds its value times the kernel onto a stride-spaced patch of the output
    (``F.conv_transpose2d``).

    Args:
        in_channels, out_channels, kernel_size, stride, dilation, groups, bias: as ``Conv2d``.
        padding: int or (h, w): removed from each border of the output (the Conv2d padding this one undoes).
        output_padding: int or (h, w), smaller than the stride: added to one side, to choose among the output sizes
            that a stride-s convolution maps to the same size.
        padding_mode: only 'zeros'. device, dtype: where and how the parameters are created.

    Parameters: ``weight`` (in_channels, out_channels/groups, kh, kw) and ``bias`` (out_channels,).

    Shape: input (N, C_in, H, W) or (C_in, H, W) → output (N, C_out, Ho, Wo) or (C_out, Ho, Wo), with
    Ho = (H − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1 (the same for Wo).
    """

    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise NotImplementedError("ConvTranspose2d: only padding_mode='zeros' is supported")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         output_padding, device=device, dtype=dtype)

    def forward(self, x):
        self._check_input(x)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)


class _BatchNorm(Layer):
    """Batch normalization (``F.batch_norm``): y = (x − μ) / √(σ² + eps) · γ + β per channel.

    In training μ and σ² are the batch's (over N and every spatial position), and the running statistics move
    towards them: running ← (1 − momentum)·running + momentum·batch (the unbiased variance). In eval mode the
    running statistics are used instead, so the output of one example no longer depends on the others.

    Args:
        num_features: C, the number of channels.
        eps: added to σ² (default 1e-5).
        momentum: weight of each new batch in the running statistics (default 0.1; None: a cumulative average).
        affine: learn γ (``weight``, starts at 1) and β (``bias``, starts at 0) (default True).
        track_running_stats: keep ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers (default
            True); without them eval mode also uses the batch's statistics.
        device, dtype: where and how the parameters and buffers are created.
    """

    dims: tuple = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(creation.ones(num_features, device=device, dtype=dtype))
            self.bias = Parameter(creation.zeros(num_features, device=device, dtype=dtype))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.zeros((), dtype="int64", device=device))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def forward(self, x):
        _check(self, x.ndim in self.dims and x.shape[1] == self.num_features,
               f"{' or '.join(f'{d}-D' for d in self.dims)} input with {self.num_features} channels", x)
        momentum = self.momentum or 0.0
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # cumulative moving average: 1/n, computed where n lives (no sync)
                momentum = (1.0 / self.num_batches_tracked.data).astype(self.running_mean.dtype)
        batch_stats = self.training or not self.track_running_stats  # eval uses the running statistics
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, batch_stats,
                            momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of vectors or sequences; arguments as in ``_BatchNorm`` above.

    Shape: input (N, C) or (N, C, L) → output of the same shape.
    """

    dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of images, one mean and variance per channel over (N, H, W); arguments as in
    ``_BatchNorm`` above.

    Shape: input (N, C, H, W) → output of the same shape.
    """

    dims = (4,)


class Dropout(Layer):
    """In training, zeroes each element with probability ``p`` and scales the others by 1/(1 − p); in eval mode
    the identity (``F.dropout``).

    Args:
        p: probability of an element to be zeroed (default 0.5).
        inplace: accepted, as in PyTorch, and ignored (a new tensor is returned).

    Shape: any; the output has the input's shape.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace=False"


class ReLU(Layer):
    """max(x, 0) elementwise (``F.relu``). ``inplace``: accepted, as in PyTorch, and ignored.

    Shape: any; the output has the input's shape.
    """

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Layer):
    """x where x > 0, else negative_slope · x (``F.leaky_relu``).

    Args:
        negative_slope: the slope for x < 0 (default 0.01).
        inplace: accepted, as in PyTorch, and ignored.

    Shape: any; the output has the input's shape.
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Tanh(Layer):
    """tanh(x) elementwise, into (−1, 1). Shape: any; the output has the input's shape."""

    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Layer):
    """σ(x) = 1 / (1 + e⁻ˣ) elementwise, into (0, 1). Shape: any; the output has the input's shape."""

    def forward(self, x):
        return F.sigmoid(x)


class Softplus(Layer):
    """log(1 + e^(βx)) / β elementwise, a smooth ReLU (``F.softplus``).

    Args:
        beta: β (default 1).
        threshold: where βx > threshold the output is x itself (default 20).

    Shape: any; the output has the input's shape.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)


class Identity(Layer):
    """Returns its input; accepts and ignores any arguments. Shape: any; the output is the input."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Layer):
    """Flattens dims ``start_dim`` to ``end_dim`` into one (default: all but the batch dim).

    Shape: (N, C, H, W) → (N, C·H·W) with the defaults.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)               # (N, C, H, W) → (N, C·H·W)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Layer):
    """Splits dim ``dim`` into ``unflattened_size`` (the reverse of Flatten).

    Shape: with dim=1 and unflattened_size=(C, H, W): (N, C·H·W) → (N, C, H, W).
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        dim = self.dim % x.ndim
        return x.reshape(x.shape[:dim] + self.unflattened_size + x.shape[dim + 1:])  # (N, C·H·W) → (N, C, H, W)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Embedding(Layer):
    """A lookup table: integer index i → row i of ``weight`` (``F.embedding``).

    Args:
        num_embeddings: the number of rows (indices 0 … num_embeddings − 1).
        embedding_dim: the size of each row.
        padding_idx: a row that starts at zeros and receives no gradient (negative: counted from the end).
        device, dtype: where and how the weight is created.

    Parameters: ``weight`` (num_embeddings, embedding_dim), N(0, 1).

    Shape: integer input (...) → output (..., embedding_dim).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, device=None, dtype=None):
        super().__init__()
        padding_idx = _padding_index(padding_idx, num_embeddings, "Embedding")  # a negative one counts from the end
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.weight = Parameter(creation.empty(num_embeddings, embedding_dim, device=device, dtype=dtype))
        init.normal_(self.weight)
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0

    def forward(self, x):
        if x.dtype.kind not in "iu":
            raise RuntimeError(f"{self.signature()}: expected integer indices, got dtype {x.dtype}")
        # checked on the CPU only: on a GPU, reading the indices back would make every call wait for the GPU
        if x.device == "cpu" and x.numel() and (int(x.data.min()) < 0 or int(x.data.max()) >= self.num_embeddings):
            raise IndexError(f"{self.signature()}: indices must lie in [0, {self.num_embeddings}), got "
                             f"{int(x.data.min())}..{int(x.data.max())}")
        return F.embedding(x, self.weight, self.padding_idx)           # (...) → (..., embedding_dim)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class MaxPool2d(Layer):
    """The maximum of each kernel_size window, windows ``stride`` apart (``F.max_pool2d``).

    Args:
        kernel_size: int or (h, w).
        stride: int or (h, w) (default: kernel_size).
        padding: int or (h, w): −∞ added to each border. dilation: spacing of a window's elements.
        return_indices: also return each maximum's flat index h·W + w in its input plane.
        ceil_mode: round the output size up, so a last partial window counts.

    Shape: (N, C, H, W) or (C, H, W) → (N, C, Ho, Wo) or (C, Ho, Wo), with
    Ho = ⌊(H + 2·padding − dilation·(kh − 1) − 1) / stride⌋ + 1 (⌈·⌉ with ceil_mode).
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Layer):
    """The mean of each kernel_size window, windows ``stride`` apart (``F.avg_pool2d``).

    Args:
        kernel_size: int or (h, w).
        stride: int or (h, w) (default: kernel_size).
        padding: int or (h, w): zeros added to each border.
        ceil_mode: round the output size up, so a last partial window counts.
        count_include_pad: count the padding zeros in each mean's divisor (default True).

    Shape: (N, C, H, W) or (C, H, W) → (N, C, Ho, Wo) or (C, Ho, Wo), with
    Ho = ⌊(H + 2·padding − kh) / stride⌋ + 1 (⌈·⌉ with ceil_mode).
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Upsample(Layer):
    """Resizes images to ``size`` or by ``scale_factor`` (``F.interpolate``).

    Args:
        size: int or (Ho, Wo). scale_factor: number or pair (give exactly one of the two).
        mode: 'nearest' (copy the nearest pixel, the default) or 'bilinear'.
        align_corners, recompute_scale_factor: as ``F.interpolate`` ('bilinear' only; None: False).

    Shape: (N, C, H, W) → (N, C, Ho, Wo), with Ho = ⌊H · scale_factor⌋ when a scale is given.
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        return f"scale_factor={self.scale_factor}, mode='{self.mode}'" if self.size is None else \
            f"size={self.size}, mode='{self.mode}'"


class Sequential(Module):
    """Layers applied one after another: ``Sequential(Linear(2, 8), ReLU(), Linear(8, 1))``."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index):
        items = list(self._modules.values())
        return Sequential(*items[index]) if isinstance(index, slice) else items[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of modules, registered so that their parameters belong to the owner: ``parameters()``,
    ``to()`` and ``state_dict()`` reach them. It has no forward of its own; index it or iterate over it.
    """

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, index):
        items = list(self._modules.values())
        return ModuleList(items[index]) if isinstance(index, slice) else items[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
