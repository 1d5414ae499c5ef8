"""A two-layer network in NumPy with hand-written backprop, checked by gradcheck.

The classic exercise: ``scores = tanh(X W1 + b1) W2 + b2``, softmax cross-entropy loss
plus L2 regularisation, and ``loss(X, y)`` returning ``(loss, grads)`` with ``grads``
keyed like ``params``. gradcheck perturbs ``net.params`` in place (and puts every bit
back), so a model is checked as it is written, without wrapping it in a function.

Each layer returns its output together with its backward function, as micrograd's
operators do; ``TwoLayerNet.loss`` runs them forward and then back.

Run it::

    gradcheck run examples/two_layer_numpy.py -v
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

import gradcheck

Array = NDArray[np.float64]


def affine(x: Array, W: Array, b: Array) -> tuple[Array, Callable[[Array], tuple[Array, ...]]]:
    """``x W + b``; its backward maps d(out) to (dx, dW, db)."""

    def backward(dout: Array) -> tuple[Array, ...]:
        return dout @ W.T, x.T @ dout, dout.sum(axis=0)

    return x @ W + b, backward


def tanh(x: Array) -> tuple[Array, Callable[[Array], Array]]:
    """``tanh(x)``; its derivative ``1 - tanh(x)^2`` comes from the output."""
    out = np.tanh(x)

    def backward(dout: Array) -> Array:
        return dout * (1.0 - out**2)

    return out, backward


def softmax_cross_entropy(scores: Array, y: NDArray[np.int64]) -> tuple[float, Callable[[], Array]]:
    """Mean ``-log softmax(scores)[y]``; its backward is ``(softmax - onehot(y)) / n``."""
    n = len(y)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def backward() -> Array:
        dscores: Array = np.exp(log_probs)
        dscores[np.arange(n), y] -= 1.0
        return dscores / n

    return float(-log_probs[np.arange(n), y].mean()), backward


def l2(W: Array, reg: float) -> tuple[float, Array]:
    """``reg/2 * sum W^2`` and its gradient ``reg * W``."""
    return 0.5 * reg * float(np.sum(W * W)), reg * W


class TwoLayerNet:
    """input -> affine -> tanh -> affine -> softmax, with parameters in ``self.params``."""

    def __init__(self, sizes: tuple[int, int, int], reg: float, rng: np.random.Generator) -> None:
        n_in, n_hidden, n_out = sizes
        self.reg = reg
        self.params = {
            "W1": rng.normal(0.0, 1.0 / np.sqrt(n_in), (n_in, n_hidden)),
            "b1": rng.normal(0.0, 0.1, n_hidden),
            "W2": rng.normal(0.0, 1.0 / np.sqrt(n_hidden), (n_hidden, n_out)),
            "b2": rng.normal(0.0, 0.1, n_out),
        }

    def loss(self, X: Array, y: NDArray[np.int64]) -> tuple[float, dict[str, Array]]:
        """The regularised loss on (X, y) and its gradient for every entry of params."""
        p = self.params
        h_in, affine1_back = affine(X, p["W1"], p["b1"])
        h, tanh_back = tanh(h_in)
        scores, affine2_back = affine(h, p["W2"], p["b2"])
        data_loss, loss_back = softmax_cross_entropy(scores, y)
        reg1, dreg1 = l2(p["W1"], self.reg)
        reg2, dreg2 = l2(p["W2"], self.reg)

        dh, dW2, db2 = affine2_back(loss_back())
        _, dW1, db1 = affine1_back(tanh_back(dh))
        grads = {"W1": dW1 + dreg1, "b1": db1, "W2": dW2 + dreg2, "b2": db2}
        return data_loss + reg1 + reg2, grads


def toy_data(rng: np.random.Generator, n: int = 8) -> tuple[Array, NDArray[np.int64]]:
    """n points with 4 features in 3 classes."""
    return rng.normal(size=(n, 4)), rng.integers(0, 3, size=n)


@gradcheck.case(points=[0, 1])
def two_layer_net(seed: int) -> tuple[object, ...]:
    """The whole network, at two random initialisations: the bound method and its inputs."""
    rng = np.random.default_rng(seed)
    net = TwoLayerNet((4, 5, 3), reg=0.1, rng=rng)
    X, y = toy_data(rng)
    return (net.loss, X, y)


def _softmax_loss(scores: Array) -> float:
    return softmax_cross_entropy(scores, _LABELS)[0]


def _softmax_grad(scores: Array) -> Array:
    return softmax_cross_entropy(scores, _LABELS)[1]()


_LABELS = np.array([0, 2, 1])

softmax_layer = gradcheck.Case(
    _softmax_loss, np.random.default_rng(7).normal(size=(3, 3)), grad=_softmax_grad
)
"""A module-level Case: one layer on its own, checked like a plain function."""
