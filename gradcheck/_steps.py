"""Steps around the start point that the parameters' dtypes can represent, and f there.

Every difference gradcheck takes is between points that exist in the parameter's own
dtype: ``x0 + h`` rounded to float32 is generally not ``x0 + h``, so the steps actually
taken (``h_plus``, ``h_minus``) are what the differences divide by.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gradcheck._differences import representable_steps
from gradcheck._evaluation import Session
from gradcheck._lockstep import Task, run
from gradcheck._pairs import Level
from gradcheck._points import Points

__all__ = ["Steps"]

FloatArray = NDArray[np.float64]


class Steps:
    """Representable points ``x0 ± h`` per element, and f at them along one coordinate.

    Refinement sees f only through lines: line ``i`` starts at ``x0[i]``, and
    :meth:`values_task` asks for f at points on it (a :data:`~gradcheck._lockstep.Task`, so
    that many lines' points can be evaluated as one batch); :meth:`value_at` evaluates one
    at once. Here the lines are the coordinate axes; fast mode's lines are random
    directions (:class:`gradcheck._fast.DirectionSteps`).

    Parameters
    ----------
    session : Session
        Evaluates f with one element moved.
    x0 : ndarray, shape (n,)
        The start point, as float64.
    """

    def __init__(self, session: Session, x0: FloatArray) -> None:
        self.session = session
        self.x0 = x0

    def around(self, h: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """For every element: the points ``x0 ± h`` and the steps to them, as float64."""
        problem = self.session.problem
        offsets = problem.offsets
        parts = [
            representable_steps(self.x0[start:stop], h[start:stop], p.values.dtype)
            for p, start, stop in zip(problem.parameters, offsets[:-1], offsets[1:], strict=True)
        ]
        plus, minus, h_plus, h_minus = (
            np.concatenate([np.asarray(part[k], dtype=np.float64) for part in parts])
            for k in range(4)
        )
        return plus, minus, h_plus, h_minus

    def one(self, i: int, h: float) -> tuple[float, float, float, float]:
        """For element i: the points ``x0 ± h`` and the steps to them."""
        dtype = self.session.owner(i)[0].values.dtype
        plus, minus, hp, hm = representable_steps(self.x0[i : i + 1], np.array([h]), dtype)
        return float(plus[0]), float(minus[0]), float(hp[0]), float(hm[0])

    def toward(self, i: int, h: float, direction: float) -> tuple[float, float]:
        """The representable point about h from x0 on one side, and its signed offset."""
        plus, minus, h_plus, h_minus = self.one(i, h)
        return (plus, h_plus) if direction > 0 else (minus, -h_minus)

    def values_task(self, i: int, points: list[float]) -> Task[FloatArray]:
        """f at each point on line i, shape (m, len(points)): here, element i set to it."""
        values: FloatArray = yield Points.coordinates(np.full(len(points), i), np.array(points))
        return values

    def value_at(self, i: int, point: float) -> FloatArray:
        """f at ``point`` on line i, evaluated now."""
        values = run(self.session, self.values_task(i, [point]))
        return values[:, 0].copy()

    def label(self, i: int) -> str:
        """Line i's name in a message: the element's, e.g. ``W1[3, 2]``."""
        return self.session.label(i)

    def levels_task(self, i: int, h: float, mults: list[float]) -> Task[list[Level]]:
        """f at ``x0 ± mult h`` along line i for each mult: two evaluations per level, all
        asked for together (plus, then minus, level by level)."""
        steps = [self.one(i, h * mult) for mult in mults]
        points = [x for plus, minus, _, _ in steps for x in (plus, minus)]
        values = yield from self.values_task(i, points)
        return [
            Level(mult, values[:, 2 * k].copy(), values[:, 2 * k + 1].copy(), hp, hm)
            for k, (mult, (_, _, hp, hm)) in enumerate(zip(mults, steps, strict=True))
        ]

    def level(self, i: int, h: float, mult: float) -> Level:
        """f at ``x0 ± mult h`` along line i, evaluated now: two evaluations."""
        return run(self.session, self.levels_task(i, h, [mult]))[0]
