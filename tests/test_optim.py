"""Optimizers against hand-computed steps, and exact resumption through state_dict."""

import math

import numpy as np
import pytest

import minigen
from minigen import nn, optim

from helpers import f64

pytestmark = pytest.mark.lesson06


def param(values):
    return nn.Parameter(f64(values, requires_grad=False))


def set_grad(p, values):
    p.grad = f64(values, requires_grad=False)


def test_sgd_plain_and_weight_decay():
    p = param([1.0, -2.0])
    opt = optim.SGD([p], lr=0.1, weight_decay=0.5)
    set_grad(p, [0.2, 0.4])
    opt.step()
    # d = g + λθ = [0.2 + 0.5, 0.4 − 1.0];  θ − 0.1·d
    np.testing.assert_allclose(p.detach().numpy(),
                               [1.0 - 0.1 * 0.7, -2.0 + 0.1 * 0.6])


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_two_steps(nesterov):
    p = param([1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, nesterov=nesterov)
    set_grad(p, [1.0])
    opt.step()  # b = 1;  step = 1 + 0.9·1 (Nesterov) or 1
    first = 1.0 - 0.1 * (1.9 if nesterov else 1.0)
    np.testing.assert_allclose(p.detach().numpy(), [first])
    set_grad(p, [2.0])
    opt.step()  # b = 0.9·1 + 2 = 2.9;  step = 2 + 0.9·2.9 (Nesterov) or 2.9
    np.testing.assert_allclose(p.detach().numpy(), [first - 0.1 * ((2 + 0.9 * 2.9) if nesterov else 2.9)])


def test_adam_two_steps_by_hand():
    p = param([0.5, -1.0])
    opt = optim.Adam([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    g1, g2 = np.array([0.1, -0.3]), np.array([0.2, 0.1])
    theta, m, v = np.array([0.5, -1.0]), np.zeros(2), np.zeros(2)
    for t, g in enumerate((g1, g2), start=1):
        set_grad(p, g)
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        theta = theta - 0.01 / (1 - 0.9 ** t) * m / (np.sqrt(v) / np.sqrt(1 - 0.999 ** t) + 1e-8)
        np.testing.assert_allclose(p.detach().numpy(), theta, rtol=1e-12)


def test_adam_weight_decay_adds_decay_to_the_gradient_two_steps():
    """PyTorch's Adam (not AdamW): L2 decay joins the gradient, g ← g + λθ, before the moments see it."""
    p = param([0.5, -1.0, 2.0])
    lr, (b1, b2), eps, wd = 0.01, (0.8, 0.99), 1e-8, 0.3
    opt = optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    theta, m, v = np.array([0.5, -1.0, 2.0]), np.zeros(3), np.zeros(3)
    for t, g in enumerate((np.array([0.1, -0.3, 0.0]), np.array([0.2, 0.1, -0.4])), start=1):
        set_grad(p, g)
        opt.step()
        d = g + wd * theta                                 # the decayed gradient, from θ before this step
        m = b1 * m + (1 - b1) * d
        v = b2 * v + (1 - b2) * d * d
        theta = theta - lr / (1 - b1 ** t) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)
        np.testing.assert_allclose(p.detach().numpy(), theta, rtol=1e-12, atol=0)


def test_optimizers_keep_float32():
    p = nn.Parameter(minigen.randn(3))
    for opt in (optim.SGD([p], lr=0.1, momentum=0.9), optim.Adam([p])):
        p.grad = minigen.randn(3)
        opt.step()
        assert p.dtype == np.float32


def test_zero_grad_sets_none():
    p = nn.Parameter(minigen.randn(3))
    p.grad = minigen.randn(3)
    optim.Adam([p]).zero_grad()
    assert p.grad is None


@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps, lr=0.01),
                                  lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True)])
def test_resume_through_state_dict_is_exact(make, tmp_path):
    def run(model, opt, steps, seed):
        for i in range(steps):
            minigen.manual_seed(seed + i)
            x = minigen.randn(8, 3)
            loss = (model(x) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    minigen.manual_seed(0)
    straight = nn.Linear(3, 2)
    opt = make(list(straight.parameters()))
    run(straight, opt, 4, 100)

    minigen.manual_seed(0)
    first = nn.Linear(3, 2)
    opt1 = make(list(first.parameters()))
    run(first, opt1, 2, 100)
    minigen.save({"model": first.state_dict(), "optim": opt1.state_dict()}, tmp_path / "ck.npz")
    state = minigen.load(tmp_path / "ck.npz")
    resumed = nn.Linear(3, 2)
    resumed.load_state_dict(state["model"])
    opt2 = make(list(resumed.parameters()))
    opt2.load_state_dict(state["optim"])
    run(resumed, opt2, 2, 102)
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())


def test_load_state_dict_refuses_other_model():
    a = optim.Adam(nn.Linear(3, 2).parameters())
    b = optim.Adam(nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1)).parameters())
    with pytest.raises(ValueError, match="do not match"):
        a.load_state_dict(b.state_dict())


def test_adamw_decouples_the_decay_two_steps_by_hand():
    """θ ← θ·(1 − lr·λ) first, then Adam on the plain gradient: the decay never enters the moments."""
    p = param([0.5, -1.0, 2.0])
    lr, (b1, b2), eps, wd = 0.01, (0.8, 0.99), 1e-8, 0.3
    opt = optim.AdamW([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    theta, m, v = np.array([0.5, -1.0, 2.0]), np.zeros(3), np.zeros(3)
    for t, g in enumerate((np.array([0.1, -0.3, 0.0]), np.array([0.2, 0.1, -0.4])), start=1):
        set_grad(p, g)
        opt.step()
        theta = theta * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - lr / (1 - b1 ** t) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)
        np.testing.assert_allclose(p.detach().numpy(), theta, rtol=1e-12, atol=0)
    state = opt.state[id(p)]                                   # the moments saw the gradients only
    np.testing.assert_allclose(state["exp_avg"], m, rtol=1e-12)


def test_adamw_defaults_and_is_adam_with_decoupled_decay():
    p = param([1.0])
    opt = optim.AdamW([p])
    group = opt.param_groups[0]
    assert isinstance(opt, optim.Adam) and group["weight_decay"] == 1e-2 and group["decoupled_weight_decay"]
    assert (group["lr"], group["betas"], group["eps"], group["amsgrad"]) == (1e-3, (0.9, 0.999), 1e-8, False)
    set_grad(p, [0.0])
    opt.step()                                                 # zero gradient: only the decay moves θ
    np.testing.assert_allclose(p.detach().numpy(), [1.0 - 1e-3 * 1e-2], rtol=1e-15)
    saved = opt.state_dict()
    saved["param_groups"][0]["decoupled_weight_decay"] = False
    opt.load_state_dict(saved)
    assert opt.param_groups[0]["decoupled_weight_decay"]       # AdamW stays AdamW, as in PyTorch


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weight_decay, amsgrad, maximize, decoupled",
                         [(0.0, False, False, False), (0.1, False, False, False), (0.1, True, True, False),
                          (0.0, True, False, False), (0.1, False, True, True), (0.1, True, False, True)])
def test_adam_step_in_place_gives_the_formula_to_the_last_bit(dtype, weight_decay, amsgrad, maximize, decoupled):
    """The step writes into existing arrays instead of making temporaries; the same operations in the same order
    as the plain formula give the same bits (float32 included), and the caller's .grad is left alone."""
    _adam_against_the_formula(dtype, weight_decay, amsgrad, maximize, decoupled)


def _adam_against_the_formula(dtype, weight_decay, amsgrad, maximize, decoupled):
    rng = np.random.default_rng(3)
    theta = rng.standard_normal((5, 4)).astype(dtype)
    p = nn.Parameter(minigen.tensor(theta))
    lr, (b1, b2), eps = 0.01, (0.8, 0.99), 1e-8
    opt = optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                     maximize=maximize, decoupled_weight_decay=decoupled)
    m, v, v_max = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    for t in range(1, 5):
        grad = rng.standard_normal(theta.shape).astype(dtype)
        p.grad = minigen.tensor(grad)
        opt.step()
        np.testing.assert_array_equal(p.grad.numpy(), grad)
        g = -grad if maximize else grad
        if weight_decay and decoupled:
            theta = theta * (1 - lr * weight_decay)
        elif weight_decay:
            g = g + weight_decay * theta
        m = m * b1 + (1 - b1) * g
        v = v * b2 + (1 - b2) * (g * g)
        v_max = np.maximum(v_max, v)
        denom = np.sqrt(v_max if amsgrad else v) / math.sqrt(1 - b2 ** t) + eps   # (a Python float: no upcast)
        theta = theta - (lr / (1 - b1 ** t)) * m / denom
        assert p.dtype == dtype
        np.testing.assert_array_equal(p.detach().numpy(), theta)
