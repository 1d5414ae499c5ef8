"""Fixtures of the JAX backend's tests. JAX is imported here, so that a missing JAX fails
the run at collection instead of skipping it."""

from __future__ import annotations

from collections.abc import Iterator

import jax
import pytest

JAX_FORK_WARNING = "ignore:os.fork\\(\\) was called:RuntimeWarning"
"""Once JAX has computed, it warns at every ``os.fork()`` (its threads cannot follow into
a child). These tests run in the same pytest process as gradcheck's own, some of which
fork worker pools that never use JAX; under ``filterwarnings = error`` the warning would
fail them only because a JAX test ran earlier in the same process."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", JAX_FORK_WARNING)


@pytest.fixture
def x64() -> Iterator[None]:
    """JAX's x64 mode for one test, as a user turns it on around their code (thread-local,
    undone after the test)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture
def key() -> jax.Array:
    """A fixed PRNG key, so every random array is reproducible."""
    return jax.random.key(20261130)
