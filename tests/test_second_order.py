"""check(grad, x, hess=H) and check(grad, x, hessp=Hp): second derivatives as first ones."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.optimize import rosen, rosen_der, rosen_hess, rosen_hess_prod
from scipy.sparse.linalg import aslinearoperator
from typer.testing import CliRunner

import gradcheck
from gradcheck import Verdict
from gradcheck.cli import app

FloatArray = NDArray[np.float64]

X0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])


def mismatches(report: gradcheck.Report) -> list[str]:
    return [e.name for e in report.elements(Verdict.MISMATCH)]


# -- hess= -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 5, 30])
def test_rosenbrock_hessian_agrees_element_by_element(n: int) -> None:
    x = np.linspace(-1.2, 1.5, n)
    report = gradcheck.check(rosen_der, x, hess=rosen_hess, seed=0)
    assert report.ok, report
    assert report.analytic.shape == (n, n)
    np.testing.assert_array_equal(report.analytic, rosen_hess(x))
    assert report.metadata.gradient_evaluations == 1  # hess, once
    assert not report.metadata.warnings  # symmetric: nothing to note


def test_wrong_hessian_element_is_named_with_its_asymmetry() -> None:
    def planted(x: FloatArray) -> FloatArray:
        H: FloatArray = rosen_hess(x)
        H[2, 3] = 0.0  # a cross term dropped on one side only
        return H

    report = gradcheck.check(rosen_der, X0, hess=planted, seed=0)
    assert mismatches(report) == ["f[2] / x[3]"]
    [note] = report.metadata.warnings
    assert note.startswith("hess is not symmetric: H[2, 3] = 0 but H[3, 2] = -320")
    assert "(1 of 10 pairs differ)" in note


def test_symmetric_but_wrong_hessian_is_named_at_both_elements() -> None:
    def doubled_cross(x: FloatArray) -> FloatArray:
        H: FloatArray = rosen_hess(x)
        H[0, 1] *= 2.0
        H[1, 0] *= 2.0
        return H

    report = gradcheck.check(rosen_der, X0, hess=doubled_cross, seed=0)
    assert mismatches(report) == ["f[0] / x[1]", "f[1] / x[0]"]
    assert not report.metadata.warnings


def test_hessian_of_a_matrix_parameter_may_be_flat_or_shaped() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 4))
    a = a @ a.T

    def grad(w: FloatArray) -> FloatArray:
        out: FloatArray = (a @ w.reshape(-1)).reshape(2, 2) + np.cos(w)
        return out

    def flat(w: FloatArray) -> FloatArray:
        out: FloatArray = a - np.diag(np.sin(w).reshape(-1))
        return out

    w = np.array([[0.3, -0.2], [1.1, 0.5]])
    assert gradcheck.check(grad, w, hess=flat, seed=0).ok
    report = gradcheck.check(grad, w, hess=lambda v: flat(v).reshape(2, 2, 2, 2), seed=0)
    assert report.ok
    assert report.element(1, 2).name == "f[0, 1] / w[1, 0]"


def test_sparse_and_linear_operator_hessians_are_read_as_dense() -> None:
    sparse = gradcheck.check(rosen_der, X0, hess=lambda x: scipy.sparse.csr_matrix(rosen_hess(x)))
    operator = gradcheck.check(rosen_der, X0, hess=lambda x: aslinearoperator(rosen_hess(x)))
    assert sparse.ok
    assert operator.ok
    np.testing.assert_array_equal(operator.analytic, rosen_hess(X0))


def float32_inside(x: FloatArray) -> FloatArray:
    """rosen_der computed in float32 behind a float64 interface: noisy at float32's level."""
    return rosen_der(x.astype(np.float32)).astype(np.float64)  # type: ignore[no-any-return]


def test_error_model_measures_the_gradients_own_noise() -> None:
    report = gradcheck.check(float32_inside, X0, hess=rosen_hess, seed=0)
    assert report.ok, report
    eps32 = float(np.finfo(np.float32).eps)
    # the noise is the gradient's (outputs of size ~1e2..1e3 in float32), not f's
    assert max(report.metadata.noise) > eps32
    grad_scale = float(np.max(np.abs(rosen_der(X0))))
    assert max(report.metadata.noise) < 64 * eps32 * grad_scale
    # an error of twice what the check says it detects is found, at that element
    planted = rosen_hess(X0)
    planted[1, 3] += 2 * report.detectable[1, 3]
    wrong = gradcheck.check(float32_inside, X0, hess=lambda x: planted, seed=0)
    assert "f[1] / x[3]" in mismatches(wrong)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(2, 6), st.integers(0, 2**31 - 1), st.data())
def test_planted_error_of_twice_detectable_is_flagged_at_that_element(
    n: int, seed: int, data: st.DataObject
) -> None:
    """A smooth gradient with a known Jacobian: any element off by 2 * detectable fails."""
    r = np.random.default_rng(seed)
    a = r.normal(size=(n, n))
    a = a + a.T
    x = r.uniform(-2.0, 2.0, size=n)

    def grad(v: FloatArray) -> FloatArray:
        out: FloatArray = a @ v + np.exp(0.3 * v)
        return out

    def hess(v: FloatArray) -> FloatArray:
        out: FloatArray = a + np.diag(0.3 * np.exp(0.3 * v))
        return out

    report = gradcheck.check(grad, x, hess=hess, seed=seed)
    assert report.ok
    i, j = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1))
    planted = hess(x)
    planted[i, j] += 2 * report.detectable[i, j]
    wrong = gradcheck.check(grad, x, hess=lambda v: planted, seed=seed)
    assert wrong.verdicts[i, j] == Verdict.MISMATCH


# -- hessp= ----------------------------------------------------------------------------


def dropped_term(x: FloatArray, p: FloatArray) -> FloatArray:
    """rosen_hess_prod without the -400 x[i] p[i+1] term of each row but the last."""
    hp: FloatArray = rosen_hess_prod(x, p)
    hp[:-1] += 400 * x[:-1] * p[1:]
    return hp


def test_hessp_agrees_along_seeded_directions_without_forming_h() -> None:
    seen: list[FloatArray] = []

    def hessp(x: FloatArray, p: FloatArray) -> FloatArray:
        seen.append(p.copy())
        return rosen_hess_prod(x, p)  # type: ignore[no-any-return]

    report = gradcheck.check(rosen_der, X0, hessp=hessp, seed=0, probes=3)
    assert report.ok, report
    assert report.parameters == (("p", (3,)),)
    assert report.analytic.shape == (5, 3)
    assert len(seen) == 3
    assert all(p.shape == X0.shape for p in seen)
    np.testing.assert_array_equal(report.analytic[:, 1], rosen_hess_prod(X0, seen[1]))
    assert "hessp checked along 3 seeded directions" in report.metadata.warnings[0]


def test_hessp_that_drops_a_term_is_named_at_the_components_it_spoils() -> None:
    report = gradcheck.check(rosen_der, X0, hessp=dropped_term, seed=0)
    assert not report.ok
    wrong_components = {e.output[0] for e in report.elements(Verdict.MISMATCH)}
    assert wrong_components == {0, 1, 2, 3}  # the last row has no p[i+1] term


def test_hessp_directions_come_from_the_seed() -> None:
    first = gradcheck.check(rosen_der, X0, hessp=rosen_hess_prod, seed=7)
    again = gradcheck.check(rosen_der, X0, hessp=rosen_hess_prod, seed=7)
    other = gradcheck.check(rosen_der, X0, hessp=rosen_hess_prod, seed=8)
    np.testing.assert_array_equal(first.analytic, again.analytic)
    assert not np.array_equal(first.analytic, other.analytic)
    unseeded = gradcheck.check(rosen_der, X0, hessp=rosen_hess_prod)
    replay = gradcheck.check(rosen_der, X0, hessp=rosen_hess_prod, seed=unseeded.metadata.seed)
    np.testing.assert_array_equal(unseeded.analytic, replay.analytic)


def test_hessp_checks_stay_inside_the_bounds() -> None:
    def grad(x: FloatArray) -> FloatArray:
        if np.any(x < 0):
            raise ValueError(f"grad evaluated outside its domain at {x}")
        out: FloatArray = 1.5 * np.sqrt(x) + 2 * x
        return out

    def hessp(x: FloatArray, p: FloatArray) -> FloatArray:
        out: FloatArray = (0.75 / np.sqrt(x) + 2) * p
        return out

    x = np.array([1e-7, 0.5, 2.0])  # closer to the bound than a step along a direction
    with pytest.raises(gradcheck.ModelError, match="outside its domain"):
        gradcheck.check(grad, x, hessp=hessp, seed=0)
    report = gradcheck.check(grad, x, hessp=hessp, bounds=(0.0, None), seed=0)
    assert report.ok, report


# -- refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hess": rosen_hess, "hessp": rosen_hess_prod}, "either hess= .* or hessp="),
        ({"hess": rosen_hess, "grad": rosen_der}, "grad= and value_and_grad= have no place"),
        ({"hessp": "exact"}, "hessp= must be a function"),
    ],
)
def test_contradicting_or_unusable_arguments_are_refused(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(gradcheck.InvalidArgument, match=message):
        gradcheck.check(rosen_der, X0, **kwargs)


def test_structured_parameters_are_refused_with_the_way_out() -> None:
    with pytest.raises(gradcheck.InvalidArgument, match=r"one array .* concatenation"):
        gradcheck.check(lambda p: p, {"a": np.ones(2)}, hess=lambda p: np.eye(2))


def test_hessian_of_the_wrong_shape_is_a_model_error() -> None:
    with pytest.raises(gradcheck.ModelError, match=r"shape \(4, 4\), expected \(5, 5\)"):
        gradcheck.check(rosen_der, X0, hess=lambda x: np.eye(4))


def test_objective_passed_instead_of_its_gradient_is_refused() -> None:
    with pytest.raises(gradcheck.ModelError):
        gradcheck.check(rosen, X0, hess=rosen_hess)


# -- gradcheck run: a Case with hess= --------------------------------------------------


def test_a_case_may_carry_hess_and_hessp(tmp_path: Path) -> None:
    model = tmp_path / "hessians.py"
    model.write_text(
        textwrap.dedent(
            """
            import numpy as np
            from scipy.optimize import rosen_der, rosen_hess, rosen_hess_prod
            import gradcheck

            X0 = np.array([1.3, 0.7, 0.8])

            def slipped(x):
                H = rosen_hess(x)
                H[0, 1] = H[1, 0] = 0.0
                return H

            hessian = gradcheck.Case(rosen_der, X0, hess=rosen_hess)
            products = gradcheck.Case(rosen_der, X0, hessp=rosen_hess_prod)

            @gradcheck.case(expect="mismatch")
            def cross_terms_dropped():
                return gradcheck.Case(rosen_der, X0, hess=slipped)
            """
        )
    )
    result = CliRunner().invoke(app, ["run", str(model), "--seed", "0", "-v"])
    assert result.exit_code == 0, result.output
    assert "3 cases: 3 passed" in result.output
    assert "f[0] / x[1]" in result.output
    optimized = CliRunner().invoke(app, ["run", str(model), "--seed", "0", "--optimize"])
    assert optimized.exit_code == 0, optimized.output
    assert "not cross-checked: hessian: a case with hess= or hessp= checks a gradient" in (
        " ".join(optimized.output.split())
    )
