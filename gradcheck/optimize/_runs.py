"""Cross-checking whole runs: the optimizer with the analytic gradient and with SciPy's own.

:func:`cross_check` runs a solver twice from one start, with the user's ``jac`` and with
``jac="3-point"``, and :class:`CrossCheck` says whether the two runs agree;
:func:`cross_check_case` does the same for a :class:`gradcheck.Case`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.optimize
from numpy.typing import NDArray
from scipy.optimize import OptimizeResult

from gradcheck._api import Case
from gradcheck._errors import InvalidArgument
from gradcheck._table import text_table
from gradcheck.optimize._arguments import case_bounds, require_callable, require_jac, short

__all__ = ["CrossCheck", "cross_check", "cross_check_case"]

FloatArray = NDArray[np.float64]


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
            ("x", short(np.asarray(a.x)), short(np.asarray(f.x))),
            ("message", str(a.message), str(f.message)),
        ]
        lines = [self.headline(), "", *text_table(rows)]
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
    require_callable("fun", fun)
    if jac is not True:
        require_jac(jac)
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
    if case.kwargs.get("hess") is not None or case.kwargs.get("hessp") is not None:
        raise InvalidArgument(
            f"{name}: a case with hess= or hessp= checks a gradient function, and there is "
            "no objective beside it to minimize"
        )
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
        options = {"solver": solver, **case_bounds(case, solver), **kwargs}
        return cross_check(fun, start.ravel(), jac, **options)

    vg: Callable[..., Any] = value_and_grad  # type: ignore[assignment]  # one of the two is set

    def fun_and_jac(x: FloatArray) -> tuple[Any, Any]:
        value, gradient = vg(x.reshape(shape))
        return value, _flat_gradient(gradient, shape)

    options = {**case_bounds(case, "minimize"), **kwargs}
    return cross_check(fun_and_jac, start.ravel(), True, **options)


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
