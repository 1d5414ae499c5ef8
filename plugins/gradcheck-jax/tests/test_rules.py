"""custom_vjp and custom_jvp rules: checked against differences of their primal function."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import gradcheck
import jax
import jax.numpy as jnp
import pytest
from gradcheck import InvalidArgument


def _mismatches(report: gradcheck.Report) -> list[str]:
    return [e.name for e in report.elements() if str(e.verdict) == "mismatch"]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def scale(x: jax.Array, w: jax.Array, power: int) -> jax.Array:
    """y = w**power * x, w broadcast over the rows of x; power is not differentiated."""
    return w**power * x


def _scale_fwd(x: jax.Array, w: jax.Array, power: int) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    return scale(x, w, power), (x, w)


def _scale_bwd(power: int, res: tuple[jax.Array, ...], g: jax.Array) -> tuple[jax.Array, jax.Array]:
    x, w = res
    dw = jnp.sum(power * w ** (power - 1) * x * g, axis=0)
    return w**power * g, dw.at[1].multiply(2.0)  # wrong at w[1]


scale.defvjp(_scale_fwd, _scale_bwd)


@jax.custom_jvp
def sin_and_square_sum(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Two outputs: sin(x) elementwise and sum(x**2)."""
    return jnp.sin(x), jnp.sum(x**2)


@sin_and_square_sum.defjvp
def _sin_and_square_sum_jvp(
    primals: tuple[jax.Array], tangents: tuple[jax.Array]
) -> tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
    (x,), (t,) = primals, tangents
    return sin_and_square_sum(x), (jnp.cos(x) * t, jnp.sum(x * t))  # second: factor 2 missing


@jax.custom_vjp
def cube(x: jax.Array) -> jax.Array:
    return jnp.sum(x**3)


cube.defvjp(lambda x: (cube(x), x), lambda x, g: (3 * x**2,))  # ignores its cotangent g


def test_a_custom_vjp_bug_is_located_and_nondiff_arguments_are_left_out(key: jax.Array) -> None:
    x = jax.random.normal(key, (4, 3))
    w = jax.random.normal(jax.random.fold_in(key, 1), (3,))
    report = gradcheck.check(scale, x, w, 3, seed=0)
    assert _mismatches(report) == ["w[1]"]
    assert [name for name, _ in report.parameters] == ["x", "w"]
    assert any("custom_vjp scale: 1 output(s) reduced" in n for n in report.metadata.warnings)
    with pytest.raises(InvalidArgument, match="nondiff_argnums"):
        gradcheck.check(scale, x, w, 3, argnums=2)


def test_a_jitted_custom_vjp_is_recognised_as_a_rule(key: jax.Array) -> None:
    x = jax.random.normal(key, (4, 3))
    w = jax.random.normal(jax.random.fold_in(key, 1), (3,))
    jitted = jax.jit(scale, static_argnums=2)
    assert _mismatches(gradcheck.check(jitted, x, w, 3, seed=0)) == ["w[1]"]


def test_a_bwd_that_ignores_its_cotangent_is_caught_on_a_scalar_output(key: jax.Array) -> None:
    report = gradcheck.check(cube, jax.random.normal(key, (5,)), seed=0)
    assert report.counts["mismatch"] == 5


@pytest.mark.parametrize("autodiff", ["rev", "fwd"])
def test_a_custom_jvp_with_one_wrong_output_of_two_is_caught_in_both_modes(
    autodiff: str, key: jax.Array
) -> None:
    report = gradcheck.check(
        sin_and_square_sum, jax.random.normal(key, (4,)), autodiff=autodiff, seed=0
    )
    assert report.counts["mismatch"] == 4
    assert any("2 output(s) reduced" in n for n in report.metadata.warnings)


def test_forward_mode_is_refused_for_a_custom_vjp_and_grad_for_any_rule(key: jax.Array) -> None:
    x = jax.random.normal(key, (3,))
    with pytest.raises(InvalidArgument, match="autodiff='fwd' needs forward mode"):
        gradcheck.check(cube, x, autodiff="fwd")
    with pytest.raises(InvalidArgument, match="comes from its own rule"):
        gradcheck.check(cube, x, grad=lambda x: 3 * x**2)


@jax.custom_vjp
def reverse_gradient(x: jax.Array) -> jax.Array:
    return x


reverse_gradient.defvjp(lambda x: (x, None), lambda _, g: (-g,))


def test_deliberate_non_derivative_rules_are_reported_as_mismatches(key: jax.Array) -> None:
    report = gradcheck.check(reverse_gradient, jax.random.normal(key, (3,)), seed=0)
    assert report.counts["mismatch"] == 3


def test_jax_cases_in_a_model_file_run_like_any_other() -> None:
    path = Path(__file__).parents[1] / "examples" / "jax_cases.py"
    spec = importlib.util.spec_from_file_location("jax_cases", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.soft_clip.run(seed=0).ok
    straight_through = module.straight_through
    assert straight_through.expect == "mismatch"
    assert straight_through.run(seed=0).counts["mismatch"] == 12
    assert module.classifier_loss().run(seed=0).ok
