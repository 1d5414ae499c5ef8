"""A reference numeric derivative from SciPy, to compare the engine's estimates with.

``method="scipy"`` computes the numeric side with :func:`scipy.differentiate.jacobian`,
an adaptive high-order finite-difference scheme that returns its own error estimates.
SciPy is imported only when this method is asked for.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from gradcheck._baseline import Baseline
from gradcheck._estimates import Estimates
from gradcheck._evaluation import Session

__all__ = ["scipy_jacobian", "scipy_reference"]

FloatArray = NDArray[np.float64]


def scipy_jacobian(
    evaluate: Callable[[FloatArray], FloatArray],
    x0: FloatArray,
    step: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Jacobian of ``evaluate`` at ``x0`` by :func:`scipy.differentiate.jacobian`.

    Parameters
    ----------
    evaluate : callable (ndarray of shape (n,)) -> ndarray of shape (m,)
        f at one flat point.
    x0 : ndarray, shape (n,)
    step : ndarray, shape (n,)
        The engine's central-difference steps; SciPy starts from 100 times these and
        shrinks them.
    lower, upper : ndarray, shape (n,)
        Bounds; elements whose first steps would cross one are differenced on one side.

    Returns
    -------
    numeric, error : ndarray, shape (m, n)
        SciPy's estimate and its error estimate.
    """
    from scipy.differentiate import jacobian

    initial = 100.0 * step
    direction = np.zeros(x0.size, dtype=int)
    direction[x0 + initial > upper] = -1
    direction[x0 - initial < lower] = 1
    initial = np.minimum(initial, np.maximum(upper - x0, x0 - lower) / 2)

    def batched(xi: FloatArray) -> FloatArray:
        points = xi.reshape(x0.size, -1)
        values = np.stack([evaluate(points[:, k]) for k in range(points.shape[1])], axis=-1)
        return values.reshape((values.shape[0], *xi.shape[1:]))

    result = jacobian(batched, x0, initial_step=initial, step_direction=direction)
    return np.asarray(result.df, dtype=np.float64), np.asarray(result.error, dtype=np.float64)


def scipy_reference(session: Session, baseline: Baseline) -> Estimates:
    """``method="scipy"``: SciPy's Jacobian as the numeric side, its error estimate
    floored by f's round-off at the engine's steps; the analytic gradient judged on it."""
    start, model, h = baseline.start, baseline.model, baseline.step
    numeric, error = scipy_jacobian(session.at_point, start.x0, h, baseline.lower, baseline.upper)
    error = np.maximum(error, model.roundoff(h, h))
    judged = model.verdicts(start.gradient, numeric, error, baseline.scale)
    return Estimates.unbracketed(start.gradient, numeric, error, judged, h, model.noise)
