"""The noise probe on its own, on functions whose round-off or noise is known.

The probe's level is a bound on the error of one evaluation of f: three standard
deviations of the deviations ECnoise measures on tables of nine values on each side of
x0 (along a random direction and along single coordinates), at least the gap between f(x0)
and the parabola through the three nearest values of a table, and never below f's
rounding unit times f's scale.

How far it may be from the truth, when every value of f is off the exact f by at most
``a`` (the largest error, measured below over the span the tables reach):

* above: the j-th differences of deviations bounded by ``a`` are at most ``2**j a``, and
  ECnoise turns their mean square into ``sigma_j = sqrt(mean / C(2j, j))``, at most
  ``2**j a / sqrt(C(2j, j))``: 2.26 a for the highest order a nine-point table has.
  The gap ``|f0 - (3 f1 - 3 f2 + f3)|`` is at most ``(1 + 3 + 3 + 1) a = 8 a`` and enters
  as a third of that. So the level is at most ``3 * max(2.26 a, 8 a / 3) = 8 a``, and the
  floor (precision times f's scale) stays below that for the functions here.
* below: rounding errors at points a millionth apart, or added uniform noise, are
  spread like uniform noise on ``[-a, a]`` (standard deviation ``a / sqrt(3)``), so three
  estimated deviations come to about ``1.7 a``; an estimate from nine values off by the
  factor 3.5 that would take it below ``a / 2`` is far out in its tail, and the largest of
  several tables and gaps counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from gradcheck._evaluation import Session
from gradcheck._noise import NoiseProbe, lattice_precision, table_spacing
from gradcheck._problem import Parameter, Problem

FloatArray = NDArray[np.float64]
Function = Callable[[FloatArray], object]
Scalar = Callable[[FloatArray], float]

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)
UNBOUNDED = np.array([np.inf])

FACTOR_ABOVE = 8.0
FACTOR_BELOW = 0.5

# exp's Taylor polynomial to degree 4, in Horner form: a sum of terms of one sign near 1,
# so that its rounding is a few ulps of its value
COEFFICIENTS = (1.0, 1.0, 1 / 2, 1 / 6, 1 / 24)


def _polynomial(dtype: type[np.floating[Any]]) -> Scalar:
    """The polynomial computed in ``dtype``, returned as a Python float."""

    def value(x: FloatArray) -> float:
        u = dtype(x[0])
        total = dtype(0.0)
        for c in reversed(COEFFICIENTS):
            total = total * u + dtype(c)
        return float(total)

    return value


def _polynomial_slope(x: FloatArray) -> FloatArray:
    return np.array([[sum(k * c * x[0] ** (k - 1) for k, c in enumerate(COEFFICIENTS))]])


def _exact_polynomial(x: float) -> Fraction:
    u, total = Fraction(x), Fraction(0)
    for c in reversed(COEFFICIENTS):
        total = total * u + Fraction(c)
    return total


def _largest_error(f: Scalar, x0: float) -> float:
    """The largest |f(x) - exact(x)| over 2001 points within 1e-3 of x0, relative: the
    farthest any noise table reaches."""
    points = x0 * (1.0 + np.linspace(-1e-3, 1e-3, 2001))
    return max(float(abs(Fraction(f(np.array([x]))) - _exact_polynomial(float(x)))) for x in points)


@contextmanager
def _probe(
    f: Function,
    x0: list[float],
    lower: FloatArray | None = None,
    upper: FloatArray | None = None,
    seed: int = 0,
) -> Iterator[tuple[NoiseProbe, FloatArray, list[FloatArray]]]:
    """A noise probe around x0 for f (one float64 parameter), f(x0), and every point f
    was evaluated at."""
    start = np.array(x0)
    storage = start.copy()
    points: list[FloatArray] = []

    def value() -> object:
        points.append(storage.copy())
        return f(storage.copy())

    problem = Problem(
        [Parameter("x", start.shape, storage)],
        value=value,
        gradient=lambda: np.zeros(start.size),
        backend="test",
        output_shape=None,
    )
    session = Session(problem)
    try:
        probe = NoiseProbe(
            session,
            start.copy(),
            np.full(start.shape, -np.inf) if lower is None else lower,
            np.full(start.shape, np.inf) if upper is None else upper,
            np.abs(start),
            EPS64,
            np.random.default_rng(seed),
        )
        yield probe, session.value_at_start(), points
    finally:
        session.close()


def _level(
    f: Function,
    x0: list[float],
    slope: FloatArray,
    spread: FloatArray | None = None,
    seed: int = 0,
) -> FloatArray:
    with _probe(f, x0, seed=seed) as (probe, f0, _):
        return probe.level(f0, slope, np.zeros_like(f0) if spread is None else spread)


def _uniform_noise(size: float, seed: int) -> Scalar:
    """The polynomial plus noise uniform on [-size, size] from f's own generator."""
    noise = np.random.default_rng(seed)
    polynomial = _polynomial(np.float64)
    return lambda x: polynomial(x) + float(noise.uniform(-size, size))


# -- levels of functions with known round-off or noise ----------------------------------------


@pytest.mark.parametrize("x0", [0.7, -0.4, 1.3, 2.9])
def test_a_float64_polynomials_level_is_within_a_factor_of_its_rounding(x0: float) -> None:
    """Its values are off the exact polynomial by a few ulps; the level is between half
    and 8 times the largest such error (module docstring)."""
    f = _polynomial(np.float64)
    a = _largest_error(f, x0)
    level = _level(f, [x0], _polynomial_slope(np.array([x0])))
    assert FACTOR_BELOW * a <= level[0] <= FACTOR_ABOVE * a


@pytest.mark.parametrize("x0", [0.7, -0.4, 1.3, 2.9])
def test_float32_code_behind_a_float64_interface_has_float32_noise(x0: float) -> None:
    """The parameters and values are float64, but every value lies on float32's lattice:
    the probe takes float32's epsilon as f's rounding unit, and its level is within the
    same factors of the float32 computation's largest error, some 5e8 times float64's."""
    f = _polynomial(np.float32)
    a = _largest_error(f, x0)
    with _probe(f, [x0]) as (probe, f0, _):
        level = probe.level(f0, _polynomial_slope(np.array([x0])), np.zeros(1))
        assert probe.precision() == EPS32
    assert FACTOR_BELOW * a <= level[0] <= FACTOR_ABOVE * a
    assert level[0] >= EPS32 * abs(f0[0])


@pytest.mark.parametrize("c", [1 / 3, 2.5, -7.1])
def test_a_constants_level_is_its_rounding_unit(c: float) -> None:
    """A constant has no noise for the tables to find: its level is the floor, f's rounding
    unit times its scale, and its scale is |c| (a move changes nothing): exactly eps |c|."""
    level = _level(lambda x: c, [0.7, 2.0], np.zeros((1, 2)))
    assert level.tolist() == [EPS64 * abs(c)]


@pytest.mark.parametrize("seed", range(8))
def test_added_uniform_noise_is_measured_within_a_factor_of_its_size(seed: int) -> None:
    """Noise uniform on [-a, a] with a = 1e-8, far above the polynomial's rounding: the
    level is between a / 2 and 8 a. The rounding (1e-16) and the smooth part's third
    differences over the tables (1e-16) add less than a millionth of a to the bound."""
    a = 1e-8
    level = _level(_uniform_noise(a, seed), [0.7], _polynomial_slope(np.array([0.7])), seed=seed)
    assert FACTOR_BELOW * a <= level[0] <= FACTOR_ABOVE * a * (1 + 1e-6)


def test_each_output_has_a_level_of_its_own() -> None:
    """A noisy output and a smooth one measured in the same tables: the smooth one's level
    stays within the factors of its own rounding, and the noise does not leak into it."""
    a = 1e-8
    noisy = _uniform_noise(a, 0)
    smooth = _polynomial(np.float64)
    rounding = _largest_error(smooth, 0.7)

    def f(x: FloatArray) -> FloatArray:
        return np.array([noisy(x), smooth(x)])

    slope = np.concatenate([_polynomial_slope(np.array([0.7]))] * 2)
    level = _level(f, [0.7], slope)
    assert FACTOR_BELOW * a <= level[0] <= FACTOR_ABOVE * a * (1 + 1e-6)
    assert FACTOR_BELOW * rounding <= level[1] <= FACTOR_ABOVE * rounding


def test_the_spread_of_repeated_evaluations_counts_as_a_standard_deviation() -> None:
    """A random f's spread at x0 (standard deviation 1e-6, measured by the engine) far
    exceeds the polynomial's rounding: the level is three times that spread."""
    f = _polynomial(np.float64)
    level = _level(f, [0.7], _polynomial_slope(np.array([0.7])), spread=np.array([1e-6]))
    assert level.tolist() == [3 * 1e-6]


# -- where the tables are taken ----------------------------------------------------------------


def _failing_beyond(distance: float, how: str) -> Scalar:
    """The noisy polynomial, failing (raising, or returning inf or NaN) farther than
    ``distance`` from 0.7."""
    noisy = _uniform_noise(1e-8, 0)

    def f(x: FloatArray) -> float:
        if abs(x[0] - 0.7) > distance:
            if how == "raises":
                raise ValueError("outside the domain")
            return np.inf if how == "inf" else np.nan
        return noisy(x)

    return f


@pytest.mark.parametrize("how", ["raises", "inf", "nan"])
def test_the_probe_retreats_where_f_fails_and_still_measures_the_noise(how: str) -> None:
    """f fails beyond 1e-7 of x0 = 0.7 on both sides, inside the first tables' reach (nine
    spacings of 1e-6): the probe comes closer instead of failing, and measures the noise
    of 1e-8 within the same factors as where f is defined everywhere."""
    distance = 1e-7 * 0.7
    with _probe(_failing_beyond(distance, how), [0.7]) as (probe, f0, points):
        level = probe.level(f0, _polynomial_slope(np.array([0.7])), np.zeros(1))
    assert any(abs(point[0] - 0.7) > distance for point in points)  # where f failed
    assert FACTOR_BELOW * 1e-8 <= level[0] <= FACTOR_ABOVE * 1e-8 * (1 + 1e-6)


def test_a_side_where_f_fails_is_left_out() -> None:
    """f fails for every x > x0 (a domain edge at x0): the tables on the other side
    measure the noise."""
    noisy = _uniform_noise(1e-8, 0)

    def f(x: FloatArray) -> object:
        if x[0] > 0.7:
            raise ValueError("outside the domain")
        return noisy(x)

    level = _level(f, [0.7], _polynomial_slope(np.array([0.7])))
    assert FACTOR_BELOW * 1e-8 <= level[0] <= FACTOR_ABOVE * 1e-8 * (1 + 1e-6)


@pytest.mark.parametrize(("lower", "upper"), [(-np.inf, 0.7), (0.7, np.inf)])
def test_the_probe_never_evaluates_beyond_a_bound(lower: float, upper: float) -> None:
    f = _polynomial(np.float64)
    with _probe(f, [0.7], np.array([lower]), np.array([upper])) as (probe, f0, points):
        level = probe.level(f0, _polynomial_slope(np.array([0.7])), np.zeros(1))
    assert np.isfinite(level[0])
    assert len(points) > 10
    assert all(lower <= point[0] <= upper for point in points)


# -- table spacings ------------------------------------------------------------------------


@pytest.mark.parametrize("x0", [1.0, 0.7, 3e5, -3e-8])
def test_a_table_spacing_is_an_odd_number_of_ulps_near_its_target(x0: float) -> None:
    """An odd count of x0's ulps is commensurate with no coarser binary lattice. Rounding
    target / ulp to a whole number moves it by at most half an ulp, making that odd by at
    most one more: the spacing is within 1.5 ulps of the target."""
    ulp = np.spacing(np.abs(np.array([x0])))
    target = 1e-6 * abs(x0)
    spacing = table_spacing(np.array([target]), ulp)
    count = spacing[0] / ulp[0]
    assert count == round(count)
    assert round(count) % 2 == 1
    assert abs(spacing[0] - target) <= 1.5 * ulp[0]


def test_a_table_spacing_is_at_least_64_ulps() -> None:
    """Points a few ulps apart round alike: a target of 3 ulps becomes 65, the least odd
    count of at least 64. A float32 coordinate at 1 (ulp 2**-23) with a target of 1e-6
    (8.4 ulps) is stepped by 65 of its own ulps too."""
    ulp = np.array([2.0**-52, 2.0**-23])
    spacing = table_spacing(np.array([3 * 2.0**-52, 1e-6]), ulp)
    assert spacing.tolist() == [65 * 2.0**-52, 65 * 2.0**-23]


def test_a_table_spacing_at_zero_counts_in_a_unit_of_its_target() -> None:
    """At x0 = 0 the ulp is the smallest subnormal: the spacing is counted instead in
    2**-40 of the target's binade (target = m 2**e with 1/2 <= m < 1), an odd count of
    that unit within 1.5 units of the target."""
    target = 1e-6
    unit = 2.0 ** (np.frexp(target)[1] - 40)
    spacing = table_spacing(np.array([target]), np.spacing(np.array([0.0])))
    count = spacing[0] / unit
    assert count == round(count)
    assert round(count) % 2 == 1
    assert abs(spacing[0] - target) <= 1.5 * unit


# -- rounding units from f's values ---------------------------------------------------------


def test_values_on_float32s_lattice_have_float32s_rounding_unit(rng: np.random.Generator) -> None:
    values = rng.uniform(0.5, 2.0, 50).astype(np.float32).astype(np.float64)
    assert lattice_precision(values, EPS64) == EPS32
    off_lattice = np.append(values, 1.0 / 3.0)  # one value float32 cannot hold
    assert lattice_precision(off_lattice, EPS64) == EPS64
    assert lattice_precision(rng.uniform(0.5, 2.0, 50), EPS64) == EPS64


@pytest.mark.parametrize(
    ("value", "precision"),
    [
        (1.0 + 2.0**-15, EPS64),  # 16 significant bits: dyadic values sit on any lattice
        (1.0 + 2.0**-16, EPS32),  # 17 bits: on float32's lattice, unlikely by chance
        (1.0 + 2.0**-23, EPS32),  # 24 bits: float32's whole mantissa
        (1.0 + 2.0**-24, EPS64),  # 25 bits: more than float32 holds
    ],
)
def test_a_lattice_says_something_only_for_values_with_more_than_16_bits(
    value: float, precision: float
) -> None:
    assert lattice_precision(np.array([value, 0.5, 3.0]), EPS64) == precision


def test_lattice_precision_ignores_zeros_and_non_finite_values() -> None:
    third = float(np.float32(1.0 / 3.0))
    assert lattice_precision(np.array([0.0, np.nan, np.inf, -np.inf, third]), EPS64) == EPS32
    assert lattice_precision(np.array([0.0, np.nan]), EPS64) == EPS64
    assert lattice_precision(None, EPS64) == EPS64


def test_lattice_precision_is_never_finer_than_the_models_own() -> None:
    """A float16 model's epsilon is coarser than float32's: values on float32's lattice
    leave it as it is."""
    eps16 = float(np.finfo(np.float16).eps)
    third = float(np.float32(1.0 / 3.0))
    assert lattice_precision(np.array([third]), eps16) == eps16
