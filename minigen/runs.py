"""Run directories: every run writes into a folder of its own, and never over an earlier run's files."""

from __future__ import annotations

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
