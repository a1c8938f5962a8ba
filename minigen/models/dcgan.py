"""DCGAN (Radford, Metz & Chintala, 2016): the GAN game played by convolutional networks.

The generator grows an image from a small spatial map by transposed convolutions, the discriminator shrinks it
back by strided convolutions; no pooling, no fully connected hidden layers. The paper's recipe, kept here:

- batch normalisation in G (and in D's inner layers where D has any), which keeps G's early layers from
  collapsing every z to the same output;
- LeakyReLU(0.2) in D (and here in G as GUIDE workload W3 has it), tanh on G's output (images in [−1, 1]);
- weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0 (``init_weights``);
- Adam with β₁ = 0.5 (the default 0.9 remembers gradients too long for a moving target).

Two generators of the same shape, 100 → (256, 7, 7) → (128, 7, 7) → (64, 14, 14) → (1, 28, 28):

- ``arch="w3"`` (GUIDE W3): 5×5 kernels, stride 2, padding 2, output_padding 1. The output size of a transposed
  conv is (H − 1)·s − 2p + k + output_padding = (7 − 1)·2 − 4 + 5 + 1 = 14.
- ``arch="421"``: kernel 4, stride 2, padding 1: (7 − 1)·2 − 2 + 4 = 14. With k divisible by s every output pixel
  receives the same number of kernel taps (k/s per axis); with k = 5, s = 2 neighbouring pixels get 3 and 2 taps
  alternately, the source of the checkerboard artefacts of Odena et al. (2016).

The discriminators mirror them: 28 → 14 → 7 by two strided convolutions (5/2/2 or 4/2/1), then one logit.
``width`` scales every channel count (64 is the architecture above; 32 is four times cheaper).
"""

from __future__ import annotations

from .. import nn
from ..nn import init


def init_weights(module: nn.Module) -> nn.Module:
    """DCGAN initialisation, in place: conv, transposed conv and linear weights N(0, 0.02), batch-norm scales
    N(1, 0.02), every bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            init.normal_(m.weight, 1.0, 0.02)
            init.zeros_(m.bias)
    return module


def _up(arch: str, cin: int, cout: int, bias: bool = False):
    """A transposed conv doubling the size: (N, cin, H, W) → (N, cout, 2H, 2W)."""
    if arch == "w3":
        return nn.ConvTranspose2d(cin, cout, 5, stride=2, padding=2, output_padding=1, bias=bias)
    return nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=bias)


def _down(arch: str, cin: int, cout: int):
    """A strided conv halving the size: (N, cin, H, W) → (N, cout, H/2, W/2)."""
    if arch == "w3":
        return nn.Conv2d(cin, cout, 5, stride=2, padding=2)
    return nn.Conv2d(cin, cout, 4, stride=2, padding=1)


def _check(arch):
    if arch not in ("w3", "421"):
        raise ValueError(f"DCGAN: arch must be 'w3' (5×5 kernels) or '421' (4/2/1), got {arch!r}")


class DCGANGenerator(nn.Module):
    """z (N, 100) → image (N, 1, 28, 28) in [−1, 1]; shapes for width w = 64."""

    def __init__(self, latent_dim: int = 100, arch: str = "w3", width: int = 64, channels: int = 1):
        super().__init__()
        _check(arch)
        self.latent_dim, w = latent_dim, width
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 4 * w * 7 * 7, bias=False),               # → (N, 12544)
            nn.BatchNorm1d(4 * w * 7 * 7), nn.LeakyReLU(0.2),
            nn.Unflatten(1, (4 * w, 7, 7)),                                 # → (N, 256, 7, 7)
            nn.ConvTranspose2d(4 * w, 2 * w, 5, stride=1, padding=2, bias=False),  # → (N, 128, 7, 7)
            nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
            _up(arch, 2 * w, w),                                            # → (N, 64, 14, 14)
            nn.BatchNorm2d(w), nn.LeakyReLU(0.2),
            _up(arch, w, channels, bias=True),                              # → (N, 1, 28, 28)
            nn.Tanh())
        init_weights(self)

    def forward(self, z):
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """image (N, 1, 28, 28) → one logit (N, 1); shapes for width w = 64."""

    def __init__(self, arch: str = "w3", width: int = 64, channels: int = 1, dropout: float = 0.3):
        super().__init__()
        _check(arch)
        w = width
        drop = (lambda: [nn.Dropout(dropout)]) if dropout else (lambda: [])
        self.features = nn.Sequential(
            _down(arch, channels, w), nn.LeakyReLU(0.2), *drop(),           # → (N, 64, 14, 14)
            _down(arch, w, 2 * w), nn.LeakyReLU(0.2), *drop(),              # → (N, 128, 7, 7)
            nn.Flatten())                                                   # → (N, 6272)
        self.feature_dim = 2 * w * 7 * 7
        self.head = nn.Linear(self.feature_dim, 1)                          # → (N, 1)
        init_weights(self)

    def forward(self, x):
        return self.head(self.features(x))
