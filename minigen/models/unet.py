"""A small U-Net for denoising diffusion and flow matching on 28×28×1 images, and a tiny MLP for 2-D toys.

The network predicts, from a noisy image x_t and its time t, either the noise ε (DDPM, ``models.diffusion``) or
the velocity v = ε − x₀ (flow matching, ``models.flow``); it never needs to know which.

Time. ``t`` is a float tensor (N,) on the scale of the diffusion step index: 0 … T − 1 with T = 1000 for DDPM,
and 1000·t for a flow time t ∈ [0, 1] (``models.flow`` scales it). Sinusoidal features of t (as the positions of
a transformer) give every time a distinct smooth code; an MLP maps them to the embedding e:

    t (N,) → [sin(t·ωᵢ), cos(t·ωᵢ)], ωᵢ = 10000^(−i/(d/2))  (N, d = c₀) → Linear 4c₀ → SiLU → Linear 4c₀ = e

Labels (``n_classes`` given). An embedding of n_classes + 1 rows is added to e; the last row, index n_classes,
means "no label". Training with labels dropped to that row some of the time teaches the same network the
unconditional model too, which classifier-free guidance needs. y = None asks for the unconditional output.

Blocks, for channels (c₀, c₁, c₂) = (32, 64, 128) and the embedding width 4c₀ = 128:

    ResBlock(cin → cout):  h = Conv3×3(SiLU(GroupNorm₈(x))) + Linear(e)[:, :, None, None]   (a bias per channel)
                           h = Conv3×3(SiLU(GroupNorm₈(h)))          (this conv starts at zero: the block starts
                           out = h + (x, or Conv1×1(x) when cin ≠ cout)            as the identity on its skip)
    Attention(c):          one head over the H·W positions: q, k, v = Conv1×1(GroupNorm₈(x)) split in three,
                           out = x + Conv1×1(softmax(qᵀk / √c) v)   (the last conv starts at zero)

    x (N, 1, 28, 28) → Conv3×3 → 32 ─ ResBlock 32→32 ───────────────────────────── skip₀ (32, 28, 28)
      → Conv3×3 stride 2 → (32, 14, 14) ─ ResBlock 32→64 ─────────────────────────── skip₁ (64, 14, 14)
      → Conv3×3 stride 2 → (64, 7, 7) ─ ResBlock 64→128 ──────────────────────────── skip₂ (128, 7, 7)
      → ResBlock 128→128, [Attention 128], ResBlock 128→128                           (the middle, 7×7)
      → cat skip₂ → ResBlock 256→128 → nearest ×2, Conv3×3 128→64 → (64, 14, 14)
      → cat skip₁ → ResBlock 128→64 → nearest ×2, Conv3×3 64→32 → (32, 28, 28)
      → cat skip₀ → ResBlock 64→32 → GroupNorm₈, SiLU, Conv3×3 32→1 → output (N, 1, 28, 28)

Skips join by concatenation along the channels. The output conv starts at zero, so an untrained network outputs
0 everywhere (the mean of ε and a safe start for v), and each residual branch starts switched off, so the
gradient first flows through the skips (as in Ho et al., 2020, and Nichol & Dhariwal, 2021).

Parameters: 1,840,449 with the defaults (attention on, unconditional); 1,841,857 with n_classes = 10 (the label
embedding adds 11 × 128); 1,774,145 without attention. The same network as the benchmark W5 (which starts with
the usual random init everywhere).
"""

from __future__ import annotations

import math

from .. import nn
from ..autograd import Tensor
from ..nn import functional as F
from ..nn import init
from ..ops import cat


def time_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal features of the times t (N,): [sin(t·ωᵢ), cos(t·ωᵢ)], ωᵢ = 10000^(−i/(dim/2)) → (N, dim).

    Computed on t's array module, with no gradient with respect to t (t is an input, never learnt)."""
    xp, half = t.xp, dim // 2
    omega = xp.exp(-math.log(10000.0) * xp.arange(half, dtype=xp.float32) / half)
    angles = t.data.astype(xp.float32)[:, None] * omega[None]                       # (N, dim/2)
    return Tensor(xp.concatenate([xp.sin(angles), xp.cos(angles)], axis=1))        # (N, dim)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, + the time embedding as a per-channel bias, GroupNorm → SiLU → conv (zero-init),
    plus the skip: (N, cin, H, W), e (N, temb) → (N, cout, H, W)."""

    def __init__(self, cin: int, cout: int, temb: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(temb, cout)
        self.norm2, self.conv2 = nn.GroupNorm(8, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        init.zeros_(self.conv2.weight)
        init.zeros_(self.conv2.bias)

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x)))                                        # (N, cout, H, W)
        h = h + self.time(e)[:, :, None, None]                                       # + a bias per channel
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class Attention(nn.Module):
    """Single-head self-attention over the H·W positions, residual: (N, c, H, W) → (N, c, H, W)."""

    def __init__(self, c: int):
        super().__init__()
        self.norm, self.qkv, self.out = nn.GroupNorm(8, c), nn.Conv2d(c, 3 * c, 1), nn.Conv2d(c, c, 1)
        init.zeros_(self.out.weight)
        init.zeros_(self.out.bias)

    def forward(self, x):
        N, C, H, W = x.shape
        qkv = self.qkv(self.norm(x)).reshape(N, 3, C, H * W).transpose(2, 3)         # (N, 3, HW, C)
        a = F.scaled_dot_product_attention(qkv[:, 0:1], qkv[:, 1:2], qkv[:, 2:3])    # (N, 1, HW, C)
        return x + self.out(a.transpose(2, 3).reshape(N, C, H, W))


class UNet(nn.Module):
    """x_t (N, 1, 28, 28), t (N,) float, y (N,) int or None → ε̂ or v̂ (N, 1, 28, 28); see the module docstring.

    Args:
        channels: (c₀, c₁, c₂), the widths at 28×28, 14×14 and 7×7 (each a multiple of 8, for GroupNorm₈).
        attention: self-attention in the middle, at 7×7.
        n_classes: None for an unconditional model; else labels 0 … n_classes − 1, and n_classes = "no label".
        in_channels: image channels.
    """

    def __init__(self, channels=(32, 64, 128), attention: bool = True, n_classes: int | None = None,
                 in_channels: int = 1):
        super().__init__()
        c0, c1, c2 = channels
        self.channels, self.n_classes, self.temb = tuple(channels), n_classes, 4 * c0
        temb = self.temb
        self.time = nn.Sequential(nn.Linear(c0, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.label = nn.Embedding(n_classes + 1, temb) if n_classes is not None else None
        self.inp = nn.Conv2d(in_channels, c0, 3, padding=1)
        self.down0, self.pool0 = ResBlock(c0, c0, temb), nn.Conv2d(c0, c0, 3, stride=2, padding=1)
        self.down1, self.pool1 = ResBlock(c0, c1, temb), nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.down2 = ResBlock(c1, c2, temb)
        self.mid1, self.mid2 = ResBlock(c2, c2, temb), ResBlock(c2, c2, temb)
        self.attn = Attention(c2) if attention else nn.Identity()
        self.up2, self.upconv2 = ResBlock(2 * c2, c2, temb), nn.Conv2d(c2, c1, 3, padding=1)
        self.up1, self.upconv1 = ResBlock(2 * c1, c1, temb), nn.Conv2d(c1, c0, 3, padding=1)
        self.up0 = ResBlock(2 * c0, c0, temb)
        self.norm_out, self.out = nn.GroupNorm(8, c0), nn.Conv2d(c0, in_channels, 3, padding=1)
        init.zeros_(self.out.weight)
        init.zeros_(self.out.bias)

    def embed(self, t, y=None):
        """The embedding e (N, 4c₀) of times t (N,) and labels y (N,) (None: "no label" for every sample)."""
        e = self.time(time_embedding(t, self.channels[0]))                           # (N, 4c₀)
        if self.label is not None:
            if y is None:
                y = Tensor(t.xp.full(t.shape[0], self.n_classes, dtype=t.xp.int64))  # the "no label" row
            e = e + self.label(y)
        return e

    def forward(self, x, t, y=None):
        e = self.embed(t, y)
        s0 = self.down0(self.inp(x), e)                                              # (N, c₀, 28, 28)
        s1 = self.down1(self.pool0(s0), e)                                           # (N, c₁, 14, 14)
        s2 = self.down2(self.pool1(s1), e)                                           # (N, c₂, 7, 7)
        h = self.mid2(self.attn(self.mid1(s2, e)), e)
        h = self.up2(cat([h, s2], 1), e)                                             # (N, c₂, 7, 7)
        h = self.upconv2(F.interpolate(h, scale_factor=2, mode="nearest"))           # (N, c₁, 14, 14)
        h = self.up1(cat([h, s1], 1), e)
        h = self.upconv1(F.interpolate(h, scale_factor=2, mode="nearest"))           # (N, c₀, 28, 28)
        h = self.up0(cat([h, s0], 1), e)
        return self.out(F.silu(self.norm_out(h)))                                    # (N, 1, 28, 28)


class TimeMLP(nn.Module):
    """The toy denoiser for 2-D data: x (N, 2), t (N,) float (same scale as ``UNet``) → (N, 2).

    [x, sinusoidal features of t (16)] → Linear hidden (+ a label embedding when ``n_classes``) → SiLU → Linear
    hidden → SiLU → Linear 2 (zero-init). Labels as in ``UNet``: index n_classes (or y = None) means "no label"."""

    def __init__(self, hidden: int = 128, dim: int = 2, tdim: int = 16, n_classes: int | None = None):
        super().__init__()
        self.tdim, self.n_classes = tdim, n_classes
        self.inp = nn.Linear(dim + tdim, hidden)
        self.label = nn.Embedding(n_classes + 1, hidden) if n_classes is not None else None
        self.net = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, dim))
        init.zeros_(self.net[-1].weight)
        init.zeros_(self.net[-1].bias)

    def forward(self, x, t, y=None):
        h = self.inp(cat([x, time_embedding(t, self.tdim)], 1))                     # (N, hidden)
        if self.label is not None:
            if y is None:
                y = Tensor(t.xp.full(t.shape[0], self.n_classes, dtype=t.xp.int64))
            h = h + self.label(y)
        return self.net(h)                                                          # (N, 2)
