"""ParameterTree on its own: leaves named and copied, arguments handed out, gradients read.

tests/test_containers.py checks the same machinery end to end through ``gradcheck.check``
(what f receives, notes in the report, refusals of whole parameter sets). These tests hold
the tree's own promises: the storage is a copy of the user's values, every argument is a
new structure of the user's types around that storage, ``rebound`` names the entry f
assigned to, ``build`` and ``flatten_gradient`` are inverse walks over the same structure,
and every refusal names the offending entry.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import pytest

from gradcheck import InvalidArgument, ModelError
from gradcheck._tree import (
    ParameterTree,
    first_argument_name,
    has_array_leaf,
    is_parameter_container,
    refuse_unsupported_container,
)


class Point(NamedTuple):
    W: np.ndarray
    b: float


class Pair(NamedTuple):
    x: float
    y: float


@dataclasses.dataclass
class Layer:
    W: np.ndarray
    b: float


def _flat(tree: ParameterTree) -> np.ndarray:
    return np.concatenate([p.values.astype(np.float64) for p in tree.parameters])


# -- leaves: names, shapes, storage --------------------------------------------------------

W = np.arange(6.0).reshape(2, 3)

NAMED = {
    "float": (0.5, [("p", ())]),
    "array": (W, [("p", (2, 3))]),
    "dict": ({"W": W, "b": 0.5}, [("W", (2, 3)), ("b", ())]),
    "list": ([W, 0.5], [("p[0]", (2, 3)), ("p[1]", ())]),
    "tuple": ((W, W), [("p[0]", (2, 3)), ("p[1]", (2, 3))]),
    "namedtuple": (Point(W, 0.5), [("p.W", (2, 3)), ("p.b", ())]),
    "dataclass": (Layer(W, 0.5), [("p.W", (2, 3)), ("p.b", ())]),
    "MappingProxyType": (MappingProxyType({"w": 1.0}), [("w", ())]),
    "flat list of numbers": ([1.0, 2.0, 3.0], [("p", (3,))]),
    "flat tuple of numbers": ((1.0, 2.0), [("p", (2,))]),
    "namedtuple of numbers": (Pair(1.0, 2.0), [("p.x", ()), ("p.y", ())]),
    "nested": (
        {"enc": {"W": W}, "layers": [Layer(W, 0.5), Point(W, 1.5)]},
        [
            ("enc.W", (2, 3)),
            ("layers[0].W", (2, 3)),
            ("layers[0].b", ()),
            ("layers[1].W", (2, 3)),
            ("layers[1].b", ()),
        ],
    ),
}


@pytest.mark.parametrize("kind", list(NAMED))
def test_every_leaf_is_a_parameter_named_by_its_place(kind: str) -> None:
    params, expected = NAMED[kind]
    tree = ParameterTree(params, root="p")
    assert [(p.name, p.shape) for p in tree.parameters] == expected


def test_the_root_is_named_x_unless_told() -> None:
    assert [p.name for p in ParameterTree([1.0, W]).parameters] == ["x[0]", "x[1]"]


def test_storage_is_a_copy_in_c_order_and_the_users_dtype() -> None:
    """Writes to the storage (the engine's perturbations) never reach the user's arrays,
    and a Fortran-ordered or float32 array keeps its values and dtype in C order."""
    fortran = np.asfortranarray(W)
    single = np.array([1.5, -2.0], dtype=np.float32)
    tree = ParameterTree({"F": fortran, "s": single})
    F, s = tree.parameters
    assert F.values.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert s.values.dtype == np.float32
    F.values[:] = -1.0
    s.values[:] = -1.0
    assert fortran.tolist() == W.tolist()
    assert single.tolist() == [1.5, -2.0]


def test_numbers_become_float64_parameters_in_the_order_of_the_structure() -> None:
    tree = ParameterTree({"a": 1, "W": W, "v": [2.0, 3.0], "b": np.float32(4.0)})
    assert [p.values.dtype for p in tree.parameters] == [np.float64] * 4
    assert _flat(tree).tolist() == [1.0, *W.ravel().tolist(), 2.0, 3.0, 4.0]


# -- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"W": W, "b": 0.5},
        collections.OrderedDict(W=W, b=0.5),
        collections.defaultdict(float, W=W, b=0.5),
        MappingProxyType({"W": W, "b": 0.5}),
        [W, 0.5],
        (W, 0.5),
        Point(W, 0.5),
        Layer(W, 0.5),
    ],
    ids=lambda p: type(p).__name__,
)
def test_arguments_are_the_users_type_around_the_storage(params: Any) -> None:
    """Arrays are views of the storage (a perturbation shows through at once); numbers
    are Python floats of the storage as it was when the argument was handed out."""
    tree = ParameterTree(params, root="p")
    first: Any = tree.argument()
    assert type(first) is type(params)
    W_, b = tree.parameters
    W_.values[0] = 10.0
    b.values[0] = -0.25
    second: Any = tree.argument()
    if isinstance(params, Mapping):
        array, before, after = first["W"], first["b"], second["b"]
    elif isinstance(params, Layer | Point):
        array, before, after = first.W, first.b, second.b
    else:
        array, before, after = first[0], first[1], second[1]
    assert array[0, 0] == 10.0
    assert np.shares_memory(array, W_.values)
    assert (type(before), before, type(after), after) == (float, 0.5, float, -0.25)


def test_a_defaultdicts_factory_survives_in_every_argument() -> None:
    tree = ParameterTree(collections.defaultdict(lambda: 7.0, {"w": 0.5}))
    argument: Any = tree.argument()
    assert argument["unset"] == 7.0  # the factory filled in a key, in this argument only
    later: Any = tree.argument()
    assert "unset" not in later
    assert later["other"] == 7.0


def test_every_argument_is_a_fresh_structure() -> None:
    """What f does to the containers it received (assign, append, add a key) reaches no
    later argument; numbers in a list are a fresh list each time."""
    tree = ParameterTree({"W": W, "layers": [{"b": 1.0}], "v": [2.0, 3.0]})
    first: Any = tree.argument()
    first["W"] = np.zeros(3)
    first["new"] = 1.0
    first["layers"][0]["b"] = -5.0
    first["layers"].append({})
    first["v"][0] = -5.0
    second: Any = tree.argument()
    assert set(second) == {"W", "layers", "v"}
    assert np.shares_memory(second["W"], tree.parameters[0].values)
    assert second["layers"] == [{"b": 1.0}]
    assert second["v"] == [2.0, 3.0]


REBINDINGS: dict[str, tuple[object, Callable[[Any], object], str]] = {
    "dict entry": ({"W": W}, lambda p: p.__setitem__("W", W + 1), "p['W']"),
    "dict key added": ({"W": W}, lambda p: p.__setitem__("new", 1.0), "p['new']"),
    "nested entry": (
        {"layers": [{"W": W}, {"W": W}]},
        lambda p: p["layers"][1].__setitem__("W", W),
        "p['layers'][1]['W']",
    ),
    "list appended": ([W, 1.0], lambda p: p.append(2.0), "p[2]"),
    "number in a list of numbers": ([1.0, 2.0], lambda p: p.__setitem__(1, float("2")), "p[1]"),
    "dataclass field": (Layer(W, 0.5), lambda p: setattr(p, "b", float("0.5")), "p.b"),
}


@pytest.mark.parametrize("case", list(REBINDINGS))
def test_rebound_names_the_entry_f_assigned_to(case: str) -> None:
    """Assigning even an equal value (a new object) rebinds the entry: identity, not
    value, is compared."""
    params, assign, where = REBINDINGS[case]
    tree = ParameterTree(params, root="p")
    argument = tree.argument(watch=True)
    assert tree.rebound() is None
    assign(argument)
    assert tree.rebound() == where


def test_rebound_is_none_for_an_unwatched_argument() -> None:
    tree = ParameterTree({"W": W}, root="p")
    tree.argument(watch=True)
    argument: Any = tree.argument()
    argument["W"] = W
    assert tree.rebound() is None


# -- build and flatten_gradient: walks over the same structure -------------------------------


def test_build_puts_the_structure_around_other_storages() -> None:
    """Given one array per parameter (complex ones, for the complex step), build returns
    the user's structure with arrays in each parameter's shape, numbers as Python
    scalars and lists and tuples of numbers as lists and tuples."""
    tree = ParameterTree({"W": W, "b": 0.5, "v": [1.0, 2.0], "t": (3.0,), "p": Point(W, 1.0)})
    storages = [p.values.astype(np.complex128) + 1j for p in tree.parameters]
    built: Any = tree.build(storages)
    assert type(built) is dict
    assert built["W"].shape == (2, 3)
    assert built["W"][1, 2] == 5 + 1j
    assert type(built["b"]) is complex
    assert built["b"] == 0.5 + 1j
    assert built["v"] == [1 + 1j, 2 + 1j]
    assert built["t"] == (3 + 1j,)
    assert type(built["p"]) is Point
    assert built["p"].b == 1 + 1j


def test_a_gradient_in_the_parameters_structure_flattens_in_their_order() -> None:
    """The parameters themselves, read as a gradient, give the flat values: one row (a
    scalar model), the columns in the parameters' order. So do the structures that
    ``argument`` and ``build`` produce, since they walk the same tree."""
    params = {"W": W, "b": 0.5, "v": [1.0, 2.0], "p": Point(-W, 1.0), "l": Layer(2 * W, 3.0)}
    tree = ParameterTree(params)
    flat = _flat(tree)
    for grad in (params, tree.argument(), tree.build([p.values for p in tree.parameters])):
        assert tree.flatten_gradient(grad).tolist() == [flat.tolist()]


def test_a_vector_models_gradient_has_one_row_per_output() -> None:
    """With outputs of shape (2, 2), each leaf is (2, 2, *shape): m = 4 rows, C order."""
    tree = ParameterTree({"W": np.ones((2, 3)), "b": 0.5})
    jW = np.arange(24.0).reshape(2, 2, 2, 3)
    jb = np.array([[100.0, 101.0], [102.0, 103.0]])
    flat = tree.flatten_gradient({"W": jW, "b": jb})
    assert flat.shape == (4, 7)
    assert flat[:, :6].tolist() == jW.reshape(4, 6).tolist()
    assert flat[:, 6].tolist() == [100.0, 101.0, 102.0, 103.0]


def test_a_dataclass_gradient_may_be_another_dataclass_with_the_same_fields() -> None:
    @dataclasses.dataclass
    class Grad:
        b: float
        W: np.ndarray

    tree = ParameterTree(Layer(W, 0.5))
    assert tree.flatten_gradient(Grad(b=7.0, W=W)).tolist() == [[*W.ravel().tolist(), 7.0]]


def test_a_leaf_off_only_by_unit_axes_is_read_with_a_note() -> None:
    notes: list[str] = []
    tree = ParameterTree({"W": np.ones((2, 3))})
    flat = tree.flatten_gradient({"W": W[None, :, None, :]}, "grad(p)", notes.append)
    assert flat.tolist() == [W.ravel().tolist()]
    assert notes == [
        "grad(p)['W'] has shape (1, 2, 1, 3) for parameter W of shape (2, 3); it was read as "
        "shape (2, 3), since the two differ only in axes of length 1 (a keepdims=True left "
        "in?). Return the parameter's own shape to make this note go away"
    ]
    assert tree.flatten_gradient({"W": W[None]}).shape == (1, 6)  # no note asked for


GRADIENT_ERRORS = {
    "missing key": (
        {"W": W, "b": 0.5},
        {"W": W},
        r"^grad has keys \['W'\], expected \['W', 'b'\] like the parameters "
        r"\(missing \['b'\], unexpected \[\]\)$",
    ),
    "unexpected key": (
        {"W": W},
        {"W": W, "c": 1.0},
        r"\(missing \[\], unexpected \['c'\]\)$",
    ),
    "list for a dict": (
        {"W": W},
        [W],
        r"^grad is a list; expected a dict with keys \['W'\] like the parameters$",
    ),
    "another length": (
        [W, 0.5],
        [W, 0.5, 1.0],
        r"^grad is a list of length 3; expected a sequence of 2 items like the parameters$",
    ),
    "number for a list": (
        [W, 0.5],
        1.0,
        r"^grad is a float of length no; expected a sequence of 2 items",
    ),
    "transposed leaf": (
        {"W": W},
        {"W": W.T},
        r"^grad\['W'\] has shape \(3, 2\), expected \(2, 3\) like parameter W of shape "
        r"\(2, 3\) \(transposed\?\)\. Return each parameter's gradient in that parameter's "
        r"shape$",
    ),
    "one leaf with other output axes": (
        {"a": np.ones(2), "b": np.ones(2), "c": np.ones(2)},
        {"a": np.ones((4, 2)), "b": np.ones((4, 2)), "c": np.ones((5, 2))},
        r"^grad\['c'\] has shape \(5, 2\), expected \(4, 2\) like parameter c of shape \(2,\) "
        r"\(the other entries of grad carry leading output axes \(4,\)",
    ),
    "not numbers": (
        {"W": W},
        {"W": object()},
        r"^grad\['W'\] is object \(<object object at .*>\), not numbers; expected real "
        r"numbers of shape \(2, 3\) like parameter W$",
    ),
    "nested leaf": (
        {"layers": [Layer(W, 0.5)]},
        {"layers": [{"W": W, "b": "0.5"}]},
        r"^grad\['layers'\]\[0\]\.b holds strings",
    ),
}


@pytest.mark.parametrize("case", list(GRADIENT_ERRORS))
def test_a_gradient_that_does_not_fit_is_refused_naming_the_entry(case: str) -> None:
    params, grad, message = GRADIENT_ERRORS[case]
    with pytest.raises(ModelError, match=message):
        ParameterTree(params).flatten_gradient(grad)


# -- refusals at construction ----------------------------------------------------------------


class CopiesAsDict(dict[str, float]):
    def __copy__(self) -> dict[str, float]:
        return dict(self)


class CannotCopy(dict[str, float]):
    def __copy__(self) -> CannotCopy:
        raise RuntimeError("no copies")


PARAMETER_ERRORS = {
    "integer array": (
        {"W": np.arange(3, dtype=np.int64)},
        r"^parameter W is an array of dtype int64; gradients need a floating dtype: pass "
        r"W\.astype\(float\) \(or float32\)$",
    ),
    "bool": ({"on": True}, r"^parameter on is a bool \(True\); parameters must be real numbers"),
    "None": ([1.0, None], r"^parameter p\[1\] is a NoneType \(None\); parameters must be"),
    "NaN element": (
        {"W": np.array([[0.0, 1.0], [np.nan, 2.0]])},
        r"^parameter W\[1, 0\] is nan; gradients can only be checked at a point where every "
        r"parameter is finite$",
    ),
    "infinite number": (Pair(1.0, -np.inf), r"^parameter p\.y is -inf; "),
    "a copy of another type": (
        CopiesAsDict(w=1.0),
        r"^parameter p is a CopiesAsDict, but copying it gives a dict; convert it to a dict, "
        r"list or tuple$",
    ),
    "a copy that fails": (
        CannotCopy(w=1.0),
        r"^parameter p is a CannotCopy that gradcheck could not copy \(RuntimeError: no "
        r"copies\); convert it to a dict, list or tuple$",
    ),
}


@pytest.mark.parametrize("case", list(PARAMETER_ERRORS))
def test_parameters_that_cannot_be_checked_are_refused_naming_the_entry(case: str) -> None:
    params, message = PARAMETER_ERRORS[case]
    with pytest.raises(InvalidArgument, match=message):
        ParameterTree(params, root="p")


# -- containers before a tree is built ----------------------------------------------------


def _numbers() -> Iterator[float]:
    yield 1.0


@pytest.mark.parametrize(
    ("obj", "fix"),
    [
        (
            {1.0},
            "a set has no order, so its elements cannot be named or matched with a "
            "gradient: pass a list (sorted(params['s'])) or a dict",
        ),
        (iter([1.0]), "it can be read only once: pass list(params['s'])"),
        (_numbers(), "it can be read only once: pass list(params['s'])"),
        (
            collections.ChainMap({"a": 1.0}),
            "gradcheck cannot rebuild this mapping type: pass dict(params['s'])",
        ),
        (range(3), "gradcheck cannot rebuild this sequence type: pass list(params['s'])"),
    ],
    ids=["set", "iterator", "generator", "ChainMap", "range"],
)
def test_refused_containers_are_named_with_their_fix(obj: object, fix: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        refuse_unsupported_container(obj, "params['s']")
    message = str(info.value)
    assert message.startswith(f"parameter params['s'] is a {type(obj).__name__} (")
    assert f"); {fix}. Supported parameters: real numbers and floating NumPy arrays" in message


def test_a_refused_containers_repr_is_cut_short() -> None:
    """A set of a thousand numbers is shown by its first 60 characters, not all of them."""
    with pytest.raises(InvalidArgument) as info:
        refuse_unsupported_container(set(range(1000)), "p")
    shown = str(info.value).removeprefix("parameter p is a set (").split(");")[0]
    assert shown == repr(set(range(1000)))[:60]


@pytest.mark.parametrize(
    "obj",
    [{}, [], (), Point(W, 0.5), Layer(W, 0.5), "text", b"bytes", 1.0, W, None],
    ids=lambda o: type(o).__name__,
)
def test_supported_containers_and_non_containers_pass_the_refusal(obj: object) -> None:
    """Only containers gradcheck cannot rebuild are refused here; a str or a number is not
    a container at all, and ParameterTree refuses it as a leaf instead."""
    refuse_unsupported_container(obj, "p")


def test_is_parameter_container_takes_instances_of_the_supported_containers() -> None:
    supported = [{}, collections.OrderedDict(), MappingProxyType({}), [], (), Pair(1.0, 2.0)]
    assert all(is_parameter_container(obj) for obj in [*supported, Layer(W, 0.5)])
    others = [Layer, {1.0}, "text", W, 1.0]  # Layer: the dataclass itself, not an instance
    assert not any(is_parameter_container(obj) for obj in others)


def test_has_array_leaf_looks_through_every_container() -> None:
    assert has_array_leaf(W)
    assert has_array_leaf({"layers": [Layer(0.5 * W, 0.5)]})
    assert not has_array_leaf({"layers": [Pair(1.0, 2.0)], "v": [1.0, 2.0]})
    assert not has_array_leaf({W.tobytes()})  # not a container it takes


def test_first_argument_name_names_unnamed_leaves_after_f() -> None:
    class Model:
        def loss(self, params: object) -> float:
            return 0.0

    def keyword_only(*, p: object) -> float:
        return 0.0

    def variadic(*args: object) -> float:
        return 0.0

    assert first_argument_name(lambda w, b: 0.0) == "w"
    assert first_argument_name(Model().loss) == "params"  # self is bound
    assert first_argument_name(len) == "obj"  # positional-only
    assert first_argument_name(keyword_only) == "x"
    assert first_argument_name(variadic, default="p") == "p"
    assert first_argument_name(3.0) == "x"  # no signature at all
