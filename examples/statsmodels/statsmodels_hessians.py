"""statsmodels' hand-written Hessians, checked against finite differences of its scores.

A statistics library writes the first and second derivatives of each log-likelihood by
hand: the score drives the fit, the Hessian gives the standard errors. gradcheck checks
the score as the gradient of ``loglike`` (``grad=``) and the Hessian as the Jacobian of
the score (``hess=``). In statsmodels 0.15.0 (pinned in ``requirements.txt`` beside this
file and in ``gradcheck[statsmodels]``):

* ``ZeroInflatedPoisson.hessian`` leaves every cross term between the inflation and the
  count parameters at zero (the matrix is built block-diagonal), so the standard errors
  taken from it are too small;
* ``OLS.hessian(params)`` (``scale=None``: the profile log-likelihood, the default) is half
  the true Hessian at the least-squares solution: its first term lacks the factor 2 that
  the derivative of the residual sum of squares brings.

Both scores are right, and so is ``OLS.hessian`` with a known scale: the controls beside
the known-wrong cases (``expect="mismatch"``, so the run exits 0). Run it::

    gradcheck run examples/statsmodels/ --seed 0
"""

from __future__ import annotations

import numpy as np
import statsmodels.api as sm
from numpy.typing import NDArray
from statsmodels.discrete.count_model import ZeroInflatedPoisson

import gradcheck

rng = np.random.default_rng(0)
OBSERVATIONS = 300
X = sm.add_constant(rng.normal(size=(OBSERVATIONS, 2)))  # the count model's regressors
Z = sm.add_constant(rng.normal(size=(OBSERVATIONS, 1)))  # the inflation model's
inflated = rng.random(OBSERVATIONS) < 1 / (1 + np.exp(-(Z @ [-0.5, 0.8])))
y = np.where(inflated, 0, rng.poisson(np.exp(X @ [0.5, 0.3, -0.2]))).astype(np.float64)

zip_model = ZeroInflatedPoisson(y, X, exog_infl=Z)
zip_fit = zip_model.fit(disp=0, maxiter=200)
ols = sm.OLS(y, X)
ols_fit = ols.fit()


def zip_standard_errors() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The fit's standard errors (from ``hessian``) and those of the score's Jacobian by
    central differences, at the fitted parameters."""
    p = zip_fit.params
    h = 1e-6 * np.maximum(np.abs(p), 1.0)
    columns = [
        (zip_model.score(p + step) - zip_model.score(p - step)) / (2 * step[j])
        for j, step in enumerate(np.diag(h))
    ]
    true_hessian = np.column_stack(columns)
    true_errors = np.sqrt(np.diag(np.linalg.inv(-true_hessian)))
    return np.asarray(zip_fit.bse, dtype=np.float64), true_errors


zip_score = gradcheck.Case(zip_model.loglike, zip_fit.params, grad=zip_model.score)
"""The ZIP score is the gradient of its log-likelihood: right."""


@gradcheck.case(expect="mismatch")
def zip_hessian() -> gradcheck.Case:
    """The ZIP Hessian: the cross terms of the inflation and count parameters are 0."""
    return gradcheck.Case(zip_model.score, zip_fit.params, hess=zip_model.hessian)


ols_score = gradcheck.Case(ols.loglike, ols_fit.params + 0.1, grad=ols.score)
"""The OLS score (profile log-likelihood) is the gradient of ``loglike``: right."""


@gradcheck.case(expect="mismatch")
def ols_hessian() -> gradcheck.Case:
    """``OLS.hessian`` with ``scale=None`` at the least-squares solution: half the truth."""
    return gradcheck.Case(ols.score, ols_fit.params, hess=ols.hessian)


@gradcheck.case
def ols_hessian_known_scale() -> gradcheck.Case:
    """With a known scale the log-likelihood is quadratic, and ``hessian`` is right."""
    return gradcheck.Case(
        lambda params: ols.score(params, scale=2.0),
        ols_fit.params,
        hess=lambda params: ols.hessian(params, scale=2.0),
    )
