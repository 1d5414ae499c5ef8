"""The flat view of a model that the engine checks.

A backend turns whatever the user passed (a function and its parameters, a model object,
a torch module) into a :class:`Problem`: a list of named :class:`Parameter` objects whose
``values`` are the live, writable storage the engine perturbs in place, a zero-argument
``value`` callable that evaluates the model at whatever the storage holds now, and a
``gradient`` callable that returns the analytic derivative there.

The engine never sees the user's objects; it writes one element of one parameter,
calls ``value()``, and writes the element back. Whatever a backend changed in the
user's objects to make that work is recorded on an :class:`UndoStack` and put back by
``Problem.restore()``, which the engine calls in ``finally``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcheck._errors import InvalidArgument

__all__ = ["Parameter", "Problem", "UndoStack", "element_label"]


def element_label(name: str, shape: tuple[int, ...], flat_index: int) -> str:
    """Name one element of a parameter the way NumPy indexes it: ``W1[3, 2]``, ``b[0]``, ``w``.

    >>> element_label("W1", (4, 3), 11)
    'W1[3, 2]'
    >>> element_label("w", (), 0)
    'w'
    """
    if not shape:
        return name
    index = np.unravel_index(flat_index, shape)
    return f"{name}[{', '.join(str(int(i)) for i in index)}]"


@dataclass(frozen=True, slots=True, eq=False)
class Parameter:
    """One named parameter of a :class:`Problem`.

    Attributes
    ----------
    name : str
        How reports name it, e.g. ``"W1"`` or ``"layer1.weight"``.
    shape : tuple of int
        Its shape as the user sees it; ``()`` for a scalar.
    values : ndarray, 1-D
        The live storage, in the model's own floating dtype, with ``prod(shape)``
        elements in C order. Writing an element changes what ``Problem.value()`` computes.
    """

    name: str
    shape: tuple[int, ...]
    values: NDArray[np.floating[Any]]

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(self.values.size)

    def label(self, flat_index: int) -> str:
        """Name of one element, e.g. ``W1[3, 2]``."""
        return element_label(self.name, self.shape, flat_index)


class UndoStack:
    """Records changes to the user's objects before they are made, and undoes them all.

    Backends record every array they will write to and every attribute they will set, and
    :meth:`push` any other way to put something back; :meth:`undo` runs them in reverse
    order, bit for bit. It is safe to call twice.
    """

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def push(self, undo: Callable[[], None]) -> None:
        """Register ``undo``, a function that puts back one change, for :meth:`undo` to call.

        For changes that are neither an array's contents nor an attribute: the entries of
        a dict, a tensor's storage, a random generator's state. Like every recorded change,
        it runs after the ones recorded later and before the ones recorded earlier.

        Examples
        --------
        >>> params = {"W": np.ones(2)}
        >>> undo = UndoStack()
        >>> undo.save_array(params["W"])
        >>> original = dict(params)
        >>> def put_back_entries() -> None:
        ...     params.clear()
        ...     params.update(original)
        >>> undo.push(put_back_entries)
        >>> params["W"][0] = 5.0
        >>> params["W"] = np.zeros(3)
        >>> undo.undo()
        >>> params
        {'W': array([1., 1.])}
        """
        self._undo.append(undo)

    def save_array(self, array: NDArray[Any]) -> None:
        """Remember the contents of ``array`` so that :meth:`undo` copies them back."""
        saved = array.copy()
        self.push(lambda: np.copyto(array, saved, casting="no"))

    def save_attribute(self, obj: object, name: str) -> None:
        """Remember ``obj.name`` (or its absence) so that :meth:`undo` restores it."""
        missing = object()
        old = getattr(obj, name, missing)

        def put_back() -> None:
            if old is missing:
                if hasattr(obj, name):
                    delattr(obj, name)
            else:
                setattr(obj, name, old)

        self.push(put_back)

    def undo(self) -> None:
        """Undo every recorded change, most recent first.

        Every change is undone even when undoing another one raises (or is interrupted);
        the first such error is raised once all have run.

        >>> undone = []
        >>> undo = UndoStack()
        >>> undo.push(lambda: undone.append("first"))
        >>> undo.push(lambda: {}["missing"])
        >>> undo.undo()
        Traceback (most recent call last):
        KeyError: 'missing'
        >>> undone
        ['first']
        """
        failure: BaseException | None = None
        while self._undo:
            try:
                self._undo.pop()()
            except BaseException as exc:
                failure = failure or exc
        if failure is not None:
            raise failure


def _lowest_precision(parameters: Sequence[Parameter]) -> np.dtype[Any]:
    return max((p.values.dtype for p in parameters), key=lambda d: np.finfo(d).eps)


class Problem:
    """What the engine checks: parameters, a value, and an analytic gradient.

    Parameters
    ----------
    parameters : sequence of Parameter
        The inputs to differentiate with respect to, in report order. Their ``values``
        must be 1-D floating arrays; the engine perturbs them in place.
    value : callable () -> float or array_like
        Evaluates the model at the current contents of the parameters' storage. Returns
        a real scalar, or an array of shape ``output_shape`` for a vector-valued model.
    gradient : callable () -> array_like
        The analytic derivative at the current storage: shape ``(n,)`` for a scalar model,
        ``(m, n)`` for one with ``m = prod(output_shape)`` outputs, where ``n`` is the
        total number of parameter elements in order.
    backend : str
        Name of the backend that built the problem, for the report.
    output_shape : tuple of int or None, default ()
        Shape of what ``value()`` returns; ``()`` for a scalar loss; ``None`` to let the
        engine take it from the first evaluation.
    dtype : numpy dtype, optional
        The precision the model computes in. Default: the lowest precision among the
        parameters. The error model starts from this dtype's machine epsilon.
    complex_value : callable (ndarray of complex128) -> complex or array, optional
        Evaluates the model at a complex point given as one flat vector of all ``n``
        elements; needed only for ``method="complex"``.
    perturbed_values : callable (index, values) -> array, optional
        Batched evaluation for backends that can evaluate many points at once (vmap on a
        GPU): given ``index`` (int64, shape (k,)) and ``values`` (float64, shape (k,)),
        return f at ``k`` points, the j-th being the current storage with flat element
        ``index[j]`` set to ``values[j]``, as an array of shape ``(k,) + output_shape``.
        It must leave the storage as it found it. When given, the engine uses it instead
        of one ``value()`` call per point.
    stacked_value : callable (points) -> array, optional
        f itself evaluated on a stack of points, for an f written to take one: given
        ``points`` (float64, shape (k, n), each element representable in its parameter's
        dtype), return f at each row, shape ``(k,) + output_shape``. The engine calls it
        only when asked to (``check(..., vectorized=True)``), and then for every
        evaluation of f, the start point included (as a stack of one).
    restore : callable () -> None, optional
        Undoes whatever the backend changed in the user's objects. Called once when the
        check ends, also when it fails or is interrupted.
    notes : sequence of str, optional
        Facts the backend wants in the report, e.g. "checked on a float64 copy". Facts
        learnt during the check are added with :meth:`note`.

    Attributes
    ----------
    recipe : callable () -> Problem, or None
        How to build this problem again in another process, for ``executor=``: a
        picklable callable that returns an equal problem (same parameters and values).
        :func:`gradcheck.check` sets it; None for a problem built by hand.

    Examples
    --------
    A problem from plain functions of one flat vector, with no backend involved:

    >>> import numpy as np
    >>> x = np.array([1.0, 2.0])
    >>> p = Problem([Parameter("x", (2,), x)], value=lambda: float(x @ x),
    ...             gradient=lambda: 2 * x, backend="plain")
    >>> p.size
    2
    """

    def __init__(
        self,
        parameters: Sequence[Parameter],
        value: Callable[[], object],
        gradient: Callable[[], object],
        *,
        backend: str,
        output_shape: tuple[int, ...] | None = (),
        dtype: np.dtype[Any] | type[np.floating[Any]] | None = None,
        complex_value: Callable[[NDArray[np.complex128]], object] | None = None,
        perturbed_values: Callable[[NDArray[np.int64], NDArray[np.float64]], object] | None = None,
        stacked_value: Callable[[NDArray[np.float64]], object] | None = None,
        restore: Callable[[], None] | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        self.parameters = tuple(parameters)
        if not any(p.values.size for p in self.parameters):
            raise InvalidArgument("there are no parameters to check: pass at least one float")
        for p in self.parameters:
            if p.values.ndim != 1 or not np.issubdtype(p.values.dtype, np.floating):
                raise InvalidArgument(
                    f"Parameter {p.name!r}: values must be a 1-D floating array, "
                    f"got ndim={p.values.ndim}, dtype={p.values.dtype}"
                )
        self.value = value
        self.gradient = gradient
        self.backend = backend
        self.output_shape = None if output_shape is None else tuple(output_shape)
        self.dtype: np.dtype[Any] = (
            np.dtype(dtype) if dtype is not None else _lowest_precision(self.parameters)
        )
        self.complex_value = complex_value
        self.perturbed_values = perturbed_values
        self.stacked_value = stacked_value
        self.recipe: Callable[[], Problem] | None = None
        self._restore = restore
        self.random = False
        self.notes: list[str] = []
        for text in notes:
            self.note(text)

    @property
    def size(self) -> int:
        """Total number of parameter elements, ``n``."""
        return sum(p.size for p in self.parameters)

    @property
    def offsets(self) -> NDArray[np.intp]:
        """Where each parameter starts in the flat order, and where the last one ends:
        parameter k holds flat elements ``offsets[k]`` to ``offsets[k + 1] - 1``.

        >>> Problem([Parameter("a", (2,), np.zeros(2)), Parameter("b", (), np.zeros(1))],
        ...         value=lambda: 0.0, gradient=lambda: np.zeros(3), backend="plain").offsets
        array([0, 2, 3])
        """
        return np.cumsum([0] + [p.size for p in self.parameters], dtype=np.intp)

    def flat_values(self) -> NDArray[np.float64]:
        """All parameter elements as one new float64 vector, in order."""
        return np.concatenate([p.values.astype(np.float64) for p in self.parameters])

    def note(self, text: str) -> None:
        """Add a fact to the report's warnings (once, however often it is noted)."""
        if text not in self.notes:
            self.notes.append(text)

    def mark_random(self, text: str) -> None:
        """Say that f draws random numbers the backend could not fix (``text`` says which
        and how to fix it). The report then fails wherever that noise leaves an element
        undecided, as when the engine sees f change at the same point itself."""
        self.random = True
        self.note(text)

    def restore(self) -> None:
        """Undo whatever the backend changed in the user's objects."""
        if self._restore is not None:
            self._restore()
