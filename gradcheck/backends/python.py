"""Pure Python: f(params) over floats, lists, tuples and dicts; micrograd-style Value objects.

Two kinds of objects are accepted:

* ``check(f, params, grad=df)`` where ``params`` is a float or a dict, list, tuple,
  namedtuple or dataclass (nested) of Python numbers, and ``f`` may use :mod:`math`;
  sets, generators and containers gradcheck cannot rebuild are refused with the fix;
* ``check(loss, parameters)`` where ``parameters`` is a list of scalar autodiff objects
  in the style of micrograd (each with ``.data`` and ``.grad``) and ``loss()`` (or
  ``loss(parameters)``) returns such an object with ``.backward()``. The backend
  perturbs ``.data``, reads ``.grad`` after ``backward()``, and puts both back.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np

from gradcheck._errors import InvalidArgument, ModelError
from gradcheck._problem import Parameter, Problem, UndoStack
from gradcheck._tree import (
    first_argument_name,
    has_array_leaf,
    is_parameter_container,
    refuse_unsupported_container,
)
from gradcheck.backends.function import function_problem
from gradcheck.hookspecs import hookimpl

__all__ = ["gradcheck_adapt"]


def _is_autodiff_scalar(obj: object) -> bool:
    return (
        hasattr(obj, "data")
        and hasattr(obj, "grad")
        and isinstance(getattr(obj, "data", None), Real)
        and not isinstance(obj, np.ndarray)
    )


def _takes_argument(f: Callable[..., Any]) -> bool:
    try:
        inspect.signature(f).bind(None)
    except TypeError:
        return False
    except ValueError:  # no signature available (a builtin): assume it takes parameters
        return True
    return True


def _data_of(result: object, what: str) -> float:
    data = getattr(result, "data", result)
    if not isinstance(data, Real):
        raise ModelError(
            f"{what} returned {type(result).__name__}; expected a scalar autodiff object "
            "with a numeric .data (and .backward())"
        )
    return float(data)


def _grad_of(obj: object, name: str) -> float:
    grad = getattr(obj, "grad", None)
    if isinstance(grad, Real) and not isinstance(grad, bool):
        return float(grad)
    what = "complex" if isinstance(grad, complex) else f"a {type(grad).__name__}"
    raise ModelError(
        f"{name}.grad is {what} ({grad!r:.60}) after loss.backward(); expected a real number: "
        "backward() must accumulate real numbers into .grad"
    )


def _autodiff_problem(loss: Callable[..., Any], objects: Sequence[object]) -> Problem:
    objects = list(objects)
    seen: dict[int, int] = {}
    for k, o in enumerate(objects):
        if id(o) in seen:
            raise InvalidArgument(
                f"parameters [{seen[id(o)]}] and [{k}] are the same object: each parameter "
                "must appear once (deduplicate the list, e.g. list(dict.fromkeys(params)))"
            )
        seen[id(o)] = k
    labels = [getattr(o, "label", None) for o in objects]
    by_label = all(isinstance(x, str) and x for x in labels) and len(set(labels)) == len(labels)
    root = first_argument_name(loss, "params")
    if by_label:
        parameters = [
            Parameter(str(label), (), np.array([float(o.data)]))  # type: ignore[attr-defined]
            for label, o in zip(labels, objects, strict=True)
        ]
        slots = [(p.values, 0) for p in parameters]
    else:
        storage = np.array([float(o.data) for o in objects])  # type: ignore[attr-defined]
        parameters = [Parameter(root, (len(objects),), storage)]
        slots = [(storage, i) for i in range(len(objects))]
    undo = UndoStack()
    for o in objects:
        undo.save_attribute(o, "data")
        undo.save_attribute(o, "grad")
    call_with_params = _takes_argument(loss)

    def forward() -> object:
        for o, (values, i) in zip(objects, slots, strict=True):
            o.data = values.item(i)  # type: ignore[attr-defined]
        return loss(objects) if call_with_params else loss()

    def value() -> float:
        return _data_of(forward(), "the loss function")

    names = (
        [p.name for p in parameters] if by_label else [f"{root}[{i}]" for i in range(len(objects))]
    )

    def gradient() -> list[float]:
        for o in objects:
            o.grad = 0.0  # type: ignore[attr-defined]
        try:
            out: Any = forward()
        except Exception as exc:
            raise ModelError(
                f"the loss function raised {type(exc).__name__} at the start point, before "
                f"loss.backward(): {exc}"
            ) from exc
        if not callable(getattr(out, "backward", None)):
            raise ModelError(
                f"the loss function returned {type(out).__name__}, which has no .backward(); "
                "return the loss node of your autodiff graph"
            )
        try:
            out.backward()
        except Exception as exc:
            raise ModelError(
                f"loss.backward() raised {type(exc).__name__} at the start point: {exc}. "
                "gradcheck calls backward() on what the loss function returns to get the "
                "gradient it checks; fix the backward pass"
            ) from exc
        return [_grad_of(o, name) for o, name in zip(objects, names, strict=True)]

    return Problem(parameters, value, gradient, backend="python", restore=undo.undo)


@hookimpl
def gradcheck_adapt(
    obj: object,
    args: tuple[object, ...],
    grad: Callable[..., Any] | None,
    value_and_grad: Callable[..., Any] | None,
    kwargs: dict[str, object],
) -> Problem | None:
    """Accept a function of Python numbers, or a loss over micrograd-style parameters."""
    if not callable(obj) or len(args) != 1:
        return None
    (params,) = args
    if isinstance(params, list | tuple) and params and all(map(_is_autodiff_scalar, params)):
        if grad is not None or value_and_grad is not None:
            raise InvalidArgument(
                "the parameters carry their own gradients (.data and .grad): drop grad= and "
                "value_and_grad=, gradcheck calls backward() on the loss"
            )
        return _autodiff_problem(obj, params)
    if isinstance(params, np.ndarray | np.generic) or has_array_leaf(params):
        return None
    refuse_unsupported_container(params, first_argument_name(obj, "params"))
    if isinstance(params, Real) or is_parameter_container(params):
        return function_problem(obj, params, grad, value_and_grad, backend="python")
    return None
