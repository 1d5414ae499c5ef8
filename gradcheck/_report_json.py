"""A report as JSON: the documented schema, and a writer that streams it a chunk at a time.

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
                   "random": bool,           # f changed at the same point, reseeded or not
                   "evaluations_by_stage": {str: int},  # probe, noise, screen, ...
                   "mode": "full" | "fast",
                   "fast": null | {"reason": str, "probes": int, "examined": int,
                                   "normwise": float, "widespread": bool}},
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

The writer produces, byte for byte, what :func:`json.dumps` writes for :func:`report_dict`,
without building that tree of dicts: the elements are written as text straight from the
report's arrays, :data:`~gradcheck._layout.CHUNK` at a time (a million elements take a
second, not minutes).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from gradcheck._layout import ElementLayout, batches, index_lists, join_indices
from gradcheck._tolerance import Verdict

if TYPE_CHECKING:
    from gradcheck._report import Report

__all__ = ["SCHEMA_VERSION", "json_chunks", "report_dict"]

SCHEMA_VERSION = 1

TextArray = NDArray[np.object_]

_VERDICT_NAMES = [str(v) for v in sorted(Verdict)]
_VERDICT_JSON: TextArray = np.array([json.dumps(v) for v in _VERDICT_NAMES], dtype=object)


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


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


def _head(report: Report) -> dict[str, Any]:
    """The JSON document without its elements."""
    md = report.metadata
    return {
        "schema_version": SCHEMA_VERSION,
        "ok": report.ok,
        "strict": report.strict,
        "counts": report.counts,
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
            "evaluations_by_stage": dict(md.stages),
            "mode": md.mode,
            "fast": None
            if md.fast is None
            else {
                "reason": md.fast.reason,
                "probes": md.fast.probes,
                "examined": md.fast.examined,
                "normwise": _number(md.fast.normwise),
                "widespread": md.fast.widespread,
            },
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
            for s in report.summaries()
        ],
    }


def _element_json(report: Report, indent: int | None, level: int) -> Iterator[str]:
    """The elements as JSON objects, a chunk at a time, as :func:`json.dumps` with ``indent``
    writes them in a report at nesting depth ``level``; chunks join with
    ``_separator(indent, level + 2)``."""
    layout = ElementLayout.of(report.parameters, report.output_shape)
    m, n = report.verdicts.shape
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
            f'{"]" if s else ""}"{key}"parameter": {q}{key}"index": ' + (open_list if s else "[")
            for q, s in zip(quoted, shaped, strict=True)
        ],
        dtype=object,
    )
    after_index: TextArray = np.array(
        [(close_list if s else "]") + key + '"output": ' for s in shaped], dtype=object
    )
    start = "{" + _newline(indent, level + 3) + '"name": "'
    detectable = report.detectable
    for batch in batches(m * n):
        outputs, flat = np.divmod(batch, n)
        owner, index, ndim = layout.locate(flat)
        where = (outputs, flat)
        separated = _separator(indent, level + 2) + start
        parts: list[str | list[str]] = [[start] + [separated] * (flat.size - 1)]
        if report.output_shape:
            out, out_ndim = layout.output_index(outputs)
            parts += ["f[", join_indices(out, out_ndim, ", "), "] / "]
        texts = join_indices(index, ndim, ", ")
        parts += [opens[owner].tolist(), texts, after_name[owner].tolist()]
        parts += [texts if between == ", " else join_indices(index, ndim, between)]
        parts += [after_index[owner].tolist()]
        if report.output_shape:
            parts += [open_list, join_indices(out, out_ndim, between), close_list]
        else:
            parts += ["[]"]
        for name, values in (
            ("analytic", report.analytic),
            ("numeric", report.numeric),
            ("error", report.error),
            ("tolerance", report.tolerance),
            ("detectable", detectable),
        ):
            parts += [f'{key}"{name}": ', _json_numbers(values[where])]
        parts += [f'{key}"verdict": ', _VERDICT_JSON[report.verdicts[where]].tolist()]
        parts += [f'{key}"left": ', _json_numbers(report.left[where])]
        parts += [f'{key}"right": ', _json_numbers(report.right[where])]
        parts += [_newline(indent, level + 2) + "}"]
        yield _interleave(parts)


def json_chunks(report: Report, indent: int | None, level: int = 0) -> Iterator[str]:
    """The report's JSON document in pieces, as :func:`json.dumps` with ``indent`` writes
    :func:`report_dict`, indented as if it sat at nesting depth ``level`` of a larger
    document."""
    head = json.dumps(_head(report), indent=indent)
    if indent is None:
        head = head[:-1]
    else:
        head = head.replace("\n", _newline(indent, level))
        head = head[: head.rfind("\n")]
    yield head + _separator(indent, level + 1) + '"elements": '
    chunks = _element_json(report, indent, level)
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


def report_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data; see the module docstring for the schema."""
    data = _head(report)
    layout = ElementLayout.of(report.parameters, report.output_shape)
    m, n = report.verdicts.shape
    keys = (
        *("name", "parameter", "index", "output", "analytic", "numeric", "error"),
        *("tolerance", "detectable", "verdict", "left", "right"),
    )
    detectable = report.detectable
    elements: list[dict[str, Any]] = []
    for batch in batches(m * n):
        outputs, flat = np.divmod(batch, n)
        owner, index, ndim = layout.locate(flat)
        where = (outputs, flat)
        columns = (
            layout.labels(owner, index, ndim, outputs),
            layout.names[owner].tolist(),
            index_lists(index, ndim),
            index_lists(*layout.output_index(outputs)),
            *(_numbers(v[where]) for v in (report.analytic, report.numeric, report.error)),
            *(_numbers(v[where]) for v in (report.tolerance, detectable)),
            [_VERDICT_NAMES[c] for c in report.verdicts[where].tolist()],
            _numbers(report.left[where]),
            _numbers(report.right[where]),
        )
        elements.extend(dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True))
    data["elements"] = elements
    return data
