"""A gradient given in the structure of the parameters, flattened against that structure.

``grad(params)`` returns its gradient the way the parameters came: a dict with the same
keys, a list of the same length, a dataclass or a dict of its fields, each leaf in its
parameter's shape (or ``(*out, *shape)`` for a model with outputs of shape ``out``).
:func:`flatten_gradient` reads it into one ``(m, n)`` array, and refuses what it cannot
read with an error that names the offending entry, what was found and what was expected.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcheck._containers import Leaf, Node, child_path
from gradcheck._errors import ModelError
from gradcheck._problem import Parameter

__all__ = ["flatten_gradient"]


def flatten_gradient(
    spec: Node | Leaf,
    parameters: Sequence[Parameter],
    grad: object,
    what: str = "grad",
    note: Callable[[str], None] | None = None,
) -> NDArray[np.float64]:
    """Flatten a gradient given in the same structure as the parameters.

    Each leaf has its parameter's shape, or ``(*out, *shape)`` for a vector-valued
    model with outputs of shape ``out``, the same for every leaf. A leaf that differs
    from that only in axes of length 1 (a ``keepdims=True`` left in) is read in the
    expected shape, with a note passed to ``note``.

    Parameters
    ----------
    spec : Node or Leaf
        The parameters' structure, as :class:`~gradcheck._tree.ParameterTree` walked it.
    parameters : sequence of Parameter
        The parameters, indexed by each leaf's ``index``.
    grad : object
        The gradient, in the structure of the parameters.
    what : str, default "grad"
        How messages name the gradient, e.g. ``grad(params)``.
    note : callable (str) -> None, optional
        Receives a note for each leaf read in a shape other than the one it came in.

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
    _collect(spec, parameters, grad, what, found)
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
    spec: Node | Leaf,
    parameters: Sequence[Parameter],
    grad: object,
    where: str,
    found: list[tuple[Parameter, str, NDArray[np.float64]]],
) -> None:
    """Append (parameter, where, leaf as float64) for every leaf of ``grad``, in order."""
    if isinstance(spec, Leaf):
        param = parameters[spec.index]
        found.append((param, where, _real_array(grad, where, param)))
        return
    for key, child, item in zip(
        spec.keys, spec.children, _gradient_entries(spec, grad, where), strict=True
    ):
        _collect(child, parameters, item, child_path(where, key, spec.kind), found)


def _gradient_entries(node: Node, grad: object, where: str) -> list[object]:
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


def _without_unit_axes(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


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
