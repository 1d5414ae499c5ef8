"""The error model: how far apart analytic and numeric may be before it is a mismatch.

An element's numeric estimate ``N`` comes with an error estimate ``E`` (truncation plus
round-off, from :mod:`gradcheck._differences`). The analytic value ``g`` is a mismatch
only when it lies outside what ``E`` explains::

    |g - N| > tolerance = safety * (E + analytic rounding) + atol + rtol * |g|

and the element is inconclusive when ``E`` is too large for the comparison to mean much.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEFAULT_ATOL", "DEFAULT_RTOL", "SAFETY", "ErrorModel", "Verdict"]

FloatArray = NDArray[np.float64]

DEFAULT_RTOL = 1e-6
"""Relative floor added to every tolerance: far below the 1e-4 errors a float64 check must
catch, above the rounding of gradients that are summed in a different order."""

DEFAULT_ATOL = 0.0
"""Absolute floor added to every tolerance; zero, since the error model is absolute already."""

SAFETY = 2.0
"""Factor on the estimated errors. Round-off is bounded from a measured deviation and the
truncation estimate is asymptotic, so each may be off by a small factor either way."""

INCONCLUSIVE_FRACTION = 0.1
"""An element is inconclusive when its numeric error exceeds this fraction of its scale."""

UNCERTAIN_MISS = 3.0
"""Where the numeric error is inconclusively large, a mismatch needs a gap of this many
tolerances: an error estimate that large may itself be unconverged."""

NEGLIGIBLE = 1e-3
"""Elements below this fraction of the largest gradient entry are judged on that scale."""

ANALYTIC_ROUNDING = 8.0
"""Units of the model's precision allowed for rounding in the analytic gradient itself."""


class Verdict(enum.IntEnum):
    """What the check concluded about one element."""

    OK = 0
    """The analytic value agrees with the numeric estimate within its error."""
    MISMATCH = 1
    """The analytic value is outside what the numeric error can explain: a wrong gradient."""
    KINK = 2
    """f is not differentiable here (one-sided derivatives differ); the analytic value
    lies between them."""
    INCONCLUSIVE = 3
    """The numeric estimate is too uncertain (noise, non-convergence) to decide."""

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class ErrorModel:
    """Error bounds for one check.

    Attributes
    ----------
    noise : ndarray, shape (m,)
        Bound on the error of one evaluation of each output of f (``eps_f``).
    precision : float
        Relative precision the model computes in: machine epsilon of its dtype, or the
        measured relative noise when larger. Bounds the analytic gradient's own rounding.
    rtol, atol : float
        Floors added to every tolerance; ``atol`` may differ by output (an array of shape
        (m, 1): fast mode's projected allowances).
    curvature : ndarray, shape (m, n) or (m, 1), optional
        ``|f''_ii|`` per element, measured where the differences are in their asymptotic
        range (none elsewhere).
    magnitude, own_scale : ndarray, shape (n,) or (1,), optional
        ``|x_i|`` and each element's own scale, which turn the curvature into the
        element's conditioning and natural scale.
    """

    noise: FloatArray
    precision: float
    rtol: float = DEFAULT_RTOL
    atol: float | FloatArray = DEFAULT_ATOL
    curvature: FloatArray | None = None
    magnitude: FloatArray | None = None
    own_scale: FloatArray | None = None

    def column(self, i: int) -> ErrorModel:
        """The model for parameter element i alone, with no curvature measured yet."""
        return replace(
            self,
            curvature=None,
            magnitude=None if self.magnitude is None else self.magnitude[i : i + 1],
            own_scale=None if self.own_scale is None else self.own_scale[i : i + 1],
        )

    def with_curvature(self, curvature: FloatArray | None) -> ErrorModel:
        """The same model with ``|f''|`` measured (shape (m, n), or (m,) for one column)."""
        if curvature is not None and curvature.ndim == 1:
            curvature = curvature[:, None]
        return replace(self, curvature=curvature)

    @property
    def conditioning(self) -> FloatArray | float:
        """``|x_i| |f''_ii|``: a gradient computed in precision ``eps`` is the exact
        gradient at a point off by about ``eps |x|``, so its rounding is at least ``eps
        |x| |f''|`` however it is summed."""
        if self.curvature is None or self.magnitude is None:
            return 0.0
        result: FloatArray = self.magnitude * self.curvature
        return result

    @property
    def natural(self) -> FloatArray | float:
        """``|f''_ii|`` times the element's own scale: how much the derivative changes over
        a move of x_i's size. An error far below it is resolved, however close to zero
        the derivative itself is (a minimum, a score at the maximum-likelihood point)."""
        if self.curvature is None or self.own_scale is None:
            return 0.0
        result: FloatArray = self.own_scale * self.curvature
        return result

    def roundoff(
        self,
        h_plus: FloatArray | float,
        h_minus: FloatArray | float,
        values: FloatArray | None = None,
    ) -> FloatArray:
        """Round-off bound of central differences: ``2 eps_f / (h+ + h-)``.

        Parameters
        ----------
        h_plus, h_minus : float or ndarray, shape (n,)
            The steps on each side: of one column, or of every element.
        values : ndarray, shape (m,) or (m, n), optional
            The larger ``|f|`` of the two points. Each value is off by f's measured noise,
            and never by less than ``precision`` times the value itself: noise measured
            near x understates the rounding of values far larger at ``x ± h`` (f ~ |x|^2 at
            x ~ 1e-6 in float32, evaluated a step of 1e-2 away).

        Returns
        -------
        ndarray, shape (m,) for one column, (m, n) for every element
        """
        steps = np.asarray(h_plus + h_minus)
        noise = self.noise.reshape(self.noise.shape + (1,) * steps.ndim)
        bound = noise
        if values is not None:
            finite = np.where(np.isfinite(values), values, 0.0)
            bound = np.fmax(noise, self.precision * finite)
        result: FloatArray = 2.0 * bound / steps
        return result

    def tolerance(self, analytic: FloatArray, error: FloatArray) -> FloatArray:
        """Largest ``|analytic - numeric|`` that the errors explain, element-wise.

        Parameters
        ----------
        analytic : ndarray, shape (m, k)
        error : ndarray, shape (m, k)
            Estimated error of the numeric values.

        Returns
        -------
        ndarray, shape (m, k)
            ``SAFETY * (error + rounding of analytic) + atol + rtol * |analytic|``, where
            the analytic rounding is ``ANALYTIC_ROUNDING * precision * (|g| +
            conditioning)``: the element's own magnitude and conditioning only, so that
            no other element (one absurd entry, say) can loosen it.
        """
        magnitude = np.abs(analytic)
        finite = np.where(np.isfinite(magnitude), magnitude, 0.0)
        rounding = ANALYTIC_ROUNDING * self.precision * (finite + self.conditioning)
        return SAFETY * (error + rounding) + self.atol + self.rtol * finite

    def verdicts(
        self, analytic: FloatArray, numeric: FloatArray, error: FloatArray, scale: FloatArray
    ) -> tuple[NDArray[np.int8], FloatArray]:
        """OK, MISMATCH or INCONCLUSIVE for each element, and the tolerance used.

        Parameters
        ----------
        analytic, numeric, error : ndarray, shape (m, k)
        scale : ndarray, shape (m, 1)
            Largest gradient magnitude of each output, to judge negligible elements on.

        Returns
        -------
        verdicts : ndarray of int8, shape (m, k)
        tolerance : ndarray, shape (m, k)
            The gap a mismatch needs: ``UNCERTAIN_MISS`` times :meth:`tolerance` where the
            estimate is uncertain. Any error in the analytic value beyond it plus the
            numeric error is flagged, whatever the analytic value is.

        Notes
        -----
        An estimate is uncertain when its error exceeds ``INCONCLUSIVE_FRACTION`` of its
        scale (:meth:`element_scale`); that is judged on the estimate alone, never on the
        analytic value under test, so that what a check promises to catch does not
        depend on the value it is given. An uncertain estimate that agrees is
        inconclusive, and only a clear miss of it is a mismatch (it may be unconverged).
        """
        tol = self.tolerance(analytic, error)
        gap = np.abs(analytic - numeric)
        codes = np.full(analytic.shape, Verdict.OK, dtype=np.int8)
        uncertain = error > INCONCLUSIVE_FRACTION * self.element_scale(numeric, scale)
        codes[uncertain & (gap > 0)] = Verdict.INCONCLUSIVE
        codes[~np.isfinite(numeric) | ~np.isfinite(error)] = Verdict.INCONCLUSIVE
        reach = np.where(uncertain, UNCERTAIN_MISS * tol, tol)
        codes[(gap > reach) & np.isfinite(numeric)] = Verdict.MISMATCH
        codes[~np.isfinite(analytic)] = Verdict.MISMATCH
        return codes, reach

    def element_scale(self, numeric: FloatArray, scale: FloatArray) -> FloatArray:
        """The magnitude an estimate's error is judged against, shape (m, k): the
        estimate's own, its natural scale, or ``NEGLIGIBLE`` of the row's largest entry."""
        size = np.fmax(np.abs(numeric), NEGLIGIBLE * scale)
        result: FloatArray = np.fmax(size, self.natural)
        return result


def row_scale(gradient: FloatArray) -> FloatArray:
    """Largest finite gradient magnitude of each output, shape (m, 1): what an element's
    error is judged against where the element itself is negligible."""
    finite = np.where(np.isfinite(gradient), gradient, 0.0)
    scale: FloatArray = np.max(np.abs(finite), axis=1, keepdims=True)
    return scale
