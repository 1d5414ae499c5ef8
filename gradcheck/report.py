"""The result of a check: plain data that renders itself as text, JSON, JUnit XML and rich.

JSON schema (``schema_version`` 1), as written by :meth:`Report.write_json`,
:meth:`Report.to_json` and :meth:`Report.to_dict`::

    {
      "schema_version": 1,
      "ok": bool,                # False when an element fails: see Report.ok
      "strict": bool,
      "counts": {"ok": int, "mismatch": int, "kink": int, "inconclusive": int},
      "metadata": {"backend": str, "dtype": str, "method": str, "rtol": float,
                   "atol": float, "seed": int, "function_evaluations": int,
                   "gradient_evaluations": int, "seconds": float,
                   "noise": [float, ...],    # bound on one evaluation's error, per output
                   "warnings": [str, ...],
                   "random": bool},          # f changed at the same point, reseeded or not
      "parameters": [{"name": str, "shape": [int, ...], "size": int,
                      "counts": {...}, "worst": str | null,
                      "max_abs_error": float, "max_rel_error": float}],
      "elements": [{"name": str,             # e.g. "W1[3, 2]" or "f[1] / x[0]"
                    "parameter": str, "index": [int, ...], "output": [int, ...],
                    "analytic": float, "numeric": float | null, "error": float | null,
                    "tolerance": float | null,
                    "detectable": float | null,  # smallest error this element would show
                    "verdict": "ok" | "mismatch" | "kink" | "inconclusive",
                    "left": float | null, "right": float | null}]  # one-sided, at kinks
    }

Non-finite numbers are written as ``null``; numbers as :func:`json.dumps` writes them.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any
from xml.etree import ElementTree

import numpy as np
from numpy.typing import NDArray

from gradcheck.tolerance import Verdict

__all__ = ["SCHEMA_VERSION", "Element", "Metadata", "ParameterSummary", "Report"]

SCHEMA_VERSION = 1

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.intp]
TextArray = NDArray[np.object_]

MAX_ROWS = 20
"""Element rows shown in text: every non-ok one up to this many, then a count; the same
for the per-parameter lines."""

_CHUNK = 1 << 14
"""Elements rendered at a time: bounds the memory that rendering needs besides its output."""

_VERDICTS = tuple(sorted(Verdict))
_VERDICT_JSON: TextArray = np.array([json.dumps(str(v)) for v in _VERDICTS], dtype=object)


@dataclass(frozen=True, slots=True)
class Metadata:
    """How a check was made.

    ``random`` is True when f returned different values at the same point even after
    gradcheck reseeded the global random generators: an element such noise left
    inconclusive was not verified, and the report fails (see :attr:`Report.ok`).
    """

    backend: str
    dtype: str
    method: str
    rtol: float
    atol: float
    seed: int
    function_evaluations: int
    gradient_evaluations: int
    seconds: float
    noise: tuple[float, ...]
    warnings: tuple[str, ...] = ()
    random: bool = False


@dataclass(frozen=True, slots=True)
class Element:
    """One compared element: a derivative of one output with respect to one parameter entry."""

    name: str
    parameter: str
    index: tuple[int, ...]
    output: tuple[int, ...]
    analytic: float
    numeric: float
    error: float
    tolerance: float
    verdict: Verdict
    left: float
    right: float

    @property
    def gap(self) -> float:
        """``|analytic - numeric|``."""
        return abs(self.analytic - self.numeric)

    @property
    def detectable(self) -> float:
        """Smallest error in the analytic value that this element is sure to show: the
        gap a mismatch needs plus the estimate's own error."""
        return self.tolerance + self.error

    @property
    def margin(self) -> float:
        """How much of its tolerance the gap uses: above 1 is a mismatch (at kinks, 0 to 1)."""
        if self.tolerance > 0:
            return self.gap / self.tolerance
        return math.inf if self.gap > 0 else 0.0


@dataclass(frozen=True, slots=True)
class ParameterSummary:
    """Counts and the worst element of one parameter."""

    name: str
    shape: tuple[int, ...]
    counts: dict[str, int]
    worst: Element | None
    max_abs_error: float
    max_rel_error: float

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)


def _counts(codes: NDArray[np.int8]) -> dict[str, int]:
    return {str(v): int(np.count_nonzero(codes == v)) for v in Verdict}


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.6g}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _unravel(positions: IndexArray, shape: tuple[int, ...]) -> IndexArray:
    """Multi-indices of flat positions in ``shape``, one row each: shape ``(k, len(shape))``."""
    if not shape:
        return np.zeros((positions.size, 0), dtype=np.intp)
    return np.stack(np.unravel_index(positions, shape), axis=1).astype(np.intp, copy=False)


def _joined(index: IndexArray, ndim: IndexArray, sep: str) -> list[str]:
    """Each row's first ``ndim`` numbers joined by ``sep``: ``"3, 2"``; ``""`` for a scalar."""
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
        result[rows_of_d] = _joined(index[rows_of_d, :d], ndim[rows_of_d], sep)
    texts: list[str] = result.tolist()
    return texts


def _lists(index: IndexArray, ndim: IndexArray) -> list[list[int]]:
    """Each row's first ``ndim`` numbers as a list."""
    if bool(np.all(ndim == index.shape[1])):
        rows: list[list[int]] = index.tolist()
        return rows
    return [row[:d] for row, d in zip(index.tolist(), ndim.tolist(), strict=True)]


def _numbers(values: NDArray[np.floating[Any]]) -> list[float | None]:
    """The values as floats; ``None`` where they are not finite."""
    finite = np.isfinite(values)
    numbers: list[float | None] = values.tolist()
    if finite.all():
        return numbers
    if not finite.any():
        return [None] * len(numbers)
    return [v if f else None for v, f in zip(numbers, finite.tolist(), strict=True)]


def _json_numbers(values: NDArray[np.floating[Any]]) -> list[str]:
    """Each value as :func:`json.dumps` writes a float; ``null`` where it is not finite."""
    finite = np.isfinite(values)
    numbers = values.tolist()
    if finite.all():
        return list(map(float.__repr__, numbers))
    if not finite.any():
        return ["null"] * len(numbers)
    return [
        float.__repr__(v) if f else "null" for v, f in zip(numbers, finite.tolist(), strict=True)
    ]


def _newline(indent: int | None, depth: int) -> str:
    """What :func:`json.dumps` writes before an item at ``depth`` (nothing without indent)."""
    return "" if indent is None else "\n" + " " * (indent * depth)


def _separator(indent: int | None, depth: int) -> str:
    """What :func:`json.dumps` writes between items at ``depth``."""
    return ", " if indent is None else "," + _newline(indent, depth)


def _interleave(parts: Sequence[str | list[str]]) -> str:
    """Concatenate item by item: a list gives one string per item, a str repeats in each."""
    merged: list[str | list[str]] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    columns = [itertools.repeat(p) if isinstance(p, str) else p for p in merged]
    return "".join(itertools.chain.from_iterable(zip(*columns, strict=False)))


@dataclass(frozen=True, slots=True, eq=False)
class _Layout:
    """Where each parameter's elements lie in the flat order, and how their labels begin."""

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
    def of(cls, report: Report) -> _Layout:
        parameters = report.parameters
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
            output_shape=report.output_shape,
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
        the flat output numbers are given for a vector f."""
        texts = _joined(index, ndim, ", ")
        opens, closes = self.opens[owner].tolist(), self.closes[owner].tolist()
        if outputs is None or not self.output_shape:
            return [o + t + c for o, t, c in zip(opens, texts, closes, strict=True)]
        prefixes = _joined(*self.output_index(outputs), ", ")
        return [
            f"f[{p}] / {o}{t}{c}" for p, o, t, c in zip(prefixes, opens, texts, closes, strict=True)
        ]


@dataclass(frozen=True, slots=True, eq=False)
class Report:
    """Everything a check found, per element and per parameter.

    Arrays have shape ``(m, n)``: ``m`` outputs of f (1 for a scalar loss) by ``n``
    parameter elements in order.

    Attributes
    ----------
    parameters : tuple of (name, shape)
    output_shape : tuple of int
        Shape of f's value; ``()`` for a scalar.
    analytic, numeric, error, tolerance : ndarray, shape (m, n)
        The user's derivative; the finite-difference estimate; its estimated error; the
        largest ``|analytic - numeric|`` the error model explains.
    verdicts : ndarray of int8, shape (m, n)
        :class:`~gradcheck.Verdict` codes.
    left, right : ndarray, shape (m, n)
        Backward and forward derivatives where a kink was found, NaN elsewhere.
    step : ndarray, shape (n,)
        The central-difference step used for each element.
    strict : bool
        Whether kinks and inconclusive elements count as failures.
    metadata : Metadata
    """

    parameters: tuple[tuple[str, tuple[int, ...]], ...]
    output_shape: tuple[int, ...]
    analytic: FloatArray
    numeric: FloatArray
    error: FloatArray
    tolerance: FloatArray
    verdicts: NDArray[np.int8]
    left: FloatArray
    right: FloatArray
    step: FloatArray
    strict: bool
    metadata: Metadata

    # -- verdicts ---------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        """No element failed (see :attr:`failed`): the check verified the gradient.

        It fails when an element is a mismatch; in strict mode, when an element is not ok;
        when f is random (``metadata.random``) and an element is inconclusive, since f's
        noise left that element unverified; and when every element is inconclusive, since
        then nothing was verified at all.
        """
        return not bool(np.any(self.failed))

    @property
    def failed(self) -> NDArray[np.bool_]:
        """Which elements make the report fail, shape ``(m, n)``; none when :attr:`ok`."""
        failed: NDArray[np.bool_] = (
            self.verdicts != Verdict.OK if self.strict else self.verdicts == Verdict.MISMATCH
        )
        unverified = self._unverified()
        return failed | unverified if unverified.any() else failed

    def _unverified(self) -> NDArray[np.bool_]:
        """Inconclusive elements that fail: all of them when f is random or none was decided."""
        inconclusive: NDArray[np.bool_] = self.verdicts == Verdict.INCONCLUSIVE
        if self.metadata.random or (inconclusive.size and inconclusive.all()):
            return inconclusive
        return np.zeros_like(inconclusive)

    @property
    def counts(self) -> dict[str, int]:
        """Number of elements per verdict, e.g. ``{"ok": 3, "mismatch": 0, ...}``."""
        return _counts(self.verdicts)

    @property
    def detectable(self) -> FloatArray:
        """Smallest error in each analytic element that the check is sure to flag: the gap
        a mismatch needs (``tolerance``) plus the estimate's own error."""
        with np.errstate(over="ignore"):
            return self.tolerance.astype(np.float64) + self.error.astype(np.float64)

    def _gap(self) -> FloatArray:
        with np.errstate(invalid="ignore", over="ignore"):
            return np.abs(self.analytic - self.numeric)

    def _margin(self) -> FloatArray:
        gap = self._gap()
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.where(self.tolerance > 0, gap / self.tolerance, np.inf * (gap > 0))

    # -- elements ---------------------------------------------------------------------

    @property
    def labels(self) -> tuple[str, ...]:
        """Element names in order, ``n`` of them, e.g. ``W1[3, 2]``."""
        layout = _Layout.of(self)
        n = self.verdicts.shape[1]
        return tuple(
            itertools.chain.from_iterable(
                layout.labels(*layout.locate(np.arange(first, min(first + _CHUNK, n))), None)
                for first in range(0, n, _CHUNK)
            )
        )

    def element(self, output: int, i: int) -> Element:
        """The element at flat output index ``output`` and parameter element ``i``."""
        m, n = self.verdicts.shape
        if not (0 <= output < m and 0 <= i < n):
            raise IndexError((output, i))
        return self._elements_at(_Layout.of(self), np.array([output]), np.array([i]))[0]

    def elements(self, verdict: Verdict | None = None) -> Iterator[Element]:
        """Every element in order, or only those with the given verdict."""
        n = self.verdicts.shape[1]
        if verdict is None:
            positions = np.arange(self.verdicts.size, dtype=np.intp)
        else:
            positions = np.flatnonzero(self.verdicts == verdict)
        layout = _Layout.of(self)
        for first in range(0, positions.size, _CHUNK):
            outputs, flat = np.divmod(positions[first : first + _CHUNK], n)
            yield from self._elements_at(layout, outputs, flat)

    def _elements_at(self, layout: _Layout, outputs: IndexArray, flat: IndexArray) -> list[Element]:
        owner, index, ndim = layout.locate(flat)
        where = (outputs, flat)
        return list(
            map(
                Element,
                layout.labels(owner, index, ndim, outputs),
                layout.names[owner].tolist(),
                map(tuple, _lists(index, ndim)),
                map(tuple, _lists(*layout.output_index(outputs))),
                self.analytic[where].tolist(),
                self.numeric[where].tolist(),
                self.error[where].tolist(),
                self.tolerance[where].tolist(),
                map(_VERDICTS.__getitem__, self.verdicts[where].tolist()),
                self.left[where].tolist(),
                self.right[where].tolist(),
            )
        )

    def summaries(self) -> list[ParameterSummary]:
        """One summary per parameter: counts, worst element, largest gaps.

        The worst element is the first mismatch, else the first element, with the largest
        margin (the gap over its tolerance, infinite margins last).
        """
        layout = _Layout.of(self)
        m, n = self.verdicts.shape
        counts = {}
        for v in Verdict:
            per_column = np.count_nonzero(self.verdicts == v, axis=0)
            running = np.concatenate(([0], np.cumsum(per_column)))
            counts[str(v)] = (running[layout.ends] - running[layout.starts]).tolist()
        sizes = layout.ends - layout.starts
        filled = np.flatnonzero(sizes > 0)  # parameters with elements
        firsts = layout.starts[filled]
        max_abs = np.zeros(len(self.parameters))
        max_rel = np.zeros(len(self.parameters))
        worst: list[Element | None] = [None] * len(self.parameters)
        if filled.size:
            gap = self._gap()
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                rel = np.nan_to_num(gap / np.maximum(np.abs(self.analytic), np.abs(self.numeric)))
            max_abs[filled] = np.fmax.reduceat(np.fmax.reduce(gap, axis=0, initial=0.0), firsts)
            max_rel[filled] = np.fmax.reduceat(np.fmax.reduce(rel, axis=0, initial=0.0), firsts)
            margin = self._margin()
            score = np.where(np.isfinite(margin), margin, -1.0)
            score += np.where(self.verdicts == Verdict.MISMATCH, 1e300, 0.0)
            best = score.max(axis=0)
            top = np.maximum.reduceat(best, firsts)[
                np.repeat(np.arange(filled.size), sizes[filled])
            ]
            # the first element in (output, element) order with the parameter's top score
            position = np.where(best == top, score.argmax(axis=0) * n + np.arange(n), m * n)
            outputs, flat = np.divmod(np.minimum.reduceat(position, firsts), n)
            for p, element in zip(
                filled.tolist(), self._elements_at(layout, outputs, flat), strict=True
            ):
                worst[p] = element
        return [
            ParameterSummary(
                name=name,
                shape=shape,
                counts={v: c[p] for v, c in counts.items()},
                worst=worst[p],
                max_abs_error=a,
                max_rel_error=r,
            )
            for p, ((name, shape), a, r) in enumerate(
                zip(self.parameters, max_abs.tolist(), max_rel.tolist(), strict=True)
            )
        ]

    def _rows(self) -> tuple[list[Element], int]:
        """Elements for a table: the failing ones first (worst first), else the closest calls."""
        m, n = self.verdicts.shape
        if self.verdicts.size <= MAX_ROWS:  # every element, by parameter element and output
            flat, outputs = np.divmod(np.arange(self.verdicts.size, dtype=np.intp), m)
            return self._elements_at(_Layout.of(self), outputs, flat), 0
        failed = self.failed.reshape(-1)
        margin = np.nan_to_num(self._margin(), nan=np.inf).reshape(-1)
        positions = np.flatnonzero(failed | (self.verdicts.reshape(-1) != Verdict.OK))
        if positions.size == 0:
            positions = np.argsort(-margin, kind="stable")[:5]
        order = np.lexsort((-margin[positions], ~failed[positions]))  # stable
        outputs, flat = np.divmod(positions[order[:MAX_ROWS]], n)
        hidden = positions.size - min(positions.size, MAX_ROWS)
        return self._elements_at(_Layout.of(self), outputs, flat), hidden

    # -- rendering --------------------------------------------------------------------

    def headline(self) -> str:
        """One line: the verdict, the counts, and why a report that verified too little fails."""
        n = self.verdicts.size
        counts = self.counts
        detail = ", ".join(f"{v} {c}" for v, c in counts.items() if c)
        if self.ok:
            agree = counts["ok"]
            told = f"{agree} elements agree" if agree == n else f"{agree} / {n} elements agree"
            return f"gradcheck OK: {told} ({detail})"
        unverified = int(np.count_nonzero(self._unverified()))
        disagree = int(np.count_nonzero(self.failed)) - unverified
        parts = [f"{disagree} / {n} elements disagree ({detail})"] if disagree else []
        if unverified and self.metadata.random:
            if unverified == n:
                lost = f"no element could be verified (all {n} inconclusive)"
            elif disagree:
                lost = f"{_plural(unverified, 'more element')} could not be verified"
            else:
                lost = f"{unverified} / {n} elements could not be verified ({detail})"
            parts.append(
                f"f is random (it returned different values at the same point), so {lost}; "
                "seed the random generator f uses, or switch off dropout, and check again"
            )
        elif unverified:
            parts.append(
                f"no element could be verified (all {n} inconclusive): the finite differences "
                "were too uncertain to decide any of them; pass step= with the scale f varies "
                "on, or check at another point"
            )
        return "gradcheck FAILED: " + "; ".join(parts)

    def __str__(self) -> str:
        md = self.metadata
        lines = [
            self.headline(),
            f"  {md.backend} backend, {md.dtype}, {md.method}; {md.function_evaluations} "
            f"evaluations of f, {md.gradient_evaluations} of the gradient; seed {md.seed}; "
            f"{md.seconds:.3g} s",
        ]
        rows, hidden = self._rows()
        header = ("element", "analytic", "numeric ± error", "tolerance", "verdict")
        table = [header] + [
            (
                e.name,
                _fmt(e.analytic),
                f"{_fmt(e.numeric)} ± {e.error:.2g}",
                f"{e.tolerance:.2g}",
                str(e.verdict)
                + (
                    f" (left {_fmt(e.left)}, right {_fmt(e.right)})"
                    if e.verdict == Verdict.KINK
                    else ""
                ),
            )
            for e in rows
        ]
        widths = [max(len(r[k]) for r in table) for k in range(len(header))]
        lines.append("")
        lines.extend(
            "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in table
        )
        if hidden:
            lines.append(f"  ... and {hidden} more")
        if len(self.parameters) > 1 or hidden:
            lines.append("")
            summaries = self.summaries()
            # MAX_ROWS of them in parameter order, those with an element not ok first
            chosen = sorted(
                range(len(summaries)), key=lambda p: summaries[p].counts["ok"] == summaries[p].size
            )[:MAX_ROWS]
            for s in (summaries[p] for p in sorted(chosen)):
                counts = ", ".join(f"{v} {c}" for v, c in s.counts.items() if c)
                worst = s.worst.name if s.worst else "-"
                lines.append(
                    f"  {s.name} {s.shape}: {counts}; worst {worst}, max abs gap "
                    f"{s.max_abs_error:.3g}, max rel gap {s.max_rel_error:.3g}"
                )
            if len(chosen) < len(summaries):
                lines.append(f"  ... and {len(summaries) - len(chosen)} more parameters")
        for warning in md.warnings:
            lines.append(f"  warning: {warning}")
        return "\n".join(lines)

    def _head(self) -> dict[str, Any]:
        """The JSON document without its elements."""
        md = self.metadata
        return {
            "schema_version": SCHEMA_VERSION,
            "ok": self.ok,
            "strict": self.strict,
            "counts": self.counts,
            "metadata": {
                "backend": md.backend,
                "dtype": md.dtype,
                "method": md.method,
                "rtol": md.rtol,
                "atol": md.atol,
                "seed": md.seed,
                "function_evaluations": md.function_evaluations,
                "gradient_evaluations": md.gradient_evaluations,
                "seconds": md.seconds,
                "noise": [_number(v) for v in md.noise],
                "warnings": list(md.warnings),
                "random": md.random,
            },
            "parameters": [
                {
                    "name": s.name,
                    "shape": list(s.shape),
                    "size": s.size,
                    "counts": s.counts,
                    "worst": s.worst.name if s.worst else None,
                    "max_abs_error": _number(s.max_abs_error),
                    "max_rel_error": _number(s.max_rel_error),
                }
                for s in self.summaries()
            ],
        }

    def _element_json(self, indent: int | None, level: int) -> Iterator[str]:
        """The elements as JSON objects, :data:`_CHUNK` at a time, as :func:`json.dumps` with
        ``indent`` writes them in a report at nesting depth ``level``; chunks join with
        ``_separator(indent, level + 2)``."""
        layout = _Layout.of(self)
        m, n = self.verdicts.shape
        key = _separator(indent, level + 3)
        open_list = "[" + _newline(indent, level + 4)
        close_list = _newline(indent, level + 3) + "]"
        between = _separator(indent, level + 4)  # the numbers of an index list
        shaped = (layout.ndims > 0).tolist()
        quoted = [json.dumps(name) for name in layout.names.tolist()]
        opens: TextArray = np.array(
            [q[1:-1] + "[" if s else q[1:-1] for q, s in zip(quoted, shaped, strict=True)], object
        )
        after_name: TextArray = np.array(
            [
                f'{"]" if s else ""}"{key}"parameter": {q}{key}"index": '
                + (open_list if s else "[")
                for q, s in zip(quoted, shaped, strict=True)
            ],
            dtype=object,
        )
        after_index: TextArray = np.array(
            [(close_list if s else "]") + key + '"output": ' for s in shaped], dtype=object
        )
        start = "{" + _newline(indent, level + 3) + '"name": "'
        detectable = self.detectable
        for first in range(0, m * n, _CHUNK):
            outputs, flat = np.divmod(np.arange(first, min(first + _CHUNK, m * n)), n)
            owner, index, ndim = layout.locate(flat)
            where = (outputs, flat)
            separated = _separator(indent, level + 2) + start
            parts: list[str | list[str]] = [[start] + [separated] * (flat.size - 1)]
            if self.output_shape:
                out, out_ndim = layout.output_index(outputs)
                parts += ["f[", _joined(out, out_ndim, ", "), "] / "]
            texts = _joined(index, ndim, ", ")
            parts += [opens[owner].tolist(), texts, after_name[owner].tolist()]
            parts += [texts if between == ", " else _joined(index, ndim, between)]
            parts += [after_index[owner].tolist()]
            if self.output_shape:
                parts += [open_list, _joined(out, out_ndim, between), close_list]
            else:
                parts += ["[]"]
            for name, values in (
                ("analytic", self.analytic),
                ("numeric", self.numeric),
                ("error", self.error),
                ("tolerance", self.tolerance),
                ("detectable", detectable),
            ):
                parts += [f'{key}"{name}": ', _json_numbers(values[where])]
            parts += [f'{key}"verdict": ', _VERDICT_JSON[self.verdicts[where]].tolist()]
            parts += [f'{key}"left": ', _json_numbers(self.left[where])]
            parts += [f'{key}"right": ', _json_numbers(self.right[where])]
            parts += [_newline(indent, level + 2) + "}"]
            yield _interleave(parts)

    def _json_chunks(self, indent: int | None, level: int) -> Iterator[str]:
        head = json.dumps(self._head(), indent=indent)
        if indent is None:
            head = head[:-1]
        else:
            head = head.replace("\n", _newline(indent, level))
            head = head[: head.rfind("\n")]
        yield head + _separator(indent, level + 1) + '"elements": '
        chunks = self._element_json(indent, level)
        first = next(chunks, None)
        if first is None:
            yield "[]"
        else:
            yield "[" + _newline(indent, level + 2)
            yield first
            for chunk in chunks:
                yield _separator(indent, level + 2)
                yield chunk
            yield _newline(indent, level + 1) + "]"
        yield _newline(indent, level) + "}"

    def write_json(
        self, file: str | os.PathLike[str] | IO[str], indent: int | None = 2, *, level: int = 0
    ) -> None:
        """Write the report as a JSON document, a chunk at a time.

        Parameters
        ----------
        file : path or text file
            Where to write; a path is created or overwritten (UTF-8).
        indent : int or None, default 2
            As for :func:`json.dump`; the output is what ``json.dump(report.to_dict(), file,
            indent=indent)`` writes, in a fraction of the time and memory.
        level : int, default 0
            The nesting depth at which the report sits inside a larger document written
            with the same ``indent``: its lines are indented that much further.
        """
        if isinstance(file, str | os.PathLike):
            with open(file, "w", encoding="utf-8") as stream:
                stream.writelines(self._json_chunks(indent, level))
        else:
            file.writelines(self._json_chunks(indent, level))

    def to_json(self, indent: int | None = 2) -> str:
        """The report as a JSON document (see :meth:`write_json`)."""
        return "".join(self._json_chunks(indent, 0))

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data; see the module docstring for the schema."""
        data = self._head()
        layout = _Layout.of(self)
        m, n = self.verdicts.shape
        keys = (
            *("name", "parameter", "index", "output", "analytic", "numeric", "error"),
            *("tolerance", "detectable", "verdict", "left", "right"),
        )
        verdicts = [str(v) for v in _VERDICTS]
        detectable = self.detectable
        elements: list[dict[str, Any]] = []
        for first in range(0, m * n, _CHUNK):
            outputs, flat = np.divmod(np.arange(first, min(first + _CHUNK, m * n)), n)
            owner, index, ndim = layout.locate(flat)
            where = (outputs, flat)
            columns = (
                layout.labels(owner, index, ndim, outputs),
                layout.names[owner].tolist(),
                _lists(index, ndim),
                _lists(*layout.output_index(outputs)),
                *(_numbers(v[where]) for v in (self.analytic, self.numeric, self.error)),
                *(_numbers(v[where]) for v in (self.tolerance, detectable)),
                [verdicts[c] for c in self.verdicts[where].tolist()],
                _numbers(self.left[where]),
                _numbers(self.right[where]),
            )
            elements.extend(dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True))
        data["elements"] = elements
        return data

    def to_junit_xml(self, name: str = "gradcheck") -> str:
        """A JUnit XML document with one testcase, failing with the text report."""
        suite = ElementTree.Element(
            "testsuite",
            name="gradcheck",
            tests="1",
            failures="0" if self.ok else "1",
            time=f"{self.metadata.seconds:.6f}",
        )
        case = ElementTree.SubElement(
            suite, "testcase", classname="gradcheck", name=name, time=f"{self.metadata.seconds:.6f}"
        )
        if not self.ok:
            failure = ElementTree.SubElement(case, "failure", message=self.headline())
            failure.text = str(self)
        return ElementTree.tostring(suite, encoding="unicode")

    def __rich__(self) -> Any:
        """A rich renderable: headline and table (rich is imported only when rendering)."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        style = {"ok": "green", "mismatch": "bold red", "kink": "yellow", "inconclusive": "magenta"}
        table = Table(title=None, show_edge=False, pad_edge=False)
        for column in ("element", "analytic", "numeric ± error", "tolerance", "verdict"):
            table.add_column(
                column, justify="left" if column in ("element", "verdict") else "right"
            )
        rows, hidden = self._rows()
        for e in rows:
            verdict = str(e.verdict)
            table.add_row(
                e.name,
                _fmt(e.analytic),
                f"{_fmt(e.numeric)} ± {e.error:.2g}",
                f"{e.tolerance:.2g}",
                Text(verdict, style=style[verdict]),
            )
        parts: list[Any] = [Text(self.headline(), style="green" if self.ok else "bold red"), table]
        if hidden:
            parts.append(Text(f"... and {hidden} more"))
        parts.extend(Text(f"warning: {w}", style="yellow") for w in self.metadata.warnings)
        return Group(*parts)
