"""Lesson 12 exercises: interpolates with one α per example, and the gradient penalty (a double backward).

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson12 tests/test_lesson12.py`` (or
``check(12, "exercises")``).
"""

import minigen


def interpolates(real, fake, u):
    """Exercise 12.1. x̂ = α·real + (1 − α)·fake with one α per example.

    ``real`` and ``fake`` have the same shape (N, …), any number of axes: (N, 2) ring points, (N, 1, 28, 28)
    images. ``u`` holds the N mixing weights, shape (N,), values in [0, 1]. Reshape u to (N, 1, …, 1), as many
    1s as real has axes after the first, so that it broadcasts over each example: a u of shape (N,) times an
    (N, D) batch would broadcast along the *last* axis instead. Return x̂ as a new leaf tensor that requires grad
    (the critic's gradient is taken with respect to it) and has no graph back to ``real`` or ``fake``
    (``.detach()``, then ``.requires_grad_(True)``)."""
    raise NotImplementedError("exercise 12.1: write interpolates (lessons/exercises/lesson12.py)")


def gradient_penalty(critic, real, fake, u, eps=1e-12):
    """Exercise 12.2. GP = E[(‖∇critic(x̂)‖₂ − 1)²] over the batch, at x̂ = interpolates(real, fake, u).

    ``critic`` maps a batch (N, …) to scores (N, 1), each score depending on its own example only. The steps:

    1. x̂ from your ``interpolates``; the scores critic(x̂), (N, 1);
    2. g = the gradient of the *sum* of the scores with respect to x̂, with ``minigen.grad(..., create_graph=True)``:
       one backward gives every example's own gradient, (N, …), and ``create_graph`` makes g differentiable with
       respect to the critic's weights;
    3. per example, ‖g‖ = √(Σ g² + eps) over all its elements (ε *inside* the square root), (N,);
    4. the mean of (‖g‖ − 1)², a scalar."""
    raise NotImplementedError("exercise 12.2: write gradient_penalty (lessons/exercises/lesson12.py)")
