"""Scoring a trained run: what ``minigen eval RUN`` does.

1. Open the run from its directory (its best checkpoint, else its last) and evaluate it on its test set as the
   training loop does after every epoch (test loss, importance-weighted NLL, D's outputs, the ring's modes).
2. For a generator of images (the GANs): find the evaluator classifier (``minigen train classifier``), generate
   ``n`` images, and score them with ``minigen.metrics`` against the same number of real test images: Fréchet
   distance in the evaluator's feature space, classifier score, class shares, uncertain share, label accuracy
   when conditional; beside the same numbers for real images (n training images drawn at random against the
   test images: ``real_sample``), which say what a perfect generator would score with this evaluator; and draw
   the 64 least certain samples. Then
   the check for copies: each sample's pixel distance to its nearest training image against the test images'
   (``metrics.nearest_distances``, ``near_copy_share``), with the 8 samples nearest the training set drawn above
   their neighbours (nearest_train.png).
3. Redraw the recipe's final pictures and write everything to ``eval.json`` in the run directory.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import backend, data, pictures, viz
from .metrics import (class_shares, classifier_score, frechet_distance, gaussian_stats, label_accuracy,
                      least_certain, near_copy_share, nearest_distances, uncertain_share)
from .train import Run, open_run


LABELS = ("balanced", "data")            # the classes a conditional generator is asked for (evaluate_generator)


def evaluate_run(run_dir, evaluator=None, n_samples: int = 10_000, iw_samples: int | None = None,
                 sampling=None, out=None, draw: bool = True, labels: str = "balanced",
                 seed: int | None = None) -> dict:
    """Evaluate the run in ``run_dir`` (see the module docstring); returns the numbers written to eval.json.

    ``sampling(recipe)``, for diffusion and flow runs, sets the sampler and returns its description; their scores
    go to ``eval-SAMPLER-STEPS.json`` (``-wW`` with guidance, ``-iLO-HI`` with its interval), so evaluations of one
    run with different samplers sit side by side (``-nN`` when N ≠ 10,000 samples are scored). ``out`` names the
    file instead (a path as given, relative to the working directory; its directory must exist, checked before
    minutes of sampling). ``draw``: redraw the run's final pictures (off for a sweep over samplers). ``labels``,
    for a run conditioned on classes: the classes asked for (``evaluate_generator``; ``-ldata`` in the file name
    for "data"). ``seed``: another draw (noise, labels, the real sample) than the run's own seed (``-sSEED``)."""
    run = open_run(run_dir)
    if labels not in LABELS:
        raise ValueError(f"--labels must be one of {', '.join(LABELS)}, got {labels!r}")
    if labels != "balanced" and not asks_for_classes(run.recipe):
        raise ValueError(f"--labels {labels} needs a run conditioned on classes; {run_dir} is not")
    if seed == run.config["seed"]:
        seed = None                                       # the run's own draw, under its usual file name
    if seed is not None:
        run.config["seed"] = seed                         # noise, labels and real sample: evaluate_generator
    target = Path(out) if out is not None else None
    if target is not None and not target.parent.is_dir():
        raise FileNotFoundError(f"--out {out}: the directory {target.parent} does not exist")
    if target is not None and target.is_dir():
        raise ValueError(f"--out {out} is a directory; name the JSON file to write")
    recipe, config = run.recipe, run.config
    how = sampling(recipe) if sampling is not None else ""
    if hasattr(recipe, "set_sampling"):
        how = how or recipe.describe_sampling()
    name = eval_file_name(recipe, n_samples, labels, seed)
    if iw_samples:
        config["iw_samples"] = iw_samples
    test_set = data.load_dataset(config["dataset"], False, config.get("data_root"), config.get("limit"))
    classes = test_set.targets                 # the true classes, before a cluster run relabels the test set
    recipe.prepare(test_set, False)
    loader = data.DataLoader(test_set, 500, device=recipe.device, transform=recipe.transform(False),
                             seed=config["seed"] + 1)
    recipe.train(False)
    results = recipe.evaluate(loader)
    if getattr(recipe, "scored_by_evaluator", False) and config["dataset"] != "ring":
        results.update(evaluate_generator(run, evaluator, n_samples, test_set, draw=draw, test_labels=classes,
                                          labels=labels))
    if draw:
        test_x = recipe.transform(False)(test_set.data[:2000], np.random.default_rng(0))
        pictures.final(recipe, run.dir, test_x, test_set.targets[:2000])
    if how:
        results["sampling"] = how
    (target or run.dir / name).write_text(json.dumps(results, indent=2))
    return results


def eval_file_name(recipe, n_samples: int = 10_000, labels: str = "balanced", seed: int | None = None) -> str:
    """The file ``minigen eval`` writes its scores to in the run directory: ``eval.json``, or for a diffusion or
    flow run one per way of sampling, ``eval-SAMPLER-STEPS[-wW][-iLO-HI][-bW][-nN].json`` (``-nN`` when N ≠ 10,000
    samples); before ``.json``, ``-ldata`` for labels drawn by the data's shares and ``-sSEED`` for a seed other than
    the run's."""
    draw = ("-ldata" if labels == "data" else "") + (f"-s{seed}" if seed is not None else "")
    if not hasattr(recipe, "set_sampling"):
        return f"eval{draw}.json"
    n = f"-n{n_samples}" if n_samples != 10_000 else ""
    return f"eval-{recipe.describe_sampling(short=True)}{n}{draw}.json"


def find_evaluator(run_dir, dataset: str, evaluator=None) -> Path:
    """The evaluator run: ``evaluator`` if given, else $MINIGEN_EVALUATOR, else ``classifier-DATASET`` beside the
    run being scored, else ``runs/classifier-DATASET``."""
    if evaluator:
        candidates = [Path(evaluator)]
    else:
        candidates = ([Path(os.environ["MINIGEN_EVALUATOR"])] if os.environ.get("MINIGEN_EVALUATOR") else []) + \
            [Path(run_dir).parent / f"classifier-{dataset}", Path("runs") / f"classifier-{dataset}"]
    for path in candidates:
        if (path / "config.json").exists():
            return path
    raise FileNotFoundError(
        f"no evaluator classifier for {dataset!r}: looked in {', '.join(str(p) for p in candidates)}. Train one "
        f"with `minigen train classifier --dataset {dataset}` (it writes runs/classifier-{dataset}) or pass "
        f"--evaluator RUN_DIR")


def open_evaluator(path, dataset: str) -> Run:
    """The evaluator classifier's run, checked: a classifier, trained on ``dataset``."""
    judge = open_run(path)
    if judge.config["model"] != "classifier":
        raise ValueError(f"{path} is a {judge.config['model']!r} run, not an evaluator classifier")
    if judge.config["dataset"] != dataset:
        raise ValueError(f"the evaluator {path} was trained on {judge.config['dataset']!r}, this run on {dataset!r}")
    return judge


def generate(recipe, n: int, rng, labels=None, batch: int | None = None, progress: bool = True,
             label_rng=None) -> np.ndarray:
    """n samples of the recipe's generator, in batches (default: the recipe's ``sample_batch``, else 500), with
    a progress bar (a diffusion model's 10,000 samples take minutes): (n, 28, 28) in [0, 1]. ``label_rng``: the
    generator that draws the clusters of the requested classes (a run with clusters within classes)."""
    batch = batch or getattr(recipe, "sample_batch", 500)
    noise = recipe.noise(n, rng)
    parts = []
    with tqdm(total=n, desc=f"{recipe.name}: sampling", unit="image", disable=not progress) as bar:
        for i in range(0, n, batch):
            parts.append(recipe.sample(noise[i:i + batch], None if labels is None else labels[i:i + batch],
                                       rng=label_rng))
            bar.update(len(parts[-1]))
    return np.concatenate(parts)


def asks_for_classes(recipe) -> bool:
    """Whether the recipe's generator is asked for classes (a conditional GAN, DDPM or flow; a run with clusters
    within classes), not for k-means clusters alone (a cluster run) or nothing (unconditional, not a generator)."""
    return bool(getattr(recipe, "conditional", False) and getattr(recipe, "classes", True))


def requested_classes(n: int, n_classes: int, labels: str = "balanced", train_targets=None, seed: int = 0):
    """The classes asked of a conditional generator for n samples (``evaluate_generator``): "balanced", the
    classes in turn (0, 1, …, C−1, 0, 1, …: each n/C times); "data", each drawn at random (seeded) with its share of
    ``train_targets``, the training set's classes."""
    if labels == "balanced":
        return np.arange(n) % n_classes
    shares = np.bincount(np.asarray(train_targets), minlength=n_classes) / len(train_targets)
    return np.random.default_rng([seed, 96]).choice(n_classes, size=n, p=shares)


def real_sample(images, n: int, seed: int):
    """n of ``images`` drawn at random without replacement (seeded), in their stored order: the real data a
    generator's scores are set beside. Not simply the first n: files are not always shuffled. With the committed
    evaluator, MNIST's six blocks of 10,000 training images score FID 5.28, 4.60, 3.84, 4.78, 4.80, 4.98 against
    its test set, four random draws of 10,000 of the 60,000 score 3.4–4.1."""
    pick = np.random.default_rng([seed, 97]).choice(len(images), size=min(n, len(images)), replace=False)
    return images[np.sort(pick)]


def evaluate_generator(run: Run, evaluator=None, n: int = 10_000, test=None, draw: bool = True,
                       test_labels=None, labels: str = "balanced") -> dict:
    """Score ``run``'s generator with the evaluator classifier (see the module docstring, step 2); ``test``: the
    run's test set, if the caller has loaded it already, and ``test_labels`` its true classes if its targets are
    not (a cluster run's); ``draw``: redraw least_certain.png from these samples (off for a sweep: the picture
    stays the one of the run's own sampler).

    ``labels``, for a run conditioned on classes: "balanced" asks for every class equally often (n/C each, the
    GAN table's protocol); "data" draws each label at random with its share of the training set, so the samples
    follow the data's own mixture Σ_c p(c) p(x | c), as the test images do (MNIST's test set holds 11.4 % 1s and
    8.9 % 5s: balanced real images score a few tenths of FID worse than a random draw of them)."""
    config, recipe = run.config, run.recipe
    path = find_evaluator(run.dir, config["dataset"], evaluator)
    judge = open_evaluator(path, config["dataset"])
    if test is None:
        test = data.load_dataset(config["dataset"], False, config.get("data_root"), config.get("limit"))
    train = data.load_dataset(config["dataset"], True, config.get("data_root"), config.get("limit"))
    n = min(n, len(test), len(train))
    rng = np.random.default_rng([config["seed"], 99])
    recipe.train(False)
    classes = asks_for_classes(recipe)
    requested, label_rng = None, None
    if classes:
        requested = requested_classes(n, recipe.n_classes, labels, train.targets, config["seed"])
        if getattr(recipe, "clusters", None) is not None:      # clusters within classes: drawn at random
            label_rng = np.random.default_rng([config["seed"], 98])
    elif recipe.conditional:             # a cluster run: clusters by their shares (own generator: the same noise)
        requested = recipe.labels(n, rng=np.random.default_rng([config["seed"], 98]))
    started = time.time()
    generated = generate(recipe, n, rng, requested, label_rng=label_rng)   # (n, 28, 28) in [0, 1]
    seconds = time.time() - started
    to_input = judge.recipe.transform(False)
    f_gen, p_gen = judge.recipe.predict(generated)
    f_test, p_test = judge.recipe.predict(to_input(test.data[:n], rng))
    f_train, _ = judge.recipe.predict(to_input(real_sample(train.data, n, config["seed"]), rng))
    mu_test, sigma_test = gaussian_stats(f_test)
    shares = class_shares(p_gen)
    out = {"evaluator": str(path), "n": n,
           "fid": frechet_distance(*gaussian_stats(f_gen), mu_test, sigma_test),
           "classifier_score": classifier_score(p_gen),
           "class_shares": [round(s, 4) for s in shares],
           "min_share": min(shares), "max_share": max(shares), "uncertain_share": uncertain_share(p_gen)}
    if getattr(recipe, "last_nfe", None) is not None:          # diffusion and flow: what the samples cost
        out["nfe_per_sample"] = recipe.last_nfe
    out["sampling_seconds"] = round(seconds, 1)
    if classes:
        out["labels"] = labels
        out["label_accuracy"] = label_accuracy(p_gen, backend.on_device(requested, judge.recipe.device))
    truth = backend.on_device((test.targets if test_labels is None else test_labels)[:n], judge.recipe.device)
    out.update({"real_fid_train_vs_test": frechet_distance(*gaussian_stats(f_train), mu_test, sigma_test),
                "real_classifier_score": classifier_score(p_test),
                "real_class_shares": [round(s, 4) for s in class_shares(p_test)],
                "real_accuracy": label_accuracy(p_test, truth),
                "real_uncertain_share": uncertain_share(p_test)})
    # copies of the training set? pixel distances in [0, 1] units, the test images as the novel reference
    train_pixels = train.data.reshape(len(train.data), -1).astype(np.float32) / 255
    d_gen, nearest = nearest_distances(generated.reshape(n, -1), train_pixels, return_index=True)   # (n,), (n,)
    d_test = nearest_distances(test.data[:n].reshape(n, -1).astype(np.float32) / 255, train_pixels)
    out.update({"nearest_train_distance": float(np.median(d_gen)),
                "real_nearest_train_distance": float(np.median(d_test)),
                "near_copy_share": near_copy_share(d_gen, d_test)})
    if draw:
        viz.image_grid(generated[least_certain(p_gen)], nrow=8, path=Path(run.dir) / "least_certain.png",
                       title=f"the {min(64, n)} least certain of {n:,} samples")
        closest = np.argsort(d_gen, kind="stable")[:8]
        neighbours = train_pixels[nearest[closest]].reshape(generated[closest].shape)
        viz.image_grid(np.concatenate([generated[closest], neighbours]),
                       nrow=len(closest), path=Path(run.dir) / "nearest_train.png",
                       title="the samples nearest a training image (top) and that image (bottom)")
    return out


def series_label(run_name: str, results: dict) -> str:
    """The line an eval file belongs to in ``quality_vs_nfe``: run, sampler, the guidance part of its sampling
    description (last in it, interval included: 'guidance 2 for t in [0, 0.5]') and sample size."""
    how = results.get("sampling", "")
    sampler, at = how.split(",")[0], how.find("guidance")
    return f"{run_name}: {sampler}" + (f" ({how[at:]})" if at >= 0 else "") + f", n = {results['n']:,}"


def quality_vs_nfe(run_dirs, path) -> Path:
    """One picture of every ``eval-*.json`` in ``run_dirs``: FID and classifier score against the network
    evaluations per sample, one line per (run, sampler, guidance, sample size); the real-data values of the
    largest sample size as a floor (FID is biased upwards for small samples: compare points of one n)."""
    series, floor = {}, {}
    for run_dir in map(Path, run_dirs):
        for f in sorted(run_dir.glob("eval-*.json")):
            r = json.loads(f.read_text())
            if "nfe_per_sample" not in r:
                continue
            point = (r["nfe_per_sample"], r["fid"], r["classifier_score"])
            series.setdefault(series_label(run_dir.name, r), []).append(point)
            if r["n"] >= floor.get("n", 0):          # the real-data floor of the largest sample (FID falls with n)
                floor = {"fid": r["real_fid_train_vs_test"], "score": r["real_classifier_score"], "n": r["n"]}
    if not series:
        raise FileNotFoundError(f"no eval-*.json with network evaluations in {', '.join(map(str, run_dirs))}: "
                                f"run `minigen eval RUN --steps S` first")
    return viz.quality_vs_nfe(series, path, floor=floor)
