"""Fast mode: random directional probes for large models, and group testing to find the
wrong elements.

A full check differences every element: 4n evaluations. Fast mode compares ``J d`` with
the derivative of f along K random directions ``d``, a few evaluations each, and, where a
probe fails, finds the elements responsible by splitting the direction's support in
halves: the analytic side of any restriction of ``d`` is free once the gradient is known,
and each numeric side costs one Richardson pair.

Notes
-----
**Directions.** ``d_i = s_i u_i`` where ``s_i`` is element i's own scale and ``u`` has
independent random signs and magnitudes uniform in [0.5, 1.5], normalised to ``||u|| = 1``
(plain ±1 cancels two equal errors half the time; Gaussian magnitudes starve some
elements). The first step is ``t = r sqrt(n)``, with r the full check's relative step, so
that every element moves by about r times its own scale, as in a full check: the
round-off of the directional difference, ``eps_f / t``, then meets an error ``e_j`` in
one element as ``e_j s_j u_j ~ e_j s_j / sqrt(n)``, and the two factors of ``sqrt(n)``
cancel. Refinement shrinks t where f is not smooth on that scale (elements whose own scale
spans 1e-3 .. 1e3 in one direction), exactly as it does for one element.

**Tolerance.** Everything is measured along the direction, nothing grows with n: f's
noise and the measured truncation (the Richardson pair's error), and three allowances on
the analytic side ``g . d``, each a sum of n terms with independent random signs (the
signs of u are drawn after g is computed). Hoeffding's inequality bounds such a sum
``sum_i sigma_i a_i`` by ``lambda ||a||_2`` with probability ``1 - 2 exp(-lambda^2 / 2)``;
with ``lambda = HOEFFDING = 6`` that is ``1 - 3e-8`` per probe and output. The allowances
are the gradient's rounding (``ANALYTIC_ROUNDING eps |g_i|`` per element), ``rtol |g_i|``
and ``atol`` per element, projected:
``lambda (SAFETY ANALYTIC_ROUNDING eps + rtol) ||g o d||_2 + lambda atol ||d||_2``.

**What a pass certifies.** A probe k that agrees would have flagged any error ``e_j``
with ``|e_j d_kj| > detectable_k``; ``|u_kj| >= 0.5 / ||w||``, so that holds for every
element, not with some probability. ``report.detectable`` holds, per element, the
smallest such error over the probes: a single wrong element of that size is caught for
certain. Errors in several elements can cancel in one probe; K independent probes all
cancelling is a coincidence of probability far below the bound above.

**Localisation.** A failed probe's support S is split in halves A and B; the restriction
``d_A`` is measured (one Richardson pair, with the probe's step: every element keeps its
step), and B's gap is the rest: ``gap_B = gap_S - gap_A``, with both errors. Halves whose
gap is significant are split on; a single element is then checked exactly as a full check
would (screen pair and refinement along its axis), so a named element's verdict is a full
check's. After the search, the probes run again with the named elements' numeric
derivatives in place of the analytic ones: an error the search missed (two that cancelled
within one half) fails them again. Beyond ``MAX_LOCATED`` named elements the error is
called widespread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gradcheck._baseline import Baseline
from gradcheck._estimates import Estimates
from gradcheck._evaluation import Session
from gradcheck._lockstep import Task, run, run_all
from gradcheck._noise import NoiseProbe
from gradcheck._one_sided import OneSided
from gradcheck._pairs import Column, Pair, Target
from gradcheck._points import Line, Points
from gradcheck._refinement import Refinement
from gradcheck._steps import Steps
from gradcheck._tolerance import ANALYTIC_ROUNDING, SAFETY, ErrorModel, Verdict

__all__ = ["DirectionSteps", "FastResult", "fast_check", "random_directions"]

FloatArray = NDArray[np.float64]

PROBES = 4
"""Random directions a fast check compares by default."""

HOEFFDING = 6.0
"""Multiple of ``||a||_2`` that bounds a random-sign sum ``sum sigma_i a_i`` (see Notes)."""

MAX_LOCATED = 20
"""Wrong elements named before the error is called widespread."""

AMBIGUOUS = 4.0
"""In localisation, a gap within this factor of its threshold either way is measured
again with a Richardson pair: one central difference decides only clear cases."""


@dataclass(frozen=True, slots=True)
class FastResult:
    """A fast check's estimates, and what its probes established.

    Attributes
    ----------
    estimates : Estimates
        Per element: the full check's numbers for the elements it examined; for the rest,
        ``numeric`` NaN, ``error`` 0, and ``tolerance`` the smallest error the probes were
        certain to flag there (verdict ok).
    probes : int
        Random directions compared.
    examined : ndarray of int
        The elements checked one by one.
    widespread : bool
        More than ``MAX_LOCATED`` elements are wrong, or the probes' gap could not be
        pinned to single elements: the error is spread over the gradient.
    normwise : float
        The certified single-element error relative to the gradient's norm: the largest
        over elements of ``detectable / ||g||`` (inf where no probe agreed).
    """

    estimates: Estimates
    probes: int
    examined: NDArray[np.intp]
    widespread: bool
    normwise: float


def random_directions(rng: np.random.Generator, count: int, scale: FloatArray) -> FloatArray:
    """``count`` random directions ``s o u``, shape (count, n): u with random signs and
    magnitudes uniform in [0.5, 1.5], normalised, times each element's own scale ``s``
    (see the module's Notes)."""
    signs = np.where(rng.random((count, scale.size)) < 0.5, -1.0, 1.0)
    u = signs * rng.uniform(0.5, 1.5, size=(count, scale.size))
    u /= np.sqrt(np.einsum("kn,kn->k", u, u))[:, None]
    result: FloatArray = u * scale
    return result


class DirectionSteps(Steps):
    """Lines through the start point along directions: line k is ``x0 + t d_k``.

    Points on a line are offsets t (line k starts at t = 0). A point ``x0 + t d`` rounded
    to the parameters' dtypes is not on the line; f there is corrected to first order,
    ``f(x0 + t d) = f(p) + g . (x0 + t d - p)``, so that the differences are along d
    exactly (a float32 parameter's rounding would otherwise swamp ``t d_i``).
    """

    def __init__(
        self, session: Session, point: FloatArray, directions: FloatArray, gradient: FloatArray
    ) -> None:
        super().__init__(session, np.zeros(directions.shape[0]))
        self.point = point
        self.directions = directions
        self.gradient = gradient
        problem = session.problem
        offsets = problem.offsets
        self._dtypes = [
            (start, stop, p.values.dtype)
            for p, start, stop in zip(problem.parameters, offsets[:-1], offsets[1:], strict=True)
        ]

    def one(self, i: int, h: float) -> tuple[float, float, float, float]:
        return h, -h, h, h

    def values_task(self, i: int, points: list[float]) -> Task[FloatArray]:
        where = f"with the parameters moved along {self.label(i)}"
        line = Line(self.point, self.directions[i], where)
        values = yield Points.along(line, np.array(points))
        corrected = np.empty_like(values)
        for j, t in enumerate(points):
            target = line.at(t)
            stored = target.copy()
            for start, stop, dtype in self._dtypes:
                stored[start:stop] = target[start:stop].astype(dtype)
            corrected[:, j] = values[:, j] + _dot(self.gradient, target - stored)
        return corrected

    def label(self, i: int) -> str:
        return f"a random direction (probe {i + 1})"


class _Probing:
    """Probes along directions and their restrictions, judged with the line error model."""

    def __init__(
        self,
        session: Session,
        baseline: Baseline,
        noise_probe: NoiseProbe,
        rng: np.random.Generator,
        gradient: FloatArray,
    ) -> None:
        self.session = session
        self.baseline = baseline
        self.noise_probe = noise_probe
        self.rng = rng
        self.gradient = gradient
        self.squared = gradient**2
        start = baseline.start
        self.n = start.x0.size
        assert baseline.model.own_scale is not None  # set by the noise stage
        self.scale: FloatArray = baseline.model.own_scale
        # r: the full check's relative step, whatever the element's scale
        x0 = start.x0
        rel = float(np.median(baseline.step / np.maximum(np.abs(x0), 1.0)))
        self.step = rel * np.sqrt(self.n)  # every element moves by about rel times its scale

    def directions(self, k: int) -> FloatArray:
        """k random directions ``s o u`` (see the module's Notes), shape (k, n)."""
        return random_directions(self.rng, k, self.scale)

    def target(self, k: int, direction: FloatArray, step: float) -> Target:
        """Line k's element: ``J d`` under test, judged with the line's error model."""
        model = self.baseline.model
        terms = np.sqrt(_dot(self.squared, direction**2))  # ||g o d||_2 per output
        allowance = HOEFFDING * (
            (SAFETY * ANALYTIC_ROUNDING * model.precision + model.rtol) * terms
            + model.atol * float(np.sqrt(np.dot(direction, direction)))
        )
        scaled = self.baseline.start.x0 / np.where(self.scale > 0, self.scale, 1.0)
        line = ErrorModel(
            noise=model.noise,
            precision=model.precision,
            rtol=0.0,
            atol=allowance[:, None],
            magnitude=np.array([float(np.sqrt(np.dot(scaled, scaled)))]),
            own_scale=np.array([np.sqrt(self.n)]),
        )
        f0 = self.baseline.start.f0
        return Target(k, step, f0, _dot(self.gradient, direction), terms[:, None], line)

    def probe(self, directions: FloatArray, pairs: int) -> list[Column]:
        """Each direction's directional derivative refined to a verdict."""
        lines = DirectionSteps(self.session, self.baseline.start.x0, directions, self.gradient)
        inf = np.full(directions.shape[0], np.inf)
        one_sided = OneSided(lines, -inf, inf, self.baseline.model.noise)
        refinement = Refinement(lines, one_sided, self.noise_probe, np.zeros_like(inf), pairs)
        step = self.step

        def probe(k: int) -> Task[Column]:
            target = self.target(k, directions[k], step)
            start = yield from lines.levels_task(k, step, [2.0, 1.0])
            return (yield from refinement.from_levels_task(target, start))

        # one search per direction, in lockstep where the session evaluates in batches
        return run_all(self.session, [probe(k) for k in range(directions.shape[0])])

    def gap(self, direction: FloatArray, column: Column) -> tuple[FloatArray, FloatArray, bool]:
        """The gap ``e . d`` a probe along ``direction`` measured, its error, and whether
        it stands out of them: the search's question is whether the gap is there, not
        what the direction's derivative is, so an estimate uncertain relative to its own
        (small) size still locates a gap well beyond its error."""
        target = self.target(0, direction, self.step)
        gap = target.analytic - column.numeric
        allowance = np.asarray(target.model.atol)[:, 0]
        significant = np.any(np.abs(gap) > SAFETY * column.error + allowance)
        return gap, column.error, bool(significant)

    def split(
        self, direction: FloatArray, step: float, truncation: FloatArray
    ) -> tuple[FloatArray, FloatArray, bool]:
        """The gap ``e . d`` along a restricted direction, its error, and whether it is
        significant: from one central difference (two evaluations) where that is clear
        either way, its truncation taken as the failed probe's (``truncation``), else from
        a Richardson pair (the ambiguous band)."""
        lines = DirectionSteps(self.session, self.baseline.start.x0, direction[None], self.gradient)
        target = self.target(0, direction, step)
        allowance = np.asarray(target.model.atol)[:, 0]
        fine = lines.level(0, step, 1.0)
        error = fine.roundoff(target.model) + truncation
        gap = target.analytic - fine.central()
        threshold = SAFETY * error + allowance
        if np.all((np.abs(gap) > AMBIGUOUS * threshold) | (np.abs(gap) < threshold / AMBIGUOUS)):
            return gap, error, bool(np.any(np.abs(gap) > threshold))
        pair = Pair(lines.level(0, step, 2.0), fine, target)
        significant = bool(np.any(pair.column.verdicts == Verdict.MISMATCH))
        return target.analytic - pair.estimate, pair.error, significant


def fast_check(
    session: Session,
    baseline: Baseline,
    noise_probe: NoiseProbe,
    rng: np.random.Generator,
    probes: int = PROBES,
    pairs: int = 1,
) -> FastResult:
    """Check the gradient along ``probes`` random directions; name the wrong elements.

    Parameters
    ----------
    session : Session
    baseline : Baseline
        The probe and noise stages' findings.
    noise_probe : NoiseProbe
    rng : numpy.random.Generator
        Draws the directions.
    probes : int, default PROBES
        Random directions to compare.
    pairs : int, default 1
        Consistent smooth pairs an agreeing direction needs (2 for
        ``method="richardson"``).

    Returns
    -------
    FastResult
    """
    start, model = baseline.start, baseline.model
    g = start.gradient
    nan = np.full_like(g, np.nan)
    estimates = Estimates(
        g,
        nan.copy(),
        np.zeros_like(g),
        np.full_like(g, np.inf),
        np.zeros(g.shape, dtype=np.int8),
        nan.copy(),
        nan,
        baseline.step,
        model.noise,
    )
    probing = _Probing(session, baseline, noise_probe, rng, g)
    directions = probing.directions(probes)
    with session.stage("probes"):
        columns = probing.probe(directions, pairs)
    elements = _Elements(session, baseline, noise_probe)
    corrected = g.copy()  # the gradient with the examined elements' numeric values
    examined: list[int] = []
    widespread = False
    while True:
        # every probe judged again with the corrected gradient: its numeric side is
        # already known, so an error the search missed costs no evaluation to notice
        failing = [
            (d, c)
            for d, c in zip(directions, columns, strict=True)
            if np.any(np.abs(_dot(corrected, d) - c.numeric) > c.tolerance)
        ]
        if not failing:
            break
        if len(examined) >= MAX_LOCATED:
            widespread = True
            break
        with session.stage("localisation"):
            searching = _Probing(session, baseline, noise_probe, rng, corrected)
            found, unpinned = _localise(searching, elements, failing[0], examined)
        for i, column in found.items():
            examined.append(i)
            estimates.store(i, column)
            corrected[:, i] = np.where(np.isfinite(column.numeric), column.numeric, g[:, i])
        if unpinned or not found:
            widespread = True
            break
    unexamined = np.ones(g.shape[1], dtype=bool)
    unexamined[examined] = False
    agreeing = [
        (d, c)
        for d, c in zip(directions, columns, strict=True)
        if np.all(c.verdicts != Verdict.INCONCLUSIVE)
        and not np.any(np.abs(_dot(corrected, d) - c.numeric) > c.tolerance)
    ]
    for d, column in agreeing:
        # what this agreeing probe was certain to flag, per element
        reach = (column.tolerance + column.error)[:, None] / np.abs(d[unexamined])[None, :]
        estimates.tolerance[:, unexamined] = np.fmin(estimates.tolerance[:, unexamined], reach)
    if not agreeing:  # nothing certified beyond the elements examined
        estimates.verdicts[:, unexamined] = Verdict.INCONCLUSIVE
    norm = float(np.sqrt(np.max(np.einsum("mn,mn->m", g, g))))
    bound = float(np.max(estimates.tolerance[:, unexamined], initial=0.0))
    normwise = bound / norm if norm > 0 else bound
    located = np.array(examined, dtype=np.intp)
    return FastResult(estimates, probes, located, widespread, normwise)


class _Elements:
    """Single elements checked exactly as a full check does: screen pair, refinement."""

    def __init__(self, session: Session, baseline: Baseline, noise_probe: NoiseProbe) -> None:
        self.baseline = baseline
        x0 = baseline.start.x0
        self.steps = Steps(session, x0)
        one_sided = OneSided(self.steps, baseline.lower, baseline.upper, baseline.model.noise)
        self.refinement = Refinement(self.steps, one_sided, noise_probe, baseline.local_step, 1)

    def check(self, i: int) -> Column:
        b = self.baseline
        h = float(b.step[i])
        target = Target(i, h, b.start.f0, b.start.gradient[:, i], b.scale, b.model.column(i))
        return run(self.steps.session, self._column_task(target))

    def _column_task(self, target: Target) -> Task[Column]:
        start = yield from self.steps.levels_task(target.index, target.step, [2.0, 1.0])
        return (yield from self.refinement.column_task(target, start))


def _localise(
    probing: _Probing,
    elements: _Elements,
    failed: tuple[FloatArray, Column],
    examined: list[int],
) -> tuple[dict[int, Column], bool]:
    """The elements behind a failed probe, by splitting its support in halves.

    Returns the columns of the elements checked one by one, and whether part of the gap
    could not be pinned to single elements.
    """
    direction, column = failed
    found: dict[int, Column] = {}
    step = probing.step
    unpinned = False
    # the gap is e . d, e the gradient's error: restrictions of d split it additively
    gap = probing.target(0, direction, step).analytic - column.numeric
    stack = [(np.flatnonzero(direction), gap, column.error)]
    while stack and len(found) + len(examined) < MAX_LOCATED:
        support, gap_s, err_s = stack.pop()
        if examined:
            support = support[~np.isin(support, examined)]
        if support.size == 0:
            continue
        if support.size == 1:
            i = int(support[0])
            found[i] = elements.check(i)
            continue
        half, rest = support[: support.size // 2], support[support.size // 2 :]
        gap_a, err_a, significant_a = probing.split(
            _restricted(direction, half), step, column.error
        )
        gap_b, err_b = gap_s - gap_a, err_s + err_a
        allowance_b = probing.target(0, _restricted(direction, rest), step).model.atol
        significant_b = bool(np.any(np.abs(gap_b) > SAFETY * err_b + np.asarray(allowance_b)[:, 0]))
        if not significant_a and not significant_b:
            # the parent's gap stood out, neither half's does: B's gap by subtraction
            # carries both errors, and one pair may be too blunt (f computed in float32).
            # Each half is probed as a direction is, refined to its own verdict
            halves = np.stack([_restricted(direction, half), _restricted(direction, rest)])
            (gap_a, err_a, significant_a), (gap_b, err_b, significant_b) = (
                probing.gap(d, c) for d, c in zip(halves, probing.probe(halves, 1), strict=True)
            )
        if not significant_a and not significant_b:
            unpinned = True
        if significant_b:
            stack.append((rest, gap_b, err_b))
        if significant_a:
            stack.append((half, gap_a, err_a))
    return found, unpinned or bool(stack)


def _dot(matrix: FloatArray, vector: FloatArray) -> FloatArray:
    """``matrix @ vector`` without BLAS, whose threads spin for a (1, n) product (20 ms
    at n = 1e5 on a loaded 2-core machine, against 0.03 ms here)."""
    result: FloatArray = np.einsum("mn,n->m", matrix, vector)
    return result


def _restricted(direction: FloatArray, support: NDArray[np.intp]) -> FloatArray:
    restricted = np.zeros_like(direction)
    restricted[support] = direction[support]
    return restricted
