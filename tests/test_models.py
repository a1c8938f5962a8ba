"""The library functions the lessons re-derive, tested directly (the lesson checks test the learner's versions):
the VAE's reparameterisation and KL term, the GAN losses on logits, the latent walk (slerp), the projection
discriminator's label term, and the gradient penalty where the critic is flat. Each against float64 NumPy."""

import numpy as np
import pytest

import minigen
from minigen import nn
from minigen.models import ConditionalDiscriminator
from minigen.models import gan as gan_losses
from minigen.models.gan import slerp
from minigen.models.vae import kl_divergence, reparameterize
from minigen.models.wgan_gp import gradient_penalty, interpolate

from helpers import f64


# --- the VAE (lesson 08) -----------------------------------------------------------------------------------------
@pytest.mark.lesson08
def test_reparameterize_is_mu_plus_half_log_variance_exp_times_the_same_noise():
    rng = np.random.default_rng(0)
    mu, logvar = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    minigen.manual_seed(11)
    z = reparameterize(f64(mu), f64(logvar))
    minigen.manual_seed(11)                                       # the ε reparameterize drew: the same draw again
    eps = minigen.randn(5, 3, dtype=minigen.float64).numpy()
    assert z.dtype == np.float64
    np.testing.assert_array_equal(z.detach().numpy(), mu + np.exp(0.5 * logvar) * eps)   # σ = exp(½ log σ²)


@pytest.mark.lesson08
def test_reparameterize_passes_gradients_to_mu_and_logvar():
    rng = np.random.default_rng(1)
    mu, logvar = f64(rng.standard_normal((4, 2))), f64(rng.standard_normal((4, 2)))

    def seeded(m, v):                                             # the same ε on every call of the check
        minigen.manual_seed(5)
        return reparameterize(m, v)

    assert minigen.gradcheck(seeded, (mu, logvar))


@pytest.mark.lesson08
def test_kl_divergence_is_the_closed_form_per_example():
    rng = np.random.default_rng(2)
    mu, logvar = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    kl = kl_divergence(f64(mu), f64(logvar))
    assert kl.shape == (6,)
    sigma = np.exp(0.5 * logvar)                                  # KL(N(μ, σ²) ‖ N(0, 1)) = log(1/σ) + (σ² + μ²)/2 − ½
    np.testing.assert_allclose(kl.detach().numpy(), (-np.log(sigma) + (sigma ** 2 + mu ** 2) / 2 - 0.5).sum(1),
                               rtol=1e-12)
    assert np.all(kl_divergence(f64(np.zeros((2, 4))), f64(np.zeros((2, 4)))).detach().numpy() == 0)
    assert minigen.gradcheck(kl_divergence, (f64(mu), f64(logvar)))


# --- the GAN losses and the latent walk (lesson 09) --------------------------------------------------------------
@pytest.mark.lesson09
def test_gan_losses_are_the_binary_cross_entropies_on_logits():
    rng = np.random.default_rng(3)
    real, fake = 3 * rng.standard_normal((7, 1)), 3 * rng.standard_normal((5, 1))
    # −log σ(r) = log(1 + e^(−r)),  −log(1 − σ(f)) = log(1 + e^f)
    d = np.logaddexp(0, -real).mean() + np.logaddexp(0, fake).mean()
    np.testing.assert_allclose(gan_losses.discriminator_loss(f64(real), f64(fake)).item(), d, rtol=1e-12)
    np.testing.assert_allclose(gan_losses.generator_loss(f64(fake)).item(), np.logaddexp(0, -fake).mean(),
                               rtol=1e-12)                       # non-saturating: −log σ(f), not log(1 − σ(f))
    assert minigen.gradcheck(gan_losses.discriminator_loss, (f64(real), f64(fake)))
    assert minigen.gradcheck(gan_losses.generator_loss, (f64(fake),))


@pytest.mark.lesson09
def test_slerp_keeps_to_the_great_circle_between_its_ends():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(6), rng.standard_normal(6)
    b *= np.linalg.norm(a) / np.linalg.norm(b)                    # two ends of the same norm r
    t = np.linspace(0, 1, 7)[:, None]                             # (S, 1)
    path = slerp(a, b, t)                                         # (S, D)
    assert path.shape == (7, 6)
    np.testing.assert_allclose(path[0], a, rtol=1e-12)
    np.testing.assert_allclose(path[-1], b, rtol=1e-12)
    omega = np.arccos(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    # on the great circle through a and b: every point has norm r, and its angle to a grows as tΩ
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(a), rtol=1e-12)
    angles = np.arccos(np.clip(path @ a / np.linalg.norm(a) ** 2, -1, 1))
    np.testing.assert_allclose(angles, t[:, 0] * omega, atol=1e-7)
    same = slerp(a, a, t)                                         # Ω = 0: the straight line, no 0/0
    np.testing.assert_allclose(same, np.broadcast_to(a, (7, 6)), rtol=1e-12)


# --- the projection discriminator (lesson 11) --------------------------------------------------------------------
@pytest.mark.lesson11
def test_projection_discriminator_adds_the_label_vectors_inner_product_with_the_features():
    minigen.manual_seed(0)
    D = ConditionalDiscriminator(width=8).eval()
    with minigen.no_grad():
        D.embed.weight.data *= 50                                 # the table starts at ±0.02: make the term matter
        x, y, y2 = minigen.randn(4, 1, 28, 28), minigen.tensor([0, 3, 9, 1]), minigen.tensor([2, 3, 5, 8])
        features = D.body.features(x).numpy()                     # φ(x) (N, F)
        table = D.embed.weight.detach().numpy()                            # e (K, F)
        change = (D(x, y) - D(x, y2)).numpy()[:, 0]
    # ψ(φ(x)) cancels; what is left is (e(y) − e(y'))ᵀφ(x), 0 where the labels agree
    expected = ((table[y.numpy()] - table[y2.numpy()]) * features).sum(1)
    np.testing.assert_allclose(change, expected, rtol=1e-4, atol=1e-4)
    assert np.abs(expected).max() > 1e-2 and change[1] == 0


# --- the gradient penalty (lesson 12) ----------------------------------------------------------------------------
@pytest.mark.lesson12
def test_interpolate_mixes_each_example_with_its_own_alpha_into_a_new_leaf():
    rng = np.random.default_rng(6)
    real, fake = rng.standard_normal((4, 1, 3, 3)), rng.standard_normal((4, 1, 3, 3))
    alpha = rng.uniform(size=(4, 1, 1, 1))                        # one α per example
    r, f = f64(real), f64(fake)
    x_hat = interpolate(r, f, f64(alpha, False))
    np.testing.assert_array_equal(x_hat.detach().numpy(), alpha * real + (1 - alpha) * fake)
    assert x_hat.is_leaf and x_hat.requires_grad                  # the critic's gradient is taken w.r.t. x̂
    x_hat.sum().backward()
    assert r.grad is None and f.grad is None                      # no graph back to the real or fake batch


@pytest.mark.lesson12
def test_gradient_penalty_gives_finite_weight_gradients_where_the_critic_is_flat():
    # A critic whose output ignores its input: ∇ₓf = 0, so ‖∇ₓf‖ = √(0 + ε). Without ε inside the square root
    # d√u/du = 1/(2√u) is infinite at u = 0, and the weights' gradient is NaN.
    rng = np.random.default_rng(5)
    w1, b1, w2 = f64(np.zeros((3, 4))), f64(rng.standard_normal(3)), f64(rng.standard_normal((1, 3)))
    F = nn.functional
    critic = lambda x: F.linear(F.tanh(F.linear(x, w1, b1)), w2)  # noqa: E731  f(x) = w₂·tanh(W₁x + b₁), W₁ = 0
    real, fake = f64(rng.standard_normal((5, 4)), False), f64(rng.standard_normal((5, 4)), False)
    gp = gradient_penalty(critic, real, fake, f64(rng.uniform(size=(5, 1)), False))
    gp.backward()
    for p in (w1, b1, w2):
        assert p.grad is not None and np.isfinite(p.grad.numpy()).all(), "ε belongs inside the square root"
        # ∂GP/∂g = 2(‖g‖ − 1)·g/‖g‖ with ‖g‖ = √(Σg² + ε): 0 at g = 0, so every weight's gradient is 0
        np.testing.assert_allclose(p.grad.numpy(), 0.0, atol=1e-9)
    np.testing.assert_allclose(gp.item(), (np.sqrt(1e-12) - 1) ** 2, rtol=1e-12)
