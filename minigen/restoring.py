"""``minigen restore``: degrade images in a known way, restore them with a trained diffusion or flow run, measure.

Tasks (images in [−1, 1] inside, [0, 1] in files and pictures):

    inpaint   a mask of known pixels: ``bottom`` (the lower half unknown), ``center`` (the central 14×14),
              ``left`` (the left half), ``random:P`` (a fraction P of the pixels unknown, drawn once per image)
    upscale   ×2 (14×14 → 28×28) or ×4 (7×7 → 28×28); the low-resolution image is the mean of each block
    denoise   y = x + σ n, n ~ N(0, I), σ on the [−1, 1] scale

The methods are ``models.restoration``'s: ``replace``, ``repaint``, ``ddnm`` or ``ddnm+`` (DDNM with RePaint's
resampling) for inpainting, ``projection``, ``ddnm``, ``ddnm+`` or ``subgrid`` for upscaling, ``sdedit`` for
denoising; and, to measure them against, the trivial baselines of ``baselines``: ``mean`` (inpainting),
``nearest``, ``bilinear``, ``bicubic`` (upscaling), ``noisy``, ``blur`` (denoising), which use the run only for
its dataset. ``--samples K`` restores every input K times with different noise: the model is generative, and the
spread of its answers shows what the observation leaves open.

Measurements (``restore.json``), against the clean images when they are known (``--test-images``): PSNR in dB on
the [0, 1] scale, 10 log₁₀(1 / mean squared error) per image, averaged; SSIM (``metrics.ssim``: local means,
contrasts and correlation in 11×11 Gaussian windows) per image, averaged; and with the evaluator classifier of the
run's dataset, the accuracy of its predictions on the restored images against the true labels and the share of
restored images it is unsure of (top probability below 0.9, as for the GANs), and from 500 images up the Fréchet
distance of the restored set to the test set in the evaluator's feature space.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import backend, data, metrics, viz
from .baselines import BASELINES, baseline
from .creation import tensor
from .evaluation import find_evaluator, open_evaluator
from .models import restoration as R
from .models.restoration import degrade, make_mask
from .runs import new_run_dir
from .train import open_run

TASKS = ("inpaint", "upscale", "denoise")
# The first of each task is the command's default: DDNM, the best on MNIST (docs/figures/restoration/restore-table.md)
GENERATIVE = {"inpaint": ("ddnm", "ddnm+", "replace", "repaint"), "upscale": ("ddnm", "ddnm+", "projection", "subgrid"),
              "denoise": ("sdedit",)}
METHODS = {task: GENERATIVE[task] + BASELINES[task] for task in TASKS}


def process_of(run):
    """The reverse process of a ddpm or flow run (``models.restoration``), with the weights that draw samples."""
    recipe = run.recipe
    if recipe.name == "ddpm":
        return R.DiffusionProcess(recipe.network, recipe.schedule, eta=recipe.option("eta") or 0.0)
    if recipe.name == "flow":
        return R.FlowProcess(recipe.network)
    raise ValueError(f"restore needs a ddpm or flow run; {run.dir} is a {recipe.name!r} run")


def restore(run, task: str, observation: np.ndarray, method: str | None = None, steps: int = 50, seed: int = 0,
            mask=None, scale: int = 2, sigma: float = 0.5, repaint=(10, 5), samples: int = 1,
            batch: int = 100, eta: float = 1.0) -> np.ndarray:
    """Restorations (N, samples, 1, 28, 28) in [−1, 1] of an observation, restoration k of every image with seed
    (seed, k) so that a batch split changes nothing. ``eta``: DDNM's fresh noise per step (0 … 1)."""
    if task not in TASKS:
        raise ValueError(f"restore: unknown task {task!r}; choose {', '.join(TASKS)}")
    method = check_method(task, method)
    process, device = process_of(run), run.recipe.device
    out = []
    for k in range(samples):
        parts = []
        for i in range(0, len(observation), batch):
            y = tensor(observation[i:i + batch], device=device)
            s = int(np.random.SeedSequence([seed, k, i]).generate_state(1)[0])
            if task == "inpaint":
                m = mask[i:i + batch]
                x = R.inpaint(process, y, m, steps, s, repaint=repaint if method in ("repaint", "ddnm+") else None,
                              null_space=method.startswith("ddnm"), eta=eta)
            elif task == "upscale":
                x = R.upscale(process, y, scale, steps, s, method=method.rstrip("+"), eta=eta,
                              repaint=repaint if method == "ddnm+" else None)
            else:
                x = R.denoise(process, y, sigma, steps, s)
            parts.append(backend.to_numpy(x.data))
        out.append(np.concatenate(parts))
    return np.clip(np.stack(out, axis=1), -1, 1)


def check_method(task: str, method: str | None) -> str:
    """The method, or the task's default (the first generative one), checked against the task."""
    if task not in TASKS:
        raise ValueError(f"restore: unknown task {task!r}; choose {', '.join(TASKS)}")
    method = method or METHODS[task][0]
    if method not in METHODS[task]:
        raise ValueError(f"restore: {task} has no method {method!r}; choose {', '.join(METHODS[task])}")
    return method


def check_regression(run, task, method, mask_spec, scale, sigma) -> str:
    """A regression run restores only the degradation it was trained on: the same task and setting."""
    if method not in (None, "regression"):
        raise ValueError(f"restore: {run.dir} is a regression network; it has no method {method!r}")
    asked = {"task": task, **({"mask": mask_spec} if task == "inpaint" else {}),
             **({"scale": scale} if task == "upscale" else {}), **({"sigma": sigma} if task == "denoise" else {})}
    trained = run.recipe.setting()
    if asked != trained:
        raise ValueError(f"restore: {run.dir} was trained for {trained}, not {asked}")
    return "regression"


def to_unit(x):
    return np.clip((np.asarray(x) + 1) / 2, 0, 1)


def shown(task: str, observation: np.ndarray, mask=None, scale: int = 2) -> np.ndarray:
    """How an observation is drawn (N, 28, 28) in [0, 1]: unknown pixels mid-grey, low resolution as blocks."""
    if task == "inpaint":
        return to_unit(np.where(mask > 0, observation, 0.0))[:, 0] * mask[:, 0] + 0.5 * (1 - mask[:, 0])
    if task == "upscale":
        return to_unit(R.upsample(tensor(observation), scale).numpy())[:, 0]
    return to_unit(observation)[:, 0]


def psnr(restored: np.ndarray, clean: np.ndarray) -> float:
    """Mean over images of 10 log₁₀(1 / MSE) on the [0, 1] scale: (N, …) against (N, …)."""
    a, b = to_unit(restored).reshape(len(restored), -1), to_unit(clean).reshape(len(clean), -1)
    mse = np.maximum(((a - b) ** 2).mean(axis=1), 1e-10)
    return float(np.mean(10 * np.log10(1 / mse)))


def score(images01: np.ndarray, labels, judge, test01: np.ndarray | None = None) -> dict:
    """The evaluator's accuracy and uncertain share on images (N, 28, 28) in [0, 1], and FID against test images
    when there are at least 500."""
    features, probs = judge.recipe.predict(images01)
    out = {"uncertain_share": metrics.uncertain_share(probs)}
    if labels is not None:
        out["accuracy"] = metrics.label_accuracy(probs, backend.on_device(labels, judge.recipe.device))
    if test01 is not None and len(images01) >= 500:
        f_test, _ = judge.recipe.predict(test01)
        out["fid"] = metrics.frechet_distance(*metrics.gaussian_stats(features), *metrics.gaussian_stats(f_test))
    return out


def run_restore(run_dir, task: str, out, mask_spec: str = "bottom", scale: int = 2, sigma: float = 0.5,
                method: str | None = None, steps: int = 50, samples: int = 1, seed: int = 0, test_images=None,
                input_file=None, evaluator=None, repaint=(10, 5), eta: float = 1.0) -> Path:
    """What ``minigen restore`` does: observations from ``input_file`` or from the first ``test_images`` test
    images, restored ``samples`` times, written with pictures and measurements into a new directory ``out``."""
    run = open_run(run_dir)
    run.recipe.train(False)
    config = run.config
    if config["dataset"] == "ring":
        raise ValueError("restore works on images; this run was trained on the 2-D ring")
    rng = np.random.default_rng(seed)
    clean, labels = None, None
    if test_images:
        test = data.load_dataset(config["dataset"], False, config.get("data_root"))
        clean = (test.data[:test_images].astype(np.float32) / 255 * 2 - 1)[:, None]       # (N, 1, 28, 28)
        labels = test.targets[:test_images]
        n = len(clean)
    elif input_file is not None:
        loaded = load_images(input_file)                                                   # (N, 1, H, W) in [0, 1]
        n = len(loaded)
    else:
        raise ValueError("restore: give --input FILE or --test-images N")
    mask = make_mask(mask_spec, n, rng) if task == "inpaint" else None
    if task == "upscale" and 28 % scale:
        raise ValueError(f"restore: --scale must divide 28, got {scale}")
    if task == "denoise" and sigma < 0:
        raise ValueError(f"restore: --sigma must be ≥ 0, got {sigma}")
    if clean is not None:
        observation = degrade(task, clean, rng, mask, scale, sigma)
    else:
        observation = loaded * 2 - 1
        want = (28 // scale, 28 // scale) if task == "upscale" else (28, 28)
        if observation.shape[2:] != want:
            raise ValueError(f"restore: {task}{f' ×{scale}' if task == 'upscale' else ''} needs {want[0]}×{want[1]} "
                             f"images, {input_file} holds {observation.shape[2]}×{observation.shape[3]}")
    details = {}
    if run.recipe.name == "regression":                            # a task-specific network: its own setting only
        method = check_regression(run, task, method, mask_spec, scale, sigma)
        restored, samples = run.recipe.restore(observation)[:, None], 1
    elif (method := check_method(task, method)) in BASELINES[task]:   # deterministic: one restoration per image
        train = data.load_dataset(config["dataset"], True, config.get("data_root"))
        train_images = (train.data.astype(np.float32) / 255 * 2 - 1)[:, None]
        restored, details = baseline(task, method, observation, mask=mask, scale=scale, sigma=sigma,
                                     train_images=train_images)
        restored, samples = restored[:, None], 1
    else:
        process_of(run)                                            # a ddpm or flow run, or a clear error
        restored = restore(run, task, observation, method, steps, seed, mask, scale, sigma, repaint, samples,
                           eta=eta)
        if method.startswith("ddnm"):
            details = {"eta": eta, **({"jump": repaint[0], "repeats": repaint[1]} if method == "ddnm+" else {})}
    out = new_run_dir(out)
    np.save(out / "degraded.npy", to_unit(observation).astype(np.float32))
    np.save(out / "restored.npy", to_unit(restored[:, 0]).astype(np.float32))
    if samples > 1:
        np.save(out / "restored_all.npy", to_unit(restored).astype(np.float32))   # (N, K, 1, 28, 28)
    if labels is not None:
        np.save(out / "labels.npy", labels)
    results = {"run": str(run_dir), "task": task, "method": method, **details, "steps": steps, "n": n,
               "samples": samples, "seed": seed, **({"mask": mask_spec} if task == "inpaint" else {}),
               **({"scale": scale} if task == "upscale" else {}), **({"sigma": sigma} if task == "denoise" else {})}
    if clean is not None:
        results["psnr"] = psnr(restored[:, 0], clean)
        results["ssim"] = float(metrics.ssim(to_unit(restored[:, 0])[:, 0], to_unit(clean)[:, 0]).mean())
        try:
            judge = open_evaluator(find_evaluator(run.dir, config["dataset"], evaluator), config["dataset"])
        except FileNotFoundError as e:
            results["evaluator"] = f"not scored: {e}"
        else:
            test01 = to_unit(clean)[:, 0]
            results.update(score(to_unit(restored[:, 0])[:, 0], labels, judge, test01))
    (out / "restore.json").write_text(json.dumps(results, indent=2))
    rows = min(n, 8)
    columns = [shown(task, observation[:rows], mask[:rows] if mask is not None else None, scale)[:, None]]
    columns.append(to_unit(restored[:rows, :, 0]))
    if clean is not None:
        columns.append(to_unit(clean[:rows]))
    grid = np.concatenate(columns, axis=1)                                                 # (rows, cols, 28, 28)
    title = (f"{task} ({results['method']}): degraded | {samples} restoration{'s' if samples > 1 else ''}"
             + (" | truth" if clean is not None else ""))
    viz.interpolation(grid, path=out / "restore.png", title=title)
    return out


def load_images(path) -> np.ndarray:
    """Images from a .npy (N, 1, H, W) or (N, H, W) in [0, 1], or a greyscale .png (one image): (N, 1, H, W)."""
    path = Path(path)
    if path.suffix == ".npy":
        x = np.load(path, allow_pickle=False).astype(np.float32)
    elif path.suffix == ".png":
        import matplotlib.image as mpimg
        x = mpimg.imread(path).astype(np.float32)
        x = x[..., :3].mean(axis=-1) if x.ndim == 3 else x
        x = x[None]
    else:
        raise ValueError(f"restore: --input must be a .npy or .png file, got {path.name}")
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"restore: --input must hold images (N, 1, H, W) or (N, H, W), got shape {x.shape}")
    return x


def setting_of(r: dict) -> str:
    """A restore.json's task and setting in words: 'inpaint bottom', 'upscale ×4', 'denoise σ=0.5'."""
    return {"inpaint": lambda: f"inpaint {r.get('mask')}", "upscale": lambda: f"upscale ×{r.get('scale')}",
            "denoise": lambda: f"denoise σ={r.get('sigma')}"}[r["task"]]()


def summarize(result_dirs, out) -> Path:
    """The measurements of many ``minigen restore`` directories in one table (``restore-table.md``, one row per
    setting and method, best of each column in bold) and one perception–distortion picture per task
    (``perception-distortion-TASK.png``: PSNR against FID, a panel per setting), written into ``out``."""
    rows = []
    for d in map(Path, result_dirs):
        f = d / "restore.json"
        if not f.exists():
            raise FileNotFoundError(f"{d} holds no restore.json (a `minigen restore` output directory)")
        r = json.loads(f.read_text())
        label = r["method"] + ("" if r["method"] in BASELINES[r["task"]] or r["method"] == "regression"
                               else f" ({Path(r['run']).name}, {r['steps']} steps"
                               + (f", η = {r['eta']:g}" if "eta" in r else "") + ")")
        short = r["method"] + (f" η={r['eta']:g}" if "eta" in r else "")             # the pictures' label
        rows.append({"setting": setting_of(r), "task": r["task"], "method": label, "short": short, "n": r["n"],
                     **{k: r.get(k) for k in ("psnr", "ssim", "accuracy", "uncertain_share", "fid")}})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| setting | method | images | PSNR (dB) ↑ | SSIM ↑ | accuracy ↑ | uncertain ↓ | FID ↓ |",
             "|---|---|---|---|---|---|---|---|"]
    best = {}
    for s in {r["setting"] for r in rows}:
        group = [r for r in rows if r["setting"] == s]
        for key, pick in (("psnr", max), ("ssim", max), ("accuracy", max), ("uncertain_share", min), ("fid", min)):
            values = [r[key] for r in group if r[key] is not None]
            best[s, key] = pick(values) if values else None

    def cell(r, key, fmt):
        v = r[key]
        if v is None:
            return "–"
        text = fmt.format(v)
        return f"**{text}**" if v == best[r["setting"], key] else text

    for r in sorted(rows, key=lambda r: (r["setting"], r["method"])):
        lines.append(f"| {r['setting']} | {r['method']} | {r['n']:,} | {cell(r, 'psnr', '{:.2f}')} | "
                     f"{cell(r, 'ssim', '{:.3f}')} | "
                     f"{cell(r, 'accuracy', '{:.1%}')} | {cell(r, 'uncertain_share', '{:.1%}')} | "
                     f"{cell(r, 'fid', '{:.1f}')} |")
    (out / "restore-table.md").write_text("\n".join(lines) + "\n")
    for task in sorted({r["task"] for r in rows}):
        measured = [r for r in rows if r["task"] == task and r["psnr"] is not None and r["fid"] is not None]
        panels = {}                                        # one panel per setting: mask, scale or σ
        for r in measured:
            panels.setdefault(r["setting"], []).append((r["short"], r["psnr"], r["fid"]))
        if panels:
            viz.perception_distortion_panels(panels, out / f"perception-distortion-{task}.png",
                                             title=f"{task}: distortion (PSNR) against perception (FID)")
    return out / "restore-table.md"
