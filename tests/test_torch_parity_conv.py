"""conv2d, conv_transpose2d, max_pool2d, avg_pool2d and interpolate against PyTorch (float64): forward values,
first derivatives for a random upstream gradient, and second derivatives (the gradient of ⟨first derivatives,
random directions⟩ with respect to the inputs and the upstream gradient), on parameters drawn valid by
construction. Skipped when PyTorch is not installed (it is not a dependency of minigen; the ``parity`` extra
installs it):

    pip install -e '.[dev,parity]' && python -m pytest tests/test_torch_parity_conv.py
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import assume, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import minigen  # noqa: E402
from minigen.nn import functional as F  # noqa: E402
from conv_strategies import conv_cases, distinct_values, pool_cases  # noqa: E402

TF = torch.nn.functional


def _lib_tensor(lib, array):
    if lib is torch:
        return torch.tensor(array, dtype=torch.float64, requires_grad=True)
    return minigen.tensor(array, dtype=minigen.float64, requires_grad=True)


def _np(t):
    if t is None:
        return None
    return t.detach().numpy() if isinstance(t, torch.Tensor) else minigen.backend.to_numpy(t.data)


def derivatives(lib, fn, arrays, seed=0):
    """fn's value, first derivatives of ⟨v, fn⟩ and second derivatives of ⟨u, first derivatives⟩, as arrays."""
    rng = np.random.default_rng(seed)
    inputs = [_lib_tensor(lib, a) for a in arrays]
    y = fn(lib, *inputs)
    v = _lib_tensor(lib, rng.standard_normal(tuple(y.shape)))
    grad = torch.autograd.grad if lib is torch else minigen.grad
    firsts = grad(y, inputs, v, create_graph=True, allow_unused=True)
    directions = [rng.standard_normal(a.shape) for a in arrays]
    total = None
    for g, u in zip(firsts, directions):
        if g is not None and g.requires_grad:
            term = (g * (torch.tensor(u) if lib is torch else minigen.tensor(u))).sum()
            total = term if total is None else total + term
    seconds = [None] * (len(inputs) + 1)
    if total is not None:
        seconds = grad(total, inputs + [v], allow_unused=True)
    return [_np(y)] + [_np(g) for g in firsts] + [_np(g) for g in seconds]


def assert_parity(fn, arrays, rtol=1e-9, atol=1e-10):
    ours, theirs = derivatives(minigen, fn, arrays), derivatives(torch, fn, arrays)
    names = ["forward"] + [f"first derivative {i}" for i in range(len(arrays))] + \
        [f"second derivative {i}" for i in range(len(arrays) + 1)]
    for name, a, b in zip(names, ours, theirs):
        if a is None or b is None:  # one side knows the derivative is zero without computing it
            other = b if a is None else a
            assert other is None or np.allclose(other, 0, atol=atol), name
            continue
        assert a.shape == b.shape, (name, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=name)


def _conv(case):
    def fn(lib, x, w, *b):
        f = (TF.conv_transpose2d if case.transposed else TF.conv2d) if lib is torch else \
            (F.conv_transpose2d if case.transposed else F.conv2d)
        return f(x, w, b[0] if b else None, **case.kwargs())
    return fn


@pytest.mark.lesson04
@given(case=conv_cases())
def test_conv2d_parity(case):
    x, w, b = case.arrays()
    assert_parity(_conv(case), [x, w] + ([b] if b is not None else []))


@pytest.mark.lesson05
@given(case=conv_cases(transposed=True))
def test_conv_transpose2d_parity(case):
    x, w, b = case.arrays()
    assert_parity(_conv(case), [x, w] + ([b] if b is not None else []))


@pytest.mark.lesson04
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
@given(case=conv_cases(max_channels=2, max_kernel=4), padding=st.sampled_from(["same", "valid"]))
def test_conv2d_string_padding_parity(case, padding):
    assume(padding == "valid" or case.stride == (1, 1))
    x, w, _ = case.arrays()
    h, wd = x.shape[2:]
    assume(padding == "same" or all(n >= d * (k - 1) + 1 for n, d, k in zip((h, wd), case.dilation, w.shape[2:])))
    kwargs = dict(case.kwargs(), padding=padding)
    assert_parity(lambda lib, x, w: (TF if lib is torch else F).conv2d(x, w, **kwargs), [x, w])


@pytest.mark.lesson04
@given(case=pool_cases())
def test_max_pool2d_parity(case):
    x = distinct_values(case.x_shape)
    kwargs = dict(kernel_size=case.kernel, stride=case.stride, padding=case.padding, dilation=case.dilation,
                  ceil_mode=case.ceil_mode)
    y, idx = TF.max_pool2d(torch.tensor(x), return_indices=True, **kwargs)
    assume(torch.isfinite(y).all())  # a window entirely in the padding: PyTorch's index points outside the image
    ours = F.max_pool2d(minigen.tensor(x), return_indices=True, **kwargs)[1]
    np.testing.assert_array_equal(ours.numpy(), idx.numpy())
    assert_parity(lambda lib, x: (TF if lib is torch else F).max_pool2d(x, **kwargs), [x])


@pytest.mark.lesson04
@given(case=pool_cases(dilation=False), count_include_pad=st.booleans())
def test_avg_pool2d_parity(case, count_include_pad):
    x = np.random.default_rng(0).standard_normal(case.x_shape)
    kwargs = dict(kernel_size=case.kernel, stride=case.stride, padding=case.padding, ceil_mode=case.ceil_mode,
                  count_include_pad=count_include_pad)
    assert_parity(lambda lib, x: (TF if lib is torch else F).avg_pool2d(x, **kwargs), [x])


@pytest.mark.lesson05
@given(h=st.integers(1, 5), w=st.integers(1, 5), mode=st.sampled_from(["nearest", "bilinear"]),
       align_corners=st.booleans(), by_size=st.booleans(),
       size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
       scale=st.tuples(st.sampled_from([0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 1 / 3]),
                       st.sampled_from([0.5, 1.0, 1.7, 2.0, 3.0])), recompute=st.sampled_from([None, False, True]))
def test_interpolate_parity(h, w, mode, align_corners, by_size, size, scale, recompute):
    x = np.random.default_rng(0).standard_normal((2, 2, h, w))
    kwargs = {"size": size} if by_size else {"scale_factor": scale, "recompute_scale_factor": recompute}
    if not by_size:
        assume(all(int(n * s) >= 1 for n, s in zip((h, w), scale)))
    if mode == "bilinear":
        kwargs["align_corners"] = align_corners
    assert_parity(lambda lib, x: (TF if lib is torch else F).interpolate(x, mode=mode, **kwargs), [x])


@pytest.mark.lesson04
def test_w1_and_w2_shapes_float32():
    """The benchmark workloads in float32: same values as PyTorch up to float32 rounding."""
    rng = np.random.default_rng(0)
    for transposed, xs, ws, kw in [(False, (4, 64, 14, 14), (128, 64, 5, 5), dict(stride=2, padding=2)),
                                   (True, (4, 128, 7, 7), (128, 64, 5, 5),
                                    dict(stride=2, padding=2, output_padding=1))]:
        x, w = rng.standard_normal(xs).astype(np.float32), (rng.standard_normal(ws) * 0.05).astype(np.float32)
        ours = (F.conv_transpose2d if transposed else F.conv2d)(minigen.tensor(x), minigen.tensor(w), **kw)
        theirs = (TF.conv_transpose2d if transposed else TF.conv2d)(torch.tensor(x), torch.tensor(w), **kw)
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.lesson04
def test_signatures():
    """PyTorch's parameter names, order and defaults (conv2d, conv_transpose2d, the poolings are builtins
    there: their documented signatures are written out)."""
    import inspect

    def params(fn):
        return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]
    empty = inspect.Parameter.empty
    documented = {
        "conv2d": [("input", empty), ("weight", empty), ("bias", None), ("stride", 1), ("padding", 0),
                   ("dilation", 1), ("groups", 1)],
        "conv_transpose2d": [("input", empty), ("weight", empty), ("bias", None), ("stride", 1), ("padding", 0),
                             ("output_padding", 0), ("groups", 1), ("dilation", 1)],
        "max_pool2d": [("input", empty), ("kernel_size", empty), ("stride", None), ("padding", 0),
                       ("dilation", 1), ("ceil_mode", False), ("return_indices", False)],
        "avg_pool2d": [("input", empty), ("kernel_size", empty), ("stride", None), ("padding", 0),
                       ("ceil_mode", False), ("count_include_pad", True), ("divisor_override", None)],
    }
    for name, expected in documented.items():
        assert params(getattr(F, name)) == expected, name
    assert params(F.interpolate) == params(TF.interpolate)
    assert params(minigen.nn.Upsample.__init__) == params(torch.nn.Upsample.__init__)
