"""Structured parameters: numbers and arrays in containers, copied, handed out and flattened.

A user's parameters come as a float, an array, or containers of those nested as deep as
they like (:mod:`gradcheck._containers` says which). :class:`ParameterTree` walks such a
structure once, validates it, copies every leaf into storage of its own (the user's
objects are never written) and names every leaf (``W1``, ``layers[0].W``, ``p.W``, ``p``).

For each evaluation :meth:`ParameterTree.argument` hands out a fresh structure of the
user's own types around the storage: arrays as views of it, numbers as Python floats. A
private copy of the structure is kept in step with the storage, rebuilding only the
entries whose storage changed since the last call, and only the containers are copied for
each call (shallowly, at C speed). So an evaluation costs no per-leaf Python work, and an
f that assigns to an entry of its argument (``p["W"] = p["W"] - p["W"].mean()``) changes
its own copy, never what the next evaluation receives; :meth:`ParameterTree.rebound`
names such an assignment. A gradient returned in the same structure is flattened against
it (:mod:`gradcheck._structured_gradient`).
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcheck._containers import (
    SUPPORTED,
    Leaf,
    Node,
    child_name,
    child_path,
    container_entries,
    container_kind,
    has_array_leaf,
    is_number,
    is_parameter_container,
    refuse_unsupported_container,
)
from gradcheck._errors import InvalidArgument
from gradcheck._problem import Parameter
from gradcheck._structured_gradient import flatten_gradient

__all__ = [
    "ParameterTree",
    "first_argument_name",
    # re-exported for the backends, which meet containers before a tree is built
    "has_array_leaf",
    "is_parameter_container",
    "refuse_unsupported_container",
]

# what an argument handed out held: (container or list-of-numbers leaf, it, new entries)
_Watched = list[tuple[Node | Leaf, Any, dict[object, object]]]


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
        self._leaves: list[Leaf] = []
        self._slots: list[tuple[Node | None, object]] = []  # where each leaf lives
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
    ) -> Leaf:
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            label = Parameter(name, shape, values).label(int(bad[0]))
            raise InvalidArgument(
                f"parameter {label} is {values[bad[0]]}; gradients can only be checked at a "
                "point where every parameter is finite"
            )
        leaf = Leaf(len(self._leaves), kind, container)
        self._leaves.append(leaf)
        self._slots.append((None, None))
        self._objects.append(obj)
        self._paths.append(path)
        self._pending.append((name, shape, values))
        return leaf

    def _walk(self, obj: object, name: str, path: str, at_root: bool) -> Node | Leaf:
        if isinstance(obj, np.ndarray):
            if not np.issubdtype(obj.dtype, np.floating):
                raise InvalidArgument(
                    f"parameter {name} is an array of dtype {obj.dtype}; gradients need a "
                    f"floating dtype: pass {name}.astype(float) (or float32)"
                )
            storage = np.array(obj, dtype=obj.dtype, order="C", copy=True).reshape(-1)
            view = storage.reshape(obj.shape)
            return self._leaf(name, path, storage, obj.shape, "array", np.ndarray, view)
        if is_number(obj):
            value = float(obj)  # type: ignore[arg-type]
            return self._leaf(name, path, np.array([value]), (), "number", float, value)
        if (
            isinstance(obj, list | tuple)
            and type(obj) in (list, tuple)  # a namedtuple's numbers are named fields
            and obj
            and all(is_number(v) for v in obj)
        ):
            floats = [float(v) for v in obj]
            value_obj = floats if type(obj) is list else tuple(floats)
            return self._leaf(
                name, path, np.array(floats), (len(floats),), "numbers", type(obj), value_obj
            )
        kind = container_kind(obj)
        if kind is None:
            refuse_unsupported_container(obj, name)
            what = "a bool" if isinstance(obj, bool | np.bool_) else f"a {type(obj).__name__}"
            raise InvalidArgument(
                f"parameter {name} is {what} ({obj!r:.60}); parameters must be {SUPPORTED}"
            )
        entries = container_entries(obj, kind)
        keys = tuple(k for k, _ in entries)
        children = tuple(
            self._walk(v, child_name(name, k, kind, at_root), child_path(path, k, kind), False)
            for k, v in entries
        )
        node = Node(kind, type(obj), keys, children, path)
        try:
            node.start(obj)
            for key, child in zip(keys, children, strict=True):
                if isinstance(child, Leaf):
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
            if isinstance(spec, Leaf):
                where = self._changed_numbers(spec, obj)
            else:
                where = self._changed_entry(spec, obj, expected)
            if where is not None:
                return where
        return None

    def build(self, storages: Sequence[NDArray[Any]]) -> object:
        """The structure rebuilt around ``storages`` (one array per parameter), e.g. complex."""

        def leaf_object(leaf: Leaf) -> object:
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
        spec: Node | Leaf,
        leaf_object: Callable[[Leaf], object] | None,
        watched: _Watched | None,
    ) -> object:
        if isinstance(spec, Leaf):
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
    def _changed_entry(node: Node, obj: Any, expected: dict[object, object]) -> str | None:
        for key in node.keys:
            want = expected[key] if key in expected else node.get(node.master, key)
            if node.get(obj, key) is not want:
                return child_path(node.path, key, node.kind)
        if node.kind == "dataclass" or len(obj) == len(node.keys):
            return None
        added = (
            len(node.keys) if node.kind == "list" else next(k for k in obj if k not in node.keys)
        )
        return child_path(node.path, added, node.kind)

    def _changed_numbers(self, leaf: Leaf, obj: list[float]) -> str | None:
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
        """A gradient given in the structure of the parameters, as an array of shape (m, n).

        See :func:`gradcheck._structured_gradient.flatten_gradient`, which this calls with
        the tree's structure and parameters.
        """
        return flatten_gradient(self._spec, self.parameters, grad, what, note)


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
