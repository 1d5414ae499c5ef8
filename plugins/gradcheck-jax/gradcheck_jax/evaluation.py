"""Evaluating a JAX objective at the points the gradcheck engine asks for, compiled.

The checked leaves live in flat NumPy storage (see :mod:`gradcheck_jax.arguments`); the
engine perturbs it in place and calls ``value()``. Every function of the check is
compiled once, ahead of time (``jax.jit(...).lower(...).compile()``), and its compile
time recorded apart from the rest:

* ``f``: the scalar objective of one flat parameter vector (``value()``);
* ``vmap(f)``: the objective at ``c`` points, point j being the current parameters with
  flat element ``index[j]`` set to ``values[j]``, built on the device from the one base
  vector (``base.at[i].set(v)`` inside ``jax.vmap``), so only ``2c`` numbers travel per
  chunk. Every chunk has the same ``c`` points (the last one padded), so it compiles
  once per check;
* the gradient: ``jax.grad(f)`` (reverse mode, through a custom_vjp's ``bwd`` or a
  custom_jvp's transposed JVP), or with ``autodiff="fwd"`` one JVP per element, ``c`` at a
  time under ``jax.vmap`` (a custom_jvp's rule as written); or the user's own gradient
  function, called on the arguments.

An f that ``jax.jit`` cannot trace (Python control flow on values, ``float(x)``) is
evaluated without jit, one point at a time, and one that ``jax.vmap`` cannot batch
(a callback without a batching rule) one point at a time through the compiled f; the
report says which and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np
from gradcheck import Parameter
from numpy.typing import NDArray

from gradcheck_jax.arguments import Arguments, Slot
from gradcheck_jax.precision import Precision

__all__ = ["BATCH_BYTES", "Evaluator", "Objective"]

BATCH_BYTES = 2**25
"""Bytes of parameter vectors in one chunk of ``vmap(f)`` (and of tangents in forward mode)."""

Objective = Callable[[tuple[object, ...]], jax.Array]
"""``objective(args) -> scalar``: the user's function of its arguments, reduced to a scalar."""

UserGradient = Callable[[tuple[object, ...]], NDArray[np.float64]]
"""``gradient(args) -> flat vector``: the user's own gradient at the arguments."""


class Evaluator:
    """``value``, ``gradient`` and ``perturbed_values`` of one objective over its slots.

    Parameters
    ----------
    arguments : Arguments
        The checked leaves' slots and the fixed arrays.
    objective : Objective
        The scalar to differentiate, a function of the rebuilt arguments.
    precision : Precision
        Every call into JAX runs in its scope.
    batch : bool or int
        ``True``: chunks of ``vmap(f)`` sized by :data:`BATCH_BYTES`; an int: points per
        chunk; ``False``: ``perturbed_values`` is not offered (one point at a time).
    autodiff : {"rev", "fwd"}
        How the gradient is computed when the user gives none.
    user_gradient : UserGradient or None
        The user's gradient function, called instead of JAX's.
    note : callable (str) -> None
        Adds a fact to the report.
    """

    def __init__(
        self,
        arguments: Arguments,
        objective: Objective,
        *,
        precision: Precision,
        batch: bool | int,
        autodiff: str,
        user_gradient: UserGradient | None,
        note: Callable[[str], None],
    ) -> None:
        self.arguments = arguments
        self.slots: tuple[Slot, ...] = tuple(arguments.slots)
        self.objective = objective
        self.precision = precision
        self.batch = batch
        self.autodiff = autodiff
        self.user_gradient = user_gradient
        self.note = note
        self.offsets = np.cumsum([0] + [s.size for s in self.slots])
        self.dtype = np.result_type(*(s.storage.dtype for s in self.slots))
        with precision.scope():
            self.fixed = [jnp.asarray(a) for a in arguments.fixed]
        self.compile_seconds: dict[str, float] = {}
        self._value: Callable[..., Any] | None = None
        self._eager = False
        self._batched: Callable[..., Any] | None = None
        self._chunk: int | None = None
        self._vmap_failed = False

    # -- the callables of a Problem ---------------------------------------------------

    def parameters(self) -> list[Parameter]:
        """The engine's view of the slots: live storage."""
        return [Parameter(s.name, s.shape, s.storage) for s in self.slots]

    def value(self) -> float:
        """The objective at the current storage."""
        return self._value_at(self._flat_now())

    def gradient(self) -> NDArray[np.float64]:
        """The gradient at the current storage: JAX's, or the user's function's."""
        with self.precision.scope():
            flat = jnp.asarray(self._flat_now())
            if self.user_gradient is not None:
                return self.user_gradient(self.arguments.build(self._leaves(flat), self.fixed))
            if self.autodiff == "fwd":
                return self._forward_gradient(flat)
            grad = self._compiled("the gradient", jax.grad(self._flat_objective), flat, self.fixed)
            return np.asarray(grad(flat, self.fixed), dtype=np.float64)

    def perturbed_values(
        self, index: NDArray[np.int64], values: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """The objective at ``k`` points, point j having flat element ``index[j] = values[j]``."""
        if index.size == 0:
            return np.empty(0)
        base = self._flat_now()
        if not self._eager and not self._vmap_failed:
            try:
                return self._batched_values(base, index, values)
            except Exception as exc:
                self._vmap_failed = True
                self.note(
                    "perturbed points were evaluated one at a time: jax.vmap cannot batch f "
                    f"({_reason(exc)})"
                )
        out = np.empty(index.size)
        for j, (i, v) in enumerate(zip(index.tolist(), values.tolist(), strict=True)):
            old = base[i]
            base[i] = v
            out[j] = self._value_at(base)
            base[i] = old
        return out

    def compile_note(self) -> str | None:
        """The compile times of the check, one sentence, or None if nothing was compiled."""
        if not self.compile_seconds:
            return None
        parts = ", ".join(f"{what} {s:.2g} s" for what, s in self.compile_seconds.items())
        total = sum(self.compile_seconds.values())
        return f"jax.jit compile time {total:.2g} s, part of the check's time ({parts})"

    # -- internals --------------------------------------------------------------------

    def _flat_now(self) -> NDArray[Any]:
        return np.concatenate([s.storage.astype(self.dtype, copy=False) for s in self.slots])

    def _leaves(self, flat: jax.Array) -> list[jax.Array]:
        """The checked leaves of one flat vector, each in its shape and working dtype."""
        return [
            flat[int(a) : int(b)].reshape(s.shape).astype(s.storage.dtype)
            for s, a, b in zip(self.slots, self.offsets[:-1], self.offsets[1:], strict=True)
        ]

    def _flat_objective(self, flat: jax.Array, fixed: Sequence[jax.Array]) -> jax.Array:
        return self.objective(self.arguments.build(self._leaves(flat), fixed))

    def _compiled(self, what: str, fn: Callable[..., Any], *example: object) -> Any:
        """``fn`` compiled for arguments like ``example``, once; the time recorded."""
        start = time.perf_counter()
        compiled = jax.jit(fn).lower(*example).compile()
        self.compile_seconds[what] = self.compile_seconds.get(what, 0.0) + (
            time.perf_counter() - start
        )
        return compiled

    def _value_at(self, flat: NDArray[Any]) -> float:
        with self.precision.scope():
            point = jnp.asarray(flat)
            if self._value is None and not self._eager:
                try:
                    self._value = self._compiled("f", self._flat_objective, point, self.fixed)
                except jax.errors.JAXTypeError as exc:
                    self._eager = True
                    self.note(
                        "f was evaluated without jax.jit, one point at a time: jit cannot "
                        f"trace it ({_reason(exc)})"
                    )
            if self._value is None:
                return float(self._flat_objective(point, self.fixed))
            return float(self._value(point, self.fixed))

    def _chunk_for(self, points: int) -> int:
        if self._chunk is None:
            n = int(self.offsets[-1])
            auto = max(1, BATCH_BYTES // (n * self.dtype.itemsize))
            self._chunk = min(points, auto) if self.batch is True else int(self.batch)
        return self._chunk

    def _batched_values(
        self, base: NDArray[Any], index: NDArray[np.int64], values: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        c = self._chunk_for(index.size)
        padded = -(-index.size // c) * c
        rows = np.zeros(padded, dtype=np.int32)
        rows[: index.size] = index
        points = np.full(padded, base[0], dtype=self.dtype)
        points[: index.size] = values
        with self.precision.scope():
            flat = jnp.asarray(base)
            if self._batched is None:
                self._batched = self._compiled(
                    "vmap(f)", self._at_points, flat, self.fixed, rows[:c], points[:c]
                )
            out = [
                self._batched(flat, self.fixed, rows[s : s + c], points[s : s + c])
                for s in range(0, padded, c)
            ]
            return np.asarray(jnp.concatenate(out), dtype=np.float64)[: index.size]

    def _at_points(
        self, flat: jax.Array, fixed: Sequence[jax.Array], rows: jax.Array, points: jax.Array
    ) -> jax.Array:
        def one(i: jax.Array, v: jax.Array) -> jax.Array:
            return self._flat_objective(flat.at[i].set(v), fixed)

        return jax.vmap(one)(rows, points)

    def _forward_gradient(self, flat: jax.Array) -> NDArray[np.float64]:
        """phi's gradient by forward mode: one JVP per element, ``c`` per call."""
        n = int(self.offsets[-1])
        c = max(1, min(n, BATCH_BYTES // (n * self.dtype.itemsize)))
        padded = -(-n // c) * c
        rows = np.zeros(padded, dtype=np.int32)
        rows[:n] = np.arange(n)

        def directional(x: jax.Array, fixed: Sequence[jax.Array], chunk: jax.Array) -> jax.Array:
            def one(i: jax.Array) -> jax.Array:
                tangent = jnp.zeros_like(x).at[i].set(1)
                _, derivative = jax.jvp(lambda y: self._flat_objective(y, fixed), (x,), (tangent,))
                return cast(jax.Array, derivative)

            return jax.vmap(one)(chunk)

        jvps = self._compiled(
            "the gradient (forward mode)", directional, flat, self.fixed, rows[:c]
        )
        out = [jvps(flat, self.fixed, rows[s : s + c]) for s in range(0, padded, c)]
        return np.asarray(jnp.concatenate(out), dtype=np.float64)[:n]


def _reason(exc: Exception) -> str:
    """The first line of an exception, shortened: ``TypeError: ...``."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:120]}"
