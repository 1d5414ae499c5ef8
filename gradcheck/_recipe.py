"""How :func:`gradcheck.check` built a problem, so that a worker process can build it again.

``check(..., executor=pool)`` sends each worker the :class:`Recipe` (pickled once): the
object and arguments the user passed, and the backend's options. A worker calls it and
gets its own :class:`~gradcheck.Problem`, equal to the one in the calling process, with
storage of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gradcheck import _plugins as plugins
from gradcheck._problem import Problem

__all__ = ["Recipe"]


@dataclass(frozen=True, slots=True)
class Recipe:
    """The arguments of :func:`gradcheck._plugins.adapt` that built a problem.

    Examples
    --------
    >>> import numpy as np
    >>> recipe = Recipe(np.sum, (np.ones(2),), np.ones_like, None, {})
    >>> recipe().flat_values()
    array([1., 1.])
    >>> [name for name, _ in recipe.parts()]
    ['f (sum)', 'params', 'grad']
    """

    obj: object
    args: tuple[object, ...]
    grad: Callable[..., Any] | None
    value_and_grad: Callable[..., Any] | None
    kwargs: dict[str, object]

    def __call__(self) -> Problem:
        """The problem, built afresh by the backend that takes ``obj``."""
        return plugins.adapt(self.obj, self.args, self.grad, self.value_and_grad, self.kwargs)

    def parts(self) -> list[tuple[str, object]]:
        """Each part with the name a message gives it: ``f (loss)``, ``params``, ``grad``,
        ``argument 2``, ``option loss=``."""
        name = getattr(self.obj, "__name__", None)
        parts: list[tuple[str, object]] = [(f"f ({name})" if name else "the model", self.obj)]
        if len(self.args) == 1:
            parts.append(("params", self.args[0]))
        else:
            parts.extend((f"argument {k + 1}", arg) for k, arg in enumerate(self.args))
        parts.extend(
            (label, given)
            for label, given in (("grad", self.grad), ("value_and_grad", self.value_and_grad))
            if given is not None
        )
        parts.extend((f"option {key}=", value) for key, value in self.kwargs.items())
        return parts
