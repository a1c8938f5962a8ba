"""Backend: which array library holds a tensor's numbers, and where random numbers come from.

A tensor's data is a NumPy array on the CPU or a CuPy array on a CUDA GPU. Both libraries share one API, so
every op asks for the module of its inputs (``xp``) and calls ``xp.exp``, ``xp.matmul`` and so on; the same
line of code then runs on either device. This file is the only place that knows both libraries exist.

Devices are plain strings, as in PyTorch: ``'cpu'``, ``'cuda'`` (meaning ``'cuda:0'``) or ``'cuda:N'``.

Random numbers: one seeded ``Generator`` per device, so ``manual_seed(s)`` makes a run repeatable on the CPU and
on each GPU, and random tensors are drawn where they live (no host-to-device copies).
"""

from __future__ import annotations

import ctypes
import os
import warnings

import numpy as np

try:  # CuPy is optional: ``pip install 'minigen[gpu]'``.
    import cupy
except ImportError:  # pragma: no cover - depends on the machine
    cupy = None

DEFAULT_SEED = 0
_CUDA_HELP = (
    "device '{device}' needs CuPy and an NVIDIA GPU; install CuPy for your CUDA version, e.g. "
    "pip install 'minigen[gpu]' (CUDA 12) or pip install cupy-cuda11x, then check with "
    "python -c 'import cupy; print(cupy.cuda.runtime.getDeviceCount())'"
)


def cuda_is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # CuPy installed but no driver or no GPU
        return False


def canonical_device(device=None) -> str:
    """'cpu', 'cuda', 'cuda:1', or None (→ 'cpu') → 'cpu' or 'cuda:N'. Checks that a GPU is there."""
    if device is None:
        return "cpu"
    device = str(device).strip().lower()
    if device == "cpu":
        return device
    kind, _, index = device.partition(":")
    if kind != "cuda" or not (index == "" or index.isdigit()):
        raise ValueError(f"unknown device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    if not cuda_is_available():
        raise RuntimeError(_CUDA_HELP.format(device=device))
    return f"cuda:{int(index or 0)}"


def array_module(device: str):
    """The array library (``numpy`` or ``cupy``) that holds data on ``device`` (a canonical device string)."""
    if device == "cpu":
        return np
    if cupy is None:
        raise RuntimeError(_CUDA_HELP.format(device=device))
    return cupy


def is_array(x) -> bool:
    """True for a NumPy or CuPy array."""
    return isinstance(x, np.ndarray) or (cupy is not None and isinstance(x, cupy.ndarray))


def device_of(array) -> str:
    """The device an array lives on: 'cpu' for NumPy, 'cuda:N' for CuPy."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return f"cuda:{array.device.id}"
    return "cpu"


def xp_of(array):
    """The array module of an array: ``numpy`` for NumPy arrays (and scalars), ``cupy`` for CuPy arrays."""
    if isinstance(array, (np.ndarray, np.generic)):
        return np
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    raise TypeError(f"expected a NumPy or CuPy array, got {type(array).__name__} (a Tensor's array is .data)")


def memory_order(array) -> list:
    """The array's axes as its memory holds them, outermost (largest stride) first: [0, 2, 3, 1] for an
    (N, C, H, W) array stored as (N, H, W, C), a conv's output; ties (axes of size 1) keep their order."""
    return sorted(range(array.ndim), key=lambda i: -array.strides[i])


def on_device(array, device: str):
    """Copy ``array`` to ``device`` (a no-op when it is already there)."""
    if device_of(array) == device:
        return array
    if device == "cpu":
        return cupy.asnumpy(array)
    with cupy.cuda.Device(int(device.split(":")[1])):
        return cupy.asarray(array)


def to_numpy(array) -> np.ndarray:
    """A NumPy array with the same values (copies from the GPU when needed)."""
    return array if isinstance(array, np.ndarray) else cupy.asnumpy(array)


def scatter_add(array, key, values) -> None:
    """``array[key] += values`` in place, where a position that ``key`` names twice receives both values (plain
    ``array[key] += values`` would keep only the last). NumPy spells it ``np.add.at``, CuPy ``cupyx.scatter_add``."""
    if isinstance(array, np.ndarray):
        np.add.at(array, key, values)
    else:
        import cupyx  # CuPy's companion package, installed with it: imported only when a GPU array gets here
        cupyx.scatter_add(array, key, values)


def synchronize(device) -> None:
    """Wait until the work queued on ``device`` is done. GPU kernels run after their launch returns; the CPU
    runs each operation before returning, so there it does nothing."""
    device = canonical_device(device)
    if device != "cpu":
        cupy.cuda.Device(int(device.split(":")[1])).synchronize()


# --- Memory: keep freed blocks for reuse -----------------------------------------------------------------------
def retain_freed_memory() -> bool:
    """Ask the C allocator (glibc's ``mallopt``) to keep freed memory for reuse instead of handing it back to
    the operating system. A training step allocates and frees the same large arrays every step; by default
    glibc maps each big block (above a threshold between 128 KiB and 32 MiB) fresh from the OS and unmaps it
    when freed, and every fresh 4 KiB page costs a page fault on first touch: measured on a 2-core VM, a third
    of a conv layer's time. Caching allocators (PyTorch's on the GPU, jemalloc, tcmalloc) avoid this the same
    way. Done once at import; ``MINIGEN_RETAIN_MEMORY=0`` turns it off. Returns whether it took effect."""
    if os.environ.get("MINIGEN_RETAIN_MEMORY", "1") == "0":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library already loaded into this process
    except (OSError, AttributeError, TypeError):  # macOS, Windows, musl: another allocator, nothing to tune
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    # serve blocks below 1 GiB from the heap, and give back only more than 2 GiB of free heap top
    return bool(mallopt(M_MMAP_THRESHOLD, 1 << 30) and mallopt(M_TRIM_THRESHOLD, 2 << 30))


retain_freed_memory()


# --- Turning Python data into arrays --------------------------------------------------------------------
def array_from(data, dtype=None, device=None):
    """An array for ``data`` with PyTorch's dtype rules: Python floats → float32, ints → int64, and arrays
    keep their dtype unless ``dtype`` is given."""
    device = canonical_device(device) if device is not None else None
    if hasattr(data, "grad_fn"):  # a Tensor gives its array
        data = data.data
    if device is None:
        device = device_of(data)
    xp = array_module(device)
    if is_array(data):
        data = on_device(data, device)
    if dtype is not None or is_array(data) or isinstance(data, np.generic):
        return xp.asarray(data, dtype=dtype)
    array = np.asarray(data)
    if array.dtype.kind == "f":
        array = array.astype(np.float32)  # Python floats become the default dtype
    elif array.dtype.kind in "iu":
        array = array.astype(np.int64)
    elif array.dtype.kind not in "b":
        raise TypeError(f"cannot make a tensor from data of dtype {array.dtype}")
    return xp.asarray(array)


# --- Random numbers: one generator per device -------------------------------------------------------------
_seed = DEFAULT_SEED
_generators: dict[str, object] = {}


def manual_seed(seed: int) -> None:
    """Seed the generators of every device (as ``torch.manual_seed``)."""
    global _seed
    _seed = int(seed)
    _generators.clear()  # each device's generator is re-created from the new seed on first use


def initial_seed() -> int:
    return _seed


def generator(device: str):
    """The seeded random generator of ``device``; it draws arrays on that device."""
    if device not in _generators:
        if device == "cpu":
            _generators[device] = np.random.default_rng(_seed)
        else:
            with cupy.cuda.Device(int(device.split(":")[1])):
                _generators[device] = cupy.random.default_rng(_seed)
    return _generators[device]


def get_rng_state() -> dict:
    """Everything needed to continue the random streams exactly (used by checkpoints): the seed, and the state
    of each device's generator made so far.

    CuPy offers no public way to read or set a Generator's state. Its bit generators (cuRAND) keep the whole
    position of the stream in one device array, ``bit_generator._state``, a private attribute: it is copied
    here, and written back by ``set_rng_state`` on the same kind of GPU. A CuPy without that attribute gets a
    warning instead: its GPU streams are not saved, and a resumed run draws other random numbers there."""
    state = {"seed": _seed}
    for device, gen in _generators.items():
        if device == "cpu":
            state["cpu"] = gen.bit_generator.state
        elif hasattr(gen.bit_generator, "_state"):
            state[device] = gen.bit_generator._state.copy()
        else:
            warnings.warn(f"get_rng_state: cannot read the state of {device}'s random generator with this CuPy "
                          f"({cupy.__version__}); a run resumed from this state draws other random numbers there",
                          stacklevel=2)
    return state


def set_rng_state(state: dict) -> None:
    """Continue the random streams from ``get_rng_state()``'s result (the GPU states as CuPy or NumPy arrays)."""
    manual_seed(state["seed"])
    if "cpu" in state:
        generator("cpu").bit_generator.state = state["cpu"]
    for device, saved in state.items():
        if device.startswith("cuda"):
            here = cuda_is_available() and int(device.split(":")[1]) < cupy.cuda.runtime.getDeviceCount()
            bits = generator(device).bit_generator if here else None
            if getattr(bits, "_state", None) is None or tuple(bits._state.shape) != tuple(saved.shape):
                warnings.warn(f"set_rng_state: cannot restore {device}'s random stream here (no GPU, another "
                              f"CuPy or another GPU); it starts again from the seed {state['seed']}", stacklevel=2)
            else:
                bits._state[...] = on_device(saved, device)
