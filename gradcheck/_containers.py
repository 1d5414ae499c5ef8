"""Parameter containers: which ones gradcheck takes, their entries, names and copies.

A user's parameters come as a float, an array, or containers of those nested as deep as
they like: dicts (and subclasses such as ``OrderedDict`` and ``defaultdict``),
``MappingProxyType``, lists, tuples, namedtuples and dataclass instances. This module
recognises them (:func:`is_parameter_container`), refuses the ones gradcheck cannot rebuild
with a message that says what to pass instead (:func:`refuse_unsupported_container`),
lists their entries in order and names each (``W1``, ``layers[0].W``, ``p.W``), and holds
one container of a walked structure as a :class:`Node` that copies it as the user's type.
:class:`~gradcheck._tree.ParameterTree` builds the structure from these pieces.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from numbers import Real
from types import MappingProxyType
from typing import Any

import numpy as np

from gradcheck._errors import InvalidArgument

__all__ = [
    "SUPPORTED",
    "Leaf",
    "Node",
    "child_name",
    "child_path",
    "container_entries",
    "container_kind",
    "has_array_leaf",
    "is_number",
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
class Leaf:
    """Where one parameter sits in a walked structure."""

    index: int
    """Position among the structure's parameters."""
    kind: str
    """``"number"``, ``"numbers"`` (a flat list or tuple of numbers) or ``"array"``."""
    container: type
    """``list`` or ``tuple`` for ``"numbers"``."""


class Node:
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
        children: tuple[Node | Leaf, ...],
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
            if isinstance(c, Node) or (c.kind == "numbers" and c.container is list)
        )
        self.master: Any = None

    @property
    def assignable(self) -> bool:
        """Whether f can assign to an entry of what it receives."""
        return self.kind in ("mapping", "list", "dataclass")

    def start(self, obj: Any) -> None:
        """Take a private copy of the user's container ``obj`` as the master."""
        if self.kind in ("mapping", "list", "dataclass"):
            self.master = copy.copy(obj)
        elif self.kind == "proxy":
            self.master = dict(obj)
        else:
            self.master = list(obj)

    def set(self, key: Any, value: object) -> None:
        """Put ``value`` at entry ``key`` of the master."""
        if self.kind == "dataclass":
            object.__setattr__(self.master, key, value)
        elif self.kind == "namedtuple":
            self.master[self.keys.index(key)] = value
        else:
            self.master[key] = value

    def get(self, obj: Any, key: Any) -> object:
        """Entry ``key`` of ``obj`` (what this node emitted), or a sentinel if it has none."""
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


def is_number(obj: object) -> bool:
    """Whether ``obj`` is a real number gradcheck takes as a parameter (not a bool)."""
    return isinstance(obj, Real) and not isinstance(obj, bool | np.bool_)


def container_kind(obj: object) -> str | None:
    """``mapping``, ``proxy``, ``tuple``, ``namedtuple``, ``list``, ``dataclass``, or None."""
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
    """Whether ``obj`` is a container gradcheck accepts (its leaves unchecked)."""
    return container_kind(obj) is not None


def container_entries(obj: Any, kind: str) -> list[tuple[object, object]]:
    """The (key, value) pairs of a container of ``kind``, in order."""
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
    kind = container_kind(obj)
    return kind is not None and any(has_array_leaf(v) for _, v in container_entries(obj, kind))


def refuse_unsupported_container(obj: object, name: str) -> None:
    """Raise :class:`InvalidArgument` if ``obj`` is a container gradcheck cannot rebuild.

    Sets, iterators and generators, mappings that are not dicts, and sequences that are
    not lists or tuples get a message naming the type, what is supported, and the fix.
    Anything else (supported, or not a container at all) passes.
    """
    if container_kind(obj) is not None:
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


def child_name(parent: str, key: object, kind: str, at_root: bool) -> str:
    """How reports name entry ``key`` of a container: ``W``, ``p.W``, ``p[0]``."""
    if kind in ("mapping", "proxy"):
        return str(key) if at_root else f"{parent}.{key}"
    if kind in ("dataclass", "namedtuple"):
        return f"{parent}.{key}"
    return f"{parent}[{key}]"


def child_path(parent: str, key: object, kind: str) -> str:
    """How code writes entry ``key`` of a container: ``p['W']``, ``p.W``, ``p[0]``."""
    if kind in ("mapping", "proxy"):
        return f"{parent}[{key!r}]"
    if kind in ("dataclass", "namedtuple"):
        return f"{parent}.{key}"
    return f"{parent}[{key}]"
