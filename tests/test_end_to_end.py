"""End to end: a small conv net, built from minigen's layers, learns a toy image task."""

import numpy as np
import pytest

import minigen
from minigen import nn, optim
from minigen.nn import functional as F

pytestmark = pytest.mark.lesson04


def bars(n, rng):
    """12×12 images of a horizontal bar (class 0), a vertical bar (1) or a diagonal (2), at random places,
    with noise. → images (n, 1, 12, 12) float32, labels (n,) int64"""
    images = rng.normal(0, 0.3, (n, 12, 12)).astype(np.float32)
    labels = rng.integers(0, 3, n)
    for image, label in zip(images, labels):
        i, j = rng.integers(2, 10, 2)
        if label == 0:
            image[i, j - 2:j + 3] += 1.0
        elif label == 1:
            image[i - 2:i + 3, j] += 1.0
        else:
            for k in range(-2, 3):
                image[i + k, j + k] += 1.0
    return images[:, None], labels


def test_conv_net_learns_bars_to_95_percent():
    minigen.manual_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = bars(600, rng)
    x_test, y_test = bars(300, rng)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),        # → (N, 8, 6, 6)
        nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16), nn.ReLU(),               # → (N, 16, 4, 4)
        nn.Flatten(), nn.Linear(256, 3))                                   # → (N, 3) logits
    opt = optim.Adam(model.parameters(), lr=3e-3)
    for _epoch in range(10):
        order = rng.permutation(600)
        for start in range(0, 600, 50):
            idx = order[start:start + 50]
            loss = F.cross_entropy(model(minigen.tensor(x_train[idx])), minigen.tensor(y_train[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with minigen.no_grad():
        predicted = model(minigen.tensor(x_test)).argmax(1).numpy()
    accuracy = (predicted == y_test).mean()
    assert accuracy >= 0.95, f"test accuracy {accuracy:.3f}"
