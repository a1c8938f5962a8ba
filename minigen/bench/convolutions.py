"""Workloads W1 and W2: one convolution and one transposed convolution, forward and backward (input and weight
gradients), float32, in minigen and, when it is importable, in PyTorch on the same arrays."""

from __future__ import annotations

import numpy as np

from .registry import Case, workload
from .timing import conv_flops, torch_device, torch_on


def _conv_case(device, x_shape, w_shape, transposed, **params) -> Case:
    """A conv or transposed conv, forward and backward for the input and the weight, float32."""
    import minigen
    import minigen.nn.functional as F
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(x_shape, dtype=np.float32)
    w_np = (rng.standard_normal(w_shape, dtype=np.float32) * 0.05).astype(np.float32)
    x = minigen.tensor(x_np, device=device, requires_grad=True)
    w = minigen.tensor(w_np, device=device, requires_grad=True)
    op = F.conv_transpose2d if transposed else F.conv2d
    with minigen.no_grad():
        y_shape = op(x, w, **params).shape
    g_np = rng.standard_normal(y_shape, dtype=np.float32)
    g = minigen.tensor(g_np, device=device)

    def step():
        y = op(x, w, **params)
        return minigen.grad(y, (x, w), g)

    torch_step = None
    torch = torch_on(device)
    if torch is not None:
        tdev = torch_device(device)
        tx = torch.tensor(x_np, device=tdev, requires_grad=True)
        tw = torch.tensor(w_np, device=tdev, requires_grad=True)
        tg = torch.tensor(g_np, device=tdev)
        top = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d

        def torch_step():
            y = top(tx, tw, **params)
            return torch.autograd.grad(y, (tx, tw), tg)

    # the matrix products run on the conv's small side: (N·H·W of the conv input side, C·k·k) × O
    if transposed:  # conv_transpose2d(x, w) is the input gradient of conv2d(·, w) whose output has x's size
        flops = conv_flops(x_shape[0], y_shape[1], x_shape[1], x_shape[2:], w_shape[2:], params.get("groups", 1))
    else:
        flops = conv_flops(x_shape[0], x_shape[1], w_shape[0], y_shape[2:], w_shape[2:], params.get("groups", 1))
    return Case(step, torch_step, flops)


@workload("W1", "conv2d fwd+bwd: x (64, 64, 14, 14), w (128, 64, 5, 5), stride 2, padding 2")
def _w1(device):
    return _conv_case(device, (64, 64, 14, 14), (128, 64, 5, 5), False, stride=2, padding=2)


@workload("W2", "conv_transpose2d fwd+bwd: x (64, 128, 7, 7), w (128, 64, 5, 5), stride 2, padding 2, "
                "output_padding 1")
def _w2(device):
    return _conv_case(device, (64, 128, 7, 7), (128, 64, 5, 5), True, stride=2, padding=2, output_padding=1)
