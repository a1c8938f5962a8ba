"""k-means clusters of images: labels for a "self-conditioned" generator that never sees the true classes.

Why. A class-conditional diffusion or flow model of MNIST samples far better images than an unconditional one of
the same size and training time (here: FID 5.8 against 18.5 at 19 network evaluations): told which of a few
broad kinds of image to draw, the network does not have to decide it from the noise, and it stops drawing
blends of two digits. Clusters found without labels give much of that help to an unconditional model (Bao et
al. 2022, "Why are conditional generative models better than unconditional ones?"): train the conditional model
on cluster indices k(x) instead of classes, and sample by first drawing k with the clusters' shares π_k,

    p(x) = Σ_k π_k p(x | k),

which is the data distribution again: the result is an unconditional generator (no label is asked for, none was
used to train it).

k-means (Lloyd's algorithm). For points x_1 … x_N ∈ R^D and K centroids c_1 … c_K, minimise

    J = Σ_i min_k ‖x_i − c_k‖²

by alternating the two steps that each lower J: assign every point to its nearest centroid,
a_i = argmin_k ‖x_i − c_k‖², then move every centroid to the mean of its points, c_k = mean{x_i : a_i = k} (the
minimiser of Σ_{a_i = k} ‖x_i − c_k‖²). The distances come from one matrix product,
‖x − c‖² = ‖x‖² − 2 x·c + ‖c‖² ((N, D) @ (D, K)), so an iteration over 60,000 MNIST images and 100 centroids
costs about a second. The start matters (Lloyd's finds a local minimum): k-means++ (Arthur & Vassilvitskii 2007)
picks the first centroid at random and each next one with probability proportional to its squared distance to
the nearest centroid so far, which spreads them out.

The points (``features``). ``pixels``: the images themselves (D = 784, in [0, 1]). On MNIST's training set with
K = 100, a cluster holds 87 % images of its most common digit (the "purity", measured with the labels
afterwards: 59 % at K = 10, 79 % at K = 50): clusters of pixels are groups of digits drawn alike, finer than the
classes. Much of what separates two images of one digit is slant, which pixels count as a large distance.
``deskewed``: each image sheared upright first (``deskew``), then its pixels: purity 91.7 % at K = 100, 93.9 %
at K = 200 (pixels there: 90.0 %). The generator still learns and draws the original images; only the clustering
looks at the deskewed ones.

Deskewing (a shear from the image's moments). Treat the ink as a mass distribution over pixel coordinates
(row r, column c), weights the pixel values: means r̄, c̄, row variance σ_r² and covariance σ_rc. A slanted
digit has σ_rc ≠ 0 (its column drifts with its row). The shear c' = c − α (r − r̄) gives
cov(r, c') = σ_rc − α σ_r², which is 0 for α = σ_rc / σ_r²: the upright image reads, at row r and column c, the
original at column c + α (r − r̄) (linear interpolation between the two nearest columns, 0 outside).

``Clusters`` keeps the centroids (K, D) and the shares π (K,) as buffers, so they are saved in the model's
checkpoint and a run that was trained on them samples from them. ``fit`` computes both, ``assign`` labels new
images by their nearest centroid, ``draw`` gives n cluster indices with the shares by systematic sampling: n
evenly spaced points (u + i)/n, i = 0 … n − 1, with one random offset u ~ U[0, 1), each read off the cumulative
shares. Cluster k covers an interval of length π_k, which holds ⌊nπ_k⌋ or ⌈nπ_k⌉ of the points, so 10,000 draws
follow π to within one image, and a small draw is a random one: a cluster with nπ_k ≤ 1 appears with probability
nπ_k.

Clusters within classes (``classes`` C). A class-conditional model can be told more than the class: fit K
clusters inside each class separately and label image i by c_i·K + k_i (its class c_i, its cluster k_i among
that class's K). Asked for class c, the sampler first draws k from the shares of class c's clusters,

    p(x | c) = Σ_k π_{k|c} p(x | c, k),      π_{k|c} = π_{cK+k} / Σ_j π_{cK+j},

so it still samples the class's whole distribution, from a network that was told which way of writing c to
draw. The centroids are then (C·K, D), the shares (C·K,) (fractions of the whole training set), and ``assign``
compares an image only with its own class's centroids.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Tensor
from ..nn.module import Module


def deskew(images: np.ndarray) -> np.ndarray:
    """Shear each image (N, H, W) so its ink has no row-column covariance (see above): (N, H, W) float32."""
    x = np.asarray(images, dtype=np.float32)
    n, h, w = x.shape
    r, c = np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32)
    mass = x.sum((1, 2)) + 1e-8                                                 # (N,)
    rows, cols = x.sum(2), x.sum(1)                                             # (N, H), (N, W) marginals
    r_mean, c_mean = rows @ r / mass, cols @ c / mass                           # (N,)
    dr = r[None, :] - r_mean[:, None]                                           # (N, H)
    var_r = (rows * dr ** 2).sum(1) / mass
    cov_rc = (dr[:, :, None] * (c[None, None, :] - c_mean[:, None, None]) * x).sum((1, 2)) / mass
    alpha = cov_rc / np.maximum(var_r, 1e-8)                                    # (N,)
    src = c[None, None, :] + (alpha[:, None] * dr)[:, :, None]                 # (N, H, W) column to read
    left = np.floor(src).astype(np.int64)
    frac = src - left
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1)))                                # a zero column on each side

    def at(col):                                                                # x[n, r, col], 0 outside
        return np.take_along_axis(padded, np.clip(col, -1, w) + 1, axis=2)
    return ((1 - frac) * at(left) + frac * at(left + 1)).astype(np.float32)


FEATURES = ("pixels", "deskewed")                  # what k-means compares: the images, or the images upright


def sq_distances(x, c):
    """‖x_i − c_k‖² for points x (N, D) and centroids c (K, D): (N, K), from one product."""
    return (x * x).sum(1)[:, None] - 2 * (x @ c.T) + (c * c).sum(1)[None, :]


def kmeans(x, k: int, iters: int = 30, seed: int = 0):
    """Lloyd's k-means from a k-means++ start: (centroids (k, D), assignments (N,)) of the points x (N, D).

    Deterministic for a given ``seed``. Stops early when no assignment changes. An empty cluster (possible after
    a step) keeps its centroid."""
    n = len(x)
    if not 1 <= k <= n:
        raise ValueError(f"kmeans: k must lie in 1 … {n} (the number of points), got {k}")
    rng = np.random.default_rng(seed)
    # k-means++: the next centroid is drawn with probability ∝ squared distance to the nearest one so far
    centroids = [x[rng.integers(n)]]
    nearest = ((x - centroids[0]) ** 2).sum(1)                                  # (N,)
    for _ in range(k - 1):
        p = nearest.astype(np.float64)
        if p.sum() == 0:                          # every point sits on a centroid already
            raise ValueError(f"kmeans: the {n} points take only {len(centroids)} distinct values, fewer than "
                             f"k = {k} clusters")
        centroids.append(x[rng.choice(n, p=p / p.sum())])
        nearest = np.minimum(nearest, ((x - centroids[-1]) ** 2).sum(1))
    c = np.stack(centroids)                                                     # (K, D)
    a = None
    for _ in range(iters):
        new = sq_distances(x, c).argmin(1)                                      # (N,) assignment step
        if a is not None and (new == a).all():
            break
        a = new
        counts = np.bincount(a, minlength=k)                                    # (K,)
        onehot = (a[:, None] == np.arange(k)[None, :]).astype(x.dtype)          # (N, K)
        sums = onehot.T @ x                                                     # (K, D) update step: means
        filled = counts > 0
        c[filled] = sums[filled] / counts[filled, None]
    else:                                   # out of iterations: assign once more, so a matches the centroids c
        a = sq_distances(x, c).argmin(1)
    return c, a


def systematic(shares: np.ndarray, n: int, offset: float = 0.5) -> np.ndarray:
    """n cluster indices by systematic sampling: the points (offset + i)/n, i = 0 … n − 1, read off the cumulative
    shares; cluster k gets ⌊nπ_k⌋ or ⌈nπ_k⌉ of them, in index order: (n,) int64. ``offset`` in [0, 1) (drawn
    uniformly, the draw is random with P(k appears) = nπ_k when nπ_k ≤ 1)."""
    if not 0 <= offset < 1:
        raise ValueError(f"systematic: offset must lie in [0, 1), got {offset}")
    shares = np.asarray(shares, dtype=np.float64)
    if shares.min() < 0 or shares.sum() <= 0:
        raise ValueError(f"systematic: shares must be non-negative with a positive sum, got {shares}")
    edges = np.cumsum(shares)                                                   # (K,)
    edges /= edges[-1]                                                          # the last edge is 1 exactly
    points = np.minimum((offset + np.arange(n)) / n, np.nextafter(1.0, 0.0))  # (n,) in [0, 1), rounding kept < 1
    return np.searchsorted(edges, points, side="right").astype(np.int64)


class Clusters(Module):
    """K centroids of flattened images (C·K with ``classes`` C: K within each class) and their shares of the
    training set, as buffers (saved with the model).

    Not trained by gradients: ``fit`` sets them once, before training."""

    def __init__(self, k: int, dim: int = 784, features: str = "pixels", classes: int | None = None):
        super().__init__()
        if features not in FEATURES:
            raise ValueError(f"Clusters: features must be one of {', '.join(FEATURES)}, got {features!r}")
        if features == "deskewed" and round(dim ** 0.5) ** 2 != dim:
            raise ValueError(f"Clusters: deskewed features need square images, got dim = {dim}")
        if classes is not None and classes < 1:
            raise ValueError(f"Clusters: classes must be at least 1, got {classes}")
        self.k, self.dim, self.features, self.classes = k, dim, features, classes
        self.n = k * (classes or 1)                     # labels in all: K, or C·K clusters within C classes
        self.register_buffer("centroids", Tensor(np.zeros((self.n, dim), dtype=np.float32)))
        self.register_buffer("shares", Tensor(np.zeros(self.n, dtype=np.float32)))

    @property
    def fitted(self) -> bool:
        return float(self.shares.data.sum()) > 0

    def _points(self, images) -> np.ndarray:
        x = images if isinstance(images, (np.ndarray, list, tuple)) else backend.to_numpy(images)   # CuPy → host
        x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)                 # (N, D)
        if x.shape[1] != self.dim:
            raise ValueError(f"Clusters: images of {x.shape[1]} values each, the centroids have {self.dim}")
        if self.features == "deskewed":                 # (N, H, W), square images → the same, upright → (N, D)
            side = int(round(self.dim ** 0.5))
            x = np.concatenate([deskew(x[i:i + 5000].reshape(-1, side, side)).reshape(-1, self.dim)   # in chunks:
                                for i in range(0, len(x), 5000)]) if len(x) else x                    # bounded memory
        return x

    def _classes(self, images, classes, op: str) -> np.ndarray | None:
        """The class of every image, checked: (N,) int64, or None without classes."""
        if self.classes is None:
            if classes is not None:
                raise ValueError(f"Clusters.{op}: these clusters were built without classes; pass classes=None")
            return None
        if classes is None:
            raise ValueError(f"Clusters.{op}: clusters within {self.classes} classes need the images' classes")
        if hasattr(classes, "numpy"):                   # a minigen Tensor
            classes = classes.numpy()
        elif not isinstance(classes, (np.ndarray, np.generic, list, tuple, int)):
            classes = backend.to_numpy(classes)         # CuPy → host
        c = np.asarray(classes)
        if c.size and not np.issubdtype(c.dtype, np.integer):
            raise ValueError(f"Clusters.{op}: classes must be integers, got {c.dtype}")
        c = c.astype(np.int64).reshape(-1)
        if images is not None and len(c) != len(images):
            raise ValueError(f"Clusters.{op}: {len(images)} images but {len(c)} classes (one class per image)")
        if len(c) and (c.min() < 0 or c.max() >= self.classes):
            raise ValueError(f"Clusters.{op}: classes must lie in 0 … {self.classes - 1}, got {c.min()} … {c.max()}")
        return c

    def fit(self, images, classes=None, seed: int = 0, iters: int = 30) -> np.ndarray:
        """Cluster ``images`` (N, …) with values in [0, 1] (within each of their ``classes`` (N,) when the
        clusters have classes); returns their labels (N,): the cluster index, or class·K + cluster."""
        x, c = self._points(images), self._classes(images, classes, "fit")
        if c is None:
            centroids, a = kmeans(x, self.k, iters, seed)
        else:                                           # K clusters inside each class, labels c·K + k
            centroids, a = np.zeros((self.n, self.dim), np.float32), np.zeros(len(x), np.int64)
            for cls in range(self.classes):
                mine = np.flatnonzero(c == cls)
                if len(mine) < self.k:
                    raise ValueError(f"Clusters.fit: class {cls} has {len(mine)} images, fewer than k = {self.k}")
                try:
                    centroids[cls * self.k:(cls + 1) * self.k], sub = kmeans(x[mine], self.k, iters, seed + cls)
                except ValueError as e:                 # e.g. too few distinct images: say which class
                    raise ValueError(f"Clusters.fit: class {cls}: {e}") from None
                a[mine] = cls * self.k + sub
        xp = self.centroids.xp
        self.centroids.data[...] = xp.asarray(centroids)
        self.shares.data[...] = xp.asarray(np.bincount(a, minlength=self.n) / len(a))
        return a

    def assign(self, images, classes=None) -> np.ndarray:
        """Each image's nearest centroid (among its own class's, when the clusters have classes): (N,) int64."""
        if not self.fitted:
            raise RuntimeError("Clusters.assign: the clusters were never fitted")
        x, cent = self._points(images), backend.to_numpy(self.centroids.data)
        c = self._classes(images, classes, "assign")
        parts = []
        for i in range(0, len(x), 5000):
            d = sq_distances(x[i:i + 5000], cent)                               # (B, n)
            if c is not None:                                                   # only the image's class's K
                d = d.reshape(len(d), self.classes, self.k)[np.arange(len(d)), c[i:i + 5000]]   # (B, K)
                parts.append(c[i:i + 5000] * self.k + d.argmin(1))
            else:
                parts.append(d.argmin(1))
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def draw(self, n: int, rng: np.random.Generator | None = None, classes=None) -> np.ndarray:
        """n labels with the training set's shares (``systematic``), the offset drawn from ``rng`` (without one:
        0.5, the same labels every time, as for the pictures drawn each epoch). With ``classes`` (n,): for
        each image a cluster of its class, by the shares within the class (one offset per class; the images of
        one class get their clusters in index order); without them, clusters within classes are drawn from all
        C·K (the classes then follow the training set's)."""
        if not self.fitted:
            raise RuntimeError("Clusters.draw: the clusters were never fitted")
        shares = backend.to_numpy(self.shares.data)
        c = None if classes is None else self._classes(None, classes, "draw")
        if c is None:
            return systematic(shares, n, 0.5 if rng is None else float(rng.random()))
        if len(c) != n:
            raise ValueError(f"Clusters.draw: n = {n} but {len(c)} classes")
        out = np.zeros(n, np.int64)
        for cls in np.unique(c):
            mine = np.flatnonzero(c == cls)
            offset = 0.5 if rng is None else float(rng.random())
            out[mine] = cls * self.k + systematic(shares[cls * self.k:(cls + 1) * self.k], len(mine), offset)
        return out

    def extra_repr(self) -> str:
        return f"k={self.k}, dim={self.dim}, features={self.features}" + \
            (f", classes={self.classes}" if self.classes else "")


__all__ = ["Clusters", "FEATURES", "deskew", "kmeans", "sq_distances", "systematic"]
