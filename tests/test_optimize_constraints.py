"""gradcheck.optimize.minimize with constraints: each constraint's jac and hess checked."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.optimize
from numpy.typing import NDArray
from scipy.optimize import LinearConstraint, NonlinearConstraint, rosen, rosen_der

import gradcheck
from gradcheck import CheckOptions, Verdict
from gradcheck import optimize as go

FloatArray = NDArray[np.float64]

X0 = np.array([0.5, 0.8, 0.3, 0.6])
SEEDED: CheckOptions = {"seed": 0}
COUNTS = ("nit", "nfev", "njev", "nhev", "constr_nfev", "constr_njev", "constr_nhev")


def c(x: FloatArray) -> FloatArray:
    """Three constraint functions of four variables."""
    return np.array([x[0] ** 2 + x[1] ** 2, x[2] * x[3], x[0] + x[2] ** 2])


def c_jac(x: FloatArray) -> FloatArray:
    return np.array(
        [[2 * x[0], 2 * x[1], 0.0, 0.0], [0.0, 0.0, x[3], x[2]], [1.0, 0.0, 2 * x[2], 0.0]]
    )


def transposed_block(x: FloatArray) -> FloatArray:
    """c_jac with its lower-right 2 x 2 block transposed: rows c[1], c[2] by x[2], x[3]."""
    J = c_jac(x)
    J[1:3, 2:4] = J[1:3, 2:4].T.copy()
    return J


def c_hess(x: FloatArray, v: FloatArray) -> FloatArray:
    """sum_k v[k] * Hessian of c[k]."""
    H = np.zeros((4, 4))
    H[0, 0] = H[1, 1] = 2 * v[0]
    H[2, 3] = H[3, 2] = v[1]
    H[2, 2] = 2 * v[2]
    return H


def c_hess_without_v1(x: FloatArray, v: FloatArray) -> FloatArray:
    """c_hess without the cross term of c[1] = x[2] x[3]."""
    H = c_hess(x, v)
    H[2, 3] = H[3, 2] = 0.0
    return H


def as_dict(jac: Callable[[FloatArray], FloatArray]) -> list[dict[str, Any]]:
    """c(x) <= 1.5 as SLSQP's dict: fun(x) >= 0 with its Jacobian."""
    return [
        {"type": "ineq", "fun": lambda x, b: b - c(x), "jac": lambda x, b: -jac(x), "args": (1.5,)}
    ]


def as_object(jac: Callable[[FloatArray], FloatArray], hess: Any = None) -> NonlinearConstraint:
    return NonlinearConstraint(c, -np.inf, 1.5, jac=jac, **({} if hess is None else {"hess": hess}))


def run(method: str, constraints: object, checked: bool) -> scipy.optimize.OptimizeResult:
    with warnings.catch_warnings():  # trust-constr's own warnings are not under test
        warnings.filterwarnings("ignore", module="scipy")
        if checked:
            return go.minimize(
                rosen,
                X0,
                jac=rosen_der,
                method=method,
                constraints=constraints,
                check_options=SEEDED,
            )
        return scipy.optimize.minimize(
            rosen, X0, jac=rosen_der, method=method, constraints=constraints
        )


CASES = [
    ("SLSQP", as_dict),
    ("SLSQP", as_object),
    ("trust-constr", as_dict),
    ("trust-constr", as_object),
    ("trust-constr", lambda jac: [as_object(jac, c_hess), LinearConstraint(np.ones(4), -10, 10)]),
]
IDS = ["SLSQP-dict", "SLSQP-object", "trust-constr-dict", "trust-constr-object", "with-hess"]


@pytest.mark.parametrize(("method", "form"), CASES, ids=IDS)
def test_correct_constraints_leave_scipys_run_unchanged(method: str, form: Any) -> None:
    plain = run(method, form(c_jac), checked=False)
    result = run(method, form(c_jac), checked=True)
    np.testing.assert_array_equal(result.x, plain.x)
    assert [result.get(k) for k in COUNTS] == [plain.get(k) for k in COUNTS]
    subjects = [p.subject for p in result.gradcheck_reports]
    assert subjects.count("jac of constraint 0") == 3
    assert all(p.report.ok for p in result.gradcheck_reports)
    by_constraint = [p for p in result.gradcheck_reports if p.subject == "jac of constraint 0"]
    assert result.gradcheck_constr_njev[0] >= len(by_constraint)
    assert result.gradcheck_constr_nfev[0] == sum(
        p.report.metadata.function_evaluations for p in by_constraint
    )


@pytest.mark.parametrize(("method", "form"), CASES, ids=IDS)
def test_transposed_block_is_named_by_constraint_and_component(method: str, form: Any) -> None:
    with pytest.raises(go.IterateMismatch) as info:
        run(method, form(transposed_block), checked=True)
    error = info.value
    assert (error.subject, error.evaluation) == ("jac of constraint 0", 0)
    first_line = str(error).splitlines()[0]
    assert first_line.startswith("jac of constraint 0 disagrees with finite differences at the")
    assert first_line.endswith(
        "x0 = [0.5, 0.8, 0.3, 0.6]: constraint 0: c[1] / x[3], constraint 0: c[2] / x[2]"
    )
    wrong = [e.name for e in error.report.elements(Verdict.MISMATCH)]
    assert sorted(wrong) == ["f[1] / x[3]", "f[2] / x[2]"]


def test_the_constraint_named_is_the_one_that_is_wrong() -> None:
    right = {
        "type": "eq",
        "fun": lambda x: x[0] - x[1],
        "jac": lambda x: np.array([1.0, -1.0, 0, 0]),
    }
    wrong = {"type": "ineq", "fun": lambda x: 2 - x @ x, "jac": lambda x: -x}  # -2x
    with pytest.raises(go.IterateMismatch) as info:
        go.minimize(rosen, X0, jac=rosen_der, method="SLSQP", constraints=(right, wrong))
    assert info.value.subject == "jac of constraint 1"
    assert "constraint 1: c / x[0], constraint 1: c / x[1]" in str(info.value)


def test_constraint_hessian_is_checked_with_a_seeded_multiplier() -> None:
    multipliers: list[FloatArray] = []

    def recorded(x: FloatArray, v: FloatArray) -> FloatArray:
        multipliers.append(np.copy(v))
        return c_hess_without_v1(x, v)

    with pytest.raises(go.IterateMismatch) as info:
        run("trust-constr", [as_object(c_jac, recorded)], checked=True)
    error = info.value
    assert (error.subject, error.evaluation) == ("hess of constraint 0", 0)
    assert sorted(e.name for e in error.report.elements(Verdict.MISMATCH)) == [
        "f[2] / x[3]",
        "f[3] / x[2]",
    ]
    scipys, seeded = multipliers[0], multipliers[1]
    assert not np.any(scipys)  # SciPy starts with v = 0, which would hide the error
    assert np.all(np.abs(seeded) >= 0.5)


def test_finite_difference_settings_and_linear_constraints_pass_through() -> None:
    constraints = [
        NonlinearConstraint(c, -np.inf, 1.5),  # jac="2-point", hess=BFGS()
        LinearConstraint(np.ones(4), -10, 10),
        {"type": "ineq", "fun": lambda x: 2 - x @ x},  # no jac
    ]
    result = run("trust-constr", constraints, checked=True)
    assert {p.subject for p in result.gradcheck_reports} == {"jac"}
    assert result.gradcheck_constr_njev == [0, 0, 0]


def test_something_else_as_a_constraint_is_refused() -> None:
    with pytest.raises(gradcheck.InvalidArgument, match=r"constraints\[1\] is a str"):
        go.minimize(rosen, X0, jac=rosen_der, constraints=[as_object(c_jac), "x >= 0"])
