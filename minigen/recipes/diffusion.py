"""Recipes for denoising diffusion (``ddpm``) and flow matching (``flow``), unconditional or class-conditional.

One training step (``DiffusionRecipe.train_step``): draw a time t and noise ε for every image of the batch, noise
the images to x_t, ask the network for ε (DDPM) or the velocity ε − x₀ (flow), and take one Adam step on the mean
squared error (``models/diffusion.py`` and ``models/flow.py`` derive both losses). With ``--conditional`` the
network also sees the label, replaced by "no label" with probability ``p_uncond``, so that one network learns the
conditional and the unconditional model that classifier-free guidance combines.

With ``--clusters K`` the labels are not the classes but k-means clusters of the training images
(``models/clusters.py``; fitted once when training starts, kept in the checkpoint as the ``clusters`` module; on
the pixels, or with ``--cluster-features deskewed`` on the images sheared upright):
the network learns p(x | cluster), and sampling draws the cluster with its share of the training set first, so
the samples follow p(x) = Σ_k π_k p(x | k). No label is used, in training or sampling: it is an unconditional
generator, and a much better one than the same network without the clusters (a conditional network need not decide
from the noise alone what kind of image to draw). ``--conditional --clusters K`` does the same inside each class:
K clusters per class, the network learns p(x | class, cluster) with C·K labels, and asked for class c the sampler
draws a cluster of class c by its share first (so the user still asks for classes, and label accuracy applies).

The learning rate rises linearly over the first ``warmup`` steps (the step count comes from the loop, so a resume
continues the same schedule), then stays where the loop puts it: constant, or multiplied by ``lr_decay`` after
every epoch (the warm-up never sets it again, so it cannot undo the decay). Samples come from an exponential
moving average of the weights (``ema``, an ``AveragedModel`` of the network): a diffusion model's weights jitter
from batch to batch, and the average of the last ~1/(1 − β) steps denoises visibly better than the latest weights.

Sampling options (``minigen sample``, ``minigen eval``; stored in config.json as the defaults of the run):
``sampler`` ddpm (ancestral) | ddim (η = ``eta``) for ``ddpm`` runs, euler | heun for ``flow`` runs; ``steps``
(network evaluations: one per step, Heun 2·steps − 1, twice as many with guidance); ``guidance`` w in
ε̃ = ε_u + w (ε_c − ε_u) for conditional runs (w = 1: the plain conditional model); ``guidance_interval``
(lo, hi): guide only at noise levels t ∈ [lo, hi] (t ∈ [0, 1], 1 pure noise; DDPM's t is its step over T), the
conditional model alone elsewhere, or below lo the weight ``guidance_below`` (``models.diffusion.guidance_at``).

Pictures: the fixed-noise samples of every epoch (one row per class when conditional) and their GIF, the reverse
process as a strip and a GIF, the loss by range of t, and for conditional runs one row per class at several
guidance weights. On ``--dataset ring`` the network is a small MLP on 2-D points (seconds of training).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import backend, data, metrics, optim
from ..autograd import no_grad
from ..creation import tensor
from ..data.ring import Ring
from ..models import diffusion, flow
from ..models.clusters import Clusters
from ..models.noisy_classifier import GUIDANCE_INTERVAL
from ..models.unet import TimeMLP, UNet
from ..optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from .base import Recipe, update
from .noisy_classifier import load_noisy_classifier

def ema_with_warmup(decay: float):
    """An EMA whose decay grows as min(β, (1 + n)/(10 + n)) with the number n of averages so far: the first
    weights, which are far from good, are forgotten within tens of steps instead of ~1/(1 − β) (a short run's
    average is then not dragged towards the initial network). An ``AveragedModel`` multi_avg_fn."""
    def update(averaged, current, n_averaged):
        n = int(n_averaged.item() if hasattr(n_averaged, "item") else n_averaged)
        get_ema_multi_avg_fn(min(decay, (1 + n) / (10 + n)))(averaged, current, n_averaged)
    return update


SAMPLERS = {"ddpm": ("ddim", "ddpm"), "flow": ("heun", "euler")}   # the first is the default
# set per command or per run
SAMPLING_OPTIONS = ("sampler", "steps", "eta", "guidance", "guidance_interval", "guidance_below", "classifier",
                    "classifier_scale", "classifier_interval")


class DiffusionRecipe(Recipe):
    """DDPM: ε-prediction on a fixed noise schedule (``schedule`` linear | cosine, T = 1000 steps)."""
    name = "ddpm"
    defaults = dict(epochs=20, batch_size=128, lr=1e-3, warmup=200, channels=[32, 64, 64], attention=False,
                    ema=0.999, conditional=False, clusters=None, cluster_features="pixels", p_uncond=0.1,
                    schedule="linear", sampler=None,
                    steps=50, eta=0.0, guidance=None, guidance_interval=None, guidance_below=None,
                    classifier=None, classifier_scale=None, classifier_interval=None)
    dataset_defaults = {"ring": dict(epochs=40, lr=2e-3, ema=0.99, steps=100)}
    pixel_range = (-1.0, 1.0)
    best = ("none", "max")         # the test loss is noisy and says little about samples: keep the last epoch
    scored_by_evaluator = True
    sample_batch = 100             # images per network call when sampling many: faster than 500 on a CPU (cache)
    curves = {"mean squared error": {"loss": "training batches", "test_loss": "test set (EMA weights)"}}

    def __init__(self, config, device):
        super().__init__(config, device)
        self.points = config["dataset"] == "ring"
        k = config.get("clusters")
        if k is not None and k < 2:
            raise ValueError(f"{self.name}: --clusters K needs K ≥ 2 clusters, got {k}")
        if k is not None and self.points:
            raise ValueError(f"{self.name}: --clusters K clusters the images of an image dataset; it does not "
                             f"combine with --dataset ring")
        # a cluster run is conditional on the cluster index, and unconditional to its user (``labels``); with
        # --conditional the clusters lie within the 10 classes and the user asks for classes
        features = config.get("cluster_features") or "pixels"
        if k is None and features != "pixels":
            raise ValueError(f"{self.name}: --cluster-features {features} needs --clusters K")
        if config.get("time_sampling") not in (None, "uniform") and self.name != "flow":
            raise ValueError(f"{self.name}: --time-sampling {config['time_sampling']} is for flow runs (DDPM draws "
                             f"its integer steps uniformly)")
        self.classes = bool(config.get("conditional"))          # labels that are classes: label accuracy applies
        self.n_classes = (Ring.modes if self.points else 10) if self.classes else k
        self.clusters = Clusters(k, features=features, classes=self.n_classes if self.classes else None) \
            if k else None
        self.conditional = self.classes or self.clusters is not None
        # what the network is told: a class, a cluster, or class·K + cluster (clusters within classes)
        self.n_labels = self.clusters.n if self.clusters is not None else self.n_classes
        self.sample_rows = self.n_classes if self.classes else None
        if self.points:
            self.samples_per_epoch, self.pictures = 1000, ("samples_gif", "ring", "reverse_process")
        else:
            self.samples_per_epoch = 10 * self.n_classes if self.classes else 64
            self.pictures = ("samples_gif", "reverse_process", "loss_by_time") + \
                (("guidance_rows",) if self.classes else ())
        self.model = self.build().to(device)
        self.ema = AveragedModel(self.model, multi_avg_fn=ema_with_warmup(config["ema"])) \
            if config.get("ema") else None
        if self.ema is not None:
            self.ema.update_parameters(self.model)            # the average starts at the initial weights
        self.optimizer = optim.Adam(self.model.parameters(), lr=config["lr"])
        self.schedule = diffusion.Schedule(config.get("schedule", "linear"))
        self.sampling = {}                                    # per-command overrides (``set_sampling``)
        self._guide = None          # the classifier of noisy images, loaded when first needed: (its path, it)
        self.check_sampling(**{k: config.get(k) for k in SAMPLING_OPTIONS})

    def build(self):
        if self.points:
            return TimeMLP(hidden=128, n_classes=self.n_labels)
        return UNet(tuple(self.config["channels"]), self.config["attention"], self.n_labels)

    # --- training ----------------------------------------------------------------------------------------
    def transform(self, train):
        if self.points:
            return data.Compose([])
        return data.Compose([data.ToFloat(), data.ScaleTo(-1.0, 1.0), data.AddChannel()])   # → (N, 1, 28, 28)

    def modules(self):
        return {"model": self.model, **({"model_ema": self.ema} if self.ema is not None else {}),
                **({"clusters": self.clusters} if self.clusters is not None else {})}

    def prepare(self, dataset, train: bool) -> None:
        """A cluster run (``clusters`` K): the dataset's labels become k-means cluster indices of its images
        (``models/clusters.py``; with ``conditional``: class·K + cluster within the class), fitted on the first
        training set this run sees (then kept in its checkpoint)."""
        if self.clusters is None:
            return
        images = np.asarray(dataset.data, dtype=np.float32) / 255.0                  # (N, 28, 28) in [0, 1]
        classes = np.asarray(dataset.targets) if self.classes else None
        if self.clusters.fitted:
            dataset.targets = self.clusters.assign(images, classes)
        elif train:                                  # fit's assignments are the nearest centroids already
            dataset.targets = self.clusters.fit(images, classes, seed=self.config["seed"])
        else:
            raise RuntimeError(f"{self.name}: the clusters are fitted on the training set, before the test set")

    def optimizers(self):
        return {"optimizer": self.optimizer}

    def loss(self, x, y, net=None, t=None):
        """The loss of ``net`` (default: the trained network) on a batch, labels dropped with probability
        p_uncond when conditional; ``t`` (N,) fixes the times (as fractions of the way to pure noise, in [0, 1))."""
        y = y if self.conditional else None
        if t is not None:
            t = tensor((t * self.schedule.T).astype(np.int64), device=self.device)     # → step indices
        return diffusion.ddpm_loss(net or self.model, x, y, self.config["p_uncond"], self.schedule, t)

    def train_step(self, x, y, step):
        warmup = self.config.get("warmup") or 0
        if step < warmup:                                    # linear warm-up, from the loop's step count; after
            for group in self.optimizer.param_groups:        # it the loop's lr_decay alone moves the rate
                group["lr"] = self.config["lr"] * (step + 1) / warmup
        loss = self.loss(x, y)
        update(self.optimizer, loss)
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return {"loss": loss}

    @no_grad()
    def evaluate(self, loader, n: int = 2000):
        """The loss on the first n test items, with t and ε drawn from a fixed generator (comparable across
        epochs); the ring: also the modes that 1,000 samples cover."""
        state = backend.get_rng_state()
        backend.manual_seed(12345)                           # the same t and ε every epoch, then put back
        total, count = 0.0, 0
        for x, y in loader:
            total += float(self.loss(x, y, self.network).item()) * x.shape[0]
            count += x.shape[0]
            if count >= n:
                break
        backend.set_rng_state(state)
        out = {"test_loss": total / max(count, 1)}
        if self.points:
            rng = np.random.default_rng([self.config["seed"], 7])
            out.update(metrics.ring_modes(self.sample(self.noise(1000, rng)), Ring.centers(), Ring.std))
        return out

    @no_grad()
    def loss_by_time(self, x, y, bins: int = 10, seed: int = 0):
        """The EMA network's loss on x in ``bins`` equal ranges of t (as a fraction of the way to noise):
        (bin centres, losses). Which noise levels the network finds hard."""
        rng = np.random.default_rng(seed)
        centres, losses = [], []
        for b in range(bins):
            t = (b + rng.random(len(x))) / bins                                    # (N,) in bin b
            centres.append((b + 0.5) / bins)
            losses.append(float(self.loss(tensor(x, device=self.device), tensor(y, device=self.device),
                                          self.network, t).item()))
        return np.array(centres), np.array(losses)

    # --- sampling ----------------------------------------------------------------------------------------
    @property
    def network(self):
        """What samples come from: the weight average when ``ema`` is on, else the network itself."""
        return self.ema.module if self.ema is not None else self.model

    def set_sampling(self, sampler=None, steps=None, eta=None, guidance=None, guidance_interval=None,
                     guidance_below=None, classifier=None, classifier_scale=None, classifier_interval=None):
        """Override the run's sampling options for this process, checked (``check_sampling``)."""
        self.check_sampling(sampler, steps, eta, guidance, guidance_interval, guidance_below, classifier,
                            classifier_scale, classifier_interval)
        given = dict(sampler=sampler, steps=steps, eta=eta, guidance=guidance, guidance_interval=guidance_interval,
                     guidance_below=guidance_below, classifier=classifier, classifier_scale=classifier_scale,
                     classifier_interval=classifier_interval)
        if classifier is not None:              # as typed, from the working directory (a run's own: from the run)
            given["classifier"] = str(Path(classifier).resolve())
        self.sampling.update({k: v for k, v in given.items() if v is not None})
        if classifier is not None:
            self.guide()                        # a wrong path or run fails now, not after minutes of sampling

    def check_sampling(self, sampler=None, steps=None, eta=None, guidance=None, guidance_interval=None,
                       guidance_below=None, classifier=None, classifier_scale=None, classifier_interval=None):
        """A sampler of this family, steps ≥ 1, η ≥ 0 (and only for DDIM), guidance and its interval only for a
        conditional run, the interval two noise levels 0 ≤ lo ≤ hi ≤ 1, a weight below it only with an interval
        (given now or the run's); classifier guidance only for a flow run conditioned on classes, its scale and
        interval (0 ≤ lo ≤ hi < 1) only with a classifier (given now or the run's)."""
        family = "flow" if self.name == "flow" else "ddpm"
        if sampler is not None and sampler not in SAMPLERS[family]:
            raise ValueError(f"{self.name}: unknown sampler {sampler!r}; a {self.name} run samples with "
                             f"{' or '.join(SAMPLERS[family])}")
        if steps is not None and steps < 1:
            raise ValueError(f"{self.name}: steps must be at least 1, got {steps}")
        if eta is not None and (eta < 0 or (eta and family == "flow")):
            raise ValueError(f"{self.name}: eta applies to the ddim sampler and must be ≥ 0, got {eta}")
        if guidance is not None and not self.conditional:
            raise ValueError(f"{self.name}: --guidance needs a conditional run (train with --conditional or "
                             f"--clusters K)")
        if guidance_interval is not None:
            if not self.conditional:
                raise ValueError(f"{self.name}: --guidance-interval needs a conditional run (train with "
                                 f"--conditional or --clusters K)")
            if len(guidance_interval) != 2 or not 0 <= guidance_interval[0] <= guidance_interval[1] <= 1:
                raise ValueError(f"{self.name}: --guidance-interval takes two noise levels LO HI with "
                                 f"0 ≤ LO ≤ HI ≤ 1, got {' '.join(map(str, guidance_interval))}")
        if guidance_below is not None:
            if not self.conditional:
                raise ValueError(f"{self.name}: --guidance-below needs a conditional run (train with "
                                 f"--conditional or --clusters K)")
            if guidance_interval is None and self.option("guidance_interval") is None:
                raise ValueError(f"{self.name}: --guidance-below sets the weight below a guidance interval; give "
                                 f"--guidance-interval LO HI too")
        if classifier is not None and (self.name != "flow" or not self.classes):
            raise ValueError(f"{self.name}: --classifier guides a flow run conditioned on classes (train flow with "
                             f"--conditional); this run is " + ("a ddpm run" if self.name != "flow" else
                                                                "not conditioned on classes"))
        for flag, value in (("--classifier-scale", classifier_scale), ("--classifier-interval", classifier_interval)):
            if value is not None and classifier is None and self.option("classifier") is None:
                raise ValueError(f"{self.name}: {flag} sets classifier guidance; give --classifier RUN too")
        if classifier_interval is not None and (len(classifier_interval) != 2
                                                or not 0 <= classifier_interval[0] <= classifier_interval[1] < 1):
            raise ValueError(f"{self.name}: --classifier-interval takes two noise levels LO HI with 0 ≤ LO ≤ HI < 1 "
                             f"(the push grows as t/(1 - t)), got {' '.join(map(str, classifier_interval))}")

    def option(self, key):
        value = self.sampling.get(key, self.config.get(key))
        if key == "sampler" and value is None:
            value = SAMPLERS["flow" if self.name == "flow" else "ddpm"][0]
        if key in ("guidance", "guidance_below", "classifier_scale") and value is None:
            value = 1.0
        if key == "classifier_interval" and value is None:
            value = GUIDANCE_INTERVAL
        return value

    def guide_path(self, path=None) -> Path | None:
        """Where the classifier of noisy images lies (None without one): ``path``, or the run's ``classifier``
        option. A path given to ``set_sampling`` or here is read from the working directory, one stored in
        config.json from the run's directory."""
        stored = path is None and "classifier" not in self.sampling
        path = path if path is not None else self.option("classifier")
        if path is None:
            return None
        where = Path(path)
        if stored and not where.is_absolute() and self.run_dir is not None:
            where = Path(self.run_dir) / path
        return where.resolve()

    def guide(self, path=None):
        """The classifier of noisy images at ``guide_path(path)`` (None without one), loaded once, checked: a
        ``noisy-classifier`` run on this run's dataset, trained up to the end of the classifier interval."""
        where = self.guide_path(path)
        if where is None:
            return None
        if self._guide is None or self._guide[0] != where:
            model = load_noisy_classifier(where, self.config["dataset"], self.device)
            hi = self.option("classifier_interval")[1]
            if hi > model.t_max:
                raise ValueError(f"{self.name}: --classifier-interval ends at t = {hi:g}, beyond the noise levels "
                                 f"the classifier {where} was trained on (t < {model.t_max:g})")
            self._guide = (where, model)
        return self._guide[1]

    def describe_sampling(self, short: bool = False) -> str:
        """The sampling options in words ('heun, 10 steps, guidance 2 for t in [0, 0.5]'), or ``short`` as a
        file-name part ('heun-10-w2-i0-0.5')."""
        o = {k: self.option(k) for k in SAMPLING_OPTIONS}
        interval = o["guidance_interval"] if self.conditional else None
        below = o["guidance_below"] if interval and interval[0] > 0 else 1.0      # nothing lies below [0, hi]
        c, (clo, chi) = o["classifier_scale"], o["classifier_interval"]
        if short:
            return f"{o['sampler']}-{o['steps']}" + (f"-w{o['guidance']:g}" if self.conditional else "") + \
                (f"-i{interval[0]:g}-{interval[1]:g}" if interval else "") + (f"-b{below:g}" if below != 1 else "") \
                + (f"-c{c:g}-{clo:g}-{chi:g}" if o["classifier"] and c else "")
        return (f"{o['sampler']}, {o['steps']} steps" + (f", eta {o['eta']}" if o["sampler"] == "ddim" and o["eta"]
                                                          else "")
                + (f", guidance {o['guidance']:g}" if self.conditional else "")
                + (f" for t in [{interval[0]:g}, {interval[1]:g}]" if interval else "")
                + (f", {below:g} below" if below != 1 else "")
                + (f", classifier guidance {c:g} for t in [{clo:g}, {chi:g}]" if o["classifier"] and c else ""))

    def noise(self, n, rng):
        """The starting noise x_T (flow: x₁), (N, 1, 28, 28) (the ring: (N, 2)), float32 from ``rng``."""
        shape = (n, 2) if self.points else (n, 1, 28, 28)
        return rng.standard_normal(shape).astype(np.float32)

    def labels(self, n, labels=None, rng=None):
        """None → n labels in equal runs (0 0 … 1 1 …) for a conditional run (a cluster run: clusters with their
        shares of the training set, so the samples follow the data's mixture, drawn with ``rng``: see
        ``Clusters.draw``); an int → all that class. The labels the user asks for: ``network_labels`` turns
        them into what the network is told."""
        if labels is None and self.clusters is not None and not self.classes:
            return self.clusters.draw(n, rng)
        if labels is None:
            return None if not self.conditional else np.arange(n) * self.n_classes // n
        if not self.conditional:
            raise ValueError(f"{self.name}: --label needs a conditional run (train with --conditional or "
                             f"--clusters K)")
        labels = np.broadcast_to(np.asarray(labels, dtype=np.int64), (n,))
        if labels.min() < 0 or labels.max() >= self.n_classes:
            raise ValueError(f"{self.name}: labels must lie in 0 … {self.n_classes - 1}, got {labels.min()} … "
                             f"{labels.max()}")
        return labels

    def network_labels(self, classes, rng=None):
        """The labels the network is told for requested ``classes`` (n,): the classes themselves, or with
        clusters within classes a cluster of each class drawn by its share (``Clusters.draw``, offsets from
        ``rng``; without one fixed)."""
        if classes is None or self.clusters is None or not self.classes:
            return classes
        return self.clusters.draw(len(classes), rng, classes)

    @no_grad()
    def generate(self, noise, labels=None, seed: int = 0, trajectory: bool = False, rng=None, **options):
        """Run the sampler from ``noise`` (x_T) in the model's range: (x, nfe[, states]) as arrays.

        A cluster run given no ``labels`` draws its clusters with a fixed offset (``labels`` without a generator:
        the same clusters for every call of the same size); for a random draw pass
        ``labels=recipe.labels(n, rng=...)``, as ``minigen sample`` and ``minigen eval`` do. Clusters within
        classes are drawn for the requested classes with ``rng`` (without one: fixed offsets)."""
        self.check_sampling(**{k: options.get(k) for k in SAMPLING_OPTIONS})
        opts = {k: options.get(k) if options.get(k) is not None else self.option(k) for k in SAMPLING_OPTIONS}
        classes = self.labels(len(noise), labels)                     # what the user asks for
        y = self.network_labels(classes, rng)                         # what the network is told
        y = tensor(y, device=self.device) if y is not None else None
        # classifier guidance: the run's classifier or this call's; scale 0 turns it off (nothing to run)
        guide = self.guide(options.get("classifier")) if self.name == "flow" and opts["classifier_scale"] else None
        x_T = tensor(noise, device=self.device)
        net = self.network
        if self.name == "flow":
            out = flow.sample(net, x_T.shape, opts["sampler"], opts["steps"], opts["guidance"], y, seed,
                              self.device, trajectory, x_T=x_T, guidance_interval=opts["guidance_interval"],
                              guidance_below=opts["guidance_below"], classifier=guide,
                              classifier_labels=tensor(classes, device=self.device) if guide is not None else None,
                              classifier_scale=opts["classifier_scale"],
                              classifier_interval=tuple(opts["classifier_interval"]))
        else:
            out = diffusion.sample(net, x_T.shape, opts["sampler"], opts["steps"], opts["eta"], opts["guidance"], y,
                                   seed, self.device, self.schedule, trajectory, clip=not self.points, x_T=x_T,
                                   guidance_interval=opts["guidance_interval"],
                                   guidance_below=opts["guidance_below"])
        self.last_nfe = out[1]
        if trajectory:
            return out[0].numpy(), out[1], [s.numpy() for s in out[2]]
        return out[0].numpy(), out[1]

    def sample(self, noise, labels=None, rng=None):
        """Noise (N, 1, 28, 28) [and labels] → images (N, 28, 28) in [0, 1] (the ring: points (N, 2)); ``rng``:
        draws the clusters of requested classes (a run with clusters within classes)."""
        x, _ = self.generate(noise, labels, rng=rng)
        return x if self.points else self.to_unit(x[:, 0])


class FlowRecipe(DiffusionRecipe):
    """Flow matching: velocity regression on the straight path x_t = (1 − t) x₀ + t ε. Sampling defaults to
    Heun with 25 steps: 49 network evaluations."""
    name = "flow"
    defaults = {**DiffusionRecipe.defaults, "steps": 25, "time_sampling": "uniform"}

    def loss(self, x, y, net=None, t=None):
        y = y if self.conditional else None
        t = tensor(t.astype(np.float32), device=self.device) if t is not None else None
        return flow.flow_loss(net or self.model, x, y, self.config["p_uncond"], t,
                              self.config.get("time_sampling", "uniform"))

