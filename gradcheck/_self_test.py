"""The self-test: plant an error in a copy of the gradient and check again.

A check promises, per element, to flag any error above ``detectable``. The self-test
makes that promise concrete for the model at hand: it adds twice ``detectable`` to one
element, chosen at random among those the check called ok, runs the same differences
again (the same noise model, steps, mode and method) on the planted gradient, and says
whether that element came out a mismatch. A miss means this configuration cannot be
trusted to find errors of that size, and the report fails.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from gradcheck._estimates import Estimates
from gradcheck._report_records import SelfTest
from gradcheck._tolerance import Verdict

__all__ = ["self_test"]

FloatArray = NDArray[np.float64]


def self_test(
    estimates: Estimates,
    rerun: Callable[[FloatArray], Estimates],
    label: Callable[[int, int], str],
    rng: np.random.Generator,
) -> SelfTest | None:
    """Plant twice ``detectable`` at a random ok element and check the planted gradient.

    Parameters
    ----------
    estimates : Estimates
        The check's own results.
    rerun : callable (gradient) -> Estimates
        The same estimation stages run on another analytic gradient.
    label : callable (output, element) -> str
        The element's name for the report.
    rng : numpy.random.Generator
        Chooses the element and the sign of the planted error.

    Returns
    -------
    SelfTest or None
        None where no element was ok with a finite promise (nothing to test).
    """
    detectable = estimates.tolerance + estimates.error
    candidates = np.argwhere((estimates.verdicts == Verdict.OK) & np.isfinite(detectable))
    if candidates.size == 0:
        return None
    k, j = (int(v) for v in candidates[rng.integers(len(candidates))])
    size = 2.0 * float(detectable[k, j])
    planted = estimates.analytic.copy()
    planted[k, j] += size if rng.random() < 0.5 else -size
    caught = bool(rerun(planted).verdicts[k, j] == Verdict.MISMATCH)
    return SelfTest(label(k, j), size, caught)
