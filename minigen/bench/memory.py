"""Peak memory of one step of a workload, in a fresh process of its own.

The figure is the growth of the process's resident memory, at its highest, over the first two steps after the
workload is set up: the step's activations, gradients and temporaries, and the optimizer's state, which the first
step allocates (both libraries keep freed memory in caches of their own, so a step after a warm-up one would find
its memory already resident and show no growth). Each
(workload, library) pair runs in a new Python process, so neither library's cached memory counts against the
other, and the operating system measures both the same way: Linux's high-water mark of resident memory (VmHWM),
reset just before the step by writing 5 to /proc/self/clear_refs. Elsewhere, or on a GPU, there is no figure.
"""

from __future__ import annotations

import multiprocessing
import sys


def _status(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024          # reported in kB
    raise OSError(f"no {field} in /proc/self/status")


def _measure(setup, device: str, library: str) -> float:
    case = setup(device)
    step = case.minigen if library == "minigen" else case.torch
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                  # the high-water mark starts again from the current resident size
    before = _status("VmRSS")
    step()
    step()
    return (_status("VmHWM") - before) / 2 ** 20


def peak_mib(setup, device: str, library: str) -> float | None:
    """MiB that the first steps of a workload add at their peak, for ``library`` ("minigen" or "torch"), measured
    in a new process; ``setup`` is the workload's ``setup(device) -> Case`` (a module-level function, so the new
    process can import it). None where it cannot be measured (not Linux, or not the CPU)."""
    if device != "cpu" or not sys.platform.startswith("linux"):
        return None
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_measure, (setup, device, library))
