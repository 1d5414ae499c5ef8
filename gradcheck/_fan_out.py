"""Fan-out: batches of points evaluated by an executor's workers, in a fixed order.

With ``check(..., executor=pool)`` each batch of points the engine asks for
(:class:`~gradcheck._points.Points`: a sweep, a noise table, a round of refinement levels)
is cut into consecutive chunks, a few per worker, and each chunk goes to
``pool.submit``. A worker builds its own copy of the problem from the recipe the check was
given (f, its parameters, the gradient, the backend's options: pickled once per check,
rebuilt once per worker and check), evaluates its points exactly as the parent would, one
by one or on stacks, and sends the values back. The parent puts them together in the order
asked for, so the engine sees the same numbers as in one process and reaches the same
verdicts. The parent's own objects are never touched by a worker.

Any :class:`concurrent.futures.Executor` will do: a ``ProcessPoolExecutor`` on one
machine, or a dask.distributed cluster through ``Client.get_executor()`` (the
``gradcheck[dask]`` extra). The recipe is pickled by cloudpickle where it is installed
(gradcheck[dask] installs it), so that lambdas, closures and functions of the user's own
modules travel by value; by pickle otherwise, which sends functions by name. A
``ThreadPoolExecutor`` works too, but f's global random generators are then shared
between threads.
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Executor, Future, wait
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcheck._errors import GradcheckError, InvalidArgument
from gradcheck._evaluation import Session
from gradcheck._points import Points
from gradcheck._problem import Problem

__all__ = ["CHUNKS_PER_WORKER", "FanOut", "WorkerLost", "evaluate_chunk", "worker_count"]

FloatArray = NDArray[np.float64]

CHUNKS_PER_WORKER = 4
"""Chunks a batch is cut into per worker: enough that a slow chunk does not hold the
others up, few enough that the cost of a task (about a millisecond for a process pool,
a few for dask) stays small beside an expensive f."""


class WorkerLost(GradcheckError):
    """A worker died, or the executor failed, while evaluating f; the message names the
    points it was evaluating. The parameters in the calling process are untouched."""


@dataclass(frozen=True, slots=True, eq=False)
class _Job:
    """One chunk of points, and what a worker needs to evaluate them as the parent would."""

    token: str
    recipe: bytes
    reseed: bool
    vectorized: bool
    guarded: bool
    output_shape: tuple[int, ...] | None
    points: Points


@dataclass(frozen=True, slots=True, eq=False)
class _Done:
    """What a worker sends back: the values, shape (m, k), and what it learnt."""

    values: FloatArray
    calls: int
    notes: tuple[str, ...]
    random: bool
    drawn: tuple[str, ...]


class FanOut:
    """Evaluates batches of points on an executor's workers.

    Parameters
    ----------
    executor : concurrent.futures.Executor
    problem : Problem
        Its ``recipe`` is what the workers build their copies from.
    reseed, vectorized : bool
        As the parent's :class:`~gradcheck._evaluation.Session` evaluates.

    Raises
    ------
    InvalidArgument
        When the problem has no recipe (built by hand), or a part of the recipe cannot be
        pickled: the message names that part and how to make it picklable.
    """

    def __init__(
        self, executor: Executor, problem: Problem, *, reseed: bool, vectorized: bool
    ) -> None:
        if not isinstance(executor, Executor):
            raise InvalidArgument(
                f"executor={executor!r:.60}: expected a concurrent.futures.Executor, e.g. "
                "ProcessPoolExecutor(2), or a dask Client's get_executor()"
            )
        if problem.recipe is None:
            raise InvalidArgument(
                f"executor=: this {problem.backend} problem has no recipe its workers could "
                "build their copies from (gradcheck.check sets one for what a backend "
                "takes; a problem built by hand and a check of second derivatives have "
                "none): set problem.recipe to a picklable callable returning an equal "
                "Problem, or run without executor="
            )
        self.executor = executor
        self.reseed = reseed
        self.vectorized = vectorized
        self.recipe = _pickled(problem.recipe)
        self.token = uuid.uuid4().hex
        self.workers = worker_count(executor)

    def evaluate(self, session: Session, points: Points) -> FloatArray:
        """f at each of the points, shape (m, k), in the order asked for.

        Raises
        ------
        ModelError
            What a worker's evaluation raised, naming the point, as in one process.
        WorkerLost
            When a worker died or the executor failed, naming the points it had.
        KeyboardInterrupt
            After cancelling the chunks not yet evaluated.
        """
        ranges = _chunks(points.size, CHUNKS_PER_WORKER * self.workers)
        futures = []
        try:
            for start, stop in ranges:
                job = _Job(
                    self.token,
                    self.recipe,
                    self.reseed,
                    self.vectorized,
                    session.guarded,
                    session.output_shape,
                    points.take(start, stop),
                )
                futures.append(self.executor.submit(evaluate_chunk, job))
            wait(futures, return_when=FIRST_EXCEPTION)
            for future, (start, stop) in zip(futures, ranges, strict=True):
                if future.done() and future.exception() is not None:
                    raise _translated(future, session, points, start, stop)
            done = [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()  # those not started; a no-op for the finished
        for result in done:
            _absorb(session, result)
        return np.concatenate([result.values for result in done], axis=1)


def worker_count(executor: Executor) -> int:
    """How many points an executor evaluates at once: its workers (threads for dask)."""
    # ProcessPoolExecutor and ThreadPoolExecutor keep it in _max_workers; dask's
    # ClientExecutor keeps its Client, whose nthreads() maps each worker to its threads
    max_workers = getattr(executor, "_max_workers", None)
    if isinstance(max_workers, int) and max_workers > 0:
        return max_workers
    nthreads: Callable[[], dict[str, int]] | None = getattr(
        getattr(executor, "_client", None), "nthreads", None
    )
    if callable(nthreads):
        return max(1, sum(nthreads().values()))
    return os.cpu_count() or 1


def _chunks(k: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` (at most k) consecutive ranges covering 0 .. k - 1, sizes differing by 1."""
    parts = max(1, min(k, parts))
    stops = np.cumsum([k // parts + (1 if j < k % parts else 0) for j in range(parts)]).tolist()
    return list(zip([0, *stops[:-1]], stops, strict=True))


def _pickled(recipe: Callable[[], Problem]) -> bytes:
    """The recipe as bytes: by cloudpickle where it is installed (it comes with dask), so
    that lambdas, closures and the user's own modules travel by value, else by pickle.
    An unpicklable part is named."""
    try:
        cloudpickle: Any = importlib.import_module("cloudpickle")
    except ImportError:
        cloudpickle = None
    dumps: Callable[[object], bytes] = pickle.dumps if cloudpickle is None else cloudpickle.dumps
    # workers elsewhere cannot import the user's own modules (a model file, a test
    # module): with cloudpickle, what f and its gradient are defined in travels with them
    by_value = [] if cloudpickle is None else _user_modules(recipe)
    for module in by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        return dumps(recipe)
    except Exception as exc:
        name, part, error = _unpicklable_part(recipe, dumps, exc)
        what = name if callable(part) else f"{name} ({type(part).__name__})"
        qualname = str(getattr(part, "__qualname__", ""))
        hint = (
            "Define it with def at the top level of a module (pickle sends a function by "
            "its name, which a lambda or a function defined inside another lacks; with "
            "cloudpickle installed, as gradcheck[dask] installs it, those travel too)"
            if cloudpickle is None and ("<lambda>" in qualname or "<locals>" in qualname)
            else "Everything it holds must be picklable: open files, locks and connections "
            "are not; create them inside f instead"
        )
        raise InvalidArgument(
            f"executor=: {what} cannot be pickled, so it cannot be sent to the workers "
            f"({type(error).__name__}: {error}). {hint}, or run without executor="
        ) from exc
    finally:
        for module in by_value:
            cloudpickle.unregister_pickle_by_value(module)


def _user_modules(recipe: Callable[[], Problem]) -> list[ModuleType]:
    """The modules the recipe's parts come from, other than the standard library,
    installed packages and gradcheck itself."""
    parts: Callable[[], list[tuple[str, object]]] | None = getattr(recipe, "parts", None)
    modules: dict[str, ModuleType] = {}
    for _, part in parts() if callable(parts) else []:
        name = getattr(part, "__module__", None)
        module = sys.modules.get(name) if isinstance(name, str) else None
        if module is None or module.__name__ == "__main__":  # cloudpickle sends __main__'s
            continue
        path = str(getattr(module, "__file__", None) or "")
        top = module.__name__.partition(".")[0]
        installed = "site-packages" in path or "dist-packages" in path or not path
        if not installed and top not in sys.stdlib_module_names and top != "gradcheck":
            modules[module.__name__] = module
    return list(modules.values())


def _unpicklable_part(
    recipe: Callable[[], Problem], dumps: Callable[[object], bytes], exc: Exception
) -> tuple[str, object, Exception]:
    """The first part of the recipe that cannot be pickled (an entry of a container where
    one is to blame), and its error; a recipe names its parts with ``parts()``."""
    parts: Callable[[], list[tuple[str, object]]] | None = getattr(recipe, "parts", None)
    for name, part in parts() if callable(parts) else []:
        found = _first_unpicklable(name, part, dumps)
        if found is not None:
            return found
    return "the problem's recipe", recipe, exc


def _first_unpicklable(
    name: str, part: object, dumps: Callable[[object], bytes]
) -> tuple[str, object, Exception] | None:
    try:
        dumps(part)
    except Exception as exc:
        entries: list[tuple[object, object]] = []
        if isinstance(part, dict):
            entries = list(part.items())
        elif isinstance(part, list | tuple):
            entries = list(enumerate(part))
        for key, entry in entries:
            found = _first_unpicklable(f"{name}[{key!r}]", entry, dumps)
            if found is not None:
                return found
        return name, part, exc
    return None


def _translated(
    future: Future[_Done], session: Session, points: Points, start: int, stop: int
) -> BaseException:
    """The exception a failed chunk is reported with."""
    exc = future.exception()
    assert exc is not None  # only failed futures are translated
    if isinstance(exc, GradcheckError):
        return exc  # f raised in the worker: the ModelError names the point, as in one process
    chunk = points.take(start, stop)
    moved = list(dict.fromkeys(session.label(int(i)) for i in chunk.index[chunk.index >= 0]))
    more = f" and {len(moved) - 4} more" if len(moved) > 4 else ""
    places = [f"with {', '.join(moved[:4])}{more} moved"] if moved else []
    places += dict.fromkeys(line.where for line in chunk.lines)
    shown = f"{' and '.join(places)} ({chunk.size} points)"
    lost = WorkerLost(
        f"a worker died, or the executor failed, while evaluating f {shown}: "
        f"{type(exc).__name__}: {exc} The parameters in this process are untouched. A "
        "worker dies when f crashes its process (a segfault, os._exit, running out of "
        "memory): run without executor= to see f fail here"
    )
    lost.__cause__ = exc
    return lost


def _absorb(session: Session, done: _Done) -> None:
    """Count a worker's evaluations, and take in its notes and the generators f drew from."""
    session.calls += done.calls
    for note in done.notes:
        session.problem.note(note)
    session.problem.random = session.problem.random or done.random
    state = session.random_state
    for generator in done.drawn:
        if generator not in state.drawn:
            state.drawn.append(generator)
            session.notes.append(state.note(generator, "f"))


_WORKER = threading.local()
"""Per worker thread: the latest check's problem, built from its recipe."""


def evaluate_chunk(job: _Job) -> _Done:
    """In a worker: f at the job's points, with the worker's own copy of the problem."""
    problems: dict[str, Problem] = getattr(_WORKER, "problems", {})
    problem = problems.get(job.token)
    if problem is None:
        recipe: Callable[[], Problem] = pickle.loads(job.recipe)
        problem = recipe()
        _WORKER.problems = {job.token: problem}  # only the latest check's is kept
    session = Session(problem, reseed=job.reseed, vectorized=job.vectorized)
    session.guarded = job.guarded
    session.output_shape = job.output_shape
    try:
        values = session.evaluate_here(job.points)
        drawn = session.random_state.record_draws()
    finally:
        session.reset_storage()
        session.random_state.restore()
    return _Done(values, session.calls, tuple(problem.notes), problem.random, tuple(drawn))
