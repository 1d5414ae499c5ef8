"""Evaluating a problem at perturbed points, and always putting the storage back.

A :class:`Session` owns the only code that writes to a problem's parameter storage.
It perturbs one element, evaluates, and writes the element back in ``finally``; it keeps
a snapshot of every parameter so that :meth:`Session.close` restores them bit for bit
(also on KeyboardInterrupt); it sets NumPy's global generator and Python's :mod:`random`
to one fixed state before every evaluation, so an f that draws from them (dropout) is
deterministic, and puts their states back when it closes; it turns whatever the user's code
raises or returns into a :class:`~gradcheck.ModelError` that names the element being
perturbed; and it counts evaluations for the report.

Every stage asks for its points through one seam, :meth:`Session.evaluate`, in batches
(:class:`~gradcheck._points.Points`); the session decides how: one point at a time in
place, on stacks for a vectorised f (:mod:`gradcheck._stacks`), through the backend's
``perturbed_values`` (torch's vmap), or spread over an executor's workers
(:mod:`gradcheck._fan_out`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from gradcheck import _stacks as stacks
from gradcheck._errors import GradcheckError, InvalidArgument, ModelError
from gradcheck._points import Points
from gradcheck._problem import Parameter, Problem
from gradcheck._randomness import GlobalRandomState
from gradcheck._real_values import NotRealNumbers, as_real_array

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from gradcheck._fan_out import FanOut

__all__ = ["NotRealNumbers", "Session", "as_real_array"]

FloatArray = NDArray[np.float64]


class Session:
    """Evaluates the problem at perturbed points and always puts the storage back.

    Parameters
    ----------
    problem : Problem
        What to evaluate.
    reseed : bool, default True
        Set NumPy's global generator and Python's :mod:`random` to one fixed state before
        every evaluation of f and of the gradient, so that an f drawing from them returns
        one value at each point. Either way :meth:`close` puts both generators back in
        the states they had when the session was created.
    vectorized : bool, default False
        Evaluate f through ``problem.stacked_value``, on stacks of points (f written to
        take a stack), the start point included.
    executor : concurrent.futures.Executor, optional
        Spread batches of points over its workers (:mod:`gradcheck._fan_out`); each worker
        builds its own copy of the problem from ``problem.recipe``.

    Raises
    ------
    InvalidArgument
        For ``vectorized=True`` where the problem has no ``stacked_value``, and where the
        executor's workers cannot receive the problem (not picklable); the backend's
        changes to the user's objects are undone first.

    Attributes
    ----------
    calls, gradient_calls : int
        Evaluations of f and of the gradient so far.
    warnings : list of str
        What the engine found wrong with f, for the report.
    notes : list of str
        Facts for the report, learnt while evaluating: one sentence for each global
        generator f (or the gradient) was seen drawing from, saying whether it was
        reseeded. Complete after :meth:`close`.
    random_state : GlobalRandomState
        The global generators' saved and fixed states; ``random_state.drawn`` names the
        generators seen drawn from.
    """

    def __init__(
        self,
        problem: Problem,
        reseed: bool = True,
        vectorized: bool = False,
        executor: Executor | None = None,
    ) -> None:
        self.problem = problem
        self.vectorized = vectorized
        self.fan_out: FanOut | None = None
        try:
            if vectorized and problem.stacked_value is None:
                raise InvalidArgument(
                    f"vectorized=True: the {problem.backend} backend cannot hand f a stack "
                    "of points. A plain function can take one when its parameters are one "
                    "NumPy array x: f then receives shape (k, *x.shape), one point per row, "
                    "and returns k values. Pass the parameters as one array, or leave "
                    "vectorized off"
                )
            if executor is not None:
                from gradcheck._fan_out import FanOut  # it builds Sessions in the workers

                self.fan_out = FanOut(executor, problem, reseed=reseed, vectorized=vectorized)
        except BaseException:
            problem.restore()  # what the backend changed in the user's objects
            raise
        self.start = problem.flat_values()
        self.snapshot = [p.values.copy() for p in problem.parameters]
        self._offsets = problem.offsets
        self.calls = 0
        self.gradient_calls = 0
        self.stages: dict[str, int] = {}  # evaluations of f by stage, in the order run
        self._stage_open = False
        self.guarded = False
        self.output_shape = problem.output_shape
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.reseed = reseed
        self.random_state = GlobalRandomState(reseed)
        # NumPy's floating-point error handling as the caller set it: the engine ignores
        # inf and NaN in its own arithmetic, the user's code runs under the caller's
        self.user_errstate = np.geterr()

    @property
    def batches(self) -> bool:
        """Whether points asked for together are evaluated together (by workers, a
        vectorised f, or the backend's own batching), so that gathering them pays."""
        return (
            self.fan_out is not None
            or self.vectorized
            or (self.problem.perturbed_values is not None and not self.guarded)
        )

    def evaluate(self, points: Points) -> FloatArray:
        """f at each of the points, shape (m, k): the one seam every stage evaluates through.

        Spread over the executor's workers where there is one (values in the order asked
        for), else :meth:`evaluate_here`.
        """
        if self.fan_out is not None:
            return self.fan_out.evaluate(self, points)
        return self.evaluate_here(points)

    def evaluate_here(self, points: Points) -> FloatArray:
        """f at each of the points, shape (m, k), in this process: on stacks of
        ``stacked_rows`` points for a vectorised f, through the backend's
        ``perturbed_values`` where it has one, else one point at a time, in order."""
        if self.vectorized:
            return stacks.evaluate(self, points)
        if points.on_coordinates and self.problem.perturbed_values is not None and not self.guarded:
            return self.batch(points.index, points.values)
        return np.stack([self._one(points, j) for j in range(points.size)], axis=1)

    def _one(self, points: Points, j: int) -> FloatArray:
        i = int(points.index[j])
        if i >= 0:
            return self.at(i, float(points.values[j]))
        line = points.lines[int(points.line[j])]
        return self.at_point(line.at(float(points.values[j])), line.where)

    def point_name(self, points: Points, j: int) -> str:
        """How a message names point j: ``with W1[3, 2] = 0.5``, or its line's ``where``."""
        i = int(points.index[j])
        if i >= 0:
            return self._with(i, float(points.values[j]))
        return points.lines[int(points.line[j])].where

    # -- evaluation -------------------------------------------------------------------

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Count the evaluations of f made inside as the stage ``name``'s (in
        :attr:`stages`). Inside another stage it counts nothing of its own: the self-test
        runs the screen again, and those evaluations are the self-test's."""
        if self._stage_open:
            yield
            return
        self._stage_open = True
        before = self.calls
        try:
            yield
        finally:
            self._stage_open = False
            self.stages[name] = self.stages.get(name, 0) + self.calls - before

    def owner(self, i: int) -> tuple[Parameter, int]:
        """The parameter holding flat element i, and the element's place in it."""
        k = int(np.searchsorted(self._offsets, i, side="right")) - 1
        return self.problem.parameters[k], i - int(self._offsets[k])

    def failure(self, exc: BaseException, what: str) -> ModelError:
        """The error for an exception f raised ``what`` (e.g. ``with W1[3, 2] = 0.5``)."""
        return ModelError(f"f raised {type(exc).__name__} {what}: {exc}")

    def record_draws(self, who: str) -> list[str]:
        """Note the global generators ``who`` drew from, not seen before (30 µs)."""
        found = self.random_state.record_draws()
        self.notes.extend(self.random_state.note(generator, who) for generator in found)
        return found

    def outputs(self, raw: object, where: str | Callable[[], str]) -> FloatArray:
        """One value of f as a float64 vector of its m outputs.

        ``where`` names the point for error messages (a callable builds the name only
        when a message needs it).
        """
        try:
            array = as_real_array(raw)
            if array.size == 0:
                raise NotRealNumbers("an empty array", "is the loss computed over no data?")
        except NotRealNumbers as exc:
            raise self.unusable(exc, where if isinstance(where, str) else where()) from exc
        if self.output_shape is None:
            self.output_shape = array.shape
        elif array.shape != self.output_shape:
            what = where if isinstance(where, str) else where()
            raise ModelError(
                f"f returned shape {array.shape} {what}, but shape {self.output_shape} before"
            )
        return array.reshape(-1)

    @staticmethod
    def unusable(refused: NotRealNumbers, where: str) -> ModelError:
        """The error for a value of f that is no real number."""
        return ModelError(
            f"f returned {refused.what} {where}; it must return a real number (or an array "
            f"of them for a vector-valued model): {refused.hint}"
        )

    def stack(self, raws: list[object], points: FloatArray) -> FloatArray:
        """Values collected in the hot loop, f with element k at ``points[k]``: shape (m, k)."""
        try:
            array = np.asarray(raws)
        except Exception:  # e.g. tensors that require grad: converted one by one below
            array = None
        if (
            array is None
            or array.dtype.kind not in "fiub"
            or array.shape != (len(raws), *(self.output_shape or ()))
        ):
            array = np.stack(
                [
                    self.outputs(raw, partial(self._with, k, float(points[k])))
                    for k, raw in enumerate(raws)
                ]
            )
        return array.astype(np.float64, copy=False).reshape(len(raws), -1).T

    def label(self, i: int) -> str:
        """Name of flat element i, e.g. ``W1[3, 2]``."""
        param, j = self.owner(i)
        return param.label(j)

    def _with(self, i: int, x: float) -> str:
        param, j = self.owner(i)
        return f"with {param.label(j)} = {x!r}"

    def value_at_start(self, what: str = "at the start point") -> FloatArray:
        """f at the start point (after undoing what an earlier call did to its argument)."""
        if self.guarded:
            self.reset_storage()
        value = self.value(what)
        self.record_draws("f")
        return value

    def value(self, what: str | Callable[[], str]) -> FloatArray:
        """f at whatever the storage holds now; ``what`` says where, for error messages."""
        if self.vectorized:
            return stacks.value(self, what)
        self.random_state.fix()
        try:
            with np.errstate(**self.user_errstate):
                raw = self.problem.value()
        except GradcheckError:
            raise
        except Exception as exc:
            raise self.failure(exc, what if isinstance(what, str) else what()) from exc
        finally:
            self.calls += 1
        return self.outputs(raw, what)

    def reset_storage(self) -> None:
        for p, saved in zip(self.problem.parameters, self.snapshot, strict=True):
            np.copyto(p.values, saved, casting="no")

    def at(self, i: int, x: float) -> FloatArray:
        """f with element ``i`` set to ``x`` (rounded to its dtype) and then put back."""
        param, j = self.owner(i)
        values = param.values
        if self.guarded:
            self.reset_storage()
        old = values[j]
        try:
            values[j] = x
            return self.value(partial(self._with, i, x))
        finally:
            values[j] = old
            if self.guarded:
                self.reset_storage()

    def batch(self, index: NDArray[np.int64], x: FloatArray) -> FloatArray:
        """f at ``len(index)`` points, element ``index[k]`` set to ``x[k]``: shape (m, k)."""
        batched = self.problem.perturbed_values
        assert batched is not None  # checked by the caller
        self.random_state.fix()
        try:
            with np.errstate(**self.user_errstate):
                raw = batched(index, x)
        except GradcheckError:
            raise
        except Exception as exc:
            raise self.failure(exc, "in a batched evaluation") from exc
        finally:
            self.calls += index.size
        self.record_draws("f")
        try:
            array = as_real_array(raw)
        except NotRealNumbers as exc:
            raise ModelError(
                f"batched evaluation returned {exc.what}; expected real numbers: {exc.hint}"
            ) from exc
        if array.shape != (index.size, *(self.output_shape or ())):
            raise ModelError(
                f"batched evaluation returned shape {array.shape}; expected "
                f"{(index.size, *(self.output_shape or ()))}"
            )
        return array.reshape(index.size, -1).T

    def at_point(
        self, x: FloatArray, what: str = "at a point of the reference differences"
    ) -> FloatArray:
        """f at a whole flat point ``x`` (each element rounded to its dtype), then restored."""
        parameters, offsets = self.problem.parameters, self.problem.offsets
        try:
            for p, start, stop in zip(parameters, offsets[:-1], offsets[1:], strict=True):
                p.values[:] = x[start:stop]
            return self.value(what)
        finally:
            self.reset_storage()

    def sweep(self, plus: FloatArray, minus: FloatArray) -> tuple[FloatArray, FloatArray]:
        """f with each element in turn at ``plus[i]`` and ``minus[i]``: 2n evaluations."""
        if self.batches:
            n = plus.size
            both = self.evaluate(
                Points.coordinates(np.tile(np.arange(n), 2), np.concatenate([plus, minus]))
            )
            return both[:, :n], both[:, n:]
        if self.guarded:
            columns = [(self.at(i, plus[i]), self.at(i, minus[i])) for i in range(plus.size)]
            return (
                np.stack([c[0] for c in columns], axis=1),
                np.stack([c[1] for c in columns], axis=1),
            )
        # generators f was not seen drawing from are set once, before the loop, instead of
        # before every evaluation; if f drew from one after all, the loop runs again
        state = self.random_state
        while True:
            state.fix()
            with np.errstate(**self.user_errstate):
                up, down = self._sweep_values(plus.tolist(), minus.tolist(), state.fix_drawn)
            if not any(g in state.fixed for g in self.record_draws("f")):
                break
        return self.stack(up, plus), self.stack(down, minus)

    def _sweep_values(
        self, plus: list[float], minus: list[float], fix: Callable[[], None]
    ) -> tuple[list[object], list[object]]:
        """What f returns with each element at ``plus[i]``, then at ``minus[i]``."""
        value = self.problem.value
        up: list[object] = []
        down: list[object] = []
        i = 0
        try:
            for param in self.problem.parameters:
                values = param.values
                for j in range(values.size):
                    old = values[j]
                    try:
                        values[j] = plus[i]
                        fix()
                        up.append(value())
                        values[j] = minus[i]
                        fix()
                        down.append(value())
                    finally:
                        values[j] = old
                    i += 1
        except GradcheckError:
            raise
        except Exception as exc:
            param, j = self.owner(i)
            raise self.failure(exc, f"with {param.label(j)} perturbed") from exc
        finally:
            self.calls += len(up) + len(down)
        return up, down

    def complex_at(self, z: NDArray[np.complex128], i: int) -> FloatArray:
        """Imaginary part of f at the complex point ``z`` (element ``i`` perturbed)."""
        complex_value = self.problem.complex_value
        assert complex_value is not None  # checked by the caller
        param, j = self.owner(i)
        self.random_state.fix()
        try:
            with np.errstate(**self.user_errstate):
                raw = complex_value(z)
        except GradcheckError:
            raise
        except Exception as exc:
            raise ModelError(
                f"f raised {type(exc).__name__} at a complex point ({param.label(j)} + ih): "
                f"{exc}. method='complex' needs an f written with NumPy functions that "
                "accept complex input (math.* and float() do not); use method='central'"
            ) from exc
        finally:
            self.calls += 1
        return np.asarray(raw, dtype=np.complex128).reshape(-1).imag

    def gradient(self) -> FloatArray:
        """The analytic gradient as an (m, n) float64 array."""
        if self.guarded:
            self.reset_storage()
        self.random_state.fix()
        try:
            with np.errstate(**self.user_errstate):
                raw = self.problem.gradient()
        except GradcheckError:
            raise
        except Exception as exc:
            raise ModelError(
                f"the gradient function raised {type(exc).__name__} at the start point: {exc}"
            ) from exc
        finally:
            self.gradient_calls += 1
        self.record_draws("the gradient function")
        n = self.problem.size
        try:
            g = as_real_array(raw)
        except NotRealNumbers as exc:
            raise ModelError(
                f"the gradient is {exc.what}; expected real numbers, one per parameter "
                f"element: {exc.hint}"
            ) from exc
        m = math.prod(self.output_shape or ())
        if g.size != m * n or (g.ndim >= 1 and g.shape[-1] != n):
            expected = (n,) if m == 1 else (m, n)
            raise ModelError(
                f"the gradient has shape {g.shape}; expected {expected} for {n} parameter "
                f"elements" + ("" if m == 1 else f" and {m} outputs")
            )
        return g.reshape(m, n)

    def mutated(self) -> str | None:
        """Name the first element f changed in its own argument, and restore it."""
        for p, saved in zip(self.problem.parameters, self.snapshot, strict=True):
            changed = np.flatnonzero(p.values.view(np.uint8) != saved.view(np.uint8))
            if changed.size:
                element = int(changed[0]) // p.values.itemsize
                was, became = float(saved[element]), float(p.values[element])
                self.reset_storage()
                return f"{p.label(element)} (was {was!r}, became {became!r})"
        return None

    def close(self) -> None:
        """Put back the parameters, the backend's changes and the global generators' states.

        Call it once, in ``finally``; each step runs even when an earlier one raises.
        """
        try:
            try:
                self.record_draws("f or the gradient function")
            finally:
                self.reset_storage()
        finally:
            try:
                self.problem.restore()
            finally:
                self.random_state.restore()
