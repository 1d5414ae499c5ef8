"""The entry points: :func:`check`, :func:`assert_gradients` and :class:`Case`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar, Unpack, overload

from gradcheck import _engine as engine
from gradcheck._errors import GradientMismatch, InvalidArgument
from gradcheck._options import (
    OPTION_DEFAULTS,
    CheckOptions,
    Method,
    MethodName,
    Mode,
    ModeName,
    Options,
)
from gradcheck._recipe import Recipe
from gradcheck._report import Report
from gradcheck._second_order import second_order_problem

__all__ = ["Case", "CaseSpec", "assert_gradients", "case", "check"]


def check(
    obj: object,
    *args: object,
    grad: Callable[..., Any] | None = None,
    value_and_grad: Callable[..., Any] | None = None,
    method: Method | MethodName = OPTION_DEFAULTS["method"],
    rtol: float = OPTION_DEFAULTS["rtol"],
    atol: float = OPTION_DEFAULTS["atol"],
    step: float | None = OPTION_DEFAULTS["step"],
    seed: int | None = OPTION_DEFAULTS["seed"],
    strict: bool = OPTION_DEFAULTS["strict"],
    bounds: tuple[object, object] | None = OPTION_DEFAULTS["bounds"],
    reseed: bool = OPTION_DEFAULTS["reseed"],
    mode: Mode | ModeName = OPTION_DEFAULTS["mode"],
    budget: int = OPTION_DEFAULTS["budget"],
    probes: int = OPTION_DEFAULTS["probes"],
    taylor: bool = OPTION_DEFAULTS["taylor"],
    self_test: bool = OPTION_DEFAULTS["self_test"],
    vectorized: bool = OPTION_DEFAULTS["vectorized"],
    executor: Executor | None = OPTION_DEFAULTS["executor"],
    hess: Callable[..., Any] | None = None,
    hessp: Callable[..., Any] | None = None,
    **backend_options: object,
) -> Report:
    """Compare an analytic gradient with finite differences, element by element.

    Parameters
    ----------
    obj : object
        What to check; the backend that accepts it decides what ``args`` mean. For a
        plain function ``f(params) -> float``: ``check(f, params, grad=df)``.
    *args : object
        For a plain function, ``params``: a float, an array, or containers of those: a
        dict (also ``OrderedDict``, ``defaultdict``), ``MappingProxyType``, list, tuple,
        namedtuple or dataclass instance, nested. ``f`` receives a fresh structure of the
        same types at every evaluation; sets and generators are refused. For a model's
        loss method returning ``(loss, grads)``, its inputs.
    grad : callable, optional
        ``grad(params)`` returns the gradient in the structure of ``params``: each entry
        real numbers in its parameter's shape (an entry that differs only in axes of
        length 1 is accepted, with a note in the report).
    value_and_grad : callable, optional
        ``value_and_grad(params)`` returns ``(value, gradient)`` from one pass. Give
        exactly one of ``grad`` and ``value_and_grad`` for a plain function, and neither
        for objects that carry their own gradients (a model with ``(loss, grads)``,
        micrograd-style values, autograd).
    method : {"central", "richardson", "complex", "scipy"}, default "central"
        ``"central"``: a Richardson pair of central differences (steps h and 2h) per
        element, whose difference measures its truncation error; refined with finer
        pairs only where it disagrees, is not smooth, or truncation dominates.
        ``"richardson"``: every element also confirmed by a second, finer pair (its
        convergence order measured). ``"complex"``: complex step,
        for f written with NumPy functions that accept complex input. ``"scipy"``:
        ``scipy.differentiate.jacobian`` and its error estimates, as a reference.
    rtol, atol : float, default 1e-6 and 0
        Floors added to the tolerance the error model computes.
    step : float, optional
        Relative step ``h / max(|x|, 1)``; by default ``noise ** (1/3)``, from the
        measured noise level of f.
    seed : int, optional
        Seed for the random choices; recorded in the report either way.
    strict : bool, default False
        Make kinks and inconclusive elements fail the report too.
    bounds : (lower, upper), optional
        Numbers or arrays broadcastable to the flat parameter vector (None or -inf / inf
        where unbounded). f is never evaluated outside them; next to a bound the
        differences are one-sided.
    reseed : bool, default True
        Reseed NumPy's and Python's global generators (and the backend's own, such as
        torch's) before every evaluation, so that an f that draws from them (dropout) is
        checked for one fixed draw; their states are put back afterwards.
    mode : {"auto", "full", "fast"}, default "auto"
        ``"full"``: every element differenced (about 4n evaluations of f). ``"fast"``:
        ``probes`` random directions compared with the gradient's projections on them, the
        wrong elements searched for where one disagrees (a few dozen evaluations
        whatever n; see :mod:`gradcheck._fast`). ``"auto"``: full where it costs at most
        ``budget`` evaluations, else fast; the report says which ran and why.
    budget : int, default 20000
        Evaluations of f that ``mode="auto"`` spends on a full check at most.
    probes : int, default 4
        Random directions a fast check compares.
    taylor : bool, default False
        Also run the Taylor test (:mod:`gradcheck._taylor`): along a random direction,
        ``|f(x + h d) - f(x) - h g . d|`` must fall as ``h^2``; the fitted slope is
        reported, and a slope near 1 fails the report, whatever the tolerances.
    self_test : bool, default False
        Also plant an error of twice ``detectable`` at a random ok element, check the
        planted gradient the same way, and fail the report if it is missed.
    vectorized : bool, default False
        ``f`` takes a stack of points and returns one value per point: for parameters
        ``x`` (one NumPy array), ``f(X)`` receives ``X`` of shape ``(k, *x.shape)`` and
        returns shape ``(k,)``, or ``(k, m)`` for m outputs. Every evaluation of f goes
        through it, on stacks sized to the cache (:mod:`gradcheck._stacks`); the gradient
        function is still called with ``x`` alone.
    executor : concurrent.futures.Executor, optional
        Spread the evaluations of f over its workers: a ``ProcessPoolExecutor``, or a
        dask.distributed cluster's ``Client.get_executor()`` (``pip install
        gradcheck[dask]``). Each worker builds its own copy of the problem, so f, the
        gradient and the parameters must be picklable (by cloudpickle for dask); the
        verdicts are those of a check in one process (:mod:`gradcheck._fan_out`). The
        executor is left running: shut it down yourself.
    hess : callable, optional
        ``hess(x)`` returns the Hessian, shape (n, n) (or sparse, or a LinearOperator):
        ``check(grad, x, hess=H)`` checks it as the Jacobian of the gradient function
        ``obj = grad`` (element ``f[i] / x[j]`` is ``H[i, j]``; an asymmetric H is noted),
        with the error model measuring the gradient's own noise. ``x`` is one array.
    hessp : callable, optional
        ``hessp(x, p)`` returns the Hessian-vector product ``H(x) p``: checked as the
        derivative of ``grad`` along ``probes`` seeded directions ``p[j]`` (element
        ``f[i] / p[j]`` is ``hessp(x, p[j])[i]``); H is never formed.
    **backend_options
        Options of the backend that accepts ``obj`` (for example ``loss=`` of the torch
        backend). An option no one uses is an error.

    Returns
    -------
    Report
        ``report.ok`` is False when some element is a mismatch, when f is random and
        its noise left an element undecided, or when no element could be decided at all
        (``report.failed`` marks the elements that fail).

    Raises
    ------
    InvalidArgument
        For a bad option, unusable parameters, or a missing gradient.
    NoBackend
        When no installed backend accepts ``obj``.
    ModelError
        When f or the gradient raises, is not finite at the start point, or returns the
        wrong shape or structure.

    Notes
    -----
    The user's objects are never changed: parameters that must be perturbed in place
    are restored bit for bit, also when f raises or on KeyboardInterrupt.

    Examples
    --------
    >>> import numpy as np
    >>> def J(p):                       # J = 3 (x + y z)
    ...     return 3 * (p[0] + p[1] * p[2])
    >>> report = check(J, np.array([5.0, 3.0, 2.0]),
    ...                grad=lambda p: np.array([3.0, 3 * p[2], 3 * p[1]]))
    >>> report.ok
    True
    >>> bad = check(J, np.array([5.0, 3.0, 2.0]), grad=lambda p: np.array([3.0, p[2], p[1]]))
    >>> [e.name for e in bad.elements() if str(e.verdict) == "mismatch"]
    ['p[1]', 'p[2]']
    """
    options = Options(
        method=method,  # type: ignore[arg-type]  # a name is made a Method there
        rtol=rtol,
        atol=atol,
        step=step,
        seed=seed,
        strict=strict,
        bounds=bounds,
        reseed=reseed,
        mode=mode,  # type: ignore[arg-type]  # a name is made a Mode there
        budget=budget,
        probes=probes,
        taylor=taylor,
        self_test=self_test,
        vectorized=vectorized,
        executor=executor,
    )
    if hess is not None or hessp is not None:
        problem, options = second_order_problem(
            obj, args, (grad, value_and_grad), hess, hessp, options, backend_options
        )
        return engine.run(problem, options)
    recipe = Recipe(obj, args, grad, value_and_grad, {**backend_options, "reseed": options.reseed})
    problem = recipe()
    problem.recipe = recipe  # how a worker builds its own copy (executor=)
    return engine.run(problem, options)


_P = ParamSpec("_P")


def _arguments_of(
    door: Callable[_P, Report],
) -> Callable[[Callable[..., Report]], Callable[_P, Report]]:
    """Type the decorated function as taking exactly the arguments of ``door``."""

    def typed(function: Callable[..., Report]) -> Callable[_P, Report]:
        return function

    return typed


@_arguments_of(check)
def assert_gradients(obj: object, *args: object, **options: Any) -> Report:
    """Like :func:`check`, but raise :class:`GradientMismatch` unless the report is ok.

    Takes the arguments of :func:`check`.

    Returns
    -------
    Report
        When every element agrees.

    Raises
    ------
    GradientMismatch
        An ``AssertionError`` whose message is the readable report.
    """
    report = check(obj, *args, **options)
    if not report.ok:
        raise GradientMismatch(report)
    return report


@dataclass(frozen=True)
class Case:
    """A check described now and run later: ``Case(f, params, grad=df)``.

    The arguments are those of :func:`check` (the options of gradcheck, typed
    :class:`~gradcheck.CheckOptions`, and those of the backend); ``name`` names it in
    reports, and ``expect="mismatch"`` declares a gradient known to be wrong.
    """

    obj: object
    args: tuple[object, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    expect: str = "ok"

    def __init__(
        self,
        obj: object,
        *args: object,
        name: str | None = None,
        expect: str = "ok",
        **kwargs: object,
    ) -> None:
        if expect not in ("ok", "mismatch"):
            raise InvalidArgument(f"expect={expect!r}: expected 'ok' or 'mismatch'")
        object.__setattr__(self, "obj", obj)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "kwargs", kwargs)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "expect", expect)

    def run(self, **options: Unpack[CheckOptions]) -> Report:
        """Check this case; ``options`` override the case's own."""
        return check(self.obj, *self.args, **{**self.kwargs, **options})


@dataclass(frozen=True)
class CaseSpec:
    """What :func:`case` records on a function: its name, expectation, and points."""

    name: str
    expect: str
    points: tuple[object, ...] | None
    ids: tuple[str, ...] | None


_F = TypeVar("_F", bound=Callable[..., Any])


@overload
def case(func: _F, /) -> _F: ...


@overload
def case(
    *,
    name: str | None = None,
    expect: str = "ok",
    points: Sequence[object] | None = None,
    ids: Sequence[str] | None = None,
) -> Callable[[_F], _F]: ...


def case(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    expect: str = "ok",
    points: Sequence[object] | None = None,
    ids: Sequence[str] | None = None,
) -> Any:
    """Mark a function in a model file as a gradcheck case.

    The function returns what :func:`check` accepts: a :class:`Case`, or a tuple
    ``(obj, *args)`` plus keyword arguments given as a :class:`Case`. With ``points``,
    it is called once per point (``func(point)``), each a case of its own named
    ``name[id]``.

    Parameters
    ----------
    func : callable
        Used bare, ``@gradcheck.case``.
    name : str, optional
        Defaults to the function's name.
    expect : {"ok", "mismatch"}
        ``"mismatch"`` declares a gradient known to be wrong: finding the mismatch
        passes, missing it fails (like pytest's xfail, strict).
    points : sequence, optional
        Arguments to call the function with, one case each.
    ids : sequence of str, optional
        Names of the points; default ``0``, ``1``, ...
    """
    if expect not in ("ok", "mismatch"):
        raise InvalidArgument(f"expect={expect!r}: expected 'ok' or 'mismatch'")
    if ids is not None and (points is None or len(ids) != len(points)):
        raise InvalidArgument("ids= needs points= of the same length")

    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        f.__gradcheck_case__ = CaseSpec(  # type: ignore[attr-defined]
            name=name or f.__name__,
            expect=expect,
            points=None if points is None else tuple(points),
            ids=None if ids is None else tuple(ids),
        )
        return f

    return mark if func is None else mark(func)
