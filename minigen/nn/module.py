"""``Module``: a layer or model that owns parameters, buffers and sub-modules, as ``torch.nn.Module``.

Assigning a ``Parameter`` or a ``Module`` to an attribute registers it (``self.fc = Linear(2, 3)``), so
``parameters()`` finds every weight of a model by walking the tree of sub-modules, and ``state_dict()`` names
each one by its path (``encoder.0.weight``). Buffers are tensors that are state but not trained (batch norm's
running statistics). ``train()``/``eval()`` set ``training`` on the whole tree; layers such as dropout and batch
norm read it.
"""

from __future__ import annotations

from collections import OrderedDict

from ..autograd import Tensor, no_grad
from .utils import zero_grad
from ..backend import array_from, canonical_device


class Parameter(Tensor):
    """A tensor that is a module's trainable weight: requires grad by default and registers on assignment."""

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """The base of every layer and model. A subclass calls ``super().__init__()``, then assigns its parameters,
    buffers and sub-modules in ``__init__``, and computes in ``forward``; ``module(x)`` calls ``forward(x)``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # --- registration ----------------------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() before "
                                 f"assigning {name!r}")
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()) and (value is None or isinstance(value, Tensor)):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):  # called only when normal lookup fails
        for store in ("_parameters", "_buffers", "_modules"):
            items = self.__dict__.get(store)
            if items is not None and name in items:
                return items[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module

    # --- walking the tree ------------------------------------------------------------------------------
    def named_modules(self, prefix: str = ""):
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self):
        return (m for _, m in self.named_children())

    def _named(self, store: str, prefix: str, recurse: bool):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for path, module in modules:
            for name, t in getattr(module, store).items():
                if t is None or id(t) in seen:
                    continue  # a weight shared by two layers is listed once
                seen.add(id(t))
                yield (f"{path}.{name}" if path else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        return self._named("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        return self._named("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalar weights (PyTorch: ``sum(p.numel() for p in model.parameters())``)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn):
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # --- modes, gradients, devices --------------------------------------------------------------------
    def train(self, mode: bool = True):
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        zero_grad(self.parameters(), set_to_none)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, device=None, dtype=None):
        """Move (or cast) every parameter and buffer in place; the Parameter objects stay the same, so an
        optimizer made before the move still holds them."""
        if isinstance(device, str) and device.startswith(("float", "int")):
            device, dtype = None, device
        device = canonical_device(device) if device is not None else None
        for t in list(self.parameters()) + list(self.buffers()):
            cast = dtype if (dtype is not None and t.dtype.kind == "f") else None
            t.data = array_from(t.data, cast, device)
            if t.grad is not None:
                t.grad.data = array_from(t.grad.data, cast, device)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device="cuda"):
        return self.to(device)

    def float(self):
        return self.to(dtype="float32")

    def double(self):
        return self.to(dtype="float64")

    # --- saving ---------------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict:
        """Every parameter and persistent buffer by its dotted path, detached (shares memory)."""
        state = OrderedDict()
        for path, module in self.named_modules():
            for name, t in module._parameters.items():
                if t is not None:
                    state[f"{path}.{name}" if path else name] = t.detach()
            for name, t in module._buffers.items():
                if t is not None and name not in module._non_persistent:
                    state[f"{path}.{name}" if path else name] = t.detach()
        return state

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values into this module's tensors. With ``strict``, refuse missing or unexpected keys;
        always refuse a shape mismatch. The error names the offending keys."""
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = [f"{k}: checkpoint {tuple(_shape(state_dict[k]))}, model {own[k].shape}"
                      for k in own if k in state_dict and tuple(_shape(state_dict[k])) != own[k].shape]
        problems = []
        if mismatched:
            problems.append("size mismatch for " + "; ".join(mismatched))
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: " + ". ".join(problems))
        with no_grad():
            for k, target in own.items():
                if k in state_dict:
                    value = state_dict[k]
                    value = value.data if isinstance(value, Tensor) else value
                    self._tensor_at(k).data[...] = array_from(value, target.dtype, target.device)
        return {"missing_keys": missing, "unexpected_keys": unexpected}

    def _tensor_at(self, path: str) -> Tensor:
        *modules, name = path.split(".")
        module = self
        for m in modules:
            module = module._modules[m]
        return module._parameters[name] if name in module._parameters else module._buffers[name]

    # --- calling and printing -------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        children = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        return head + "\n  " + "\n  ".join(children) + "\n)"


def _shape(value):
    return value.shape if hasattr(value, "shape") else ()
