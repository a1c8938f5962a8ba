"""How ``python -m pytest`` runs the lesson notebooks (nbmake: ``--nbmake`` in pyproject's addopts).

Each notebook runs top to bottom in a fresh kernel, which inherits this process's environment; the mode is
``MINIGEN_LESSON_MODE``, fast unless you set it. While a notebook runs, NumPy's BLAS gets one thread (unless
``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` are set already): the lessons' matrix products are small, and on a
busy 2-core machine a second BLAS thread that has to wait for a core made them up to 40× slower (lesson 06's
training step: 130 ms instead of 3 ms), which CI's time budget cannot afford. Only the notebook kernels are
affected; the tests under tests/ keep the default.
"""

import os

import pytest

ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    if not getattr(item, "nbmake", False):
        yield
        return
    added = {k: v for k, v in ONE_THREAD.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            del os.environ[k]
