"""The engine: checks a :class:`Problem`'s analytic gradient, and returns a Report.

One check runs the README's steps as stages, each in a module of its own:

1. **Probe** (:func:`~gradcheck.baseline.probe`): f at the start (finite? its shape?), f
   again (deterministic?), the analytic gradient, and whether f wrote to its argument.
2. **Noise** (:func:`~gradcheck.baseline.measure`): values along one random direction and
   along single coordinates, at tiny spacings, give f's round-off level (ECnoise), which
   sets the step and the round-off term of the error model (:mod:`gradcheck.tolerance`).
3. **Screen** (:func:`_screen`): a Richardson pair of central differences (steps h and 2h)
   per coordinate, 4n evaluations: its estimate, and its truncation error measured, not
   assumed. An element that agrees, smoothly, with round-off dominating, is done.
   Elements next to a bound are differenced from one side (:mod:`gradcheck.one_sided`).
4. **Refine** (:mod:`gradcheck.refinement`) only the others, with finer pairs.
5. **Recheck** (:func:`~gradcheck.baseline.recheck`) f at the start point: a value that
   changed means f is random or keeps state, and none of its verdicts can be a mismatch.

``method="complex"`` and ``method="scipy"`` replace stages 2-4 (:mod:`gradcheck.complex_step`,
:mod:`gradcheck.reference`). Whatever is perturbed is put back in ``finally``, also on
KeyboardInterrupt.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray

from gradcheck.baseline import Baseline, measure, probe, recheck, unresolved_warning
from gradcheck.complex_step import complex_step
from gradcheck.estimates import Estimates
from gradcheck.evaluation import Session
from gradcheck.noise import NoiseProbe
from gradcheck.one_sided import BOUND_MARGIN, OneSided
from gradcheck.options import Method, Options
from gradcheck.pairs import Level, PairNumbers, Target
from gradcheck.problem import Problem
from gradcheck.reference import scipy_reference
from gradcheck.refinement import Refinement
from gradcheck.report import Metadata, Report
from gradcheck.steps import Steps
from gradcheck.tolerance import Verdict

__all__ = ["run"]

FloatArray = NDArray[np.float64]


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
    session = Session(problem, reseed=options.reseed)
    try:
        # the engine's own arithmetic meets inf and NaN from f on purpose (a pole, a
        # domain edge); f itself runs under the caller's settings (Session.value)
        with np.errstate(all="ignore"):
            result, random = _estimate(session, options, np.random.default_rng(seed))
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
            random=random or problem.random,
        ),
    )


def _estimate(
    session: Session, options: Options, rng: np.random.Generator
) -> tuple[Estimates, bool]:
    """The stages in order: the estimates, and whether f turned out random."""
    start = probe(session)
    if options.method is Method.COMPLEX:
        return complex_step(session, start, options), start.random
    baseline, noise_probe = measure(session, start, options, rng)
    if options.method is Method.SCIPY:
        return scipy_reference(session, baseline), start.random
    estimates = _screen_and_refine(session, baseline, noise_probe, options)
    random = start.random
    if not random and recheck(session, start.f0):
        random = True
        estimates.forbid_mismatches()
    if baseline.unresolved:
        estimates.forbid_mismatches()
        session.warnings.append(unresolved_warning(baseline.relative))
    return estimates, random


def _screen_and_refine(
    session: Session, baseline: Baseline, noise_probe: NoiseProbe, options: Options
) -> Estimates:
    """Stages 3 and 4: a Richardson pair for every element, finer ones where needed."""
    start, model, h = baseline.start, baseline.model, baseline.step
    x0, f0, g = start.x0, start.f0, start.gradient
    steps = Steps(session, x0)
    one_sided = OneSided(steps, baseline.lower, baseline.upper, model.noise)
    room = np.minimum(baseline.upper - x0, x0 - baseline.lower)
    sided = room < BOUND_MARGIN * h
    points = steps.around(h)
    if sided.any():
        points = one_sided.screen_points(sided, h, points)
    plus, minus, h_plus, h_minus = points
    f_plus, f_minus = session.sweep(plus, minus)
    # the screen is a Richardson pair (2h, h) for every element: its truncation error
    # is measured, never assumed small, so what a pass promises (`detectable`) holds
    # where f varies faster than the step too (an inflection point, a float32 step).
    # Next to a bound, x0 itself stands in for the 2h points (the sided path decides).
    plus2, minus2, h_plus2, h_minus2 = steps.around(2.0 * h)
    plus2[sided], minus2[sided] = x0[sided], x0[sided]
    h_plus2[sided], h_minus2[sided] = h_plus[sided], h_minus[sided]
    f_plus2, f_minus2 = session.sweep(plus2, minus2)
    fine = Level(1.0, f_plus, f_minus, h_plus, h_minus)
    coarse = Level(2.0, f_plus2, f_minus2, h_plus2, h_minus2)
    pair = PairNumbers(coarse, fine, f0[:, None], model)
    judged = model.with_curvature(pair.curvature).verdicts(
        g, pair.estimate, pair.error, baseline.scale
    )
    nan = np.full_like(g, np.nan)
    estimates = Estimates(
        g, pair.estimate, pair.error, judged[1], judged[0], nan, nan.copy(), h_plus, model.noise
    )
    # refined: what disagrees, what is not smooth between the steps, and what agrees
    # only within a truncation error a finer pair would shrink
    refine = (estimates.verdicts != Verdict.OK) | ~pair.smooth | (pair.truncation > pair.roundoff)
    if options.method is Method.RICHARDSON:
        refine[:] = True
    refine[:, sided] = False
    refine &= np.isfinite(g)  # a non-finite analytic value is a mismatch already

    def target(i: int) -> Target:
        return Target(i, float(h[i]), f0, g[:, i], baseline.scale, model.column(i))

    for i in np.flatnonzero(sided).tolist():
        column = one_sided.column(target(i), (f_plus[:, i], f_minus[:, i], h_plus[i], h_minus[i]))
        estimates.store(i, column)
    # method="richardson" confirms every element with a second, finer pair
    refinement = Refinement(
        steps,
        one_sided,
        noise_probe,
        baseline.local_step,
        2 if options.method is Method.RICHARDSON else 1,
    )
    for i in np.flatnonzero(refine.any(axis=0)).tolist():
        start_levels = [
            Level(2.0, f_plus2[:, i], f_minus2[:, i], h_plus2[i], h_minus2[i]),
            Level(1.0, f_plus[:, i], f_minus[:, i], h_plus[i], h_minus[i]),
        ]
        estimates.store(i, refinement.column(target(i), start_levels))
    _note_unchanged(session, f0, fine, estimates)
    return estimates


def _note_unchanged(session: Session, f0: FloatArray, level: Level, estimates: Estimates) -> None:
    """Say so where f returned exactly f0 on both sides of a mismatching element."""
    same = (level.f_plus == f0[:, None]) & (level.f_minus == f0[:, None])
    unchanged = np.all(same, axis=0)
    flagged = unchanged & np.any(estimates.verdicts == Verdict.MISMATCH, axis=0)
    if not flagged.any():
        return
    if np.all(unchanged | ~np.any(estimates.analytic != 0, axis=0)):
        session.warnings.append(
            "f did not change when any parameter changed: f returned exactly the same "
            "value with every element moved either way, so every numeric derivative is "
            "0. Does f compute its result once, outside the function gradcheck calls "
            "(a loss built before the check, a cached value)? f must recompute from "
            "the parameters it is given on every call"
        )
    else:
        labels = [session.label(int(i)) for i in np.flatnonzero(flagged)[:3]]
        more = f" and {int(flagged.sum()) - 3} more" if flagged.sum() > 3 else ""
        session.warnings.append(
            f"f did not change when {', '.join(labels)}{more} changed (exactly the same "
            "value with the element moved either way), while the gradient says it "
            "should: the numeric derivative there is 0"
        )
