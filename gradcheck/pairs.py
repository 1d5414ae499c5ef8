"""Step levels and Richardson pairs: the pieces the engine refines an element with.

A :class:`Level` holds f at ``x ± s`` for one column (one parameter element, ``m``
outputs); a :class:`Pair` of levels gives a Richardson estimate, its truncation and
round-off errors, a verdict per output, and whether f looks smooth between the two steps
(the one-sided gap must scale with the step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from gradcheck.differences import (
    central_difference,
    one_sided_differences,
    richardson_estimate,
)
from gradcheck.differences import convergence_order as measured_order
from gradcheck.tolerance import SAFETY, ErrorModel

__all__ = [
    "Column",
    "Level",
    "Pair",
    "PairNumbers",
    "convergence_order",
    "inconsistent",
    "merged",
    "quadratic_slope",
    "roundoff",
    "sharpest",
]

FloatArray = NDArray[np.float64]


@dataclass(slots=True)
class Level:
    """Values of one column at one step level: f_plus, f_minus of shape (m,) and scalar
    steps; or of every element at once: shape (m, n), steps of shape (n,)."""

    mult: float
    f_plus: FloatArray
    f_minus: FloatArray
    h_plus: float | FloatArray
    h_minus: float | FloatArray

    def central(self) -> FloatArray:
        return central_difference(self.f_plus, self.f_minus, self.h_plus, self.h_minus)

    def one_sided(self, f0: FloatArray) -> tuple[FloatArray, FloatArray]:
        return one_sided_differences(self.f_plus, f0, self.f_minus, self.h_plus, self.h_minus)


class Column(NamedTuple):
    """What refinement concluded for one column (one parameter element, m outputs)."""

    numeric: FloatArray
    error: FloatArray
    tolerance: FloatArray
    verdicts: NDArray[np.int8]
    left: FloatArray
    right: FloatArray


class PairNumbers:
    """The numbers of a Richardson pair of levels, for one column or for all at once.

    Values have shape (m,) for one column, (m, n) for a level over every element (then
    the levels' steps have shape (n,) and ``f0`` shape (m, 1)); ``finite`` and ``smooth``
    are per column: shape () or (n,).
    """

    def __init__(
        self,
        coarse: Level,
        fine: Level,
        f0: FloatArray,
        model: ErrorModel,
        order: float = 2.0,
        floor: FloatArray | float = 0.0,
    ) -> None:
        ratio = coarse.mult / fine.mult
        self.estimate, truncation = richardson_estimate(
            coarse.central(), fine.central(), ratio, order
        )
        # never below what a coarser pair's truncation predicts for this step
        self.truncation: FloatArray = np.fmax(truncation, floor)
        rho_coarse = roundoff(model, coarse)
        self.rho_fine = roundoff(model, fine)
        gain = ratio**order
        self.roundoff = (gain * self.rho_fine + rho_coarse) / (gain - 1)
        self.error = self.truncation + self.roundoff
        fwd_c, bwd_c = coarse.one_sided(f0)
        fwd_f, bwd_f = fine.one_sided(f0)
        self.gap_coarse, self.gap_fine = fwd_c - bwd_c, fwd_f - bwd_f
        noise_coarse = 4 * rho_coarse  # round-off of forward - backward
        self.noise_fine = 4 * self.rho_fine
        self.finite = np.all(np.isfinite(self.estimate), axis=0) & np.all(
            np.isfinite(self.gap_coarse), axis=0
        )
        # smooth f: the one-sided gap is h f'' + O(h^3), so it scales with the step
        self.smooth = self.finite & np.all(
            np.abs(self.gap_coarse - ratio * self.gap_fine)
            <= noise_coarse + ratio * self.noise_fine + 0.25 * np.abs(ratio * self.gap_fine),
            axis=0,
        )
        # where the gap scales with the step it measures f'' (less its round-off); it
        # speaks for the element's own scale only from steps within it (f'' averaged over
        # steps far wider than x's own size says nothing about a move of that size)
        step = 0.5 * (fine.h_plus + fine.h_minus)
        measured = np.maximum(np.abs(self.gap_fine) - self.noise_fine, 0.0) / step
        within = True if model.own_scale is None else step <= model.own_scale
        self.curvature: FloatArray = np.where(self.smooth & within, measured, 0.0)


class Pair(PairNumbers):
    """A Richardson pair of step levels for one column: its numbers, whether it is smooth
    and finite (as bools), and its verdicts, judged with the curvature it measured."""

    def __init__(
        self,
        coarse: Level,
        fine: Level,
        f0: FloatArray,
        g: FloatArray,
        scale: FloatArray,
        model: ErrorModel,
        order: float = 2.0,
        floor: FloatArray | float = 0.0,
    ) -> None:
        super().__init__(coarse, fine, f0, model, order, floor)
        self.model = model.with_curvature(self.curvature) if self.smooth else model
        codes, tol = self.model.verdicts(
            g[:, None], self.estimate[:, None], self.error[:, None], scale
        )
        nan = np.full_like(g, np.nan)
        self.column = Column(self.estimate, self.error, tol[:, 0], codes[:, 0], nan, nan)


def convergence_order(levels: list[Level], model: ErrorModel) -> tuple[float, bool]:
    """Order of the truncation error measured from three levels, the lowest over outputs,
    and whether every output converges (see
    :func:`gradcheck.differences.convergence_order`)."""
    estimates = np.stack([lv.central() for lv in levels])
    steps = np.array([0.5 * (lv.h_plus + lv.h_minus) for lv in levels])
    noise = np.stack([roundoff(model, lv) for lv in levels])
    if not np.all(np.isfinite(estimates)):
        return 2.0, True
    order, converging = measured_order(estimates, steps, noise)
    return float(np.min(order)), bool(np.all(converging))


def inconsistent(a: Column, b: Column) -> bool:
    """Whether two estimates of a column differ by more than their errors allow."""
    return bool(np.any(np.abs(a.numeric - b.numeric) > SAFETY * (a.error + b.error)))


def sharpest(columns: list[Column]) -> Column:
    """Per output, the estimate with the smallest error among consistent ones."""
    errors = np.stack([np.where(np.isnan(c.error), np.inf, c.error) for c in columns])
    pick = np.argmin(errors, axis=0)
    rows = np.arange(pick.size)
    fields = [np.stack(values)[pick, rows] for values in zip(*columns, strict=True)]
    return Column(*fields)


def merged(a: Column, b: Column, g: FloatArray, scale: FloatArray, model: ErrorModel) -> Column:
    """Two estimates of one column judged together: the finer one, with their disagreement
    added to its error.

    Where the two agree within their errors this changes little; where they do not, the
    error model did not hold for at least one of them (a rounding outlier, rounding biased
    over a step's range, a step still outside the asymptotic range), and only a gap beyond
    their disagreement is a mismatch.
    """
    error = np.maximum(a.error, b.error) + np.abs(a.numeric - b.numeric)
    codes, tol = model.verdicts(g[:, None], b.numeric[:, None], error[:, None], scale)
    return b._replace(error=error, tolerance=tol[:, 0], verdicts=codes[:, 0])


def quadratic_slope(
    f0: FloatArray, f1: FloatArray, f2: FloatArray, a1: float, a2: float
) -> tuple[FloatArray, float]:
    """Slope at 0 of the parabola through (0, f0), (a1, f1), (a2, f2); sum of |weights|."""
    w0 = -(1.0 / a1 + 1.0 / a2)
    w1 = a2 / (a1 * (a2 - a1))
    w2 = -a1 / (a2 * (a2 - a1))
    return w0 * f0 + w1 * f1 + w2 * f2, abs(w0) + abs(w1) + abs(w2)


def roundoff(model: ErrorModel, level: Level) -> FloatArray:
    """Round-off bound of a level's central differences: shape (m,), or (m, n) for a
    level over every element.

    Each value is off by f's measured noise, and never by less than the precision times
    the value itself: noise measured near x understates the rounding of values far larger
    at x +- h (f ~ |x|^2 at x ~ 1e-6 in float32, evaluated a step of 1e-2 away).
    """
    steps = np.asarray(level.h_plus + level.h_minus)
    noise = model.noise.reshape(model.noise.shape + (1,) * steps.ndim)
    values = np.fmax(np.abs(level.f_plus), np.abs(level.f_minus))
    bound = np.fmax(noise, model.precision * np.where(np.isfinite(values), values, 0.0))
    result: FloatArray = 2.0 * bound / steps
    return result
