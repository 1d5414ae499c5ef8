"""NumPy: f(params) over arrays and dicts / lists of arrays; models with a ``params`` dict.

Accepted:

* ``check(f, params, grad=df)`` where ``params`` is a floating array of any shape or a
  dict, list, tuple, namedtuple or dataclass holding arrays (see :mod:`gradcheck._tree`);
  elements are named like ``W1[3, 2]``, ``layers[0][1]`` or ``p.W[0, 1]``;
* ``check(model.loss, X, y)`` where ``model.params`` is a dict of floating arrays and the
  bound method returns ``(loss, grads)`` with ``grads`` keyed like ``params``: the classic
  hand-written-backprop model. ``model.params[k]`` is perturbed in place and restored
  bit for bit;
* last of all, ``check(f, params, grad=df)`` for any ``params`` with ``__array__``,
  which ``f`` then receives as a NumPy array.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradcheck._errors import InvalidArgument, ModelError
from gradcheck._problem import Parameter, Problem, UndoStack
from gradcheck._tree import ParameterTree, has_array_leaf
from gradcheck.backends.function import function_problem
from gradcheck.hookspecs import hookimpl

__all__ = ["gradcheck_adapt", "gradcheck_adapt_array_like"]


def _model_loss(obj: object) -> tuple[Callable[..., Any], dict[str, Any]] | None:
    """``obj`` and its owner's ``params`` dict when ``obj`` is a model's bound loss method."""
    owner = getattr(obj, "__self__", None)
    params = getattr(owner, "params", None)
    if callable(obj) and isinstance(params, dict) and has_array_leaf(params):
        return obj, params
    return None


def _model_problem(
    method: Callable[..., Any], params: dict[str, Any], args: tuple[object, ...]
) -> Problem:
    template = ParameterTree(params, root="params")  # validates; its copies name and shape
    undo = UndoStack()
    parameters = []
    for name, array in _leaves(params):
        if not array.flags.c_contiguous or not array.flags.writeable:
            raise InvalidArgument(
                f"model.params[{name!r}] is not a writable C-contiguous array, so gradcheck "
                "cannot perturb it in place; store np.ascontiguousarray(...) in the model"
            )
        undo.save_array(array)
        parameters.append(Parameter(name, array.shape, array.reshape(-1)))
    snapshot = dict(params)  # the model may rebind an entry; put the original arrays back

    def put_back_entries() -> None:
        params.clear()
        params.update(snapshot)

    undo.push(put_back_entries)

    def call() -> tuple[object, object]:
        out = method(*args)
        rebound = [k for k, a in snapshot.items() if params.get(k) is not a]
        if rebound:
            raise ModelError(
                f"{getattr(method, '__qualname__', 'the model method')} replaced "
                f"model.params[{rebound[0]!r}] with a new array, so perturbing the old one "
                "changes nothing; update the arrays in place (params[k][...] = ...) or "
                "build new ones outside the loss"
            )
        if not isinstance(out, tuple) or len(out) != 2:
            raise ModelError(
                f"{getattr(method, '__qualname__', 'the model method')} returned "
                f"{type(out).__name__}; a model with a params dict must return (loss, grads)"
            )
        return out[0], out[1]

    def value() -> object:
        return call()[0]

    def gradient() -> object:
        return template.flatten_gradient(call()[1], "grads", problem.note)

    problem = Problem(parameters, value, gradient, backend="numpy", restore=undo.undo)
    return problem


def _leaves(params: dict[str, Any]) -> list[tuple[str, np.ndarray[Any, Any]]]:
    leaves = []
    for key, array in params.items():
        if not isinstance(array, np.ndarray):
            raise InvalidArgument(
                f"model.params[{key!r}] is a {type(array).__name__}; a model's params dict "
                "must hold floating NumPy arrays"
            )
        leaves.append((str(key), array))
    return leaves


@hookimpl
def gradcheck_adapt(
    obj: object,
    args: tuple[object, ...],
    grad: Callable[..., Any] | None,
    value_and_grad: Callable[..., Any] | None,
    kwargs: dict[str, object],
) -> Problem | None:
    """Accept a function of NumPy arrays, or a model's loss method with a params dict."""
    model = _model_loss(obj)
    if model is not None and grad is None and value_and_grad is None:
        return _model_problem(*model, args)
    if not callable(obj) or len(args) != 1 or not has_array_leaf(args[0]):
        return None
    return function_problem(obj, args[0], grad, value_and_grad, backend="numpy")


@hookimpl(trylast=True, specname="gradcheck_adapt")
def gradcheck_adapt_array_like(
    obj: object,
    args: tuple[object, ...],
    grad: Callable[..., Any] | None,
    value_and_grad: Callable[..., Any] | None,
    kwargs: dict[str, object],
) -> Problem | None:
    """Accept a function of any array-like (``__array__``), passed on as a NumPy array."""
    if not callable(obj) or len(args) != 1 or not hasattr(args[0], "__array__"):
        return None
    return function_problem(obj, np.asarray(args[0]), grad, value_and_grad, backend="numpy")
