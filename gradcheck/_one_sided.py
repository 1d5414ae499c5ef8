"""One-sided differences: next to a bound, and where f is undefined on one side.

Central differences need room on both sides of x0. Next to a bound (``bounds=``) or a
domain edge inside the step (``log`` near 0, ``logit`` near 1), gradcheck fits parabolas
through f0 and points on the side with room, and extrapolates their slopes (Richardson)
until the estimate settles.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gradcheck._differences import quadratic_slope, richardson_estimate, richardson_roundoff
from gradcheck._lockstep import Task
from gradcheck._pairs import Column, Level, Target
from gradcheck._steps import Steps
from gradcheck._tolerance import Verdict

__all__ = ["BOUND_MARGIN", "OneSided", "one_side_undefined"]

FloatArray = NDArray[np.float64]

MAX_SIDED_LEVELS = 10
"""Step levels tried for a one-sided estimate at a bound: h, h/4, ..., h/4**9."""

BOUND_MARGIN = 2.5
"""Central differences need this many steps of room to each bound (the screen uses 2h)."""

NearSide = tuple[FloatArray, FloatArray, float, float]
"""f at the two nearest points on one side of x0, and their signed offsets."""


def one_side_undefined(level: Level) -> bool:
    """Whether f is finite on exactly one side of a level, in every output."""
    plus, minus = np.all(np.isfinite(level.f_plus)), np.all(np.isfinite(level.f_minus))
    return bool(plus != minus)


class OneSided:
    """One-sided estimates and verdicts for single elements.

    Parameters
    ----------
    steps : Steps
        Representable points around x0, and f at them.
    lower, upper : ndarray, shape (n,)
        The bounds.
    noise : ndarray, shape (m,)
        f's round-off level.
    """

    def __init__(
        self, steps: Steps, lower: FloatArray, upper: FloatArray, noise: FloatArray
    ) -> None:
        self.steps = steps
        self.lower = lower
        self.upper = upper
        self.noise = noise

    def screen_points(
        self,
        sided: NDArray[np.bool_],
        h: FloatArray,
        points: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """The screen's points ``(plus, minus, h_plus, h_minus)`` with the elements next to
        a bound moved to x + s h and x + 2 s h on the side with room.

        ``h_plus`` and ``h_minus`` then hold the signed offsets of those two points.
        """
        plus, minus, h_plus, h_minus = (array.copy() for array in points)
        x0 = self.steps.x0
        for i in np.flatnonzero(sided):
            up, down = self.upper[i] - x0[i], x0[i] - self.lower[i]
            direction = 1.0 if up >= down else -1.0
            step = min(h[i], max(up, down) / 8.0)
            plus[i], h_plus[i] = self.steps.toward(int(i), step, direction)
            minus[i], h_minus[i] = self.steps.toward(int(i), 2 * step, direction)
        return plus, minus, h_plus, h_minus

    def column_task(self, target: Target, points: NearSide) -> Task[Column]:
        """Verdicts from one side of x0, from f at the two nearest points there."""
        estimate, err, settled = yield from self._estimate(target.index, target.f0, *points)
        codes, tol = target.verdicts(estimate, err)
        if not settled:  # never reached the asymptotic range: no verdict either way
            codes[:] = Verdict.INCONCLUSIVE
            tol[:] = np.inf  # no gap could be called a mismatch
        nan = np.full_like(target.analytic, np.nan)
        return Column(estimate, err, tol, codes, nan, nan)

    def toward_defined_side_task(self, target: Target, level: Level) -> Task[Column]:
        """One-sided verdicts where f is not finite on one side of a level (a domain edge
        inside the step: ``logit`` near 1, ``arccosh`` near 1)."""
        i, steps = target.index, self.steps
        direction = -1.0 if np.all(np.isfinite(level.f_minus)) else 1.0
        step = float(level.h_plus if direction > 0 else level.h_minus)
        bad = level.f_plus if direction < 0 else level.f_minus
        value = bad[~np.isfinite(bad)][0]
        x0 = steps.x0[i]
        where = x0 + level.h_plus if direction < 0 else x0 - level.h_minus
        steps.session.warnings.append(
            f"f is {value} at {steps.label(i)} = {float(where)!r} (a step of "
            f"{step:.3g} from the start): {steps.label(i)} was differenced from "
            "the other side only"
        )
        near, a1 = steps.toward(i, step, direction)
        far, a2 = steps.toward(i, 2.0 * step, direction)
        values = yield from steps.values_task(i, [near, far])
        sides = (values[:, 0].copy(), values[:, 1].copy(), a1, a2)
        return (yield from self.column_task(target, sides))

    def _estimate(
        self, i: int, f0: FloatArray, f_near: FloatArray, f_far: FloatArray, a1: float, a2: float
    ) -> Task[tuple[FloatArray, FloatArray, bool]]:
        """Second-order one-sided estimate, its error, and whether it settled.

        Parabolas through f0 and the points at s, 2s, 4s, 8s give slopes D(s), D(2s),
        D(4s) whose differences shrink fourfold per doubling in the asymptotic range;
        until they do (a singularity at the bound, say), s shrinks fourfold.
        """
        if a1 == 0.0 or a2 == a1:  # no room at all: the variable is fixed by its bounds
            nan = np.full_like(f0, np.nan)
            return nan, nan, False
        direction = 1.0 if a1 > 0 else -1.0
        known = {abs(a1): f_near, abs(a2): f_far}
        s = abs(a1)
        for _ in range(MAX_SIDED_LEVELS):
            # the points at s, 2s, 4s and 8s on the side with room; those not known yet
            # are asked for together, nearest first
            towards = [self.steps.toward(i, k * s, direction) for k in (1.0, 2.0, 4.0, 8.0)]
            missing: dict[float, float] = {}
            for point, signed in towards:
                if abs(signed) not in known:
                    missing.setdefault(abs(signed), point)
            if missing:
                values = yield from self.steps.values_task(i, list(missing.values()))
                for j, distance in enumerate(missing):
                    known[distance] = values[:, j].copy()
            (b1, f1), (b2, f2), (b4, f4), (b8, f8) = (
                (signed, known[abs(signed)]) for _, signed in towards
            )
            d1, w1 = quadratic_slope(f0, f1, f2, b1, b2)
            d2, w2 = quadratic_slope(f0, f2, f4, b2, b4)
            d4, w4 = quadratic_slope(f0, f4, f8, b4, b8)
            estimate, truncation = richardson_estimate(d2, d1, 2.0)
            roundoff = richardson_roundoff(self.noise * w2, self.noise * w1, 2.0)
            noise_12 = self.noise * (w1 + w2)
            noise_24 = self.noise * (w2 + w4)
            change_fine, change_coarse = d2 - d1, d4 - d2
            settled = np.abs(change_coarse - 4.0 * change_fine) <= (
                noise_24 + 4.0 * noise_12 + 0.25 * np.abs(4.0 * change_fine)
            )
            if np.all(settled & np.isfinite(estimate)):
                return estimate, truncation + roundoff, True
            s /= 4.0
        return d1, np.abs(d2 - d1) + np.abs(d4 - d2) + self.noise * w1, False
