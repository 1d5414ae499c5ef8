"""What f and a gradient return, as real float64 arrays, or a message saying what to return.

f may return a Python float, a NumPy scalar or array, a list, or a torch-like tensor that
still requires grad; :func:`as_real_array` takes all of those, and refuses what no real
derivative can be read from (None, text, complex values) with a hint at the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["NotRealNumbers", "as_real_array"]

FloatArray = NDArray[np.float64]

_NUMBERS = "return a float, or a NumPy array of floats"
_TEXT = "return numbers, not their text"
_REAL = (
    "a real f of real parameters has real values and a real gradient: if the imaginary "
    "part is zero by construction, return np.real(...) of it, otherwise find where the "
    "computation turned complex"
)
_TENSOR = "return loss.item() for a scalar tensor, or t.detach().cpu().numpy()"


class NotRealNumbers(TypeError):
    """What :func:`as_real_array` refused: ``what`` the object is and a ``hint`` to fix it."""

    def __init__(self, what: str, hint: str) -> None:
        super().__init__(f"{what}; {hint}")
        self.what = what
        self.hint = hint


def as_real_array(raw: object) -> FloatArray:
    """What f or a gradient returned, as a new float64 array of the same shape.

    Numbers, arrays of integers or floats, and objects that convert to them are accepted;
    complex values are refused, even with imaginary parts all 0 (a complex dtype says the
    computation went somewhere a real one should not). A torch-like tensor
    (anything with ``requires_grad`` and ``detach()``, recognised without importing torch)
    is detached, and moved to the CPU, first; so is each one in a list or tuple.

    Raises
    ------
    NotRealNumbers
        For None, text (a string, or an array or list of them: never parsed), complex
        values, and objects that do not convert to floats.
        Its ``what`` describes the object, its ``hint`` says what to return instead.

    Examples
    --------
    >>> as_real_array([1, 2.5])
    array([1. , 2.5])
    >>> as_real_array(np.float32(0.5))
    array(0.5)
    >>> as_real_array(["1.0"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gradcheck._real_values.NotRealNumbers: strings (e.g. '1.0' at [0]); return numbers, not ...
    """
    if raw is None:
        raise NotRealNumbers("None", "is a return statement missing?")
    if isinstance(raw, str | bytes):
        raise NotRealNumbers(_description(raw), _TEXT)
    try:
        array = np.asarray(raw)
    except Exception as exc:  # e.g. torch's RuntimeError for a tensor that requires grad
        detached = _detached(raw)
        if detached is raw:
            raise NotRealNumbers(_description(raw), _NUMBERS) from exc
        try:
            array = np.asarray(detached)
        except Exception as again:
            raise NotRealNumbers(_description(raw), _TENSOR) from again
    kind = array.dtype.kind
    if kind in "fiub":  # a copy: the array may be f's own buffer, or a tensor's storage
        return array.astype(np.float64)
    if kind == "c":
        imaginary = np.flatnonzero(array.imag != 0)
        first = int(imaginary[0]) if imaginary.size else 0
        raise NotRealNumbers(_example("a complex value", "complex values", array, first), _REAL)
    if kind in "US":
        raise NotRealNumbers(_example("a string", "strings", array, 0), _TEXT)
    if kind != "O":
        raise NotRealNumbers(_description(raw), _NUMBERS)
    for k, item in enumerate(array.flat):
        if isinstance(item, str | bytes):
            raise NotRealNumbers(_example("a string", "strings", array, k), _TEXT)
        if isinstance(item, complex | np.complexfloating):
            raise NotRealNumbers(_example("a complex value", "complex values", array, k), _REAL)
    try:
        return array.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise NotRealNumbers(_description(raw), _NUMBERS) from exc


def _example(one: str, many: str, array: NDArray[Any], flat_index: int) -> str:
    """The offending element: ``a complex value (1+2j)``, ``strings (e.g. '1' at [0])``."""
    element = array.flat[flat_index]
    if isinstance(element, np.generic):
        element = element.item()
    if array.ndim == 0:
        return f"{one} {element!r:.60}"
    index = ", ".join(str(int(i)) for i in np.unravel_index(flat_index, array.shape))
    return f"{many} (e.g. {element!r:.60} at [{index}])"


def _detached(raw: object) -> object:
    """A torch-like tensor cut from its graph, on the CPU; lists of them element-wise."""
    if isinstance(raw, list | tuple):
        items = [_detached(item) for item in raw]
        return items if any(a is not b for a, b in zip(items, raw, strict=True)) else raw
    detach = getattr(raw, "detach", None)
    if hasattr(raw, "requires_grad") and callable(detach):
        tensor = detach()
        cpu = getattr(tensor, "cpu", None)
        return cpu() if callable(cpu) else tensor
    return raw


def _description(raw: object) -> str:
    return f"{type(raw).__name__} ({' '.join(repr(raw).split()):.60})"
