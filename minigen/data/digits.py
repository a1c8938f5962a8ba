"""The embedded default dataset: 28×28 digits rendered from the fonts that matplotlib ships.

It needs no network and no files, so the Quick start works anywhere. Each image is made like this:

1. take the outline of a digit in one of ~20 font faces (DejaVu Sans / Serif / Mono, STIX, Computer Modern;
   regular, bold, italic) as a vector path;
2. map it with a random affine transform (scale, rotation, shear, aspect, shift) into a 28×28 box;
3. rasterise it at 3× resolution by testing which sample points fall inside the outline, where the sample
   points themselves are displaced by a smooth random field (elastic jitter: strokes wobble like handwriting);
4. thicken or thin the strokes (a max or min filter on the fine grid), average 3×3 blocks down to 28×28
   (anti-aliasing), and add a little noise.

The same seed gives the same images; the result is cached under the data folder as ``.npz``. Like MNIST, pixels
are uint8 in 0–255 with white digits on black.
"""

from __future__ import annotations

import os
from functools import cache

import numpy as np

FONT_FILES = [
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmti10.ttf",
]
SIZE, FINE = 28, 3  # output size and supersampling factor


@cache
def glyph(font_file: str, digit: int):
    """The outline of ``digit`` in ``font_file``, centred, longest side 1: a list of closed polygons."""
    import matplotlib
    from matplotlib.font_manager import FontProperties
    from matplotlib.path import Path
    from matplotlib.textpath import TextPath

    font = FontProperties(fname=os.path.join(matplotlib.get_data_path(), "fonts", "ttf", font_file))
    path = TextPath((0, 0), str(digit), size=1, prop=font)
    vertices = path.vertices.copy()
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    vertices = (vertices - (lo + hi) / 2) / (hi - lo).max()  # centred, longest side 1
    # one closed polygon per contour; a point is inside the glyph when it lies inside an odd number of them
    # (the even-odd rule: the hole of a 0 is a contour inside a contour)
    return [Path(polygon) for polygon in Path(vertices, path.codes).to_polygons(closed_only=True)]


def _smooth_field(rng, n: int, amplitude: float) -> np.ndarray:
    """A smooth random displacement on an n×n grid: a few low-frequency sine waves. → (n, n)"""
    u = np.linspace(0, 1, n)
    field = np.zeros((n, n))
    for _ in range(3):
        fx, fy, phase = rng.uniform(0.5, 2.0), rng.uniform(0.5, 2.0), rng.uniform(0, 2 * np.pi)
        field += np.sin(2 * np.pi * (fx * u[None, :] + fy * u[:, None]) + phase)
    return amplitude * field / 3


def _filter(image: np.ndarray, grow: bool) -> np.ndarray:
    """3×3 max filter (grow) or min filter (shrink) of a binary image: thicker or thinner strokes."""
    padded = np.pad(image, 1)
    views = [padded[i:i + image.shape[0], j:j + image.shape[1]] for i in range(3) for j in range(3)]
    return np.maximum.reduce(views) if grow else np.minimum.reduce(views)


def render(digit: int, rng: np.random.Generator) -> np.ndarray:
    """One 28×28 uint8 image of ``digit`` with random font, transform, stroke and jitter."""
    path = glyph(FONT_FILES[rng.integers(len(FONT_FILES))], digit)
    n = SIZE * FINE
    # the affine map from glyph units to fine-grid pixels: the digit fills about 20 of 28 pixels, like MNIST
    scale = n * rng.uniform(0.62, 0.78)
    angle, shear = np.deg2rad(rng.normal(0, 8)), rng.normal(0, 0.15)
    aspect = rng.uniform(0.8, 1.1)
    c, s = np.cos(angle), np.sin(angle)
    A = scale * np.array([[c, -s], [s, c]]) @ np.array([[aspect, shear], [0, 1]])
    centre = n / 2 + rng.normal(0, 0.04 * n, size=2)
    # sample points (pixel centres), displaced smoothly, then mapped back into glyph units
    ys, xs = np.mgrid[0:n, 0:n] + 0.5
    xs = xs + _smooth_field(rng, n, rng.uniform(0, 0.03 * n))
    ys = ys + _smooth_field(rng, n, rng.uniform(0, 0.03 * n))
    points = np.stack([xs.ravel() - centre[0], centre[1] - ys.ravel()], axis=1) @ np.linalg.inv(A).T
    inside = np.zeros(len(points), dtype=bool)
    for polygon in path:
        inside ^= polygon.contains_points(points)
    fine = inside.reshape(n, n).astype(np.uint8)
    stroke = rng.choice([-1, 0, 0, 1])
    for _ in range(abs(stroke)):
        fine = _filter(fine, grow=stroke > 0)
    image = fine.reshape(SIZE, FINE, SIZE, FINE).mean(axis=(1, 3))  # anti-aliased 28×28 in [0, 1]
    image = image + rng.normal(0, 0.03, image.shape) * (image > 0)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def make_digits(n: int = 10000, seed: int = 0):
    """n images (n, 28, 28) uint8 and labels (n,) int64, balanced over 0–9 and shuffled."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10)
    images = np.stack([render(int(d), rng) for d in labels])
    return images, labels.astype(np.int64)
