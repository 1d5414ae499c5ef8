"""Running many small searches in lockstep, so that their evaluations go out as one batch.

Refinement, one-sided differences and the noise probe each decide their next points from
the values of their last ones: a refinement level is two points, and the next level
depends on them. Written as a :data:`Task` — a generator that yields the
:class:`~gradcheck._points.Points` it needs and receives their values, shape (m, k) — one
search reads as straight-line code, and :func:`run_all` advances many searches together:
each round gathers every search's next request into one batch, evaluates it once, and
hands each its share. A vectorised f, a backend's vmap or a pool of workers then sees
batches of hundreds of points where one search alone would ask for two.

Where the session evaluates one point at a time anyway, :func:`run_all` runs the tasks
one after another instead, in order: exactly the evaluations, in exactly the order, that
calling each search directly would make.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from functools import partial
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from gradcheck._errors import ModelError
from gradcheck._evaluation import Session
from gradcheck._points import Points

__all__ = ["Task", "run", "run_all"]

FloatArray = NDArray[np.float64]

T = TypeVar("T")

Task = Generator[Points, FloatArray, T]
"""A search that yields the points it needs, receives f at them (shape (m, k)), and
returns its result. A :class:`~gradcheck.ModelError` raised while evaluating its points is
thrown into it at the ``yield``, so it can retreat (a noise table where f fails) or let
the error pass."""


def run(session: Session, task: Task[T]) -> T:
    """Drive one task to its result, evaluating each request as it comes."""
    return run_all(session, [task])[0]


def run_all(session: Session, tasks: Sequence[Task[T]]) -> list[T]:
    """Drive every task to its result; in lockstep where the session batches.

    Returns the results in the order of ``tasks``. An error a task lets pass is raised,
    and the other tasks are closed.
    """
    if len(tasks) > 1 and not session.batches:
        return [run(session, task) for task in tasks]
    results: dict[int, T] = {}
    pending: dict[int, Points] = {}

    def advance(k: int, step: Callable[[], Points]) -> None:
        try:
            pending[k] = step()
        except StopIteration as done:
            pending.pop(k, None)
            results[k] = done.value

    try:
        for k, task in enumerate(tasks):
            advance(k, task.__next__)
        while pending:
            order = list(pending)
            if len(order) > 1:
                requests = [pending[k] for k in order]
                try:
                    values = session.evaluate(Points.concatenate(requests))
                except ModelError:
                    pass  # which request failed: each is evaluated on its own below
                else:
                    stops = np.cumsum([r.size for r in requests]).tolist()
                    for k, start, stop in zip(order, [0, *stops[:-1]], stops, strict=True):
                        advance(k, partial(tasks[k].send, values[:, start:stop]))
                    continue
            for k in order:
                _evaluate_alone(session, tasks[k], pending[k], partial(advance, k))
    finally:
        for k in pending:
            tasks[k].close()
    return [results[k] for k in range(len(tasks))]


def _evaluate_alone(
    session: Session,
    task: Task[T],
    request: Points,
    advance: Callable[[Callable[[], Points]], None],
) -> None:
    """Evaluate one task's request; send it the values, or throw in the ModelError."""
    try:
        values = session.evaluate(request)
    except ModelError as exc:
        error = exc

        def throw() -> Points:
            return task.throw(error)

        advance(throw)
        return
    advance(partial(task.send, values))
