"""The Taylor test: a second opinion on the whole gradient that needs no tolerance.

Along a direction d, the residual of the first-order Taylor expansion

    r(h) = |f(x + h d) - f(x) - h g . d|

is ``h^2 |d' H d| / 2 + O(h^3)`` when g is the gradient, and ``h |e . d| + O(h^2)`` when
g is off by e. On log-log axes r falls with slope 2 for a right gradient and slope 1 for a
wrong one, at steps small enough that the error term dominates; no epsilon, tolerance or
error model decides that, only the slope. Each step costs one evaluation.

Steps shrink by half from a move of ``TAYLOR_START`` of every element's own scale; a
residual counts only while it is ``TAYLOR_FLOOR`` times above what rounding can make of
it (f's noise twice, and the rounding of ``h g . d``). The slope is fitted to the smallest
usable steps (the end where an error in g shows), and judged:

==================  =========================================================
slope               verdict
==================  =========================================================
>= 1.8              right: the residual falls as h^2 (or faster: f linear)
<= 1.2              wrong: the gradient misses f's change by a term in h
between             unresolved: the two terms are of one size at these steps
fewer than 3 steps  unresolved: the residual is rounding at every step
above the floor
==================  =========================================================

A kink at x also gives slope 1: where the check found one, the engine calls the verdict
``"kink"`` instead, and the report does not fail for it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gradcheck._baseline import Baseline
from gradcheck._errors import ModelError
from gradcheck._evaluation import Session
from gradcheck._fast import DirectionSteps, random_directions
from gradcheck._report_records import TaylorTest
from gradcheck._tolerance import ANALYTIC_ROUNDING

__all__ = ["taylor_test"]

FloatArray = NDArray[np.float64]

TAYLOR_START = 0.1
"""The first step moves every element by this fraction of its own scale (about)."""

TAYLOR_STEPS = 24
"""Halvings of the step: from 0.1 of every element's scale down to 6e-9 of it."""

TAYLOR_FLOOR = 10.0
"""A residual counts while it is this many times above its rounding."""

FIT_POINTS = 4
"""Usable steps, the smallest, that the slope is fitted to."""

RIGHT_SLOPE = 1.8
WRONG_SLOPE = 1.2


def taylor_test(session: Session, baseline: Baseline, rng: np.random.Generator) -> TaylorTest:
    """Measure the Taylor residual along one random direction and fit its slope.

    Parameters
    ----------
    session : Session
    baseline : Baseline
        The probe and noise stages' findings: f0, the gradient, f's noise, the scales.
    rng : numpy.random.Generator
        Draws the direction.

    Returns
    -------
    TaylorTest
    """
    start, model = baseline.start, baseline.model
    assert model.own_scale is not None  # set by the noise stage
    direction = random_directions(rng, 1, model.own_scale)
    line = DirectionSteps(session, start.x0, direction, start.gradient)
    slope_along = np.einsum("mn,n->m", start.gradient, direction[0])
    terms = np.einsum("mn,n->m", np.abs(start.gradient), np.abs(direction[0]))
    first = TAYLOR_START * np.sqrt(start.x0.size)
    # never beyond half the room to a bound
    room = np.where(direction[0] > 0, baseline.upper - start.x0, start.x0 - baseline.lower)
    moving = direction[0] != 0
    first = min(first, 0.5 * float(np.min(room[moving] / np.abs(direction[0][moving]))))
    steps = first * 0.5 ** np.arange(TAYLOR_STEPS)
    residuals = []
    usable = []
    for h in steps:
        try:
            value = line.value_at(0, float(h))
        except ModelError:  # f is undefined that far out (a domain edge): a smaller step
            value = np.full_like(start.f0, np.nan)
        residual = np.abs(value - start.f0 - h * slope_along)
        rounding = 2 * model.noise + ANALYTIC_ROUNDING * model.precision * h * terms
        residuals.append(residual)
        usable.append(residual > TAYLOR_FLOOR * rounding)
        if not np.any(usable[-1]) and len(usable) >= FIT_POINTS and not np.any(usable[-2]):
            break  # two steps in a row lost in rounding: smaller ones only repeat it
    table = np.array(residuals)  # (steps, m)
    ok = np.array(usable)
    taken = steps[: len(residuals)]
    slopes = tuple(_slope(taken[ok[:, k]], table[ok[:, k], k]) for k in range(table.shape[1]))
    return TaylorTest(
        tuple(float(h) for h in taken),
        tuple(tuple(float(v) for v in row) for row in table.T),
        slopes,
        _verdict(slopes),
    )


def _slope(steps: FloatArray, residuals: FloatArray) -> float:
    """Least-squares slope of log r against log h over the smallest usable steps."""
    if steps.size < 3:
        return float("nan")
    h, r = np.log(steps[-FIT_POINTS:]), np.log(residuals[-FIT_POINTS:])
    return float(np.polyfit(h, r, 1)[0])


def _verdict(slopes: tuple[float, ...]) -> str:
    finite = [s for s in slopes if np.isfinite(s)]
    if any(s <= WRONG_SLOPE for s in finite):
        return "wrong"
    if len(finite) < len(slopes) or any(s < RIGHT_SLOPE for s in finite):
        return "unresolved"
    return "right"
