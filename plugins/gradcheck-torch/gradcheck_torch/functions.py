"""Problems for a function of tensors and for a custom ``torch.autograd.Function``.

The checked tensors are the floating arguments that require grad (all floating arguments
when none does); the others are held fixed. Each checked tensor is copied into NumPy
storage, float64 by default, and the function's output is reduced to one scalar (always,
through fixed random weights, for an autograd.Function, so that its ``backward`` is
checked for every output).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
from gradcheck import InvalidArgument, Problem, UndoStack

from gradcheck_torch.options import Options
from gradcheck_torch.problems import (
    Projection,
    Reporter,
    Setup,
    Subject,
    build_problem,
    convert,
    one_device,
    slot,
    working_dtype,
)
from gradcheck_torch.randomness import random_note
from gradcheck_torch.sparse import sparse_values

__all__ = ["function_problem"]


def _argument_names(func: Callable[..., Any], count: int) -> list[str]:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        params = []
    if params and params[0].name == "ctx":
        params = params[1:]
    names = [
        p.name
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
    ]
    return [names[i] if i < len(names) else f"arg{i}" for i in range(count)]


def function_problem(
    func: Callable[..., Any],
    args: tuple[object, ...],
    options: Options,
    *,
    what: str,
    names_from: Callable[..., Any],
    project: bool,
    undo: UndoStack,
) -> Problem:
    """The Problem of ``func(*args)`` with respect to its checked tensor arguments; its
    ``restore()`` undoes ``undo`` (the caller does when this raises)."""
    floating = {
        i: a for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.is_floating_point()
    }
    checked = [i for i, a in floating.items() if a.requires_grad] or list(floating)
    if not checked:
        raise InvalidArgument(
            f"{what}: none of its {len(args)} argument(s) is a floating tensor, so there is "
            "nothing to differentiate with respect to"
        )
    tensors = [floating[i] for i in checked]
    device = one_device(tensors, f"the inputs of {what}")
    dtype = working_dtype(tensors, options.native_dtype, f"the inputs of {what}")
    names = _argument_names(names_from, len(args))
    sparse = [sparse_values(floating[i], names[i], what) for i in checked]
    reporter = Reporter()
    for split in sparse:
        if split is not None:
            reporter(split.note)
    projection = Projection(project, what, reporter)

    def setup(dtype: torch.dtype, native: bool) -> Setup:
        slots = [
            slot(names[i], t, dtype) if s is None else slot(f"{names[i]}.values()", s.values, dtype)
            for i, t, s in zip(checked, tensors, sparse, strict=True)
        ]
        fixed = [a if native else convert(a, dtype) for a in args]

        def objective(values: Sequence[torch.Tensor], _: Sequence[torch.Tensor]) -> torch.Tensor:
            call = list(fixed)
            for i, t, s in zip(checked, values, sparse, strict=True):
                call[i] = t if s is None else s.build(t)
            return projection(func(*call))

        return Setup(slots, objective)

    return build_problem(
        setup,
        tensors,
        Subject(what, f"inputs of {what}", "make those tensors float64 or pass them as arguments"),
        device=device,
        dtype=dtype,
        options=options,
        reporter=reporter,
        random_note=lambda: random_note(what, reseed=options.reseed, layers=(), module=False),
        undo=undo,
    )
