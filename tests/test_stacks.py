"""A vectorised f (vectorized=True): the same verdicts and numbers, far fewer calls of f.

The model has every feature whose searches run in lockstep on the batched seam: smooth
elements, a kink (|x0| at 0), a domain edge inside the step (log of 1e-7), a bound, a
second output, and a planted error at one element.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray

import gradcheck
from gradcheck import ModelError, Verdict
from gradcheck._stacks import stacked_rows

FloatArray = NDArray[np.float64]

WEIGHTS = np.linspace(0.5, 2.0, 10)
START = np.array([0.0, 1e-7, 0.3, -0.7, 1.1, 0.4, -1.3, 0.9, 2.0, -0.2])


def model(x: FloatArray) -> FloatArray:
    """Two outputs per point; x is one point (10,) or a stack (k, 10)."""
    with np.errstate(invalid="ignore", divide="ignore"):  # log beyond its edge: NaN
        smooth = np.sum(np.sin(x) * WEIGHTS, axis=-1) + np.abs(x[..., 0]) + np.log(x[..., 1])
    return np.stack([smooth, np.sum(x**2, axis=-1)], axis=-1)


def jacobian(x: FloatArray, planted: float = 0.0) -> FloatArray:
    first = np.cos(x) * WEIGHTS
    first[0] += np.sign(x[0])
    first[1] += 1 / x[1]
    first[5] += planted
    return np.stack([first, 2 * x])


def _counted(
    f: Callable[[FloatArray], FloatArray],
) -> tuple[Callable[[FloatArray], FloatArray], list[int]]:
    calls = [0]

    def counted(x: FloatArray) -> FloatArray:
        calls[0] += 1
        return f(x)

    return counted, calls


@pytest.mark.parametrize("planted", [0.0, 1e-3])
def test_a_vectorised_f_gets_the_verdicts_and_numbers_of_one_point_at_a_time(
    planted: float,
) -> None:
    options: gradcheck.CheckOptions = {"seed": 5, "bounds": (-np.inf, [np.inf] * 9 + [-0.2])}
    serial, serial_calls = _counted(model)
    stacked, stacked_calls = _counted(model)
    one = gradcheck.check(serial, START, grad=lambda x: jacobian(x, planted), **options)
    on_stacks: gradcheck.CheckOptions = {**options, "vectorized": True}
    many = gradcheck.check(stacked, START, grad=lambda x: jacobian(x, planted), **on_stacks)
    assert np.array_equal(one.verdicts, many.verdicts)
    for field in ("numeric", "error", "tolerance"):
        assert np.array_equal(getattr(one, field), getattr(many, field), equal_nan=True), field
    assert one.metadata.function_evaluations == many.metadata.function_evaluations
    assert {Verdict.KINK, Verdict.OK} <= set(one.verdicts.ravel().tolist())
    assert (one.verdicts[0, 5] == Verdict.MISMATCH) == (planted > 0)
    # the same evaluations, in few calls: every round of the searches is one stack
    assert serial_calls[0] == one.metadata.function_evaluations
    assert stacked_calls[0] < serial_calls[0] / 4


def test_float32_parameters_are_stacked_in_their_own_dtype() -> None:
    x = np.array([0.5, -1.5, 3.0, 0.25], dtype=np.float32)
    seen: list[np.dtype[np.generic]] = []

    def f(stack: FloatArray) -> FloatArray:
        seen.append(stack.dtype)
        values: FloatArray = np.sum(np.tanh(stack) * stack, axis=-1)
        return values

    def grad(v: FloatArray) -> FloatArray:
        slope: FloatArray = np.tanh(v) + v * (1 - np.tanh(v) ** 2)
        return slope

    one = gradcheck.check(lambda v: float(f(v[None])[0]), x, grad=grad, seed=7)
    many = gradcheck.check(f, x, grad=grad, seed=7, vectorized=True)
    assert set(seen) == {np.dtype(np.float32)}
    assert np.array_equal(one.numeric, many.numeric)
    assert one.ok
    assert many.ok


def test_a_stack_is_cache_sized_and_never_the_whole_sweep() -> None:
    shapes: list[tuple[int, ...]] = []
    n = 2000

    def f(stack: FloatArray) -> FloatArray:
        shapes.append(stack.shape)
        values: FloatArray = np.sum(stack**2, axis=-1)
        return values

    gradcheck.check(f, np.linspace(-1, 1, n), grad=lambda v: 2 * v, seed=0, vectorized=True)
    assert max(rows for rows, _ in shapes) == stacked_rows(n) < n


def test_f_raising_at_one_point_of_a_stack_names_that_point() -> None:
    def f(stack: FloatArray) -> FloatArray:
        if np.any(stack[:, 2] > 0.3 + 1e-3):
            raise ValueError("the solver diverged")
        values: FloatArray = np.sum(stack**2, axis=-1)
        return values

    x = np.array([0.1, 0.2, 0.3])
    with pytest.raises(
        ModelError, match=r"ValueError with stack\[2\] = 0\.31: the solver diverged"
    ):
        gradcheck.check(f, x, grad=lambda v: 2 * v, seed=0, step=1e-2, vectorized=True)


def test_an_f_that_does_not_take_stacks_is_told_what_it_receives() -> None:
    with pytest.raises(ModelError, match=r"shape \(\) for a stack of 1 point.*\(1, \.\.\.\)"):
        gradcheck.check(
            lambda v: float(np.sum(v**2)), np.ones(3), grad=lambda v: 2 * v, vectorized=True
        )


def test_vectorized_needs_the_parameters_as_one_array() -> None:
    with pytest.raises(gradcheck.InvalidArgument, match="as one array"):
        gradcheck.check(
            lambda p: float(p["w"] @ p["w"]),
            {"w": np.ones(2)},
            grad=lambda p: {"w": 2 * p["w"]},
            vectorized=True,
        )
