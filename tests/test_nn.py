"""Modules and layers: registration, modes, state dicts, initialisation, bad input, and gradient checks of the
dense / batch-norm / dropout / embedding functions."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen
from minigen import nn
from minigen.nn import functional as F
from minigen.ops.norm import batch_norm_composed

from helpers import f64

pytestmark = pytest.mark.lesson06


# --- registration, modes, counts ---------------------------------------------------------------------------
class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.fc2 = nn.Linear(4, 2, bias=False)
        self.scale = 2.0  # a plain attribute: not registered

    def forward(self, x):
        return self.fc2(F.relu(self.bn(self.fc1(x))))


def test_parameters_and_buffers_register_on_assignment():
    m = TwoLayer()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight"]
    assert [n for n, _ in m.named_buffers()] == ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert list(m.state_dict()) == ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                    "bn.running_var", "bn.num_batches_tracked", "fc2.weight"]
    assert m.num_parameters() == 3 * 4 + 4 + 4 + 4 + 4 * 2
    assert "scale" not in dict(m.named_parameters())


def test_shared_parameter_is_listed_once():
    lin = nn.Linear(3, 3)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(m.parameters())) == 2


def test_parameter_counts_equal_pytorch_for_dcgan_and_vae():
    # the counts PyTorch gives for the same networks: a DCGAN generator and discriminator with 5×5 kernels,
    # a VAE encoder (784 → 400 → 2·20), and a mix of grouped conv, embedding and batch norm without affine
    G = nn.Sequential(nn.Linear(100, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256), nn.LeakyReLU(0.2),
                      nn.Unflatten(1, (256, 7, 7)),
                      nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
                      nn.ConvTranspose2d(128, 64, 5, 2, 2, 1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
                      nn.ConvTranspose2d(64, 1, 5, 2, 2, 1, bias=False), nn.Tanh())
    D = nn.Sequential(nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                      nn.Conv2d(64, 128, 5, 2, 2), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Flatten(),
                      nn.Linear(6272, 1))
    V = nn.Sequential(nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 40))
    C = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3, groups=4, bias=False), nn.Embedding(10, 7),
                      nn.BatchNorm2d(8, affine=False))
    assert (G.num_parameters(), D.num_parameters(), V.num_parameters(), C.num_parameters()) == \
        (2305472, 212865, 330040, 438)
    assert len(G.state_dict()) == 19


def test_repr_matches_pytorch_style():
    D = nn.Sequential(nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Flatten(),
                      nn.Linear(6272, 1))
    assert repr(D) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 64, kernel_size=(5, 5), stride=(2, 2), padding=(2, 2))\n"
        "  (1): LeakyReLU(negative_slope=0.2)\n"
        "  (2): Dropout(p=0.3, inplace=False)\n"
        "  (3): Flatten(start_dim=1, end_dim=-1)\n"
        "  (4): Linear(in_features=6272, out_features=1, bias=True)\n"
        ")")


def test_train_eval_switch_whole_tree_and_change_dropout_and_batchnorm():
    m = nn.Sequential(nn.Linear(5, 5), nn.Dropout(0.5), nn.BatchNorm1d(5))
    assert all(mod.training for mod in m.modules())
    m.eval()
    assert not any(mod.training for mod in m.modules())
    x = minigen.randn(8, 5)
    assert np.array_equal(m(x).detach().numpy(), m(x).detach().numpy())  # eval: deterministic
    m.train()
    assert m[2].training and not np.array_equal(m(x).detach().numpy(), m(x).detach().numpy())


def test_zero_grad_and_gradient_accumulation():
    m = TwoLayer()
    x = minigen.randn(6, 3)
    m(x).sum().backward()
    first = m.fc1.weight.grad.numpy().copy()
    m(x).sum().backward()  # gradients accumulate, as PyTorch
    np.testing.assert_allclose(m.fc1.weight.grad.numpy(), 2 * first, rtol=1e-5, atol=1e-6)
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_default_initialisation_bounds_follow_pytorch():
    minigen.manual_seed(1)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = lin.weight.detach().numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound  # U(−b, b) has std b/√3
    conv_t = nn.ConvTranspose2d(16, 8, 3)
    assert conv_t.weight.shape == (16, 8, 3, 3)
    fan_in = 8 * 9  # PyTorch's rule uses dim 1 of (in, out, kh, kw)
    assert np.abs(conv_t.weight.detach().numpy()).max() <= 1 / math.sqrt(fan_in)


@pytest.mark.parametrize("init_fn,expected_std", [
    (lambda t: nn.init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2 / 500)),
    (lambda t: nn.init.xavier_normal_(t), math.sqrt(2 / (500 + 400))),
    (lambda t: nn.init.xavier_uniform_(t), math.sqrt(2 / (500 + 400))),
    (lambda t: nn.init.normal_(t, 0.0, 0.02), 0.02),
])
def test_init_scales(init_fn, expected_std):
    t = minigen.zeros(400, 500)
    init_fn(t)
    assert t.dtype == np.float32
    assert abs(float(t.numpy().std()) - expected_std) < 0.03 * expected_std


def test_to_keeps_parameter_identity_and_casts():
    m = TwoLayer()
    before = list(m.parameters())
    m.to(dtype=minigen.float64)
    assert [id(p) for p in m.parameters()] == [id(p) for p in before]
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m.bn.num_batches_tracked.dtype == np.int64  # integers are not cast


# --- state dicts -------------------------------------------------------------------------------------------
def test_state_dict_round_trip_and_strict_errors():
    a, b = TwoLayer(), TwoLayer()
    a(minigen.randn(5, 3))  # change running statistics
    b.load_state_dict(a.state_dict())
    for (name, ta), tb in zip(a.state_dict().items(), b.state_dict().values()):
        assert np.array_equal(ta.numpy(), tb.numpy()), name
    state = a.state_dict()
    state.pop("fc2.weight")
    state["extra.weight"] = minigen.zeros(1)
    with pytest.raises(RuntimeError, match=r"missing keys: fc2\.weight.*unexpected keys: extra\.weight"):
        b.load_state_dict(state)
    result = b.load_state_dict(state, strict=False)
    assert result["missing_keys"] == ["fc2.weight"] and result["unexpected_keys"] == ["extra.weight"]


def test_state_dict_shape_mismatch_names_key_and_shapes():
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: checkpoint \(3, 4\), model \(2, 4\)"):
        nn.Linear(4, 2).load_state_dict(nn.Linear(4, 3).state_dict())


# --- bad input names the layer and both shapes -------------------------------------------------------------
def test_layers_name_themselves_on_bad_input():
    with pytest.raises(RuntimeError, match=r"^Conv2d\(3, 8, kernel_size=3\): expected input with 3 channels, "
                                           r"got shape \(1, 1, 8, 8\)$"):
        nn.Conv2d(3, 8, kernel_size=3)(minigen.randn(1, 1, 8, 8))
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=4, out_features=2, bias=True\): expected input "
                                           r"with last dim 4, got shape \(3, 5\)"):
        nn.Linear(4, 2)(minigen.randn(3, 5))
    with pytest.raises(RuntimeError, match=r"BatchNorm2d\(6.*expected 4-D input with 6 channels, got shape"):
        nn.BatchNorm2d(6)(minigen.randn(2, 5, 3, 3))
    with pytest.raises(RuntimeError, match=r"ConvTranspose2d\(4, 2, kernel_size=3\): expected input with 4 "
                                           r"channels, got shape \(1, 2, 5, 5\)"):
        nn.ConvTranspose2d(4, 2, 3)(minigen.randn(1, 2, 5, 5))
    with pytest.raises(IndexError, match=r"Embedding\(10, 3\): indices must lie in \[0, 10\)"):
        nn.Embedding(10, 3)(minigen.tensor([1, 10]))


def test_groups_must_divide_channels():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 8, 3, groups=2)


# --- functional layers: gradients ---------------------------------------------------------------------------
@given(batch=st.integers(1, 3), n_in=st.integers(1, 4), n_out=st.integers(1, 3), bias=st.booleans())
def test_linear_gradcheck(batch, n_in, n_out, bias):
    rng = np.random.default_rng(0)
    x, w = f64(rng.standard_normal((batch, n_in))), f64(rng.standard_normal((n_out, n_in)))
    b = f64(rng.standard_normal(n_out)) if bias else None
    args = (x, w) + ((b,) if bias else ())
    minigen.gradcheck(lambda *a: F.linear(*a), args)
    minigen.gradgradcheck(lambda *a: F.linear(*a), args)


@given(n=st.integers(2, 4), c=st.integers(1, 3), spatial=st.sampled_from([(), (2, 3)]), training=st.booleans())
def test_batch_norm_gradcheck(n, c, spatial, training):
    rng = np.random.default_rng(0)
    x, w, b = f64(rng.standard_normal((n, c, *spatial))), f64(rng.standard_normal(c)), f64(rng.standard_normal(c))
    rm = minigen.zeros(c, dtype=minigen.float64)
    rv = minigen.ones(c, dtype=minigen.float64) * 1.5
    fn = lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=training)  # noqa: E731
    minigen.gradcheck(fn, (x, w, b), atol=1e-6)
    minigen.gradgradcheck(fn, (x, w, b), atol=1e-6)


@given(n=st.integers(2, 5), c=st.integers(1, 4), spatial=st.sampled_from([(), (3, 2)]))
def test_fused_batch_norm_matches_composed_forward_and_backward(n, c, spatial):
    rng = np.random.default_rng(0)
    x, w, b = f64(rng.standard_normal((n, c, *spatial))), f64(rng.standard_normal(c)), f64(rng.standard_normal(c))
    g = minigen.randn(n, c, *spatial, dtype=minigen.float64)
    fused = F.batch_norm(x, None, None, w, b, training=True)
    composed = batch_norm_composed(x, w, b, 1e-5)
    np.testing.assert_allclose(fused.detach().numpy(), composed.detach().numpy(), rtol=1e-10, atol=1e-12)
    g_fused = minigen.grad(fused, [x, w, b], g)
    g_composed = minigen.grad(composed, [x, w, b], g)
    for a, c_ in zip(g_fused, g_composed):
        np.testing.assert_allclose(a.numpy(), c_.numpy(), rtol=1e-9, atol=1e-11)


def test_batch_norm_eval_mode_matches_composed_affine_map_and_has_a_backward():
    rng = np.random.default_rng(0)
    x, w, b = f64(rng.standard_normal((4, 3))), f64(rng.standard_normal(3)), f64(rng.standard_normal(3))
    rm, rv = f64([0.1, -0.2, 0.3], requires_grad=False), f64([1.0, 2.0, 0.5], requires_grad=False)
    y = F.batch_norm(x, rm, rv, w, b, training=False)
    expected = (x.detach().numpy() - rm.numpy()) / np.sqrt(rv.numpy() + 1e-5) * w.detach().numpy() \
        + b.detach().numpy()
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-12)
    minigen.gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), (x, w, b))


def test_batch_norm_running_stats_use_unbiased_variance_and_no_graph():
    bn = nn.BatchNorm1d(2, momentum=0.1)
    x = minigen.tensor([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]], requires_grad=True)
    bn(x)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * np.array([3.0, 6.0]), rtol=1e-6)
    unbiased = np.array([4.0, 16.0])  # var with n − 1 of [1, 3, 5] and [2, 6, 10]
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * unbiased, rtol=1e-6)
    assert bn.running_mean.grad_fn is None and not bn.running_mean.requires_grad
    assert int(bn.num_batches_tracked.item()) == 1


def test_batch_norm_sum_of_output_has_zero_gradient_which_is_why_checks_use_random_upstream():
    rng = np.random.default_rng(0)
    x = f64(rng.standard_normal((4, 3)))
    gamma, beta = f64(rng.standard_normal(3), requires_grad=False), f64(rng.standard_normal(3), requires_grad=False)
    y = F.batch_norm(x, None, None, gamma, beta, training=True)
    y.sum().backward()
    assert np.abs(x.grad.numpy()).max() < 1e-10


@given(p=st.sampled_from([0.0, 0.3, 0.5, 0.9]))
def test_dropout_scales_survivors_and_gradient_uses_same_mask(p):
    x = minigen.ones(200, 50, requires_grad=True)
    y = F.dropout(x, p, training=True)
    kept = y.detach().numpy() != 0
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(kept.mean() - (1 - p)) < 0.03
    g = minigen.randn(200, 50)
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), g.numpy() * kept / (1 - p), rtol=1e-6)
    assert F.dropout(x, p, training=False) is x


def test_dropout_mask_is_reproducible_per_seed():
    minigen.manual_seed(3)
    a = F.dropout(minigen.ones(10, 10), 0.5).numpy()
    minigen.manual_seed(3)
    b = F.dropout(minigen.ones(10, 10), 0.5).numpy()
    assert np.array_equal(a, b)


def test_dropout_mask_is_stored_like_its_input():
    """A channels-last input (a conv's output) gets a channels-last mask, drawn in memory order: the same seed
    drops the same stored elements, and the kept share and scale are right in either layout."""
    nhwc = np.ones((4, 6, 7, 5), dtype=np.float32)
    x_cl = minigen.as_tensor(nhwc.transpose(0, 3, 1, 2))              # (4, 5, 6, 7), channels-last memory
    minigen.manual_seed(3)
    y_cl = F.dropout(x_cl, 0.4)
    assert y_cl.data.transpose(0, 2, 3, 1).flags.c_contiguous
    minigen.manual_seed(3)
    y_c = F.dropout(minigen.as_tensor(nhwc), 0.4)                      # the same memory, read as NHWC
    np.testing.assert_array_equal(y_cl.numpy().transpose(0, 2, 3, 1), y_c.numpy())
    kept = y_cl.numpy() != 0
    assert abs(kept.mean() - 0.6) < 0.05
    np.testing.assert_allclose(y_cl.numpy()[kept], 1 / 0.6, rtol=1e-6)


def test_embedding_gradient_scatter_adds_repeated_indices():
    w = f64(np.random.default_rng(0).standard_normal((5, 3)))
    idx = minigen.tensor([[0, 2], [2, 4]])
    minigen.gradcheck(lambda w: F.embedding(idx, w), (w,))
    out = nn.Embedding(5, 3)(idx)
    assert out.shape == (2, 2, 3) and out.dtype == np.float32


def test_float32_stays_float32_through_layers():
    x = minigen.randn(4, 3)
    for layer in (nn.Linear(3, 2), nn.BatchNorm1d(3), nn.Dropout(0.1), nn.LeakyReLU(0.2)):
        assert layer(x).dtype == np.float32


def test_clip_grad_norm():
    a, b = minigen.zeros(3, requires_grad=True), minigen.zeros(4, requires_grad=True)
    a.grad, b.grad = minigen.tensor([3.0, 0.0, 0.0]), minigen.tensor([0.0, 4.0, 0.0, 0.0])
    total = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert abs(total.item() - 5.0) < 1e-6
    np.testing.assert_allclose(a.grad.numpy(), [0.6, 0, 0], rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), [0, 0.8, 0, 0], rtol=1e-5)


def test_identity_accepts_and_ignores_any_arguments():
    layer = nn.Identity(54, unused_argument1=0.1, unused_argument2=False)
    x = minigen.randn(2, 3, requires_grad=True)
    assert layer(x) is x and list(layer.parameters()) == [] and layer.state_dict() == {}
    assert repr(layer) == "Identity()"


def test_upsample_passes_align_corners_and_recompute_scale_factor():
    x = minigen.tensor(np.arange(6.0).reshape(1, 1, 2, 3), dtype=minigen.float64)
    for kwargs in [dict(scale_factor=1.5, mode="bilinear", align_corners=True),
                   dict(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True), dict(size=(3, 4))]:
        np.testing.assert_array_equal(nn.Upsample(**kwargs)(x).numpy(), F.interpolate(x, **kwargs).numpy())
    aligned = nn.Upsample(size=(2, 5), mode="bilinear", align_corners=True)(x).numpy()
    np.testing.assert_allclose(aligned[0, 0, 0], [0.0, 0.5, 1.0, 1.5, 2.0])  # corners kept: 0 … 2 in 4 steps
