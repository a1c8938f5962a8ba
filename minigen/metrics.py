"""How good are generated images? The numbers, computed from an evaluator classifier's outputs on the images.

This module is pure arithmetic on arrays (NumPy or CuPy); ``minigen.evaluation`` opens a run, generates its
samples, runs the evaluator and calls these.

A GAN has no likelihood to report, so its samples are judged by a network that knows the data: the LeNet-style
evaluator (``minigen train classifier``), which gives each image class probabilities p(y|x) and a feature
vector φ(x) ∈ ℝ²⁵⁶ (its penultimate layer). FID and the Inception score do the same with an ImageNet network;
on digits a digit classifier is the better judge (and the numbers are only comparable between runs scored by
the same evaluator).

**Fréchet distance** (FID, Heusel et al., 2017). Fit a Gaussian to the features of each set, N(μ₁, Σ₁) for the
generated images and N(μ₂, Σ₂) for the real test images; the Fréchet (Wasserstein-2) distance between them is

    d² = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½)

It is 0 only when both mean and covariance agree, and it grows when samples are off (μ moves) or too alike
(Σ shrinks: mode collapse). The trace of the matrix square root comes from symmetric eigen-decompositions, no
iteration: Σ₁Σ₂ = Σ₁^½ (Σ₁^½ Σ₂ Σ₁^½) Σ₁^−½ is similar to the symmetric positive semi-definite M = Σ₁^½ Σ₂ Σ₁^½,
so they share eigenvalues λᵢ ≥ 0, and tr (Σ₁Σ₂)^½ = Σᵢ √λᵢ. Σ₁^½ = V diag(√w) Vᵀ from Σ₁ = V diag(w) Vᵀ.
Eigenvalues that rounding makes slightly negative are clipped to 0.

**Classifier score** (the Inception score, Salimans et al., 2016, with the evaluator):

    exp( E_x[ KL(p(y|x) ‖ p(y)) ] ),      p(y) = E_x[p(y|x)]

High when every image is classified confidently (p(y|x) peaked) *and* the classes are used evenly (p(y) flat):
10 for a perfect classifier of a balanced 10-class set, 1 when every image gets the same p(y|x). It equals
exp(H(p(y)) − E H(p(y|x))), at most the number of classes.

**Uncertain share**: the fraction of samples whose top class probability is below 0.9, the images the evaluator
cannot name. With balanced classes the score is lost only through E H(p(y|x)), and that loss sits in these few:
for the README's best DCGAN the 10 % least certain samples carry 78 % of it (``minigen eval`` draws the 64 least
certain as least_certain.png: shapes between two digits).

**Class shares**: the fraction of samples predicted as each class; mode collapse shows as a class far above or
below 10 %. **Label accuracy** (conditional GAN): how often the evaluator sees the class that was asked for.

**Calibration**: the same numbers for real images (the evaluator's train images against its test images) say
what a perfect generator would score: FID ≈ the train/test gap, not 0.

**Copies of the training set.** A generator that has memorised its training images would score well on all of the
above. The check: each sample's Euclidean distance, in pixels, to its nearest training image (``nearest_distances``),
beside the same for real test images, which are not copies by construction. ``near_copy_share``: the fraction of
samples nearer to a training image than 99 % of the test images are (1 % for the test images themselves; a
generator that copies scores far above it). The distances come from one matrix product per block of queries,
‖q − r‖² = ‖q‖² − 2 q·r + ‖r‖² (k-means' ``sq_distances``), clipped at 0 where float32 rounding dips below it.

**The ring** (2-D toy): ``ring_modes`` counts the modes covered (≥ 1 % of the points within 3σ of a centre), the
modes reached (the nearest centre of at least 1/32 of the points, however far) and the share of points within 3σ
of some centre ("high quality", Srivastava et al., 2017).

**SSIM** (structural similarity, Wang, Bovik, Sheikh & Simoncelli, 2004), for restorations against the truth: PSNR
counts squared error only, so a blurred image and one with its strokes a pixel off can score alike. SSIM compares
local statistics instead. In a Gaussian window w (11×11, σ = 1.5, weights summing to 1) around each pixel, with
weighted means μ_x, μ_y, variances σ_x², σ_y² and covariance σ_xy of the two images,

    SSIM = (2 μ_x μ_y + C₁)(2 σ_xy + C₂) / ((μ_x² + μ_y² + C₁)(σ_x² + σ_y² + C₂)),   C₁ = (0.01 L)², C₂ = (0.03 L)²

(L the data range, 1 for images in [0, 1]; the constants keep flat, dark windows from dividing by ~0). It is the
product of a luminance term (2μ_xμ_y + C₁)/(μ_x² + μ_y² + C₁) and a contrast-structure term, 1 only for identical
windows, symmetric in x and y, and unchanged when both images and L are scaled alike. The image's SSIM is the mean
over the windows that fit inside it (18 × 18 positions on a 28 × 28 digit: no padding, as in the paper's code).
"""

from __future__ import annotations

import numpy as np

from . import backend
from .models.clusters import sq_distances


def gaussian_stats(features):
    """Features (N, D) → mean (D,) and covariance (D, D), in float64 (unbiased, as numpy.cov)."""
    xp = backend.xp_of(features)
    f = features.astype(xp.float64)
    mu = f.mean(axis=0)
    centred = f - mu
    return mu, centred.T @ centred / max(len(f) - 1, 1)


def sqrtm_psd(a):
    """The symmetric square root of a symmetric positive semi-definite matrix: V diag(√w) Vᵀ."""
    xp = backend.xp_of(a)
    w, v = xp.linalg.eigh((a + a.T) / 2)
    return (v * xp.sqrt(xp.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^½ between N(μ₁, Σ₁) and N(μ₂, Σ₂)."""
    xp = backend.xp_of(sigma1)
    root1 = sqrtm_psd(sigma1)
    m = root1 @ sigma2 @ root1                                    # similar to Σ₁Σ₂, symmetric PSD
    trace_sqrt = xp.sqrt(xp.clip(xp.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + xp.trace(sigma1) + xp.trace(sigma2) - 2 * trace_sqrt)


def fid(features_a, features_b) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets (N, D) and (M, D)."""
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))


def classifier_score(probs, eps: float = 1e-12) -> float:
    """exp(E_x KL(p(y|x) ‖ p(y))) for class probabilities (N, K): between 1 and K."""
    xp = backend.xp_of(probs)
    p = probs.astype(xp.float64)
    marginal = p.mean(axis=0, keepdims=True)                      # p(y), (1, K)
    kl = (p * (xp.log(p + eps) - xp.log(marginal + eps))).sum(axis=1)   # (N,)
    return float(xp.exp(kl.mean()))


def uncertain_share(probs, threshold: float = 0.9) -> float:
    """The fraction of rows (N, K) whose most probable class has probability below ``threshold``."""
    return float((probs.max(axis=1) < threshold).mean())


def least_certain(probs, k: int = 64) -> np.ndarray:
    """Indices of the ``k`` rows of (N, K) with the highest entropy H(p(y|x)), most uncertain first (host array)."""
    xp = backend.xp_of(probs)
    p = probs.astype(xp.float64)
    entropy = -(p * xp.log(p + 1e-12)).sum(axis=1)                  # (N,)
    return backend.to_numpy(xp.argsort(-entropy, kind="stable")[:k])


def class_shares(probs) -> list[float]:
    """The fraction of rows whose most probable class is k, for each k: (N, K) → K numbers summing to 1."""
    xp = backend.xp_of(probs)
    counts = xp.bincount(probs.argmax(axis=1), minlength=probs.shape[1])
    return [float(c) / len(probs) for c in backend.to_numpy(counts)]


def label_accuracy(probs, labels) -> float:
    """How often the most probable class is the requested label: (N, K), (N,) → a fraction."""
    xp = backend.xp_of(probs)
    return float((probs.argmax(axis=1) == xp.asarray(labels)).mean())


def nearest_distances(queries, reference, block: int = 1000, return_index: bool = False):
    """The Euclidean distance from each row of ``queries`` (N, D) to its nearest row of ``reference`` (M, D): (N,)
    in float32 (and, with ``return_index``, that row's index (N,)), from k-means' ``sq_distances`` one block of
    queries at a time (a block of 1,000 against MNIST's 60,000 training images is 240 MB)."""
    xp = backend.xp_of(queries)
    q, r = queries.astype(xp.float32), reference.astype(xp.float32)
    d2, index = xp.empty(len(q), dtype=xp.float32), xp.empty(len(q), dtype=xp.int64)
    for i in range(0, len(q), block):
        part = sq_distances(q[i:i + block], r)                            # (B, M)
        index[i:i + block] = part.argmin(axis=1)
        d2[i:i + block] = part[xp.arange(len(part)), index[i:i + block]]
    distances = xp.sqrt(d2.clip(0, None))                 # float32 rounding can dip below 0 for a copy
    return (distances, index) if return_index else distances


def near_copy_share(sample_distances, real_distances, quantile: float = 0.01) -> float:
    """The fraction of samples nearer to the training set than the ``quantile`` of the real test images' distances
    (both from ``nearest_distances``): ≈ ``quantile`` for a generator as novel as real data, 1 for one that copies."""
    xp = backend.xp_of(sample_distances)
    return float((sample_distances < xp.quantile(real_distances, quantile)).mean())


def ring_modes(points, centers, std: float, k: float = 3.0, min_share: float = 0.01) -> dict:
    """Points (N, 2) against mode centres (M, 2):

    modes          modes holding ≥ ``min_share`` of the points within k·σ of their centre (sharp and covered)
    modes_reached  modes that are the nearest centre of ≥ 1/(4M) of the points (covered, however blurry)
    high_quality   the share of points within k·σ of some centre"""
    xp = backend.xp_of(points)
    distances = xp.sqrt(((points[:, None, :] - xp.asarray(centers)[None]) ** 2).sum(axis=2))   # (N, M)
    nearest = distances.argmin(axis=1)                                                         # (N,)
    close = distances.min(axis=1) < k * std                                                    # (N,)
    counts = xp.bincount(nearest[close], minlength=len(centers))
    reached = xp.bincount(nearest, minlength=len(centers)) >= len(points) / (4 * len(centers))
    return {"modes": int((counts >= min_share * len(points)).sum()), "modes_reached": int(reached.sum()),
            "high_quality": float(close.mean())}


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """The normalised 1-D Gaussian (size,) whose outer product with itself is SSIM's window."""
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def _filter_valid(images, g):
    """Each image (N, H, W) filtered by the separable window g ⊗ g at every position where it fits:
    (N, H − k + 1, W − k + 1), k = len(g)."""
    k = len(g)
    H, W = images.shape[1:]
    rows = sum(g[i] * images[:, i:H - k + 1 + i, :] for i in range(k))           # along the height
    return sum(g[j] * rows[:, :, j:W - k + 1 + j] for j in range(k))             # then the width


def ssim(x, y, data_range: float = 1.0, size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """SSIM of each image pair (module docstring): x, y (N, H, W) (or (H, W)) on a scale of ``data_range``
    → (N,) in [−1, 1], float64. H and W must be at least ``size``."""
    x, y = (np.asarray(backend.to_numpy(a), dtype=np.float64) for a in (x, y))
    if x.shape != y.shape:
        raise ValueError(f"ssim: the images differ in shape, {x.shape} and {y.shape}")
    if x.ndim == 2:
        x, y = x[None], y[None]
    if x.ndim != 3 or min(x.shape[1:]) < size:
        raise ValueError(f"ssim: expected images (N, H, W) with H, W ≥ {size}, got shape {x.shape}")
    g = gaussian_window(size, sigma)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    var_x = _filter_valid(x * x, g) - mu_x ** 2                                  # E_w[x²] − μ_x²
    var_y = _filter_valid(y * y, g) - mu_y ** 2
    cov = _filter_valid(x * y, g) - mu_x * mu_y
    s = (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return s.mean(axis=(1, 2))
