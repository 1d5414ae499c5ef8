"""A :class:`~gradcheck.Problem` for ``f(params)`` with a hand-written gradient.

Shared by the pure-Python and NumPy backends, which differ only in the parameters they
accept. The user's parameters are copied into storage once (they are never written);
``f`` receives a structure of the same shape rebuilt around that storage: arrays as
views, numbers as Python floats.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcheck.errors import InvalidArgument, ModelError
from gradcheck.problem import Problem
from gradcheck.tree import ParameterTree, first_argument_name

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


def function_problem(
    f: Callable[..., Any],
    params: object,
    grad: Callable[..., Any] | None,
    value_and_grad: Callable[..., Any] | None,
    *,
    backend: str,
) -> Problem:
    """Build the problem for ``check(f, params, grad=... | value_and_grad=...)``."""
    require_one_gradient(grad, value_and_grad, f)
    tree = ParameterTree(params, root=first_argument_name(f))
    if tree.views_only:
        argument = tree.build()  # views of the storage: one structure serves every call

        def value() -> object:
            return f(argument)
    else:

        def value() -> object:
            return f(tree.build())

    if grad is not None:

        def gradient() -> object:
            return tree.flatten_gradient(grad(tree.build()), "grad(params)")
    else:
        vg: Callable[..., Any] = value_and_grad  # type: ignore[assignment]

        def gradient() -> object:
            result = _split_value_and_grad(vg(tree.build()))
            return tree.flatten_gradient(result, "value_and_grad(params)[1]")

    def complex_value(z: NDArray[np.complex128]) -> object:
        sizes = np.cumsum([p.size for p in tree.parameters])[:-1]
        return f(tree.build(np.split(z, sizes)))

    return Problem(
        tree.parameters,
        value,
        gradient,
        backend=backend,
        output_shape=None,
        complex_value=complex_value,
    )
