"""The benchmark registry: a workload is a name, a description and a ``setup(device) -> Case``.

Adding a workload: write ``setup(device) -> Case`` in one of this package's workload files and decorate it with
``@workload("W7", "description")``; ``Case.torch`` may be None (no PyTorch twin) and ``Case.flops`` None (no GFLOP/s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class Case(NamedTuple):
    minigen: Callable[[], object]        # one step of the workload in minigen
    torch: Callable[[], object] | None   # the same step in PyTorch, or None
    flops: float | None                  # floating-point operations in one step, or None


class Workload(NamedTuple):
    id: str
    description: str
    setup: Callable[[str], Case]         # device → Case (allocates the inputs)


WORKLOADS: dict[str, Workload] = {}      # the registry, in the order workloads are defined


def workload(id: str, description: str):
    """Register ``setup(device) -> Case`` as workload ``id``."""
    def register(setup):
        WORKLOADS[id] = Workload(id, description, setup)
        return setup
    return register
