"""The user's arguments as pytrees: checked floating leaves, fixed arrays, and the rest.

Every argument is flattened with :func:`jax.tree_util.tree_flatten_with_path`, so any
pytree JAX knows (dicts, lists, tuples, NamedTuples, registered classes) works, and every
leaf is named by its argument's name and its path, as JAX's ``keystr`` writes it:
``params['layer1']['w']``, ``state.mu``, ``x``. Each leaf is one of

* **checked**: a floating leaf (a JAX or NumPy array, a NumPy or Python float) of an
  argument being differentiated; it is copied into flat NumPy storage of its working
  dtype, which the engine perturbs;
* **fixed**: any other array (data, targets, integer leaves); passed to the compiled
  function as an argument, so large data is not baked into it as a constant;
* **static**: anything else (Python ints, strings, None-like markers), passed as it is.

An iterable that is no sequence, set or mapping (a generator, ``map(...)``,
``dict.values()``) is a static leaf too, as JAX takes it, but without JAX's deprecation
warning for it: it holds nothing gradcheck could check (see :func:`opaque`).

JAX arrays are immutable and NumPy arrays are only read, so the user's arguments are never
written.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from gradcheck import InvalidArgument, ModelError
from jax.tree_util import PyTreeDef, keystr, tree_flatten, tree_flatten_with_path
from numpy.typing import NDArray

from gradcheck_jax.precision import FLOAT_DTYPES, Precision

__all__ = ["Arguments", "Slot", "argument_names", "opaque"]


@dataclass(frozen=True, slots=True, eq=False)
class Slot:
    """One checked leaf: its report name, shape, dtype as given, and flat storage."""

    name: str
    shape: tuple[int, ...]
    original: np.dtype[Any]
    storage: NDArray[np.floating[Any]]

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(self.storage.size)


@dataclass(frozen=True, slots=True)
class _Checked:
    slot: int


@dataclass(frozen=True, slots=True)
class _Fixed:
    index: int


@dataclass(frozen=True, slots=True)
class _Static:
    value: object


_Role = _Checked | _Fixed | _Static


def opaque(value: object) -> bool:
    """Whether ``value`` is an iterable JAX takes as a leaf only with a warning: no sequence,
    set, mapping or array (a generator, ``map(...)``, ``dict.values()``)."""
    return isinstance(value, Iterable) and not isinstance(
        value, Sequence | Set | Mapping | np.ndarray | jax.Array
    )


def argument_names(func: Callable[..., Any], count: int) -> list[str]:
    """The names of ``func``'s first ``count`` positional parameters (``arg3`` beyond)."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [names[i] if i < len(names) else f"arg{i}" for i in range(count)]


class Arguments:
    """The arguments of one call, split into checked leaves, fixed arrays and static rest.

    Parameters
    ----------
    args : tuple
        The arguments as given to ``gradcheck.check`` after the function.
    argnums : tuple of int
        The arguments whose floating leaves are checked.
    names : sequence of str
        A name for every argument, the first part of each leaf's report name.
    precision : Precision
        Decides each checked leaf's working dtype.
    what : str
        Names the function in error messages.
    """

    def __init__(
        self,
        args: tuple[object, ...],
        argnums: tuple[int, ...],
        names: Sequence[str],
        precision: Precision,
        what: str,
    ) -> None:
        self.argnums = argnums
        self.slots: list[Slot] = []
        self.fixed: list[object] = []
        self.treedefs: list[PyTreeDef] = []
        self.roles: list[list[_Role]] = []
        for k, arg in enumerate(args):
            leaves, treedef = tree_flatten_with_path(arg, is_leaf=opaque)
            self.treedefs.append(treedef)
            self.roles.append(
                [
                    self._role(leaf, f"{names[k]}{keystr(path)}", k in argnums, precision, what)
                    for path, leaf in leaves
                ]
            )
        if not self.slots:
            checked = ", ".join(names[k] for k in argnums)
            raise InvalidArgument(
                f"{what}: its argument(s) {checked} hold no floating arrays or floats, so there "
                "is nothing to differentiate with respect to; pass argnums= to choose the "
                "arguments to check, as for jax.grad"
            )

    def _role(
        self, leaf: object, name: str, checked: bool, precision: Precision, what: str
    ) -> _Role:
        if checked and _is_floating(leaf):
            original = _dtype_of(leaf, precision)
            if original not in FLOAT_DTYPES:
                raise InvalidArgument(
                    f"{what}: {name} is {original}; gradcheck's error model knows NumPy's float "
                    "dtypes (float16, float32, float64): cast it, e.g. x.astype(jnp.float32)"
                )
            value = np.asarray(leaf)
            storage = value.astype(precision.working_dtype(original)).reshape(-1)
            self.slots.append(Slot(name, value.shape, original, storage))
            return _Checked(len(self.slots) - 1)
        if checked and _is_complex(leaf):
            raise InvalidArgument(
                f"{what}: {name} is complex; gradcheck checks real functions of real "
                "parameters: pass its real and imaginary parts as two float arrays"
            )
        if isinstance(leaf, jax.Array | np.ndarray):
            self.fixed.append(leaf)
            return _Fixed(len(self.fixed) - 1)
        return _Static(leaf)

    def build(self, checked: Sequence[object], fixed: Sequence[object]) -> tuple[object, ...]:
        """The arguments with the checked leaves and fixed arrays given, in their pytrees."""
        return tuple(
            treedef.unflatten(
                [
                    checked[r.slot]
                    if isinstance(r, _Checked)
                    else fixed[r.index]
                    if isinstance(r, _Fixed)
                    else r.value
                    for r in roles
                ]
            )
            for treedef, roles in zip(self.treedefs, self.roles, strict=True)
        )

    def flatten_gradient(self, gradients: Sequence[object], what: str) -> NDArray[np.float64]:
        """A gradient given per checked argument, in its pytree, as one flat vector.

        Leaves at fixed positions (an integer leaf's zero, float0) are ignored.
        """
        flat: list[NDArray[np.float64] | None] = [None] * len(self.slots)
        for k, gradient in zip(self.argnums, gradients, strict=True):
            leaves, treedef = tree_flatten(gradient, is_leaf=opaque)
            if treedef != self.treedefs[k]:
                raise ModelError(
                    f"{what} returned a gradient of structure {treedef} for argument {k}; "
                    f"expected the structure of the argument, {self.treedefs[k]}"
                )
            for role, leaf in zip(self.roles[k], leaves, strict=True):
                if isinstance(role, _Checked):
                    slot = self.slots[role.slot]
                    values = np.asarray(leaf, dtype=np.float64)
                    if values.size != slot.size:
                        raise ModelError(
                            f"{what} returned shape {values.shape} for {slot.name}; expected "
                            f"{slot.shape}"
                        )
                    flat[role.slot] = values.reshape(-1)
        return np.concatenate([g for g in flat if g is not None])


def _is_floating(leaf: object) -> bool:
    if isinstance(leaf, bool):
        return False
    if isinstance(leaf, float | np.floating):
        return True
    if isinstance(leaf, jax.Array | np.ndarray):
        return bool(jax.numpy.issubdtype(leaf.dtype, jax.numpy.floating))
    return False


def _is_complex(leaf: object) -> bool:
    if isinstance(leaf, complex | np.complexfloating):
        return True
    return isinstance(leaf, jax.Array | np.ndarray) and np.issubdtype(
        leaf.dtype, np.complexfloating
    )


def _dtype_of(leaf: object, precision: Precision) -> np.dtype[Any]:
    """A leaf's dtype; a Python float's is JAX's default float under the setting."""
    if isinstance(leaf, float):
        return np.dtype(np.float64 if precision.enabled else np.float32)
    return np.dtype(getattr(leaf, "dtype", np.float64))
