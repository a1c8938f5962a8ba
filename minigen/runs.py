"""Run directories: every run writes into a folder of its own, and never over an earlier run's files; a finished
run is read back from its config.json and its best checkpoint (else its last)."""

from __future__ import annotations

import json
from pathlib import Path


def new_run_dir(path) -> Path:
    """Create ``path``; if it exists already, create ``path-2``, ``path-3``, ... instead. Returns the folder."""
    path = Path(path)
    candidate, n = path, 1
    while True:
        try:
            candidate.mkdir(parents=True, exist_ok=False)
            return candidate
        except FileExistsError:
            n += 1
            candidate = path.with_name(f"{path.name}-{n}")


def run_config(run_dir, label: str = "") -> dict:
    """A run directory's config.json; ``label`` starts the error's message (the option that named the folder)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{label}{run_dir} is not a run directory (no config.json)")
    return json.loads((run_dir / "config.json").read_text())


def run_checkpoint(run_dir, label: str = "") -> Path:
    """The checkpoint a finished (or stopped) run is read back from: its best, else its last."""
    run_dir = Path(run_dir)
    for name in ("checkpoint_best.npz", "checkpoint_last.npz"):
        if (run_dir / name).exists():
            return run_dir / name
    raise FileNotFoundError(f"{label}{run_dir} has no checkpoint yet")
