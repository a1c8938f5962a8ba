"""The training loop shared by every model: a run directory, a progress bar, metrics, checkpoints, pictures.

A run directory holds
    config.json               everything needed to rebuild the run (model, dataset, hyper-parameters, seed)
    metrics.jsonl             one JSON line per logged step and per epoch
    checkpoint_last.npz       written atomically at every epoch end (and on Ctrl-C or `kill`, i.e. SIGTERM)
    checkpoint_best.npz       the best epoch by the recipe's evaluation metric
    samples_epoch_NNN.png     images from the same fixed noise after every epoch: the evolution is visible
    losses.png                loss curves, redrawn every epoch
    ...                       the recipe's own pictures (reconstructions, interpolation, latent map)

Exact resumption: the data order of an epoch depends only on (seed, epoch), and a checkpoint holds the models,
the optimizers, the position (epoch and batch) and the random generators' state, so
"2 epochs" and "1 epoch, stop, --resume, 1 more" give the same parameters bit for bit (on the CPU).
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from pathlib import Path

import numpy as np

from . import backend, data, recipes
from .runs import new_run_dir
from .serialization import load, save

DATASETS = ("digits", "mnist", "fashion-mnist", "ring")


class TrainingDiverged(RuntimeError):
    pass


def load_dataset(name: str, train: bool, root=None, limit: int | None = None):
    if name == "digits":  # generated: make only as many images as will be used
        ds = data.Digits(root, train=train, n=limit)
    elif name == "mnist":
        ds = data.MNIST(root, train=train)
    elif name == "fashion-mnist":
        ds = data.FashionMNIST(root, train=train)
    elif name == "ring":  # generated 2-D points: 8 Gaussians on a circle (GAN mode collapse in seconds)
        ds = data.Ring(train=train, n=limit)
    else:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    if limit:
        ds.data, ds.targets = ds.data[:limit], ds.targets[:limit]
    return ds


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


class Run:
    """One training run of a recipe, in its own directory."""

    def __init__(self, config: dict, run_dir: Path):
        self.config, self.dir = config, run_dir
        backend.manual_seed(config["seed"])
        self.recipe = recipes.get(config["model"])(config, backend.canonical_device(config["device"]))
        self.epoch, self.batch, self.step = 0, 0, 0  # position: epochs done, batches done in this epoch
        self.seconds = 0.0  # training time so far (for --time-limit), kept across resumes
        self.best = None

    # --- checkpoints -----------------------------------------------------------------------------------
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
        for k, o in self.recipe.optimizers().items():
            o.load_state_dict(state["optimizers"][k])
        self.epoch, self.batch, self.step = (state["position"][k] for k in ("epoch", "batch", "step"))
        self.best = state["best"]
        self.seconds = state.get("seconds", 0.0)
        backend.set_rng_state(state["rng"])

    # --- logging and pictures --------------------------------------------------------------------------
    def log(self, record: dict) -> None:
        with open(self.dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    def history(self) -> list[dict]:
        path = self.dir / "metrics.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def draw_losses(self) -> None:
        records = self.history()
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
        if curves:
            self.recipe.draw_curves(curves, title=f"{self.config['model']} on {self.config['dataset']}",
                                    path=self.dir / "losses.png")

    def fixed_noise(self, n: int | None = None):
        return self.recipe.noise(n or self.recipe.n_fixed, np.random.default_rng([self.config["seed"], 2024]))

    def draw_samples(self, epoch: int) -> Path | None:
        if not self.recipe.generative:
            return None
        self.recipe.train(False)
        images = self.recipe.sample(self.fixed_noise())
        self.recipe.train(True)
        return self.recipe.sample_picture(images, f"epoch {epoch}", self.dir / f"samples_epoch_{epoch:03d}.png")


def _sigterm_as_ctrl_c():
    """Make ``kill PID`` (SIGTERM) stop a run as Ctrl-C does: checkpoint saved, ``--resume`` continues. A run
    started in the background (``nohup minigen train … &``) ignores Ctrl-C's SIGINT, so SIGTERM is how it gets
    stopped. Returns a function that puts the previous handler back (a no-op off the main thread, where Python
    cannot install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def open_run(run_dir) -> Run:
    """A finished (or stopped) run rebuilt from its directory and restored from its best checkpoint (or its
    last), in evaluation mode: what ``minigen sample`` and ``minigen eval`` work on."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json)")
    run = Run(json.loads((run_dir / "config.json").read_text()), run_dir)
    for name in ("checkpoint_best.npz", "checkpoint_last.npz"):
        if (run_dir / name).exists():
            run.restore(run_dir / name)
            run.recipe.train(False)
            return run
    raise FileNotFoundError(f"{run_dir} has no checkpoint yet")


def train(model: str, dataset: str = "digits", epochs=None, batch_size=None, lr=None, device: str = "cpu",
          seed: int = 0, out=None, resume=None, data_root=None, limit=None, log_every: int = 20,
          progress: bool = True, **options) -> Path:
    """Train ``model`` (a recipe name) and return its run directory. See the module docstring."""
    from tqdm.auto import tqdm

    if resume is not None:
        run_dir = Path(resume)
        config = json.loads((run_dir / "config.json").read_text())
        if epochs is not None:
            config["epochs"] = epochs  # continue to a new total
        if options.get("time_limit") is not None:
            config["time_limit"] = options["time_limit"]  # a new limit on the total training time
        if options.get("lr_decay") is not None:
            config["lr_decay"] = options["lr_decay"]      # a new schedule from here on (lr × decay per epoch)
        (run_dir / "config.json").write_text(json.dumps(config, indent=2))
    else:
        recipe_cls = recipes.get(model)
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")
        config = {**recipe_cls.defaults, **recipe_cls.dataset_defaults.get(dataset, {}),
                  **{k: v for k, v in options.items() if v is not None}}
        config.update(model=model, dataset=dataset, device=device, seed=seed, limit=limit,
                      data_root=str(data_root) if data_root else None)
        for key, value in (("epochs", epochs), ("batch_size", batch_size), ("lr", lr)):
            if value is not None:
                config[key] = value
        run_dir = new_run_dir(out or Path("runs") / f"{model}-{dataset}")
        (run_dir / "config.json").write_text(json.dumps(config, indent=2))

    run = Run(config, run_dir)
    if resume is not None:
        run.restore(run_dir / "checkpoint_last.npz")
    recipe = run.recipe
    train_set = load_dataset(config["dataset"], True, config["data_root"], config["limit"])
    test_set = load_dataset(config["dataset"], False, config["data_root"], config["limit"])
    loader = data.DataLoader(train_set, config["batch_size"], shuffle=True, drop_last=False, seed=config["seed"],
                             device=run.recipe.device, transform=recipe.transform(True))
    test_loader = data.DataLoader(test_set, 500, seed=config["seed"] + 1, device=recipe.device,
                                  transform=recipe.transform(False))
    check_every = 1 if recipe.device == "cpu" else log_every  # reading a GPU value back costs a sync
    last_good = run_dir / "checkpoint_last.npz"
    restore_sigterm = _sigterm_as_ctrl_c()
    try:
        while run.epoch < config["epochs"]:
            epoch = run.epoch
            loader.set_epoch(epoch)
            started = time.time()
            bar = tqdm(total=len(loader), initial=run.batch, desc=f"{config['model']} epoch {epoch + 1}/"
                       f"{config['epochs']}", disable=not progress, unit="batch", dynamic_ncols=True)
            sums, count = {}, 0  # every step's metrics, summed where they live: on a GPU, read back once an epoch
            for i, (x, y) in enumerate(loader):
                if i < run.batch:
                    continue  # resumed mid-epoch: these batches were already trained on
                metrics = recipe.train_step(x, y)
                run.batch += 1
                run.step += 1
                for k, v in metrics.items():
                    sums[k] = _add(sums.get(k), v)
                count += 1
                if run.step % check_every == 0 or run.batch == len(loader):
                    values = _flat(metrics)
                    if not all(math.isfinite(v) for v in values.values()):
                        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
                        raise TrainingDiverged(
                            f"{config['model']}: {bad} at step {run.step} (epoch {epoch + 1}, batch {run.batch}); "
                            f"stopped. The last good checkpoint is "
                            f"{last_good if last_good.exists() else 'none (no epoch finished yet)'}")
                    if run.step % log_every == 0:
                        run.log({"kind": "step", "epoch": epoch + 1, "step": run.step, **values})
                        bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()})
                bar.update(1)
            bar.close()
            recipe.train(False)
            evaluation = recipe.evaluate(test_loader)
            recipe.train(True)
            run.epoch, run.batch = epoch + 1, 0
            run.seconds += time.time() - started
            recipe.end_epoch(run.epoch)
            record = {"kind": "epoch", "epoch": run.epoch, "step": run.step, "seconds": time.time() - started,
                      **{f"train_{k}" if not k.startswith("train") else k: v / max(count, 1)
                         for k, v in _flat(sums).items()},
                      **evaluation}
            run.log(record)
            print(f"epoch {run.epoch}: " + ", ".join(f"{k} {v:.4f}" for k, v in record.items()
                                                     if isinstance(v, float) and k != "seconds")
                  + f" ({record['seconds']:.1f} s)", flush=True)
            run.draw_samples(run.epoch)
            run.draw_losses()
            key, direction = recipe.best
            if key in evaluation and (run.best is None or (evaluation[key] < run.best if direction == "min"
                                                           else evaluation[key] > run.best)):
                run.best = evaluation[key]
                run.save("checkpoint_best.npz")
            run.save("checkpoint_last.npz")
            if config.get("time_limit") and run.seconds > 60 * config["time_limit"]:
                print(f"time limit of {config['time_limit']} minutes reached after epoch {run.epoch} "
                      f"({run.seconds / 60:.1f} minutes of training)", flush=True)
                break
    except KeyboardInterrupt:
        path = run.save("checkpoint_last.npz")
        print(f"\ninterrupted at epoch {run.epoch + 1}, batch {run.batch}; saved {path}. "
              f"Continue with: minigen train {config['model']} --resume {run_dir}", flush=True)
        raise
    finally:
        restore_sigterm()
    test_x, test_y = test_set.data[:2000], test_set.targets[:2000]
    test_x = recipe.transform(False)(test_x, np.random.default_rng(0))
    recipe.train(False)
    recipe.final_pictures(run_dir, test_x, test_y)
    recipe.train(True)
    return run_dir
