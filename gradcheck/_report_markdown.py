"""A report, or a whole ``gradcheck run``, as Markdown: for a CI job's page and for pull requests.

GitHub renders a file named by ``GITHUB_STEP_SUMMARY`` on the job's page; ``gradcheck
run`` appends :func:`run_markdown` there, and ``--markdown PATH`` writes it to a file.
:meth:`gradcheck.Report.to_markdown` is :func:`report_markdown`.

A report reads: its headline, a table per parameter (counts, worst element, largest
gaps), the worst elements (failures first, every number in full), the warnings, and the
environment that produced it (versions, dtype, method, tolerances, seed). Text from the
model (names, warnings) is escaped, so a ``<u_k, out_k>`` or a ``|`` can neither vanish
as HTML nor break a table.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from gradcheck import _environment as environment
from gradcheck._table import ELEMENT_COLUMNS, MAX_ROWS, NUMERIC_COLUMNS

if TYPE_CHECKING:
    from gradcheck._report import Report
    from gradcheck._report_records import Element
    from gradcheck._run_result import CaseResult, RunResult

__all__ = ["report_markdown", "run_markdown"]

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")

PARAMETER_COLUMNS = (
    "parameter",
    "shape",
    "ok",
    "mismatch",
    "kink",
    "inconclusive",
    "worst element",
    "max abs gap",
    "max rel gap",
)
"""The header of a report's table of parameters."""

MARGIN_COLUMN = "gap / tolerance"
"""How much of its tolerance an element's gap uses: above 1 is a mismatch."""

RIGHT_ALIGNED = NUMERIC_COLUMNS | {
    *PARAMETER_COLUMNS[2:6],
    "max abs gap",
    "max rel gap",
    MARGIN_COLUMN,
}
"""Columns of numbers, right-aligned."""


def escape(text: str) -> str:
    """Text as Markdown shows it literally, on one line.

    >>> escape("sum_k <u_k, out_k> | 1 * 2")
    'sum\\\\_k \\\\<u\\\\_k, out\\\\_k\\\\> \\\\| 1 \\\\* 2'
    """
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def code(text: str) -> str:
    """Text as inline code (element and case names): ``\\`x[0, 1]\\```.

    >>> code("x[0, 1]"), code("a`b")
    ('`x[0, 1]`', '``a`b``')
    """
    fence = "``" if "`" in text else "`"
    return f"{fence}{' '.join(text.split()).replace('|', '&#124;')}{fence}"


def table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A GitHub table: the header, the alignment row (numbers right), the rows as given."""
    align = ["---:" if c in RIGHT_ALIGNED else "---" for c in columns]
    lines = [f"| {' | '.join(columns)} |", f"| {' | '.join(align)} |"]
    lines.extend(f"| {' | '.join(row)} |" for row in rows)
    return lines


def element_row(element: Element) -> tuple[str, ...]:
    """An element's cells for :data:`ELEMENT_COLUMNS` plus its gap / tolerance."""
    name, analytic, numeric, tolerance, verdict = element.cells()
    shown = escape(verdict) if str(element.verdict) == "ok" else f"**{escape(verdict)}**"
    return (code(name), analytic, numeric, tolerance, f"{element.margin:.2g}", shown)


def _headline(report: Report) -> str:
    verdict, _, rest = report.headline().partition(": ")
    return f"**{escape(verdict)}**: {escape(rest)}"


def _parameters(report: Report) -> list[str]:
    summaries = report.summaries()
    # MAX_ROWS of them in parameter order, those with an element not ok first
    chosen = sorted(
        range(len(summaries)), key=lambda p: summaries[p].counts["ok"] == summaries[p].size
    )[:MAX_ROWS]
    rows = []
    for p in sorted(chosen):
        s = summaries[p]
        rows.append(
            (
                code(s.name),
                str(s.shape) if s.shape else "scalar",
                *(str(s.counts[v]) for v in PARAMETER_COLUMNS[2:6]),
                code(s.worst.name) if s.worst else "-",
                f"{s.max_abs_error:.3g}",
                f"{s.max_rel_error:.3g}",
            )
        )
    lines = table(PARAMETER_COLUMNS, rows)
    if len(chosen) < len(summaries):
        lines.append(f"\n… and {len(summaries) - len(chosen)} more parameters")
    return lines


def _elements(report: Report) -> list[str]:
    elements, hidden = report.worst(MAX_ROWS)
    lines = table((*ELEMENT_COLUMNS[:4], MARGIN_COLUMN, "verdict"), map(element_row, elements))
    if hidden:
        lines.append(f"\n… and {hidden} more elements")
    return lines


def _pairs(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return table(("name", "value"), ((escape(k), escape(v)) for k, v in pairs))


def report_markdown(report: Report, *, level: int = 2, versions: bool = True) -> str:
    """The report as Markdown (see the module docstring).

    Parameters
    ----------
    report : Report
    level : int, default 2
        The level of its section headings (``##``); a report inside a larger document
        takes a deeper one.
    versions : bool, default True
        Whether its environment names the versions of the software (a run names them
        once, at its end); the settings (dtype, method, tolerances, seed) are always there.
    """
    heading = "#" * level
    parts = [
        _headline(report),
        "\n".join([f"{heading} Parameters", "", *_parameters(report)]),
        "\n".join([f"{heading} Worst elements", "", *_elements(report)]),
    ]
    if report.metadata.warnings:
        warnings = (f"- {escape(w)}" for w in report.metadata.warnings)
        parts.append("\n".join([f"{heading} Warnings", "", *warnings]))
    pairs = environment.settings(report.metadata)
    if versions:
        pairs = environment.versions((report.metadata.backend,)) + pairs
    parts.append("\n".join([f"{heading} Environment", "", *_pairs(pairs)]))
    return "\n\n".join(parts) + "\n"


def _case_row(result: CaseResult) -> tuple[str, str, str]:
    expect = " (expect='mismatch')" if result.expect == "mismatch" else ""
    return code(result.case.nodeid) + escape(expect), str(result.outcome), escape(result.message)


def run_markdown(run: RunResult) -> str:
    """A ``gradcheck run`` as Markdown: the summary line, a table of the cases, the files
    that could not be collected, then each case's report: in full where it failed or
    showed an expected mismatch, folded (``<details>``) where it plainly passed."""
    parts = [
        f"## gradcheck: {escape(run.summary())}",
        "\n".join(table(("case", "outcome", "verdict"), map(_case_row, run.results))),
    ]
    errors = [f"- {code(e.location)}: {escape(e.message)}" for e in run.collection.errors]
    errors += [f"- {escape(r.message)}" for r in run.results if str(r.outcome) == "error"]
    if errors:
        parts.append("\n".join(["### Errors", "", *errors]))
    backends: list[str] = []
    for result in run.results:
        report = result.report
        if report is None:
            continue
        backends.append(report.metadata.backend)
        body = report_markdown(report, level=4, versions=False)
        if str(result.outcome) == "passed" and result.expect == "ok":
            summary = f"<code>{html.escape(result.case.nodeid)}</code>: {result.outcome}"
            parts.append(f"<details><summary>{summary}</summary>\n\n{body}\n</details>")
        else:
            parts.append(f"### {code(result.case.nodeid)}: {result.outcome}\n\n{body}")
    software = environment.versions(tuple(backends))
    parts.append("\n".join(["### Environment", "", *_pairs(software)]))
    return "\n\n".join(parts) + "\n"
