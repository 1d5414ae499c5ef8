"""The engine: probes a :class:`Problem`, estimates every derivative, and returns a Report.

One check goes through these stages:

1. **Probe.** f at the start (finite? its shape?), f again (deterministic?), the analytic
   gradient (shape?), and whether f wrote to its own argument.
2. **Noise.** A few values along one coordinate at tiny spacings give f's round-off
   level (ECnoise), which sets the step and the round-off term of the error model.
3. **Screen.** One central difference per coordinate (2n evaluations). An element whose
   analytic value is within the round-off bound of it is done.
4. **Refine** only the others: a second step (Richardson) estimates the truncation error;
   a smooth pair that excludes the analytic value is confirmed at a finer pair before it
   is called a mismatch; one-sided differences that keep disagreeing as the step shrinks
   mark a kink.

Whatever is perturbed is put back in ``finally``, also on KeyboardInterrupt.
"""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcheck.differences import (
    central_difference,
    estimate_noise,
    one_sided_differences,
    relative_step,
    representable_steps,
    richardson_estimate,
)
from gradcheck.errors import GradcheckError, InvalidArgument, ModelError
from gradcheck.problem import Parameter, Problem
from gradcheck.report import Metadata, Report
from gradcheck.tolerance import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    INCONCLUSIVE_FRACTION,
    NEGLIGIBLE,
    SAFETY,
    ErrorModel,
    Verdict,
)

__all__ = ["Method", "Options", "run"]

FloatArray = NDArray[np.float64]

MAX_LEVELS = 8
"""Step levels tried for one element: 2h, h, h/4, ..., h/4**6."""

NOISE_SPACING = 1e-6
"""First spacing of the noise probe, relative to the coordinate's scale."""

NOISE_POINTS = 4
"""The noise probe evaluates f at x0 + j t e_i for j = -4 .. 4 (8 new evaluations)."""

NOISE_BOUND = 3.0
"""Bound on the error of one evaluation, in standard deviations of the measured noise."""

NOISE_ATTEMPTS = 3
"""Noise probes tried before falling back to machine precision alone."""

REPEATS = 6
"""Evaluations at the start point used to measure the noise of a random f."""


class Method(enum.StrEnum):
    """How the numeric derivative is computed."""

    CENTRAL = "central"
    """Central differences; elements not clearly right are refined (Richardson, kinks)."""
    RICHARDSON = "richardson"
    """Every element gets a second step and a Richardson estimate (twice the cost)."""
    COMPLEX = "complex"
    """Complex step, ``Im f(x + i h e_k) / h``: no cancellation, n evaluations. Needs an
    f that accepts complex input and is analytic (no abs, max or real parts)."""


@dataclass(frozen=True, slots=True)
class Options:
    """The engine's options, validated.

    Attributes
    ----------
    method : Method
    rtol, atol : float
        Floors added to the error model's tolerance.
    step : float or None
        Relative step ``h / max(|x|, 1)``; None chooses it from the measured noise.
    seed : int or None
        Seed of the random choices (the noise probe's coordinate); None draws one and
        records it in the report.
    strict : bool
        Whether kinks and inconclusive elements make the report fail.
    """

    method: Method = Method.CENTRAL
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    step: float | None = None
    seed: int | None = None
    strict: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "method", Method(self.method))
        except ValueError:
            choices = ", ".join(repr(m.value) for m in Method)
            raise InvalidArgument(f"method={self.method!r} is not one of {choices}") from None
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise InvalidArgument(f"{name}={value!r}: expected a finite number >= 0")
        if self.step is not None and (
            not isinstance(self.step, int | float) or not 0 < self.step < 1
        ):
            raise InvalidArgument(
                f"step={self.step!r}: expected a relative step between 0 and 1, e.g. 1e-6"
            )
        if self.seed is not None and (not isinstance(self.seed, int) or self.seed < 0):
            raise InvalidArgument(f"seed={self.seed!r}: expected a non-negative integer")


@dataclass(slots=True)
class _Level:
    """Values of one column at one step level."""

    mult: float
    f_plus: FloatArray
    f_minus: FloatArray
    h_plus: float
    h_minus: float

    def central(self) -> FloatArray:
        return (self.f_plus - self.f_minus) / (self.h_plus + self.h_minus)

    def one_sided(self, f0: FloatArray) -> tuple[FloatArray, FloatArray]:
        return (self.f_plus - f0) / self.h_plus, (f0 - self.f_minus) / self.h_minus


class _Session:
    """Evaluates the problem at perturbed points and always puts the storage back."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.snapshot = [p.values.copy() for p in problem.parameters]
        self.owner: list[tuple[Parameter, int]] = [
            (p, j) for p in problem.parameters for j in range(p.size)
        ]
        self.calls = 0
        self.gradient_calls = 0
        self.guarded = False
        self.output_shape = problem.output_shape
        self.warnings: list[str] = []

    # -- evaluation -------------------------------------------------------------------

    def _failure(self, exc: BaseException, what: str) -> ModelError:
        return ModelError(f"f raised {type(exc).__name__} {what}: {exc}")

    def outputs(self, raw: object, what: str) -> FloatArray:
        """One value of f as a float64 vector of its m outputs."""
        try:
            array = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            kind = "complex" if np.iscomplexobj(raw) else type(raw).__name__
            raise ModelError(
                f"f returned {kind} ({raw!r:.60}) {what}; it must return a real number "
                "(or an array of them for a vector-valued model)"
            ) from exc
        if self.output_shape is None:
            self.output_shape = array.shape
        elif array.shape != self.output_shape:
            raise ModelError(
                f"f returned shape {array.shape} {what}, but shape {self.output_shape} before"
            )
        return array.reshape(-1)

    def stack(self, raws: list[object]) -> FloatArray:
        """Values collected in the hot loop, as an (m, k) array."""
        try:
            array = np.asarray(raws, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"f returned values that are not real numbers: {exc}") from exc
        return array.reshape(len(raws), -1).T

    def value(self, what: str = "at the start point") -> FloatArray:
        try:
            raw = self.problem.value()
        except GradcheckError:
            raise
        except Exception as exc:
            raise self._failure(exc, what) from exc
        finally:
            self.calls += 1
        return self.outputs(raw, what)

    def reset_storage(self) -> None:
        for p, saved in zip(self.problem.parameters, self.snapshot, strict=True):
            np.copyto(p.values, saved, casting="no")

    def at(self, i: int, x: float) -> FloatArray:
        """f with element ``i`` set to ``x`` (rounded to its dtype) and then put back."""
        param, j = self.owner[i]
        values = param.values
        if self.guarded:
            self.reset_storage()
        old = values[j]
        try:
            values[j] = x
            return self.value(f"with {param.label(j)} = {x!r}")
        finally:
            values[j] = old
            if self.guarded:
                self.reset_storage()

    def batch(self, index: NDArray[np.int64], x: FloatArray) -> FloatArray:
        """f at ``len(index)`` points, element ``index[k]`` set to ``x[k]``: shape (m, k)."""
        batched = self.problem.perturbed_values
        assert batched is not None  # checked by the caller
        try:
            raw = batched(index, x)
        except GradcheckError:
            raise
        except Exception as exc:
            raise self._failure(exc, "in a batched evaluation") from exc
        finally:
            self.calls += index.size
        try:
            array = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"batched evaluation returned {type(raw).__name__}") from exc
        if array.shape != (index.size, *(self.output_shape or ())):
            raise ModelError(
                f"batched evaluation returned shape {array.shape}; expected "
                f"{(index.size, *(self.output_shape or ()))}"
            )
        return array.reshape(index.size, -1).T

    def sweep(self, plus: FloatArray, minus: FloatArray) -> tuple[FloatArray, FloatArray]:
        """f with each element in turn at ``plus[i]`` and ``minus[i]``: 2n evaluations."""
        if self.problem.perturbed_values is not None and not self.guarded:
            n = plus.size
            both = self.batch(
                np.tile(np.arange(n, dtype=np.int64), 2), np.concatenate([plus, minus])
            )
            return both[:, :n], both[:, n:]
        if self.guarded:
            columns = [(self.at(i, plus[i]), self.at(i, minus[i])) for i in range(plus.size)]
            return (
                np.stack([c[0] for c in columns], axis=1),
                np.stack([c[1] for c in columns], axis=1),
            )
        value = self.problem.value
        plus_list, minus_list = plus.tolist(), minus.tolist()
        up: list[object] = []
        down: list[object] = []
        i = 0
        try:
            for param in self.problem.parameters:
                values = param.values
                for j in range(values.size):
                    old = values[j]
                    try:
                        values[j] = plus_list[i]
                        up.append(value())
                        values[j] = minus_list[i]
                        down.append(value())
                    finally:
                        values[j] = old
                    i += 1
        except GradcheckError:
            raise
        except Exception as exc:
            param, j = self.owner[i]
            raise self._failure(exc, f"with {param.label(j)} perturbed") from exc
        finally:
            self.calls += len(up) + len(down)
        return self.stack(up), self.stack(down)

    def complex_at(self, z: NDArray[np.complex128], i: int) -> FloatArray:
        """Imaginary part of f at the complex point ``z`` (element ``i`` perturbed)."""
        complex_value = self.problem.complex_value
        assert complex_value is not None  # checked by the caller
        param, j = self.owner[i]
        try:
            raw = complex_value(z)
        except GradcheckError:
            raise
        except Exception as exc:
            raise ModelError(
                f"f raised {type(exc).__name__} at a complex point ({param.label(j)} + ih): "
                f"{exc}. method='complex' needs an f written with NumPy functions that "
                "accept complex input (math.* and float() do not); use method='central'"
            ) from exc
        finally:
            self.calls += 1
        return np.asarray(raw, dtype=np.complex128).reshape(-1).imag

    def gradient(self) -> FloatArray:
        """The analytic gradient as an (m, n) float64 array."""
        try:
            raw = self.problem.gradient()
        except GradcheckError:
            raise
        except Exception as exc:
            raise ModelError(
                f"the gradient function raised {type(exc).__name__} at the start point: {exc}"
            ) from exc
        finally:
            self.gradient_calls += 1
        n = self.problem.size
        try:
            g = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ModelError(
                f"the gradient is {type(raw).__name__}, not an array of real numbers"
            ) from exc
        m = math.prod(self.output_shape or ())
        if g.size != m * n or (g.ndim >= 1 and g.shape[-1] != n):
            expected = (n,) if m == 1 else (m, n)
            raise ModelError(
                f"the gradient has shape {g.shape}; expected {expected} for {n} parameter "
                f"elements" + ("" if m == 1 else f" and {m} outputs")
            )
        return g.reshape(m, n)

    def mutated(self) -> str | None:
        """Name the first element f changed in its own argument, and restore it."""
        for p, saved in zip(self.problem.parameters, self.snapshot, strict=True):
            changed = np.flatnonzero(p.values.view(np.uint8) != saved.view(np.uint8))
            if changed.size:
                element = int(changed[0]) // p.values.itemsize
                self.reset_storage()
                return f"{p.label(element)} (was {saved[element]!r}, became {p.values[element]!r})"
        return None

    def close(self) -> None:
        try:
            self.reset_storage()
        finally:
            self.problem.restore()


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
        options.seed if options.seed is not None else int(np.random.SeedSequence().entropy % 2**32)
    )
    rng = np.random.default_rng(seed)
    session = _Session(problem)
    try:
        result = _Check(session, options, rng).result()
    finally:
        session.close()
    return Report(
        parameters=tuple((p.name, p.shape) for p in problem.parameters),
        labels=tuple(problem.labels()),
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
            warnings=tuple(session.warnings) + problem.notes,
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

    def __init__(self, session: _Session, options: Options, rng: np.random.Generator) -> None:
        self.session = session
        self.options = options
        self.rng = rng
        problem = session.problem
        self.x0 = problem.flat_values()
        self.eps = float(np.finfo(problem.dtype).eps)

    # -- stage 1: probes --------------------------------------------------------------

    def probe(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """f0, the analytic gradient, and the spread of repeated evaluations."""
        s = self.session
        f0 = s.value()
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
        repeat = s.value("a second time at the start point")
        spread = np.zeros_like(f0)
        if not np.array_equal(repeat, f0):
            values = np.stack([f0, repeat] + [s.value("again") for _ in range(REPEATS - 2)])
            spread = values.std(axis=0, ddof=1)
            f0 = values.mean(axis=0)
            s.warnings.append(
                "f is non-deterministic: at the same point it returned values with standard "
                f"deviation {_fmt(spread.max())} (for example {values[0, 0]!r} and "
                f"{values[1, 0]!r}); it is treated as noise, so verdicts are only as sharp "
                "as that noise allows. Fix the seed or switch off dropout to check exactly."
            )
        g = s.gradient()
        mutation = s.mutated()
        if mutation is not None and not s.guarded:
            s.guarded = True
            s.warnings.append(f"the gradient function modifies its argument: {mutation}")
        return f0, g, spread

    # -- stage 2: noise ---------------------------------------------------------------

    def noise_level(self, f0: FloatArray, spread: FloatArray) -> FloatArray:
        """Bound on the error of one evaluation of each output."""
        measured = self._ecnoise(f0)
        sigma = spread if measured is None else np.maximum(measured, spread)
        return np.maximum(NOISE_BOUND * sigma, self.eps * np.abs(f0))

    def _ecnoise(self, f0: FloatArray) -> FloatArray | None:
        """ECnoise along one coordinate; another coordinate if f does not move along it."""
        s = self.session
        coordinates = self.rng.permutation(self.x0.size)[:NOISE_ATTEMPTS]
        spacing = NOISE_SPACING
        which = 0
        for _ in range(NOISE_ATTEMPTS):
            i = int(coordinates[which % coordinates.size])
            x = float(self.x0[i])
            ulp = float(np.spacing(np.abs(np.asarray(x, dtype=self._dtype_of(i)))))
            # a power-of-two spacing of at least 2 ulp keeps every point exactly representable
            t = max(2.0 ** math.floor(math.log2(spacing * max(abs(x), 1.0))), 2 * ulp)
            offsets = [j * t for j in range(-NOISE_POINTS, NOISE_POINTS + 1) if j]
            values = [s.at(i, x + offset) for offset in offsets]
            values.insert(NOISE_POINTS, f0)
            table = np.stack(values)
            level = estimate_noise(table)
            if level is not None:
                return level
            unchanged = np.count_nonzero(np.diff(table, axis=0) == 0)
            if unchanged == table.size - table.shape[1]:
                which += 1  # f does not depend on this coordinate here
            elif unchanged >= table.size / 2:
                spacing *= 100.0
            else:
                spacing /= 100.0
        return None

    def _dtype_of(self, i: int) -> np.dtype[Any]:
        return self.session.owner[i][0].values.dtype

    # -- stages 3 and 4 ---------------------------------------------------------------

    def result(self) -> _Result:
        f0, g, spread = self.probe()
        m, n = g.shape
        if self.options.method is Method.COMPLEX:
            return self._complex_step(g)
        noise = self.noise_level(f0, spread)
        nonzero = np.abs(f0) > 0
        relative = float(np.max(noise[nonzero] / np.abs(f0[nonzero]), initial=self.eps))
        model = ErrorModel(
            noise=noise,
            precision=max(self.eps, min(relative, 1e-2)),
            rtol=self.options.rtol,
            atol=self.options.atol,
        )
        rel_step = (
            self.options.step if self.options.step is not None else relative_step(model.precision)
        )
        h = rel_step * np.maximum(np.abs(self.x0), 1.0)
        plus, minus, h_plus, h_minus = self._steps(h)
        f_plus, f_minus = self.session.sweep(plus, minus)
        numeric = central_difference(f_plus, f_minus, h_plus, h_minus)
        error = model.roundoff(h_plus, h_minus)
        scale = np.max(np.abs(np.where(np.isfinite(g), g, 0.0)), axis=1, keepdims=True)
        verdicts, tolerance = model.verdicts(g, numeric, error, scale)
        forward, backward = one_sided_differences(f_plus, f0[:, None], f_minus, h_plus, h_minus)
        gap = np.abs(forward - backward)
        kink_like = (gap > 0.1 * (np.abs(forward) + np.abs(backward))) & (
            gap > NEGLIGIBLE_GAP * scale + model.one_sided_roundoff(h_plus, h_minus)
        )
        refine = (verdicts != Verdict.OK) | kink_like
        if self.options.method is Method.RICHARDSON:
            refine[:] = True
        left = np.full_like(g, np.nan)
        right = np.full_like(g, np.nan)
        for i in np.flatnonzero(refine.any(axis=0)):
            level = _Level(1.0, f_plus[:, i], f_minus[:, i], h_plus[i], h_minus[i])
            column = self._refine(int(i), h[i], level, f0, g[:, i], scale, model)
            numeric[:, i], error[:, i], tolerance[:, i], verdicts[:, i] = column[:4]
            left[:, i], right[:, i] = column[4:]
        return _Result(g, numeric, error, tolerance, verdicts, left, right, h_plus, noise)

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

    def _level(self, i: int, h: float, mult: float) -> _Level:
        plus, minus, hp, hm = self._steps_one(i, h * mult)
        return _Level(mult, self.session.at(i, plus), self.session.at(i, minus), hp, hm)

    def _steps_one(self, i: int, h: float) -> tuple[float, float, float, float]:
        dtype = self._dtype_of(i)
        plus, minus, hp, hm = representable_steps(self.x0[i : i + 1], np.array([h]), dtype)
        return float(plus[0]), float(minus[0]), float(hp[0]), float(hm[0])

    def _refine(
        self,
        i: int,
        h: float,
        first: _Level,
        f0: FloatArray,
        g: FloatArray,
        scale: FloatArray,
        model: ErrorModel,
    ) -> tuple[FloatArray, ...]:
        """Numeric, error, tolerance, verdict, left and right derivative for column i."""
        levels = [self._level(i, h, 2.0), first]
        g_col = g[:, None]
        nan = np.full_like(g, np.nan)
        mismatch_seen = False
        kink_votes = 0
        while True:
            coarse, fine = levels[-2], levels[-1]
            ratio = coarse.mult / fine.mult
            d_coarse, d_fine = coarse.central(), fine.central()
            estimate, truncation = richardson_estimate(d_coarse, d_fine, ratio)
            rho_coarse = _roundoff(model, coarse)
            rho_fine = _roundoff(model, fine)
            error = truncation + (ratio**2 * rho_fine + rho_coarse) / (ratio**2 - 1)
            fwd_c, bwd_c = coarse.one_sided(f0)
            fwd_f, bwd_f = fine.one_sided(f0)
            gap_c, gap_f = fwd_c - bwd_c, fwd_f - bwd_f
            noise_c, noise_f = 4 * rho_coarse, 4 * rho_fine  # round-off of forward - backward
            finite = bool(np.all(np.isfinite(estimate)) and np.all(np.isfinite(gap_c)))
            smooth = finite and bool(
                np.all(
                    np.abs(gap_c - ratio * gap_f)
                    <= noise_c + ratio * noise_f + 0.25 * np.abs(ratio * gap_f)
                )
            )
            if smooth:
                codes, tol = model.verdicts(g_col, estimate[:, None], error[:, None], scale)
                mismatch = codes[:, 0] == Verdict.MISMATCH
                gap = np.abs(g - estimate)
                resolvable = bool(np.all(SAFETY * 4 * rho_fine[mismatch] < gap[mismatch]))
                if not mismatch.any() or mismatch_seen or not resolvable:
                    return estimate, error, tol[:, 0], codes[:, 0], nan, nan
                mismatch_seen = True
                kink_votes = 0
            else:
                significant = np.abs(gap_f) > noise_f
                stuck = significant & (np.abs(gap_f) > 0.5 * np.abs(gap_c))
                kink_votes = kink_votes + 1 if finite and stuck.any() else 0
                if kink_votes >= 2:
                    return self._kink(coarse, fine, f0, g, scale, model, significant)
            element_scale = np.maximum(
                np.maximum(np.abs(g), np.abs(d_fine)), NEGLIGIBLE * scale[:, 0]
            )
            if np.all(rho_fine > INCONCLUSIVE_FRACTION * element_scale):
                break  # finer steps only add round-off
            if len(levels) >= MAX_LEVELS:
                break
            levels.append(self._level(i, h, fine.mult / 4.0))
        return self._unsettled(levels, f0, g, scale, model)

    def _kink(
        self,
        coarse: _Level,
        fine: _Level,
        f0: FloatArray,
        g: FloatArray,
        scale: FloatArray,
        model: ErrorModel,
        significant: NDArray[np.bool_],
    ) -> tuple[FloatArray, ...]:
        """Verdicts where the one-sided derivatives keep disagreeing as the step shrinks."""
        fwd_c, bwd_c = coarse.one_sided(f0)
        fwd, bwd = fine.one_sided(f0)
        drift = np.abs(fwd - fwd_c) + np.abs(bwd - bwd_c)
        error = _roundoff(model, fine) * 2 + drift
        tol = model.tolerance(g[:, None], error[:, None])[:, 0]
        low = np.minimum(fwd, bwd) - tol
        high = np.maximum(fwd, bwd) + tol
        inside = (low <= g) & (g <= high)
        codes = np.where(inside, Verdict.KINK, Verdict.MISMATCH).astype(np.int8)
        central = fine.central()
        smooth_codes, smooth_tol = model.verdicts(
            g[:, None], central[:, None], error[:, None], scale
        )
        codes = np.where(significant, codes, smooth_codes[:, 0])
        tol = np.where(significant, tol, smooth_tol[:, 0])
        return central, np.abs(fwd - bwd) / 2 + error, tol, codes, bwd, fwd

    def _unsettled(
        self,
        levels: list[_Level],
        f0: FloatArray,
        g: FloatArray,
        scale: FloatArray,
        model: ErrorModel,
    ) -> tuple[FloatArray, ...]:
        """Differences that never settled: judge on their spread, at best inconclusive."""
        estimates = np.stack([lv.central() for lv in levels])
        finite = np.all(np.isfinite(estimates), axis=1)
        nan = np.full_like(g, np.nan)
        if not finite.any():
            codes = np.full(g.shape, Verdict.INCONCLUSIVE, dtype=np.int8)
            return nan, nan, nan, codes, nan, nan
        usable = estimates[finite]
        best = usable[-1]
        error = (usable.max(axis=0) - usable.min(axis=0)) / 2 + _roundoff(model, levels[-1])
        codes, tol = model.verdicts(g[:, None], best[:, None], error[:, None], scale)
        codes = np.where(codes == Verdict.OK, Verdict.INCONCLUSIVE, codes).astype(np.int8)
        return best, error, tol[:, 0], codes[:, 0], nan, nan

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
        scale = np.max(np.abs(np.where(np.isfinite(g), g, 0.0)), axis=1, keepdims=True)
        verdicts, tolerance = model.verdicts(g, numeric, error, scale)
        nan = np.full_like(g, np.nan)
        return _Result(g, numeric, error, tolerance, verdicts, nan, nan, h, model.noise)


NEGLIGIBLE_GAP = 1e-3
"""A one-sided gap below this fraction of the largest gradient entry is not a kink sign."""


def _roundoff(model: ErrorModel, level: _Level) -> FloatArray:
    return 2.0 * model.noise / (level.h_plus + level.h_minus)


def _fmt(value: float) -> str:
    return f"{value:.3g}"
