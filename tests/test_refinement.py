"""Refinement on its own: Richardson pairs and the decision table of ``from_levels``.

Each test builds one element of a one-variable f by hand (a Problem, a Session, the error
model with a known noise level), starts refinement from the screen's two levels (2h, h),
and checks the row of the decision table that f's shape selects. The expected values come
from calculus, never from the code: the derivative of f, its one-sided derivatives at a
kink, the truncation of a central difference (h^2 f'''/6).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from numpy.typing import NDArray

from gradcheck._evaluation import Session
from gradcheck._noise import NoiseProbe
from gradcheck._one_sided import OneSided
from gradcheck._pairs import Column, Level, Pair, PairNumbers, Target
from gradcheck._problem import Parameter, Problem
from gradcheck._refinement import Refinement
from gradcheck._steps import Steps
from gradcheck._tolerance import ErrorModel, Verdict

FloatArray = NDArray[np.float64]
EPS = float(np.finfo(np.float64).eps)


@contextmanager
def refinement_of(
    f: Callable[[float], float], x: float, pairs: int = 1
) -> Iterator[tuple[Session, Callable[[float, float], Column]]]:
    """The session evaluating ``f`` at ``x``, and a function that refines its one element
    from the screen's levels at step h, judging the analytic value g."""
    values = np.array([x])
    problem = Problem(
        [Parameter("x", (), values)],
        value=lambda: f(float(values[0])),
        gradient=lambda: np.zeros(1),
        backend="test",
    )
    session = Session(problem)
    x0 = values.copy()
    steps = Steps(session, x0)
    noise = np.array([EPS * max(abs(f(x)), 1.0)])
    lower, upper = np.full(1, -np.inf), np.full(1, np.inf)
    rng = np.random.default_rng(0)
    probe = NoiseProbe(session, x0, lower, upper, np.ones(1), EPS, rng)
    refinement = Refinement(steps, OneSided(steps, lower, upper, noise), probe, x0 * 0, pairs)
    model = ErrorModel(noise=noise, precision=EPS, magnitude=np.abs(x0), own_scale=np.ones(1))
    f0 = np.array([f(x)])

    def refine(g: float, h: float) -> Column:
        target = Target(0, h, f0, np.array([g]), np.array([[abs(g)]]), model.column(0))
        return refinement.from_levels(target, [steps.level(0, h, 2.0), steps.level(0, h, 1.0)])

    try:
        yield session, refine
    finally:
        session.close()


def verdict(column: Column) -> Verdict:
    return Verdict(int(column.verdicts[0]))


def test_a_smooth_f_with_its_true_derivative_is_ok_within_an_error_that_covers_the_gap() -> None:
    with refinement_of(np.sin, 0.7) as (_, refine):
        column = refine(float(np.cos(0.7)), 1e-3)
    assert verdict(column) is Verdict.OK
    assert abs(column.numeric[0] - np.cos(0.7)) <= column.error[0]


def test_a_one_in_a_thousand_error_is_a_mismatch_confirmed_by_a_second_pair() -> None:
    evaluations: list[float] = []

    def f(x: float) -> float:
        evaluations.append(x)
        return float(np.exp(x))

    with refinement_of(f, 0.3) as (_, refine):
        before = len(evaluations)
        column = refine(float(np.exp(0.3)) * 1.001, 1e-3)
    assert verdict(column) is Verdict.MISMATCH
    # the screen's two levels decide nothing alone: a finer level (2 evaluations) confirms
    assert len(evaluations) - before >= 4 + 2


def test_a_kink_brackets_the_analytic_value_between_the_one_sided_derivatives() -> None:
    def f(x: float) -> float:
        return abs(x - 0.5) + 0.25 * x  # slopes -0.75 left of 0.5, 1.25 right

    with refinement_of(f, 0.5) as (_, refine):
        column = refine(0.25, 1e-3)
    assert verdict(column) is Verdict.KINK
    assert column.left[0] == pytest.approx(-0.75, rel=1e-6)
    assert column.right[0] == pytest.approx(1.25, rel=1e-6)


def test_a_value_outside_a_kinks_bracket_is_a_mismatch() -> None:
    def f(x: float) -> float:
        return abs(x - 0.5)

    with refinement_of(f, 0.5) as (_, refine):
        column = refine(3.0, 1e-3)
    assert verdict(column) is Verdict.MISMATCH


def test_f_undefined_on_one_side_is_differenced_from_the_other_and_the_user_is_told() -> None:
    def f(x: float) -> float:
        return float(np.log(x)) if x > 0 else float("nan")

    x = 5e-4  # the screen's steps (2e-3, 1e-3) reach below 0
    with refinement_of(f, x) as (session, refine):
        column = refine(1 / x, 1e-3)
    assert verdict(column) is Verdict.OK
    assert abs(column.numeric[0] - 1 / x) <= column.error[0]
    assert any("differenced from the other side only" in w for w in session.warnings)


def test_an_oscillation_faster_than_every_step_is_never_ok() -> None:
    def f(x: float) -> float:
        return float(np.sin(1e9 * x))

    with refinement_of(f, 0.1) as (_, refine):
        column = refine(0.0, 1e-3)
    assert verdict(column) is Verdict.INCONCLUSIVE


@pytest.mark.parametrize("pairs", [1, 2])
def test_method_richardson_confirms_an_agreeing_element_with_a_second_pair(pairs: int) -> None:
    evaluations: list[float] = []

    def f(x: float) -> float:
        evaluations.append(x)
        return x**2  # every central difference is exact: one pair agrees at once

    with refinement_of(f, 0.3, pairs=pairs) as (_, refine):
        before = len(evaluations)
        column = refine(0.6, 1e-3)
    assert verdict(column) is Verdict.OK
    assert len(evaluations) - before == 4 + 2 * (pairs - 1)


def test_a_pair_measures_the_truncation_of_its_finer_difference() -> None:
    """For f = x^3 the central difference is f' + h^2 (exactly: f'''/6 = 1), so the pair
    (2h, h) sees a change of 3h^2, Richardson removes it, and the truncation of the finer
    difference is h^2."""
    x, h = 0.4, 1e-2
    fine = Level(1.0, np.array([(x + h) ** 3]), np.array([(x - h) ** 3]), h, h)
    coarse = Level(2.0, np.array([(x + 2 * h) ** 3]), np.array([(x - 2 * h) ** 3]), 2 * h, 2 * h)
    model = ErrorModel(noise=np.array([EPS]), precision=EPS)
    pair = PairNumbers(coarse, fine, np.array([x**3]), model)
    assert pair.estimate[0] == pytest.approx(3 * x**2, rel=1e-12)
    assert pair.truncation[0] == pytest.approx(h**2, rel=1e-9)
    assert bool(pair.smooth)


def test_a_pair_is_judged_on_the_target_it_is_given() -> None:
    x, h = 0.4, 1e-3
    fine = Level(1.0, np.array([np.sin(x + h)]), np.array([np.sin(x - h)]), h, h)
    coarse = Level(2.0, np.array([np.sin(x + 2 * h)]), np.array([np.sin(x - 2 * h)]), 2 * h, 2 * h)
    model = ErrorModel(noise=np.array([EPS]), precision=EPS)
    f0, scale = np.array([np.sin(x)]), np.ones((1, 1))
    right = Pair(coarse, fine, Target(0, h, f0, np.array([np.cos(x)]), scale, model))
    wrong = Pair(coarse, fine, Target(0, h, f0, np.array([np.cos(x) + 1e-4]), scale, model))
    assert Verdict(int(right.column.verdicts[0])) is Verdict.OK
    assert Verdict(int(wrong.column.verdicts[0])) is Verdict.MISMATCH
