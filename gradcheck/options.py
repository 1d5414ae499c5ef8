"""What a check is asked to do: the method, the tolerance floors, step, seed and bounds."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from numpy.typing import NDArray

from gradcheck.errors import InvalidArgument
from gradcheck.tolerance import DEFAULT_ATOL, DEFAULT_RTOL

__all__ = ["Method", "Options"]

FloatArray = NDArray[np.float64]


class Method(enum.StrEnum):
    """How the numeric derivative is computed."""

    CENTRAL = "central"
    """A Richardson pair of central differences per element (its truncation measured);
    elements not clearly right are refined with finer pairs (kinks, poles, edges)."""
    RICHARDSON = "richardson"
    """Every element also confirmed by a second, finer pair (its convergence order
    measured): about half as much again."""
    COMPLEX = "complex"
    """Complex step, ``Im f(x + i h e_k) / h``: no cancellation, n evaluations. Needs an
    f that accepts complex input and is analytic (no abs, max or real parts)."""
    SCIPY = "scipy"
    """The numeric side from ``scipy.differentiate.jacobian``, with its own error
    estimates: a reference to compare the engine's estimates with (many evaluations)."""


@dataclass(frozen=True, slots=True)
class Options:
    """The engine's options, validated.

    Attributes
    ----------
    method : Method
    rtol, atol : float
        Floors added to the error model's tolerance.
    step : float or None
        Relative step ``h / max(|x|, 1)``; None chooses it from the measured noise.
    seed : int or None
        Seed of the random choices (the noise probe's coordinate); None draws one and
        records it in the report.
    strict : bool
        Whether kinks and inconclusive elements make the report fail.
    bounds : (lower, upper) or None
        Array-likes broadcastable to the flat parameter vector (-inf / inf where
        unbounded). f is never evaluated outside them: next to a bound the engine uses
        one-sided differences.
    reseed : bool
        Whether NumPy's and Python's global generators (and a backend's own, such as
        torch's) are reseeded before every evaluation, so that a random f is checked for
        one fixed draw; their states are put back after the check either way.
    """

    method: Method = Method.CENTRAL
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    step: float | None = None
    seed: int | None = None
    strict: bool = False
    bounds: tuple[object, object] | None = None
    reseed: bool = True

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "method", Method(self.method))
        except ValueError:
            choices = ", ".join(repr(m.value) for m in Method)
            raise InvalidArgument(f"method={self.method!r} is not one of {choices}") from None
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value) or value < 0:
                raise InvalidArgument(f"{name}={value!r}: expected a finite number >= 0")
        if self.step is not None and (not _is_real(self.step) or not 0 < self.step < 1):
            raise InvalidArgument(
                f"step={self.step!r}: expected a relative step between 0 and 1, e.g. 1e-6"
            )
        if self.seed is not None and (
            not isinstance(self.seed, Integral) or isinstance(self.seed, bool) or self.seed < 0
        ):
            raise InvalidArgument(f"seed={self.seed!r}: expected a non-negative integer")
        if self.seed is not None:
            object.__setattr__(self, "seed", int(self.seed))
        if not isinstance(self.reseed, bool | np.bool_):
            raise InvalidArgument(f"reseed={self.reseed!r:.40}: expected True or False")
        object.__setattr__(self, "reseed", bool(self.reseed))
        if self.bounds is not None and (
            not isinstance(self.bounds, tuple | list) or len(self.bounds) != 2
        ):
            raise InvalidArgument(
                f"bounds={self.bounds!r:.60}: expected a pair (lower, upper) of numbers or arrays"
            )

    def resolve_bounds(self, x0: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Lower and upper bounds as float64 vectors like ``x0``; checks x0 is inside."""
        n = x0.size
        if self.bounds is None:
            return np.full(n, -np.inf), np.full(n, np.inf)
        vectors = []
        for name, given in zip(("lower", "upper"), self.bounds, strict=True):
            raw = -np.inf if given is None and name == "lower" else given
            raw = np.inf if raw is None else raw
            try:
                vectors.append(np.broadcast_to(np.asarray(raw, dtype=np.float64), (n,)).copy())
            except (TypeError, ValueError):
                raise InvalidArgument(
                    f"{name} bound {given!r:.60} cannot be broadcast to the {n} parameter "
                    "elements: give a number or an array with one entry per element"
                ) from None
        lower, upper = vectors
        outside = np.flatnonzero((x0 < lower) | (x0 > upper) | np.isnan(lower) | np.isnan(upper))
        if outside.size:
            i = int(outside[0])
            raise InvalidArgument(
                f"element {i} of the parameters is {float(x0[i])!r}, outside its bounds "
                f"[{float(lower[i])!r}, {float(upper[i])!r}]: start inside the bounds"
            )
        return lower, upper


def _is_real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)
