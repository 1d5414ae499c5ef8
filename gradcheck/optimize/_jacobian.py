"""Checking ``jac`` during a run: a ``jac`` that checks itself at the calls a schedule picks.

:func:`checked` wraps a ``jac`` (or, for ``jac=True``, a ``fun``) for any SciPy routine;
:func:`minimize` is :func:`scipy.optimize.minimize` with its ``jac`` so wrapped. Each
check is :func:`gradcheck.check` at the point SciPy asked for, inside the bounds.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Unpack

import numpy as np
import scipy.optimize
from numpy.typing import NDArray
from scipy.optimize import OptimizeResult

from gradcheck.api import check
from gradcheck.errors import (
    GradcheckWarning,
    GradientMismatchWarning,
    InvalidArgument,
    IterateMismatch,
    ModelError,
)
from gradcheck.optimize._arguments import (
    minimize_bounds,
    pair_bounds,
    require_callable,
    require_jac,
    short,
)
from gradcheck.options import CheckOptions, validate
from gradcheck.report import Report

__all__ = ["CheckedJacobian", "CheckedPoint", "OnMismatch", "Schedule", "checked", "minimize"]

FloatArray = NDArray[np.float64]

OnMismatch = Literal["raise", "warn"]
"""What a checked call does when the gradient disagrees: raise, or warn and go on."""


class CheckedPoint(NamedTuple):
    """One check made during a run: which call of ``jac``, at what point, and its report."""

    evaluation: int
    x: FloatArray
    report: Report

    def __repr__(self) -> str:
        return (
            f"CheckedPoint(evaluation={self.evaluation}, x={short(self.x)}, "
            f"report=<{self.report.headline()}>)"
        )


@dataclass(frozen=True, slots=True)
class Schedule:
    """At which calls of ``jac`` to check it.

    Calls are counted from 0 (the first, normally at ``x0``). A call is checked when it
    is among the ``first`` ones, or when ``every`` is set and divides its number, until
    ``budget`` checks have been made.

    Parameters
    ----------
    first : int, default 3
        Check the first ``first`` calls: the start point and the first iterates.
    every : int, default 0
        Also check every ``every``-th call (0: never after the first ones).
    budget : int, optional
        At most this many checks in all.

    Examples
    --------
    >>> Schedule(first=1).wants(0, done=0), Schedule(first=1).wants(1, done=1)
    (True, False)
    >>> [k for k in range(12) if Schedule(first=2, every=5).wants(k, done=0)]
    [0, 1, 5, 10]
    >>> Schedule(first=2, every=5, budget=3).wants(10, done=3)
    False
    """

    first: int = 3
    every: int = 0
    budget: int | None = None

    def __post_init__(self) -> None:
        for name in ("first", "every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidArgument(f"Schedule({name}={value!r}): expected an integer >= 0")
        if self.budget is not None and (
            not isinstance(self.budget, int) or isinstance(self.budget, bool) or self.budget < 1
        ):
            raise InvalidArgument(
                f"Schedule(budget={self.budget!r}): expected an integer >= 1, or None for no limit"
            )

    @classmethod
    def from_option(cls, check: Schedule | int | str) -> Schedule:
        """``check=`` as given: a Schedule, ``"start"`` (x0 only), or n (the first n calls)."""
        if isinstance(check, Schedule):
            return check
        if check == "start":
            return cls(first=1)
        if isinstance(check, int) and not isinstance(check, bool) and check >= 0:
            return cls(first=check)
        raise InvalidArgument(
            f"check={check!r}: expected 'start' (check at x0 only), a number n (check the "
            "first n calls of jac) or gradcheck.optimize.Schedule(first=, every=, budget=)"
        )

    def wants(self, evaluation: int, done: int) -> bool:
        """Whether call ``evaluation`` is checked, ``done`` checks having been made."""
        if self.budget is not None and done >= self.budget:
            return False
        return evaluation < self.first or (self.every > 0 and evaluation % self.every == 0)


class CheckedJacobian:
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
        schedule: Schedule,
        on_mismatch: OnMismatch,
        bounds: tuple[FloatArray, FloatArray] | None,
        options: CheckOptions,
    ) -> None:
        self._fun = fun
        self._jac = jac
        self._schedule = schedule
        self._on_mismatch = on_mismatch
        self._bounds = bounds
        self._options = options
        self.reports: list[CheckedPoint] = []
        self.calls = 0

    @property
    def function_evaluations(self) -> int:
        """Evaluations of ``fun`` made by the checks."""
        return sum(p.report.metadata.function_evaluations for p in self.reports)

    @property
    def gradient_evaluations(self) -> int:
        """Evaluations of ``jac`` made by the checks."""
        return sum(p.report.metadata.gradient_evaluations for p in self.reports)

    def __repr__(self) -> str:
        user = self._fun if self._jac is True else self._jac
        return (
            f"<checked {getattr(user, '__name__', type(user).__name__)}: {self.calls} calls, "
            f"{len(self.reports)} checked>"
        )

    def __call__(self, x: Any, *args: Any) -> Any:
        evaluation = self.calls
        self.calls += 1
        user = self._fun if self._jac is True else self._jac
        result = user(x, *args)
        if self._schedule.wants(evaluation, len(self.reports)):
            self._check(np.array(x, dtype=np.float64), args, evaluation)
        return result

    def _check(self, x: FloatArray, args: tuple[Any, ...], evaluation: int) -> None:
        fun, jac = self._fun, self._jac

        @functools.wraps(fun)  # the report names elements after fun's first parameter
        def value(p: FloatArray) -> Any:
            out = fun(p, *args)
            return out[0] if jac is True else out

        def gradient(p: FloatArray) -> Any:
            out = jac(p, *args)  # type: ignore[operator]
            return out.toarray() if hasattr(out, "toarray") else out  # sparse Jacobians

        def value_and_gradient(p: FloatArray) -> Any:
            return fun(p, *args)

        options: CheckOptions = {**self._options, "bounds": self._bounds_at(x)}
        try:
            report = check(
                value,
                x,
                grad=None if jac is True else gradient,
                value_and_grad=value_and_gradient if jac is True else None,
                **options,
            )
        except ModelError as exc:
            if not self.reports and evaluation == 0:
                raise ModelError(f"checking jac {_where(evaluation, x)}: {exc}") from exc
            warnings.warn(
                f"gradcheck.optimize: jac not checked {_where(evaluation, x)}: {exc}",
                GradcheckWarning,
                stacklevel=3,
            )
            return
        self.reports.append(CheckedPoint(evaluation, x, report))
        if report.ok:
            return
        error = IterateMismatch(report, evaluation, x, _where(evaluation, x))
        if self._on_mismatch == "raise":
            raise error
        warnings.warn(str(error), GradientMismatchWarning, stacklevel=3)

    def _bounds_at(self, x: FloatArray) -> tuple[FloatArray, FloatArray] | None:
        """The bounds, widened to take in x where the solver stepped outside them."""
        if self._bounds is None:
            return None
        lower, upper = self._bounds
        flat = x.reshape(-1)
        return np.minimum(lower, flat), np.maximum(upper, flat)


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
    require_callable("fun", fun)
    if jac is not True:
        require_jac(jac)
    if on_mismatch not in ("raise", "warn"):
        raise InvalidArgument(f"on_mismatch={on_mismatch!r}: expected 'raise' or 'warn'")
    bounds = options.pop("bounds", None)
    return CheckedJacobian(
        fun,
        jac,
        Schedule.from_option(check),
        on_mismatch,
        None if bounds is None else pair_bounds(bounds),
        validate(options),
    )


def minimize(
    fun: Callable[..., Any],
    x0: Any,
    args: tuple[Any, ...] = (),
    *,
    jac: Callable[..., Any] | Literal[True],
    check: Schedule | int | str = 3,
    on_mismatch: OnMismatch = "raise",
    check_options: CheckOptions | None = None,
    **kwargs: Any,
) -> OptimizeResult:
    """:func:`scipy.optimize.minimize`, with ``jac`` checked at the start and first iterates.

    Same call, same return value: every argument but ``check``, ``on_mismatch`` and
    ``check_options`` goes to SciPy unchanged, and ``fun`` and ``jac`` are called with
    the same arguments and return the same values as without the checks.

    Parameters
    ----------
    fun : callable ``fun(x, *args) -> float``
        The objective; with ``jac=True`` it returns ``(value, gradient)``.
    x0 : array_like, shape (n,)
        Start point; never modified.
    args : tuple, optional
        Extra arguments of ``fun`` and ``jac``.
    jac : callable ``jac(x, *args) -> ndarray of shape (n,)``, or True
        The hand-written gradient to check (required: with SciPy's own finite
        differences there is nothing to check).
    check : Schedule, int or "start", default 3
        Which calls of ``jac`` to check: ``"start"`` only at x0, ``n`` the first n
        (x0 and the first iterates), or a :class:`Schedule` (every N-th, a budget).
    on_mismatch : {"raise", "warn"}, default "raise"
        ``"raise"`` stops the run with :class:`IterateMismatch`, naming the point and the
        elements that disagree; ``"warn"`` issues a :class:`GradientMismatchWarning`
        and goes on.
    check_options : CheckOptions, optional
        Options of :func:`gradcheck.check`: ``method``, ``rtol``, ``atol``, ``step``,
        ``seed``, ``strict``, ``reseed`` (the bounds are ``minimize``'s own).
    **kwargs
        ``method``, ``bounds``, ``hess``, ``constraints``, ``tol``, ``callback``,
        ``options`` and the rest of :func:`scipy.optimize.minimize`. With ``bounds``,
        the finite differences of the checks stay inside them.

    Returns
    -------
    OptimizeResult
        SciPy's result, plus ``gradcheck_reports`` (a list of :class:`CheckedPoint`:
        the call of jac, the point, the Report), ``gradcheck_nfev`` and
        ``gradcheck_njev`` (the extra evaluations of fun and jac the checks made; they
        are not included in SciPy's ``nfev`` and ``njev``).

    Raises
    ------
    IterateMismatch
        When the gradient disagrees with finite differences at a checked point.
    InvalidArgument
        When ``jac`` is not a function (or True), or an option is unknown.
    ModelError
        When ``fun`` or ``jac`` raises at x0, is not finite there, or ``jac`` returns the
        wrong shape.

    See Also
    --------
    checked : the wrapper this uses, for any SciPy routine.
    cross_check : compare whole runs with analytic and finite-difference gradients.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import rosen, rosen_der
    >>> result = minimize(rosen, np.array([1.3, 0.7, 0.8]), jac=rosen_der,
    ...                   method="BFGS", check_options={"seed": 0})
    >>> result.success, result.x.round(4)
    (True, array([1., 1., 1.]))
    >>> [(p.evaluation, p.report.ok) for p in result.gradcheck_reports]
    [(0, True), (1, True), (2, True)]
    """
    options: CheckOptions = {**check_options} if check_options else {}
    if "bounds" in options:
        raise InvalidArgument(
            "check_options={'bounds': ...}: pass the bounds to minimize itself "
            "(bounds=...); the solver and the checks both keep inside them"
        )
    if kwargs.get("bounds") is not None:
        options["bounds"] = minimize_bounds(kwargs["bounds"])
    wrapped = checked(fun, jac, check=check, on_mismatch=on_mismatch, **options)
    start = np.array(x0, copy=True)  # SciPy gets its own copy: the user's x0 is left alone
    if jac is True:
        result = scipy.optimize.minimize(wrapped, start, args=args, jac=True, **kwargs)
    else:
        result = scipy.optimize.minimize(fun, start, args=args, jac=wrapped, **kwargs)
    result["gradcheck_reports"] = list(wrapped.reports)
    result["gradcheck_nfev"] = wrapped.function_evaluations
    result["gradcheck_njev"] = wrapped.gradient_evaluations
    return result


def _where(evaluation: int, x: FloatArray) -> str:
    if evaluation == 0:
        return f"at the start point x0 = {short(x)}"
    return f"at call {evaluation} of jac, x = {short(x)}"
