"""The evaluator: a LeNet-style convolutional classifier of 28×28 digits, trained like any other minigen run.

It has two jobs. As a classifier it reads a generated image and says which digit it shows, p(y|x); as a feature
extractor its penultimate layer φ(x) ∈ ℝ²⁵⁶ summarises what an image looks like. ``minigen.metrics`` builds the
sample-quality numbers on both (the Fréchet distance between Gaussians fitted to φ of real and generated images,
the classifier score from p(y|x)), the way FID and the Inception score use an ImageNet network, but with a
network that knows digits.

LeCun et al. (1998) in today's idiom (ReLU for tanh, max pooling for subsampling, dropout):

    (N, 1, 28, 28) → conv 5×5, 32, pad 2 → ReLU → max pool 2 → (N, 32, 14, 14)
                   → conv 5×5, 64, pad 2 → ReLU → max pool 2 → (N, 64, 7, 7) → flatten (N, 3136)
                   → linear 256 → ReLU  = φ(x)  (N, 256)
                   → dropout 0.5 → linear 10 → logits (N, 10)

Trained with cross-entropy and Adam; ≈ 99.2 % MNIST test accuracy after a few epochs.
"""

from __future__ import annotations

from .. import nn


class Classifier(nn.Module):
    def __init__(self, n_classes: int = 10, channels: int = 1, width: int = 32, hidden: int = 256,
                 dropout: float = 0.5):
        super().__init__()
        c = width
        self.features = nn.Sequential(
            nn.Conv2d(channels, c, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),       # → (N, 32, 14, 14)
            nn.Conv2d(c, 2 * c, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),          # → (N, 64, 7, 7)
            nn.Flatten(), nn.Linear(2 * c * 49, hidden), nn.ReLU())                 # → (N, 256) = φ(x)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, n_classes))  # → (N, 10) logits
        self.feature_dim = hidden

    def forward(self, x):
        return self.head(self.features(x))
