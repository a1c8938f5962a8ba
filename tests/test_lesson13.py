"""Lesson 13's exercise checks: ``one_hot`` on any device, ``median_time`` that waits for the GPU.

No GPU is needed. ``one_hot`` receives a stand-in for a CuPy array (``FakeGPUArray``) while ``minigen.backend``
sees a stand-in ``cupy`` module (``FakeCuPy``): like the real thing, the stand-in refuses to become a NumPy
array implicitly and refuses to meet one in arithmetic, so code that makes an array with ``numpy`` fails here as
it would on a GPU. ``median_time`` is timed against ``FakeGPU``, a pretend device whose work is queued and whose
clock only moves when told, so the exact right answer is known.

Each check compares the module under test with the reference solution and with something independent of both
(NumPy's identity matrix, the pretend device's own arithmetic). MINIGEN_CHECK=exercises checks the learner's
file, as in tests/test_lessons.py.
"""

import operator
import statistics
import time
import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigen import backend

from lesson_checks import checks  # tests/lesson_checks.py

pytestmark = pytest.mark.lesson13
under_test, reference = checks(13)


# --- A stand-in for CuPy --------------------------------------------------------------------------------------
def _unwrap(x, host_ok=False):
    """FakeGPUArray → its NumPy data; a NumPy array → TypeError (it lives on the host), unless ``host_ok``."""
    if isinstance(x, FakeGPUArray):
        return x._data
    if isinstance(x, np.ndarray):
        if host_ok:
            return x
        raise TypeError(f"Unsupported type {type(x)}: a NumPy (host) array met a device array")
    if isinstance(x, (tuple, list)):
        return type(x)(_unwrap(v, host_ok) for v in x)
    return x


def _wrap(x):
    """NumPy results → FakeGPUArray (CuPy's reductions and scalar indexing give 0-d arrays, not scalars)."""
    if isinstance(x, (np.ndarray, np.generic)):
        return FakeGPUArray(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    return x


class FakeGPUArray:
    """Stands in for a CuPy array: its numbers (``_data``, read directly by the checks) live "on the device".

    Like a CuPy array it refuses to become a NumPy array implicitly (``np.asarray``, NumPy indexing), and
    arithmetic with a NumPy array raises TypeError. It is a little stricter than CuPy in one respect: NumPy's
    ufuncs refuse it (``__array_ufunc__ = None``), where CuPy would quietly run ``np.exp(a)`` as ``cupy.exp(a)``.
    Methods (``astype``, ``reshape``, ``sum``, ...) and attributes (``shape``, ``dtype``, ``T``) work on the
    device."""

    __array_ufunc__ = None
    device = types.SimpleNamespace(id=0)   # what backend.device_of reads: 'cuda:0'

    def __init__(self, data):
        self._data = np.asarray(data)

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct "
                        "a NumPy array explicitly.")

    def get(self):
        """The explicit device → host copy (``cupy.ndarray.get``)."""
        return self._data.copy()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(self._data, name)
        if callable(attr):
            return lambda *args, **kwargs: _wrap(attr(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))
        return _wrap(attr)

    def __getitem__(self, key):
        return _wrap(self._data[_unwrap(key)])

    def __setitem__(self, key, value):
        self._data[_unwrap(key)] = _unwrap(value)

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return (_wrap(v) for v in self._data)

    def __bool__(self):
        return bool(self._data)

    def __int__(self):
        return int(self._data)

    def __float__(self):
        return float(self._data)

    def __repr__(self):
        return f"FakeGPUArray({self._data!r})"


def _binary(op, reflected=False):
    def method(self, other):
        other = _unwrap(other)
        return _wrap(op(other, self._data) if reflected else op(self._data, other))
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor"):
    _op = getattr(operator, _name + "_" if _name in ("and", "or") else _name)
    setattr(FakeGPUArray, f"__{_name}__", _binary(_op))
    setattr(FakeGPUArray, f"__r{_name}__", _binary(_op, reflected=True))
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(FakeGPUArray, f"__{_name}__", _binary(getattr(operator, _name)))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(FakeGPUArray, f"__{_name}__", (lambda op: lambda self: _wrap(op(self._data)))(getattr(operator, _name)))
FakeGPUArray.__hash__ = None


class FakeCuPy:
    """Stands in for the ``cupy`` module: NumPy's functions, taking and returning FakeGPUArrays, with a record
    of the functions called. ``asarray``/``array`` accept NumPy arrays: that is the explicit host → device
    copy. Dtypes and constants (``xp.float32``, ``xp.newaxis``) are NumPy's."""

    ndarray = FakeGPUArray

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        attr = getattr(np, name)
        if isinstance(attr, type) or not callable(attr):
            return attr

        def function(*args, **kwargs):
            self.calls.append(name)
            host_ok = name in ("asarray", "array")
            args = _unwrap(args, host_ok)
            kwargs = {k: _unwrap(v, host_ok) for k, v in kwargs.items()}
            return _wrap(attr(*args, **kwargs))
        return function


@pytest.fixture
def fake_cupy(monkeypatch):
    """minigen.backend with CuPy replaced by the stand-in: xp_of(FakeGPUArray) is FakeCuPy."""
    fake = FakeCuPy()
    monkeypatch.setattr(backend, "cupy", fake)
    return fake


# --- Exercise 13.1: one_hot ------------------------------------------------------------------------------------
@st.composite
def _labels(draw):
    k = draw(st.integers(1, 6))
    labels = draw(hnp.arrays(st.sampled_from([np.int64, np.int32]),
                             hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
                             elements=st.integers(0, k - 1)))
    return labels, k


@given(case=_labels())
def test_one_hot_on_numpy_matches_the_identity_matrix(case):
    labels, k = case
    out = under_test().one_hot(labels, k)
    assert isinstance(out, np.ndarray), f"one_hot returned {type(out).__name__}, expected a NumPy array"
    assert out.shape == labels.shape + (k,), f"shape {out.shape}, expected labels.shape + (num_classes,)"
    assert out.dtype == np.float32, f"dtype {out.dtype}: the default is float32"
    np.testing.assert_array_equal(out, np.eye(k, dtype=np.float32)[labels])   # row i of the identity: class i
    np.testing.assert_array_equal(out, reference().one_hot(labels, k))


@pytest.mark.parametrize("dtype", ["float64", "int64", np.float32, "bool"])
def test_one_hot_gives_the_dtype_asked_for(dtype):
    labels = np.array([[3, 0], [1, 3]])
    out = under_test().one_hot(labels, 4, dtype=dtype)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, np.eye(4, dtype=dtype)[labels])
    np.testing.assert_array_equal(out, reference().one_hot(labels, 4, dtype=dtype))


@pytest.mark.parametrize("shape", [(6,), (2, 3), (), (0,)])
def test_one_hot_stays_on_the_device_of_its_input(fake_cupy, shape):
    host = (np.arange(int(np.prod(shape))) * 7 % 5).reshape(shape)
    labels = FakeGPUArray(host)
    try:
        out = under_test().one_hot(labels, 5)
    except TypeError as error:  # NotImplementedError (the stub) is not caught: it fails as itself
        pytest.fail(f"one_hot mixed NumPy with a device array ({error}); make new arrays with xp = xp_of(labels)")
    assert isinstance(out, FakeGPUArray), (
        f"one_hot returned a {type(out).__name__}: the result must stay on the labels' device; make it with "
        f"xp = xp_of(labels), not numpy (device calls made: {fake_cupy.calls})")
    assert out.shape == shape + (5,) and out.dtype == np.float32
    np.testing.assert_array_equal(out.get(), np.eye(5, dtype=np.float32)[host])
    np.testing.assert_array_equal(out.get(), reference().one_hot(labels, 5).get())


def test_the_stand_in_refuses_numpy_as_cupy_would(fake_cupy):
    """The check above is only as good as the stand-in: NumPy-made arrays must fail against it (np.exp too,
    which CuPy would accept: the stand-in is stricter there)."""
    labels = FakeGPUArray(np.array([0, 2, 1]))
    mistakes = {
        "np.eye(k)[labels]": lambda: np.eye(3, dtype=np.float32)[labels],
        "labels[:, None] == np.arange(k)": lambda: labels[:, None] == np.arange(3),
        "np.arange(k) == labels[:, None]": lambda: np.arange(3) == labels[:, None],
        "np.zeros(...) then out[rows, labels] = 1": lambda: np.zeros((3, 3)).__setitem__((np.arange(3), labels), 1),
        "np.asarray(labels)": lambda: np.asarray(labels),
        "np.exp(labels)": lambda: np.exp(labels),
    }
    for name, mistake in mistakes.items():
        with pytest.raises(TypeError):
            mistake()
            pytest.fail(f"the stand-in accepted {name}")
    xp = backend.xp_of(labels)
    assert xp is fake_cupy and backend.device_of(labels) == "cuda:0"
    made = (labels[:, None] == xp.arange(3)).astype("float32")
    assert isinstance(made, FakeGPUArray) and fake_cupy.calls == ["arange"]
    np.testing.assert_array_equal(made.get(), np.eye(3)[[0, 2, 1]])


# --- Exercise 13.2: median_time --------------------------------------------------------------------------------
class FakeGPU:
    """A pretend GPU with its own clock. Calling ``step`` costs ``launch`` seconds of Python and queues the
    next of ``work`` (seconds, used in turn) on the device, to run after whatever is queued already;
    ``synchronize`` waits for the queue to empty. ``pending``: seconds of work queued before anything starts."""

    def __init__(self, work, launch=1e-5, pending=0.0):
        self.work, self.launch = list(work), launch
        self.now, self.queue_ends, self.calls = 0.0, pending, 0

    def clock(self):
        return self.now

    def step(self):
        seconds = self.work[self.calls % len(self.work)]
        self.calls += 1
        self.now += self.launch                                   # the host returns once the work is queued
        self.queue_ends = max(self.queue_ends, self.now) + seconds

    def synchronize(self):
        self.now = max(self.now, self.queue_ends)

    def expected(self, repeats, warmup):
        """The right answer: the median over the timed calls of (launch + that call's work)."""
        timed = [self.work[i % len(self.work)] for i in range(warmup, warmup + repeats)]
        return statistics.median(self.launch + w for w in timed)


def _time(module, gpu, repeats, warmup):
    return module.median_time(gpu.step, gpu.synchronize, repeats=repeats, warmup=warmup, clock=gpu.clock)


@given(work=st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=5), launch=st.floats(1e-6, 1e-3),
       repeats=st.integers(1, 7), warmup=st.integers(0, 3), pending=st.floats(0.0, 2.0))
def test_median_time_measures_the_queued_work_of_each_call(work, launch, repeats, warmup, pending):
    gpu = FakeGPU(work, launch, pending)
    seconds = _time(under_test(), gpu, repeats, warmup)
    assert gpu.calls == warmup + repeats, f"fn was called {gpu.calls} times; expected warmup + repeats"
    assert seconds == pytest.approx(gpu.expected(repeats, warmup), rel=1e-9, abs=1e-12), (
        "each time must cover exactly one call's work: synchronize before starting and before stopping the clock")
    assert seconds == pytest.approx(_time(reference(), FakeGPU(work, launch, pending), repeats, warmup), rel=1e-9)


def test_median_time_does_not_count_work_queued_before_it():
    gpu = FakeGPU([0.25], launch=1e-5, pending=3.0)     # 3 s of someone else's work still running
    assert _time(under_test(), gpu, 1, 0) == pytest.approx(0.25 + 1e-5), \
        "synchronize before starting the clock, or the earlier work is counted"


def test_median_time_does_not_stop_the_clock_before_the_work_is_done():
    gpu = FakeGPU([0.5], launch=1e-5)
    assert _time(under_test(), gpu, 3, 1) == pytest.approx(0.5 + 1e-5), \
        "without synchronize before reading the clock, only the launch (10 µs) is measured"


def test_median_time_is_the_median_and_skips_the_warmup():
    gpu = FakeGPU([9.0, 0.3, 0.1, 5.0, 0.2, 0.4])        # the first call is the slow one (compiling kernels)
    assert _time(under_test(), gpu, 5, 1) == pytest.approx(0.3 + 1e-5), \
        "the median of the 5 timed calls (0.3, 0.1, 5.0, 0.2, 0.4 s of work) after 1 untimed warm-up call"


def test_median_time_on_the_cpu_with_the_real_clock():
    calls = []
    seconds = under_test().median_time(lambda: (calls.append(1), time.sleep(0.02)), lambda: None, repeats=3,
                                       warmup=2)
    assert len(calls) == 5
    assert 0.02 <= seconds < 1.0, f"{seconds} s for a 0.02 s sleep"
