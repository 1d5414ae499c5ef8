"""Steps around the start point that the parameters' dtypes can represent, and f there.

Every difference gradcheck takes is between points that exist in the parameter's own
dtype: ``x0 + h`` rounded to float32 is generally not ``x0 + h``, so the steps actually
taken (``h_plus``, ``h_minus``) are what the differences divide by.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gradcheck.differences import representable_steps
from gradcheck.evaluation import Session
from gradcheck.pairs import Level

__all__ = ["Steps"]

FloatArray = NDArray[np.float64]


class Steps:
    """Representable points ``x0 ± h`` per element, and f at them along one coordinate.

    Refinement sees f only through lines: line ``i`` starts at ``x0[i]``, and
    :meth:`value_at` gives f at a point on it. Here the lines are the coordinate axes;
    fast mode's lines are random directions (:class:`gradcheck.fast.DirectionSteps`).

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
        dtype = self.session.owner[i][0].values.dtype
        plus, minus, hp, hm = representable_steps(self.x0[i : i + 1], np.array([h]), dtype)
        return float(plus[0]), float(minus[0]), float(hp[0]), float(hm[0])

    def toward(self, i: int, h: float, direction: float) -> tuple[float, float]:
        """The representable point about h from x0 on one side, and its signed offset."""
        plus, minus, h_plus, h_minus = self.one(i, h)
        return (plus, h_plus) if direction > 0 else (minus, -h_minus)

    def value_at(self, i: int, point: float) -> FloatArray:
        """f at ``point`` on line i: here, with element i set to it."""
        return self.session.at(i, point)

    def label(self, i: int) -> str:
        """Line i's name in a message: the element's, e.g. ``W1[3, 2]``."""
        return self.session.label(i)

    def level(self, i: int, h: float, mult: float) -> Level:
        """f at ``x0 ± mult h`` along line i: two evaluations."""
        plus, minus, hp, hm = self.one(i, h * mult)
        return Level(mult, self.value_at(i, plus), self.value_at(i, minus), hp, hm)
