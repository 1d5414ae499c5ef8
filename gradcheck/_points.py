"""Batches of points near the start point, described rather than materialised.

Every point the engine evaluates is the start point ``x0`` moved a little: one coordinate
set to a new value (the screen, a refinement level, a noise table along one coordinate),
or every coordinate moved along a direction (a noise table across all coordinates, fast
mode's probes). :class:`Points` describes ``k`` such points in O(k) numbers plus one
vector per direction, never as a (k, n) matrix: a worker receives a few numbers per
point, and a vectorised f's stacks are written chunk by chunk (:mod:`gradcheck._stacks`).
The engine decides which points it needs; how they are evaluated is
:meth:`gradcheck._evaluation.Session.evaluate`'s business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Line", "Points"]

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.int64]

ON_A_LINE = -1
"""``Points.index`` of a point on a line (every coordinate moved), not one coordinate."""


@dataclass(frozen=True, slots=True, eq=False)
class Line:
    """A line ``origin + t direction`` through the start point.

    Attributes
    ----------
    origin, direction : ndarray, shape (n,)
        float64; the origin is the start point.
    where : str
        How an error message names a point on it, e.g. ``"at a point of the noise probe"``.
    """

    origin: FloatArray
    direction: FloatArray
    where: str

    def at(self, t: float) -> FloatArray:
        """The point at offset ``t``: ``origin + t direction``, float64."""
        point: FloatArray = self.origin + t * self.direction
        return point


@dataclass(frozen=True, slots=True, eq=False)
class Points:
    """``k`` points near the start point ``x0``.

    Point j is ``x0`` with flat element ``index[j]`` set to ``values[j]`` where
    ``index[j] >= 0``, and ``lines[line[j]].at(values[j])`` where ``index[j] == -1``.

    Attributes
    ----------
    index : ndarray of int64, shape (k,)
    values : ndarray of float64, shape (k,)
        The element's new value, or the offset along the line.
    line : ndarray of int64, shape (k,)
        Which of ``lines`` a point on a line lies on (-1 for a coordinate point).
    lines : tuple of Line

    Examples
    --------
    >>> both = Points.concatenate([
    ...     Points.coordinates(np.array([1, 1]), np.array([2.5, 1.5])),
    ...     Points.along(Line(np.zeros(3), np.ones(3), "on a line"), np.array([0.5])),
    ... ])
    >>> both.index, both.values, both.line
    (array([ 1,  1, -1]), array([2.5, 1.5, 0.5]), array([-1, -1,  0]))
    >>> both.lines[0].at(0.5)
    array([0.5, 0.5, 0.5])
    """

    index: IndexArray
    values: FloatArray
    line: IndexArray
    lines: tuple[Line, ...] = ()

    @classmethod
    def coordinates(cls, index: IndexArray, values: FloatArray) -> Points:
        """The points ``x0`` with element ``index[j]`` set to ``values[j]``."""
        index = np.asarray(index, dtype=np.int64)
        return cls(index, np.asarray(values, dtype=np.float64), np.full(index.size, ON_A_LINE))

    @classmethod
    def along(cls, line: Line, offsets: FloatArray) -> Points:
        """The points ``line.at(t)`` for each offset t."""
        offsets = np.asarray(offsets, dtype=np.float64)
        k = offsets.size
        return cls(np.full(k, ON_A_LINE), offsets, np.zeros(k, dtype=np.int64), (line,))

    @staticmethod
    def concatenate(parts: Sequence[Points]) -> Points:
        """One batch of all the points of ``parts``, in order."""
        if len(parts) == 1:
            return parts[0]
        lines: list[Line] = []
        renumbered = []
        for part in parts:
            renumbered.append(np.where(part.line >= 0, part.line + len(lines), ON_A_LINE))
            lines.extend(part.lines)
        return Points(
            np.concatenate([part.index for part in parts]),
            np.concatenate([part.values for part in parts]),
            np.concatenate(renumbered),
            tuple(lines),
        )

    @property
    def size(self) -> int:
        """Number of points, ``k``."""
        return int(self.index.size)

    @property
    def on_coordinates(self) -> bool:
        """Whether every point moves one coordinate only."""
        return bool(np.all(self.index >= 0))

    def take(self, start: int, stop: int) -> Points:
        """Points ``start`` to ``stop - 1``, with only the lines they lie on."""
        index, values, line = (
            self.index[start:stop],
            self.values[start:stop],
            self.line[start:stop],
        )
        on_a_line = line >= 0
        used = np.unique(line[on_a_line])
        renumbered = np.full(line.shape, ON_A_LINE)
        renumbered[on_a_line] = np.searchsorted(used, line[on_a_line])
        return Points(index, values, renumbered, tuple(self.lines[int(k)] for k in used))
