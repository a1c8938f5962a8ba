"""Shared test set-up: hypothesis profiles and the device the tests run on.

- ``HYPOTHESIS_PROFILE=ci`` (deterministic, no deadline; what CI uses), ``dev`` (few examples, fast) or
  ``thorough`` (many examples). Default: ``dev`` locally, ``ci`` when ``CI`` is set.
- ``--device cuda`` (or ``MINIGEN_TEST_DEVICE=cuda``) runs the device-aware tests on CuPy; they are skipped
  there when no GPU is present.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

import minigen

# function_scoped_fixture: the `device` fixture is one constant string for the whole session, so reusing it
# across the examples of a @given test is exactly what we want.
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=25, print_blob=True,
                          suppress_health_check=_QUIET)
settings.register_profile("dev", deadline=None, max_examples=10, suppress_health_check=_QUIET)
settings.register_profile("thorough", deadline=None, max_examples=300, suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_addoption(parser):
    parser.addoption("--device", default=os.environ.get("MINIGEN_TEST_DEVICE", "cpu"),
                     help="device for device-aware tests: cpu (default) or cuda")


@pytest.fixture
def device(request):
    """The device under test; skips the test when it asks for a GPU that is not there."""
    name = request.config.getoption("--device")
    if name.startswith("cuda") and not minigen.cuda_is_available():
        pytest.skip("no CUDA GPU (or CuPy) on this machine")
    return name


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state."""
    minigen.manual_seed(0)
