"""The demo: a two-layer network learns to tell two interleaved spirals apart, using only the engine.

It is the smallest complete training loop: data → forward → loss → backward → gradient step, repeated,
with a progress bar, and a picture at the end (the decision boundary and the loss curve).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from . import backend
from .autograd import Tensor, no_grad
from .creation import randn, tensor, zeros
from .ops import binary_cross_entropy_with_logits, matmul, relu


def spirals(n: int = 400, noise: float = 0.15, seed: int = 0):
    """Two spirals of n/2 points each in the plane; labels 0 and 1. → x (n, 2) float32, y (n,) float32"""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.random(n // 2)) * 3 * math.pi  # angle; sqrt spreads points evenly along the arm
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * math.pi)
    x = np.concatenate([arm, -arm]) + noise * rng.standard_normal((n // 2 * 2, 2)) / 3
    y = np.concatenate([np.zeros(n // 2), np.ones(n // 2)])
    return x.astype(np.float32), y.astype(np.float32)


def train(steps: int = 1500, hidden: int = 64, lr: float = 0.05, seed: int = 0, device: str = "cpu",
          progress: bool = True):
    """Full-batch gradient descent with momentum on the spirals. Returns (params, losses, x, y)."""
    from tqdm.auto import tqdm

    backend.manual_seed(seed)
    x_np, y_np = spirals(seed=seed)
    x, y = tensor(x_np, device=device), tensor(y_np, device=device)
    # He initialisation for the ReLU layers: weights ~ N(0, 2/fan_in)
    params = {
        "w1": randn(2, hidden, device=device) * math.sqrt(2 / 2), "b1": zeros(hidden, device=device),
        "w2": randn(hidden, hidden, device=device) * math.sqrt(2 / hidden), "b2": zeros(hidden, device=device),
        "w3": randn(hidden, 1, device=device) * math.sqrt(1 / hidden), "b3": zeros(1, device=device),
    }
    for p in params.values():
        p.requires_grad_()
    velocity = {k: p.xp.zeros_like(p.data) for k, p in params.items()}
    losses = []
    bar = tqdm(range(steps), desc="demo: spirals", disable=not progress, unit="step")
    for step in bar:
        logits = forward(params, x)                                     # (n,)
        loss = binary_cross_entropy_with_logits(logits, y)              # ()
        for p in params.values():
            p.grad = None
        loss.backward()
        with no_grad():
            for k, p in params.items():  # SGD with momentum 0.9, updated in place on the arrays
                velocity[k] = 0.9 * velocity[k] + p.grad.data
                p.data -= lr * velocity[k]
        losses.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return params, losses, x_np, y_np


def forward(params: dict, x: Tensor) -> Tensor:
    """A 2 → hidden → hidden → 1 MLP with ReLU; returns one logit per point: (n, 2) → (n,)"""
    h = relu(matmul(x, params["w1"]) + params["b1"])                     # (n, hidden)
    h = relu(matmul(h, params["w2"]) + params["b2"])                     # (n, hidden)
    return (matmul(h, params["w3"]) + params["b3"]).reshape(-1)          # (n,)


def accuracy(params, x_np, y_np, device="cpu") -> float:
    with no_grad():
        logits = forward(params, tensor(x_np, device=device)).numpy()
    return float(((logits > 0) == (y_np > 0.5)).mean())


def plot(params, losses, x_np, y_np, path: Path, device="cpu") -> None:
    """Decision boundary (left) and loss curve (right), saved as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(-1.3, 1.3, 200, dtype=np.float32)
    gx, gy = np.meshgrid(grid, grid)
    points = np.stack([gx.ravel(), gy.ravel()], axis=1)
    with no_grad():
        prob = 1 / (1 + np.exp(-forward(params, tensor(points, device=device)).numpy()))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    left.contourf(gx, gy, prob.reshape(gx.shape), levels=20, cmap="RdBu_r", alpha=0.7)
    left.scatter(x_np[:, 0], x_np[:, 1], c=y_np, cmap="RdBu_r", edgecolors="white", linewidths=0.4, s=16)
    left.set_title(f"decision boundary (accuracy {accuracy(params, x_np, y_np, device):.1%})")
    left.set_aspect("equal")
    right.plot(losses)
    right.set_yscale("log")
    right.set_xlabel("step")
    right.set_ylabel("binary cross-entropy")
    right.set_title("training loss")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
