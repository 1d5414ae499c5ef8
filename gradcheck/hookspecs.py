"""The hook a backend implements to teach gradcheck about a new kind of object.

A backend is a module or object with functions decorated by :data:`gradcheck.hookimpl`,
registered through the entry-point group ``gradcheck``::

    [project.entry-points.gradcheck]
    mybackend = "my_package.gradcheck_backend"

gradcheck asks every registered backend, most recently registered first, until one
returns a :class:`~gradcheck.Problem`. Built-in backends are registered before those of
installed distributions, so a third-party backend is asked first and may claim objects a
built-in one would also take. A catch-all backend marks its implementation
``@hookimpl(trylast=True)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from gradcheck._problem import Problem

__all__ = ["PROJECT_NAME", "gradcheck_adapt", "hookimpl", "hookspec"]

PROJECT_NAME = "gradcheck"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec(firstresult=True)
def gradcheck_adapt(
    obj: object,
    args: tuple[object, ...],
    grad: Callable[..., Any] | None,
    value_and_grad: Callable[..., Any] | None,
    kwargs: dict[str, object],
) -> Problem | None:
    """Turn the object given to :func:`gradcheck.check` into a :class:`~gradcheck.Problem`.

    Parameters
    ----------
    obj : object
        The first argument of ``gradcheck.check``: a function, a model, a bound method.
    args : tuple
        The remaining positional arguments, whose meaning the backend decides: for a
        plain function, ``(params,)``; for a model, its inputs.
    grad, value_and_grad : callable or None
        The user's analytic gradient, as given to ``check``; at most one is not None.
        A backend whose objects carry their own gradients (autograd) should raise
        :class:`~gradcheck.InvalidArgument` when one is given, rather than ignore it.
    kwargs : dict
        Keyword arguments of ``check`` that gradcheck itself does not know (for example
        ``loss=`` for a module), plus the options gradcheck shares with backends:
        ``reseed`` (bool, default True: make a random f deterministic where you can,
        e.g. by reseeding your framework's generator before every evaluation). Remove
        each key you use; anything left afterwards, shared options aside, is reported to
        the user as an unknown option.

    Returns
    -------
    Problem or None
        A problem whose parameters are live, writable storage and whose ``restore``
        undoes every change the backend made to the user's objects; or ``None`` when
        this backend does not handle ``obj`` (then the next backend is asked).

    Raises
    ------
    InvalidArgument
        When the backend recognises ``obj`` but the arguments are unusable: say which
        argument, what it was, and what is expected.
    """
