"""scikit-learn's t-SNE gradient is wrong for every embedding of 3 or more dimensions.

``sklearn.manifold._t_sne._kl_divergence`` returns the Kullback-Leibler divergence that
t-SNE minimises and its gradient. With Student-t similarities of ``a = n_components - 1``
degrees of freedom, ``q_ij ~ w_ij = (1 + d_ij^2 / a)^(-(a + 1) / 2)``, the gradient is

    dC/dy_i = (2 (a + 1) / a) sum_j (p_ij - q_ij) (1 + d_ij^2 / a)^(-1) (y_i - y_j)

but the code multiplies by ``w_ij`` itself, ``(1 + d_ij^2 / a)^(-(a + 1) / 2)``: the same
number only for ``a = 1``, the 2-D embedding everybody draws. In 3-D every element is off,
by up to 0.9 relative. Seen in scikit-learn 1.9.1 (the version pinned in
``requirements.txt`` beside this file and in ``gradcheck[wild]``).

Run it::

    gradcheck run examples/in_the_wild/sklearn_tsne.py
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from sklearn.manifold._t_sne import _joint_probabilities, _kl_divergence
from sklearn.metrics import pairwise_distances

import gradcheck

SAMPLES = 8
rng = np.random.default_rng(0)
X = rng.normal(size=(SAMPLES, 5))  # data
P = _joint_probabilities(pairwise_distances(X, squared=True), 3.0, 0)  # perplexity 3


def tsne_case(n_components: int) -> gradcheck.Case:
    """t-SNE's objective and scikit-learn's gradient at a random embedding."""
    dof = max(n_components - 1, 1)  # what TSNE.fit uses

    def kl_and_gradient(y: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        kl, gradient = _kl_divergence(y, P, dof, SAMPLES, n_components)
        return float(kl), gradient

    y0 = np.random.default_rng(1).normal(size=SAMPLES * n_components)
    return gradcheck.Case(lambda y: kl_and_gradient(y)[0], y0, value_and_grad=kl_and_gradient)


@gradcheck.case
def tsne_2d() -> gradcheck.Case:
    """Right in 2-D, where (1 + d^2)^-1 is the similarity itself."""
    return tsne_case(2)


@gradcheck.case(expect="mismatch")
def tsne_3d() -> gradcheck.Case:
    """Wrong in 3-D: every element disagrees."""
    return tsne_case(3)
