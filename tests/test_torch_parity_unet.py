"""group_norm, layer_norm, silu, gelu, erf, scaled_dot_product_attention and nn.MultiheadAttention against PyTorch
(float64): forward values, first derivatives for a random upstream gradient and second derivatives, on random
cases; MultiheadAttention with PyTorch's weights copied in, both layouts, padding and attention masks (boolean and
float), is_causal, and the state_dict keys of the layers. Skipped when PyTorch is not installed:

    pip install -e '.[dev,parity]' && python -m pytest tests/test_torch_parity_unet.py
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import assume, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

import minigen  # noqa: E402
from minigen import nn  # noqa: E402
from minigen.nn import functional as F  # noqa: E402
from test_torch_parity_conv import assert_parity  # noqa: E402

TF = torch.nn.functional
pytestmark = pytest.mark.lesson06


def lib_F(lib):
    return TF if lib is torch else F


def _tensor(lib, array):
    return torch.tensor(array) if lib is torch else minigen.tensor(array)


@given(n=st.integers(1, 3), groups=st.integers(1, 3), per_group=st.integers(1, 3),
       spatial=st.sampled_from([(), (1,), (4,), (2, 3)]), affine=st.sampled_from(["both", "weight", "none"]),
       eps=st.sampled_from([1e-5, 0.1]), seed=st.integers(0, 1000))
def test_group_norm_parity(n, groups, per_group, spatial, affine, eps, seed):
    assume(n * per_group * int(np.prod(spatial)) > 1)  # PyTorch refuses one value per group in a batch of one
    rng = np.random.default_rng(seed)
    c = groups * per_group
    arrays = [rng.standard_normal((n, c) + spatial)] + [rng.standard_normal(c) for _ in
                                                          range({"both": 2, "weight": 1, "none": 0}[affine])]
    assert_parity(lambda lib, x, *wb: lib_F(lib).group_norm(x, groups, *wb, eps=eps), arrays, rtol=1e-8, atol=1e-9)


@given(shape=st.sampled_from([(5,), (2, 3), (2, 3, 4), (3, 1, 2)]), n_norm=st.integers(1, 3),
       affine=st.sampled_from(["both", "weight", "none"]), seed=st.integers(0, 1000))
def test_layer_norm_parity(shape, n_norm, affine, seed):
    normalized = shape[len(shape) - min(n_norm, len(shape)):]
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape)] + [rng.standard_normal(normalized) for _ in
                                             range({"both": 2, "weight": 1, "none": 0}[affine])]
    assert_parity(lambda lib, x, *wb: lib_F(lib).layer_norm(x, list(normalized), *wb), arrays, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", ["silu", "gelu", "gelu_tanh", "erf"])
@given(shape=st.sampled_from([(), (4,), (2, 3)]), spread=st.sampled_from([1.0, 4.0]), seed=st.integers(0, 1000))
def test_activation_parity(name, shape, spread, seed):
    x = np.random.default_rng(seed).standard_normal(shape) * spread
    fns = {"silu": lambda lib, x: lib_F(lib).silu(x), "gelu": lambda lib, x: lib_F(lib).gelu(x),
           "gelu_tanh": lambda lib, x: lib_F(lib).gelu(x, approximate="tanh"), "erf": lambda lib, x: lib.erf(x)}
    assert_parity(fns[name], [x])


@given(batch=st.sampled_from([(), (2,), (2, 3)]), L=st.integers(1, 4), S=st.integers(1, 4), E=st.integers(1, 4),
       Ev=st.integers(1, 3), mask=st.sampled_from(["none", "bool", "float", "causal"]),
       scale=st.sampled_from([None, 0.7]), seed=st.integers(0, 1000))
def test_scaled_dot_product_attention_parity(batch, L, S, E, Ev, mask, scale, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(batch + (L, E)), rng.standard_normal(batch + (S, E)),
              rng.standard_normal(batch + (S, Ev))]
    bool_mask = rng.random((L, S)) < 0.6  # a row may be all False: PyTorch gives it weights 0
    if mask == "float":
        arrays.append(rng.standard_normal((L, S)))

    def fn(lib, q, k, v, *float_mask):
        attn_mask = _tensor(lib, bool_mask) if mask == "bool" else (float_mask[0] if float_mask else None)
        return lib_F(lib).scaled_dot_product_attention(q, k, v, attn_mask, is_causal=mask == "causal", scale=scale)
    with sdpa_kernel(SDPBackend.MATH):
        assert_parity(fn, arrays)


def _mha_pair(E, H, batch_first, bias=True, kdim=None, vdim=None):
    theirs = torch.nn.MultiheadAttention(E, H, bias=bias, kdim=kdim, vdim=vdim, batch_first=batch_first,
                                         dtype=torch.float64)
    ours = nn.MultiheadAttention(E, H, bias=bias, kdim=kdim, vdim=vdim, batch_first=batch_first,
                                 dtype=minigen.float64)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask and attn_mask is deprecated")
@given(batch_first=st.booleans(), batched=st.booleans(), heads=st.sampled_from([1, 2]), L=st.integers(1, 3),
       S=st.integers(1, 4), padding=st.booleans(), attn=st.sampled_from(["none", "bool", "float", "causal", "3d"]),
       need_weights=st.booleans(), average=st.booleans(), kv_dims=st.booleans(), bias=st.booleans(),
       seed=st.integers(0, 1000))
def test_multihead_attention_parity(batch_first, batched, heads, L, S, padding, attn, need_weights, average,
                                    kv_dims, bias, seed):
    E, N = 4, 2
    rng = np.random.default_rng(seed)
    kdim, vdim = (3, 5) if kv_dims else (None, None)
    ours, theirs = _mha_pair(E, heads, batch_first, bias, kdim, vdim)
    S = L if attn == "causal" else S

    def shaped(n, d):
        return rng.standard_normal(((N, n, d) if batch_first else (n, N, d)) if batched else (n, d))
    arrays = [shaped(L, E), shaped(S, kdim or E), shaped(S, vdim or E)]
    kpm = rng.random((N, S) if batched else (S,)) < 0.3
    kpm[..., 0] = False  # every query keeps a key: no all-masked row (PyTorch's two paths differ there)
    masks = {"none": None, "bool": rng.random((L, S)) < 0.3, "float": rng.standard_normal((L, S)),
             "causal": ~np.tri(L, S, dtype=bool), "3d": rng.standard_normal(((N if batched else 1) * heads, L, S))}
    attn_mask = masks[attn]
    if attn == "bool":
        attn_mask[:, 0] = False
    kwargs = dict(need_weights=need_weights, average_attn_weights=average, is_causal=attn == "causal")
    weights = {}

    def fn(lib, q, k, v):
        module = theirs if lib is torch else ours
        out, w = module(q, k, v, key_padding_mask=_tensor(lib, kpm) if padding else None,
                        attn_mask=_tensor(lib, attn_mask) if attn_mask is not None else None, **kwargs)
        weights[lib.__name__] = w
        return out
    with sdpa_kernel(SDPBackend.MATH):  # PyTorch's fused CPU kernel has no second derivative; its math one has
        assert_parity(fn, arrays)
    ours_w, theirs_w = weights["minigen"], weights["torch"]
    assert (ours_w is None) == (theirs_w is None) == (not need_weights)
    if need_weights:
        np.testing.assert_allclose(ours_w.detach().numpy(), theirs_w.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_multihead_attention_parameter_gradients_match():
    ours, theirs = _mha_pair(6, 3, batch_first=True)
    x = np.random.default_rng(0).standard_normal((2, 4, 6))
    g = np.random.default_rng(1).standard_normal((2, 4, 6))
    out, _ = ours(*[minigen.tensor(x)] * 3)
    out.backward(minigen.tensor(g))
    out_t, _ = theirs(*[torch.tensor(x)] * 3)
    out_t.backward(torch.tensor(g))
    for (name, p), (name_t, p_t) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == name_t
        np.testing.assert_allclose(p.grad.numpy(), p_t.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("make", [lambda lib: lib.nn.GroupNorm(2, 4), lambda lib: lib.nn.GroupNorm(1, 3, affine=False),
                                  lambda lib: lib.nn.LayerNorm([2, 3]), lambda lib: lib.nn.LayerNorm(3, bias=False),
                                  lambda lib: lib.nn.LayerNorm(3, elementwise_affine=False),
                                  lambda lib: lib.nn.MultiheadAttention(4, 2),
                                  lambda lib: lib.nn.MultiheadAttention(4, 2, bias=False, kdim=2, vdim=3),
                                  lambda lib: lib.nn.SiLU(), lambda lib: lib.nn.GELU("tanh")])
def test_state_dict_keys_and_shapes_match_pytorch(make):
    ours, theirs = make(minigen), make(torch)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    for (k, v), v_t in zip(ours.state_dict().items(), theirs.state_dict().values()):
        if "proj" not in k:  # deterministic initial values (norms: ones and zeros)
            np.testing.assert_array_equal(v.numpy(), v_t.numpy())
