"""The result of a check: plain data that renders itself as text, rich, JSON and JUnit XML.

:class:`Report` holds the arrays, and answers every question a door asks of them: which
elements fail, which rows a table shows (:meth:`Report.rows`), the closest call
(:meth:`Report.closest`), the worst elements (:meth:`Report.worst`). The records it hands
out (:class:`Element`, :class:`ParameterSummary`, :class:`Metadata`) live in
:mod:`gradcheck._report_records` and format their own cells. The renderings:
:mod:`gradcheck._report_text` (text and rich), :mod:`gradcheck._report_json` (JSON; its
docstring is the schema), :mod:`gradcheck._junit` (JUnit XML).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from gradcheck import _report_html as report_html
from gradcheck import _report_markdown as report_markdown
from gradcheck import _report_text as report_text
from gradcheck._junit import JUnitCase, junit_xml
from gradcheck._layout import ElementLayout, batches, index_lists
from gradcheck._report_json import json_chunks, report_dict
from gradcheck._report_records import (
    Element,
    FastSummary,
    Metadata,
    ParameterSummary,
    describe_counts,
)
from gradcheck._table import MAX_ROWS
from gradcheck._tolerance import Verdict

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from gradcheck._api import Case

__all__ = ["Element", "Metadata", "ParameterSummary", "Report"]

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.intp]

_VERDICTS = tuple(sorted(Verdict))
_SEVERITY = {Verdict.MISMATCH: 0, Verdict.KINK: 1, Verdict.INCONCLUSIVE: 2, Verdict.OK: 3}
"""Order of :meth:`Report.worst`: mismatches first, agreeing elements last."""


def _counts(codes: NDArray[np.int8]) -> dict[str, int]:
    return {str(v): int(np.count_nonzero(codes == v)) for v in Verdict}


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
        noise left that element unverified; when every element is inconclusive, since
        then nothing was verified at all; when a fast check found its random directions
        wrong beyond what single elements explain (``metadata.fast.widespread``); and when
        a Taylor test or a self-test says so (``metadata.vetoes()``).
        """
        fast = self.metadata.fast
        widespread = fast is not None and fast.widespread
        return not (np.any(self.failed) or widespread or self.metadata.vetoes())

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

    def _layout(self) -> ElementLayout:
        return ElementLayout.of(self.parameters, self.output_shape)

    @property
    def labels(self) -> tuple[str, ...]:
        """Element names in order, ``n`` of them, e.g. ``W1[3, 2]``."""
        layout = self._layout()
        n = self.verdicts.shape[1]
        return tuple(
            itertools.chain.from_iterable(
                layout.labels(*layout.locate(batch), None) for batch in batches(n)
            )
        )

    def element(self, output: int, i: int) -> Element:
        """The element at flat output index ``output`` and parameter element ``i``."""
        m, n = self.verdicts.shape
        if not (0 <= output < m and 0 <= i < n):
            raise IndexError((output, i))
        return self._elements_at(self._layout(), np.array([output]), np.array([i]))[0]

    def elements(self, verdict: Verdict | None = None) -> Iterator[Element]:
        """Every element in order, or only those with the given verdict."""
        n = self.verdicts.shape[1]
        if verdict is None:
            positions = np.arange(self.verdicts.size, dtype=np.intp)
        else:
            positions = np.flatnonzero(self.verdicts == verdict)
        layout = self._layout()
        for batch in batches(positions.size):
            outputs, flat = np.divmod(positions[batch], n)
            yield from self._elements_at(layout, outputs, flat)

    def _elements_at(
        self, layout: ElementLayout, outputs: IndexArray, flat: IndexArray
    ) -> list[Element]:
        owner, index, ndim = layout.locate(flat)
        where = (outputs, flat)
        return list(
            map(
                Element,
                layout.labels(owner, index, ndim, outputs),
                layout.names[owner].tolist(),
                map(tuple, index_lists(index, ndim)),
                map(tuple, index_lists(*layout.output_index(outputs))),
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
        layout = self._layout()
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

    def closest(self) -> Element | None:
        """The agreeing element that came nearest its tolerance: the largest margin
        (``|analytic - numeric| / tolerance``) among ok elements with a positive tolerance;
        the first in order on a tie. None when no element agrees that way."""
        agree = (self.verdicts == Verdict.OK) & (self.tolerance > 0)
        if not np.any(agree):
            return None
        margin = self._margin()
        score = np.where(agree & np.isfinite(margin), margin, -1.0)
        output, i = np.unravel_index(int(np.argmax(score)), score.shape)
        if score[output, i] < 0:
            return None
        return self.element(int(output), int(i))

    def worst(self, count: int, parameter: str | None = None) -> tuple[list[Element], int]:
        """The ``count`` worst elements, of one parameter or of all, and how many more there are.

        Worst first: mismatches, kinks, inconclusive, then ok elements; within a verdict,
        the largest margin first; ties in order.
        """
        m, n = self.verdicts.shape
        layout = self._layout()
        columns = np.arange(n)
        if parameter is not None:
            names = layout.names.tolist()
            if parameter not in names:
                raise KeyError(f"no parameter {parameter!r} in this report; it has {names}")
            p = names.index(parameter)
            columns = np.arange(layout.starts[p], layout.ends[p])
        positions = (np.arange(m)[:, None] * n + columns).reshape(-1)
        chosen = [
            element
            for batch in batches(positions.size)
            for element in self._elements_at(layout, *np.divmod(positions[batch], n))
        ]
        chosen.sort(key=lambda e: (_SEVERITY[e.verdict], -e.margin))
        return chosen[:count], len(chosen) - len(chosen[:count])

    def rows(self) -> tuple[list[Element], int]:
        """The elements a report's table shows, and how many more it leaves out.

        Every element when there are :data:`~gradcheck._table.MAX_ROWS` or fewer, by
        parameter element, then output; otherwise the failing elements, worst first, then
        the others not ok, up to MAX_ROWS; when every element agrees, the five closest
        calls among those with an estimate.
        """
        m, n = self.verdicts.shape
        if self.verdicts.size <= MAX_ROWS:  # every element, by parameter element and output
            flat, outputs = np.divmod(np.arange(self.verdicts.size, dtype=np.intp), m)
            return self._elements_at(self._layout(), outputs, flat), 0
        failed = self.failed.reshape(-1)
        margin = np.nan_to_num(self._margin(), nan=np.inf).reshape(-1)
        positions = np.flatnonzero(failed | (self.verdicts.reshape(-1) != Verdict.OK))
        if positions.size == 0:  # the closest calls among the elements estimated (a fast
            # check leaves the others without an estimate)
            estimated = np.flatnonzero(np.isfinite(self.numeric.reshape(-1)))
            positions = estimated[np.argsort(-margin[estimated], kind="stable")[:5]]
        order = np.lexsort((-margin[positions], ~failed[positions]))  # stable
        outputs, flat = np.divmod(positions[order[:MAX_ROWS]], n)
        hidden = positions.size - min(positions.size, MAX_ROWS)
        return self._elements_at(self._layout(), outputs, flat), hidden

    # -- rendering ---------------------------------------------------------------------

    def headline(self) -> str:
        """One line: the verdict, the counts, and why a report that verified too little fails."""
        if self.metadata.fast is not None:
            return self._fast_headline(self.metadata.fast)
        n = self.verdicts.size
        counts = self.counts
        detail = describe_counts(counts)
        if self.ok:
            agree = counts["ok"]
            told = f"{agree} elements agree" if agree == n else f"{agree} / {n} elements agree"
            return f"gradcheck OK: {told} ({detail})"
        unverified = int(np.count_nonzero(self._unverified()))
        disagree = int(np.count_nonzero(self.failed)) - unverified
        parts = [f"{disagree} / {n} elements disagree ({detail})"] if disagree else []
        parts.extend(self._not_finite())
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
        return "gradcheck FAILED: " + "; ".join([*parts, *self.metadata.vetoes()])

    def _not_finite(self) -> list[str]:
        """What the headline says of an analytic gradient that is NaN or infinite."""
        where = np.flatnonzero(~np.isfinite(self.analytic))
        if not where.size:
            return []
        first = self.element(*map(int, np.divmod(where[0], self.analytic.shape[1])))
        return [
            f"the gradient itself is not finite at {_plural(where.size, 'element')} "
            f"({first.name} = {first.analytic}): look for a division by zero, a log or square "
            "root of a number <= 0, or an overflow in it"
        ]

    def _fast_headline(self, fast: FastSummary) -> str:
        n = self.verdicts.size
        directions = f"{fast.probes} random directions"
        if not np.any(self.failed) and not fast.widespread and self.metadata.vetoes():
            return "gradcheck FAILED: " + "; ".join(self.metadata.vetoes())
        if self.ok:
            return (
                f"gradcheck OK: {directions} agree over {n} elements (fast); an error in any "
                f"one element above {fast.normwise:.2g} of the gradient's norm would have shown"
            )
        wrong = int(np.count_nonzero(self.failed))
        named = f"{wrong} / {n} elements disagree ({describe_counts(self.counts)})"
        if not fast.widespread:
            return f"gradcheck FAILED: {named}, found along {directions} (fast)"
        if wrong:
            return (
                f"gradcheck FAILED: the gradient disagrees along {directions}, and the error is "
                f"widespread: {named} before the search stopped; check a part in full "
                "(mode='full') to see every element"
            )
        return (
            f"gradcheck FAILED: the gradient disagrees along {directions}, but no single "
            "element could be named: the error is spread thin over many elements, or too "
            "close to the differences' own error to split; check in full (mode='full')"
        )

    def __str__(self) -> str:
        return report_text.text(self)

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
                stream.writelines(json_chunks(self, indent, level))
        else:
            file.writelines(json_chunks(self, indent, level))

    def to_json(self, indent: int | None = 2) -> str:
        """The report as a JSON document (see :meth:`write_json`)."""
        return "".join(json_chunks(self, indent))

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data; :mod:`gradcheck._report_json` documents the schema."""
        return report_dict(self)

    def to_junit_xml(self, name: str = "gradcheck") -> str:
        """A JUnit XML document with one testcase, failing with the text report."""
        seconds = f"{self.metadata.seconds:.6f}"
        ok = self.ok
        case = JUnitCase(
            "gradcheck",
            name,
            seconds,
            outcome=None if ok else "failure",
            message=None if ok else self.headline(),
            text=None if ok else str(self),
        )
        return junit_xml([case], time=seconds, count_errors=False, standalone=False)

    def to_markdown(self) -> str:
        """The report as Markdown: headline, parameters, worst elements, warnings,
        environment (see :mod:`gradcheck._report_markdown`)."""
        return report_markdown.report_markdown(self)

    def to_html(self, title: str = "gradcheck", case: Case | None = None) -> str:
        """The report as one self-contained HTML page (see :mod:`gradcheck._report_html`).

        With the ``case`` that produced it and matplotlib installed (``gradcheck[plot]``),
        the page shows a plot of each flagged element (up to
        :data:`~gradcheck._plot.MAX_PLOTS`), which evaluates the case's f again.
        """
        plots: list[tuple[Element, str]] = []
        if case is not None:
            from gradcheck import _plot as plot

            if plot.available():
                plots = plot.svg_plots(case, self, "plot")
        return report_html.report_html(self, title=title, plots=plots)

    def plot(self, element: Element | str, case: Case) -> Figure:
        """Draw one element's difference quotient against the step (``gradcheck[plot]``).

        Parameters
        ----------
        element : Element or str
            The element, or its name as the report writes it (``"W1[3, 2]"``).
        case : Case
            The check that produced this report (``Case(f, params, grad=df)``): f is
            evaluated again at a range of steps (see :mod:`gradcheck._plot`).

        Returns
        -------
        matplotlib.figure.Figure
            Two panels: the quotient with the analytic value, and its error on log-log
            axes with the truncation (slope 2) and round-off (slope -1) guides.
        """
        from gradcheck import _plot as plot

        return plot.figure(self, element, plot.quotients(case, self, element))

    def __rich__(self) -> Any:
        """A rich renderable: headline and table (rich is imported only when rendering)."""
        return report_text.rich(self)
