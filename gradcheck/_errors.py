"""The exceptions gradcheck raises.

::

    GradcheckError                    every error gradcheck raises on purpose
    ├── InvalidArgument               a bad argument or option (also ValueError, TypeError)
    │   └── NoBackend                 no installed backend accepts the object
    ├── ModelError                    the user's function, gradient or model failed
    │                                 or returned something unusable
    └── GradientMismatch              assert_gradients found a wrong gradient
        │                             (also AssertionError)
        └── IterateMismatch           a derivative given to SciPy (jac, hess, a
                                      constraint's jac) is wrong at a point the
                                      optimizer evaluated it

    GradcheckWarning                  a check could not be made (also UserWarning)
    └── GradientMismatchWarning       on_mismatch="warn": a wrong gradient, run goes on

``InvalidArgument`` subclasses ``ValueError`` and ``TypeError`` so that code written
against the built-in exceptions still catches it; ``GradientMismatch`` subclasses
``AssertionError`` so that test runners report it as a failed assertion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gradcheck._report import Report

__all__ = [
    "GradcheckError",
    "GradcheckWarning",
    "GradientMismatch",
    "GradientMismatchWarning",
    "InvalidArgument",
    "IterateMismatch",
    "ModelError",
    "NoBackend",
]


class GradcheckError(Exception):
    """Base class of every error gradcheck raises on purpose."""


class InvalidArgument(GradcheckError, ValueError, TypeError):
    """An argument or option passed to gradcheck is not usable; the message says how to fix it."""


class NoBackend(InvalidArgument):
    """No installed backend accepts the object given to :func:`gradcheck.check`."""


class ModelError(GradcheckError):
    """The user's function, gradient or model raised, or returned something unusable.

    When the user's code raised, the original exception is chained as ``__cause__``.
    """


class GradientMismatch(GradcheckError, AssertionError):
    """Raised by :func:`gradcheck.assert_gradients` when some gradient element is wrong.

    The message is the readable report; the full :class:`~gradcheck.Report` is kept in
    :attr:`report`.
    """

    def __init__(self, report: Report, context: str = "") -> None:
        super().__init__(f"{context}\n{report}" if context else str(report))
        self.report = report


class IterateMismatch(GradientMismatch):
    """A derivative given to a SciPy routine is wrong at a point it was evaluated at.

    The message names what was checked and the point first, then gives the report.

    Attributes
    ----------
    report : Report
    evaluation : int
        Which call of the checked function it was: 0 is the first, at the start point.
    x : ndarray
        The point, a copy.
    subject : str
        What was checked: ``"jac"``, ``"hess"``, ``"hessp"``, ``"jac of constraint 1"``, ...
    """

    def __init__(
        self, report: Report, evaluation: int, x: object, where: str, subject: str = "jac"
    ) -> None:
        what = (
            f"{subject} disagrees with finite differences"
            if report.counts["mismatch"]
            else f"{subject} could not be verified by finite differences"
        )
        super().__init__(report, f"{what} {where}")
        self.evaluation = evaluation
        self.x = x
        self.subject = subject


class GradcheckWarning(UserWarning):
    """A check could not be made at some point; the run goes on without it."""


class GradientMismatchWarning(GradcheckWarning):
    """``on_mismatch="warn"``: the gradient disagreed with finite differences at a point."""
