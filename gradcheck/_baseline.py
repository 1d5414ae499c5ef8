"""The first two stages of a check: f probed at the start point, and its noise measured.

Their findings are one frozen :class:`Baseline` that every later stage reads: f and the
gradient at x0, whether f is random, the bounds, f's round-off level and the error model
built on it, and the steps the differences start from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gradcheck._differences import relative_step
from gradcheck._errors import ModelError
from gradcheck._evaluation import Session
from gradcheck._noise import NoiseProbe
from gradcheck._options import Options
from gradcheck._tolerance import ErrorModel, row_scale

__all__ = ["Baseline", "Start", "measure", "probe", "recheck"]

FloatArray = NDArray[np.float64]

PRECISION_CAP = 1e-2
"""Largest relative noise taken for rounding: beyond it, a deterministic f varies faster
than the probe resolves, and its differences are no derivative."""

REPEATS = 6
"""Evaluations at the start point used to measure the noise of a random f."""


@dataclass(frozen=True, slots=True)
class Start:
    """Stage 1's findings at the start point.

    Attributes
    ----------
    x0 : ndarray, shape (n,)
        The parameters, as float64.
    f0 : ndarray, shape (m,)
        f there (the mean of several evaluations where f is random).
    gradient : ndarray, shape (m, n)
        The analytic gradient there: the value under test.
    spread : ndarray, shape (m,)
        Standard deviation of repeated evaluations; 0 for a deterministic f.
    random : bool
        Whether f returned different values at the same point.
    """

    x0: FloatArray
    f0: FloatArray
    gradient: FloatArray
    spread: FloatArray
    random: bool


@dataclass(frozen=True, slots=True)
class Baseline:
    """Stages 1 and 2: the start point and f's noise, what every later stage reads.

    Attributes
    ----------
    start : Start
    lower, upper : ndarray, shape (n,)
        The bounds.
    model : ErrorModel
        f's noise and precision, each element's magnitude and own scale.
    relative : float
        f's noise relative to its scale (at least the precision of its values).
    step : ndarray, shape (n,)
        The screen's step per element, on the unit scale.
    local_step : ndarray, shape (n,)
        The step on each element's own magnitude, for a closer look.
    scale : ndarray, shape (m, 1)
        Each output's largest gradient magnitude.
    """

    start: Start
    lower: FloatArray
    upper: FloatArray
    model: ErrorModel
    relative: float
    step: FloatArray
    local_step: FloatArray
    scale: FloatArray

    @property
    def unresolved(self) -> bool:
        """A deterministic f whose "noise" is beyond any rounding: it varies faster than
        the finest table resolves (or cancels nearly all its digits), and no noise model
        holds."""
        return not self.start.random and self.relative > PRECISION_CAP


def probe(session: Session) -> Start:
    """Stage 1: f at the start (finite?), again (deterministic?), and the gradient.

    Raises
    ------
    ModelError
        When f is not finite at the start point.
    """
    x0 = session.problem.flat_values()
    f0 = session.value_at_start()
    bad = np.flatnonzero(~np.isfinite(f0))
    if bad.size:
        raise ModelError(
            f"f is {f0[bad[0]]} at the start point; a gradient can only be checked where "
            "f is finite: start from other parameters"
        )
    mutation = session.mutated()
    if mutation is not None:
        session.guarded = True
        session.warnings.append(
            f"f modifies its argument: {mutation}. gradcheck restored the parameters "
            "before every evaluation and after the check; fix f to work on a copy"
        )
    repeat = session.value_at_start("a second time at the start point")
    spread = np.zeros_like(f0)
    random = not np.array_equal(repeat, f0)
    if random:
        values = np.stack(
            [f0, repeat] + [session.value_at_start("again") for _ in range(REPEATS - 2)]
        )
        spread = values.std(axis=0, ddof=1)
        f0 = values.mean(axis=0)
        session.warnings.append(_random_warning(session, spread, values))
    g = session.gradient()
    mutation = session.mutated()
    if mutation is not None and not session.guarded:
        session.guarded = True
        session.warnings.append(f"the gradient function modifies its argument: {mutation}")
    return Start(x0, f0, g, spread, random)


def measure(
    session: Session,
    start: Start,
    options: Options,
    rng: np.random.Generator,
    coordinates: bool = True,
) -> tuple[Baseline, NoiseProbe]:
    """Stage 2: f's round-off level, the error model and the steps; and the noise probe,
    which can measure the noise along one coordinate later. Without ``coordinates``, the
    level is measured along a random direction only (fast mode differences along
    directions)."""
    x0, problem = start.x0, session.problem
    lower, upper = options.resolve_bounds(x0)
    # each element's own scale: its magnitude, or its parameter's largest if below 1
    local_scale = np.maximum(np.abs(x0), _parameter_scale(session))
    eps = float(np.finfo(problem.dtype).eps)
    noise_probe = NoiseProbe(session, x0, lower, upper, local_scale, eps, rng)
    noise = noise_probe.level(start.f0, start.gradient, start.spread, coordinates)
    f_scale = noise_probe.f_scale(start.f0, start.gradient)
    nonzero = f_scale > 0
    relative = float(np.max(noise[nonzero] / f_scale[nonzero], initial=noise_probe.precision()))
    model = ErrorModel(
        noise=noise,
        precision=max(eps, min(relative, PRECISION_CAP)),
        rtol=options.rtol,
        atol=options.atol,
        magnitude=np.abs(x0),
        own_scale=local_scale,
    )
    rel_step = options.step if options.step is not None else relative_step(model.precision)
    # the element's own magnitude where it has one: a pole or a feature at |x| << 1
    # is invisible to steps on the unit scale
    own = np.where(x0 != 0, np.abs(x0), local_scale)
    baseline = Baseline(
        start=start,
        lower=lower,
        upper=upper,
        model=model,
        relative=relative,
        step=rel_step * np.maximum(np.abs(x0), 1.0),
        local_step=rel_step * np.minimum(own, local_scale),
        scale=row_scale(start.gradient),
    )
    return baseline, noise_probe


def recheck(session: Session, f0: FloatArray) -> bool:
    """Stage 5: f at the start point once more, after every other evaluation; whether it
    changed (then f is random or keeps state, said in a warning).

    Two equal values at the start can be chance (a dropout mask over few elements drawn
    twice alike); a third after hundreds of draws, or after f kept state between calls,
    rarely is.
    """
    again = session.value_at_start("at the start point, after the check")
    if np.array_equal(again, f0):
        return False
    session.warnings.append(
        f"f is random, or keeps state between calls: at the start point it returned "
        f"{float(f0[0]):.3g} before the check and {float(again[0]):.3g} after it. "
        "Its differences are not a derivative: give f a seeded generator (or switch "
        "off dropout), and make it depend on nothing but its parameters"
    )
    return True


def unresolved_warning(relative: float) -> str:
    """What a user reads where f's noise is beyond any rounding (:attr:`Baseline.unresolved`)."""
    return (
        f"f returns the same value at the same point, yet its values a few ulps apart "
        f"differ by {relative:.3g} times f's scale, far beyond any rounding: f varies "
        "faster than the finest step gradcheck can take there (an oscillation, or "
        "digits lost to cancellation), so no difference is a derivative and no "
        "verdict can be a mismatch. Pass step= with the scale f varies on, or check "
        "in float64"
    )


def _random_warning(session: Session, spread: FloatArray, values: FloatArray) -> str:
    fix = (
        "gradcheck reseeds the global generators (numpy.random, random, and the "
        f"{session.problem.backend} backend's own where it has one) before every evaluation, "
        "so f draws from a generator of its own (np.random.default_rng() without a "
        "seed, os.urandom, a data loader): give f a seeded generator, or switch off "
        "dropout"
        if session.reseed
        else "reseeding is off: check with reseed=True, or switch off dropout"
    )
    return (
        "f is random: at the same point it returned values with standard deviation "
        f"{spread.max():.3g} (for example {values[0, 0]:.3g} and "
        f"{values[1, 0]:.3g}); that noise is in the error model, and an element it "
        f"leaves undecided fails the check. {fix}."
    )


def _parameter_scale(session: Session) -> FloatArray:
    """Per element, the largest magnitude in its parameter, where that is below 1."""
    scales = []
    for p in session.problem.parameters:
        largest = float(np.max(np.abs(p.values), initial=0.0))
        scales.append(np.full(p.size, largest if 0.0 < largest < 1.0 else 1.0))
    return np.concatenate(scales)
