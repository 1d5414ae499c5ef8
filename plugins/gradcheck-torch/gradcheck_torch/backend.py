"""torch: functions of tensors, custom autograd.Function, nn.Module (gradients from autograd).

Options of :func:`gradcheck.check` that this backend reads (all keyword-only):

``loss`` : callable, optional
    For a module: ``check(model, x, y, loss=F.cross_entropy)`` checks
    ``loss(model(x), y)``. The first argument is the module's input (a tuple for a module
    with several inputs); the remaining arguments go to ``loss`` after the output.
    Without ``loss`` every argument is an input and the module's output is checked.
``input_grad`` : bool, default False
    For a module: check the gradient with respect to its floating inputs as well,
    reported as ``input`` (or ``input0``, ``input1``, ... for several inputs).
``native_dtype`` : bool, default False
    Check in the model's own dtype (a float32 model with the float32 error model).
    By default a float32 or float16 model is checked on a float64 copy.
``batch`` : bool or int, default True
    Evaluate the perturbed points in batches with ``torch.func.vmap`` where that is
    faster: the first call times its first points both ways and keeps the faster path.
    An int is the points per batch, always with vmap. Models vmap cannot run (random
    layers, ``.item()``, autograd.Function without a vmap rule) fall back to one
    evaluation at a time, as ``batch=False`` does.
``train`` : bool or None, default None
    Check the module's copy in train (True) or eval (False) mode; None keeps its mode.
``reseed`` : bool, default True
    Reseed torch's random number generator (inside ``torch.random.fork_rng``, so the
    user's generator state is untouched) before every evaluation, so that dropout draws
    the same mask each time and its gradient is checked for that mask. With
    ``reseed=False`` a random forward draws anew each time, and the report says so and
    how to fix it. Either way torch's generators are put back when the check ends.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from gradcheck import Problem, hookimpl

__all__ = ["gradcheck_adapt"]


@hookimpl
def gradcheck_adapt(
    obj: object,
    args: tuple[object, ...],
    grad: Callable[..., Any] | None,
    value_and_grad: Callable[..., Any] | None,
    kwargs: dict[str, object],
) -> Problem | None:
    """Accept torch objects: tensor functions, autograd.Function, nn.Module."""
    if "torch" not in sys.modules:
        return None  # no torch object can exist before torch is imported
    from gradcheck_torch import adapters

    return adapters.adapt(obj, args, grad, value_and_grad, kwargs)
