"""Finite-difference formulas against bounds the tests compute."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from gradcheck._differences import (
    central_difference,
    estimate_noise,
    relative_step,
    representable_steps,
    richardson_estimate,
)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_central_difference_error_is_within_truncation_plus_roundoff(dtype: type) -> None:
    eps = float(np.finfo(dtype).eps)
    x0 = np.array([0.3, 1.7, -2.5, 40.0])
    h = relative_step(eps) * np.maximum(np.abs(x0), 1.0)
    plus, minus, hp, hm = representable_steps(
        x0.astype(dtype).astype(np.float64), h, np.dtype(dtype)
    )
    x = x0.astype(dtype).astype(np.float64)
    f_plus = np.sin(plus.astype(dtype)).astype(np.float64)[None, :]
    f_minus = np.sin(minus.astype(dtype)).astype(np.float64)[None, :]
    estimate = central_difference(f_plus, f_minus, hp, hm)[0]
    # truncation |f'''| h^2 / 6 (+ the unequal-step term |hp - hm| |f''| / 2) and
    # round-off: each value rounded to dtype, off by eps/2 * |f| at most
    truncation = np.maximum(hp, hm) ** 2 / 6 + np.abs(hp - hm) / 2
    roundoff = 2 * (eps / 2) / (hp + hm)
    assert np.all(np.abs(estimate - np.cos(x)) <= truncation + roundoff)


def test_representable_steps_are_exact_differences_of_points() -> None:
    x0 = np.array([1000.0, 1e-3, 0.0])
    plus, minus, hp, hm = representable_steps(
        x0, np.array([5e-3, 1e-9, 1e-9]), np.dtype(np.float32)
    )
    assert plus.dtype == np.float32
    assert np.array_equal(hp, plus.astype(np.float64) - x0)
    assert np.array_equal(hm, x0 - minus.astype(np.float64))
    assert np.all(hp > 0)
    assert np.all(hm > 0)


def test_richardson_cancels_the_h_squared_term() -> None:
    d: Callable[[float], Any] = lambda h: (np.exp(1 + h) - np.exp(1 - h)) / (2 * h)  # noqa: E731
    estimate, truncation = richardson_estimate(d(0.02), d(0.01), 2.0)
    error_fine = abs(d(0.01) - np.e)
    assert abs(estimate - np.e) < error_fine / 100
    assert truncation == pytest.approx(error_fine, rel=0.01)


@pytest.mark.parametrize("sigma", [1e-12, 1e-8, 1e-4])
def test_noise_estimate_recovers_the_noise_of_a_smooth_function(sigma: float) -> None:
    rng = np.random.default_rng(5)
    line = 1.0 + 1e-6 * np.arange(9)
    estimates = [
        estimate_noise((np.cos(line) + sigma * rng.standard_normal(9))[:, None]) for _ in range(40)
    ]
    found = np.array([e[0] for e in estimates if e is not None])
    assert found.size >= 30
    assert 0.5 * sigma < np.median(found) < 2 * sigma


def test_noise_estimate_refuses_a_table_whose_spacing_is_too_small() -> None:
    assert estimate_noise(np.ones((9, 1))) is None


def test_noise_estimate_sees_no_noise_in_exactly_linear_values() -> None:
    # values rounded to a coarse dtype can lie exactly on a line: no noise is visible at
    # this spacing, which is not the same as no noise
    assert estimate_noise((2.0 + 0.25 * np.arange(9.0))[:, None]) is None


def test_noise_estimate_of_one_output_does_not_depend_on_another() -> None:
    rng = np.random.default_rng(1)
    line = 1.0 + 1e-6 * np.arange(9)
    table = np.stack([np.cos(line) + 1e-8 * rng.standard_normal(9), np.full(9, 3.0)], axis=1)
    level = estimate_noise(table)
    assert level is not None
    assert 1e-9 < level[0] < 1e-7
    assert np.isnan(level[1])
