"""The exceptions gradcheck raises.

::

    GradcheckError                    every error gradcheck raises on purpose
    ├── InvalidArgument               a bad argument or option (also ValueError, TypeError)
    │   └── NoBackend                 no installed backend accepts the object
    ├── ModelError                    the user's function, gradient or model failed
    │                                 or returned something unusable
    └── GradientMismatch              assert_gradients found a wrong gradient
                                      (also AssertionError)

``InvalidArgument`` subclasses ``ValueError`` and ``TypeError`` so that code written
against the built-in exceptions still catches it; ``GradientMismatch`` subclasses
``AssertionError`` so that test runners report it as a failed assertion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gradcheck.report import Report

__all__ = [
    "GradcheckError",
    "GradientMismatch",
    "InvalidArgument",
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

    def __init__(self, report: Report) -> None:
        super().__init__(str(report))
        self.report = report
