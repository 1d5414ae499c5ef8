"""A vectorised f: many points per call, on stacks sized to the cache.

With ``check(f, x, grad=df, vectorized=True)``, f receives a stack of points, shape
``(k, *x.shape)``, one point per row, and returns one value per row: shape ``(k,)``, or
``(k, m)`` for m outputs. A batch of points (:class:`~gradcheck._points.Points`) is written
out and evaluated ``stacked_rows(n)`` rows at a time, never as one (2n, n) matrix: at
``STACK_BYTES`` per stack the rows and f's own intermediate arrays stay in the cache, and
the Python overhead of a call is paid once per stack instead of once per point. Each row
holds exactly what the parameters' storage would hold at that point (elements rounded to
their parameter's dtype), so f computes the same values as one point at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from gradcheck._errors import GradcheckError, ModelError
from gradcheck._points import Points
from gradcheck._real_values import NotRealNumbers, as_real_array

if TYPE_CHECKING:
    from gradcheck._evaluation import Session

__all__ = ["STACK_BYTES", "evaluate", "stacked_rows", "value"]

FloatArray = NDArray[np.float64]

STACK_BYTES = 2**17
"""Bytes of points in one stack (rows of n float64 numbers): chosen by measurement
(``benchmarks/bench_batch.py --stack-bytes``); beyond it a stack and f's intermediate
arrays leave a core's L2 cache, and f costs several times as much per point."""


def stacked_rows(n: int) -> int:
    """Points in one stack for f of n parameter elements (at least one).

    >>> [stacked_rows(n) for n in (100, 1000, 10_000)]
    [163, 16, 1]
    """
    return max(1, STACK_BYTES // (8 * n))


def evaluate(session: Session, points: Points) -> FloatArray:
    """f at each of the points, shape (m, k), a stack of ``stacked_rows(n)`` at a time.

    One block of rows holding the start point is reused for every stack: a coordinate
    point changes one entry of its row, which is put back after f returns, so a stack
    costs O(rows) to write, not O(rows n). f receives the block read-only.

    The global generators f was not seen drawing from are fixed once, before the first
    stack, instead of before every one; if f drew from one after all, the stacks are
    evaluated again (as :meth:`Session.sweep` does).
    """
    state = session.random_state
    while True:
        state.fix()
        with np.errstate(**session.user_errstate):
            values = _stacks(session, points, state.fix_drawn)
        if not any(g in state.fixed for g in session.record_draws("f")):
            return values


def _stacks(session: Session, points: Points, fix: Callable[[], None]) -> FloatArray:
    start = session.start
    chunk = min(stacked_rows(start.size), points.size)
    block = np.empty((chunk, start.size))
    block[:] = start
    lent = block.view()
    lent.flags.writeable = False
    rounded = _rounded_to(session)
    every_row = np.arange(chunk)
    on_coordinates = points.on_coordinates
    parts = []
    for first in range(0, points.size, chunk):
        rows = block[: min(chunk, points.size - first)]
        index = points.index[first : first + rows.shape[0]]
        values = points.values[first : first + rows.shape[0]]
        on_axis = every_row[: rows.shape[0]] if on_coordinates else np.flatnonzero(index >= 0)
        elements = index[on_axis]
        rows[on_axis, elements] = rounded(elements, values[on_axis])
        lines = [] if on_coordinates else np.flatnonzero(index < 0).tolist()
        for j in lines:
            line = points.lines[int(points.line[first + j])]
            rows[j] = rounded(None, line.at(float(values[j])))
        try:
            name = partial(_name_in, session, points, first)
            parts.append(_stacked(session, lent[: rows.shape[0]], name, fix))
        finally:
            rows[on_axis, elements] = start[elements]
            rows[lines] = start
    return np.concatenate(parts, axis=1)


def _rounded_to(
    session: Session,
) -> Callable[[NDArray[np.int64] | None, FloatArray], FloatArray]:
    """A function rounding values to their parameters' dtypes: ``(elements, values)`` for
    single elements, ``(None, row)`` for a whole point; float64 values pass as they are."""
    problem = session.problem
    offsets = problem.offsets.tolist()
    narrow = [
        (start, stop, p.values.dtype)
        for p, start, stop in zip(problem.parameters, offsets[:-1], offsets[1:], strict=True)
        if p.values.dtype != np.float64
    ]

    def rounded(elements: NDArray[np.int64] | None, values: FloatArray) -> FloatArray:
        if not narrow:
            return values
        values = values.copy()
        for start, stop, dtype in narrow:
            if elements is None:
                values[start:stop] = values[start:stop].astype(dtype)
            else:
                inside = (elements >= start) & (elements < stop)
                values[inside] = values[inside].astype(dtype)
        return values

    return rounded


def value(session: Session, what: str | Callable[[], str]) -> FloatArray:
    """f at whatever the storage holds now, as a stack of one: shape (m,)."""
    row = session.problem.flat_values()[None]
    with np.errstate(**session.user_errstate):
        values = _stacked(
            session,
            row,
            lambda _: what if isinstance(what, str) else what(),
            session.random_state.fix,
        )
    return values[:, 0]


def _name_in(session: Session, points: Points, first: int, j: int) -> str:
    return session.point_name(points, first + j)


def _shifted(name: Callable[[int], str], offset: int, j: int) -> str:
    return name(offset + j)


def _stacked(
    session: Session, rows: FloatArray, name: Callable[[int], str], fix: Callable[[], None]
) -> FloatArray:
    """f on the stack ``rows`` (each element as its parameter's dtype holds it), shape
    (m, k), after ``fix()`` (the global generators); ``name(j)`` names row j in a message.

    Where f raises on the stack, its points are evaluated one by one, so that the error
    names the point f fails at.
    """
    stacked_value = session.problem.stacked_value
    assert stacked_value is not None  # checked when the session was made
    k = rows.shape[0]
    fix()
    try:
        raw = stacked_value(rows)  # under the caller's errstate: the user's own
    except GradcheckError:
        raise
    except Exception as exc:
        if isinstance(exc, ValueError) and "read-only" in str(exc):
            raise ModelError(
                f"f wrote into the stack of points it received ({exc}): with "
                "vectorized=True f must leave its argument as it is; copy it first "
                "(x = x.copy()) where it must change it"
            ) from exc
        if k > 1:
            for j in range(k):  # the point f fails at raises here, named
                _stacked(session, rows[j : j + 1], partial(_shifted, name, j), fix)
        where = name(0) if k == 1 else f"on a stack of {k} points ({name(0)}, ...)"
        raise session.failure(exc, where) from exc
    finally:
        session.calls += k
    return _outputs(session, raw, k, name)


def _outputs(session: Session, raw: object, k: int, name: Callable[[int], str]) -> FloatArray:
    """What f returned for a stack of k points, as shape (m, k)."""
    try:
        array = as_real_array(raw)
    except NotRealNumbers as exc:
        raise session.unusable(exc, f"for a stack of {k} point(s) ({name(0)}, ...)") from exc
    shape = session.output_shape
    if array.ndim == 0 or array.shape[0] != k or (shape is not None and array.shape[1:] != shape):
        expected = "(k,) or (k, m)" if shape is None else str((k, *shape))
        raise ModelError(
            f"f returned shape {array.shape} for a stack of {k} point(s) ({name(0)}, ...); "
            f"with vectorized=True f receives the points as rows, shape ({k}, ...), and "
            f"returns one value per row: shape {expected}"
        )
    if shape is None:
        session.output_shape = array.shape[1:]
    result: FloatArray = array.reshape(k, -1).T
    return result
