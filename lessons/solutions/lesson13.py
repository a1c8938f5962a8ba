"""Lesson 13 reference answers (try the exercises in ``lessons/exercises/lesson13.py`` first)."""

import statistics
import time

from minigen.backend import xp_of


def one_hot(labels, num_classes, dtype="float32"):
    """Compare each label with 0, 1, ..., num_classes − 1: broadcasting (..., 1) against (num_classes,) gives
    (..., num_classes) booleans, True exactly at the label. ``xp.arange`` makes the row of class numbers on the
    labels' device; ``np.arange`` there would be a host array, and CuPy raises TypeError when the two meet."""
    xp = xp_of(labels)
    return (labels[..., None] == xp.arange(num_classes)).astype(dtype)


def median_time(fn, synchronize, repeats=5, warmup=1, clock=time.perf_counter):
    """Synchronize before starting the clock (so earlier work, the warm-up's included, is not counted) and
    before stopping it (so this call's queued work is). The median ignores the odd slow run."""
    for _ in range(warmup):
        fn()          # first calls compile kernels (CuPy), fault in fresh memory (NumPy): not what we measure
    times = []
    for _ in range(repeats):
        synchronize()
        start = clock()
        fn()
        synchronize()
        times.append(clock() - start)
    return statistics.median(times)
