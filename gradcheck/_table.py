"""Rows of cells as a table: padded plain text, or a rich table with the verdicts in colour.

Every door that prints rows (``str(report)``, ``Report.__rich__``, the CLI's tables) lays
them out here, from cells a record formats itself (:meth:`gradcheck._report.Element.cells`),
and colours verdicts from one map. rich is imported only when a rich table is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, JustifyMethod
    from rich.table import Table
    from rich.text import Text

__all__ = [
    "ELEMENT_COLUMNS",
    "MAX_ROWS",
    "VERDICT_STYLE",
    "WARNING_STYLE",
    "fitted_table",
    "outcome_style",
    "rich_table",
    "text_table",
    "verdict_text",
]

ELEMENT_COLUMNS = ("element", "analytic", "numeric ± error", "tolerance", "verdict")
"""The header over :meth:`gradcheck._report.Element.cells`."""

MAX_ROWS = 20
"""Element rows a report's table shows at most (see ``Report.rows``); the same for the
per-parameter lines of its text."""

NUMERIC_COLUMNS = frozenset({"analytic", "numeric ± error", "tolerance"})
"""Columns right-aligned in rich tables."""

VERDICT_STYLE = {"ok": "green", "mismatch": "bold red", "kink": "yellow", "inconclusive": "magenta"}
"""The rich style of each verdict, wherever a door prints one."""

WARNING_STYLE = "yellow"
"""The rich style of a report's warnings."""


def outcome_style(ok: bool) -> str:
    """The rich style of a line that says a check passed or failed."""
    return VERDICT_STYLE["ok" if ok else "mismatch"]


def text_table(rows: Iterable[Sequence[str]], indent: str = "  ") -> list[str]:
    """Rows as lines: each column padded to its widest cell, two spaces between columns,
    trailing spaces stripped.

    >>> text_table([("element", "verdict"), ("x[0]", "ok"), ("weights[12]", "mismatch")])
    ['  element      verdict', '  x[0]         ok', '  weights[12]  mismatch']
    """
    rows = list(rows)
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    return [
        indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def verdict_text(verdict: str, note: str = "") -> Text:
    """A verdict in its colour (see :data:`VERDICT_STYLE`), then ``note`` after a space."""
    from rich.text import Text

    text = Text(verdict, style=VERDICT_STYLE[verdict])
    if note:
        text.append(f" {note}")
    return text


def rich_table(
    columns: Sequence[str], rows: Iterable[Sequence[str | Text]], *, compact: bool = False
) -> Table:
    """A rich table of ``rows`` under ``columns``, the numeric columns right-aligned.

    ``compact`` is the CLI's look: a rule under the header only, no wrapping, padding
    collapsed; otherwise rich's default box without an outer edge.
    """
    from rich import box
    from rich.table import Table

    if compact:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    else:
        table = Table(show_edge=False, pad_edge=False)
    for column in columns:
        justify: JustifyMethod = "right" if column in NUMERIC_COLUMNS else "left"
        table.add_column(column, justify=justify, no_wrap=compact)
    for row in rows:
        table.add_row(*row)
    return table


def fitted_table(
    console: Console,
    columns: Sequence[str],
    rows: Sequence[Sequence[str | Text]],
    *,
    optional: Sequence[str] = (),
) -> tuple[Table, int]:
    """A compact table that shows every cell in full, and the width to print it at.

    A number, a name or a verdict cut short with "…" is a wrong number, so cells never
    are: the ``optional`` columns (decorative: a shape) are dropped, last first, while
    the table is wider than the console; a table still wider is printed at its own width
    (a terminal wraps its lines; a file, a pipe or a CI log keeps them whole).
    """
    from rich.measure import Measurement

    kept = list(range(len(columns)))
    while True:
        table = rich_table(
            [columns[c] for c in kept], ([row[c] for c in kept] for row in rows), compact=True
        )
        width = Measurement.get(console, console.options.update_width(1 << 16), table).maximum
        droppable = [c for c in kept if columns[c] in optional]
        if width <= console.width or not droppable:
            return table, max(width, console.width)
        kept.remove(droppable[-1])
