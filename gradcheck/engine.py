"""The engine: probes a :class:`Problem`, estimates every derivative, and returns a Report.

One check goes through these stages:

1. **Probe.** f at the start (finite? its shape?), f again (deterministic?), the analytic
   gradient (shape?), and whether f wrote to its own argument.
2. **Noise.** Values along one random direction and along single coordinates, at tiny
   spacings, give f's round-off level (ECnoise), which sets the step and the round-off
   term of the error model.
3. **Screen.** A Richardson pair of central differences (steps h and 2h) per coordinate,
   4n evaluations: its estimate, and its truncation error measured, not assumed. An
   element that agrees, smoothly, with round-off dominating, is done.
4. **Refine** only the others with finer pairs (h/4, h/16, ...), the convergence order
   measured from three levels: among consistent smooth pairs the sharpest decides, and
   a mismatch needs a second pair (or the same steps shifted) to confirm it; one-sided
   differences that keep disagreeing, bounded, as the step shrinks mark a kink; f not
   finite on one side means one-sided differences from the other; levels that never
   converge decide nothing. Elements undecided, or blunt, on the unit scale get a closer
   look on their own magnitude.
5. **Recheck** f at the start point: a value that changed means f is random or keeps
   state, and none of its verdicts can be a mismatch.

Whatever is perturbed is put back in ``finally``, also on KeyboardInterrupt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcheck.differences import (
    relative_step,
    representable_steps,
    richardson_estimate,
)
from gradcheck.errors import InvalidArgument, ModelError
from gradcheck.evaluation import Session
from gradcheck.noise import NOISE_BOUND, NoiseProbe
from gradcheck.options import Method, Options
from gradcheck.problem import Problem
from gradcheck.refinement import (
    Column,
    Level,
    Pair,
    PairNumbers,
    convergence_order,
    inconsistent,
    merged,
    quadratic_slope,
    roundoff,
    sharpest,
)
from gradcheck.report import Metadata, Report
from gradcheck.tolerance import (
    INCONCLUSIVE_FRACTION,
    SAFETY,
    UNCERTAIN_MISS,
    ErrorModel,
    Verdict,
)

__all__ = ["Method", "Options", "run"]

FloatArray = NDArray[np.float64]

SHIFT = 2**-0.5
"""A mismatch that finer steps cannot confirm is re-measured with the steps times this."""

MAX_LEVELS = 8
"""Step levels tried for one element: 2h, h, h/4, ..., h/4**6."""

NOISE_RECHECK = 1e3
"""A mismatch whose gap is below this many tolerances is re-judged with the noise measured
along its own coordinate (round-off differs between coordinates by orders of magnitude)."""

NOISE_SPREAD = 4.0
"""Two ECnoise estimates of one noise level (9-point tables) differ by up to this factor."""

PRECISION_CAP = 1e-2
"""Largest relative noise taken for rounding: beyond it, a deterministic f varies faster
than the probe resolves, and its differences are no derivative."""

REPEATS = 6
"""Evaluations at the start point used to measure the noise of a random f."""


def run(problem: Problem, options: Options) -> Report:
    """Check the problem's analytic gradient; restore everything it perturbed.

    Parameters
    ----------
    problem : Problem
        From a backend, or built by hand.
    options : Options

    Returns
    -------
    Report

    Raises
    ------
    ModelError
        When f or the gradient raises, returns a non-finite value at the start point, or
        returns something of the wrong type or shape.
    InvalidArgument
        When ``method="complex"`` is asked of a problem with no complex evaluation.
    """
    started = time.perf_counter()
    seed = (
        options.seed
        if options.seed is not None
        else int(np.random.SeedSequence().generate_state(1)[0])
    )
    rng = np.random.default_rng(seed)
    session = Session(problem, reseed=options.reseed)
    try:
        # the engine's own arithmetic meets inf and NaN from f on purpose (a pole, a
        # domain edge); f itself runs under the caller's settings (Session.value)
        with np.errstate(all="ignore"):
            check = _Check(session, options, rng)
            result = check.result()
    finally:
        session.close()
    return Report(
        parameters=tuple((p.name, p.shape) for p in problem.parameters),
        output_shape=session.output_shape or (),
        analytic=result.analytic,
        numeric=result.numeric,
        error=result.error,
        tolerance=result.tolerance,
        verdicts=result.verdicts,
        left=result.left,
        right=result.right,
        step=result.step,
        strict=options.strict,
        metadata=Metadata(
            backend=problem.backend,
            dtype=str(problem.dtype),
            method=str(options.method),
            rtol=options.rtol,
            atol=options.atol,
            seed=seed,
            function_evaluations=session.calls,
            gradient_evaluations=session.gradient_calls,
            seconds=time.perf_counter() - started,
            noise=tuple(float(v) for v in result.noise),
            warnings=(*session.warnings, *session.notes, *problem.notes),
            random=check.random or problem.random,
        ),
    )


@dataclass(slots=True)
class _Result:
    analytic: FloatArray
    numeric: FloatArray
    error: FloatArray
    tolerance: FloatArray
    verdicts: NDArray[np.int8]
    left: FloatArray
    right: FloatArray
    step: FloatArray
    noise: FloatArray


class _Check:
    """The stages of one check, sharing the session, the start point and the error model."""

    def __init__(self, session: Session, options: Options, rng: np.random.Generator) -> None:
        self.session = session
        self.options = options
        self.rng = rng
        problem = session.problem
        self.x0 = problem.flat_values()
        self.random = False  # f returned different values at the same point
        # smooth pairs an agreeing element needs: method="richardson" confirms every
        # element with a second, finer pair (its convergence order measured)
        self.pairs = 2 if options.method is Method.RICHARDSON else 1
        self.lower, self.upper = options.resolve_bounds(self.x0)
        self.noise = np.zeros(0)
        # each element's own scale: its magnitude, or its parameter's largest if below 1
        self.local_scale = np.maximum(np.abs(self.x0), self._parameter_scale())
        self.eps = float(np.finfo(problem.dtype).eps)
        self.probe_noise = NoiseProbe(
            session, self.x0, self.lower, self.upper, self.local_scale, self.eps, rng
        )

    # -- stage 1: probes --------------------------------------------------------------

    def probe(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """f0, the analytic gradient, and the spread of repeated evaluations."""
        s = self.session
        f0 = s.value_at_start()
        bad = np.flatnonzero(~np.isfinite(f0))
        if bad.size:
            raise ModelError(
                f"f is {f0[bad[0]]} at the start point; a gradient can only be checked where "
                "f is finite: start from other parameters"
            )
        mutation = s.mutated()
        if mutation is not None:
            s.guarded = True
            s.warnings.append(
                f"f modifies its argument: {mutation}. gradcheck restored the parameters "
                "before every evaluation and after the check; fix f to work on a copy"
            )
        repeat = s.value_at_start("a second time at the start point")
        spread = np.zeros_like(f0)
        if not np.array_equal(repeat, f0):
            self.random = True
            values = np.stack(
                [f0, repeat] + [s.value_at_start("again") for _ in range(REPEATS - 2)]
            )
            spread = values.std(axis=0, ddof=1)
            f0 = values.mean(axis=0)
            fix = (
                "gradcheck reseeds the global generators (numpy.random, random, and the "
                f"{s.problem.backend} backend's own where it has one) before every evaluation, "
                "so f draws from a generator of its own (np.random.default_rng() without a "
                "seed, os.urandom, a data loader): give f a seeded generator, or switch off "
                "dropout"
                if s.reseed
                else "reseeding is off: check with reseed=True, or switch off dropout"
            )
            s.warnings.append(
                "f is random: at the same point it returned values with standard deviation "
                f"{_fmt(spread.max())} (for example {_fmt(values[0, 0])} and "
                f"{_fmt(values[1, 0])}); that noise is in the error model, and an element it "
                f"leaves undecided fails the check. {fix}."
            )
        g = s.gradient()
        mutation = s.mutated()
        if mutation is not None and not s.guarded:
            s.guarded = True
            s.warnings.append(f"the gradient function modifies its argument: {mutation}")
        return f0, g, spread

    # -- stages 3 and 4 ---------------------------------------------------------------

    def _dtype_of(self, i: int) -> np.dtype[Any]:
        return self.session.owner[i][0].values.dtype

    def result(self) -> _Result:
        f0, g, spread = self.probe()
        if self.options.method is Method.COMPLEX:
            return self._complex_step(g)
        noise = self.noise = self.probe_noise.level(f0, g, spread)
        f_scale = self.probe_noise.f_scale(f0, g)
        nonzero = f_scale > 0
        relative = float(
            np.max(noise[nonzero] / f_scale[nonzero], initial=self.probe_noise.precision())
        )
        # a deterministic f whose "noise" is beyond any rounding varies faster than the
        # finest table resolves (or cancels nearly all its digits): no noise model holds
        unresolved = not self.random and relative > PRECISION_CAP
        model = ErrorModel(
            noise=noise,
            precision=max(self.eps, min(relative, PRECISION_CAP)),
            rtol=self.options.rtol,
            atol=self.options.atol,
        )
        rel_step = (
            self.options.step if self.options.step is not None else relative_step(model.precision)
        )
        h = rel_step * np.maximum(np.abs(self.x0), 1.0)
        # the element's own magnitude where it has one: a pole or a feature at |x| << 1
        # is invisible to steps on the unit scale
        own = np.where(self.x0 != 0, np.abs(self.x0), self.local_scale)
        self.local_step = rel_step * np.minimum(own, self.local_scale)
        scale = _row_scale(g)
        if self.options.method is Method.SCIPY:
            from gradcheck.reference import scipy_jacobian

            numeric, error = scipy_jacobian(
                self.session.at_point, self.x0, h, self.lower, self.upper
            )
            error = np.maximum(error, model.roundoff(h, h))
            verdicts, tolerance = model.verdicts(g, numeric, error, scale)
            nan = np.full_like(g, np.nan)
            return _Result(g, numeric, error, tolerance, verdicts, nan, nan, h, noise)
        room = np.minimum(self.upper - self.x0, self.x0 - self.lower)
        sided = room < BOUND_MARGIN * h
        plus, minus, h_plus, h_minus = self._steps(h)
        if sided.any():
            plus, minus, h_plus, h_minus = self._sided_points(
                sided, h, plus, minus, h_plus, h_minus
            )
        f_plus, f_minus = self.session.sweep(plus, minus)
        # the screen is a Richardson pair (2h, h) for every element: its truncation error
        # is measured, never assumed small, so what a pass promises (`detectable`) holds
        # where f varies faster than the step too (an inflection point, a float32 step).
        # Next to a bound, x0 itself stands in for the 2h points (the sided path decides).
        plus2, minus2, h_plus2, h_minus2 = self._steps(2.0 * h)
        plus2[sided], minus2[sided] = self.x0[sided], self.x0[sided]
        h_plus2[sided], h_minus2[sided] = h_plus[sided], h_minus[sided]
        f_plus2, f_minus2 = self.session.sweep(plus2, minus2)
        fine = Level(1.0, f_plus, f_minus, h_plus, h_minus)
        coarse = Level(2.0, f_plus2, f_minus2, h_plus2, h_minus2)
        model = replace(model, magnitude=np.abs(self.x0), own_scale=self.local_scale)
        pair = PairNumbers(coarse, fine, f0[:, None], model)
        numeric, error = pair.estimate, pair.error
        verdicts, tolerance = model.with_curvature(pair.curvature).verdicts(
            g, numeric, error, scale
        )
        # refined: what disagrees, what is not smooth between the steps, and what agrees
        # only within a truncation error a finer pair would shrink
        refine = (verdicts != Verdict.OK) | ~pair.smooth | (pair.truncation > pair.roundoff)
        if self.options.method is Method.RICHARDSON:
            refine[:] = True
        refine[:, sided] = False
        refine &= np.isfinite(g)  # a non-finite analytic value is a mismatch already
        left = np.full_like(g, np.nan)
        right = np.full_like(g, np.nan)
        for i in np.flatnonzero(sided):
            column = self._one_sided_column(
                int(i),
                (f_plus[:, i], f_minus[:, i], h_plus[i], h_minus[i]),
                f0,
                g[:, i],
                scale,
                model.column(int(i)),
            )
            numeric[:, i], error[:, i] = column.numeric, column.error
            verdicts[:, i], tolerance[:, i] = column.verdicts, column.tolerance
        for i in np.flatnonzero(refine.any(axis=0)):
            start = [
                Level(2.0, f_plus2[:, i], f_minus2[:, i], h_plus2[i], h_minus2[i]),
                Level(1.0, f_plus[:, i], f_minus[:, i], h_plus[i], h_minus[i]),
            ]
            column = self._refine(int(i), h[i], start, f0, g[:, i], scale, model.column(int(i)))
            numeric[:, i], error[:, i], tolerance[:, i] = (
                column.numeric,
                column.error,
                column.tolerance,
            )
            verdicts[:, i], left[:, i], right[:, i] = column.verdicts, column.left, column.right
        self._note_unchanged(f0, f_plus, f_minus, g, verdicts)
        self._recheck_start(f0, verdicts, tolerance)
        if unresolved:
            self._unresolved(relative, verdicts, tolerance)
        return _Result(g, numeric, error, tolerance, verdicts, left, right, h_plus, noise)

    def _unresolved(
        self, relative: float, verdicts: NDArray[np.int8], tolerance: FloatArray
    ) -> None:
        """A deterministic f whose measured noise is no rounding: no mismatch can stand."""
        _no_mismatch(verdicts, tolerance)
        self.session.warnings.append(
            f"f returns the same value at the same point, yet its values a few ulps apart "
            f"differ by {_fmt(relative)} times f's scale, far beyond any rounding: f varies "
            "faster than the finest step gradcheck can take there (an oscillation, or "
            "digits lost to cancellation), so no difference is a derivative and no "
            "verdict can be a mismatch. Pass step= with the scale f varies on, or check "
            "in float64"
        )

    def _recheck_start(
        self, f0: FloatArray, verdicts: NDArray[np.int8], tolerance: FloatArray
    ) -> None:
        """f at the start point once more, after every other evaluation.

        Two equal values at the start can be chance (a dropout mask over few elements
        drawn twice alike); a third after hundreds of draws, or after f kept state
        between calls, rarely is. Where it differs, the verdicts assumed a deterministic
        f: none of them can call a mismatch.
        """
        if self.random:
            return
        again = self.session.value_at_start("at the start point, after the check")
        if np.array_equal(again, f0):
            return
        self.random = True
        self.session.warnings.append(
            f"f is random, or keeps state between calls: at the start point it returned "
            f"{_fmt(float(f0[0]))} before the check and {_fmt(float(again[0]))} after it. "
            "Its differences are not a derivative: give f a seeded generator (or switch "
            "off dropout), and make it depend on nothing but its parameters"
        )
        _no_mismatch(verdicts, tolerance)

    def _note_unchanged(
        self,
        f0: FloatArray,
        f_plus: FloatArray,
        f_minus: FloatArray,
        g: FloatArray,
        verdicts: NDArray[np.int8],
    ) -> None:
        """Say so where f returned exactly f0 on both sides of a mismatching element."""
        unchanged = np.all((f_plus == f0[:, None]) & (f_minus == f0[:, None]), axis=0)
        flagged = unchanged & np.any(verdicts == Verdict.MISMATCH, axis=0)
        if not flagged.any():
            return
        if np.all(unchanged | ~np.any(g != 0, axis=0)):
            self.session.warnings.append(
                "f did not change when any parameter changed: f returned exactly the same "
                "value with every element moved either way, so every numeric derivative is "
                "0. Does f compute its result once, outside the function gradcheck calls "
                "(a loss built before the check, a cached value)? f must recompute from "
                "the parameters it is given on every call"
            )
        else:
            labels = [self.session.label(int(i)) for i in np.flatnonzero(flagged)[:3]]
            more = f" and {int(flagged.sum()) - 3} more" if flagged.sum() > 3 else ""
            self.session.warnings.append(
                f"f did not change when {', '.join(labels)}{more} changed (exactly the same "
                "value with the element moved either way), while the gradient says it "
                "should: the numeric derivative there is 0"
            )

    def _sided_points(
        self,
        sided: NDArray[np.bool_],
        h: FloatArray,
        plus: FloatArray,
        minus: FloatArray,
        h_plus: FloatArray,
        h_minus: FloatArray,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Next to a bound, evaluate at x + s h and x + 2 s h on the side with room.

        ``h_plus`` and ``h_minus`` then hold the signed offsets of those two points.
        """
        plus, minus, h_plus, h_minus = plus.copy(), minus.copy(), h_plus.copy(), h_minus.copy()
        for i in np.flatnonzero(sided):
            up, down = self.upper[i] - self.x0[i], self.x0[i] - self.lower[i]
            direction = 1.0 if up >= down else -1.0
            step = min(h[i], max(up, down) / 8.0)
            plus[i], h_plus[i] = self._step_toward(int(i), step, direction)
            minus[i], h_minus[i] = self._step_toward(int(i), 2 * step, direction)
        return plus, minus, h_plus, h_minus

    def _one_sided_column(
        self,
        i: int,
        points: tuple[FloatArray, FloatArray, float, float],
        f0: FloatArray,
        g: FloatArray,
        scale: FloatArray,
        model: ErrorModel,
    ) -> Column:
        """Verdicts from one side of x0: at a bound, or where f is undefined on the other.

        ``points`` holds f at the two nearest points on that side and their signed offsets.
        """
        estimate, err, settled = self._one_sided(i, f0, *points)
        codes, tol = model.verdicts(g[:, None], estimate[:, None], err[:, None], scale)
        if not settled:  # never reached the asymptotic range: no verdict either way
            codes[:] = Verdict.INCONCLUSIVE
            tol[:] = np.inf  # no gap could be called a mismatch
        nan = np.full_like(g, np.nan)
        return Column(estimate, err, tol[:, 0], codes[:, 0], nan, nan)

    def _toward_defined_side(
        self,
        i: int,
        level: Level,
        f0: FloatArray,
        g: FloatArray,
        scale: FloatArray,
        model: ErrorModel,
    ) -> Column:
        """One-sided verdicts where f is not finite on one side of a level (a domain edge
        inside the step: ``logit`` near 1, ``arccosh`` near 1)."""
        direction = -1.0 if np.all(np.isfinite(level.f_minus)) else 1.0
        step = float(level.h_plus if direction > 0 else level.h_minus)
        bad = level.f_plus if direction < 0 else level.f_minus
        value = bad[~np.isfinite(bad)][0]
        where = self.x0[i] + level.h_plus if direction < 0 else self.x0[i] - level.h_minus
        self.session.warnings.append(
            f"f is {value} at {self.session.label(i)} = {float(where)!r} (a step of "
            f"{_fmt(step)} from the start): {self.session.label(i)} was differenced from "
            "the other side only"
        )
        near, a1 = self._step_toward(i, step, direction)
        far, a2 = self._step_toward(i, 2.0 * step, direction)
        points = (self.session.at(i, near), self.session.at(i, far), a1, a2)
        return self._one_sided_column(i, points, f0, g, scale, model)

    def _one_sided(
        self, i: int, f0: FloatArray, f_near: FloatArray, f_far: FloatArray, a1: float, a2: float
    ) -> tuple[FloatArray, FloatArray, bool]:
        """Second-order one-sided estimate at a bound, its error, and whether it settled.

        Parabolas through f0 and the points at s, 2s, 4s, 8s give slopes D(s), D(2s),
        D(4s) whose differences shrink fourfold per doubling in the asymptotic range;
        until they do (a singularity at the bound, say), s shrinks fourfold.
        """
        if a1 == 0.0 or a2 == a1:  # no room at all: the variable is fixed by its bounds
            nan = np.full_like(f0, np.nan)
            return nan, nan, False
        direction = 1.0 if a1 > 0 else -1.0
        known = {abs(a1): f_near, abs(a2): f_far}

        def at(offset: float) -> tuple[float, FloatArray]:
            point, signed = self._step_toward(i, offset, direction)
            if abs(signed) not in known:
                known[abs(signed)] = self.session.at(i, point)
            return signed, known[abs(signed)]

        s = abs(a1)
        for _ in range(MAX_SIDED_LEVELS):
            (b1, f1), (b2, f2), (b4, f4), (b8, f8) = (at(k * s) for k in (1.0, 2.0, 4.0, 8.0))
            d1, w1 = quadratic_slope(f0, f1, f2, b1, b2)
            d2, w2 = quadratic_slope(f0, f2, f4, b2, b4)
            d4, w4 = quadratic_slope(f0, f4, f8, b4, b8)
            estimate, truncation = richardson_estimate(d2, d1, 2.0)
            roundoff = self.noise * (4.0 * w1 + w2) / 3.0
            noise_12 = self.noise * (w1 + w2)
            noise_24 = self.noise * (w2 + w4)
            change_fine, change_coarse = d2 - d1, d4 - d2
            settled = np.abs(change_coarse - 4.0 * change_fine) <= (
                noise_24 + 4.0 * noise_12 + 0.25 * np.abs(4.0 * change_fine)
            )
            if np.all(settled & np.isfinite(estimate)):
                return estimate, truncation + roundoff, True
            s /= 4.0
        return d1, np.abs(d2 - d1) + np.abs(d4 - d2) + self.noise * w1, False

    def _steps(self, h: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Representable points ``x0 ± h`` per parameter dtype, as float64 vectors."""
        parts = []
        start = 0
        for p in self.session.problem.parameters:
            stop = start + p.size
            parts.append(representable_steps(self.x0[start:stop], h[start:stop], p.values.dtype))
            start = stop
        return tuple(  # type: ignore[return-value]
            np.concatenate([np.asarray(part[k], dtype=np.float64) for part in parts])
            for k in range(4)
        )

    def _level(self, i: int, h: float, mult: float) -> Level:
        plus, minus, hp, hm = self._steps_one(i, h * mult)
        return Level(mult, self.session.at(i, plus), self.session.at(i, minus), hp, hm)

    def _step_toward(self, i: int, h: float, direction: float) -> tuple[float, float]:
        """The representable point about h from x0 on one side, and its signed offset."""
        plus, minus, h_plus, h_minus = self._steps_one(i, h)
        return (plus, h_plus) if direction > 0 else (minus, -h_minus)

    def _steps_one(self, i: int, h: float) -> tuple[float, float, float, float]:
        dtype = self._dtype_of(i)
        plus, minus, hp, hm = representable_steps(self.x0[i : i + 1], np.array([h]), dtype)
        return float(plus[0]), float(minus[0]), float(hp[0]), float(hm[0])

    def _parameter_scale(self) -> FloatArray:
        """Per element, the largest magnitude in its parameter, where that is below 1."""
        scales = []
        for p in self.session.problem.parameters:
            largest = float(np.max(np.abs(p.values), initial=0.0))
            scales.append(np.full(p.size, largest if 0.0 < largest < 1.0 else 1.0))
        return np.concatenate(scales)

    def _refine(
        self,
        i: int,
        h: float,
        start: list[Level],
        f0: FloatArray,
        g: FloatArray,
        scale: FloatArray,
        model: ErrorModel,
    ) -> Column:
        """Numeric, error, tolerance, verdict, left and right derivative for column i,
        from the screen's levels ``start`` (steps 2h and h).

        A mismatch, kink or inconclusive element found with steps on the unit scale is
        re-examined with steps on
        the element's own magnitude when that is much smaller (a parameter of 1e-8, or a
        pole just beside x, makes f vary on a scale steps of 1e-6 cannot see). The closer
        look overturns the first only where it contradicts it (the first steps missed a
        feature) or is at least as sharp: two consistent estimates are judged by the
        sharper, and the closer one's round-off is larger by the ratio of the steps. A
        close mismatch is re-judged with the noise measured along its own coordinate.
        """
        column = self._refine_from(i, h, start, f0, g, scale, model)
        local = float(self.local_step[i])
        # not ok, or ok only within an error far above the round-off a step on the
        # element's own scale would have (the steps ran out while truncation dominated)
        blunt = column.error > 4.0 * model.noise / local if local > 0 else False
        doubtful = (column.verdicts != Verdict.OK) | blunt
        if np.any(doubtful) and local < h / 16:
            near = [self._level(i, local, 2.0), self._level(i, local, 1.0)]
            closer = self._refine_from(i, local, near, f0, g, scale, model)
            decisive = not np.any(closer.verdicts == Verdict.INCONCLUSIVE)
            undecided = bool(np.any(column.verdicts == Verdict.INCONCLUSIVE))
            sharper = bool(np.all(closer.error <= column.error))
            if decisive and (undecided or sharper or inconsistent(column, closer)):
                return closer  # decisive on the finer scale; undecided there: keep the first
        mismatch = column.verdicts == Verdict.MISMATCH
        gap = np.abs(g - column.numeric)
        if np.any(mismatch & (gap < NOISE_RECHECK * column.tolerance)):
            # Round-off depends on the terms a coordinate moves: measure it along this one
            # before calling a close gap a mismatch.
            level, _ = self.probe_noise.along(i, f0, True)
            # two ECnoise estimates of the same noise differ by up to NOISE_SPREAD: only a
            # level beyond that is this coordinate's own, larger round-off
            if level is not None and np.any(NOISE_BOUND * level > NOISE_SPREAD * model.noise):
                local_model = replace(model, noise=np.maximum(model.noise, NOISE_BOUND * level))
                return self._refine_from(i, h, start, f0, g, scale, local_model)
        return column

    def _refine_from(
        self,
        i: int,
        h: float,
        start: list[Level],
        f0: FloatArray,
        g: FloatArray,
        scale: FloatArray,
        model: ErrorModel,
    ) -> Column:
        """Refine column i from the levels ``start`` (steps 2h and h) to a verdict.

        Levels 2h, h, h/4, h/16, ... are taken in Richardson pairs, each with its
        convergence order measured from the three latest levels:

        ==========================================  ===================================
        what the pairs show                         verdict
        ==========================================  ===================================
        f undefined on one side of a level          one-sided, from the defined side
        smooth, consistent with the chain so far    joins the chain; the sharpest pair
                                                    of the chain decides
        sharpest says mismatch, chain of two        mismatch (a second consistent pair
                                                    confirms its value)
        sharpest says mismatch, chain of one        a finer pair, or the same steps
                                                    shifted where finer cannot resolve
        sharpest agrees, round-off dominates        ok: finer pairs are only noisier
        smooth, inconsistent with the chain         both, their disagreement added to
                                                    the error
        one-sided gap stuck (not shrinking, not     kink
        growing) at two pairs in a row
        no smooth pair before steps run out         unsettled: spread, never ok
        ==========================================  ===================================

        A noisier pair never overturns a sharper one: where two consistent pairs
        disagree about the verdict, the one with the smaller error is right.
        """
        levels = list(start)
        kink_votes = 0
        chain: list[tuple[Pair, Level, Level]] = []  # consistent smooth pairs, coarse first
        while True:
            coarse, fine = levels[-2], levels[-1]
            for level in (coarse, fine):
                if _one_side_undefined(level):
                    return self._toward_defined_side(i, level, f0, g, scale, model)
            order, converging = (
                convergence_order(levels[-3:], model) if len(levels) >= 3 else (2.0, True)
            )
            if chain and chain[-1][2] is coarse and order < 2.0:
                # the last pair assumed second order; these levels measured less: its
                # truncation was understated by as much, so it is judged again
                last, last_coarse, _ = chain[-1]
                redone = Pair(last_coarse, coarse, f0, g, scale, model, order)
                chain[-1] = (redone if redone.smooth else last, last_coarse, coarse)
            # where these steps are in the asymptotic range, the truncation of the finer
            # difference is the last smooth pair's scaled down by the order; measured much
            # smaller, the coarser level was not in that range yet: keep the prediction
            floor = (
                chain[-1][0].truncation / (chain[-1][2].mult / fine.mult) ** order if chain else 0.0
            )
            pair = Pair(coarse, fine, f0, g, scale, model, order, floor)
            if not converging:
                # these three levels deny the convergence the chain's error estimates
                # assumed: none of them decides; finer steps may reach the range
                chain.clear()
            elif pair.smooth:
                kink_votes = 0
                if chain and inconsistent(chain[-1][0].column, pair.column):
                    # two smooth pairs that differ by more than both errors allow: the
                    # error model does not hold here (rounding biased over the step's
                    # range, as float32 powers are), so judge on their disagreement
                    return merged(chain[-1][0].column, pair.column, g, scale, pair.model)
                chain.append((pair, coarse, fine))
                decided = sharpest([p.column for p, _, _ in chain])
                if np.any(decided.verdicts == Verdict.MISMATCH):
                    if len(chain) >= 2:
                        return decided
                    gap = np.abs(g - pair.estimate)
                    if np.any(SAFETY * 4 * pair.rho_fine >= gap):
                        # a finer pair could not resolve the gap
                        return self._confirm_shifted(i, h, chain[0], f0, g, scale, model)
                elif not np.any(pair.truncation > pair.roundoff) and len(chain) >= self.pairs:
                    return decided  # finer pairs only add round-off
            else:
                significant = np.abs(pair.gap_fine) > pair.noise_fine
                # a kink's gap tends to the jump of f': it neither shrinks with the step
                # (smooth f) nor grows (a pole inside the step, whose gap grows as 1/s^2)
                ratio = np.abs(pair.gap_fine) / np.maximum(
                    np.abs(pair.gap_coarse), np.finfo(float).tiny
                )
                stuck = significant & (ratio > 0.5) & (ratio < 2.0)
                kink_votes = kink_votes + 1 if pair.finite and stuck.any() else 0
                if kink_votes >= 2:
                    return self._kink(coarse, fine, f0, g, scale, model, significant)
            element_scale = model.element_scale(fine.central()[:, None], scale)[:, 0]
            # (an element of scale 0, everything exactly zero so far, has no scale to lose)
            if np.all(
                (element_scale > 0) & (pair.rho_fine > INCONCLUSIVE_FRACTION * element_scale)
            ):
                break  # finer steps only add round-off
            if len(levels) >= MAX_LEVELS:
                break
            levels.append(self._level(i, h, fine.mult / 4.0))
        if not chain:
            return self._unsettled(levels, f0, g, scale, model)
        decided = sharpest([p.column for p, _, _ in chain])
        if len(chain) == 1 and np.any(decided.verdicts == Verdict.MISMATCH):
            return self._confirm_shifted(i, h, chain[0], f0, g, scale, model)
        return decided

    def _confirm_shifted(
        self,
        i: int,
        h: float,
        found: tuple[Pair, Level, Level],
        f0: FloatArray,
        g: FloatArray,
        scale: FloatArray,
        model: ErrorModel,
    ) -> Column:
        """A mismatch from one pair, confirmed (or not) by the same steps shifted by
        ``SHIFT``, whose round-off is independent of the first pair's: where the shifted
        pair resolves the gap too, the sharper of the two decides; where it does not (or
        disagrees beyond both errors), their disagreement joins the error."""
        pair, coarse, fine = found
        shifted = Pair(
            self._level(i, h, coarse.mult * SHIFT),
            self._level(i, h, fine.mult * SHIFT),
            f0,
            g,
            scale,
            model,
        )
        if not shifted.smooth:  # unconfirmed either way
            return pair.column._replace(
                verdicts=np.full_like(pair.column.verdicts, Verdict.INCONCLUSIVE),
                tolerance=np.full_like(pair.column.tolerance, np.inf),
            )
        confirms = bool(np.any(shifted.column.verdicts == Verdict.MISMATCH))
        if confirms and not inconsistent(pair.column, shifted.column):
            return sharpest([pair.column, shifted.column])
        return merged(pair.column, shifted.column, g, scale, pair.model)

    def _kink(
        self,
        coarse: Level,
        fine: Level,
        f0: FloatArray,
        g: FloatArray,
        scale: FloatArray,
        model: ErrorModel,
        significant: NDArray[np.bool_],
    ) -> Column:
        """Verdicts where the one-sided derivatives keep disagreeing as the step shrinks."""
        fwd_c, bwd_c = coarse.one_sided(f0)
        fwd, bwd = fine.one_sided(f0)
        drift = np.abs(fwd - fwd_c) + np.abs(bwd - bwd_c)
        error = roundoff(model, fine) * 2 + drift
        tol = model.tolerance(g[:, None], error[:, None])[:, 0]
        # a bracket as wide as the derivatives themselves decides nothing, and a miss of
        # it counts only when clear (the differences may not have converged at all)
        # (judged on the one-sided derivatives alone, never on the value under test)
        size = np.maximum(np.abs(fwd), np.abs(bwd))
        wide = error > INCONCLUSIVE_FRACTION * model.element_scale(size[:, None], scale)[:, 0]
        reach = np.where(wide, UNCERTAIN_MISS * tol, tol)
        inside = (np.minimum(fwd, bwd) - reach <= g) & (g <= np.maximum(fwd, bwd) + reach)
        codes = np.where(inside, Verdict.KINK, Verdict.MISMATCH).astype(np.int8)
        codes[(codes == Verdict.KINK) & wide] = Verdict.INCONCLUSIVE
        central = fine.central()
        smooth_codes, smooth_tol = model.verdicts(
            g[:, None], central[:, None], error[:, None], scale
        )
        codes = np.where(significant, codes, smooth_codes[:, 0])
        # any value in the bracket is a subgradient: from the central value a mismatch
        # needs half the bracket and the reach beyond it
        half = np.abs(fwd - bwd) / 2
        tol = np.where(significant, half + reach, smooth_tol[:, 0])
        return Column(central, half + error, tol, codes, bwd, fwd)

    def _unsettled(
        self,
        levels: list[Level],
        f0: FloatArray,
        g: FloatArray,
        scale: FloatArray,
        model: ErrorModel,
    ) -> Column:
        """Differences that never settled: judge on their spread, at best inconclusive.

        The spread bounds the error only where the estimates have stopped moving beyond
        their round-off (noise-limited levels). Where the finest two still differ by more,
        the differences are still converging (a pole or a feature finer than every step):
        their limit is unknown, and no verdict either way is possible.
        """
        usable = [lv for lv in levels if np.all(np.isfinite(lv.central()))]
        nan = np.full_like(g, np.nan)
        if not usable:
            codes = np.full(g.shape, Verdict.INCONCLUSIVE, dtype=np.int8)
            return Column(nan, nan, nan, codes, nan, nan)
        estimates = np.stack([lv.central() for lv in usable])
        best = estimates[-1]
        error = (estimates.max(axis=0) - estimates.min(axis=0)) / 2 + roundoff(model, usable[-1])
        codes, tol = model.verdicts(g[:, None], best[:, None], error[:, None], scale)
        codes = np.where(codes == Verdict.OK, Verdict.INCONCLUSIVE, codes).astype(np.int8)[:, 0]
        if len(usable) < 2:
            moving = np.ones(g.shape, dtype=bool)
        else:
            drift = np.abs(estimates[-1] - estimates[-2])
            moving = drift > SAFETY * (roundoff(model, usable[-1]) + roundoff(model, usable[-2]))
        codes[moving] = Verdict.INCONCLUSIVE
        tolerance = np.where(moving, np.inf, tol[:, 0])  # no gap could be called a mismatch
        return Column(best, error, tolerance, codes, nan, nan)

    def _complex_step(self, g: FloatArray) -> _Result:
        s = self.session
        if s.problem.complex_value is None:
            raise InvalidArgument(
                f"method='complex' needs a model that can be evaluated at complex points, "
                f"which the {s.problem.backend} backend cannot do; use method='central'"
            )
        n = self.x0.size
        h = np.finfo(np.float64).tiny ** 0.25 * np.maximum(np.abs(self.x0), 1.0)
        z = self.x0.astype(np.complex128)
        columns = []
        for i in range(n):
            z[i] = complex(self.x0[i], h[i])
            columns.append(s.complex_at(z, i) / h[i])
            z[i] = self.x0[i]
        numeric = np.stack(columns, axis=1)
        if not np.any(numeric) and np.any(g):
            raise ModelError(
                "f returned real values at complex points (the imaginary part was dropped, "
                "e.g. by float() or .real); method='complex' cannot be used with this f"
            )
        magnitude = np.maximum(np.abs(numeric), np.abs(g))
        error = 4 * np.finfo(np.float64).eps * magnitude
        model = ErrorModel(
            noise=np.zeros(numeric.shape[0]),
            precision=self.eps,
            rtol=self.options.rtol,
            atol=self.options.atol,
        )
        scale = _row_scale(g)
        verdicts, tolerance = model.verdicts(g, numeric, error, scale)
        nan = np.full_like(g, np.nan)
        return _Result(g, numeric, error, tolerance, verdicts, nan, nan, h, model.noise)


MAX_SIDED_LEVELS = 10
"""Step levels tried for a one-sided estimate at a bound: h, h/4, ..., h/4**9."""

BOUND_MARGIN = 2.5
"""Central differences need this many steps of room to each bound (the screen uses 2h)."""


def _no_mismatch(verdicts: NDArray[np.int8], tolerance: FloatArray) -> None:
    """Where the error model did not hold, no gap is a mismatch: inconclusive, tolerance inf."""
    mismatch = verdicts == Verdict.MISMATCH
    verdicts[mismatch] = Verdict.INCONCLUSIVE
    tolerance[mismatch] = np.inf


def _one_side_undefined(level: Level) -> bool:
    """Whether f is finite on exactly one side of a level, in every output."""
    plus, minus = np.all(np.isfinite(level.f_plus)), np.all(np.isfinite(level.f_minus))
    return bool(plus != minus)


def _row_scale(g: FloatArray) -> FloatArray:
    """Largest finite gradient magnitude of each output, shape (m, 1)."""
    scale: FloatArray = np.max(np.abs(np.where(np.isfinite(g), g, 0.0)), axis=1, keepdims=True)
    return scale


def _fmt(value: float) -> str:
    return f"{value:.3g}"
