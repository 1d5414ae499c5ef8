"""Property tests over random smooth functions built from primitives.

Each function is a sum of terms ``c * p(a z_i + b) * q(a' z_j + b')`` where ``z = x / s``
rescales every coordinate to order one, ``p`` and ``q`` are primitives (polynomials, exp,
log, sin, tanh, sigmoid) written beside their derivatives, and the parameters ``x`` span
1e-3 .. 1e3 in magnitude. The analytic gradient comes from the product and chain rules,
so it is exact up to rounding. Three properties:

* a correct gradient is never flagged (float64, and float32 computed in float32);
* a gradient wrong by a relative 1e-4 in one element whose true value is at least 1e-6 of
  the largest is flagged, at exactly that element (float64);
* the user's arrays are bit-identical after a check, -0.0 included.

A test that skips examples it cannot check (a float32 overflow, an all-zero gradient)
counts them in a :class:`Tally` and requires, after its last example, that most examples
checked its property. ``pytest --hypothesis-show-statistics tests/test_properties.py``
shows how many examples each test checked and why it skipped the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import gradcheck
from gradcheck import Verdict


def _sigmoid(u: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1 / (1 + np.exp(-u))
    return result


# each primitive beside its derivative, micrograd style
PRIMITIVES: dict[
    str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]
] = {
    "one": (np.ones_like, np.zeros_like),
    "cube": (lambda u: u**3 - 2 * u, lambda u: 3 * u**2 - 2),
    "exp": (np.exp, np.exp),
    "log": (lambda u: np.log1p(u * u), lambda u: 2 * u / (1 + u * u)),
    "sin": (np.sin, np.cos),
    "tanh": (np.tanh, lambda u: 1 - np.tanh(u) ** 2),
    "sigmoid": (_sigmoid, lambda u: _sigmoid(u) * (1 - _sigmoid(u))),
}


@dataclass(frozen=True)
class Term:
    c: float
    outer: str
    i: int
    a: float
    b: float
    inner: str
    j: int
    a2: float
    b2: float


@dataclass(frozen=True)
class SmoothFunction:
    """f(x) = sum of terms; value and gradient in a chosen dtype."""

    scale: np.ndarray
    terms: tuple[Term, ...]

    def value(self, x: np.ndarray) -> np.floating[Any]:
        dtype = x.dtype
        z = x / self.scale.astype(dtype)
        total: np.floating[Any] = dtype.type(0)
        for t in self.terms:
            p, _ = PRIMITIVES[t.outer]
            q, _ = PRIMITIVES[t.inner]
            u = dtype.type(t.a) * z[t.i] + dtype.type(t.b)
            v = dtype.type(t.a2) * z[t.j] + dtype.type(t.b2)
            total = total + dtype.type(t.c) * p(u) * q(v)
        return total

    def gradient(self, x: np.ndarray) -> np.ndarray:
        dtype = x.dtype
        scale = self.scale.astype(dtype)
        z = x / scale
        g = np.zeros_like(x)
        for t in self.terms:
            p, dp = PRIMITIVES[t.outer]
            q, dq = PRIMITIVES[t.inner]
            u = dtype.type(t.a) * z[t.i] + dtype.type(t.b)
            v = dtype.type(t.a2) * z[t.j] + dtype.type(t.b2)
            c = dtype.type(t.c)
            g[t.i] += c * dp(u) * q(v) * dtype.type(t.a) / scale[t.i]
            g[t.j] += c * p(u) * dq(v) * dtype.type(t.a2) / scale[t.j]
        return g


@st.composite
def smooth_problems(draw: st.DrawFn) -> tuple[SmoothFunction, np.ndarray]:
    n = draw(st.integers(1, 6))
    exponents = draw(arrays(np.float64, n, elements=st.floats(-3, 3)))
    signs = draw(arrays(np.float64, n, elements=st.sampled_from([-1.0, 1.0])))
    x = signs * 10.0**exponents
    factors = draw(arrays(np.float64, n, elements=st.floats(0.5, 2.0)))
    scale = np.abs(x) * factors  # z = x / scale is of order one
    names = sorted(PRIMITIVES)
    coefficient = st.floats(0.1, 3.0) | st.floats(-3.0, -0.1)
    unit = st.floats(-1.5, 1.5)
    terms = draw(
        st.lists(
            st.builds(
                Term,
                c=coefficient,
                outer=st.sampled_from(names[1:] if names[0] == "one" else names),
                i=st.integers(0, n - 1),
                a=unit.filter(lambda a: abs(a) > 0.2),
                b=unit,
                inner=st.sampled_from(names),
                j=st.integers(0, n - 1),
                a2=unit.filter(lambda a: abs(a) > 0.2),
                b2=unit,
            ),
            min_size=1,
            max_size=6,
        )
    )
    return SmoothFunction(scale, tuple(terms)), x


class Tally:
    """The examples of one property test: how many ran, how many checked the property.

    A test returns early from an example it cannot check; one that returned early from
    most of them would pass while checking next to nothing, so the ``tally`` fixture
    requires, after the test's last example, that most examples checked the property.
    """

    def __init__(self) -> None:
        self.examples = 0
        self.checked = 0

    def start(self) -> None:
        """Count an example."""
        self.examples += 1

    def skip(self, reason: str) -> None:
        """Note why an example cannot check the property (shown by hypothesis' statistics)."""
        event(f"skipped: {reason}")

    def confirm(self) -> None:
        """Count an example in which the property was checked and held."""
        self.checked += 1
        event("checked")


@pytest.fixture
def tally() -> Iterator[Tally]:
    """One tally for all examples of a property test, checked after the last one."""
    counted = Tally()
    yield counted
    assert counted.checked > counted.examples / 2, (
        f"only {counted.checked} of {counted.examples} examples checked the property"
    )


SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    # the tally fixture is meant to span every example of its test
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)


@SETTINGS
@given(smooth_problems(), st.integers(0, 2**32 - 1))
def test_correct_float64_gradients_are_never_flagged(
    problem: tuple[SmoothFunction, np.ndarray], seed: int
) -> None:
    f, x = problem
    report = gradcheck.check(f.value, x, grad=f.gradient, seed=seed)
    assert report.ok, str(report)


@SETTINGS
@given(smooth_problems(), st.integers(0, 2**32 - 1))
def test_correct_float32_gradients_are_never_flagged(
    tally: Tally, problem: tuple[SmoothFunction, np.ndarray], seed: int
) -> None:
    tally.start()
    f, x64 = problem
    x = x64.astype(np.float32)
    if not np.all(np.isfinite(f.value(x))) or not np.all(np.isfinite(f.gradient(x))):
        tally.skip("the float32 range was exceeded")
        return

    def value(point: np.ndarray) -> np.floating[Any]:
        with np.errstate(all="ignore"):  # inf far from x, as NumPy returns it by default
            return f.value(point)

    report = gradcheck.check(value, x, grad=f.gradient, seed=seed)
    assert report.metadata.dtype == "float32"
    assert report.ok, str(report)
    tally.confirm()


@SETTINGS
@given(smooth_problems(), st.data())
def test_one_wrong_element_is_flagged_at_exactly_that_element(
    tally: Tally, problem: tuple[SmoothFunction, np.ndarray], data: st.DataObject
) -> None:
    tally.start()
    f, x = problem
    g = f.gradient(x)
    significant = np.flatnonzero((np.abs(g) >= 1e-6 * np.max(np.abs(g))) & (g != 0))
    if significant.size == 0:
        tally.skip("an all-zero gradient has no element to plant a relative error in")
        return
    k = int(data.draw(st.sampled_from(significant.tolist())))
    sign = data.draw(st.sampled_from([-1.0, 1.0]))
    planted = g.copy()
    planted[k] *= 1 + sign * 1e-4

    report = gradcheck.check(f.value, x, grad=lambda _: planted, seed=data.draw(st.integers(0, 99)))
    flagged = [int(i) for i in np.flatnonzero(report.verdicts[0] == Verdict.MISMATCH)]
    assert flagged == [k], str(report)
    assert report.detectable[0, k] < 1e-4 * abs(g[k])
    tally.confirm()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    arrays(
        np.float64,
        st.integers(1, 5),
        elements=st.floats(-1e3, 1e3, allow_subnormal=False) | st.just(-0.0),
    )
)
def test_user_arrays_are_bit_identical_after_a_check(x: np.ndarray) -> None:
    params = {"w": x, "v": x[::-1].copy()}
    before = {k: v.tobytes() for k, v in params.items()}
    gradcheck.check(
        lambda p: float(np.sum(np.sin(p["w"])) + np.sum(p["v"] ** 2)),
        params,
        grad=lambda p: {"w": np.cos(p["w"]), "v": 2 * p["v"]},
        seed=0,
    )
    assert {k: v.tobytes() for k, v in params.items()} == before


@st.composite
def problems_at_any_magnitude(draw: st.DrawFn) -> tuple[SmoothFunction, np.ndarray]:
    """Smooth problems whose parameters span 1e-8 .. 1e8 (the default set spans 1e-3 .. 1e3)."""
    f, x = draw(smooth_problems())
    exponents = draw(arrays(np.float64, x.size, elements=st.floats(-8, 8)))
    factor = 10.0**exponents / np.abs(x)
    return SmoothFunction(f.scale * factor, f.terms), x * factor


@SETTINGS
@given(problems_at_any_magnitude(), st.sampled_from([np.float64, np.float32]), st.data())
def test_an_error_twice_the_reported_detectable_is_always_flagged(
    tally: Tally,
    problem: tuple[SmoothFunction, np.ndarray],
    dtype: type[np.floating[Any]],
    data: st.DataObject,
) -> None:
    """``detectable`` is a guarantee: plant twice it at any element and that element fails."""
    tally.start()
    f, x64 = problem
    x = x64.astype(dtype)
    g = f.gradient(x)
    if not np.all(np.isfinite(f.value(x))) or not np.all(np.isfinite(g)):
        tally.skip("the float32 range was exceeded")
        return

    def value(point: np.ndarray) -> np.floating[Any]:
        with np.errstate(all="ignore"):  # inf far from x, as NumPy returns it by default
            return f.value(point)

    seed = data.draw(st.integers(0, 99))
    report = gradcheck.check(value, x, grad=f.gradient, seed=seed)
    k = data.draw(st.integers(0, x.size - 1))
    bound = float(report.detectable[0, k])
    if not np.isfinite(bound):
        tally.skip("nothing is promised where no estimate exists")
        return
    planted = g.astype(np.float64)
    # a bound of 0 (f exactly constant along k) promises that any error at all shows
    size = max(2.0 * bound, float(np.finfo(dtype).tiny))
    planted[k] += data.draw(st.sampled_from([-1.0, 1.0])) * size
    wrong = planted.astype(dtype)
    again = gradcheck.check(value, x, grad=lambda _: wrong, seed=seed)
    assert again.verdicts[0, k] == Verdict.MISMATCH, f"{report}\n\nplanted at {k}:\n{again}"
    tally.confirm()
