""":func:`curve_fit`: :func:`scipy.optimize.curve_fit` with the model's ``jac`` checked.

``curve_fit(f, xdata, ydata, p0, jac=J)`` fits ``f(xdata, *params)`` to ``ydata``, and
SciPy calls ``J(xdata, *params)`` for the model's Jacobian, shape ``(m, k)``: a wrong
column sends the fit, and the covariance computed from that Jacobian, somewhere else.
:class:`CheckedModelJacobian` stands in for ``J`` and checks it, at ``p0`` and on the
schedule, as the Jacobian of ``params -> f(xdata, *params)``, its columns named after
``f``'s parameters (``f[17] / b``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.optimize
from numpy.typing import NDArray

from gradcheck._api import check
from gradcheck._errors import InvalidArgument
from gradcheck._options import CheckOptions
from gradcheck._report import Report
from gradcheck.optimize._jacobian import dense, wrapping
from gradcheck.optimize._schedule import CheckPlan, OnMismatch, Schedule, ScheduledCheck

__all__ = ["CheckedModelJacobian", "curve_fit"]

FloatArray = NDArray[np.float64]


def parameter_names(f: Callable[..., Any], count: int) -> tuple[str, ...] | None:
    """The names of ``f(x, a, b, ...)``'s fitted parameters, or None when its signature
    does not name ``count`` of them (``f(x, *p)``).

    >>> parameter_names(lambda x, a, b: a * x + b, 2)
    ('a', 'b')
    >>> parameter_names(lambda x, *p: p[0] * x, 1) is None
    True
    """
    try:
        parameters = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = tuple(p.name for p in parameters[1:] if p.kind in positional)
    return names if len(names) == count and len(parameters) == count + 1 else None


class CheckedModelJacobian(ScheduledCheck):
    """The model's ``jac(xdata, *params)`` for :func:`scipy.optimize.curve_fit`, checked as
    the Jacobian of ``params -> f(xdata, *params)`` on a schedule; returns the user's
    value unchanged. Made by :func:`curve_fit`.

    Attributes
    ----------
    reports : list of CheckedPoint
    calls : int
    function_evaluations, gradient_evaluations : int
        Extra evaluations of ``f`` and ``jac`` the checks cost.
    """

    point_name = "p"

    def __init__(
        self,
        f: Callable[..., Any],
        jac: Callable[..., Any],
        plan: CheckPlan,
    ) -> None:
        super().__init__("jac", plan)
        self._f = f
        self._jac = jac

    def __call__(self, xdata: Any, *params: Any) -> Any:
        evaluation = self._due()
        result = self._jac(xdata, *params)
        if evaluation is not None:
            point = np.array(params, dtype=np.float64)
            self._check(point, evaluation, lambda options: self._report(xdata, point, options))
        return result

    def _report(self, xdata: Any, point: FloatArray, options: CheckOptions) -> Report:
        f, jac = self._f, self._jac
        names = parameter_names(f, point.size)
        if names is None:

            def model(p: FloatArray) -> FloatArray:
                return np.ravel(f(xdata, *p))

            def jacobian(p: FloatArray) -> FloatArray:
                return _columns(jac(xdata, *p), p.size)

            return check(model, point, grad=jacobian, **options)
        keys = names

        def named_model(params: dict[str, float]) -> FloatArray:
            return np.ravel(f(xdata, *(params[k] for k in keys)))

        def named_jacobian(params: dict[str, float]) -> dict[str, FloatArray]:
            columns = _columns(jac(xdata, *(params[k] for k in keys)), len(keys))
            return {k: columns[:, j] for j, k in enumerate(keys)}

        start = dict(zip(keys, point.tolist(), strict=True))  # flat order: the names' order
        return check(named_model, start, grad=named_jacobian, **options)


def _columns(value: Any, count: int) -> FloatArray:
    """The model's Jacobian as an (m, k) array (anything else is left for the check to
    report)."""
    jacobian = np.asarray(dense(value))
    if jacobian.ndim >= 1 and jacobian.shape[-1] == count:
        reshaped: FloatArray = jacobian.reshape(-1, count)
        return reshaped
    return jacobian


def curve_fit(
    f: Callable[..., Any],
    xdata: Any,
    ydata: Any,
    p0: Any = None,
    *,
    jac: Callable[..., Any],
    check: Schedule | int | str = 3,
    on_mismatch: OnMismatch = "raise",
    check_options: CheckOptions | None = None,
    **kwargs: Any,
) -> Any:
    """:func:`scipy.optimize.curve_fit`, with the model's ``jac`` checked at ``p0`` and the
    first iterates.

    Same call, same result: every argument but ``check``, ``on_mismatch`` and
    ``check_options`` goes to SciPy unchanged, and ``f`` and ``jac`` are called with the
    same arguments and return the same values as without the checks.

    Parameters
    ----------
    f : callable ``f(xdata, *params) -> ndarray of shape (m,)``
        The model.
    xdata, ydata, p0
        As for :func:`scipy.optimize.curve_fit`.
    jac : callable ``jac(xdata, *params) -> ndarray of shape (m, k)``
        The model's hand-written Jacobian: column j is the derivative along params[j].
        Its elements are named after ``f``'s parameters (``f[17] / b`` for
        ``f(x, a, b, c)``), or ``p[j]`` when ``f`` takes ``*params``.
    check : Schedule, int or "start", default 3
        Which calls of ``jac`` to check (the first is at ``p0``).
    on_mismatch : {"raise", "warn"}, default "raise"
        ``"raise"``: :class:`IterateMismatch` before the fit takes a step;
        ``"warn"``: a :class:`GradientMismatchWarning`, and the fit goes on.
    check_options : CheckOptions, optional
        Options of :func:`gradcheck.check` (the bounds are ``curve_fit``'s own).
    **kwargs
        ``sigma``, ``bounds``, ``method``, ``full_output`` and the rest of
        :func:`scipy.optimize.curve_fit`.

    Returns
    -------
    tuple
        SciPy's own: ``(popt, pcov)``, or with ``full_output=True`` ``(popt, pcov,
        infodict, mesg, ier)``, where ``infodict`` also holds ``gradcheck_reports``,
        ``gradcheck_nfev`` and ``gradcheck_njev`` (the checks' extra evaluations of f
        and jac, not in SciPy's ``nfev``).

    Raises
    ------
    IterateMismatch
        When ``jac`` disagrees with finite differences of ``f`` at a checked point.
    InvalidArgument
        When ``jac`` is not a function, or an option is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0.0, 4.0, 30)
    >>> def decay(t, a, k):
    ...     return a * np.exp(-k * t)
    >>> def decay_jac(t, a, k):
    ...     return np.column_stack([np.exp(-k * t), -a * t * np.exp(-k * t)])
    >>> popt, pcov = curve_fit(decay, t, decay(t, 2.0, 0.7), p0=[1.0, 1.0], jac=decay_jac,
    ...                        check_options={"seed": 0})
    >>> popt.round(6)
    array([2. , 0.7])
    """
    options: CheckOptions = {**check_options} if check_options else {}
    if "bounds" in options:
        raise InvalidArgument(
            "check_options={'bounds': ...}: pass the bounds to curve_fit itself "
            "(bounds=...); the fit and the checks both keep inside them"
        )
    if kwargs.get("bounds") is not None:
        options["bounds"] = kwargs["bounds"]
    wrapped = CheckedModelJacobian(f, jac, wrapping(f, jac, check, on_mismatch, options))
    result = scipy.optimize.curve_fit(f, xdata, ydata, p0, jac=wrapped, **kwargs)
    if kwargs.get("full_output"):
        infodict = result[2]
        infodict["gradcheck_reports"] = list(wrapped.reports)
        infodict["gradcheck_nfev"] = wrapped.function_evaluations
        infodict["gradcheck_njev"] = wrapped.gradient_evaluations
    return result
