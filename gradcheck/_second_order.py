"""Second derivatives, checked as first ones: a Hessian is the Jacobian of the gradient.

``check(grad, x, hess=H)`` checks ``H(x)`` element by element as the Jacobian of the
gradient function ``grad``: element ``f[i] / x[j]`` of the report is ``H[i, j]``, against
central differences of ``grad``'s output i along ``x[j]``. ``check(grad, x, hessp=Hp)``
checks a Hessian-vector product ``Hp(x, p)`` without ever forming H: along a few seeded
directions ``p[0] .. p[k-1]`` it is the derivative of ``t -> grad(x + t p[j])`` at 0, so
element ``f[i] / p[j]`` of the report is component i of ``Hp(x, p[j])``.

The engine sees ``grad`` as the function it differences, so the noise it measures, the
steps it takes and the error model it judges by are those of the gradient function, not
of the objective behind it: differences of a gradient carry the gradient's own round-off.
An asymmetric ``H`` (beyond its rounding) is noted in the report, naming the worst pair.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcheck import _plugins as plugins
from gradcheck._errors import InvalidArgument, ModelError
from gradcheck._fast import random_directions
from gradcheck._options import Options
from gradcheck._problem import Problem
from gradcheck.backends.function import function_problem

__all__ = ["dense_hessian", "second_order_problem", "symmetry_note"]

FloatArray = NDArray[np.float64]


def second_order_problem(
    grad: object,
    args: tuple[object, ...],
    given: tuple[Callable[..., Any] | None, Callable[..., Any] | None],
    hess: Callable[..., Any] | None,
    hessp: Callable[..., Any] | None,
    options: Options,
    backend_options: dict[str, object],
) -> tuple[Problem, Options]:
    """The problem for ``check(grad, x, hess=H)`` or ``check(grad, x, hessp=Hp)``, and the
    options to check it with (a drawn seed made explicit; for ``hessp``, the bounds on x
    turned into bounds on the steps along each direction).

    ``given`` is the ``(grad, value_and_grad)`` pair of :func:`gradcheck.check`: with a
    Hessian, ``obj`` is the gradient function, so neither may be given.

    Raises
    ------
    InvalidArgument
        When both or neither of ``hess`` and ``hessp`` are callables, when ``grad=`` or
        ``value_and_grad=`` is given too, or when the parameters are not one array.
    """
    _require_one_second_derivative(grad, given, hess, hessp)
    if hessp is not None:
        return _hessp_problem(grad, args, hessp, options, backend_options)
    if hess is None:
        raise InvalidArgument("pass hess= (the Hessian H(x)) or hessp= (products Hp(x, p))")
    return _hessian_problem(grad, args, hess, options, backend_options), options


def _require_one_second_derivative(
    grad: object,
    given: tuple[Callable[..., Any] | None, Callable[..., Any] | None],
    hess: Callable[..., Any] | None,
    hessp: Callable[..., Any] | None,
) -> None:
    if hess is not None and hessp is not None:
        raise InvalidArgument(
            "pass either hess= (the Hessian H(x)) or hessp= (products Hp(x, p)), not both"
        )
    for label, second in (("hess", hess), ("hessp", hessp)):
        if second is not None and not callable(second):
            raise InvalidArgument(
                f"{label}= must be a function of the parameters, got {type(second).__name__}"
            )
    if any(g is not None for g in given):
        raise InvalidArgument(
            "with hess= or hessp=, the object checked is the gradient function itself "
            "(check(grad, x, hess=H)), so grad= and value_and_grad= have no place; check "
            "the gradient first with check(f, x, grad=grad)"
        )
    if not callable(grad):
        raise InvalidArgument(
            f"with hess= or hessp=, the first argument is the gradient function grad(x), "
            f"got {type(grad).__name__}"
        )


def dense_hessian(value: object, n: int) -> FloatArray:
    """A Hessian as a float (n, n) array: dense, a sparse matrix, or a LinearOperator.

    >>> dense_hessian([[2.0, 1.0], [1.0, 4.0]], 2)
    array([[2., 1.],
           [1., 4.]])
    """
    if hasattr(value, "toarray"):  # scipy.sparse
        value = value.toarray()
    elif hasattr(value, "matmat"):  # a LinearOperator
        value = value.matmat(np.eye(n))
    try:
        dense = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelError(
            f"hess(params) returned {type(value).__name__}; expected an array of shape "
            f"({n}, {n}) (a sparse matrix or LinearOperator is read as one)"
        ) from None
    if dense.size != n * n:
        raise ModelError(
            f"hess(params) has shape {dense.shape}, expected ({n}, {n}): row i is the "
            "derivative of the gradient's element i"
        )
    return dense.reshape(n, n)


def symmetry_note(hessian: FloatArray) -> str | None:
    """What an asymmetric Hessian gets in the report: the worst pair, or None if symmetric.

    A pair counts as asymmetric when ``|H[i, j] - H[j, i]|`` exceeds ``sqrt(eps)`` times
    the larger of the two (and ``eps`` times the largest element): far more than two
    formulas for the same second derivative can differ by rounding.

    >>> symmetry_note(np.array([[2.0, 1.0], [1.0, 4.0]])) is None
    True
    >>> print(symmetry_note(np.array([[2.0, 1.0], [0.0, 4.0]])))
    hess is not symmetric: H[0, 1] = 1 but H[1, 0] = 0 (1 of 1 pairs differ)
    """
    eps = float(np.finfo(np.float64).eps)
    gap = np.abs(hessian - hessian.T)
    larger = np.maximum(np.abs(hessian), np.abs(hessian.T))
    floor = eps * float(np.max(np.abs(hessian), initial=0.0))
    with np.errstate(invalid="ignore"):
        asymmetric = np.triu(gap > np.sqrt(eps) * larger + floor, k=1)
    pairs = int(np.count_nonzero(asymmetric))
    if not pairs:
        return None
    worst = np.where(asymmetric, gap, -1.0)
    i, j = np.unravel_index(int(np.argmax(worst)), worst.shape)
    n = hessian.shape[0]
    return (
        f"hess is not symmetric: H[{i}, {j}] = {hessian[i, j]:.6g} but H[{j}, {i}] = "
        f"{hessian[j, i]:.6g} ({pairs} of {n * (n - 1) // 2} pairs differ)"
    )


def _hessian_problem(
    grad: Any,
    args: tuple[object, ...],
    hess: Callable[..., Any],
    options: Options,
    backend_options: dict[str, object],
) -> Problem:
    shape = _one_array_shape(args, "hess")
    n = int(np.prod(shape, dtype=np.int64))

    def jacobian_of_grad(params: object) -> FloatArray:
        hessian = dense_hessian(hess(params), n)
        note = symmetry_note(hessian)
        if note is not None:
            problem.note(note)
        return hessian.reshape(shape + shape)

    problem = plugins.adapt(
        grad, args, jacobian_of_grad, None, {**backend_options, "reseed": options.reseed}
    )
    return problem


def _hessp_problem(
    grad: Any,
    args: tuple[object, ...],
    hessp: Callable[..., Any],
    options: Options,
    backend_options: dict[str, object],
) -> tuple[Problem, Options]:
    shape = _one_array_shape(args, "hessp")
    if backend_options:
        raise InvalidArgument(
            f"unknown option(s) {sorted(backend_options)} for a hessp= check, which "
            "differences grad(x) with NumPy along seeded directions"
        )
    x = np.array(args[0], dtype=np.float64).reshape(-1)
    seed = options.seed
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    directions = random_directions(rng, options.probes, np.maximum(np.abs(x), 1.0))

    def point(p: FloatArray) -> Any:
        return (x + p @ directions).reshape(shape)

    def along(p: FloatArray) -> Any:  # names the report's elements f[i] / p[j]
        return grad(point(p))

    def products(p: FloatArray) -> FloatArray:
        at = point(p)
        columns = [_product(hessp(at, d.reshape(shape)), shape) for d in directions]
        return np.stack(columns, axis=-1)

    problem = function_problem(along, np.zeros(options.probes), products, None, backend="numpy")
    problem.note(
        f"hessp checked along {options.probes} seeded directions p[0] .. "
        f"p[{options.probes - 1}]: element f[i] / p[j] is hessp(x, p[j])[i]"
    )
    bounds = None if options.bounds is None else _step_bounds(x, directions, options)
    return problem, dataclasses.replace(options, seed=seed, bounds=bounds)


def _product(value: object, shape: tuple[int, ...]) -> FloatArray:
    try:
        product = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelError(
            f"hessp(x, p) returned {type(value).__name__}; expected an array of shape {shape}"
        ) from None
    if product.size != int(np.prod(shape, dtype=np.int64)):
        raise ModelError(f"hessp(x, p) has shape {product.shape}, expected {shape} like x")
    return product.reshape(shape)


def _step_bounds(
    x: FloatArray, directions: FloatArray, options: Options
) -> tuple[FloatArray, FloatArray]:
    """Bounds on the steps t[j] along each direction that keep ``x + sum_j t[j] p[j]``
    inside the bounds on x, whichever steps are taken together: each direction gets its
    share, ``1 / k`` of the room it has alone."""
    lower, upper = options.resolve_bounds(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        to_lower = np.where(directions != 0, (lower - x) / directions, -np.inf)
        to_upper = np.where(directions != 0, (upper - x) / directions, np.inf)
    low = np.max(np.minimum(to_lower, to_upper), axis=1)
    high = np.min(np.maximum(to_lower, to_upper), axis=1)
    share = float(directions.shape[0])
    return low / share, high / share


def _one_array_shape(args: tuple[object, ...], label: str) -> tuple[int, ...]:
    if len(args) != 1:
        raise InvalidArgument(
            f"{label}= checks grad(x) at one point x: pass check(grad, x, {label}=...), "
            f"got {len(args)} arguments after grad"
        )
    try:
        array = np.asarray(args[0])
    except (TypeError, ValueError):
        array = np.asarray(None)
    if not np.issubdtype(array.dtype, np.floating):
        raise InvalidArgument(
            f"{label}= needs the parameters as one array (or number) of floats, got "
            f"{type(args[0]).__name__}"
            + (f" of dtype {array.dtype}" if array.dtype != object else "")
            + "; a Hessian of several parameters is one of their concatenation"
        )
    return tuple(int(s) for s in array.shape)
