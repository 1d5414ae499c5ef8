"""Check the derivatives you hand to :mod:`scipy.optimize`, while it runs.

SciPy trusts a hand-written derivative: a wrong gradient, Hessian or constraint Jacobian
makes a solver wander, stop early or report success at the wrong point, and nothing says
why. This package checks each with :func:`gradcheck.check` at the points SciPy asks for it:

* :func:`minimize` is :func:`scipy.optimize.minimize` with ``jac``, ``hess`` (as the
  Jacobian of ``jac``), ``hessp`` (along seeded directions) and the constraints' ``jac``
  and ``hess`` checked at the start and the first few iterates; it returns SciPy's own
  ``OptimizeResult`` with the reports attached;
* :func:`curve_fit` is :func:`scipy.optimize.curve_fit` with the model's ``jac`` checked;
* :func:`checked` wraps a ``jac`` for any SciPy routine (``minimize``, ``least_squares``,
  ``root``; vector residuals have their Jacobian checked element by element);
* :func:`cross_check` runs the optimizer twice, with the analytic gradient and with
  SciPy's own finite differences, and says whether the two runs agree;
  :func:`cross_check_case` does the same for a :class:`gradcheck.Case`.

This is a front end: the numbers come from :func:`gradcheck.check`; this package only
decides when to call it and what to do with the Report. ``scipy.optimize`` is imported
here and nowhere else in gradcheck. When to check and what a check leaves lives in
``_schedule.py``; the wrappers in ``_jacobian.py`` (``jac``), ``_hessian.py`` (``hess``,
``hessp``), ``_constraints.py`` and ``_curve_fit.py``; ``_minimize.py`` hands them to
SciPy; cross-checking whole runs lives in ``_runs.py``, and what they all take from the
user (``fun``, ``jac``, bounds) in ``_arguments.py``.
"""

__all__ = [
    "CheckedJacobian",
    "CheckedPoint",
    "CrossCheck",
    "GradcheckWarning",
    "GradientMismatchWarning",
    "IterateMismatch",
    "OnMismatch",
    "Schedule",
    "checked",
    "cross_check",
    "cross_check_case",
    "curve_fit",
    "minimize",
]

from gradcheck._errors import GradcheckWarning, GradientMismatchWarning, IterateMismatch
from gradcheck.optimize._curve_fit import curve_fit
from gradcheck.optimize._jacobian import CheckedJacobian, checked
from gradcheck.optimize._minimize import minimize
from gradcheck.optimize._runs import CrossCheck, cross_check, cross_check_case
from gradcheck.optimize._schedule import CheckedPoint, OnMismatch, Schedule
