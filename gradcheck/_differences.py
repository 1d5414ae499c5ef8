"""Finite differences: step sizes, central and one-sided differences, Richardson, noise.

Everything here is vectorised NumPy on values already computed; evaluating the model is
the engine's business.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "central_difference",
    "convergence_order",
    "estimate_noise",
    "extrapolation_gap",
    "one_sided_differences",
    "quadratic_slope",
    "relative_step",
    "representable_steps",
    "richardson_estimate",
    "richardson_roundoff",
]

FloatArray = NDArray[np.float64]


def relative_step(relative_noise: float) -> float:
    """The central-difference step, relative to the coordinate's scale.

    Parameters
    ----------
    relative_noise : float
        Error of one evaluation of f relative to ``|f|``: machine epsilon of the dtype the
        model computes in, or the measured noise level when that is larger.

    Returns
    -------
    float
        ``relative_noise ** (1/3)``.

    Notes
    -----
    The central difference ``D(h) = (f(x+h) - f(x-h)) / 2h`` has truncation error
    ``|f'''| h^2 / 6`` and round-off error up to ``eps_f / h`` (each of the two values is
    off by up to ``eps_f``). Their sum is smallest at ``h = (3 eps_f / |f'''|)^(1/3)``;
    with ``f'''`` unknown, scaling ``f`` and ``x`` to order one gives the usual
    ``h = eps^(1/3) * max(|x|, 1)`` [1]_, and both error terms are then about
    ``eps^(2/3)``: 3.7e-11 in float64 and 2.4e-5 in float32.

    References
    ----------
    .. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer,
       2006, section 8.1.

    Examples
    --------
    >>> round(relative_step(np.finfo(np.float64).eps), 8)
    6.06e-06
    """
    return float(float(relative_noise) ** (1.0 / 3.0))


def representable_steps(
    x0: FloatArray, h: FloatArray, dtype: np.dtype[Any]
) -> tuple[NDArray[Any], NDArray[Any], FloatArray, FloatArray]:
    """Points ``x0 ± h`` rounded to ``dtype``, and the steps actually taken.

    Parameters
    ----------
    x0 : ndarray of float64, shape (n,)
        Coordinates, each exactly representable in ``dtype``.
    h : ndarray of float64, shape (n,)
        Intended steps, positive.
    dtype : numpy floating dtype
        The dtype of the storage the points will be written to.

    Returns
    -------
    plus, minus : ndarray of ``dtype``, shape (n,)
        The points to evaluate at.
    h_plus, h_minus : ndarray of float64, shape (n,)
        ``plus - x0`` and ``x0 - minus``, the steps really taken. They are positive and
        may differ from ``h`` and from each other by an ulp of ``x0``.

    Notes
    -----
    Dividing by the intended step instead of the representable one is a classic source
    of spurious error: in float32 at ``x = 1000`` the ulp is 6e-5, so a step of 5e-3
    rounds by up to 1 %.

    Examples
    --------
    >>> plus, minus, hp, hm = representable_steps(np.array([1000.0]), np.array([5e-3]),
    ...                                           np.dtype(np.float32))
    >>> float(hp[0]) == float(plus[0]) - 1000.0
    True
    """
    spacing = np.spacing(np.abs(x0).astype(dtype)).astype(np.float64)
    h = np.maximum(h, 4.0 * spacing)
    # a whole number of ulps of the farther point: x0 + h and x0 - h are then both exact
    # and the steps equal (unequal ones add (h+ - h-) f'' / 2, which near a minimum is far
    # above f's round-off), except where x0 - h falls across a binade from x0
    unit = np.spacing((np.abs(x0) + h).astype(dtype)).astype(np.float64)
    h = np.maximum(np.round(h / unit), 1.0) * unit
    plus = (x0 + h).astype(dtype)
    minus = (x0 - h).astype(dtype)
    return plus, minus, plus.astype(np.float64) - x0, x0 - minus.astype(np.float64)


def central_difference(
    f_plus: FloatArray,
    f_minus: FloatArray,
    h_plus: FloatArray | float,
    h_minus: FloatArray | float,
) -> FloatArray:
    """Central difference ``(f(x+h+) - f(x-h-)) / (h+ + h-)``, column-wise.

    Parameters
    ----------
    f_plus, f_minus : ndarray, shape (m, n)
        Values at ``x + h+ e_i`` and ``x - h- e_i`` for each of ``m`` outputs.
    h_plus, h_minus : ndarray, shape (n,)
        Steps taken.

    Returns
    -------
    ndarray, shape (m, n)

    Notes
    -----
    With ``h+ = h-`` the truncation error is ``f''' h^2 / 6``; an unequal pair (they
    differ by at most an ulp of ``x``) adds ``(h+ - h-) f'' / 2``, far below the
    round-off term.

    Examples
    --------
    >>> central_difference(np.array([[4.0]]), np.array([[0.0]]), np.array([1.0]),
    ...                    np.array([1.0]))
    array([[2.]])
    """
    return (f_plus - f_minus) / (h_plus + h_minus)


def one_sided_differences(
    f_plus: FloatArray,
    f0: FloatArray,
    f_minus: FloatArray,
    h_plus: FloatArray | float,
    h_minus: FloatArray | float,
) -> tuple[FloatArray, FloatArray]:
    """Forward and backward differences ``(f+ - f0)/h+`` and ``(f0 - f-)/h-``.

    Parameters
    ----------
    f_plus, f_minus : ndarray, shape (m, k)
        Values at ``x ± h``.
    f0 : ndarray, shape (m, 1) or (m, k)
        Value at ``x``.
    h_plus, h_minus : ndarray, shape (k,)

    Returns
    -------
    forward, backward : ndarray, shape (m, k)

    Notes
    -----
    For smooth f, ``forward - backward = h f'' + O(h^3)`` shrinks with the step; at a
    kink it tends to the jump of the derivative instead. The engine uses that to tell
    kinks from wrong gradients.

    Examples
    --------
    >>> fwd, bwd = one_sided_differences(np.array([[1.0]]), np.array([[0.0]]),
    ...                                  np.array([[0.0]]), np.array([1.0]), np.array([1.0]))
    >>> float(fwd[0, 0]), float(bwd[0, 0])
    (1.0, 0.0)
    """
    return (f_plus - f0) / h_plus, (f0 - f_minus) / h_minus


def richardson_estimate(
    coarse: FloatArray, fine: FloatArray, ratio: float, order: float = 2.0
) -> tuple[FloatArray, FloatArray]:
    """Richardson extrapolation of two central differences, and an error estimate.

    Parameters
    ----------
    coarse, fine : ndarray
        Central differences with steps ``ratio * h`` and ``h``.
    ratio : float
        Step ratio, greater than 1.
    order : float, default 2
        Order ``p`` of the leading error term: 2 for central differences of a function
        whose third derivative exists at x, 1 where its second derivative jumps there
        (measured by :func:`convergence_order`).

    Returns
    -------
    estimate : ndarray
        ``fine + (fine - coarse) / (ratio^p - 1)``, which cancels the ``h^p`` term.
    truncation : ndarray
        ``|fine - coarse| / (ratio^p - 1)``: the estimated truncation error of ``fine``,
        used as a conservative bound on the error of ``estimate``.

    Notes
    -----
    ``D(h) = f' + c h^p + ...``, so ``D(rh) - D(h) = (r^p - 1) c h^p + ...``. Assuming
    ``p = 2`` where it is 1 makes the bound ``(r + 1)`` times too small. The bound is
    trustworthy only in the asymptotic range, which the engine checks separately (the
    one-sided gap must shrink in proportion to the step).

    Examples
    --------
    >>> f = np.sin
    >>> d = lambda h: (f(1 + h) - f(1 - h)) / (2 * h)
    >>> est, err = richardson_estimate(d(0.02), d(0.01), 2.0)
    >>> bool(abs(est - np.cos(1)) < 1e-8 < err)
    True
    """
    scale = ratio**order - 1.0
    return fine + (fine - coarse) / scale, np.abs(fine - coarse) / scale


def richardson_roundoff(
    coarse: FloatArray, fine: FloatArray, ratio: float, order: float = 2.0
) -> FloatArray:
    """Round-off bound of :func:`richardson_estimate`, from the bounds of its differences.

    Parameters
    ----------
    coarse, fine : ndarray
        Round-off bounds of the differences with steps ``ratio * h`` and ``h``.
    ratio, order : float
        As for :func:`richardson_estimate`.

    Returns
    -------
    ndarray
        ``(ratio^p fine + coarse) / (ratio^p - 1)``: the estimate weighs the fine
        difference by ``ratio^p / (ratio^p - 1)`` and the coarse one by ``1 / (ratio^p - 1)``.

    Examples
    --------
    >>> float(richardson_roundoff(np.float64(1.0), np.float64(2.0), 2.0))
    3.0
    """
    gain = ratio**order
    result: FloatArray = (gain * fine + coarse) / (gain - 1)
    return result


def quadratic_slope(
    f0: FloatArray, f1: FloatArray, f2: FloatArray, a1: float, a2: float
) -> tuple[FloatArray, float]:
    """Slope at 0 of the parabola through ``(0, f0)``, ``(a1, f1)``, ``(a2, f2)``.

    Returns
    -------
    slope : ndarray
        A one-sided difference of second order where ``a1, a2`` lie on one side.
    weight : float
        The sum of the weights' magnitudes: the slope's round-off is at most this times
        the values' noise.

    Examples
    --------
    >>> slope, weight = quadratic_slope(np.float64(0.0), np.float64(1.0), np.float64(4.0), 1, 2)
    >>> float(slope), weight  # x^2 at 0
    (0.0, 4.0)
    """
    w0 = -(1.0 / a1 + 1.0 / a2)
    w1 = a2 / (a1 * (a2 - a1))
    w2 = -a1 / (a2 * (a2 - a1))
    return w0 * f0 + w1 * f1 + w2 * f2, abs(w0) + abs(w1) + abs(w2)


def convergence_order(
    estimates: FloatArray, steps: FloatArray, noise: FloatArray
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Order of the truncation error, measured from three estimates at shrinking steps,
    and whether they converge at all.

    Parameters
    ----------
    estimates : ndarray, shape (3, m)
        Central differences ``D(s0), D(s1), D(s2)`` with ``s0 > s1 > s2``.
    steps : ndarray, shape (3,)
        The steps.
    noise : ndarray, shape (3, m)
        Round-off bound of each estimate.

    Returns
    -------
    order : ndarray, shape (m,)
        ``p`` in ``[1, 2]`` with ``D(s) - f' ~ c s^p``: 2 where the differences are
        consistent with second order or too close to their round-off to tell, less
        where they shrink more slowly.
    converging : ndarray of bool, shape (m,)
        False where the differences, beyond their round-off, shrink more slowly than
        first order, grow, or change sign: the steps are not yet in the asymptotic range,
        and no error estimate from them holds.

    Notes
    -----
    With ``D(s) = f' + c s^p``, ``(D(s0) - D(s1)) / (D(s1) - D(s2)) = (s0^p - s1^p) /
    (s1^p - s2^p)``, which grows monotonically with ``p``; it is solved by bisection.
    Where the second derivative of f jumps at x (``i1e`` at 0, a C1 spline's knot) the
    order is 1, and assuming 2 understates the error several-fold.

    Examples
    --------
    >>> s = np.array([2.0, 1.0, 0.25]) * 1e-3
    >>> d = (np.abs(1 + s) - np.abs(1 - s)) / (2 * s) + 0.3 * s  # exact slope 1, order 1
    >>> order, converging = convergence_order(d[:, None], s, np.zeros((3, 1)))
    >>> round(float(order[0]), 3), bool(converging[0])
    (1.0, True)
    """
    first = estimates[0] - estimates[1]
    second = estimates[1] - estimates[2]
    significant = (np.abs(first) > 2 * (noise[0] + noise[1])) & (
        np.abs(second) > 2 * (noise[1] + noise[2])
    )
    same_sign = first * second > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = first / second

    def ratio_at(p: float) -> float:
        s0, s1, s2 = (float(v) ** p for v in steps)
        return float((s0 - s1) / (s1 - s2))

    order = np.full(estimates.shape[1], 2.0)
    # a quarter's allowance on the first-order ratio: round-off in the differences
    converging = ~significant | (same_sign & (ratio >= 0.75 * ratio_at(1.0)))
    for k in np.flatnonzero(significant & same_sign & (ratio < ratio_at(2.0))):
        low, high = 1.0, 2.0
        if ratio[k] <= ratio_at(low):
            order[k] = low
            continue
        for _ in range(40):
            mid = 0.5 * (low + high)
            low, high = (mid, high) if ratio_at(mid) < ratio[k] else (low, mid)
        order[k] = low
    return order, converging


def estimate_noise(values: FloatArray) -> FloatArray | None:
    """Noise level of f from values at equally spaced points on a line (ECnoise).

    Parameters
    ----------
    values : ndarray, shape (k, m)
        ``f(x + j t v)`` for ``j = 0 .. k-1`` and each of ``m`` outputs; ``k`` from 7 to 9.

    Returns
    -------
    ndarray of shape (m,), or None
        The standard deviation of the noise in one evaluation of each output, NaN for an
        output whose table shows none at this spacing (too small: most differences are
        zero, or the values lie exactly on a polynomial, as rounding to a coarser dtype
        makes them; too large: the smooth part dominates every order); None when no
        output shows any.

    Notes
    -----
    The j-th differences of the smooth part of f shrink like ``t^j`` while those of
    noise with deviation ``sigma`` have mean square ``sigma^2 (2j)! / (j!)^2``. For each
    order j this gives an estimate ``sigma_j``; the noise level is the first ``sigma_j``
    that agrees within a factor 4 with the next two and whose differences change sign
    (Moré and Wild [1]_). The measured level, not machine epsilon, is what a model that
    computes in float32 inside, sums a million terms, or is random really has.

    References
    ----------
    .. [1] J. J. Moré and S. M. Wild, "Estimating computational noise", SIAM J. Sci.
       Comput. 33(3), 1292-1314, 2011.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> line = np.linspace(1.0, 1.0001, 9)[:, None]
    >>> sigma = estimate_noise(np.exp(line) + 1e-9 * rng.standard_normal((9, 1)))
    >>> bool(3e-10 < sigma[0] < 3e-9)
    True
    """
    levels = [_ecnoise(values[:, out]) for out in range(values.shape[1])]
    if all(level is None for level in levels):
        return None
    return np.array([np.nan if level is None else level for level in levels])


def extrapolation_gap(values: FloatArray, f0: FloatArray) -> FloatArray:
    """How far ``f0`` lies from the smooth continuation of values on one side of it.

    Parameters
    ----------
    values : ndarray, shape (k, m)
        ``f(x + j t v)`` for ``j = 1 .. k`` (k >= 3) and ``m`` outputs.
    f0 : ndarray, shape (m,)
        ``f(x)``.

    Returns
    -------
    ndarray, shape (m,)
        ``|f0 - p(0)|`` where ``p`` is the parabola through the three nearest values,
        ``p(0) = 3 f(t) - 3 f(2t) + f(3t)``: exact for quadratics, off by about
        ``t^3 |f'''|`` otherwise, and by about 4.4 standard deviations of independent noise.

    Notes
    -----
    Rounding errors need not be independent of the side: at a power of two the ulp of
    ``x`` (and of intermediates) changes, and a float32 model can be biased by several
    of its standard deviations differently on either side. A central difference straddles
    ``x``, so such a jump enters it like noise; ECnoise on one side cannot see it.

    Examples
    --------
    >>> j = np.arange(1.0, 10.0)[:, None]
    >>> extrapolation_gap(1.0 + 0.125 * j + 0.25 * j**2, np.array([1.5]))
    array([0.5])
    """
    continuation = 3.0 * (values[0] - f0) - 3.0 * (values[1] - f0) + (values[2] - f0)
    gap: FloatArray = np.abs(continuation)
    return gap


def _ecnoise(fval: FloatArray) -> float | None:
    # plain floats: the table is a handful of values, where NumPy calls cost more than math
    diffs = [float(v) for v in fval]
    order_max = len(diffs) - 1
    levels: list[float] = []
    sign_change: list[bool] = []
    gamma = 1.0
    for j in range(1, order_max + 1):
        diffs = [b - a for a, b in itertools.pairwise(diffs)]
        if j == 1 and sum(1 for d in diffs if d == 0) >= len(fval) / 2:
            return None  # spacing too small: the values barely change
        if j > 1 and not any(diffs):
            return None  # exactly polynomial on this grid: the noise is not visible here
        gamma *= 0.5 * j / (2 * j - 1)
        levels.append(math.sqrt(gamma * sum(d * d for d in diffs) / len(diffs)))
        sign_change.append(min(diffs) * max(diffs) < 0)
    for j in range(order_max - 2):
        window = levels[j : j + 3]
        if max(window) <= 4 * min(window) and sign_change[j]:
            # never more than the values' own spread: a table much too coarse for f
            # (aliasing) must not pass for noise larger than f varies
            return min(levels[j], float(np.ptp(fval)))
    return None
