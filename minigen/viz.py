"""Pictures: image grids, loss curves, reconstructions, latent maps, interpolations, animations.

Every function takes NumPy arrays (or tensors) and either returns a matplotlib Figure (for a notebook) or, with
``path=``, writes a PNG and returns the path. Images are (N, H, W) or (N, 1, H, W) with values in [0, 1].
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def _plt():
    import matplotlib
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline") and \
            not _in_notebook():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
        return get_ipython() is not None
    except ImportError:
        return False


def _images(images) -> np.ndarray:
    """Tensor or array (N, [1,] H, W) → float array (N, H, W) clipped to [0, 1]."""
    if hasattr(images, "grad_fn"):
        images = images.detach().numpy()
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] in (1, 3):
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    if images.dtype == np.uint8:
        images = images / 255.0
    return np.clip(images.astype(np.float32), 0, 1)


def make_grid(images, nrow: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile N images into one array, ``nrow`` per row (default: a square): → (rows·(H+p)+p, nrow·(W+p)+p)."""
    images = _images(images)
    n, h, w = images.shape[:3]
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = np.ones((rows * (h + padding) + padding, nrow * (w + padding) + padding) + images.shape[3:],
                   dtype=np.float32) * 0.5
    for i, image in enumerate(images):
        r, c = divmod(i, nrow)
        grid[padding + r * (h + padding): padding + r * (h + padding) + h,
             padding + c * (w + padding): padding + c * (w + padding) + w] = image
    return grid


def _finish(fig, path):
    if path is None:
        return fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    _plt().close(fig)
    return path


def image_grid(images, nrow=None, title=None, path=None, scale: float = 0.45):
    """A grid of images as a figure (or a PNG at ``path``)."""
    plt = _plt()
    grid = make_grid(images, nrow)
    fig, ax = plt.subplots(figsize=(max(2.0, grid.shape[1] * scale / 10), max(2.0, grid.shape[0] * scale / 10)))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return _finish(fig, path)


def loss_curves(history: dict, title="training", path=None, xlabel="step", log_y=False):
    """Curves {name: (xs, ys)} on one axis."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, (xs, ys) in history.items():
        ax.plot(xs, ys, label=name, lw=1.2, marker="o" if len(xs) < 30 else None, ms=3)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


def reconstructions(originals, reconstructed, n: int = 16, path=None):
    """Originals (top row) above their reconstructions (bottom row)."""
    a, b = _images(originals)[:n], _images(reconstructed)[:n]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(n * 0.6, 1.5))
    ax.imshow(make_grid(np.concatenate([a, b]), nrow=len(a)), cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    ax.set_title("originals (top) and reconstructions (bottom)")
    return _finish(fig, path)


def interpolation(rows, path=None, title="latent interpolation"):
    """Rows of images, each row a path between two latent codes: (R, S, H, W) → one grid."""
    rows = np.asarray([_images(r) for r in rows])
    return image_grid(rows.reshape((-1,) + rows.shape[2:]), nrow=rows.shape[1], title=title, path=path)


def latent_map(images_on_grid, extent=2.5, path=None, title="decoder outputs over the 2-D latent space"):
    """Decoded images on an S×S grid of latent points, z from −extent to extent: (S·S, H, W)."""
    return image_grid(images_on_grid, nrow=int(round(math.sqrt(len(images_on_grid)))),
                      title=f"{title} (z in [−{extent}, {extent}]²)", path=path)


def latent_scatter(z, labels, path=None, title="test images in the latent space"):
    """2-D latent codes coloured by class."""
    plt = _plt()
    z = np.asarray(z)
    fig, ax = plt.subplots(figsize=(6, 5.5))
    # ten colours over −0.5 … 9.5, so each label's tick sits in the middle of its colour
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=3, alpha=0.7)
    fig.colorbar(points, ax=ax, ticks=range(10))
    ax.set_title(title)
    return _finish(fig, path)


def scatter_2d(real, fake, path=None, title="real (blue) and generated (orange) points"):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(*np.asarray(real).T, s=3, alpha=0.4, label="real")
    ax.scatter(*np.asarray(fake).T, s=3, alpha=0.4, label="generated")
    ax.set_aspect("equal")
    ax.legend()
    ax.set_title(title)
    return _finish(fig, path)


def image_panels(grids: dict, path=None, title=None, nrow: int = 8):
    """Image grids side by side, one per panel: {panel title: images (N, H, W)} (e.g. one per guidance weight)."""
    plt = _plt()
    tiles = {k: make_grid(v, nrow) for k, v in grids.items()}
    h, w = next(iter(tiles.values())).shape
    fig, axes = plt.subplots(1, len(tiles), figsize=(len(tiles) * max(2.0, w * 0.045), max(2.0, h * 0.045) + 0.4),
                             squeeze=False)
    for ax, (name, grid) in zip(axes[0], tiles.items()):
        ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def scatter_strip(states: list, titles: list, path=None, title=None, lim: float = 3.0):
    """2-D point clouds side by side (a reverse process on a toy: x_t at several t)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(states), figsize=(2.4 * len(states), 2.6), squeeze=False)
    for ax, points, name in zip(axes[0], states, titles):
        ax.scatter(*np.asarray(points).T, s=2, alpha=0.4)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def quality_vs_nfe(series: dict, path=None, title="sample quality against network evaluations per sample",
                   floor: dict | None = None):
    """Two panels, FID (log scale) and classifier score, against NFE: {label: [(nfe, fid, score), ...]}, with the
    real-data values as dashed lines (``floor``: {"fid": …, "score": …})."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for label, points in series.items():
        nfe, fid, score = (np.array(v, dtype=float) for v in zip(*sorted(points)))
        a.plot(nfe, fid, marker="o", label=label)
        b.plot(nfe, score, marker="o", label=label)
    for ax, key, name in ((a, "fid", "FID (lower is better)"), (b, "score", "classifier score (higher is better)")):
        if floor and key in floor:
            ax.axhline(floor[key], color="gray", ls="--", lw=1, label=f"real images, n = {floor.get('n', 10_000):,}")
        ax.set_xscale("log")
        ax.set_xlabel("network evaluations per sample (NFE)")
        ax.set_title(name)
        ax.grid(alpha=0.3, which="both")
    a.set_yscale("log")
    b.legend(fontsize=8)
    fig.suptitle(title)
    return _finish(fig, path)


def animate(frames, path, duration_ms: int = 400, scale: float = 2.0):
    """Save a list of frames (grey (H, W) or colour (H, W, 3) arrays in [0, 1]) as an animated GIF, each resized
    by ``scale``: up with sharp pixels (small image grids), down smoothly (rendered figures)."""
    from PIL import Image
    images = []
    for f in frames:
        image = Image.fromarray((np.clip(f, 0, 1) * 255).astype(np.uint8))
        size = (max(1, round(f.shape[1] * scale)), max(1, round(f.shape[0] * scale)))
        image = image.resize(size, Image.NEAREST if scale >= 1 else Image.LANCZOS)
        # one adaptive palette per frame, no dithering: dithered noise makes a GIF of digits several times larger
        images.append(image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64) if image.mode == "RGB" else image)
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return Path(path)


def captioned_grid(images, captions, nrow: int = 8, title=None, path=None):
    """Images (N, H, W) in a grid, each with a short caption above it (labels, predictions)."""
    plt = _plt()
    images = _images(images)
    rows = math.ceil(len(images) / nrow)
    fig, axes = plt.subplots(rows, nrow, figsize=(nrow * 0.9, rows * 1.0 + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(caption, fontsize=8, pad=2)
    if title:
        fig.suptitle(title, fontsize=9)
    return _finish(fig, path)


def loss_panels(panels: dict, title="training", path=None, xlabel="step"):
    """Side-by-side axes, one per group: {panel title: {curve name: (xs, ys)}} (GAN losses beside D's outputs)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (name, curves) in zip(axes[0], panels.items()):
        for label, (xs, ys) in curves.items():
            ax.plot(xs, ys, label=label, lw=1.2, marker="o" if len(xs) < 30 else None, ms=3)
        ax.set_xlabel(xlabel)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return _finish(fig, path)


def animate_pngs(paths, path, duration_ms: int = 400, max_side: int = 480):
    """An animated GIF of PNG files (the per-epoch sample pictures), padded with white to a common size and
    shrunk to at most ``max_side`` pixels (a GIF of full-size figures runs to megabytes)."""
    import matplotlib.image as mpimg
    frames = [mpimg.imread(p)[..., :3] for p in paths]                   # (H, W, 3) floats in [0, 1]
    h, w = max(f.shape[0] for f in frames), max(f.shape[1] for f in frames)
    padded = []
    for f in frames:
        canvas = np.ones((h, w, 3), dtype=np.float32)
        canvas[:f.shape[0], :f.shape[1]] = f
        padded.append(canvas)
    return animate(padded, path, duration_ms, scale=min(1.0, max_side / max(h, w)))


def _perception_distortion_axes(ax, points, xlabel: str, ylabel: str):
    for label, psnr, fid in points:
        ax.scatter(psnr, fid, s=30)
        ax.annotate(label, (psnr, fid), fontsize=7, xytext=(4, 2), textcoords="offset points")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")


def perception_distortion(points, path=None, title=None):
    """PSNR (x, higher is less distortion) against FID (y, log scale, lower is more realistic) for a list of
    (label, psnr, fid): the best methods sit at the lower right, and no method can reach every corner."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 5))
    _perception_distortion_axes(ax, points, "PSNR (dB, higher: closer to the truth pixel by pixel)",
                                "FID to the test set (lower: more like real digits)")
    if title:
        ax.set_title(title)
    return _finish(fig, path)


def perception_distortion_panels(panels: dict, path=None, title=None):
    """``perception_distortion`` with a panel per setting: {panel title: [(label, psnr, fid), ...]}."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2), squeeze=False)
    for ax, (name, points) in zip(axes[0], panels.items()):
        _perception_distortion_axes(ax, points, "PSNR (dB)", "FID (log)")
        ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)
