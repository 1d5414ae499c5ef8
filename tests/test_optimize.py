"""gradcheck.optimize: checked SciPy runs, as a SciPy user sees them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.optimize
from numpy.typing import NDArray
from scipy.optimize import least_squares, root, rosen, rosen_der

import gradcheck
from gradcheck import CheckOptions
from gradcheck import optimize as go

FloatArray = NDArray[np.float64]

X0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
SEEDED: CheckOptions = {"seed": 0}


def rosen_value_and_grad(x: FloatArray) -> tuple[float, FloatArray]:
    return float(rosen(x)), rosen_der(x)


def halved_last(x: FloatArray) -> FloatArray:
    """rosen_der with its last element halved: wrong everywhere."""
    g: FloatArray = rosen_der(x)
    g[-1] *= 0.5
    return g


def wrong_away_from(start: FloatArray) -> Any:
    """A gradient right at ``start``, wrong by ``x - start`` elsewhere (so at the minimum)."""

    def grad(x: FloatArray) -> FloatArray:
        g: FloatArray = rosen_der(x)
        return g + (x - start)

    return grad


# -- minimize: agreement with plain SciPy ----------------------------------------------


@pytest.mark.parametrize("method", ["BFGS", "L-BFGS-B", "CG"])
def test_correct_jac_gives_scipys_own_result(method: str) -> None:
    plain = scipy.optimize.minimize(rosen, X0, jac=rosen_der, method=method)
    result = go.minimize(rosen, X0, jac=rosen_der, method=method, check_options=SEEDED)
    # the checks call fun and jac only outside SciPy's run: the runs are the same
    np.testing.assert_array_equal(result.x, plain.x)
    assert (result.fun, result.nit, result.nfev, result.njev) == (
        plain.fun,
        plain.nit,
        plain.nfev,
        plain.njev,
    )
    assert result.success
    assert result.message == plain.message


def test_result_carries_the_reports_and_their_cost() -> None:
    result = go.minimize(rosen, X0, jac=rosen_der, method="BFGS", check_options=SEEDED)
    assert isinstance(result, scipy.optimize.OptimizeResult)
    points = result.gradcheck_reports
    assert [p.evaluation for p in points] == [0, 1, 2]
    np.testing.assert_array_equal(points[0].x, X0)
    assert all(isinstance(p.report, gradcheck.Report) and p.report.ok for p in points)
    assert result.gradcheck_nfev == sum(p.report.metadata.function_evaluations for p in points)
    assert result.gradcheck_njev == len(points)
    assert "gradcheck OK" in repr(points[0])


def test_users_x0_is_left_alone() -> None:
    x0 = X0.copy()
    before = x0.tobytes()
    go.minimize(rosen, x0, jac=rosen_der, method="L-BFGS-B", check_options=SEEDED)
    assert x0.tobytes() == before


def test_jac_returns_exactly_what_the_users_jac_returns() -> None:
    returned: list[FloatArray] = []

    def jac(x: FloatArray) -> FloatArray:
        returned.append(rosen_der(x))
        return returned[-1]

    wrapped = go.checked(rosen, jac, **SEEDED)
    assert wrapped(X0) is returned[0]  # not a copy, not a conversion


# -- minimize: wrong gradients ---------------------------------------------------------


def test_wrong_jac_raises_at_x0_naming_the_element() -> None:
    with pytest.raises(go.IterateMismatch) as info:
        go.minimize(rosen, X0, jac=halved_last, check_options=SEEDED)
    error = info.value
    assert isinstance(error, gradcheck.GradientMismatch)
    assert isinstance(error, AssertionError)
    assert error.evaluation == 0
    np.testing.assert_array_equal(error.x, X0)
    message = str(error)
    assert message.startswith("jac disagrees with finite differences at the start point x0 = ")
    assert "1 / 5 elements disagree" in message
    wrong = [e.name for e in error.report.elements(gradcheck.Verdict.MISMATCH)]
    assert wrong == ["x[4]"]
    assert any(line.split()[:1] == ["x[4]"] and "mismatch" in line for line in message.splitlines())


def test_wrong_jac_stops_before_the_optimisation() -> None:
    calls = []

    def counted(x: FloatArray) -> float:
        calls.append(1)
        return float(rosen(x))

    with pytest.raises(go.IterateMismatch) as info:
        go.minimize(counted, X0, jac=halved_last, method="BFGS", check_options=SEEDED)
    # SciPy's own f(x0), then only the evaluations of the check: no iteration was made
    assert len(calls) == 1 + info.value.report.metadata.function_evaluations


def test_jac_wrong_only_away_from_x0_is_caught_at_a_later_call() -> None:
    with pytest.raises(go.IterateMismatch) as info:
        go.minimize(rosen, X0, jac=wrong_away_from(X0), method="BFGS", check_options=SEEDED)
    assert info.value.evaluation == 1
    assert "at call 1 of jac, x = [" in str(info.value)


def test_start_only_schedule_misses_a_jac_wrong_away_from_x0() -> None:
    result = go.minimize(
        rosen, X0, jac=wrong_away_from(X0), method="BFGS", check="start", check_options=SEEDED
    )
    assert [p.evaluation for p in result.gradcheck_reports] == [0]


def test_warn_mode_warns_and_goes_on() -> None:
    plain = scipy.optimize.minimize(rosen, X0, jac=halved_last, method="BFGS")
    with pytest.warns(go.GradientMismatchWarning) as record:
        result = go.minimize(
            rosen, X0, jac=halved_last, method="BFGS", on_mismatch="warn", check_options=SEEDED
        )
    messages = [str(w.message) for w in record]
    assert len(messages) == 3  # one per checked call
    assert "at the start point" in messages[0]
    assert "at call 2 of jac" in messages[2]
    assert [p.report.ok for p in result.gradcheck_reports] == [False, False, False]
    np.testing.assert_array_equal(result.x, plain.x)


# -- schedules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        ("start", [0]),
        (2, [0, 1]),
        (go.Schedule(first=1, every=4), [0, 4, 8]),
        (go.Schedule(first=1, every=4, budget=2), [0, 4]),
    ],
)
def test_schedule_picks_the_calls_to_check(check: Any, expected: list[int]) -> None:
    wrapped = go.checked(rosen, rosen_der, check=check, **SEEDED)
    for k in range(10):
        wrapped(X0 + 0.01 * k)
    assert [p.evaluation for p in wrapped.reports] == expected
    assert wrapped.calls == 10


@pytest.mark.parametrize("check", ["always", -1, 1.5, True])
def test_bad_schedule_is_refused_with_the_choices(check: Any) -> None:
    with pytest.raises(gradcheck.InvalidArgument, match=r"check=.*expected 'start'"):
        go.minimize(rosen, X0, jac=rosen_der, check=check)


# -- args, jac=True, bounds ------------------------------------------------------------


def shifted(x: FloatArray, c: FloatArray, scale: float) -> float:
    return float(scale * np.sum((x - c) ** 2) + np.sum(x**4))


def shifted_grad(x: FloatArray, c: FloatArray, scale: float) -> FloatArray:
    return 2 * scale * (x - c) + 4 * x**3


def test_args_reach_fun_and_jac_in_the_checks_too() -> None:
    args = (np.array([1.0, -2.0, 0.5]), 3.0)
    plain = scipy.optimize.minimize(shifted, np.zeros(3), args=args, jac=shifted_grad)
    result = go.minimize(shifted, np.zeros(3), args, jac=shifted_grad, check_options=SEEDED)
    np.testing.assert_array_equal(result.x, plain.x)
    assert all(p.report.ok for p in result.gradcheck_reports)

    def forgot_scale(x: FloatArray, c: FloatArray, scale: float) -> FloatArray:
        return 2 * (x - c) + 4 * x**3

    with pytest.raises(go.IterateMismatch, match="3 / 3 elements disagree"):
        go.minimize(shifted, np.zeros(3), args, jac=forgot_scale, check_options=SEEDED)


def test_jac_true_checks_the_gradient_fun_returns() -> None:
    plain = scipy.optimize.minimize(rosen_value_and_grad, X0, jac=True, method="BFGS")
    result = go.minimize(rosen_value_and_grad, X0, jac=True, method="BFGS", check_options=SEEDED)
    np.testing.assert_array_equal(result.x, plain.x)
    assert len(result.gradcheck_reports) == 3

    def wrong(x: FloatArray) -> tuple[float, FloatArray]:
        return float(rosen(x)), halved_last(x)

    with pytest.raises(go.IterateMismatch, match=r"x0 = \[1.3, 0.7, 0.8, 1.9, 1.2\]"):
        go.minimize(wrong, X0, jac=True, check_options=SEEDED)


def domain_limited(x: FloatArray, c: FloatArray) -> float:
    """Smooth, but (like a log or a sqrt) undefined below 0: it raises there."""
    if np.any(x < 0):
        raise ValueError(f"domain_limited evaluated outside its domain at {x}")
    return float(np.sum((x - c) ** 2) + np.sum(x**3))


def domain_limited_grad(x: FloatArray, c: FloatArray) -> FloatArray:
    return 2 * (x - c) + 3 * x**2


def test_checks_never_step_outside_the_bounds() -> None:
    c = np.array([-1.0, 3.0])  # the minimum lies on the bound x[0] = 0
    result = go.minimize(
        domain_limited,
        np.array([1.0, 2.0]),
        (c,),
        jac=domain_limited_grad,
        method="L-BFGS-B",
        bounds=[(0.0, None), (0.0, 10.0)],
        check=50,
        check_options=SEEDED,
    )
    assert result.success
    assert result.x[0] == 0.0
    at_bound = [p for p in result.gradcheck_reports if p.x[0] == 0.0]
    assert at_bound, "the run never reached the bound"
    assert all(p.report.ok for p in result.gradcheck_reports)


def test_wrong_jac_at_a_bound_is_caught_with_bounds_object() -> None:
    def wrong(x: FloatArray, c: FloatArray) -> FloatArray:
        return domain_limited_grad(x, c) * np.array([0.5, 1.0], dtype=np.float64)

    with pytest.raises(go.IterateMismatch) as info:
        go.minimize(
            domain_limited,
            np.array([0.0, 2.0]),
            (np.array([-1.0, 3.0]),),
            jac=wrong,
            bounds=scipy.optimize.Bounds([0.0, 0.0], [np.inf, 10.0]),
            check_options=SEEDED,
        )
    assert [e.name for e in info.value.report.elements(gradcheck.Verdict.MISMATCH)] == ["x[0]"]


# -- checked(): least_squares and root -------------------------------------------------


def residuals(x: FloatArray) -> FloatArray:
    return np.array([x[0] - 1.0, 10.0 * (x[1] - x[0] ** 2), x[0] * x[1]])


def residuals_jac(x: FloatArray) -> FloatArray:
    return np.array([[1.0, 0.0], [-20.0 * x[0], 10.0], [x[1], x[0]]])


def test_least_squares_jacobian_is_checked_element_wise() -> None:
    start = np.array([-1.2, 1.0])
    plain = least_squares(residuals, start, jac=residuals_jac)
    jac = go.checked(residuals, residuals_jac, **SEEDED)
    result = least_squares(residuals, start, jac=jac)
    np.testing.assert_array_equal(result.x, plain.x)
    assert len(jac.reports) == 3
    assert jac.reports[0].report.analytic.shape == (3, 2)

    def slipped(x: FloatArray) -> FloatArray:
        J = residuals_jac(x)
        J[2, 1] = x[1]  # d(x0 x1)/dx1 written as x1
        return J

    with pytest.raises(go.IterateMismatch) as info:
        least_squares(residuals, start, jac=go.checked(residuals, slipped, **SEEDED))
    wrong = [e.name for e in info.value.report.elements(gradcheck.Verdict.MISMATCH)]
    assert wrong == ["f[2] / x[1]"]


def test_root_with_a_checked_jacobian() -> None:
    def F(x: FloatArray) -> FloatArray:
        return np.array([x[0] + 0.5 * (x[0] - x[1]) ** 3 - 1.0, 0.5 * (x[1] - x[0]) ** 3 + x[1]])

    def J(x: FloatArray) -> FloatArray:
        d = 1.5 * (x[0] - x[1]) ** 2
        return np.array([[1 + d, -d], [-d, 1 + d]])

    jac = go.checked(F, J, **SEEDED)
    solution = root(F, [0.0, 0.0], jac=jac, method="hybr")
    assert solution.success
    np.testing.assert_array_equal(solution.x, root(F, [0.0, 0.0], jac=J, method="hybr").x)
    assert jac.reports
    assert all(p.report.ok for p in jac.reports)


# -- bad inputs ------------------------------------------------------------------------


@pytest.mark.parametrize("jac", [None, "2-point", "3-point", False])
def test_jac_computed_by_scipy_is_refused_as_nothing_to_check(jac: Any) -> None:
    with pytest.raises(gradcheck.InvalidArgument, match="nothing to check"):
        go.minimize(rosen, X0, jac=jac)


def test_non_callable_jac_is_refused() -> None:
    with pytest.raises(gradcheck.InvalidArgument, match=r"jac= must be a function.*got ndarray"):
        go.minimize(rosen, X0, jac=rosen_der(X0))
    with pytest.raises(TypeError, match="fun= must be a function"):
        go.checked(42, rosen_der)  # type: ignore[arg-type]


def test_wrong_shape_jac_is_reported_at_x0() -> None:
    with pytest.raises(gradcheck.ModelError, match=r"at the start point x0 = .*shape \(4,\)"):
        go.minimize(rosen, X0, jac=lambda x: rosen_der(x)[:4])


def test_nan_in_jac_is_a_mismatch_showing_nan() -> None:
    def nan_at_2(x: FloatArray) -> FloatArray:
        g: FloatArray = rosen_der(x)
        g[2] = np.nan
        return g

    with pytest.raises(go.IterateMismatch) as info:
        go.minimize(rosen, X0, jac=nan_at_2, check_options=SEEDED)
    [row] = [e for e in info.value.report.elements(gradcheck.Verdict.MISMATCH)]
    assert row.name == "x[2]"
    assert np.isnan(row.analytic)


def test_nan_objective_at_x0_is_reported_before_scipy_runs() -> None:
    with pytest.raises(gradcheck.ModelError, match=r"at the start point.*f is nan"):
        go.minimize(lambda x: np.nan, X0, jac=rosen_der)


def test_unknown_check_option_is_named() -> None:
    with pytest.raises(gradcheck.InvalidArgument, match=r"unknown option 'tolerance'.*rtol"):
        go.minimize(
            rosen,
            X0,
            jac=rosen_der,
            check_options={"tolerance": 1e-3},  # type: ignore[arg-type]
        )


def test_a_bad_check_option_is_refused_before_scipy_runs() -> None:
    with pytest.raises(gradcheck.InvalidArgument, match=r"rtol=-1\.0: expected a finite number"):
        go.checked(rosen, rosen_der, rtol=-1.0)
    with pytest.raises(gradcheck.InvalidArgument, match="pass the bounds to minimize itself"):
        go.minimize(rosen, X0, jac=rosen_der, check_options={"bounds": (0.0, 2.0)})


def test_bad_on_mismatch_is_refused() -> None:
    with pytest.raises(gradcheck.InvalidArgument, match="expected 'raise' or 'warn'"):
        go.minimize(rosen, X0, jac=rosen_der, on_mismatch="ignore")  # type: ignore[arg-type]


def test_a_failed_check_at_a_later_point_warns_and_the_run_goes_on() -> None:
    # SciPy may try a point where f is undefined and back off; that must not end the run
    def flaky_jac(x: FloatArray) -> FloatArray:
        g: FloatArray = rosen_der(x)
        return g if np.array_equal(x, X0) else g[:3]

    wrapped = go.checked(rosen, flaky_jac, **SEEDED)
    wrapped(X0)
    with pytest.warns(go.GradcheckWarning, match="jac not checked at call 1 of jac"):
        out = wrapped(X0 + 0.1)
    assert out.shape == (3,)


# -- cross_check -----------------------------------------------------------------------


def test_cross_check_agrees_for_a_correct_gradient() -> None:
    result = go.cross_check(rosen, X0, rosen_der, method="BFGS")
    assert result.agree
    assert result.ok
    text = str(result)
    assert text.startswith("cross-check OK")
    for row in ("success", "objective", "iterations", "evaluations of f", "x"):
        assert f"\n  {row} " in text


def test_cross_check_disagrees_for_a_gradient_a_point_check_missed() -> None:
    # right at x0 (a point-wise check there is lucky) but wrong elsewhere
    result = go.cross_check(rosen, X0, wrong_away_from(X0), method="L-BFGS-B")
    assert not result.agree
    assert str(result).startswith("cross-check FAILED")


def test_cross_check_with_jac_true_and_least_squares() -> None:
    assert go.cross_check(rosen_value_and_grad, X0, True, method="BFGS").agree
    start = np.array([-1.2, 1.0])
    assert go.cross_check(residuals, start, residuals_jac, solver="least_squares").agree


def test_cross_check_case_picks_the_solver_from_f() -> None:
    scalar = gradcheck.Case(rosen, X0, grad=rosen_der)
    assert go.cross_check_case(scalar, method="BFGS").solver == "minimize"
    vector = gradcheck.Case(residuals, np.array([-1.2, 1.0]), grad=residuals_jac)
    result = go.cross_check_case(vector)
    assert result.solver == "least_squares"
    assert result.agree


def test_cross_check_case_refuses_what_scipy_cannot_take() -> None:
    case = gradcheck.Case(lambda p: p["w"] ** 2, {"w": 1.0}, grad=lambda p: {"w": 2 * p["w"]})
    with pytest.raises(gradcheck.InvalidArgument, match="needs one array of numbers"):
        go.cross_check_case(case)


# -- the example -----------------------------------------------------------------------


def load_example() -> Any:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "examples" / "and_gate_minimize.py"
    spec = importlib.util.spec_from_file_location("and_gate_minimize", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_and_gate_example_trains_and_stops_the_mistake_at_the_start() -> None:
    example = load_example()
    result = go.minimize(example.loss, example.START, jac=example.backprop, check_options=SEEDED)
    assert result.success
    outputs = example.sigmoid(example.X @ result.x[:2] + result.x[2])
    np.testing.assert_array_equal(outputs.round(), example.Y)
    with pytest.raises(go.IterateMismatch) as info:
        go.minimize(example.loss, example.START, jac=example.mistaken_backprop)
    assert info.value.evaluation == 0
    wrong = [e.name for e in info.value.report.elements(gradcheck.Verdict.MISMATCH)]
    assert wrong == ["params[2]"]  # b, named after loss(params)


def test_scipy_reference_method_can_do_the_checks() -> None:
    options: CheckOptions = {"method": "scipy", "seed": 0}
    result = go.minimize(rosen, X0, jac=rosen_der, check="start", check_options=options)
    [point] = result.gradcheck_reports
    assert point.report.metadata.method == "scipy"
    assert point.report.ok
    with pytest.raises(go.IterateMismatch, match="1 / 5 elements disagree"):
        go.minimize(rosen, X0, jac=halved_last, check_options=options)
