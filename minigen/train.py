"""The training loop shared by every model: a run directory, a progress bar, metrics, checkpoints, pictures.

Read ``train`` first: it is the whole loop, in the order PyTorch's examples use,

    run = new_run(...) or resume_run(...)          the run directory and everything needed to rebuild the run
    for each epoch:
        train_one_epoch(run, ...)                  recipe.train_step(x, y, step) on every batch, NaN check, log
        end_epoch(run, ...)                        evaluate, log, pictures, checkpoints, learning-rate decay
    pictures.final(...)                            the recipe's pictures of the trained model

and a recipe (``minigen.recipes``) says what one step does and which pictures to draw.

A run directory holds
    config.json               everything needed to rebuild the run (model, dataset, hyper-parameters, seed)
    metrics.jsonl             one JSON line per logged step and per epoch
    checkpoint_last.npz       written atomically at every epoch end (and on Ctrl-C or `kill`, i.e. SIGTERM)
    checkpoint_best.npz       the best epoch by the recipe's evaluation metric
    samples_epoch_NNN.png     images from the same fixed noise after every epoch: the evolution is visible
    losses.png                loss curves, redrawn every epoch
    ...                       the recipe's own pictures (reconstructions, interpolation, latent map)

Exact resumption: the data order of an epoch depends only on (seed, epoch), and a checkpoint holds the models,
the optimizers, the position (epoch, batch and step) and the random generators' state, so "2 epochs" and "1 epoch,
stop, --resume, 1 more" give the same parameters bit for bit (on the CPU).
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import backend, data, pictures, recipes
from .runs import new_run_dir, run_checkpoint, run_config
from .serialization import load, save


class TrainingDiverged(RuntimeError):
    pass


class Run:
    """One training run of a recipe, in its own directory: the recipe, its position and its checkpoints."""

    def __init__(self, config: dict, run_dir: Path):
        self.config, self.dir = config, Path(run_dir)
        backend.manual_seed(config["seed"])
        self.recipe = recipes.get(config["model"])(config, backend.canonical_device(config["device"]))
        self.epoch, self.batch, self.step = 0, 0, 0  # position: epochs done, batches done in this epoch, steps done
        self.seconds = 0.0  # training time so far (for --time-limit), kept across resumes
        self.best = None

    def state(self) -> dict:
        return {"modules": {k: m.state_dict() for k, m in self.recipe.modules().items()},
                "optimizers": {k: o.state_dict() for k, o in self.recipe.optimizers().items()},
                "position": {"epoch": self.epoch, "batch": self.batch, "step": self.step},
                "seconds": self.seconds,
                "best": self.best, "rng": backend.get_rng_state(), "model": self.config["model"]}

    def save(self, name: str) -> Path:
        path = self.dir / name
        save(self.state(), path)
        return path

    def restore(self, path: Path) -> None:
        state = load(path)
        if state.get("model") != self.config["model"]:
            raise ValueError(f"{path} holds a {state.get('model')!r} checkpoint, not {self.config['model']!r}")
        for k, m in self.recipe.modules().items():
            m.load_state_dict(state["modules"][k])
        if state.get("weights_only"):           # an exported run (``export_run``): weights, nothing to resume
            self.epoch = state["position"]["epoch"]
            return
        for k, o in self.recipe.optimizers().items():
            o.load_state_dict(state["optimizers"][k])
        self.epoch, self.batch, self.step = (state["position"][k] for k in ("epoch", "batch", "step"))
        self.best = state["best"]
        self.seconds = state.get("seconds", 0.0)
        backend.set_rng_state(state["rng"])

    def log(self, record: dict) -> None:
        with open(self.dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    def history(self) -> list[dict]:
        path = self.dir / "metrics.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def fixed_noise(self) -> np.ndarray:
        """The noise behind samples_epoch_NNN.png: the same every epoch (and after a resume)."""
        return self.recipe.noise(self.recipe.samples_per_epoch, np.random.default_rng([self.config["seed"], 2024]))


# --- starting a run ----------------------------------------------------------------------------------------
def new_run(model: str, dataset: str, out=None, device: str = "cpu", seed: int = 0, limit=None, data_root=None,
            **hyper) -> Run:
    """A new run directory (``runs/MODEL-DATASET``, or ``-2``, ``-3``… : never an earlier run's) with its
    config.json: the recipe's defaults, then its defaults for this dataset, then the ``hyper``-parameters that
    are not None (epochs, batch_size, lr and the recipe's options)."""
    recipe_cls = recipes.get(model)
    if dataset not in data.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of: {', '.join(data.DATASETS)}")
    config = {**recipe_cls.defaults, **recipe_cls.dataset_defaults.get(dataset, {}),
              **{k: v for k, v in hyper.items() if v is not None}}
    config.update(model=model, dataset=dataset, device=device, seed=seed, limit=limit,
                  data_root=str(data_root) if data_root else None)
    run_dir = new_run_dir(out or Path("runs") / f"{model}-{dataset}")
    try:
        run = Run(config, run_dir)              # the recipe checks its options here
    except Exception:
        run_dir.rmdir()                         # just made, still empty: a refused run leaves nothing behind
        raise
    (run_dir / "config.json").write_text(json.dumps(config, indent=2))
    return run


def discard_unstarted(run_dir) -> None:
    """Remove a new run's directory when it holds nothing but its config.json (its data or its clusters failed
    before the first step), so a failed start leaves no empty run behind to push the next one to ``-2``."""
    run_dir = Path(run_dir)
    if [p.name for p in run_dir.iterdir()] == ["config.json"]:
        (run_dir / "config.json").unlink()
        run_dir.rmdir()


def resume_run(run_dir, **changes) -> Run:
    """The run in ``run_dir`` at its last checkpoint. ``changes`` that are not None (a new total of ``epochs``, a
    new ``time_limit``, a new ``lr_decay`` from here on) are written into its config.json first."""
    run_dir = Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    if config.get("exported_from"):
        raise ValueError(f"{run_dir} is an exported run (weights only, no optimizer state): it samples and "
                         f"evaluates but cannot resume; resume the run it came from, {config['exported_from']}")
    config.update({k: v for k, v in changes.items() if v is not None})
    (run_dir / "config.json").write_text(json.dumps(config, indent=2))
    run = Run(config, run_dir)
    run.restore(run_dir / "checkpoint_last.npz")
    return run


def open_run(run_dir) -> Run:
    """A finished (or stopped) run rebuilt from its directory and restored from its best checkpoint (or its
    last), in evaluation mode: what ``minigen sample`` and ``minigen eval`` work on."""
    run_dir = Path(run_dir)
    run = Run(run_config(run_dir), run_dir)
    run.restore(run_checkpoint(run_dir))
    run.recipe.train(False)
    run.recipe.run_dir = run_dir.resolve()                  # what paths in its config.json are relative to
    return run


def export_run(run_dir, out, command: str | None = None, sampling: dict | None = None) -> Path:
    """A small copy of a trained run for sampling and evaluation: config.json and checkpoint_last.npz holding
    the float32 weights that draw the samples (the running average when the run keeps one, saved as the model
    itself), no optimizer state. ``minigen sample`` and ``minigen eval`` accept it; ``--resume`` does not.
    ``command`` (default: the one in the run's config) records how the run was trained; ``sampling`` (sampler,
    steps, eta, guidance) sets its default way of sampling, checked by the recipe."""
    run = open_run(run_dir)
    if sampling:
        run.recipe.set_sampling(**sampling)                  # a clear error for an option this run cannot take
    recipe, config = run.recipe, dict(run.config)
    modules = recipe.modules()
    averaged = getattr(recipe, "ema", None) is not None
    # every module but the average's own copy (a cluster run keeps its clusters); the average, when the run
    # keeps one, saved as the model itself
    weights = {k: m.state_dict() for k, m in modules.items() if k != "model_ema"}
    if averaged:
        weights["model"] = recipe.network.state_dict()
    config.update(exported_from=str(run_dir), trained_epochs=run.epoch, trained_steps=run.step,
                  trained_minutes=round(run.seconds / 60, 1), command=command or config.get("command"))
    if averaged:
        config.update(ema=0.0, ema_during_training=run.config["ema"])
    config.update(sampling or {})
    out = new_run_dir(out)
    guide = recipe.guide_path() if hasattr(recipe, "guide_path") else None
    if guide is not None:                  # stored relative to the new run, so the two can move together
        config["classifier"] = os.path.relpath(guide, out.resolve())
    (out / "config.json").write_text(json.dumps(config, indent=2))
    save({"modules": weights, "model": config["model"], "weights_only": True,
          "position": {"epoch": run.epoch, "batch": 0, "step": run.step}}, out / "checkpoint_last.npz")
    return out


def loaders(run: Run):
    """The training loader (shuffled by (seed, epoch)) and the test loader, and the test set itself."""
    c, recipe = run.config, run.recipe
    train_set = data.load_dataset(c["dataset"], True, c["data_root"], c["limit"])
    test_set = data.load_dataset(c["dataset"], False, c["data_root"], c["limit"])
    recipe.prepare(train_set, True)
    recipe.prepare(test_set, False)
    train_loader = data.DataLoader(train_set, c["batch_size"], shuffle=True, drop_last=False, seed=c["seed"],
                                   device=recipe.device, transform=recipe.transform(True))
    test_loader = data.DataLoader(test_set, 500, seed=c["seed"] + 1, device=recipe.device,
                                  transform=recipe.transform(False))
    return train_loader, test_loader, test_set


# --- the loop ----------------------------------------------------------------------------------------------
def train(model: str | None = None, dataset: str = "digits", epochs=None, batch_size=None, lr=None,
          device: str = "cpu", seed: int = 0, out=None, resume=None, data_root=None, limit=None,
          log_every: int = 20, progress: bool = True, **options) -> Path:
    """Train ``model`` (a recipe name) on ``dataset``, or continue the run in ``resume``; return its run
    directory. ``options`` are the recipe's (``latent_dim``, ``arch``, ``lr_decay``, ``time_limit``, …)."""
    if resume is not None:
        run = resume_run(resume, epochs=epochs, time_limit=options.get("time_limit"),
                         lr_decay=options.get("lr_decay"))
    else:
        run = new_run(model, dataset, out, device, seed, limit, data_root, epochs=epochs, batch_size=batch_size, lr=lr,
                      **options)
    try:
        train_loader, test_loader, test_set = loaders(run)       # a cluster run fits its clusters here
    except Exception:
        if resume is None:
            discard_unstarted(run.dir)
        raise
    limit = run.config.get("time_limit")
    deadline = time.time() + 60 * limit - run.seconds if limit else None   # the limit counts earlier sessions
    with checkpoint_on_interrupt(run):
        while run.epoch < run.config["epochs"]:
            sums, count, started = train_one_epoch(run, train_loader, log_every, progress, deadline)
            if run.batch < len(train_loader):                  # the time limit struck mid-epoch
                stop_mid_epoch(run, started)
                break
            end_epoch(run, test_loader, sums, count, started)
            if past_time_limit(run):
                break
    test_x = run.recipe.transform(False)(test_set.data[:2000], np.random.default_rng(0))
    pictures.final(run.recipe, run.dir, test_x, test_set.targets[:2000])
    return run.dir


def train_one_epoch(run: Run, loader, log_every: int = 20, progress: bool = True, deadline: float | None = None):
    """One pass over the training set (or the rest of it, after a resume mid-epoch), or up to the step that passes
    ``deadline`` (a ``time.time()``). Returns every step's metrics summed where they live (on a GPU: read back once
    an epoch), the number of steps, the start time."""
    config, recipe, epoch = run.config, run.recipe, run.epoch
    check_every = 1 if recipe.device == "cpu" else log_every  # reading a GPU value back costs a sync
    loader.set_epoch(epoch)
    started = time.time()
    bar = tqdm(total=len(loader), initial=run.batch, desc=f"{config['model']} epoch {epoch + 1}/{config['epochs']}",
               disable=not progress, unit="batch", dynamic_ncols=True)
    sums, count = {}, 0
    for i, (x, y) in enumerate(loader):
        if i < run.batch:
            continue  # resumed mid-epoch: these batches were already trained on
        metrics = recipe.train_step(x, y, run.step)
        run.batch += 1
        run.step += 1
        for k, v in metrics.items():
            sums[k] = _add(sums.get(k), v)
        count += 1
        if run.step % check_every == 0 or run.batch == len(loader):
            values = _flat(metrics)
            stop_if_diverged(run, values)
            if run.step % log_every == 0:
                run.log({"kind": "step", "epoch": epoch + 1, "step": run.step, **values})
                bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()})
        bar.update(1)
        if deadline is not None and time.time() > deadline and run.batch < len(loader):
            break
    bar.close()
    return sums, count, started


def end_epoch(run: Run, test_loader, sums: dict, count: int, started: float) -> None:
    """After an epoch: evaluate on the test set, log and print the epoch's numbers, draw the samples and the
    curves, keep the best checkpoint and the last one, and decay the learning rate (``lr_decay``)."""
    recipe = run.recipe
    recipe.train(False)
    evaluation = recipe.evaluate(test_loader)
    recipe.train(True)
    run.epoch, run.batch = run.epoch + 1, 0
    run.seconds += time.time() - started
    decay = run.config.get("lr_decay")
    if decay:                                  # before the checkpoint, so a resume continues the schedule
        for optimizer in recipe.optimizers().values():
            for group in optimizer.param_groups:
                group["lr"] *= decay
    record = {"kind": "epoch", "epoch": run.epoch, "step": run.step, "seconds": time.time() - started,
              **{f"train_{k}" if not k.startswith("train") else k: v / max(count, 1) for k, v in _flat(sums).items()},
              **evaluation}
    run.log(record)
    print(f"epoch {run.epoch}: " + ", ".join(f"{k} {v:.4f}" for k, v in record.items()
                                             if isinstance(v, float) and k != "seconds")
          + f" ({record['seconds']:.1f} s)", flush=True)
    if recipe.samples_per_epoch:
        pictures.epoch_samples(recipe, run.fixed_noise(), run.epoch, run.dir / f"samples_epoch_{run.epoch:03d}.png")
    pictures.losses(recipe, run.history(), f"{run.config['model']} on {run.config['dataset']}",
                    run.dir / "losses.png")
    key, direction = recipe.best
    if key in evaluation and (run.best is None or (evaluation[key] < run.best if direction == "min"
                                                   else evaluation[key] > run.best)):
        run.best = evaluation[key]
        run.save("checkpoint_best.npz")
    run.save("checkpoint_last.npz")


def stop_if_diverged(run: Run, values: dict) -> None:
    """A NaN or infinite metric stops the run, naming the step and the last good checkpoint."""
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        last_good = run.dir / "checkpoint_last.npz"
        raise TrainingDiverged(
            f"{run.config['model']}: {bad} at step {run.step} (epoch {run.epoch + 1}, batch {run.batch}); stopped. "
            f"The last good checkpoint is {last_good if last_good.exists() else 'none (no epoch finished yet)'}")


def stop_mid_epoch(run: Run, started: float) -> None:
    """The time limit passed inside an epoch: count the time, save checkpoint_last.npz at this batch, say so."""
    run.seconds += time.time() - started
    run.save("checkpoint_last.npz")
    print(f"time limit of {run.config['time_limit']} minutes reached in epoch {run.epoch + 1} at batch {run.batch} "
          f"({run.seconds / 60:.1f} minutes of training); continue with: minigen train --resume {run.dir}",
          flush=True)


def past_time_limit(run: Run) -> bool:
    """True once the training time (summed over resumes) passes ``time_limit`` minutes; says so."""
    limit = run.config.get("time_limit")
    if limit and run.seconds > 60 * limit:
        print(f"time limit of {limit} minutes reached after epoch {run.epoch} "
              f"({run.seconds / 60:.1f} minutes of training)", flush=True)
        return True
    return False


@contextmanager
def checkpoint_on_interrupt(run: Run):
    """Ctrl-C (SIGINT) or ``kill PID`` (SIGTERM) inside the block saves checkpoint_last.npz at the current batch
    and says how to continue; the KeyboardInterrupt then goes on up. A run started in the background
    (``nohup minigen train … &``) ignores Ctrl-C's SIGINT, so SIGTERM is how it gets stopped."""
    restore_sigterm = _sigterm_as_ctrl_c()
    try:
        yield
    except KeyboardInterrupt:
        path = run.save("checkpoint_last.npz")
        print(f"\ninterrupted at epoch {run.epoch + 1}, batch {run.batch}; saved {path}. "
              f"Continue with: minigen train --resume {run.dir}", flush=True)
        raise
    finally:
        restore_sigterm()


def _sigterm_as_ctrl_c():
    """Make SIGTERM raise KeyboardInterrupt, as Ctrl-C does. Returns a function that puts the previous handler
    back (a no-op off the main thread, where Python cannot install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


# --- metrics on their device -------------------------------------------------------------------------------
def _flat(x):
    """Metrics (tensors, arrays or numbers) → Python floats. Those on a GPU come back in one copy per device
    (each copy waits for the GPU), not one per metric."""
    arrays = {k: v.data if hasattr(v, "grad_fn") else v for k, v in x.items()}  # a Tensor → its array
    by_device, out = {}, {}
    for k, a in arrays.items():
        if backend.is_array(a) and backend.device_of(a) != "cpu":
            by_device.setdefault(backend.device_of(a), []).append(k)
    for keys in by_device.values():
        xp = backend.xp_of(arrays[keys[0]])
        values = xp.stack([arrays[k].astype(np.float64).reshape(()) for k in keys])
        out.update(zip(keys, backend.to_numpy(values).tolist()))
    return {k: out[k] if k in out else float(a.item() if hasattr(a, "item") else a) for k, a in arrays.items()}


def _add(total, value):
    """``total + value`` for summing a metric over an epoch, in float64 (the CPU's Python floats) and where the
    value lives: a tensor's value stays on its device, so summing on a GPU reads nothing back."""
    value = value.data if hasattr(value, "grad_fn") else value  # the array: detached, no graph is built
    value = value.astype(np.float64) if backend.is_array(value) else float(value)
    return value if total is None else total + value
