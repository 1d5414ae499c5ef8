"""The pure-Python backend: floats, lists, dicts, and micrograd-style autodiff values."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

import gradcheck
from gradcheck import InvalidArgument, ModelError, Verdict


def test_a_single_float_with_math_functions() -> None:
    report = gradcheck.check(
        lambda x: math.sin(x) * x, 0.7, grad=lambda x: math.cos(x) * x + math.sin(x)
    )
    assert report.ok
    assert report.metadata.backend == "python"
    assert report.labels == ("x",)


def test_dict_of_floats_names_each_entry() -> None:
    def loss(w: dict[str, float]) -> float:
        return (w["w1"] * 2 + w["w2"] - w["b"]) ** 2

    def dloss(w: dict[str, float]) -> dict[str, float]:
        r = 2 * (w["w1"] * 2 + w["w2"] - w["b"])
        return {"w1": 2 * r, "w2": r, "b": r}  # b should be -r

    report = gradcheck.check(loss, {"w1": 0.5, "w2": -1.0, "b": 0.25}, grad=dloss)
    assert [e.name for e in report.elements(Verdict.MISMATCH)] == ["b"]


def test_nested_lists_of_numbers_and_ints_are_accepted() -> None:
    def f(p: list[list[float]]) -> float:
        return sum(v * v for row in p for v in row)

    params = [[1, 2], [3.0, 4.0]]
    report = gradcheck.check(f, params, grad=lambda p: [[2 * v for v in row] for row in p])
    assert report.ok
    assert report.labels == ("p[0][0]", "p[0][1]", "p[1][0]", "p[1][1]")
    assert params == [[1, 2], [3.0, 4.0]]


def test_value_and_grad_from_one_pass() -> None:
    def vg(x: list[float]) -> tuple[float, list[float]]:
        return x[0] ** 3, [3 * x[0] ** 2]

    report = gradcheck.check(lambda x: x[0] ** 3, [1.5], value_and_grad=vg)
    assert report.ok


def test_missing_and_double_gradients_are_explained() -> None:
    with pytest.raises(InvalidArgument, match="has no gradient to check: pass grad=df"):
        gradcheck.check(math.sin, 0.3)
    with pytest.raises(InvalidArgument, match="either grad= or value_and_grad=, not both"):
        gradcheck.check(math.sin, 0.3, grad=math.cos, value_and_grad=lambda x: (0, 0))


def test_bool_and_string_parameters_are_rejected_with_their_name() -> None:
    with pytest.raises(InvalidArgument, match=r"parameter flag is a bool"):
        gradcheck.check(lambda p: 0.0, {"flag": True, "w": 1.0}, grad=lambda p: p)
    with pytest.raises(InvalidArgument, match=r"parameter act is a str \('relu'\)"):
        gradcheck.check(lambda p: 0.0, {"act": "relu", "w": 1.0}, grad=lambda p: p)


def test_gradient_with_other_keys_names_missing_and_unexpected() -> None:
    with pytest.raises(ModelError, match=r"missing \['b'\], unexpected \['db'\]"):
        gradcheck.check(
            lambda p: p["w"] * p["b"], {"w": 1.0, "b": 2.0}, grad=lambda p: {"w": 2.0, "db": 1.0}
        )


def test_non_scalar_and_non_finite_values_are_explained() -> None:
    with pytest.raises(ModelError, match=r"f returned str"):
        gradcheck.check(lambda x: "loss", 1.0, grad=lambda x: 1.0)
    with pytest.raises(ModelError, match=r"f is nan at the start point"):
        gradcheck.check(lambda x: math.nan, 1.0, grad=lambda x: 1.0)
    with pytest.raises(ModelError, match=r"f is inf at the start point"):
        gradcheck.check(lambda x: math.inf, 1.0, grad=lambda x: 1.0)


def test_non_finite_parameter_is_rejected() -> None:
    with pytest.raises(InvalidArgument, match=r"parameter p\[1\] is nan"):
        gradcheck.check(lambda p: p[0], [1.0, math.nan], grad=lambda p: [1.0, 0.0])


class Value:
    """A scalar autodiff value in the style of micrograd (data, grad, backward)."""

    def __init__(self, data: float, children: tuple[Value, ...] = (), label: str = "") -> None:
        self.data = data
        self.grad = 0.0
        self.label = label
        self._children = children
        self._backward: Callable[[], None] = lambda: None

    def __add__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))

        def backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))

        def backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = backward
        return out

    def tanh(self, slip: bool = False) -> Value:
        t = math.tanh(self.data)
        out = Value(t, (self,))

        def backward() -> None:
            self.grad += (1 - t if slip else 1 - t * t) * out.grad

        out._backward = backward
        return out

    def backward(self) -> None:
        order: list[Value] = []
        seen: set[int] = set()

        def visit(v: Value) -> None:
            if id(v) not in seen:
                seen.add(id(v))
                for c in v._children:
                    visit(c)
                order.append(v)

        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()


def _neuron(slip: bool = False) -> tuple[list[Value], object]:
    w1, w2, b = Value(0.3, label="w1"), Value(-0.8, label="w2"), Value(0.1, label="b")

    def loss() -> Value:
        total = Value(0.0)
        for (x1, x2), y in (((0, 0), 0), ((0, 1), 0), ((1, 0), 0), ((1, 1), 1)):
            a = (w1 * x1 + w2 * x2 + b).tanh(slip)
            d = a + (-y)
            total = total + d * d
        return total

    return [w1, w2, b], loss


def test_micrograd_style_values_are_checked_through_backward() -> None:
    params, loss = _neuron()
    report = gradcheck.check(loss, params)
    assert report.ok
    assert report.labels == ("w1", "w2", "b")


def test_micrograd_slip_in_tanh_backward_is_flagged_and_values_restored() -> None:
    params, loss = _neuron(slip=True)
    params[0].grad = 7.0  # a stale gradient the user had
    report = gradcheck.check(loss, params)
    assert not report.ok
    assert report.counts["mismatch"] == 3
    assert [p.data for p in params] == [0.3, -0.8, 0.1]
    assert [p.grad for p in params] == [7.0, 0.0, 0.0]


def test_micrograd_values_with_a_grad_function_are_refused() -> None:
    params, loss = _neuron()
    with pytest.raises(InvalidArgument, match="carry their own gradients"):
        gradcheck.check(loss, params, grad=lambda p: p)


def test_f_without_a_return_value_is_explained() -> None:
    def forgot(x: float) -> None:
        x * x

    with pytest.raises(ModelError, match=r"f returned None .*is a return statement missing"):
        gradcheck.check(forgot, 1.0, grad=lambda x: 2 * x)


def test_the_same_value_object_twice_is_refused() -> None:
    params, loss = _neuron()
    with pytest.raises(InvalidArgument, match=r"parameters \[0\] and \[3\] are the same object"):
        gradcheck.check(loss, [*params, params[0]])


def test_a_failing_backward_is_reported_as_backward_not_as_a_gradient_function() -> None:
    w = Value(0.5, label="w")

    class Broken(Value):
        def backward(self) -> None:
            raise RuntimeError("no rule for tanh")

    with pytest.raises(
        ModelError, match=r"^loss\.backward\(\) raised RuntimeError .*no rule for tanh"
    ) as info:
        gradcheck.check(lambda: Broken((w * w).data), [w])
    assert "gradient function" not in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert (w.data, w.grad) == (0.5, 0.0)


@pytest.mark.parametrize(("grad", "what"), [(1j, "complex"), ("2.0", "a str")])
def test_a_backward_that_leaves_no_real_grad_is_refused(grad: object, what: str) -> None:
    w = Value(0.5, label="w")

    class Odd(Value):
        def backward(self) -> None:
            w.grad = grad  # type: ignore[assignment]

    with pytest.raises(ModelError, match=rf"w\.grad is {what} .* after loss\.backward\(\)"):
        gradcheck.check(lambda: Odd((w * w).data), [w])
    assert (w.data, w.grad) == (0.5, 0.0)


def test_micrograd_parameters_as_a_generator_are_refused_with_the_fix() -> None:
    params, loss = _neuron()
    with pytest.raises(InvalidArgument, match=r"is a generator .*read only once: pass list\("):
        gradcheck.check(loss, (p for p in params))
