"""Refinement: finer Richardson pairs for the elements the screen could not settle.

The screen took one pair (steps 2h and h) per element. An element whose pair disagrees,
is not smooth between its steps, or agrees only within a truncation error a finer pair
would shrink, is refined here with pairs at h/4, h/16, ..., each with its convergence
order measured from the three latest levels. The decision table is
:meth:`Refinement.from_levels`'s docstring; what follows it (a closer look on the element's
own scale, the noise along its own coordinate) is :meth:`Refinement.column_task`'s.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from gradcheck._lockstep import Task, run
from gradcheck._noise import NOISE_BOUND, NoiseProbe
from gradcheck._one_sided import OneSided, one_side_undefined
from gradcheck._pairs import (
    Column,
    Level,
    Pair,
    Target,
    convergence_order,
    inconsistent,
    merged,
    sharpest,
)
from gradcheck._steps import Steps
from gradcheck._tolerance import INCONCLUSIVE_FRACTION, SAFETY, UNCERTAIN_MISS, Verdict

__all__ = ["Refinement"]

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

Found = tuple[Pair, Level, Level]
"""A smooth pair with its coarse and fine levels."""


class Refinement:
    """Refines single elements to a verdict.

    Parameters
    ----------
    steps : Steps
        Representable points around x0, and f at them.
    one_sided : OneSided
        For levels where f is undefined on one side.
    noise_probe : NoiseProbe
        Measures the noise along one coordinate, for close mismatches.
    local_step : ndarray, shape (n,)
        Each element's step on its own scale, for the closer look.
    pairs : int
        Consistent smooth pairs an agreeing element needs (2 for ``method="richardson"``).
    """

    def __init__(
        self,
        steps: Steps,
        one_sided: OneSided,
        noise_probe: NoiseProbe,
        local_step: FloatArray,
        pairs: int,
    ) -> None:
        self.steps = steps
        self.one_sided = one_sided
        self.noise_probe = noise_probe
        self.local_step = local_step
        self.pairs = pairs

    def column_task(self, target: Target, start: list[Level]) -> Task[Column]:
        """Numeric, error, tolerance, verdict, left and right derivative for one element,
        from the screen's levels ``start`` (steps 2h and h).

        A mismatch, kink or inconclusive element found with steps on the unit scale is
        re-examined with steps on the element's own magnitude when that is much smaller
        (a parameter of 1e-8, or a pole just beside x, makes f vary on a scale steps of
        1e-6 cannot see). The closer look overturns the first only where it contradicts
        it (the first steps missed a feature) or is at least as sharp: two consistent
        estimates are judged by the sharper, and the closer one's round-off is larger by
        the ratio of the steps. A close mismatch is re-judged with the noise measured
        along its own coordinate.
        """
        i, h, model = target.index, target.step, target.model
        column = yield from self.from_levels_task(target, start)
        local = float(self.local_step[i])
        # not ok, or ok only within an error far above the round-off a step on the
        # element's own scale would have (the steps ran out while truncation dominated)
        blunt = column.error > 4.0 * model.noise / local if local > 0 else False
        doubtful = (column.verdicts != Verdict.OK) | blunt
        if np.any(doubtful) and local < h / 16:
            near = yield from self.steps.levels_task(i, local, [2.0, 1.0])
            closer = yield from self.from_levels_task(replace(target, step=local), near)
            decisive = not np.any(closer.verdicts == Verdict.INCONCLUSIVE)
            undecided = bool(np.any(column.verdicts == Verdict.INCONCLUSIVE))
            sharper = bool(np.all(closer.error <= column.error))
            if decisive and (undecided or sharper or inconsistent(column, closer)):
                return closer  # decisive on the finer scale; undecided there: keep the first
        mismatch = column.verdicts == Verdict.MISMATCH
        gap = np.abs(target.analytic - column.numeric)
        if np.any(mismatch & (gap < NOISE_RECHECK * column.tolerance)):
            # Round-off depends on the terms a coordinate moves: measure it along this one
            # before calling a close gap a mismatch.
            level, _ = yield from self.noise_probe.along_task(i, target.f0, True)
            # two ECnoise estimates of the same noise differ by up to NOISE_SPREAD: only a
            # level beyond that is this coordinate's own, larger round-off
            if level is not None and np.any(NOISE_BOUND * level > NOISE_SPREAD * model.noise):
                local_noise = np.maximum(model.noise, NOISE_BOUND * level)
                return (yield from self.from_levels_task(target.with_noise(local_noise), start))
        return column

    def from_levels(self, target: Target, start: list[Level]) -> Column:
        """:meth:`from_levels_task`, its evaluations made now."""
        return run(self.steps.session, self.from_levels_task(target, start))

    def from_levels_task(self, target: Target, start: list[Level]) -> Task[Column]:
        """Refine one element from the levels ``start`` (steps 2h and h) to a verdict.

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
        model, g = target.model, target.analytic
        levels = list(start)
        kink_votes = 0
        chain: list[Found] = []  # consistent smooth pairs, coarse first
        while True:
            coarse, fine = levels[-2], levels[-1]
            for level in (coarse, fine):
                if one_side_undefined(level):
                    return (yield from self.one_sided.toward_defined_side_task(target, level))
            order, converging = (
                convergence_order(levels[-3:], model) if len(levels) >= 3 else (2.0, True)
            )
            if chain and chain[-1][2] is coarse and order < 2.0:
                # the last pair assumed second order; these levels measured less: its
                # truncation was understated by as much, so it is judged again
                last, last_coarse, _ = chain[-1]
                redone = Pair(last_coarse, coarse, target, order)
                chain[-1] = (redone if redone.smooth else last, last_coarse, coarse)
            # where these steps are in the asymptotic range, the truncation of the finer
            # difference is the last smooth pair's scaled down by the order; measured much
            # smaller, the coarser level was not in that range yet: keep the prediction
            floor = (
                chain[-1][0].truncation / (chain[-1][2].mult / fine.mult) ** order if chain else 0.0
            )
            pair = Pair(coarse, fine, target, order, floor)
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
                    return merged(chain[-1][0].column, pair.column, target, pair.model)
                chain.append((pair, coarse, fine))
                decided = sharpest([p.column for p, _, _ in chain])
                if np.any(decided.verdicts == Verdict.MISMATCH):
                    if len(chain) >= 2:
                        return decided
                    gap = np.abs(g - pair.estimate)
                    if np.any(SAFETY * 4 * pair.rho_fine >= gap):
                        # a finer pair could not resolve the gap
                        return (yield from self._confirm_shifted(target, chain[0]))
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
                    return _kink(target, coarse, fine, significant)
            element_scale = model.element_scale(fine.central()[:, None], target.scale)[:, 0]
            # (an element of scale 0, everything exactly zero so far, has no scale to lose)
            if np.all(
                (element_scale > 0) & (pair.rho_fine > INCONCLUSIVE_FRACTION * element_scale)
            ):
                break  # finer steps only add round-off
            if len(levels) >= MAX_LEVELS:
                break
            finer = yield from self.steps.levels_task(target.index, target.step, [fine.mult / 4.0])
            levels.extend(finer)
        if not chain:
            return _unsettled(target, levels)
        decided = sharpest([p.column for p, _, _ in chain])
        if len(chain) == 1 and np.any(decided.verdicts == Verdict.MISMATCH):
            return (yield from self._confirm_shifted(target, chain[0]))
        return decided

    def _confirm_shifted(self, target: Target, found: Found) -> Task[Column]:
        """A mismatch from one pair, confirmed (or not) by the same steps shifted by
        ``SHIFT``, whose round-off is independent of the first pair's: where the shifted
        pair resolves the gap too, the sharper of the two decides; where it does not (or
        disagrees beyond both errors), their disagreement joins the error."""
        pair, coarse, fine = found
        i, h = target.index, target.step
        shifted_coarse, shifted_fine = yield from self.steps.levels_task(
            i, h, [coarse.mult * SHIFT, fine.mult * SHIFT]
        )
        shifted = Pair(shifted_coarse, shifted_fine, target)
        if not shifted.smooth:  # unconfirmed either way
            return pair.column._replace(
                verdicts=np.full_like(pair.column.verdicts, Verdict.INCONCLUSIVE),
                tolerance=np.full_like(pair.column.tolerance, np.inf),
            )
        confirms = bool(np.any(shifted.column.verdicts == Verdict.MISMATCH))
        if confirms and not inconsistent(pair.column, shifted.column):
            return sharpest([pair.column, shifted.column])
        return merged(pair.column, shifted.column, target, pair.model)


def _kink(target: Target, coarse: Level, fine: Level, significant: NDArray[np.bool_]) -> Column:
    """Verdicts where the one-sided derivatives keep disagreeing as the step shrinks."""
    model, g, f0 = target.model, target.analytic, target.f0
    fwd_c, bwd_c = coarse.one_sided(f0)
    fwd, bwd = fine.one_sided(f0)
    drift = np.abs(fwd - fwd_c) + np.abs(bwd - bwd_c)
    error = fine.roundoff(model) * 2 + drift
    tol = model.tolerance(g[:, None], error[:, None])[:, 0]
    # a bracket as wide as the derivatives themselves decides nothing, and a miss of
    # it counts only when clear (the differences may not have converged at all)
    # (judged on the one-sided derivatives alone, never on the value under test)
    size = np.maximum(np.abs(fwd), np.abs(bwd))
    wide = error > INCONCLUSIVE_FRACTION * model.element_scale(size[:, None], target.scale)[:, 0]
    reach = np.where(wide, UNCERTAIN_MISS * tol, tol)
    inside = (np.minimum(fwd, bwd) - reach <= g) & (g <= np.maximum(fwd, bwd) + reach)
    codes = np.where(inside, Verdict.KINK, Verdict.MISMATCH).astype(np.int8)
    codes[(codes == Verdict.KINK) & wide] = Verdict.INCONCLUSIVE
    central = fine.central()
    smooth_codes, smooth_tol = target.verdicts(central, error)
    codes = np.where(significant, codes, smooth_codes)
    # any value in the bracket is a subgradient: from the central value a mismatch
    # needs half the bracket and the reach beyond it
    half = np.abs(fwd - bwd) / 2
    tol = np.where(significant, half + reach, smooth_tol)
    return Column(central, half + error, tol, codes, bwd, fwd)


def _unsettled(target: Target, levels: list[Level]) -> Column:
    """Differences that never settled: judge on their spread, at best inconclusive.

    The spread bounds the error only where the estimates have stopped moving beyond
    their round-off (noise-limited levels). Where the finest two still differ by more,
    the differences are still converging (a pole or a feature finer than every step):
    their limit is unknown, and no verdict either way is possible.
    """
    model, g = target.model, target.analytic
    usable = [lv for lv in levels if np.all(np.isfinite(lv.central()))]
    nan = np.full_like(g, np.nan)
    if not usable:
        codes = np.full(g.shape, Verdict.INCONCLUSIVE, dtype=np.int8)
        return Column(nan, nan, nan, codes, nan, nan)
    estimates = np.stack([lv.central() for lv in usable])
    best = estimates[-1]
    error = (estimates.max(axis=0) - estimates.min(axis=0)) / 2 + usable[-1].roundoff(model)
    codes, tol = target.verdicts(best, error)
    codes = np.where(codes == Verdict.OK, Verdict.INCONCLUSIVE, codes).astype(np.int8)
    if len(usable) < 2:
        moving = np.ones(g.shape, dtype=bool)
    else:
        drift = np.abs(estimates[-1] - estimates[-2])
        moving = drift > SAFETY * (usable[-1].roundoff(model) + usable[-2].roundoff(model))
    codes[moving] = Verdict.INCONCLUSIVE
    tolerance = np.where(moving, np.inf, tol)  # no gap could be called a mismatch
    return Column(best, error, tolerance, codes, nan, nan)
