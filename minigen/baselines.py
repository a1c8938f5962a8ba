"""What a user would do without a generative model: the trivial restorers that ``minigen restore`` measures against.

Every baseline here is linear in the image and separable, so each one is a pair of small matrices: an image
X (H × W) becomes A X Bᵀ, with A (H_out × H) acting on rows and B (W_out × W) on columns. Writing the weights out
as a matrix makes them easy to read, to test (each row of an interpolation matrix sums to 1) and to apply to a
batch at once: ``np.einsum("oh,nchw,pw->ncop", A, X, B)``.

- **Inpainting, mean fill**: unknown pixels take the training set's mean image there, known pixels stay.
- **Upsampling ×k** (the low-resolution image is the mean of k×k blocks), with PyTorch's ``F.interpolate``
  conventions (``align_corners=False``): output pixel i sits at input coordinate s = (i + ½)/k − ½.
    * nearest: the input pixel floor((i + ½)/k), each value repeated k times;
    * bilinear: weights 1 − f and f on pixels ⌊s⌋ and ⌊s⌋ + 1, f = s − ⌊s⌋, with s clamped at 0 and indices at
      the last pixel (PyTorch's rule at the borders);
    * bicubic: Keys' cubic convolution with a = −0.75 on pixels ⌊s⌋ − 1 … ⌊s⌋ + 2, weights w(1 + f), w(f),
      w(1 − f), w(2 − f) with w(d) = (a + 2)|d|³ − (a + 3)|d|² + 1 for |d| ≤ 1 and a|d|³ − 5a|d|² + 8a|d| − 4a
      for 1 < |d| < 2; indices outside the image clamp to its edge (s is not clamped, as in PyTorch).
- **Denoising**: the noisy image itself, and a Gaussian blur whose width is tuned to σ: the blur matrix has
  G[i, j] ∝ exp(−(i − j)² / 2s²), each row normalised (so the border pixels average only what exists), and s is
  the value on a grid that gives the smallest mean squared error on training images noised with that σ.

Images are float32 arrays (N, 1, H, W) in [−1, 1]; results are clipped to [−1, 1] (bicubic overshoots).
"""

from __future__ import annotations

import numpy as np

BASELINES = {"inpaint": ("mean",), "upscale": ("nearest", "bilinear", "bicubic"), "denoise": ("noisy", "blur")}


def separable(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """A X Bᵀ for every image X of x (N, C, H, W): (N, C, H_out, W_out)."""
    return np.einsum("oh,nchw,pw->ncop", rows, x, cols, optimize=True).astype(np.float32)


def nearest_matrix(n_in: int, scale: int) -> np.ndarray:
    """(n_in·scale, n_in): output i copies input floor((i + ½)/scale)."""
    n_out = n_in * scale
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), np.minimum(((np.arange(n_out) + 0.5) / scale).astype(int), n_in - 1)] = 1
    return m


def bilinear_matrix(n_in: int, scale: int) -> np.ndarray:
    """(n_in·scale, n_in): linear interpolation at s = max((i + ½)/scale − ½, 0), indices clamped."""
    n_out = n_in * scale
    s = np.maximum((np.arange(n_out) + 0.5) / scale - 0.5, 0.0)
    i0 = np.floor(s).astype(int)
    f = s - i0
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), np.minimum(i0, n_in - 1)), 1 - f)
    np.add.at(m, (np.arange(n_out), np.minimum(i0 + 1, n_in - 1)), f)
    return m


def cubic_weight(d: np.ndarray, a: float = -0.75) -> np.ndarray:
    """Keys' cubic convolution kernel w(d)."""
    d = np.abs(d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def bicubic_matrix(n_in: int, scale: int) -> np.ndarray:
    """(n_in·scale, n_in): cubic convolution at s = (i + ½)/scale − ½ over pixels ⌊s⌋−1 … ⌊s⌋+2, indices clamped."""
    n_out = n_in * scale
    s = (np.arange(n_out) + 0.5) / scale - 0.5
    i0 = np.floor(s).astype(int)
    f = s - i0
    m = np.zeros((n_out, n_in))
    for k in (-1, 0, 1, 2):
        np.add.at(m, (np.arange(n_out), np.clip(i0 + k, 0, n_in - 1)), cubic_weight(f - k))
    return m


def gaussian_matrix(n: int, width: float) -> np.ndarray:
    """(n, n) Gaussian blur of standard deviation ``width`` pixels, rows normalised (identity for width 0)."""
    if width <= 0:
        return np.eye(n)
    d = np.arange(n)[:, None] - np.arange(n)[None, :]
    g = np.exp(-d ** 2 / (2 * width ** 2))
    return g / g.sum(axis=1, keepdims=True)


UPSAMPLERS = {"nearest": nearest_matrix, "bilinear": bilinear_matrix, "bicubic": bicubic_matrix}


def upsample(y_low: np.ndarray, scale: int, mode: str) -> np.ndarray:
    """(N, C, h, w) → (N, C, h·scale, w·scale) by ``mode`` (nearest, bilinear or bicubic), clipped to [−1, 1]."""
    if mode not in UPSAMPLERS:
        raise ValueError(f"upsample: mode must be one of {', '.join(UPSAMPLERS)}, got {mode!r}")
    rows = UPSAMPLERS[mode](y_low.shape[2], scale)
    cols = UPSAMPLERS[mode](y_low.shape[3], scale)
    return np.clip(separable(y_low, rows, cols), -1, 1)


def mean_fill(y: np.ndarray, mask: np.ndarray, mean_image: np.ndarray) -> np.ndarray:
    """Known pixels (mask 1) from y, unknown ones from the mean image (H, W) or (1, 1, H, W)."""
    return (mask * y + (1 - mask) * np.asarray(mean_image, dtype=np.float32).reshape(1, 1, *y.shape[2:]))\
        .astype(np.float32)


def blur(y: np.ndarray, width: float) -> np.ndarray:
    """Gaussian blur of (N, C, H, W) with standard deviation ``width`` pixels."""
    return np.clip(separable(y, gaussian_matrix(y.shape[2], width), gaussian_matrix(y.shape[3], width)), -1, 1)


WIDTHS = np.round(np.arange(0.0, 3.01, 0.1), 2)


def tune_blur(clean: np.ndarray, sigma: float, seed: int = 0) -> float:
    """The blur width (on ``WIDTHS``) with the smallest mean squared error on ``clean`` images (N, 1, H, W) in
    [−1, 1] noised with σ: the best a blur can do for this noise level."""
    noisy = clean + sigma * np.random.default_rng(seed).standard_normal(clean.shape).astype(np.float32)
    errors = [float(((blur(noisy, w) - clean) ** 2).mean()) for w in WIDTHS]
    return float(WIDTHS[int(np.argmin(errors))])


def baseline(task: str, method: str, observation: np.ndarray, *, mask=None, scale: int = 2, sigma: float = 0.5,
             train_images: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """The baseline ``method`` of ``task`` on observations (N, 1, H, W) in [−1, 1]: (restored, details), where
    details records what was fitted (the blur width). ``train_images`` (N, 1, H, W) in [−1, 1]: the clean
    training images that the mean image and the blur width come from."""
    if method not in BASELINES.get(task, ()):
        raise ValueError(f"baseline: {task} has no baseline {method!r}; choose {', '.join(BASELINES[task])}")
    if task == "inpaint":
        return mean_fill(observation, mask, train_images.mean(axis=0)), {}
    if task == "upscale":
        return upsample(observation, scale, method), {}
    if method == "noisy":
        return np.clip(observation, -1, 1).astype(np.float32), {}
    width = tune_blur(train_images[:1000], sigma)
    return blur(observation, width), {"blur_width": width}


__all__ = ["BASELINES", "baseline", "upsample", "mean_fill", "blur", "tune_blur", "nearest_matrix",
           "bilinear_matrix", "bicubic_matrix", "gaussian_matrix", "cubic_weight"]
