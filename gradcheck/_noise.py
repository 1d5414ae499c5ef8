"""The noise level of f: how far one evaluation may be from the exact value.

Central differences lose digits to the round-off of f, and that round-off is a property of
the code, not of the dtype of its inputs: a model may take float64 and compute in float32,
sum a million terms, or be random. :class:`NoiseProbe` measures it where the differences
will be taken: tables of f along one random direction (every coordinate moved) and along
single coordinates, at tiny spacings, differenced to high order (ECnoise,
:func:`gradcheck._differences.estimate_noise`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gradcheck._differences import estimate_noise, extrapolation_gap
from gradcheck._errors import ModelError
from gradcheck._evaluation import Session
from gradcheck._lockstep import Task, run
from gradcheck._points import Line, Points

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

ALIASING_RATIO = 128.0**2
"""A noise level measured again at a 128 times finer spacing is aliasing only when it
drops by more than the square of that: rounding that grows with f's terms away from x0
(a minimum, where f and its terms vanish) drops at most that much."""

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
        self.moved: FloatArray | None = None  # f's change over the elements' own scales
        # each element's ulp at x0, in its parameter's own dtype
        self.ulps = np.concatenate(
            [
                np.spacing(np.abs(x0[stop - p.size : stop].astype(p.values.dtype))).astype(
                    np.float64
                )
                for p, stop in zip(
                    session.problem.parameters,
                    np.cumsum([p.size for p in session.problem.parameters]),
                    strict=True,
                )
            ]
        )

    def level(
        self, f0: FloatArray, g: FloatArray, spread: FloatArray, coordinates: bool = True
    ) -> FloatArray:
        """Bound on the error of one evaluation of each output.

        Measured along a random direction, and, with ``coordinates``, along single
        coordinates too (a full check differences along coordinates; fast mode along
        directions, and measures a coordinate's own noise where an element's verdict is
        close, as refinement does).

        At least the rounding unit of f's values times f's scale: its value, or, where f
        is near a root, what a step on each element's own scale changes it by. Terms of
        that size were added up to make f, and their rounding (correlated over short
        ranges, so a local table can miss it) does not shrink with f. The rounding unit is
        the dtype's, or a coarser one when every value f returned lies on that dtype's
        lattice (a float64 interface around a float32 computation). Never below half an
        ulp of f's own value, however small its scale (subnormal parameters).
        """
        self.seen = [f0]
        measured = run(self.session, self.across_task(f0))
        if coordinates:
            measured = _fmax_known(measured, run(self.session, self._ecnoise_task(f0, g)))
        sigma = spread if measured is None else np.nan_to_num(np.fmax(measured, spread))
        floor = np.maximum(self.precision() * self.f_scale(f0, g), 0.5 * np.spacing(np.abs(f0)))
        return np.maximum(NOISE_BOUND * sigma, floor)

    def precision(self) -> float:
        """Rounding unit of f's values: the coarsest dtype whose lattice holds them all."""
        values = np.concatenate([np.ravel(v) for v in self.seen]) if self.seen else None
        return lattice_precision(values, self.eps)

    def f_scale(self, f0: FloatArray, g: FloatArray) -> FloatArray:
        """Per output: |f0|, or what a step the size of each element's own scale changes
        f by, whichever is larger.

        That change is measured on the direction probe's tables (every coordinate moved
        by the same fraction of its own scale), so the analytic gradient under test never
        sets the scale its own elements are judged on; it is estimated from the gradient
        only where no such table could be taken.
        """
        if self.moved is not None:
            measured: FloatArray = np.maximum(np.abs(f0), self.moved)
            return measured
        finite_g = np.where(np.isfinite(g), np.abs(g), 0.0)
        # the median such change among the elements that move f: neither a pole (a huge
        # entry) nor one wrong tiny entry may set the scale every other element is judged on
        changes = np.where(finite_g > 0, finite_g * self.local_scale, np.nan)
        moving = np.any(finite_g > 0, axis=1)
        step_change = np.zeros(f0.shape)
        if moving.any():
            step_change[moving] = np.nanmedian(changes[moving], axis=1)
        scale: FloatArray = np.maximum(np.abs(f0), step_change)
        return scale

    def across_task(self, f0: FloatArray) -> Task[FloatArray | None]:
        """ECnoise along one random direction that moves every coordinate at once.

        Rounding along one coordinate can be far below f's: the terms it moves may be
        computed exactly (at a minimum, a coordinate that enters f only linearly), while
        another coordinate's terms round at every step. A direction that moves them all
        sees every term's rounding.
        """
        signs = self.rng.choice([-1.0, 1.0], size=self.x0.size)
        line = _Line(self, np.arange(self.x0.size), signs)
        measured, _ = yield from self._measure_task(line, f0, True)
        if line.reached:
            # f's change for a move of every coordinate by its own scale, from the farthest
            # point of each table (no coordinate moved by more than `relative` of its scale),
            # counted only beyond what the noise of two evaluations explains
            noise = (
                2.0
                * NOISE_BOUND
                * np.nan_to_num(np.zeros_like(f0) if measured is None else measured)
            )
            self.moved = np.max(
                [
                    np.maximum(np.abs(table[-1] - f0) - noise, 0.0) / (NOISE_POINTS * relative)
                    for relative, table in line.reached
                ],
                axis=0,
            )
        return measured

    def _ecnoise_task(self, f0: FloatArray, g: FloatArray) -> Task[FloatArray | None]:
        """ECnoise per output, along coordinates that move it (by the analytic gradient).

        Coordinates are taken in one random order drawn from the seed alone: the analytic
        gradient only skips those it says leave f unchanged, so a wrong entry can add a
        probe (which finds f flat) but never changes where the noise is measured.
        """
        noise = np.full(f0.shape, np.nan)
        order = self.rng.permutation(self.x0.size)
        tried = np.zeros(self.x0.size, dtype=bool)
        for _ in range(NOISE_ATTEMPTS + min(f0.size, NOISE_ATTEMPTS)):
            unknown = np.isnan(noise)
            if not unknown.any():
                break
            moves = np.any(g[unknown] != 0, axis=0)
            candidates = order[~tried[order] & (moves[order] if moves.any() else True)]
            if candidates.size == 0:
                break
            i = int(candidates[0])
            tried[i] = True
            level, _ = yield from self.along_task(i, f0, bool(np.any(g[:, i] != 0)))
            if level is not None:
                noise = np.fmax(noise, level)
        return None if np.all(np.isnan(noise)) else noise

    def along_task(
        self, i: int, f0: FloatArray, moves: bool
    ) -> Task[tuple[FloatArray | None, bool]]:
        """ECnoise along coordinate i, and whether f is constant along it.

        ``moves`` says whether the analytic gradient says f changes along i: a table that
        is flat although it should not be has a spacing below what f resolves, so it is
        widened (never beyond ``NOISE_EXTENT``) instead of read as independence.
        """
        return (yield from self._measure_task(_Line(self, np.array([i]), np.ones(1)), f0, moves))

    def _measure_task(
        self, line: _Line, f0: FloatArray, moves: bool
    ) -> Task[tuple[FloatArray | None, bool]]:
        """ECnoise along a line through x0, and whether f is constant along it.

        A table too fine for f is widened, one where f fails or is not finite brought
        closer. A level far above f's rounding is measured again at a spacing 128 times
        finer: noise is the same at both, while a function that oscillates faster than
        the spacing (aliasing) looks like noise only at the larger one.
        """
        spacing = NOISE_SPACING
        for _ in range(NOISE_ATTEMPTS):
            measured, tables = yield from self._noise_at_task(line, spacing, f0)
            if measured is not None:
                # only a level far above f's rounding can be aliasing: check it at finer
                # spacings, 128 times finer each, while they are resolvable (noise shows at
                # every spacing; aliasing drops once the table resolves the oscillation)
                rounding = ALIASING_SUSPECT * self.eps * float(np.max(np.abs(f0)))
                finer: FloatArray | None = measured
                finer_tables, fine = tables, spacing
                while (
                    finer is not None
                    and np.nanmax(finer) > rounding
                    and line.resolves(fine / 128)
                    and not np.any(finer < measured / ALIASING_RATIO)
                ):
                    # without the jump across x0: at a spacing the oscillation is barely
                    # resolved at, a parabola's extrapolation error is f's curvature
                    fine /= 128
                    finer, finer_tables = yield from self._noise_at_task(line, fine, f0, False)
                if fine == spacing:
                    return measured, False
                if finer is not None:
                    # near neighbours round alike, and where f's terms grow with the
                    # distance from x0 (f ~ 0 at a minimum) so does their rounding, at most
                    # as its square: only lower than that means the first was aliasing
                    aliased = finer < measured / ALIASING_RATIO
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
            if line.widest(spacing):
                return None, flat
            spacing *= 100.0 if flat or _too_fine(tables[0]) else 0.01
        return None, False

    def _noise_at_task(
        self, line: _Line, spacing: float, f0: FloatArray, jumps: bool = True
    ) -> Task[tuple[FloatArray | None, list[FloatArray]]]:
        """ECnoise from tables at a relative spacing on each side of x0 along a line (where
        the bounds allow), with the rounding jump across x0 unless ``jumps`` is false.

        A side where f raises or is not finite gives no table: noise is measured where f
        is defined, and the check retreats rather than fails.
        """
        # a table on each side of x0, never through it: a kink exactly at x0 (relu(0),
        # abs(0)) would pass for noise, and one just beside x0 spoils only one side
        tables = []
        step = line.step(spacing)
        sides = [side for side in (1.0, -1.0) if line.fits(side * NOISE_POINTS * step)]
        both: FloatArray | None = None
        if len(sides) == 2 and self.session.batches:
            # where points are evaluated in batches, both tables are asked for at once;
            # where f fails in one, each side again on its own, as below
            try:
                both = yield Points.concatenate([line.table(side, step) for side in sides])
            except ModelError:
                both = None
        for k, side in enumerate(sides):
            if both is not None:
                values = both[:, k * NOISE_POINTS : (k + 1) * NOISE_POINTS]
            else:
                try:
                    values = yield line.table(side, step)
                except ModelError:
                    continue
            table = np.ascontiguousarray(values.T)  # (NOISE_POINTS, m)
            if np.all(np.isfinite(table)):
                tables.append(table)
                self.seen.append(table)
                # the move actually made (at least NOISE_ULPS ulps), relative to each scale
                line.reached.append((float(np.max(np.abs(step) / line.scale)), table))
        levels = [lv for lv in map(estimate_noise, tables) if lv is not None]
        if not levels:
            return None, tables
        flat = [not np.any(np.diff(table, axis=0)) for table in tables]
        # exactly constant on one side (a kink just beside x0): no noise there
        noise: FloatArray = np.zeros_like(levels[0]) if any(flat) else np.fmax.reduce(levels)
        if not jumps:
            return noise, tables
        jump = np.max([extrapolation_gap(table, f0) for table in tables], axis=0)
        measured: FloatArray = np.where(np.isnan(noise), noise, np.fmax(noise, jump / NOISE_BOUND))
        return measured, tables


class _Line:
    """A line through x0 for noise tables: one coordinate, or a direction over several.

    Each coordinate on it moves by an odd number of its own ulps per point (see
    :func:`table_spacing`), in the direction of its sign, by a spacing relative to its
    own magnitude and never beyond ``NOISE_EXTENT`` of it.
    """

    def __init__(self, probe: NoiseProbe, index: NDArray[np.intp], signs: FloatArray) -> None:
        self.probe = probe
        self.index = index
        self.signs = signs
        x = probe.x0[index]
        self.ulp = probe.ulps[index]
        # each element's own magnitude: a table must be short on the scale f varies on
        self.scale: FloatArray = np.where(x != 0.0, np.abs(x), probe.local_scale[index])
        self.reached: list[tuple[float, FloatArray]] = []  # (relative spacing, table) taken

    def step(self, spacing: float) -> FloatArray:
        """The signed per-coordinate step for a relative spacing."""
        widest = NOISE_EXTENT * self.scale / NOISE_POINTS
        targets = np.minimum(spacing * self.scale, widest)
        step: FloatArray = self.signs * table_spacing(targets, self.ulp)
        return step

    def resolves(self, spacing: float) -> bool:
        """Whether every coordinate's step at this spacing is at least NOISE_ULPS ulps."""
        return bool(np.all(spacing * self.scale >= NOISE_ULPS * self.ulp))

    def widest(self, spacing: float) -> bool:
        """Whether the relative spacing already reaches the table's farthest extent."""
        return spacing * NOISE_POINTS >= NOISE_EXTENT

    def fits(self, offset: FloatArray) -> bool:
        """Whether x0 + offset lies inside the bounds."""
        point = self.probe.x0[self.index] + offset
        inside = (self.probe.lower[self.index] <= point) & (point <= self.probe.upper[self.index])
        return bool(np.all(inside))

    def table(self, side: float, step: FloatArray) -> Points:
        """The points ``x0 + side j step`` for j = 1 .. NOISE_POINTS."""
        x0 = self.probe.x0
        if self.index.size == 1:
            i = int(self.index[0])
            points = [float(x0[i] + (side * j * step)[0]) for j in range(1, NOISE_POINTS + 1)]
            return Points.coordinates(np.full(NOISE_POINTS, i), np.array(points))
        direction = np.zeros_like(x0)
        direction[self.index] = step
        line = Line(x0, direction, "at a point of the noise probe")
        return Points.along(line, np.array([side * j for j in range(1, NOISE_POINTS + 1)]))


def _fmax_known(a: FloatArray | None, b: FloatArray | None) -> FloatArray | None:
    """The larger of two measurements where either is known (NaN where neither is)."""
    if a is None or b is None:
        return a if b is None else b
    result: FloatArray = np.fmax(a, b)
    return result


def table_spacing(target: FloatArray, ulp: FloatArray) -> FloatArray:
    """Noise-table spacings near ``target``: an odd number of ulps of each coordinate.

    Every point ``x0 + j t`` is then exactly representable (within x0's binade), and the
    spacing is commensurate with no coarser binary lattice: a power of two would step
    exactly over the float32 rounding of x inside f, whose stairs then pass for a
    straight line.

    Examples
    --------
    >>> t = table_spacing(np.array([1e-6]), np.array([2.0**-52]))
    >>> int(t[0] / 2.0**-52) % 2, bool(abs(t[0] - 1e-6) < 1e-15)
    (1, True)
    """
    # count in a power-of-two unit no finer than x0's ulp (at x0 = 0 that ulp is
    # subnormal; 2**-40 of the target is as fine as any lattice that matters)
    unit = np.maximum(ulp, np.ldexp(1.0, np.frexp(target)[1] - 40))
    units = np.maximum(np.round(target / unit), np.where(unit == ulp, NOISE_ULPS, 1))
    odd: FloatArray = np.where(units % 2 == 0, units + 1, units) * unit
    return odd


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
