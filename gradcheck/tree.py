"""Structured parameters: floats, lists, tuples, dicts and arrays, flattened and rebuilt.

A user's parameters come as a float, a list of floats, an array, or a dict or list of
those. :class:`ParameterTree` walks such a structure once, validates it, copies every
leaf into its own 1-D storage array (the user's objects are never written), names every
leaf (``W1``, ``layers[0].W``, ``p``), and rebuilds a structure of the same shape around
the storage for each evaluation: arrays as views of the storage (no copying), Python
numbers as Python floats. A gradient returned in the same structure is flattened against
it, with an error that names the offending leaf when its structure or shape differs.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcheck.errors import InvalidArgument, ModelError
from gradcheck.problem import Parameter

__all__ = ["ParameterTree", "first_argument_name", "has_array_leaf"]


@dataclass(frozen=True, slots=True)
class _Leaf:
    index: int
    kind: str  # "number", "numbers" (a flat list/tuple of numbers) or "array"
    container: type  # list or tuple for "numbers"


@dataclass(frozen=True, slots=True)
class _Node:
    kind: str  # "dict" or "sequence"
    container: type
    keys: tuple[Any, ...]
    children: tuple[_Node | _Leaf, ...]


def _is_number(obj: object) -> bool:
    return isinstance(obj, Real) and not isinstance(obj, bool | np.bool_)


def has_array_leaf(obj: object) -> bool:
    """Whether a parameter structure holds at least one NumPy array."""
    if isinstance(obj, np.ndarray):
        return True
    if isinstance(obj, Mapping):
        return any(has_array_leaf(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return any(has_array_leaf(v) for v in obj)
    return False


def _child_name(parent: str, key: object, in_mapping: bool, at_root: bool) -> str:
    if in_mapping:
        return str(key) if at_root else f"{parent}.{key}"
    return f"{parent}[{key}]"


class ParameterTree:
    """A validated copy of a parameter structure, with storage the engine may perturb.

    Parameters
    ----------
    params : float, array, or nested dict / list / tuple of those
        The user's parameters. Leaves are real Python numbers or floating NumPy arrays;
        a flat list or tuple of numbers is one vector leaf.
    root : str
        Name of the whole structure (the function's argument name), used for leaves
        that are not under a dict key: ``p[1]``, ``params[0]``.

    Raises
    ------
    InvalidArgument
        For a leaf that is not a real number or floating array (naming it and its
        type), and for a non-finite element (naming the element).
    """

    def __init__(self, params: object, root: str = "x") -> None:
        self.parameters: list[Parameter] = []
        self._kinds: set[str] = set()
        self._spec = self._walk(params, root, at_root=True)

    @property
    def views_only(self) -> bool:
        """Whether every leaf is an array, so that one :meth:`build` sees all later writes."""
        return self._kinds <= {"array"}

    def _leaf(
        self, name: str, values: NDArray[Any], shape: tuple[int, ...], kind: str, container: type
    ) -> _Leaf:
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            label = Parameter(name, shape, values).label(int(bad[0]))
            raise InvalidArgument(
                f"parameter {label} is {values[bad[0]]}; gradients can only be checked at a "
                "point where every parameter is finite"
            )
        self.parameters.append(Parameter(name, shape, values))
        self._kinds.add(kind)
        return _Leaf(len(self.parameters) - 1, kind, container)

    def _walk(self, obj: object, name: str, at_root: bool) -> _Node | _Leaf:
        if isinstance(obj, np.ndarray):
            if not np.issubdtype(obj.dtype, np.floating):
                raise InvalidArgument(
                    f"parameter {name} is an array of dtype {obj.dtype}; gradients need a "
                    f"floating dtype: pass {name}.astype(float) (or float32)"
                )
            storage = np.array(obj, dtype=obj.dtype, order="C", copy=True).reshape(-1)
            return self._leaf(name, storage, obj.shape, "array", np.ndarray)
        if _is_number(obj):
            storage = np.array([float(obj)])  # type: ignore[arg-type]
            return self._leaf(name, storage, (), "number", float)
        if isinstance(obj, Mapping):
            keys = tuple(obj.keys())
            children = tuple(
                self._walk(obj[k], _child_name(name, k, True, at_root), False) for k in keys
            )
            return _Node("dict", type(obj), keys, children)
        if isinstance(obj, list | tuple):
            if obj and all(_is_number(v) for v in obj):
                storage = np.array([float(v) for v in obj])
                return self._leaf(name, storage, (len(obj),), "numbers", type(obj))
            children = tuple(
                self._walk(v, _child_name(name, i, False, at_root), False)
                for i, v in enumerate(obj)
            )
            return _Node("sequence", type(obj), tuple(range(len(obj))), children)
        what = "a bool" if isinstance(obj, bool | np.bool_) else f"a {type(obj).__name__}"
        raise InvalidArgument(
            f"parameter {name} is {what} ({obj!r:.60}); parameters must be real numbers, "
            "floating NumPy arrays, or dicts, lists and tuples of those"
        )

    def build(self, storages: Sequence[NDArray[Any]] | None = None) -> object:
        """Rebuild the structure around the storage (or around ``storages`` given instead).

        Arrays come back as views, so writes to the storage show through without copying.
        """
        if storages is None:
            storages = [p.values for p in self.parameters]
        return self._build(self._spec, storages)

    def _build(self, spec: _Node | _Leaf, storages: Sequence[NDArray[Any]]) -> object:
        if isinstance(spec, _Leaf):
            values = storages[spec.index]
            if spec.kind == "array":
                return values.reshape(self.parameters[spec.index].shape)
            if spec.kind == "number":
                return values.item()
            items = values.tolist()
            return items if spec.container is list else spec.container(items)
        children = [self._build(child, storages) for child in spec.children]
        if spec.kind == "dict":
            pairs = zip(spec.keys, children, strict=True)
            return dict(pairs) if spec.container is dict else spec.container(pairs)
        return children if spec.container is list else spec.container(children)

    def flatten_gradient(self, grad: object, what: str = "grad") -> NDArray[np.float64]:
        """Flatten a gradient given in the same structure as the parameters.

        Returns
        -------
        ndarray, shape (m, n)
            ``m`` outputs (1 for a scalar model; the leading dimensions every leaf of
            ``grad`` has beyond its parameter's shape), ``n`` parameter elements.

        Raises
        ------
        ModelError
            When a dict has other keys, a list another length, or a leaf another shape
            than the parameters, naming the leaf and both structures.
        """
        blocks: list[NDArray[np.float64]] = []
        self._flatten(self._spec, grad, what, blocks, at_root=True)
        prefixes = {b.shape[:-1] for b in blocks}
        if len(prefixes) > 1:
            raise ModelError(
                f"{what} returned leaves with inconsistent output dimensions {sorted(prefixes)}"
            )
        return np.concatenate([b.reshape(-1, b.shape[-1]) for b in blocks], axis=-1)

    def _flatten(
        self,
        spec: _Node | _Leaf,
        grad: object,
        where: str,
        blocks: list[NDArray[np.float64]],
        at_root: bool,
    ) -> None:
        if isinstance(spec, _Leaf):
            param = self.parameters[spec.index]
            try:
                array = np.asarray(grad, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ModelError(
                    f"{where} is {type(grad).__name__} ({grad!r:.60}), not numbers; expected "
                    f"shape {param.shape} like parameter {param.name}"
                ) from exc
            ndim = len(param.shape)
            if array.shape[array.ndim - ndim :] != param.shape or array.ndim < ndim:
                raise ModelError(
                    f"{where} has shape {array.shape}, expected {param.shape} like parameter "
                    f"{param.name}"
                )
            outputs = array.shape[: array.ndim - ndim]
            blocks.append(array.reshape((*outputs, max(param.size, 0))))
            return
        if spec.kind == "dict":
            if not isinstance(grad, Mapping):
                raise ModelError(
                    f"{where} is a {type(grad).__name__}; expected a dict with keys "
                    f"{list(spec.keys)} like the parameters"
                )
            missing = [k for k in spec.keys if k not in grad]
            extra = [k for k in grad if k not in spec.keys]
            if missing or extra:
                raise ModelError(
                    f"{where} has keys {list(grad)}, expected {list(spec.keys)} like the "
                    f"parameters (missing {missing}, unexpected {extra})"
                )
            for key, child in zip(spec.keys, spec.children, strict=True):
                self._flatten(child, grad[key], f"{where}[{key!r}]", blocks, False)
            return
        if (
            not isinstance(grad, Sequence)
            or isinstance(grad, str)
            or len(grad) != len(spec.children)
        ):
            length = len(grad) if isinstance(grad, Sequence) else "no"
            raise ModelError(
                f"{where} is a {type(grad).__name__} of length {length}; expected a sequence "
                f"of {len(spec.children)} items like the parameters"
            )
        for i, (child, item) in enumerate(zip(spec.children, grad, strict=True)):
            self._flatten(child, item, f"{where}[{i}]", blocks, False)


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
