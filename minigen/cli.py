"""The command line: ``minigen train | sample | eval | export | restore | restore-table | compare | bench | demo``:
the top of the library, importing from every layer below it and imported by none."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from . import bench, demo, viz
from .data import DATASETS
from .evaluation import LABELS, evaluate_run, quality_vs_nfe
from .models.clusters import FEATURES
from .recipes import RECIPES
from .recipes.diffusion import SAMPLING_OPTIONS
from .runs import new_run_dir
from .train import TrainingDiverged, export_run, open_run, train


def _demo(args) -> int:
    out = new_run_dir(args.out)
    params, losses, x, y = demo.train(steps=args.steps, seed=args.seed, device=args.device)
    acc = demo.accuracy(params, x, y, args.device)
    picture = out / "spirals.png"
    demo.plot(params, losses, x, y, picture, args.device)
    print(f"final loss {losses[-1]:.4f}, training accuracy {acc:.1%}; picture written to {picture}")
    return 0


def _bench(args) -> int:
    bench.run(device=args.device, workloads=args.workloads or None, repeats=args.repeats, memory=args.memory,
              rounds=args.rounds)
    return 0


def _train(args) -> int:
    options = {k: getattr(args, k) for k in ("latent_dim", "arch", "binarize", "iw_samples", "lr_decay", "lr_d",
                                             "width", "ema", "time_limit", "conditional", "clusters", "attention",
                                             "cluster_features", "time_sampling", "t_max",
                                             "schedule", "p_uncond", "warmup", "sampler", "steps", "eta",
                                             "guidance", "guidance_interval", "guidance_below",
                                             "task", "mask", "scale", "sigma")}
    given = [f"--{k.replace('_', '-')}" for k in ("classifier", "classifier_scale", "classifier_interval")
             if getattr(args, k) is not None]
    if given:                               # a path stored at training time would not survive the run moving
        raise SystemExit(f"minigen train: {'/'.join(given)} apply when sampling (minigen sample, eval, export), "
                         f"not to training")
    if getattr(args, "command_line", None):
        options["command"] = args.command_line
    if args.channels:
        options["channels"] = [int(c) for c in args.channels.split(",")]
    if args.hidden:
        options["hidden"] = [int(h) for h in args.hidden.split(",")]
    try:
        run_dir = train(args.model, args.dataset, args.epochs, args.batch_size, args.lr, args.device, args.seed,
                        args.out, args.resume, args.data, args.limit, progress=not args.quiet, **options)
    except TrainingDiverged as e:
        print(f"minigen train: {e}", file=sys.stderr)
        return 1
    except ValueError as e:                     # an option the recipe refuses (e.g. a sampler of another family)
        raise SystemExit(f"minigen train: {e}") from None
    except KeyboardInterrupt:
        return 130
    print(f"run written to {run_dir}")
    return 0


def _export(args) -> int:
    try:
        sampling = {k: getattr(args, k) for k in SAMPLING_OPTIONS if getattr(args, k) is not None}
        out = export_run(args.run_dir, args.out, args.train_command, sampling)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"minigen export: {e}") from None
    size = sum(p.stat().st_size for p in out.iterdir()) / 2 ** 20
    print(f"exported {args.run_dir} to {out} ({size:.1f} MB)")
    return 0


def _restore(args) -> int:
    from .restoring import run_restore
    try:
        out = run_restore(args.run_dir, args.task, args.out, args.mask, args.scale, args.sigma, args.method,
                          args.steps, args.samples, args.seed, args.test_images, args.input, args.evaluator,
                          (args.jump, args.repeats), args.eta)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"minigen restore: {str(e).removeprefix('restore: ')}") from None
    results = json.loads((out / "restore.json").read_text())
    shown = {k: v for k, v in results.items() if isinstance(v, float)}
    print(f"restorations written to {out}" + ("".join(f", {k} {v:.4g}" for k, v in shown.items())))
    return 0


def _restore_table(args) -> int:
    from .restoring import summarize
    try:
        path = summarize(args.result_dirs, args.out)
    except FileNotFoundError as e:
        raise SystemExit(f"minigen restore-table: {e}") from None
    print(path.read_text(), end="")
    print(f"written to {path}")
    return 0


def _compare(args) -> int:
    try:
        path = quality_vs_nfe(args.run_dirs, args.out)
    except FileNotFoundError as e:
        raise SystemExit(f"minigen compare: {e}") from None
    print(f"quality against NFE written to {path}")
    return 0


def _open_run(run_dir):
    try:
        return open_run(run_dir)
    except FileNotFoundError as e:
        raise SystemExit(f"minigen: {e}") from None


def _set_sampling(recipe, args, command: str) -> str:
    """Apply --sampler/--steps/--eta/--guidance/--guidance-interval/--guidance-below to a diffusion or flow run
    (an error for other runs); returns a description of the sampler for titles and messages ('' for GANs)."""
    given = {k: getattr(args, k) for k in SAMPLING_OPTIONS if getattr(args, k) is not None}
    if not hasattr(recipe, "set_sampling"):
        if given:
            flags = "/".join("--" + k.replace("_", "-") for k in given)
            raise SystemExit(f"minigen {command}: {flags} apply to ddpm and flow runs; this is a "
                             f"{recipe.name!r} run")
        return ""
    try:
        recipe.set_sampling(**given)
        if hasattr(recipe, "guide"):
            recipe.guide()                  # the run's own classifier, if it has one, found before any sampling
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"minigen {command}: {e}") from None
    return recipe.describe_sampling()


def _sample(args) -> int:
    run = _open_run(args.run_dir)
    recipe = run.recipe
    recipe.train(False)
    how = _set_sampling(recipe, args, "sample")
    out = args.out or str(run.dir / "samples.png")
    if not out.endswith((".png", ".npy")):
        raise SystemExit(f"minigen sample: --out must end in .png or .npy, got {out!r}")
    rng = np.random.default_rng(args.seed)
    noise = recipe.noise(args.n, rng)
    labels = args.label
    if labels is None and getattr(recipe, "clusters", None) is not None:
        labels = recipe.labels(args.n, rng=rng)                         # a cluster run: clusters drawn with --seed
    try:
        images = recipe.sample(noise, labels=labels, rng=rng)          # (N, 28, 28) in [0, 1]
    except ValueError as e:
        raise SystemExit(f"minigen sample: {e}") from None
    if out.endswith(".npy"):                                            # float32 (N, 1, 28, 28) in [0, 1]
        np.save(out, images.astype(np.float32)[:, None] if images.ndim == 3 else images.astype(np.float32))
    else:
        title = f"{run.config['model']}: {args.n} samples" + (f" ({how})" if how else "")
        viz.image_grid(images, title=title, path=out)
    nfe = getattr(recipe, "last_nfe", None)
    print(f"{args.n} samples written to {out}" + (f" ({how}: {nfe} network evaluations per sample)" if how else ""))
    return 0


def _eval(args) -> int:
    try:
        results = evaluate_run(args.run_dir, args.evaluator, args.n_samples, args.iw_samples,
                               sampling=lambda recipe: _set_sampling(recipe, args, "eval"), out=args.out,
                               draw=args.pictures, labels=args.labels, seed=args.seed)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"minigen eval: {e}") from None
    for k, v in results.items():
        print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    return 0


def _bench_description() -> str:
    return ("Time fixed float32 workloads: W1 conv2d fwd+bwd, x (64, 64, 14, 14), w (128, 64, 5, 5), stride 2, "
            "padding 2; W2 conv_transpose2d fwd+bwd, x (64, 128, 7, 7), w (128, 64, 5, 5), stride 2, padding 2, "
            "output_padding 1; W3 one DCGAN training step, batch 256; W4 one VAE training step, batch 128; W5 one "
            "training step of a small diffusion U-Net (1.84 M parameters), batch 128; W6 one sampling call of that "
            "U-Net, batch 256. Each is reported as a median time, GFLOP/s and a fraction of NumPy's own matmul "
            "rate where defined, the peak memory of its first steps, and against PyTorch on the same machine when "
            "it is installed (each library timed in blocks of its own, alternating). The networks are described "
            "in minigen/bench/.")


def _sampling_options(parser, what: str = "") -> None:
    group = parser.add_argument_group("sampling", what or None)
    group.add_argument("--sampler", choices=("ddpm", "ddim", "euler", "heun"),
                       help="ddpm runs: ddpm (ancestral) or ddim (default); flow runs: euler or heun (default)")
    group.add_argument("--steps", type=int, help="ddpm, flow: sampling steps (default: the run's; ddpm 50, flow 25); "
                       "heun evaluates the network 2*steps-1 times, guidance doubles every evaluation")
    group.add_argument("--eta", type=float, help="ddim: 0 deterministic (default), 1 as ancestral sampling")
    group.add_argument("--guidance", type=float, help="conditional ddpm, flow: w in e_u + w (e_c - e_u); 1 is the "
                        "plain conditional model, 0 the unconditional one, above 1 sharper and less varied")
    group.add_argument("--guidance-interval", type=float, nargs=2, metavar=("LO", "HI"),
                       help="conditional ddpm, flow: guide only at noise levels t in [LO, HI] (t from 0, data, to 1, "
                       "pure noise; ddpm: step/1000), the plain conditional model elsewhere; e.g. 0 0.5 guides the "
                       "last half of sampling only")
    group.add_argument("--guidance-below", type=float, metavar="W",
                       help="conditional ddpm, flow, with --guidance-interval: the weight at noise levels below LO "
                       "(default 1, the conditional model; 0 the unconditional one, one evaluation; below 0 away "
                       "from the label)")
    group.add_argument("--classifier", metavar="RUN",
                       help="flow runs conditioned on classes: classifier guidance by a noisy-classifier run (minigen "
                       "train noisy-classifier): v - s t/(1-t) grad log p(label | x_t)")
    group.add_argument("--classifier-scale", type=float, metavar="S",
                       help="with --classifier: the scale s of its push (default 1: Bayes' rule exactly)")
    group.add_argument("--classifier-interval", type=float, nargs=2, metavar=("LO", "HI"),
                       help="with --classifier: push only at noise levels t in [LO, HI], HI < 1 (default 0.2 0.7)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minigen", description="minigen: a small deep-learning library")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model; writes a run directory with checkpoints and pictures")
    train.add_argument("model", nargs="?", choices=sorted(RECIPES), help="what to train")
    train.add_argument("--dataset", default="digits", choices=DATASETS)
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--lr-decay", type=float, help="multiply the learning rate by this after every epoch")
    train.add_argument("--time-limit", type=float,
                       help="stop once this many minutes of training have passed (in total, across resumes), "
                       "mid-epoch if need be: checkpoint_last.npz is saved there and --resume continues from it")
    train.add_argument("--device", default="cpu", help="cpu or cuda")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", help="run directory (default runs/MODEL-DATASET; never overwritten)")
    train.add_argument("--resume", help="a run directory to continue exactly where it stopped (--epochs, --time-limit "
                       "and --lr-decay may change)")
    train.add_argument("--data", help="folder holding mnist/, fashion-mnist/ (default: $MINIGEN_DATA, data/)")
    train.add_argument("--limit", type=int, help="use only the first N images (quick checks)")
    train.add_argument("--latent-dim", type=int)
    train.add_argument("--hidden", help="hidden sizes, comma-separated (MLP models), e.g. 512,512; "
                       "DCGAN, WGAN-GP: one fully connected layer in each network, e.g. 1024")
    train.add_argument("--arch", choices=("mlp", "conv", "5x5", "421"),
                       help="AE/VAE: mlp or conv; DCGAN family: 5x5 (5x5 kernels, stride 1 then 2) or 421 "
                       "(4x4 kernels, stride 2, padding 1)")
    train.add_argument("--width", type=int, help="DCGAN family, classifier, noisy-classifier: channels of the "
                       "first conv layer")
    train.add_argument("--t-max", type=float, help="noisy-classifier: train on noise levels t in [0, T_MAX) of the "
                       "flow's path (default 0.9)")
    train.add_argument("--lr-d", type=float, help="GANs: the discriminator's (critic's) learning rate; --lr is G's")
    train.add_argument("--ema", type=float, help="GANs: sample from a running average of G's weights, e.g. 0.999")
    train.add_argument("--conditional", action="store_true", default=None,
                       help="ddpm, flow: condition on the class label (dropped with probability --p-uncond, for "
                       "classifier-free guidance)")
    train.add_argument("--clusters", type=int, metavar="K",
                       help="ddpm, flow: condition on K k-means clusters of the training images instead of labels "
                            "and sample clusters by their shares: an unconditional generator (no label is used). "
                            "With --conditional: K clusters within each class; the network is told class and "
                            "cluster, the user asks for a class")
    train.add_argument("--cluster-features", choices=FEATURES,
                       help="ddpm, flow with --clusters: what k-means compares, the pixels (default) or the images "
                            "sheared upright (deskewed: clusters closer to the digits)")
    train.add_argument("--p-uncond", type=float, help="ddpm, flow: probability of dropping the label (default 0.1)")
    train.add_argument("--time-sampling", choices=["uniform", "logit-normal"],
                       help="flow: how training draws the time t: uniform on [0, 1] (default) or logit-normal "
                            "(t = sigmoid(n), n standard normal: the middle of the path more often)")
    train.add_argument("--channels", help="ddpm, flow: U-Net widths at 28, 14 and 7 pixels, e.g. 32,64,64")
    train.add_argument("--attention", action=argparse.BooleanOptionalAction, default=None,
                       help="ddpm, flow: self-attention at 7x7 in the U-Net's middle")
    train.add_argument("--schedule", choices=("linear", "cosine"), help="ddpm: the noise schedule (default linear)")
    train.add_argument("--warmup", type=int, help="ddpm, flow: steps of linear learning-rate warm-up (default 200)")
    _sampling_options(train, "ddpm, flow: how the run samples (its per-epoch pictures; the default of `minigen "
                      "sample` and `minigen eval`)")
    regression = train.add_argument_group("regression", "a task-specific restorer (what `minigen restore` measures "
                                          "the generative restorers against)")
    regression.add_argument("--task", choices=("inpaint", "upscale", "denoise"), help="the degradation to undo")
    regression.add_argument("--mask", help="inpaint: bottom, center, left or random:P")
    regression.add_argument("--scale", type=int, help="upscale: 2 or 4")
    regression.add_argument("--sigma", type=float, help="denoise: the noise's standard deviation ([-1, 1] scale)")
    train.add_argument("--binarize", action="store_true", default=None, help="dynamic binarization (VAE)")
    train.add_argument("--iw-samples", type=int, help="VAE: importance samples for the test NLL")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    sample = sub.add_parser("sample", help="draw samples from a trained run")
    sample.add_argument("run_dir")
    sample.add_argument("--n", type=int, default=64)
    sample.add_argument("--out", help="a .png (a grid) or a .npy file: float32 array (N, 1, 28, 28) in [0, 1], "
                        "(N, 2) points for the ring (default RUN_DIR/samples.png)")
    sample.add_argument("--label", type=int, help="class to draw (conditional models, also with --clusters; "
                        "a --clusters run without --conditional: that cluster)")
    sample.add_argument("--seed", type=int, default=0)
    _sampling_options(sample)
    sample.set_defaults(func=_sample)

    evaluate = sub.add_parser("eval", help="evaluate a trained run on its test set; write eval.json, pictures")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--iw-samples", type=int, help="VAE: importance samples for the test NLL")
    evaluate.add_argument("--evaluator", help="GANs: the classifier run that scores samples (default: "
                          "$MINIGEN_EVALUATOR, else classifier-DATASET beside the run, else runs/classifier-DATASET)")
    evaluate.add_argument("--n-samples", type=int, default=10_000,
                          help="GANs, ddpm, flow: images to generate and score")
    evaluate.add_argument("--out", help="the JSON file for the scores, relative to the current directory (default "
                          "RUN_DIR/eval.json; ddpm and flow: RUN_DIR/eval-SAMPLER-STEPS.json)")
    evaluate.add_argument("--no-pictures", dest="pictures", action="store_false",
                          help="score only; do not redraw the run's pictures (a sweep over samplers)")
    evaluate.add_argument("--labels", choices=LABELS, default="balanced",
                          help="runs conditioned on classes: ask for every class equally often (balanced, the "
                          "default) or draw each label with its share of the training set (data: the samples then "
                          "follow the data's mixture of classes, as the test images do); file name -ldata")
    evaluate.add_argument("--seed", type=int, help="GANs, ddpm, flow: draw the noise, labels and real sample from "
                          "this seed instead of the run's (a second draw of the same scores); file name -sSEED")
    _sampling_options(evaluate)
    evaluate.set_defaults(func=_eval)

    export = sub.add_parser("export", help="copy a trained run's sampling weights (float32, no optimizer state) "
                            "into a small run directory that sample and eval accept")
    export.add_argument("run_dir")
    export.add_argument("--out", required=True, help="the new run directory (never overwritten)")
    export.add_argument("--command", dest="train_command",
                        help="the command that trained the run, recorded in config.json (default: the run's own)")
    _sampling_options(export, "ddpm, flow: the exported run's default way of sampling (what `minigen sample` and "
                      "`minigen eval` use when given no sampling option)")
    export.set_defaults(func=_export)

    restore = sub.add_parser("restore", help="restore degraded images (inpaint, upscale, denoise) with a trained "
                             "ddpm or flow run; writes pictures, restore.json and the arrays")
    restore.add_argument("run_dir")
    restore.add_argument("--task", required=True, choices=("inpaint", "upscale", "denoise"))
    restore.add_argument("--mask", default="bottom", help="inpaint: bottom, center, left or random:P (a fraction P "
                         "of the pixels unknown)")
    restore.add_argument("--scale", type=int, default=2, help="upscale: 2 (14x14 to 28x28) or 4 (7x7 to 28x28)")
    restore.add_argument("--sigma", type=float, default=0.5, help="denoise: the noise's standard deviation, on the "
                         "[-1, 1] scale of the images")
    restore.add_argument("--method", help="inpaint: ddnm (default), ddnm+ (ddnm with repaint's "
                         "resampling), replace, repaint, or the baseline mean; upscale: ddnm (default), ddnm+, "
                         "projection, subgrid, or the baselines nearest, bilinear, bicubic; denoise: sdedit "
                         "(default), or the baselines noisy, blur (a Gaussian blur tuned to the noise level)")
    restore.add_argument("--jump", type=int, default=10, help="repaint, ddnm+: levels to go back up each time")
    restore.add_argument("--repeats", type=int, default=5, help="repaint, ddnm+: passes over each stretch of levels")
    restore.add_argument("--eta", type=float, default=1.0, help="ddnm, ddnm+: the share of fresh noise in each "
                         "step's noise estimate, from 0 (deterministic after the first draw) to 1 (default: the "
                         "best FID and uncertain share on MNIST)")
    restore.add_argument("--steps", type=int, default=50, help="reverse steps for the whole way from noise")
    restore.add_argument("--samples", type=int, default=1, help="restorations of each input (their spread)")
    restore.add_argument("--seed", type=int, default=0)
    source = restore.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="degraded images: .npy float32 (N, 1, H, W) in [0, 1] or a greyscale .png "
                        "(28x28; 14x14 or 7x7 for upscale)")
    source.add_argument("--test-images", type=int, help="degrade and restore the first N test images (measured "
                        "against them)")
    restore.add_argument("--evaluator", help="the classifier run that scores restorations (as for eval)")
    restore.add_argument("--out", required=True, help="a new directory for the results (never overwritten)")
    restore.set_defaults(func=_restore)

    table = sub.add_parser("restore-table", help="one table and perception-distortion pictures from many "
                           "`minigen restore` output directories")
    table.add_argument("result_dirs", nargs="+")
    table.add_argument("--out", required=True, help="a directory for restore-table.md and "
                       "perception-distortion-TASK.png")
    table.set_defaults(func=_restore_table)

    compare = sub.add_parser("compare", help="plot FID and classifier score against network evaluations per "
                             "sample, from the eval-*.json files of diffusion and flow runs")
    compare.add_argument("run_dirs", nargs="+")
    compare.add_argument("--out", default="quality_vs_nfe.png", help="the PNG to write")
    compare.set_defaults(func=_compare)

    demo = sub.add_parser("demo", help="train a small network on two spirals with the engine; write a PNG")
    demo.add_argument("--steps", type=int, default=1500)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--device", default="cpu", help="cpu or cuda")
    demo.add_argument("--out", default="runs/demo", help="run directory (a new one if it exists)")
    demo.set_defaults(func=_demo)

    bench = sub.add_parser("bench", description=_bench_description(),
                           help="time workloads W1-W6 against NumPy's matmul rate (and PyTorch, if importable)")
    bench.add_argument("workloads", nargs="*", help="workload ids, e.g. W1 W2 (default: all available)")
    bench.add_argument("--device", default="cpu", help="cpu or cuda")
    bench.add_argument("--repeats", type=int, default=5, help="timed steps per block (default 5)")
    bench.add_argument("--rounds", type=int, default=3, help="blocks per library, alternating minigen and PyTorch; "
                       "each figure is the median of all its timed steps (default 3)")
    bench.add_argument("--no-memory", dest="memory", action="store_false",
                       help="skip the peak-memory column (it runs each workload again in fresh processes)")
    bench.set_defaults(func=_bench)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train" and args.resume is None:      # config.json records how the run was started
        args.command_line = "minigen " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.command == "train" and args.model is None and args.resume is None:
        parser.error("train: name a model (" + ", ".join(sorted(RECIPES)) + ") or --resume RUN_DIR")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
