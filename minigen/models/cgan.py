"""The conditional GAN (Mirza & Osindero, 2014): both players see the class label y.

G(z, y) must make an image of class y; D(x, y) judges whether x is a real image *of class y*. An image that looks
real but shows the wrong digit is then as easy to reject as a blurry one, so G has to respect the label, and
``sample(labels=7)`` draws sevens.

How the label gets in:

- **G**: an embedding e(y) ∈ ℝ⁵⁰ is concatenated to the noise, [z, e(y)] ∈ ℝ¹⁵⁰, and the rest is the DCGAN
  generator unchanged. Its scale matters: e(y) starts with norm ≈ 1 (``embed_scale``) beside ‖z‖ ≈ 10.
  PyTorch's default N(0, 1) embedding would have norm ≈ √50 ≈ 7, and the first layer's input would be mostly
  label: G can then satisfy D with one image per class, pushed into tanh's saturation, and ignore z (mode
  collapse within each class, with perfect label accuracy). A small embedding lets G learn to use z first, and
  the label's weight grows as D asks for it.
- **D**: the projection discriminator (Miyato & Koyama, 2018). The best conditional D's logit is
  log p_data(x, y) / p_G(x, y) = log p_data(x)/p_G(x) + log p_data(y|x)/p_G(y|x). Model the first term as usual,
  ψ(φ(x)), and the second, a log-ratio of two softmax classifiers on the same features φ(x), as an inner product
  with a learned class vector:

        D(x, y) = ψ(φ(x)) + e_D(y)ᵀ φ(x)          φ(x): the DCGAN discriminator's features, (N, 6272)

  The label acts on D's whole feature vector. ``conditioning="input"`` is the classic alternative: a learned
  28×28 map per class stacked on the image as a second input channel.

The losses are the non-saturating GAN losses of ``gan.py``, with y passed to both players; fake images are made
for labels drawn uniformly, real images come with their own labels.
"""

from __future__ import annotations

from .. import nn
from ..nn import init
from ..ops import cat
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .gan import ToyDiscriminator, ToyGenerator


class ConditionalGenerator(nn.Module):
    """(z (N, 100), y (N,)) → image (N, 1, 28, 28) in [−1, 1]  (``toy``: → a point (N, 2))."""

    def __init__(self, n_classes: int = 10, latent_dim: int = 100, embed_dim: int = 50, arch: str = "5x5",
                 width: int = 64, toy: bool = False, embed_scale: float = 1.0):
        super().__init__()
        self.latent_dim, self.n_classes = latent_dim, n_classes
        self.embed = nn.Embedding(n_classes, embed_dim)                     # y → (N, 50)
        init.normal_(self.embed.weight, 0.0, embed_scale / embed_dim ** 0.5)  # ‖e(y)‖ ≈ embed_scale
        self.body = (ToyGenerator(latent_dim + embed_dim) if toy
                     else DCGANGenerator(latent_dim + embed_dim, arch, width))

    def forward(self, z, y):
        return self.body(cat([z, self.embed(y)], dim=1))                   # (N, 150) → image


class ConditionalDiscriminator(nn.Module):
    """(x (N, 1, 28, 28), y (N,)) → one logit (N, 1).

    ``conditioning="projection"``: ψ(φ(x)) + e(y)ᵀφ(x). ``conditioning="input"``: a learned 28×28 map per class,
    e(y) → (N, 1, 28, 28), stacked on the image as a second channel before the first convolution."""

    def __init__(self, n_classes: int = 10, arch: str = "5x5", width: int = 64, dropout=None, toy: bool = False,
                 conditioning: str = "projection"):
        super().__init__()
        if conditioning not in ("projection", "input"):
            raise ValueError(f"conditioning must be 'projection' or 'input', got {conditioning!r}")
        self.n_classes, self.conditioning = n_classes, conditioning
        extra = 0 if conditioning == "projection" else 1
        if toy:
            self.body = ToyDiscriminator(inp=2 + 2 * extra)
            size = 2
        else:
            self.body = DCGANDiscriminator(arch, width, channels=1 + extra, dropout=dropout)
            size = 28 * 28
        if conditioning == "projection":
            self.embed = nn.Embedding(n_classes, self.body.feature_dim)    # y → (N, 6272)
            init.normal_(self.embed.weight, 0.0, 0.02)
        else:
            self.embed = nn.Embedding(n_classes, size)                      # y → (N, 784)

    def forward(self, x, y):
        if self.conditioning == "input":
            label = self.embed(y)                                           # (N, 784); the ring: (N, 2)
            if x.ndim == 4:
                label = label.reshape(x.shape[0], 1, *x.shape[2:])          # → (N, 1, 28, 28)
            return self.body(cat([x, label], dim=1))                        # (N, 2, 28, 28) → (N, 1)
        h = self.body.features(x)                                          # → (N, 6272)
        projection = (self.embed(y) * h).sum(dim=1, keepdim=True)          # → (N, 1)
        return self.body.head(h) + projection                              # → (N, 1)
