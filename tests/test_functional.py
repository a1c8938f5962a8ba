"""``minigen.nn.functional`` (``F``) and ``minigen.ops``: what they export, and the functions of F whose
behaviour is pinned by hand-computed cases."""

import types

import pytest

import minigen
from minigen import ops
from minigen.nn import functional as F

pytestmark = pytest.mark.lesson06

# torch.nn.functional's names that minigen's F has (written out, so this test runs without PyTorch;
# test_torch_parity checks them against torch itself), and the ones F documents as minigen's own
TORCH_F_NAMES = {"relu", "leaky_relu", "softplus", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "conv2d",
                 "conv_transpose2d", "max_pool2d", "avg_pool2d", "interpolate", "upsample", "batch_norm", "dropout",
                 "embedding", "pad", "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                 "nll_loss", "cross_entropy"}
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
