"""A running average of a model's weights, PyTorch's ``torch.optim.swa_utils``: ``AveragedModel`` and the
averaging functions ``get_ema_multi_avg_fn`` / ``get_ema_avg_fn`` (exponential moving average) and
``get_swa_multi_avg_fn`` / ``get_swa_avg_fn`` (equal weights).

Weights late in training keep moving around a good point (a GAN's circle the equilibrium of the game, SGD's
wander in a valley); their average sits closer to it than any one of them. ``AveragedModel(model)`` holds a
copy of the model (``.module``) whose weights are that average; ``update_parameters(model)`` folds in the
model's current weights, and calling the averaged model runs the copy. With θ the model's weights and n the
number of updates so far (the ``n_averaged`` buffer):

    first update (n = 0):   θ̄ ← θ                                  (a copy, whatever the averaging function)
    SWA (the default):      θ̄ ← θ̄ + (θ − θ̄) / (n + 1)              (the plain mean of all the θ folded in)
    EMA with decay β:       θ̄ ← β·θ̄ + (1 − β)·θ                    (recent weights count most: the weight
                                                                     of an update k steps back is (1 − β)·βᵏ,
                                                                     an average over the last ~1/(1 − β))

Buffers (batch norm's running statistics) are not weights: by default (``use_buffers=False``) they are
*copied* from the model at every update, so the averaged weights run with the model's current statistics;
``use_buffers=True`` averages them with the parameters instead (PyTorch's rules for both).

PyTorch's EMA computes β·θ̄ + (1 − β)·θ as ``lerp(θ̄, θ, 1 − β)``; here it is the formula itself, in place.
The two agree to rounding (a unit in the last place).
"""

from __future__ import annotations

import copy
import itertools

from ..autograd import Tensor, no_grad
from ..creation import tensor
from ..nn.module import Module

__all__ = ["AveragedModel", "get_ema_multi_avg_fn", "get_ema_avg_fn", "get_swa_multi_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def _assign(target, values) -> None:
    """target[...] = values, in place (a floating value into an integer buffer is truncated, as ``copy_``)."""
    target[...] = values.astype(target.dtype, copy=False) if hasattr(values, "astype") else values


def get_ema_multi_avg_fn(decay: float = 0.999):
    """A function that updates a list of averaged tensors in place: θ̄ ← decay·θ̄ + (1 − decay)·θ."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param_list, current_param_list, _num_averaged) -> None:
        for ema, current in zip(ema_param_list, current_param_list):
            avg, theta = ema.data, current.data
            if avg.dtype.kind == "f":
                avg *= decay
                avg += ema.xp.multiply(theta, 1 - decay)            # θ̄ ← β·θ̄ + (1 − β)·θ
            else:                                                  # an integer buffer (use_buffers=True)
                _assign(avg, avg * decay + theta * (1 - decay))
    return ema_update


def get_ema_avg_fn(decay: float = 0.999):
    """A function of (θ̄, θ, n) giving the new average decay·θ̄ + (1 − decay)·θ (one tensor at a time)."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_multi_avg_fn():
    """A function that updates a list of averaged tensors in place: θ̄ ← θ̄ + (θ − θ̄) / (n + 1)."""
    @no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged) -> None:
        n = int(num_averaged.item() if isinstance(num_averaged, Tensor) else num_averaged)
        for averaged, current in zip(averaged_param_list, current_param_list):
            avg = averaged.data
            _assign(avg, avg + (current.data - avg) / (n + 1))
    return swa_update


def get_swa_avg_fn():
    """A function of (θ̄, θ, n) giving the new average θ̄ + (θ − θ̄) / (n + 1) (one tensor at a time)."""
    @no_grad()
    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose weights are the running average of ``model``'s, as PyTorch's ``AveragedModel``.

    Args:
        model: the model to average (deep-copied; the original is left alone).
        device: where to put the copy (default: where the model is).
        avg_fn: (θ̄, θ, n) → new θ̄, applied to one tensor at a time; or
        multi_avg_fn: (list of θ̄, list of θ, n) → None, updating the θ̄ in place (give at most one of the two;
            neither: the equal-weight SWA mean). ``get_ema_multi_avg_fn(β)`` gives the EMA.
        use_buffers: average the buffers too (True) or copy them from the model at each update (False).

    Attributes: ``module`` (the averaged copy, what ``forward`` runs) and the buffer ``n_averaged`` (int64: how
    many updates so far; saved in ``state_dict`` beside ``module.*``, so an average resumes exactly).
    """

    def __init__(self, model: Module, device=None, avg_fn=None, multi_avg_fn=None, use_buffers: bool = False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        # kept where the count can be read without waiting for a GPU (the default: the host), as PyTorch
        self.register_buffer("n_averaged", tensor(0, dtype="int64", device=device))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @no_grad()
    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current weights into the average (the first call copies them)."""
        if self.use_buffers:
            averaged = list(itertools.chain(self.module.parameters(), self.module.buffers()))
            current = list(itertools.chain(model.parameters(), model.buffers()))
        else:
            averaged, current = list(self.parameters()), list(model.parameters())
        pairs = [(a, c.to(a.device)) for a, c in zip(averaged, current)]
        n = int(self.n_averaged.item())
        if n == 0:
            for a, c in pairs:
                _assign(a.data, c.data)
        elif self.avg_fn is not None:
            for a, c in pairs:
                _assign(a.data, self.avg_fn(a, c, self.n_averaged).data)
        else:
            fn = self.multi_avg_fn or get_swa_multi_avg_fn()
            groups: dict = {}                    # one call per (device, dtype), as PyTorch groups them
            for a, c in pairs:
                group = groups.setdefault((a.device, str(a.dtype)), ([], []))
                group[0].append(a)
                group[1].append(c)
            for averaged_list, current_list in groups.values():
                fn(averaged_list, current_list, self.n_averaged)
        if not self.use_buffers:             # the average runs with the model's current buffers
            for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                _assign(b_avg.data, b_model.to(b_avg.device).data)
        self.n_averaged.data += 1
