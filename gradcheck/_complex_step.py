"""``method="complex"``: the complex-step derivative, exact to rounding for analytic f.

``Im f(x + i h) / h = f'(x) + O(h^2)`` with no subtraction, so h can be tiny and the
estimate carries only the rounding of one evaluation.
"""

from __future__ import annotations

import numpy as np

from gradcheck._baseline import Start
from gradcheck._errors import InvalidArgument, ModelError
from gradcheck._estimates import Estimates
from gradcheck._evaluation import Session
from gradcheck._options import Options
from gradcheck._tolerance import ErrorModel, row_scale

__all__ = ["complex_step"]


def complex_step(session: Session, start: Start, options: Options) -> Estimates:
    """Estimate every derivative by the complex step; judge the analytic gradient.

    Raises
    ------
    InvalidArgument
        When the problem has no complex evaluation.
    ModelError
        When f drops the imaginary part of its argument.
    """
    if session.problem.complex_value is None:
        raise InvalidArgument(
            f"method='complex' needs a model that can be evaluated at complex points, "
            f"which the {session.problem.backend} backend cannot do; use method='central'"
        )
    x0, g = start.x0, start.gradient
    h = np.finfo(np.float64).tiny ** 0.25 * np.maximum(np.abs(x0), 1.0)
    z = x0.astype(np.complex128)
    columns = []
    for i in range(x0.size):
        z[i] = complex(x0[i], h[i])
        columns.append(session.complex_at(z, i) / h[i])
        z[i] = x0[i]
    numeric = np.stack(columns, axis=1)
    if not np.any(numeric) and np.any(g):
        raise ModelError(
            "f returned real values at complex points (the imaginary part was dropped, "
            "e.g. by float() or .real); method='complex' cannot be used with this f"
        )
    error = 4 * np.finfo(np.float64).eps * np.maximum(np.abs(numeric), np.abs(g))
    model = ErrorModel(
        noise=np.zeros(numeric.shape[0]),
        precision=float(np.finfo(session.problem.dtype).eps),
        rtol=options.rtol,
        atol=options.atol,
    )
    judged = model.verdicts(g, numeric, error, row_scale(g))
    return Estimates.unbracketed(g, numeric, error, judged, h, model.noise)
