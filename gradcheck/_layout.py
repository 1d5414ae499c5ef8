"""Where each element of a report lies: flat element numbers -> parameter, index and label.

A report's arrays number the parameter elements ``0 .. n-1`` in parameter order (and f's
outputs ``0 .. m-1``). :class:`ElementLayout` turns a batch of such numbers into what a
reader sees, ``W1[3, 2]`` or ``f[1] / x[0]``, with one NumPy pass per batch rather than a
Python loop per element: a report of 10^6 elements is labelled in well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["CHUNK", "ElementLayout", "batches", "index_lists", "join_indices"]

IndexArray = NDArray[np.intp]
TextArray = NDArray[np.object_]

CHUNK = 1 << 14
"""Elements labelled and rendered at a time: bounds the memory that rendering a report
needs besides its output."""


def batches(total: int) -> Iterator[IndexArray]:
    """The numbers ``0 .. total-1``, :data:`CHUNK` at a time.

    >>> [batch.tolist() for batch in batches(3)]
    [[0, 1, 2]]
    """
    for first in range(0, total, CHUNK):
        yield np.arange(first, min(first + CHUNK, total), dtype=np.intp)


def _unravel(positions: IndexArray, shape: tuple[int, ...]) -> IndexArray:
    """Multi-indices of flat positions in ``shape``, one row each: shape ``(k, len(shape))``."""
    if not shape:
        return np.zeros((positions.size, 0), dtype=np.intp)
    return np.stack(np.unravel_index(positions, shape), axis=1).astype(np.intp, copy=False)


def join_indices(index: IndexArray, ndim: IndexArray, sep: str) -> list[str]:
    """Each row's first ``ndim`` numbers joined by ``sep``: ``"3, 2"``; ``""`` for a scalar.

    >>> join_indices(np.array([[3, 2], [4, 0]]), np.array([2, 1]), ", ")
    ['3, 2', '4']
    """
    rows, depth = index.shape
    if depth == 0:
        return [""] * rows
    columns = [list(map(str, column)) for column in index.T.tolist()]
    joined = columns[0] if depth == 1 else list(map(sep.join, zip(*columns, strict=True)))
    if bool(np.all(ndim == depth)):
        return joined
    result: TextArray = np.array(joined, dtype=object)
    for d in np.unique(ndim[ndim < depth]).tolist():
        rows_of_d = ndim == d
        result[rows_of_d] = join_indices(index[rows_of_d, :d], ndim[rows_of_d], sep)
    texts: list[str] = result.tolist()
    return texts


def index_lists(index: IndexArray, ndim: IndexArray) -> list[list[int]]:
    """Each row's first ``ndim`` numbers as a list.

    >>> index_lists(np.array([[3, 2], [4, 0]]), np.array([2, 1]))
    [[3, 2], [4]]
    """
    if bool(np.all(ndim == index.shape[1])):
        rows: list[list[int]] = index.tolist()
        return rows
    return [row[:d] for row, d in zip(index.tolist(), ndim.tolist(), strict=True)]


@dataclass(frozen=True, slots=True, eq=False)
class ElementLayout:
    """Where each parameter's elements lie in the flat order, and how their labels begin.

    Build it with :meth:`of`; ask :meth:`locate` where flat element numbers lie, then
    :meth:`labels` for their names.
    """

    names: TextArray
    opens: TextArray  # a label up to its index: "W1[" or, for a scalar, "w"
    closes: TextArray  # "]" or ""
    starts: IndexArray
    ends: IndexArray
    ndims: IndexArray
    shape_ids: IndexArray  # each parameter's place in `shapes`
    shapes: tuple[tuple[int, ...], ...]  # the distinct shapes
    output_shape: tuple[int, ...]

    @classmethod
    def of(
        cls, parameters: tuple[tuple[str, tuple[int, ...]], ...], output_shape: tuple[int, ...]
    ) -> ElementLayout:
        """The layout of ``(name, shape)`` parameters in order, for f of ``output_shape``."""
        shape_ids = {shape: k for k, shape in enumerate(dict.fromkeys(s for _, s in parameters))}
        sizes = np.array([math.prod(shape) for _, shape in parameters], dtype=np.intp)
        ends = np.cumsum(sizes, dtype=np.intp)
        return cls(
            names=np.array([name for name, _ in parameters], dtype=object),
            opens=np.array([name + "[" if shape else name for name, shape in parameters], object),
            closes=np.array(["]" if shape else "" for _, shape in parameters], dtype=object),
            starts=ends - sizes,
            ends=ends,
            ndims=np.array([len(shape) for _, shape in parameters], dtype=np.intp),
            shape_ids=np.array([shape_ids[shape] for _, shape in parameters], dtype=np.intp),
            shapes=tuple(shape_ids),
            output_shape=output_shape,
        )

    def locate(self, flat: IndexArray) -> tuple[IndexArray, IndexArray, IndexArray]:
        """For flat element numbers: the parameter's number, its index (a row, padded), ndim."""
        owner = np.searchsorted(self.ends, flat, side="right").astype(np.intp)
        local = flat - self.starts[owner]
        index = np.zeros((flat.size, int(self.ndims.max(initial=0))), dtype=np.intp)
        shape_ids = self.shape_ids[owner]
        present = np.unique(shape_ids).tolist()
        for s in present:
            shape = self.shapes[s]
            if len(present) == 1:
                index[:, : len(shape)] = _unravel(local, shape)
            elif shape:
                rows = shape_ids == s
                index[rows, : len(shape)] = _unravel(local[rows], shape)
        return owner, index, self.ndims[owner]

    def output_index(self, outputs: IndexArray) -> tuple[IndexArray, IndexArray]:
        """The index of each flat output number (a row), and its ndim."""
        index = _unravel(outputs, self.output_shape)
        return index, np.full(outputs.size, len(self.output_shape), dtype=np.intp)

    def labels(
        self, owner: IndexArray, index: IndexArray, ndim: IndexArray, outputs: IndexArray | None
    ) -> list[str]:
        """Element names from :meth:`locate`'s answer: ``W1[3, 2]``, or ``f[1] / x[0]`` when
        the flat output numbers are given for a vector f.

        >>> layout = ElementLayout.of((("b", ()), ("W1", (4, 3))), output_shape=(2,))
        >>> layout.labels(*layout.locate(np.array([0, 12])), None)
        ['b', 'W1[3, 2]']
        >>> layout.labels(*layout.locate(np.array([12])), np.array([1]))
        ['f[1] / W1[3, 2]']
        """
        texts = join_indices(index, ndim, ", ")
        opens, closes = self.opens[owner].tolist(), self.closes[owner].tolist()
        if outputs is None or not self.output_shape:
            return [o + t + c for o, t, c in zip(opens, texts, closes, strict=True)]
        prefixes = join_indices(*self.output_index(outputs), ", ")
        return [
            f"f[{p}] / {o}{t}{c}" for p, o, t, c in zip(prefixes, opens, texts, closes, strict=True)
        ]
