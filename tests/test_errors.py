"""Bad input gets an error a learner can act on: what went wrong, with the shapes, dtypes or devices involved,
and what to do about it. Each message is pinned by a test so that it cannot silently degrade."""

import re

import numpy as np
import pytest

import minigen
from minigen import Tensor, backend
from minigen.nn import functional as F

lesson01, lesson03 = pytest.mark.lesson01, pytest.mark.lesson03


# --- Shapes (lesson 3) ------------------------------------------------------------------------------------------
@lesson03
@pytest.mark.parametrize("sa, sb, inner", [((2, 3), (4, 5), (3, 4)), ((3,), (4,), (3, 4)), ((2, 3), (4,), (3, 4)),
                                           ((3,), (4, 5), (3, 4)), ((7, 2, 3), (7, 2, 5), (3, 2))])
def test_matmul_inner_size_message(sa, sb, inner, device):
    a, b = minigen.ones(sa, device=device), minigen.ones(sb, device=device)
    expected = f"matmul: shapes {sa} and {sb}: inner sizes {inner[0]} and {inner[1]} differ"
    with pytest.raises(RuntimeError, match=re.escape(expected)):
        a @ b
    if sa == (2, 3) and sb == (4, 5):  # the whole message, word for word
        with pytest.raises(RuntimeError) as info:
            minigen.matmul(a, b)
        assert str(info.value) == "matmul: shapes (2, 3) and (4, 5): inner sizes 3 and 4 differ"


@lesson03
def test_matmul_batch_dims_and_0d_errors(device):
    with pytest.raises(RuntimeError, match=re.escape("shapes (2, 2, 3) and (3, 3, 4) cannot be broadcast")):
        minigen.ones(2, 2, 3, device=device) @ minigen.ones(3, 3, 4, device=device)
    with pytest.raises(RuntimeError, match="at least 1 dim"):
        minigen.ones((), device=device) @ minigen.ones(3, device=device)


@lesson03
@pytest.mark.parametrize("name, fn", [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("pow", lambda a, b: a ** b), ("maximum", minigen.maximum),
    ("minimum", minigen.minimum), ("lt", lambda a, b: a < b), ("eq", minigen.eq),
])
def test_broadcasting_failures_name_the_op_and_both_shapes(name, fn, device):
    a, b = minigen.ones(2, 3, device=device), minigen.ones(4, 3, device=device)
    with pytest.raises(RuntimeError, match=re.escape(f"{name}: shapes (2, 3) and (4, 3) cannot be broadcast")):
        fn(a, b)


@lesson03
def test_broadcasting_failures_of_where_clamp_expand_and_losses(device):
    a, b = minigen.ones(2, 3, device=device), minigen.ones(4, 3, device=device)
    cond = minigen.ones(2, 3, device=device) > 0
    with pytest.raises(RuntimeError, match=re.escape("where: shapes (2, 3) (condition), (2, 3) and (4, 3)")):
        minigen.where(cond, a, b)
    with pytest.raises(RuntimeError, match=re.escape("(2, 3) and (4, 3)")):
        minigen.clamp(a, min=b)
    with pytest.raises(RuntimeError, match=re.escape("expand: shape (2, 3) cannot be expanded to (4, 3)")):
        a.expand(4, 3)
    with pytest.raises(RuntimeError, match=re.escape("shapes (2, 3) and (4, 3) cannot be broadcast")):
        with pytest.warns(UserWarning, match="broadcast"):  # PyTorch broadcasts a target of another shape, warning
            F.mse_loss(a, b)


@lesson03
@pytest.mark.parametrize("call, error, pattern", [
    (lambda x: x.reshape(5), RuntimeError, r"shape \(5,\) is invalid for an input of shape \(2, 3\) \(6 elements\)"),
    (lambda x: x.view(-1, 4), RuntimeError, r"invalid for an input of shape \(2, 3\)"),
    (lambda x: x.permute(0, 0), RuntimeError, r"not a permutation"),
    (lambda x: x.transpose(0, 2), IndexError, r"transpose: dim 2 is out of range"),
    (lambda x: x.unsqueeze(3), IndexError, r"unsqueeze: dim 3 is out of range"),
    (lambda x: x.squeeze(2), IndexError, r"squeeze: dim 2 is out of range"),
    (lambda x: x.flatten(2), IndexError, r"flatten: dim 2 is out of range"),
    (lambda x: x.flatten(1, 0), RuntimeError, r"start_dim 1 comes after end_dim 0"),
    (lambda x: x.sum(2), IndexError, r"dim 2 is out of range for a tensor of shape \(2, 3\)"),
    (lambda x: x.max(-3), IndexError, r"dim -3 is out of range"),
    (lambda x: x.logsumexp(5), IndexError, r"dim 5 is out of range"),
    (lambda x: minigen.cat([x, minigen.ones(3, 3, device=x.device)], 1), RuntimeError,
     r"cat: shapes \(2, 3\) and \(3, 3\) differ outside dim 1"),
    (lambda x: minigen.cat([x, x], 2), IndexError, r"cat: dim 2 is out of range"),
    (lambda x: minigen.stack([x, minigen.ones(3, 2, device=x.device)]), RuntimeError,
     r"stack: expected tensors of one shape, got \[\(2, 3\), \(3, 2\)\]"),
    (lambda x: F.pad(x, (1,)), RuntimeError, r"pad: expected an even number"),
    (lambda x: minigen.zeros(0, device=x.device).max(), RuntimeError, r"cannot reduce an empty tensor"),
    (lambda x: minigen.clamp(x), RuntimeError, r"at least one of min and max"),
    (lambda x: x[5], IndexError, r"index 5 is out of bounds"),
    (lambda x: x.logsumexp(), TypeError, r"dim"),
])
def test_shape_errors(call, error, pattern, device):
    with pytest.raises(error, match=pattern):
        call(minigen.ones(2, 3, device=device))


@lesson03
def test_loss_argument_errors(device):
    z = minigen.zeros(2, 3, device=device)
    if device == "cpu":   # value checks read the data back; on a GPU they are skipped (no sync per step)
        with pytest.raises(IndexError, match=r"target values must lie in \[0, 3\)"):
            F.cross_entropy(z, minigen.tensor([0, 7], device=device))
        with pytest.raises(RuntimeError, match=r"\[0, 1\].*binary_cross_entropy_with_logits"):
            F.binary_cross_entropy(z + 2.0, z)
    with pytest.raises(ValueError, match=r"expected target of shape \(2,\) for input of shape \(2, 3\), got \(1,\)"):
        F.nll_loss(z, minigen.tensor([0], device=device))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(z, z, reduction="avg")


# --- The engine (lesson 1) ------------------------------------------------------------------------------------
@lesson01
def test_backward_on_a_non_scalar_without_gradient(device):
    y = minigen.ones(2, 3, device=device, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\).*single-element output.*gradient="):
        y.backward()


@lesson01
def test_backward_with_a_gradient_of_the_wrong_shape(device):
    y = minigen.ones(2, device=device, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\) but the output has shape \(2,\)"):
        y.backward(minigen.ones(3, device=device))


@lesson01
def test_second_backward_through_a_freed_graph(device):
    x = minigen.ones(2, device=device, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"already freed.*retain_graph=True"):
        y.backward()


@lesson01
def test_backward_and_grad_on_tensors_without_grad(device):
    x = minigen.ones(2, device=device)
    with pytest.raises(RuntimeError, match="does not require grad"):
        x.sum().backward()
    w = minigen.ones(2, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="input 0 does not require grad"):
        minigen.grad((w * x).sum(), x)
    with pytest.raises(RuntimeError, match="output 0 does not require grad"):
        minigen.grad(x.sum(), w)


@lesson01
def test_numpy_of_a_tensor_that_requires_grad(device):
    x = minigen.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        x.numpy()


# --- dtypes and devices (lesson 3) ------------------------------------------------------------------------------
@lesson03
@pytest.mark.parametrize("make", [
    lambda d: minigen.tensor([1, 2], device=d, requires_grad=True),
    lambda d: minigen.zeros(2, dtype=minigen.int64, device=d, requires_grad=True),
    lambda d: minigen.arange(3, device=d, requires_grad=True),
    lambda d: minigen.tensor([True], device=d).requires_grad_(),
    lambda d: Tensor(np.arange(3), requires_grad=True),
])
def test_integer_tensors_cannot_require_grad(make, device):
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients, got dtype"):
        make(device)


@lesson03
def test_integer_results_of_differentiable_inputs_do_not_require_grad(device):
    x = minigen.ones(3, device=device, requires_grad=True)
    assert not x.long().requires_grad and not x.argmax().requires_grad and not x.max(0).indices.requires_grad


@lesson03
def test_cuda_without_cupy_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(backend, "cupy", None)
    for call in [lambda: minigen.zeros(2, device="cuda"), lambda: minigen.ones(2).to("cuda:1"),
                 lambda: minigen.tensor([1.0], device="cuda"), lambda: minigen.ones(2).cuda()]:
        with pytest.raises(RuntimeError, match=r"needs CuPy.*pip install"):
            call()
    assert not minigen.cuda_is_available()


@lesson03
def test_unknown_device_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown device 'tpu': expected 'cpu', 'cuda' or 'cuda:N'"):
        minigen.zeros(2, device="tpu")


@lesson03
def test_mixing_devices_names_both(monkeypatch, device):
    """Without a GPU the mix is simulated: a tensor that reports 'cuda:0' meets a CPU tensor."""
    class OnOtherDevice(Tensor):
        device = property(lambda self: "cuda:0")

    a = minigen.ones(2, device="cpu")
    b = OnOtherDevice(np.ones(2, dtype=np.float32))
    for fn in [lambda x, y: x + y, lambda x, y: x * y, minigen.maximum]:
        with pytest.raises(RuntimeError, match=r"expected all tensors on one device, got cpu and cuda:0"):
            fn(a, b)
    with pytest.raises(RuntimeError, match=r"matmul: expected all tensors on one device, got cpu and cuda:0"):
        minigen.matmul(minigen.ones(2, 2), OnOtherDevice(np.ones((2, 2), dtype=np.float32)))


@lesson03
@pytest.mark.gpu
def test_mixing_real_devices_names_both(device):
    if not device.startswith("cuda"):
        pytest.skip("run with --device cuda on a machine with a GPU")
    with pytest.raises(RuntimeError, match=r"got cpu and cuda:0"):
        minigen.ones(2) + minigen.ones(2, device=device)


# --- gradcheck's own input checks (lesson 2) --------------------------------------------------------------------
@pytest.mark.lesson02
def test_gradcheck_refuses_float32_and_inputs_without_grad():
    with pytest.raises(ValueError, match="float64"):
        minigen.gradcheck(lambda x: x * 2, (minigen.ones(2, requires_grad=True),))
    with pytest.raises(ValueError, match="no input requires grad"):
        minigen.gradcheck(lambda x: x * 2, (minigen.ones(2, dtype=minigen.float64),))
