"""jax: functions of pytrees and custom_vjp / custom_jvp rules (gradients from JAX).

``gradcheck.check(f, params, *more)`` checks ``f(params, *more)`` with respect to the
floating leaves of ``params``, against ``jax.grad`` (or ``grad=`` / ``value_and_grad=``,
the user's own gradient function, called as ``grad(params, *more)`` and returning the
structure of ``params``, as ``jax.grad`` does). Elements are named by their path:
``params['layer1']['w'][3, 2]``. For a ``jax.custom_vjp`` or ``jax.custom_jvp`` function
every argument outside its ``nondiff_argnums`` is checked, and its outputs, however many
and of whatever shape, are reduced to one scalar with fixed random weights, so that the
rule is checked for every output.

Options of :func:`gradcheck.check` that this backend reads (all keyword-only):

``argnums`` : int or tuple of int, optional
    The arguments to differentiate with respect to, as for ``jax.grad``. Default: 0 for
    a function, every differentiable argument for a custom rule.
``x64`` : bool or None, default None
    ``None``: JAX's own ``jax_enable_x64`` setting. While x64 is off, leaves are checked
    in the dtype JAX computes them in, float32 with the float32 error model (float64
    leaves are computed in float32, as JAX does, with a note); while it is on, floating
    leaves are checked on float64 copies. ``True`` / ``False``: as if x64 were on / off,
    for the check's own evaluations. The setting is applied with ``jax.enable_x64(...)``
    around the backend's own calls only; the user's global setting is never changed.
``batch`` : bool or int, default True
    Evaluate perturbed points with ``jax.jit(jax.vmap(f))``, compiled once per check,
    in chunks sized to about 32 MB of parameter vectors (an int: points per chunk;
    ``False``: one compiled evaluation at a time).
``autodiff`` : {"rev", "fwd"}, default "rev"
    The gradient by reverse mode (``jax.grad``: a custom_vjp's ``bwd``, a custom_jvp's
    transposed rule) or forward mode (one JVP per element: a custom_jvp's rule as written).

Compile time is reported apart, in a note. JAX draws random numbers only from explicit
keys, so there is no global generator to reseed; ``reseed`` acts on NumPy's and Python's
generators as everywhere.
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
    """Accept JAX objects: functions of JAX arrays, jitted functions, custom rules."""
    if "jax" not in sys.modules:
        return None  # no JAX object can exist before JAX is imported
    from gradcheck_jax import adapters

    return adapters.adapt(obj, args, grad, value_and_grad, kwargs)
