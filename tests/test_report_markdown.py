"""Markdown reports: what a CI job's page shows, read through a real Markdown parser."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
from markdown_it import MarkdownIt

import gradcheck
from gradcheck._report_markdown import escape, report_markdown


def J(p: np.ndarray) -> float:
    return float(3 * (p[0] + p[1] * p[2]))


def wrong_report() -> gradcheck.Report:
    return gradcheck.check(
        J, np.array([5.0, 3.0, 2.0]), grad=lambda p: np.array([3.0, p[2], p[1]]), seed=0
    )


class Cells(HTMLParser):
    """The text of each table cell and heading of rendered HTML, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.headings: list[str] = []
        self._where: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.tables[-1][-1].append("")
            self._where = "cell"
        elif tag in ("h2", "h3", "h4"):
            self.headings.append("")
            self._where = "heading"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "h2", "h3", "h4"):
            self._where = None

    def handle_data(self, data: str) -> None:
        if self._where == "cell":
            self.tables[-1][-1][-1] += data
        elif self._where == "heading":
            self.headings[-1] += data


def rendered(markdown: str) -> Cells:
    cells = Cells()
    cells.feed(MarkdownIt("commonmark").enable("table").render(markdown))
    return cells


def test_a_report_shows_headline_parameters_worst_elements_and_environment() -> None:
    markdown = report_markdown(wrong_report())
    assert markdown.startswith("**gradcheck FAILED**: 2 / 3 elements disagree (ok 1, mismatch 2)\n")
    page = rendered(markdown)
    assert page.headings == ["Parameters", "Worst elements", "Environment"]
    parameters, elements, environment = page.tables
    assert parameters[0][:3] == ["parameter", "shape", "ok"]
    assert parameters[1][:4] == ["p", "(3,)", "1", "2"]
    assert elements[0] == [
        "element", "analytic", "numeric ± error", "tolerance", "gap / tolerance", "verdict"
    ]  # fmt: skip
    assert [row[0] for row in elements[1:]] == ["p[1]", "p[2]", "p[0]"]  # worst first
    assert elements[1][1:3] == ["2", "6 ± 1.7e-09"]
    assert elements[1][5] == "mismatch"
    settings = dict((row[0], row[1]) for row in environment[1:])
    assert settings["gradcheck"] == gradcheck.__version__
    assert settings["NumPy"] == np.__version__
    assert (settings["dtype"], settings["method"], settings["seed"]) == ("float64", "central", "0")


def test_text_from_the_model_is_shown_literally() -> None:
    text = "weights sum_k <u_k, out_k> | in [1, 2] *not bold*"
    page = rendered(f"| a |\n| --- |\n| {escape(text)} |\n")
    assert page.tables[0][1] == [text]


def test_a_report_method_and_a_run_render_the_same_report() -> None:
    report = wrong_report()
    assert report.to_markdown() == report_markdown(report)
