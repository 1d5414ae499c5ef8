"""Stages 3 and 4 of a full check: a Richardson pair for every element (the screen), and
refinement for the elements it could not settle.

The screen's pair (steps 2h and h) measures each element's truncation error instead of
assuming it small, so what a pass promises (``detectable``) holds where f varies faster
than the step too (an inflection point, a float32 step). An element that agrees,
smoothly, with round-off dominating, is done; the others go to :mod:`gradcheck._refinement`.
Elements next to a bound are differenced from one side (:mod:`gradcheck._one_sided`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gradcheck._baseline import Baseline
from gradcheck._estimates import Estimates
from gradcheck._evaluation import Session
from gradcheck._lockstep import run_all
from gradcheck._noise import NoiseProbe
from gradcheck._one_sided import BOUND_MARGIN, OneSided
from gradcheck._pairs import Level, PairNumbers, Target
from gradcheck._refinement import Refinement
from gradcheck._steps import Steps
from gradcheck._tolerance import Verdict

__all__ = ["screen_and_refine"]

FloatArray = NDArray[np.float64]


def screen_and_refine(
    session: Session, baseline: Baseline, noise_probe: NoiseProbe, pairs: int
) -> Estimates:
    """Stages 3 and 4: a Richardson pair for every element, finer ones where needed.

    ``pairs`` is the number of consistent smooth pairs an agreeing element needs: 2 for
    ``method="richardson"``, which confirms every element with a second, finer pair.
    """
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
    with session.stage("screen"):
        f_plus, f_minus = session.sweep(plus, minus)
    # the screen is a Richardson pair (2h, h) for every element: its truncation error
    # is measured, never assumed small, so what a pass promises (`detectable`) holds
    # where f varies faster than the step too (an inflection point, a float32 step).
    # Next to a bound, x0 itself stands in for the 2h points (the sided path decides).
    plus2, minus2, h_plus2, h_minus2 = steps.around(2.0 * h)
    plus2[sided], minus2[sided] = x0[sided], x0[sided]
    h_plus2[sided], h_minus2[sided] = h_plus[sided], h_minus[sided]
    with session.stage("screen"):
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
    if pairs > 1:  # method="richardson" confirms every element with a second, finer pair
        refine[:] = True
    refine[:, sided] = False
    refine &= np.isfinite(g)  # a non-finite analytic value is a mismatch already

    def target(i: int) -> Target:
        return Target(i, float(h[i]), f0, g[:, i], baseline.scale, model.column(i))

    refinement = Refinement(steps, one_sided, noise_probe, baseline.local_step, pairs)
    # the elements next to a bound, then those to refine: one search each, run in
    # lockstep where the session evaluates points in batches
    bounded = np.flatnonzero(sided).tolist()
    refined = np.flatnonzero(refine.any(axis=0)).tolist()
    searches = [
        one_sided.column_task(target(i), (f_plus[:, i], f_minus[:, i], h_plus[i], h_minus[i]))
        for i in bounded
    ] + [
        refinement.column_task(
            target(i),
            [
                Level(2.0, f_plus2[:, i], f_minus2[:, i], h_plus2[i], h_minus2[i]),
                Level(1.0, f_plus[:, i], f_minus[:, i], h_plus[i], h_minus[i]),
            ],
        )
        for i in refined
    ]
    with session.stage("refinement"):  # and the one-sided differences at bounds
        columns = run_all(session, searches)
    for i, column in zip(bounded + refined, columns, strict=True):
        estimates.store(i, column)
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
