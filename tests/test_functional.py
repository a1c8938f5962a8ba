"""``minigen.nn.functional`` (``F``) and ``minigen.ops``: what they export, and the functions of F whose
behaviour is pinned by hand-computed cases."""

import types

import numpy as np
import pytest

import minigen
from minigen import nn, ops
from minigen.nn import functional as F

pytestmark = pytest.mark.lesson06

# torch.nn.functional's names that minigen's F has (written out, so this test runs without PyTorch;
# test_torch_parity checks them against torch itself), and the ones F documents as minigen's own
TORCH_F_NAMES = {"relu", "leaky_relu", "softplus", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "conv2d",
                 "conv_transpose2d", "max_pool2d", "avg_pool2d", "interpolate", "upsample", "batch_norm", "dropout",
                 "embedding", "pad", "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                 "nll_loss", "cross_entropy", "silu", "gelu", "group_norm", "layer_norm",
                 "scaled_dot_product_attention"}
MINIGEN_ONLY = {"flatten"}


def _public(module):
    return {name for name in dir(module) if not name.startswith("_")}


def test_F_public_names_are_functions_not_modules_or_leftovers():
    """No submodule (``F.norm``, ``F.loss``), no import leftover (``F.annotations``, ``F.backend``), no class:
    every public name of F is a function, and ``__all__`` lists them all."""
    for name in _public(F):
        value = getattr(F, name)
        assert callable(value) and not isinstance(value, (types.ModuleType, type)), f"F.{name} is {value!r}"
    assert _public(F) == set(F.__all__)


@pytest.mark.parametrize("module", [F, ops], ids=["F", "ops"])
def test_star_import_gives_exactly_all_and_only_functions(module):
    star = {}
    exec(f"from {module.__name__} import *", star)
    names = {n for n in star if not n.startswith("__")}
    assert names == set(module.__all__)
    for name in names:
        assert callable(star[name]) and not isinstance(star[name], (types.ModuleType, type)), name


def test_F_has_pytorchs_functions_and_its_documented_own_only():
    assert set(F.__all__) == TORCH_F_NAMES | MINIGEN_ONLY
    assert all(name in F.__doc__ for name in MINIGEN_ONLY)  # each is named as minigen's own


def test_ops_all_lists_each_public_function_once():
    assert len(ops.__all__) == len(set(ops.__all__))
    assert set(F.__all__) - {"upsample"} <= set(ops.__all__)  # upsample: interpolate's old name
    assert all(callable(getattr(minigen.ops, name)) for name in ops.__all__)
    assert all(getattr(minigen, name) is getattr(ops, name) for name in ("sum", "matmul", "cat", "where"))


# --- embedding: padding_idx -------------------------------------------------------------------------------------
def test_embedding_gradient_by_hand_repeated_index_and_padding_index():
    """Rows picked twice add their gradients; the padding row is looked up but receives none (PyTorch's rule)."""
    weight = minigen.tensor(np.arange(8.0).reshape(4, 2), dtype=minigen.float64, requires_grad=True)
    index = minigen.tensor([[1, 0, 1], [3, 0, 2]])                  # row 1 twice, the padding row 0 twice
    g = minigen.tensor([[[1.0, 2.0], [10.0, 20.0], [100.0, 200.0]],
                        [[3.0, 4.0], [30.0, 40.0], [300.0, 400.0]]], dtype=minigen.float64)
    out = F.embedding(index, weight, padding_idx=0)
    np.testing.assert_array_equal(out.detach().numpy(), np.arange(8.0).reshape(4, 2)[[[1, 0, 1], [3, 0, 2]]])
    out.backward(g)
    expected = [[0.0, 0.0],         # row 0: the padding index, no gradient (without padding_idx: [40, 60])
                [101.0, 202.0],     # row 1: picked at [0, 0] and [0, 2]: [1, 2] + [100, 200]
                [300.0, 400.0],     # row 2: picked at [1, 2]
                [3.0, 4.0]]         # row 3: picked at [1, 0]
    np.testing.assert_array_equal(weight.grad.numpy(), expected)


def test_embedding_without_padding_idx_sends_gradient_to_every_picked_row():
    weight = minigen.tensor(np.zeros((3, 1)), requires_grad=True)
    F.embedding(minigen.tensor([0, 0, 2]), weight).backward(minigen.tensor([[1.0], [2.0], [5.0]]))
    np.testing.assert_array_equal(weight.grad.numpy(), [[3.0], [0.0], [5.0]])


def test_embedding_layer_padding_row_starts_at_zero_and_stays_there():
    layer = nn.Embedding(5, 3, padding_idx=-1)                       # -1 is row 4, as in PyTorch
    assert layer.padding_idx == 4
    np.testing.assert_array_equal(layer.weight.detach().numpy()[4], [0.0, 0.0, 0.0])
    (layer(minigen.tensor([4, 1, 4])) * minigen.randn(3, 3)).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.numpy()[4], [0.0, 0.0, 0.0])
    assert np.abs(layer.weight.grad.numpy()[1]).sum() > 0
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(ValueError, match="padding_idx"):
        F.embedding(minigen.tensor([0]), minigen.zeros(5, 3), padding_idx=-6)


def test_embedding_with_padding_idx_is_a_rule_not_the_derivative():
    """Finite differences see the padding row move the output: its zero gradient is a rule (PyTorch's), so
    gradcheck fails exactly there. The backward itself is differentiable (gradgradcheck: it is linear in the
    upstream gradient and does not depend on the weight)."""
    weight = minigen.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    index = minigen.tensor([[2, 0], [2, 3]])
    assert minigen.gradcheck(lambda w: F.embedding(index, w), weight)
    with pytest.raises(minigen.GradcheckError, match=r"wrong at 3 of 12 elements; worst at index \(2, "):
        minigen.gradcheck(lambda w: F.embedding(index, w, padding_idx=2), weight)
    assert minigen.gradgradcheck(lambda w: F.embedding(index, w, padding_idx=2), weight)


# --- losses: PyTorch's deprecated size_average and reduce are left out -------------------------------------------
LOSSES = ["mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy"]


@pytest.mark.parametrize("loss", LOSSES)
def test_losses_take_reduction_only_by_keyword_and_not_the_deprecated_pair(loss):
    x = minigen.tensor([[0.2, 0.7], [0.9, 0.4]])
    t = minigen.tensor([1, 0]) if loss in ("nll_loss", "cross_entropy") else minigen.tensor([[0.0, 1.0], [1.0, 0.5]])
    fn, terms = getattr(F, loss), t.numel()  # one loss term per target
    assert fn(x, t, reduction="sum").item() == pytest.approx(terms * fn(x, t).item())
    for legacy in ({"size_average": False}, {"reduce": False}):
        with pytest.raises(TypeError, match=next(iter(legacy))):
            fn(x, t, **legacy)
    with pytest.raises(TypeError):  # PyTorch's third and fourth positions: weight, then size_average
        fn(x, t, None, "sum")


def test_inplace_is_accepted_and_ignored():
    x = minigen.tensor([-1.0, 2.0])
    for y in (F.relu(x, inplace=True), F.leaky_relu(x, 0.1, inplace=True), F.dropout(x, 0.5, inplace=True),
              nn.ReLU(inplace=True)(x), nn.LeakyReLU(0.1, inplace=True)(x), nn.Dropout(0.5, inplace=True)(x)):
        assert y is not x and x.tolist() == [-1.0, 2.0]  # a new tensor; the input is never overwritten
    assert F.relu(x, inplace=True).tolist() == [0.0, 2.0]
