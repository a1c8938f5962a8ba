"""``nn.utils``: gradient clipping, and zeroing gradients (shared by modules and optimizers).

clip_grad_norm_ treats all gradients as one long vector g and rescales it to norm at most max_norm:
g ← g · min(1, max_norm / (‖g‖ + 1e-6)), as PyTorch.
"""

from __future__ import annotations

import math

from ..autograd import Tensor, no_grad
from ..backend import xp_of


@no_grad()
def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Rescale the gradients in place; returns their total norm, a tensor on their device. As in PyTorch, the
    norm and the factor stay on the device: nothing is read back (except to check ``error_if_nonfinite``)."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad.data for p in params if p.grad is not None]
    if not grads:
        return Tensor(params[0].xp.asarray(0.0, dtype="float32")) if params else Tensor(0.0)
    xp = xp_of(grads[0])
    if norm_type == math.inf:
        total = xp.stack([xp.abs(g).max().astype("float64") for g in grads]).max()
    else:
        total = sum((xp.abs(g.astype("float64")) ** norm_type).sum() for g in grads) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {float(total)}")
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)  # at most 1: gradients are only ever scaled down
    for g in grads:
        g *= coef.astype(g.dtype)
    return Tensor(xp.asarray(total, dtype=grads[0].dtype))


def zero_grad(params, set_to_none: bool = True) -> None:
    """Forget the accumulated gradients of ``params`` (``Module.zero_grad`` and ``Optimizer.zero_grad``)."""
    for p in params:
        if set_to_none or p.grad is None:
            p.grad = None
        else:
            p.grad = Tensor(p.grad.xp.zeros_like(p.grad.data))
