"""Checking ``jac`` during a run: a ``jac`` that checks itself at the calls a schedule picks.

:func:`checked` wraps a ``jac`` (or, for ``jac=True``, a ``fun``) for any SciPy routine:
the objective's gradient, the Jacobian of ``least_squares`` / ``root`` residuals, or a
constraint's Jacobian. Each check is :func:`gradcheck.check` at the point SciPy asked
for, inside the bounds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal, Unpack

import numpy as np
from numpy.typing import NDArray

from gradcheck._api import check
from gradcheck._errors import InvalidArgument
from gradcheck._options import CheckOptions, validate
from gradcheck._report import Report
from gradcheck.optimize._arguments import pair_bounds, require_callable, require_jac
from gradcheck.optimize._schedule import (
    CheckPlan,
    OnMismatch,
    Schedule,
    ScheduledCheck,
    failing_names,
)

__all__ = ["CheckedJacobian", "checked", "dense", "wrapping"]

FloatArray = NDArray[np.float64]


def dense(value: Any) -> Any:
    """A sparse matrix as a dense array; anything else as it is."""
    return value.toarray() if hasattr(value, "toarray") else value


class CheckedJacobian(ScheduledCheck):
    """A ``jac`` (or, for ``jac=True``, a ``fun``) that checks itself on a schedule.

    Made by :func:`checked`. Calling it calls the user's function with the same
    arguments and returns its result unchanged; on the calls the schedule picks, it first
    runs :func:`gradcheck.check` at that point.

    Attributes
    ----------
    reports : list of CheckedPoint
        Every check made so far, in order.
    calls : int
        How many times it was called.
    function_evaluations, gradient_evaluations : int
        Extra evaluations of ``fun`` and ``jac`` the checks cost (from each report's
        metadata).
    """

    def __init__(
        self,
        fun: Callable[..., Any],
        jac: Callable[..., Any] | Literal[True],
        plan: CheckPlan,
        *,
        constraint: int | None = None,
    ) -> None:
        subject = "jac" if constraint is None else f"jac of constraint {constraint}"
        super().__init__(subject, plan)
        self._fun = fun
        self._jac = jac
        self._constraint = constraint

    def __repr__(self) -> str:
        user = self._fun if self._jac is True else self._jac
        return (
            f"<checked {getattr(user, '__name__', type(user).__name__)}: {self.calls} calls, "
            f"{len(self.reports)} checked>"
        )

    def __call__(self, x: Any, *args: Any) -> Any:
        evaluation = self._due()
        user = self._fun if self._jac is True else self._jac
        result = user(x, *args)
        if evaluation is not None:
            point = np.array(x, dtype=np.float64)
            self._check(point, evaluation, lambda options: self._report(point, args, options))
        return result

    def element_names(self, report: Report) -> str:
        """``constraint 1: c[2] / x[0]`` for a constraint's Jacobian."""
        if self._constraint is None:
            return ""
        return failing_names(report, "c", f"constraint {self._constraint}: ")

    def _report(self, x: FloatArray, args: tuple[Any, ...], options: CheckOptions) -> Report:
        fun, jac = self._fun, self._jac

        @functools.wraps(fun)  # the report names elements after fun's first parameter
        def value(p: FloatArray) -> Any:
            out = fun(p, *args)
            return out[0] if jac is True else out

        def gradient(p: FloatArray) -> Any:
            return dense(jac(p, *args))  # type: ignore[operator]  # jac is not True here

        def value_and_gradient(p: FloatArray) -> Any:
            return fun(p, *args)

        return check(
            value,
            x,
            grad=None if jac is True else gradient,
            value_and_grad=value_and_gradient if jac is True else None,
            **options,
        )


def checked(
    fun: Callable[..., Any],
    jac: Callable[..., Any] | Literal[True],
    *,
    check: Schedule | int | str = 3,
    on_mismatch: OnMismatch = "raise",
    **options: Unpack[CheckOptions],
) -> CheckedJacobian:
    """Wrap a ``jac`` for any SciPy routine so that it checks itself on its first calls.

    Parameters
    ----------
    fun : callable ``fun(x, *args)``
        The objective (scalar) or residual (vector of shape (m,)) that ``jac``
        differentiates.
    jac : callable ``jac(x, *args)`` or True
        Returns the gradient, shape (n,), or the Jacobian, shape (m, n) (a sparse matrix
        is checked as a dense one). ``True``: ``fun`` returns ``(value, gradient)``, and
        the wrapper stands in for ``fun``: pass it as ``fun`` with ``jac=True``.
    check : Schedule, int or "start", default 3
        When to check: ``"start"`` at the first call only, ``n`` at the first n calls,
        or a :class:`Schedule` (first, every N-th, budget).
    on_mismatch : {"raise", "warn"}, default "raise"
        ``"raise"``: raise :class:`IterateMismatch` (a :class:`GradientMismatch`) from
        the call that found it, which stops the SciPy routine. ``"warn"``: issue a
        :class:`GradientMismatchWarning` and return the user's value all the same.
    bounds : (lower, upper) or scipy.optimize.Bounds, optional
        Finite differences stay inside them, one-sided at a bound (``least_squares``
        form: numbers or arrays, -inf / inf where unbounded).
    **options
        The other options of :func:`gradcheck.check` (:class:`gradcheck.CheckOptions`):
        ``method``, ``rtol``, ``atol``, ``step``, ``seed``, ``strict``, ``reseed``.

    Returns
    -------
    CheckedJacobian
        Called exactly like ``jac`` (or ``fun`` for ``jac=True``) and returning the same
        values; its ``reports`` list the checks made.

    Raises
    ------
    InvalidArgument
        When ``fun`` or ``jac`` is not callable, or an option is unknown.
    IterateMismatch
        From a checked call, when the gradient disagrees there (``on_mismatch="raise"``).
    ModelError
        From the first check, when ``fun`` or ``jac`` raises there, is not finite, or
        ``jac`` has the wrong shape. At later points such a check is skipped with a
        :class:`GradcheckWarning`, since solvers do try points where f is undefined.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import least_squares
    >>> def residuals(x):
    ...     return np.array([x[0] - 1.0, 10.0 * (x[1] - x[0] ** 2)])
    >>> def jacobian(x):
    ...     return np.array([[1.0, 0.0], [-20.0 * x[0], 10.0]])
    >>> jac = checked(residuals, jacobian, seed=0)
    >>> least_squares(residuals, np.array([-1.2, 1.0]), jac=jac).x.round(6)
    array([1., 1.])
    >>> len(jac.reports), all(p.report.ok for p in jac.reports)
    (3, True)
    """
    return CheckedJacobian(fun, jac, wrapping(fun, jac, check, on_mismatch, options))


def wrapping(
    fun: object,
    jac: object,
    check: Schedule | int | str,
    on_mismatch: object,
    options: CheckOptions,
) -> CheckPlan:
    """What every checked SciPy call validates first: ``fun`` and ``jac`` usable, the
    schedule, ``on_mismatch``; returns the plan: the schedule, the bounds as arrays, the
    other options validated (no ledger)."""
    require_callable("fun", fun)
    if jac is not True:
        require_jac(jac)
    if on_mismatch not in ("raise", "warn"):
        raise InvalidArgument(f"on_mismatch={on_mismatch!r}: expected 'raise' or 'warn'")
    remaining: CheckOptions = {**options}
    bounds = remaining.pop("bounds", None)
    return CheckPlan(
        Schedule.from_option(check),
        on_mismatch,
        None if bounds is None else pair_bounds(bounds),
        validate(remaining),
    )
