"""The records a :class:`~gradcheck.Report` hands out, each able to describe itself.

:class:`Metadata` says how a check was made, :class:`Element` is one compared element,
:class:`ParameterSummary` one parameter's counts and worst element. Their ``describe()``
and ``cells()`` are the one place their text is formatted; every door prints these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gradcheck._tolerance import Verdict

__all__ = [
    "Element",
    "FastSummary",
    "Metadata",
    "ParameterSummary",
    "SelfTest",
    "TaylorTest",
    "describe_counts",
]


def describe_counts(counts: dict[str, int]) -> str:
    """``ok 1, mismatch 2``: the verdicts that occur, with their counts.

    >>> describe_counts({"ok": 1, "mismatch": 2, "kink": 0, "inconclusive": 0})
    'ok 1, mismatch 2'
    """
    return ", ".join(f"{v} {c}" for v, c in counts.items() if c)


@dataclass(frozen=True, slots=True)
class FastSummary:
    """What a fast check's random directions established (see :mod:`gradcheck._fast`).

    Attributes
    ----------
    reason : str
        Why fast mode ran: asked for, or a full check beyond the budget.
    probes : int
        Random directions compared.
    examined : int
        Elements checked one by one, where the search for a disagreement led.
    normwise : float
        A single element whose error exceeds this fraction of the gradient's norm fails
        the check, wherever it is (``Report.detectable`` per element).
    widespread : bool
        The directions disagree beyond what single elements explain, or too many
        elements are wrong to name them all: the report fails.
    """

    reason: str
    probes: int
    examined: int
    normwise: float
    widespread: bool

    def describe(self) -> str:
        """The fast check's part of the provenance line.

        >>> FastSummary("asked for", 4, 1, 2.5e-6, False).describe()
        'fast mode (asked for): 4 random directions, 1 element examined'
        """
        examined = f"{self.examined} element{'' if self.examined == 1 else 's'} examined"
        return f"fast mode ({self.reason}): {self.probes} random directions, {examined}"


FIRST_DIFFERENCES = ("screen", "probes", "complex step", "scipy")
"""The stages that difference every element (or direction) once."""

ROUTINE_STAGES = frozenset({"probe", "noise", "recheck", *FIRST_DIFFERENCES})
"""The stages whose cost does not depend on what the check finds."""


@dataclass(frozen=True, slots=True)
class TaylorTest:
    """What the Taylor test measured along one random direction (see
    :mod:`gradcheck._taylor`).

    Attributes
    ----------
    steps : tuple of float
        The steps h (along a direction of unit length in the elements' own scales).
    residuals : tuple of tuple of float
        ``|f(x + h d) - f(x) - h g . d|`` per output, per step.
    slopes : tuple of float
        The fitted log-log slope per output; NaN where fewer than 3 steps were above
        rounding.
    verdict : str
        ``"right"`` (slope near 2), ``"wrong"`` (slope near 1: the report fails),
        ``"kink"`` (slope near 1 where the check found a kink: a one-sided derivative is
        all a gradient can be there) or ``"unresolved"``; the worst over outputs.
    """

    steps: tuple[float, ...]
    residuals: tuple[tuple[float, ...], ...]
    slopes: tuple[float, ...]
    verdict: str

    def describe(self) -> str:
        """One line for the report.

        >>> TaylorTest((), (), (1.99,), "right").describe()
        'Taylor test: the residual falls as h^1.99 along a random direction (right)'
        """
        finite = [s for s in self.slopes if math.isfinite(s)]
        if not finite:
            return "Taylor test: the residual is rounding at every step (unresolved)"
        return (
            f"Taylor test: the residual falls as h^{min(finite):.3g} along a random "
            f"direction ({self.verdict})"
        )


@dataclass(frozen=True, slots=True)
class SelfTest:
    """An error planted in a copy of the gradient, and whether the same check caught it.

    Attributes
    ----------
    element : str
        Where it was planted.
    size : float
        Its size: twice what the check promised to catch there (``detectable``).
    caught : bool
        Whether the check, run again on the planted gradient, called that element a
        mismatch. When not, the report fails: this configuration does not keep its promise.
    """

    element: str
    size: float
    caught: bool

    def describe(self) -> str:
        """One line for the report.

        >>> SelfTest("x[1]", 2e-9, True).describe()
        'self-test: an error of 2e-09 planted at x[1] was caught'
        """
        if self.caught:
            return f"self-test: an error of {self.size:.2g} planted at {self.element} was caught"
        return (
            f"self-test: an error of {self.size:.2g} planted at {self.element} was not "
            "caught, twice what the check promised there: do not trust its passes"
        )


@dataclass(frozen=True, slots=True)
class Metadata:
    """How a check was made.

    ``random`` is True when f returned different values at the same point even after
    gradcheck reseeded the global random generators: an element such noise left
    inconclusive was not verified, and the report fails (see :attr:`Report.ok`).
    """

    backend: str
    dtype: str
    method: str
    rtol: float
    atol: float
    seed: int
    function_evaluations: int
    gradient_evaluations: int
    seconds: float
    noise: tuple[float, ...]
    warnings: tuple[str, ...] = ()
    random: bool = False
    fast: FastSummary | None = None
    taylor: TaylorTest | None = None
    self_test: SelfTest | None = None
    stages: tuple[tuple[str, int], ...] = ()

    @property
    def mostly_beyond_the_screen(self) -> bool:
        """Whether the stages that depend on what the check finds (refining and
        confirming, localising, the optional tests) took more evaluations of f than the
        differences every check takes (the screen, fast mode's probes, or the method's
        own). A report then says where they went."""
        counts = dict(self.stages)
        first = sum(counts.get(name, 0) for name in FIRST_DIFFERENCES)
        beyond = sum(n for name, n in self.stages if name not in ROUTINE_STAGES)
        return beyond > first

    def describe_stages(self) -> str:
        """Where the evaluations of f went, by stage, in the order they ran: refinement
        (finer pairs, and the second pair or shifted steps that confirm each mismatch) is
        what a few doubtful elements cost beyond the screen.

        >>> stages = (("probe", 2), ("noise", 36), ("screen", 12), ("refinement", 120))
        >>> md = Metadata("numpy", "float64", "central", 1e-6, 0.0, 0, 170, 1, 0.0, (0.0,),
        ...               stages=stages)
        >>> md.describe_stages()  # doctest: +ELLIPSIS
        'evaluations of f: probe 2, noise 36, screen 12, refinement 120 (finer steps where ...)'
        """
        notes = {"refinement": " (finer steps where the screen left an element open)"}
        parts = [f"{name} {count}{notes.get(name, '')}" for name, count in self.stages if count]
        return "evaluations of f: " + ", ".join(parts) if parts else ""

    def vetoes(self) -> tuple[str, ...]:
        """Why the report fails whatever its elements say: a Taylor test that found the
        gradient wrong, a self-test that was not caught."""
        reasons = []
        if self.taylor is not None and self.taylor.verdict == "wrong":
            reasons.append(self.taylor.describe())
        if self.self_test is not None and not self.self_test.caught:
            reasons.append(self.self_test.describe())
        return tuple(reasons)

    @property
    def mode(self) -> str:
        """``"fast"`` or ``"full"``: which check ran."""
        return "full" if self.fast is None else "fast"

    def describe(self) -> str:
        """The provenance line under a report's headline.

        >>> Metadata("numpy", "float64", "central", 1e-6, 0.0, 7, 12, 1, 0.0123, (0.0,)).describe()
        'numpy backend, float64, central; 12 evaluations of f, 1 of the gradient; seed 7; 0.0123 s'
        """
        mode = "" if self.fast is None else f"; {self.fast.describe()}"
        extra = "".join(
            f"; {test.describe()}" for test in (self.taylor, self.self_test) if test is not None
        )
        return (
            f"{self.backend} backend, {self.dtype}, {self.method}{mode}; "
            f"{self.function_evaluations} evaluations of f, {self.gradient_evaluations} of the "
            f"gradient; seed {self.seed}; {self.seconds:.3g} s{extra}"
        )


@dataclass(frozen=True, slots=True)
class Element:
    """One compared element: a derivative of one output with respect to one parameter entry."""

    name: str
    parameter: str
    index: tuple[int, ...]
    output: tuple[int, ...]
    analytic: float
    numeric: float
    error: float
    tolerance: float
    verdict: Verdict
    left: float
    right: float

    @property
    def gap(self) -> float:
        """``|analytic - numeric|``."""
        return abs(self.analytic - self.numeric)

    @property
    def detectable(self) -> float:
        """Smallest error in the analytic value that this element is sure to show: the
        gap a mismatch needs plus the estimate's own error."""
        return self.tolerance + self.error

    @property
    def margin(self) -> float:
        """How much of its tolerance the gap uses: above 1 is a mismatch (at kinks, 0 to 1)."""
        if self.tolerance > 0:
            return self.gap / self.tolerance
        return math.inf if self.gap > 0 else 0.0

    @property
    def note(self) -> str:
        """What the verdict cell adds at a kink, the one-sided derivatives:
        ``(left -1, right 1)``; ``""`` for other verdicts."""
        if self.verdict != Verdict.KINK:
            return ""
        return f"(left {self.left:.6g}, right {self.right:.6g})"

    def cells(self) -> tuple[str, str, str, str, str]:
        """The element's row under :data:`~gradcheck._table.ELEMENT_COLUMNS`: name, analytic,
        ``numeric ± error``, tolerance, and the verdict followed by its :attr:`note`.

        Values show 6 significant digits, more where a mismatch would otherwise show the
        same number twice (a float32 constant in float64 code differs in the 8th):

        >>> nan = float("nan")
        >>> Element("x[1]", "x", (1,), (), 2.0, 6.0, 1e-9, 6e-6, Verdict.MISMATCH, nan, nan).cells()
        ('x[1]', '2', '6 ± 1e-09', '6e-06', 'mismatch')
        >>> Element("x", "x", (), (), 0.16666667163372, 1 / 6, 1e-10, 2e-10, Verdict.MISMATCH,
        ...         nan, nan).cells()[1:3]
        ('0.166666672', '0.166666667 ± 1e-10')
        """
        verdict = f"{self.verdict} {self.note}" if self.note else str(self.verdict)
        digits = 6
        if self.verdict == Verdict.MISMATCH:
            while digits < 17 and f"{self.analytic:.{digits}g}" == f"{self.numeric:.{digits}g}":
                digits += 1
        return (
            self.name,
            f"{self.analytic:.{digits}g}",
            f"{self.numeric:.{digits}g} ± {self.error:.2g}",
            f"{self.tolerance:.2g}",
            verdict,
        )


@dataclass(frozen=True, slots=True)
class ParameterSummary:
    """Counts and the worst element of one parameter."""

    name: str
    shape: tuple[int, ...]
    counts: dict[str, int]
    worst: Element | None
    max_abs_error: float
    max_rel_error: float

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    def describe(self) -> str:
        """The parameter's line under a report's table: shape, counts, worst element, gaps.

        >>> ParameterSummary("b", (2,), {"ok": 1, "mismatch": 1}, None, 0.5, 0.25).describe()
        'b (2,): ok 1, mismatch 1; worst -, max abs gap 0.5, max rel gap 0.25'
        """
        worst = self.worst.name if self.worst else "-"
        return (
            f"{self.name} {self.shape}: {describe_counts(self.counts)}; worst {worst}, max abs gap "
            f"{self.max_abs_error:.3g}, max rel gap {self.max_rel_error:.3g}"
        )
