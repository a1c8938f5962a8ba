"""Optimizers: SGD, Adam and AdamW, with PyTorch's update rules, ``param_groups`` and ``state_dict``.

For a parameter θ with gradient g at step t (λ = weight_decay; SGD and Adam add it to the gradient as L2
regularisation):

SGD with momentum μ, dampening τ, Nesterov:   d = g + λθ
    b ← d (first step), else b ← μ·b + (1 − τ)·d
    θ ← θ − lr · (d + μ·b if nesterov else b)

Adam (Kingma & Ba) with β₁, β₂, ε:            d = g + λθ
    m ← β₁·m + (1 − β₁)·d          (running mean of gradients)
    v ← β₂·v + (1 − β₂)·d²         (running mean of squared gradients)
    θ ← θ − lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε)    (bias-corrected: m and v start at 0)

AdamW (Loshchilov & Hutter): Adam with the decay *decoupled* from the gradient, d = g, and before the update
    θ ← θ − lr·λ·θ                 (= θ · (1 − lr·λ): every weight shrinks by the same fraction)
With L2 in the gradient, Adam divides the decay by √v like everything else, so weights with large gradients are
hardly decayed at all; decoupled, every weight decays at the rate lr·λ. ``AdamW`` is ``Adam`` with
``decoupled_weight_decay=True`` (PyTorch's own arrangement) and a default λ of 0.01.

Updates happen in place on the parameters' arrays, outside the graph. ``state_dict()`` holds everything needed
to resume exactly (step counts and moment arrays, by parameter index); the learning rate schedulers of
``lr_scheduler`` change ``lr`` in ``param_groups``.
"""

from __future__ import annotations

import math

from ..autograd import Tensor, no_grad
from ..backend import xp_of
from ..nn.utils import zero_grad


class Optimizer:
    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        for group in groups:
            group = {**defaults, **group, "params": list(group["params"])}
            for p in group["params"]:
                if not isinstance(p, Tensor) or not p.is_leaf:
                    raise ValueError(f"{type(self).__name__}: can only optimize leaf tensors, got {type(p).__name__}")
            self.param_groups.append(group)
        self.state: dict[int, dict] = {}  # id(param) -> that parameter's state

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        zero_grad(self._params(), set_to_none)

    def state_dict(self) -> dict:
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}, as PyTorch."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[pid]: {k: (Tensor(v.copy()) if hasattr(v, "shape") else v) for k, v in s.items()}
                 for pid, s in self.state.items() if pid in index}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved groups do not match this "
                             "optimizer's parameter groups (different model?)")
        params = self._params()
        for group, saved in zip(self.param_groups, groups):
            group.update({k: (tuple(v) if isinstance(v, list) else v) for k, v in saved.items() if k != "params"})
        self.state = {}
        for key, s in state_dict["state"].items():
            p = params[int(key)]
            restored = {}
            for k, v in s.items():
                if isinstance(v, Tensor) or hasattr(v, "shape"):
                    v = v.data if isinstance(v, Tensor) else v
                    if tuple(v.shape) != p.shape:
                        raise ValueError(f"{type(self).__name__}.load_state_dict: state '{k}' of parameter {key} "
                                         f"has shape {tuple(v.shape)}, the parameter {p.shape}")
                    v = p.xp.asarray(v, dtype=p.dtype).copy()
                restored[k] = v
            self.state[id(p)] = restored

    def step(self):
        raise NotImplementedError


class SGD(Optimizer):
    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: invalid lr {lr}, momentum {momentum} or weight_decay {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    @no_grad()
    def step(self):
        for group in self.param_groups:
            mu, wd = group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = -p.grad.data if group["maximize"] else p.grad.data
                if wd:
                    d = d + wd * p.data
                if mu:
                    state = self.state.setdefault(id(p), {})
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = d.copy()
                    else:
                        buf = state["momentum_buffer"]
                        buf *= mu
                        buf += (1 - group["dampening"]) * d
                    buf = state["momentum_buffer"]
                    d = d + mu * buf if group["nesterov"] else buf
                p.data -= group["lr"] * d


class Adam(Optimizer):
    """Adam (module docstring); ``decoupled_weight_decay=True`` makes it AdamW."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 amsgrad: bool = False, *, maximize: bool = False, decoupled_weight_decay: bool = False):
        if lr < 0 or eps < 0 or weight_decay < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"{type(self).__name__}: invalid lr {lr}, eps {eps}, weight_decay {weight_decay} or "
                             f"betas {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    @no_grad()
    def step(self):
        # Every array operation below writes into an existing array (out=, in place): the step passes over
        # each parameter several times, and a fresh temporary per operation would cost an allocation (and,
        # for large ones, fresh pages) each time. Two remain per parameter: one scratch array reused for every
        # intermediate, and the update (or the private copy of g that it then overwrites). The operations and
        # their order are those of the formulas in the module docstring, so the results are the same to the
        # last bit. Every operation is elementwise, and splitting a large parameter into one range per core
        # looked worth it alone (0.65 million numbers: 0.65–0.78 ms against 0.83–0.88 ms) but cost more than it
        # saved inside a training step (the VAE step of minigen bench W4: 8.3 ms split, 6.6 ms not, alternating
        # the two in one process). So each parameter is updated whole, on the calling thread.
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, wd, eps, maximize = group["lr"], group["weight_decay"], group["eps"], group["maximize"]
            decoupled, amsgrad = group.get("decoupled_weight_decay", False), group["amsgrad"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp, theta, grad = p.xp, p.data, p.grad.data         # (grad: read only, the caller's .grad)
                state = self.state.setdefault(id(p), {})
                if not state:
                    state.update(step=0, exp_avg=xp.zeros_like(theta), exp_avg_sq=xp.zeros_like(theta))
                    if amsgrad:
                        state["max_exp_avg_sq"] = xp.zeros_like(theta)
                state["step"] += 1
                m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
                v_max = state.get("max_exp_avg_sq")
                _adam_update(theta, grad, m, v, v_max, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=wd,
                             decoupled=decoupled, maximize=maximize, bias=(1 - beta1 ** t, 1 - beta2 ** t))


def _adam_update(theta, g, m, v, v_max, lr, betas, eps, weight_decay, decoupled, maximize, bias):
    """One Adam step on arrays, in place on θ, m, v (and v_max, AMSGrad's running maximum, when not None);
    ``bias`` = (1 − β₁ᵗ, 1 − β₂ᵗ); g is only read. The formulas of the module docstring, in that order."""
    xp, (beta1, beta2), wd = xp_of(theta), betas, weight_decay
    scratch = xp.empty_like(theta)                          # reused for each intermediate below
    private = maximize or (wd and not decoupled)            # g becomes an array of this step's own
    if maximize:
        g = xp.negative(g)
    if wd and decoupled:
        theta *= 1 - lr * wd                                # AdamW: θ ← θ − lr·λ·θ
    elif wd:
        xp.multiply(theta, wd, out=scratch)
        g = xp.add(g, scratch, out=g if maximize else None)  # d = g + λθ
    m *= beta1
    m += xp.multiply(g, 1 - beta1, out=scratch)             # m ← β₁m + (1 − β₁)g
    v *= beta2
    xp.multiply(g, g, out=scratch)
    scratch *= 1 - beta2
    v += scratch                                            # v ← β₂v + (1 − β₂)g²
    if v_max is not None:
        xp.maximum(v_max, v, out=v_max)
        v = v_max
    denom = xp.sqrt(v, out=scratch)
    denom /= math.sqrt(bias[1])
    denom += eps                                            # √v/√(1 − β₂ᵗ) + ε
    update = xp.multiply(m, lr / bias[0], out=g if private else None)
    update /= denom
    theta -= update                                         # θ ← θ − lr/(1 − β₁ᵗ) · m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: θ ← θ − lr·λ·θ before each Adam update (λ = 0.01 by default)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:           # always decoupled, whatever the saved groups say (as PyTorch)
            group["decoupled_weight_decay"] = True
