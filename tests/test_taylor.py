"""The Taylor test (taylor=True) and the self-test (self_test=True).

The Taylor residual's slope is known from calculus: 2 for a right gradient (the residual is
the quadratic term), 1 for a wrong one (the error's linear term dominates at small steps).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

import gradcheck
from gradcheck._options import ModeName

sys.path.insert(0, str(Path(__file__).parent))
from test_fast import Separable

FloatArray = NDArray[np.float64]

X = np.array([0.3, -1.2, 2.5])


def f(x: FloatArray) -> float:
    return float(np.sum(np.sin(x)) + x[0] * x[1])


def grad(x: FloatArray) -> FloatArray:
    result: FloatArray = np.cos(x) + np.array([x[1], x[0], 0.0])
    return result


def test_a_right_gradient_has_slope_two_and_a_wrong_one_slope_one() -> None:
    right = gradcheck.check(f, X, grad=grad, taylor=True, seed=0)
    assert right.metadata.taylor is not None
    assert right.metadata.taylor.verdict == "right"
    assert right.metadata.taylor.slopes[0] == pytest.approx(2.0, abs=0.1)
    assert right.ok
    wrong = gradcheck.check(f, X, grad=lambda x: grad(x) * [1, 1.001, 1], taylor=True, seed=0)
    assert wrong.metadata.taylor is not None
    assert wrong.metadata.taylor.verdict == "wrong"
    assert wrong.metadata.taylor.slopes[0] == pytest.approx(1.0, abs=0.1)
    assert "Taylor test" in wrong.headline()


def test_the_taylor_test_fails_a_gradient_within_the_tolerances() -> None:
    """Slope 1 is a wrong gradient whatever rtol allows: an error of 3e-7 relative passes
    the element-wise check (rtol 1e-6) and fails the Taylor test."""
    report = gradcheck.check(
        lambda x: float(np.sum(3 * x)), X, grad=lambda x: 3 * np.ones(3) + [0, 0, 1e-6], taylor=True
    )
    assert not np.any(report.verdicts == gradcheck.Verdict.MISMATCH)
    assert not report.ok
    assert report.metadata.taylor is not None
    assert report.metadata.taylor.verdict == "wrong"


def test_a_linear_f_leaves_nothing_above_rounding_and_is_not_failed() -> None:
    report = gradcheck.check(
        lambda x: float(np.sum(3 * x)), X, grad=lambda x: 3 * np.ones(3), taylor=True
    )
    assert report.ok
    assert report.metadata.taylor is not None
    assert report.metadata.taylor.verdict == "unresolved"


def test_slope_one_at_a_kink_the_check_found_is_the_kinks() -> None:
    report = gradcheck.check(
        lambda x: float(np.sum(np.abs(x))), np.array([0.0, 1.0]), grad=np.sign, taylor=True, seed=0
    )
    assert report.metadata.taylor is not None
    assert report.metadata.taylor.verdict == "kink"
    assert report.ok


def test_the_taylor_test_never_steps_outside_the_bounds() -> None:
    seen: list[float] = []

    def sqrt_sum(x: FloatArray) -> float:
        seen.append(float(np.min(x)))
        return float(np.sum(np.sqrt(x)))

    x = np.array([1e-3, 0.5])
    gradcheck.check(sqrt_sum, x, grad=lambda x: 0.5 / np.sqrt(x), bounds=(0.0, 1.0), taylor=True)
    assert min(seen) >= 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_right_gradients_never_get_slope_one(dtype: type) -> None:
    for seed in range(10):
        model = Separable(200, seed, dtype)
        report = gradcheck.check(model.f, model.x, grad=model.grad, taylor=True, seed=seed)
        assert report.metadata.taylor is not None
        assert report.metadata.taylor.verdict in ("right", "unresolved"), report.metadata.describe()


def test_each_output_of_a_vector_f_has_its_slope() -> None:
    def vector(x: FloatArray) -> FloatArray:
        return np.array([np.sum(x**3), np.prod(np.cos(x))])

    def jac(x: FloatArray) -> FloatArray:
        wrong = 3 * x**2
        wrong[1] += 1e-3
        return np.stack([wrong, -np.prod(np.cos(x)) * np.tan(x)])

    report = gradcheck.check(vector, X, grad=jac, taylor=True, seed=1)
    assert report.metadata.taylor is not None
    slopes = report.metadata.taylor.slopes
    assert slopes[0] == pytest.approx(1.0, abs=0.15)
    assert slopes[1] == pytest.approx(2.0, abs=0.15)


# -- the self-test ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_the_self_test_catches_twice_the_promise_at_a_random_element(mode: ModeName) -> None:
    model = Separable(300, seed=3)
    report = gradcheck.check(
        model.f,
        model.x,
        grad=model.grad,
        mode=mode,
        self_test=True,
        seed=3,
    )
    planted = report.metadata.self_test
    assert planted is not None
    assert planted.caught
    assert report.ok
    j = int(planted.element.removeprefix("x[").removesuffix("]"))
    assert planted.size == pytest.approx(2 * float(report.detectable[0, j]))
    assert "self-test" in report.metadata.describe()


def test_the_self_test_runs_the_differences_again() -> None:
    plain = gradcheck.check(f, X, grad=grad, seed=0)
    tested = gradcheck.check(f, X, grad=grad, self_test=True, seed=0)
    assert tested.metadata.function_evaluations > plain.metadata.function_evaluations + 4 * X.size
    # the check's own verdicts are untouched by the planted run
    np.testing.assert_array_equal(tested.verdicts, plain.verdicts)
    np.testing.assert_array_equal(tested.numeric, plain.numeric)
