"""Evaluating a problem at perturbed points, and always putting the storage back.

A :class:`Session` owns the only code that writes to a problem's parameter storage.
It perturbs one element, evaluates, and writes the element back in ``finally``; it keeps
a snapshot of every parameter so that :meth:`Session.close` restores them bit for bit
(also on KeyboardInterrupt); it turns whatever the user's code raises or returns into a
:class:`~gradcheck.ModelError` that names the element being perturbed; and it counts
evaluations for the report.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from gradcheck.errors import GradcheckError, ModelError
from gradcheck.problem import Parameter, Problem

__all__ = ["Session"]

FloatArray = NDArray[np.float64]


class Session:
    """Evaluates the problem at perturbed points and always puts the storage back."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.snapshot = [p.values.copy() for p in problem.parameters]
        self.owner: list[tuple[Parameter, int]] = [
            (p, j) for p in problem.parameters for j in range(p.size)
        ]
        self.calls = 0
        self.gradient_calls = 0
        self.guarded = False
        self.output_shape = problem.output_shape
        self.warnings: list[str] = []

    # -- evaluation -------------------------------------------------------------------

    def _failure(self, exc: BaseException, what: str) -> ModelError:
        return ModelError(f"f raised {type(exc).__name__} {what}: {exc}")

    def outputs(self, raw: object, where: str | Callable[[], str]) -> FloatArray:
        """One value of f as a float64 vector of its m outputs.

        ``where`` names the point for error messages (a callable builds the name only
        when a message needs it).
        """
        try:
            if raw is None or isinstance(raw, str | bytes):
                raise TypeError(raw)
            array = np.asarray(raw, dtype=np.float64)
            if array.size == 0:
                raise ValueError(raw)
        except (TypeError, ValueError) as exc:
            raise self._unusable(raw, where if isinstance(where, str) else where()) from exc
        if self.output_shape is None:
            self.output_shape = array.shape
        elif array.shape != self.output_shape:
            what = where if isinstance(where, str) else where()
            raise ModelError(
                f"f returned shape {array.shape} {what}, but shape {self.output_shape} before"
            )
        return array.reshape(-1)

    @staticmethod
    def _unusable(raw: object, what: str) -> ModelError:
        if raw is None:
            kind = "None"
        elif isinstance(raw, complex):
            kind = f"complex ({raw!r:.60})"
        elif isinstance(raw, np.ndarray) and raw.size == 0:
            kind = "an empty array"
        else:
            kind = f"{type(raw).__name__} ({raw!r:.60})"
        hint = " (is a return statement missing?)" if raw is None else ""
        return ModelError(
            f"f returned {kind} {what}; it must return a real number (or an array of them "
            f"for a vector-valued model){hint}"
        )

    def stack(self, raws: list[object]) -> FloatArray:
        """Values collected in the hot loop, as an (m, k) array."""
        try:
            array = np.asarray(raws, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"f returned values that are not real numbers: {exc}") from exc
        return array.reshape(len(raws), -1).T

    def value_at_start(self, what: str = "at the start point") -> FloatArray:
        """f at the start point (after undoing what an earlier call did to its argument)."""
        if self.guarded:
            self.reset_storage()
        return self.value(what)

    def value(self, what: str | Callable[[], str]) -> FloatArray:
        """f at whatever the storage holds now; ``what`` says where, for error messages."""
        try:
            raw = self.problem.value()
        except GradcheckError:
            raise
        except Exception as exc:
            raise self._failure(exc, what if isinstance(what, str) else what()) from exc
        finally:
            self.calls += 1
        return self.outputs(raw, what)

    def reset_storage(self) -> None:
        for p, saved in zip(self.problem.parameters, self.snapshot, strict=True):
            np.copyto(p.values, saved, casting="no")

    def at(self, i: int, x: float) -> FloatArray:
        """f with element ``i`` set to ``x`` (rounded to its dtype) and then put back."""
        param, j = self.owner[i]
        values = param.values
        if self.guarded:
            self.reset_storage()
        old = values[j]
        try:
            values[j] = x
            return self.value(lambda: f"with {param.label(j)} = {x!r}")
        finally:
            values[j] = old
            if self.guarded:
                self.reset_storage()

    def batch(self, index: NDArray[np.int64], x: FloatArray) -> FloatArray:
        """f at ``len(index)`` points, element ``index[k]`` set to ``x[k]``: shape (m, k)."""
        batched = self.problem.perturbed_values
        assert batched is not None  # checked by the caller
        try:
            raw = batched(index, x)
        except GradcheckError:
            raise
        except Exception as exc:
            raise self._failure(exc, "in a batched evaluation") from exc
        finally:
            self.calls += index.size
        try:
            array = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"batched evaluation returned {type(raw).__name__}") from exc
        if array.shape != (index.size, *(self.output_shape or ())):
            raise ModelError(
                f"batched evaluation returned shape {array.shape}; expected "
                f"{(index.size, *(self.output_shape or ()))}"
            )
        return array.reshape(index.size, -1).T

    def at_point(self, x: FloatArray) -> FloatArray:
        """f at a whole flat point ``x`` (each element rounded to its dtype), then restored."""
        start = 0
        try:
            for p in self.problem.parameters:
                stop = start + p.size
                p.values[:] = x[start:stop]
                start = stop
            return self.value("at a point of the reference differences")
        finally:
            self.reset_storage()

    def sweep(self, plus: FloatArray, minus: FloatArray) -> tuple[FloatArray, FloatArray]:
        """f with each element in turn at ``plus[i]`` and ``minus[i]``: 2n evaluations."""
        if self.problem.perturbed_values is not None and not self.guarded:
            n = plus.size
            both = self.batch(
                np.tile(np.arange(n, dtype=np.int64), 2), np.concatenate([plus, minus])
            )
            return both[:, :n], both[:, n:]
        if self.guarded:
            columns = [(self.at(i, plus[i]), self.at(i, minus[i])) for i in range(plus.size)]
            return (
                np.stack([c[0] for c in columns], axis=1),
                np.stack([c[1] for c in columns], axis=1),
            )
        value = self.problem.value
        plus_list, minus_list = plus.tolist(), minus.tolist()
        up: list[object] = []
        down: list[object] = []
        i = 0
        try:
            for param in self.problem.parameters:
                values = param.values
                for j in range(values.size):
                    old = values[j]
                    try:
                        values[j] = plus_list[i]
                        up.append(value())
                        values[j] = minus_list[i]
                        down.append(value())
                    finally:
                        values[j] = old
                    i += 1
        except GradcheckError:
            raise
        except Exception as exc:
            param, j = self.owner[i]
            raise self._failure(exc, f"with {param.label(j)} perturbed") from exc
        finally:
            self.calls += len(up) + len(down)
        return self.stack(up), self.stack(down)

    def complex_at(self, z: NDArray[np.complex128], i: int) -> FloatArray:
        """Imaginary part of f at the complex point ``z`` (element ``i`` perturbed)."""
        complex_value = self.problem.complex_value
        assert complex_value is not None  # checked by the caller
        param, j = self.owner[i]
        try:
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
        try:
            raw = self.problem.gradient()
        except GradcheckError:
            raise
        except Exception as exc:
            raise ModelError(
                f"the gradient function raised {type(exc).__name__} at the start point: {exc}"
            ) from exc
        finally:
            self.gradient_calls += 1
        n = self.problem.size
        try:
            g = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ModelError(
                f"the gradient is {type(raw).__name__}, not an array of real numbers"
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
        try:
            self.reset_storage()
        finally:
            self.problem.restore()
