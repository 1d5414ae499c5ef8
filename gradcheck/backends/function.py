"""A :class:`~gradcheck.Problem` for ``f(params)`` with a hand-written gradient.

Shared by the pure-Python and NumPy backends, which differ only in the parameters they
accept. The user's parameters are copied into storage once (they are never written);
``f`` receives a fresh structure of the user's types around that storage at every call:
arrays as views, numbers as Python floats (see :mod:`gradcheck._tree`). Where the
parameters are one array x, the problem can also call f on a stack of points, shape
``(k, *x.shape)``, for ``check(..., vectorized=True)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcheck._errors import InvalidArgument, ModelError
from gradcheck._problem import Problem
from gradcheck._tree import ParameterTree, first_argument_name

__all__ = ["function_problem", "require_one_gradient"]


def require_one_gradient(
    grad: Callable[..., Any] | None, value_and_grad: Callable[..., Any] | None, obj: object
) -> None:
    """Raise unless exactly one of ``grad`` and ``value_and_grad`` is a callable."""
    name = getattr(obj, "__name__", "f")
    if grad is None and value_and_grad is None:
        raise InvalidArgument(
            f"{name} has no gradient to check: pass grad=df (df(params) returns the "
            "gradient in the structure of params) or value_and_grad=vg (vg(params) "
            "returns (value, gradient))"
        )
    if grad is not None and value_and_grad is not None:
        raise InvalidArgument("pass either grad= or value_and_grad=, not both")
    for label, given in (("grad", grad), ("value_and_grad", value_and_grad)):
        if given is not None and not callable(given):
            raise InvalidArgument(
                f"{label}= must be a function of the parameters, got {type(given).__name__}"
            )


def _split_value_and_grad(result: object) -> object:
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise ModelError(
            f"value_and_grad returned {type(result).__name__}; expected a pair (value, gradient)"
        )
    return result[1]


# f's first calls (the start point, twice) are watched for assignments into its argument;
# later ones need no watching, since every call gets a fresh copy of the structure anyway
_WATCHED_CALLS = 2


def _rebinding_note(who: str, where: str) -> str:
    return (
        f"{who} rebinds {where} in the argument it receives (assigns a new object to that "
        "entry, or adds or removes it), which changes its caller's parameters; gradcheck "
        "hands it a fresh copy of the parameters at every evaluation, so this check is "
        "unaffected. Make it work on a copy: assign the new value to a local variable, or "
        "copy the container first"
    )


def function_problem(
    f: Callable[..., Any],
    params: object,
    grad: Callable[..., Any] | None,
    value_and_grad: Callable[..., Any] | None,
    *,
    backend: str,
) -> Problem:
    """Build the problem for ``check(f, params, grad=... | value_and_grad=...)``.

    ``f`` and the gradient function receive a fresh structure at every call (arrays as
    views of the storage), so an assignment to an entry of it changes nothing later calls
    see; such an assignment is noted in the report.
    """
    require_one_gradient(grad, value_and_grad, f)
    tree = ParameterTree(params, root=first_argument_name(f))
    calls = 0

    def watched(function: Callable[..., Any], who: str) -> object:
        result = function(tree.argument(watch=True))
        where = tree.rebound()
        if where is not None:
            problem.note(_rebinding_note(who, where))
        return result

    def value() -> object:
        nonlocal calls
        calls += 1
        if calls <= _WATCHED_CALLS:
            return watched(f, "f")
        return f(tree.argument())

    if grad is not None:
        g: Callable[..., Any] = grad

        def gradient() -> object:
            raw = watched(g, "the gradient function")
            return tree.flatten_gradient(raw, "grad(params)", problem.note)
    else:
        vg: Callable[..., Any] = value_and_grad  # type: ignore[assignment]  # one is set

        def gradient() -> object:
            raw = _split_value_and_grad(watched(vg, "value_and_grad"))
            return tree.flatten_gradient(raw, "value_and_grad(params)[1]", problem.note)

    def complex_value(z: NDArray[np.complex128]) -> object:
        sizes = np.cumsum([p.size for p in tree.parameters])[:-1]
        return f(tree.build(np.split(z, sizes)))

    problem = Problem(
        tree.parameters,
        value,
        gradient,
        backend=backend,
        output_shape=None,
        complex_value=complex_value,
        stacked_value=_stack_caller(f, tree) if isinstance(params, np.ndarray) else None,
    )
    return problem


def _stack_caller(
    f: Callable[..., Any], tree: ParameterTree
) -> Callable[[NDArray[np.float64]], object]:
    """f called on a stack of points, shape (k, *x.shape) in x's dtype: params one array.
    The stack is the engine's (read-only) where x is float64: f must not change it."""
    (parameter,) = tree.parameters

    def stacked_value(points: NDArray[np.float64]) -> object:
        stack = points.astype(parameter.values.dtype, copy=False)
        return f(stack.reshape(points.shape[0], *parameter.shape))

    return stacked_value
