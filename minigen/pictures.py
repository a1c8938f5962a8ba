"""The pictures of a training run, drawn from what a recipe offers (``sample``, ``encode``/``decode``, ``predict``).

A recipe only names its pictures (``Recipe.pictures``); this module knows how to draw each name, with the plotting
functions of ``minigen.viz``. The training loop calls ``epoch_samples`` and ``losses`` after every epoch and
``final`` once at the end; ``minigen eval`` calls ``final`` again.

    samples_epoch_NNN.png    ``epoch_samples``: the same fixed noise decoded after every epoch (the ring: points)
    losses.png               ``losses``: the logged metrics by step, in the recipe's panels, and the test loss
    reconstructions          test images above their reconstructions (autoencoders)
    code_interpolation       decoded straight lines between the codes of pairs of test images (autoencoders)
    latent_map               for a 2-D code: decoder outputs over a grid of codes, and the test images' codes
    errors                   the test images the classifier gets wrong
    samples_gif              the per-epoch sample pictures as an animated GIF
    latent_interpolation     a walk along great circles between random latent points (GANs; a row per class
                             when conditional)
    ring                     real against generated points of the 2-D ring, with the modes covered
    reverse_process          diffusion and flow: x_t from pure noise to the sample, as a strip and a GIF
    loss_by_time             diffusion and flow: the test loss in ten ranges of t
    guidance_rows            conditional diffusion and flow: one row per class at several guidance weights
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import backend, metrics, viz
from .data.ring import Ring
from .models.gan import slerp


def epoch_samples(recipe, noise: np.ndarray, epoch: int, path) -> Path:
    """``samples_epoch_NNN.png``: the recipe's samples from ``noise`` (the same every epoch), in eval mode."""
    recipe.train(False)
    samples = recipe.sample(noise)
    recipe.train(True)
    title = f"epoch {epoch}"
    if samples.ndim == 2:                                         # 2-D points: scatter against the real ones
        real = Ring(train=False, n=len(samples)).data
        return viz.scatter_2d(real, samples, title=f"{title}: real (blue), generated (orange)", path=path)
    if recipe.sample_rows:                                        # one row per class
        return viz.image_grid(samples, nrow=len(samples) // recipe.sample_rows, title=f"{title} (row k: digit k)",
                              path=path)
    return viz.image_grid(samples, nrow=8, title=title, path=path)


def losses(recipe, records: list[dict], title: str, path) -> Path | None:
    """losses.png from metrics.jsonl's records: every numeric step metric against the step, the test loss at
    each epoch's end; in the recipe's ``curves`` panels when it names them."""
    curves = {}
    for r in records:
        if r["kind"] == "step":
            for k, v in r.items():
                if k not in ("kind", "epoch", "step") and isinstance(v, (int, float)):
                    curves.setdefault(k, ([], []))
                    curves[k][0].append(r["step"])
                    curves[k][1].append(v)
    for r in records:
        if r["kind"] == "epoch" and "test_loss" in r:
            curves.setdefault("test_loss", ([], []))
            curves["test_loss"][0].append(r["step"])
            curves["test_loss"][1].append(r["test_loss"])
    if not curves:
        return None
    if recipe.curves is None:
        return viz.loss_curves(curves, title=title, path=path)
    panels = {panel: {label: curves[k] for k, label in names.items() if k in curves}
              for panel, names in recipe.curves.items()}
    panels = {k: v for k, v in panels.items() if v}
    return viz.loss_panels(panels, title=title, path=path) if panels else None


def final(recipe, run_dir, test_x: np.ndarray, test_y: np.ndarray) -> list[Path]:
    """Every picture the recipe names, drawn in eval mode into ``run_dir``; returns the paths written."""
    run_dir = Path(run_dir)
    recipe.train(False)
    paths = []
    for name in recipe.pictures:
        paths += DRAW[name](recipe, run_dir, test_x, test_y)
    recipe.train(True)
    return paths


# --- one function per picture name: (recipe, run_dir, test_x, test_y) → written paths ---------------------
def reconstructions(recipe, run_dir, test_x, test_y):
    originals = test_x[:16].reshape(-1, 28, 28)
    return [viz.reconstructions(originals, recipe.reconstruct(test_x[:16]), path=run_dir / "reconstructions.png")]


def code_interpolation(recipe, run_dir, test_x, test_y):
    z = recipe.encode(test_x[:16])                                      # (16, latent)
    t = np.linspace(0, 1, 10, dtype=np.float32)[:, None]                # (10, 1)
    rows = [recipe.decode((1 - t) * z[2 * i] + t * z[2 * i + 1]) for i in range(8)]   # 8 × (10, 28, 28)
    return [viz.interpolation(rows, path=run_dir / "interpolation.png")]


def latent_map(recipe, run_dir, test_x, test_y):
    z = recipe.encode(test_x[:2000])                                    # (N, latent)
    if z.shape[1] != 2:
        return []                                                       # only a 2-D code can be drawn as a map
    grid = np.linspace(-2.5, 2.5, 15, dtype=np.float32)
    points = np.stack(np.meshgrid(grid, -grid), axis=-1).reshape(-1, 2)   # rows top to bottom: z₂ falls
    return [viz.latent_map(recipe.decode(points), path=run_dir / "latent_map.png"),
            viz.latent_scatter(z, test_y[:2000], path=run_dir / "latent_scatter.png")]


def errors(recipe, run_dir, test_x, test_y):
    _, probs = recipe.predict(test_x)
    predicted = backend.to_numpy(probs.argmax(axis=1))
    wrong = np.flatnonzero(predicted != test_y)[:64]
    if not len(wrong):
        return []
    captions = [f"{test_y[i]}→{predicted[i]}" for i in wrong]
    return [viz.captioned_grid(test_x[wrong].reshape(-1, 28, 28), captions, nrow=8,
                               title=f"test images misclassified (label→prediction): {len(wrong)} of "
                                     f"the first {len(test_y)}", path=run_dir / "errors.png")]


def samples_gif(recipe, run_dir, test_x, test_y):
    frames = sorted(run_dir.glob("samples_epoch_*.png"))
    return [viz.animate_pngs(frames, run_dir / "samples_evolution.gif")] if frames else []


def latent_interpolation(recipe, run_dir, test_x, test_y):
    rng = np.random.default_rng([recipe.config["seed"], 11])
    conditional = recipe.sample_rows is not None
    rows = recipe.sample_rows or 8
    ends = recipe.noise(2 * rows, rng)                                  # (2·rows, latent)
    t = np.linspace(0, 1, 10, dtype=np.float32)[:, None]                # (10, 1)
    strips = [recipe.sample(slerp(ends[2 * i], ends[2 * i + 1], t).astype(np.float32), *([i] if conditional else []))
              for i in range(rows)]
    return [viz.interpolation(strips, path=run_dir / "interpolation.png",
                              title="latent interpolation (great circle between two z"
                                    + (", row k: digit k)" if conditional else ")"))]


def ring(recipe, run_dir, test_x, test_y):
    rng = np.random.default_rng([recipe.config["seed"], 11])
    points = recipe.sample(recipe.noise(2000, rng))
    found = metrics.ring_modes(points, Ring.centers(), Ring.std)
    return [viz.scatter_2d(test_x[:2000], points, path=run_dir / "ring.png",
                           title=f"{recipe.name}: {found['modes_reached']} of 8 modes reached, "
                                 f"{found['modes']} covered sharply ({found['high_quality']:.0%} of points "
                                 f"within 3σ of one)")]


def reverse_process(recipe, run_dir, test_x, test_y, n: int = 8, columns: int = 10):
    """x_t along the sampler's steps for n samples (rows), at ``columns`` evenly spaced steps (and a GIF of all)."""
    rng = np.random.default_rng([recipe.config["seed"], 13])
    points = recipe.points
    noise = recipe.noise(1000 if points else n, rng)
    labels = None
    if recipe.conditional and getattr(recipe, "classes", True):
        labels = np.arange(len(noise)) % recipe.n_classes                      # one row per class, in turn
    elif recipe.conditional:
        labels = recipe.labels(len(noise), rng=rng)                             # a cluster run: its mixture
    _, nfe, states = recipe.generate(noise, labels, trajectory=True)
    steps = len(states) - 1
    picks = np.unique(np.round(np.linspace(0, steps, columns)).astype(int))
    names = [f"step {i}/{steps}" for i in picks]
    sampler = f"{recipe.option('sampler')}, {steps} steps, {nfe} evaluations"
    if points:
        return [viz.scatter_strip([states[i] for i in picks], names, path=run_dir / "reverse_process.png",
                                  title=f"{recipe.name}: from noise (left) to samples (right) ({sampler})")]
    unit = [recipe.to_unit(s[:, 0]) for s in states]                      # each (n, 28, 28) in [0, 1]
    rows = np.stack([unit[i] for i in picks], axis=1)                     # (n, columns, 28, 28)
    strip = viz.interpolation(rows, path=run_dir / "reverse_process.png",
                              title=f"reverse process, noise (left) to sample (right): {sampler}")
    frames = [viz.make_grid(u, nrow=n) for u in unit] + [viz.make_grid(unit[-1], nrow=n)] * 4   # hold the end
    return [strip, viz.animate(frames, run_dir / "reverse_process.gif", duration_ms=120)]


def loss_by_time(recipe, run_dir, test_x, test_y):
    """The EMA network's test loss in ten ranges of t (t = 0: data, 1: pure noise)."""
    centres, losses = recipe.loss_by_time(test_x[:1000], test_y[:1000])
    return [viz.loss_curves({"test loss": (centres, losses)}, xlabel="t (fraction of the way to pure noise)",
                            title=f"{recipe.name}: loss by noise level (1,000 test images per range)",
                            log_y=True, path=run_dir / "loss_by_time.png")]


def guidance_rows(recipe, run_dir, test_x, test_y, weights=(0.0, 1.0, 2.0, 4.0), per_class: int = 6):
    """Row k: digit k, the same noise at every guidance weight w (ε̃ = ε_u + w (ε_c − ε_u))."""
    rng = np.random.default_rng([recipe.config["seed"], 17])
    k = recipe.n_classes
    noise = recipe.noise(k * per_class, rng)
    labels = np.arange(k * per_class) // per_class                        # row k: class k
    grids = {}
    for w in weights:
        x, nfe = recipe.generate(noise, labels, guidance=w)
        grids[f"w = {w:g} ({nfe} evaluations)"] = recipe.to_unit(x[:, 0])
    return [viz.image_panels(grids, nrow=per_class, path=run_dir / "guidance.png",
                             title="classifier-free guidance: row k asks for digit k (w = 0: unconditional)")]


DRAW = {"reconstructions": reconstructions, "code_interpolation": code_interpolation, "latent_map": latent_map,
        "errors": errors, "samples_gif": samples_gif, "latent_interpolation": latent_interpolation, "ring": ring,
        "reverse_process": reverse_process, "loss_by_time": loss_by_time, "guidance_rows": guidance_rows}
