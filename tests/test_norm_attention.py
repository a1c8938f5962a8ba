"""Group and layer normalization, silu, gelu, erf, scaled dot-product attention and nn.MultiheadAttention: the
fused norms against their composed twins, values by hand, erf against ``math.erf``, errors that name the op and
both shapes, float32 kept float32, and the layers' parameters. (Gradient checks of every op: the cases in
strategies.py; PyTorch parity: test_torch_parity_unet.py.)"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen
from minigen import nn
from minigen.nn import functional as F
from minigen.ops.norm import group_norm_composed, layer_norm_composed
from minigen.ops.special import erf_array
from helpers import f64

pytestmark = pytest.mark.lesson06


# --- erf ----------------------------------------------------------------------------------------------------------
def test_erf_matches_math_erf_to_float64_precision():
    x = np.concatenate([np.linspace(-7, 7, 20001), np.logspace(-300, 1, 400), -np.logspace(-20, 0.7, 400),
                        [0.0, 5.999, 6.0, 6.001, 30.0]])
    expected = np.array([math.erf(v) for v in x])
    got = erf_array(x)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=1.2e-16)  # relative near 0 too (tiny x)


def test_erf_float32_stays_float32_and_special_values():
    x = np.linspace(-5, 5, 4001).astype(np.float32)
    got = erf_array(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [math.erf(v) for v in x.astype(np.float64)], atol=1e-7)
    special = erf_array(np.array([np.inf, -np.inf, np.nan, -0.0]))
    np.testing.assert_array_equal(special[:2], [1.0, -1.0])
    assert np.isnan(special[2]) and special[3] == 0 and np.signbit(special[3])
    assert erf_array(np.array(0.5)).shape == ()


# --- fused against composed -----------------------------------------------------------------------------------------
def _values_and_grads(fn, arrays, upstream_seed=1):
    ts = [f64(a) for a in arrays]
    y = fn(*ts)
    g = f64(np.random.default_rng(upstream_seed).standard_normal(y.shape), requires_grad=False)
    firsts = minigen.grad(y, ts, g, create_graph=True)
    second = minigen.grad(sum((d * d).sum() for d in firsts), ts, allow_unused=True)
    return [y.detach().numpy()] + [d.detach().numpy() for d in firsts] + \
        [np.zeros(a.shape) if d is None else d.numpy() for d, a in zip(second, arrays)]


@given(n=st.integers(1, 3), groups=st.integers(1, 3), per_group=st.integers(1, 3),
       spatial=st.sampled_from([(), (1,), (3,), (2, 3)]), affine=st.booleans(), seed=st.integers(0, 1000))
def test_fused_group_norm_matches_composed_values_gradients_and_second_derivatives(n, groups, per_group, spatial,
                                                                                    affine, seed):
    rng = np.random.default_rng(seed)
    c = groups * per_group
    arrays = [rng.standard_normal((n, c) + spatial)] + ([rng.standard_normal(c), rng.standard_normal(c)]
                                                        if affine else [])
    fused = _values_and_grads(lambda x, *wb: F.group_norm(x, groups, *wb), arrays)
    composed = _values_and_grads(lambda x, *wb: group_norm_composed(x, groups, *wb), arrays)
    for a, b in zip(fused, composed):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


@given(shape=st.sampled_from([(4,), (2, 3), (2, 3, 4), (3, 1, 2)]), n_norm=st.integers(1, 3),
       affine=st.booleans(), seed=st.integers(0, 1000))
def test_fused_layer_norm_matches_composed_values_gradients_and_second_derivatives(shape, n_norm, affine, seed):
    n_norm = min(n_norm, len(shape))
    normalized = shape[len(shape) - n_norm:]
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape)] + ([rng.standard_normal(normalized), rng.standard_normal(normalized)]
                                             if affine else [])
    fused = _values_and_grads(lambda x, *wb: F.layer_norm(x, normalized, *wb), arrays)
    composed = _values_and_grads(lambda x, *wb: layer_norm_composed(x, normalized, *wb), arrays)
    for a, b in zip(fused, composed):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


def test_plain_backward_reuses_the_saved_statistics():
    """Without create_graph the gradient comes from x and the saved μ and 1/σ (x̂ = (x − μ)/σ recomputed): spoil
    μ and the gradient changes."""
    x = f64(np.random.default_rng(0).standard_normal((2, 4, 3)))
    y = F.layer_norm(x, 3)
    y.grad_fn.mean = x.detach().numpy().copy()  # x̂ = 0: ∂x = (1/σ)(g − mean g − x̂·mean(g·x̂)) is (g − mean g)/σ
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(minigen.tensor(g))
    inv_std = 1 / np.sqrt(x.detach().numpy().var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(x.grad.numpy(), (g - g.mean(-1, keepdims=True)) * inv_std)


# --- values by hand -------------------------------------------------------------------------------------------------
def test_group_norm_by_hand():
    """Two groups of two channels, one position: group (1, 3) has mean 2 and variance 1, so with ε = 1
    x̂ = (−1, 1)/√2; group (2, 2) is constant, x̂ = 0. Then γ = (1, 2, 3, 4), β = (0, 0, 1, 1) per channel."""
    x = minigen.tensor([[1.0, 3.0, 2.0, 2.0]], dtype=minigen.float64)
    y = F.group_norm(x, 2, minigen.tensor([1.0, 2.0, 3.0, 4.0], dtype=minigen.float64),
                     minigen.tensor([0.0, 0.0, 1.0, 1.0], dtype=minigen.float64), eps=1.0)
    np.testing.assert_allclose(y.numpy(), [[-1 / math.sqrt(2), 2 / math.sqrt(2), 1.0, 1.0]])
    y = F.group_norm(minigen.tensor([[[0.0, 4.0]], [[1.0, 1.0]]], dtype=minigen.float64), 1, eps=1.0)
    np.testing.assert_allclose(y.numpy(), [[[-2 / math.sqrt(5), 2 / math.sqrt(5)]], [[0.0, 0.0]]])  # σ² = 4


def test_layer_norm_by_hand():
    x = minigen.tensor([[0.0, 2.0, 4.0], [1.0, 1.0, 4.0]], dtype=minigen.float64)
    y = F.layer_norm(x, 3, eps=0.0)
    np.testing.assert_allclose(y.numpy(), [[-math.sqrt(1.5), 0.0, math.sqrt(1.5)],  # mean 2, variance 8/3
                                           [-1 / math.sqrt(2), -1 / math.sqrt(2), math.sqrt(2)]])  # mean 2, var 2
    y = F.layer_norm(x, (2, 3), eps=0.0)  # all six: mean 2, variance (4 + 0 + 4 + 1 + 1 + 4)/6 = 7/3
    np.testing.assert_allclose(y.numpy(), (x.numpy() - 2) / math.sqrt(7 / 3))


def test_silu_and_gelu_by_hand():
    x = minigen.tensor([-1.0, 0.0, 2.0], dtype=minigen.float64)
    sig = 1 / (1 + np.exp(-np.array([-1.0, 0.0, 2.0])))
    np.testing.assert_allclose(F.silu(x).numpy(), [-sig[0], 0.0, 2 * sig[2]])
    np.testing.assert_allclose(F.gelu(x).numpy(), [-0.15865525393145705, 0.0, 1.9544997361036416], rtol=1e-15)
    tanh = [0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3))) for v in (-1.0, 0.0, 2.0)]
    np.testing.assert_allclose(F.gelu(x, approximate="tanh").numpy(), tanh, rtol=1e-15)
    with pytest.raises(RuntimeError, match="gelu: approximate must be 'none' or 'tanh', got 'erf'"):
        F.gelu(x, approximate="erf")


@pytest.mark.parametrize("dtype", [minigen.float32, minigen.float64])
def test_silu_is_finite_and_warning_free_at_large_inputs(dtype):
    """Far left e⁻ˣ overflows to inf inside silu's forward (x / (1 + e⁻ˣ)); the result must still be its limit
    0 (and x far right), with no NaN and no warning, forward and backward."""
    import warnings
    x = minigen.tensor([-1e4, -200.0, -90.0, 0.0, 90.0, 1e4], dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.silu(x)
        y.backward(minigen.ones_like(y))
    np.testing.assert_allclose(y.detach().numpy(), [0.0, 0.0, -90.0 / (1 + math.exp(90.0)), 0.0, 90.0, 1e4], atol=1e-30)
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-30)


def test_silu_backward_twice_with_retain_graph():
    """silu's forward keeps σ(x) for backward and lets it go there; a second backward through the same graph
    (retain_graph=True) recomputes it and gets the same gradient."""
    x = minigen.tensor(np.linspace(-3, 3, 12).reshape(3, 4), requires_grad=True)
    y = F.silu(x)
    g = minigen.tensor(np.random.default_rng(0).standard_normal((3, 4)))
    y.backward(g, retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-12)
    s = 1 / (1 + np.exp(-x.detach().numpy()))
    np.testing.assert_allclose(first, g.numpy() * s * (1 + x.detach().numpy() * (1 - s)), rtol=1e-12)


def test_attention_by_hand():
    """Two keys: the query's logits are (1·1, 1·0)/√1 = (1, 0), weights (e, 1)/(e + 1); a boolean mask that hides
    key 0 gives all the weight to key 1; a float mask of −∞ does the same."""
    q, k, v = (minigen.tensor(a, dtype=minigen.float64) for a in ([[1.0]], [[1.0], [0.0]], [[10.0, 0.0], [0.0, 1.0]]))
    e = math.e
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v).numpy(), [[10 * e / (e + 1), 1 / (e + 1)]])
    hide0 = minigen.tensor([[False, True]])
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, hide0).numpy(), [[0.0, 1.0]])
    minus_inf = minigen.tensor([[-math.inf, 0.0]], dtype=minigen.float64)
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, minus_inf).numpy(), [[0.0, 1.0]])
    # scale 2: logits (2, 0); causal with L = S = 2: query 0 sees key 0 only
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, scale=2.0).numpy(),
                               [[10 * e * e / (e * e + 1), 1 / (e * e + 1)]])
    q2 = minigen.tensor([[1.0], [1.0]], dtype=minigen.float64)
    np.testing.assert_allclose(F.scaled_dot_product_attention(q2, k, v, is_causal=True).numpy()[0], [10.0, 0.0])


def test_attention_row_with_every_key_masked_is_zero_with_zero_gradient():
    q, k, v = (f64(np.random.default_rng(i).standard_normal(s)) for i, s in enumerate([(2, 3), (4, 3), (4, 2)]))
    mask = minigen.tensor([[True, False, True, False], [False, False, False, False]])
    y = F.scaled_dot_product_attention(q, k, v, mask)
    np.testing.assert_array_equal(y.detach().numpy()[1], 0.0)
    y.backward(minigen.ones(2, 2, dtype=minigen.float64))
    assert np.isfinite(q.grad.numpy()).all() and (q.grad.numpy()[1] == 0).all()
    assert (v.grad.numpy()[[1, 3]] == 0).all()  # keys nobody attends to


# --- errors name the op and both shapes -------------------------------------------------------------------------------
def test_errors_name_the_op_and_both_shapes():
    x = minigen.randn(2, 6, 3)
    with pytest.raises(RuntimeError, match=r"group_norm: num_groups=4 does not divide the 6 channels of input of "
                                           r"shape \(2, 6, 3\)"):
        F.group_norm(x, 4)
    with pytest.raises(RuntimeError, match=r"group_norm: weight has shape \(5,\), expected \(6,\) for input of shape "
                                           r"\(2, 6, 3\)"):
        F.group_norm(x, 3, minigen.ones(5))
    with pytest.raises(RuntimeError, match=r"layer_norm: normalized_shape \(4,\) does not match the last dims of "
                                           r"input of shape \(2, 6, 3\)"):
        F.layer_norm(x, 4)
    with pytest.raises(RuntimeError, match=r"layer_norm: bias has shape \(3, 1\), expected \(3,\) for input of "
                                           r"shape \(2, 6, 3\)"):
        F.layer_norm(x, [3], None, minigen.zeros(3, 1))
    q, k, v = minigen.randn(2, 4, 5), minigen.randn(2, 3, 6), minigen.randn(2, 3, 2)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention: query of shape \(2, 4, 5\), key of shape "
                                           r"\(2, 3, 6\) .*differ in the embedding size \(5 vs 6\)"):
        F.scaled_dot_product_attention(q, k, v)
    with pytest.raises(RuntimeError, match=r"key of shape \(2, 3, 5\) and value of shape \(2, 4, 2\): key and value "
                                           r"differ in the number of keys \(3 vs 4\)"):
        F.scaled_dot_product_attention(q, minigen.randn(2, 3, 5), minigen.randn(2, 4, 2))
    with pytest.raises(RuntimeError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, minigen.randn(2, 3, 5), v, minigen.ones(4, 3), is_causal=True)


def test_layer_errors():
    with pytest.raises(ValueError, match="GroupNorm: num_channels=6 must be divisible by num_groups=4"):
        nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match=r"GroupNorm\(2, 6.*expected input of shape \(N, 6, \*\), got shape "
                                           r"\(2, 4, 3\)"):
        nn.GroupNorm(2, 6)(minigen.randn(2, 4, 3))
    with pytest.raises(RuntimeError, match=r"LayerNorm\(\(3, 4\).*expected input of shape \(\*, 3, 4\), got shape "
                                           r"\(2, 4, 3\)"):
        nn.LayerNorm([3, 4])(minigen.randn(2, 4, 3))
    with pytest.raises(ValueError, match="embed_dim=10 must be divisible by num_heads=3"):
        nn.MultiheadAttention(10, 3)
    for kwargs in ({"add_bias_kv": True}, {"add_zero_attn": True}):
        with pytest.raises(NotImplementedError, match="add_bias_kv and add_zero_attn"):
            nn.MultiheadAttention(8, 2, **kwargs)
    m = nn.MultiheadAttention(8, 2)
    with pytest.raises(RuntimeError, match=r"MultiheadAttention\(embed_dim=8, num_heads=2\): .*got shapes "
                                           r"\(5, 2, 8\), \(4, 2, 7\) and \(4, 2, 8\)"):
        m(minigen.randn(5, 2, 8), minigen.randn(4, 2, 7), minigen.randn(4, 2, 8))
    with pytest.raises(RuntimeError, match=r"shapes \(5, 2, 8\), \(4, 3, 8\) and \(4, 3, 8\) differ in their batch"):
        m(minigen.randn(5, 2, 8), minigen.randn(4, 3, 8), minigen.randn(4, 3, 8))
    with pytest.raises(RuntimeError, match="is_causal=True needs the causal attn_mask"):
        m(*[minigen.randn(5, 2, 8)] * 3, is_causal=True)


# --- float32 stays float32; layers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("layer, shape", [(nn.GroupNorm(2, 4), (2, 4, 3, 3)), (nn.LayerNorm(3), (2, 4, 3)),
                                          (nn.LayerNorm(3, elementwise_affine=False), (4, 3)),
                                          (nn.LayerNorm(3, bias=False), (4, 3)),
                                          (nn.GroupNorm(1, 4, affine=False), (2, 4)),
                                          (nn.SiLU(), (3, 2)), (nn.GELU(), (3, 2)), (nn.GELU("tanh"), (3, 2))])
def test_layers_keep_float32_forward_and_backward(layer, shape, device):
    layer.to(device)
    x = minigen.randn(*shape, device=device, requires_grad=True)
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in layer.parameters())


def test_multihead_attention_float32_and_parameters():
    m = nn.MultiheadAttention(8, 2, batch_first=True)
    assert [(k, v.shape) for k, v in m.state_dict().items()] == [
        ("in_proj_weight", (24, 8)), ("in_proj_bias", (24,)), ("out_proj.weight", (8, 8)), ("out_proj.bias", (8,))]
    assert (m.in_proj_bias.detach().numpy() == 0).all() and (m.out_proj.bias.detach().numpy() == 0).all()
    bound = math.sqrt(6 / (24 + 8))  # Xavier-uniform over the (3E, E) matrix, as PyTorch
    assert np.abs(m.in_proj_weight.detach().numpy()).max() <= bound
    x = minigen.randn(2, 5, 8, requires_grad=True)
    out, weights = m(x, x, x)
    assert out.dtype == weights.dtype == np.float32 and out.shape == (2, 5, 8) and weights.shape == (2, 5, 5)
    np.testing.assert_allclose(weights.detach().numpy().sum(-1), 1.0, rtol=1e-6)
    out.sum().backward()
    assert x.grad.dtype == np.float32 and m.in_proj_weight.grad.dtype == np.float32
    kv = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    assert list(kv.state_dict()) == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"]
    out, _ = kv(minigen.randn(4, 2, 8), minigen.randn(6, 2, 3), minigen.randn(6, 2, 5))
    assert out.shape == (4, 2, 8)


def test_multihead_attention_gradgradcheck():
    m = nn.MultiheadAttention(4, 2, dtype=minigen.float64)
    rng = np.random.default_rng(0)
    q, k = f64(rng.standard_normal((3, 2, 4))), f64(rng.standard_normal((2, 2, 4)))
    mask = minigen.tensor([[False, True], [False, False], [True, False]])
    assert minigen.gradcheck(lambda q, k: m(q, k, k, attn_mask=mask)[0], (q, k))
    assert minigen.gradgradcheck(lambda q, k: m(q, k, k, need_weights=False)[0], (q, k))


def test_an_empty_batch_goes_through_the_u_nets_ops():
    """No images (PyTorch allows it): group norm, silu, nearest upsampling and linear give empty results and
    their parameters zero gradients (sums over nothing), forward and backward."""
    x = minigen.zeros(0, 8, 4, 4, requires_grad=True)
    w, b = minigen.ones(8, requires_grad=True), minigen.zeros(8, requires_grad=True)
    y = F.interpolate(F.silu(F.group_norm(x, 2, w, b)), scale_factor=2)
    assert y.shape == (0, 8, 8, 8)
    y.sum().backward()
    assert x.grad.shape == x.shape and not w.grad.numpy().any() and not b.grad.numpy().any()
    W = minigen.ones(3, 5, requires_grad=True)
    out = F.linear(minigen.zeros(0, 5), W, minigen.zeros(3))
    assert out.shape == (0, 3)
    out.sum().backward()
    assert not W.grad.numpy().any()
