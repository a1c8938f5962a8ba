"""Lesson 11 reference answers (try the exercises in ``lessons/exercises/lesson11.py`` first)."""

import minigen
from minigen.nn import functional as F


def projection_logits(features, head, embed, y):
    """ψ(φ(x)) (N, 1) plus, for each image, the inner product of its features with its own label's vector:
    an elementwise product (N, F) summed over the features, kept as a column (N, 1)."""
    return head(features) + (embed(y) * features).sum(dim=1, keepdim=True)


def label_planes(y, n_classes, height, width, dtype=minigen.float32):
    """Row y[i] of the identity matrix is example i's one-hot vector (N, K); as (N, K, 1, 1) it broadcasts over
    every pixel."""
    one_hot = F.embedding(y, minigen.eye(n_classes, dtype=dtype, device=y.device))      # (N, K)
    return one_hot.reshape(y.shape[0], n_classes, 1, 1).expand(y.shape[0], n_classes, height, width)


def condition_on_label(x, y, n_classes):
    """The image's channels, then the K label planes: (N, C, H, W) and (N, K, H, W) → (N, C + K, H, W)."""
    planes = label_planes(y, n_classes, x.shape[2], x.shape[3], dtype=x.dtype)
    return minigen.cat([x, planes], dim=1)
