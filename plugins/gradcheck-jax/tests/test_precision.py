"""Precision: float32 as JAX computes it, float64 when x64 is on; the flag never flipped."""

from __future__ import annotations

import threading

import gradcheck
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import ModelError


def x64_enabled() -> bool:
    """JAX's x64 setting as this thread sees it (jax.config.jax_enable_x64)."""
    return bool(jax.enable_x64.value)


def _sin_squared(x: jax.Array) -> jax.Array:
    return jnp.sum(jnp.sin(x) ** 2)


def test_float32_is_checked_natively_with_the_float32_error_model() -> None:
    x = jnp.linspace(0.1, 2.0, 5)
    report = gradcheck.check(_sin_squared, x, seed=0)
    assert report.ok, report
    assert report.metadata.dtype == "float32"
    # float32's rounding (eps 1.2e-7, not 2.2e-16) sets the error of every estimate: each is
    # far above the largest error of the same check made on float64 copies
    in_float64 = gradcheck.check(_sin_squared, x, seed=0, x64=True)
    assert float(np.min(report.error)) > 1e3 * float(np.max(in_float64.error))


@pytest.mark.usefixtures("x64")
def test_float64_is_checked_in_float64_when_the_user_enables_x64() -> None:
    report = gradcheck.check(_sin_squared, jnp.linspace(0.1, 2.0, 5), seed=0)
    assert report.ok, report
    assert report.metadata.dtype == "float64"
    assert x64_enabled()  # the user's setting, still on


def test_x64_true_checks_float64_copies_without_flipping_the_global_flag() -> None:
    seen_inside: list[bool] = []
    seen_elsewhere: list[bool] = []

    def f(x: jax.Array) -> jax.Array:
        seen_inside.append(bool(x64_enabled()))
        other = threading.Thread(target=lambda: seen_elsewhere.append(x64_enabled()))
        other.start()
        other.join()
        return _sin_squared(x)

    x = jnp.linspace(0.1, 2.0, 5)
    report = gradcheck.check(f, x, seed=0, x64=True)
    assert report.ok, report
    assert report.metadata.dtype == "float64"
    assert seen_inside
    assert all(seen_inside)
    assert not any(seen_elsewhere)  # thread-local: no other thread saw x64 on
    assert not x64_enabled()
    assert x.dtype == jnp.float32
    assert any(
        "x64=True; your jax_enable_x64 setting is untouched" in n for n in report.metadata.warnings
    )


def test_the_x64_flag_is_restored_when_f_raises() -> None:
    def fails(x: jax.Array) -> jax.Array:
        raise RuntimeError("boom")

    with pytest.raises(ModelError, match="boom"):
        gradcheck.check(fails, jnp.ones(2), x64=True)
    assert not x64_enabled()


@pytest.mark.usefixtures("x64")
def test_float32_leaves_are_checked_on_float64_copies_when_the_user_enables_x64() -> None:
    x = jnp.linspace(0.1, 2.0, 5, dtype=jnp.float32)
    report = gradcheck.check(_sin_squared, x, seed=0)
    assert report.ok, report
    assert report.metadata.dtype == "float64"
    assert any("since jax_enable_x64 is on (pass x64=False" in n for n in report.metadata.warnings)
    assert x.dtype == jnp.float32


@pytest.mark.usefixtures("x64")
def test_x64_false_checks_in_float32_under_a_user_who_enabled_x64() -> None:
    report = gradcheck.check(_sin_squared, jnp.linspace(0.1, 2.0, 5), seed=0, x64=False)
    assert report.metadata.dtype == "float32"
    assert any("x64=False" in n for n in report.metadata.warnings)
    assert x64_enabled()


def test_float64_numpy_leaves_are_checked_in_float32_when_x64_is_off() -> None:
    params = {"w": np.linspace(0.1, 2.0, 4)}
    report = gradcheck.check(jax.jit(lambda p: _sin_squared(p["w"])), params, seed=0)
    assert report.ok, report
    assert report.metadata.dtype == "float32"
    (note,) = [n for n in report.metadata.warnings if "jax_enable_x64 is off" in n]
    assert note.startswith("float64 p['w']: JAX computes in float32")
    assert params["w"].dtype == np.float64
