"""Parameter containers: which ones are accepted, rebuilt as the user's types, and what f may do.

An f receives a fresh structure of the user's own types at every evaluation; assigning to
an entry of it (``p["W"] = ...``) must not hide later perturbations, and is noted. The
user's own container is never changed: not its entries' identity, not a bit of a value.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import pytest

import gradcheck
from gradcheck import InvalidArgument, ModelError, Verdict

WEIGHTS = np.array([1.0, 2.0, 3.0])


def _centred_loss(W: np.ndarray) -> float:
    centred = W - W.mean()
    return float(np.sum(WEIGHTS * centred**2))


def _centred_grad(W: np.ndarray) -> np.ndarray:
    g = 2 * WEIGHTS * (W - W.mean())
    centred: np.ndarray = g - g.mean()
    return centred


def _snapshot(obj: object) -> object:
    """Identity and bytes of every entry, to compare after a check."""
    if isinstance(obj, np.ndarray):
        return (id(obj), obj.dtype, obj.shape, obj.tobytes())
    if isinstance(obj, Mapping):
        return (id(obj), type(obj), [(k, _snapshot(v)) for k, v in obj.items()])
    if isinstance(obj, list | tuple):
        return (id(obj), type(obj), [_snapshot(v) for v in obj])
    if dataclasses.is_dataclass(obj):
        return (
            id(obj),
            type(obj),
            [(f.name, _snapshot(getattr(obj, f.name))) for f in dataclasses.fields(obj)],
        )
    return (id(obj), repr(obj))


# -- f that assigns to an entry of its argument ----------------------------------------


def test_f_that_rebinds_a_dict_entry_still_sees_every_perturbation_and_is_noted() -> None:
    def f(p: dict[str, np.ndarray]) -> float:
        p["W"] = p["W"] - p["W"].mean()  # rebinds the entry: a new array each call
        return float(np.sum(WEIGHTS * p["W"] ** 2)) + float(np.sum(p["b"] ** 2))

    def df(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"W": _centred_grad(p["W"]), "b": 2 * p["b"]}

    params = {"W": np.array([1.0, 2.0, 4.0]), "b": np.array([0.5, -1.0])}
    before = _snapshot(params)
    report = gradcheck.check(f, params, grad=df)
    assert report.ok, report
    assert report.counts["ok"] == 5
    notes = [w for w in report.metadata.warnings if "p['W']" in w]
    assert len(notes) == 1
    assert "work on a copy" in notes[0]
    assert _snapshot(params) == before


def test_f_that_rebinds_a_list_entry_or_a_dataclass_field_is_checked_correctly() -> None:
    @dataclasses.dataclass
    class Layer:
        W: np.ndarray

    def f_list(p: list[np.ndarray]) -> float:
        p[0] = p[0] * 1.0
        return _centred_loss(p[0])

    def f_field(p: Layer) -> float:
        p.W = p.W.copy()
        return _centred_loss(p.W)

    as_list = [np.array([1.0, 2.0, 4.0])]
    report = gradcheck.check(f_list, as_list, grad=lambda p: [_centred_grad(p[0])])
    assert report.ok, report
    assert any("p[0]" in w for w in report.metadata.warnings)

    layer = Layer(np.array([1.0, 2.0, 4.0]))
    original = layer.W
    report = gradcheck.check(f_field, layer, grad=lambda p: Layer(_centred_grad(p.W)))
    assert report.ok, report
    assert any("p.W" in w for w in report.metadata.warnings)
    assert layer.W is original
    assert np.array_equal(layer.W, [1.0, 2.0, 4.0])


def test_rebinding_a_number_in_a_nested_dict_is_noted_by_its_path() -> None:
    def f(p: dict[str, Any]) -> float:
        p["layer"]["w"] = p["layer"]["w"] + 0.0
        value: float = p["layer"]["w"] ** 2 + p["b"]
        return value

    params = {"layer": {"w": 1.5}, "b": 2.0}
    report = gradcheck.check(
        f, params, grad=lambda p: {"layer": {"w": 2 * p["layer"]["w"]}, "b": 1.0}
    )
    assert report.ok
    assert any("p['layer']['w']" in w for w in report.metadata.warnings)
    assert params == {"layer": {"w": 1.5}, "b": 2.0}


def test_a_gradient_function_that_rebinds_its_argument_is_noted() -> None:
    def df(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        p["W"] = p["W"].copy()
        return {"W": 2 * p["W"]}

    report = gradcheck.check(lambda p: float(np.sum(p["W"] ** 2)), {"W": np.ones(2)}, grad=df)
    assert report.ok
    assert any(
        w.startswith("the gradient function rebinds p['W'] in the argument it receives")
        for w in report.metadata.warnings
    )


def test_f_that_adds_keys_or_appends_is_noted_and_harmless() -> None:
    def f(p: dict[str, float]) -> float:
        p["cache"] = p["w"] ** 2
        return p["cache"]

    report = gradcheck.check(f, {"w": 0.5}, grad=lambda p: {"w": 2 * p["w"]})
    assert report.ok
    assert any("p['cache']" in w for w in report.metadata.warnings)

    def g(q: list[float]) -> float:
        q.append(0.0)
        return sum(v * v for v in q)

    report = gradcheck.check(g, [0.5, 1.5], grad=lambda q: [2 * v for v in q[:2]])
    assert report.ok
    assert any("q[2]" in w for w in report.metadata.warnings)


def test_f_without_assignments_gets_no_note() -> None:
    report = gradcheck.check(lambda p: p["w"] ** 2, {"w": 0.5}, grad=lambda p: {"w": 2 * p["w"]})
    assert report.ok
    assert not report.metadata.warnings


def test_user_container_is_untouched_when_a_rebinding_f_raises() -> None:
    calls = []

    def f(p: dict[str, Any]) -> float:
        calls.append(1)
        p["W"] = p["W"] + 1.0
        p["w"] = -1.0
        if len(calls) > 5:
            raise RuntimeError("boom")
        value: float = float(np.sum(p["W"] ** 2)) + p["w"]
        return value

    params = {"W": np.array([1.0, -0.0, np.pi]), "w": 0.25}
    before = _snapshot(params)
    with pytest.raises(ModelError, match="boom"):
        gradcheck.check(f, params, grad=lambda p: {"W": 2 * p["W"], "w": 1.0})
    assert _snapshot(params) == before


# -- the containers f receives ----------------------------------------------------------


class Point(NamedTuple):
    W: np.ndarray
    b: float


@dataclasses.dataclass
class Params:
    W: np.ndarray
    b: float


@dataclasses.dataclass(frozen=True, slots=True)
class FrozenParams:
    W: np.ndarray
    b: float


def _loss(p: Any) -> float:
    W, b = (p["W"], p["b"]) if isinstance(p, Mapping) else (p.W, p.b)
    loss: float = float(np.sum(np.sin(W) * W)) + b**3
    return loss


def _grad(p: Any) -> dict[str, Any]:
    W, b = (p["W"], p["b"]) if isinstance(p, Mapping) else (p.W, p.b)
    return {"W": np.cos(W) * W + np.sin(W), "b": 3 * b**2}


def _gradient(kind: Callable[..., Any], b_slip: float = 0.0) -> Callable[[Any], Any]:
    """grad(p) returned as ``kind`` (dict for any mapping); ``b_slip`` plants an error in b."""

    def grad(p: Any) -> Any:
        g = _grad(p)
        g["b"] += b_slip
        return g if kind is dict else kind(**g)

    return grad


W0 = np.array([[0.3, -1.2], [2.0, 0.7]])
CONTAINERS: dict[str, tuple[Callable[[], object], Callable[..., Any], str, str]] = {
    "namedtuple": (lambda: Point(W0.copy(), 0.5), Point, "p.W[0, 1]", "p.b"),
    "dataclass": (lambda: Params(W0.copy(), 0.5), Params, "p.W[0, 1]", "p.b"),
    "frozen slotted dataclass": (
        lambda: FrozenParams(W0.copy(), 0.5),
        FrozenParams,
        "p.W[0, 1]",
        "p.b",
    ),
    "OrderedDict": (lambda: collections.OrderedDict(W=W0.copy(), b=0.5), dict, "W[0, 1]", "b"),
    "defaultdict": (
        lambda: collections.defaultdict(float, W=W0.copy(), b=0.5),
        dict,
        "W[0, 1]",
        "b",
    ),
    "MappingProxyType": (
        lambda: MappingProxyType({"W": W0.copy(), "b": 0.5}),
        dict,
        "W[0, 1]",
        "b",
    ),
}


@pytest.mark.parametrize("kind", list(CONTAINERS))
def test_containers_are_rebuilt_as_the_users_type_and_named_like_the_rest(kind: str) -> None:
    make, grad_kind, w_label, b_label = CONTAINERS[kind]
    params = make()
    before = _snapshot(params)
    seen: list[type] = []

    def f(p: Any) -> float:
        seen.append(type(p))
        return _loss(p)

    report = gradcheck.check(f, params, grad=_gradient(grad_kind))
    assert report.ok, report
    assert set(seen) == {type(params)}
    assert w_label in report.labels
    assert b_label in report.labels
    assert _snapshot(params) == before
    wrong = gradcheck.check(f, make(), grad=_gradient(grad_kind, b_slip=0.1))
    assert [e.name for e in wrong.elements(Verdict.MISMATCH)] == [b_label]


def test_namedtuple_of_floats_and_defaultdict_keep_their_behaviour_in_f() -> None:
    class Pair(NamedTuple):
        x: float
        y: float

    report = gradcheck.check(
        lambda p: p.x * p.y**2, Pair(1.5, -2.0), grad=lambda p: Pair(p.y**2, 2 * p.x * p.y)
    )
    assert report.ok
    assert report.labels == ("p.x", "p.y")

    params = collections.defaultdict(lambda: 0.0, {"w": 0.5})
    report = gradcheck.check(
        lambda p: p["w"] ** 2 + p["unset"], params, grad=lambda p: {"w": 2 * p["w"]}
    )
    assert report.ok
    assert dict(params) == {"w": 0.5}  # the user's defaultdict gained no key


def test_dataclass_gradient_may_be_a_dict_of_its_fields() -> None:
    report = gradcheck.check(_loss, Params(W0.copy(), 0.5), grad=_grad)
    assert report.ok


def test_dataclass_gradient_of_another_structure_names_the_fields() -> None:
    with pytest.raises(
        ModelError,
        match=r"expected a Params \(or a dataclass or dict with the fields \['W', 'b'\]\)",
    ):
        gradcheck.check(_loss, Params(W0.copy(), 0.5), grad=lambda p: [p.W, p.b])


def test_containers_nested_in_each_other() -> None:
    @dataclasses.dataclass
    class Net:
        layers: list[Point]
        scale: dict[str, float]

    def f(net: Net) -> float:
        return sum(_loss(layer) for layer in net.layers) * net.scale["s"]

    def df(net: Net) -> Net:
        s = net.scale["s"]
        layers = [Point(**{k: v * s for k, v in _grad(layer).items()}) for layer in net.layers]
        return Net(layers, {"s": sum(_loss(layer) for layer in net.layers)})

    net = Net([Point(W0.copy(), 0.5), Point(-W0, 1.5)], {"s": 2.0})
    before = _snapshot(net)
    report = gradcheck.check(f, net, grad=df)
    assert report.ok, report
    assert "net.layers[1].W[1, 0]" in report.labels
    assert "net.scale.s" in report.labels
    assert _snapshot(net) == before


# -- containers that are refused ---------------------------------------------------------


class FrozenMapping(Mapping[str, float]):
    def __init__(self, **items: float) -> None:
        self._items = items

    def __getitem__(self, key: str) -> float:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def _generator() -> Iterator[float]:
    yield 1.0


REFUSED = {
    "set": ({1.0, 2.0}, r"p is a set .*no order.*pass a list \(sorted\(p\)\) or a dict"),
    "frozenset": (frozenset({1.0}), r"p is a frozenset .*pass a list"),
    "generator": (_generator(), r"p is a generator .*read only once: pass list\(p\)"),
    "map": (map(float, [1, 2]), r"p is a map .*pass list\(p\)"),
    "deque": (collections.deque([1.0, 2.0]), r"p is a deque .*pass list\(p\)"),
    "custom Mapping": (FrozenMapping(w=1.0), r"p is a FrozenMapping .*pass dict\(p\)"),
    "set in a dict": ({"w": 1.0, "s": {1.0}}, r"parameter s is a set"),
    "range in a list": ([1.0, range(3)], r"parameter p\[1\] is a range .*pass list\(p\[1\]\)"),
}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_unsupported_containers_are_refused_with_type_supported_and_fix(kind: str) -> None:
    params, message = REFUSED[kind]
    with pytest.raises(InvalidArgument, match=message) as info:
        gradcheck.check(lambda p: 0.0, params, grad=lambda p: p)
    assert "Supported parameters:" in str(info.value)
    assert "namedtuples or dataclass instances" in str(info.value)


def test_unsupported_container_of_arrays_is_refused_too() -> None:
    with pytest.raises(InvalidArgument, match=r"parameter p is a deque"):
        gradcheck.check(lambda p: 0.0, collections.deque([np.ones(2)]), grad=lambda p: p)


def test_a_dataclass_field_that_is_not_a_parameter_is_named() -> None:
    @dataclasses.dataclass
    class Layer:
        W: np.ndarray
        activation: str = "relu"

    with pytest.raises(InvalidArgument, match=r"parameter p\.activation is a str \('relu'\)"):
        gradcheck.check(lambda p: 0.0, Layer(np.ones(2)), grad=lambda p: p)


# -- gradient leaves: size-1 axes, complex numbers, strings --------------------------------


def test_gradient_leaf_with_extra_unit_axes_is_accepted_with_a_note() -> None:
    def df(p: dict[str, Any]) -> dict[str, Any]:
        return {
            "gamma": (2 * p["gamma"])[None, :],
            "beta": np.array([[2 * p["beta"]]]),
            "W": 2 * p["W"],
        }

    params = {"gamma": np.array([1.0, -2.0, 0.5]), "beta": 0.3, "W": np.ones((2, 1))}
    f = lambda p: float(np.sum(p["gamma"] ** 2) + p["beta"] ** 2 + np.sum(p["W"] ** 2))  # noqa: E731
    report = gradcheck.check(f, params, grad=df)
    assert report.ok, report
    notes = report.metadata.warnings
    assert any(
        "grad(params)['gamma'] has shape (1, 3) for parameter gamma of shape (3,)" in n
        for n in notes
    )
    assert any(
        "grad(params)['beta'] has shape (1, 1) for parameter beta of shape ()" in n for n in notes
    )
    assert len(notes) == 2


def test_gradient_leaf_with_missing_unit_axis_is_accepted_with_a_note() -> None:
    report = gradcheck.check(
        lambda p: float(np.sum(p["W"] ** 2)),
        {"W": np.ones((3, 1))},
        grad=lambda p: {"W": 2 * p["W"].ravel()},
    )
    assert report.ok
    assert any(
        "has shape (3,) for parameter W of shape (3, 1)" in n for n in report.metadata.warnings
    )


def test_vector_output_with_one_keepdims_leaf_keeps_its_output_axis() -> None:
    A = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]])

    def F(p: dict[str, np.ndarray]) -> np.ndarray:
        out: np.ndarray = A @ p["x"] + p["c"].sum()
        return out

    def J(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"x": A, "c": np.ones((3, 1, 2))}  # one extra unit axis in c's block

    report = gradcheck.check(F, {"x": np.array([0.2, -0.4]), "c": np.array([1.0, 2.0])}, grad=J)
    assert report.ok, report
    assert any("grad(params)['c'] has shape (3, 1, 2)" in n for n in report.metadata.warnings)


def test_gradient_leaf_of_another_shape_names_key_and_both_shapes() -> None:
    def df(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"gamma": np.ones((4, 3)), "W": 2 * p["W"]}  # a sum over the batch missing

    with pytest.raises(
        ModelError,
        match=r"grad\(params\)\['gamma'\] has shape \(4, 3\), expected \(3,\) like parameter "
        r"gamma of shape \(3,\) \(extra leading axes: is a sum over the batch axis missing\?\)",
    ):
        gradcheck.check(
            lambda p: float(np.sum(p["gamma"]) + np.sum(p["W"])),
            {"gamma": np.ones(3), "W": np.ones((2, 2))},
            grad=df,
        )


@pytest.mark.parametrize(
    "bad",
    [
        np.array([2.0 + 1j, 2.0]),
        np.array([2.0 + 0j, 2.0 + 0j]),
        [complex(2, 1), 2.0],
        2.0 + 1j,
    ],
    ids=["complex array", "complex dtype, zero imaginary", "list with a complex", "complex scalar"],
)
def test_complex_gradient_leaves_are_refused(bad: object) -> None:
    with pytest.raises(ModelError, match=r"grad\(params\)\['a'\] is complex .*a real gradient"):
        gradcheck.check(
            lambda p: float(np.sum(p["a"] ** 2)), {"a": np.ones(2)}, grad=lambda p: {"a": bad}
        )


@pytest.mark.parametrize("bad", ["2.0", ["2.0", "2.0"], np.array(["2", "2"]), [2.0, "2"]])
def test_string_gradient_leaves_are_refused_not_parsed(bad: object) -> None:
    with pytest.raises(
        ModelError, match=r"grad\(params\)\['a'\] holds strings .*return numbers, not their text"
    ):
        gradcheck.check(
            lambda p: float(np.sum(p["a"] ** 2)), {"a": np.ones(2)}, grad=lambda p: {"a": bad}
        )


def test_string_gradient_of_a_float_is_refused() -> None:
    with pytest.raises(ModelError, match=r"grad\(params\) holds strings"):
        gradcheck.check(lambda x: x * x, 1.0, grad=lambda x: "2.0")


# -- what f receives from evaluation to evaluation -------------------------------------------


def test_numbers_f_receives_follow_every_perturbation() -> None:
    seen: list[dict[str, float]] = []

    def f(p: dict[str, float]) -> float:
        seen.append(dict(p))
        return sum(math.sin(v) for v in p.values())

    params = {f"w{i}": 0.1 * i for i in range(6)}
    report = gradcheck.check(f, params, grad=lambda p: {k: math.cos(v) for k, v in p.items()})
    assert report.ok
    for key, start in params.items():  # every entry's perturbations reached f, and only f
        assert len({values[key] for values in seen}) >= 3
        assert params[key] == start
