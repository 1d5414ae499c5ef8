"""The JAX backend's keyword options of :func:`gradcheck.check`, validated.

Their meaning is documented in :mod:`gradcheck_jax.backend`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gradcheck import InvalidArgument

__all__ = ["Options"]

Autodiff = Literal["rev", "fwd"]


@dataclass(frozen=True, slots=True)
class Options:
    """The backend's keyword options, validated."""

    argnums: int | tuple[int, ...] | None
    x64: bool | None
    batch: bool | int
    autodiff: Autodiff

    @classmethod
    def pop(cls, kwargs: dict[str, object]) -> Options:
        """Take the backend's options out of ``kwargs``; refuse bad values."""
        argnums = kwargs.pop("argnums", None)
        x64 = kwargs.pop("x64", None)
        batch = kwargs.pop("batch", True)
        autodiff = kwargs.pop("autodiff", "rev")
        return cls(_argnums(argnums), _x64(x64), _batch(batch), _autodiff(autodiff))


def _argnums(value: object) -> int | tuple[int, ...] | None:
    """None, an int or a tuple of ints, as ``jax.grad`` takes it (the form is kept: a
    gradient function given with ``grad=`` returns one pytree for an int, a tuple of them
    for a tuple)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if (
        isinstance(value, tuple)
        and value
        and all(isinstance(k, int) and not isinstance(k, bool) for k in value)
    ):
        return value
    raise InvalidArgument(
        f"argnums={value!r}: expected an int or a non-empty tuple of ints, the positions of "
        "the arguments to differentiate with respect to, as for jax.grad"
    )


def _x64(value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise InvalidArgument(
            f"x64={value!r}: expected None (JAX's own jax_enable_x64 setting), True (check "
            "in float64) or False (check in float32)"
        )
    return value


def _batch(value: object) -> bool | int:
    if not isinstance(value, bool | int) or (not isinstance(value, bool) and value < 1):
        raise InvalidArgument(
            f"batch={value!r}: expected True (jax.jit(jax.vmap(f)) in automatic chunks), "
            "False (one evaluation at a time) or a positive number of points per chunk"
        )
    return value


def _autodiff(value: object) -> Autodiff:
    if value == "rev":
        return "rev"
    if value == "fwd":
        return "fwd"
    raise InvalidArgument(
        f"autodiff={value!r}: expected 'rev' (the gradient by reverse mode, jax.grad) or 'fwd' "
        "(by forward mode, one JVP per element, as jax.jacfwd)"
    )
