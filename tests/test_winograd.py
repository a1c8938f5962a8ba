"""Winograd's F(2×2, 3×3) convolution (minigen/ops/winograd.py) against the direct path and its own matrix form.

- float64: equal to conv.conv2d_array (im2col) and to a plain-loop version written with the B, G, A matrices of
  the module docstring, to ~1e-12 relative, on drawn shapes (odd sizes, H or W below 4, padding 0–2, any number
  of images per pass);
- float32: within the rounding-error bound the docstring derives, |Ŷ − Y| ≤ γ_{C+10}·Aᵀ[(|G||g||Gᵀ|) ⊙
  (|Bᵀ||d||B|)]A per output (a bound, so it holds for every input); and, on Gaussian data, max error ≤
  2·eps32·max Σ|x||w|, as for the direct path (measured: both 0.5–0.9 eps32);
- the input gradient against the direct transposed convolution, and the adjoint identity;
- channels-last and sliced (non-contiguous) inputs, inputs never mutated, outputs channels-last views;
- on the stand-in CuPy (tests/fake_cupy.py): device arrays in and out, no NumPy call on device data.
"""

from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fake_cupy
from minigen.ops import conv, winograd
from minigen.ops.winograd import winograd_conv3x3, winograd_conv3x3_input_grad

U32 = 2.0 ** -24                          # float32 unit roundoff (eps32 / 2)
EPS32 = float(np.finfo(np.float32).eps)

# The matrices of the module docstring, written out again: the tests' own statement of F(2, 3).
BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


def winograd_by_matrices(x, w, padding, bt=BT, g=G, at=AT):
    """Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A summed over channels, tile by tile, in float64 with einsum: the docstring's
    formula and nothing else (no strided tricks, no passes)."""
    N, C, H, W = x.shape
    ph, pw = padding
    Ho, Wo = H + 2 * ph - 2, W + 2 * pw - 2
    th, tw = -(-Ho // 2), -(-Wo // 2)
    xp = np.zeros((N, C, 2 * th + 2, 2 * tw + 2))
    xp[:, :, ph:ph + H, pw:pw + W] = x
    tiles = np.stack([np.stack([xp[:, :, 2 * a:2 * a + 4, 2 * b:2 * b + 4] for b in range(tw)], 2)
                      for a in range(th)], 2)                                    # (N, C, th, tw, 4, 4)
    U = np.einsum("xi,ocij,yj->ocxy", g, w, g)
    V = np.einsum("xi,ncabij,yj->ncabxy", bt, tiles, bt)
    M = np.einsum("ncabxy,ocxy->noabxy", V, U)
    Y = np.einsum("rx,noabxy,qy->noarbq", at, M, at).reshape(N, -1, 2 * th, 2 * tw)
    return Y[:, :, :Ho, :Wo]


def direct(x, w, padding):
    H, W = x.shape[2:]
    out_hw = (H + 2 * padding[0] - 2, W + 2 * padding[1] - 2)
    return conv.conv2d_array(x, w, conv.Geometry((1, 1), tuple(padding), (1, 1), 1), out_hw, fast=False)[0]


def direct_input_grad(gy, w, padding, x_hw):
    return conv.conv2d_input_grad_array(gy, w, conv.Geometry((1, 1), tuple(padding), (1, 1), 1), x_hw, fast=False)


@st.composite
def cases(draw, max_channels=5):
    """(N, C, O, H, W, padding, images per pass, seed): every output size ≥ 1, odd sizes and H, W < 4 included."""
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    H, W = (draw(st.integers(max(1, 3 - 2 * p), 9)) for p in padding)
    N = draw(st.integers(1, 3))
    return (N, draw(st.integers(1, max_channels)), draw(st.integers(1, max_channels)), H, W, padding,
            draw(st.integers(1, N)), draw(st.integers(0, 2 ** 16)))


def arrays(N, C, O, H, W, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, C, H, W)).astype(dtype), rng.standard_normal((O, C, 3, 3)).astype(dtype)


def passes_of(step):
    """Make the CPU path take ``step`` images per pass (the last pass may be shorter)."""
    return mock.patch.object(winograd, "_images_per_pass", lambda xp, N, *rest: min(step, N))


def relative_error(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


# --- float64: the same numbers ----------------------------------------------------------------------------------
@given(cases())
def test_equals_the_direct_conv_and_the_matrix_form_in_float64(case):
    N, C, O, H, W, padding, step, seed = case
    x, w = arrays(N, C, O, H, W, seed)
    with passes_of(step):
        y = winograd_conv3x3(x, w, padding)
    expected = direct(x, w, padding)
    assert y.shape == expected.shape == (N, O, H + 2 * padding[0] - 2, W + 2 * padding[1] - 2)
    assert y.dtype == np.float64
    assert relative_error(y, expected) < 1e-12
    assert relative_error(winograd_by_matrices(x, w, padding), expected) < 1e-12   # the docstring's identity
    assert y.transpose(0, 2, 3, 1).flags.c_contiguous                            # a channels-last view


def test_f23_in_one_dimension_uses_four_products():
    """y = Aᵀ[(G g) ⊙ (Bᵀ d)] is the 3-tap correlation of 4 inputs: two outputs from 4 multiplications."""
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal(4), rng.standard_normal(3)
    assert np.allclose(AT @ ((G @ g) * (BT @ d)), [d[0:3] @ g, d[1:4] @ g], rtol=1e-14)


@given(cases())
def test_input_grad_equals_the_transposed_conv(case):
    N, C, O, H, W, padding, step, seed = case
    x, w = arrays(N, C, O, H, W, seed)
    gy = np.random.default_rng(seed + 1).standard_normal((N, O, H + 2 * padding[0] - 2, W + 2 * padding[1] - 2))
    with passes_of(step):
        gx = winograd_conv3x3_input_grad(gy, w, padding, (H, W))
    expected = direct_input_grad(gy, w, padding, (H, W))
    assert gx.shape == x.shape and gx.dtype == np.float64
    assert relative_error(gx, expected) < 1e-12
    # the adjoint identity ⟨conv(x, w), gy⟩ = ⟨x, conv_transpose(gy, w)⟩, with both functions of this module
    lhs, rhs = np.vdot(winograd_conv3x3(x, w, padding), gy), np.vdot(x, gx)
    assert abs(lhs - rhs) <= 1e-12 * (np.abs(x).sum() * np.abs(gx).max() + abs(lhs))


def test_a_cropped_output_is_the_leading_part():
    x, w = arrays(2, 3, 4, 7, 6, seed=1)
    full = winograd_conv3x3(x, w, (1, 2))
    part = winograd_conv3x3(x, w, (1, 2), out_hw=(4, 5))
    assert np.allclose(part, full[:, :, :4, :5], rtol=0, atol=1e-13)
    # gy of that cropped output: its input gradient is the transposed conv of gy padded with zeros
    gy = np.random.default_rng(2).standard_normal(part.shape)
    padded = np.zeros(full.shape)
    padded[:, :, :4, :5] = gy
    assert np.allclose(winograd_conv3x3_input_grad(gy, w, (1, 2), (7, 6)),
                       direct_input_grad(padded, w, (1, 2), (7, 6)), rtol=0, atol=1e-12)


# --- float32: the error bound -----------------------------------------------------------------------------------
def gamma(n):
    return n * U32 / (1 - n * U32)


@given(cases(max_channels=12))
def test_float32_error_is_within_the_rounding_bound(case):
    """Each step rounds: V (2 additions per entry), U (4), the products (C terms), Aᵀ M A (4): at most C + 10
    roundings in a row on every path, so |Ŷ − Y| ≤ γ_{C+10} times the same computation on absolute values."""
    N, C, O, H, W, padding, step, seed = case
    x, w = arrays(N, C, O, H, W, seed, np.float32)
    with passes_of(step):
        y = winograd_conv3x3(x, w, padding)
    assert y.dtype == np.float32
    x64, w64 = x.astype(np.float64), w.astype(np.float64)                          # exact copies
    exact = direct(x64, w64, padding)
    bound = gamma(C + 10) * winograd_by_matrices(np.abs(x64), np.abs(w64), padding, abs(BT), abs(G), abs(AT))
    assert np.all(np.abs(y - exact) <= bound + 1e-30)

    gy = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(np.float32)
    with passes_of(step):
        gx = winograd_conv3x3_input_grad(gy, w, padding, (H, W))
    assert gx.dtype == np.float32
    w_flipped = w64[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)                      # the input gradient's kernel
    back = (2 - padding[0], 2 - padding[1])
    exact = direct_input_grad(gy.astype(np.float64), w64, padding, (H, W))
    bound = gamma(O + 10) * winograd_by_matrices(np.abs(gy.astype(np.float64)), np.abs(w_flipped), back,
                                                 abs(BT), abs(G), abs(AT))
    assert np.all(np.abs(gx - exact) <= bound + 1e-30)


@pytest.mark.parametrize("N, C, O, size", [(4, 1, 8, 9), (4, 16, 16, 8), (2, 64, 32, 7), (2, 128, 128, 6)])
def test_float32_error_is_like_the_direct_paths(N, C, O, size):
    """On Gaussian data the largest error is about one eps32 times the largest Σ|x||w|, for both methods
    (measured on these shapes: Winograd 0.48–0.93, direct 0.50–0.85 eps32; Winograd's products sum over C
    numbers, the direct ones over 9·C, which offsets its cross terms). Allowed here: 2 eps32."""
    x, w = arrays(N, C, O, size, size, seed=3, dtype=np.float32)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    exact, scale = direct(x64, w64, (1, 1)), direct(np.abs(x64), np.abs(w64), (1, 1)).max()
    wino_error = np.abs(winograd_conv3x3(x, w, (1, 1)) - exact).max() / scale
    direct_error = np.abs(direct(x, w, (1, 1)) - exact).max() / scale
    assert wino_error <= 2 * EPS32 and direct_error <= 2 * EPS32


# --- Layouts -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["channels-last", "sliced", "nchw"])
def test_non_contiguous_inputs(layout):
    rng = np.random.default_rng(4)
    base = rng.standard_normal((3, 8, 10, 5))                                    # (N, H, W, C)
    x = {"channels-last": base.transpose(0, 3, 1, 2),                         # a conv output's layout
         "sliced": base.transpose(0, 3, 1, 2)[:, 1:4, ::2, 1:],
         "nchw": np.ascontiguousarray(base.transpose(0, 3, 1, 2))}[layout]
    w = rng.standard_normal((4, x.shape[1], 3, 3))
    before = x.copy()
    for padding in [(0, 0), (1, 1), (2, 0)]:
        y = winograd_conv3x3(x, w, padding)
        assert relative_error(y, direct(np.ascontiguousarray(x), w, padding)) < 1e-12
        gx = winograd_conv3x3_input_grad(y, w[:, :, ::-1], padding, x.shape[2:])   # non-contiguous w too
        assert relative_error(gx, direct_input_grad(np.ascontiguousarray(y), np.ascontiguousarray(w[:, :, ::-1]),
                                                    padding, x.shape[2:])) < 1e-12
    assert np.array_equal(x, before)


def test_bad_arguments():
    x, w = arrays(1, 2, 3, 5, 5, seed=0)
    with pytest.raises(ValueError, match="3, 3"):
        winograd_conv3x3(x, w[:, :, :2], (1, 1))
    with pytest.raises(ValueError, match="channels"):
        winograd_conv3x3(x[:, :1], w, (1, 1))
    with pytest.raises(TypeError, match="dtype"):
        winograd_conv3x3(x.astype(np.float32), w, (1, 1))
    with pytest.raises(ValueError, match="output size"):
        winograd_conv3x3(x[:, :, :2], w, (0, 0))


# --- On the stand-in CuPy ---------------------------------------------------------------------------------------
def test_runs_on_the_device_without_numpy(monkeypatch):
    fake = fake_cupy.install(monkeypatch)
    x, w = arrays(3, 4, 5, 7, 6, seed=5, dtype=np.float32)
    gy = np.random.default_rng(6).standard_normal((3, 5, 7, 6)).astype(np.float32)
    reads = fake_cupy.host_reads
    y = winograd_conv3x3(fake.asarray(x), fake.asarray(w), (1, 1))
    gx = winograd_conv3x3_input_grad(fake.asarray(gy), fake.asarray(w), (1, 1), (7, 6))
    assert isinstance(y, fake_cupy.ndarray) and isinstance(gx, fake_cupy.ndarray)
    assert fake_cupy.host_reads == reads                                          # nothing read back
    assert np.allclose(y.get(), winograd_conv3x3(x, w, (1, 1)), rtol=0, atol=1e-5)
    assert np.allclose(gx.get(), winograd_conv3x3_input_grad(gy, w, (1, 1), (7, 6)), rtol=0, atol=1e-5)
