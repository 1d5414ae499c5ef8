"""gradcheck.optimize.minimize with hess=, hessp= and constraints: every derivative checked."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.optimize
from numpy.typing import NDArray
from scipy.optimize import rosen, rosen_der, rosen_hess, rosen_hess_prod

import gradcheck
from gradcheck import CheckOptions, Verdict
from gradcheck import optimize as go

FloatArray = NDArray[np.float64]

X0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
SEEDED: CheckOptions = {"seed": 0}

HESS_METHODS = ["Newton-CG", "dogleg", "trust-ncg", "trust-krylov", "trust-exact", "trust-constr"]
HESSP_METHODS = ["Newton-CG", "trust-ncg", "trust-krylov", "trust-constr"]
COUNTS = ("nit", "nfev", "njev", "nhev", "constr_nfev", "constr_njev", "constr_nhev")


def same_run(plain: scipy.optimize.OptimizeResult, checked: scipy.optimize.OptimizeResult) -> None:
    """SciPy's run is unchanged by the checks: the same x and the same counts."""
    np.testing.assert_array_equal(checked.x, plain.x)
    assert [checked.get(k) for k in COUNTS] == [plain.get(k) for k in COUNTS]
    assert checked.message == plain.message


def quietly(run: Callable[[], scipy.optimize.OptimizeResult]) -> scipy.optimize.OptimizeResult:
    """SciPy's own warnings (trust-constr's 'delta_grad == 0.0') are not under test."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="scipy")
        return run()


def dropped_cross_term(x: FloatArray) -> FloatArray:
    """rosen_hess with d2f/dx2 dx3 dropped on one side."""
    H: FloatArray = rosen_hess(x)
    H[2, 3] = 0.0
    return H


def dropped_term(x: FloatArray, p: FloatArray) -> FloatArray:
    """rosen_hess_prod without the -400 x[i] p[i+1] term of each row but the last."""
    hp: FloatArray = rosen_hess_prod(x, p)
    hp[:-1] += 400 * x[:-1] * p[1:]
    return hp


def mismatches(error: go.IterateMismatch) -> list[str]:
    return [e.name for e in error.report.elements(Verdict.MISMATCH)]


# -- hess= -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", HESS_METHODS)
def test_correct_hessian_leaves_scipys_run_unchanged(method: str) -> None:
    plain = quietly(
        lambda: scipy.optimize.minimize(rosen, X0, jac=rosen_der, hess=rosen_hess, method=method)
    )
    result = quietly(
        lambda: go.minimize(
            rosen, X0, jac=rosen_der, hess=rosen_hess, method=method, check_options=SEEDED
        )
    )
    same_run(plain, result)
    checked = [p for p in result.gradcheck_reports if p.subject == "hess"]
    assert [p.evaluation for p in checked] == list(range(min(3, plain.nhev)))
    assert all(p.report.ok for p in result.gradcheck_reports)
    assert result.gradcheck_nhev == len(checked)
    jac_checks = [p for p in result.gradcheck_reports if p.subject == "jac"]
    assert result.gradcheck_njev == len(jac_checks) + sum(
        p.report.metadata.function_evaluations for p in checked
    )


@pytest.mark.parametrize("method", HESS_METHODS)
def test_wrong_hessian_is_named_at_x0_before_the_first_step(method: str) -> None:
    iterates: list[FloatArray] = []
    with pytest.raises(go.IterateMismatch) as info:
        go.minimize(
            rosen,
            X0,
            jac=rosen_der,
            hess=dropped_cross_term,
            method=method,
            callback=lambda *a: iterates.append(np.copy(a[0])),
            check_options=SEEDED,
        )
    error = info.value
    assert (error.subject, error.evaluation, iterates) == ("hess", 0, [])
    assert str(error).startswith("hess disagrees with finite differences at the start point x0")
    assert mismatches(error) == ["f[2] / x[3]"]
    assert "hess is not symmetric: H[2, 3] = 0" in str(error)


def test_hessian_with_jac_true_and_args_differences_funs_gradient() -> None:
    def value_and_grad(x: FloatArray, scale: float) -> tuple[float, FloatArray]:
        return scale * float(rosen(x)), scale * rosen_der(x)

    def hess(x: FloatArray, scale: float) -> FloatArray:
        return scale * rosen_hess(x)  # type: ignore[no-any-return]

    plain = scipy.optimize.minimize(
        value_and_grad, X0, args=(2.0,), jac=True, hess=hess, method="trust-exact"
    )
    result = go.minimize(
        value_and_grad, X0, (2.0,), jac=True, hess=hess, method="trust-exact", check_options=SEEDED
    )
    same_run(plain, result)
    assert {p.subject for p in result.gradcheck_reports} == {"jac", "hess"}
    with pytest.raises(go.IterateMismatch, match="hess disagrees"):
        go.minimize(
            value_and_grad,
            X0,
            (2.0,),
            jac=True,
            hess=lambda x, scale: rosen_hess(x),  # forgot the scale
            method="trust-exact",
            check_options=SEEDED,
        )


def test_hessian_wrong_away_from_x0_warns_at_a_later_call_and_goes_on() -> None:
    def wrong_away(x: FloatArray) -> FloatArray:
        H: FloatArray = rosen_hess(x)
        H[0, 0] += 10 * float(np.sum(np.abs(x - X0)))
        return H

    with pytest.warns(go.GradientMismatchWarning) as record:
        result = go.minimize(
            rosen,
            X0,
            jac=rosen_der,
            hess=wrong_away,
            method="trust-exact",
            on_mismatch="warn",
            check_options=SEEDED,
        )
    messages = [str(w.message).splitlines()[0] for w in record]
    assert len(messages) == 2  # calls 1 and 2; x0 agrees
    assert messages[0].startswith("hess disagrees with finite differences at call 1 of hess, x =")
    assert [p.report.ok for p in result.gradcheck_reports if p.subject == "hess"] == [
        True,
        False,
        False,
    ]


# -- hessp= ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", HESSP_METHODS)
def test_correct_hessp_is_checked_once_per_point(method: str) -> None:
    def counted(calls: list[FloatArray]) -> Callable[[FloatArray, FloatArray], FloatArray]:
        def hessp(x: FloatArray, p: FloatArray) -> FloatArray:
            calls.append(np.copy(x))
            return rosen_hess_prod(x, p)  # type: ignore[no-any-return]

        return hessp

    plain_calls: list[FloatArray] = []
    calls: list[FloatArray] = []
    plain = quietly(
        lambda: scipy.optimize.minimize(
            rosen, X0, jac=rosen_der, hessp=counted(plain_calls), method=method
        )
    )
    result = quietly(
        lambda: go.minimize(
            rosen, X0, jac=rosen_der, hessp=counted(calls), method=method, check_options=SEEDED
        )
    )
    same_run(plain, result)
    checked = [p for p in result.gradcheck_reports if p.subject == "hessp"]
    assert [p.evaluation for p in checked] == [0, 1, 2]  # points, not calls
    assert all(p.report.ok for p in checked)
    points = [x for k, x in enumerate(plain_calls) if k == 0 or (x != plain_calls[k - 1]).any()]
    for point, x in zip(checked, points[:3], strict=True):
        np.testing.assert_array_equal(point.x, x)
    # the checks' own products (4 seeded directions each) are counted, and only those
    assert result.gradcheck_nhev == 4 * len(checked) == len(calls) - len(plain_calls)


@pytest.mark.parametrize("method", HESSP_METHODS)
def test_hessp_that_drops_a_term_is_caught_at_x0(method: str) -> None:
    with pytest.raises(go.IterateMismatch) as info:
        go.minimize(
            rosen, X0, jac=rosen_der, hessp=dropped_term, method=method, check_options=SEEDED
        )
    error = info.value
    assert (error.subject, error.evaluation) == ("hessp", 0)
    assert {e.output[0] for e in error.report.elements(Verdict.MISMATCH)} == {0, 1, 2, 3}


# -- the costs the README quotes -------------------------------------------------------


def test_costs_quoted_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("What the checks cost") : readme.index("### statsmodels")]
    prose = " ".join(section.split())

    def at_x0(n: int, **options: Any) -> gradcheck.Report:
        x0 = np.resize(X0, n)
        return gradcheck.check(rosen_der, x0, seed=0, **options)

    full = [at_x0(n, hess=rosen_hess).metadata.function_evaluations for n in (2, 100, 1000)]
    assert f"at x0: {full[0]} calls of `jac` at n = 2, {full[1]} at n = 100, " in prose
    assert f"{full[2]:,} at n = 1,000" in prose
    assert all(4 * n <= calls <= 6 * n + 45 for n, calls in zip((2, 100, 1000), full, strict=True))
    fast = at_x0(1000, hess=rosen_hess, mode="fast").metadata.function_evaluations
    assert f"({fast} calls of `jac` at n = 1,000" in prose
    plain = scipy.optimize.minimize(
        rosen, np.resize(X0, 1000), jac=rosen_der, hess=rosen_hess, method="Newton-CG"
    )
    assert f"makes {plain.njev + plain.nhev} calls of `jac` and `hess`" in prose
    for n in (2, 1000):
        products = at_x0(n, hessp=rosen_hess_prod)
        assert f"takes {products.metadata.function_evaluations} calls of `jac` and 4 of" in prose
