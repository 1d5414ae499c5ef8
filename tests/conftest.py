"""Shared fixtures: pytester for the plugin tests, a seeded generator for the rest."""

from __future__ import annotations

import numpy as np
import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so every random test is reproducible."""
    return np.random.default_rng(20261127)
