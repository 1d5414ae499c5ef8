"""A vectorised f: many points per call, on stacks sized to the cache.

With ``check(f, x, grad=df, vectorized=True)``, f receives a stack of points, shape
``(k, *x.shape)``, one point per row, and returns one value per row: shape ``(k,)``, or
``(k, m)`` for m outputs. A batch of points (:class:`~gradcheck.points.Points`) is written
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

from gradcheck.errors import GradcheckError, ModelError
from gradcheck.points import Points
from gradcheck.real_values import NotRealNumbers, as_real_array

if TYPE_CHECKING:
    from gradcheck.evaluation import Session

__all__ = ["STACK_BYTES", "evaluate", "stacked_rows", "value"]

FloatArray = NDArray[np.float64]

STACK_BYTES = 2**18
"""Bytes of points in one stack (rows of n float64 numbers): chosen by measurement
(``benchmarks/bench_batch.py``), so that a stack and f's intermediate arrays stay in a
2-core machine's L2 cache."""


def stacked_rows(n: int) -> int:
    """Points in one stack for f of n parameter elements (at least one).

    >>> stacked_rows(100), stacked_rows(10**6)
    (327, 1)
    """
    return max(1, STACK_BYTES // (8 * n))


def evaluate(session: Session, points: Points) -> FloatArray:
    """f at each of the points, shape (m, k), a stack of ``stacked_rows(n)`` at a time."""
    chunk = stacked_rows(session.start.size)
    parts = []
    for first in range(0, points.size, chunk):
        rows = points.rows(session.start, first, min(first + chunk, points.size))
        parts.append(_stacked(session, rows, partial(_name_in, session, points, first)))
    return np.concatenate(parts, axis=1)


def value(session: Session, what: str | Callable[[], str]) -> FloatArray:
    """f at whatever the storage holds now, as a stack of one: shape (m,)."""
    row = session.problem.flat_values()[None]
    return _stacked(session, row, lambda _: what if isinstance(what, str) else what())[:, 0]


def _name_in(session: Session, points: Points, first: int, j: int) -> str:
    return session.point_name(points, first + j)


def _shifted(name: Callable[[int], str], offset: int, j: int) -> str:
    return name(offset + j)


def _stacked(session: Session, rows: FloatArray, name: Callable[[int], str]) -> FloatArray:
    """f on the stack ``rows``, shape (m, k); ``name(j)`` names row j in a message.

    Where f raises on the stack, its points are evaluated one by one, so that the error
    names the point f fails at.
    """
    problem = session.problem
    stacked_value = problem.stacked_value
    assert stacked_value is not None  # checked when the session was made
    offsets = problem.offsets
    for p, start, stop in zip(problem.parameters, offsets[:-1], offsets[1:], strict=True):
        if p.values.dtype != np.float64:  # each element as the parameter's dtype holds it
            rows[:, start:stop] = rows[:, start:stop].astype(p.values.dtype)
    k = rows.shape[0]
    session.random_state.fix()
    try:
        with np.errstate(**session.user_errstate):
            raw = stacked_value(rows)
    except GradcheckError:
        raise
    except Exception as exc:
        if k > 1:
            for j in range(k):  # the point f fails at raises here, named
                _stacked(session, rows[j : j + 1], partial(_shifted, name, j))
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
