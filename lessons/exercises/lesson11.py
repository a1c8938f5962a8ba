"""Lesson 11 exercises: the projection discriminator's logit, and labels stacked on an image as input channels.

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson11 tests/test_lesson11.py`` (or
``check(11, "exercises")``).
"""

import minigen
from minigen.nn import functional as F


def projection_logits(features, head, embed, y):
    """Exercise 11.1. The projection discriminator's logit D(x, y) = ψ(φ(x)) + e(y)ᵀφ(x).

    ``features`` is φ(x), shape (N, F); ``head`` is ψ, an ``nn.Linear(F, 1)``; ``embed`` is e, an
    ``nn.Embedding(K, F)``; ``y`` holds N integer labels (a minigen tensor). Return the logits, shape (N, 1),
    computed with minigen ops so that gradients reach the features, the head and the embedding.
    (φ(x) @ e(y)ᵀ has shape (N, N): every image against every label. Each image needs only its own.)"""
    raise NotImplementedError("exercise 11.1: write projection_logits (lessons/exercises/lesson11.py)")


def label_planes(y, n_classes, height, width, dtype=minigen.float32):
    """Exercise 11.2a. One-hot label planes: N integer labels (a minigen tensor, shape (N,)) → a tensor
    (N, K, H, W) of ``dtype`` in which, for example i, plane y[i] is all ones and the other K − 1 planes are
    all zeros. (A one-hot vector is a row of the identity matrix: ``F.embedding(y, minigen.eye(K))``.)"""
    raise NotImplementedError("exercise 11.2: write label_planes (lessons/exercises/lesson11.py)")


def condition_on_label(x, y, n_classes):
    """Exercise 11.2b. Images x (N, C, H, W) with their labels' one-hot planes stacked on as K more channels,
    after the image's own: → (N, C + K, H, W), with x's dtype. Gradients must still reach x."""
    raise NotImplementedError("exercise 11.2: write condition_on_label (lessons/exercises/lesson11.py)")
