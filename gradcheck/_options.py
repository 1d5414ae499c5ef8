"""What a check is asked to do: the method, the tolerance floors, step, seed and bounds.

:class:`CheckOptions` names and types the options of :func:`gradcheck.check` (a backend's
own options, such as ``loss=`` of the torch backend, come on top of them);
:data:`OPTION_DEFAULTS` and :func:`describe` are what a front end shows of them, and
:func:`validate` refuses an unknown name or a bad value with the option's name. The engine
receives them as :class:`Options`, validated.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, fields
from numbers import Integral, Real
from typing import Any, Final, Literal, TypedDict, cast

import numpy as np
from numpy.typing import NDArray

from gradcheck._errors import InvalidArgument
from gradcheck._tolerance import DEFAULT_ATOL, DEFAULT_RTOL

__all__ = [
    "OPTION_DEFAULTS",
    "OPTION_HELP",
    "CheckOptions",
    "Method",
    "MethodName",
    "Mode",
    "ModeName",
    "Options",
    "describe",
    "validate",
]

FloatArray = NDArray[np.float64]


class Method(enum.StrEnum):
    """How the numeric derivative is computed."""

    CENTRAL = "central"
    """A Richardson pair of central differences per element (its truncation measured);
    elements not clearly right are refined with finer pairs (kinks, poles, edges)."""
    RICHARDSON = "richardson"
    """Every element also confirmed by a second, finer pair (its convergence order
    measured): about half as much again."""
    COMPLEX = "complex"
    """Complex step, ``Im f(x + i h e_k) / h``: no cancellation, n evaluations. Needs an
    f that accepts complex input and is analytic (no abs, max or real parts)."""
    SCIPY = "scipy"
    """The numeric side from ``scipy.differentiate.jacobian``, with its own error
    estimates: a reference to compare the engine's estimates with (many evaluations)."""


MethodName = Literal["central", "richardson", "complex", "scipy"]
"""The values of :class:`Method`, as a string may give them."""


class Mode(enum.StrEnum):
    """Which elements are differenced (see :mod:`gradcheck._fast`)."""

    AUTO = "auto"
    """The full check where it costs no more than ``budget`` evaluations of f, else fast."""
    FULL = "full"
    """Every element differenced: about 4n evaluations."""
    FAST = "fast"
    """``probes`` random directions compared with the gradient's projections, and a search
    for the wrong elements where one disagrees: a few dozen evaluations whatever n."""


ModeName = Literal["auto", "full", "fast"]
"""The values of :class:`Mode`, as a string may give them."""

FULL_CHECK_COST = 4
"""Evaluations of f per element that ``mode="auto"`` expects a full check to take."""


class CheckOptions(TypedDict, total=False):
    """The options of :func:`gradcheck.check` that gradcheck itself uses, all optional.

    Give them as keywords (``check(f, x, grad=df, rtol=1e-5)``), or keep them in a
    mapping typed ``CheckOptions`` and unpack it (``check(f, x, grad=df, **options)``).
    Their meaning and defaults: :class:`Options`, :data:`OPTION_DEFAULTS`,
    :func:`describe`. A backend's own options (``loss=`` of the torch backend) are not
    among them: :func:`gradcheck.check` hands every keyword it does not know to the
    backend that takes the object.
    """

    method: Method | MethodName
    rtol: float
    atol: float
    step: float | None
    seed: int | None
    strict: bool
    bounds: tuple[object, object] | None
    reseed: bool
    mode: Mode | ModeName
    budget: int
    probes: int
    taylor: bool
    self_test: bool
    vectorized: bool
    executor: Executor | None


@dataclass(frozen=True, slots=True)
class Options:
    """The engine's options, validated.

    Attributes
    ----------
    method : Method
    rtol, atol : float
        Floors added to the error model's tolerance.
    step : float or None
        Relative step ``h / max(|x|, 1)``; None chooses it from the measured noise.
    seed : int or None
        Seed of the random choices (the noise probe's coordinate); None draws one and
        records it in the report.
    strict : bool
        Whether kinks and inconclusive elements make the report fail.
    bounds : (lower, upper) or None
        Array-likes broadcastable to the flat parameter vector (-inf / inf where
        unbounded). f is never evaluated outside them: next to a bound the engine uses
        one-sided differences.
    reseed : bool
        Whether NumPy's and Python's global generators (and a backend's own, such as
        torch's) are reseeded before every evaluation, so that a random f is checked for
        one fixed draw; their states are put back after the check either way.
    mode : Mode
        ``auto``: the full check where its expected cost (``FULL_CHECK_COST`` evaluations
        per element) is within ``budget``, fast mode beyond it.
    budget : int
        Evaluations of f that ``mode="auto"`` spends on a full check at most.
    probes : int
        Random directions a fast check compares.
    taylor : bool
        Also run the Taylor test along a random direction (:mod:`gradcheck._taylor`).
    self_test : bool
        Also plant an error of twice ``detectable`` at a random ok element and check the
        planted gradient the same way (:mod:`gradcheck._self_test`).
    vectorized : bool
        f takes a stack of points, shape (k, *x.shape), and returns k values: the engine
        evaluates it on cache-sized stacks (:mod:`gradcheck._stacks`).
    executor : concurrent.futures.Executor or None
        Spread the evaluations over its workers (:mod:`gradcheck._fan_out`); the verdicts
        are those of one process.
    """

    method: Method = Method.CENTRAL
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    step: float | None = None
    seed: int | None = None
    strict: bool = False
    bounds: tuple[object, object] | None = None
    reseed: bool = True
    mode: Mode = Mode.AUTO
    budget: int = 20_000
    probes: int = 4
    taylor: bool = False
    self_test: bool = False
    vectorized: bool = False
    executor: Executor | None = None

    def __post_init__(self) -> None:
        for name, kind in (("method", Method), ("mode", Mode)):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, kind(value))
            except ValueError:
                choices = ", ".join(repr(m.value) for m in kind)
                raise InvalidArgument(f"{name}={value!r} is not one of {choices}") from None
        for name, least in (("budget", 0), ("probes", 1)):
            value = getattr(self, name)
            if not isinstance(value, Integral) or isinstance(value, bool) or value < least:
                raise InvalidArgument(f"{name}={value!r}: expected an integer >= {least}")
            object.__setattr__(self, name, int(value))
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value) or value < 0:
                raise InvalidArgument(f"{name}={value!r}: expected a finite number >= 0")
        if self.step is not None and (not _is_real(self.step) or not 0 < self.step < 1):
            raise InvalidArgument(
                f"step={self.step!r}: expected a relative step between 0 and 1, e.g. 1e-6"
            )
        if self.seed is not None and (
            not isinstance(self.seed, Integral) or isinstance(self.seed, bool) or self.seed < 0
        ):
            raise InvalidArgument(f"seed={self.seed!r}: expected a non-negative integer")
        if self.seed is not None:
            object.__setattr__(self, "seed", int(self.seed))
        for name in ("strict", "reseed", "taylor", "self_test", "vectorized"):
            value = getattr(self, name)
            if not isinstance(value, bool | np.bool_):
                raise InvalidArgument(f"{name}={value!r:.40}: expected True or False")
            object.__setattr__(self, name, bool(value))
        if self.executor is not None and not isinstance(self.executor, Executor):
            raise InvalidArgument(
                f"executor={self.executor!r:.60}: expected a concurrent.futures.Executor, "
                "e.g. ProcessPoolExecutor(2), or a dask Client's get_executor()"
            )
        if self.bounds is not None and (
            not isinstance(self.bounds, tuple | list) or len(self.bounds) != 2
        ):
            raise InvalidArgument(
                f"bounds={self.bounds!r:.60}: expected a pair (lower, upper) of numbers or arrays"
            )

    def resolve_bounds(self, x0: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Lower and upper bounds as float64 vectors like ``x0``; checks x0 is inside."""
        n = x0.size
        if self.bounds is None:
            return np.full(n, -np.inf), np.full(n, np.inf)
        vectors = []
        for name, given in zip(("lower", "upper"), self.bounds, strict=True):
            raw = -np.inf if given is None and name == "lower" else given
            raw = np.inf if raw is None else raw
            try:
                vectors.append(np.broadcast_to(np.asarray(raw, dtype=np.float64), (n,)).copy())
            except (TypeError, ValueError):
                raise InvalidArgument(
                    f"{name} bound {given!r:.60} cannot be broadcast to the {n} parameter "
                    "elements: give a number or an array with one entry per element"
                ) from None
        lower, upper = vectors
        outside = np.flatnonzero((x0 < lower) | (x0 > upper) | np.isnan(lower) | np.isnan(upper))
        if outside.size:
            i = int(outside[0])
            raise InvalidArgument(
                f"element {i} of the parameters is {float(x0[i])!r}, outside its bounds "
                f"[{float(lower[i])!r}, {float(upper[i])!r}]: start inside the bounds"
            )
        return lower, upper


def _is_real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


OPTION_DEFAULTS: Final[CheckOptions] = cast(
    CheckOptions, {field.name: field.default for field in fields(Options)}
)
"""The value of each option when it is not given (those of :class:`Options`)."""

OPTION_HELP: Final[Mapping[str, str]] = {
    "method": "How to compute the numeric derivatives",
    "rtol": "Relative floor added to every tolerance",
    "atol": "Absolute floor added to every tolerance",
    "step": "Relative step h / max(|x|, 1); by default chosen from the measured noise of f",
    "seed": "Seed for the random choices (recorded in the report either way)",
    "strict": "Kinks and inconclusive elements fail too",
    "bounds": "(lower, upper): f is never evaluated outside them; one-sided differences "
    "next to a bound",
    "reseed": "Reseed the global random generators before every evaluation, so that a "
    "random f is checked for one fixed draw",
    "mode": "full: difference every element; fast: compare random directions and search "
    "for the wrong elements; auto: full within the budget",
    "budget": "Evaluations of f that mode auto spends on a full check at most",
    "probes": "Random directions a fast check compares",
    "taylor": "Also run the Taylor test: along a random direction the residual of the "
    "first-order expansion must fall as h^2 (slope 1: the gradient is wrong)",
    "self_test": "Also plant an error of twice what the check promises to catch at a random "
    "element, check again, and fail if it is missed",
    "vectorized": "f takes a stack of points, shape (k, *x.shape), and returns k values: "
    "evaluated on cache-sized stacks",
    "executor": "A concurrent.futures.Executor (a process pool, a dask Client's "
    "get_executor()) whose workers evaluate f; the verdicts are those of one process",
}
"""One line of help for each option, without its default (see :func:`describe`)."""


def describe(name: str) -> str:
    """One line of help for the option ``name``, with its default where it has one.

    Raises
    ------
    InvalidArgument
        When ``name`` is not an option of :func:`gradcheck.check`.

    Examples
    --------
    >>> describe("rtol")
    'Relative floor added to every tolerance (default 1e-6).'
    >>> describe("seed")
    'Seed for the random choices (recorded in the report either way).'
    """
    _require_known(name)
    default = OPTION_DEFAULTS.get(name)
    if default is None:
        return f"{OPTION_HELP[name]}."
    return f"{OPTION_HELP[name]} (default {_shown(default)})."


def validate(options: Mapping[str, object]) -> CheckOptions:
    """``options`` as :class:`CheckOptions`: every name known, every value usable.

    Values come back as the engine reads them (``method`` a :class:`Method`, ``seed`` an
    ``int``, flags ``bool``); only the names given are in the result.

    Raises
    ------
    InvalidArgument
        Naming the first unknown option (and the option meant, when it looks like a
        misspelling), or the option whose value is unusable and what it expects.

    Examples
    --------
    >>> validate({"method": "richardson", "seed": 3})
    {'method': <Method.RICHARDSON: 'richardson'>, 'seed': 3}
    >>> validate({"rtl": 1e-5})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gradcheck._errors.InvalidArgument: unknown option 'rtl' (did you mean 'rtol'?); ...
    """
    for name in options:
        _require_known(name)
    valid = Options(**cast(dict[str, Any], options))
    return cast(CheckOptions, {name: getattr(valid, name) for name in options})


def _require_known(name: str) -> None:
    if name in OPTION_HELP:
        return
    import difflib  # only for a misspelt name: `import gradcheck` stays cheap

    close = difflib.get_close_matches(name, OPTION_HELP, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InvalidArgument(
        f"unknown option {name!r}{hint}; the options of gradcheck.check are "
        f"{', '.join(sorted(OPTION_HELP))}"
    )


def _shown(value: object) -> str:
    """A default as help text shows it: ``1e-6``, ``0``, ``central``, ``True``."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, float):
        mantissa, _, exponent = f"{value:g}".partition("e")
        return f"{mantissa}e{int(exponent)}" if exponent else mantissa
    return str(value)
