"""The engine: checks a :class:`Problem`'s analytic gradient, and returns a Report.

One check runs the README's steps as stages, each in a module of its own:

1. **Probe** (:func:`~gradcheck._baseline.probe`): f at the start (finite? its shape?), f
   again (deterministic?), the analytic gradient, and whether f wrote to its argument.
2. **Noise** (:func:`~gradcheck._baseline.measure`): values along one random direction and
   along single coordinates, at tiny spacings, give f's round-off level (ECnoise), which
   sets the step and the round-off term of the error model (:mod:`gradcheck._tolerance`).
3. **Screen** (:mod:`gradcheck._screen`): a Richardson pair of central differences (steps
   h and 2h) per coordinate, 4n evaluations: its estimate, and its truncation error
   measured, not assumed. An element that agrees, smoothly, with round-off dominating, is
   done. Elements next to a bound are differenced from one side (:mod:`gradcheck._one_sided`).
4. **Refine** (:mod:`gradcheck._refinement`) only the others, with finer pairs.
5. **Recheck** (:func:`~gradcheck._baseline.recheck`) f at the start point: a value that
   changed means f is random or keeps state, and none of its verdicts can be a mismatch.

Fast mode (:mod:`gradcheck._fast`; ``mode="fast"``, or ``"auto"`` beyond the budget) replaces
stages 3 and 4 with random directions and a search for the elements that disagree.
``method="complex"`` and ``method="scipy"`` replace stages 2-4 (:mod:`gradcheck._complex_step`,
:mod:`gradcheck._reference`). Whatever is perturbed is put back in ``finally``, also on
KeyboardInterrupt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from gradcheck._baseline import measure, probe, recheck, unresolved_warning
from gradcheck._complex_step import complex_step
from gradcheck._errors import InvalidArgument
from gradcheck._estimates import Estimates
from gradcheck._evaluation import Session
from gradcheck._fast import fast_check
from gradcheck._options import FULL_CHECK_COST, Method, Mode, Options
from gradcheck._problem import Problem
from gradcheck._reference import scipy_reference
from gradcheck._report import Metadata, Report
from gradcheck._report_records import FastSummary, SelfTest, TaylorTest
from gradcheck._screen import screen_and_refine
from gradcheck._self_test import self_test
from gradcheck._taylor import taylor_test
from gradcheck._tolerance import Verdict

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
    session = Session(
        problem, reseed=options.reseed, vectorized=options.vectorized, executor=options.executor
    )
    try:
        # the engine's own arithmetic meets inf and NaN from f on purpose (a pole, a
        # domain edge); f itself runs under the caller's settings (Session.value)
        with np.errstate(all="ignore"):
            outcome = _estimate(session, options, np.random.default_rng(seed))
    finally:
        session.close()
    result = outcome.estimates
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
            random=outcome.random or problem.random,
            fast=outcome.fast,
            taylor=outcome.taylor,
            self_test=outcome.self_test,
            stages=tuple(session.stages.items()),
        ),
    )


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What the stages found: the estimates, whether f turned out random, and what the
    optional stages established (None where they did not run)."""

    estimates: Estimates
    random: bool
    fast: FastSummary | None = None
    taylor: TaylorTest | None = None
    self_test: SelfTest | None = None


def _estimate(session: Session, options: Options, rng: np.random.Generator) -> _Outcome:
    """The stages in order."""
    with session.stage("probe"):
        start = probe(session)
    if options.method is Method.COMPLEX:
        with session.stage("complex step"):
            return _Outcome(complex_step(session, start, options), start.random)
    reason = _fast_reason(options, start.x0.size)
    with session.stage("noise"):
        baseline, noise_probe = measure(session, start, options, rng, reason is None)
    if options.method is Method.SCIPY:
        with session.stage("scipy"):
            return _Outcome(scipy_reference(session, baseline), start.random)
    pairs = 2 if options.method is Method.RICHARDSON else 1

    def differences(gradient: FloatArray) -> tuple[Estimates, FastSummary | None]:
        """Stages 3 and 4 (or fast mode) for an analytic gradient."""
        judged = replace(baseline, start=replace(start, gradient=gradient))
        if reason is None:
            return screen_and_refine(session, judged, noise_probe, pairs), None
        fast = fast_check(session, judged, noise_probe, rng, options.probes, pairs)
        summary = FastSummary(
            reason, fast.probes, fast.examined.size, fast.normwise, fast.widespread
        )
        return fast.estimates, summary

    estimates, summary = differences(start.gradient)
    taylor = None
    if options.taylor:
        with session.stage("taylor test"):
            taylor = taylor_test(session, baseline, rng)
    if taylor and taylor.verdict == "wrong" and np.any(estimates.verdicts == Verdict.KINK):
        taylor = replace(taylor, verdict="kink")  # slope 1 is the kink's, not an error's
    planted = None
    if options.self_test:
        with session.stage("self-test"):
            planted = self_test(
                estimates, lambda g: differences(g)[0], lambda k, j: _label(session, k, j), rng
            )
    random = start.random
    if not random and _recheck(session, start.f0):
        random = True
        estimates.forbid_mismatches()
    if baseline.unresolved:
        estimates.forbid_mismatches()
        session.warnings.append(unresolved_warning(baseline.relative))
    return _Outcome(estimates, random, summary, taylor, planted)


def _recheck(session: Session, f0: FloatArray) -> bool:
    with session.stage("recheck"):
        return recheck(session, f0)


def _label(session: Session, output: int, element: int) -> str:
    """An element's name, with its output where f has several."""
    name = session.label(element)
    return name if not session.output_shape else f"f[{output}] / {name}"


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
