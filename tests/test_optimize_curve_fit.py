"""gradcheck.optimize.curve_fit: the model's Jacobian checked, SciPy's fit unchanged."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.optimize
from numpy.typing import NDArray

import gradcheck
from gradcheck import CheckOptions, Verdict
from gradcheck import optimize as go

FloatArray = NDArray[np.float64]

SEEDED: CheckOptions = {"seed": 0}
T = np.linspace(0.0, 5.0, 40)
P0 = [2.0, 1.0, 0.5, 0.1]


def two_decays(t: FloatArray, a1: float, k1: float, a2: float, k2: float) -> FloatArray:
    """A sum of two exponentials."""
    out: FloatArray = a1 * np.exp(-k1 * t) + a2 * np.exp(-k2 * t)
    return out


def two_decays_jac(t: FloatArray, a1: float, k1: float, a2: float, k2: float) -> FloatArray:
    e1, e2 = np.exp(-k1 * t), np.exp(-k2 * t)
    return np.column_stack([e1, -a1 * t * e1, e2, -a2 * t * e2])


def forgot_t(t: FloatArray, a1: float, k1: float, a2: float, k2: float) -> FloatArray:
    """two_decays_jac with d/dk2 missing its factor t: one wrong column."""
    J = two_decays_jac(t, a1, k1, a2, k2)
    J[:, 3] = -a2 * np.exp(-k2 * t)
    return J


Y = two_decays(T, 3.0, 1.5, 1.0, 0.2) + 0.01 * np.random.default_rng(0).normal(size=T.size)

SETTINGS: list[dict[str, Any]] = [
    {"method": "lm"},
    {"method": "trf"},
    {"method": "dogbox"},
    {"bounds": (0.0, [10.0, 10.0, 10.0, 10.0])},
    {"sigma": np.full(T.size, 0.01)},
    {"sigma": np.diag(np.full(T.size, 1e-4)), "method": "trf"},
]
IDS = ["lm", "trf", "dogbox", "bounds", "sigma", "covariance"]


@pytest.mark.parametrize("settings", SETTINGS, ids=IDS)
def test_correct_jacobian_leaves_the_fit_unchanged(settings: dict[str, Any]) -> None:
    popt, pcov, info, message, ier = scipy.optimize.curve_fit(
        two_decays, T, Y, P0, jac=two_decays_jac, full_output=True, **settings
    )
    checked = go.curve_fit(
        two_decays, T, Y, P0, jac=two_decays_jac, full_output=True, check_options=SEEDED, **settings
    )
    np.testing.assert_array_equal(checked[0], popt)
    np.testing.assert_array_equal(checked[1], pcov)
    assert (checked[2]["nfev"], checked[3], checked[4]) == (info["nfev"], message, ier)
    points = checked[2]["gradcheck_reports"]
    assert [p.evaluation for p in points] == [0, 1, 2]
    np.testing.assert_array_equal(points[0].x, P0)
    assert all(p.report.ok for p in points)
    assert checked[2]["gradcheck_njev"] == 3
    assert checked[2]["gradcheck_nfev"] == sum(
        p.report.metadata.function_evaluations for p in points
    )


def test_without_full_output_the_result_is_scipys_pair() -> None:
    popt, pcov = scipy.optimize.curve_fit(two_decays, T, Y, P0, jac=two_decays_jac)
    result = go.curve_fit(two_decays, T, Y, P0, jac=two_decays_jac, check_options=SEEDED)
    assert isinstance(result, tuple)
    assert len(result) == 2
    np.testing.assert_array_equal(result[0], popt)
    np.testing.assert_array_equal(result[1], pcov)


@pytest.mark.parametrize("settings", SETTINGS, ids=IDS)
def test_wrong_column_is_named_after_the_parameter_at_p0(settings: dict[str, Any]) -> None:
    calls: list[tuple[float, ...]] = []

    def model(t: FloatArray, a1: float, k1: float, a2: float, k2: float) -> FloatArray:
        calls.append((a1, k1, a2, k2))
        return two_decays(t, a1, k1, a2, k2)

    with pytest.raises(go.IterateMismatch) as info:
        go.curve_fit(model, T, Y, P0, jac=forgot_t, check_options=SEEDED, **settings)
    error = info.value
    assert error.evaluation == 0
    assert str(error).startswith(
        "jac disagrees with finite differences at the start point p0 = [2, 1, 0.5, 0.1]"
    )
    wrong = {e.name.split(" / ")[1] for e in error.report.elements(Verdict.MISMATCH)}
    assert wrong == {"k2"}
    assert error.report.counts["mismatch"] == T.size  # k2's whole column, no other element
    # before the fit took a step: SciPy evaluated the model at p0 only
    assert calls[0] == tuple(P0)
    assert len(calls) == 1 + error.report.metadata.function_evaluations


def test_a_model_of_star_params_names_columns_p() -> None:
    def model(t: FloatArray, *p: float) -> FloatArray:
        return two_decays(t, *p)

    def jac(t: FloatArray, *p: float) -> FloatArray:
        return forgot_t(t, *p)

    with pytest.raises(go.IterateMismatch) as info:
        go.curve_fit(model, T, Y, P0, jac=jac, check_options=SEEDED)
    assert {e.name.split(" / ")[1] for e in info.value.report.elements(Verdict.MISMATCH)} == {
        "p[3]"
    }


def test_warn_mode_warns_and_fits_as_scipy_does() -> None:
    popt, _ = scipy.optimize.curve_fit(two_decays, T, Y, P0, jac=forgot_t)
    with pytest.warns(go.GradientMismatchWarning) as record:
        result = go.curve_fit(
            two_decays, T, Y, P0, jac=forgot_t, on_mismatch="warn", check_options=SEEDED
        )
    assert len(record) == 3
    np.testing.assert_array_equal(result[0], popt)


def test_a_finite_difference_jac_is_refused() -> None:
    finite_differences: Any = "3-point"
    with pytest.raises(gradcheck.InvalidArgument, match="nothing to check"):
        go.curve_fit(two_decays, T, Y, P0, jac=finite_differences)
    with pytest.raises(gradcheck.InvalidArgument, match="pass the bounds to curve_fit itself"):
        go.curve_fit(
            two_decays, T, Y, P0, jac=two_decays_jac, check_options={"bounds": (0.0, 10.0)}
        )
