"""DCGAN (Radford, Metz & Chintala, 2016): the GAN game played by convolutional networks.

The generator grows an image from a small spatial map by transposed convolutions, the discriminator shrinks it
back by strided convolutions; no pooling, no fully connected hidden layers. The paper's recipe, kept here:

- batch normalisation in G (and in D's inner layers where D has any), which keeps G's early layers from
  collapsing every z to the same output;
- LeakyReLU(0.2) in D (and in G too for ``arch="5x5"``), tanh on G's output (images in [−1, 1]);
- weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0 (``init_weights``);
- Adam with β₁ = 0.5 (the default 0.9 remembers gradients too long for a moving target).

Two architectures for 28×28 images, ``width`` w scaling every channel count:

- ``arch="5x5"``, the DCGAN of TensorFlow's tutorial, with 5×5 kernels throughout. G = linear → (4w, 7, 7) →
  stride-1 transposed conv 5×5 → (2w, 7, 7) → transposed conv 5×5, stride 2, padding 2, output_padding 1 →
  (w, 14, 14) → the same → (1, 28, 28), batch norm and LeakyReLU(0.2) between; D = two 5×5 stride-2 convs
  (w, 2w channels) with LeakyReLU(0.2) and Dropout(0.3), then one logit. The output size of a transposed conv is
  (H − 1)·s − 2p + k + output_padding = (7 − 1)·2 − 4 + 5 + 1 = 14.
- ``arch="421"``, the DCGAN paper's choices with kernel 4, stride 2, padding 1: (7 − 1)·2 − 2 + 4 = 14.
  G = linear → (4w, 7, 7) → transposed conv 4/2/1 → (2w, 14, 14) → transposed conv 4/2/1 → (1, 28, 28), batch
  norm and ReLU between; D = conv 4/2/1 → (w, 14, 14), LeakyReLU → conv 4/2/1 → (2w, 7, 7), batch norm,
  LeakyReLU → one logit; no dropout. With k divisible by s every output pixel of a transposed conv receives the
  same number of kernel taps (k/s per axis); with k = 5, s = 2 neighbouring pixels get 3 and 2 taps in turn,
  the source of the checkerboard artefacts of Odena et al. (2016). Batch norm in D (never on its input layer)
  in place of dropout makes the stronger discriminator.

``hidden`` (0 by default) adds one fully connected layer of that many units to each network, as the InfoGAN
paper's MNIST networks have (Chen et al., 2016, with 1024 units): G: z → hidden → (4w, 7, 7) → …, and
D: … → flatten → hidden → logit, with batch norm (D: where ``batchnorm``) and the same activations. Why it
matters: two convolutions see at most a 10×10 patch of a digit (4 + 3·2 pixels), so the only part of D that
judges a digit's *whole* shape is its last layer, and a linear logit over the 7×7 map is a weak judge of "is
this a 4 at all"; G gets away with well-drawn strokes that form no digit. The hidden layer lets D judge the
whole 7×7 map with a nonlinear function of it.

The WGAN-GP critic is the discriminator with neither batch norm nor dropout (``batchnorm=False, dropout=0``).
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


def _check(arch):
    if arch not in ("5x5", "421"):
        raise ValueError(f"DCGAN: arch must be '5x5' (5×5 kernels) or '421' (4/2/1), got {arch!r}")


class DCGANGenerator(nn.Module):
    """z (N, 100) → image (N, 1, 28, 28) in [−1, 1]; shapes for width w = 64."""

    def __init__(self, latent_dim: int = 100, arch: str = "5x5", width: int = 64, channels: int = 1,
                 hidden: int = 0):
        super().__init__()
        _check(arch)
        self.latent_dim, w = latent_dim, width
        act = nn.LeakyReLU(0.2) if arch == "5x5" else nn.ReLU()
        # optional fully connected layer: z (N, 100) → (N, hidden)
        fc = [nn.Linear(latent_dim, hidden, bias=False), nn.BatchNorm1d(hidden), act] if hidden else []
        inp = hidden or latent_dim
        if arch == "5x5":
            self.net = nn.Sequential(
                *fc,
                nn.Linear(inp, 4 * w * 7 * 7, bias=False),                            # → (N, 12544)
                nn.BatchNorm1d(4 * w * 7 * 7), nn.LeakyReLU(0.2),
                nn.Unflatten(1, (4 * w, 7, 7)),                                       # → (N, 256, 7, 7)
                nn.ConvTranspose2d(4 * w, 2 * w, 5, stride=1, padding=2, bias=False),  # → (N, 128, 7, 7)
                nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
                nn.ConvTranspose2d(2 * w, w, 5, stride=2, padding=2, output_padding=1, bias=False),  # → (N, 64, 14, 14)
                nn.BatchNorm2d(w), nn.LeakyReLU(0.2),
                nn.ConvTranspose2d(w, channels, 5, stride=2, padding=2, output_padding=1),  # → (N, 1, 28, 28)
                nn.Tanh())
        else:
            self.net = nn.Sequential(
                *fc,
                nn.Linear(inp, 4 * w * 7 * 7, bias=False),                            # → (N, 12544)
                nn.BatchNorm1d(4 * w * 7 * 7), nn.ReLU(),
                nn.Unflatten(1, (4 * w, 7, 7)),                                       # → (N, 256, 7, 7)
                nn.ConvTranspose2d(4 * w, 2 * w, 4, stride=2, padding=1, bias=False),  # → (N, 128, 14, 14)
                nn.BatchNorm2d(2 * w), nn.ReLU(),
                nn.ConvTranspose2d(2 * w, channels, 4, stride=2, padding=1),          # → (N, 1, 28, 28)
                nn.Tanh())
        init_weights(self)

    def forward(self, z):
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """image (N, 1, 28, 28) → one logit (N, 1); shapes for width w = 64. ``dropout`` defaults to 0.3 for 5×5 and
    0 for 4/2/1, ``batchnorm`` to False for 5×5 and True for 4/2/1."""

    def __init__(self, arch: str = "5x5", width: int = 64, channels: int = 1, dropout=None, batchnorm=None,
                 hidden: int = 0):
        super().__init__()
        _check(arch)
        w, k, p = width, (5 if arch == "5x5" else 4), (2 if arch == "5x5" else 1)
        dropout = (0.3 if arch == "5x5" else 0.0) if dropout is None else dropout
        batchnorm = (arch == "421") if batchnorm is None else batchnorm
        drop = [nn.Dropout(dropout)] if dropout else []
        norm = [nn.BatchNorm2d(2 * w)] if batchnorm else []
        layers = [
            nn.Conv2d(channels, w, k, stride=2, padding=p), nn.LeakyReLU(0.2), *drop,       # → (N, 64, 14, 14)
            nn.Conv2d(w, 2 * w, k, stride=2, padding=p, bias=not batchnorm), *norm,         # → (N, 128, 7, 7)
            nn.LeakyReLU(0.2), *drop,
            nn.Flatten()]                                                                   # → (N, 6272)
        self.feature_dim = 2 * w * 7 * 7
        if hidden:   # the optional fully connected layer: → (N, hidden)
            layers += [nn.Linear(self.feature_dim, hidden, bias=not batchnorm),
                       *([nn.BatchNorm1d(hidden)] if batchnorm else []), nn.LeakyReLU(0.2), *drop]
            self.feature_dim = hidden
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(self.feature_dim, 1)                                          # → (N, 1)
        init_weights(self)

    def forward(self, x):
        return self.head(self.features(x))
