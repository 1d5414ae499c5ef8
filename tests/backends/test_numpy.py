"""The NumPy backend: arrays, dicts of arrays, and models with a params dict."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck
from gradcheck import InvalidArgument, ModelError, Verdict


def test_dict_of_arrays_names_elements_by_key_and_index(rng: np.random.Generator) -> None:
    X = rng.standard_normal((5, 3))

    def loss(p: dict[str, np.ndarray]) -> float:
        return float(np.sum(np.tanh(X @ p["W1"] + p["b1"]) ** 2))

    def dloss(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        t = np.tanh(X @ p["W1"] + p["b1"])
        dz = 2 * t * (1 - t * t)
        dW = X.T @ dz
        dW[2, 1] += 0.5  # the bug
        return {"W1": dW, "b1": dz.sum(axis=0)}

    params = {"W1": rng.standard_normal((3, 2)), "b1": np.zeros(2)}
    report = gradcheck.check(loss, params, grad=dloss)
    assert [e.name for e in report.elements(Verdict.MISMATCH)] == ["W1[2, 1]"]
    summary = {s.name: s for s in report.summaries()}
    assert summary["W1"].worst is not None
    assert summary["W1"].worst.name == "W1[2, 1]"
    assert summary["b1"].counts["mismatch"] == 0


def test_list_of_arrays_is_named_after_the_argument() -> None:
    report = gradcheck.check(
        lambda layers: float(np.sum(layers[0] ** 2) + np.sum(layers[1])),
        [np.ones((2, 2)), np.ones(3)],
        grad=lambda layers: [2 * layers[0], np.ones(3)],
    )
    assert report.ok
    assert report.labels[0] == "layers[0][0, 0]"
    assert report.labels[-1] == "layers[1][2]"


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, object, np.complex128])
def test_non_floating_arrays_are_rejected_with_the_fix(dtype: type) -> None:
    with pytest.raises(InvalidArgument, match=r"gradients need a floating dtype: pass W\.astype"):
        gradcheck.check(lambda p: 0.0, {"W": np.zeros(3, dtype=dtype)}, grad=lambda p: p)


def test_gradient_of_the_wrong_shape_names_parameter_and_shapes() -> None:
    with pytest.raises(ModelError, match=r"has shape \(3,\), expected \(3, 2\) like parameter W"):
        gradcheck.check(
            lambda p: float(np.sum(p["W"])),
            {"W": np.ones((3, 2))},
            grad=lambda p: {"W": np.ones(3)},
        )


def test_gradient_that_raises_is_wrapped_with_its_cause() -> None:
    def grad(x: np.ndarray) -> np.ndarray:
        raise ZeroDivisionError("oops")

    with pytest.raises(ModelError, match="gradient function raised ZeroDivisionError") as info:
        gradcheck.check(lambda x: float(x.sum()), np.ones(2), grad=grad)
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_f_that_raises_names_the_perturbed_element() -> None:
    calls = []

    def f(x: np.ndarray) -> float:
        calls.append(1)
        if len(calls) > 20:
            raise ValueError("boom")
        return float(np.sum(x**2))

    x = np.arange(30.0)
    with pytest.raises(
        ModelError, match=r"f raised ValueError with x\[\d+\] (perturbed|= [-+.e0-9]+): boom"
    ):
        gradcheck.check(f, x, grad=lambda x: 2 * x)
    assert np.array_equal(x, np.arange(30.0))


def test_model_method_must_return_loss_and_grads() -> None:
    class Model:
        def __init__(self) -> None:
            self.params = {"w": np.ones(2)}

        def loss(self) -> float:
            return float(self.params["w"].sum())

    with pytest.raises(ModelError, match=r"must return \(loss, grads\)"):
        gradcheck.check(Model().loss)


def test_non_contiguous_model_parameter_is_refused_not_copied() -> None:
    class Model:
        def __init__(self) -> None:
            self.params = {"W": np.ones((4, 4))[:, ::2]}

        def loss(self) -> tuple[float, dict[str, np.ndarray]]:
            return float(self.params["W"].sum()), {"W": np.ones((4, 2))}

    with pytest.raises(InvalidArgument, match="not a writable C-contiguous array"):
        gradcheck.check(Model().loss)


def test_float32_arrays_keep_their_dtype_in_f() -> None:
    seen = []

    def f(x: np.ndarray) -> np.float32:
        seen.append(x.dtype)
        total: np.float32 = np.sum(x * x)
        return total

    report = gradcheck.check(f, np.ones(3, dtype=np.float32), grad=lambda x: 2 * x)
    assert report.ok
    assert set(seen) == {np.dtype(np.float32)}


def test_array_like_parameters_are_passed_on_as_arrays() -> None:
    class Wrapped:
        def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
            return np.array([1.0, 2.0])

    report = gradcheck.check(lambda x: float(np.sum(x**2)), Wrapped(), grad=lambda x: 2 * x)
    assert report.ok


def test_model_that_replaces_its_params_arrays_is_explained() -> None:
    class Rebinding:
        def __init__(self) -> None:
            self.params = {"W": np.arange(6.0).reshape(2, 3) + 0.5}

        def loss(self, X: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
            self.params["W"] = self.params["W"].astype(np.float64)  # a copy, every call
            y = self.params["W"] @ X
            return float(y @ y), {"W": np.outer(2 * y, X)}

    model = Rebinding()
    original = model.params["W"]
    with pytest.raises(ModelError, match=r"replaced model.params\['W'\] with a new array"):
        gradcheck.check(model.loss, np.array([1.0, 2.0, 3.0]))
    assert model.params["W"] is original


def test_empty_parameters_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="there are no parameters to check"):
        gradcheck.check(lambda p: 0.0, np.array([]), grad=lambda p: p)


class _BatchNormLike:
    """A model whose dgamma keeps the batch axis as length 1 (a keepdims=True left in)."""

    def __init__(self, keepdims: bool, rng: np.random.Generator) -> None:
        self.params = {"gamma": rng.standard_normal(3), "W": rng.standard_normal((3, 2))}
        self.keepdims = keepdims

    def loss(self, X: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        h = X * self.params["gamma"]
        out = h @ self.params["W"]
        dh = 2 * out @ self.params["W"].T
        dgamma = np.sum(dh * X, axis=0, keepdims=self.keepdims)
        return float(np.sum(out**2)), {"gamma": dgamma, "W": 2 * h.T @ out}


def test_model_gradient_with_a_kept_unit_axis_is_accepted_with_a_note(
    rng: np.random.Generator,
) -> None:
    model = _BatchNormLike(keepdims=True, rng=rng)
    gamma = model.params["gamma"]
    saved = gamma.copy()
    report = gradcheck.check(model.loss, rng.standard_normal((4, 3)))
    assert report.ok, report
    assert any(
        "grads['gamma'] has shape (1, 3) for parameter gamma of shape (3,)" in w
        for w in report.metadata.warnings
    )
    assert model.params["gamma"] is gamma
    assert gamma.tobytes() == saved.tobytes()


def test_model_gradient_of_another_shape_names_the_key_both_shapes_and_the_fix(
    rng: np.random.Generator,
) -> None:
    class Unsummed(_BatchNormLike):
        def loss(self, X: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
            value, grads = super().loss(X)
            return value, {**grads, "gamma": np.repeat(grads["gamma"][None] / 4, 4, axis=0)}

    with pytest.raises(
        ModelError,
        match=r"grads\['gamma'\] has shape \(4, 3\), expected \(3,\) like parameter gamma of shape "
        r"\(3,\) \(extra leading axes: is a sum over the batch axis missing\?\)\. Return each",
    ):
        gradcheck.check(Unsummed(keepdims=False, rng=rng).loss, rng.standard_normal((4, 3)))
