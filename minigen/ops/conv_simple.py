"""Convolution, the simple version: im2col, then a matrix product. Read this before ``conv.py``.

A 2-D convolution slides a small kernel over an image. Input x (N, C, H, W), weight w (O, C, kh, kw), stride
s, padding p (zeros around the image), dilation d (gaps between kernel taps). Output pixel (a, b) of output
channel o is the dot product of the kernel with the patch of the padded image x̃ under it:

    y[n, o, a, b] = Σ_{c, i, j} w[o, c, i, j] · x̃[n, c, a·s + i·d, b·s + j·d]

**im2col** ("image to columns") copies every patch into a column of a matrix, so that the sum becomes one
matrix product:

    cols[n, (c, i, j), (a, b)] = x̃[n, c, a·s + i·d, b·s + j·d]      (N, C·kh·kw, Ho·Wo)
    y[n] = w.reshape(O, C·kh·kw) @ cols[n]                            (O, C·kh·kw) @ (C·kh·kw, Ho·Wo)

We build cols with a loop over the kh·kw kernel taps: tap (i, j) reads the strided slice
x̃[:, :, i·d : … : s, j·d : … : s], one number per output pixel.

**Backward.** im2col only copies numbers, so its gradient puts them back: ``col2im`` adds every entry of
∂L/∂cols into the pixel it was copied from (a pixel in several patches receives several contributions), then
drops the padding. col2im is linear, and its own gradient is im2col again: the pair closes, so gradients of
gradients work. The matrix product's gradient is matmul's (linalg.py).

**Transposed convolution** runs the same steps backwards: a matrix product makes the columns, and col2im adds
them into the (larger) output. It is exactly the input gradient of the convolution with the same weight.

**Groups** split the channels into g independent blocks (C/g inputs → O/g outputs each): the matrix product
becomes a batch of g products. Output sizes and parameter checks are shared with the fast version (conv.py).
"""

from __future__ import annotations

from ..autograd import Function, Tensor
from ..backend import xp_of
from .conv import _add_bias, _check_inputs, _same_dtype, conv_geometry, conv_transpose_geometry
from .linalg import matmul
from .shape import reshape, transpose


def _tap_slices(i, j, geom, out_hw):
    """Rows and columns of x̃ that kernel tap (i, j) reads, one per output pixel."""
    (sh, sw), (dh, dw), (Ho, Wo) = geom.stride, geom.dilation, out_hw
    return slice(i * dh, i * dh + (Ho - 1) * sh + 1, sh), slice(j * dw, j * dw + (Wo - 1) * sw + 1, sw)


def _padded_size(geom, kernel, in_hw, out_hw):
    """x̃'s height and width: the padded image, or more if the last patch reaches further (uneven padding)."""
    return tuple(max(p + n, (o - 1) * s + d * (k - 1) + 1) for p, n, o, s, d, k in
                 zip(geom.padding, in_hw, out_hw, geom.stride, geom.dilation, kernel))


class Im2col(Function):
    """x (N, C, H, W) → cols (N, C, kh, kw, Ho, Wo)."""

    def __init__(self, geom, kernel, out_hw):
        self.geom, self.kernel, self.out_hw = geom, kernel, out_hw

    def forward(self, x):
        xp = xp_of(x)
        N, C, H, W = x.shape
        (ph, pw), (kh, kw), (Ho, Wo) = self.geom.padding, self.kernel, self.out_hw
        self.in_hw = (H, W)
        Hp, Wp = _padded_size(self.geom, self.kernel, (H, W), self.out_hw)
        padded = xp.zeros((N, C, Hp, Wp), dtype=x.dtype)
        padded[:, :, ph:ph + H, pw:pw + W] = x
        cols = xp.empty((N, C, kh, kw, Ho, Wo), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                rows, columns = _tap_slices(i, j, self.geom, self.out_hw)
                cols[:, :, i, j] = padded[:, :, rows, columns]           # (N, C, Ho, Wo)
        return cols

    def backward(self, gcols):
        return Col2im(self.geom, self.kernel, self.out_hw, self.in_hw)(gcols)


class Col2im(Function):
    """cols (N, C, kh, kw, Ho, Wo) → x (N, C, H, W): each entry added into the pixel it was copied from."""

    def __init__(self, geom, kernel, out_hw, in_hw):
        self.geom, self.kernel, self.out_hw, self.in_hw = geom, kernel, out_hw, in_hw

    def forward(self, cols):
        xp = xp_of(cols)
        N, C, kh, kw = cols.shape[:4]
        (ph, pw), (H, W) = self.geom.padding, self.in_hw
        Hp, Wp = _padded_size(self.geom, self.kernel, self.in_hw, self.out_hw)
        padded = xp.zeros((N, C, Hp, Wp), dtype=cols.dtype)
        for i in range(kh):
            for j in range(kw):
                rows, columns = _tap_slices(i, j, self.geom, self.out_hw)
                padded[:, :, rows, columns] += cols[:, :, i, j]          # overlapping patches add up
        return padded[:, :, ph:ph + H, pw:pw + W].copy()                 # drop the padding

    def backward(self, gx):
        return Im2col(self.geom, self.kernel, self.out_hw)(gx)


def conv2d_simple(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
                  groups: int = 1) -> Tensor:
    """``conv2d`` as im2col + matmul (same signature and results as the fast ``conv2d``)."""
    _check_inputs("conv2d", input, weight, bias, groups, channels_axis=1)
    geom, (Ho, Wo) = conv_geometry("conv2d", input, weight, stride, padding, dilation, groups)
    input, weight, bias = _same_dtype(input, weight, bias)
    N, C = input.shape[:2]
    O, Cg, kh, kw = weight.shape
    g = geom.groups
    cols = Im2col(geom, (kh, kw), (Ho, Wo))(input)                       # (N, C, kh, kw, Ho, Wo)
    cols = reshape(cols, (N, g, Cg * kh * kw, Ho * Wo))                  # one matrix per image and group
    w = reshape(weight, (g, O // g, Cg * kh * kw))                       # (g, O/g, C/g·kh·kw)
    y = matmul(w, cols)                                                  # → (N, g, O/g, Ho·Wo)
    return _add_bias(reshape(y, (N, O, Ho, Wo)), bias)


def conv_transpose2d_simple(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                            output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """``conv_transpose2d`` as matmul + col2im: the conv's backward, run as a forward."""
    _check_inputs("conv_transpose2d", input, weight, bias, groups, channels_axis=0)
    geom, (Hout, Wout) = conv_transpose_geometry("conv_transpose2d", input, weight, stride, padding,
                                                 output_padding, groups, dilation)
    input, weight, bias = _same_dtype(input, weight, bias)
    N, C, H, W = input.shape
    _, Og, kh, kw = weight.shape                                         # weight (C, O/g, kh, kw)
    g = geom.groups
    x = reshape(input, (N, g, C // g, H * W))                            # (N, g, C/g, H·W)
    w = transpose(reshape(weight, (g, C // g, Og * kh * kw)), 1, 2)      # (g, O/g·kh·kw, C/g)
    cols = reshape(matmul(w, x), (N, g * Og, kh, kw, H, W))             # → (N, O, kh, kw, H, W)
    y = Col2im(geom, (kh, kw), (H, W), (Hout, Wout))(cols)               # → (N, O, Hout, Wout)
    return _add_bias(y, bias)
