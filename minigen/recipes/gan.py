"""Recipes for the GAN family: ``gan`` (MLP), ``dcgan``, ``cgan`` (conditional) and ``wgan-gp``.

One training step of a GAN (D then G, as in GUIDE workload W3):

1. draw z ~ N(0, I) and make a batch of fakes G(z);
2. update D on the real batch and the fakes, with the fakes *detached* (D's loss must not move G);
3. update G through the (just updated) D, with D's weights frozen, so backward skips their gradients.

``train_step`` returns D's loss first (watched for NaN), G's loss, and the mean probabilities D gives the real
and the generated batch, σ(D(x)) and σ(D(G(z))): these land in metrics.jsonl and in losses.png, which draws the
losses beside D's outputs. At the equilibrium of the game D(x) ≈ D(G(z)) ≈ ½; a D(x) near 1 with D(G(z)) near 0
for long means D has won and G's gradients are fading.

WGAN-GP replaces step 2 by n_critic = 5 critic updates per generator update (one per batch here: G moves every
fifth batch) and reports the critic's estimate of the Wasserstein distance, E f(x) − E f(G(z)), and the penalty.

Pictures: ``samples_epoch_NNN.png`` from the same noise every epoch (the conditional GAN: one row per class), an
animated GIF of them, ``interpolation.png`` (a walk between latent points), ``losses.png``. On ``--dataset ring``
every recipe uses small MLPs on 2-D points and draws real against generated points instead of images;
``evaluate`` then counts the modes the generator covers.

Learning rates: ``--lr`` is the generator's, ``--lr-d`` the discriminator's (critic's). DCGAN and the conditional
GAN default to 2e-4 for G and 1e-4 for D (the issue's "2e-4 / 1e-4", read in its order G then D), Adam with
β₁ = 0.5. Measured on MNIST (W3, width 32, batch 64): with these, σ(D(x)) ≈ σ(D(G(z))) ≈ 0.5 from the second
epoch on, yet the samples improve fastest (classifier score 6.9 after 4 epochs); the other reading, D 2e-4 and
G 1e-4 (the faster discriminator of the two time-scale rule), keeps D ahead (≈ 0.55 against 0.45) but scored
5.8 after 4 epochs. A discriminator that is only just better than chance is still a useful teacher. With the
4/2/1 networks, D at 2e-4 too scored 6.8 after 7 epochs against 7.0 for the default after 16: the rates matter
less than D's shape (``--hidden 256``, see models/dcgan.py: 9.05 after 18 epochs). The MLP GAN uses 2e-4 for
both; on MNIST it collapses within a few epochs (as it does in PyTorch with the same settings), and D at 1e-4
did not save it. WGAN-GP uses 1e-4 for both with β = (0.5, 0.9). ``--ema 0.999`` samples from a running average
of G's weights (``update_ema``).
"""

from __future__ import annotations

import numpy as np

from .. import data, metrics, optim, viz
from ..autograd import no_grad
from ..creation import randint, randn, tensor
from ..data.ring import Ring
from ..models import (ConditionalDiscriminator, ConditionalGenerator, Critic, DCGANDiscriminator, DCGANGenerator,
                      Discriminator, Generator, ToyDiscriminator, ToyGenerator, gradient_penalty)
from ..models import gan as gan_losses
from ..models import wgan_gp
from ..ops import sigmoid
from .base import Recipe


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between latent points a and b (D,) at fractions t (S, 1) → (S, D).

    A straight line between two samples of N(0, I) in 100 dimensions passes through points of norm ≈ 0.7·√100,
    where the prior has almost no mass (its samples have norm ≈ √100); the great circle keeps the norm typical."""
    omega = np.arccos(np.clip(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)), -1, 1))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


class GANRecipe(Recipe):
    """The MLP GAN (models/gan.py) with the non-saturating loss."""
    name = "gan"
    defaults = dict(epochs=10, batch_size=64, lr=2e-4, lr_d=2e-4, betas=[0.5, 0.999], latent_dim=100, ema=0.0)
    dataset_defaults = {"ring": dict(epochs=30)}   # 30 × 157 steps of tiny MLPs: about a minute
    pixel_range = (-1.0, 1.0)
    best = ("none", "max")     # no test number ranks GAN checkpoints (scores come from `minigen eval`): use the last
    conditional = False
    evaluator_metrics = True   # `minigen eval` scores samples with the evaluator classifier (minigen.metrics)
    panels = {"losses": {"loss": "D loss", "loss_g": "G loss"},
              "discriminator": {"d_real": "mean D(x)", "d_fake": "mean D(G(z))"}}

    def __init__(self, config, device):
        super().__init__(config, device)
        self.toy = config["dataset"] == "ring"
        self.n_classes = Ring.modes if self.toy else 10
        if self.toy:
            self.n_fixed = 1000                # points, not images: a scatter plot needs many
        elif self.conditional:
            self.n_fixed = 10 * self.n_classes  # one row of 10 per class
        self.generator, self.discriminator = (m.to(device) for m in self.build())
        self.generator_ema = None
        if config.get("ema"):                    # a running average of G's weights, used for sampling
            self.generator_ema = self.build()[0].to(device)
            self.generator_ema.load_state_dict(self.generator.state_dict())
        betas = tuple(config["betas"])
        self.opt_g = optim.Adam(self.generator.parameters(), lr=config["lr"], betas=betas)
        self.opt_d = optim.Adam(self.discriminator.parameters(), lr=config["lr_d"], betas=betas)

    def build(self):
        if self.toy:
            return ToyGenerator(self.config["latent_dim"]), ToyDiscriminator()
        return Generator(self.config["latent_dim"]), Discriminator()

    # --- the loop's interface --------------------------------------------------------------------------
    def transform(self, train):
        if self.toy:
            return data.Compose([])                      # the ring's points are float32 already
        return data.Compose([data.ToFloat(), data.ScaleTo(-1.0, 1.0), data.AddChannel()])  # → (N, 1, 28, 28)

    def modules(self):
        ema = {"generator_ema": self.generator_ema} if self.generator_ema is not None else {}
        return {"generator": self.generator, "discriminator": self.discriminator, **ema}

    @no_grad()
    def update_ema(self):
        """θ_ema ← β·θ_ema + (1 − β)·θ after each generator step (β = ``ema``, e.g. 0.999: an average over the
        last ~1/(1 − β) steps); batch-norm statistics are copied. GAN weights keep circling the equilibrium
        rather than settling on it; their average sits closer to it (Yazıcı et al., 2019)."""
        if self.generator_ema is None:
            return
        beta = self.config["ema"]
        for average, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            average.data *= beta
            average.data += (1 - beta) * p.data
        for average, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            average.data[...] = b.data

    @property
    def sampler(self):
        """The generator that draws samples: the weight average when ``ema`` is on, else G itself."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    def optimizers(self):
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def _z(self, n):
        return randn(n, self.config["latent_dim"], device=self.device)             # (N, 100)

    def _fake_labels(self, n):
        """Labels to generate: uniform over the classes for the conditional GAN, none otherwise."""
        return (randint(0, self.n_classes, (n,), device=self.device),) if self.conditional else ()

    def train_step(self, x, y):
        G, D = self.generator, self.discriminator
        real_cond = (y,) if self.conditional else ()
        fake_cond = self._fake_labels(x.shape[0])
        fake = G(self._z(x.shape[0]), *fake_cond)                                   # (N, 1, 28, 28)

        # 1. D: real → 1, fake → 0; detach() cuts G out of this graph
        real_logits = D(x, *real_cond)                                               # (N, 1)
        fake_logits = D(fake.detach(), *fake_cond)                                   # (N, 1)
        loss_d = gan_losses.discriminator_loss(real_logits, fake_logits)
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()

        # 2. G: make the updated D say "real" (non-saturating); D frozen, so no gradients for its weights
        D.requires_grad_(False)
        loss_g = gan_losses.generator_loss(D(fake, *fake_cond))
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        self.update_ema()
        D.requires_grad_(True)
        return {"loss": loss_d, "loss_g": loss_g,
                "d_real": sigmoid(real_logits.detach()).mean(), "d_fake": sigmoid(fake_logits.detach()).mean()}

    @no_grad()
    def evaluate(self, loader, n: int = 2000):
        """The ring: modes covered by 2,000 generated points. Images: D's mean output on n test images and on
        n fakes (D in eval mode: no dropout), a glance at how D generalises beyond the training set."""
        rng = np.random.default_rng([self.config["seed"], 7])
        if self.toy:
            return metrics.ring_modes(self.sample(self.noise(n, rng)), Ring.centers(), Ring.std)
        real, fake, count = 0.0, 0.0, 0
        for x, y in loader:
            z = tensor(self.noise(x.shape[0], rng), device=self.device)
            fake_cond = (y,) if self.conditional else ()    # fakes of the same classes as the real batch
            real += float(self._score(x, *fake_cond).sum().item())
            fake += float(self._score(self.generator(z, *fake_cond), *fake_cond).sum().item())
            count += x.shape[0]
            if count >= n:
                break
        return self._test_record(real / count, fake / count)

    def _score(self, x, *cond):
        return sigmoid(self.discriminator(x, *cond))

    def _test_record(self, real, fake):
        return {"test_d_real": real, "test_d_fake": fake}

    def _labels(self, n: int, labels) -> np.ndarray:
        """None → 10 rows' worth of each class in turn (0 0 … 1 1 …), an int → all that class, else as given."""
        if labels is None:
            labels = np.arange(n) * self.n_classes // n
        labels = np.broadcast_to(np.asarray(labels, dtype=np.int64), (n,))
        if labels.min() < 0 or labels.max() >= self.n_classes:
            raise ValueError(f"{self.name}: labels must lie in 0..{self.n_classes - 1}, got {labels.min()}.."
                             f"{labels.max()}")
        return labels

    @no_grad()
    def sample(self, noise, labels=None):
        """Noise (N, latent) [and labels] → images (N, 28, 28) in [0, 1] (the ring: points (N, 2))."""
        z = tensor(noise, device=self.device)
        if self.conditional:
            y = tensor(self._labels(len(noise), labels), device=self.device)
            out = self.sampler(z, y)
        else:
            if labels is not None:
                raise ValueError(f"{self.name} is not conditional: --label needs a cgan run")
            out = self.sampler(z)
        out = out.numpy()
        return out if self.toy else self.to_unit(out[:, 0])

    # --- pictures --------------------------------------------------------------------------------------
    def sample_picture(self, samples, title, path):
        if self.toy:
            real = Ring(train=False, n=len(samples)).data
            return viz.scatter_2d(real, samples, title=f"{title}: real (blue), generated (orange)", path=path)
        if self.conditional:
            return viz.image_grid(samples, nrow=len(samples) // self.n_classes, title=f"{title} (row k: digit k)",
                                  path=path)
        return super().sample_picture(samples, title, path)

    def draw_curves(self, curves, title, path):
        panels = {panel: {label: curves[k] for k, label in names.items() if k in curves}
                  for panel, names in self.panels.items()}
        return viz.loss_panels({k: v for k, v in panels.items() if v}, title=title, path=path)

    @no_grad()
    def final_pictures(self, run_dir, test_x, test_y):
        paths = []
        frames = sorted(run_dir.glob("samples_epoch_*.png"))
        if frames:
            paths.append(viz.animate_pngs(frames, run_dir / "samples_evolution.gif"))
        rng = np.random.default_rng([self.config["seed"], 11])
        if self.toy:
            points = self.sample(self.noise(2000, rng))
            found = metrics.ring_modes(points, Ring.centers(), Ring.std)
            paths.append(viz.scatter_2d(test_x[:2000], points, path=run_dir / "ring.png",
                                        title=f"{self.name}: {found['modes_reached']} of 8 modes reached, "
                                              f"{found['modes']} covered sharply ({found['high_quality']:.0%} "
                                              f"of points within 3σ of one)"))
            return paths
        rows = self.n_classes if self.conditional else 8
        ends = self.noise(2 * rows, rng)
        t = np.linspace(0, 1, 10, dtype=np.float32)[:, None]                          # (10, 1)
        strips = [self.sample(slerp(ends[2 * i], ends[2 * i + 1], t).astype(np.float32),
                              *([i] if self.conditional else [])) for i in range(rows)]
        paths.append(viz.interpolation(strips, path=run_dir / "interpolation.png",
                                       title="latent interpolation (great circle between two z"
                                             + (", row k: digit k)" if self.conditional else ")")))
        return paths


class DCGANRecipe(GANRecipe):
    """DCGAN (models/dcgan.py): ``--arch w3`` (GUIDE W3, 5×5 kernels) or ``--arch 421``; ``--width`` channels;
    ``--hidden 1024`` one fully connected layer in each network."""
    name = "dcgan"
    defaults = dict(epochs=10, batch_size=64, lr=2e-4, lr_d=1e-4, betas=[0.5, 0.999], latent_dim=100, arch="w3",
                    width=64, ema=0.0)

    discriminator_class = DCGANDiscriminator    # WGAN-GP: the critic

    def build(self):
        if self.toy:
            return ToyGenerator(self.config["latent_dim"]), ToyDiscriminator()    # (no batch norm, no dropout)
        c = self.config
        hidden = (c.get("hidden") or [0])[0]     # --hidden 1024: one fully connected layer in G and D
        return (DCGANGenerator(c["latent_dim"], c["arch"], c["width"], hidden=hidden),
                self.discriminator_class(c["arch"], c["width"], hidden=hidden))


class CGANRecipe(DCGANRecipe):
    """The conditional DCGAN (models/cgan.py): ``minigen sample RUN --label 7`` draws sevens."""
    name = "cgan"
    conditional = True

    def build(self):
        c = self.config
        return (ConditionalGenerator(self.n_classes, c["latent_dim"], 50, c.get("arch", "w3"), c["width"], self.toy,
                                     c.get("embed_scale", 1.0)),
                ConditionalDiscriminator(self.n_classes, c.get("arch", "w3"), c["width"], toy=self.toy,
                                         conditioning=c.get("conditioning", "projection")))


class WGANGPRecipe(DCGANRecipe):
    """WGAN-GP (models/wgan_gp.py): a DCGAN generator against a critic without batch norm or dropout."""
    name = "wgan-gp"
    defaults = dict(epochs=10, batch_size=64, lr=1e-4, lr_d=1e-4, betas=[0.5, 0.9], latent_dim=100, arch="w3",
                    width=64, n_critic=5, gp_lambda=10.0, ema=0.0)
    # G moves once per 5 batches: on the ring, more epochs and a faster lr to spread over the modes in minutes
    dataset_defaults = {"ring": dict(epochs=60, lr=5e-4, lr_d=5e-4)}
    panels = {"losses": {"loss": "critic loss", "loss_g": "G loss −E f(G(z))"},
              "critic": {"wasserstein": "W estimate E f(x) − E f(G(z))", "gp": "gradient penalty"}}

    discriminator_class = Critic                 # DCGAN's build, with the critic for D

    def _critic_updates(self) -> int:
        """Critic steps taken so far (from Adam's step count, so it survives a resume)."""
        first = next(iter(self.discriminator.parameters()))
        return self.opt_d.state.get(id(first), {}).get("step", 0)

    def train_step(self, x, y):
        G, D, n = self.generator, self.discriminator, x.shape[0]
        with no_grad():
            fake = G(self._z(n))                                                     # (N, 1, 28, 28)
        real_scores, fake_scores = D(x), D(fake)                                     # (N, 1) each
        penalty = gradient_penalty(D, x, fake)                                       # α drawn per example
        loss_d = wgan_gp.critic_loss(real_scores, fake_scores, penalty, self.config["gp_lambda"])
        self.opt_d.zero_grad()
        loss_d.backward()                                                            # through grad(): double backward
        self.opt_d.step()

        if self._critic_updates() % self.config["n_critic"] == 0:                    # every n_critic-th batch
            D.requires_grad_(False)
            loss_g = wgan_gp.generator_loss(D(G(self._z(n))))
            self.opt_g.zero_grad()
            loss_g.backward()
            self.opt_g.step()
            self.update_ema()
            D.requires_grad_(True)
        real_mean, fake_mean = real_scores.detach().mean(), fake_scores.detach().mean()
        return {"loss": loss_d, "loss_g": -fake_mean, "wasserstein": real_mean - fake_mean, "gp": penalty}

    def _score(self, x, *cond):
        return self.discriminator(x)

    def _test_record(self, real, fake):
        return {"test_wasserstein": real - fake}
