"""Functions of pytrees: gradients from jax.grad or the user's, names from paths."""

from __future__ import annotations

import re
from typing import NamedTuple

import gradcheck
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import InvalidArgument, ModelError


class Layer(NamedTuple):
    w: jax.Array
    b: jax.Array


def _mismatches(report: gradcheck.Report) -> list[str]:
    return [e.name for e in report.elements() if str(e.verdict) == "mismatch"]


def _mlp(params: dict[str, Layer], x: jax.Array) -> jax.Array:
    h = jnp.tanh(x @ params["hidden"].w + params["hidden"].b)
    return jnp.mean((h @ params["out"].w + params["out"].b) ** 2)


def _params(key: jax.Array) -> dict[str, Layer]:
    k1, k2 = jax.random.split(key)
    return {
        "hidden": Layer(jax.random.normal(k1, (3, 4)), jnp.zeros(4)),
        "out": Layer(jax.random.normal(k2, (4,)), jnp.zeros(())),
    }


def test_function_of_a_pytree_is_checked_against_jax_grad_named_by_path(key: jax.Array) -> None:
    x = jax.random.normal(jax.random.fold_in(key, 1), (6, 3))
    report = gradcheck.check(_mlp, _params(key), x, seed=0)
    assert report.ok, report
    assert report.metadata.backend == "jax"
    assert [name for name, _ in report.parameters] == [
        "params['hidden'].w",
        "params['hidden'].b",
        "params['out'].w",
        "params['out'].b",
    ]
    assert report.labels[5] == "params['hidden'].w[1, 1]"
    assert report.labels[-1] == "params['out'].b"


def test_data_arguments_and_integer_leaves_are_held_fixed(key: jax.Array) -> None:
    def loss(params: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
        logits = x @ params["w"]
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(4), y]) * params["steps"]

    params = {"w": jax.random.normal(key, (3, 2)), "steps": jnp.array(2)}
    x, y = jax.random.normal(key, (4, 3)), jnp.array([0, 1, 1, 0])
    report = gradcheck.check(loss, params, x, y, seed=0)
    assert report.ok, report
    assert [name for name, _ in report.parameters] == ["params['w']"]


def test_argnums_chooses_the_differentiated_arguments_as_jax_grad_does(key: jax.Array) -> None:
    def f(a: jax.Array, scale: float, b: jax.Array) -> jax.Array:
        return jnp.sum(jnp.sin(a * b)) * scale

    a, b = jax.random.normal(key, (3,)), jax.random.normal(jax.random.fold_in(key, 1), (3,))
    report = gradcheck.check(f, a, 2.0, b, argnums=(0, 2), seed=0)
    assert report.ok, report
    assert [name for name, _ in report.parameters] == ["a", "b"]
    with pytest.raises(InvalidArgument, match=r"argnums=3: f was given 3 argument\(s\)"):
        gradcheck.check(f, a, 2.0, b, argnums=3)


def test_a_wrong_hand_written_gradient_is_located_in_its_pytree(key: jax.Array) -> None:
    def loss(p: dict[str, jax.Array]) -> jax.Array:
        return jnp.sum(p["w"] ** 3) + jnp.sum(jnp.exp(p["b"]))

    def grad(p: dict[str, jax.Array]) -> dict[str, jax.Array]:
        return {"w": 3 * p["w"] ** 2, "b": jnp.exp(p["b"]).at[1].set(0.0)}

    params = {"w": jax.random.normal(key, (2, 2)), "b": jnp.array([0.5, -0.2, 0.1])}
    assert _mismatches(gradcheck.check(loss, params, grad=grad, seed=0)) == ["p['b'][1]"]
    report = gradcheck.check(loss, params, value_and_grad=jax.value_and_grad(loss), seed=0)
    assert report.ok, report


def test_a_gradient_of_the_wrong_structure_is_refused_naming_both(key: jax.Array) -> None:
    params = {"w": jax.random.normal(key, (2,))}
    with pytest.raises(ModelError, match=r"grad returned a gradient of structure .* expected"):
        gradcheck.check(lambda p: jnp.sum(p["w"] ** 2), params, grad=lambda p: [2 * p["w"]])


def test_non_scalar_output_is_checked_through_weighted_outputs(key: jax.Array) -> None:
    x = jax.random.normal(key, (4,))
    report = gradcheck.check(lambda x: (jnp.tanh(x), jnp.sum(x**2)), x, seed=0)
    assert report.ok, report
    assert any("2 output(s) reduced" in n for n in report.metadata.warnings)
    with pytest.raises(ModelError, match="more than one number"):
        gradcheck.check(lambda x: jnp.tanh(x), x, grad=lambda x: 1 - jnp.tanh(x) ** 2)


def test_batched_and_one_at_a_time_evaluation_give_the_same_verdicts(key: jax.Array) -> None:
    def loss(w: jax.Array) -> jax.Array:
        return jnp.sum(jnp.cos(w) * w)

    def wrong(w: jax.Array) -> jax.Array:
        return (jnp.cos(w) - w * jnp.sin(w)).at[3].multiply(1.01)

    w = jax.random.normal(key, (8,))
    runs = [gradcheck.check(loss, w, grad=wrong, seed=0, batch=b) for b in (True, 3, False)]
    assert [_mismatches(r) for r in runs] == [["w[3]"]] * 3
    assert not any("one at a time" in n for r in runs for n in r.metadata.warnings)


def test_a_function_jit_cannot_trace_is_evaluated_without_jit() -> None:
    def f(x: jax.Array) -> jax.Array:
        return x[0] ** 2 if float(x[1]) > 0 else x[0]  # Python control flow on a value

    report = gradcheck.check(
        f, jnp.array([1.5, 2.0]), grad=lambda x: jnp.array([2 * x[0], 0.0]), seed=0
    )
    assert report.ok, report
    assert any("without jax.jit" in n for n in report.metadata.warnings)


def test_a_jitted_function_of_numpy_arrays_is_taken_by_the_jax_backend() -> None:
    report = gradcheck.check(jax.jit(lambda x: jnp.sum(jnp.sinh(x))), np.linspace(-1, 1, 4))
    assert report.ok, report
    assert report.metadata.backend == "jax"


def test_compile_time_is_reported_apart(key: jax.Array) -> None:
    report = gradcheck.check(lambda x: jnp.sum(x**4), jax.random.normal(key, (5,)), seed=0)
    (note,) = [n for n in report.metadata.warnings if "compile time" in n]
    assert re.fullmatch(
        r"jax.jit compile time \S+ s, part of the check's time "
        r"\(f \S+ s, the gradient \S+ s, vmap\(f\) \S+ s\)",
        note,
    )


def test_the_users_numpy_arrays_are_bit_identical_after_a_check() -> None:
    params = {"w": np.array([0.5, -0.0, np.pi]), "n": np.array([3])}
    before = {k: v.tobytes() for k, v in params.items()}
    gradcheck.check(jax.jit(lambda p: jnp.sum(jnp.sin(p["w"]) * p["n"])), params, seed=0)
    assert {k: v.tobytes() for k, v in params.items()} == before


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"argnums": "0"}, "argnums='0': expected an int or a non-empty tuple"),
        ({"x64": 1}, "x64=1: expected None"),
        ({"batch": 0}, "batch=0: expected True"),
        ({"autodiff": "forward"}, "autodiff='forward': expected 'rev'"),
        ({"no_such_option": 1}, "no_such_option"),
    ],
)
def test_bad_options_are_refused_with_what_is_expected(
    option: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        gradcheck.check(lambda x: jnp.sum(x**2), jnp.ones(2), **option)  # type: ignore[arg-type]


def test_forward_mode_with_a_hand_written_gradient_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="autodiff='fwd' chooses how JAX computes"):
        gradcheck.check(lambda x: jnp.sum(x**2), jnp.ones(2), grad=lambda x: 2 * x, autodiff="fwd")


def test_objects_of_other_backends_pass_by_without_a_warning_from_jax() -> None:
    jnp.ones(1).block_until_ready()  # JAX loaded and computing: its backend is asked first
    with pytest.raises(InvalidArgument, match="generator"):  # the core's refusal, unchanged
        gradcheck.check(lambda p: 0.0, (v for v in [1.0]), grad=lambda p: 0.0)


def test_arguments_without_floating_leaves_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="hold no floating arrays"):
        gradcheck.check(lambda n: jnp.sum(n), jnp.arange(3))


def test_bfloat16_and_complex_leaves_are_refused_with_the_fix() -> None:
    with pytest.raises(InvalidArgument, match=r"bfloat16.*astype\(jnp.float32\)"):
        gradcheck.check(lambda x: jnp.sum(x), jnp.ones(2, dtype=jnp.bfloat16))
    with pytest.raises(InvalidArgument, match="real and imaginary parts"):
        gradcheck.check(lambda x: jnp.sum(jnp.abs(x)), jnp.ones(2, dtype=jnp.complex64))
