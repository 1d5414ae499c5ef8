"""Differential tests against ``jax.test_util.check_grads`` on the same rules.

Every planted bug in a custom_vjp or custom_jvp rule that ``check_grads`` catches,
gradcheck catches too, at the wrong elements where they are known; where ``check_grads``
is wrong (a false alarm on a correct float32 rule from its fixed step 1e-4, a one-element
bug among 1,000 lost in its one random direction) gradcheck is right. Run this file as a
script to print the measured table, in float64 and float32.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradcheck
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

# -- rules, right and wrong -----------------------------------------------------------


def vjp_rule(f: Callable[..., Any], bwd: Callable[..., tuple[Any, ...]]) -> jax.custom_vjp[Any]:
    """A custom_vjp of ``f`` whose rule is ``bwd(*inputs, cotangent)``."""
    rule = jax.custom_vjp(f)
    rule.defvjp(lambda *xs: (f(*xs), xs), lambda xs, g: bwd(*xs, g))
    return rule


def jvp_rule(f: Callable[..., Any], jvp: Callable[..., Any]) -> jax.custom_jvp[Any]:
    """A custom_jvp of ``f`` whose rule is ``jvp(*primals, *tangents)``."""
    rule = jax.custom_jvp(f)
    rule.defjvp(lambda primals, tangents: (f(*primals), jvp(*primals, *tangents)))
    return rule


def _sin_cos(x: jax.Array, w: jax.Array) -> tuple[jax.Array, jax.Array]:
    return jnp.sin(x * w), jnp.sum(jnp.cos(x * w))


def _sin_cos_bwd(sign: float) -> Callable[..., tuple[jax.Array, jax.Array]]:
    def bwd(x: jax.Array, w: jax.Array, g: tuple[jax.Array, jax.Array]) -> Any:
        d = jnp.cos(x * w) * g[0] - sign * jnp.sin(x * w) * g[1]
        return d * w, d * x

    return bwd


def _tanh_and_square(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    return jnp.tanh(x), jnp.sum(x**2)


def _tanh_and_square_jvp(factor: float) -> Callable[..., tuple[jax.Array, jax.Array]]:
    return lambda x, t: ((1 - jnp.tanh(x) ** 2) * t, jnp.sum(factor * x * t))


def _softplus(x: jax.Array) -> jax.Array:
    return jnp.logaddexp(x, 0.0)


def _logsumexp(x: jax.Array) -> jax.Array:
    return jax.scipy.special.logsumexp(x)


WRONG_ELEMENT = 617


def exp_one_element_wrong(relative: float) -> jax.custom_vjp[Any]:
    """exp, its rule ``relative`` off at one element of the input."""
    return vjp_rule(
        jnp.exp, lambda x, g: ((jnp.exp(x) * g).at[WRONG_ELEMENT].multiply(1 + relative),)
    )


cube = vjp_rule(lambda x: x**3, lambda x, g: (3 * x**2 * g,))
matmul = vjp_rule(lambda a, b: a @ b, lambda a, b, g: (g @ b.T, a.T @ g))
sin_cos = vjp_rule(_sin_cos, _sin_cos_bwd(1.0))
exp = vjp_rule(jnp.exp, lambda x, g: (jnp.exp(x) * g,))
square_sum = vjp_rule(lambda x: jnp.sum(x * x), lambda x, g: (2 * x * g,))
softplus = jvp_rule(_softplus, lambda x, t: jax.nn.sigmoid(x) * t)
logsumexp = jvp_rule(_logsumexp, lambda x, t: jnp.sum(jax.nn.softmax(x) * t))
tanh_and_square = jvp_rule(_tanh_and_square, _tanh_and_square_jvp(2.0))


# -- the cases ------------------------------------------------------------------------


Inputs = Callable[[Any], tuple[jax.Array, ...]]


@dataclass(frozen=True)
class Case:
    """One rule with its inputs (made in a dtype) and what it is: correct or not."""

    name: str
    rule: Callable[..., Any]
    make_inputs: Inputs
    correct: bool
    wrong_labels: tuple[str, ...] | None = None  # exact mismatches when known


def _normal(seed: int, *shape: int, scale: float = 1.0, shift: float = 0.0) -> Inputs:
    def make(dtype: Any) -> tuple[jax.Array, ...]:
        values = np.random.default_rng(seed).standard_normal(shape) * scale + shift
        return (jnp.asarray(values, dtype=dtype),)

    return make


def _inputs(*makers: Inputs) -> Inputs:
    return lambda dtype: tuple(a for make in makers for a in make(dtype))


BUGS = [
    Case(
        "bwd ignores its cotangent",
        vjp_rule(lambda x: x**3, lambda x, g: (3 * x**2,)),
        _normal(1, 5),
        False,
    ),
    Case(
        "wrong sign (sin)", vjp_rule(jnp.sin, lambda x, g: (-jnp.cos(x) * g,)), _normal(2, 6), False
    ),
    Case(
        "missing factor 2",
        vjp_rule(lambda x: jnp.sum(x * x), lambda x, g: (x * g,)),
        _normal(3, 6),
        False,
    ),
    Case(
        "transposed matmul rule",
        vjp_rule(lambda a, b: a @ b, lambda a, b, g: (g @ b.T, a @ g)),
        _inputs(_normal(4, 3, 3), _normal(5, 3, 3)),
        False,
    ),
    Case(
        "cotangents of two inputs swapped",
        vjp_rule(lambda x, w: x * w**2, lambda x, w, g: (2 * x * w * g, w**2 * g)),
        _inputs(_normal(6, 4), _normal(7, 4)),
        False,
    ),
    Case(
        "second of two outputs wrong",
        vjp_rule(_sin_cos, _sin_cos_bwd(-1.0)),
        _inputs(_normal(8, 5), _normal(9, 5)),
        False,
    ),
    Case(
        "broadcast bias not summed",
        vjp_rule(lambda x, b: x + b, lambda x, b, g: (g, g[0])),
        _inputs(_normal(10, 4, 3), _normal(11, 3)),
        False,
        ("b[0]", "b[1]", "b[2]"),
    ),
    Case(
        "custom_jvp: wrong derivative (softplus)",
        jvp_rule(_softplus, lambda x, t: jax.nn.sigmoid(-x) * t),
        _normal(12, 6),
        False,
    ),
    Case(
        "custom_jvp: normalisation forgotten (logsumexp)",
        jvp_rule(_logsumexp, lambda x, t: jnp.sum(jnp.exp(x) * t)),
        _normal(13, 6),
        False,
    ),
    Case(
        "custom_jvp: second of two outputs wrong",
        jvp_rule(_tanh_and_square, _tanh_and_square_jvp(1.0)),
        _normal(14, 5),
        False,
    ),
    Case(
        "one wrong element among 1000 (1e-2)",
        exp_one_element_wrong(1e-2),
        _normal(15, 1000),
        False,
        (f"x[{WRONG_ELEMENT}]",),
    ),
]

MISSED_BY_CHECK_GRADS = Case(
    "one wrong element among 1000 (1e-4)",
    exp_one_element_wrong(1e-4),
    _normal(15, 1000),
    False,
    (f"x[{WRONG_ELEMENT}]",),
)

MISSED_IN_FLOAT32 = Case(
    "one wrong element among 1000 (1e-3)",
    exp_one_element_wrong(1e-3),
    _normal(15, 1000),
    False,
    (f"x[{WRONG_ELEMENT}]",),
)

CORRECT = [
    Case("cube", cube, _normal(1, 5), True),
    Case("matmul", matmul, _inputs(_normal(4, 3, 4), _normal(5, 4, 2)), True),
    Case("two outputs", sin_cos, _inputs(_normal(8, 5), _normal(9, 5)), True),
    Case("exp, 1000 elements", exp, _normal(15, 1000), True),
    Case("custom_jvp softplus", softplus, _normal(12, 6), True),
    Case("custom_jvp two outputs", tanh_and_square, _normal(14, 5), True),
]

FLOAT32_FALSE_ALARMS = [
    Case("exp, 300 elements near e^2", exp, _normal(6, 300, shift=2.0), True),
    Case("sum of squares, 300 elements near 3", square_sum, _normal(1, 300, shift=3.0), True),
]


def check_grads_passes(case: Case, inputs: tuple[jax.Array, ...]) -> bool:
    """Whether ``jax.test_util.check_grads`` with its defaults passes the rule: reverse
    mode for a custom_vjp (JAX has no forward mode for it), both modes for a custom_jvp."""
    modes = ["rev"] if isinstance(case.rule, jax.custom_vjp) else ["fwd", "rev"]
    try:
        check_grads(case.rule, inputs, order=1, modes=modes)  # type: ignore[no-untyped-call]
    except AssertionError:
        return False
    return True


def mismatches(report: gradcheck.Report) -> list[str]:
    return [e.name for e in report.elements() if str(e.verdict) == "mismatch"]


# -- the tests ------------------------------------------------------------------------


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("case", BUGS, ids=lambda c: c.name)
def test_every_bug_check_grads_catches_gradcheck_catches(case: Case) -> None:
    inputs = case.make_inputs(jnp.float64)
    assert not check_grads_passes(case, inputs)
    report = gradcheck.check(case.rule, *inputs, seed=0)
    assert not report.ok
    assert report.metadata.dtype == "float64"
    if case.wrong_labels is not None:
        assert mismatches(report) == list(case.wrong_labels)


@pytest.mark.usefixtures("x64")
def test_one_wrong_element_among_1000_is_missed_by_check_grads_and_found() -> None:
    case = MISSED_BY_CHECK_GRADS
    inputs = case.make_inputs(jnp.float64)
    assert check_grads_passes(case, inputs)  # check_grads: pass
    assert mismatches(gradcheck.check(case.rule, *inputs, seed=0)) == list(case.wrong_labels or ())


def test_a_float32_rules_one_element_bug_is_found_on_float64_copies() -> None:
    case = MISSED_IN_FLOAT32
    inputs = case.make_inputs(jnp.float32)
    assert check_grads_passes(case, inputs)  # check_grads: pass
    native = gradcheck.check(case.rule, *inputs, seed=0)
    assert native.ok  # 1e-3 is below what float32 differences resolve here: no false verdict
    assert native.element(0, WRONG_ELEMENT).detectable > 1e-3 * abs(
        native.element(0, WRONG_ELEMENT).analytic
    )
    copies = gradcheck.check(case.rule, *inputs, seed=0, x64=True)
    assert mismatches(copies) == list(case.wrong_labels or ())


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("case", CORRECT, ids=lambda c: c.name)
def test_correct_rules_pass_both(case: Case) -> None:
    inputs = case.make_inputs(jnp.float64)
    assert check_grads_passes(case, inputs)
    report = gradcheck.check(case.rule, *inputs, seed=0)
    assert report.ok, report
    assert report.counts["ok"] == report.analytic.size


@pytest.mark.parametrize("case", FLOAT32_FALSE_ALARMS, ids=lambda c: c.name)
def test_correct_float32_rule_false_alarm_in_check_grads_not_in_gradcheck(case: Case) -> None:
    inputs = case.make_inputs(jnp.float32)
    assert not check_grads_passes(case, inputs)  # a false alarm
    native = gradcheck.check(case.rule, *inputs, seed=0)
    assert native.ok, native
    assert native.metadata.dtype == "float32"
    assert native.counts["ok"] >= 0.95 * native.analytic.size  # verified, not just undecided
    copies = gradcheck.check(case.rule, *inputs, seed=0, x64=True)
    assert copies.counts["ok"] == copies.analytic.size


def main() -> None:
    """Print the measured table: check_grads and gradcheck on every case, both dtypes."""
    rows = [("case", "dtype", "truth", "check_grads", "gradcheck", "gradcheck x64=True")]
    word = {True: "pass", False: "FAIL"}
    cases = [*BUGS, MISSED_BY_CHECK_GRADS, MISSED_IN_FLOAT32, *CORRECT, *FLOAT32_FALSE_ALARMS]
    for dtype in ("float64", "float32"):
        with jax.enable_x64(dtype == "float64"):  # float32 rows: as JAX computes by default
            for case in cases:
                inputs = case.make_inputs(jnp.dtype(dtype))
                ours = gradcheck.check(case.rule, *inputs, seed=0)
                copies = gradcheck.check(case.rule, *inputs, seed=0, x64=True)
                found = mismatches(ours)
                rows.append(
                    (
                        case.name,
                        dtype,
                        "correct" if case.correct else "bug",
                        word[check_grads_passes(case, inputs)],
                        word[ours.ok]
                        + (f" ({len(found)} wrong: {', '.join(found[:3])})" if found else "")
                        + (
                            f", {ours.counts['inconclusive']} inconclusive"
                            if ours.counts["inconclusive"]
                            else ""
                        ),
                        word[copies.ok],
                    )
                )
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows[1:]:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
