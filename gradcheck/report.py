"""The result of a check: plain data that renders itself as text, JSON, JUnit XML and rich.

JSON schema (``schema_version`` 1), as written by :meth:`Report.to_dict`::

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

Non-finite numbers are written as ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import numpy as np
from numpy.typing import NDArray

from gradcheck.problem import element_label
from gradcheck.tolerance import Verdict

__all__ = ["SCHEMA_VERSION", "Element", "Metadata", "ParameterSummary", "Report"]

SCHEMA_VERSION = 1

FloatArray = NDArray[np.float64]

MAX_ROWS = 20
"""Element rows shown in text: every non-ok one up to this many, then a count."""


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
        """Smallest error in the analytic value that this element would have shown."""
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
        """Smallest error in each analytic element that the check would have flagged."""
        return self.tolerance + self.error

    def _margin(self) -> FloatArray:
        gap = np.abs(self.analytic - self.numeric)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.tolerance > 0, gap / self.tolerance, np.inf * (gap > 0))

    # -- elements ---------------------------------------------------------------------

    @property
    def labels(self) -> tuple[str, ...]:
        """Element names in order, ``n`` of them, e.g. ``W1[3, 2]``."""
        return tuple(
            element_label(name, shape, j)
            for name, shape in self.parameters
            for j in range(math.prod(shape))
        )

    def element(self, output: int, i: int) -> Element:
        """The element at flat output index ``output`` and parameter element ``i``."""
        return self._element(output, i, self._ends())

    def _ends(self) -> NDArray[np.intp]:
        """Where each parameter's elements end in the flat order."""
        return np.cumsum([math.prod(shape) for _, shape in self.parameters], dtype=np.intp)

    def _element(self, output: int, i: int, ends: NDArray[np.intp]) -> Element:
        if not 0 <= i < (int(ends[-1]) if ends.size else 0):
            raise IndexError(i)
        owner = int(np.searchsorted(ends, i, side="right"))
        local = i - (int(ends[owner - 1]) if owner else 0)
        name, shape = self.parameters[owner]
        index = tuple(int(k) for k in np.unravel_index(local, shape)) if shape else ()
        out = (
            tuple(int(k) for k in np.unravel_index(output, self.output_shape))
            if self.output_shape
            else ()
        )
        label = element_label(name, shape, local)
        if out:
            label = f"f[{', '.join(map(str, out))}] / {label}"
        return Element(
            name=label,
            parameter=name,
            index=index,
            output=out,
            analytic=float(self.analytic[output, i]),
            numeric=float(self.numeric[output, i]),
            error=float(self.error[output, i]),
            tolerance=float(self.tolerance[output, i]),
            verdict=Verdict(int(self.verdicts[output, i])),
            left=float(self.left[output, i]),
            right=float(self.right[output, i]),
        )

    def elements(self, verdict: Verdict | None = None) -> Iterator[Element]:
        """Every element in order, or only those with the given verdict."""
        selected = np.ones(self.verdicts.shape, dtype=bool)
        if verdict is not None:
            selected = self.verdicts == verdict
        ends = self._ends()
        for output, i in zip(*np.nonzero(selected), strict=True):
            yield self._element(int(output), int(i), ends)

    def summaries(self) -> list[ParameterSummary]:
        """One summary per parameter: counts, worst element, largest gaps."""
        result = []
        start = 0
        ends = self._ends()
        margin = self._margin()
        gap = np.abs(self.analytic - self.numeric)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = gap / np.maximum(np.abs(self.analytic), np.abs(self.numeric))
        for name, shape in self.parameters:
            stop = start + math.prod(shape)
            block = slice(start, stop)
            worst = None
            if stop > start:
                m_block = np.where(np.isfinite(margin[:, block]), margin[:, block], -1.0)
                if np.any(self.verdicts[:, block] == Verdict.MISMATCH):
                    m_block = np.where(
                        self.verdicts[:, block] == Verdict.MISMATCH, m_block + 1e300, m_block
                    )
                output, local = np.unravel_index(int(np.argmax(m_block)), m_block.shape)
                worst = self._element(int(output), start + int(local), ends)
            result.append(
                ParameterSummary(
                    name=name,
                    shape=shape,
                    counts=_counts(self.verdicts[:, block]),
                    worst=worst,
                    max_abs_error=float(np.nanmax(gap[:, block], initial=0.0)),
                    max_rel_error=float(np.nanmax(np.nan_to_num(rel[:, block]), initial=0.0)),
                )
            )
            start = stop
        return result

    def _rows(self) -> tuple[list[Element], int]:
        """Elements for a table: the failing ones first (worst first), else the closest calls."""
        failing = self.failed
        margin = np.nan_to_num(self._margin(), nan=np.inf)
        chosen = np.nonzero(failing | (self.verdicts != Verdict.OK))
        if self.verdicts.size <= MAX_ROWS:
            chosen = np.nonzero(np.ones(self.verdicts.shape, dtype=bool))
        elif chosen[0].size == 0:
            order = np.argsort(-margin, axis=None)[:5]
            chosen = np.unravel_index(order, margin.shape)
        pairs = sorted(
            zip(*chosen, strict=True),
            key=lambda oi: (
                (not failing[oi], -margin[oi]) if self.verdicts.size > MAX_ROWS else oi[::-1]
            ),
        )
        total = len(pairs)
        ends = self._ends()
        return [self._element(int(o), int(i), ends) for o, i in pairs[:MAX_ROWS]], total - min(
            total, MAX_ROWS
        )

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
            for s in self.summaries():
                counts = ", ".join(f"{v} {c}" for v, c in s.counts.items() if c)
                worst = s.worst.name if s.worst else "-"
                lines.append(
                    f"  {s.name} {s.shape}: {counts}; worst {worst}, max abs gap "
                    f"{s.max_abs_error:.3g}, max rel gap {s.max_rel_error:.3g}"
                )
        for warning in md.warnings:
            lines.append(f"  warning: {warning}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data; see the module docstring for the schema."""
        md = self.metadata
        elements = [
            {
                "name": e.name,
                "parameter": e.parameter,
                "index": list(e.index),
                "output": list(e.output),
                "analytic": _number(e.analytic),
                "numeric": _number(e.numeric),
                "error": _number(e.error),
                "tolerance": _number(e.tolerance),
                "detectable": _number(e.detectable),
                "verdict": str(e.verdict),
                "left": _number(e.left),
                "right": _number(e.right),
            }
            for e in self.elements()
        ]
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
            "elements": elements,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as a JSON document (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), indent=indent)

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
