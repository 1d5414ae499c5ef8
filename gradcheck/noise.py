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
from gradcheck.evaluation import Session

__all__ = ["NOISE_BOUND", "NoiseProbe"]

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

    def level(self, f0: FloatArray, g: FloatArray, spread: FloatArray) -> FloatArray:
        """Bound on the error of one evaluation of each output.

        At least machine epsilon times f's scale: its value, or, where f is near a root,
        what a step on each element's own scale changes it by. Terms of that size were
        added up to make f, and their rounding (correlated over short ranges, so a local
        table can miss it) does not shrink with f.
        """
        measured = self._ecnoise(f0, g)
        sigma = spread if measured is None else np.nan_to_num(np.fmax(measured, spread))
        return np.maximum(NOISE_BOUND * sigma, self.eps * self.f_scale(f0, g))

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
            level, _ = self.along(i, f0)
            if level is not None:
                noise = np.fmax(noise, level)
        return None if np.all(np.isnan(noise)) else noise

    def along(self, i: int, f0: FloatArray) -> tuple[FloatArray | None, bool]:
        """ECnoise along coordinate i, and whether f is constant along it.

        A level far above f's rounding is measured again at a spacing 128 times finer:
        noise is the same at both, while a function that oscillates faster than the
        spacing (aliasing) looks like noise only at the larger one.
        """
        x = float(self.x0[i])
        ulp = float(np.spacing(np.abs(np.asarray(x, dtype=self.session.owner[i][0].values.dtype))))
        spacing = NOISE_SPACING
        # the element's own magnitude: the table must be short on the scale f varies on
        scale = abs(x) if x != 0.0 else float(self.local_scale[i])
        for _ in range(NOISE_ATTEMPTS):
            # a power-of-two spacing keeps every point exactly representable; at least
            # NOISE_ULPS apart, so that the rounding errors of neighbours are independent
            t = max(2.0 ** math.floor(math.log2(spacing * scale)), NOISE_ULPS * ulp)
            measured, tables = self._noise_at(i, t, f0)
            if measured is not None:
                # only a level far above f's rounding can be aliasing: check it at a
                # finer spacing (noise shows at every spacing, aliasing does not)
                rounding = ALIASING_SUSPECT * self.eps * float(np.max(np.abs(f0)))
                if t / 128 < NOISE_ULPS * ulp or np.nanmax(measured) <= rounding:
                    return measured, False
                finer, finer_tables = self._noise_at(i, t / 128, f0)
                if finer is not None:
                    # near neighbours round alike, so a finer table reads somewhat lower;
                    # only orders of magnitude lower means the first level was aliasing
                    aliased = finer < measured / 100
                    return np.where(aliased, finer, measured), False
                # noise shows at every spacing: if the finer tables are smooth (not merely
                # below the resolution of a coarser dtype inside f: equal or exactly linear
                # values) and far smoother than the level found, that level was f varying
                # faster than the spacing
                if any(map(_too_fine, finer_tables)):
                    return measured, False
                wiggle = max(float(np.ptp(np.diff(tb, n=4, axis=0))) for tb in finer_tables)
                if wiggle >= 0.1 * float(np.nanmax(measured)):
                    return measured, False
                spacing /= 128.0 * 100.0
                continue
            if all(not np.any(np.diff(table, axis=0)) for table in tables):
                return None, True  # f does not depend on this coordinate (or bounds pin it)
            spacing *= 100.0 if _too_fine(tables[0]) else 0.01
        return None, False

    def _noise_at(
        self, i: int, t: float, f0: FloatArray
    ) -> tuple[FloatArray | None, list[FloatArray]]:
        """ECnoise from tables at spacing t on each side of x0 (where the bounds allow)."""
        s = self.session
        x = float(self.x0[i])
        # a table on each side of x0, never through it: a kink exactly at x0 (relu(0),
        # abs(0)) would pass for noise, and one just beside x0 spoils only one side
        tables = [
            np.stack([s.at(i, x + side * j * t) for j in range(1, NOISE_POINTS + 1)])
            for side in (1.0, -1.0)
            if self.lower[i] <= x + side * NOISE_POINTS * t <= self.upper[i]
        ]
        levels = [lv for lv in map(estimate_noise, tables) if lv is not None]
        if not levels:
            return None, tables
        flat = [not np.any(np.diff(table, axis=0)) for table in tables]
        # exactly constant on one side (a kink just beside x0): no noise there
        noise: FloatArray = np.zeros_like(levels[0]) if any(flat) else np.fmax.reduce(levels)
        # a rounding bias that differs across x0 acts as noise on every difference
        jump = np.max([extrapolation_gap(table, f0) for table in tables], axis=0)
        measured: FloatArray = np.where(np.isnan(noise), noise, np.fmax(noise, jump / NOISE_BOUND))
        return measured, tables


def _too_fine(table: FloatArray) -> bool:
    """Whether a noise table's spacing is below what f resolves: the values barely change,
    or change by exactly equal steps (rounding to a coarser dtype inside f)."""
    unchanged = np.count_nonzero(np.diff(table, axis=0) == 0)
    exact = not np.any(np.diff(table, n=2, axis=0)) or not np.any(np.diff(table, n=3, axis=0))
    return bool(exact or unchanged >= table.size / 2)
