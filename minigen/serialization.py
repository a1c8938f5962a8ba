"""``minigen.save`` / ``minigen.load``: nested state (dicts, lists, tensors, numbers, strings) in one ``.npz``,
without pickle.

Format: every tensor or array becomes an array entry ``t0, t1, ...`` of a NumPy ``.npz`` (a zip of ``.npy``
files); the structure around them (which key holds which array, plain numbers, strings, None, dict key types)
is a JSON document stored as a byte array under ``__minigen__``. Loading uses ``allow_pickle=False``, so a
checkpoint can hold data only, never code.

Atomic write: the file is written beside the target under a temporary name, flushed to disk, then renamed over
the target (``os.replace`` is atomic), so a crash leaves either the old checkpoint or the new one, never half.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from . import backend
from .autograd import Tensor

FORMAT = "minigen-checkpoint/1"


def _encode(obj, arrays: dict):
    """obj → a JSON-able tree; arrays are moved into ``arrays`` and referenced by name."""
    if isinstance(obj, Tensor) or backend.is_array(obj):
        array = obj.data if isinstance(obj, Tensor) else obj
        name = f"t{len(arrays)}"
        arrays[name] = backend.to_numpy(array)
        node = {"kind": "tensor" if isinstance(obj, Tensor) else "array", "ref": name}
        if isinstance(obj, Tensor) and obj.requires_grad:
            node["requires_grad"] = True
        return node
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: dict keys must be str or int, got {type(k).__name__}")
            items.append([k, _encode(v, arrays)])
        return {"kind": "dict", "items": items}
    if isinstance(obj, (list, tuple)):
        return {"kind": type(obj).__name__, "items": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"kind": "value", "value": obj}
    raise TypeError(f"save: cannot store an object of type {type(obj).__name__} (only tensors, arrays, numbers, "
                    "strings, None, and dicts/lists/tuples of them)")


def _decode(node, arrays, device):
    kind = node["kind"]
    if kind in ("tensor", "array"):
        array = arrays[node["ref"]]
        if device is not None:
            array = backend.on_device(array, backend.canonical_device(device))
        return Tensor(array, requires_grad=node.get("requires_grad", False)) if kind == "tensor" else array
    if kind == "dict":
        return {k: _decode(v, arrays, device) for k, v in node["items"]}
    if kind in ("list", "tuple"):
        items = [_decode(v, arrays, device) for v in node["items"]]
        return items if kind == "list" else tuple(items)
    return node["value"]


def _umask() -> int:
    mask = os.umask(0)                        # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def save(obj, path) -> None:
    """Write ``obj`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays)
    header = json.dumps({"format": FORMAT, "tree": tree}).encode("utf-8")
    arrays["__minigen__"] = np.frombuffer(header, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())     # mkstemp makes it private (0600); a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path, map_location=None):
    """Read what ``save`` wrote. ``map_location``: a device to put every tensor on (default: the CPU)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load: no file at {path}")
    unreadable = f"load: {path} is not a readable minigen checkpoint (truncated, corrupt or another format)"
    if not zipfile.is_zipfile(path):
        raise ValueError(unreadable)
    try:
        with np.load(path, allow_pickle=False) as npz:
            files = set(npz.files)
            header = json.loads(npz["__minigen__"].tobytes().decode("utf-8")) if "__minigen__" in files else None
            arrays = {name: npz[name] for name in files if name != "__minigen__"}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{unreadable}: {e}") from None
    if header is None:
        raise ValueError(f"load: {path} is an .npz file but not a minigen checkpoint (no __minigen__ entry)")
    if header.get("format") != FORMAT:
        raise ValueError(f"load: {path} has format {header.get('format')!r}, expected {FORMAT!r}")
    return _decode(header["tree"], arrays, map_location)
