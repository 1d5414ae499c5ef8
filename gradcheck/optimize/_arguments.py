"""What a SciPy user hands over: ``fun``, ``jac`` and bounds, checked and converted.

Shared by the checks during a run (:mod:`._jacobian`) and the cross-check of whole runs
(:mod:`._runs`): refusing what cannot be checked, SciPy's three forms of bounds as one,
and a point written short for a message.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.optimize
from numpy.typing import NDArray

from gradcheck._api import Case
from gradcheck._errors import InvalidArgument

__all__ = [
    "case_bounds",
    "minimize_bounds",
    "pair_bounds",
    "require_callable",
    "require_jac",
    "short",
]

FloatArray = NDArray[np.float64]


def short(x: NDArray[Any]) -> str:
    """A point for a message: ``[1.3, 0.7, 0.8]``; the first and last entries of a long one."""
    flat = [f"{float(v):.6g}" for v in np.asarray(x).reshape(-1)]
    if len(flat) > 8:
        flat = [*flat[:4], "...", *flat[-2:]]
    return f"[{', '.join(flat)}]"


def require_callable(name: str, value: object) -> None:
    if not callable(value):
        raise InvalidArgument(f"{name}= must be a function, got {type(value).__name__}")


def require_jac(jac: object) -> None:
    if isinstance(jac, str) or jac is None or jac is False:
        raise InvalidArgument(
            f"jac={jac!r}: gradcheck checks a hand-written gradient, and with jac={jac!r} "
            "SciPy computes its own, so there is nothing to check; pass your gradient "
            "function (jac=grad, grad(x, *args) -> array of shape (n,)) or jac=True if fun "
            "returns (value, gradient), or call scipy.optimize directly"
        )
    if not callable(jac):
        raise InvalidArgument(
            f"jac= must be a function jac(x, *args) returning the gradient (or True if fun "
            f"returns (value, gradient)), got {type(jac).__name__}"
        )


def pair_bounds(bounds: object) -> tuple[FloatArray, FloatArray]:
    """``(lower, upper)`` or a Bounds object as float arrays."""
    if isinstance(bounds, scipy.optimize.Bounds):
        lower, upper = bounds.lb, bounds.ub
    elif isinstance(bounds, tuple | list) and len(bounds) == 2:
        lower, upper = bounds
    else:
        raise InvalidArgument(
            f"bounds={bounds!r:.60}: expected (lower, upper) of numbers or arrays, or a "
            "scipy.optimize.Bounds"
        )
    try:
        return (
            np.atleast_1d(np.asarray(-np.inf if lower is None else lower, dtype=np.float64)),
            np.atleast_1d(np.asarray(np.inf if upper is None else upper, dtype=np.float64)),
        )
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"bounds={bounds!r:.60}: lower and upper must be numbers or arrays of numbers "
            "(-inf / inf, or None, where unbounded)"
        ) from None


def minimize_bounds(bounds: object) -> tuple[object, object]:
    """``minimize``'s bounds (a Bounds object or (min, max) pairs) as (lower, upper)."""
    if isinstance(bounds, scipy.optimize.Bounds):
        return bounds.lb, bounds.ub
    try:
        pairs = [(lo, hi) for lo, hi in bounds]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"bounds={bounds!r:.60}: expected a sequence of (min, max) pairs, one per "
            "variable (None for no bound), or a scipy.optimize.Bounds"
        ) from None
    lower = [-np.inf if lo is None else lo for lo, _ in pairs]
    upper = [np.inf if hi is None else hi for _, hi in pairs]
    return lower, upper


def case_bounds(case: Case, solver: str) -> dict[str, Any]:
    bounds = case.kwargs.get("bounds")
    if bounds is None:
        return {}
    lower, upper = pair_bounds(bounds)
    if solver == "least_squares":
        return {"bounds": (lower, upper)}
    return {"bounds": scipy.optimize.Bounds(lower, upper)}
