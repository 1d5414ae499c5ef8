"""A report as a person reads it: plain text (``str(report)``) and a rich renderable.

The numbers and the choice of rows come from the :class:`~gradcheck.Report` (``rows``,
``summaries``, ``headline``, ``Metadata.describe``, ``Element.cells``); this module lays
them out with :mod:`gradcheck._table`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gradcheck._table import (
    ELEMENT_COLUMNS,
    MAX_ROWS,
    WARNING_STYLE,
    outcome_style,
    rich_table,
    text_table,
    verdict_text,
)

if TYPE_CHECKING:
    from gradcheck._report import Report

__all__ = ["rich", "text"]


def text(report: Report) -> str:
    """The headline, the provenance line (and where the evaluations went, when most went
    past the screen), the table of :meth:`Report.rows`, a line per parameter (when there
    are several, or rows were left out) and the warnings."""
    lines = [report.headline(), f"  {report.metadata.describe()}"]
    if report.metadata.mostly_beyond_the_screen and report.metadata.describe_stages():
        lines.append(f"  {report.metadata.describe_stages()}")
    lines.append("")
    rows, hidden = report.rows()
    lines.extend(text_table([ELEMENT_COLUMNS, *(e.cells() for e in rows)]))
    if hidden:
        lines.append(f"  ... and {hidden} more")
    if len(report.parameters) > 1 or hidden:
        lines.append("")
        summaries = report.summaries()
        # MAX_ROWS of them in parameter order, those with an element not ok first
        chosen = sorted(
            range(len(summaries)), key=lambda p: summaries[p].counts["ok"] == summaries[p].size
        )[:MAX_ROWS]
        lines.extend(f"  {summaries[p].describe()}" for p in sorted(chosen))
        if len(chosen) < len(summaries):
            lines.append(f"  ... and {len(summaries) - len(chosen)} more parameters")
    lines.extend(f"  warning: {warning}" for warning in report.metadata.warnings)
    return "\n".join(lines)


def rich(report: Report) -> Any:
    """The headline, the table of :meth:`Report.rows` and the warnings, as a rich Group."""
    from rich.console import Group
    from rich.text import Text

    rows, hidden = report.rows()
    table = rich_table(
        ELEMENT_COLUMNS, ((*e.cells()[:4], verdict_text(str(e.verdict))) for e in rows)
    )
    parts: list[Any] = [Text(report.headline(), style=outcome_style(report.ok)), table]
    if hidden:
        parts.append(Text(f"... and {hidden} more"))
    parts.extend(Text(f"warning: {w}", style=WARNING_STYLE) for w in report.metadata.warnings)
    return Group(*parts)
