"""The noise level of f: how far one evaluation may be from the exact value.

Central differences lose digits to the round-off of f, and that round-off is a property of
the code, not of the dtype of its inputs: a model may take float64 and compute in float32,
sum a million terms, or be random. :class:`NoiseProbe` measures it where the differences
will be taken: tables of f along single coordinates at tiny spacings, differenced to high
order (ECnoise, :func:`gradcheck.differences.estimate_noise`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from gradcheck.differences import estimate_noise, extrapolation_gap
from gradcheck.errors import ModelError
from gradcheck.evaluation import Session

__all__ = ["NOISE_BOUND", "NoiseProbe", "lattice_precision", "table_spacing"]

FloatArray = NDArray[np.float64]

NOISE_SPACING = 1e-6
"""First spacing of the noise probe, relative to the coordinate's scale."""

NOISE_ULPS = 64
"""Least spacing of the noise probe in ulps of the coordinate: points only a few ulps
apart round alike, and their differences understate the noise (seen: 10x in float32)."""

NOISE_POINTS = 9
"""The noise probe evaluates f at x0 + j t e_i for j = 1 .. 9."""

NOISE_BOUND = 3.0
"""Bound on the error of one evaluation, in standard deviations of the measured noise."""

NOISE_ATTEMPTS = 3
"""Noise probes tried before falling back to machine precision alone."""

NOISE_EXTENT = 1e-3
"""Farthest a noise table reaches from x0, relative to the coordinate's scale: a few steps
of a float32 model, so that a domain-checking f is never evaluated far from the point."""

LATTICE_BITS = 16
"""A value lies on float32's lattice by chance only if its mantissa is short: values need
more than this many significant bits before their lattice says anything (so float16 and
bfloat16, with 11 and 8, cannot be told from dyadic float64 values this way)."""

ALIASING_SUSPECT = 1e3
"""A measured noise level above this many ulps of f is checked for aliasing."""


class NoiseProbe:
    """Measures the noise of f around the start point ``x0``.

    Parameters
    ----------
    session : Session
        Evaluates f with one element perturbed.
    x0, lower, upper : ndarray, shape (n,)
        The start point and the bounds no evaluation may cross.
    local_scale : ndarray, shape (n,)
        Each element's own scale.
    eps : float
        Machine epsilon of the model's dtype.
    rng : numpy.random.Generator
        Chooses the coordinates to probe.
    """

    def __init__(
        self,
        session: Session,
        x0: FloatArray,
        lower: FloatArray,
        upper: FloatArray,
        local_scale: FloatArray,
        eps: float,
        rng: np.random.Generator,
    ) -> None:
        self.session = session
        self.x0 = x0
        self.lower = lower
        self.upper = upper
        self.local_scale = local_scale
        self.eps = eps
        self.rng = rng
        self.seen: list[FloatArray] = []

    def level(self, f0: FloatArray, g: FloatArray, spread: FloatArray) -> FloatArray:
        """Bound on the error of one evaluation of each output.

        At least the rounding unit of f's values times f's scale: its value, or, where f
        is near a root, what a step on each element's own scale changes it by. Terms of
        that size were added up to make f, and their rounding (correlated over short
        ranges, so a local table can miss it) does not shrink with f. The rounding unit is
        the dtype's, or a coarser one when every value f returned lies on that dtype's
        lattice (a float64 interface around a float32 computation). Never below half an
        ulp of f's own value, however small its scale (subnormal parameters).
        """
        self.seen = [f0]
        measured = self._ecnoise(f0, g)
        sigma = spread if measured is None else np.nan_to_num(np.fmax(measured, spread))
        floor = np.maximum(self.precision() * self.f_scale(f0, g), 0.5 * np.spacing(np.abs(f0)))
        return np.maximum(NOISE_BOUND * sigma, floor)

    def precision(self) -> float:
        """Rounding unit of f's values: the coarsest dtype whose lattice holds them all."""
        values = np.concatenate([np.ravel(v) for v in self.seen]) if self.seen else None
        return lattice_precision(values, self.eps)

    def f_scale(self, f0: FloatArray, g: FloatArray) -> FloatArray:
        """Per output: |f0|, or what a step the size of each element's own scale changes
        f by, whichever is larger."""
        finite_g = np.where(np.isfinite(g), np.abs(g), 0.0)
        # the smallest such change among the elements that move f: a pole (a huge entry)
        # must not make f look huge
        changes = np.where(finite_g > 0, finite_g * self.local_scale, np.inf)
        step_change = np.min(changes, axis=1, initial=np.inf)
        step_change[~np.isfinite(step_change)] = 0.0
        scale: FloatArray = np.maximum(np.abs(f0), step_change)
        return scale

    def _ecnoise(self, f0: FloatArray, g: FloatArray) -> FloatArray | None:
        """ECnoise per output, along coordinates that move it (by the analytic gradient)."""
        noise = np.full(f0.shape, np.nan)
        tried: set[int] = set()
        for _ in range(NOISE_ATTEMPTS + min(f0.size, NOISE_ATTEMPTS)):
            unknown = np.isnan(noise)
            if not unknown.any():
                break
            moving = np.flatnonzero(np.any(g[unknown] != 0, axis=0))
            candidates = np.setdiff1d(
                moving if moving.size else np.arange(self.x0.size), list(tried)
            )
            if candidates.size == 0:
                break
            i = int(self.rng.choice(candidates))
            tried.add(i)
            level, _ = self.along(i, f0, bool(np.any(g[:, i] != 0)))
            if level is not None:
                noise = np.fmax(noise, level)
        return None if np.all(np.isnan(noise)) else noise

    def along(self, i: int, f0: FloatArray, moves: bool) -> tuple[FloatArray | None, bool]:
        """ECnoise along coordinate i, and whether f is constant along it.

        ``moves`` says whether the analytic gradient says f changes along i: a table that
        is flat although it should not be has a spacing below what f resolves, so it is
        widened (never beyond ``NOISE_EXTENT``) instead of read as independence.

        A level far above f's rounding is measured again at a spacing 128 times finer:
        noise is the same at both, while a function that oscillates faster than the
        spacing (aliasing) looks like noise only at the larger one.
        """
        x = float(self.x0[i])
        ulp = float(np.spacing(np.abs(np.asarray(x, dtype=self.session.owner[i][0].values.dtype))))
        spacing = NOISE_SPACING
        # the element's own magnitude: the table must be short on the scale f varies on
        scale = abs(x) if x != 0.0 else float(self.local_scale[i])
        widest = NOISE_EXTENT * scale / NOISE_POINTS
        for _ in range(NOISE_ATTEMPTS):
            t = table_spacing(min(spacing * scale, widest), ulp)
            measured, tables = self._noise_at(i, t, f0)
            if measured is not None:
                # only a level far above f's rounding can be aliasing: check it at a
                # finer spacing (noise shows at every spacing, aliasing does not)
                rounding = ALIASING_SUSPECT * self.eps * float(np.max(np.abs(f0)))
                if t / 128 < NOISE_ULPS * ulp or np.nanmax(measured) <= rounding:
                    return measured, False
                # without the jump across x0: at a spacing the oscillation is barely
                # resolved at, a parabola's extrapolation error is f's curvature, not noise
                finer, finer_tables = self._noise_at(i, table_spacing(t / 128, ulp), f0, False)
                if finer is not None:
                    # near neighbours round alike, so a finer table reads somewhat lower;
                    # only orders of magnitude lower means the first level was aliasing
                    aliased = finer < measured / 100
                    return np.where(aliased, finer, measured), False
                # noise shows at every spacing: if the finer tables are smooth (not merely
                # below the resolution of a coarser dtype inside f: equal or exactly linear
                # values) and far smoother than the level found, that level was f varying
                # faster than the spacing
                if not finer_tables or any(map(_too_fine, finer_tables)):
                    return measured, False
                wiggle = max(float(np.ptp(np.diff(tb, n=4, axis=0))) for tb in finer_tables)
                if wiggle >= 0.1 * float(np.nanmax(measured)):
                    return measured, False
                spacing /= 128.0 * 100.0
                continue
            if not tables:  # f failed, or was not finite, at a table point: come closer
                spacing /= 100.0
                continue
            flat = all(not np.any(np.diff(table, axis=0)) for table in tables)
            if flat and not moves:
                return None, True  # f does not depend on this coordinate (or bounds pin it)
            if t >= widest:
                return None, flat
            spacing *= 100.0 if flat or _too_fine(tables[0]) else 0.01
        return None, False

    def _noise_at(
        self, i: int, t: float, f0: FloatArray, jumps: bool = True
    ) -> tuple[FloatArray | None, list[FloatArray]]:
        """ECnoise from tables at spacing t on each side of x0 (where the bounds allow),
        with the rounding jump across x0 unless ``jumps`` is false.

        A side where f raises or is not finite gives no table: noise is measured where f
        is defined, and the check retreats rather than fails.
        """
        x = float(self.x0[i])
        # a table on each side of x0, never through it: a kink exactly at x0 (relu(0),
        # abs(0)) would pass for noise, and one just beside x0 spoils only one side
        tables = []
        for side in (1.0, -1.0):
            if not self.lower[i] <= x + side * NOISE_POINTS * t <= self.upper[i]:
                continue
            try:
                table = np.stack(
                    [self.session.at(i, x + side * j * t) for j in range(1, NOISE_POINTS + 1)]
                )
            except ModelError:
                continue
            if np.all(np.isfinite(table)):
                tables.append(table)
                self.seen.append(table)
        levels = [lv for lv in map(estimate_noise, tables) if lv is not None]
        if not levels:
            return None, tables
        flat = [not np.any(np.diff(table, axis=0)) for table in tables]
        # exactly constant on one side (a kink just beside x0): no noise there
        noise: FloatArray = np.zeros_like(levels[0]) if any(flat) else np.fmax.reduce(levels)
        # a rounding bias that differs across x0 acts as noise on every difference
        if not jumps:
            return noise, tables
        jump = np.max([extrapolation_gap(table, f0) for table in tables], axis=0)
        measured: FloatArray = np.where(np.isnan(noise), noise, np.fmax(noise, jump / NOISE_BOUND))
        return measured, tables


def table_spacing(target: float, ulp: float) -> float:
    """A noise-table spacing near ``target``: an odd number of ulps of the coordinate.

    Every point ``x0 + j t`` is then exactly representable (within x0's binade), and the
    spacing is commensurate with no coarser binary lattice: a power of two would step
    exactly over the float32 rounding of x inside f, whose stairs then pass for a
    straight line.
    """
    # count in a power-of-two unit no finer than x0's ulp (at x0 = 0 that ulp is
    # subnormal; 2**-40 of the target is as fine as any lattice that matters)
    unit = max(ulp, 2.0 ** (math.frexp(target)[1] - 40))
    units = max(round(target / unit), NOISE_ULPS if unit == ulp else 1)
    return float((units | 1) * unit)


def lattice_precision(values: FloatArray | None, eps: float) -> float:
    """Rounding unit of a set of f's values: ``eps``, or that of a coarser dtype.

    Every value exactly representable in float32 (and some with more significant bits
    than a chance coincidence allows) means f rounds to float32 somewhere, whatever
    dtype it returns: its values are then never finer than float32's epsilon.

    Examples
    --------
    >>> eps = float(np.finfo(np.float64).eps)
    >>> lattice_precision(np.array([1.0 / 3.0]), eps) == eps
    True
    >>> lattice_precision(np.array([float(np.float32(1.0 / 3.0))]), eps)
    1.1920928955078125e-07
    """
    if values is None:
        return eps
    finite = values[np.isfinite(values) & (values != 0)]
    if finite.size == 0:
        return eps
    mantissa, _ = np.frexp(finite)
    # significant bits of each value: 53 less the trailing zeros of its mantissa
    bits = np.array([53 - _trailing_zeros(int(m * 2.0**53)) for m in np.abs(mantissa)])
    single = np.finfo(np.float32)
    if LATTICE_BITS < bits.max() <= single.nmant + 1 and float(single.eps) > eps:
        return float(single.eps)
    return eps  # short mantissas (dyadic values) sit on every lattice by chance


def _trailing_zeros(k: int) -> int:
    return (k & -k).bit_length() - 1


def _too_fine(table: FloatArray) -> bool:
    """Whether a noise table's spacing is below what f resolves: the values barely change,
    or change by exactly equal steps (rounding to a coarser dtype inside f)."""
    unchanged = np.count_nonzero(np.diff(table, axis=0) == 0)
    exact = not np.any(np.diff(table, n=2, axis=0)) or not np.any(np.diff(table, n=3, axis=0))
    return bool(exact or unchanged >= table.size / 2)
