"""Structured parameters: numbers and arrays in containers, copied, handed out and flattened.

A user's parameters come as a float, an array, or containers of those nested as deep as
they like: dicts (and subclasses such as ``OrderedDict`` and ``defaultdict``),
``MappingProxyType``, lists, tuples, namedtuples and dataclass instances.
:class:`ParameterTree` walks such a structure once, validates it, copies every leaf into
storage of its own (the user's objects are never written) and names every leaf (``W1``,
``layers[0].W``, ``p.W``, ``p``).

For each evaluation :meth:`ParameterTree.argument` hands out a fresh structure of the
user's own types around the storage: arrays as views of it, numbers as Python floats. A
private copy of the structure is kept in step with the storage, rebuilding only the
entries whose storage changed since the last call, and only the containers are copied for
each call (shallowly, at C speed). So an evaluation costs no per-leaf Python work, and an
f that assigns to an entry of its argument (``p["W"] = p["W"] - p["W"].mean()``) changes
its own copy, never what the next evaluation receives; :meth:`ParameterTree.rebound`
names such an assignment. A gradient returned in the same structure is flattened against
it, with an error that names the offending leaf and both shapes.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import operator
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from numbers import Real
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcheck.errors import InvalidArgument, ModelError
from gradcheck.problem import Parameter

__all__ = [
    "ParameterTree",
    "first_argument_name",
    "has_array_leaf",
    "is_parameter_container",
    "refuse_unsupported_container",
]

SUPPORTED = (
    "real numbers and floating NumPy arrays, held in dicts (also OrderedDict, defaultdict "
    "and other dict subclasses), MappingProxyType, lists, tuples, namedtuples or dataclass "
    "instances, nested as deep as needed"
)

_MISSING = object()


@dataclass(frozen=True, slots=True)
class _Leaf:
    index: int
    kind: str  # "number", "numbers" (a flat list or tuple of numbers) or "array"
    container: type  # list or tuple for "numbers"


class _Node:
    """One container: its kind, keys, children, and a private copy holding current leaves.

    ``master`` is of the user's type for ``mapping``, ``list`` and ``dataclass``, a dict
    for ``proxy``, and a list for ``tuple`` and ``namedtuple``. It is never handed out.
    """

    __slots__ = ("children", "container", "fresh", "keys", "kind", "master", "path")

    def __init__(
        self,
        kind: str,
        container: type,
        keys: tuple[Any, ...],
        children: tuple[_Node | _Leaf, ...],
        path: str,
    ) -> None:
        self.kind = kind
        self.container = container
        self.keys = keys
        self.children = children
        self.path = path  # how f writes this container: p, p['layers'], p.W
        # entries that get a new object in every argument: containers and lists of numbers
        self.fresh = tuple(
            i
            for i, c in enumerate(children)
            if isinstance(c, _Node) or (c.kind == "numbers" and c.container is list)
        )
        self.master: Any = None

    @property
    def assignable(self) -> bool:
        """Whether f can assign to an entry of what it receives."""
        return self.kind in ("mapping", "list", "dataclass")

    def start(self, obj: Any) -> None:
        if self.kind in ("mapping", "list", "dataclass"):
            self.master = copy.copy(obj)
        elif self.kind == "proxy":
            self.master = dict(obj)
        else:
            self.master = list(obj)

    def set(self, key: Any, value: object) -> None:
        if self.kind == "dataclass":
            object.__setattr__(self.master, key, value)
        elif self.kind == "namedtuple":
            self.master[self.keys.index(key)] = value
        else:
            self.master[key] = value

    def get(self, obj: Any, key: Any) -> object:
        """Entry ``key`` of ``obj`` (what this node emitted), or ``_MISSING``."""
        if self.kind == "dataclass":
            return getattr(obj, key, _MISSING)
        if self.kind == "list":
            return obj[key] if key < len(obj) else _MISSING
        return dict.get(obj, key, _MISSING)

    def emit(self, overrides: Sequence[tuple[Any, object]]) -> object:
        """A new container of the user's type: the master's entries, ``overrides`` replaced."""
        master = self.master
        if self.kind in ("mapping", "list"):
            new = master.copy() if type(master) in (dict, list) else copy.copy(master)
            for key, value in overrides:
                new[key] = value
            return new
        if self.kind == "dataclass":
            new = copy.copy(master)
            for key, value in overrides:
                object.__setattr__(new, key, value)
            return new
        items = master.copy()
        for key, value in overrides:
            items[self.keys.index(key) if self.kind == "namedtuple" else key] = value
        if self.kind == "proxy":
            return MappingProxyType(items)
        if self.kind == "tuple":
            return tuple(items)
        return self.container._make(items)  # type: ignore[attr-defined]


# what an argument handed out held: (container or list-of-numbers leaf, it, new entries)
_Watched = list[tuple[_Node | _Leaf, Any, dict[object, object]]]


def _is_number(obj: object) -> bool:
    return isinstance(obj, Real) and not isinstance(obj, bool | np.bool_)


def _container_kind(obj: object) -> str | None:
    if isinstance(obj, dict):
        return "mapping"
    if isinstance(obj, MappingProxyType):
        return "proxy"
    if type(obj) is tuple:
        return "tuple"
    if isinstance(obj, tuple) and hasattr(obj, "_fields") and hasattr(obj, "_make"):
        return "namedtuple"
    if isinstance(obj, list):
        return "list"
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return "dataclass"
    return None


def is_parameter_container(obj: object) -> bool:
    """Whether ``obj`` is a container :class:`ParameterTree` accepts (its leaves unchecked)."""
    return _container_kind(obj) is not None


def _entries(obj: Any, kind: str) -> list[tuple[object, object]]:
    if kind in ("mapping", "proxy"):
        return list(obj.items())
    if kind == "dataclass":
        return [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    if kind == "namedtuple":
        return list(zip(obj._fields, obj, strict=True))
    return list(enumerate(obj))


def has_array_leaf(obj: object) -> bool:
    """Whether a parameter structure holds at least one NumPy array."""
    if isinstance(obj, np.ndarray):
        return True
    kind = _container_kind(obj)
    return kind is not None and any(has_array_leaf(v) for _, v in _entries(obj, kind))


def refuse_unsupported_container(obj: object, name: str) -> None:
    """Raise :class:`InvalidArgument` if ``obj`` is a container gradcheck cannot rebuild.

    Sets, iterators and generators, mappings that are not dicts, and sequences that are
    not lists or tuples get a message naming the type, what is supported, and the fix.
    Anything else (supported, or not a container at all) passes.
    """
    if _container_kind(obj) is not None:
        return
    if isinstance(obj, Set):
        fix = (
            "a set has no order, so its elements cannot be named or matched with a "
            f"gradient: pass a list (sorted({name})) or a dict"
        )
    elif isinstance(obj, Iterator):
        fix = f"it can be read only once: pass list({name})"
    elif isinstance(obj, Mapping):
        fix = f"gradcheck cannot rebuild this mapping type: pass dict({name})"
    elif isinstance(obj, Sequence) and not isinstance(obj, str | bytes | bytearray):
        fix = f"gradcheck cannot rebuild this sequence type: pass list({name})"
    else:
        return
    raise InvalidArgument(
        f"parameter {name} is a {type(obj).__name__} ({obj!r:.60}); {fix}. Supported "
        f"parameters: {SUPPORTED}"
    )


def _child_name(parent: str, key: object, kind: str, at_root: bool) -> str:
    if kind in ("mapping", "proxy"):
        return str(key) if at_root else f"{parent}.{key}"
    if kind in ("dataclass", "namedtuple"):
        return f"{parent}.{key}"
    return f"{parent}[{key}]"


def _child_path(parent: str, key: object, kind: str) -> str:
    if kind in ("mapping", "proxy"):
        return f"{parent}[{key!r}]"
    if kind in ("dataclass", "namedtuple"):
        return f"{parent}.{key}"
    return f"{parent}[{key}]"


def _without_unit_axes(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


class ParameterTree:
    """A validated copy of a parameter structure, with storage the engine may perturb.

    Parameters
    ----------
    params : float, array, or nested containers of those
        The user's parameters. Leaves are real Python numbers or floating NumPy arrays;
        a flat list or tuple of numbers is one vector leaf. Containers: dicts and dict
        subclasses, ``MappingProxyType``, lists, tuples, namedtuples, dataclass instances.
    root : str
        Name of the whole structure (the function's argument name), used for leaves
        that are not under a dict key: ``p[1]``, ``params[0]``, ``p.W``.

    Raises
    ------
    InvalidArgument
        For a leaf that is not a real number or floating array, or a container gradcheck
        cannot rebuild (naming it, its type, and the fix), and for a non-finite element
        (naming the element).
    """

    def __init__(self, params: object, root: str = "x") -> None:
        self._leaves: list[_Leaf] = []
        self._slots: list[tuple[_Node | None, object]] = []  # where each leaf lives
        self._objects: list[Any] = []  # each leaf's current object: float, list, view
        self._paths: list[str] = []
        self._pending: list[tuple[str, tuple[int, ...], NDArray[Any]]] = []
        self._spec = self._walk(params, root, root, at_root=True)
        self._make_parameters()
        self._watched: _Watched = []

    # -- building ---------------------------------------------------------------------

    def _leaf(
        self,
        name: str,
        path: str,
        values: NDArray[Any],
        shape: tuple[int, ...],
        kind: str,
        container: type,
        obj: object,
    ) -> _Leaf:
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            label = Parameter(name, shape, values).label(int(bad[0]))
            raise InvalidArgument(
                f"parameter {label} is {values[bad[0]]}; gradients can only be checked at a "
                "point where every parameter is finite"
            )
        leaf = _Leaf(len(self._leaves), kind, container)
        self._leaves.append(leaf)
        self._slots.append((None, None))
        self._objects.append(obj)
        self._paths.append(path)
        self._pending.append((name, shape, values))
        return leaf

    def _walk(self, obj: object, name: str, path: str, at_root: bool) -> _Node | _Leaf:
        if isinstance(obj, np.ndarray):
            if not np.issubdtype(obj.dtype, np.floating):
                raise InvalidArgument(
                    f"parameter {name} is an array of dtype {obj.dtype}; gradients need a "
                    f"floating dtype: pass {name}.astype(float) (or float32)"
                )
            storage = np.array(obj, dtype=obj.dtype, order="C", copy=True).reshape(-1)
            view = storage.reshape(obj.shape)
            return self._leaf(name, path, storage, obj.shape, "array", np.ndarray, view)
        if _is_number(obj):
            value = float(obj)  # type: ignore[arg-type]
            return self._leaf(name, path, np.array([value]), (), "number", float, value)
        if (
            isinstance(obj, list | tuple)
            and type(obj) in (list, tuple)  # a namedtuple's numbers are named fields
            and obj
            and all(_is_number(v) for v in obj)
        ):
            floats = [float(v) for v in obj]
            value_obj = floats if type(obj) is list else tuple(floats)
            return self._leaf(
                name, path, np.array(floats), (len(floats),), "numbers", type(obj), value_obj
            )
        kind = _container_kind(obj)
        if kind is None:
            refuse_unsupported_container(obj, name)
            what = "a bool" if isinstance(obj, bool | np.bool_) else f"a {type(obj).__name__}"
            raise InvalidArgument(
                f"parameter {name} is {what} ({obj!r:.60}); parameters must be {SUPPORTED}"
            )
        entries = _entries(obj, kind)
        keys = tuple(k for k, _ in entries)
        children = tuple(
            self._walk(v, _child_name(name, k, kind, at_root), _child_path(path, k, kind), False)
            for k, v in entries
        )
        node = _Node(kind, type(obj), keys, children, path)
        try:
            node.start(obj)
            for key, child in zip(keys, children, strict=True):
                if isinstance(child, _Leaf):
                    self._slots[child.index] = (node, key)
                    node.set(key, self._objects[child.index])
                else:
                    node.set(key, self._emit(child, None, None))
            first = self._emit(node, None, None)
        except Exception as exc:
            raise InvalidArgument(
                f"parameter {name} is a {type(obj).__name__} that gradcheck could not copy "
                f"({type(exc).__name__}: {exc}); convert it to a dict, list or tuple"
            ) from exc
        if type(first) is not type(obj):
            raise InvalidArgument(
                f"parameter {name} is a {type(obj).__name__}, but copying it gives a "
                f"{type(first).__name__}; convert it to a dict, list or tuple"
            )
        return node

    def _make_parameters(self) -> None:
        """The Parameters; the storage of all number leaves is views of one float64 buffer."""
        numbers = [i for i, leaf in enumerate(self._leaves) if leaf.kind != "array"]
        sizes = [self._pending[i][2].size for i in numbers]
        buffer = np.concatenate([self._pending[i][2] for i in numbers] or [np.zeros(0)])
        starts = np.cumsum([0, *sizes], dtype=np.intp)
        for i, start, size in zip(numbers, starts[:-1].tolist(), sizes, strict=True):
            name, shape, _ = self._pending[i]
            self._pending[i] = (name, shape, buffer[start : start + size])
        self.parameters = [Parameter(name, shape, values) for name, shape, values in self._pending]
        self._numbers = buffer
        self._shown = buffer.copy()  # the values the private structure holds now
        self._number_leaf = np.repeat(np.array(numbers, dtype=np.intp), sizes)
        self._number_offset = np.arange(buffer.size) - np.repeat(starts[:-1], sizes)

    # -- handing out arguments --------------------------------------------------------

    def argument(self, watch: bool = False) -> object:
        """A fresh structure of the user's types around the current storage.

        Arrays are views of the storage (writes show through); numbers are Python floats
        of the storage's current values; every container is a new shallow copy, so that
        assignments to its entries reach no later argument. With ``watch``, what it holds
        is remembered for :meth:`rebound`.
        """
        self._sync()
        self._watched = []
        return self._emit(self._spec, None, self._watched if watch else None)

    def rebound(self) -> str | None:
        """Where the last watched argument was assigned to since, e.g. ``p['W']``; or None."""
        for spec, obj, expected in self._watched:
            if isinstance(spec, _Leaf):
                where = self._changed_numbers(spec, obj)
            else:
                where = self._changed_entry(spec, obj, expected)
            if where is not None:
                return where
        return None

    def build(self, storages: Sequence[NDArray[Any]]) -> object:
        """The structure rebuilt around ``storages`` (one array per parameter), e.g. complex."""

        def leaf_object(leaf: _Leaf) -> object:
            values = storages[leaf.index]
            if leaf.kind == "array":
                return values.reshape(self.parameters[leaf.index].shape)
            if leaf.kind == "number":
                return values.item()
            items = values.tolist()
            return items if leaf.container is list else tuple(items)

        return self._emit(self._spec, leaf_object, None)

    def _emit(
        self,
        spec: _Node | _Leaf,
        leaf_object: Callable[[_Leaf], object] | None,
        watched: _Watched | None,
    ) -> object:
        if isinstance(spec, _Leaf):
            if leaf_object is not None:
                return leaf_object(spec)
            obj = self._objects[spec.index]
            if spec.kind == "numbers" and spec.container is list:
                obj = obj.copy()
                if watched is not None:
                    watched.append((spec, obj, {}))
            return obj
        positions = range(len(spec.children)) if leaf_object is not None else spec.fresh
        overrides = [
            (spec.keys[i], self._emit(spec.children[i], leaf_object, watched)) for i in positions
        ]
        out = spec.emit(overrides)
        if watched is not None and spec.assignable:
            watched.append((spec, out, dict(overrides)))
        return out

    def _sync(self) -> None:
        """Bring the private structure in step with storage the engine changed."""
        numbers, shown = self._numbers, self._shown
        if not numbers.size:
            return
        changed = np.flatnonzero(numbers.view(np.uint64) != shown.view(np.uint64))
        if not changed.size:
            return
        shown[changed] = numbers[changed]
        tuples = set()
        leaves, offsets = self._number_leaf[changed].tolist(), self._number_offset[changed]
        for position, index, offset in zip(changed.tolist(), leaves, offsets.tolist(), strict=True):
            leaf = self._leaves[index]
            if leaf.kind == "number":
                self._place(index, numbers.item(position))
            elif leaf.container is list:
                self._objects[index][offset] = numbers.item(position)
            else:
                tuples.add(index)
        for index in tuples:
            self._place(index, tuple(self.parameters[index].values.tolist()))

    def _place(self, index: int, obj: object) -> None:
        self._objects[index] = obj
        node, key = self._slots[index]
        if node is not None:
            node.set(key, obj)

    @staticmethod
    def _changed_entry(node: _Node, obj: Any, expected: dict[object, object]) -> str | None:
        for key in node.keys:
            want = expected[key] if key in expected else node.get(node.master, key)
            if node.get(obj, key) is not want:
                return _child_path(node.path, key, node.kind)
        if node.kind == "dataclass" or len(obj) == len(node.keys):
            return None
        added = (
            len(node.keys) if node.kind == "list" else next(k for k in obj if k not in node.keys)
        )
        return _child_path(node.path, added, node.kind)

    def _changed_numbers(self, leaf: _Leaf, obj: list[float]) -> str | None:
        master = self._objects[leaf.index]
        path = self._paths[leaf.index]
        if len(obj) != len(master):
            return f"{path}[{min(len(obj), len(master))}]"
        for j, same in enumerate(map(operator.is_, obj, master)):
            if not same:
                return f"{path}[{j}]"
        return None

    # -- gradients --------------------------------------------------------------------

    def flatten_gradient(
        self,
        grad: object,
        what: str = "grad",
        note: Callable[[str], None] | None = None,
    ) -> NDArray[np.float64]:
        """Flatten a gradient given in the same structure as the parameters.

        Each leaf has its parameter's shape, or ``(*out, *shape)`` for a vector-valued
        model with outputs of shape ``out``, the same for every leaf. A leaf that differs
        from that only in axes of length 1 (a ``keepdims=True`` left in) is read in the
        expected shape, with a note passed to ``note``.

        Returns
        -------
        ndarray, shape (m, n)
            ``m`` outputs (1 for a scalar model), ``n`` parameter elements.

        Raises
        ------
        ModelError
            When a container has other keys or another length, or a leaf another shape
            than its parameter (naming the leaf and both shapes), or is complex, strings,
            or not numbers at all.
        """
        found: list[tuple[Parameter, str, NDArray[np.float64]]] = []
        self._collect(self._spec, grad, what, found)
        out = _output_shape(found)
        m = math.prod(out)
        blocks = []
        for param, where, array in found:
            expected = (*out, *param.shape)
            if array.shape != expected:
                if _without_unit_axes(array.shape) != _without_unit_axes(expected):
                    raise _shape_error(param, where, array.shape, out, what)
                if note is not None:
                    note(
                        f"{where} has shape {array.shape} for parameter {param.name} of shape "
                        f"{param.shape}; it was read as shape {expected}, since the two differ "
                        "only in axes of length 1 (a keepdims=True left in?). Return the "
                        "parameter's own shape to make this note go away"
                    )
            blocks.append(array.reshape(m, param.size))
        return np.concatenate(blocks, axis=-1)

    def _collect(
        self,
        spec: _Node | _Leaf,
        grad: object,
        where: str,
        found: list[tuple[Parameter, str, NDArray[np.float64]]],
    ) -> None:
        if isinstance(spec, _Leaf):
            param = self.parameters[spec.index]
            found.append((param, where, _real_array(grad, where, param)))
            return
        for key, child, item in zip(
            spec.keys, spec.children, _gradient_entries(spec, grad, where), strict=True
        ):
            self._collect(child, item, _child_path(where, key, spec.kind), found)


def _gradient_entries(node: _Node, grad: object, where: str) -> list[object]:
    """The entries of a gradient container, in the order of the parameters' keys."""
    keys = list(node.keys)
    if node.kind in ("mapping", "proxy") or (
        node.kind == "dataclass" and isinstance(grad, Mapping)
    ):
        if not isinstance(grad, Mapping):
            raise ModelError(
                f"{where} is a {type(grad).__name__}; expected a dict with keys {keys} like "
                "the parameters"
            )
        missing = [k for k in keys if k not in grad]
        known = set(keys)
        extra = [k for k in grad if k not in known]
        if missing or extra:
            raise ModelError(
                f"{where} has keys {list(grad)}, expected {keys} like the parameters "
                f"(missing {missing}, unexpected {extra})"
            )
        return [grad[k] for k in keys]
    if node.kind == "dataclass":
        fields = (
            [f.name for f in dataclasses.fields(grad)]
            if dataclasses.is_dataclass(grad) and not isinstance(grad, type)
            else None
        )
        if fields is None or sorted(fields) != sorted(keys):
            raise ModelError(
                f"{where} is a {type(grad).__name__}; expected a {node.container.__name__} "
                f"(or a dataclass or dict with the fields {keys}) like the parameters"
            )
        return [getattr(grad, k) for k in keys]
    if not isinstance(grad, Sequence) or isinstance(grad, str) or len(grad) != len(keys):
        length = len(grad) if isinstance(grad, Sequence) else "no"
        raise ModelError(
            f"{where} is a {type(grad).__name__} of length {length}; expected a sequence "
            f"of {len(keys)} items like the parameters"
        )
    return list(grad)


def _real_array(grad: object, where: str, param: Parameter) -> NDArray[np.float64]:
    """A gradient leaf as float64, refusing complex numbers and strings rather than coerce."""
    expected = f"expected real numbers of shape {param.shape} like parameter {param.name}"
    try:
        array = np.asarray(grad)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"{where} is {type(grad).__name__} ({grad!r:.60}), not numbers; {expected}"
        ) from exc
    if array.dtype.kind in "USV" or (
        array.dtype.kind == "O" and any(isinstance(v, str | bytes) for v in array.flat)
    ):
        raise ModelError(
            f"{where} holds strings ({grad!r:.60}); {expected}: return numbers, not their text"
        )
    if array.dtype.kind == "c" or (
        array.dtype.kind == "O" and any(isinstance(v, complex) for v in array.flat)
    ):
        raise ModelError(
            f"{where} is complex ({grad!r:.60}); {expected}. A real f of real parameters has "
            "a real gradient: if the imaginary part is zero by construction, return "
            "np.real(...) of it, otherwise find where the gradient turned complex"
        )
    try:
        return np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"{where} is {type(grad).__name__} ({grad!r:.60}), not numbers; {expected}"
        ) from exc


def _output_shape(found: Sequence[tuple[Parameter, str, NDArray[Any]]]) -> tuple[int, ...]:
    """The output axes the leaves agree on: the most common, the shortest among equals."""
    prefixes: Counter[tuple[int, ...]] = Counter()
    for param, _, array in found:
        ndim = len(param.shape)
        if array.ndim >= ndim and array.shape[array.ndim - ndim :] == param.shape:
            prefixes[array.shape[: array.ndim - ndim]] += 1
    if not prefixes:
        return ()
    return max(prefixes, key=lambda p: (prefixes[p], -len(p)))


def _shape_error(
    param: Parameter, where: str, shape: tuple[int, ...], out: tuple[int, ...], what: str
) -> ModelError:
    expected = (*out, *param.shape)
    if out:
        context = (
            f" (the other entries of {what} carry leading output axes {out}: an f with "
            f"outputs of shape {out} has gradient entries of shape (*{out}, *parameter shape))"
        )
    else:
        context = ""
    ndim = len(param.shape)
    if len(shape) > ndim and shape[len(shape) - ndim :] == param.shape:
        hint = " (extra leading axes: is a sum over the batch axis missing?)"
    elif shape == param.shape[::-1]:
        hint = " (transposed?)"
    else:
        hint = ""
    return ModelError(
        f"{where} has shape {shape}, expected {expected} like parameter {param.name} of "
        f"shape {param.shape}{context}{hint}. Return each parameter's gradient in that "
        "parameter's shape"
    )


def first_argument_name(func: object, default: str = "x") -> str:
    """The name of ``func``'s first positional parameter, to name unnamed leaves after it."""
    try:
        params = list(inspect.signature(func).parameters.values())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name.isidentifier():
            return p.name
    return default
