"""Batch normalization as a function (``F.batch_norm``), and its fused backward.

batch_norm over the batch (and, for images, the pixels) of each channel c, with m values per channel
(m = N for (N, C), N·H·W for (N, C, H, W)):
    μ = mean x,  σ² = mean (x − μ)²  (biased, used to normalize),  x̂ = (x − μ)/√(σ² + ε),  y = γ x̂ + β.
Backward (each sum over the m values of a channel):
    ∂L/∂β = Σ g,   ∂L/∂γ = Σ g·x̂,   ∂L/∂x = γ/√(σ² + ε) · (g − mean g − x̂ · mean(g·x̂))
The last line is what composing the forward from mean, sub, mul... and differentiating would give, in one pass
instead of a dozen (``batch_norm_composed`` below is that composition, and the tests hold one to the other).
With create_graph=True the backward recomputes x̂ and 1/σ from x with tensor ops, so it can be differentiated.
Running statistics are updated in place without building a graph: running ← (1 − momentum)·running +
momentum·batch, with the *unbiased* variance σ²·m/(m − 1), as PyTorch. In eval mode y = γ (x − running_mean)
/ √(running_var + ε) + β: an affine map per channel, differentiable like any other.

Group and layer normalization (``F.group_norm``, ``F.layer_norm``) normalise each example on its own, so they
have no running statistics and behave the same in training and eval. Group norm splits the C channels of x
(N, C, *) into G groups of C/G and normalises each (n, group) over its m = (C/G)·H·W values; layer norm
normalises over the last dims (``normalized_shape``), m = their product. Both apply, per group,
    μ = mean x,  σ² = mean (x − μ)²,  x̂ = (x − μ)/√(σ² + ε),  y = γ x̂ + β
(γ, β: one per channel for group norm, one per element of ``normalized_shape`` for layer norm). The chain rule
through μ and σ² gives the same line as batch norm's, with ĝ = g·γ, per group:
    ∂L/∂x = (1/σ) (ĝ − mean ĝ − x̂ · mean(ĝ·x̂)),   ∂L/∂γ = Σ g·x̂,   ∂L/∂β = Σ g
(∂L/∂γ and ∂L/∂β summed over everything but γ's own axes). Why: x̂ = (x − μ)/σ, so ∂x̂ⱼ/∂xᵢ = (δᵢⱼ − 1/m − x̂ᵢx̂ⱼ/m)/σ
(from ∂μ/∂xᵢ = 1/m and ∂σ/∂xᵢ = x̂ᵢ/m), and Σⱼ ĝⱼ ∂x̂ⱼ/∂xᵢ is the line above. Layer norm is ``Normalize``:
x's normalised axes are its last ones, so each group is a row. Its forward makes four passes over x (the mean,
the centring, the variance as a dot product of the centred rows, the scaling in place) and keeps only μ and 1/σ
per group; the plain backward recomputes x̂ from x (held anyway, as the input) and applies the
same rule on arrays in three scratch buffers (the tensor-op form, with μ and 1/σ recomputed too, serves
create_graph). Group norm is ``GroupNorm``: the same rule written with sums per (example, channel), so that it
reads a conv's channels-last output without copying it into rows (its docstring has the expansion).
``group_norm_composed`` and ``layer_norm_composed`` are the compositions of basic ops that the tests hold the
fused ones to.
"""

from __future__ import annotations

import functools
import math

from .. import threads
from ..autograd import Function, Tensor, is_grad_enabled, no_grad
from ..backend import xp_of
from .elementwise import sqrt
from .reduce import mean, sum
from .per_channel import per_channel
from .shape import _sum_axes, reshape, sum_to


def _channel_shape(x) -> tuple:
    """(1, C, 1, 1) for images, (1, C) for vectors: per-channel values broadcast against x."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _axes(x) -> tuple:
    return (0,) + tuple(range(2, x.ndim))  # every axis but the channel axis


class BatchNorm(Function):
    """Training-mode batch norm with the fused backward derived in the module docstring."""

    def __init__(self, eps):
        self.eps = eps

    def forward(self, x, weight, bias):
        xp, axes, shape = xp_of(x), _axes(x), _channel_shape(x)
        m = x.dtype.type(x.size // x.shape[1])                               # values per channel
        self.mean = _sum_axes(x, axes).reshape(-1) / m                       # (C,); shape.py: fast channels-last
        centred = x - self.mean.reshape(shape)                               # (N, C, H, W)
        self.var = _sum_axes(centred * centred, axes).reshape(-1) / m        # (C,) biased
        self.inv_std = 1 / xp.sqrt(self.var + x.dtype.type(self.eps))       # (C,)
        self.x_hat = centred * self.inv_std.reshape(shape)
        return self.x_hat * weight.reshape(shape) + bias.reshape(shape)

    def backward(self, g):
        x, weight, bias = self.inputs
        axes, shape = _axes(x), _channel_shape(x)
        m = g.numel() // x.shape[1]  # values per channel
        if is_grad_enabled():  # create_graph: recompute x̂ and 1/σ from x with tensor ops, so that this rule
            centred = x - mean(x, axes, keepdim=True)  # is itself differentiable (gradients of gradients)
            inv_std = (mean(centred * centred, axes, keepdim=True) + self.eps) ** -0.5
            x_hat = centred * inv_std
        else:  # plain backward: reuse what forward computed
            x_hat, inv_std = Tensor(self.x_hat), Tensor(self.inv_std.reshape(shape))
        g_sum = sum(g, axes)                                                 # (C,) = ∂L/∂β
        gx_hat_sum = sum(g * x_hat, axes)                                    # (C,) = ∂L/∂γ
        gx = reshape(weight, shape) * inv_std * (g - reshape(g_sum / m, shape)
                                                 - x_hat * reshape(gx_hat_sum / m, shape))
        return gx, gx_hat_sum, g_sum


def batch_norm_composed(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """Training-mode batch norm written with basic ops: the slow, obviously-correct twin of ``BatchNorm``."""
    axes, shape = _axes(x), _channel_shape(x)
    mu = mean(x, axes, keepdim=True)
    centred = x - mu
    var = mean(centred * centred, axes, keepdim=True)
    x_hat = centred / sqrt(var + eps)
    return x_hat * reshape(weight, shape) + reshape(bias, shape)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight=None, bias=None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    if input.ndim not in (2, 3, 4, 5):
        raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, ...), got {input.shape}")
    channels = input.shape[1]
    xp = input.xp
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise RuntimeError(f"batch_norm: {name} has shape {t.shape}, expected ({channels},) for input of "
                               f"shape {input.shape}")
    weight = weight if weight is not None else Tensor(xp.ones(channels, input.dtype))
    bias = bias if bias is not None else Tensor(xp.zeros(channels, input.dtype))
    shape = _channel_shape(input)
    if training:
        m = input.numel() // channels
        if m <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                             f"of shape {input.shape}")
        fn = BatchNorm(eps)
        y = fn(input, weight, bias)
        if running_mean is not None:
            with no_grad():  # statistics are state, not part of the graph
                running_mean.data *= 1 - momentum
                running_mean.data += momentum * fn.mean.astype(running_mean.dtype)
                running_var.data *= 1 - momentum
                running_var.data += momentum * (fn.var * (m / (m - 1))).astype(running_var.dtype)  # unbiased
        return y
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: eval mode needs running_mean and running_var (or training=True)")
    scale = weight / sqrt(running_var + eps)                                 # (C,)
    shift = bias - running_mean * scale                                      # (C,)
    return input * reshape(scale, shape) + reshape(shift, shape)




# --- Group and layer normalization -------------------------------------------------------------------------------
class Normalize(Function):
    """y = γ x̂ + β with x̂ normalised over the last ``n_axes`` axes of x (γ, β broadcast against x, or absent);
    the fused backward derived in the module docstring."""

    def __init__(self, n_axes, eps):
        self.n_axes, self.eps = n_axes, eps

    def forward(self, x, *affine):
        xp, dtype = xp_of(x), x.dtype
        lead = x.shape[:x.ndim - self.n_axes]
        m = math.prod(x.shape[x.ndim - self.n_axes:])
        self.mean = xp.empty(lead + (1,) * self.n_axes, dtype)             # μ and 1/σ per group: all that is
        self.inv_std = xp.empty(lead + (1,) * self.n_axes, dtype)          # kept (backward recomputes x̂)
        y = xp.empty(x.shape, dtype)

        def rows(a, b):
            """Examples a … b − 1 (the first axis); everything, when nothing leads the normalised axes."""
            part = slice(a, b) if lead else slice(None)
            rows = x[part].reshape(-1, m)                                    # (groups, m): a view if it can be
            centred = y[part].reshape(-1, m)                                 # a view of y's memory
            mu = rows.mean(axis=1, keepdims=True)                            # pass 1
            xp.subtract(rows, mu, out=centred)                               # pass 2
            var = xp.einsum("ij,ij->i", centred, centred)[:, None] / dtype.type(m)   # pass 3, no temporary
            inv_std = 1 / xp.sqrt(var + dtype.type(self.eps))                # (groups, 1)
            centred *= inv_std                                               # pass 4: x̂, in place
            self.mean[part] = mu.reshape(self.mean[part].shape)
            self.inv_std[part] = inv_std.reshape(self.inv_std[part].shape)
            if affine:
                weight, bias = affine
                y[part] *= weight                                            # y = γ x̂ + β
                y[part] += bias

        # On the CPU, large inputs are split over examples, one range per core (threads.over_first_axis)
        if lead:
            threads.over_first_axis(rows, x)
        else:
            rows(0, 1)
        return y

    def backward(self, g):
        x = self.inputs[0]
        axes = tuple(range(x.ndim - self.n_axes, x.ndim))
        if not is_grad_enabled():
            return self._backward_arrays(g.data, axes)
        return _backward_tensors(x, g, self.inputs[1:], axes, self.eps, self.needs_input_grad)

    def _backward_arrays(self, g, axes):
        """The same rule on arrays, in three scratch buffers (the plain backward), with x̂ = (x − μ)/σ recomputed
        from x and the saved μ and 1/σ: one more pass over x here, where keeping x̂ from forward would hold one
        more activation-sized array through the whole step (x itself is kept anyway, as this function's input).
        Large inputs split over examples, one range per core, as in forward (each range's sums for ∂L/∂γ and
        ∂L/∂β are added at the end)."""
        xp, x, affine = xp_of(g), self.inputs[0].data, len(self.inputs) > 1
        weight = self.inputs[1].data if affine else None
        lead = x.ndim > self.n_axes
        need_x, need_w, need_b = (self.needs_input_grad + (False, False))[:3]
        gx = xp.empty(x.shape, x.dtype) if need_x else None
        sums = {}                                                            # (a, b) → (Σ g·x̂, Σ g) of that range

        def rows(a, b):
            part = slice(a, b) if lead else slice(None)
            gp = g[part]
            xh = x[part] - self.mean[part]                                   # x̂ (buffer 1)
            xh *= self.inv_std[part]
            t = gp * xh                                                      # g·x̂ (buffer 2)
            if affine:                                   # (copies: t is overwritten below, and the sums can
                sums[a, b] = (xp.array(_sum_to_shape(t, weight.shape)) if need_w else None,   # be t itself)
                              xp.array(_sum_to_shape(gp, weight.shape)) if need_b else None)
            if need_x:
                out = gx[part]
                xp.multiply(gp, weight, out=out) if affine else xp.copyto(out, gp)   # ĝ (buffer 3)
                if affine:
                    t *= weight                                              # ĝ·x̂
                mean_g_xhat = t.mean(axis=axes, keepdims=True)
                out -= out.mean(axis=axes, keepdims=True)                    # ĝ − mean ĝ
                xh *= mean_g_xhat
                out -= xh                                                    # − x̂·mean(ĝ·x̂)
                out *= self.inv_std[part]                                    # · 1/σ

        if lead:
            threads.over_first_axis(rows, x)
        else:
            rows(0, 1)
        gx = Tensor(gx) if need_x else None
        if not affine:
            return gx
        parts = [sums[k] for k in sorted(sums)]
        gw = Tensor(functools.reduce(xp.add, [p[0] for p in parts])) if need_w else None   # Σ g·x̂
        gb = Tensor(functools.reduce(xp.add, [p[1] for p in parts])) if need_b else None   # Σ g
        return gx, gw, gb


def _backward_tensors(x, g, affine, axes, eps, needs):
    """The backward rule in tensor ops (create_graph), x̂ and 1/σ recomputed from x, so that it is itself
    differentiable. x and g are normalised over ``axes``; affine = (γ, β) broadcast against x, or ()."""
    centred = x - mean(x, axes, keepdim=True)
    inv_std = (mean(centred * centred, axes, keepdim=True) + eps) ** -0.5
    x_hat = centred * inv_std
    g_hat = g * affine[0] if affine else g                                   # ĝ = g·γ
    gx = None
    if needs[0]:
        gx = (g_hat - mean(g_hat, axes, keepdim=True) - x_hat * mean(g_hat * x_hat, axes, keepdim=True)) * inv_std
    if not affine:
        return gx
    weight, bias = affine
    gw = sum_to(g * x_hat, weight.shape) if needs[1] else None              # ∂L/∂γ = Σ g·x̂
    gb = sum_to(g, bias.shape) if needs[2] else None                        # ∂L/∂β = Σ g
    return gx, gw, gb


def _sum_to_shape(a, shape):
    """Sum array ``a`` down to ``shape`` (its broadcast source: leading dims and dims of size 1 summed)."""
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and a.shape[lead + i] != 1)
    return a.sum(axis=axes).reshape(shape) if axes else a


def _affine(input: Tensor, weight, bias, shape):
    """(weight, bias) viewed as ``shape`` (a missing one made of ones or zeros), or () when both are absent."""
    if weight is None and bias is None:
        return ()
    xp, n = input.xp, math.prod(shape)
    weight = weight if weight is not None else Tensor(xp.ones(n, input.dtype))
    bias = bias if bias is not None else Tensor(xp.zeros(n, input.dtype))
    return reshape(weight, shape), reshape(bias, shape)


def _check_affine(name, input, weight, bias, expected):
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != expected:
            raise RuntimeError(f"{name}: {what} has shape {t.shape}, expected {expected} for input of shape "
                               f"{input.shape}")


def _check_groups(input, num_groups):
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected input of shape (N, C, *), got shape {input.shape}")
    if num_groups <= 0 or input.shape[1] % num_groups:
        raise RuntimeError(f"group_norm: num_groups={num_groups} does not divide the {input.shape[1]} channels of "
                           f"input of shape {input.shape}")


def _channel_sums(x):
    """Σₗ x[n, c, l] of x (n, C, L) in either layout: (n, C). On channels-last memory a product with ones
    (``shape._sum_axes``): 2–3× faster than einsum on data in cache; in a training step, where x comes from main
    memory, both run at memory speed."""
    return _sum_axes(x, (2,))[:, :, 0]


class GroupNorm(Function):
    """Group norm of x (N, C, L) in G groups of C/G channels, with γ, β (C,) or none: the rule of the module
    docstring written with sums per (example, channel), so that it reads x in whatever order its memory is.

    Why: a conv's output is stored channels-last (``conv.py``); viewing it as (N, G, C/G·L) rows, as Normalize
    does, needs a copy, and reductions over its strided axes run slowly. Sums over the pixels of each (n, c) (by
    ``einsum``, or as a product with ones, ``_channel_sums``) stream through memory in any layout, and everything
    per group follows from them on (N, C) arrays; the per-(n, c) values go back over the pixels along long rows
    (``per_channel.py``). Forward: s₁ = Σₗ x → μ per group; the centred values x − μ (written into y);
    s₂ = Σₗ (x − μ)² → σ²; then y = (x − μ)·(γ/σ) + β in place. Backward, with s_g = Σₗ g and
    s_gx̂ = Σₗ g·x̂ = (Σₗ g·x − μ s_g)/σ per (n, c): ∂L/∂β = Σₙ s_g, ∂L/∂γ = Σₙ s_gx̂, and the module docstring's
    line, expanded in x,

        ∂L/∂x = (1/σ)(γ g − mean ĝ − x̂ mean(ĝ x̂)) = P·g + Q·x + R
        P = γ/σ (per n, c),   Q = −mean(ĝ x̂)/σ²,   R = −mean ĝ/σ + μ mean(ĝ x̂)/σ²   (per n, group)

    with mean ĝ = Σ_{c∈group} γ_c s_g / m and mean(ĝ x̂) = Σ_{c∈group} γ_c s_gx̂ / m: two reading passes and three
    writing ones where the rows form takes a dozen. Measured on a 2-core machine for the U-Net's group norms
    (batch 128, 32–256 channels, channels-last input): backward 3–4× and forward about 2× faster than Normalize.
    ``group_norm_composed`` is the twin the tests hold it to."""

    def __init__(self, num_groups, eps):
        self.groups, self.eps = num_groups, eps

    def _per_channel(self, a):
        """(n, G) → (n, C): each group's value repeated for its channels."""
        return xp_of(a).repeat(a, self.channels // self.groups, axis=1)

    def _per_group(self, a):
        """(n, C) → (n, G): the sum over each group's channels."""
        return a.reshape(a.shape[0], self.groups, self.channels // self.groups).sum(axis=2)

    def forward(self, x, *affine):
        xp, dtype = xp_of(x), x.dtype
        N, C, L = x.shape
        self.channels, m = C, (C // self.groups) * L                        # m: values per group
        self.mean = xp.empty((N, self.groups), dtype)                       # μ and 1/σ per (n, group):
        self.inv_std = xp.empty((N, self.groups), dtype)                    # all that is kept
        y = xp.empty_like(x)                                                # x's memory order

        def rows(a, b):
            xs, ys = x[a:b], y[a:b]                                          # (n, C, L)
            mu = self._per_group(_channel_sums(xs)) / dtype.type(m)          # pass 1: (n, G)
            per_channel(xp.subtract, xs, self._per_channel(mu), ys)         # pass 2: x − μ
            var = self._per_group(xp.einsum("ncl,ncl->nc", ys, ys)) / dtype.type(m)   # pass 3
            inv_std = 1 / xp.sqrt(var + dtype.type(self.eps))                # (n, G)
            scale = self._per_channel(inv_std)                               # (n, C): γ/σ
            if affine:
                scale *= affine[0]
            per_channel(xp.multiply, ys, scale, ys)                          # pass 4
            if affine:
                per_channel(xp.add, ys, affine[1], ys)                       # pass 5
            self.mean[a:b], self.inv_std[a:b] = mu, inv_std

        threads.over_first_axis(rows, x)          # large inputs: one range of examples per core (threads.py)
        return y

    def backward(self, g):
        x = self.inputs[0]
        if is_grad_enabled():                     # create_graph: the rule in tensor ops, per (n, group) rows
            N, C, L = x.shape
            shape = (N, self.groups, C // self.groups, L)
            affine = tuple(reshape(t, (self.groups, C // self.groups, 1)) for t in self.inputs[1:])
            grads = _backward_tensors(reshape(x, shape), reshape(g, shape), affine, (2, 3), self.eps,
                                      self.needs_input_grad)
            if not affine:
                return reshape(grads, x.shape)
            gx, gw, gb = grads
            return (None if gx is None else reshape(gx, x.shape), None if gw is None else reshape(gw, (C,)),
                    None if gb is None else reshape(gb, (C,)))
        return self._backward_arrays(g.data)

    def _backward_arrays(self, g):
        xp, x, affine = xp_of(g), self.inputs[0].data, len(self.inputs) > 1
        dtype, m = x.dtype, (self.channels // self.groups) * x.shape[2]
        weight = self.inputs[1].data if affine else xp.ones(self.channels, x.dtype)
        need_x = self.needs_input_grad[0]
        gx = xp.empty_like(x) if need_x else None
        sums = {}                                                            # (a, b) → (Σ s_gx̂, Σ s_g)

        def rows(a, b):
            gs, xs = g[a:b], x[a:b]                                          # (n, C, L)
            mu, inv_std = self.mean[a:b], self.inv_std[a:b]                  # (n, G)
            s_g = _channel_sums(gs)                                          # pass 1: (n, C)
            s_gx = xp.einsum("ncl,ncl->nc", gs, xs)                          # pass 2
            s_gxhat = (s_gx - self._per_channel(mu) * s_g) * self._per_channel(inv_std)   # Σₗ g·x̂
            sums[a, b] = (s_gxhat.sum(axis=0), s_g.sum(axis=0))
            if not need_x:
                return
            mean_g = self._per_group(s_g * weight) / dtype.type(m)          # mean ĝ: (n, G)
            mean_gx = self._per_group(s_gxhat * weight) / dtype.type(m)     # mean(ĝ x̂)
            p = self._per_channel(inv_std) * weight                          # (n, C)
            q = self._per_channel(-mean_gx * inv_std * inv_std)             # (n, C)
            r = self._per_channel(inv_std * (mu * mean_gx * inv_std - mean_g))
            out = gx[a:b]
            per_channel(xp.multiply, xs, q, out)                             # pass 3: Q·x
            per_channel(xp.add, out, r, out)                                 # pass 4: + R
            out += per_channel(xp.multiply, gs, p, xp.empty_like(gs))        # pass 5: + P·g

        threads.over_first_axis(rows, x)
        gx = Tensor(gx) if need_x else None
        if not affine:
            return gx
        parts = [sums[k] for k in sorted(sums)]
        gw = Tensor(functools.reduce(xp.add, [p[0] for p in parts])) if self.needs_input_grad[1] else None
        gb = Tensor(functools.reduce(xp.add, [p[1] for p in parts])) if self.needs_input_grad[2] else None
        return gx, gw, gb


def group_norm(input: Tensor, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise each example's channels in ``num_groups`` groups (mean 0, variance 1 over each group's channels
    and positions), then scale and shift each channel by ``weight`` and ``bias`` (C,)."""
    _check_groups(input, num_groups)
    n, c = input.shape[:2]
    _check_affine("group_norm", input, weight, bias, (c,))
    x = reshape(input, (n, c, math.prod(input.shape[2:])))                 # (N, C, L): a view in either layout
    return reshape(GroupNorm(num_groups, eps)(x, *_affine(input, weight, bias, (c,))), input.shape)


def _normalized_shape(input, normalized_shape) -> tuple:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or len(shape) > input.ndim or input.shape[input.ndim - len(shape):] != shape:
        raise RuntimeError(f"layer_norm: normalized_shape {shape} does not match the last dims of input of shape "
                           f"{input.shape}")
    return shape


def layer_norm(input: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last dims, ``normalized_shape`` (mean 0, variance 1 per example), then scale and shift
    elementwise by ``weight`` and ``bias`` (of shape ``normalized_shape``)."""
    shape = _normalized_shape(input, normalized_shape)
    _check_affine("layer_norm", input, weight, bias, shape)
    return Normalize(len(shape), eps)(input, *_affine(input, weight, bias, shape))


def _normalize_composed(x: Tensor, axes, eps) -> Tensor:
    centred = x - mean(x, axes, keepdim=True)
    return centred / sqrt(mean(centred * centred, axes, keepdim=True) + eps)


def group_norm_composed(input: Tensor, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """``group_norm`` written with basic ops: the slow, obviously-correct twin of ``GroupNorm``."""
    _check_groups(input, num_groups)
    n, c = input.shape[:2]
    y = reshape(_normalize_composed(reshape(input, (n, num_groups, -1)), (2,), eps), input.shape)
    channel = (1, c) + (1,) * (input.ndim - 2)
    y = y * reshape(weight, channel) if weight is not None else y
    return y + reshape(bias, channel) if bias is not None else y


def layer_norm_composed(input: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """``layer_norm`` written with basic ops: the slow, obviously-correct twin of ``Normalize``."""
    shape = _normalized_shape(input, normalized_shape)
    y = _normalize_composed(input, tuple(range(input.ndim - len(shape), input.ndim)), eps)
    y = y * weight if weight is not None else y
    return y + bias if bias is not None else y
