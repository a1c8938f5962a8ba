"""The autograd engine: ``Tensor``, ``Function`` and reverse-mode differentiation.

A ``Tensor`` holds an array (``data``), its gradient (``grad``) and the ``Function`` that made it (``grad_fn``).
A ``Function`` is one node of the graph: ``forward`` maps input arrays to output arrays, and ``backward`` maps
the gradients of the loss L with respect to the outputs, ∂L/∂y, to those with respect to the inputs, ∂L/∂x
(the vector-Jacobian product ∂L/∂x = (∂y/∂x)ᵀ ∂L/∂y).

Backward pass. Sort the functions between the outputs and the leaves so that each runs after every function
that consumed its outputs (a topological order). Walk that order; give each function the summed gradients of
its outputs (a tensor used twice receives two contributions: the chain rule sums over paths), and hand its
results on to its inputs. Leaves keep what arrives, added to ``.grad`` (gradients accumulate until zeroed).

Gradients of gradients. ``backward`` methods are written with differentiable tensor ops, not raw arrays. With
``create_graph=True`` the backward pass runs with the graph switched on, so the gradients it returns have a
graph of their own and can be differentiated again (WGAN-GP's penalty needs exactly this).

Memory. A function holds its inputs strongly and its outputs weakly (a tensor → its grad_fn → its inputs → ...),
so the graph lives exactly as long as the tensors you keep. ``backward`` frees it as it goes unless
``retain_graph``: once a function's backward has run, its inputs are let go and its outputs' gradients dropped,
so a tensor nobody else holds, the function that made it and what that function saved for backward are freed
while the rest of the pass runs. The pass's peak memory is then about the graph's, not the graph's plus a
gradient for every intermediate tensor (a U-Net training step: 1.77 GiB → 1.31 GiB).

Edges. A function whose backward needs only its inputs' shapes (addition, subtraction, concatenation: set
``keeps_inputs = False``) keeps, for each non-leaf input, an ``_Edge``: the function that made it, which of that
function's outputs it is, and its shape, dtype and device, but not the tensor. Gradients are summed per (function,
output index), so nothing else is needed to route them, and the tensor (the output of a convolution that feeds only
a residual addition, say) is freed after forward. One exception: a function whose backward reads its own output
(exp's ∂ is g·y) keeps ``reads_outputs = True``, the default, and its consumers then keep the tensor itself.
"""

from __future__ import annotations

import functools
import weakref

import numpy as np

from . import backend

_grad_enabled = True  # switched off by no_grad(): then functions record nothing


class _GradMode:
    """Context manager and decorator that sets whether operations are recorded for backward."""

    def __init__(self, mode: bool):
        self.mode = mode

    def __enter__(self):
        global _grad_enabled
        self.prev, _grad_enabled = _grad_enabled, self.mode

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.prev

    def __call__(self, fn):  # used as a decorator: @no_grad()
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _GradMode(self.mode):
                return fn(*args, **kwargs)
        return wrapper


def no_grad():
    return _GradMode(False)


def enable_grad():
    return _GradMode(True)


def set_grad_enabled(mode: bool):
    return _GradMode(bool(mode))


def is_grad_enabled() -> bool:
    return _grad_enabled


class Tensor:
    """An array (``data``, NumPy or CuPy) with what autograd needs: ``requires_grad``, ``grad`` and ``grad_fn``.

    Defined here: what a tensor is (shape, dtype, device, ``item``, ``numpy``...) and its place in the graph
    (``requires_grad_``, ``detach``, ``backward``). Everything that computes (the operators ``+ - * / ** @``,
    comparisons and indexing; ``x.sum()``, ``x.exp()``, ``x.reshape()``, ``x.to('cuda')``, ``x.T``...) is an op of
    ``minigen.ops``, attached as a method by ``minigen/ops/__init__.py``: a table maps each method name to its op,
    set on this class with ``setattr`` when ``import minigen`` imports the ops. So ``x.sum(1)`` is
    ``minigen.ops.sum(x, 1)``, each op is written once, and this file does not import the ops (they import it).
    """

    __array_priority__ = 1000  # makes ``ndarray * Tensor`` call Tensor.__rmul__
    __hash__ = object.__hash__  # ``==`` is elementwise, so hash by identity

    def __init__(self, data, requires_grad: bool = False):
        self.data = data if backend.is_array(data) else backend.array_from(data)
        self.grad: Tensor | None = None
        self.grad_fn: Function | None = None
        self._index = 0                       # which output of grad_fn this tensor is
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # --- what the tensor is ------------------------------------------------------------------------------
    shape = property(lambda self: tuple(self.data.shape))
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    device = property(lambda self: backend.device_of(self.data))
    is_leaf = property(lambda self: self.grad_fn is None)
    xp = property(lambda self: backend.array_module(self.device))  # numpy or cupy

    def dim(self):
        return self.data.ndim

    def numel(self):
        return int(self.data.size)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("numpy(): this tensor requires grad; call tensor.detach().numpy()")
        return backend.to_numpy(self.data)

    def __repr__(self):
        body = np.array2string(backend.to_numpy(self.data), separator=", ", prefix="tensor(", precision=4)
        extra = [] if self.dtype in (np.float32, np.int64, np.bool_) else [f"dtype={self.dtype}"]
        extra += [] if self.device == "cpu" else [f"device='{self.device}'"]
        if self.grad_fn is not None:
            extra.append(f"grad_fn=<{type(self.grad_fn).__name__}Backward>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extra) + ")"

    # --- the graph ---------------------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True):
        if requires_grad and self.dtype.kind != "f":
            raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep theirs)."""
        self._retains_grad = True

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory, as in PyTorch)."""
        return Tensor(self.data)

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) · gradient into the ``.grad`` of every leaf that requires grad."""
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn")
        retain_graph = create_graph if retain_graph is None else retain_graph
        run_backward([self], [gradient], retain_graph, create_graph, inputs=None)


class Function:
    """One differentiable operation. Subclasses define ``forward(*arrays)`` and ``backward(*grad_tensors)``.

    Parameters that are not differentiated (stride, axis, indices) go to ``__init__``; call as
    ``Exp()(x)``. In ``backward``, ``self.inputs`` are the input tensors and ``self.needs_input_grad`` says
    which of them want a gradient (return None for the others to skip the work).
    """

    # A function whose backward needs only its inputs' shapes (an addition, a concatenation) sets this False: it
    # then keeps an _Edge per non-leaf input instead of the tensor, so the tensor and its array can be freed as
    # soon as nothing else holds them (the output of a convolution that only feeds a residual addition).
    keeps_inputs = True
    # Whether backward may read this function's own outputs (``self.output()``, as exp's does). Then a consumer
    # keeps those outputs alive for it, even if the consumer itself needs only their shapes. True unless a
    # function says otherwise: a function written without knowing of this flag stays correct.
    reads_outputs = True

    def __call__(self, *inputs: Tensor):
        if len(inputs) > 1:
            devices = {x.device for x in inputs}
            if len(devices) > 1:
                raise RuntimeError(f"{self.name}: expected all tensors on one device, "
                                   f"got {' and '.join(sorted(devices))}")
        outputs = self.forward(*(x.data for x in inputs))
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        record = _grad_enabled and any(x.requires_grad for x in inputs)
        tensors = tuple(Tensor(y) for y in outputs)
        if record:
            self.inputs = inputs if self.keeps_inputs else tuple(
                x if x.grad_fn is None or x.grad_fn.reads_outputs else _Edge(x) for x in inputs)
            self.needs_input_grad = tuple(x.requires_grad for x in inputs)
            self.outputs = [weakref.ref(t) for t in tensors]
            self.output_meta = [(y.shape, y.dtype) for y in outputs]
            for i, t in enumerate(tensors):
                t.requires_grad, t.grad_fn, t._index = t.dtype.kind == "f", self, i
        return tensors if len(tensors) > 1 else tensors[0]

    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    def output(self, i: int = 0) -> Tensor:
        """The i-th output tensor (for backward rules written in terms of the output, like exp's; such a function
        must leave ``reads_outputs`` True, the default, and the engine keeps each output that a gradient reached
        alive until the function has run). An output that got no gradient may be gone (None) by then."""
        return self.outputs[i]()

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, *gys):
        raise NotImplementedError


class _Edge:
    """What a function that needs only shapes keeps of a non-leaf input tensor: where that input's gradient goes
    (the function that made it and which of its outputs it is) and what the gradient must look like (shape,
    dtype, device). The backward pass routes gradients by (function, output index), so it needs no more."""

    __slots__ = ("grad_fn", "_index", "shape", "dtype", "device", "requires_grad")
    is_leaf = False
    _retains_grad = False

    def __init__(self, t: Tensor):
        self.grad_fn, self._index, self.requires_grad = t.grad_fn, t._index, t.requires_grad
        self.shape, self.dtype, self.device = t.shape, t.dtype, t.device


def _key(t):
    """Where the gradient of ``t`` (a tensor or an _Edge) is summed: a leaf by itself, anything else by the
    function that made it and the index of the output."""
    return t if t.grad_fn is None else (t.grad_fn, t._index)


def topological_order(roots) -> list[Function]:
    """Functions reachable from ``roots``, each before the functions that made its inputs."""
    order, seen = [], set()
    stack = [(t.grad_fn, False) for t in roots if t.grad_fn is not None]
    while stack:
        fn, children_done = stack.pop()
        if children_done:
            order.append(fn)
            continue
        if id(fn) in seen:
            continue
        if fn.inputs is None:
            raise RuntimeError(
                f"backward: the graph through {type(fn).__name__} was already freed by an earlier backward; "
                "pass retain_graph=True to the first backward (or grad) to go through the graph twice")
        seen.add(id(fn))
        stack.append((fn, True))
        stack.extend((x.grad_fn, False) for x in fn.inputs if x.grad_fn is not None)
    return order[::-1]


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None):
    """The engine behind ``Tensor.backward`` and ``grad``: returns the gradients of ``inputs`` if given,
    otherwise accumulates into ``.grad`` of the leaves (and of tensors that called ``retain_grad``)."""
    grads = {}      # _key(tensor) -> summed gradient: a leaf by itself, other tensors by (function, output index)
    retained = []   # (non-leaf tensor that called retain_grad, its gradient), filled as the pass reaches them
    holding = {}    # _key -> the tensor itself, for functions whose backward reads their output (until it ran)

    def add(t, g):
        k = _key(t)
        grads[k] = g if k not in grads else grads[k] + g
        if t.grad_fn is not None and t.grad_fn.reads_outputs:
            holding[k] = t

    for out, g in zip(outputs, grad_outputs):
        add(out, _seed_gradient(out, g, create_graph))
    # Gradients the caller will read at the end: leaves' (keyed by themselves) and the requested inputs'. Every
    # other gradient is dropped as soon as the function that made its tensor has used it.
    wanted = {_key(t) for t in inputs} if inputs is not None else set()
    pending = topological_order(outputs)[::-1]      # popped from the end: the order in which functions run
    with _GradMode(create_graph):
        while pending:
            _run_one(pending.pop(), grads, holding, add, wanted, retained, retain_graph)
    if inputs is not None:
        return [_own(grads[_key(t)], create_graph) if _key(t) in grads else None for t in inputs]
    for t, g in retained + [(k, g) for k, g in grads.items() if isinstance(k, Tensor)]:
        if t.requires_grad or t._retains_grad:
            g = _own(g, create_graph)
            t.grad = g if t.grad is None else t.grad + g
    return None


def _run_one(fn: Function, grads: dict, holding: dict, add, wanted: set, retained: list,
             retain_graph: bool) -> None:
    """One step of the backward pass: ``fn``'s backward on its outputs' summed gradients, the results handed to
    its inputs with ``add``. Its own function, so that nothing of this step (the function, its tensors and
    gradients) stays referenced by a loop variable while the next step runs."""
    keys = [(fn, i) for i in range(len(fn.outputs))]
    gys = [grads.get(k) for k in keys]
    if any(g is not None for g in gys):          # else nothing flows through this function
        gys = [Tensor(backend.array_module(fn.inputs[0].device).zeros(shape, dtype)) if g is None else g
               for g, (shape, dtype) in zip(gys, fn.output_meta)]
        for ref, g in zip(fn.outputs, gys):      # a tensor that asked for retain_grad and still exists
            t = ref()
            if t is not None and t._retains_grad:
                retained.append((t, g))
        gxs = fn.backward(*gys)
        gxs = gxs if isinstance(gxs, tuple) else (gxs,)
        for x, gx, needed in zip(fn.inputs, gxs, fn.needs_input_grad):
            if gx is None or not needed:
                continue
            if gx.shape != x.shape:
                raise RuntimeError(f"{fn.name}.backward returned a gradient of shape {gx.shape} for an "
                                   f"input of shape {x.shape}")
            add(x, gx)
    for k in keys:                               # their gradients are used: drop them, unless wanted
        holding.pop(k, None)
        if k not in wanted:
            grads.pop(k, None)
    if not retain_graph:
        # Free this part of the graph now, not at the end: the function's inputs (and, once nothing else holds
        # it, the function with what it saved for backward) go while the rest of the backward pass runs, so its
        # peak memory is the graph's, not the graph's plus every gradient's. (If a backward raises half-way,
        # the functions already run have let go of their inputs, and the graph cannot be walked again.)
        fn.inputs = None


def _own(g: Tensor, create_graph: bool) -> Tensor:
    """A gradient that shares memory with nothing else (no aliasing between .grad of different tensors);
    with ``create_graph`` a differentiable copy, so the gradient keeps its graph."""
    if not create_graph:
        return Tensor(g.data.copy(order="K"))
    with _GradMode(True):
        return g * 1.0


def _seed_gradient(out: Tensor, g, create_graph: bool) -> Tensor:
    """The gradient fed to an output at the start of backward: ones for a scalar, else the caller's."""
    if g is None:
        if out.numel() != 1:
            raise RuntimeError(f"backward: the output has shape {out.shape}; a gradient can be created "
                               "implicitly only for a single-element output, so pass gradient= (or grad_outputs=)")
        return Tensor(out.xp.ones(out.shape, dtype=out.dtype))
    g = g if isinstance(g, Tensor) else Tensor(out.xp.asarray(g, dtype=out.dtype))
    if g.shape != out.shape:
        raise RuntimeError(f"backward: gradient has shape {g.shape} but the output has shape {out.shape}")
    return g if create_graph else g.detach()


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of ``outputs`` with respect to ``inputs`` (as ``torch.autograd.grad``), returned as a
    tuple and not accumulated into ``.grad``. With ``create_graph=True`` they can be differentiated again."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad and has no grad_fn")
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    retain_graph = create_graph if retain_graph is None else retain_graph
    grads = run_backward(outputs, list(grad_outputs), retain_graph, create_graph, inputs=inputs)
    for i, g in enumerate(grads):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} was not used to compute the outputs; pass allow_unused=True "
                               "to get None for it")
    return tuple(grads)

