"""Train the AND-gate neuron with SciPy, its hand-written backprop checked on the way.

One neuron, a = sigmoid(w1 x1 + w2 x2 + b), learns the AND gate from its four points
with loss L = sum_i (y_i - a_i)^2. The gradient is backprop written by hand, the chain
rule applied term by term:

    dL/dw = sum_i dL/da_i * da_i/dz_i * dz_i/dw,   dL/da = -2 (y - a),
    da/dz = a (1 - a),  dz/dw1 = x1,  dz/dw2 = x2,  dz/db = 1.

``mistaken_backprop`` drops one factor of that chain for b, as the worked example in the
seed document drops dJ/dv = 3 from dJ/dz. ``gradcheck.optimize.minimize`` checks the
gradient at the start point and stops there, naming ``params[2]`` (b), before SciPy
spends an optimisation on a wrong gradient.

Run it: ``python examples/and_gate_minimize.py``. Nothing runs at import time.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

import gradcheck

FloatArray = NDArray[np.float64]

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([0.0, 0.0, 0.0, 1.0])
START = np.array([0.5, -0.3, 0.1])  # w1, w2, b


def sigmoid(z: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-z))


def loss(params: FloatArray) -> float:
    """L = sum_i (y_i - a_i)^2 with a = sigmoid(X @ w + b)."""
    a = sigmoid(X @ params[:2] + params[2])
    return float(np.sum((Y - a) ** 2))


def backprop(params: FloatArray) -> FloatArray:
    """[dL/dw1, dL/dw2, dL/db] by the chain rule."""
    a = sigmoid(X @ params[:2] + params[2])
    dL_da = -2.0 * (Y - a)
    dL_dz = dL_da * a * (1.0 - a)  # da/dz = a (1 - a)
    return np.array([dL_dz @ X[:, 0], dL_dz @ X[:, 1], np.sum(dL_dz)])


def mistaken_backprop(params: FloatArray) -> FloatArray:
    """The same, except that dL/db forgets the factor da/dz = a (1 - a)."""
    a = sigmoid(X @ params[:2] + params[2])
    dL_da = -2.0 * (Y - a)
    dL_dz = dL_da * a * (1.0 - a)
    return np.array([dL_dz @ X[:, 0], dL_dz @ X[:, 1], np.sum(dL_da)])


def main() -> None:
    from gradcheck import optimize  # imports scipy.optimize: only when the example runs

    result = optimize.minimize(loss, START, jac=backprop, method="BFGS")
    checks = ", ".join(
        f"call {p.evaluation}: {'ok' if p.report.ok else 'FAILED'}"
        for p in result.gradcheck_reports
    )
    print(f"backprop: {result.message}")
    print(f"  w1, w2, b = {np.round(result.x, 3)}, loss {result.fun:.3g}, {result.nit} iterations")
    print(f"  outputs on the four points: {np.round(sigmoid(X @ result.x[:2] + result.x[2]), 3)}")
    print(f"  checked at {checks}; {result.gradcheck_nfev} extra evaluations of the loss")
    print()
    print("mistaken_backprop:")
    try:
        optimize.minimize(loss, START, jac=mistaken_backprop, method="BFGS")
    except gradcheck.GradientMismatch as error:
        print(error)


if __name__ == "__main__":
    main()
