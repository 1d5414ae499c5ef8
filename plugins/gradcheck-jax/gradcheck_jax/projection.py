"""Reducing a function's outputs (any pytree) to the one scalar the engine checks.

A scalar output of a plain function is checked as it is. Anything else, and every output
of a custom rule, is reduced with fixed random weights,
``phi(x) = sum_k <u_k, out_k(x)>``, ``|u| in [1, 2]`` with random signs, drawn from
NumPy generators seeded with ``(PROJECTION_SEED, k)``; no global random state is used or
changed. phi's gradient is one vector-Jacobian product ``u^T J`` (a ``bwd`` called with
the cotangent ``u``), or, in forward mode, the JVPs ``J e_i`` weighted by ``u``. No
weight is below 1, so an error in any Jacobian entry changes the checked product by at
least its own size, and no weight is 1, so a ``bwd`` that ignores its cotangent is seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from gradcheck import ModelError

__all__ = ["PROJECTION_SEED", "Projection", "Weighing"]

PROJECTION_SEED = 0
"""Seed of the fixed random weights that reduce outputs to a scalar."""

Weighing = Literal["always", "non-scalar", "never"]
"""When outputs are weighed: a custom rule's always; a plain function's unless it returns
one number; never when the user's gradient function is compared with f itself."""


class Projection:
    """Reduces the outputs to a scalar, with fixed random weights where needed.

    Parameters
    ----------
    weighing : Weighing
        ``"always"``: even a single scalar output (a custom rule's: its cotangent is then
        not 1); ``"non-scalar"``: unless f returns one number; ``"never"``: f must return
        one number.
    what : str
        Names the function in notes and errors.
    note : callable (str) -> None
        Adds a fact to the report.
    """

    def __init__(self, weighing: Weighing, what: str, note: Callable[[str], None]) -> None:
        self.weighing = weighing
        self.what = what
        self.note = note

    def __call__(self, out: object) -> jax.Array:
        leaves = [
            leaf
            for leaf in jax.tree_util.tree_leaves(out)
            if jnp.issubdtype(jnp.result_type(leaf), jnp.floating)
        ]
        if not leaves:
            raise ModelError(
                f"{self.what} returned {type(out).__name__}; expected a floating array, or a "
                "pytree holding at least one"
            )
        if self.weighing != "always" and len(leaves) == 1 and jnp.size(leaves[0]) == 1:
            return jnp.reshape(leaves[0], ())
        if self.weighing == "never":
            raise ModelError(
                f"{self.what} returned more than one number, but a gradient function (grad= or "
                "value_and_grad=) is compared with a scalar f: return the loss, or drop grad= "
                "to check JAX's own gradient of a weighted sum of the outputs"
            )
        self.note(
            f"{self.what}: {len(leaves)} output(s) reduced to the scalar sum_k <u_k, out_k> "
            f"with fixed random weights |u| in [1, 2] (seed {PROJECTION_SEED}); checked: the "
            "vector-Jacobian product u^T J"
        )
        total = jnp.zeros((), dtype=jnp.result_type(leaves[0]))
        for k, leaf in enumerate(leaves):
            total = total + jnp.sum(_weights(k, jnp.shape(leaf), jnp.result_type(leaf)) * leaf)
        return total


def _weights(k: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray[Any, Any]:
    """The weights of output k: computed while JAX traces, so a constant of the function."""
    rng = np.random.default_rng([PROJECTION_SEED, k])
    u = rng.uniform(1.0, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return np.asarray(u, dtype=dtype)
