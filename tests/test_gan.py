"""The GAN family: shapes, initialisation, one training step, the gradient penalty (checked numerically), the
conditional GAN's labels, exact resume of WGAN-GP's critic/generator schedule, and a smoke run of every
``minigen train MODEL``.

Markers follow the lessons: lesson09 (the MLP GAN, its losses, the ring), lesson10 (DCGAN, the evaluator
classifier and ``minigen eval``; the metrics themselves are in test_metrics.py), lesson11 (conditional GAN),
lesson12 (WGAN-GP).
"""

import json

import numpy as np
import pytest

import minigen
from minigen import cli, models, recipes
from minigen.models import gan as gan_losses
from minigen.models.wgan_gp import gradient_penalty, interpolate
from minigen.nn import functional as F
from minigen.optim.swa_utils import AveragedModel
from minigen.serialization import load
from minigen.train import open_run, train

from helpers import f64

RNG = np.random.default_rng(12)
lesson09, lesson10, lesson11, lesson12 = (pytest.mark.lesson09, pytest.mark.lesson10, pytest.mark.lesson11,
                                          pytest.mark.lesson12)


def randn64(*shape, requires_grad=True):
    """A seeded standard-normal float64 tensor of ``shape`` (the test helper f64 on a fresh draw)."""
    return f64(RNG.standard_normal(shape), requires_grad=requires_grad)


# --- shapes ---------------------------------------------------------------------------------------------------
@lesson09
def test_mlp_gan_shapes():
    G, D = models.Generator(), models.Discriminator()
    image = G(minigen.randn(5, 100))
    assert image.shape == (5, 1, 28, 28)
    assert float(image.data.min()) >= -1 and float(image.data.max()) <= 1          # tanh
    assert D(image).shape == (5, 1)
    assert [m.out_features for m in G.modules() if isinstance(m, minigen.nn.Linear)] == [256, 512, 1024, 784]
    assert [m.out_features for m in D.modules() if isinstance(m, minigen.nn.Linear)] == [1024, 512, 256, 1]


@lesson10
@pytest.mark.parametrize("arch", ["5x5", "421"])
def test_dcgan_shapes(arch):
    G, D = models.DCGANGenerator(arch=arch), models.DCGANDiscriminator(arch=arch)
    shapes = []
    x = minigen.randn(3, 100)
    for layer in G.net:
        x = layer(x)
        shapes.append(x.shape)
    if arch == "5x5":
        assert (3, 256, 7, 7) in shapes and (3, 128, 7, 7) in shapes and (3, 64, 14, 14) in shapes
    else:
        assert (3, 256, 7, 7) in shapes and (3, 128, 14, 14) in shapes
    assert x.shape == (3, 1, 28, 28)
    assert D.features(x).shape == (3, 128 * 7 * 7) and D(x).shape == (3, 1)
    kernels = {m.kernel_size for m in G.modules() if isinstance(m, minigen.nn.ConvTranspose2d) and m.stride != (1, 1)}
    assert kernels == ({(5, 5)} if arch == "5x5" else {(4, 4)})


@lesson10
@pytest.mark.parametrize("arch", ["5x5", "421"])
def test_dcgan_hidden_layer_adds_one_fully_connected_layer_to_each_network(arch):
    G = models.DCGANGenerator(arch=arch, width=8, hidden=24)
    D = models.DCGANDiscriminator(arch=arch, width=8, hidden=24)
    plain = models.DCGANGenerator(arch=arch, width=8)
    linear_sizes = [(m.in_features, m.out_features) for m in G.modules() if isinstance(m, minigen.nn.Linear)]
    assert linear_sizes == [(100, 24), (24, 32 * 49)]
    assert [(m.in_features, m.out_features) for m in plain.modules() if isinstance(m, minigen.nn.Linear)] == \
        [(100, 32 * 49)]
    x = G(minigen.randn(3, 100))
    assert x.shape == (3, 1, 28, 28)
    assert D.feature_dim == 24 and D.features(x).shape == (3, 24) and D(x).shape == (3, 1)
    critic = models.Critic(arch=arch, width=8, hidden=24)
    assert critic(x).shape == (3, 1)
    assert not any(isinstance(m, (minigen.nn.BatchNorm1d, minigen.nn.BatchNorm2d, minigen.nn.Dropout))
                   for m in critic.modules())


@lesson10
def test_dcgan_initialisation():
    G = models.DCGANGenerator()
    conv = [m for m in G.modules() if isinstance(m, minigen.nn.ConvTranspose2d)][0].weight.detach().numpy()
    bn = [m for m in G.modules() if isinstance(m, minigen.nn.BatchNorm2d)][0].weight.detach().numpy()
    assert abs(conv.mean()) < 1e-3 and abs(conv.std() - 0.02) < 1e-3
    assert abs(bn.mean() - 1) < 0.01 and 0.01 < bn.std() < 0.03


@lesson09
def test_toy_nets_shapes():
    assert models.ToyGenerator(2)(minigen.randn(7, 2)).shape == (7, 2)
    assert models.ToyDiscriminator()(minigen.randn(7, 2)).shape == (7, 1)


@lesson11
def test_conditional_shapes():
    G, D = models.ConditionalGenerator(width=8), models.ConditionalDiscriminator(width=8)
    y = minigen.tensor([0, 3, 9])
    image = G(minigen.randn(3, 100), y)
    assert image.shape == (3, 1, 28, 28) and D(image, y).shape == (3, 1)


@lesson11
@pytest.mark.parametrize("conditioning", ["projection", "input"])
def test_conditional_discriminator_depends_on_the_label(conditioning):
    D = models.ConditionalDiscriminator(width=8, conditioning=conditioning).eval()
    x = minigen.randn(2, 1, 28, 28)
    with minigen.no_grad():
        a, b = D(x, minigen.tensor([1, 1])).numpy(), D(x, minigen.tensor([2, 2])).numpy()
    assert a.shape == (2, 1) and not np.allclose(a, b)
    toy = models.ConditionalDiscriminator(8, toy=True, conditioning=conditioning)
    assert toy(minigen.randn(3, 2), minigen.tensor([0, 5, 7])).shape == (3, 1)


@lesson11
def test_conditional_generator_label_embedding_is_small_beside_the_noise():
    G = models.ConditionalGenerator(width=8)
    norms = np.linalg.norm(G.embed.weight.detach().numpy(), axis=1)
    assert 0.5 < norms.mean() < 1.5                                   # ‖z‖ ≈ 10: z is heard from the start


@lesson12
@pytest.mark.parametrize("arch", ["5x5", "421"])
def test_critic_has_no_batchnorm_or_dropout(arch):
    batch_coupled = (minigen.nn.BatchNorm1d, minigen.nn.BatchNorm2d, minigen.nn.Dropout)
    assert any(isinstance(m, batch_coupled) for m in models.DCGANDiscriminator(arch=arch).modules())  # D has them
    C = models.Critic(arch=arch)
    assert not [m for m in C.modules() if isinstance(m, batch_coupled)]
    assert C(minigen.randn(2, 1, 28, 28)).shape == (2, 1)


@lesson10
def test_classifier_shapes():
    C = models.Classifier()
    x = minigen.rand(4, 1, 28, 28)
    assert C(x).shape == (4, 10) and C.features(x).shape == (4, 256)


# --- losses and one training step -----------------------------------------------------------------------------
@lesson09
def test_losses_use_logits_and_stay_finite():
    huge = minigen.tensor([[200.0], [-200.0]])                       # σ rounds to 1 and 0 in float32
    assert np.isfinite(gan_losses.discriminator_loss(huge, huge).item())
    assert np.isfinite(gan_losses.generator_loss(huge).item())
    half = minigen.zeros(4, 1)                                       # D says ½ everywhere: 2·log 2 and log 2
    assert gan_losses.discriminator_loss(half, half).item() == pytest.approx(2 * np.log(2), rel=1e-6)
    assert gan_losses.generator_loss(half).item() == pytest.approx(np.log(2), rel=1e-6)


def _recipe(name, **config):
    base = dict(dataset="digits", seed=0, epochs=1, batch_size=16, limit=None, data_root=None, device="cpu")
    cls = recipes.get(name)
    return cls({**cls.defaults, **base, **config}, "cpu")


def _d_loss(recipe, x, y, fake, fake_y):
    D = recipe.discriminator
    D.eval()
    with minigen.no_grad():
        cond_real, cond_fake = ((y,), (fake_y,)) if recipe.conditional else ((), ())
        loss = gan_losses.discriminator_loss(D(x, *cond_real), D(fake, *cond_fake)).item()
    D.train()
    return loss


@pytest.mark.parametrize("name", [pytest.param("gan", marks=lesson09), pytest.param("dcgan", marks=lesson10),
                                  pytest.param("cgan", marks=lesson11)])
def test_one_step_lowers_the_discriminator_loss_on_a_fixed_batch(name):
    recipe = _recipe(name, width=8, lr_d=1e-3)
    x = minigen.rand(16, 1, 28, 28) * 2 - 1
    y = minigen.randint(0, 10, (16,))
    with minigen.no_grad():
        fake = recipe.generator(minigen.randn(16, 100), *((y,) if recipe.conditional else ()))
    before = _d_loss(recipe, x, y, fake, y)
    recipe.train_step(x, y, 0)
    assert _d_loss(recipe, x, y, fake, y) < before


@lesson12
def test_critic_step_lowers_the_critic_loss_and_generator_moves_every_fifth_step():
    recipe = _recipe("wgan-gp", width=8, lr_d=1e-3)
    x = minigen.rand(8, 1, 28, 28) * 2 - 1

    def g_weight():
        return recipe.generator.net[0].weight.detach().numpy().copy()

    g0 = g_weight()
    losses = [recipe.train_step(x, None, step)["loss"].item() for step in range(4)]
    assert np.array_equal(g_weight(), g0)                              # steps 0-3 (4 critic steps): G untouched
    recipe.train_step(x, None, 4)                                      # the 5th: G moves
    g5 = g_weight()
    assert not np.array_equal(g5, g0)
    assert losses[-1] < losses[0]
    recipe.train_step(x, None, 5)                                      # the schedule follows the step passed in,
    assert np.array_equal(g_weight(), g5)                              # not a count of calls
    recipe.train_step(x, None, 9)
    assert not np.array_equal(g_weight(), g5)


@lesson09
def test_ema_generator_is_a_running_average_and_draws_the_samples():
    recipe = _recipe("dcgan", width=8, ema=0.75)
    ema = recipe.generator_ema
    assert isinstance(ema, AveragedModel) and recipe.sampler is ema and recipe.modules()["generator_ema"] is ema
    before = recipe.generator.net[0].weight.detach().numpy().copy()
    assert np.array_equal(ema.module.net[0].weight.detach().numpy(), before)     # starts at G's initial weights
    recipe.train_step(minigen.rand(8, 1, 28, 28) * 2 - 1, None, 0)
    after = recipe.generator.net[0].weight.detach().numpy()
    average = ema.module.net[0].weight.detach().numpy()
    assert np.allclose(average, 0.75 * before + 0.25 * after, atol=1e-7) and not np.allclose(average, after)
    for b_avg, b in zip(ema.module.buffers(), recipe.generator.buffers()):      # batch-norm statistics: copied
        assert np.array_equal(b_avg.numpy(), b.numpy())
    plain = _recipe("dcgan", width=8)
    assert plain.generator_ema is None and plain.sampler is plain.generator and "generator_ema" not in plain.modules()
    # the average takes no random draws: G trains the same with it as without it
    minigen.manual_seed(5)
    with_ema = _recipe("dcgan", width=8, ema=0.75)
    with_ema.train_step(minigen.rand(8, 1, 28, 28) * 2 - 1, None, 0)
    minigen.manual_seed(5)
    without = _recipe("dcgan", width=8)
    without.train_step(minigen.rand(8, 1, 28, 28) * 2 - 1, None, 0)
    for p, q in zip(with_ema.generator.parameters(), without.generator.parameters()):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())
    # a checkpoint saved when the average held G's keys alone still loads (as an average already begun)
    ema.load_state_dict(recipe.generator.state_dict())
    assert ema.n_averaged.item() == 1 and np.array_equal(ema.module.net[0].weight.detach().numpy(), after)


# --- the gradient penalty -------------------------------------------------------------------------------------
def tiny_critic(w1, b1, w2):
    """(N, 1, 4, 4) → conv 3×3 stride 2 → tanh (smooth: second derivatives are not zero) → leaky ReLU → (N, 1)."""
    def f(x):
        h = F.leaky_relu(F.tanh(F.conv2d(x, w1, b1, stride=2, padding=1)), 0.2)   # (N, 2, 2, 2)
        return F.flatten(h, 1) @ w2                                                  # (N, 1)
    return f


@lesson12
def test_gradient_penalty_gradient_matches_finite_differences():
    real, fake = randn64(3, 1, 4, 4, requires_grad=False), randn64(3, 1, 4, 4, requires_grad=False)
    alpha = minigen.rand(3, 1, 1, 1, dtype=minigen.float64)
    w1, b1, w2 = randn64(2, 1, 3, 3), randn64(2), randn64(8, 1)
    assert minigen.gradcheck(lambda a, b, c: gradient_penalty(tiny_critic(a, b, c), real, fake, alpha),
                             (w1, b1, w2))
    assert minigen.gradgradcheck(lambda x, a, b, c: tiny_critic(a, b, c)(x), (randn64(3, 1, 4, 4), w1, b1, w2))


@lesson12
def test_gradient_penalty_of_linear_critics():
    real, fake = minigen.randn(6, 1, 4, 4), minigen.randn(6, 1, 4, 4)
    a = minigen.randn(16, 1)
    a = a / (a * a).sum().sqrt()                                      # ‖∇f‖ = 1: no penalty
    assert gradient_penalty(lambda x: F.flatten(x, 1) @ a, real, fake).item() == pytest.approx(0, abs=1e-6)
    assert gradient_penalty(lambda x: F.flatten(x, 1) @ (3 * a), real, fake).item() == pytest.approx(4, rel=1e-5)
    zero = minigen.zeros(16, 1)                                       # ∇f = 0: ε keeps √ finite, penalty 1
    assert gradient_penalty(lambda x: F.flatten(x, 1) @ zero, real, fake).item() == pytest.approx(1, rel=1e-5)


@lesson12
def test_interpolates_use_one_alpha_per_example():
    real, fake = minigen.randn(5, 1, 6, 6), minigen.randn(5, 1, 6, 6)
    x_hat = interpolate(real, fake)
    ratio = (x_hat.data - fake.data) / (real.data - fake.data)        # = α for every pixel of an example
    assert x_hat.requires_grad and x_hat.shape == real.shape
    assert np.allclose(ratio, ratio[:, :1, :1, :1], atol=1e-4)
    assert ratio.min() >= -1e-4 and ratio.max() <= 1 + 1e-4 and ratio[:, 0, 0, 0].std() > 0


# --- conditional sampling --------------------------------------------------------------------------------------
@lesson11
def test_conditional_sampling_uses_the_label_and_rows_per_class():
    recipe = _recipe("cgan", width=8)
    recipe.train(False)
    assert recipe.samples_per_epoch == 100 and recipe.sample_rows == 10
    assert list(recipe.conditioning.labels("cgan", 100)) == [k for k in range(10) for _ in range(10)]
    assert list(recipe.conditioning.labels("cgan", 5, 7)) == [7] * 5
    noise = recipe.noise(4, np.random.default_rng(0))
    sevens, ones = recipe.sample(noise, 7), recipe.sample(noise, 1)
    assert sevens.shape == (4, 28, 28) and not np.allclose(sevens, ones)
    with pytest.raises(ValueError, match="labels must lie in 0..9"):
        recipe.sample(noise, 10)
    with pytest.raises(ValueError, match="not conditional"):
        _recipe("gan").sample(noise, 3)


# --- runs ------------------------------------------------------------------------------------------------------
SMOKE = ["--epochs", "1", "--limit", "64", "--batch-size", "32", "--quiet"]


@pytest.mark.parametrize("model, extra", [
    pytest.param("gan", [], marks=lesson09), pytest.param("dcgan", ["--width", "8"], marks=lesson10),
    pytest.param("dcgan", ["--arch", "421", "--width", "8", "--ema", "0.9", "--hidden", "16"], marks=lesson10),
    pytest.param("cgan", ["--width", "8"], marks=lesson11), pytest.param("wgan-gp", ["--width", "8"], marks=lesson12),
    pytest.param("gan", ["--dataset", "ring", "--batch-size", "2"], marks=lesson09),      # 32 steps: a logged one
    pytest.param("wgan-gp", ["--dataset", "ring", "--batch-size", "2"], marks=lesson12)])
def test_every_gan_trains_from_the_command_line(model, extra, tmp_path):
    run = tmp_path / "run"
    assert cli.main(["train", model, *SMOKE, *extra, "--out", str(run)]) == 0
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "metrics.jsonl", "checkpoint_last.npz", "samples_epoch_001.png",
            "samples_evolution.gif"} <= names
    assert {"ring.png", "losses.png"} <= names if "ring" in extra else "interpolation.png" in names
    steps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epoch = [r for r in steps if r["kind"] == "epoch"][0]
    keys = {"train_wasserstein", "train_gp"} if model == "wgan-gp" else {"train_d_real", "train_d_fake"}
    assert keys | {"train_loss", "train_loss_g"} <= epoch.keys()
    assert all(np.isfinite(v) for v in epoch.values() if isinstance(v, float))
    if "ring" in extra:                    # the logged modes are what the saved generator gives
        assert open_run(run).recipe.evaluate(None) == {k: epoch[k] for k in ("modes", "modes_reached",
                                                                          "high_quality")}


@lesson12
def test_wgan_gp_resumes_exactly(tmp_path):
    tiny = dict(dataset="ring", batch_size=32, limit=96, progress=False)   # 3 batches: G moves on batch 5
    straight = train("wgan-gp", epochs=2, out=tmp_path / "straight", **tiny)
    half = train("wgan-gp", epochs=1, out=tmp_path / "half", **tiny)
    train("wgan-gp", epochs=2, resume=half, progress=False)
    for part in ("generator", "discriminator"):
        a, b = (load(r / "checkpoint_last.npz")["modules"][part] for r in (straight, half))
        assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


@lesson10
def test_classifier_trains_samples_nothing_and_eval_scores_gans(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)                                        # the default runs/classifier-digits
    assert cli.main(["train", "classifier", *SMOKE, "--width", "4", "--out", "runs/classifier-digits"]) == 0
    judge = tmp_path / "runs" / "classifier-digits"
    assert not list(judge.glob("samples_epoch_*.png"))
    assert "test_accuracy" in json.loads((judge / "metrics.jsonl").read_text().splitlines()[-1])

    gan_run = tmp_path / "elsewhere" / "cgan"
    assert cli.main(["train", "cgan", *SMOKE, "--width", "8", "--out", str(gan_run)]) == 0
    capsys.readouterr()
    assert cli.main(["eval", str(gan_run), "--n-samples", "50"]) == 0       # found at runs/classifier-digits
    out = capsys.readouterr().out
    results = json.loads((gan_run / "eval.json").read_text())
    for key in ("fid", "classifier_score", "class_shares", "label_accuracy", "real_fid_train_vs_test",
                "real_classifier_score", "real_accuracy", "uncertain_share", "real_uncertain_share",
                "nearest_train_distance", "real_nearest_train_distance", "near_copy_share"):
        assert key in results and key in out
    assert 0 < results["real_nearest_train_distance"] and 0 <= results["near_copy_share"] <= 1
    assert (gan_run / "nearest_train.png").exists()
    assert (gan_run / "least_certain.png").exists() and results["n"] == 50 and len(results["class_shares"]) == 10
    drawn = (gan_run / "least_certain.png").read_bytes()                 # a sweep's eval leaves the pictures be
    sweep = tmp_path / "e.json"
    assert cli.main(["eval", str(gan_run), "--n-samples", "40", "--no-pictures", "--out", str(sweep)]) == 0
    assert (gan_run / "least_certain.png").read_bytes() == drawn and json.loads(sweep.read_text())["n"] == 40
    for key in ("uncertain_share", "label_accuracy", "real_accuracy"):         # fractions of the 50 images
        assert results[key] * 50 == pytest.approx(round(results[key] * 50), abs=1e-9), key
    assert cli.main(["sample", str(gan_run), "--label", "7", "--n", "8", "--out", str(tmp_path / "7.png")]) == 0
    assert (tmp_path / "7.png").exists()

    monkeypatch.chdir(gan_run)                                         # nothing to find from here
    monkeypatch.delenv("MINIGEN_EVALUATOR", raising=False)
    with pytest.raises(SystemExit, match="no evaluator classifier for 'digits'.*minigen train classifier"):
        cli.main(["eval", str(gan_run), "--n-samples", "50", "--evaluator", str(tmp_path / "nope")])
