"""Checking ``hess`` and ``hessp`` during a run, as derivatives of the user's ``jac``.

:class:`CheckedHessian` stands in for ``hess(x, *args)`` and checks it element by element
as the Jacobian of ``jac`` (``check(jac, x, hess=H)``); :class:`CheckedHessp` stands in for
``hessp(x, p, *args)`` and checks it along seeded directions (``check(jac, x,
hessp=Hp)``), once per point: Newton-CG and the trust-region methods call ``hessp``
many times at each iterate. Both return the user's values unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gradcheck._api import check
from gradcheck._options import CheckOptions
from gradcheck._report import Report
from gradcheck.optimize._schedule import CheckPlan, ScheduledCheck

__all__ = ["CheckedHessian", "CheckedHessp", "gradient_function"]

FloatArray = NDArray[np.float64]


def gradient_function(
    fun: Callable[..., Any], jac: Callable[..., Any] | Literal[True], args: tuple[Any, ...]
) -> Callable[[FloatArray], Any]:
    """``x -> jac(x, *args)``, or fun's gradient for ``jac=True``, named like the user's
    function (the report names elements after its first parameter)."""
    if jac is True:

        @functools.wraps(fun)
        def gradient(x: FloatArray) -> Any:
            return fun(x, *args)[1]

        return gradient
    user: Callable[..., Any] = jac

    @functools.wraps(user)
    def gradient_of_jac(x: FloatArray) -> Any:
        return user(x, *args)

    return gradient_of_jac


class _SecondDerivative(ScheduledCheck):
    """What ``hess`` and ``hessp`` share: the objective's gradient function to difference."""

    def __init__(
        self,
        subject: str,
        fun: Callable[..., Any],
        jac: Callable[..., Any] | Literal[True],
        second: Callable[..., Any],
        plan: CheckPlan,
    ) -> None:
        super().__init__(subject, plan)
        self._fun = fun
        self._jac = jac
        self._second = second

    def __repr__(self) -> str:
        name = getattr(self._second, "__name__", type(self._second).__name__)
        return f"<checked {name}: {self.calls} {self.noun}s, {len(self.reports)} checked>"


class CheckedHessian(_SecondDerivative):
    """``hess(x, *args)`` for :func:`scipy.optimize.minimize`, checked as the Jacobian of
    ``jac`` on a schedule (made by :func:`gradcheck.optimize.minimize`).

    Attributes
    ----------
    reports : list of CheckedPoint
    calls : int
    function_evaluations, gradient_evaluations : int
        Extra evaluations of ``jac`` (of ``fun`` for ``jac=True``) and of ``hess`` the
        checks cost.
    """

    def __init__(
        self,
        fun: Callable[..., Any],
        jac: Callable[..., Any] | Literal[True],
        hess: Callable[..., Any],
        plan: CheckPlan,
    ) -> None:
        super().__init__("hess", fun, jac, hess, plan)

    def __call__(self, x: Any, *args: Any) -> Any:
        evaluation = self._due()
        result = self._second(x, *args)
        if evaluation is not None:
            point = np.array(x, dtype=np.float64)
            self._check(point, evaluation, lambda options: self._report(point, args, options))
        return result

    def _report(self, x: FloatArray, args: tuple[Any, ...], options: CheckOptions) -> Report:
        hess = self._second
        return check(
            gradient_function(self._fun, self._jac, args),
            x,
            hess=lambda p: hess(p, *args),
            **options,
        )


class CheckedHessp(_SecondDerivative):
    """``hessp(x, p, *args)`` for :func:`scipy.optimize.minimize`, checked along seeded
    directions at the points a schedule picks (made by :func:`gradcheck.optimize.minimize`).

    The schedule counts points, not calls: a solver calls ``hessp`` once per inner
    iteration, all at the same x.

    Attributes
    ----------
    reports : list of CheckedPoint
    calls : int
        At how many points ``hessp`` was called.
    function_evaluations, gradient_evaluations : int
        Extra evaluations of ``jac`` (of ``fun`` for ``jac=True``) and of ``hessp`` (one
        per direction) the checks cost.
    """

    noun = "point"

    def __init__(
        self,
        fun: Callable[..., Any],
        jac: Callable[..., Any] | Literal[True],
        hessp: Callable[..., Any],
        plan: CheckPlan,
    ) -> None:
        super().__init__("hessp", fun, jac, hessp, plan)
        self._last: FloatArray | None = None
        self._products = 0

    @property
    def gradient_evaluations(self) -> int:
        """Evaluations of ``hessp`` made by the checks: one per direction of each."""
        return self._products

    def __call__(self, x: Any, p: Any, *args: Any) -> Any:
        result = self._second(x, p, *args)
        point = np.array(x, dtype=np.float64)
        if self._last is None or not np.array_equal(point, self._last):
            self._last = point
            evaluation = self._due()
            if evaluation is not None:
                self._check(point, evaluation, lambda options: self._report(point, args, options))
        return result

    def _report(self, x: FloatArray, args: tuple[Any, ...], options: CheckOptions) -> Report:
        hessp = self._second

        def product(q: FloatArray, direction: FloatArray) -> Any:
            self._products += 1
            return hessp(q, direction, *args)

        return check(gradient_function(self._fun, self._jac, args), x, hessp=product, **options)
