"""Classes of wrong verdicts that external corpora found (issue 9), one test per class.

Each test names the class it guards; the example in it is one member of that class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import gradcheck
from gradcheck import Verdict

# -- f rounds to float32 somewhere inside, on float64 parameters ---------------------------

U = np.array([1.3, -0.7, 2.1])
X = np.array([0.3, 1.7, -2.2])


def staircase(x: np.ndarray) -> float:
    """f computed in float64 on x rounded to float32: a staircase in x."""
    return float(U @ x.astype(np.float32).astype(np.float64))


def test_a_float32_staircase_inside_f_is_measured_as_noise_not_read_as_kinks() -> None:
    report = gradcheck.check(staircase, X, grad=lambda x: U, seed=0)
    assert report.ok, str(report)
    assert report.counts["ok"] == 3
    # the stairs are ulp32(x) high: an error bar below what they cause would be a lie
    stairs = np.abs(U) * np.spacing(np.abs(X).astype(np.float32)) / report.step
    assert np.all(report.error[0] >= 0.1 * stairs)


def test_a_float32_staircase_still_catches_a_one_in_a_thousand_error() -> None:
    wrong = U * np.array([1.0, 1.001, 1.0])
    report = gradcheck.check(staircase, X, grad=lambda x: wrong, seed=0)
    assert [str(Verdict(v)) for v in report.verdicts[0]] == ["ok", "mismatch", "ok"]


def test_f_whose_values_are_float32_is_never_read_as_constant_in_a_moving_coordinate() -> None:
    # f's resolution (an ulp of float32 at 100) is far above what the probe's spacing moves
    # it by; the flat tables must not pass for "f does not depend on x"
    def f(x: np.ndarray) -> float:
        return float(np.float32(100) + np.float32(1e-3) * np.sum(x.astype(np.float32) ** 2))

    report = gradcheck.check(f, np.array([0.5, -1.0, 2.0]), grad=lambda x: 2e-3 * x, seed=0)
    assert report.counts["mismatch"] == 0, str(report)


# -- the noise probe stays near x, and retreats where f is undefined -----------------------


def test_the_noise_probe_never_evaluates_far_from_x() -> None:
    seen: list[float] = []

    def f(x: np.ndarray) -> float:  # a dyadic polynomial: its tables look too fine
        seen.append(float(x[0]))
        return float(x[0] ** 2)

    gradcheck.check(f, np.array([0.75]), grad=lambda x: 2 * x, seed=0)
    assert max(abs(v - 0.75) for v in seen) <= 1e-3 * 0.75


def test_f_that_raises_at_a_probe_point_makes_the_probe_retreat() -> None:
    calls = {"n": 0}

    def f(x: np.ndarray) -> float:
        calls["n"] += 1
        if calls["n"] == 4:  # a probe point f refuses once (a domain check, say)
            raise ValueError("outside the domain")
        return float(np.sum(np.sin(x)))

    report = gradcheck.check(f, np.array([0.3, 0.5]), grad=np.cos, seed=0)
    assert report.ok, str(report)


# -- small magnitudes: a noisier estimate never overturns a sharper one --------------------


@pytest.mark.parametrize("seed", range(4))
def test_a_wrong_element_on_a_small_parameter_is_caught(seed: int) -> None:
    w = np.array([1.0, 0.8, 0.6])

    def f(x: np.ndarray) -> float:
        return float(np.sum(w * np.cos(x)))

    def df(x: np.ndarray) -> np.ndarray:
        g: np.ndarray = -w * np.sin(x)
        g[0] *= 1.1  # 10 % wrong
        return g

    report = gradcheck.check(f, np.array([1e-4, -2e-4, 1.5e-4]), grad=df, seed=seed)
    assert [str(Verdict(v)) for v in report.verdicts[0]] == ["mismatch", "ok", "ok"]


def test_cs231n_style_small_initialisation_catches_a_one_percent_error() -> None:
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((5, 4)), np.array([0, 2, 1, 2, 0])
    params = {"W1": 1e-4 * rng.standard_normal((4, 6)), "W2": 1e-4 * rng.standard_normal((6, 3))}

    def loss(p: dict[str, np.ndarray]) -> float:
        scores = np.maximum(X @ p["W1"], 0) @ p["W2"]
        shifted = scores - scores.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(5), y].mean())

    def grad(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        hidden = np.maximum(X @ p["W1"], 0)
        scores = hidden @ p["W2"]
        prob = np.exp(scores - scores.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        prob[np.arange(5), y] -= 1
        prob /= 5
        dhidden = (prob @ p["W2"].T) * (hidden > 0)
        dW1 = X.T @ dhidden
        dW1[1, 2] *= 1.01  # the bug
        return {"W1": dW1, "W2": hidden.T @ prob}

    report = gradcheck.check(loss, params, grad=grad, seed=0)
    assert not report.ok
    assert [e.name for e in report.elements(Verdict.MISMATCH)] == ["W1[1, 2]"], str(report)


# -- one element's tolerance never depends on another's analytic value ---------------------


def test_one_absurd_gradient_entry_does_not_hide_a_wrong_neighbour() -> None:
    def df(x: np.ndarray) -> np.ndarray:
        return np.array([np.cos(x[0]), 1e56, 0.8 * np.cos(x[2])])

    report = gradcheck.check(lambda x: float(np.sum(np.sin(x))), np.array([0.3, 0.5, 0.7]), grad=df)
    assert [str(Verdict(v)) for v in report.verdicts[0]] == ["ok", "mismatch", "mismatch"]


# -- a gradient of ~0 is decided on the element's natural scale ----------------------------


def test_the_zero_gradient_at_a_minimum_is_confirmed() -> None:
    from scipy.optimize import rosen, rosen_der

    report = gradcheck.check(rosen, np.ones(3), grad=rosen_der, seed=0)
    assert report.counts["ok"] == 3, str(report)


def test_a_small_error_in_a_score_at_its_maximum_is_a_mismatch() -> None:
    # a Poisson log-likelihood at its maximum: the score is ~0, a 7e-7 error is resolved
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(50), rng.standard_normal(50)])
    counts = rng.poisson(np.exp(X @ np.array([0.3, 0.5])))
    beta = np.array([0.3, 0.5])
    for _ in range(50):  # Newton to the maximum
        mu = np.exp(X @ beta)
        beta = beta + np.linalg.solve(X.T @ (mu[:, None] * X), X.T @ (counts - mu))

    def loglike(b: np.ndarray) -> float:
        eta = X @ b
        return float(np.sum(counts * eta - np.exp(eta)))

    def score(b: np.ndarray) -> np.ndarray:
        gradient: np.ndarray = X.T @ (counts - np.exp(X @ b)) + np.array([7e-7, 0.0])
        return gradient

    report = gradcheck.check(loglike, beta, grad=score, seed=0)
    assert [str(Verdict(v)) for v in report.verdicts[0]] == ["mismatch", "ok"], str(report)


# -- derivatives that are not smooth at x: the convergence order is measured -------------


def test_c1_spline_knots_beside_a_short_interval_are_never_false_mismatches() -> None:
    from scipy.interpolate import Akima1DInterpolator, BPoly

    rng = np.random.default_rng(0)
    for trial in range(6):
        knots = np.sort(rng.uniform(-5, 50, 8))
        knots[4] = knots[3] + 10 ** rng.uniform(-7, -3)  # a very short interval
        values = rng.standard_normal((8, 2))
        splines = [
            BPoly.from_derivatives(knots, values),
            Akima1DInterpolator(knots, values[:, 0], method="akima"),
            Akima1DInterpolator(knots, values[:, 0], method="makima"),
        ]
        for spline in splines:
            slope = spline.derivative()
            for knot in knots[1:-1]:
                report = gradcheck.check(
                    lambda x, s=spline: float(s(x[0])),
                    np.array([knot]),
                    grad=lambda x, d=slope: np.array([float(d(x[0]))]),
                    seed=trial,
                )
                assert report.counts["mismatch"] == 0, str(report)


def test_a_jump_in_f_second_derivative_at_x_is_not_a_mismatch() -> None:
    from scipy.special import i0e, i1e

    def di1e(x: np.ndarray) -> np.ndarray:
        safe = np.where(x == 0, 1.0, x)
        return np.where(x == 0, 0.5, i0e(x) - i1e(x) * (np.sign(x) + 1 / safe))

    for seed in range(4):
        report = gradcheck.check(lambda x: float(np.sum(i1e(x))), np.zeros(2), grad=di1e, seed=seed)
        assert report.counts["ok"] == 2, str(report)


# -- poles and domain edges inside the step ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "x0"),
    [("logit", 1 - 2e-9), ("ndtri", 1 - 2e-9), ("arccosh", 1 + 4e-9)],
)
def test_a_domain_edge_inside_the_step_is_differenced_from_the_defined_side(
    name: str, x0: float
) -> None:
    from scipy import special

    functions: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
        "logit": (special.logit, lambda x: 1 / (x * (1 - x))),
        "ndtri": (special.ndtri, lambda x: np.sqrt(2 * np.pi) * np.exp(special.ndtri(x) ** 2 / 2)),
        "arccosh": (np.arccosh, lambda x: 1 / np.sqrt(x * x - 1)),
    }
    f, df = functions[name]

    def value(x: np.ndarray) -> float:
        with np.errstate(invalid="ignore"):  # NaN outside the domain, as NumPy returns it
            return float(f(x[0]))

    right = gradcheck.check(value, np.array([x0]), grad=df, seed=0)
    assert right.counts["ok"] == 1, str(right)
    wrong = gradcheck.check(value, np.array([x0]), grad=lambda x: 1.01 * df(x))
    assert wrong.counts["mismatch"] == 1, str(wrong)


@pytest.mark.parametrize(("name", "x0"), [("gammaln", -3.00000024), ("digamma", -5.00000001)])
def test_a_pole_inside_the_step_is_never_a_confident_mismatch(name: str, x0: float) -> None:
    from scipy import special

    f, df = {
        "gammaln": (special.gammaln, special.digamma),
        "digamma": (special.digamma, lambda x: special.polygamma(1, x)),
    }[name]
    for seed in range(3):
        report = gradcheck.check(lambda x: float(f(x[0])), np.array([x0]), grad=df, seed=seed)
        assert report.counts["mismatch"] == 0, str(report)


# -- what the report says when f did not move, or is not finite on one side ---------------


def test_an_f_that_never_changes_is_named_as_such() -> None:
    frozen = float(np.sum(np.array([1.0, 2.0]) ** 2))  # computed once, outside f
    report = gradcheck.check(lambda x: frozen, np.array([1.0, 2.0]), grad=lambda x: 2 * x)
    assert report.counts["mismatch"] == 2
    assert any("f did not change when any parameter changed" in w for w in report.metadata.warnings)


def test_an_f_not_finite_on_one_side_is_named_with_the_point() -> None:
    from scipy.special import logit

    report = gradcheck.check(
        lambda x: float(logit(x[0])), np.array([1 - 2e-9]), grad=lambda x: 1 / (x * (1 - x))
    )
    assert report.counts["ok"] == 1
    assert any(w.startswith("f is nan at x[0] = 1.0000") for w in report.metadata.warnings)


# -- aliasing: f oscillating far faster than any step the probe can resolve -----------------


@pytest.mark.parametrize("frequency", [1e7, 1e9, 1e10, 1e11, 1e12])
def test_an_oscillation_faster_than_every_table_is_never_a_false_mismatch(frequency: float) -> None:
    report = gradcheck.check(
        lambda p: float(np.sin(frequency * p[0])),
        np.array([0.3]),
        grad=lambda p: frequency * np.cos(frequency * p),
        seed=0,
    )
    assert report.counts["mismatch"] == 0, str(report)


def test_a_random_f_whose_first_two_draws_coincide_is_caught_at_the_end() -> None:
    calls = {"n": 0}

    def f(x: np.ndarray) -> float:  # its first two values at x0 agree, as equal draws would
        calls["n"] += 1
        wobble = 0.0 if calls["n"] <= 2 else 1e-3 * np.sin(calls["n"])
        return float(np.sum(x**2) + wobble)

    report = gradcheck.check(f, np.array([1.0, 2.0]), grad=lambda x: -2 * x, seed=0)
    assert not report.ok
    assert report.metadata.random
    assert report.counts["mismatch"] == 0  # its differences are no derivative at all
    assert any("keeps state between calls" in w for w in report.metadata.warnings)


# -- float32: rounding where the differences are taken, and unresolvable variation ---------


@pytest.mark.parametrize("seed", range(3))
def test_float32_parameters_near_1e_6_are_judged_with_the_rounding_of_the_values_taken(
    seed: int,
) -> None:
    # f ~ 1e-12 at x, ~1e-5 a step away: noise measured at x understates the values' rounding
    x = (np.random.default_rng(seed).standard_normal(50) * 1e-6).astype(np.float32)
    report = gradcheck.check(lambda v: 0.5 * np.sum(v * v), x, grad=lambda v: v.copy(), seed=seed)
    assert report.counts["mismatch"] == 0, str(report)


def test_float32_oscillation_finer_than_any_step_is_never_a_mismatch() -> None:
    x = (np.random.default_rng(0).standard_normal(3) * 1e6).astype(np.float32)
    report = gradcheck.check(lambda v: np.sum(np.sin(v)), x, grad=np.cos, seed=0)
    assert report.counts["mismatch"] == 0, str(report)
    assert any("varies faster than the finest step" in w for w in report.metadata.warnings)


def test_a_shifted_pair_that_does_not_resolve_the_gap_confirms_no_mismatch() -> None:
    # float32 at |x| ~ 300 with f varying on a scale of 1: the pair (h, h/4) agrees with
    # itself by coincidence and misses the truth; the shifted pair does not see the gap
    def f(x: np.ndarray) -> np.floating:
        value: np.floating = np.sum(np.tanh(np.sin(x)) * x)
        return value

    def df(x: np.ndarray) -> np.ndarray:
        gradient: np.ndarray = (1 - np.tanh(np.sin(x)) ** 2) * np.cos(x) * x + np.tanh(np.sin(x))
        return gradient.astype(x.dtype)

    x = (np.random.default_rng(2).standard_normal(50) * 1e3).astype(np.float32)
    report = gradcheck.check(f, x, grad=df, seed=2)
    assert report.verdicts[0, 12] != Verdict.MISMATCH, str(report.element(0, 12))
