""":func:`minimize`: :func:`scipy.optimize.minimize` with every hand-written derivative
checked on a schedule: ``jac``, ``hess`` or ``hessp``, and the constraints' ``jac`` and
``hess``. The wrappers come from :mod:`._jacobian`, :mod:`._hessian` and
:mod:`._constraints`; this module hands them to SciPy and adds up what they cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import scipy.optimize
from scipy.optimize import OptimizeResult

from gradcheck._errors import InvalidArgument
from gradcheck._options import CheckOptions
from gradcheck.optimize._arguments import minimize_bounds
from gradcheck.optimize._constraints import checked_constraints
from gradcheck.optimize._hessian import CheckedHessian, CheckedHessp
from gradcheck.optimize._jacobian import CheckedJacobian, wrapping
from gradcheck.optimize._schedule import CheckedPoint, OnMismatch, Schedule, ScheduledCheck

__all__ = ["minimize"]


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
    """:func:`scipy.optimize.minimize`, with ``jac`` (and ``hess``, ``hessp``, the
    constraints' ``jac`` and ``hess``) checked at the start and first iterates.

    Same call, same return value: every argument but ``check``, ``on_mismatch`` and
    ``check_options`` goes to SciPy unchanged, and ``fun``, ``jac`` and the rest are
    called with the same arguments and return the same values as without the checks.

    Parameters
    ----------
    fun : callable ``fun(x, *args) -> float``
        The objective; with ``jac=True`` it returns ``(value, gradient)``.
    x0 : array_like, shape (n,)
        Start point; never modified.
    args : tuple, optional
        Extra arguments of ``fun``, ``jac``, ``hess`` and ``hessp``.
    jac : callable ``jac(x, *args) -> ndarray of shape (n,)``, or True
        The hand-written gradient to check (required: with SciPy's own finite
        differences there is nothing to check).
    check : Schedule, int or "start", default 3
        Which calls to check: ``"start"`` only at x0, ``n`` the first n (x0 and the
        first iterates), or a :class:`Schedule` (every N-th, a budget). Each checked
        function counts its own calls; ``hessp`` counts the points it is called at.
    on_mismatch : {"raise", "warn"}, default "raise"
        ``"raise"`` stops the run with :class:`IterateMismatch`, naming what was checked,
        the point and the elements that disagree; ``"warn"`` issues a
        :class:`GradientMismatchWarning` and goes on.
    check_options : CheckOptions, optional
        Options of :func:`gradcheck.check`: ``method``, ``rtol``, ``atol``, ``step``,
        ``seed``, ``strict``, ``reseed``, ``probes`` (the directions a ``hessp`` check
        takes) (the bounds are ``minimize``'s own).
    **kwargs
        ``method``, ``bounds``, ``hess``, ``hessp``, ``constraints``, ``tol``,
        ``callback``, ``options`` and the rest of :func:`scipy.optimize.minimize`.
        A callable ``hess(x, *args)`` is checked as the Jacobian of ``jac``, element by
        element; a callable ``hessp(x, p, *args)`` along seeded directions (H is never
        formed); a constraint's callable ``jac`` element by element, named
        ``constraint 1: c[2] / x[0]`` (constraint 1 is ``constraints[1]``), and its
        ``hess(x, v)`` as the Jacobian of ``jac(x).T @ w`` for a seeded ``w``. With
        ``bounds``, the finite differences of the checks stay inside them.

    Returns
    -------
    OptimizeResult
        SciPy's result, plus ``gradcheck_reports`` (a list of :class:`CheckedPoint`, in
        the order made: the call, the point, the Report, what was checked),
        ``gradcheck_nfev``, ``gradcheck_njev`` and ``gradcheck_nhev`` (the extra
        evaluations of fun, of jac and of hess or hessp the checks made, not included in
        SciPy's ``nfev``, ``njev`` and ``nhev``; with ``jac=True`` those of jac are calls
        of fun) and, with constraints, ``gradcheck_constr_nfev``, ``_njev`` and
        ``_nhev`` (per constraint, as trust-constr's ``constr_nfev``).

    Raises
    ------
    IterateMismatch
        When a derivative disagrees with finite differences at a checked point; its
        ``subject`` says which.
    InvalidArgument
        When ``jac`` is not a function (or True), a constraint is not one SciPy takes,
        or an option is unknown.
    ModelError
        When ``fun`` or a derivative raises at x0, is not finite there, or returns the
        wrong shape.

    See Also
    --------
    checked : the wrapper of ``jac``, for any SciPy routine.
    cross_check : compare whole runs with analytic and finite-difference gradients.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import rosen, rosen_der, rosen_hess
    >>> result = minimize(rosen, np.array([1.3, 0.7, 0.8]), jac=rosen_der,
    ...                   method="BFGS", check_options={"seed": 0})
    >>> result.success, result.x.round(4)
    (True, array([1., 1., 1.]))
    >>> [(p.evaluation, p.report.ok) for p in result.gradcheck_reports]
    [(0, True), (1, True), (2, True)]
    >>> result = minimize(rosen, np.array([1.3, 0.7, 0.8]), jac=rosen_der, hess=rosen_hess,
    ...                   method="trust-exact", check="start", check_options={"seed": 0})
    >>> [(p.subject, p.report.ok) for p in result.gradcheck_reports]
    [('jac', True), ('hess', True)]
    """
    options: CheckOptions = {**check_options} if check_options else {}
    if "bounds" in options:
        raise InvalidArgument(
            "check_options={'bounds': ...}: pass the bounds to minimize itself "
            "(bounds=...); the solver and the checks both keep inside them"
        )
    if kwargs.get("bounds") is not None:
        options["bounds"] = minimize_bounds(kwargs["bounds"])
    ledger: list[CheckedPoint] = []
    plan = replace(wrapping(fun, jac, check, on_mismatch, options), ledger=ledger)
    wrapped = CheckedJacobian(fun, jac, plan)
    seconds: list[ScheduledCheck] = []
    for name, kind in (("hess", CheckedHessian), ("hessp", CheckedHessp)):
        if callable(kwargs.get(name)):
            second = kind(fun, jac, kwargs[name], plan)
            seconds.append(second)
            kwargs[name] = second
    constraints = None
    if kwargs.get("constraints"):
        constraints = checked_constraints(kwargs["constraints"], plan)
        kwargs["constraints"] = constraints.constraints
    start = np.array(x0, copy=True)  # SciPy gets its own copy: the user's x0 is left alone
    if jac is True:
        result = scipy.optimize.minimize(wrapped, start, args=args, jac=True, **kwargs)
    else:
        result = scipy.optimize.minimize(fun, start, args=args, jac=wrapped, **kwargs)
    result["gradcheck_reports"] = list(ledger)
    result["gradcheck_nfev"] = wrapped.function_evaluations
    result["gradcheck_njev"] = wrapped.gradient_evaluations + sum(
        s.function_evaluations for s in seconds
    )
    result["gradcheck_nhev"] = sum(s.gradient_evaluations for s in seconds)
    if constraints is not None:
        for key, evaluated in (("nfev", "fun"), ("njev", "jac"), ("nhev", "hess")):
            result[f"gradcheck_constr_{key}"] = constraints.evaluations(evaluated)
    return result
