"""Lesson 3: tensors, broadcasting, dtypes and devices.

The rules (PyTorch's, see minigen/ops/dtypes.py): float32 by default; float32 in gives float32 out for every op,
forward and backward; a Python or NumPy scalar never changes a tensor's dtype (NEP 50 would make
``float32 * np.float64(2)`` float64; PyTorch and minigen keep float32); integer tensors stay integer where the
result is an integer and become float32 where it is not (``/``, ``exp``).
"""

import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen
from minigen import backend
from minigen.nn import functional as F
from helpers import f64
from strategies import CASES, as_numpy, broadcastable, outputs_of

pytestmark = pytest.mark.lesson03


# --- float32 in, float32 out: every op, forward and backward -------------------------------------------------
@pytest.mark.parametrize("op", sorted(CASES))
@given(data=st.data())
def test_float32_in_gives_float32_out_forward_and_backward(op, data, device):
    case = data.draw(CASES[op], label="case")
    inputs = case.inputs(device, dtype=np.float32)
    outs = outputs_of(case.fn(*inputs))
    assert outs and all(y.dtype == np.float32 for y in outs), [y.dtype for y in outs]
    rng = np.random.default_rng(0)
    upstream = [minigen.tensor(rng.standard_normal(y.shape).astype(np.float32), device=device) for y in outs]
    wrt = [x for x in inputs if x.requires_grad]
    grads = minigen.grad(outs, wrt, grad_outputs=upstream, allow_unused=True)
    for x, g in zip(wrt, grads):
        if g is not None:
            assert g.dtype == np.float32 and g.shape == x.shape and g.device == x.device
    # the float32 values agree with the float64 reference to float32 precision
    expected = np.asarray(case.ref(*case.arrays))
    np.testing.assert_allclose(as_numpy(outs[0]), expected, rtol=2e-4, atol=2e-5)


SCALARS = [2, 2.5, True, np.float64(2.5), np.float32(2.5), np.int64(2), np.int32(2), np.float16(2.5)]
BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow, minigen.maximum,
          minigen.minimum]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("s", SCALARS, ids=lambda s: f"{type(s).__name__}")
def test_python_and_numpy_scalars_never_change_a_float_tensor_dtype(s, dtype, device):
    x = minigen.tensor([0.5, 1.5], dtype=dtype, device=device, requires_grad=True)
    results = [op(x, s) for op in BINARY] + [op(s, x) for op in BINARY]
    results += [minigen.where(x > 1.0, x, s), minigen.clamp(x, min=s), minigen.clamp(x, max=s),
                x.clamp(0.0, s), F.mse_loss(x, x * s)]
    for y in results:
        assert y.dtype == dtype
    sum(y.sum() for y in results).backward()
    assert x.grad.dtype == dtype


def test_numpy_scalar_on_the_left_is_handed_to_the_tensor(device):
    """``np.float64(2) * t`` would be computed by NumPy (NEP 50: float64) if Tensor did not take over."""
    x = minigen.ones(2, device=device)
    for y in [np.float64(2) * x, np.float64(2) + x, np.float64(2) - x, np.float64(2) / x, np.float64(2) ** x]:
        assert isinstance(y, minigen.Tensor) and y.dtype == np.float32


def test_integer_tensors_follow_pytorch_promotion(device):
    i = minigen.tensor([1, 2, 3], device=device)
    assert i.dtype == np.int64
    assert (i + i).dtype == (i * 2).dtype == (i ** 2).dtype == (-i).dtype == np.int64
    assert (i + 1.5).dtype == (i * 0.5).dtype == (i / i).dtype == (i / 2).dtype == np.float32
    assert (i ** 0.5).dtype == minigen.exp(i).dtype == minigen.sqrt(i).dtype == minigen.sigmoid(i).dtype == np.float32
    assert (i + minigen.ones(3, device=device)).dtype == np.float32  # int meets float32: float32 (NumPy: float64)
    assert (i + minigen.ones(3, dtype=minigen.float64, device=device)).dtype == np.float64
    assert i.sum().dtype == np.int64 and (i > 1).sum().dtype == np.int64
    assert i.sum().item() == 6 and (i > 1).sum().item() == 2
    np.testing.assert_allclose(as_numpy(i / 2), [0.5, 1.0, 1.5])
    assert minigen.tensor([1, 2], dtype=minigen.int32, device=device).__add__(1).dtype == np.int32


def test_mixed_float_tensors_take_the_wider_type(device):
    a = minigen.ones(2, device=device, requires_grad=True)
    b = minigen.ones(2, dtype=minigen.float64, device=device, requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64  # each gradient in its input's dtype


def test_where_with_two_python_floats_gives_the_default_dtype(device):
    cond = minigen.tensor([True, False], device=device)
    assert minigen.where(cond, 1.0, 0.0).dtype == np.float32
    assert minigen.where(cond, 1, 0).dtype == np.int64
    np.testing.assert_array_equal(as_numpy(minigen.where(cond, 2.0, -1.0)), [2.0, -1.0])


# --- Broadcasting -------------------------------------------------------------------------------------------
@given(shapes=broadcastable(2))
def test_binary_ops_broadcast_like_numpy_and_reduce_gradients_back(shapes, device):
    sa, sb = shapes
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal(sa), rng.standard_normal(sb)
    a, b = f64(a_np, device=device), f64(b_np, device=device)
    y = a * b + a - b
    out = np.broadcast_shapes(sa, sb)
    assert y.shape == out
    g = rng.standard_normal(out)                                   # a random upstream gradient, not .sum()
    y.backward(minigen.tensor(g, device=device))

    def reduce_to(full, shape):
        """Sum the axes broadcasting added in front and the size-1 axes it stretched."""
        lead = len(out) - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and out[lead + i] != 1)
        return full.sum(axis=axes).reshape(shape)

    assert a.grad.shape == sa and b.grad.shape == sb
    # ∂y/∂a = b + 1 and ∂y/∂b = a − 1 at every output element, summed over the elements each input fed
    np.testing.assert_allclose(as_numpy(a.grad), reduce_to(g * (np.broadcast_to(b_np, out) + 1), sa), rtol=1e-12)
    np.testing.assert_allclose(as_numpy(b.grad), reduce_to(g * (np.broadcast_to(a_np, out) - 1), sb), rtol=1e-12)


# --- Creation: dtypes and devices ---------------------------------------------------------------------------
def test_tensor_from_python_data_uses_pytorch_defaults(device):
    assert minigen.tensor([1.0, 2.0], device=device).dtype == np.float32
    assert minigen.tensor(3, device=device).dtype == np.int64
    assert minigen.tensor([True], device=device).dtype == np.bool_
    assert minigen.tensor(np.zeros(2), device=device).dtype == np.float64  # arrays keep their dtype
    assert minigen.tensor([1, 2], dtype=minigen.float64, device=device).dtype == np.float64


@pytest.mark.parametrize("make", ["zeros", "ones", "randn", "rand", "empty"])
def test_creation_functions_take_dtype_and_device(make, device):
    fn = getattr(minigen, make)
    x = fn(2, 3, device=device)
    assert x.shape == (2, 3) and x.dtype == np.float32 and x.device == backend.canonical_device(device)
    y = fn((2, 3), dtype=minigen.float64, device=device, requires_grad=True)
    assert y.dtype == np.float64 and y.requires_grad and y.is_leaf
    like = getattr(minigen, make + "_like", None)
    if like is not None:
        z = like(y)
        assert z.shape == y.shape and z.dtype == y.dtype and z.device == y.device and not z.requires_grad


def test_other_creation_functions(device):
    assert minigen.arange(5, device=device).dtype == np.int64
    assert minigen.arange(0, 1, 0.25, device=device).dtype == np.float32
    np.testing.assert_allclose(as_numpy(minigen.arange(0, 1, 0.25, device=device)), [0, 0.25, 0.5, 0.75])
    assert minigen.full((2,), 3, device=device).dtype == np.int64
    assert minigen.full((2,), 3.0, device=device).dtype == np.float32
    assert minigen.eye(3, device=device).dtype == np.float32
    assert minigen.linspace(0, 1, 5, device=device).shape == (5,)
    r = minigen.randint(0, 4, (50,), device=device)
    assert r.dtype == np.int64 and 0 <= as_numpy(r).min() and as_numpy(r).max() < 4
    assert sorted(as_numpy(minigen.randperm(6, device=device)).tolist()) == list(range(6))
    u = as_numpy(minigen.rand(1000, device=device))
    assert (u >= 0).all() and (u < 1).all()


def test_manual_seed_makes_random_tensors_repeatable_per_device(device):
    minigen.manual_seed(123)
    a = as_numpy(minigen.randn(5, device=device))
    b = as_numpy(minigen.randn(5, device=device))
    minigen.manual_seed(123)
    np.testing.assert_array_equal(as_numpy(minigen.randn(5, device=device)), a)
    np.testing.assert_array_equal(as_numpy(minigen.randn(5, device=device)), b)
    assert not np.array_equal(a, b)
    assert minigen.initial_seed() == 123


def test_tensor_copies_its_data_and_as_tensor_shares_it():
    a = np.zeros(3, dtype=np.float32)
    t, s = minigen.tensor(a), minigen.as_tensor(a)
    a[0] = 5.0
    assert t.data[0] == 0.0 and s.data[0] == 5.0


# --- Moving between dtypes and devices ------------------------------------------------------------------------
def test_to_dtype_is_differentiable_and_casts_the_gradient_back(device):
    x = minigen.tensor([1.0, 2.0], device=device, requires_grad=True)
    for y in [x.to(minigen.float64), x.double(), x.to(dtype=minigen.float64), x.type(minigen.float64)]:
        assert y.dtype == np.float64
    (x.double() * 3).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(as_numpy(x.grad), [3.0, 3.0])
    assert x.to(minigen.float32) is x  # no copy when nothing changes
    assert x.float() is x and x.long().dtype == np.int64 and x.int().dtype == np.int32 and x.bool().dtype == np.bool_


def test_to_device_and_back_keeps_values_and_gradient(device):
    x = minigen.tensor([1.0, 2.0], requires_grad=True)  # on the CPU
    y = x.to(device)
    assert y.device == backend.canonical_device(device)
    assert (x.to(device) * 2).to("cpu").device == "cpu"
    (y * y).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    assert x.cpu() is x


def test_numpy_and_item(device):
    x = minigen.tensor([[1.5, 2.5]], device=device)
    assert isinstance(x.cpu().numpy(), np.ndarray) and x.cpu().numpy().tolist() == [[1.5, 2.5]]
    assert x.sum().item() == 4.0 and float(x.sum()) == 4.0 and x.tolist() == [[1.5, 2.5]]
    assert x.shape == (1, 2) and x.size() == (1, 2) and x.size(1) == 2 and x.dim() == 2 and x.numel() == 2
    assert len(x) == 1


def test_ops_keep_the_device(device):
    x = minigen.randn(2, 3, device=device, requires_grad=True)
    y = F.softmax(x @ x.T, dim=1).sum(0)
    assert y.device == x.device
    y.sum().backward()
    assert x.grad.device == x.device and type(x.grad.data) is type(x.data)


@pytest.mark.gpu
def test_cuda_tensors_are_cupy_arrays(device):
    if not device.startswith("cuda"):
        pytest.skip("run with --device cuda on a machine with a GPU")
    x = minigen.ones(2, device=device)
    assert type(x.data).__module__.startswith("cupy") and x.device == "cuda:0"
    assert isinstance(x.cpu().data, np.ndarray)
