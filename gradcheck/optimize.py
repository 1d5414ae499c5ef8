"""Check the ``jac=`` you hand to :mod:`scipy.optimize`, while it runs.

SciPy trusts a hand-written gradient: a wrong one makes ``minimize`` wander, stop early
or report success at the wrong point, and nothing says why. This module checks the
gradient with :func:`gradcheck.check` at the points SciPy asks for it:

* :func:`minimize` is :func:`scipy.optimize.minimize` with the gradient checked at the
  start and the first few iterates; it returns SciPy's own ``OptimizeResult`` with the
  reports attached;
* :func:`checked` wraps a ``jac`` for any SciPy routine (``minimize``, ``least_squares``,
  ``root``; vector residuals have their Jacobian checked element by element);
* :func:`cross_check` runs the optimizer twice, with the analytic gradient and with
  SciPy's own finite differences, and says whether the two runs agree;
  :func:`cross_check_case` does the same for a :class:`gradcheck.Case`.

This is a front end: the numbers come from :func:`gradcheck.check`; this module only
decides when to call it and what to do with the Report. ``scipy.optimize`` is imported
here and nowhere else in gradcheck.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Unpack

import numpy as np
import scipy.optimize
from numpy.typing import NDArray
from scipy.optimize import OptimizeResult

from gradcheck.api import Case, check
from gradcheck.errors import (
    GradcheckWarning,
    GradientMismatchWarning,
    InvalidArgument,
    IterateMismatch,
    ModelError,
)
from gradcheck.options import CheckOptions, validate
from gradcheck.report import Report

__all__ = [
    "CheckedJacobian",
    "CheckedPoint",
    "CrossCheck",
    "GradcheckWarning",
    "GradientMismatchWarning",
    "IterateMismatch",
    "Schedule",
    "checked",
    "cross_check",
    "cross_check_case",
    "minimize",
]

FloatArray = NDArray[np.float64]

OnMismatch = Literal["raise", "warn"]


class CheckedPoint(NamedTuple):
    """One check made during a run: which call of ``jac``, at what point, and its report."""

    evaluation: int
    x: FloatArray
    report: Report

    def __repr__(self) -> str:
        return (
            f"CheckedPoint(evaluation={self.evaluation}, x={_short(self.x)}, "
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
    _require_callable("fun", fun)
    if jac is not True:
        _require_jac(jac)
    if on_mismatch not in ("raise", "warn"):
        raise InvalidArgument(f"on_mismatch={on_mismatch!r}: expected 'raise' or 'warn'")
    bounds = options.pop("bounds", None)
    return CheckedJacobian(
        fun,
        jac,
        Schedule.from_option(check),
        on_mismatch,
        None if bounds is None else _pair_bounds(bounds),
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
        options["bounds"] = _minimize_bounds(kwargs["bounds"])
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


@dataclass(frozen=True, slots=True, eq=False)
class CrossCheck:
    """Two runs of one solver, with the analytic gradient and with SciPy's differences.

    Attributes
    ----------
    analytic, finite : OptimizeResult
        The run with the user's ``jac`` and the run with ``jac="3-point"``.
    solver : str
        ``"minimize"`` or ``"least_squares"``.
    xtol, ftol : float
        The solutions agree when ``|x_a - x_f| <= xtol * (1 + |x_f|)`` elementwise and
        ``|f_a - f_f| <= ftol * (1 + |f_f|)``, and both runs succeed or both fail.
    """

    analytic: OptimizeResult
    finite: OptimizeResult
    solver: str
    xtol: float
    ftol: float
    notes: tuple[str, ...] = field(default=())

    @property
    def x_gap(self) -> float:
        """Largest ``|x_a - x_f| / (1 + |x_f|)`` over the elements of the solution."""
        xa = np.asarray(self.analytic.x, dtype=np.float64)
        xf = np.asarray(self.finite.x, dtype=np.float64)
        return float(np.max(np.abs(xa - xf) / (1.0 + np.abs(xf)), initial=0.0))

    @property
    def fun_gap(self) -> float:
        """``|f_a - f_f| / (1 + |f_f|)`` of the objectives at the two solutions."""
        fa, ff = _objective(self.analytic), _objective(self.finite)
        return abs(fa - ff) / (1.0 + abs(ff))

    @property
    def agree(self) -> bool:
        """Both runs succeed (or both fail) and their solutions and objectives agree."""
        return (
            bool(self.analytic.success) == bool(self.finite.success)
            and self.x_gap <= self.xtol
            and self.fun_gap <= self.ftol
        )

    @property
    def ok(self) -> bool:
        """Same as :attr:`agree`, named like :attr:`gradcheck.Report.ok`."""
        return self.agree

    def headline(self) -> str:
        """One line: agree or not, and by how much."""
        status = "OK" if self.agree else "FAILED"
        verb = "agree" if self.agree else "disagree"
        return (
            f"cross-check {status}: {self.solver} with the analytic jac and with "
            f"'3-point' differences {verb} (x gap {self.x_gap:.3g} of {self.xtol:g}, "
            f"objective gap {self.fun_gap:.3g} of {self.ftol:g})"
        )

    def __str__(self) -> str:
        a, f = self.analytic, self.finite
        rows = [
            ("", "analytic jac", "'3-point'"),
            ("success", str(bool(a.success)), str(bool(f.success))),
            ("objective", f"{_objective(a):.6g}", f"{_objective(f):.6g}"),
            ("iterations", _count(a, "nit"), _count(f, "nit")),
            ("evaluations of f", _count(a, "nfev"), _count(f, "nfev")),
            ("evaluations of jac", _count(a, "njev"), _count(f, "njev")),
            ("x", _short(np.asarray(a.x)), _short(np.asarray(f.x))),
            ("message", str(a.message), str(f.message)),
        ]
        widths = [max(len(r[k]) for r in rows) for k in range(2)]
        lines = [self.headline(), ""]
        lines.extend(f"  {r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2]}" for r in rows)
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(line.rstrip() for line in lines)


def cross_check(
    fun: Callable[..., Any],
    x0: Any,
    jac: Callable[..., Any] | Literal[True],
    *,
    args: tuple[Any, ...] = (),
    method: str | None = None,
    solver: Literal["minimize", "least_squares"] = "minimize",
    xtol: float = 1e-3,
    ftol: float = 1e-6,
    **kwargs: Any,
) -> CrossCheck:
    """Run the optimizer with the analytic gradient and with SciPy's differences; compare.

    A point-wise check can be lucky: a gradient wrong only in some region, or wrong by
    little, may pass at the points checked. A whole run is harder to fool: with a wrong
    gradient the run stops early, at another point, or fails, while the run on SciPy's
    own ``jac="3-point"`` differences finds the true minimum.

    Parameters
    ----------
    fun : callable ``fun(x, *args)``
        The objective (for ``solver="least_squares"``: the residual vector). With
        ``jac=True`` it returns ``(value, gradient)``.
    x0 : array_like, shape (n,)
        Start point of both runs; never modified.
    jac : callable ``jac(x, *args)`` or True
        The analytic gradient (or Jacobian of the residuals).
    args : tuple, optional
        Extra arguments of ``fun`` and ``jac``.
    method : str, optional
        The solver's method (``"BFGS"``, ``"L-BFGS-B"``, ``"trf"``, ...); SciPy's
        default when omitted.
    solver : {"minimize", "least_squares"}, default "minimize"
    xtol, ftol : float, default 1e-3 and 1e-6
        How far apart the two solutions and objectives may be and still agree, relative
        to ``1 + |value|`` (the finite-difference run is itself only accurate to about
        the solver's tolerance).
    **kwargs
        Passed to both runs (``bounds``, ``tol``, ``options``, ...).

    Returns
    -------
    CrossCheck
        ``agree`` (also ``ok``), both results, and a text table from ``str()``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import rosen, rosen_der
    >>> cross_check(rosen, np.array([1.3, 0.7]), rosen_der, method="BFGS").agree
    True
    >>> cross_check(rosen, np.array([1.3, 0.7]), lambda x: 0.5 * rosen_der(x)
    ...             + np.array([0.1, 0.0]), method="BFGS").agree
    False
    """
    _require_callable("fun", fun)
    if jac is not True:
        _require_jac(jac)
    if solver not in ("minimize", "least_squares"):
        raise InvalidArgument(f"solver={solver!r}: expected 'minimize' or 'least_squares'")
    for name, value in (("xtol", xtol), ("ftol", ftol)):
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise InvalidArgument(f"{name}={value!r}: expected a finite number >= 0")
    start = np.array(x0, dtype=np.float64, copy=True)
    plain = fun
    if jac is True:

        @functools.wraps(fun)
        def plain(x: FloatArray, *a: Any) -> Any:
            return fun(x, *a)[0]

    if method is not None:
        kwargs["method"] = method
    runner: Callable[..., OptimizeResult] = (
        scipy.optimize.minimize if solver == "minimize" else scipy.optimize.least_squares
    )
    analytic = runner(fun, start.copy(), args=args, jac=jac, **kwargs)
    finite = runner(plain, start.copy(), args=args, jac="3-point", **kwargs)
    notes = []
    nit_a, nit_f = analytic.get("nit"), finite.get("nit")
    if isinstance(nit_a, int) and isinstance(nit_f, int) and nit_a > 2 * nit_f + 5:
        notes.append(
            f"the analytic run took {nit_a} iterations against {nit_f}: a slightly wrong "
            "gradient often shows as slow progress"
        )
    return CrossCheck(analytic, finite, solver, float(xtol), float(ftol), tuple(notes))


def cross_check_case(case: Case, **kwargs: Any) -> CrossCheck:
    """:func:`cross_check` for a :class:`gradcheck.Case` of ``f(params)`` with a gradient.

    A case ``Case(f, x0, grad=df)`` (or ``value_and_grad=vg``) with array parameters is
    optimised from ``x0``: scalar ``f`` with :func:`scipy.optimize.minimize`, vector
    ``f`` (residuals, ``grad`` the Jacobian) with :func:`scipy.optimize.least_squares`.
    The case's ``bounds`` are used by both runs. Parameters of any shape are flattened for
    SciPy and reshaped for ``f``.

    Parameters
    ----------
    case : Case
    **kwargs
        Options of :func:`cross_check` (``method``, ``xtol``, ``ftol``, ...).

    Returns
    -------
    CrossCheck

    Raises
    ------
    InvalidArgument
        When the case is not a function of one floating array with a ``grad`` or
        ``value_and_grad`` (a model with a params dict, or dict parameters, cannot be
        handed to SciPy).

    Examples
    --------
    >>> import numpy as np, gradcheck
    >>> case = gradcheck.Case(lambda p: float(np.sum((p - 2.0) ** 2)), np.zeros((2, 2)),
    ...                       grad=lambda p: 2 * (p - 2.0))
    >>> result = cross_check_case(case)
    >>> result.agree, result.analytic.x.round(6)
    (True, array([2., 2., 2., 2.]))
    """
    name = case.name or getattr(case.obj, "__name__", "the case")
    grad = case.kwargs.get("grad")
    value_and_grad = case.kwargs.get("value_and_grad")
    if not callable(case.obj) or len(case.args) != 1 or (grad is None) == (value_and_grad is None):
        raise InvalidArgument(
            f"{name}: a cross-check needs a case Case(f, x0, grad=df) or Case(f, x0, "
            "value_and_grad=vg) with one array of parameters"
        )
    try:
        start = np.asarray(case.args[0], dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"{name}: its parameters are a {type(case.args[0]).__name__}; a cross-check "
            "hands them to SciPy, which needs one array of numbers"
        ) from None
    shape = start.shape
    f: Callable[..., Any] = case.obj

    def fun(x: FloatArray) -> Any:
        return f(x.reshape(shape))

    if grad is not None:

        def jac(x: FloatArray) -> Any:
            return _flat_gradient(grad(x.reshape(shape)), shape)

        value_at_start = np.asarray(fun(start.ravel()))
        solver: Literal["minimize", "least_squares"] = (
            "minimize" if value_at_start.ndim == 0 else "least_squares"
        )
        options = {"solver": solver, **_case_bounds(case, solver), **kwargs}
        return cross_check(fun, start.ravel(), jac, **options)

    vg: Callable[..., Any] = value_and_grad  # type: ignore[assignment]  # one of the two is set

    def fun_and_jac(x: FloatArray) -> tuple[Any, Any]:
        value, gradient = vg(x.reshape(shape))
        return value, _flat_gradient(gradient, shape)

    options = {**_case_bounds(case, "minimize"), **kwargs}
    return cross_check(fun_and_jac, start.ravel(), True, **options)


# -- private helpers -------------------------------------------------------------------


def _where(evaluation: int, x: FloatArray) -> str:
    if evaluation == 0:
        return f"at the start point x0 = {_short(x)}"
    return f"at call {evaluation} of jac, x = {_short(x)}"


def _short(x: NDArray[Any]) -> str:
    """A point for a message: ``[1.3, 0.7, 0.8]``; the first and last entries of a long one."""
    flat = [f"{float(v):.6g}" for v in np.asarray(x).reshape(-1)]
    if len(flat) > 8:
        flat = [*flat[:4], "...", *flat[-2:]]
    return f"[{', '.join(flat)}]"


def _objective(result: OptimizeResult) -> float:
    value = result.get("cost", result.get("fun"))
    return float(np.sum(value)) if value is not None else math.nan


def _count(result: OptimizeResult, key: str) -> str:
    value = result.get(key)
    return "-" if value is None else str(value)


def _flat_gradient(gradient: Any, shape: tuple[int, ...]) -> Any:
    """A gradient shaped like the parameters (per output) with the parameters flattened."""
    g = np.asarray(gradient)
    if g.ndim < len(shape) or g.shape[g.ndim - len(shape) :] != shape:
        return g  # a wrong shape: left for the check and the solver to report
    return g.reshape((*g.shape[: g.ndim - len(shape)], math.prod(shape)))


def _require_callable(name: str, value: object) -> None:
    if not callable(value):
        raise InvalidArgument(f"{name}= must be a function, got {type(value).__name__}")


def _require_jac(jac: object) -> None:
    if isinstance(jac, str) or jac is None or jac is False:
        raise InvalidArgument(
            f"jac={jac!r}: gradcheck checks a hand-written gradient, and with jac={jac!r} "
            "SciPy computes its own, so there is nothing to check; pass your gradient "
            "function (jac=grad, grad(x, *args) -> array of shape (n,)) or jac=True if fun "
            "returns (value, gradient), or call scipy.optimize directly"
        )
    if not callable(jac):
        raise InvalidArgument(
            f"jac= must be a function jac(x, *args) returning the gradient (or True if fun "
            f"returns (value, gradient)), got {type(jac).__name__}"
        )


def _pair_bounds(bounds: object) -> tuple[FloatArray, FloatArray]:
    """``(lower, upper)`` or a Bounds object as float arrays."""
    if isinstance(bounds, scipy.optimize.Bounds):
        lower, upper = bounds.lb, bounds.ub
    elif isinstance(bounds, tuple | list) and len(bounds) == 2:
        lower, upper = bounds
    else:
        raise InvalidArgument(
            f"bounds={bounds!r:.60}: expected (lower, upper) of numbers or arrays, or a "
            "scipy.optimize.Bounds"
        )
    try:
        return (
            np.atleast_1d(np.asarray(-np.inf if lower is None else lower, dtype=np.float64)),
            np.atleast_1d(np.asarray(np.inf if upper is None else upper, dtype=np.float64)),
        )
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"bounds={bounds!r:.60}: lower and upper must be numbers or arrays of numbers "
            "(-inf / inf, or None, where unbounded)"
        ) from None


def _minimize_bounds(bounds: object) -> tuple[object, object]:
    """``minimize``'s bounds (a Bounds object or (min, max) pairs) as (lower, upper)."""
    if isinstance(bounds, scipy.optimize.Bounds):
        return bounds.lb, bounds.ub
    try:
        pairs = [(lo, hi) for lo, hi in bounds]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"bounds={bounds!r:.60}: expected a sequence of (min, max) pairs, one per "
            "variable (None for no bound), or a scipy.optimize.Bounds"
        ) from None
    lower = [-np.inf if lo is None else lo for lo, _ in pairs]
    upper = [np.inf if hi is None else hi for _, hi in pairs]
    return lower, upper


def _case_bounds(case: Case, solver: str) -> dict[str, Any]:
    bounds = case.kwargs.get("bounds")
    if bounds is None:
        return {}
    lower, upper = _pair_bounds(bounds)
    if solver == "least_squares":
        return {"bounds": (lower, upper)}
    return {"bounds": scipy.optimize.Bounds(lower, upper)}
