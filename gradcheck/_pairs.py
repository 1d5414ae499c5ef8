"""Step levels and Richardson pairs: the pieces refinement judges an element with.

A :class:`Level` holds f at ``x ± s`` for one column (one parameter element, ``m``
outputs); a :class:`Pair` of levels gives a Richardson estimate, its truncation and
round-off errors, a verdict per output, and whether f looks smooth between the two steps
(the one-sided gap must scale with the step).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from gradcheck._differences import (
    central_difference,
    one_sided_differences,
    richardson_estimate,
    richardson_roundoff,
)
from gradcheck._differences import convergence_order as measured_order
from gradcheck._tolerance import SAFETY, ErrorModel

__all__ = [
    "Column",
    "Level",
    "Pair",
    "PairNumbers",
    "Target",
    "convergence_order",
    "inconsistent",
    "merged",
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

    def roundoff(self, model: ErrorModel) -> FloatArray:
        """Round-off bound of :meth:`central`, from the values taken (see
        :meth:`ErrorModel.roundoff`)."""
        values = np.fmax(np.abs(self.f_plus), np.abs(self.f_minus))
        return model.roundoff(self.h_plus, self.h_minus, values)


class Column(NamedTuple):
    """What refinement concluded for one column (one parameter element, m outputs)."""

    numeric: FloatArray
    error: FloatArray
    tolerance: FloatArray
    verdicts: NDArray[np.int8]
    left: FloatArray
    right: FloatArray


@dataclass(frozen=True, slots=True)
class Target:
    """One parameter element under refinement: everything its pairs are judged with.

    Attributes
    ----------
    index : int
        The element's place in the flat order.
    step : float
        The step ``h`` the screen took; refinement takes ``h/4``, ``h/16``, ...
    f0 : ndarray, shape (m,)
        f at the start point.
    analytic : ndarray, shape (m,)
        The gradient's column for this element, the value under test.
    scale : ndarray, shape (m, 1)
        Each output's largest gradient magnitude.
    model : ErrorModel
        The element's own error model (:meth:`ErrorModel.column`).
    """

    index: int
    step: float
    f0: FloatArray
    analytic: FloatArray
    scale: FloatArray
    model: ErrorModel

    def with_noise(self, noise: FloatArray) -> Target:
        """The same element judged with another noise level."""
        return replace(self, model=replace(self.model, noise=noise))

    def verdicts(
        self, numeric: FloatArray, error: FloatArray, model: ErrorModel | None = None
    ) -> tuple[NDArray[np.int8], FloatArray]:
        """Verdicts and tolerances of the analytic column against an estimate, shape (m,)."""
        codes, tol = (self.model if model is None else model).verdicts(
            self.analytic[:, None], numeric[:, None], error[:, None], self.scale
        )
        return codes[:, 0], tol[:, 0]


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
        rho_coarse = coarse.roundoff(model)
        self.rho_fine = fine.roundoff(model)
        self.roundoff = richardson_roundoff(rho_coarse, self.rho_fine, ratio, order)
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
        target: Target,
        order: float = 2.0,
        floor: FloatArray | float = 0.0,
    ) -> None:
        super().__init__(coarse, fine, target.f0, target.model, order, floor)
        self.target = target
        model = target.model
        self.model = model.with_curvature(self.curvature) if self.smooth else model
        codes, tol = target.verdicts(self.estimate, self.error, self.model)
        nan = np.full_like(target.analytic, np.nan)
        self.column = Column(self.estimate, self.error, tol, codes, nan, nan)


def convergence_order(levels: list[Level], model: ErrorModel) -> tuple[float, bool]:
    """Order of the truncation error measured from three levels, the lowest over outputs,
    and whether every output converges (see
    :func:`gradcheck._differences.convergence_order`)."""
    estimates = np.stack([lv.central() for lv in levels])
    steps = np.array([0.5 * (lv.h_plus + lv.h_minus) for lv in levels])
    noise = np.stack([lv.roundoff(model) for lv in levels])
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


def merged(a: Column, b: Column, target: Target, model: ErrorModel) -> Column:
    """Two estimates of one column judged together: the finer one, with their disagreement
    added to its error.

    Where the two agree within their errors this changes little; where they do not, the
    error model did not hold for at least one of them (a rounding outlier, rounding biased
    over a step's range, a step still outside the asymptotic range), and only a gap beyond
    their disagreement is a mismatch.
    """
    error = np.maximum(a.error, b.error) + np.abs(a.numeric - b.numeric)
    codes, tol = target.verdicts(b.numeric, error, model)
    return b._replace(error=error, tolerance=tol, verdicts=codes)
