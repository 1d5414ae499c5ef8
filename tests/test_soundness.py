"""Classes of wrong verdicts that external corpora found (issue 9), one test per class.

Each test names the class it guards; the example in it is one member of that class.
"""

from __future__ import annotations

import numpy as np

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
