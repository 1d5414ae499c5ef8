"""HTML reports: one self-contained page, parsed as a browser parses it (html5lib)."""

from __future__ import annotations

from xml.etree.ElementTree import Element

import html5lib
import numpy as np

import gradcheck
from gradcheck._report_html import report_html


def J(p: np.ndarray) -> float:
    return float(3 * (p[0] + p[1] * p[2]))


CASE = gradcheck.Case(J, np.array([5.0, 3.0, 2.0]), grad=lambda p: np.array([3.0, p[2], p[1]]))


def parse(page: str) -> Element:
    document: Element = html5lib.parse(page, namespaceHTMLElements=False)
    return document


def text(node: Element | None) -> str:
    assert node is not None
    return "".join(node.itertext()).strip()


def test_the_page_needs_nothing_from_outside() -> None:
    page = CASE.run(seed=0).to_html(case=CASE)
    document = parse(page)
    assert document.find("head/link") is None
    for node in document.iter():
        for attribute in ("src", "href"):
            value = node.get(attribute)
            assert value is None or value.startswith("#"), (node.tag, value)
    assert all(script.get("src") is None for script in document.iter("script"))
    assert (
        "http://"
        not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
        .replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")
        .replace("http://www.w3.org/1999/xlink", "")
        .split("<metadata>")[0]
    )


def test_the_elements_table_is_sortable_by_gap_over_tolerance() -> None:
    document = parse(CASE.run(seed=0).to_html(title="chain rule"))
    assert text(document.find("head/title")) == "chain rule"
    headline = document.find(".//p[@class='headline failed']")
    assert headline is not None
    assert text(headline) == "gradcheck FAILED: 2 / 3 elements disagree (ok 1, mismatch 2)"
    table = document.find(".//table[@class='elements sortable']")
    assert table is not None
    header = [text(th) for th in table.iter("th")]
    assert header == [
        "element", "analytic", "numeric", "± error", "tolerance", "gap", "gap / tolerance",
        "verdict",
    ]  # fmt: skip
    assert all(th.find("button") is not None for th in table.iter("th"))
    rows = table.findall("tbody/tr")
    assert [text(row[0]) for row in rows] == ["p[1]", "p[2]", "p[0]"]
    margins = [float(row[6].get("data-value") or "nan") for row in rows]
    assert margins[0] > 1 > margins[2]  # mismatches beyond their tolerance, the ok within
    assert [row[7].get("class") for row in rows] == ["mismatch", "mismatch", "ok"]
    assert "table.sortable" in text(document.find(".//script"))


def test_flagged_elements_are_drawn_inline_with_distinct_ids() -> None:
    document = parse(CASE.run(seed=0).to_html(case=CASE))
    figures = list(document.iter("figure"))
    assert [text(f.find("figcaption")) for f in figures] == [
        "p[1]: mismatch",
        "p[2]: mismatch",
    ]
    ids = [node.get("id") for node in document.iter() if node.get("id")]
    assert len(ids) == len(set(ids))


def test_text_from_the_model_is_escaped() -> None:
    report = CASE.run(seed=0)
    page = report_html(report, title="<script>alert(1)</script>")
    document = parse(page)
    assert text(document.find("head/title")) == "<script>alert(1)</script>"
    assert len(list(document.iter("script"))) == 1  # only the page's own
