"""Rows laid out as a person reads them: padded text, and rich tables with coloured verdicts."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gradcheck._table import (
    ELEMENT_COLUMNS,
    VERDICT_STYLE,
    outcome_style,
    rich_table,
    text_table,
    verdict_text,
)


def _printed(table: Table) -> list[str]:
    console = Console(width=80, record=True, color_system=None)
    console.print(table)
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_text_table_pads_each_column_to_its_widest_cell_and_strips_line_ends() -> None:
    lines = text_table([("", "analytic jac", "'3-point'"), ("success", "True", "False")])
    assert lines == ["           analytic jac  '3-point'", "  success  True          False"]


def test_text_table_indents_as_asked() -> None:
    assert text_table([("a", "b")], indent="") == ["a  b"]


def test_every_verdict_has_a_colour_and_a_failed_check_is_the_colour_of_a_mismatch() -> None:
    assert set(VERDICT_STYLE) == {"ok", "mismatch", "kink", "inconclusive"}
    assert outcome_style(True) == VERDICT_STYLE["ok"]
    assert outcome_style(False) == VERDICT_STYLE["mismatch"]


def test_verdict_text_colours_the_verdict_and_appends_the_note() -> None:
    text = verdict_text("kink", "(left -1, right 1)")
    assert text.plain == "kink (left -1, right 1)"
    assert str(text.style) == VERDICT_STYLE["kink"]
    assert verdict_text("ok").plain == "ok"


def test_rich_table_right_aligns_the_numbers() -> None:
    rows: list[tuple[str | Text, ...]] = [
        ("x[0]", "1", "1 ± 1e-09", "1e-06", Text("ok")),
        ("x[10]", "-12.5", "-12.5 ± 0", "2", ""),
    ]
    table = rich_table(ELEMENT_COLUMNS, rows)
    justify = {column.header: column.justify for column in table.columns}
    assert justify == {
        "element": "left",
        "analytic": "right",
        "numeric ± error": "right",
        "tolerance": "right",
        "verdict": "left",
    }
    lines = _printed(table)
    assert any(line.startswith("x[10]") and "-12.5" in line for line in lines)


def test_a_compact_rich_table_never_wraps_and_rules_only_the_header() -> None:
    long = "a" * 60
    table = rich_table(("element", "verdict"), [(long, "mismatch")], compact=True)
    assert all(column.no_wrap for column in table.columns)
    lines = _printed(table)
    assert lines[0].split() == ["element", "verdict"]
    assert set(lines[1].strip()) <= {"─", " "}
    assert long in lines[2]
