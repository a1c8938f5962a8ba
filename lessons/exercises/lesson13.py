"""Lesson 13 exercises: code that runs on any device, and a timer that waits for the GPU.

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson13`` (or ``check(13, "exercises")``).
The checks need no GPU: they hand your ``one_hot`` a stand-in for a CuPy array, and your ``median_time`` a
pretend GPU with its own clock.
"""

import time

from minigen.backend import xp_of


def one_hot(labels, num_classes, dtype="float32"):
    """Exercise 13.1. ``labels`` is an integer array of any shape (NumPy on the CPU, CuPy on a GPU) with values
    in [0, num_classes). Return an array of shape ``labels.shape + (num_classes,)`` and dtype ``dtype``, with a
    1 at each label and 0 elsewhere, **on the same device as labels**.

    Ask the input for its array library, ``xp = xp_of(labels)``, as minigen's ops do, and make every new
    array with ``xp`` (``xp.arange``, ``xp.zeros``, ...), never with ``numpy``: on a GPU a NumPy array is on
    the wrong side of the PCIe bus, and CuPy refuses to mix the two."""
    raise NotImplementedError("exercise 13.1: write one_hot (lessons/exercises/lesson13.py)")


def median_time(fn, synchronize, repeats=5, warmup=1, clock=time.perf_counter):
    """Exercise 13.2. The median wall time of ``fn()`` in seconds: call it ``warmup`` times untimed, then time
    ``repeats`` calls one by one and return the median of those times.

    GPU work is queued, not done, when a call returns: ``fn()`` may come back before its work has finished,
    and work queued earlier may still be running when it starts. ``synchronize()`` waits until the queue is
    empty. Call it so that each time you measure covers exactly one call's work, and read the time only
    through ``clock()``."""
    raise NotImplementedError("exercise 13.2: write median_time (lessons/exercises/lesson13.py)")
