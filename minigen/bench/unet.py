"""Workloads W5 and W6: a small diffusion U-Net on 28×28×1 images, one training step (W5, batch 128) and one
sampling call (W6, batch 256, under no_grad: one step of a DDIM or Euler sampler), in minigen and, when it is
importable, in PyTorch with the same network, batch and optimizer.

The network (1,840,449 parameters), written once against a torch.nn-like namespace so both libraries build the
same thing:

    time t → sinusoidal features (32) → Linear 128 → SiLU → Linear 128 = e            (the time embedding)
    ResBlock(cin → cout):  h = Conv3×3(SiLU(GroupNorm₈(x))) + Linear(e)[:, :, None, None]   (per-channel bias)
                           h = Conv3×3(SiLU(GroupNorm₈(h)))
                           out = h + (x, or Conv1×1(x) when cin ≠ cout)
    Attention(c):          one head over the H·W positions: q, k, v = Conv1×1(GroupNorm₈(x)) split in three,
                           out = x + Conv1×1(softmax(qᵀk / √c) v)

    x (N, 1, 28, 28) → Conv3×3 → 32 ─ ResBlock 32→32 ───────────────────────────── skip₀ (32, 28, 28)
      → Conv3×3 stride 2 → (32, 14, 14) ─ ResBlock 32→64 ─────────────────────────── skip₁ (64, 14, 14)
      → Conv3×3 stride 2 → (64, 7, 7) ─ ResBlock 64→128 ──────────────────────────── skip₂ (128, 7, 7)
      → ResBlock 128→128, Attention 128, ResBlock 128→128                               (the middle, 7×7)
      → cat skip₂ → ResBlock 256→128 → nearest ×2, Conv3×3 128→64 → (64, 14, 14)
      → cat skip₁ → ResBlock 128→64 → nearest ×2, Conv3×3 64→32 → (32, 28, 28)
      → cat skip₀ → ResBlock 64→32 → GroupNorm₈, SiLU, Conv3×3 32→1 → ε̂ (N, 1, 28, 28)

W5: ε̂ = net(x_t, t) on a fixed batch of noisy images, MSE(ε̂, ε), backward, Adam (lr 2e-4). The noisy batch and
the time features are inputs (arrays made once), so the step times the network alone.
"""

from __future__ import annotations

import math

import numpy as np

from .registry import Case, workload
from .timing import torch_device, torch_on


def time_features(t: np.ndarray, dim: int = 32) -> np.ndarray:
    """Sinusoidal features of the times t (N,): [sin(t·ωᵢ), cos(t·ωᵢ)], ωᵢ = 10000^(−i/(dim/2)) → (N, dim)."""
    omega = np.exp(-math.log(10000.0) * np.arange(dim // 2) / (dim // 2))
    angles = t[:, None] * omega[None]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)


def unet(lib, nn, F):
    """The W5 network as a Module of the library ``lib`` (minigen or torch) with its ``nn`` and ``F``."""

    class ResBlock(nn.Module):
        def __init__(self, cin, cout, temb=128):
            super().__init__()
            self.norm1, self.conv1 = nn.GroupNorm(8, cin), nn.Conv2d(cin, cout, 3, padding=1)
            self.time = nn.Linear(temb, cout)
            self.norm2, self.conv2 = nn.GroupNorm(8, cout), nn.Conv2d(cout, cout, 3, padding=1)
            self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

        def forward(self, x, e):
            h = self.conv1(F.silu(self.norm1(x)))                                    # (N, cout, H, W)
            h = h + self.time(e)[:, :, None, None]                                   # + a bias per channel
            h = self.conv2(F.silu(self.norm2(h)))
            return h + self.skip(x)

    class Attention(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.norm, self.qkv, self.out = nn.GroupNorm(8, c), nn.Conv2d(c, 3 * c, 1), nn.Conv2d(c, c, 1)

        def forward(self, x):
            N, C, H, W = x.shape
            qkv = self.qkv(self.norm(x)).reshape(N, 3, C, H * W).transpose(2, 3)     # (N, 3, HW, C)
            a = F.scaled_dot_product_attention(qkv[:, 0:1], qkv[:, 1:2], qkv[:, 2:3])   # (N, 1, HW, C)
            return x + self.out(a.transpose(2, 3).reshape(N, C, H, W))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.time = nn.Sequential(nn.Linear(32, 128), nn.SiLU(), nn.Linear(128, 128))
            self.inp = nn.Conv2d(1, 32, 3, padding=1)
            self.down0, self.pool0 = ResBlock(32, 32), nn.Conv2d(32, 32, 3, stride=2, padding=1)
            self.down1, self.pool1 = ResBlock(32, 64), nn.Conv2d(64, 64, 3, stride=2, padding=1)
            self.down2 = ResBlock(64, 128)
            self.mid1, self.attn, self.mid2 = ResBlock(128, 128), Attention(128), ResBlock(128, 128)
            self.up2, self.upconv2 = ResBlock(256, 128), nn.Conv2d(128, 64, 3, padding=1)
            self.up1, self.upconv1 = ResBlock(128, 64), nn.Conv2d(64, 32, 3, padding=1)
            self.up0 = ResBlock(64, 32)
            self.norm_out, self.out = nn.GroupNorm(8, 32), nn.Conv2d(32, 1, 3, padding=1)

        def forward(self, x, features):
            e = self.time(features)                                                  # (N, 128)
            s0 = self.down0(self.inp(x), e)                                          # (N, 32, 28, 28)
            s1 = self.down1(self.pool0(s0), e)                                       # (N, 64, 14, 14)
            s2 = self.down2(self.pool1(s1), e)                                       # (N, 128, 7, 7)
            h = self.mid2(self.attn(self.mid1(s2, e)), e)
            h = self.up2(_cat(h, s2), e)                                             # (N, 128, 7, 7)
            h = self.upconv2(F.interpolate(h, scale_factor=2, mode="nearest"))       # (N, 64, 14, 14)
            h = self.up1(_cat(h, s1), e)
            h = self.upconv1(F.interpolate(h, scale_factor=2, mode="nearest"))       # (N, 32, 28, 28)
            h = self.up0(_cat(h, s0), e)
            return self.out(F.silu(self.norm_out(h)))                                # (N, 1, 28, 28)

    def _cat(a, b):
        return lib.cat([a, b], 1)                                                    # skips join by channel

    return UNet()


def _batch(n: int, seed: int = 0):
    """A noisy batch: x_t = √ᾱ·x₀ + √(1 − ᾱ)·ε for images x₀ in [−1, 1] and times t, with the target ε."""
    rng = np.random.default_rng(seed)
    x0 = np.tanh(rng.standard_normal((n, 1, 28, 28))).astype(np.float32)
    eps = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    t = rng.integers(0, 1000, n)
    alpha_bar = np.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2)[:, None, None, None] ** 2
    x_t = (np.sqrt(alpha_bar) * x0 + np.sqrt(1 - alpha_bar) * eps).astype(np.float32)
    return x_t, time_features(t.astype(np.float64)), eps


def _minigen_net(device):
    import minigen
    from minigen import nn
    from minigen.nn import functional as F

    minigen.manual_seed(0)
    return minigen, nn, F, unet(minigen, nn, F).to(device)


def _torch_net(torch, device):
    torch.manual_seed(0)
    return unet(torch, torch.nn, torch.nn.functional).to(torch_device(device))


@workload("W5", "U-Net training step (1.84 M parameters, GroupNorm, SiLU, attention at 7×7; MSE on ε, Adam), "
                "batch 128")
def _w5(device):
    x_np, f_np, eps_np = _batch(128)
    minigen, nn, F, net = _minigen_net(device)
    from minigen import optim
    opt = optim.Adam(net.parameters(), 2e-4)
    x, f, eps = (minigen.tensor(a, device=device) for a in (x_np, f_np, eps_np))

    def step():
        loss = F.mse_loss(net(x, f), eps)
        opt.zero_grad()
        loss.backward()
        opt.step()

    torch_step = None
    torch = torch_on(device)
    if torch is not None:
        tnet = _torch_net(torch, device)
        topt = torch.optim.Adam(tnet.parameters(), 2e-4)
        tx, tf, teps = (torch.tensor(a, device=torch_device(device)) for a in (x_np, f_np, eps_np))

        def torch_step():
            loss = torch.nn.functional.mse_loss(tnet(tx, tf), teps)
            topt.zero_grad()
            loss.backward()
            topt.step()

    return Case(step, torch_step, None)


@workload("W6", "U-Net sampling call (the W5 network under no_grad), batch 256")
def _w6(device):
    x_np, f_np, _ = _batch(256, seed=1)
    minigen, nn, F, net = _minigen_net(device)
    net.eval()
    x, f = minigen.tensor(x_np, device=device), minigen.tensor(f_np, device=device)

    def step():
        with minigen.no_grad():
            return net(x, f)

    torch_step = None
    torch = torch_on(device)
    if torch is not None:
        tnet = _torch_net(torch, device).eval()
        tx, tf = torch.tensor(x_np, device=torch_device(device)), torch.tensor(f_np, device=torch_device(device))

        def torch_step():
            with torch.no_grad():
                return tnet(tx, tf)

    return Case(step, torch_step, None)
