"""A stand-in for CuPy, so that CI runs minigen's ``cuda`` code paths on a machine without a GPU.

``install(monkeypatch)`` puts it where ``minigen.backend`` looks for CuPy (and ``cupyx`` in ``sys.modules``);
the device ``'cuda'`` (``'cuda:0'``, the only one) then exists, and its arrays are ``ndarray`` objects that wrap
a NumPy array. Like CuPy's, they refuse to leave the "device" implicitly:

- ``np.asarray(a)``, ``np.exp(a)``, ``np.sum(a)``: TypeError (stricter than CuPy, whose ``__array_ufunc__`` and
  ``__array_function__`` quietly hand NumPy's functions over to CuPy: code that relies on that hides which
  library runs, so minigen does not);
- arithmetic or a ``fake_cupy`` function with a NumPy array: TypeError, as in CuPy (``asarray``/``array`` are the
  explicit host → device copy; a NumPy array as an *index* is copied, as CuPy does);
- reading values back (``.get()``, ``.item()``, ``.tolist()``, ``float(a)``, ``bool(a)``, ``asnumpy``) works, as
  in CuPy, and counts one ``host_reads``: a test can check that a training step reads nothing back.

``random.default_rng`` gives a Generator with only the methods CuPy's own Generator has (no ``permutation``,
``shuffle``, ``choice``, ``normal``), whose whole state is the device array ``bit_generator._state``, as in CuPy.

What it proves: no NumPy call meets device data, random numbers are drawn with CuPy's Generator API, and the
host reads happen where the test expects. What it cannot: anything about CuPy's kernels, their numerical results
(the numbers are NumPy's), functions CuPy lacks (every NumPy function is offered) or speed.
"""

from __future__ import annotations

import operator
import sys
import types

import numpy as np

__version__ = "0.0.0+fake"
host_reads = 0        # device → host copies so far (each one waits for the GPU on a real device)


def _read_back():
    global host_reads
    host_reads += 1


# --- Arrays --------------------------------------------------------------------------------------------------
def _unwrap(x, host_ok=False):
    """Device arrays → their NumPy data; a NumPy array → TypeError (it lives on the host) unless ``host_ok``."""
    if isinstance(x, ndarray):
        return x._data
    if isinstance(x, np.ndarray):
        if host_ok:
            return x.copy()  # the copy to the device: later changes on the host do not reach it
        raise TypeError(f"Unsupported type {type(x)}: a NumPy (host) array met a device array")
    if isinstance(x, (tuple, list)):
        return type(x)(_unwrap(v, host_ok) for v in x)
    if isinstance(x, slice):
        return slice(_unwrap(x.start), _unwrap(x.stop), _unwrap(x.step))
    return x


def _wrap(x):
    """NumPy results → device arrays (CuPy's reductions and scalar indexing give 0-d arrays, not scalars)."""
    if isinstance(x, (np.ndarray, np.generic)):
        return ndarray._of(np.asarray(x))
    if isinstance(x, (tuple, list)):
        return type(x)(_wrap(v) for v in x)
    return x


_SCALARS = (bool, int, float, complex, np.generic)


class ndarray:  # noqa: N801  (CuPy's name)
    """A device array: ``_data`` (NumPy) is its memory "on the GPU"."""

    __array_ufunc__ = None   # NumPy's ufuncs refuse it, and numpy_array + a → a.__radd__ → TypeError
    __hash__ = None

    def __init__(self, shape, dtype=float):
        self._data = np.zeros(shape, dtype)

    @classmethod
    def _of(cls, data: np.ndarray):
        a = cls.__new__(cls)
        a._data = data
        return a

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct "
                        "a NumPy array explicitly.")

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented  # np.sum(a), np.concatenate([a]), ...: TypeError

    device = property(lambda self: cuda.Device(0))

    # reading back: explicit, counted
    def get(self):
        _read_back()
        return self._data.copy()

    def item(self):
        _read_back()
        return self._data.item()

    def tolist(self):
        _read_back()
        return self._data.tolist()

    def __bool__(self):
        _read_back()
        return bool(self._data)

    def __int__(self):
        _read_back()
        return int(self._data)

    def __float__(self):
        _read_back()
        return float(self._data)

    def __format__(self, spec):
        _read_back()
        return format(self._data.item() if self._data.ndim == 0 else self._data, spec)

    def __repr__(self):
        return f"array({np.array2string(self._data, separator=', ')}, device='cuda:0')"

    # everything else: NumPy's attribute or method, on the device
    def __getattr__(self, name):
        if name.startswith("__") or name in ("_data", "ctypes", "tofile", "tobytes", "dump", "dumps"):
            raise AttributeError(f"fake_cupy.ndarray has no attribute {name!r}")
        attr = getattr(self._data, name)
        if callable(attr):
            return lambda *args, **kwargs: _wrap(attr(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))
        return _wrap(attr)

    def __getitem__(self, key):
        return _wrap(self._data[_unwrap(key, host_ok=True)])

    def __setitem__(self, key, value):
        self._data[_unwrap(key, host_ok=True)] = _unwrap(value)

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return (_wrap(v) for v in self._data)


def _operand(other):
    """The NumPy data of an operand, NotImplemented for objects that should answer instead (a Tensor's
    ``__rmul__``, as CuPy defers to objects with a higher ``__array_priority__``)."""
    if isinstance(other, (ndarray, np.ndarray, *_SCALARS)):
        return _unwrap(other)
    return NotImplemented


def _binary(op, reflected=False):
    def method(self, other):
        other = _operand(other)
        if other is NotImplemented:
            return other
        return _wrap(op(other, self._data) if reflected else op(self._data, other))
    return method


def _inplace(op):
    def method(self, other):
        other = _operand(other)
        if other is NotImplemented:
            return other
        op(self._data, other)  # NumPy's in-place operator: same memory, same casting rules
        return self
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift"):
    _op = getattr(operator, _name + "_" if _name in ("and", "or") else _name)
    setattr(ndarray, f"__{_name}__", _binary(_op))
    setattr(ndarray, f"__r{_name}__", _binary(_op, reflected=True))
    setattr(ndarray, f"__i{_name}__", _inplace(getattr(operator, f"i{_name}")))
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(ndarray, f"__{_name}__", _binary(getattr(operator, _name)))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__", (lambda op: lambda self: _wrap(op(self._data)))(getattr(operator, _name)))


# --- Functions: NumPy's, taking and giving device arrays ------------------------------------------------------
_HOST_OK = {"asarray", "array", "asanyarray"}   # the explicit host → device copies


def _function(fn, name):
    host_ok = name in _HOST_OK

    def function(*args, **kwargs):
        out = kwargs.get("out")
        result = fn(*_unwrap(args, host_ok), **{k: _unwrap(v, host_ok) for k, v in kwargs.items()})
        return out if isinstance(out, ndarray) else _wrap(result)
    function.__name__ = name
    return function


class _Ufunc:
    """``fake_cupy.add`` and friends: callable, with ``reduce``, ``accumulate``, ``outer`` and ``at``."""

    def __init__(self, ufunc):
        self._ufunc, self.__name__ = ufunc, ufunc.__name__
        self.nin, self.nout = ufunc.nin, ufunc.nout

    def __call__(self, *args, **kwargs):
        return _function(self._ufunc, self.__name__)(*args, **kwargs)

    def __getattr__(self, name):
        if name not in ("reduce", "accumulate", "outer", "at"):
            raise AttributeError(name)
        return _function(getattr(self._ufunc, name), name)


class _Namespace:
    """A NumPy module (``numpy``, ``numpy.lib``, ``numpy.linalg``, ...) with device arrays in and out."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        attr = getattr(self._module, name)
        if isinstance(attr, types.ModuleType):
            return _Namespace(attr)
        if isinstance(attr, np.ufunc):
            return _Ufunc(attr)
        if isinstance(attr, type) or not callable(attr):
            return attr  # dtypes (float32, dtype, iinfo, ...) and constants (inf, pi, newaxis)
        return _function(attr, name)


_numpy = _Namespace(np)


def __getattr__(name):  # module attributes not defined below: NumPy's, on the device
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(_numpy, name)


def asnumpy(a, stream=None, order="C", out=None):
    if isinstance(a, ndarray):
        _read_back()
        return np.array(a._data, order=order)
    return np.asarray(a, order=order)


def get_array_module(*args):
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else np


def is_available():
    return True


# --- cupy.cuda ------------------------------------------------------------------------------------------------
synchronizations = 0   # calls of Device.synchronize / Stream.synchronize


class _Device:
    """``cupy.cuda.Device(i)``: a context manager that makes device ``i`` current; only device 0 exists."""

    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)
        if self.id != 0:
            raise RuntimeError(f"CUDARuntimeError: cudaErrorInvalidDevice: invalid device ordinal {self.id}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def synchronize(self):
        global synchronizations
        synchronizations += 1

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class _Stream:
    def synchronize(self):
        global synchronizations
        synchronizations += 1


_runtime = types.SimpleNamespace(
    getDeviceCount=lambda: 1,
    getDevice=lambda: 0,
    getDeviceProperties=lambda i: {"name": b"Fake GPU (NumPy in disguise)", "totalGlobalMem": 16 * 2 ** 30},
)
cuda = types.SimpleNamespace(Device=_Device, runtime=_runtime, get_device_id=lambda: 0,
                             get_current_stream=lambda device=None: _Stream(), Stream=_Stream)


# --- cupy.random: the new-style Generator only ----------------------------------------------------------------
class _BitGenerator:
    """Holds the whole stream position in a device array ``_state``, as CuPy's cuRAND bit generators do (there
    an int8 array of cuRAND states; here PCG64's 128-bit state and increment, as four uint64 words)."""

    def __init__(self, seed):
        bits = np.random.PCG64(np.random.SeedSequence([seed, 0xC0DA]))  # not the CPU's stream, as on a GPU
        self._state = ndarray._of(self._words(bits.state))

    @staticmethod
    def _words(state):
        s, inc = state["state"]["state"], state["state"]["inc"]
        return np.array([s >> 64, s & (2 ** 64 - 1), inc >> 64, inc & (2 ** 64 - 1)], dtype=np.uint64)

    def _draw(self, method, *args, **kwargs):
        w = [int(v) for v in self._state._data]
        bits = np.random.PCG64()
        bits.state = {"bit_generator": "PCG64", "state": {"state": (w[0] << 64) | w[1], "inc": (w[2] << 64) | w[3]},
                      "has_uint32": 0, "uinteger": 0}
        result = getattr(np.random.Generator(bits), method)(*args, **kwargs)
        self._state._data[...] = self._words(bits.state)
        return _wrap(np.asarray(result))


class Generator:
    """CuPy's ``cupy.random.Generator``, reduced to what minigen could call. Missing on purpose, because CuPy's
    lacks them: ``permutation``, ``shuffle``, ``choice``, ``normal``, ``bytes``."""

    def __init__(self, bit_generator):
        self.bit_generator = bit_generator

    def random(self, size=None, dtype=np.float64, out=None):
        if out is not None:
            raise NotImplementedError("fake_cupy: out=")
        draw = self.bit_generator._draw("random", size, dtype=np.float64 if np.dtype(dtype) == np.float64
                                        else np.float32)
        return draw.astype(dtype, copy=False)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64):
        return (low + (high - low) * self.random(size)).astype(dtype, copy=False)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        low, high = (0, int(low)) if high is None else (int(low), int(high))
        return self.bit_generator._draw("integers", low, high, size=size, dtype=dtype, endpoint=endpoint)

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        if np.dtype(dtype).char not in "fd":
            raise TypeError(f"Unsupported dtype {np.dtype(dtype).name} for standard_normal")
        if out is not None:
            raise NotImplementedError("fake_cupy: out=")
        return self.bit_generator._draw("standard_normal", size, dtype=dtype)

    def standard_exponential(self, size=None, dtype=np.float64, method="inv", out=None):
        return self.bit_generator._draw("standard_exponential", size).astype(dtype, copy=False)


def default_rng(seed=None):
    return Generator(_BitGenerator(seed))


random = types.SimpleNamespace(default_rng=default_rng, Generator=Generator)


# --- cupyx ----------------------------------------------------------------------------------------------------
def _scatter_add(a, slices, value):
    np.add.at(_unwrap(a), _unwrap(slices, host_ok=True), _unwrap(value))


cupyx = types.ModuleType("cupyx")
cupyx.scatter_add = _scatter_add


# --- Installing -----------------------------------------------------------------------------------------------
def install(monkeypatch):
    """Make ``minigen.backend`` use this module as CuPy (undone by ``monkeypatch`` after the test)."""
    from minigen import backend
    monkeypatch.setattr(backend, "cupy", sys.modules[__name__])
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    backend.manual_seed(backend.initial_seed())  # drop generators made for another CuPy
    return sys.modules[__name__]
