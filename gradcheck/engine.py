"""The engine: checks a :class:`Problem`'s analytic gradient, and returns a Report.

One check runs the README's steps as stages, each in a module of its own:

1. **Probe** (:func:`~gradcheck.baseline.probe`): f at the start (finite? its shape?), f
   again (deterministic?), the analytic gradient, and whether f wrote to its argument.
2. **Noise** (:func:`~gradcheck.baseline.measure`): values along one random direction and
   along single coordinates, at tiny spacings, give f's round-off level (ECnoise), which
   sets the step and the round-off term of the error model (:mod:`gradcheck.tolerance`).
3. **Screen** (:mod:`gradcheck.screen`): a Richardson pair of central differences (steps
   h and 2h) per coordinate, 4n evaluations: its estimate, and its truncation error
   measured, not assumed. An element that agrees, smoothly, with round-off dominating, is
   done. Elements next to a bound are differenced from one side (:mod:`gradcheck.one_sided`).
4. **Refine** (:mod:`gradcheck.refinement`) only the others, with finer pairs.
5. **Recheck** (:func:`~gradcheck.baseline.recheck`) f at the start point: a value that
   changed means f is random or keeps state, and none of its verdicts can be a mismatch.

Fast mode (:mod:`gradcheck.fast`; ``mode="fast"``, or ``"auto"`` beyond the budget) replaces
stages 3 and 4 with random directions and a search for the elements that disagree.
``method="complex"`` and ``method="scipy"`` replace stages 2-4 (:mod:`gradcheck.complex_step`,
:mod:`gradcheck.reference`). Whatever is perturbed is put back in ``finally``, also on
KeyboardInterrupt.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray

from gradcheck.baseline import measure, probe, recheck, unresolved_warning
from gradcheck.complex_step import complex_step
from gradcheck.errors import InvalidArgument
from gradcheck.estimates import Estimates
from gradcheck.evaluation import Session
from gradcheck.fast import fast_check
from gradcheck.options import FULL_CHECK_COST, Method, Mode, Options
from gradcheck.problem import Problem
from gradcheck.reference import scipy_reference
from gradcheck.report import Metadata, Report
from gradcheck.report_records import FastSummary
from gradcheck.screen import screen_and_refine

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
            result, random, fast = _estimate(session, options, np.random.default_rng(seed))
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
            fast=fast,
        ),
    )


def _estimate(
    session: Session, options: Options, rng: np.random.Generator
) -> tuple[Estimates, bool, FastSummary | None]:
    """The stages in order: the estimates, whether f turned out random, and what a fast
    check established (None for a full one)."""
    start = probe(session)
    if options.method is Method.COMPLEX:
        return complex_step(session, start, options), start.random, None
    baseline, noise_probe = measure(session, start, options, rng)
    if options.method is Method.SCIPY:
        return scipy_reference(session, baseline), start.random, None
    pairs = 2 if options.method is Method.RICHARDSON else 1
    reason = _fast_reason(options, start.x0.size)
    summary = None
    if reason is None:
        estimates = screen_and_refine(session, baseline, noise_probe, pairs)
    else:
        fast = fast_check(session, baseline, noise_probe, rng, options.probes, pairs)
        estimates = fast.estimates
        summary = FastSummary(
            reason, fast.probes, fast.examined.size, fast.normwise, fast.widespread
        )
    random = start.random
    if not random and recheck(session, start.f0):
        random = True
        estimates.forbid_mismatches()
    if baseline.unresolved:
        estimates.forbid_mismatches()
        session.warnings.append(unresolved_warning(baseline.relative))
    return estimates, random, summary


def _fast_reason(options: Options, n: int) -> str | None:
    """Why fast mode runs, or None for a full check.

    Raises
    ------
    InvalidArgument
        For ``mode="fast"`` with a method that differences every element by design.
    """
    if options.mode is Mode.FULL:
        return None
    if options.method in (Method.COMPLEX, Method.SCIPY):
        if options.mode is Mode.FAST:
            raise InvalidArgument(
                f"mode='fast' compares random directions by central differences; "
                f"method={str(options.method)!r} estimates every element: use "
                "method='central' or 'richardson' with it"
            )
        return None
    if options.mode is Mode.FAST:
        return "asked for"
    cost = FULL_CHECK_COST * n
    if cost <= options.budget:
        return None
    return f"a full check of {n} elements takes about {cost} evaluations, budget={options.budget}"
