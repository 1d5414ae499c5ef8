"""Recognising a hand-written derivative rule: ``jax.custom_vjp`` and ``jax.custom_jvp``.

A rule is found on the object itself or on anything it wraps (``jax.jit(f)``,
``functools.wraps``), following ``__wrapped__``. A rule's outputs are always reduced to
one scalar with random weights (see :mod:`gradcheck_jax.projection`), so that a ``bwd``
that ignores its cotangent, or one wrong output of several, is caught; its arguments
listed in ``nondiff_argnums`` are never differentiated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax

__all__ = ["Rule", "custom_rule", "unwrapped"]

_MAX_WRAPPERS = 32


@dataclass(frozen=True, slots=True)
class Rule:
    """A custom derivative rule: its kind, the primal function, and its fixed arguments."""

    kind: str  # "custom_vjp" or "custom_jvp"
    fun: Callable[..., Any]
    nondiff_argnums: tuple[int, ...]

    @property
    def name(self) -> str:
        """E.g. ``custom_vjp softclip``."""
        return f"{self.kind} {getattr(self.fun, '__name__', type(self.fun).__name__)}"


def unwrapped(obj: object) -> list[object]:
    """``obj`` and everything it wraps, outermost first."""
    chain = [obj]
    while len(chain) < _MAX_WRAPPERS:
        inner = getattr(chain[-1], "__wrapped__", None)
        if inner is None or any(inner is seen for seen in chain):
            break
        chain.append(inner)
    return chain


def custom_rule(obj: object) -> Rule | None:
    """The custom_vjp or custom_jvp that ``obj`` is or wraps, or None."""
    for candidate in unwrapped(obj):
        if isinstance(candidate, jax.custom_vjp):
            return Rule("custom_vjp", candidate.fun, tuple(candidate.nondiff_argnums))
        if isinstance(candidate, jax.custom_jvp):
            return Rule("custom_jvp", candidate.fun, tuple(candidate.nondiff_argnums))
    return None
