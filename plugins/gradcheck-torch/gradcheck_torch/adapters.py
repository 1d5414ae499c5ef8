"""Turning torch objects into gradcheck Problems: functions, autograd.Function, nn.Module.

Every problem works on copies: the checked tensors are copied into NumPy storage (float64
by default, the model's dtype with ``native_dtype=True``), a module is deep-copied (and
converted to float64) before the first evaluation. The user's module, tensors, ``.grad``
fields, ``requires_grad`` flags, buffers and train/eval mode are recorded anyway and put
back by ``Problem.restore()``, which the engine calls in ``finally``.

Layout: :mod:`~gradcheck_torch.functions` and :mod:`~gradcheck_torch.modules` build the
problems from the pieces in :mod:`~gradcheck_torch.problems`;
:mod:`~gradcheck_torch.evaluation` evaluates them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, cast

import torch
from gradcheck import InvalidArgument, Problem, UndoStack

from gradcheck_torch.functions import function_problem
from gradcheck_torch.modules import module_problem
from gradcheck_torch.options import Options
from gradcheck_torch.randomness import GeneratorStates

__all__ = ["adapt"]


def adapt(
    obj: object,
    args: tuple[object, ...],
    grad: Callable[..., Any] | None,
    value_and_grad: Callable[..., Any] | None,
    kwargs: dict[str, object],
) -> Problem | None:
    """A Problem for a torch object, or None when ``obj`` is not one."""
    function_class = _autograd_function(obj)
    if isinstance(obj, torch.nn.Module):
        kind = f"nn.Module {type(obj).__name__}"
    elif function_class is not None:
        kind = f"autograd.Function {function_class.__name__}"
    elif callable(obj) and any(isinstance(a, torch.Tensor) for a in args):
        kind = f"function {getattr(obj, '__name__', type(obj).__name__)} of tensors"
    else:
        return None
    if grad is not None or value_and_grad is not None:
        raise InvalidArgument(
            f"{kind}: its gradient comes from autograd, so grad= and value_and_grad= are not "
            "used; drop them (to check a hand-written gradient function, pass NumPy arrays)"
        )
    options = Options.pop(kwargs)
    if not isinstance(obj, torch.nn.Module):
        options.refuse_module_only(kind)
    undo = UndoStack()  # undone by Problem.restore(), or here if no Problem is made
    undo.push(GeneratorStates().restore)
    try:
        if isinstance(obj, torch.nn.Module):
            return module_problem(obj, args, options, undo)
        if function_class is not None:
            return function_problem(
                function_class.apply,
                args,
                options,
                what=function_class.__name__,
                names_from=function_class.forward,
                project=True,
                undo=undo,
            )
        func = cast(Callable[..., Any], obj)  # a callable with tensor arguments, as tested
        what = getattr(func, "__qualname__", type(func).__name__)
        return function_problem(
            func, args, options, what=what, names_from=func, project=False, undo=undo
        )
    except BaseException:
        undo.undo()
        raise


def _autograd_function(obj: object) -> type[torch.autograd.Function] | None:
    owner = getattr(obj, "__self__", None) if inspect.ismethod(obj) else obj
    if (
        isinstance(owner, type)
        and issubclass(owner, torch.autograd.Function)
        and (owner is obj or getattr(obj, "__name__", "") == "apply")
    ):
        return owner
    return None
