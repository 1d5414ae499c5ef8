"""A report, or a whole ``gradcheck run``, as one self-contained HTML page.

``gradcheck run --html PATH`` writes :func:`run_html`; :meth:`gradcheck.Report.to_html`
is :func:`report_html`. The page needs nothing else: its style and its one script (which
sorts a table by the column clicked: gap, gap / tolerance, analytic, ...) are inline, and
plots (:mod:`gradcheck._plot`) are inline SVG, so it opens from a CI artifact with no
network. Every text from the model is escaped.

Each report shows its headline, how it was checked, a table per parameter, the worst
elements (failures first, up to :data:`HTML_ROWS`, sortable), the plots of flagged
elements, the warnings and the environment.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from gradcheck import _environment as environment
from gradcheck._report_markdown import MARGIN_COLUMN, PARAMETER_COLUMNS, RIGHT_ALIGNED

if TYPE_CHECKING:
    from gradcheck._report import Report
    from gradcheck._report_records import Element
    from gradcheck._run_result import RunResult

__all__ = ["HTML_ROWS", "Plot", "report_html", "run_html"]

HTML_ROWS = 1000
"""Element rows a report's table holds at most, worst first (the JSON report has all)."""

Plot = tuple["Element", str]
"""An element and its figure as inline SVG (:func:`gradcheck._plot.svg`)."""

ELEMENT_HEADER = (
    "element",
    "analytic",
    "numeric",
    "± error",
    "tolerance",
    "gap",
    MARGIN_COLUMN,
    "verdict",
)
"""The columns of a report's element table."""

VERDICT_COLOURS = {
    "ok": "#1a7f37",
    "mismatch": "#cf222e",
    "kink": "#9a6700",
    "inconclusive": "#8250df",
}
"""Each verdict's colour on a white page (the terminal's green, red, yellow, magenta)."""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #1f2328; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 2em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #d0d7de; padding: 0.25em 0.7em; text-align: left; }
th.number, td.number { text-align: right; font-variant-numeric: tabular-nums; }
th button { font: inherit; font-weight: bold; border: none; background: none; padding: 0;
  cursor: pointer; }
th[aria-sort=ascending] button::after { content: " \\25B2"; }
th[aria-sort=descending] button::after { content: " \\25BC"; }
code { font-size: 0.95em; }
.headline { font-weight: bold; }
.provenance { color: #59636e; }
.passed, .ok { color: #1a7f37; } .failed, .error { color: #cf222e; }
figure { display: inline-block; margin: 0.5em; } figure svg { width: 30em; height: auto; }
.warning { color: #9a6700; }
"""
_STYLE += "".join(f"td.{v} {{ color: {c}; }}\n" for v, c in VERDICT_COLOURS.items())
_STYLE += "td.mismatch { font-weight: bold; }\n"

_SCRIPT = """
document.querySelectorAll("table.sortable").forEach((table) => {
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((header, column) => {
    const button = header.querySelector("button");
    button.addEventListener("click", () => {
      const descending = header.getAttribute("aria-sort") !== "descending";
      headers.forEach((h) => h.removeAttribute("aria-sort"));
      header.setAttribute("aria-sort", descending ? "descending" : "ascending");
      const key = (row) => {
        const cell = row.cells[column];
        if (cell.dataset.value === undefined) return cell.textContent;
        const value = Number(cell.dataset.value);
        return Number.isNaN(value) ? -Infinity : value;
      };
      const order = (a, b) => {
        const x = key(a), y = key(b);
        if (typeof x === "number") return x === y ? 0 : (x < y ? -1 : 1);
        return String(x).localeCompare(String(y));
      };
      const body = table.tBodies[0];
      const rows = Array.from(body.rows).sort(order);
      if (descending) rows.reverse();
      body.append(...rows);
    });
  });
});
"""


def _text(text: str) -> str:
    return html.escape(text, quote=True)


def _number(value: float, shown: str) -> str:
    """A numeric cell: ``shown``, sorted by ``value``."""
    return f'<td class="number" data-value="{value!r}">{_text(shown)}</td>'


def _table(columns: Sequence[str], rows: Iterable[str], *, css: str, sortable: bool = False) -> str:
    """A table of ready ``<tr>`` rows; sortable headers are buttons."""
    cells = []
    for column in columns:
        align = ' class="number"' if column in RIGHT_ALIGNED or column == "± error" else ""
        label = _text(column)
        if sortable:
            label = f'<button type="button">{label}</button>'
        cells.append(f'<th scope="col"{align}>{label}</th>')
    kind = f"{css} sortable" if sortable else css
    return (
        f'<table class="{kind}"><thead><tr>{"".join(cells)}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _element_row(element: Element) -> str:
    name, analytic, numeric_and_error, tolerance, verdict = element.cells()
    numeric, _, error = numeric_and_error.partition(" ± ")
    verdict_class = str(element.verdict)
    return (
        "<tr>"
        f"<td><code>{_text(name)}</code></td>"
        + _number(element.analytic, analytic)
        + _number(element.numeric, numeric)
        + _number(element.error, error)
        + _number(element.tolerance, tolerance)
        + _number(element.gap, f"{element.gap:.2g}")
        + _number(element.margin, f"{element.margin:.2g}")
        + f'<td class="{verdict_class}">{_text(verdict)}</td>'
        + "</tr>"
    )


def _parameters(report: Report) -> str:
    rows = []
    for s in report.summaries():
        worst = f"<code>{_text(s.worst.name)}</code>" if s.worst else "-"
        counts = "".join(_number(s.counts[v], str(s.counts[v])) for v in PARAMETER_COLUMNS[2:6])
        rows.append(
            f"<tr><td><code>{_text(s.name)}</code></td>"
            f"<td>{_text(str(s.shape) if s.shape else 'scalar')}</td>{counts}<td>{worst}</td>"
            + _number(s.max_abs_error, f"{s.max_abs_error:.3g}")
            + _number(s.max_rel_error, f"{s.max_rel_error:.3g}")
            + "</tr>"
        )
    return _table(PARAMETER_COLUMNS, rows, css="parameters", sortable=True)


def _pairs(pairs: Iterable[tuple[str, str]]) -> str:
    rows = (f'<tr><th scope="row">{_text(k)}</th><td>{_text(v)}</td></tr>' for k, v in pairs)
    return f'<table class="environment"><tbody>{"".join(rows)}</tbody></table>'


def _report_body(report: Report, plots: Sequence[Plot], versions: bool) -> str:
    status = "ok" if report.ok else "failed"
    parts = [
        f'<p class="headline {status}">{_text(report.headline())}</p>',
        f'<p class="provenance">{_text(report.metadata.describe())}</p>',
        "<h3>Parameters</h3>",
        _parameters(report),
        "<h3>Elements</h3>",
    ]
    elements, hidden = report.worst(HTML_ROWS)
    parts.append(_table(ELEMENT_HEADER, map(_element_row, elements), css="elements", sortable=True))
    if hidden:
        parts.append(f"<p>… and {hidden} more elements (the JSON report has every one)</p>")
    if plots:
        parts.append("<h3>Plots</h3>")
        parts.extend(
            f"<figure>{picture}<figcaption><code>{_text(element.name)}</code>: "
            f"{_text(str(element.verdict))}</figcaption></figure>"
            for element, picture in plots
        )
    if report.metadata.warnings:
        items = "".join(f"<li>{_text(w)}</li>" for w in report.metadata.warnings)
        parts.append(f'<h3>Warnings</h3><ul class="warning">{items}</ul>')
    pairs = environment.settings(report.metadata)
    if versions:
        pairs = environment.versions((report.metadata.backend,)) + pairs
    parts.extend(["<h3>Environment</h3>", _pairs(pairs)])
    return "\n".join(parts)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"{body}\n<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )


def report_html(report: Report, *, title: str = "gradcheck", plots: Sequence[Plot] = ()) -> str:
    """The report as an HTML page (see the module docstring).

    Parameters
    ----------
    report : Report
    title : str, default "gradcheck"
        The page's title and heading, e.g. the name of what was checked.
    plots : sequence of (Element, str)
        Figures to show, as inline SVG (see :meth:`gradcheck.Report.plot` and
        :func:`gradcheck._plot.svg`).
    """
    body = f"<h1>{_text(title)}</h1>\n<main>\n{_report_body(report, plots, True)}\n</main>"
    return _page(title, body)


def run_html(run: RunResult, plots: Mapping[int, Sequence[Plot]] | None = None) -> str:
    """A ``gradcheck run`` as an HTML page: the summary, a table of the cases (each links
    to its section), the files not collected, then a section per case with its report.

    ``plots`` maps a case's place in ``run.results`` to its figures.
    """
    plots = plots or {}
    status = "ok" if int(run.exit_code) == 0 else "failed"
    rows = []
    for k, result in enumerate(run.results):
        outcome = str(result.outcome)
        expect = " (expect='mismatch')" if result.expect == "mismatch" else ""
        rows.append(
            f'<tr><td><a href="#case-{k}"><code>{_text(result.case.nodeid)}</code></a>'
            f"{_text(expect)}</td>"
            f'<td class="{outcome}">{outcome}</td><td>{_text(result.message)}</td></tr>'
        )
    parts = [
        "<h1>gradcheck</h1>",
        f'<p class="headline {status}">{_text(run.summary())}</p>',
        _table(("case", "outcome", "verdict"), rows, css="cases", sortable=True),
    ]
    if run.collection.errors:
        items = "".join(f"<li>{_text(str(e))}</li>" for e in run.collection.errors)
        parts.append(f'<h2>Errors</h2><ul class="error">{items}</ul>')
    backends = []
    for k, result in enumerate(run.results):
        outcome = str(result.outcome)
        parts.append(
            f'<section class="case {outcome}" id="case-{k}">'
            f"<h2><code>{_text(result.case.nodeid)}</code> "
            f'<span class="{outcome}">{outcome}</span></h2>'
            f"<p>{_text(result.message)}</p>"
        )
        if result.report is not None:
            backends.append(result.report.metadata.backend)
            parts.append(_report_body(result.report, plots.get(k, ()), versions=False))
        parts.append("</section>")
    parts.extend(["<h2>Environment</h2>", _pairs(environment.versions(tuple(backends)))])
    return _page("gradcheck run", "<main>\n" + "\n".join(parts) + "\n</main>")
