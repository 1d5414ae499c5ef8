"""When to check a derivative handed to SciPy, and what a check made during a run leaves.

:class:`Schedule` picks the calls to check; :class:`ScheduledCheck` is what every checked
derivative shares (``jac``, ``hess``, ``hessp``, a constraint's ``jac`` and ``hess``, a
``curve_fit`` model's ``jac``): count the calls, run :func:`gradcheck.check` on the ones
the schedule picks, keep each report as a :class:`CheckedPoint`, and raise or warn when
the derivative disagrees.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from gradcheck._errors import (
    GradcheckWarning,
    GradientMismatchWarning,
    InvalidArgument,
    IterateMismatch,
    ModelError,
)
from gradcheck._options import CheckOptions
from gradcheck._report import Report
from gradcheck._tolerance import Verdict
from gradcheck.optimize._arguments import short

__all__ = ["CheckedPoint", "OnMismatch", "Schedule", "ScheduledCheck"]

FloatArray = NDArray[np.float64]

OnMismatch = Literal["raise", "warn"]
"""What a checked call does when the derivative disagrees: raise, or warn and go on."""


class CheckedPoint(NamedTuple):
    """One check made during a run: which call, at what point, its report, and of what.

    ``subject`` names what was checked: ``"jac"``, ``"hess"``, ``"hessp"``, ``"jac of
    constraint 1"``, ``"hess of constraint 1"``.
    """

    evaluation: int
    x: FloatArray
    report: Report
    subject: str = "jac"

    def __repr__(self) -> str:
        return (
            f"CheckedPoint(evaluation={self.evaluation}, x={short(self.x)}, "
            f"report=<{self.report.headline()}>, subject={self.subject!r})"
        )


@dataclass(frozen=True, slots=True)
class Schedule:
    """At which calls of ``jac`` to check it.

    Calls are counted from 0 (the first, normally at ``x0``). A call is checked when it
    is among the ``first`` ones, or when ``every`` is set and divides its number, until
    ``budget`` checks have been made.

    Parameters
    ----------
    first : int, default 3
        Check the first ``first`` calls: the start point and the first iterates.
    every : int, default 0
        Also check every ``every``-th call (0: never after the first ones).
    budget : int, optional
        At most this many checks in all.

    Examples
    --------
    >>> Schedule(first=1).wants(0, done=0), Schedule(first=1).wants(1, done=1)
    (True, False)
    >>> [k for k in range(12) if Schedule(first=2, every=5).wants(k, done=0)]
    [0, 1, 5, 10]
    >>> Schedule(first=2, every=5, budget=3).wants(10, done=3)
    False
    """

    first: int = 3
    every: int = 0
    budget: int | None = None

    def __post_init__(self) -> None:
        for name in ("first", "every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidArgument(f"Schedule({name}={value!r}): expected an integer >= 0")
        if self.budget is not None and (
            not isinstance(self.budget, int) or isinstance(self.budget, bool) or self.budget < 1
        ):
            raise InvalidArgument(
                f"Schedule(budget={self.budget!r}): expected an integer >= 1, or None for no limit"
            )

    @classmethod
    def from_option(cls, check: Schedule | int | str) -> Schedule:
        """``check=`` as given: a Schedule, ``"start"`` (x0 only), or n (the first n calls)."""
        if isinstance(check, Schedule):
            return check
        if check == "start":
            return cls(first=1)
        if isinstance(check, int) and not isinstance(check, bool) and check >= 0:
            return cls(first=check)
        raise InvalidArgument(
            f"check={check!r}: expected 'start' (check at x0 only), a number n (check the "
            "first n calls of jac) or gradcheck.optimize.Schedule(first=, every=, budget=)"
        )

    def wants(self, evaluation: int, done: int) -> bool:
        """Whether call ``evaluation`` is checked, ``done`` checks having been made."""
        if self.budget is not None and done >= self.budget:
            return False
        return evaluation < self.first or (self.every > 0 and evaluation % self.every == 0)


@dataclass(frozen=True, slots=True, eq=False)
class CheckPlan:
    """How every derivative handed to one SciPy call is checked: when, what a mismatch
    does, inside which bounds, with which options, and where the checks are recorded.

    Attributes
    ----------
    schedule : Schedule
    on_mismatch : {"raise", "warn"}
    bounds : (ndarray, ndarray) or None
        Lower and upper bounds of the flat point.
    options : CheckOptions
        Of :func:`gradcheck.check`, validated, without ``bounds``.
    ledger : list of CheckedPoint, optional
        Every check of every derivative of the call, in order (``minimize`` hands it back
        as ``result.gradcheck_reports``).
    """

    schedule: Schedule
    on_mismatch: OnMismatch
    bounds: tuple[FloatArray, FloatArray] | None
    options: CheckOptions
    ledger: list[CheckedPoint] | None = None


class ScheduledCheck:
    """A derivative that checks itself on a schedule; subclasses say how it is called.

    Attributes
    ----------
    subject : str
        What is checked, as messages and :class:`CheckedPoint` name it.
    reports : list of CheckedPoint
        Every check made so far, in order.
    calls : int
        How many times it was called (for ``hessp``: at how many points).
    function_evaluations, gradient_evaluations : int
        Extra evaluations the checks cost: of the function differenced and of the
        derivative checked (from each report's metadata).
    """

    noun = "call"
    """What ``evaluation`` counts, for messages: "at call 3 of jac"."""

    point_name = "x"
    """What the point is called, for messages: "at the start point x0 = [...]"."""

    def __init__(self, subject: str, plan: CheckPlan) -> None:
        self.subject = subject
        self._plan = plan
        self.reports: list[CheckedPoint] = []
        self.calls = 0

    @property
    def function_evaluations(self) -> int:
        """Evaluations of the differenced function made by the checks."""
        return sum(p.report.metadata.function_evaluations for p in self.reports)

    @property
    def gradient_evaluations(self) -> int:
        """Evaluations of the checked derivative made by the checks."""
        return sum(p.report.metadata.gradient_evaluations for p in self.reports)

    def __repr__(self) -> str:
        return f"<checked {self.subject}: {self.calls} {self.noun}s, {len(self.reports)} checked>"

    def _due(self) -> int | None:
        """Count this call; its number when the schedule checks it, else None."""
        evaluation = self.calls
        self.calls += 1
        return evaluation if self._plan.schedule.wants(evaluation, len(self.reports)) else None

    def _check(self, x: FloatArray, evaluation: int, run: Callable[[CheckOptions], Report]) -> None:
        """Run ``run(options)`` (a :func:`gradcheck.check`) at ``x``; record, raise or warn.

        Called from the wrapper's ``__call__``, which SciPy calls: warnings point there.
        """
        options: CheckOptions = {**self._plan.options, "bounds": self._bounds_at(x)}
        try:
            report = run(options)
        except ModelError as exc:
            if not self.reports and evaluation == 0:
                raise ModelError(
                    f"checking {self.subject} {self._where(evaluation, x)}: {exc}"
                ) from exc
            warnings.warn(
                f"gradcheck.optimize: {self.subject} not checked {self._where(evaluation, x)}: "
                f"{exc}",
                GradcheckWarning,
                stacklevel=3,
            )
            return
        point = CheckedPoint(evaluation, x, report, self.subject)
        self.reports.append(point)
        if self._plan.ledger is not None:
            self._plan.ledger.append(point)
        if report.ok:
            return
        where = self._where(evaluation, x)
        names = self.element_names(report)
        if names:
            where += f": {names}"
        error = IterateMismatch(report, evaluation, x, where, self.subject)
        if self._plan.on_mismatch == "raise":
            raise error
        warnings.warn(str(error), GradientMismatchWarning, stacklevel=3)

    def element_names(self, report: Report) -> str:
        """The failing elements as the message's first line names them ("" to leave it to
        the report's table)."""
        return ""

    def _where(self, evaluation: int, x: FloatArray) -> str:
        if evaluation == 0:
            return f"at the start point {self.point_name}0 = {short(x)}"
        return f"at {self.noun} {evaluation} of {self.subject}, {self.point_name} = {short(x)}"

    def _bounds_at(self, x: FloatArray) -> tuple[FloatArray, FloatArray] | None:
        """The bounds, widened to take in x where the solver stepped outside them."""
        if self._plan.bounds is None:
            return None
        lower, upper = self._plan.bounds
        flat = x.reshape(-1)
        return np.minimum(lower, flat), np.maximum(upper, flat)


def failing_names(report: Report, output: str, prefix: str = "", most: int = 5) -> str:
    """The mismatched elements named with ``output`` for f: ``constraint 1: c[2] / x[0]``.

    At most ``most`` of them, then how many more.
    """
    names = []
    wrong = list(report.elements(Verdict.MISMATCH))
    for element in wrong[:most]:
        parameter = element.name.split(" / ", 1)[-1]
        index = ", ".join(map(str, element.output))
        of = f"{output}[{index}]" if element.output else output
        names.append(f"{prefix}{of} / {parameter}")
    if len(wrong) > most:
        names.append(f"and {len(wrong) - most} more")
    return ", ".join(names)
