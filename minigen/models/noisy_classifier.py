"""A classifier of noisy images, p(y | x_t, t), and classifier guidance for flow matching with it.

Classifier-free guidance (``models.diffusion.guided``) sharpens every sample towards its label: it pushes the
confident ones as hard as the doubtful ones, and pays for the label accuracy it gains with variety (FID). Classifier
guidance (Dhariwal & Nichol 2021) asks a separate classifier which way the label lies instead. Its push is the
gradient of log p(y | x_t): near zero where the classifier is already sure of y, large where the sample is still
drifting towards another digit, so it mends the doubtful samples and leaves the rest as they are.

The classifier must read images at every noise level the sampler passes through, so it is trained on the same
path as the flow: x_t = (1 − t) x₀ + t ε with t drawn uniformly in [0, t_max), told t as a constant extra input
channel:

    (N, 1, 28, 28) x_t ‖ (N, 1, 28, 28) filled with t → conv 3×3, C → SiLU               (N, C, 28, 28)
        → conv 3×3 stride 2, 2C → SiLU → conv 3×3, 2C → SiLU                              (N, 2C, 14, 14)
        → conv 3×3 stride 2, 4C → SiLU → conv 3×3, 4C → SiLU                              (N, 4C, 7, 7)
        → mean over the 7×7 positions → linear → logits                                   (N, 10)

Guidance in a flow's velocity. On the straight path the network's velocity is v = E[ε − x₀ | x_t], and since
x₀ = (x_t − t ε)/(1 − t),

    v = (E[ε | x_t] − x_t)/(1 − t)        so        E[ε | x_t] = x_t + (1 − t) v.

The score of the noisy data is ∇ log p_t(x_t) = −E[ε | x_t]/t (Tweedie's formula for x_t = (1 − t) x₀ + t ε).
Conditioning on y adds the classifier's gradient to the score, scaled by s (s = 1: exactly Bayes' rule,
∇ log p_t(x_t | y) = ∇ log p_t(x_t) + ∇ log p(y | x_t); s > 1: a sharper p(y | x_t)^s):

    score + s g,  g = ∇ₓ log p(y | x_t, t)   ⇒   E[ε] − t s g   ⇒   ṽ = v − s · t/(1 − t) · g.

t/(1 − t) grows without bound as t → 1, where the classifier can say nothing anyway (pure noise), so guidance
applies only for t in an interval [lo, hi] with hi < 1 (the sampler's ``classifier_interval``). g costs one
forward and one backward pass of this small network per evaluation, not of the U-Net; it is computed with the
autograd engine on a copy of x_t that requires a gradient, even inside the sampler's ``no_grad``.
"""

from __future__ import annotations

from .. import nn
from ..autograd import Tensor, enable_grad
from ..creation import full
from ..nn import functional as F
from ..ops import cat

GUIDANCE_INTERVAL = (0.2, 0.7)   # the noise levels guided unless told otherwise: where the digit is decided


class NoisyClassifier(nn.Module):
    def __init__(self, n_classes: int = 10, width: int = 32):
        super().__init__()
        c = width
        self.features = nn.Sequential(
            nn.Conv2d(2, c, 3, padding=1), nn.SiLU(),                                   # → (N, C, 28, 28)
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.SiLU(),                     # → (N, 2C, 14, 14)
            nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.SiLU(),
            nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1), nn.SiLU(),                 # → (N, 4C, 7, 7)
            nn.Conv2d(4 * c, 4 * c, 3, padding=1), nn.SiLU())
        self.head = nn.Linear(4 * c, n_classes)
        self.n_classes = n_classes

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """x (N, 1, H, W) on the flow's path, t (N,) its noise levels in [0, 1] → logits (N, n_classes)."""
        n, _, h, w = x.shape
        plane = t.reshape(n, 1, 1, 1) * full((n, 1, h, w), 1.0, dtype=x.dtype, device=x.device)
        return self.head(self.features(cat([x, plane], 1)).mean((2, 3)))


def log_prob_gradient(model: NoisyClassifier, x: Tensor, t: float, y: Tensor) -> Tensor:
    """g = ∇ₓ log p(y | x, t) for every sample (N, 1, H, W): one backward pass of Σᵢ log p(yᵢ | xᵢ), since each
    sample's log-probability depends on its own image alone (no batch statistics in the network)."""
    n = x.shape[0]
    with enable_grad():
        xg = Tensor(x.data.copy(), requires_grad=True)
        logp = F.log_softmax(model(xg, full((n,), t, dtype=x.dtype, device=x.device)), dim=1)   # (N, classes)
        chosen = F.nll_loss(logp, y, reduction="sum")                   # −Σᵢ log p(yᵢ | xᵢ)
        chosen.backward()
    return Tensor(-xg.grad.data)


def guide_velocity(v: Tensor, model: NoisyClassifier, x: Tensor, t: float, y: Tensor, scale: float) -> Tensor:
    """ṽ = v − s · t/(1 − t) · ∇ₓ log p(y | x_t, t): the flow's velocity with classifier guidance (t < 1)."""
    g = log_prob_gradient(model, x, t, y)
    return v - (scale * t / (1 - t)) * g


__all__ = ["GUIDANCE_INTERVAL", "NoisyClassifier", "guide_velocity", "log_prob_gradient"]
