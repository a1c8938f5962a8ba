"""Recipes for the GAN family: ``gan`` (MLP), ``dcgan``, ``cgan`` (conditional) and ``wgan-gp``.

One training step of every GAN here (``GANRecipe.train_step``):

1. draw z ~ N(0, I) (and, when conditional, labels for the fakes) and make a batch of fakes G(z);
2. update D on the real batch and the fakes, with the fakes *detached* (D's loss must not move G);
3. when the loss says G is due, update G through the (just updated) D, with D's weights frozen, so backward skips
   their gradients; then update the running average of G's weights (``--ema``).

The four recipes differ only in their networks and in two objects the step is composed with
(``recipes/gan_variants.py``): a *conditioning* (none, or the class label) and a *loss* (the non-saturating GAN
loss, with G moving every step; or the Wasserstein loss with gradient penalty, with G moving every ``n_critic``-th
step). The step number the loop passes in decides that schedule, so it survives a resume.

What a step reports lands in metrics.jsonl and losses.png: D's loss first (watched for NaN), G's loss, and the
mean probabilities D gives the real and the generated batch, σ(D(x)) and σ(D(G(z))) (WGAN-GP: the critic's
estimate of the Wasserstein distance, E f(x) − E f(G(z)), and the penalty). At the equilibrium of the game
D(x) ≈ D(G(z)) ≈ ½; a D(x) near 1 with D(G(z)) near 0 for long means D has won and G's gradients are fading.

On ``--dataset ring`` every recipe uses small MLPs on 2-D points: the pictures draw real against generated points
and ``evaluate`` counts the modes the generator covers. On images: samples from the same noise every epoch (the
conditional GAN: one row per class), their animated GIF and a latent interpolation strip.

Learning rates: ``--lr`` is the generator's, ``--lr-d`` the discriminator's (critic's); Adam with β₁ = 0.5.
``--ema 0.999`` samples from a running average of G's weights (``update_ema``: an ``AveragedModel`` of G, from
``optim/swa_utils.py``, with the exponential moving average; G's own training is the same with or without it).
"""

from __future__ import annotations

import numpy as np

from .. import data, metrics, optim
from ..autograd import no_grad
from ..creation import randn, tensor
from ..data.ring import Ring
from ..models import (ConditionalDiscriminator, ConditionalGenerator, Critic, DCGANDiscriminator, DCGANGenerator,
                      Discriminator, Generator, ToyDiscriminator, ToyGenerator)
from ..optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from .base import Recipe, update
from .gan_variants import ClassConditional, NonSaturating, Unconditional, WassersteinGP


class GANRecipe(Recipe):
    """The MLP GAN (models/gan.py) with the non-saturating loss; the base of the other three."""
    name = "gan"
    defaults = dict(epochs=10, batch_size=64, lr=2e-4, lr_d=2e-4, betas=[0.5, 0.999], latent_dim=100, ema=0.0)
    dataset_defaults = {"ring": dict(epochs=30)}   # 30 × 157 steps of tiny MLPs: about a minute
    pixel_range = (-1.0, 1.0)
    best = ("none", "max")     # no test number ranks GAN checkpoints (scores come from `minigen eval`): use the last
    conditional = False
    scored_by_evaluator = True   # `minigen eval` scores samples with the evaluator classifier

    def __init__(self, config, device):
        super().__init__(config, device)
        self.points = config["dataset"] == "ring"            # 2-D points instead of images
        self.conditioning = ClassConditional(Ring.modes if self.points else 10) if self.conditional \
            else Unconditional()
        self.loss = self.make_loss()
        self.curves = self.loss.curves
        self.sample_rows = self.conditioning.rows
        if self.points:
            self.samples_per_epoch = 1000                     # a scatter plot needs many
            self.pictures = ("samples_gif", "ring")
        else:
            self.samples_per_epoch = 10 * self.conditioning.rows if self.conditional else 64
            self.pictures = ("samples_gif", "latent_interpolation")
        self.generator, self.discriminator = (m.to(device) for m in self.build())
        self.generator_ema = None
        if config.get("ema"):                    # a running average of G's weights, used for sampling
            self.generator_ema = GeneratorAverage(self.generator, multi_avg_fn=get_ema_multi_avg_fn(config["ema"]))
            self.generator_ema.update_parameters(self.generator)   # the average starts at G's initial weights
        betas = tuple(config["betas"])
        self.opt_g = optim.Adam(self.generator.parameters(), lr=config["lr"], betas=betas)
        self.opt_d = optim.Adam(self.discriminator.parameters(), lr=config["lr_d"], betas=betas)

    @property
    def n_classes(self):
        return self.conditioning.n_classes

    def build(self):
        """The generator and the discriminator (fresh, on the CPU)."""
        if self.points:
            return ToyGenerator(self.config["latent_dim"]), ToyDiscriminator()
        return Generator(self.config["latent_dim"]), Discriminator()

    def make_loss(self):
        return NonSaturating()

    # --- training ----------------------------------------------------------------------------------------
    def transform(self, train):
        if self.points:
            return data.Compose([])                      # the ring's points are float32 already
        return data.Compose([data.ToFloat(), data.ScaleTo(-1.0, 1.0), data.AddChannel()])  # → (N, 1, 28, 28)

    def modules(self):
        ema = {"generator_ema": self.generator_ema} if self.generator_ema is not None else {}
        return {"generator": self.generator, "discriminator": self.discriminator, **ema}

    def optimizers(self):
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def _z(self, n):
        return randn(n, self.config["latent_dim"], device=self.device)             # (N, 100)

    def train_step(self, x, y, step):
        G, D, n = self.generator, self.discriminator, x.shape[0]
        real_cond, fake_cond = self.conditioning.real(y), self.conditioning.fake(n, self.device)
        fake = G(self._z(n), *fake_cond)                                           # (N, 1, 28, 28)

        # 1. D (the critic): real against fakes; detach() cuts G out of this graph
        loss_d, report = self.loss.discriminator(D, x, fake.detach(), real_cond, fake_cond)
        update(self.opt_d, loss_d)

        # 2. G, when due: make the updated D say "real"; D frozen, so no gradients for its weights
        if self.loss.generator_due(step):
            if self.loss.fresh_noise_for_generator:
                fake = G(self._z(n), *fake_cond)
            D.requires_grad_(False)
            loss_g = self.loss.generator(D(fake, *fake_cond))
            update(self.opt_g, loss_g)
            self.update_ema()
            D.requires_grad_(True)
            report.setdefault("loss_g", loss_g)
        return {"loss": loss_d, **report}

    def update_ema(self):
        """θ_ema ← β·θ_ema + (1 − β)·θ after each generator step (β = ``ema``, e.g. 0.999: an average over the
        last ~1/(1 − β) steps). Batch-norm statistics are copied from G, not averaged (``AveragedModel``'s
        default): the average of the weights is evaluated with G's current running statistics. GAN weights keep
        circling the equilibrium rather than settling on it; their average sits closer to it (Yazıcı et al.,
        2019)."""
        if self.generator_ema is not None:
            self.generator_ema.update_parameters(self.generator)

    @no_grad()
    def evaluate(self, loader, n: int = 2000):
        """The ring: modes covered by 2,000 generated points. Images: D's mean output on n test images and on
        n fakes of the same classes (D in eval mode: no dropout), a glance at how D generalises beyond the
        training set."""
        rng = np.random.default_rng([self.config["seed"], 7])
        if self.points:
            return metrics.ring_modes(self.sample(self.noise(n, rng)), Ring.centers(), Ring.std)
        real, fake, count = 0.0, 0.0, 0
        for x, y in loader:
            z = tensor(self.noise(x.shape[0], rng), device=self.device)
            cond = self.conditioning.real(y)
            real += float(self.loss.score(self.discriminator, x, cond).sum().item())
            fake += float(self.loss.score(self.discriminator, self.generator(z, *cond), cond).sum().item())
            count += x.shape[0]
            if count >= n:
                break
        return self.loss.test_record(real / count, fake / count)

    # --- sampling ----------------------------------------------------------------------------------------
    @property
    def sampler(self):
        """The generator that draws samples: the weight average when ``ema`` is on, else G itself."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    @no_grad()
    def sample(self, noise, labels=None, rng=None):
        """Noise (N, latent) [and labels] → images (N, 28, 28) in [0, 1] (the ring: points (N, 2))."""
        cond = self.conditioning.sampling(self.name, len(noise), labels, self.device)
        out = self.sampler(tensor(noise, device=self.device), *cond).numpy()
        return out if self.points else self.to_unit(out[:, 0])


class GeneratorAverage(AveragedModel):
    """The running average of G (``generator_ema`` in a checkpoint: ``n_averaged`` and G's weights under
    ``module.``). It also loads a checkpoint saved before the average was an ``AveragedModel``, which held G's
    keys alone: those are the averaged weights, and the count only needs to say that averaging has begun."""

    def load_state_dict(self, state_dict, strict: bool = True):
        if "n_averaged" not in state_dict:
            state_dict = {"n_averaged": np.array(1, dtype=np.int64),
                          **{f"module.{k}": v for k, v in state_dict.items()}}
        return super().load_state_dict(state_dict, strict)


def dcgan_networks(config: dict, points: bool, discriminator):
    """A DCGAN generator and ``discriminator`` (DCGANDiscriminator, or WGAN-GP's Critic) as ``config`` sets them:
    ``arch``, ``width``, ``hidden`` (--hidden 1024: one fully connected layer in each); on 2-D points, the toy MLPs
    (no batch norm, no dropout)."""
    if points:
        return ToyGenerator(config["latent_dim"]), ToyDiscriminator()
    hidden = (config.get("hidden") or [0])[0]
    return (DCGANGenerator(config["latent_dim"], config["arch"], config["width"], hidden=hidden),
            discriminator(config["arch"], config["width"], hidden=hidden))


class DCGANRecipe(GANRecipe):
    """DCGAN (models/dcgan.py): ``--arch 5x5`` (5×5 kernels) or ``--arch 421`` (4×4 kernels, stride 2, padding 1);
    ``--width`` channels; ``--hidden 1024`` one fully connected layer in each network."""
    name = "dcgan"
    defaults = dict(epochs=10, batch_size=64, lr=2e-4, lr_d=1e-4, betas=[0.5, 0.999], latent_dim=100, arch="5x5",
                    width=64, ema=0.0)

    def build(self):
        return dcgan_networks(self.config, self.points, DCGANDiscriminator)


class CGANRecipe(GANRecipe):
    """The conditional DCGAN (models/cgan.py): ``minigen sample RUN --label 7`` draws sevens."""
    name = "cgan"
    defaults = DCGANRecipe.defaults
    conditional = True

    def build(self):
        c = self.config
        return (ConditionalGenerator(self.n_classes, c["latent_dim"], 50, c["arch"], c["width"], self.points,
                                     c.get("embed_scale", 1.0)),
                ConditionalDiscriminator(self.n_classes, c["arch"], c["width"], toy=self.points,
                                         conditioning=c.get("conditioning", "projection")))


class WGANGPRecipe(GANRecipe):
    """WGAN-GP (models/wgan_gp.py): a DCGAN generator against a critic without batch norm or dropout, trained with
    the Wasserstein loss and gradient penalty; G moves once every ``n_critic`` critic steps."""
    name = "wgan-gp"
    defaults = dict(epochs=10, batch_size=64, lr=1e-4, lr_d=1e-4, betas=[0.5, 0.9], latent_dim=100, arch="5x5",
                    width=64, n_critic=5, gp_lambda=10.0, ema=0.0)
    # G moves once per 5 batches: on the ring, more epochs and a faster lr to spread over the modes in minutes
    dataset_defaults = {"ring": dict(epochs=60, lr=5e-4, lr_d=5e-4)}

    def build(self):
        return dcgan_networks(self.config, self.points, Critic)

    def make_loss(self):
        return WassersteinGP(self.config["n_critic"], self.config["gp_lambda"])
